"""The store's time windows as a history carries them, and when operations took effect.

A store declares time windows (``implementation.store.Windows``: how long a client
request token is remembered, how long a stream record is kept, ...). A recording whose
operation times are the store's own time (a schedulable store with time control: the
recorder's clock reads the store's ``now()``, in nanoseconds) says so with one
observation record, ``{"type": "observe", "f": "windows", "value": {...}}``, whose
value names each window in seconds (``null``: none) and ``"clock": "store-ns"``.

Only such a history lets a checker judge a window: :func:`history_windows` reads the
record (None without one, or when its times are not the store's), and
:func:`span_of` bounds when an operation took effect: somewhere from its invocation
to its completion (any time after its invocation for an indeterminate one), in the
store's seconds. A history without the record is judged as if every window were
endless, as before windows were recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from replicheck.histories.history import FAIL, OK, History, HistoryError, Operation
from replicheck.models.items.operations import Span

__all__ = ["STORE_CLOCK", "WINDOWS", "HistoryWindows", "history_windows", "span_of",
           "windows_to_json"]

WINDOWS: Final = "windows"
"""The ``f`` of the observation record carrying the store's windows."""

STORE_CLOCK: Final = "store-ns"
"""The record's ``clock`` when operation times are the store's time in nanoseconds."""

_NAMES: Final = ("idempotency_token", "stream_retention", "lease", "hint_timer")


@dataclass(frozen=True)
class HistoryWindows:
    """The windows a history's store declared, in seconds of its own time (None: the
    store has no such window), the history's times being the store's."""

    idempotency_token: float | None = None
    stream_retention: float | None = None
    lease: float | None = None
    hint_timer: float | None = None


def windows_to_json(named: tuple[tuple[str, float | None], ...]) -> dict[str, Any]:
    """The observation value for windows given as ``(name, seconds or None)`` pairs
    (``Windows.named()``), times being the store's in nanoseconds."""
    value: dict[str, Any] = {name: seconds for name, seconds in named}
    value["clock"] = STORE_CLOCK
    return value


def history_windows(history: History) -> HistoryWindows | None:
    """The windows the history's last ``windows`` observation declares, or None when
    it has none or its times are not the store's (then no window can be judged).
    :class:`HistoryError` naming the record and field for a malformed one."""
    records = [r for r in history.observations if r.f == WINDOWS]
    if not records:
        return None
    record = records[-1]
    value = record.value
    where = f"the {WINDOWS!r} observation (record {record.index})"
    if not isinstance(value, Mapping):
        raise HistoryError(f"{where}: value {value!r}; expected an object of windows")
    if value.get("clock") != STORE_CLOCK:
        return None
    seconds: dict[str, float | None] = {}
    for name in _NAMES:
        got = value.get(name)
        if got is not None and (isinstance(got, bool) or not isinstance(got, int | float)
                                or not got > 0):
            raise HistoryError(f"{where}: {name} is {got!r}; expected a positive number "
                               "of seconds or null")
        seconds[name] = None if got is None else float(got)
    return HistoryWindows(**seconds)


def span_of(op: Operation) -> Span | None:
    """When ``op`` took effect, in the store's seconds: between its invocation and its
    completion (``ok`` or ``fail``), any time after its invocation when it is
    indeterminate; None when its invocation carries no time."""
    if op.call_time is None:
        return None
    end = op.ret_time if op.status in (OK, FAIL) else None
    return Span(op.call_time / 1e9, None if end is None else end / 1e9)
