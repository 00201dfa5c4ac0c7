"""Causal consistency, judged from versions and the causal order of operations.

Operations, keys and version metadata are those of
:mod:`replicheck.histories.checkers.sessions` (its module docstring is the
specification a store follows: ``version``, ``clock``, ``dot`` and ``siblings`` in
``Operation.meta``, or unique values per key). Versions are compared only within a
key, so per-key clocks (Dynamo) and total versions (last writer wins) both work:
causality across keys comes from the history, not from the clocks.

The causal order
    Its nodes are the ``ok`` reads, the ``ok`` writes that applied, and ``info``
    writes (they may have taken effect; one matters once a read returns it). Its
    edges are

    - process order: consecutive operations of one session (a process, split after
      an ``info`` operation);
    - reads-from: the write a read returned -> the read (the write is identified by
      its version, or by its value when values are unique per key).

    The *causal past* of an operation is everything with a path to it. What a
    read returned counts as seen: a version ``v`` of key ``k`` is in an operation's
    causal past when a write that created ``v``, or a read that returned ``v``, is.

What causal consistency requires here (causal visibility and arbitration)
    - A read of ``k`` reflects every version of ``k`` in its causal past: one of the
      versions it returned is that version or above it (see
      :func:`~replicheck.histories.checkers.sessions.reflects`). A version concurrent
      with a past one and not including it does not reflect it.
    - A write of ``k`` has a version strictly above every version of ``k`` in its
      causal past.
    - The causal order has no cycle (an operation cannot causally precede itself,
      e.g. a read returning a write its own process issues later).

    These include the four session guarantees (the part of the causal past that is
    the session's own writes and reads).

Verdict
    ``model`` ``"causal"``; ``consistency`` ``("causal", "read-your-writes",
    "monotonic-reads", "monotonic-writes", "writes-follow-reads")``. Each violation is
    reported once, under the most specific model it breaks, as its ``type``:
    ``read-your-writes`` / ``monotonic-reads`` (a read misses the session's own write
    or what the session already read), ``monotonic-writes`` / ``writes-follow-reads``
    (a write not above the session's own earlier write or what it read), else
    ``causal`` (the version came through another session; ``ops`` is the causal path
    from the operation that wrote or read it to the violating operation, and the
    explanation walks it). A causal cycle is a ``causal`` anomaly whose ``ops`` are the
    cycle. ``data["guarantee"]`` repeats the model. ``ruled_out`` holds the violated
    models and every model implying them; ``still_possible`` the rest of causal, PRAM
    and the session guarantees. Skipped comparisons (missing or incomparable versions)
    are counted in ``notes`` and never reported as violations.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Hashable
from typing import Any, Final

import networkx as nx

from replicheck.histories.checkers.sessions import (
    INITIAL,
    SESSION_GUARANTEES,
    Catalog,
    Frontier,
    Observed,
    Tally,
    Version,
    Witness,
    applied,
    canonical_key,
    compare_versions,
    describe_read,
    describe_write,
    format_version,
    frontier_add,
    models_ruled_out,
    not_after,
    op_kind,
    relation,
    session_of,
    show,
    smallest_counterexample,
    unreflected,
)
from replicheck.histories.history import History, Operation
from replicheck.histories.verdict import Anomaly, Stats, Verdict
from replicheck.models.clocks import Ordering

CAUSAL_CONSISTENCY: Final[tuple[str, ...]] = ("causal", *SESSION_GUARANTEES)
"""The models :func:`check_causal` decides."""

_POSSIBLE: Final = frozenset({"causal", "PRAM", *SESSION_GUARANTEES})

Frontiers = dict[str, Frontier]


def _merge(into: Frontiers, other: Frontiers) -> Frontiers:
    if not other or into is other:
        return into
    if not into:
        return other
    out = dict(into)
    for key, witnesses in other.items():
        mine = out.get(key)
        if mine is None:
            out[key] = witnesses
        elif mine is not witnesses:
            for witness in witnesses:
                mine = frontier_add(mine, witness)
            out[key] = mine
    return out


def _add(frontiers: Frontiers, key: str, witnesses: list[Witness]) -> Frontiers:
    if not witnesses:
        return frontiers
    out = dict(frontiers)
    current = out.get(key, ())
    for witness in witnesses:
        current = frontier_add(current, witness)
    out[key] = current
    return out


def check_causal(history: History) -> Verdict:
    """Check ``history`` for causal consistency as the module docstring defines it.

    Returns a Verdict with ``model`` ``"causal"``: valid when no violation was found;
    comparisons that lacked versions are skipped and counted in ``notes``."""
    started = time.perf_counter()
    catalog = Catalog(history)
    names = session_of(history)
    graph: Any = nx.DiGraph()
    nodes: list[Operation] = []
    for op in history.operations:
        kind = op_kind(op)
        if kind is None:
            continue
        if (op.ok and (kind == "read" or applied(op))) or (op.indeterminate and kind == "write"):
            nodes.append(op)
            graph.add_node(op.id)
    last: dict[Hashable, int] = {}
    for op in nodes:
        session = names[op.id]
        if session in last:
            graph.add_edge(last[session], op.id, kind="process")
        last[session] = op.id
    observed: dict[int, Observed] = {}
    for op in nodes:
        if op_kind(op) == "read":
            seen = catalog.observe(op)
            observed[op.id] = seen
            for source in sorted(seen.sources):
                if source != op.id and source in graph:
                    graph.add_edge(source, op.id, kind="reads-from")

    checker = _Checker(history, catalog, graph, names, observed)
    condensed: Any = nx.condensation(graph)
    after: dict[int, Frontiers] = {}
    for component in nx.topological_sort(condensed):
        before: Frontiers = {}
        for pred in condensed.predecessors(component):
            before = _merge(before, after[pred])
        members = sorted(condensed.nodes[component]["members"])
        if len(members) > 1:
            checker.cycle(members)
            for member in members:
                before = checker.own(history.operation(member), before)
            after[component] = before
            continue
        op = history.operation(members[0])
        checker.check(op, before)
        after[component] = checker.own(op, before)

    anomalies = checker.anomalies
    ruled = models_ruled_out({a.type for a in anomalies})
    notes = checker.tally.notes(CAUSAL_CONSISTENCY)
    if catalog.malformed:
        notes += (f"{catalog.malformed} malformed version field(s) treated as missing",)
    return Verdict(
        valid=not anomalies,
        model="causal",
        consistency=CAUSAL_CONSISTENCY,
        anomalies=tuple(anomalies),
        ruled_out=ruled,
        still_possible=_POSSIBLE - ruled,
        counterexample=smallest_counterexample(history, anomalies),
        stats=Stats(operations=len(history.operations), seconds=time.perf_counter() - started,
                    states=graph.number_of_nodes()),
        notes=notes,
    )


class _Checker:
    """The per-operation checks, with the session-local frontiers."""

    def __init__(self, history: History, catalog: Catalog, graph: Any,
                 names: dict[int, Hashable], observed: dict[int, Observed]) -> None:
        self.history = history
        self.catalog = catalog
        self.graph = graph
        self.names = names
        self.observed = observed
        self.tally = Tally()
        self.anomalies: list[Anomaly] = []
        self.session_writes: dict[tuple[Hashable, str], Frontier] = {}
        self.session_reads: dict[tuple[Hashable, str], Frontier] = {}

    def own(self, op: Operation, before: Frontiers) -> Frontiers:
        """``before`` plus the versions ``op`` wrote or returned; also records them in
        the session's own frontiers."""
        key = canonical_key(op.key)
        session = self.names[op.id]
        if op_kind(op) == "read":
            seen = self.observed[op.id]
            if seen.versions is None:
                return before
            witnesses = [Witness(v, op.id, session, "read") for v in seen.versions or (INITIAL,)]
            mine = self.session_reads.get((session, key), ())
            for w in witnesses:
                mine = frontier_add(mine, w)
            self.session_reads[(session, key)] = mine
            return _add(before, key, witnesses)
        witness = Witness(self.catalog.write_version(op), op.id, session, "write")
        self.session_writes[(session, key)] = frontier_add(
            self.session_writes.get((session, key), ()), witness)
        return _add(before, key, [witness])

    def check(self, op: Operation, before: Frontiers) -> None:
        """Check one operation against its causal past ``before``."""
        if not op.ok:
            return
        key = canonical_key(op.key)
        session = self.names[op.id]
        mine_w = self.session_writes.get((session, key), ())
        mine_r = self.session_reads.get((session, key), ())
        past = before.get(key, ())
        if op_kind(op) == "read":
            seen = self.observed[op.id]
            if seen.versions is None:
                for g, frontier in (("read-your-writes", mine_w), ("monotonic-reads", mine_r),
                                    ("causal", past)):
                    if frontier:
                        self.tally.skipped[g] += 1
                return
            for g, frontier in (("read-your-writes", mine_w), ("monotonic-reads", mine_r),
                                ("causal", past)):
                if not frontier:
                    continue
                missing, unknown = unreflected(seen, frontier)
                self.tally.count(g, unknown=unknown, found=bool(missing))
                if missing:
                    self._read_anomaly(g, op, seen, max(missing, key=lambda w: w.op))
                    return
            return
        version = self.catalog.write_version(op)
        for g, frontier in (("monotonic-writes", mine_w), ("writes-follow-reads", mine_r),
                            ("causal", past)):
            if not frontier:
                continue
            bad, unknown = not_after(version, frontier)
            self.tally.count(g, unknown=unknown, found=bool(bad))
            if bad:
                self._write_anomaly(g, op, version, max(bad, key=lambda w: w.op))
                return

    # ---- explanations

    def _who(self, witness: Witness) -> str:
        op = self.history.operation(witness.op)
        if witness.kind == "write":
            return f"process {op.process} {describe_write(op, witness.version)}"
        return (f"process {op.process} read key {show(op.key)} (op {op.id}) and got version "
                f"{format_version(witness.version)}")

    def _walk(self, path: list[int]) -> str:
        steps = [f"op {path[0]}"]
        for a, b in itertools.pairwise(path):
            if self.graph.edges[a, b]["kind"] == "process":
                steps.append(f"op {b} (next in process {self.history.operation(b).process})")
            else:
                steps.append(f"op {b} (read what op {a} wrote)")
        return " -> ".join(steps)

    def _path(self, source: int, target: int) -> tuple[list[int], str]:
        path: list[int] = nx.shortest_path(self.graph, source, target)
        return path, self._walk(path)

    def _read_anomaly(self, guarantee: str, op: Operation, seen: Observed,
                      missing: Witness) -> None:
        assert seen.versions is not None
        key = show(op.key)
        got = (f"then read key {key} (op {op.id}) and got {describe_read(op, seen)}, which is "
               f"{relation(seen.versions, missing.version)} {format_version(missing.version)}")
        if guarantee == "causal":
            path, chain = self._path(missing.op, op.id)
            explanation = (
                f"{self._who(missing)}; that is in the causal past of process {op.process}'s "
                f"read (op {op.id}): {chain}. Process {op.process} {got}: a read must reflect "
                "every version in its causal past (causal violated).")
            ops = tuple(path)
        else:
            what = "its own write" if guarantee == "read-your-writes" else "what it had read"
            explanation = (f"{self._who(missing)}; process {op.process} {got}: the read does "
                           f"not reflect {what} ({guarantee} violated).")
            ops = (missing.op, op.id)
        self.anomalies.append(Anomaly(guarantee, ops, explanation, {
            "guarantee": guarantee, "process": op.process, "key": op.key,
            "expected_at_least": format_version(missing.version),
            "returned": [format_version(v) for v in seen.versions],
        }))

    def _write_anomaly(self, guarantee: str, op: Operation, version: Version,
                       earlier: Witness) -> None:
        order = self._order(earlier.version, version)
        did = (f"then {describe_write(op, version)}, a version {order} "
               f"{format_version(earlier.version)}")
        if guarantee == "causal":
            path, chain = self._path(earlier.op, op.id)
            explanation = (
                f"{self._who(earlier)}; that is in the causal past of process {op.process}'s "
                f"write (op {op.id}): {chain}. Process {op.process} {did}: a write must be "
                "ordered after every version in its causal past (causal violated).")
            ops = tuple(path)
        else:
            what = ("its own earlier write" if guarantee == "monotonic-writes"
                    else "the version it had read")
            explanation = (f"{self._who(earlier)}; process {op.process} {did}: the write is "
                           f"not ordered after {what} ({guarantee} violated).")
            ops = (earlier.op, op.id)
        self.anomalies.append(Anomaly(guarantee, ops, explanation, {
            "guarantee": guarantee, "process": op.process, "key": op.key,
            "earlier": format_version(earlier.version), "written": format_version(version),
        }))

    @staticmethod
    def _order(earlier: Version, version: Version) -> str:
        order = compare_versions(earlier, version)
        return {Ordering.EQUAL: "equal to", Ordering.AFTER: "older than",
                Ordering.CONCURRENT: "concurrent with"}.get(order or Ordering.EQUAL,
                                                            "not above")

    def cycle(self, members: list[int]) -> None:
        """Report a cycle of the causal order among ``members``."""
        edges = nx.find_cycle(self.graph.subgraph(members))
        ops = [a for a, _ in edges]
        explanation = (
            f"operations {', '.join(map(str, ops))} form a cycle of process order and "
            f"reads-from: {self._walk([*ops, ops[0]])}; an operation cannot causally precede "
            "itself "
            "(causal violated).")
        self.anomalies.append(Anomaly("causal", tuple(ops), explanation,
                                      {"guarantee": "causal", "cycle": ops}))
