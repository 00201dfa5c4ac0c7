"""Items, item values and version ids as the item checker names them.

An item is its table and key (:data:`ItemId`); a version is named by a version id
(:data:`Vid`). Markers stand for values a history does not show (:data:`ABSENT`,
:data:`UNKNOWN`, :data:`PRESENT`, :data:`MISSING`); :func:`fits` says whether two item
values may be one; the ``show``/``describe`` functions render values and versions for
notes and explanations, :func:`vid_json` as JSON-able data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from replicheck.histories.checkers.elle.explain import name
from replicheck.histories.checkers.elle.txn import Txn
from replicheck.models.items.values import Frozen, number_to_wire, thaw

ItemId = tuple[str, tuple[tuple[str, Frozen], ...]]
"""An item: its table and its key attributes ``(name, frozen value)``, sorted by name."""


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


ABSENT: Final[Any] = _Marker("absent")
"""The value of an absent item (never written, or deleted)."""
UNKNOWN: Final[Any] = _Marker("unknown")
"""A value the history does not show."""
PRESENT: Final[Any] = _Marker("present")
"""An item the history does not show, but an item (what an update makes: never
absent)."""
MISSING: Final[Any] = _Marker("missing")
"""A version the history did not record."""

# Version ids: ``None`` (the initial state), ``("v", recorded version)``, ``("=", value)``
# (a version known by its value) or ``("T", txn index)`` (known by its writer only).
Vid = tuple[str, Any] | None


def unshown(value: Any) -> bool:
    """Whether the history does not show the item (UNKNOWN or PRESENT)."""
    return value is UNKNOWN or value is PRESENT


def fits(a: Any, b: Any) -> bool:
    """Whether two item values may be one (either may be unknown; an item not shown
    is not an absence)."""
    if a is UNKNOWN or b is UNKNOWN:
        return True
    if a is PRESENT or b is PRESENT:
        return a is not ABSENT and b is not ABSENT
    return bool(a == b)


def show_version(v: Any) -> str:
    """A recorded version as shown: an int, or ``[a, b, ...]`` (from a tuple or a
    list) with each string part as a JSON string (``[8199999, "r1"]``, as the
    history's JSON writes it)."""
    if isinstance(v, tuple | list):
        return "[" + ", ".join(json.dumps(p, ensure_ascii=False) if isinstance(p, str)
                               else str(p) for p in v) + "]"
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)


def thaw_value(value: Any) -> Any:
    """An item value as native data: ``None`` for an absent or unshown item."""
    if value is ABSENT or unshown(value):
        return None
    return {n: thaw(v) for n, v in value}


def show_native(value: Any) -> str:
    """Native data as shown in notes and explanations (JSON-like, sets as ``<<...>>``)."""
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Decimal | int):
        return number_to_wire(value)
    if isinstance(value, list):
        return "[" + ", ".join(show_native(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show_native(v)}" for k, v in sorted(value.items())) \
            + "}"
    if isinstance(value, frozenset | set):
        return "<<" + ", ".join(sorted(show_native(v) for v in value)) + ">>"
    return repr(value)


def show_value(value: Any) -> str:
    """An item value (or marker) as shown in notes and explanations."""
    if value is ABSENT:
        return "nothing (absent)"
    if value is UNKNOWN:
        return "an unknown value"
    if value is PRESENT:
        return "an item the history does not show"
    return show_native({n: thaw(v) for n, v in value})


def vid_json(vid: Vid) -> Any:
    """A version id as JSON-able data: the recorded version, ``None`` for the initial
    state, ``{"value": item}`` or ``{"written_by": txn index}``."""
    if vid is None:
        return None
    tag, payload = vid
    if tag == "v":
        return list(payload) if isinstance(payload, tuple) else payload
    if tag == "=":
        return {"value": thaw_value(payload)}
    return {"written_by": payload}


def describe_vid(vid: Vid, txns: Sequence[Txn]) -> str:
    """A version id in words: the initial state, a recorded version, a value or a writer."""
    if vid is None:
        return "the initial (absent) state"
    tag, payload = vid
    if tag == "v":
        return f"version {show_version(payload)}"
    if tag == "=":
        return f"the version {show_value(payload)}"
    return f"the version {name(txns[payload])} wrote"
