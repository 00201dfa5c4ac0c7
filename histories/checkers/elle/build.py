"""Writing transactional histories by hand: a few lines per transaction.

:func:`history` takes events in real-time order, each ``(type, process, mops)``:

- ``("invoke", p, mops)``: process ``p`` invokes a transaction; the values of its reads
  are blanked (an invocation does not know them yet), so the completion's micro-ops
  may be passed as they are;
- ``("ok", p, mops)``: it committed, having read what ``mops`` say;
- ``("fail", p, None)`` / ``("info", p, None)``: it did not commit / may have; the
  invocation's micro-ops are repeated.

:func:`serial` runs transactions one after another (each invoked after the previous
completed). Records get consecutive indexes, so real time is the order given.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from replicheck.histories.checkers.elle.txn import READ, TXN
from replicheck.histories.history import History, Record, pair

Event = tuple[str, Hashable, Any]


def invocation(mops: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The micro-operations as an invocation records them: reads' values unknown."""
    return [[f, k, None if f == READ else v] for f, k, v in mops]


def history(events: Iterable[Event]) -> History:
    """A paired history from ``(type, process, mops)`` events in real-time order."""
    records: list[Record] = []
    pending: dict[Hashable, list[list[Any]]] = {}
    for i, (kind, process, mops) in enumerate(events):
        if kind == "invoke":
            value: Any = invocation(mops)
            pending[process] = value
        elif kind == "ok":
            value = [list(m) for m in mops]
        else:
            value = pending.get(process) if mops is None else invocation(mops)
        records.append(Record(process, kind, TXN, value, index=i, line=i + 1))
    return pair(records)


def serial(*txns: tuple[Any, ...]) -> History:
    """A history of transactions run one after another: each ``(process, mops)`` or
    ``(process, mops, status)`` with status ``ok`` (default), ``fail`` or ``info``."""
    events: list[Event] = []
    for spec in txns:
        process, mops = spec[0], spec[1]
        status = spec[2] if len(spec) > 2 else "ok"
        events.append(("invoke", process, mops))
        events.append((status, process, mops if status == "ok" else None))
    return history(events)
