"""When two history values are the same value: by decoded type and value.

Python's ``==`` is too lenient for judging histories: ``True == 1``, ``1 == 1.0`` and
``Decimal("1") == 1`` hold, and ``nan != nan``. A checker that compares what a read
returned with what a write wrote must not let a read of ``true`` match a write of
``1``, nor miss that a read of NaN returned the NaN written. Here two values are the
same exactly when they have the same decoded type and the same value:

- ``None``, booleans, integers, floats, decimals, ratios, strings, EDN keywords,
  symbols and characters, bytes: each its own type (``true != 1``, ``1 != 1.0``,
  ``:a != "a"``, ``sym != "sym"``, ``\\a != "a"``); numbers of
  one type compare by value (``Decimal("1.0")`` is ``Decimal("1")``); NaN is NaN
  whatever its sign (``-NaN`` is ``NaN``, for floats and decimals alike; a quiet and a
  signalling decimal NaN stay apart).
- sequences (lists, tuples, EDN vectors and lists) compare element by element;
  sets and maps as sets (of elements, of key-value pairs), element by element.

DynamoDB items keep DynamoDB's own rules (numbers compare numerically); this module is
for the plain values of register, key-value and transactional histories.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Set
from decimal import Decimal
from fractions import Fraction
from typing import Any

__all__ = ["Char", "Keyword", "Symbol", "merged_by_python", "same_value", "value_key"]


class _Named(str):
    """A ``str`` holding an EDN name that is its own type: equal only to a value of the
    same class with the same text, never to a plain string."""

    __slots__ = ()
    KIND = "named"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((self.KIND, str.__str__(self)))

    @property
    def name(self) -> str:
        """The text as a plain string."""
        return str.__str__(self)


class Keyword(_Named):
    """An EDN keyword (``:a``) read as a value: a ``str`` holding the name without the
    colon, equal only to a keyword of the same name (never to the string ``"a"``),
    shown as ``:a``. Readers keep keywords as this type inside values; fields such as
    ``:type`` and ``:f`` are plain strings."""

    __slots__ = ()
    KIND = "keyword"

    def __repr__(self) -> str:
        return ":" + str.__str__(self)


class Symbol(_Named):
    """An EDN symbol (``sym``, ``foo/bar``) read as a value: equal only to a symbol of
    the same name (never to the string ``"sym"`` nor the keyword ``:sym``), shown as
    its name."""

    __slots__ = ()
    KIND = "symbol"

    def __repr__(self) -> str:
        return str.__str__(self)


_CHAR_NAMES: dict[str, str] = {"\n": "newline", " ": "space", "\t": "tab", "\r": "return",
                               "\f": "formfeed", "\b": "backspace"}


class Char(_Named):
    """An EDN character (``\\a``, ``\\newline``) read as a value: a one-character
    ``str`` equal only to the same character (never to the string ``"a"``), shown as
    EDN writes it."""

    __slots__ = ()
    KIND = "char"

    def __repr__(self) -> str:
        text = str.__str__(self)
        return "\\" + _CHAR_NAMES.get(text, text)


def value_key(value: Any) -> Hashable:
    """A hashable stand-in for ``value``: two values have equal keys exactly when they
    are the same value by decoded type and value (see the module's docstring).

    Raises ``TypeError`` for an object of a type no history format decodes to, unless
    it is hashable (then it is compared as itself, within its type)."""
    if value is None:
        return ("nil",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, _Named):
        return (value.KIND, value.name)
    if isinstance(value, str):
        return ("str", str.__str__(value))
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("float", "nan") if math.isnan(value) else ("float", value)
    if isinstance(value, Decimal):
        if value.is_nan():  # one NaN whatever its sign or payload; signalling apart
            return ("decimal", "sNaN" if value.is_snan() else "NaN")
        return ("decimal", value)
    if isinstance(value, Fraction):
        return ("ratio", value)
    if isinstance(value, bytes | bytearray):
        return ("bytes", bytes(value))
    if isinstance(value, list | tuple):
        return ("list", tuple(value_key(v) for v in value))
    if isinstance(value, Set):
        return ("set", frozenset(value_key(v) for v in value))
    if isinstance(value, Mapping):
        return ("map", frozenset((value_key(k), value_key(v)) for k, v in value.items()))
    hash(value)  # TypeError for an unhashable object of an unknown type
    return (type(value).__qualname__, value)


def same_value(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` are the same value by decoded type and value:
    ``same_value(True, 1)`` and ``same_value(1, 1.0)`` are False,
    ``same_value(float("nan"), float("nan"))`` is True."""
    return a is b or value_key(a) == value_key(b)


def merged_by_python(values: Iterable[Any], held: int) -> bool:
    """True when a Python set (or a dict's keys) built from ``values`` holds only
    ``held`` elements although ``values`` has more distinct values by decoded type and
    value: Python merged some that differ (``{1, True}`` and ``{1, 1.0}`` hold one
    element). A reader must not judge such a collection: it no longer holds what the
    history wrote."""
    return len({value_key(v) for v in values}) != held
