"""Judging list-append and rw-register histories: inference, cycle search, a Verdict.

The steps, each in its own module: read the transactions (``txn``), infer version
orders, non-cycle anomalies and data edges (``list_append`` / ``rw_register``), find
the strongly connected components of the whole dependency graph and search each for
cycles (``graph``, ``anomalies``), explain (``explain``), and judge against the
consistency models asked for (here).

Validity. Every anomaly found is reported, whether or not the models asked for forbid
it (as Elle does): they all rule models out (``ruled_out``, ``still_possible``). The
verdict is ``False`` exactly when one of them is forbidden by one of the models asked
for (``lattice.forbidden_by``); ``"unknown"`` when the time limit came first (the
anomalies found until then are kept) or when a serial model (serializable and above)
was asked for, nothing forbidden was found, and yet no serial order could be shown
(see below); ``True`` otherwise.

Witness. When valid, the witness is a serial order of the committed transactions (and
of the indeterminate ones seen to commit): a topological order of the dependency graph
over data edges, plus process edges when a model asked for forbids a ``-process``
anomaly, plus real-time edges when one forbids a ``-realtime`` anomaly. It is replayed
through a list (register) model, every read checked, before it is given. When the graph
has a cycle the models allow (write skew under snapshot isolation), or the order does
not replay (an rw-register history whose version order is only partly known), there is
no witness and ``notes`` say why; for a serial model that makes the verdict
``"unknown"``, never ``True`` without a serial order.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from replicheck.histories.checkers.elle import list_append, rw_register
from replicheck.histories.checkers.elle.anomalies import CycleAnomaly, cycles_in_component
from replicheck.histories.checkers.elle.explain import explain_cycle, explain_finding
from replicheck.histories.checkers.elle.graph import (
    ALL,
    DATA,
    KIND_NAMES,
    PROCESS,
    REALTIME,
    DependencyGraph,
    RawEdge,
    SearchStats,
    SearchTimeout,
    check_deadline,
    strongly_connected,
)
from replicheck.histories.checkers.elle.inference import Finding, Inference
from replicheck.histories.checkers.elle.txn import (
    LIST_APPEND,
    READ,
    RW_REGISTER,
    Txn,
    Workload,
    transactions,
)
from replicheck.histories.history import OK, History
from replicheck.histories.verdict import Anomaly, Stats, Validity, Verdict
from replicheck.models import lattice

DEFAULT_CONSISTENCY: Final = ("strict-serializable",)
"""The models checked when none are named (Elle's default)."""

MAX_PER_TYPE: Final = 100
"""At most this many anomalies of one type are listed (the rest are counted in the
notes)."""

_CYCLES: Final = ("G0", "G1c", "G-single", "G-nonadjacent", "G2-item", "G2")
_ORDER: Final = (
    "G0", "G1a", "G1b", "G1c", "G-single", "G-nonadjacent", "G2-item", "G2",
    *(f"{b}-process" for b in _CYCLES),
    *(f"{b}-realtime" for b in _CYCLES),
    "dirty-update", "lost-update", "internal", "future-read", "duplicate-elements",
    "incompatible-order", "cyclic-versions",
)
_RANK: Final = {t: i for i, t in enumerate(_ORDER)}


def list_anomalies(
    found: list[CycleAnomaly | Finding], txns: Sequence[Any],
    render: Callable[[CycleAnomaly | Finding], tuple[Anomaly, dict[str, Any]]],
    forbidden: frozenset[str], *, timed_out: bool, timeout: float | None, notes: list[str],
) -> tuple[list[tuple[Anomaly, dict[str, Any]]], set[str], list[tuple[Anomaly, dict[str, Any]]],
           Validity]:
    """The anomalies found, ranked (the worst classes first, then the shortest) and
    rendered, at most ``MAX_PER_TYPE`` of each type (a note counts the rest); the set
    of types found; those a requested model forbids; and the validity before any
    witness is sought: False with a forbidden one, "unknown" when the search timed
    out, else True."""
    found.sort(key=lambda a: (_RANK.get(a.type, len(_RANK)), len(a.txns),
                              [txns[i].op for i in a.txns]))
    listed: list[tuple[Anomaly, dict[str, Any]]] = []
    counts: dict[str, int] = {}
    for a in found:
        counts[a.type] = counts.get(a.type, 0) + 1
        if counts[a.type] <= MAX_PER_TYPE:
            listed.append(render(a))
    for t, c in counts.items():
        if c > MAX_PER_TYPE:
            notes.append(f"{c} {t} anomalies found; the first {MAX_PER_TYPE} are listed")
    bad = [(a, cx) for a, cx in listed if a.type in forbidden]
    valid: Validity
    if bad:
        valid = False
    elif timed_out:
        valid = "unknown"
        notes.append(f"the time limit ({timeout} s) ran out before the search finished")
    else:
        valid = True
    return listed, set(counts), bad, valid


@dataclass
class Analysis:
    """Everything learnt from one history before judging it: the inference, the
    non-trivial strongly connected components of the whole dependency graph
    (transaction indexes), the cycle anomalies found in them, a topological order of
    the whole graph when it is acyclic, work done, and whether the time limit cut the
    analysis short."""

    inference: Inference
    components: list[list[int]] = field(default_factory=list)
    cycles: list[CycleAnomaly] = field(default_factory=list)
    order: list[int] | None = None
    stats: SearchStats = field(default_factory=SearchStats)
    timed_out: bool = False


def search_cycles(graph: DependencyGraph, deadline: float | None, stats: SearchStats,
                  found: list[CycleAnomaly]) -> tuple[list[list[int]], list[int] | None]:
    """The graph's strongly connected components of more than one transaction, each
    searched for its cycle anomalies (appended to ``found``), and, when there are no
    such components, a topological order of the member transactions. Raises
    ``SearchTimeout`` past ``deadline``; what was found before stays in ``found``."""
    n = len(graph.txns)
    sccs, order = strongly_connected(graph.adjacency(ALL), deadline)
    comps = [c for c in (sorted(v for v in scc if v < n) for scc in sccs) if len(c) > 1]
    comps.sort(key=lambda c: c[0])
    if not comps:
        return comps, [v for v in order if v < n and graph.member[v]]
    which = [-1] * n
    for i, comp in enumerate(comps):
        for v in comp:
            which[v] = i
    inside: list[list[RawEdge]] = [[] for _ in comps]
    for e in graph.edges:
        c = which[e[0]]
        if c >= 0 and c == which[e[1]]:
            inside[c].append(e)
    for comp, edges in zip(comps, inside, strict=True):
        check_deadline(deadline)
        cycles_in_component(graph.component_graph(comp, edges), deadline=deadline,
                            stats=stats, found=found)
    return comps, None


def analyze(txns: Sequence[Txn], workload: Workload, *, deadline: float | None = None
            ) -> Analysis:
    """Infer and search one history's transactions. Past ``deadline`` (a
    ``time.monotonic`` instant) it stops and returns what it found, ``timed_out``
    set."""
    graph = DependencyGraph(txns, workload)
    analysis = Analysis(Inference(workload, graph.txns, graph))
    infer = list_append.infer if workload == LIST_APPEND else rw_register.infer
    try:
        infer(txns, deadline=deadline, out=analysis.inference)
        graph = analysis.inference.graph
        analysis.components, acyclic = search_cycles(graph, deadline, analysis.stats,
                                                     analysis.cycles)
        if acyclic is not None:
            analysis.order = acyclic
    except SearchTimeout:
        analysis.timed_out = True
    return analysis


def check_list_append(history: History, *,
                      consistency: Sequence[str] = DEFAULT_CONSISTENCY,
                      timeout: float | None = None) -> Verdict:
    """Judge a list-append history (``txn`` operations of ``append`` and ``r``) against
    the consistency models named in ``consistency`` (lattice names).

    Valid (True) when no anomaly found is forbidden by those models and, for serial
    models, a serial order replays every read (the witness); False when one is
    forbidden; ``"unknown"`` when ``timeout`` seconds (None or 0: no limit) ran out
    first. Every anomaly found is reported, forbidden or not. Raises ``HistoryError``
    for a malformed history and ``ValueError``/``TypeError`` for unknown model names."""
    return _check(history, LIST_APPEND, consistency, timeout)


def check_rw_register(history: History, *,
                      consistency: Sequence[str] = DEFAULT_CONSISTENCY,
                      timeout: float | None = None) -> Verdict:
    """Judge a read-write register history (``txn`` operations of ``w`` and ``r``, values
    written unique per key) against the consistency models named in ``consistency``.

    Same promises as :func:`check_list_append`, over the part of the version order
    the history shows (initial state first, writes after the reads of their
    transaction): an anomaly that needs another version order is not found, and a
    serial model is judged valid only with a witness that replays."""
    return _check(history, RW_REGISTER, consistency, timeout)


def _check(history: History, workload: Workload, consistency: Sequence[str],
           timeout: float | None) -> Verdict:
    # The checker allocates millions of small acyclic objects (tuples, lists); the
    # cyclic garbage collector would re-scan the whole heap again and again meanwhile
    # (3x the time at 100 000 transactions), so it is paused, and restored after.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _judge(history, workload, consistency, timeout)
    finally:
        if paused:
            gc.enable()


def _judge(history: History, workload: Workload, consistency: Sequence[str],
           timeout: float | None) -> Verdict:
    started = time.perf_counter()
    models = lattice.check_models(consistency)
    forbidden: frozenset[str] = frozenset().union(*(lattice.forbidden_by(m) for m in models))
    serial = any(lattice.implies(m, "serializable") for m in models)
    deadline = time.monotonic() + timeout if timeout else None
    txns = transactions(history, workload)
    analysis = analyze(txns, workload, deadline=deadline)
    inf = analysis.inference
    notes = list(inf.notes)

    def render(a: CycleAnomaly | Finding) -> tuple[Anomaly, dict[str, Any]]:
        if isinstance(a, CycleAnomaly):
            return _cycle_anomaly(a, txns, workload)
        return _finding_anomaly(a, txns, workload)

    listed, types, bad, valid = list_anomalies(
        [*analysis.cycles, *inf.findings], txns, render, forbidden,
        timed_out=analysis.timed_out, timeout=timeout, notes=notes)

    witness: tuple[int, ...] | None = None
    if valid is True:
        order = _serial_order(analysis, forbidden, deadline)
        problem: str | None
        if order is None:
            problem = ("the dependency graph has cycles the models asked for allow, so "
                       "there is no serial order")
        else:
            problem = _replay(txns, order, workload)
        if problem is None and order is not None:
            witness = tuple(txns[i].op for i in order)
        else:
            notes.append(f"no witness: {problem}")
            if serial:
                valid = "unknown"
                if workload == RW_REGISTER:
                    notes.append("the version order of a register is only partly known "
                                 "from the history; deciding the rest needs a search over "
                                 "the possible version orders")
    if valid is not False and workload == RW_REGISTER and not serial:
        notes.append("rw-register: anomalies were looked for in the part of the version "
                     "order the history shows (initial state first, writes after the "
                     "reads of their transaction)")

    counterexample = None
    if bad:
        cycles_first = sorted(bad, key=lambda ac: (ac[1].get("cycle") is None,
                                                  len(ac[0].ops)))
        counterexample = cycles_first[0][1]

    return Verdict(
        valid=valid,
        model=workload,
        consistency=tuple(consistency),
        anomalies=tuple(a for a, _ in listed),
        ruled_out=lattice.ruled_out(types),
        still_possible=lattice.still_possible(types),
        witness=witness,
        counterexample=counterexample,
        stats=Stats(operations=len(history.operations),
                    seconds=time.perf_counter() - started,
                    states=analysis.stats.states),
        notes=tuple(notes),
    )


def _step_json(step: Any, txns: Sequence[Txn]) -> dict[str, Any]:
    return {"from": txns[step.src].op, "to": txns[step.dst].op,
            "kind": KIND_NAMES[step.kind], "key": step.key,
            "from_value": step.value, "to_value": step.value2}


def _cycle_anomaly(cycle: CycleAnomaly, txns: Sequence[Txn], workload: str
                   ) -> tuple[Anomaly, dict[str, Any]]:
    ops = tuple(txns[i].op for i in cycle.txns)
    steps = [_step_json(s, txns) for s in cycle.steps]
    data: dict[str, Any] = {"cycle": steps, "scc_size": cycle.scc_size}
    if cycle.type.startswith("G2"):
        data["rw_adjacent"] = cycle.rw_adjacent
    anomaly = Anomaly(cycle.type, ops, explain_cycle(cycle, txns, workload), data)
    return anomaly, {"type": cycle.type, "ops": list(ops), "cycle": steps}


def _finding_anomaly(finding: Finding, txns: Sequence[Txn], workload: str
                     ) -> tuple[Anomaly, dict[str, Any]]:
    ops = tuple(txns[i].op for i in finding.txns)
    data: dict[str, Any] = {"key": finding.key, **finding.details}
    anomaly = Anomaly(finding.type, ops, explain_finding(finding, txns, workload), data)
    return anomaly, {"type": finding.type, "ops": list(ops), **data}


def _serial_order(analysis: Analysis, forbidden: frozenset[str],
                  deadline: float | None) -> list[int] | None:
    """A topological order of the members over the edge kinds the models need, or
    None when those edges form a cycle."""
    kinds = DATA
    if any(a.endswith("-process") for a in forbidden):
        kinds |= PROCESS
    if any(a.endswith("-realtime") for a in forbidden):
        kinds |= REALTIME
    if analysis.order is not None and kinds == ALL:
        return analysis.order
    graph = analysis.inference.graph
    n = len(graph.txns)
    try:
        sccs, order = strongly_connected(graph.adjacency(kinds), deadline)
    except SearchTimeout:
        return None
    if any(sum(1 for v in c if v < n) > 1 for c in sccs):
        return None
    return [v for v in order if v < n and graph.member[v]]


def _replay(txns: Sequence[Txn], order: Sequence[int], workload: str) -> str | None:
    """Replay ``order`` serially through a list (register) model; the first read that
    differs from the model's state, described, or None when every read matches."""
    state: dict[Any, Any] = {}
    appending = workload == LIST_APPEND
    for i in order:
        t = txns[i]
        ok = t.status == OK
        for f, k, v in t.mops:
            if f == READ:
                if not ok:
                    continue
                cur = state.get(k)
                if appending:
                    if v != (cur or []):
                        return (f"in the serial order found, T{t.op} would read {k!r} = "
                                f"{cur or []!r}, not {v!r}")
                elif v != cur:
                    return (f"in the serial order found, T{t.op} would read {k!r} = "
                            f"{cur!r}, not {v!r}")
            elif appending:
                if k in state:
                    state[k].append(v)
                else:
                    state[k] = [v]
            else:
                state[k] = v
    return None
