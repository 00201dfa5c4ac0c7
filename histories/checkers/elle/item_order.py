"""The version order of an item and the dependency edges it gives.

:func:`add_edges` places committed writes without a recorded version among the item's
recorded versions, chooses the version of each read without one (open choices), then
adds the ``ww``, ``wr`` and ``rw`` edges and finds cycles in the known order, lost
updates, future reads and reads whose data contradicts the versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import partial
from itertools import pairwise
from typing import Any

import networkx as nx

from replicheck.histories.checkers.elle.explain import name
from replicheck.histories.checkers.elle.graph import RW, WR, WW, shortest_cycle_within
from replicheck.histories.checkers.elle.inference import Finding, VersionOrder
from replicheck.histories.checkers.elle.item_decode import ItemRead
from replicheck.histories.checkers.elle.item_inference import CORE, GARBAGE_READ, ItemInference
from replicheck.histories.checkers.elle.item_values import (
    ABSENT,
    MISSING,
    UNKNOWN,
    Vid,
    describe_vid,
    fits,
    show_value,
    thaw_value,
    unshown,
    vid_json,
)
from replicheck.histories.checkers.elle.item_versions import ItemWork
from replicheck.histories.history import INFO, OK


def add_edges(work: ItemWork, inf: ItemInference) -> None:
    """The item's known version order and its ww, wr and rw edges; cycles in the
    known order, lost updates and future reads, and reads whose data contradicts the
    versions."""
    item, label, live = work.item, work.label, work.live
    txns = inf.txns
    member = inf.graph.member
    findings = inf.findings

    _place_unversioned(work, inf)
    made: dict[Vid, int] = {}
    for w in live:
        if member[w.tid]:
            made[w.vid] = w.tid
            if w.version is MISSING:
                inf.complete = False
    writer = work.writer
    chain = sorted(v for v in writer if member[writer[v].tid]) if work.ordered else []
    in_chain = {("v", v) for v in chain}
    _choose_unrecorded(work, inf, chain)
    pairs, lost = _later_pairs(work, inf, in_chain)
    cyclic = _cyclic_versions(work, inf, chain, pairs)
    _dependency_edges(work, inf, chain, pairs, made, cyclic)
    for v, tids in lost.items():
        if len(tids) > 1 and all(txns[t].status == OK for t in tids):
            findings.append(Finding("lost-update", tuple(tids), item, {
                "item": label, "version": vid_json(v)}))
    _check_read_values(work, inf)
    if work.ordered and all(w.version is not MISSING for w in live if member[w.tid]):
        inf.versions[item] = VersionOrder(item, tuple(chain), total=True)
    else:
        inf.versions[item] = VersionOrder(
            item, tuple(vid_json(b) for b in made), total=False,
            known=tuple((vid_json(a), vid_json(b)) for a, b in pairs))


def _later_pairs(work: ItemWork, inf: ItemInference, in_chain: set[Any]
                 ) -> tuple[dict[tuple[Vid, Vid], int], dict[Vid, list[int]]]:
    """Pairs ``(earlier, later)`` of versions beyond the recorded order, each with the
    transaction that tells it, and the transactions that wrote the item after reading
    each version (future reads are findings)."""
    item, label, writes, reads, live = work.item, work.label, work.writes, work.reads, \
        work.live
    member = inf.graph.member
    findings = inf.findings

    # Pairs (earlier, later) beyond the recorded order: every version follows the
    # initial state, and a transaction's write follows the version it read.
    pairs: dict[tuple[Vid, Vid], int] = {}
    for w in live:
        if member[w.tid] and w.vid not in in_chain:
            pairs.setdefault((None, w.vid), w.tid)
    mine = {w.tid: w for w in writes}
    lost: dict[Vid, list[int]] = {}
    for r in reads:
        own = mine.get(r.tid)
        if not r.resolved or own is None:
            continue
        if r.vid == own.vid and r.vid is not None:
            findings.append(Finding("future-read", (r.tid,), item, {
                "item": label, "version": vid_json(r.vid)}))
            continue
        lost.setdefault(r.vid, []).append(r.tid)
        if own.vid in in_chain and (r.vid is None or r.vid in in_chain):
            continue  # the recorded order already says it
        pairs.setdefault((r.vid, own.vid), r.tid)
    has_pred = {b for a, b in pairs if a is not None}
    pairs = {(a, b): t for (a, b), t in pairs.items() if a is not None or b not in has_pred}
    return pairs, lost


def _cyclic_versions(work: ItemWork, inf: ItemInference, chain: Sequence[Any],
                     pairs: dict[tuple[Vid, Vid], int]) -> bool:
    """Whether the recorded order and the pairs form a cycle of versions (a
    ``cyclic-versions`` finding for each)."""
    item, label = work.item, work.label
    txns = inf.txns
    findings = inf.findings
    note = partial(work.note, inf)
    cyclic = False
    later = [(a, b) for a, b in pairs if a is not None]
    if later:
        vg: nx.DiGraph[Any] = nx.DiGraph()
        vg.add_edges_from(later)
        vg.add_edges_from((("v", a), ("v", b)) for a, b in pairwise(chain))
        for comp in nx.strongly_connected_components(vg):
            if len(comp) < 2:
                continue
            cyclic = True
            cycle = shortest_cycle_within(vg, comp)
            by: list[int | None] = []
            for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
                by.append(pairs.get((a, b)))
            findings.append(Finding(
                "cyclic-versions", tuple(t for t in by if t is not None), item,
                {"item": label, "versions": [vid_json(v) for v in cycle],
                 "by": [None if t is None else txns[t].op for t in by]}))
    if cyclic:
        note("its version order has a cycle; it gives no ww or rw edges")
    return cyclic


def _dependency_edges(work: ItemWork, inf: ItemInference, chain: Sequence[Any],
                      pairs: dict[tuple[Vid, Vid], int], made: dict[Vid, int],
                      cyclic: bool) -> None:
    """The ``wr`` edges of the item, and its ``ww`` and ``rw`` edges unless its versions
    form a cycle."""
    item, reads, writer = work.item, work.reads, work.writer
    add = inf.graph.add
    for r in reads:
        if r.resolved and r.vid is not None:
            wt = made.get(r.vid)
            if wt is not None and wt != r.tid:
                add(wt, r.tid, WR, item, r.vid, r.vid)
    if not cyclic:
        for a, b in pairwise(chain):
            add(writer[a].tid, writer[b].tid, WW, item, ("v", a), ("v", b))
        if chain:
            for r in reads:
                if r.resolved and r.vid is None:
                    p: Any = None
                elif r.position is not MISSING:
                    p = r.position
                else:
                    continue
                nxt = _next_after(chain, p)
                if nxt is not None:
                    add(r.tid, writer[nxt].tid, RW, item, None if p is None else ("v", p),
                        ("v", nxt))
        readers: dict[Vid, list[int]] = {}
        for r in reads:
            if r.resolved:
                readers.setdefault(r.vid, []).append(r.tid)
        for a, b in pairs:
            wb = made[b]
            if a is not None and a in made:
                add(made[a], wb, WW, item, a, b)
            for rt in readers.get(a, ()):
                add(rt, wb, RW, item, a, b)


def _check_read_values(work: ItemWork, inf: ItemInference) -> None:
    """Reads whose item contradicts the version they read: notes, and garbage reads
    when a recorded version names the writer or one version was read holding two
    items."""
    item, label, reads, live = work.item, work.label, work.reads, work.live
    txns = inf.txns
    findings = inf.findings
    note = partial(work.note, inf)
    for r in reads:
        if not r.resolved or r.value is UNKNOWN:
            continue
        expected = ABSENT if r.vid is None else next(
            (w.value for w in live if w.vid == r.vid), UNKNOWN)
        if not fits(expected, r.value):
            note(f"{name(txns[r.tid])} read {describe_vid(r.vid, txns)} holding "
                 f"{show_value(r.value)}, but that version holds {show_value(expected)}")
            if r.version is not MISSING:  # the recorded version names its writer
                findings.append(Finding(GARBAGE_READ, (r.tid,), item, {
                    "item": label, "version": vid_json(r.vid),
                    "read": thaw_value(r.value)}))
    seen: dict[Vid, list[ItemRead]] = {}
    for r in reads:
        if r.resolved and r.value is not UNKNOWN and r.version is not MISSING:
            seen.setdefault(r.vid, []).append(r)
    for vid, rs in seen.items():
        odd = [r for r in rs if r.value != rs[0].value]
        shown = ABSENT if vid is None else next(
            (w.value for w in live if w.vid == vid), UNKNOWN)
        if odd and unshown(shown):  # one version holds one item, whoever wrote it
            findings.append(Finding(GARBAGE_READ, (odd[0].tid,), item, {
                "item": label, "version": vid_json(vid), "read": thaw_value(odd[0].value)}))
            note(f"{describe_vid(vid, txns)} was read holding {show_value(rs[0].value)} by "
                 f"{name(txns[rs[0].tid])} and {show_value(odd[0].value)} by "
                 f"{name(txns[odd[0].tid])}")


def _place_unversioned(work: ItemWork, inf: ItemInference) -> None:
    """Give each committed write without a recorded version (an indeterminate write seen
    to commit through another item) a place in the item's recorded integer versions: an
    open choice of slot and rank among such writes, decided by ``inf.choice``."""
    member = inf.graph.member
    if CORE in inf.choice:
        return
    free = [w for w in work.live if member[w.tid] and w.version is MISSING]
    recorded = [v for v, w in work.writer.items() if member[w.tid]]
    if not free or not work.ordered or any(w.status != INFO for w in free) \
            or any(r.version is MISSING for r in work.reads) \
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in recorded):
        return  # nothing to order, or versions known by value (left as they are)
    chain = sorted(recorded)
    taken: set[Fraction] = set()
    for w in free:
        key = (work.item, ("unversioned", w.tid))
        if (len(chain) + 1) * len(free) > 1:
            inf.choices.append((key, (len(chain) + 1) * len(free)))
        slot, rank = divmod(inf.choice.get(key, 0), len(free))
        base = chain[slot - 1] if slot else (chain[0] - 1 if chain else 0)
        version = Fraction(base) + Fraction(rank + 1, len(free) + 1)
        if version in taken:
            inf.clash = True
        taken.add(version)
        w.version, w.vid = version, ("v", version)
        work.writer[version] = w


def _choose_unrecorded(work: ItemWork, inf: ItemInference, chain: Sequence[Any]) -> None:
    """The version each read without a recorded version read (a condition check's,
    or the old item a write returned): an open choice (``inf.choice``) among the
    initial state, the item's committed versions and, when a write of it did not
    commit, an aborted version (G1a), each holding an item that fits the one read.
    The most plausible first: for an old item, the version right before the write's
    own; else the latest version written by a transaction invoked before the read
    completed. None fits: a garbage read. Left unresolved, with a note, when the
    item's order is not known."""
    member = inf.graph.member
    txns = inf.txns
    exact = work.ordered and all(w.version is not MISSING for w in work.live
                                 if member[w.tid])
    for r in work.unrecorded:
        if CORE in inf.choice:
            continue
        if not exact:
            what = "returned the old item" if r.what == "old" else "checked a condition"
            inf.notes.append(f"{work.label}: {name(txns[r.tid])} {what} on it without "
                             "recording the version it saw; the read gives no edges")
            inf.complete = r.what == "old" and inf.complete
            continue
        done = txns[r.tid].ret
        mine = [v for v in chain if work.writer[v].tid != r.tid
                and fits(work.writer[v].value, r.value)]
        own = next((w.version for w in work.writes if w.tid == r.tid), MISSING)
        likely = [v for v in reversed(mine) if (own is not MISSING and v < own)
                  or (own is MISSING and (done is None
                                          or txns[work.writer[v].tid].call < done))]
        options: list[Any] = [*likely[:1], *([None] if fits(ABSENT, r.value) else []),
                              *(v for v in reversed(mine) if v not in likely[:1])]
        aborted = [w for w in work.writes if not member[w.tid] and w.tid != r.tid
                   and fits(w.value, r.value)]
        if aborted:
            options.append(MISSING)
        if not options:
            inf.findings.append(Finding(GARBAGE_READ, (r.tid,), work.item, {
                "item": work.label, "version": None, "read": thaw_value(r.value),
                "unrecorded": True}))
            continue
        key = (work.item, (r.what, r.tid))
        if len(options) > 1:
            inf.choices.append((key, len(options)))
        picked = options[inf.choice.get(key, 0)]
        if picked is MISSING:
            inf.findings.append(Finding("G1a", (r.tid, aborted[0].tid), work.item, {
                "item": work.label, "version": None, "read": thaw_value(r.value),
                "check": r.what == "check"}))
        elif picked is None:
            r.vid, r.resolved = None, True
        else:
            r.vid, r.resolved, r.position = ("v", picked), True, picked


def _next_after(chain: Sequence[Any], p: Any) -> Any:
    if p is None:
        return chain[0]
    for v in chain:
        if v > p:
            return v
    return None
