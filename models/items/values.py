"""DynamoDB attribute values as boto3 "resource"-style Python natives.

The representation, one Python type per DynamoDB type:

==========  ==========================================================
``S``       ``str``
``N``       ``decimal.Decimal`` (``int`` accepted on input; ``float`` refused)
``B``       ``bytes`` (``bytearray``/``memoryview`` accepted on input)
``BOOL``    ``bool``
``NULL``    ``None``
``L``       ``list``
``M``       ``dict`` with ``str`` keys
``SS``      ``frozenset`` of ``str`` (``set`` accepted on input)
``NS``      ``frozenset`` of ``Decimal``
``BS``      ``frozenset`` of ``bytes``
==========  ==========================================================

:func:`normalize` validates a value against DynamoDB's rules and returns its canonical
form (numbers as DynamoDB would return them, sets as frozensets). :func:`freeze` gives
a hashable form that keeps types apart (``True`` and ``1`` differ), :func:`thaw` undoes
it. :func:`to_wire` / :func:`from_wire` convert to and from DynamoDB's JSON
(``{"S": "x"}``, ``{"N": "1"}``, ``{"B": "<base64>"}``, ...).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any, Final

from replicheck.models.items.errors import ValidationError

__all__ = [
    "MAX_NESTING_DEPTH",
    "MAX_NUMBER_DIGITS",
    "MAX_NUMBER_MAGNITUDE",
    "MIN_NUMBER_MAGNITUDE",
    "SET_TYPES",
    "TYPES",
    "Frozen",
    "FrozenItem",
    "Item",
    "add_numbers",
    "check_number",
    "compare_values",
    "freeze",
    "freeze_item",
    "from_wire",
    "item_from_wire",
    "item_to_wire",
    "key_part_from_json",
    "key_part_json",
    "key_text",
    "normalize",
    "normalize_item",
    "number_to_wire",
    "parse_number",
    "size_of",
    "subtract_numbers",
    "thaw",
    "thaw_item",
    "to_wire",
    "type_of",
    "values_equal",
]

Item = dict[str, Any]
"""An item: attribute name -> attribute value (natives as described above)."""

Frozen = tuple[Any, ...]
"""The hashable form of one attribute value: ``(type tag, payload)``."""

FrozenItem = tuple[tuple[str, Frozen], ...]
"""The hashable form of an item: ``(name, frozen value)`` pairs sorted by name."""

TYPES: tuple[str, ...] = ("S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS")
"""Every DynamoDB type descriptor, as :func:`type_of` spells them."""

SET_TYPES: frozenset[str] = frozenset({"SS", "NS", "BS"})
"""The set types."""

MAX_NUMBER_DIGITS = 38
"""A number keeps at most this many significant digits."""

MAX_NUMBER_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")
"""The largest magnitude a number may have."""

MIN_NUMBER_MAGNITUDE = Decimal("1E-130")
"""The smallest non-zero magnitude a number may have."""

MAX_NESTING_DEPTH = 32
"""Lists and maps nest at most this deep."""

_ELEMENT_TYPE = {"SS": "S", "NS": "N", "BS": "B"}
_NUMBER_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INVALID = "One or more parameter values were invalid: "


def _fail(message: str, what: str | None) -> ValidationError:
    return ValidationError(message, what=what)


# ---------------------------------------------------------------------------- types


def type_of(value: Any) -> str:
    """The DynamoDB type descriptor of ``value``: one of :data:`TYPES`.

    Accepts the input forms too (``int`` is ``"N"``, ``set`` of str is ``"SS"``, ...)
    but does not validate contents; raises :class:`ValidationError` for a value that
    has no DynamoDB type (a float, an empty or mixed set, an object)."""
    if isinstance(value, str):
        return "S"
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, Decimal | int):
        return "N"
    if isinstance(value, bytes | bytearray | memoryview):
        return "B"
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple):
        return "L"
    if isinstance(value, Mapping):
        return "M"
    if isinstance(value, set | frozenset):
        return _set_type(value, None)
    if isinstance(value, float):
        raise _fail(
            "Float types are not supported. Use Decimal types instead.", None
        )
    raise _fail(f"Unsupported type for an attribute value: {type(value).__name__}", None)


def _set_type(value: set[Any] | frozenset[Any], what: str | None) -> str:
    if not value:
        raise _fail(_INVALID + "An attribute value set may not be empty", what)
    kinds = set()
    for element in value:
        if isinstance(element, str):
            kinds.add("SS")
        elif isinstance(element, bool):
            kinds.add("?")
        elif isinstance(element, Decimal | int):
            kinds.add("NS")
        elif isinstance(element, bytes | bytearray | memoryview):
            kinds.add("BS")
        else:
            kinds.add("?")
    if len(kinds) != 1 or "?" in kinds:
        raise _fail(
            _INVALID + "A set must hold elements of one type: all str (SS), "
            "all numbers (NS) or all bytes (BS)",
            what,
        )
    return kinds.pop()


# ---------------------------------------------------------------------------- numbers


_OVERFLOW: Final = ("Number overflow. Attempting to store a number with magnitude larger "
                    "than supported range")
_UNDERFLOW: Final = ("Number underflow. Attempting to store a number with magnitude smaller "
                     "than supported range")


def check_number(value: Decimal | int, *, what: str | None = None) -> Decimal:
    """``value`` as DynamoDB stores it (plain notation, no trailing zeros), or a
    :class:`ValidationError` when it has more than 38 significant digits, a magnitude
    above 9.99...E+125 (overflow) or a non-zero magnitude below 1E-130 (underflow),
    or is not finite."""
    number = Decimal(value) if isinstance(value, int) else value
    if not number.is_finite():
        raise _fail(_INVALID + f"The parameter cannot be converted to a numeric value: "
                    f"{number}", what)
    if number.is_zero():
        return Decimal(0)
    # the exponent of the leading digit decides the range before any arithmetic: a
    # context could not hold 1E999999999 (decimal.Overflow) nor 1E-999999999
    if number.adjusted() > MAX_NUMBER_MAGNITUDE.adjusted():
        raise _fail(_OVERFLOW, what)
    if number.adjusted() < MIN_NUMBER_MAGNITUDE.adjusted():
        raise _fail(_UNDERFLOW, what)
    with localcontext() as ctx:
        ctx.prec = 1000
        reduced = number.normalize()
        magnitude = abs(reduced)
    if magnitude > MAX_NUMBER_MAGNITUDE:
        raise _fail(_OVERFLOW, what)
    if magnitude < MIN_NUMBER_MAGNITUDE:
        raise _fail(_UNDERFLOW, what)
    if len(reduced.as_tuple().digits) > MAX_NUMBER_DIGITS:
        raise _fail("Attempting to store more than 38 significant digits in a Number", what)
    return Decimal(_plain(reduced))


def _plain(reduced: Decimal) -> str:
    if reduced.is_zero():
        return "0"
    with localcontext() as ctx:
        ctx.prec = 1000
        return format(reduced, "f")


def number_to_wire(value: Decimal | int) -> str:
    """The string DynamoDB sends for a number: plain notation without trailing zeros
    (``"100"``, ``"1.5"``, ``"-0.001"``, ``"0"``). The number is assumed valid."""
    number = Decimal(value) if isinstance(value, int) else value
    with localcontext() as ctx:
        ctx.prec = 1000
        return _plain(number.normalize())


def parse_number(text: str, *, what: str | None = None) -> Decimal:
    """Parse a wire number string (``"1"``, ``"-2.5e3"``); rejects anything else
    (``NaN``, ``Infinity``, ``1_000``, blanks) and out-of-range numbers with a
    :class:`ValidationError`."""
    if not isinstance(text, str) or not _NUMBER_RE.fullmatch(text):
        shown = text if isinstance(text, str) else repr(text)
        raise _fail(
            _INVALID + f"The parameter cannot be converted to a numeric value: {shown}", what
        )
    return check_number(Decimal(text), what=what)


def add_numbers(a: Decimal | int, b: Decimal | int, *, what: str | None = None) -> Decimal:
    """``a + b`` computed exactly, then held to DynamoDB's limits (38 significant
    digits, magnitude range); a result outside them is a :class:`ValidationError`."""
    with localcontext() as ctx:
        ctx.prec = 1000
        total = Decimal(a) + Decimal(b)
    return check_number(total, what=what)


def subtract_numbers(a: Decimal | int, b: Decimal | int, *, what: str | None = None) -> Decimal:
    """``a - b`` computed exactly, then held to DynamoDB's limits like
    :func:`add_numbers`."""
    with localcontext() as ctx:
        ctx.prec = 1000
        difference = Decimal(a) - Decimal(b)
    return check_number(difference, what=what)


# ---------------------------------------------------------------------------- normalize


def normalize(value: Any, *, what: str | None = "AttributeValue") -> Any:
    """``value`` validated and in canonical form, or a :class:`ValidationError` naming
    ``what``.

    Canonical: numbers are ``Decimal`` as DynamoDB returns them, binaries ``bytes``,
    lists ``list``, maps ``dict``, sets ``frozenset``. Refused: floats, numbers out of
    DynamoDB's range or precision, empty or mixed sets, strings that are not valid
    Unicode (lone surrogates), non-str map keys, nesting deeper than 32, and any
    other Python type. Empty strings, binaries, lists and maps are allowed."""
    return _normalize(value, what, 0)


def _normalize(value: Any, what: str | None, depth: int) -> Any:
    if isinstance(value, str):
        _check_text(value, what)
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | int):
        return check_number(value, what=what)
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, list | tuple):
        _check_depth(depth, what)
        return [_normalize(element, what, depth + 1) for element in value]
    if isinstance(value, Mapping):
        _check_depth(depth, what)
        result: dict[str, Any] = {}
        for key, element in value.items():
            if not isinstance(key, str):
                raise _fail(_INVALID + f"A map key must be a string, not {key!r}", what)
            _check_text(key, what)
            result[key] = _normalize(element, what, depth + 1)
        return result
    if isinstance(value, set | frozenset):
        kind = _set_type(value, what)
        if kind == "SS":
            for element in value:
                _check_text(element, what)
            return frozenset(value)
        if kind == "NS":
            return frozenset(check_number(element, what=what) for element in value)
        return frozenset(bytes(element) for element in value)
    if isinstance(value, float):
        raise _fail(_INVALID + "Float types are not supported. Use Decimal types instead.",
                    what)
    raise _fail(_INVALID + f"Unsupported type for an attribute value: {type(value).__name__}",
                what)


def _check_text(text: str, what: str | None) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(_INVALID + "A string is not valid Unicode (it holds a lone surrogate)",
                    what) from None


def _check_depth(depth: int, what: str | None) -> None:
    if depth >= MAX_NESTING_DEPTH:
        raise _fail(_INVALID + "Nesting Levels have exceeded supported limits", what)


def normalize_item(item: Mapping[str, Any], *, what: str | None = "Item") -> Item:
    """A new item with every attribute :func:`normalize`-d; attribute names must be
    non-empty strings. Raises :class:`ValidationError` naming ``what``."""
    if not isinstance(item, Mapping):
        raise _fail(_INVALID + f"An item must be a mapping, not {type(item).__name__}", what)
    result: Item = {}
    for name, value in item.items():
        if not isinstance(name, str) or not name:
            raise _fail(_INVALID + f"An attribute name must be a non-empty string: {name!r}",
                        what)
        _check_text(name, what)
        result[name] = _normalize(value, what, 0)
    return result


# ---------------------------------------------------------------------------- freeze


def freeze(value: Any) -> Frozen:
    """A hashable form of ``value`` that two values share exactly when DynamoDB deems
    them equal: types are kept apart (``True`` differs from ``1``), numbers compare
    by value, sets ignore order, maps ignore key order. :func:`thaw` undoes it."""
    kind = type_of(value)
    if kind == "N":
        with localcontext() as ctx:
            ctx.prec = 1000
            return ("N", Decimal(value).normalize())
    if kind == "B":
        return ("B", bytes(value))
    if kind == "NULL":
        return ("NULL",)
    if kind == "L":
        return ("L", tuple(freeze(element) for element in value))
    if kind == "M":
        return ("M", tuple(sorted((key, freeze(element)) for key, element in value.items())))
    if kind == "NS":
        with localcontext() as ctx:
            ctx.prec = 1000
            return ("NS", frozenset(Decimal(element).normalize() for element in value))
    if kind == "BS":
        return ("BS", frozenset(bytes(element) for element in value))
    if kind == "SS":
        return ("SS", frozenset(value))
    return (kind, value)


def thaw(frozen: Frozen) -> Any:
    """The canonical native value of a :func:`freeze`-d form."""
    kind = frozen[0]
    if kind == "NULL":
        return None
    payload = frozen[1]
    if kind == "N":
        return Decimal(number_to_wire(payload))
    if kind == "L":
        return [thaw(element) for element in payload]
    if kind == "M":
        return {key: thaw(element) for key, element in payload}
    if kind == "NS":
        return frozenset(Decimal(number_to_wire(element)) for element in payload)
    if kind in ("SS", "BS"):
        return frozenset(payload)
    return payload


def freeze_item(item: Mapping[str, Any]) -> FrozenItem:
    """A hashable form of an item (see :func:`freeze`), equal for equal items."""
    return tuple(sorted((name, freeze(value)) for name, value in item.items()))


def thaw_item(frozen: FrozenItem) -> Item:
    """The item a :func:`freeze_item` form stands for."""
    return {name: thaw(value) for name, value in frozen}


# ---------------------------------------------------------------------------- semantics


def values_equal(a: Any, b: Any) -> bool:
    """DynamoDB equality: same type and same value (sets regardless of order, lists
    element-wise, maps key-wise)."""
    return freeze(a) == freeze(b)


def compare_values(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 ordering two values of the same orderable type (N numerically, S and
    B by their bytes); ``None`` when they cannot be ordered (different types, or a
    type other than N, S or B)."""
    kind = type_of(a)
    if kind != type_of(b) or kind not in ("N", "S", "B"):
        return None
    if kind == "N":
        left: Any = Decimal(a)
        right: Any = Decimal(b)
    elif kind == "B":
        left, right = bytes(a), bytes(b)
    else:
        # Code-point order is UTF-8 byte order, which is DynamoDB's order.
        left, right = a, b
    return int(left > right) - int(left < right)


def size_of(value: Any) -> int | None:
    """What DynamoDB's ``size()`` answers: the length of a string in UTF-16 code
    units, the byte count of a binary, the element count of a list, map or set;
    ``None`` for N, BOOL and NULL, which have no size."""
    kind = type_of(value)
    if kind == "S":
        return len(value.encode("utf-16-le")) // 2
    if kind == "B":
        return len(bytes(value))
    if kind in ("L", "M") or kind in SET_TYPES:
        return len(value)
    return None


# ---------------------------------------------------------------------------- wire


def to_wire(value: Any) -> dict[str, Any]:
    """DynamoDB's JSON for ``value``: ``{"S": ...}``, ``{"N": "1.5"}``,
    ``{"B": "<base64>"}``, ``{"BOOL": true}``, ``{"NULL": true}``, ``{"L": [...]}``,
    ``{"M": {...}}``, ``{"SS"|"NS"|"BS": [...]}`` (set members sorted, so the output
    is deterministic). The value is assumed valid (see :func:`normalize`)."""
    kind = type_of(value)
    if kind == "S":
        return {"S": value}
    if kind == "N":
        return {"N": number_to_wire(value)}
    if kind == "B":
        return {"B": base64.b64encode(bytes(value)).decode("ascii")}
    if kind == "BOOL":
        return {"BOOL": value}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "L":
        return {"L": [to_wire(element) for element in value]}
    if kind == "M":
        return {"M": {key: to_wire(element) for key, element in value.items()}}
    if kind == "SS":
        return {"SS": sorted(value)}
    if kind == "NS":
        return {"NS": [number_to_wire(n) for n in sorted(Decimal(e) for e in value)]}
    return {"BS": [base64.b64encode(b).decode("ascii") for b in sorted(bytes(e) for e in value)]}


def from_wire(wire: Mapping[str, Any], *, what: str | None = "AttributeValue") -> Any:
    """The canonical native value for DynamoDB's JSON form; binaries may be base64
    text (JSON) or raw bytes (botocore). Malformed input (no type or several, an
    unknown type, a bad number or base64, an empty set or one with duplicates, NULL
    not true) raises :class:`ValidationError` naming ``what``."""
    return _from_wire(wire, what, 0)


def _from_wire(wire: Any, what: str | None, depth: int) -> Any:
    if not isinstance(wire, Mapping) or len(wire) == 0:
        raise _fail("Supplied AttributeValue is empty, must contain exactly one of the "
                    "supported datatypes", what)
    if len(wire) > 1:
        raise _fail("Supplied AttributeValue has more than one datatypes set, must contain "
                    "exactly one of the supported datatypes", what)
    ((kind, payload),) = wire.items()
    if kind == "S":
        if not isinstance(payload, str):
            raise _fail(_INVALID + "An S value must be a string", what)
        _check_text(payload, what)
        return payload
    if kind == "N":
        return parse_number(payload, what=what)
    if kind == "B":
        return _binary(payload, what)
    if kind == "BOOL":
        if not isinstance(payload, bool):
            raise _fail(_INVALID + "A BOOL value must be true or false", what)
        return payload
    if kind == "NULL":
        if payload is not True:
            raise _fail(_INVALID + "Null attribute value types must have the value of true",
                        what)
        return None
    if kind == "L":
        if not isinstance(payload, list | tuple):
            raise _fail(_INVALID + "An L value must be a list", what)
        _check_depth(depth, what)
        return [_from_wire(element, what, depth + 1) for element in payload]
    if kind == "M":
        if not isinstance(payload, Mapping):
            raise _fail(_INVALID + "An M value must be a map", what)
        _check_depth(depth, what)
        result: dict[str, Any] = {}
        for key, element in payload.items():
            if not isinstance(key, str):
                raise _fail(_INVALID + f"A map key must be a string, not {key!r}", what)
            result[key] = _from_wire(element, what, depth + 1)
        return result
    if kind in SET_TYPES:
        if not isinstance(payload, list | tuple):
            raise _fail(_INVALID + f"An {kind} value must be a list", what)
        if not payload:
            raise _fail(_INVALID + f"An {kind} set may not be empty", what)
        if kind == "SS":
            members: list[Any] = []
            for element in payload:
                if not isinstance(element, str):
                    raise _fail(_INVALID + "An SS value must hold strings", what)
                _check_text(element, what)
                members.append(element)
        elif kind == "NS":
            members = [parse_number(element, what=what) for element in payload]
        else:
            members = [_binary(element, what) for element in payload]
        result_set = frozenset(members)
        if len(result_set) != len(members):
            shown = ", ".join(str(element) for element in payload)
            raise _fail(_INVALID + f"Input collection [{shown}] of type {kind} contains "
                        "duplicates.", what)
        return result_set
    raise _fail(f"Supplied AttributeValue has an unknown datatype: {kind}", what)


def _binary(payload: Any, what: str | None) -> bytes:
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    if isinstance(payload, str):
        try:
            return base64.b64decode(payload.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise _fail(_INVALID + f"Invalid base64 for a binary value: {payload!r}",
                        what) from None
    raise _fail(_INVALID + "A B value must be base64 text or bytes", what)


def item_to_wire(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """DynamoDB's JSON for a whole item (each attribute through :func:`to_wire`)."""
    return {name: to_wire(value) for name, value in item.items()}


def item_from_wire(wire: Mapping[str, Any], *, what: str | None = "Item") -> Item:
    """The canonical item for DynamoDB's JSON form of one; see :func:`from_wire`."""
    if not isinstance(wire, Mapping):
        raise _fail(_INVALID + "An item must be a JSON object", what)
    result: Item = {}
    for name, value in wire.items():
        if not isinstance(name, str) or not name:
            raise _fail(_INVALID + f"An attribute name must be a non-empty string: {name!r}",
                        what)
        result[name] = _from_wire(value, what, 0)
    return result


def key_text(key: tuple[Any, ...]) -> str:
    """A key tuple as JSON text, the form replica observations name keys by: the bare
    value of a one-attribute key, a list for a composite one; a string as a JSON
    string, an integral number as a JSON number, any other number and a binary
    tagged as in DynamoDB JSON (``{"N": "1.5"}``, ``{"B": "<base64>"}``), so that no
    two different keys share a text (:func:`key_part_json`)."""
    parts = [key_part_json(v) for v in key]
    return json.dumps(parts[0] if len(parts) == 1 else parts)


def key_part_json(value: Any) -> Any:
    """One key attribute's value as the JSON value :func:`key_text` writes: strings
    and integral numbers bare, other numbers as ``{"N": text}`` (DynamoDB's text of
    the number, so equal numbers give equal texts), binaries as ``{"B": base64}``;
    anything else unchanged."""
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        number = Decimal(value)
        if number.is_finite() and number == number.to_integral_value():
            return int(number)
        return {"N": number_to_wire(number)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"B": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def key_part_from_json(value: Any) -> Any:
    """The inverse of :func:`key_part_json`: ``{"N": text}`` as a Decimal, ``{"B":
    base64}`` as bytes; anything else unchanged (a malformed tag too)."""
    if isinstance(value, dict) and len(value) == 1:
        ((tag, body),) = value.items()
        if tag == "N" and isinstance(body, str):
            try:
                return Decimal(body)
            except ArithmeticError:
                return value
        if tag == "B" and isinstance(body, str):
            try:
                return base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                return value
    return value
