"""JSON lines: replicheck's own history format (what it writes by default).

Specification
=============

A history is UTF-8 text with one JSON object per line; each object is one record, in
real-time order. Blank lines and lines whose first non-blank character is ``#`` are
ignored. An empty history (no records) is valid: it has 0 operations.

Fields of a record object (any other field is an error):

``process`` (required)
    An integer for a client; a string for anything else (``"nemesis"`` for faults,
    ``"observer"`` for observations). Records of a non-integer process are faults unless
    their type is ``observe``.
``type`` (required)
    ``"invoke"``, ``"ok"``, ``"fail"``, ``"info"`` or ``"observe"``.
``f`` (required)
    The function, a string: ``"read"``, ``"write"``, ``"cas"``, ``"get"``, ``"put"``,
    ``"append"``, ``"txn"``, ...
``key`` (optional)
    The key the operation is about: a string, a number or a list (read as a tuple).
``value`` (optional, default ``null``)
    The operation's value, any JSON value (see "Values").
``index`` (optional)
    The record's position in real-time order, a non-negative integer; defaults to the
    record's position among the records of the file (0, 1, 2, ...; ignored lines do not
    count).
``time`` (optional)
    A monotonic timestamp in nanoseconds (an integer), or ``null``.
``error`` (optional)
    Why a ``fail`` or ``info`` happened, any JSON value, usually a string such as
    ``"timed-out"``.
``meta`` (optional)
    An object of store metadata, e.g. vector clocks ``{"clock": {"n1": 3}}``.

Meaning (CONTRACTS.md section 5): ``ok`` took effect; ``fail`` definitely did not;
``info`` (or an invocation never completed) is indeterminate, and its process never
continues (the client goes on under a fresh process id). ``observe`` records (replica
snapshots, stream records) are not operations.

Conditions that evaluated false. A conditional operation whose condition was false (a
``cas`` whose compare failed, a DynamoDB ``ConditionalCheckFailed``) is recorded as
``{"type": "fail", "error": "condition-failed"}``. It did not take effect, like any
``fail``, but it is also an observation the models check: at some point between its
invocation and its completion the condition was false (the value was not the expected
one). A plain ``fail`` (any other ``error``, or none) says only that the operation did
not take effect and constrains nothing else.

Values
======

Values are JSON: ``null``, booleans, numbers, strings, arrays (Python lists; tuples are
written as arrays and read back as lists) and objects with string keys. Python values
JSON cannot hold are written as one-key objects tagged with a reserved key:

- ``{"$decimal": "1.50"}``: a ``decimal.Decimal`` (DynamoDB numbers of the item model),
  its exact text;
- ``{"$bytes": "aGk="}``: ``bytes`` in base 64 (DynamoDB binary);
- ``{"$set": [...]}``: a ``set`` or ``frozenset`` (DynamoDB SS/NS/BS, Jepsen set
  workloads), read back as a ``frozenset``; elements are written in a stable order;
- ``{"$keyword": "a"}``: an EDN keyword (:class:`~replicheck.models.equality.Keyword`,
  never equal to the string ``"a"``), so that a history read from EDN keeps its
  meaning written as JSON lines; ``{"$symbol": "sym"}`` and ``{"$char": "a"}`` the
  same for an EDN symbol and character (:class:`~replicheck.models.equality.Symbol`,
  :class:`~replicheck.models.equality.Char`);
- ``{"$map": [[k, v], ...]}``: a dictionary with a key that is not a string, or an
  ordinary one-key dictionary whose key is one of these reserved names.

A ``$decimal`` must be a number, an infinity or a quiet NaN: a signalling NaN
(``"sNaN"``) cannot be hashed or compared, and is refused.

Limits (:mod:`replicheck.histories.formats.limits`): a record nests arrays and
objects at most :data:`~replicheck.histories.history.MAX_NESTING` deep (the record's
object counts as one), integers have at most ``sys.get_int_max_str_digits()`` digits
(4300 by default), and strings hold no lone surrogate (``"\\ud800"``; a surrogate
pair is one character and fine). Anything else is an error naming the line.

A one-key object with any other key (``{"$x": 1}``, ``{"N": "1"}``) is an ordinary
object: this is how the item-store histories of ``replicheck.histories.items`` carry
attribute values, as DynamoDB's wire JSON (``{"pk": {"S": "a"}, "n": {"N": "1"}}``),
which this layer passes through untouched.

``dumps_jsonl(read_jsonl(text))`` reads back to equal records (apart from ``line``,
which records where a record came from).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from replicheck.histories.formats.limits import (
    NESTING_EXPECTED,
    digits_expected,
    may_hold_surrogates,
    refuse_lone_surrogates,
)
from replicheck.histories.history import MAX_NESTING, RECORD_TYPES, HistoryError, Record
from replicheck.models.equality import Char, Keyword, Symbol, merged_by_python

__all__ = ["dumps_jsonl", "from_json", "read_jsonl", "to_json"]

FIELDS: Final = ("process", "type", "f", "key", "value", "index", "time", "error", "meta")
_FIELD_SET: Final = frozenset(FIELDS)
_TYPE_SET: Final = frozenset(RECORD_TYPES)
_KEY_TYPES: Final = frozenset((str, int, float))
_TAGS: Final = frozenset(("$decimal", "$bytes", "$set", "$map", "$keyword", "$symbol",
                         "$char"))
_EXPECTED_TYPES: Final = ", ".join(f'"{t}"' for t in RECORD_TYPES)
_EXPECTED_FIELDS: Final = ", ".join(f'"{f}"' for f in FIELDS)
_decoder = json.JSONDecoder()


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _decode_tag(obj: dict[str, Any]) -> Any:
    """``object_hook``: a tagged value (see the module docstring) as its Python value."""
    if len(obj) != 1:
        return obj
    ((tag, payload),) = obj.items()
    if tag not in _TAGS:
        return obj
    try:
        if tag == "$decimal":
            if not isinstance(payload, str):
                raise ValueError("a string")
            number = Decimal(payload)
            if number.is_snan():
                raise ValueError("a signalling NaN")
            return number
        if tag == "$keyword":
            if not isinstance(payload, str) or not payload:
                raise ValueError("a name")
            return Keyword(payload)
        if tag == "$symbol":
            if not isinstance(payload, str) or not payload:
                raise ValueError("a name")
            return Symbol(payload)
        if tag == "$char":
            if not isinstance(payload, str) or len(payload) != 1:
                raise ValueError("a character")
            return Char(payload)
        if tag == "$bytes":
            if not isinstance(payload, str):
                raise ValueError("a base-64 string")
            return base64.b64decode(payload, validate=True)
        if not isinstance(payload, list):
            raise ValueError("an array")
        if tag == "$set":
            elements = [_hashable(v) for v in payload]
            held: frozenset[Any] | dict[Any, Any] = frozenset(elements)
        else:
            elements = [_hashable(pair[0]) for pair in payload if _is_pair(pair)]
            held = dict(zip(elements, (pair[1] for pair in payload), strict=True))
    except (ValueError, TypeError, InvalidOperation, binascii.Error) as error:
        raise _TagError(f'a tagged value {{"{tag}": ...}} holds {_show(payload)}; '
                        f"expected {_tag_expectation(tag)}") from error
    if merged_by_python(elements, len(held)):
        raise _TagError(f'a tagged value {{"{tag}": ...}} holds {_show(payload)}; expected '
                        f"{'elements' if tag == '$set' else 'keys'} that stay apart in "
                        "Python (1, 1.0 and true, or [1] and [true], are one there): "
                        "replicheck cannot judge what it cannot hold")
    return held


def _tag_expectation(tag: str) -> str:
    return {"$decimal": "a decimal number (its exponent within ±999999999999999999), an "
                        "infinity or a quiet NaN as a string (a signalling NaN cannot be "
                        "compared)",
            "$keyword": "a keyword's name, a non-empty string",
            "$symbol": "a symbol's name, a non-empty string",
            "$char": "a string of one character",
            "$bytes": "a base-64 string",
            "$set": "an array of hashable values",
            "$map": "an array of [key, value] pairs"}[tag]


def _is_pair(pair: Any) -> bool:
    if isinstance(pair, list) and len(pair) == 2:
        return True
    raise ValueError("pairs")


class _TagError(ValueError):
    pass


def _hashable(value: Any) -> Any:
    """``value`` usable as a key or set element: lists become tuples."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        raise TypeError("a JSON object cannot be a key or a set element")
    return value


def from_json(text: str) -> Any:
    """One JSON value with the tagged values of the module docstring decoded.

    Raises ``ValueError`` (``json.JSONDecodeError`` for bad JSON)."""
    if '"$' in text:
        return json.loads(text, object_hook=_decode_tag)
    return _decoder.decode(text)


def to_json(value: Any) -> Any:
    """``value`` as plain JSON data, with the tags of the module docstring for what JSON
    cannot hold. Raises :class:`HistoryError` for a value of any other type."""
    t = type(value)
    if value is None or t is str or t is int or t is float or t is bool:
        return value
    if t is Keyword:
        return {"$keyword": value.name}
    if t is Symbol:
        return {"$symbol": value.name}
    if t is Char:
        return {"$char": value.name}
    if t is list or t is tuple:
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        if all(type(k) is str for k in value) and not (len(value) == 1 and
                                                       next(iter(value)) in _TAGS):
            return {k: to_json(v) for k, v in value.items()}
        return {"$map": [[to_json(k), to_json(v)] for k, v in value.items()]}
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset):
        items = [to_json(v) for v in value]
        items.sort(key=lambda v: json.dumps(v, sort_keys=True))
        return {"$set": items}
    raise HistoryError(f"cannot write a value of type {type(value).__name__} as JSON; "
                       "expected JSON values, Decimal, bytes or sets")


def _record(obj: Any, position: int, line: int, source: str | None) -> Record:
    """A :class:`Record` from one decoded line; :class:`HistoryError` when malformed."""
    if type(obj) is not dict:
        kind = {list: "an array", str: "a string", type(None): "null", bool: "a boolean",
                int: "a number", float: "a number"}.get(type(obj), _show(obj))
        raise HistoryError(f'expected a JSON object with "process", "type" and "f", got {kind}',
                           source=source, line=line)
    get = obj.get
    process: Any = get("process")
    type_: Any = get("type")
    f: Any = get("f")
    key = get("key")
    index = get("index", position)
    time = get("time")
    meta = get("meta")
    if (type(process) is not int or type(type_) is not str or type_ not in _TYPE_SET
            or type(f) is not str or type(index) is not int or index < 0
            or not (key is None or type(key) in _KEY_TYPES)
            or not (time is None or type(time) is int)
            or not (meta is None or type(meta) is dict)
            or not obj.keys() <= _FIELD_SET):
        key = _check(obj, process, type_, f, key, index, time, meta, line, source)
    return Record(process=process, type=type_, f=f, value=get("value"), key=key,
                  index=index, time=time, error=get("error"),
                  meta=meta if meta is not None else {}, line=line)


def _check(obj: dict[str, Any], process: Any, type_: Any, f: Any, key: Any, index: Any,
           time: Any, meta: Any, line: int, source: str | None) -> Any:
    """Every field check with its message (the slow path of :func:`_record`); returns
    the key as the record holds it."""

    def bad(message: str) -> HistoryError:
        return HistoryError(message, source=source, line=line)

    for name in ("process", "type", "f"):
        if name not in obj:
            raise bad(f'missing field "{name}"; expected an object with "process", "type" '
                      'and "f"')
    for name in obj:
        if name not in _FIELD_SET:
            raise bad(f'unknown field "{name}"; expected only {_EXPECTED_FIELDS}')
    if isinstance(process, bool) or not isinstance(process, int | str):
        raise bad(f'field "process" is {_show(process)}; expected an integer (a client) or a '
                  'string (a fault, e.g. "nemesis")')
    if not isinstance(type_, str) or type_ not in _TYPE_SET:
        raise bad(f'field "type" is {_show(type_)}; expected one of {_EXPECTED_TYPES}')
    if not isinstance(f, str):
        raise bad(f'field "f" is {_show(f)}; expected a string such as "read"')
    if isinstance(key, list):
        try:
            key = _hashable(key)
        except TypeError:
            raise bad(f'field "key" is {_show(key)}; expected a string, a number or an array '
                      "of them") from None
    elif isinstance(key, dict):
        raise bad(f'field "key" is {_show(key)}; expected a string, a number or an array')
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise bad(f'field "index" is {_show(index)}; expected a non-negative integer')
    if time is not None and (isinstance(time, bool) or not isinstance(time, int)):
        raise bad(f'field "time" is {_show(time)}; expected an integer (nanoseconds) or null')
    if meta is not None and not isinstance(meta, dict):
        raise bad(f'field "meta" is {_show(meta)}; expected a JSON object')
    return key


def read_jsonl(text: str, *, source: str | None = None, lenient: bool = False,
               errors: list[HistoryError] | None = None) -> list[Record]:
    """The records of a JSON-lines history (specification in the module docstring).

    Raises :class:`HistoryError` naming the source, the line (1-based) and what was
    expected. With ``lenient`` a malformed line is skipped and its error appended to
    ``errors`` (when given); nothing is raised."""
    if text.startswith("\ufeff"):
        text = text[1:]
    records: list[Record] = []
    append = records.append
    decode = _decoder.decode
    surrogates = may_hold_surrogates(text)
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        try:
            if line.count("[") + line.count("{") > MAX_NESTING and \
                    _nesting(line) > MAX_NESTING:
                raise HistoryError(NESTING_EXPECTED, source=source, line=number)
            try:
                obj = json.loads(line, object_hook=_decode_tag) if '"$' in line else \
                    decode(line)
            except _TagError as error:
                raise HistoryError(str(error), source=source, line=number) from None
            except ValueError as error:
                raise HistoryError(_json_problem(error, line), source=source,
                                   line=number) from None
            if surrogates and may_hold_surrogates(line):
                refuse_lone_surrogates(obj, source, number)
            append(_record(obj, len(records), number, source))
        except HistoryError as error:
            if not lenient:
                raise
            if errors is not None:
                errors.append(error)
    return records


_STRING_OR_BRACKET: Final = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def _nesting(line: str) -> int:
    """How deep the arrays and objects of a JSON line nest (brackets inside strings
    do not count), counted without recursion."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(line):
        c = match.group()
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def _json_problem(error: ValueError, line: str) -> str:
    """The message of a line the JSON decoder refused."""
    if isinstance(error, json.JSONDecodeError):
        return (f"not valid JSON ({error.msg} at column {error.colno}); expected one JSON "
                "object per line")
    digits = max((len(m) for m in re.findall(r"[0-9]+", line)), default=0)
    if "integer string conversion" in str(error):
        return digits_expected(digits)
    return f"not valid JSON ({error}); expected one JSON object per line"



def dumps_jsonl(records: Iterable[Record]) -> str:
    """The records as a JSON-lines history (one object per line, each ending in a
    newline; fields in the order of the specification; ``key``, ``index``, ``time``,
    ``error`` and ``meta`` only when set, ``index`` only when it differs from the
    record's position). Raises :class:`HistoryError` for a value JSON cannot hold (see
    "Values")."""
    out: list[str] = []
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=True).encode
    for position, r in enumerate(records):
        obj: dict[str, Any] = {"process": to_json(r.process), "type": r.type, "f": r.f}
        if r.key is not None:
            obj["key"] = to_json(r.key)
        obj["value"] = to_json(r.value)
        if r.index != position:
            obj["index"] = r.index
        if r.time is not None:
            obj["time"] = r.time
        if r.error is not None:
            obj["error"] = to_json(r.error)
        if r.meta:
            obj["meta"] = to_json(dict(r.meta))
        out.append(dumps(obj))
        out.append("\n")
    return "".join(out)
