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
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final

from replicheck.histories.checkers.elle import list_append, rw_register
from replicheck.histories.checkers.elle.anomalies import CycleAnomaly, cycles_in_component
from replicheck.histories.checkers.elle.explain import explain_cycle, explain_finding
from replicheck.histories.checkers.elle.graph import (
    ALL,
    DATA,
    KIND_NAMES,
    PROCESS,
    DependencyGraph,
    RawEdge,
    SearchStats,
    SearchTimeout,
    check_deadline,
    strongly_connected,
)
from replicheck.histories.checkers.elle.inference import Finding, Inference, KeyLayout
from replicheck.histories.checkers.elle.txn import (
    LIST_APPEND,
    READ,
    RW_REGISTER,
    Txn,
    Workload,
    transactions,
)
from replicheck.histories.checkers.elle.values import by_value
from replicheck.histories.history import FAIL, OK, History
from replicheck.histories.verdict import Anomaly, Stats, Validity, Verdict
from replicheck.models import lattice

if TYPE_CHECKING:
    from replicheck.histories.checkers.smt import Decision

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
    "incompatible-order", "cyclic-versions", "garbage-read",
)
_RANK: Final = {t: i for i, t in enumerate(_ORDER)}


def smallest_counterexample(bad: Sequence[tuple[Anomaly, dict[str, Any]]]) -> dict[str, Any]:
    """The counterexample to show among forbidden anomalies (each with its JSON detail):
    a cycle's before anything else, then the one involving the fewest operations."""
    return min(bad, key=lambda ac: (ac[1].get("cycle") is None, len(ac[0].ops)))[1]


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
    outside = sorted(models - set(lattice.TRANSACTIONAL))
    if outside:
        raise ValueError(f"{workload} histories are judged for the transactional models "
                         f"({', '.join(lattice.TRANSACTIONAL)}); not {outside}")
    forbidden: frozenset[str] = frozenset().union(*(lattice.forbidden_by(m) for m in models))
    deadline = time.monotonic() + timeout if timeout else None
    txns = by_value(transactions(history, workload), workload)
    analysis = analyze(txns, workload, deadline=deadline)
    inf = analysis.inference
    notes = list(inf.notes)

    def render(a: CycleAnomaly | Finding) -> tuple[Anomaly, dict[str, Any]]:
        if isinstance(a, CycleAnomaly):
            return _cycle_anomaly(a, txns, workload)
        return _finding_anomaly(a, txns, workload)

    listed, types, _, _ = list_anomalies(
        [*analysis.cycles, *inf.findings], txns, render, forbidden,
        timed_out=analysis.timed_out, timeout=timeout, notes=notes)
    if workload == RW_REGISTER:
        decision, listed = _decide_registers(history, analysis, txns, listed, deadline,
                                             notes, models)
    else:
        ru_types: set[str] | None = None
        if types & lattice.forbidden_by("read-uncommitted") - _UNEXPLAINED and any(
                t.indeterminate and inf.graph.member[t.tid] for t in txns):
            ru_types, extra = _without_indeterminate(txns, deadline, render, notes)
        decision = _decide_lists(analysis, txns, types, deadline, notes, ru_types)
        listed += [(a, a.to_json()) for a in decision.anomalies]
        if ru_types is not None and "read-uncommitted" in decision.holds:
            listed = [(a, cx) for a, cx in listed
                      if not any(a.type in lattice.forbidden_by(m) for m in decision.holds)]
            shown = {a.type for a, _ in listed}
            listed += [(a, cx) for a, cx in extra if a.type not in shown
                       and not any(a.type in lattice.forbidden_by(m) for m in decision.holds)]
    undecided = decision.open()
    if undecided and decision.reasons:
        reason = ", ".join(dict.fromkeys(decision.reasons))
        notes.append(f"undecided ({reason} reached first): {', '.join(undecided)}")
    elif undecided:  # no limit reached: say so, never blame one
        notes.append(f"undecided (no limit reached: no anomaly forbids them, and no serial "
                     f"order of the inferred graph replays every read): "
                     f"{', '.join(undecided)}")
    valid: Validity
    if any(m in decision.fails for m in models):
        valid = False
    elif all(m in decision.holds for m in models):
        valid = True
    else:
        valid = "unknown"
    witness: tuple[int, ...] | None = None
    serial = any(lattice.implies(m, "serializable") for m in models)
    if valid is True and serial:
        witness = decision.witness
    bad = [(a, cx) for a, cx in listed if a.type in forbidden]
    counterexample = None
    if valid is False and bad:
        counterexample = smallest_counterexample(bad)
    return Verdict(
        valid=valid,
        model=workload,
        consistency=tuple(consistency),
        anomalies=tuple(a for a, _ in listed),
        ruled_out=frozenset(decision.fails),
        still_possible=frozenset(decision.holds),
        witness=witness,
        counterexample=counterexample,
        stats=Stats(operations=len(history.operations),
                    seconds=time.perf_counter() - started,
                    states=analysis.stats.states),
        notes=tuple(notes),
    )


_SERIAL_KINDS: Final = (
    ("strict-serializable", ALL),
    ("strong-session-serializable", DATA | PROCESS),
    ("serializable", DATA),
)
"""The serial models, strongest first, with the edge kinds a serial order for each
must respect."""


def _serial_witness(analysis: Analysis, txns: Sequence[Txn], workload: str,
                    deadline: float | None, decision: Decision, *,
                    notes: list[str] | None = None) -> None:
    """Record in ``decision`` the strongest serial model not already refuted for which
    a topological order of the inferred graph replays every read: an execution, so the
    model (and every model it implies) holds, with that order as the witness."""
    for model, kinds in _SERIAL_KINDS:
        if model in decision.fails or model in decision.holds:
            continue
        order = _serial_order(analysis, kinds, deadline)
        problem = ("the dependency graph has cycles, so there is no serial order"
                   if order is None else _replay(txns, order, workload))
        if problem is None and order is not None:
            decision.mark(model, True)
            decision.witness = tuple(txns[i].op for i in order)
            decision.witness_model = model
            return
        if notes is not None and model == "serializable":
            notes.append(f"no witness: {problem}")


_UNEXPLAINED: Final = frozenset({"duplicate-elements", "incompatible-order", "garbage-read"})
"""Anomalies of reads no interpretation explains (read-uncommitted forbids them
whatever commits)."""


def _without_indeterminate(txns: Sequence[Txn], deadline: float | None,
                           render: Callable[[CycleAnomaly | Finding],
                                            tuple[Anomaly, dict[str, Any]]],
                           notes: list[str]
                           ) -> tuple[set[str], list[tuple[Anomaly, dict[str, Any]]]]:
    """The anomaly types (and anomalies) of the history with every indeterminate
    transaction taken as aborted: the interpretation with the fewest ww edges, so
    read-uncommitted (which forbids G0 only, aborted reads allowed) holds iff it
    shows none of read-uncommitted's anomalies."""
    aborted = [t._replace(status=FAIL) if t.indeterminate else t for t in txns]
    again = analyze(aborted, LIST_APPEND, deadline=deadline)
    found: list[CycleAnomaly | Finding] = [*again.cycles, *again.inference.findings]
    listed, types, _, _ = list_anomalies(found, txns, render, frozenset(),
                                         timed_out=again.timed_out, timeout=None,
                                         notes=[])
    if again.timed_out:
        types.add("G0")  # undecided: keep read-uncommitted refuted as first found
    else:
        notes.append("read-uncommitted judged with the indeterminate transactions "
                     "aborted (their appends then aborted reads)")
    return types, listed


def _decide_lists(analysis: Analysis, txns: Sequence[Txn], types: set[str],
                  deadline: float | None, notes: list[str],
                  ru_types: set[str] | None = None) -> Decision:
    """The eight models for a list-append history, whose version orders the reads
    give: a model fails when an anomaly found is one it forbids; when the search
    finished, a non-serial model holds when none is found, and a serial one when a
    serial order also replays every read (else it stays undecided). ``ru_types``:
    for read-uncommitted, the anomalies with the indeterminate transactions aborted
    (:func:`_without_indeterminate`), when computed."""
    from replicheck.histories.checkers.smt import Decision

    decision = Decision()
    for m in lattice.TRANSACTIONAL:
        seen = ru_types if ru_types is not None and m == "read-uncommitted" else types
        if seen & lattice.forbidden_by(m):
            decision.mark(m, False)
    if analysis.timed_out:
        decision.reasons.append("time limit")
        return decision
    _serial_witness(analysis, txns, LIST_APPEND, deadline, decision, notes=notes)
    relevant = (set() if "snapshot-isolation" in decision.fails | decision.holds
                else _open_orders(analysis.inference, deadline))
    if relevant:
        # Appends nobody read may take any order: snapshot isolation (no cycle without
        # two adjacent rw edges) is decided over all of them, where they can matter.
        si = _snapshot_isolation(analysis.inference, relevant, deadline)
        if si is None:
            decision.reasons.append("time limit")
        elif not si[0]:
            decision.mark("snapshot-isolation", False)
            decision.anomalies.append(Anomaly(
                "G-nonadjacent", tuple(txns[i].op for i in si[1]),
                "Whatever order the appends nobody read took, these transactions form a "
                "cycle without two adjacent read-write anti-dependencies (G-single or "
                "G-nonadjacent): no snapshot-isolation execution explains them."))
    for m in lattice.TRANSACTIONAL:
        if m not in decision.fails and not lattice.implies(m, "serializable") and not (
                m == "snapshot-isolation" and "time limit" in decision.reasons):
            decision.mark(m, True)
    return decision


def _open_orders(inf: Inference, deadline: float | None) -> set[int]:
    """The transactions of the strongly connected components (of the dependency graph
    with the appends nobody read to one key joined both ways) that hold two such
    appends to one key: only there can their order make or break a cycle."""
    succ = inf.graph.adjacency(DATA)
    joined: list[tuple[int, ...]] = [lay.unread for lay in inf.layouts.values()
                                     if len(lay.unread) > 1]
    if not joined:
        return set()
    for unread in joined:
        for a, b in pairwise(unread):
            succ[a].append(b)
            succ[b].append(a)
    try:
        sccs, _ = strongly_connected(succ, deadline)
    except SearchTimeout:
        return set(range(len(succ)))
    out: set[int] = set()
    for comp in sccs:
        inside = set(comp)
        if any(len(inside.intersection(unread)) > 1 for unread in joined):
            out |= inside
    return out


def _snapshot_isolation(inf: Inference, relevant: set[int], deadline: float | None
                        ) -> tuple[bool, tuple[int, ...]] | None:
    """Snapshot isolation over every order of the appends nobody read, among the
    ``relevant`` transactions (others only add constraints implied through them), as
    start and commit points (``elle.polygraph``, z3 for what it leaves): each key's order, a
    read of a prefix sees its last element's writer committed before its start and the
    next one's after, a read of the whole order no unread append before its start, and
    two writers of a key never overlap. ``(holds, transactions involved)``, or None
    past the deadline."""
    from replicheck.histories.checkers import smt
    from replicheck.histories.checkers.elle import polygraph

    layouts = [KeyLayout(tuple(w if w in relevant else -1 for w in lay.owners),
                         tuple((t, m) for t, m in lay.reads if t in relevant),
                         tuple(u for u in lay.unread if u in relevant))
               for lay in inf.layouts.values()]
    nodes = sorted({w for lay in layouts for w in (*lay.owners, *lay.unread) if w >= 0}
                   | {t for lay in layouts for t, _ in lay.reads})
    index = {t: n for n, t in enumerate(nodes)}
    size = len(nodes)
    graph = polygraph.Polygraph(2 * size)
    known, choices = graph.known, graph.choices
    prefer: list[int] = []  # the option invocation order suggests, tried first
    known.extend((n + size, n) for n in range(size))  # start before commit

    def c(t: int) -> int:
        return index[t]

    def s(t: int) -> int:
        return index[t] + size

    for lay in layouts:
        chain = [w for w in lay.owners if w >= 0]
        for a, b in pairwise(chain):
            if a != b:
                known.append((c(a), c(b)))
        if chain:
            known.extend((c(chain[-1]), c(u)) for u in lay.unread if u != chain[-1])
        for t, m in lay.reads:
            before = [w for w in lay.owners[:m] if w >= 0]
            after = [w for w in lay.owners[m:] if w >= 0]
            if before and before[-1] != t:
                known.append((c(before[-1]), s(t)))
            nexts = after[:1] if after else list(lay.unread)
            known.extend((s(t), c(u)) for u in nexts if u != t)
        writers = sorted({*chain, *lay.unread})
        for x, a in enumerate(writers):
            for b in writers[x + 1:]:
                choices.append(((c(a), s(b)), (c(b), s(a))))
                prefer.append(0 if inf.txns[a].call < inf.txns[b].call else 1)
    try:
        outcome = polygraph.solve(graph, deadline)
        if outcome.status == "open":
            if smt._guess(graph, outcome, prefer, deadline) is not None:
                return True, ()
            answer = smt._residual(graph, outcome, nodes, [0] * len(choices), deadline)
            if answer.status == "unknown":
                return None
            return answer.status == "sat", ()
    except (polygraph.Timeout, smt.LimitReached):
        return None
    if outcome.status == "sat":
        return True, ()
    return False, tuple(dict.fromkeys(nodes[v % size] for v in outcome.cycle))


def _decide_registers(history: History, analysis: Analysis, txns: Sequence[Txn],
                      listed: list[tuple[Anomaly, dict[str, Any]]],
                      deadline: float | None, notes: list[str], models: frozenset[str]
                      ) -> tuple[Decision, list[tuple[Anomaly, dict[str, Any]]]]:
    """The eight models for an rw-register history, over every interpretation: when a
    topological order of the inferred graph (real time included) replays every read,
    all hold; otherwise z3 decides each (``smt.decide``). The anomalies inference found
    are kept when no model decided to hold forbids them (they are then explanations of
    the failures); the solver's are added for the failures they do not name."""
    from replicheck.histories.checkers import smt

    decision = smt.Decision()
    if not analysis.timed_out:
        _serial_witness(analysis, txns, RW_REGISTER, deadline, decision)
    if decision.witness_model != "strict-serializable":
        try:
            problem = smt.build(history, deadline=deadline)
        except smt.LimitReached as limit:
            decision.reasons.append(limit.reason)
        else:
            solved = smt.decide(problem, first=models, deadline=deadline)
            notes.append("z3 decided the models over every interpretation (version orders, "
                         "the writes reads saw, which indeterminate transactions committed)")
            decision.anomalies = solved.anomalies
            decision.holds |= solved.holds
            decision.fails |= solved.fails
            decision.reasons += solved.reasons
            if decision.witness is None or (
                    solved.witness_model is not None and lattice.implies(
                        solved.witness_model, decision.witness_model or "read-uncommitted")):
                decision.witness = solved.witness
                decision.witness_model = solved.witness_model
    kept = [(a, cx) for a, cx in listed
            if not any(a.type in lattice.forbidden_by(m) for m in decision.holds)]
    shown = lattice.implied_anomalies(a.type for a, _ in kept)
    kept += [(a, a.to_json()) for a in decision.anomalies if a.type not in shown]
    kept.sort(key=lambda ac: _RANK.get(ac[0].type, len(_RANK)))
    return decision, kept


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


def _serial_order(analysis: Analysis, kinds: int, deadline: float | None
                  ) -> list[int] | None:
    """A topological order of the members over the edge ``kinds``, or None when those
    edges form a cycle (or the deadline passed)."""
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
