"""Small transactional histories (list-append and rw-register) for the oracle tests.

Every generator takes a :class:`random.Random` (Hypothesis's ``st.randoms()`` in the
tests, so the choices shrink) and returns a :class:`~replicheck.histories.history.History`:

- :func:`simulated`: an execution of a tiny store under one isolation level
  (:data:`ISOLATIONS`): ``serial`` (each transaction runs atomically at one instant
  between its invocation and completion: strict-serializable), ``snapshot`` (a
  snapshot at invocation, writes buffered, first committer wins),
  ``read-committed`` (reads see the latest committed state, writes buffered until
  commit) and ``none`` (writes visible at once, aborts not undone). Transactions
  abort at random (``fail``), and a completion may become ``info`` whether the
  transaction committed or not (``info`` ends its process: the client goes on under
  a fresh process id). Timing is sequential (one transaction in flight) or concurrent.
- :func:`random_history`: the same shapes and timing, reads returning arbitrary
  values (written ones, nil, ones nobody wrote, lists out of order or duplicated).
- :func:`history_of`: a history written by hand from events in real-time order.
- :func:`to_jsonl`: a history as replicheck's JSON lines (for reports of a case).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any, Final

from replicheck.histories.history import History, Record, pair

ISOLATIONS: Final = ("serial", "snapshot", "read-committed", "none")
WORKLOADS: Final = ("list-append", "rw-register")
KEYS: Final = ("x", "y", "z")
NOBODY: Final = 99
"""A value no generator writes: a read of it can never be explained."""

Event = tuple[str, Hashable, Any]


def history_of(events: Iterable[Event]) -> History:
    """A history from ``(type, process, mops)`` events in real-time order: ``invoke``
    with the micro-operations (read values are blanked), ``ok`` with what was read,
    ``fail`` / ``info`` with None (the invocation's micro-operations are repeated)."""
    records: list[Record] = []
    pending: dict[Hashable, Any] = {}
    for i, (kind, process, mops) in enumerate(events):
        if kind == "invoke":
            value: Any = [[f, k, None if f == "r" else v] for f, k, v in mops]
            pending[process] = value
        elif kind == "ok":
            value = [list(m) for m in mops]
        else:
            value = pending[process] if mops is None else mops
        records.append(Record(process, kind, "txn", value, index=i, line=i + 1))
    return pair(records)


def serial_history(*txns: tuple[Any, ...]) -> History:
    """Transactions one after another, each ``(process, mops)`` or ``(process, mops,
    status)``."""
    events: list[Event] = []
    for spec in txns:
        status = spec[2] if len(spec) > 2 else "ok"
        events.append(("invoke", spec[0], spec[1]))
        events.append((status, spec[0], spec[1] if status == "ok" else None))
    return history_of(events)


def records_of(history: History) -> list[Record]:
    """The records of a paired history, in index order (invocations and completions)."""
    out: list[Record] = []
    for op in history.operations:
        out.append(Record(op.process, "invoke", op.f, op.input, index=op.call))
        if op.ret is not None:
            value = op.output if op.status == "ok" else op.input
            out.append(Record(op.process, op.status, op.f, value, index=op.ret))
    return sorted(out, key=lambda r: r.index)


def from_records(records: Sequence[Record]) -> History:
    """Records (in list order) renumbered 0, 1, ... and paired."""
    return pair([Record(r.process, r.type, r.f, r.value, index=i, line=i + 1)
                 for i, r in enumerate(records)])


def to_jsonl(history: History) -> str:
    """The history as JSON lines, one record per line."""
    lines = []
    for r in records_of(history):
        lines.append(json.dumps({"process": r.process, "type": r.type, "f": r.f,
                                 "value": r.value, "index": r.index}))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The shape of a history: transactions, processes, timing


@dataclass
class _Txn:
    """A transaction being generated: its micro-operations (reads filled in as it runs),
    process, progress, outcome, and the store's per-transaction state (snapshot, start
    time, buffered writes)."""

    mops: list[list[Any]]
    process: int = -1
    step: int = 0
    status: str = "ok"
    aborts: bool = False
    info: bool = False
    snapshot: dict[Hashable, Any] = field(default_factory=dict)
    start: int = 0
    buffer: dict[Hashable, Any] = field(default_factory=dict)


def _templates(rnd: Random, workload: str) -> list[_Txn]:
    keys = KEYS[:rnd.randint(1, 3)]
    counter = iter(range(1, 1000))
    repeat = workload == "rw-register" and rnd.random() < 0.6
    out = []
    for _ in range(rnd.randint(1, 6)):
        mops = []
        for _ in range(rnd.randint(1, 4)):
            k = rnd.choice(keys)
            if rnd.random() < 0.5:
                mops.append(["r", k, None])
            elif workload == "list-append":
                mops.append(["append", k, next(counter)])
            else:
                mops.append(["w", k, rnd.randint(1, 3) if repeat else next(counter)])
        out.append(_Txn(mops))
    return out


def _schedule(rnd: Random, txns: list[_Txn], run: Callable[[_Txn, str], None]) -> History:
    """Run ``txns`` on 2-4 processes, one step at a time; ``run(txn, event)`` executes
    ``"begin"``, each micro-operation (``"mop"``), and ``"end"`` (which sets the
    status). Completions may turn into info; info retires the process."""
    processes = list(range(rnd.randint(2, 4)))
    fresh = len(processes)
    concurrent = rnd.random() < 0.7
    waiting = list(txns)
    active: list[_Txn] = []
    events: list[Event] = []
    while waiting or active:
        can_start = waiting and processes and (concurrent or not active)
        if can_start and (not active or rnd.random() < 0.4):
            t = waiting.pop(0)
            t.process = processes.pop(rnd.randrange(len(processes)))
            run(t, "begin")
            events.append(("invoke", t.process, [list(m) for m in t.mops]))
            active.append(t)
        else:
            t = rnd.choice(active)
            if t.step < len(t.mops):
                run(t, "mop")
                t.step += 1
            else:
                run(t, "end")
                active.remove(t)
                t.info = rnd.random() < 0.15
                if t.info:
                    events.append(("info", t.process, None))
                    processes.append(fresh)
                    fresh += 1
                else:
                    events.append((t.status, t.process,
                                   t.mops if t.status == "ok" else None))
                    processes.append(t.process)
    return history_of(events)


# ---------------------------------------------------------------------------------------
# Simulated executions


class _Store:
    """Committed state of every key (rw-register: a value; list-append: a list), the
    time each key was last committed, and the isolation level's rules."""

    def __init__(self, rnd: Random, workload: str, isolation: str) -> None:
        self.rnd = rnd
        self.appending = workload == "list-append"
        self.isolation = isolation
        self.state: dict[Hashable, Any] = {}
        self.committed_at: dict[Hashable, int] = {}
        self.clock = 0

    def _get(self, view: dict[Hashable, Any], k: Hashable) -> Any:
        v = view.get(k)
        return list(v) if self.appending and v is not None else v

    def _put(self, view: dict[Hashable, Any], k: Hashable, v: Any) -> None:
        if self.appending:
            view[k] = [*(view.get(k) or []), v]
        else:
            view[k] = v

    def _visible(self, view: dict[Hashable, Any], k: Hashable) -> Any:
        value = self._get(view, k)
        return [] if value is None and self.appending else value

    def _read(self, t: _Txn, k: Hashable, base: dict[Hashable, Any]) -> Any:
        return self._get(t.buffer, k) if k in t.buffer else self._visible(base, k)

    def run(self, t: _Txn, event: str) -> None:
        self.clock += 1
        iso = self.isolation
        if event == "begin":
            t.aborts = self.rnd.random() < 0.15
            t.snapshot = {k: self._get(self.state, k) for k in self.state}
            t.start = self.clock
        elif event == "mop" and iso == "serial":
            if t.step == 0:
                self._atomically(t)
        elif event == "mop":
            m = t.mops[t.step]
            f, k = m[0], m[1]
            if iso == "none":
                if f == "r":
                    m[2] = self._visible(self.state, k)
                else:
                    self._put(self.state, k, m[2])
            elif f == "r":
                m[2] = self._read(t, k, t.snapshot if iso == "snapshot" else self.state)
            else:
                if k not in t.buffer and self.appending:
                    base = t.snapshot if iso == "snapshot" else self.state
                    t.buffer[k] = self._visible(base, k)
                self._put(t.buffer, k, m[2])
        elif event == "end":
            self._end(t)

    def _atomically(self, t: _Txn) -> None:
        if t.aborts:
            return
        for m in t.mops:
            if m[0] == "r":
                m[2] = self._visible(self.state, m[1])
            else:
                self._put(self.state, m[1], m[2])

    def _end(self, t: _Txn) -> None:
        iso = self.isolation
        if iso == "snapshot" and any(self.committed_at.get(k, -1) > t.start for k in t.buffer):
            t.aborts = True  # first committer wins
        t.status = "fail" if t.aborts else "ok"
        if t.aborts or iso in ("serial", "none"):
            return
        for m in t.mops:
            if m[0] != "r":
                self._put(self.state, m[1], m[2])
                self.committed_at[m[1]] = self.clock


def simulated(rnd: Random, workload: str, isolation: str | None = None) -> History:
    """A history of a tiny store run under ``isolation`` (random when None)."""
    iso = isolation or rnd.choice(ISOLATIONS)
    store = _Store(rnd, workload, iso)
    return _schedule(rnd, _templates(rnd, workload), store.run)


def random_history(rnd: Random, workload: str) -> History:
    """A history whose reads return arbitrary values of the right shape."""
    txns = _templates(rnd, workload)
    written: dict[Hashable, list[Any]] = {}
    for t in txns:
        for f, k, v in t.mops:
            if f != "r":
                written.setdefault(k, []).append(v)

    def run(t: _Txn, event: str) -> None:
        if event == "mop":
            m = t.mops[t.step]
            if m[0] == "r":
                m[2] = _arbitrary_read(rnd, workload, written.get(m[1], []))
        elif event == "end":
            t.status = "fail" if rnd.random() < 0.15 else "ok"

    return _schedule(rnd, txns, run)


def _arbitrary_read(rnd: Random, workload: str, written: list[Any]) -> Any:
    if workload == "rw-register":
        return rnd.choice([None, NOBODY, *written, *written])
    elements = list(written)
    if rnd.random() < 0.3:
        rnd.shuffle(elements)
    out = elements[:rnd.randint(0, len(elements))]
    roll = rnd.random()
    if roll < 0.08:
        out.insert(rnd.randint(0, len(out)), NOBODY)
    elif roll < 0.16 and out:
        out.insert(rnd.randint(0, len(out)), rnd.choice(out))
    return out
