"""Naming the version of every write of an item and the version every read saw.

Per item (:class:`ItemWork`): recorded versions claimed twice, reads named by their
recorded version or by their value, versions read that only an indeterminate write may
have made (open choices), reads nothing in the history explains (``G1a``, garbage reads
or notes); then which indeterminate transactions are seen to commit
(:func:`mark_members`). Retried transact-writes are merged first (:func:`merge_retries`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from replicheck.histories.checkers.elle.explain import name
from replicheck.histories.checkers.elle.inference import Finding
from replicheck.histories.checkers.elle.item_decode import ItemOp, ItemRead, ItemWrite
from replicheck.histories.checkers.elle.item_inference import CORE, GARBAGE_READ, ItemInference
from replicheck.histories.checkers.elle.item_values import (
    ABSENT,
    MISSING,
    UNKNOWN,
    ItemId,
    Vid,
    fits,
    show_value,
    show_version,
    thaw_value,
    unshown,
)
from replicheck.histories.checkers.elle.txn import Txn
from replicheck.histories.history import FAIL, INFO, OK
from replicheck.models.items.operations import fingerprint
from replicheck.models.items.requests import TransactWrite


def merge_retries(ops: Sequence[ItemOp], inf: ItemInference) -> None:
    """An ok transact-write answering with the very writes an earlier one with the same
    token and request answered is the same transaction, retried: it writes nothing
    itself."""
    seen: dict[tuple[str, Hashable, tuple[tuple[ItemId, Any], ...]], int] = {}
    for o in ops:
        request = o.request
        if o.op.status != OK or not isinstance(request, TransactWrite) or not o.writes:
            continue
        if request.token is None or any(w.version is MISSING for w in o.writes):
            continue
        claim = tuple(sorted((w.item, w.version) for w in o.writes))
        key = (request.token, fingerprint(request), claim)
        first = seen.setdefault(key, o.tid)
        if first != o.tid:
            o.writes = []
            inf.notes.append(f"T{o.op.id} answered with the writes of T{ops[first].op.id} "
                             f"(same client token {request.token!r}): one transaction, "
                             f"counted as T{ops[first].op.id}'s")


@dataclass
class ItemWork:
    """One item's writes and reads while its versions are worked out."""

    item: ItemId
    label: str
    writes: list[ItemWrite]
    reads: list[ItemRead]
    live: list[ItemWrite] = field(default_factory=list)
    failed: list[ItemWrite] = field(default_factory=list)
    writer: dict[Any, ItemWrite] = field(default_factory=dict)
    ordered: bool = True
    unrecorded: list[ItemRead] = field(default_factory=list)

    def note(self, inf: ItemInference, text: str, *, incomplete: bool = True) -> None:
        """Add a note on the item to ``inf``: the history then does not show all the
        checker needs, unless ``incomplete`` is False."""
        inf.notes.append(f"{self.label}: {text}")
        if incomplete:
            inf.complete = False


def resolve(work: ItemWork, inf: ItemInference, choice: Mapping[Any, int]) -> None:
    """Name the version of every write and find the version every read saw, where the
    history shows it; findings and notes for what contradicts or cannot be told."""
    writes = work.writes
    work.live = [w for w in writes if w.status != FAIL]  # may have taken effect
    work.failed = [w for w in writes if w.status == FAIL]
    spoilt = _claim_versions(work, inf)
    by_value: dict[Any, list[ItemWrite]] = {}
    for w in work.live:
        if not unshown(w.value):
            by_value.setdefault(w.value, []).append(w)
    unknown, garbage, pending_old = _name_reads(work, inf, spoilt, by_value)
    # Versions read that no write is known to have made: an unversioned write may have.
    if unknown:
        _choose_writers(work, inf, choice, unknown, garbage)
    _place_old_items(work, inf, pending_old)
    _explain_reads(work, inf, garbage)
    for w in writes:
        if w.vid is None:
            w.vid = ("v", w.version) if w.version is not MISSING else _value_vid(w, by_value)


def _claim_versions(work: ItemWork, inf: ItemInference) -> set[Any]:
    """The writer of each recorded version; versions claimed by several committed
    transactions (cyclic versions), returned, give no edges. Whether the recorded
    versions can be compared (``work.ordered``)."""
    item, label, reads, live = work.item, work.label, work.reads, work.live
    txns = inf.txns
    findings = inf.findings
    note = partial(work.note, inf)
    claims: dict[Any, list[ItemWrite]] = {}
    for w in live:
        if w.version is not MISSING:
            claims.setdefault(w.version, []).append(w)
    writer = work.writer
    spoilt: set[Any] = set()
    for v, ws in claims.items():
        oks = [w for w in ws if w.status == OK]
        if len(oks) > 1:
            tids = tuple(sorted({w.tid for w in oks}))
            findings.append(Finding("cyclic-versions", tids, item,
                                    {"item": label, "version": v, "duplicate": True}))
            note(f"version {show_version(v)} is claimed by several committed transactions; "
                 "their writes of it give no ww or rw edges")
            spoilt.add(v)
            for w in ws:
                w.version = MISSING
                w.vid = ("T", w.tid)
        elif len(ws) > 1:
            keep = oks[0] if oks else None
            note(f"version {show_version(v)} is claimed by "
                 f"{', '.join(name(txns[w.tid]) for w in ws)}, of which "
                 f"{'one committed' if keep else 'none completed'}; the indeterminate "
                 "claims are ignored", incomplete=False)
            for w in ws:
                if w is not keep:
                    w.version = MISSING
                    w.vid = ("T", w.tid)
            if keep is None:
                spoilt.add(v)
            else:
                writer[v] = keep
        else:
            writer[v] = ws[0]
    try:
        sorted([*writer, *(r.version for r in reads
                           if r.version is not MISSING and r.version is not None)])
    except TypeError:
        work.ordered = False
        note("its recorded versions cannot be compared with each other (ints and lists "
             "mixed); they identify writes but give no order")
    return spoilt


def _name_reads(work: ItemWork, inf: ItemInference, spoilt: set[Any],
                by_value: Mapping[Any, list[ItemWrite]]
                ) -> tuple[dict[Any, list[ItemRead]], list[tuple[ItemRead, Any, bool]],
                           list[ItemRead]]:
    """The version each read saw, by its recorded version, else by its value. Returns
    the recorded versions read that no write is known to have made (with their reads),
    the reads nothing explains yet (``(read, value, recorded)``), and the old items
    returned whose version waits until indeterminate writes have theirs."""
    reads, live, writer = work.reads, work.live, work.writer
    txns = inf.txns
    note = partial(work.note, inf)
    values_known = all(not unshown(w.value) for w in live)
    deleted = ABSENT in by_value
    unknown: dict[Any, list[ItemRead]] = {}
    garbage: list[tuple[ItemRead, Any, bool]] = []
    pending_old: list[ItemRead] = []
    for r in reads:
        if r.version is not MISSING:
            v = r.version
            if v is None:
                r.vid, r.resolved = None, True
            elif v in spoilt:
                note(f"{name(txns[r.tid])} read version {show_version(v)}, which several "
                     "transactions claim; the read gives no edges")
            elif v in writer:
                r.vid, r.resolved, r.position = ("v", v), True, v
            else:
                unknown.setdefault(v, []).append(r)
            continue
        if r.value is UNKNOWN:
            if r.what == "check":
                work.unrecorded.append(r)  # its version is chosen once the order is known
            else:
                note(f"{name(txns[r.tid])} read it without a recorded version or a full "
                     "item (projection); the read gives no edges")
            continue
        if r.what == "old" and all(w.version is not MISSING for w in live
                                   if w.status == OK):
            pending_old.append(r)  # decided once indeterminate writes have versions
            continue
        if r.value is ABSENT and not deleted:
            r.vid, r.resolved = None, True
            continue
        if r.value is ABSENT:
            why = "it is deleted in the history, so its absence names no one version"
        elif not values_known:
            why = "some write of it has a value the history does not show"
        else:
            cands = [w for w in by_value.get(r.value, []) if w.tid != r.tid]
            if len(cands) == 1:
                w = cands[0]
                r.resolved = True
                if w.version is not MISSING:
                    r.vid, r.position = ("v", w.version), w.version
                else:
                    r.vid = _value_vid(w, by_value)
                continue
            if not cands:
                garbage.append((r, r.value, False))
                continue
            why = (f"{len(cands)} writes of it wrote that value "
                   f"({', '.join(name(txns[w.tid]) for w in cands)})")
        what = "returned the old item" if r.what == "old" else "read it"
        # An old item returned by a write only confirms what the write read atomically.
        note(f"{name(txns[r.tid])} {what} without a recorded version and the value cannot "
             f"tell which write it saw: {why}; no edges", incomplete=r.what != "old")
    return unknown, garbage, pending_old


def _choose_writers(work: ItemWork, inf: ItemInference, choice: Mapping[Any, int],
                    unknown: Mapping[Any, list[ItemRead]],
                    garbage: list[tuple[ItemRead, Any, bool]]) -> None:
    """Versions read that no write is known to have made: an unversioned write may have
    (one candidate: it did; several: an open choice); none: the reads join
    ``garbage``."""
    item, label, live = work.item, work.label, work.live
    txns = inf.txns
    findings = inf.findings
    note = partial(work.note, inf)
    spare = [w for w in live if w.version is MISSING and w.vid is None]
    cands_of: dict[Any, list[ItemWrite]] = {}
    for v, rs in unknown.items():
        vals = {r.value for r in rs if r.value is not UNKNOWN}
        if len(vals) > 1:
            cands_of[v] = []
            continue
        seen_value = next(iter(vals)) if vals else UNKNOWN
        readers = {r.tid for r in rs}
        # A write that may have made the value read (whenever it was invoked: a
        # model without real time lets a read see a write invoked after it).
        cands_of[v] = [w for w in spare
                       if w.tid not in readers and fits(w.value, seen_value)]
    _most_plausible_first(cands_of, unknown, work, txns)
    wanted: dict[int, int] = {}
    for cs in cands_of.values():
        for w in cs:
            wanted[id(w)] = wanted.get(id(w), 0) + 1
    for v in sorted(unknown, key=show_version):
        rs = unknown[v]
        cs = cands_of[v]
        vals = {r.value for r in rs if r.value is not UNKNOWN}
        who = ", ".join(name(txns[r.tid]) for r in rs)
        if len(cs) > 1 or (cs and wanted[id(cs[0])] > 1):
            # Several writes may have made it, or one write several versions: an
            # open choice, decided by ``choice`` (judging tries each). The last
            # option: none of them (the reads are then unexplained).
            inf.choices.append(((item, v), len(cs) + 1))
            if CORE in choice:
                for r in rs:
                    r.position = v  # its place in the order is known, its writer not
                continue
            picked = choice.get((item, v), 0)
            if picked < len(cs):
                _made_by(cs[picked], v, rs, work, inf)
                continue
            cs = []
        if len(cs) == 1 and wanted[id(cs[0])] == 1:
            _made_by(cs[0], v, rs, work, inf)
            continue
        for r in rs:
            r.position = v  # its place in the order is known, its writer not
        if len(vals) > 1:
            # One version holds one item: a read of it is unexplained.
            findings.append(Finding(GARBAGE_READ, (rs[-1].tid,), item, {
                "item": label, "version": v, "read": thaw_value(rs[-1].value)}))
            note(f"version {show_version(v)} was read with different items (by {who}); "
                 "its reads give no wr edges")
        elif cs:
            note(f"version {show_version(v)} (read by {who}) may have been written by "
                 f"any of {', '.join(name(txns[w.tid]) for w in cs)}; its reads give no "
                 "wr edges")
        else:
            garbage.append((rs[0], next(iter(vals)) if vals else UNKNOWN, True))


def _made_by(w: ItemWrite, v: Any, rs: Iterable[ItemRead], work: ItemWork,
             inf: ItemInference) -> None:
    """``w`` made version ``v``, which the reads ``rs`` read (a clash when ``w`` was
    picked for another version already)."""
    if w.version is not MISSING:
        inf.clash = True  # picked for another version already
    w.version = v
    work.writer[v] = w
    for r in rs:
        r.vid, r.resolved, r.position = ("v", v), True, v


def _place_old_items(work: ItemWork, inf: ItemInference, pending_old: list[ItemRead]) -> None:
    """Old items returned: among the recorded versions, once they are known; an
    indeterminate write of no known version that may have made it would need a place
    of its own, so then the read is only a note."""
    txns = inf.txns
    note = partial(work.note, inf)
    for r in pending_old:
        if any(w.status == INFO and w.version is MISSING and w.tid != r.tid
               and fits(w.value, r.value) for w in work.live):
            note(f"{name(txns[r.tid])} returned the old item without a recorded version, "
                 "and an indeterminate write may have made it; no edges", incomplete=False)
        else:
            work.unrecorded.append(r)


def _explain_reads(work: ItemWork, inf: ItemInference,
                   garbage: list[tuple[ItemRead, Any, bool]]) -> None:
    """Reads nothing in the history explains: aborted reads (G1a) when only a failed
    write made the value, garbage reads of a recorded version no write can have made,
    else notes."""
    item, label, reads, live, failed = work.item, work.label, work.reads, work.live, \
        work.failed
    txns = inf.txns
    findings = inf.findings
    note = partial(work.note, inf)
    for r, value, recorded in garbage:
        culprits = [w for w in failed if fits(w.value, value) and w.tid != r.tid]
        # A write of unknown value may have made a version known only by its value.
        possible = [] if recorded else [w for w in live
                                         if unshown(w.value) and w.tid != r.tid]
        if culprits and not possible and (recorded or value is not ABSENT):
            findings.append(Finding("G1a", (r.tid, culprits[0].tid), item, {
                "item": label, "version": None if r.version is MISSING else r.version,
                "read": thaw_value(value)}))
            inf.complete = False
            for other in reads:
                if other.version is not MISSING and other.version == r.version:
                    other.position = MISSING  # an aborted version has no place
        elif recorded:
            # A recorded version no write of the history can have made: no
            # interpretation explains the read.
            findings.append(Finding(GARBAGE_READ, (r.tid,), item, {
                "item": label, "version": r.version, "read": thaw_value(value)}))
            inf.complete = False
            for other in reads:
                if other.version is not MISSING and other.version == r.version:
                    other.position = MISSING
        elif not culprits and not possible and not any(
                w.tid == r.tid and fits(w.value, value) for w in work.writes):
            # Every write's item is shown and none (committed, indeterminate or failed,
            # the reader's own aside) holds this one: no interpretation explains it.
            findings.append(Finding(GARBAGE_READ, (r.tid,), item, {
                "item": label, "version": None, "read": thaw_value(value),
                "unrecorded": True}))
            inf.complete = False
        else:
            shown = ("a version" if r.version is MISSING
                     else f"version {show_version(r.version)}")
            note(f"{name(txns[r.tid])} read {shown} holding {show_value(value)}, which no "
                 "write in the history is known to have produced; no edges")


def mark_members(works: Iterable[ItemWork], inf: ItemInference) -> None:
    """Indeterminate transactions whose writes another transaction read committed."""
    member = inf.graph.member
    for work in works:
        observed: dict[Vid, set[int]] = {}
        for r in work.reads:
            if r.resolved and r.vid is not None:
                observed.setdefault(r.vid, set()).add(r.tid)
        for w in work.live:
            if w.status == INFO and observed.get(w.vid, set()) - {w.tid}:
                member[w.tid] = True


def _most_plausible_first(cands_of: Mapping[Any, list[ItemWrite]],
                          unknown: Mapping[Any, list[ItemRead]], work: ItemWork,
                          txns: Sequence[Txn]) -> None:
    """Order each version's candidate writers, the first tried first: those invoked
    before the version was seen (by a read of it, or by a write of a later recorded
    version completing), latest invoked first; then the others."""
    for v, cs in cands_of.items():
        ends = [r.ret for r in unknown[v] if r.ret is not None]
        if work.ordered:
            try:
                later = [u for u in work.writer if u > v]
            except TypeError:
                later = []
            ends += [ret for u in later if (ret := txns[work.writer[u].tid].ret) is not None]
        bound = min(ends, default=None)
        cs.sort(key=lambda w: (bound is not None and w.call > bound, -w.call))


def _value_vid(w: ItemWrite, by_value: Mapping[Any, list[ItemWrite]]) -> Vid:
    if not unshown(w.value) and w.value is not ABSENT and len(by_value.get(w.value, [])) == 1:
        return ("=", w.value)
    return ("T", w.tid)
