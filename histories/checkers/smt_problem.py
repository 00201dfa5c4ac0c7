"""The problem the SMT checker of read-write-register histories decides: each external
read with the writers that could explain it, the writers of each key, the process and
real-time orders, the findings no solver is needed for (``internal``, ``garbage-read``,
``future-read``, ``G1a``/``G1b``), and the components of transactions that constrain
each other. The encodings that use it are in ``smt_encoding`` and ``smt_polygraph``."""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Final, Literal

from replicheck.histories.checkers.elle.graph import realtime_reduction
from replicheck.histories.checkers.elle.txn import (
    READ,
    RW_REGISTER,
    WRITE,
    Txn,
    transactions,
)
from replicheck.histories.history import History
from replicheck.histories.verdict import Anomaly
from replicheck.models import lattice
from replicheck.models.equality import value_key

Graph = Literal["wr", "serial", "si"]

INITIAL: Final = -1
"""The pseudo-writer of the initial (nil) state."""

CHECKABLE: Final = lattice.TRANSACTIONAL
"""The consistency models this checker decides: the eight transactional models."""


class LimitReached(Exception):
    """The time or memory limit was reached; ``reason`` names which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Level:
    """One encoding: the dependency ``graph`` that must be acyclic, whether a read may
    see its own transaction's later write (``self_reads``), and the extra order used
    (``None``, ``"process"`` or ``"realtime"``)."""

    graph: Graph
    self_reads: bool
    extra: str | None = None


LEVELS: Final[dict[str, Level]] = {
    "read-committed": Level("wr", True),
    "read-atomic": Level("wr", False),
    "repeatable-read": Level("serial", True),
    "serializable": Level("serial", False),
    "strong-session-serializable": Level("serial", False, "process"),
    "strict-serializable": Level("serial", False, "realtime"),
    "snapshot-isolation": Level("si", False),
}
"""The solver encoding of each model but read-uncommitted (decided without one)."""


@dataclass(frozen=True)
class Read:
    """One external read of a committed transaction: ``txn`` read ``value`` from
    ``key``. ``installed``: the possibly-committed transactions whose installed (last)
    write of the key is the value, ``INITIAL`` for a nil read; ``own``: the reader
    itself writes the value later (a future read, allowed by read-committed and
    repeatable-read); ``dirty``: some other write explains it only as an aborted or
    intermediate version (enough for read-uncommitted)."""

    txn: int
    key: Hashable
    value: Any
    installed: tuple[int, ...]
    own: bool
    dirty: tuple[tuple[str, int], ...]
    shown: Hashable = None


@dataclass
class Problem:
    """What the solver is asked: the transactions that may have committed (``live``,
    by index), the reads, the writers of each key (by ``value_key`` of the key), the
    process and real-time orders, and the findings made without a solver."""

    txns: tuple[Txn, ...]
    live: list[int] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    writers: dict[Hashable, list[int]] = field(default_factory=dict)
    process: list[tuple[int, int]] = field(default_factory=list)
    realtime: list[tuple[int, int]] = field(default_factory=list)
    findings: list[Anomaly] = field(default_factory=list)
    internal: bool = False
    unexplained: bool = False


def _describe(txn: Txn) -> str:
    mops = " ".join(f"{f}({k!r}, {v!r})" for f, k, v in txn.mops)
    return f"T{txn.op} [{mops}]"


def _scan(txn: Txn) -> tuple[list[tuple[Hashable, Hashable, Any]], dict[Hashable, Any],
                             dict[Hashable, list[Any]], str | None]:
    """A transaction's reads of versions ``(value_key(key), key, value)`` (every read
    but one returning the transaction's own last write of the key, which it
    determines), installed writes and all writes (by value_key of key and value), and
    its first internal inconsistency (a read that differs from its own last read or
    write of the key)."""
    reads: list[tuple[Hashable, Hashable, Any]] = []
    current: dict[Hashable, Any] = {}
    last: dict[Hashable, Any] = {}
    every: dict[Hashable, list[Any]] = {}
    problem: str | None = None
    for f, k, v in txn.mops:
        kk = value_key(k)
        vk = value_key(v)
        if f == WRITE:
            current[kk] = (v, vk)
            last[kk] = vk
            every.setdefault(kk, []).append(vk)
        elif f == READ and txn.ok:
            if kk in current and problem is None and current[kk][1] != vk:
                problem = (f"read {v!r} from {k!r} after itself writing or reading "
                           f"{current[kk][0]!r}")
            if last.get(kk, _NOTHING) != vk:
                reads.append((kk, k, v))
            current[kk] = (v, vk)
    return reads, last, every, problem


_NOTHING: Final = object()


def _process_pairs(txns: Sequence[Txn], live: Sequence[int]) -> list[tuple[int, int]]:
    """Process order among ``live``: each completed (ok) transaction before the next
    completed one of its process and before every later indeterminate one (an
    indeterminate transaction never completed, so it ends its process)."""
    by_process: dict[Hashable, list[int]] = {}
    for i in live:
        by_process.setdefault(value_key(txns[i].process), []).append(i)
    out: list[tuple[int, int]] = []
    for members in by_process.values():
        members.sort(key=lambda i: txns[i].call)
        last_ok = -1
        oks: list[int] = []
        for i in members:
            t = txns[i]
            if t.ok:
                if last_ok >= 0 and txns[last_ok].ret < t.call:  # type: ignore[operator]
                    out.append((last_ok, i))
                last_ok = i
                oks.append(i)
            else:
                out.extend((j, i) for j in oks
                           if txns[j].ret < t.call)  # type: ignore[operator]
    return out


def build(history: History, *, deadline: float | None = None) -> Problem:
    """The reads with their candidate writers, the orders, and the findings no solver
    is needed for: ``internal``; ``garbage-read`` (a value no write produced: no
    interpretation explains it); ``G1a``/``G1b`` (a read only an aborted or an
    intermediate write explains)."""
    txns = transactions(history, RW_REGISTER)
    problem = Problem(txns)
    installed: dict[tuple[Hashable, Hashable], list[int]] = {}
    dirty: dict[tuple[Hashable, Hashable], list[tuple[str, int]]] = {}
    externals: list[tuple[int, list[tuple[Hashable, Hashable, Any]]]] = []
    own: list[dict[Hashable, list[Any]]] = []
    for t in txns:
        if not t.tid & 0x3FF:
            _check_time(deadline)
        version_reads, last, every, inconsistent = _scan(t)
        own.append(every)
        if not t.failed:
            problem.live.append(t.tid)
            for kk, vk in last.items():
                installed.setdefault((kk, vk), []).append(t.tid)
                problem.writers.setdefault(kk, []).append(t.tid)
        for kk, vks in every.items():
            for n, vk in enumerate(vks):
                final = n == len(vks) - 1 or vk == last[kk]
                if t.failed:
                    dirty.setdefault((kk, vk), []).append(("aborted", t.tid))
                elif not final:
                    dirty.setdefault((kk, vk), []).append(("intermediate", t.tid))
        if inconsistent is not None:
            problem.internal = True
            problem.findings.append(Anomaly("internal", (t.op,),
                                            f"{_describe(t)} {inconsistent}"))
        if t.ok:
            externals.append((t.tid, version_reads))
    for ti, version_reads in externals:
        _check_time(deadline)
        for kk, k, v in version_reads:
            vk = value_key(v)
            writers = [w for w in installed.get((kk, vk), ()) if w != ti]
            if v is None:
                writers.append(INITIAL)
            mine = vk in own[ti].get(kk, ())
            others = tuple((why, w) for why, w in dirty.get((kk, vk), ()) if w != ti)
            read = Read(ti, kk, v, tuple(writers), mine, others, k)
            problem.reads.append(read)
            _explain(problem, read, k)
    problem.process = _process_pairs(txns, problem.live)
    problem.realtime = realtime_reduction(txns, problem.live)
    return problem


def _explain(problem: Problem, read: Read, key: Hashable) -> None:
    """The findings of one read that no interpretation can avoid."""
    t = problem.txns[read.txn]
    if read.installed:
        return
    if not read.own and not read.dirty:
        problem.unexplained = True
        problem.findings.append(Anomaly(
            "garbage-read", (t.op,),
            f"{_describe(t)} read {read.value!r} from {key!r}, but no transaction wrote "
            f"{read.value!r} to {key!r}: no interpretation explains this read"))
        return
    if read.own:
        problem.findings.append(Anomaly(
            "future-read", (t.op,),
            f"{_describe(t)} read {read.value!r} from {key!r}, which only its own later "
            "write explains"))
        if not read.dirty:
            return
    if read.dirty:
        why, w = read.dirty[0]
        kind = "G1a" if why == "aborted" else "G1b"
        problem.findings.append(Anomaly(
            kind, (t.op, problem.txns[w].op),
            f"{_describe(t)} read {read.value!r} from {key!r}, which only the {why} "
            f"write of T{problem.txns[w].op} wrote"))


def _check_time(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise LimitReached("time limit")


class _Groups:
    """Union-find over transaction indexes."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent.get(x, x)
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def components(problem: Problem, extra: str | None) -> list[list[int]]:
    """Groups of live transactions that constrain each other (writers of one key, a
    read and the writers of its key, and the ``extra`` order's pairs); every model
    holds of the history iff it holds of each group."""
    groups = _Groups()
    for members in problem.writers.values():
        for a, b in pairwise(members):
            groups.union(a, b)
    for r in problem.reads:
        writers = problem.writers.get(r.key)
        if writers:
            groups.union(r.txn, writers[0])
    pairs = (problem.process if extra == "process" else
             problem.realtime if extra == "realtime" else [])
    for a, b in pairs:
        groups.union(a, b)
    out: dict[int, list[int]] = {}
    for i in problem.live:
        out.setdefault(groups.find(i), []).append(i)
    return sorted(out.values(), key=lambda c: c[0])
