"""The verdict on one way of fixing the versions an item history leaves open.

:func:`judge_one` lists the anomalies found against the models asked for (a garbage
read is forbidden by every one) and, when none is forbidden, shows a serial order that
replays as the witness, searching every order the edges allow when the first does
not replay: none that does is a ``G2`` cycle (``search_serial_order``); a serial model
left without a witness otherwise (time limit, no key schemas) is ``"unknown"``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, Final

from replicheck.histories.checkers.elle.anomalies import CycleAnomaly
from replicheck.histories.checkers.elle.checker import list_anomalies, smallest_counterexample
from replicheck.histories.checkers.elle.graph import DATA, REALTIME, SearchTimeout
from replicheck.histories.checkers.elle.inference import Finding
from replicheck.histories.checkers.elle.item_explain import cycle_anomaly, finding_anomaly
from replicheck.histories.checkers.elle.item_inference import GARBAGE_READ, ItemAnalysis
from replicheck.histories.checkers.elle.item_witness import (
    edge_kinds,
    replay,
    search_serial_order,
    serial_order,
)
from replicheck.histories.history import History
from replicheck.histories.verdict import Anomaly, Stats, Verdict
from replicheck.models import lattice

ITEM_MODEL: Final = "item"
"""The ``model`` of the verdicts ``items.check_item_transactions`` gives."""


TRANSACTIONAL: Final = frozenset({
    "read-uncommitted", "read-committed", "read-atomic", "repeatable-read",
    "snapshot-isolation", "serializable", "strong-session-serializable",
    "strict-serializable"})
"""The models this checker decides (docs: txn-models)."""


def judge_one(history: History, consistency: Sequence[str], models: frozenset[str],
               analysis: ItemAnalysis, deadline: float | None, timeout: float | None,
               started: float) -> Verdict:
    """The verdict on one analysis (one way of fixing the open versions) for ``models``."""
    forbidden: frozenset[str] = frozenset().union(
        *(lattice.forbidden_by(m) for m in models), {GARBAGE_READ})
    serial = any(lattice.implies(m, "serializable") for m in models)
    inf = analysis.inference
    txns = inf.txns
    notes = list(inf.notes)

    def render(a: CycleAnomaly | Finding) -> tuple[Anomaly, dict[str, Any]]:
        return cycle_anomaly(a, inf) if isinstance(a, CycleAnomaly) else finding_anomaly(a, inf)

    listed, types, bad, valid = list_anomalies(
        [*analysis.cycles, *inf.findings], txns, render, forbidden,
        timed_out=analysis.timed_out, timeout=timeout, notes=notes)

    witness: tuple[int, ...] | None = None
    if valid is True:
        order = serial_order(analysis, forbidden, deadline)
        problem: str | None
        if order is None:
            problem = ("the dependency graph has cycles the models asked for allow, so "
                       "there is no serial order")
        else:
            problem = replay(inf, order, edge_kinds(forbidden))
        if problem is not None and serial and not inf.complete:
            first = problem
            order, problem, refuted = _search(analysis, forbidden, deadline, problem)
            if refuted is not None:
                notes.append(f"no witness: {first}, nor in any other serial order")
                listed.append((refuted, {}))
                types.add(refuted.type)
                bad.append((refuted, {}))
                valid = False
            elif order is None and problem is None:
                valid = "unknown"
                notes.append(f"the time limit ({timeout} s) ran out before every serial "
                             "order was tried")
        if problem is None and order is not None:
            witness = tuple(txns[i].op for i in order)
            if inf.complete:
                notes.append("witness: a topological order of the dependency graph; every "
                             "read sees the version it recorded")
            else:
                notes.append("witness: a topological order of the dependency graph that "
                             "replays through the item model")
        elif problem is not None:
            notes.append(f"no witness: {problem}")
            if serial and valid is True:
                valid = "unknown"
                notes.append("the history does not show every version order and read this "
                             "checker needs (see the notes above), so an acyclic graph does "
                             "not prove a serial order by itself")
    if valid is not False and not inf.complete and not serial:
        notes.append("anomalies were looked for in the part of the version orders the "
                     "history shows")

    counterexample = None
    if bad:
        counterexample = smallest_counterexample(bad)

    return Verdict(
        valid=valid,
        model=ITEM_MODEL,
        consistency=tuple(consistency),
        anomalies=tuple(a for a, _ in listed),
        ruled_out=_ruled_out(types),
        still_possible=_proved(models, valid) - _ruled_out(types),
        witness=witness,
        counterexample=counterexample,
        stats=Stats(operations=len(history.operations),
                    seconds=time.perf_counter() - started,
                    states=analysis.stats.states),
        notes=tuple(notes),
    )


def _search(analysis: ItemAnalysis, forbidden: frozenset[str], deadline: float | None,
            problem: str) -> tuple[list[int] | None, str | None, Anomaly | None]:
    """Every serial order over the edges the models need, when the preferred one does
    not replay (:func:`search_serial_order`): ``(order, None, None)`` for one that
    replays; ``(None, None, None)`` when the deadline passed first; ``(None, problem,
    None)`` when the search cannot replay (no key schemas); else ``(None, None,
    anomaly)``: no serial order explains the history, which the lattice names ``G2``
    (what serializability forbids beyond G1) when no order of the data edges alone
    replays, else ``G2-realtime`` or ``G2-process`` for the edges that made it
    impossible."""
    kinds = edge_kinds(forbidden)
    try:
        order, tried, part = search_serial_order(analysis, kinds, deadline)
        if order is not None:
            return order, None, None
        if not tried:
            return None, problem, None
        kind = "G2"
        if kinds != DATA:
            data_order, _, data_part = search_serial_order(analysis, DATA, deadline)
            if data_order is not None:
                kind = "G2-realtime" if kinds & REALTIME else "G2-process"
            else:
                part = data_part
    except SearchTimeout:
        return None, None, None
    inf = analysis.inference
    ops = tuple(sorted(inf.txns[i].op for i in part))
    edges = {"G2": "the dependency edges", "G2-process": "the dependency and process edges",
             "G2-realtime": "the dependency and real-time edges"}[kind]
    return None, None, Anomaly(kind, ops, (
        f"no serial order of these committed transactions that respects {edges} replays "
        f"through the item model, every transaction answering what it answered ({tried} "
        "search states tried, indeterminate ones placed anywhere or left out): no serial "
        "order explains the history, whatever versions it leaves unrecorded"),
        {"search_states": tried})


def _ruled_out(types: Iterable[str]) -> frozenset[str]:
    """The transactional models the anomalies found rule out: those the lattice says,
    and every one for a garbage read (no interpretation explains it)."""
    found = set(types)
    if GARBAGE_READ in found:
        return TRANSACTIONAL
    return lattice.ruled_out(found) & TRANSACTIONAL


def _proved(models: frozenset[str], valid: Any) -> frozenset[str]:
    """The transactional models a verdict proves: those asked for and those they imply,
    when it is valid; none otherwise."""
    if valid is not True:
        return frozenset()
    return frozenset(n for m in models for n in {m, *lattice.weaker(m)}) & TRANSACTIONAL
