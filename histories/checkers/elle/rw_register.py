"""Inference for read-write register histories (Elle's rw-register workload).

Registers are overwritten, so a read shows one version, not the history of the key:
the version order is only partly recoverable. With the values written to a key unique
(as Elle's workload makes them), a read names the transaction that wrote what it saw.
What :func:`infer` treats as known, and nothing more:

- the initial state ``None`` precedes every version;
- *writes follow reads*: a committed transaction whose first access to ``x`` read
  ``a`` and which then wrote ``x`` installed its version after ``a`` (``a < b``);
- within a transaction the last write to a key wins: only it is a version; the earlier
  ones are intermediate (reading one elsewhere is ``G1b``).

The order between versions not related so is left out, never guessed: such
histories may hide anomalies that only a decision procedure over every possible
version order (an SMT encoding, built on the :class:`~replicheck.histories.checkers.
elle.inference.VersionOrder` pairs and the graph exposed here) can find. The known
pairs give the data edges: ``ww`` from the writer of ``a`` to the writer of ``b``,
``rw`` from the readers of ``a`` to the writer of ``b``, and ``wr`` from a writer to
every transaction that read its value. A cycle among the known pairs of a key is
``cyclic-versions`` (the key then gives no ``ww``/``rw`` edges).

Also found: ``G1a`` (a read of a value written by a failed transaction), ``G1b``,
``internal`` (a read that differs from the transaction's own last read or write of the
key), ``future-read`` (a read of a value the same transaction writes later), and
``lost-update`` (two committed transactions that read the same version of a key first
and both wrote it).

Initial-state anti-dependencies are reduced: a reader of the initial state gets an
``rw`` edge only to the writers of versions with no known predecessor other than the
initial state; the others follow from them through ``ww`` edges (same cycles, same
anomaly classes).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import networkx as nx

from replicheck.histories.checkers.elle.graph import (
    RW,
    WR,
    WW,
    DependencyGraph,
    check_deadline,
    shortest_cycle_within,
)
from replicheck.histories.checkers.elle.inference import Finding, Inference, VersionOrder
from replicheck.histories.checkers.elle.txn import READ, RW_REGISTER, Txn
from replicheck.histories.history import FAIL, OK

_MISSING: Any = object()


def infer(txns: Sequence[Txn], *, deadline: float | None = None,
          out: Inference | None = None) -> Inference:
    """Infer the known version pairs, non-cycle anomalies and data edges of an
    rw-register history's transactions. Fills ``out`` (a new :class:`Inference` by
    default) as it goes, so that a ``SearchTimeout`` past ``deadline`` leaves the
    findings so far."""
    graph = DependencyGraph(txns, RW_REGISTER)
    inf = out if out is not None else Inference(RW_REGISTER, graph.txns, graph)
    inf.txns, inf.graph = graph.txns, graph
    findings = inf.findings
    member = graph.member
    add = graph.edges.append

    final: dict[Hashable, dict[Any, int]] = {}      # key -> last write of a txn -> txn
    middle: dict[Hashable, dict[Any, int]] = {}     # key -> overwritten write -> txn
    ambiguous: dict[Hashable, set[Any]] = {}        # values written by several txns
    reads: list[tuple[int, Hashable, Any]] = []     # committed external reads
    wfr: list[tuple[Hashable, Any, Any, int]] = []  # (key, read, then written, txn)
    lost: dict[tuple[Hashable, Any], list[int]] = {}

    for t in txns:
        ti = t.tid
        ok = t.status == OK
        first: dict[Hashable, tuple[str, Any]] = {}
        current: dict[Hashable, Any] = {}
        written: dict[Hashable, list[Any]] = {}
        seen: dict[Hashable, list[Any]] = {}
        internal_done = False
        for i, (f, k, v) in enumerate(t.mops):
            if f == READ:
                if not ok:
                    continue
                if k not in first:
                    first[k] = (READ, v)
                    reads.append((ti, k, v))
                    seen.setdefault(k, []).append(v)
                elif not internal_done and current[k] != v:
                    findings.append(Finding("internal", (ti,), k, {
                        "mop": i, "read": v, "expected": current[k]}))
                    internal_done = True
                current[k] = v
            else:
                written.setdefault(k, []).append(v)
                if ok:
                    if v is not None and v in seen.get(k, ()):
                        findings.append(Finding("future-read", (ti,), k,
                                                {"read": v, "mop": i}))
                    fk = first.get(k)
                    if fk is not None and fk[0] == READ and len(written[k]) == 1:
                        lost.setdefault((k, fk[1]), []).append(ti)
                first.setdefault(k, (f, v))
                current[k] = v
        for k, vs in written.items():
            last = vs[-1]
            _index(final, ambiguous, k, last, ti)
            for v in vs[:-1]:
                if v != last:
                    _index(middle, ambiguous, k, v, ti)
            if ok:
                fk = first[k]
                if fk[0] == READ and fk[1] != last:
                    wfr.append((k, fk[1], last, ti))
        if not ti & 0xFFF:
            check_deadline(deadline)

    status = [t.status for t in txns]
    for k, mid in middle.items():
        fin = final.get(k, {})
        for v, w in mid.items():
            if fin.get(v, w) != w:
                ambiguous.setdefault(k, set()).add(v)
    # A read of a value another transaction wrote too may have read that one: only a
    # value nobody else wrote makes a future read certain.
    findings[:] = [f for f in findings if f.type != "future-read"
                   or f.details["read"] not in ambiguous.get(f.key, ())]
    for k, dups in ambiguous.items():
        inf.notes.append(f"key {k!r}: {len(dups)} value(s) written by more than one "
                         f"transaction (e.g. {next(iter(dups))!r}); reads of them give "
                         "no edges")
        inf.complete = False

    # Who wrote what each committed read saw; indeterminate writers seen committed.
    garbage: dict[Hashable, Any] = {}
    for ti, k, v in reads:
        if v is None or v in ambiguous.get(k, ()):
            continue
        w = final.get(k, {}).get(v, -1)
        if w >= 0:
            if status[w] == FAIL:
                findings.append(Finding("G1a", (ti, w), k, {"read": v}))
            elif w != ti:
                member[w] = True
            continue
        w = middle.get(k, {}).get(v, -1)
        if w >= 0:
            if status[w] == FAIL:
                findings.append(Finding("G1a", (ti, w), k, {"read": v}))
            if w != ti:
                findings.append(Finding("G1b", (ti, w), k, {"read": v}))
            continue
        garbage.setdefault(k, v)
    for k, v in garbage.items():
        inf.notes.append(f"key {k!r}: read value(s) no transaction wrote (e.g. {v!r}); "
                         "they give no edges")
        inf.complete = False
    check_deadline(deadline)

    # Versions: the last writes of member transactions, with unique values.
    versions: dict[Hashable, dict[Any, int]] = {}
    for k, fin in final.items():
        amb = ambiguous.get(k, set())
        made = {v: w for v, w in fin.items() if member[w] and v is not None and v not in amb}
        if made:
            versions[k] = made
    known: dict[Hashable, dict[tuple[Any, Any], int]] = {}
    for k, a, b, ti in wfr:
        made_k = versions.get(k)
        if made_k is None or made_k.get(b) != ti:
            continue
        if a is not None and (a not in made_k or made_k[a] == ti):
            continue
        known.setdefault(k, {}).setdefault((a, b), ti)

    # Cycles among the known pairs of a key.
    cyclic: set[Hashable] = set()
    for k, pairs in known.items():
        later = [(a, b) for a, b in pairs if a is not None]
        if not later:
            continue
        vg: nx.DiGraph[Any] = nx.DiGraph(later)
        for comp in nx.strongly_connected_components(vg):
            if len(comp) < 2:
                continue
            cyclic.add(k)
            cycle = shortest_cycle_within(vg, comp)
            who = tuple(pairs[(a, b)] for a, b in zip(cycle, cycle[1:] + cycle[:1],
                                                        strict=True))
            findings.append(Finding("cyclic-versions", who, k, {"values": cycle}))

    # Edges.
    readers: dict[Hashable, dict[Any, list[int]]] = {}
    for ti, k, v in reads:
        made_k = versions.get(k)
        if made_k is None:
            continue
        if v is not None:
            w = made_k.get(v, -1)
            if w < 0:
                continue
            if w != ti:
                add((w, ti, WR, k, v, v))
        if k not in cyclic:
            readers.setdefault(k, {}).setdefault(v, []).append(ti)
    for k, made in versions.items():
        pairs = known.get(k, {})
        if k in cyclic:
            inf.versions[k] = VersionOrder(k, (None, *made), total=False,
                                           known=tuple(pairs))
            continue
        by_value = readers.get(k, {})
        has_pred = {b for a, b in pairs if a is not None}
        listed: list[tuple[Any, Any]] = []
        for b, wb in made.items():
            if b in has_pred:
                continue
            listed.append((None, b))
            for rt in by_value.get(None, ()):
                if rt != wb:
                    add((rt, wb, RW, k, None, b))
        for a, b in pairs:
            wb = made[b]
            if a is not None:
                listed.append((a, b))
                wa = made[a]
                if wa != wb:
                    add((wa, wb, WW, k, a, b))
            for rt in by_value.get(a, ()):
                if rt != wb:
                    add((rt, wb, RW, k, a, b))
        inf.versions[k] = VersionOrder(k, (None, *made), total=False, known=tuple(listed))
    check_deadline(deadline)

    for (k, v), tis in lost.items():
        if len(tis) > 1 and v not in ambiguous.get(k, ()):
            findings.append(Finding("lost-update", tuple(tis), k, {"read": v}))
    return inf


def _index(index: dict[Hashable, dict[Any, int]], ambiguous: dict[Hashable, set[Any]],
           k: Hashable, v: Any, ti: int) -> None:
    d = index.get(k)
    if d is None:
        index[k] = {v: ti}
        return
    w = d.get(v, _MISSING)
    if w is _MISSING:
        d[v] = ti
    elif w != ti:
        ambiguous.setdefault(k, set()).add(v)
