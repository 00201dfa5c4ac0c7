"""Serializability and snapshot isolation decided by z3, for read-write registers whose
write order cannot be recovered (values need not be unique).

A read of key ``x`` returning ``v`` may have read from any committed transaction whose
last write to ``x`` was ``v`` (or from the initial state, when ``v`` is nil). Which one,
and in what order the writes were installed, is what the history leaves open. Each
transaction ``T`` gets a start point ``s_T`` and a commit point ``c_T`` (the same point
for serializability); a read is explained when some candidate writer committed before
``s_T`` and no other writer of ``x`` committed between the two. Snapshot isolation adds
first-committer-wins (two committed writers of one key never overlap); strict
serializability adds real time (a transaction that completed before another was
invoked commits first).

Steps, each kept apart:

1. *Candidates.* Per external read, the transactions that could have been read.
   A read with no candidate at all is a plain anomaly (an aborted read, an
   intermediate read, or a value nobody wrote) found without a solver.
2. *Pruning.* Edges the history forces (real time when strict; reads with a single
   candidate) are closed under reachability; a candidate the reader reaches cannot
   have been read, and is dropped. Reads left with one candidate force new edges.
3. *Components.* Transactions that share no key (and, when strict, no real-time
   order) never constrain each other: each connected component is solved alone.
4. *Solving.* Each component's constraints go to z3, every read's constraint and
   every forced edge tracked by a label. ``sat``: the model's commit points give the
   serial order (the witness). ``unsat``: the unsat core names the reads and edges
   that cannot all hold; the strongest relaxations that still fail classify the
   anomaly: ``G1c`` when even without anti-dependencies no order explains the reads,
   ``G-single`` when snapshot isolation is impossible, ``G2-item`` when only
   serializability is, and the ``-realtime`` variant when only real time breaks it.
   ``unknown`` (the time limit): the verdict is "unknown", never a guess.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Final, Literal

import networkx as nx

from replicheck.histories.checkers.elle.txn import (
    READ,
    RW_REGISTER,
    WRITE,
    Txn,
    transactions,
)
from replicheck.histories.history import History
from replicheck.histories.verdict import Anomaly, Stats, Verdict

Level = Literal["read-committed-order", "snapshot-isolation", "serializable"]

CHECKABLE: Final = ("serializable", "strict-serializable", "snapshot-isolation")
"""The consistency models this checker decides."""

INITIAL: Final = -1
"""The pseudo-writer of the initial (nil) state."""


@dataclass(frozen=True)
class Read:
    """One external read: transaction ``txn`` read ``value`` from ``key``; it may have
    read from any of ``candidates`` (transaction indexes, ``INITIAL`` for the
    initial state)."""

    txn: int
    key: Hashable
    value: Any
    candidates: tuple[int, ...]


@dataclass
class Problem:
    """What the solver is asked, before solving: the committed (or possibly
    committed) transactions, their reads with candidates, the writers of each key,
    and the edges the history forces (``(a, b, why)``: ``a`` commits before ``b``
    starts)."""

    txns: tuple[Txn, ...]
    reads: list[Read] = field(default_factory=list)
    writers: dict[Hashable, list[int]] = field(default_factory=dict)
    writes: dict[int, dict[Hashable, Any]] = field(default_factory=dict)
    edges: list[tuple[int, int, str]] = field(default_factory=list)


def _internal(txn: Txn) -> tuple[dict[Hashable, Any], dict[Hashable, Any], list[str]]:
    """External reads, final writes, and internal inconsistencies of a transaction."""
    external: dict[Hashable, Any] = {}
    current: dict[Hashable, Any] = {}
    writes: dict[Hashable, Any] = {}
    problems: list[str] = []
    for f, k, v in txn.mops:
        if f == WRITE:
            current[k] = v
            writes[k] = v
        elif f == READ and txn.ok:
            if k in current:
                if current[k] != v:
                    problems.append(f"read {v!r} from {k!r} after itself writing or "
                                    f"reading {current[k]!r}")
            else:
                external[k] = v
                current[k] = v
    return external, writes, problems


def _describe(txn: Txn) -> str:
    mops = " ".join(f"{f}({k!r}, {v!r})" for f, k, v in txn.mops)
    return f"T{txn.op} [{mops}]"


def build(history: History, *, strict: bool) -> tuple[Problem, list[Anomaly]]:
    """Candidates and forced edges of ``history``; plus the anomalies found without a
    solver (internal inconsistencies, reads no committed write explains)."""
    all_txns = transactions(history, RW_REGISTER)
    anomalies: list[Anomaly] = []
    live = tuple(t for t in all_txns if not t.failed)
    problem = Problem(live)
    externals: dict[int, dict[Hashable, Any]] = {}
    intermediate: dict[tuple[Hashable, Any], int] = {}
    aborted: dict[tuple[Hashable, Any], int] = {}
    for t in all_txns:
        external, writes, problems = _internal(t)
        if t.failed:
            for k, v in writes.items():
                aborted.setdefault((k, v), t.op)
            continue
        for p in problems:
            anomalies.append(Anomaly("internal", (t.op,), f"{_describe(t)} {p}"))
        externals[t.tid] = external
        problem.writes[t.tid] = writes
        for k in writes:
            problem.writers.setdefault(k, []).append(t.tid)
        seen: dict[Hashable, Any] = {}
        for f, k, v in t.mops:
            if f == WRITE:
                if k in seen:
                    intermediate.setdefault((k, seen[k]), t.op)
                seen[k] = v
    for t in live:
        for k, v in externals.get(t.tid, {}).items():
            candidates = [w for w in problem.writers.get(k, ())
                          if w != t.tid and problem.writes[w][k] == v]
            if v is None:
                candidates.append(INITIAL)
            if not candidates:
                if (k, v) in aborted:
                    kind, why = "G1a", f"the value {v!r} of {k!r} was written only by the " \
                        f"aborted T{aborted[(k, v)]}"
                    ops: tuple[int, ...] = (t.op, aborted[(k, v)])
                elif (k, v) in intermediate:
                    kind, why = "G1b", f"the value {v!r} of {k!r} is an intermediate write " \
                        f"of T{intermediate[(k, v)]}"
                    ops = (t.op, intermediate[(k, v)])
                else:
                    kind, why, ops = "G1a", f"no transaction wrote {v!r} to {k!r}", (t.op,)
                anomalies.append(Anomaly(kind, ops, f"{_describe(t)} read {v!r} from "
                                         f"{k!r}, but {why}"))
                continue
            problem.reads.append(Read(t.tid, k, v, tuple(candidates)))
    if strict:
        problem.edges.extend(_realtime_edges(live))
    return problem, anomalies


def _realtime_edges(txns: Sequence[Txn]) -> list[tuple[int, int, str]]:
    """Every real-time order between completed transactions: ``a`` completed before
    ``b`` was invoked. Quadratic, which suits the history sizes a solver handles."""
    done = [t for t in txns if t.ret is not None]
    return [(a.tid, b.tid, "realtime") for a in done for b in txns
            if a.tid != b.tid and a.ret < b.call]  # type: ignore[operator]


def prune(problem: Problem) -> None:
    """Drop candidates that forced edges already rule out, until nothing changes."""
    while True:
        graph: nx.DiGraph[int] = nx.DiGraph()
        graph.add_nodes_from(t.tid for t in problem.txns)
        graph.add_edges_from((a, b) for a, b, _ in problem.edges)
        for r in problem.reads:
            if len(r.candidates) == 1 and r.candidates[0] != INITIAL:
                graph.add_edge(r.candidates[0], r.txn)
        changed = False
        kept: list[Read] = []
        for r in problem.reads:
            reach = nx.descendants(graph, r.txn) if len(r.candidates) > 1 else set()
            candidates = tuple(c for c in r.candidates if c == INITIAL or c not in reach)
            if candidates != r.candidates and candidates:
                changed = True
                r = Read(r.txn, r.key, r.value, candidates)
            kept.append(r)
        problem.reads = kept
        if not changed:
            return


def components(problem: Problem) -> list[list[int]]:
    """Groups of transactions that constrain each other (sharing a key, or ordered by
    a forced edge); different groups can be solved apart."""
    graph: nx.Graph[int] = nx.Graph()
    graph.add_nodes_from(t.tid for t in problem.txns)
    for members in problem.writers.values():
        graph.add_edges_from(pairwise(members))
    for r in problem.reads:
        for c in r.candidates:
            if c != INITIAL:
                graph.add_edge(r.txn, c)
        if problem.writers.get(r.key):
            graph.add_edge(r.txn, problem.writers[r.key][0])
    graph.add_edges_from((a, b) for a, b, _ in problem.edges)
    return [sorted(c) for c in nx.connected_components(graph)]


@dataclass(frozen=True)
class Solved:
    """One component's answer: ``status`` is sat / unsat / unknown; ``order`` the
    commit order when sat; ``core`` the labels of the unsat core when unsat."""

    status: str
    order: tuple[int, ...] = ()
    core: tuple[str, ...] = ()


def solve(problem: Problem, members: Iterable[int], level: Level, *,
          realtime: bool, timeout: float | None) -> Solved:
    """Is there an execution of the component ``members`` at ``level``?

    ``read-committed-order``: every read's writer commits before the reader (no
    anti-dependencies considered); ``snapshot-isolation``: reads see the last commit
    before the reader's start, and overlapping writers of one key never both commit;
    ``serializable``: start and commit coincide."""
    import z3

    inside = set(members)
    txns = {t.tid: t for t in problem.txns if t.tid in inside}
    solver = z3.Solver()
    solver.set("unsat_core", True)
    if timeout is not None:
        solver.set("timeout", max(1, int(timeout * 1000)))
    commit = {i: z3.Int(f"c{i}") for i in txns}
    start = commit if level == "serializable" else {i: z3.Int(f"s{i}") for i in txns}
    alive = {i: (z3.BoolVal(True) if t.ok else z3.Bool(f"k{i}")) for i, t in txns.items()}
    if level != "serializable":
        for i in txns:
            solver.add(start[i] < commit[i])
    points = list(commit.values()) + ([] if level == "serializable" else list(start.values()))
    if len(points) > 1:
        solver.add(z3.Distinct(*points))
    if realtime:
        for a, b, why in problem.edges:
            if a in inside and b in inside:
                solver.assert_and_track(
                    z3.Implies(z3.And(alive[a], alive[b]), commit[a] < start[b]),
                    f"edge:{a}:{b}:{why}")
    for n, r in enumerate(problem.reads):
        if r.txn not in inside:
            continue
        others = [w for w in problem.writers.get(r.key, ()) if w != r.txn and w in inside]
        options = []
        for c in r.candidates:
            if c == INITIAL:
                if level == "read-committed-order":  # no anti-dependency considered
                    options.append(z3.BoolVal(True))
                    continue
                options.append(z3.And(*[
                    z3.Not(z3.And(alive[o], commit[o] < start[r.txn])) for o in others
                ]))
                continue
            seen = z3.And(alive[c], commit[c] < start[r.txn])
            if level == "read-committed-order":
                options.append(seen)
                continue
            latest = [z3.Not(z3.And(alive[o], commit[c] < commit[o], commit[o] < start[r.txn]))
                      for o in others if o != c]
            options.append(z3.And(seen, *latest))
        solver.assert_and_track(z3.Or(*options) if options else z3.BoolVal(False), f"read:{n}")
    if level == "snapshot-isolation":
        for key, members_ in problem.writers.items():
            ws = [w for w in members_ if w in inside]
            for x, a in enumerate(ws):
                for b in ws[x + 1:]:
                    solver.assert_and_track(
                        z3.Or(z3.Not(alive[a]), z3.Not(alive[b]),
                              commit[a] < start[b], commit[b] < start[a]),
                        f"ww:{a}:{b}:{key!r}")
    answer = solver.check()
    if answer == z3.sat:
        model = solver.model()
        committed = [i for i in txns if z3.is_true(model.eval(alive[i], model_completion=True))]
        order = sorted(committed,
                       key=lambda i: model.eval(commit[i], model_completion=True).as_long())
        return Solved("sat", tuple(order))
    if answer == z3.unsat:
        return Solved("unsat", core=tuple(sorted(str(c) for c in solver.unsat_core())))
    return Solved("unknown")


def _explain_core(problem: Problem, core: Sequence[str]) -> tuple[tuple[int, ...], list[str]]:
    by_index = {t.tid: t for t in problem.txns}
    involved: list[int] = []
    lines: list[str] = []

    def note(i: int) -> None:
        op = by_index[i].op
        if op not in involved:
            involved.append(op)

    for label in core:
        kind, _, rest = label.partition(":")
        if kind == "read":
            r = problem.reads[int(rest)]
            note(r.txn)
            names = ", ".join("the initial state" if c == INITIAL else f"T{by_index[c].op}"
                              for c in r.candidates)
            for c in r.candidates:
                if c != INITIAL:
                    note(c)
            lines.append(f"T{by_index[r.txn].op} read {r.value!r} from {r.key!r}, "
                         f"which only {names} could have written")
        elif kind == "edge":
            a, b, why = rest.split(":", 2)
            note(int(a))
            note(int(b))
            lines.append(f"T{by_index[int(a)].op} completed before T{by_index[int(b)].op} "
                         f"began ({why})")
        elif kind == "ww":
            a, b, key = rest.split(":", 2)
            note(int(a))
            note(int(b))
            lines.append(f"T{by_index[int(a)].op} and T{by_index[int(b)].op} both wrote "
                         f"{key} and cannot overlap")
    return tuple(involved), lines


_LEVELS_BY_MODEL: Final[dict[str, tuple[Level, bool]]] = {
    "serializable": ("serializable", False),
    "strict-serializable": ("serializable", True),
    "snapshot-isolation": ("snapshot-isolation", False),
}


def _classify(problem: Problem, members: list[int], level: Level, realtime: bool,
              timeout: float | None) -> str:
    """The anomaly type of a component that fails ``level``: the weakest relaxation
    that still fails names it."""
    def fails(lvl: Level, rt: bool) -> bool:
        return solve(problem, members, lvl, realtime=rt, timeout=timeout).status == "unsat"

    suffix = ""
    if realtime and not fails(level, False):
        suffix = "-realtime"
        if fails("read-committed-order", True):
            return "G1c-realtime"
        return "G2-realtime"
    if fails("read-committed-order", False):
        return "G1c" + suffix
    if level == "snapshot-isolation" or fails("snapshot-isolation", False):
        return "G-single"
    return "G2-item"


def check_smt(history: History, *, consistency: Sequence[str] = ("serializable",),
              timeout: float | None = None) -> Verdict:
    """Decide whether a read-write-register history is allowed by each model in
    ``consistency`` (any of ``serializable``, ``strict-serializable``,
    ``snapshot-isolation``), with z3 where the write order is open.

    Valid only when every requested model allows the history; the witness is a
    commit order of the committed transactions (a serial order under
    serializability). Invalid with anomalies naming the transactions of the unsat
    core; "unknown" when the solver reached ``timeout`` seconds first."""
    from replicheck.models.lattice import ruled_out, still_possible

    unknown_models = sorted(set(consistency) - set(CHECKABLE))
    if unknown_models:
        raise ValueError(f"the SMT checker decides {', '.join(CHECKABLE)}; "
                         f"not {unknown_models}")
    started = time.perf_counter()
    deadline = None if timeout is None else started + timeout
    strict = "strict-serializable" in consistency
    problem, anomalies = build(history, strict=strict)
    prune(problem)
    groups = components(problem)
    witness: list[int] | None = None
    undecided = False
    for model in consistency:
        level, realtime = _LEVELS_BY_MODEL[model]
        order: list[int] = []
        for members in groups:
            left = None if deadline is None else max(0.001, deadline - time.perf_counter())
            answer = solve(problem, members, level, realtime=realtime, timeout=left)
            if answer.status == "sat":
                order.extend(answer.order)
            elif answer.status == "unsat":
                kind = _classify(problem, members, level, realtime, left)
                ops, lines = _explain_core(problem, answer.core)
                anomalies.append(Anomaly(
                    kind, ops,
                    f"No {model} execution explains these transactions: "
                    + "; ".join(lines) + ".",
                    {"core": list(answer.core), "model": model}))
            else:
                undecided = True
        if witness is None:
            witness = order
    by_index = {t.tid: t.op for t in problem.txns}
    found = {a.type for a in anomalies}
    forbidden = ruled_out(found)
    invalid = any(m in forbidden for m in consistency)
    valid: bool | str = False if invalid else ("unknown" if undecided else True)
    return Verdict(
        valid=valid,  # type: ignore[arg-type]
        model="rw-register",
        consistency=tuple(consistency),
        anomalies=tuple(anomalies),
        ruled_out=forbidden,
        still_possible=still_possible(found),
        witness=tuple(by_index[i] for i in witness or ()) if valid is True else None,
        counterexample=[a.to_json() for a in anomalies] or None,
        stats=Stats(operations=len(history), seconds=time.perf_counter() - started),
    )
