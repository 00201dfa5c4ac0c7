"""What every reader makes sure of before a decoded value enters a history.

A history's values travel on through checkers, reports and writers that recurse over
them, hash them, print them and encode them as UTF-8. Each reader therefore refuses,
with a :class:`~replicheck.histories.history.HistoryError` naming the line, the inputs
that would break one of those later stages:

- collections nested deeper than
  :data:`~replicheck.histories.history.MAX_NESTING` (the readers count brackets before
  they recurse, so no input reaches Python's recursion limit);
- integers with more digits than Python converts from or to text
  (``sys.get_int_max_str_digits()``, 4300 by default): such an integer could be read
  but never printed in a report or written back, so it is refused when read;
- strings holding a lone surrogate (``"\\ud800"`` in JSON or EDN): they cannot be
  written as UTF-8, so no report or history could be written with them.

This module holds the checks the formats share; each format finds the values in its
own syntax.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Set
from typing import Any, Final

from replicheck.histories.history import MAX_NESTING, HistoryError

__all__ = [
    "NESTING_EXPECTED",
    "digits_expected",
    "lone_surrogate",
    "may_hold_surrogates",
    "refuse_lone_surrogates",
]

NESTING_EXPECTED: Final = (f"collections nested more than {MAX_NESTING} deep; expected "
                           f"values nested at most {MAX_NESTING} deep")
"""The message of a value nested deeper than the limit."""

_SURROGATE_HINT: Final = re.compile(r"[\ud800-\udfff]|\\u[dD][89a-fA-F]")
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")


def digits_expected(digits: int) -> str:
    """The message of an integer written with ``digits`` digits, more than Python
    converts (``sys.get_int_max_str_digits()``)."""
    limit = sys.get_int_max_str_digits()
    return (f"an integer of {digits} digits; expected at most {limit} digits (Python's "
            "limit for converting integers to and from text)")


def may_hold_surrogates(text: str) -> bool:
    """False when no string decoded from ``text`` can hold a lone surrogate: ``text``
    has neither a surrogate character nor a ``\\uD800``-``\\uDFFF`` escape. A cheap
    test, so that the values need walking only when it is True."""
    return _SURROGATE_HINT.search(text) is not None


def lone_surrogate(value: Any) -> str | None:
    """A string inside ``value`` (a decoded value: strings, collections, map keys)
    that holds a surrogate code point (it cannot be encoded as UTF-8), or None. Walks
    without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return item
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | Set):
            stack.extend(item)
    return None


def refuse_lone_surrogates(value: Any, source: str | None, line: int | None) -> None:
    """Raise :class:`~replicheck.histories.history.HistoryError` naming ``source`` and
    ``line`` when a string inside ``value`` holds a lone surrogate."""
    found = lone_surrogate(value)
    if found is not None:
        raise HistoryError(f"a string holds a lone surrogate ({found[:40]!a}); expected "
                           "text that can be written as UTF-8 (a \\uD800-\\uDFFF escape "
                           "only as half of a surrogate pair)", source=source, line=line)
