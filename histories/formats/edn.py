"""Jepsen EDN histories: reading and writing.

Reading accepts what Jepsen and the tools around it write:

- one operation map per line (Jepsen's ``history.edn``, porcupine's kv corpus:
  ``{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}``), or a
  top-level vector (or list) of maps, with each map on its line or pretty-printed over
  several lines; ``;`` comments and commas are whitespace; a record literal such as
  ``#jepsen.history.Op{...}`` reads as its map.
- fields: ``:process`` (an integer for a client; anything else, e.g. ``:nemesis``, is a
  fault), ``:type`` (``:invoke`` ``:ok`` ``:fail`` ``:info`` or ``:observe``), ``:f``
  (required for clients; a fault's defaults to ``""``), ``:value``, and optionally
  ``:key``, ``:index`` (defaults to the record's position), ``:time`` (nanoseconds),
  ``:error`` and ``:meta`` (a map). Any other field (e.g. Jepsen's ``:node``) is kept in
  the record's ``meta`` under its name.
- values become Python values that keep their EDN type: keywords ->
  :class:`~replicheck.models.equality.Keyword` (a ``str`` holding the name without the
  colon, equal only to a keyword: ``:a`` is not ``"a"``), strings -> ``str``, symbols
  -> ``str``, vectors and lists -> ``list``, maps -> ``dict``, sets -> ``frozenset``,
  ``nil`` -> ``None``, characters -> ``str``, ``1.5M`` -> ``Decimal``, ``3N`` ->
  ``int``, ``1/2`` -> ``Fraction``, ``#inst`` -> ``datetime``, ``#uuid`` -> ``UUID``.
  Map keys and set elements that are vectors become tuples (hashable). A ``:key`` that
  is a vector becomes a tuple; one that is a keyword stays a ``Keyword``.
- the structural fields are plain strings whether written as keywords or strings:
  ``:process`` (a fault's name), ``:type``, ``:f``, an ``:error`` that is a keyword,
  and the field names themselves. A micro-operation's function (``:append`` in
  ``[:append :x 1]``) is a ``Keyword`` in the value; checkers compare it by name.
- any layout: one map per line, several maps on a line, maps spread over several
  lines (pretty-printed, as Knossos' and Jepsen's own data files are), or a mixture.
- limits (:mod:`replicheck.histories.formats.limits`): a record nests collections and
  tags at most :data:`~replicheck.histories.history.MAX_NESTING` deep (its own map
  counts as one), integers have at most ``sys.get_int_max_str_digits()`` digits, and
  strings hold no lone surrogate; anything else is an error naming the line.

Jepsen keeps its meaning: ``:fail`` definitely did not happen, and its ``:error`` (e.g.
``:timed-out``) is kept as a plain string (``"timed-out"``).

``jepsen.independent`` histories write each client value as a ``[k v]`` tuple. With
``independent=True`` every client invocation's value must be such a tuple and is split
into ``key`` ``k`` and ``value`` ``v``; a completion whose value is a tuple with the
same ``k`` is split too, and one whose value is not a tuple (an ``:info`` with
``:timed-out``) keeps its value and gets its invocation's key. With
``independent=False`` nothing is split. With ``independent=None`` (the default) the
history is split when it looks independent: no record has an explicit ``:key``, every
client invocation's value is a 2-element vector whose first element is a number or a
string, every ``:ok`` completion's value is such a tuple with its invocation's first
element, and the functions are not only ``:cas`` (a history of ``:cas [old new]`` alone
would look the same; pass ``independent=True`` to split one).

The common shape is read by a small parser written for it (maps, vectors, lists, sets,
keywords, strings, numbers including ``N``/``M``, ``nil``, booleans, ``##Inf``), with
faster paths for a line of flat maps; a record that holds anything else (tags such as
``#inst``, characters, symbols, ratios, metadata, discards) is handed whole to the
``edn_format`` library, which is several times slower. Errors are :class:`HistoryError`
with the source and the line.

Writing (:func:`dumps_edn`): one map per line, Jepsen style, in the field order
``:process :type :f :key :value :index :time :error :meta`` (``:key``, ``:time``,
``:error`` and ``:meta`` only when set, ``:index`` only when it differs from the
record's position). ``:type``, ``:f``, a string process and a string error are written
as keywords when they are valid keyword names; every other string is written as a
string, and a :class:`~replicheck.models.equality.Keyword` as a keyword. ``Decimal`` is
written as ``1.5M``, sets as ``#{...}``, tuples as vectors; ``bytes`` cannot be written
as EDN.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Hashable, Iterable, Mapping
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, localcontext
from fractions import Fraction
from typing import Any, Final

from replicheck.histories.formats.limits import (
    NESTING_EXPECTED,
    digits_expected,
    may_hold_surrogates,
    refuse_lone_surrogates,
)
from replicheck.histories.history import (
    FAIL,
    INFO,
    INVOKE,
    MAX_NESTING,
    OBSERVE,
    OK,
    RECORD_TYPES,
    HistoryError,
    Record,
)
from replicheck.models.equality import Keyword

__all__ = [
    "EdnSyntaxError",
    "dumps_edn",
    "edn_value",
    "parse_edn_value",
    "read_edn",
    "read_form",
    "record_from_map",
    "split_independent",
]

_WS: Final = re.compile(r"(?:[\s,]+|;[^\n]*)*")
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_TOKEN: Final = re.compile(r"[^\s,;()\[\]{}\"]+")
_INT: Final = re.compile(r"[-+]?[0-9]+")
_FLOAT: Final = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?")
_CHAR: Final = re.compile(
    r"\\(?:newline|space|tab|return|formfeed|backspace|u[0-9A-Fa-f]{4}|.)", re.S)
_RECORD_TAG: Final = re.compile(r"#[A-Za-z_][\w.-]*\.[A-Z][\w]*(?=\{)")
_KEYWORD_NAME: Final = re.compile(r"(?![-+.][0-9])[A-Za-z*+!_?<>=.-][A-Za-z0-9*+!_?<>=.-]*")
_NAME_CHARS: Final = r"[\w.*+!\-_?$%&=:#<>@]+"
_KEYWORD_TEXT: Final = re.compile(f"(?!:){_NAME_CHARS}(?:/{_NAME_CHARS})?")
"""The name of a keyword (after its colon) that EDN readers agree on: the edn_format
library's rule, with at most one ``/`` (the EDN specification's), which this module's
reader and writer follow."""
_KEYWORD_EXPECTED: Final = ("expected : then letters, digits and * + ! - _ ? $ % & = < > . : "
                            "# @ (not : first), with at most one / inside")
_SYMBOLIC: Final = {"##Inf": math.inf, "##-Inf": -math.inf, "##NaN": math.nan}
_CLOSER: Final = {"[": "]", "(": ")", "{": "}", "#{": "}"}
_NAMES: Final = {"[": "vector", "(": "list", "{": "map", "#{": "set"}
_EXPECT_RECORD: Final = "expected an operation map like {:process 0, :type :invoke, :f :read}"


class EdnSyntaxError(ValueError):
    """Text that is not EDN: ``message`` says what was expected, ``pos`` where (an
    offset into the text that was parsed)."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


class _Reader:
    """Recursive-descent reader of the common EDN subset. Sets ``unusual`` when it met
    syntax it leaves to the library; the value it returns is then meaningless."""

    __slots__ = ("text", "unusual")

    def __init__(self, text: str) -> None:
        self.text = text
        self.unusual = False

    def skip(self, pos: int) -> int:
        match = _WS.match(self.text, pos)
        assert match is not None
        return match.end()

    def form(self, pos: int, depth: int = 0) -> tuple[Any, int]:
        """The form starting at ``pos`` (not whitespace) and the offset after it."""
        text = self.text
        c = text[pos]
        if c in "[({":
            return self.collection(pos + 1, c, pos, depth)
        if c == '"':
            match = _STRING.match(text, pos)
            if match is None:
                raise EdnSyntaxError('unterminated string; expected a closing \'"\'', pos)
            raw = match.group()
            if "\\" not in raw:
                return raw[1:-1], match.end()
            try:
                return json.loads(raw, strict=False), match.end()
            except ValueError:
                self.unusual = True
                return None, match.end()
        if c in ")]}":
            raise EdnSyntaxError(f"unexpected {c!r}; expected a value", pos)
        if c == "#":
            return self.dispatch(pos, depth)
        if c == "\\":
            self.unusual = True
            match = _CHAR.match(text, pos)
            return None, (match.end() if match else pos + 1)
        if c == "^":
            self.unusual = True
            _, end = self.following(pos + 1, depth, "metadata")
            return self.following(end, depth, "metadata")
        match = _TOKEN.match(text, pos)
        assert match is not None
        token = match.group()
        if c == ":" and not _KEYWORD_TEXT.fullmatch(token, 1):
            raise EdnSyntaxError(f"{_clip(token)} is not a keyword; {_KEYWORD_EXPECTED}", pos)
        try:
            return self.atom(token), match.end()
        except ValueError:  # more digits than Python converts
            raise EdnSyntaxError(digits_expected(len(token.strip("+-N"))), pos) from None
        except ArithmeticError:  # decimal.InvalidOperation: an exponent out of range
            raise EdnSyntaxError(f"the decimal {_clip(token)} is out of range; expected an "
                                 f"exponent within ±{MAX_EMAX}", pos) from None

    def following(self, pos: int, depth: int, what: str) -> tuple[Any, int]:
        if depth + 1 >= MAX_NESTING:
            raise EdnSyntaxError(NESTING_EXPECTED, pos)
        pos = self.skip(pos)
        if pos >= len(self.text) or self.text[pos] in ")]}":
            raise EdnSyntaxError(f"expected a value after the {what}", pos)
        return self.form(pos, depth + 1)

    def dispatch(self, pos: int, depth: int) -> tuple[Any, int]:
        text = self.text
        if text.startswith("#{", pos):
            return self.collection(pos + 2, "#{", pos, depth)
        record = _RECORD_TAG.match(text, pos)
        if record is not None:
            return self.collection(record.end() + 1, "{", pos, depth)
        match = _TOKEN.match(text, pos)
        token = match.group() if match else "#"
        end = pos + len(token)
        if token in _SYMBOLIC:
            return _SYMBOLIC[token], end
        self.unusual = True
        if token.startswith("#_"):
            end = pos + 2
            _, end = self.following(end, depth, "discard #_")
            return None, end
        return self.following(end, depth, f"tag {token}")

    def collection(self, pos: int, opener: str, start: int, depth: int) -> tuple[Any, int]:
        if depth >= MAX_NESTING:
            raise EdnSyntaxError(NESTING_EXPECTED, start)
        text = self.text
        closer = _CLOSER[opener]
        items: list[Any] = []
        while True:
            pos = self.skip(pos)
            if pos >= len(text):
                raise EdnSyntaxError(
                    f"unclosed {_NAMES[opener]}; expected {closer!r}", start)
            c = text[pos]
            if c == closer:
                pos += 1
                break
            if c in ")]}":
                raise EdnSyntaxError(
                    f"unexpected {c!r}; expected {closer!r} to close the {_NAMES[opener]}", pos)
            item, pos = self.form(pos, depth + 1)
            items.append(item)
        if opener in "[(":
            return items, pos
        if self.unusual:
            return None, pos
        try:
            if opener == "#{":
                return frozenset(_hashable(i) for i in items), pos
            if len(items) % 2:
                raise EdnSyntaxError("a map needs an even number of forms (key value pairs)", 0)
            return {_hashable(items[i]): items[i + 1] for i in range(0, len(items), 2)}, pos
        except EdnSyntaxError as error:
            raise EdnSyntaxError(error.message, start) from None

    def atom(self, token: str) -> Any:
        c = token[0]
        if c == ":":
            return Keyword(token[1:])  # form() checked the name
        if token == "nil":
            return None
        if token == "true":
            return True
        if token == "false":
            return False
        if c in "0123456789" or (c in "+-" and len(token) > 1 and token[1] in "0123456789"):
            if _INT.fullmatch(token):
                return int(token)
            if _FLOAT.fullmatch(token):
                return float(token)
            # exact here: the library rounds M numbers to 28 digits
            if token[-1] == "M" and _FLOAT.fullmatch(token, 0, len(token) - 1):
                return Decimal(token[:-1])
            if token[-1] == "N" and _INT.fullmatch(token, 0, len(token) - 1):
                return int(token[:-1])
        self.unusual = True
        return None


_FAST: Final = re.compile(r"""[\s,]*(?:
    "((?:[^"\\]|\\.)*)"             # 1: a string's body
  | ([\[\](){}])                      # 2: a bracket
  | ([^\s,;()\[\]{}"\\\#^]+)          # 3: a keyword, number, nil, true, false (or other)
  | (.)                               # 4: anything else: left to the full reader
)""", re.X | re.S)
_CONSTANTS: Final[dict[str, Any]] = {"nil": None, "true": True, "false": False}
_DIGITS: Final = frozenset("0123456789")


class _Fallback(Exception):
    """The fast path met something it leaves to the full reader."""


def _fast_atom(token: str) -> Any:
    c = token[0]
    if c in _DIGITS or (c in "+-" and len(token) > 1 and token[1] in _DIGITS):
        if _INT.fullmatch(token):
            return int(token)
        if _FLOAT.fullmatch(token):
            return float(token)
        raise _Fallback
    if token in _CONSTANTS:
        return _CONSTANTS[token]
    raise _Fallback


_NAME_TEXT: Final = r'[^\s,;:()\[\]{}"\\#^]+'
_ATOM_TEXT: Final = ":?" + _NAME_TEXT + r"(?=[\s,}])"
_VECTOR_TEXT: Final = r'[^\[\](){}"\\#^;]*'
_FLAT_MAP: Final = re.compile(
    r"[\s,]*\{(?:[\s,]*:" + _NAME_TEXT + r'[\s,]+(?:"(?:[^"\\]|\\.)*"|' + _ATOM_TEXT
    + r"|\[" + _VECTOR_TEXT + r"\]))*[\s,]*\}[\s,]*")
_FLAT_PAIR: Final = re.compile(
    r"[\s,]*:(" + _NAME_TEXT + r')[\s,]+(?:"((?:[^"\\]|\\.)*)"|(' + _ATOM_TEXT
    + r")|(\[)(" + _VECTOR_TEXT + r")\])")
_ATOM_CACHE: dict[str, Any] = {}


def _cached_atom(token: str) -> Any:
    try:
        return _ATOM_CACHE[token]
    except KeyError:
        if token[0] == ":":
            if not _KEYWORD_TEXT.fullmatch(token, 1):
                raise _Fallback from None
            value: Any = Keyword(token[1:])
        else:
            value = _fast_atom(token)
        if len(_ATOM_CACHE) < 4096:
            _ATOM_CACHE[token] = value
        return value


def _flat_map(line: str) -> dict[Keyword, Any]:
    """The map on ``line`` when it is one map of keyword keys whose values are strings,
    atoms, or vectors of atoms (the usual history line); raises :class:`_Fallback`
    otherwise."""
    out: dict[Keyword, Any] = {}
    for name_text, string, token, vector, items in _FLAT_PAIR.findall(line):
        name = _cached_atom(":" + name_text)
        if token:
            out[name] = _cached_atom(token)
        elif vector:
            out[name] = [int(t) if t.isdigit() and t.isascii() else _cached_atom(t)
                         for t in items.replace(",", " ").split()]
        elif "\\" in string:
            out[name] = json.loads(f'"{string}"', strict=False)
        else:
            out[name] = string
    return out


def _fast_maps(line: str) -> list[Any]:
    """The maps on one line, when the line holds only maps written in the common
    subset; raises :class:`_Fallback` for anything else (including every error)."""
    if _FLAT_MAP.fullmatch(line) is not None:
        try:
            return [_flat_map(line)]
        except ValueError:
            raise _Fallback from None
    out: list[Any] = []
    current = out
    stack: list[tuple[list[Any], str]] = []
    try:
        for string, bracket, token, other in _FAST.findall(line):
            if token:
                if token.isdigit() and token.isascii():
                    current.append(int(token))
                else:
                    current.append(_cached_atom(token))
            elif bracket:
                if bracket in "[({":
                    if len(stack) >= MAX_NESTING:
                        raise _Fallback  # the full reader names the problem
                    stack.append((current, bracket))
                    current = []
                    continue
                parent, opener = stack.pop()
                if _CLOSER[opener] != bracket:
                    raise _Fallback
                if opener == "{":
                    if len(current) % 2:
                        raise _Fallback
                    pairs = iter(current)
                    parent.append(dict(zip(pairs, pairs, strict=True)))
                else:
                    parent.append(current)
                current = parent
            elif other:
                raise _Fallback
            elif "\\" in string:
                current.append(json.loads(f'"{string}"', strict=False))
            else:
                current.append(string)
    except (IndexError, TypeError, ValueError):
        raise _Fallback from None
    if stack or any(type(m) is not dict for m in out):
        raise _Fallback
    return out


def _hashable(value: Any) -> Hashable:
    """``value`` as a dictionary key or set element: lists become tuples."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        raise EdnSyntaxError("a map cannot be a map key or a set element here", 0)
    return value  # type: ignore[no-any-return]


@functools.cache
def _library_parser() -> tuple[Any, Any]:
    """edn_format's parser and lexer, built once: ``edn_format.loads_all`` rebuilds both
    on every call (about 50 ms each time), which made every record written in unusual
    syntax that slow."""
    try:
        import ply.lex  # type: ignore[import-untyped]
        import ply.yacc  # type: ignore[import-untyped]
        from edn_format import edn_lex, edn_parse
    except ImportError:  # pragma: no cover - a dependency; a clear message all the same
        raise EdnSyntaxError("this EDN uses syntax (tags, characters, symbols, ratios) that "
                             "needs the edn-format package; expected it installed", 0) from None
    quiet = ply.yacc.NullLogger()
    parser = ply.yacc.yacc(module=edn_parse, debug=False, write_tables=False,
                           errorlog=quiet)
    lexer = ply.lex.lex(module=edn_lex, reflags=re.UNICODE, errorlog=quiet)
    return parser, lexer


def _library_value(text: str) -> list[Any]:
    """All forms of ``text`` read by edn_format, as plain Python."""
    parser, lexer = _library_parser()
    try:
        # the library multiplies M numbers under the current context: keep every digit
        with localcontext(Context(prec=len(text) + 28, Emax=MAX_EMAX, Emin=MIN_EMIN)):
            forms = list(parser.parse(text, lexer=lexer.clone()))
    except Exception as error:  # edn_format raises several types: decode, tag, lexer
        raise EdnSyntaxError(f"broken EDN ({error})", 0) from None
    return [_plain(f) for f in forms]


def _plain(value: Any) -> Any:
    """An edn_format value as plain Python (see the module docstring)."""
    import edn_format

    if isinstance(value, edn_format.Keyword):
        return Keyword(value.name)
    if isinstance(value, edn_format.Symbol):
        return str(value.name)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {_hashable(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return frozenset(_hashable(_plain(v)) for v in value)
    if isinstance(value, list | tuple | edn_format.ImmutableList):
        return [_plain(v) for v in value]
    if isinstance(value, edn_format.MetadataValue):
        return _plain(value.value)
    return value


def read_form(text: str, pos: int = 0) -> tuple[Any, int]:
    """The EDN form starting at ``pos`` (after any whitespace or comment) as plain
    Python, and the offset just after it. Raises :class:`EdnSyntaxError` (with the
    offset) when there is no form there or it is broken."""
    reader = _Reader(text)
    start = reader.skip(pos)
    if start >= len(text):
        raise EdnSyntaxError("expected a value, found the end of the text", start)
    value, end = reader.form(start)
    if reader.unusual:
        body = text[start:end]
        tag = _RECORD_TAG.match(body)
        try:
            value = _library_value(body[tag.end():] if tag else body)[0]
        except EdnSyntaxError as error:
            raise EdnSyntaxError(error.message, start) from None
    return value, end


def parse_edn_value(text: str) -> Any:
    """The single EDN form in ``text`` as plain Python; :class:`EdnSyntaxError` when
    ``text`` is not exactly one EDN form."""
    value, end = read_form(text)
    end = _WS.match(text, end).end()  # type: ignore[union-attr]
    if end < len(text):
        raise EdnSyntaxError("expected one EDN value, found more text after it", end)
    return value


# ---------------------------------------------------------------------------------------
# Records


_MISSING: Final = object()
_TYPE_SET: Final = frozenset(RECORD_TYPES)
_KEY_TYPES: Final = frozenset((str, Keyword, int, float, tuple, frozenset))
_FIELD_SET: Final = frozenset(
    ("process", "type", "f", "key", "value", "index", "time", "error", "meta"))


def _show(value: Any) -> str:
    try:
        text = edn_value(value)
    except HistoryError:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain_name(value: Any) -> Any:
    """A keyword as the plain string of its name (structural fields); anything else
    as it is."""
    return str.__str__(value) if type(value) is Keyword else value


def _field_names(m: dict[Any, Any], line: int | None, source: str | None) -> dict[Any, Any]:
    """``m`` with its keyword keys as plain strings (the record's field names)."""
    out = {_plain_name(k): v for k, v in m.items()}
    if len(out) < len(m):
        names = [str(k) for k in m]
        twice = next(n for n in names if names.count(n) > 1)
        raise HistoryError(f"field :{twice} given twice (as a keyword and as a string); "
                           f"{_EXPECT_RECORD}", source=source, line=line)
    return out


def record_from_map(m: Any, position: int, line: int | None, source: str | None
                    ) -> Record:
    """A :class:`Record` from a decoded EDN operation map: field names, ``:process``,
    ``:type``, ``:f`` and a keyword ``:error`` become plain strings; values keep their
    keywords.

    Raises :class:`HistoryError` naming the field and what was expected."""
    if type(m) is not dict:
        kind = "a vector" if isinstance(m, list) else _show(m)
        raise HistoryError(f"{_EXPECT_RECORD}, got {kind}", source=source, line=line)
    if not all(type(k) is str for k in m):
        m = _field_names(m, line, source)
    get = m.get
    process = _plain_name(get("process", _MISSING))
    type_ = _plain_name(get("type", _MISSING))
    f = _plain_name(get("f", _MISSING))
    key = get("key")
    index = get("index", position)
    time = get("time")
    if (type(process) is not int or type(f) is not str or type(index) is not int or index < 0
            or type(type_) is not str or type_ not in _TYPE_SET
            or not (key is None or type(key) in _KEY_TYPES)
            or not (time is None or type(time) is int) or "meta" in m):
        process, f, key = _check_fields(m, process, type_, f, key, index, time, line, source)
    meta: dict[str, Any] = {}
    if not m.keys() <= _FIELD_SET or "meta" in m:
        meta.update((str(k), v) for k, v in m.get("meta", {}).items())
        meta.update((str(k), v) for k, v in m.items() if k not in _FIELD_SET)
    return Record(process=process, type=type_, f=f, value=get("value"), key=key,
                  index=index, time=time, error=_plain_name(get("error")), meta=meta,
                  line=line)


def _check_fields(m: dict[Any, Any], process: Any, type_: Any, f: Any, key: Any, index: Any,
                  time: Any, line: int | None, source: str | None) -> tuple[Any, str, Any]:
    """The slow path of :func:`record_from_map`: every check with its message, and the
    process, function and key as the record holds them."""

    def bad(message: str) -> HistoryError:
        return HistoryError(message, source=source, line=line)

    for name, value in (("process", process), ("type", type_)):
        if value is _MISSING:
            raise bad(f"missing field :{name}; {_EXPECT_RECORD}")
    if isinstance(process, bool) or not isinstance(process, int | str):
        raise bad(f"field :process is {_show(process)}; expected an integer (a client) or a "
                  "keyword like :nemesis (a fault)")
    if not isinstance(type_, str) or type_ not in _TYPE_SET:
        raise bad(f"field :type is {_show(type_)}; expected one of "
                  + ", ".join(f":{t}" for t in RECORD_TYPES))
    is_client = isinstance(process, int)
    if f is _MISSING or (f is None and not is_client):
        if is_client:
            raise bad(f"missing field :f; {_EXPECT_RECORD}")
        f = ""
    elif not isinstance(f, str):
        raise bad(f"field :f is {_show(f)}; expected a keyword like :read")
    if isinstance(key, list):
        try:
            key = _hashable(key)
        except EdnSyntaxError:
            raise bad(f"field :key is {_show(key)}; expected a string, a number or a vector "
                      "of them") from None
    elif isinstance(key, dict):
        raise bad(f"field :key is {_show(key)}; expected a string, a number or a vector")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise bad(f"field :index is {_show(index)}; expected a non-negative integer")
    if time is not None and (isinstance(time, bool) or not isinstance(time, int)):
        raise bad(f"field :time is {_show(time)}; expected an integer (nanoseconds) or nil")
    if "meta" in m and not isinstance(m["meta"], dict):
        raise bad(f"field :meta is {_show(m['meta'])}; expected a map")
    return process, str(f), key


def read_edn(text: str, *, source: str | None = None, lenient: bool = False,
             errors: list[HistoryError] | None = None, independent: bool | None = None
             ) -> list[Record]:
    """The records of an EDN history (see the module docstring for the accepted shapes
    and layouts).

    Raises :class:`HistoryError` (source, line, what was expected) for broken EDN or a
    malformed operation. With ``lenient`` a malformed form is skipped (reading goes on
    at the next line that starts a map) and its error appended to ``errors``; nothing
    is raised. ``independent`` as described in the module docstring."""
    if text.startswith("\ufeff"):
        text = text[1:]
    problems: list[HistoryError] = errors if errors is not None else []
    maps: list[tuple[Any, int]] = []
    _read_forms(text, maps, problems, source, lenient)
    surrogates = may_hold_surrogates(text)
    records: list[Record] = []
    for m, line in maps:
        try:
            if surrogates:
                refuse_lone_surrogates(m, source, line)
            records.append(record_from_map(m, len(records), line, source))
        except HistoryError as error:
            if not lenient:
                raise
            problems.append(error)
    return split_independent(records, independent, source=source, lenient=lenient,
                             errors=problems)



_RESUME: Final = re.compile(r"\n[ \t\r,]*(?=[{#\])])")
"""Where lenient reading goes on after a broken form: the next line that starts a map
(or a record literal, or closes the history's vector)."""


class _Wrapper:
    """Whether the history is a top-level vector (or list), and whether it closed."""

    __slots__ = ("closed", "closer", "line")

    def __init__(self) -> None:
        self.closer: str | None = None
        self.closed = False
        self.line = 0


def _read_forms(text: str, out: list[tuple[Any, int]], problems: list[HistoryError],
                source: str | None, lenient: bool) -> None:
    """Read the top-level forms of ``text`` into ``out`` with the line each starts on,
    whatever the layout: a line of complete flat maps takes the fast path, anything
    else (a form spread over lines, unusual syntax) the full reader."""
    reader = _Reader(text)
    wrapper = _Wrapper()
    size = len(text)
    line, counted = 1, 0
    tried_fast = 0  # the last line the fast path was tried on: once a line at most
    pos = reader.skip(0)
    if pos < size and text[pos] in "[(":
        wrapper.closer = _CLOSER[text[pos]]
        line += text.count("\n", 0, pos)
        counted = pos
        wrapper.line = line
        pos = reader.skip(pos + 1)
    while pos < size:
        line += text.count("\n", counted, pos)
        counted = start = pos
        c = text[pos]
        try:
            if wrapper.closed:
                raise EdnSyntaxError(f"unexpected text after the closing {wrapper.closer!r}; "
                                     "expected the end of the history", pos)
            if c in ")]}":
                if c != wrapper.closer:
                    raise EdnSyntaxError(f"unexpected {c!r}; {_EXPECT_RECORD}", pos)
                wrapper.closed = True
                pos = reader.skip(pos + 1)
                continue
            if tried_fast != line:
                tried_fast = line
                end = text.find("\n", pos)
                end = size if end < 0 else end
                try:
                    out.extend((m, line) for m in _fast_maps(text[pos:end]))
                    pos = reader.skip(end)
                    continue
                except _Fallback:
                    pass
            value, pos = read_form(text, pos)
            out.append((value, line))
            pos = reader.skip(pos)
        except EdnSyntaxError as error:
            message = error.message
            if not message.startswith("broken EDN"):
                message = f"broken EDN: {message}"
            problem = HistoryError(message, source=source,
                                   line=line + text.count("\n", start, max(start, error.pos)))
            if not lenient:
                raise problem from None
            problems.append(problem)
            resume = _RESUME.search(text, start)
            if resume is None:
                return
            pos = resume.end()
    if wrapper.closer is not None and not wrapper.closed:
        problem = HistoryError(f"broken EDN: the history's opening bracket is never closed; "
                               f"expected {wrapper.closer!r} at the end",
                               source=source, line=wrapper.line)
        if not lenient:
            raise problem
        problems.append(problem)


# ---------------------------------------------------------------------------------------
# jepsen.independent


def _is_tuple(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2 and not isinstance(value[0], bool)
            and isinstance(value[0], int | str))


def _looks_independent(records: list[Record]) -> bool:
    pending: dict[Hashable, Any] = {}
    functions: set[str] = set()
    invocations = 0
    for r in records:
        if r.type == OBSERVE or not r.is_client:
            continue
        if r.key is not None:
            return False
        if r.type == INVOKE:
            if not _is_tuple(r.value):
                return False
            pending[r.process] = r.value[0]
            functions.add(r.f)
            invocations += 1
        elif r.type == OK and (not _is_tuple(r.value) or pending.get(r.process) != r.value[0]):
            return False
    return invocations > 0 and not functions <= {"cas"}


def split_independent(records: list[Record], independent: bool | None, *,
                      source: str | None = None, lenient: bool = False,
                      errors: list[HistoryError] | None = None) -> list[Record]:
    """``records`` with ``jepsen.independent`` ``[k v]`` tuples split into key and value.

    ``independent``: True splits (every client invocation must hold a tuple), False
    returns ``records`` unchanged, None splits when the history looks independent (the
    rule is in the module docstring). Faults and observations are never touched. A
    malformed tuple is a :class:`HistoryError`; with ``lenient`` the record is dropped
    and the error appended to ``errors``."""
    if independent is False or (independent is None and not _looks_independent(records)):
        return records
    out: list[Record] = []
    keys: dict[Hashable, Any] = {}
    for r in records:
        if r.type == OBSERVE or not r.is_client:
            out.append(r)
            continue
        value = r.value
        problem: str | None = None
        if r.type == INVOKE:
            if _is_tuple(value):
                keys[r.process] = value[0]
                out.append(_with_key(r, value[0], value[1]))
                continue
            problem = (f"the value {_show(value)} of {r.f!r} is not a [key value] tuple; "
                       "expected jepsen.independent tuples in every client invocation")
        elif r.type in (OK, FAIL, INFO):
            key = keys.pop(r.process, None)
            if key is None:
                out.append(r)  # a completion without invocation: pair() reports it
                continue
            if _is_tuple(value) and value[0] == key:
                out.append(_with_key(r, key, value[1]))
                continue
            if not isinstance(value, list) or r.type != OK:
                out.append(_with_key(r, key, value))
                continue
            problem = (f"the value {_show(value)} of {r.f!r} ({r.type}) is not a tuple "
                       f"for the invoked key {_show(key)}; expected [{_show(key)} value]")
        else:
            out.append(r)
            continue
        error = HistoryError(problem, source=source, line=r.line)
        if not lenient:
            raise error
        if errors is not None:
            errors.append(error)
    return out


def _with_key(r: Record, key: Any, value: Any) -> Record:
    return Record(process=r.process, type=r.type, f=r.f, value=value, key=key, index=r.index,
                  time=r.time, error=r.error, meta=r.meta, line=r.line)


# ---------------------------------------------------------------------------------------
# Writing


def _keyword(name: str) -> str:
    return f":{name}" if _KEYWORD_NAME.fullmatch(name) and name not in ("nil", "true",
                                                                        "false") else ""


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\t", "\\t").replace("\r", "\\r") + '"'


def edn_value(value: Any) -> str:
    """``value`` written as EDN (plain Python, as read; see the module docstring).

    Raises :class:`HistoryError` for a value EDN cannot hold (``bytes``, objects)."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "##NaN"
        if math.isinf(value):
            return "##Inf" if value > 0 else "##-Inf"
        return repr(float(value))
    if isinstance(value, Keyword):
        if not _KEYWORD_TEXT.fullmatch(value.name):
            raise HistoryError(f"cannot write the keyword name {value.name!r} as EDN; "
                               f"{_KEYWORD_EXPECTED}")
        return ":" + value.name
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(edn_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{edn_value(k)} {edn_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, set | frozenset):
        return "#{" + " ".join(sorted(edn_value(v) for v in value)) + "}"
    if isinstance(value, Decimal) and value.is_finite():
        return f"{value}M"
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    raise HistoryError(f"cannot write a value of type {type(value).__name__} as EDN; "
                       "expected nil, booleans, numbers, strings, lists, maps or sets")


def _name(value: Any) -> str:
    if isinstance(value, str):
        return _keyword(value) or _string(value)
    return edn_value(value)


def dumps_edn(records: Iterable[Record]) -> str:
    """The records as an EDN history, one Jepsen-style map per line (format in the
    module docstring); :func:`read_edn` reads it back to equal records (apart from
    ``line``; tuples come back as lists)."""
    out: list[str] = []
    for position, r in enumerate(records):
        parts = [f":process {_name(r.process)}", f":type {_name(r.type)}",
                 f":f {_name(r.f)}"]
        if r.key is not None:
            parts.append(f":key {edn_value(r.key)}")
        parts.append(f":value {edn_value(r.value)}")
        if r.index != position:
            parts.append(f":index {r.index}")
        if r.time is not None:
            parts.append(f":time {r.time}")
        if r.error is not None:
            parts.append(f":error {_name(r.error)}")
        if r.meta:
            meta = ", ".join(f"{_name(k)} {edn_value(v)}" for k, v in r.meta.items())
            parts.append(f":meta {{{meta}}}")
        out.append("{" + ", ".join(parts) + "}\n")
    return "".join(out)
