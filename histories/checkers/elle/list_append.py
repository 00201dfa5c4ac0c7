"""Inference for list-append histories (Elle, Kingsbury & Alvaro, VLDB 2020, section 4).

Every append to a key adds a value no other append to that key uses, and every read
returns the whole list, so a read names the exact sequence of appends that produced it:
the *version order* of a key is recoverable from its longest read, of which every
other read must be a prefix.

What :func:`infer` finds, per key:

- ``duplicate-elements``: a read holding the same element twice (reads with
  duplicates take no part in the version order);
- ``incompatible-order``: a read that is not a prefix of the longest read, or a
  transaction's appends to the key found out of its program order in the key's order
  (or one found without an earlier one); the key's order is then unknown and gives no
  ``ww``/``rw`` edges;
- ``G1a`` (aborted read): a read holding an element appended by a failed transaction;
  when reads conflict only on such elements (or, that failing, also on those of
  indeterminate transactions, then aborted), the key's order is that of the elements
  left, every read taken as its elements left, and it gives edges as any other;
- ``G1b`` (intermediate read): a read ending with an element that its transaction
  followed by another append to the same key;
- ``dirty-update``: in the version order, an element of a failed transaction followed
  by one of a committed transaction;

per transaction (committed ones):

- ``internal``: a read inconsistent with the transaction's own earlier reads and
  appends of the key (after appending, a read must end with those appends; after a
  read, the next read must equal it plus the appends in between);
- ``future-read``: a read holding an element the same transaction appends later;
- ``lost-update``: two committed transactions that read the same version of a key
  (their first access to it) and both appended to it;

and the data edges of the dependency graph, from each key's version order ``L``:

- ``ww``: the writer of each element to the writer of the next (elements whose writer
  did not commit, or is unknown, are skipped: Adya's version order has committed
  versions only);
- ``wr``: from the writer of the last element of a read to the reader;
- ``rw``: from a reader to the writer of the next committed element after what it
  read;
- committed appends nobody read come after all of ``L`` (a read is a prefix of every
  later version): ``ww`` from the writer of the last element of ``L``, ``rw`` from the
  readers of all of ``L`` (Elle does the same).

Only *external* reads (a transaction's first access to the key is that read) yield
``wr`` and ``rw`` edges; later reads are checked by ``internal``. A transaction that
did not commit has no reads; an indeterminate (``info``) one becomes a node once one of
its appends is read.
"""

from __future__ import annotations

from collections.abc import Container, Hashable, Sequence
from typing import Any

from replicheck.histories.checkers.elle.graph import RW, WR, WW, DependencyGraph, check_deadline
from replicheck.histories.checkers.elle.inference import (
    Finding,
    Inference,
    KeyLayout,
    VersionOrder,
)
from replicheck.histories.checkers.elle.txn import LIST_APPEND, READ, Txn
from replicheck.histories.history import FAIL, INFO, OK

Read = tuple[int, list[Any]]
"""A committed read: the reading transaction and the list it read."""

_MISSING: Any = object()


def infer(txns: Sequence[Txn], *, deadline: float | None = None,
          out: Inference | None = None) -> Inference:
    """Infer version orders, non-cycle anomalies and the data edges of a list-append
    history's transactions. Fills ``out`` (a new :class:`Inference` by default) as it
    goes, so that a ``SearchTimeout`` past ``deadline`` leaves the findings so far."""
    graph = DependencyGraph(txns, LIST_APPEND)
    inf = out if out is not None else Inference(LIST_APPEND, graph.txns, graph)
    inf.txns, inf.graph = graph.txns, graph
    findings = inf.findings
    member = graph.member
    add = graph.edges.append

    appender: dict[Hashable, dict[Any, int]] = {}     # key -> element -> appending txn
    ambiguous: dict[Hashable, set[Any]] = {}         # elements appended more than once
    failed: dict[Hashable, set[Any]] = {}            # elements appended by failed txns
    intermediate: dict[Hashable, set[Any]] = {}      # elements followed by the same txn's
    reads: dict[Hashable, list[Read]] = {}            # committed reads: the states read
    ext: dict[Hashable, list[Read]] = {}              # committed external reads
    lost: list[tuple[int, Hashable, list[Any]]] = []  # read k then appended to k
    sequences: list[tuple[int, Hashable, list[Any]]] = []  # several appends to one key
    infos: list[Txn] = []

    for t in txns:
        ti, _, _, status, mops, _, _ = t
        ok = status == OK
        first: dict[Hashable, str] = {}
        own: dict[Hashable, list[Any]] = {}  # the transaction's appends so far
        multi = False
        for f, k, v in mops:
            if f == READ:
                if not ok:
                    continue
                # Every read shows a version of the key followed by the transaction's
                # own appends to it so far: when it ends with them, the rest is the
                # version read; otherwise (internal) the whole list is.
                if k in first:
                    multi = True
                else:
                    first[k] = READ
                since = own.get(k)
                m = len(v) - len(since) if since else len(v)
                cut = since and m >= 0 and v[m:] == since and len(set(v)) == len(v)
                state = (ti, v[:m] if cut else v)  # a repeated element: whole, reported
                _add(reads, k, state)
                _add(ext, k, state)
            else:
                d = appender.get(k)
                if d is None:
                    appender[k] = {v: ti}
                elif v in d:
                    ambiguous.setdefault(k, set()).add(v)
                else:
                    d[v] = ti
                if status == FAIL:
                    failed.setdefault(k, set()).add(v)
                own.setdefault(k, []).append(v)
                if k in first:
                    multi = True
                else:
                    first[k] = f
        if multi:
            _within(t, ok, intermediate, lost, findings, sequences)
        if status == INFO and first:
            infos.append(t)
        if not ti & 0xFFF:
            check_deadline(deadline)

    for k, dups in ambiguous.items():
        inf.notes.append(f"key {k!r}: {len(dups)} value(s) appended more than once "
                         f"(e.g. {next(iter(dups))!r}); their writers are unknown and "
                         "give no edges")
        inf.complete = False

    # The version order of each key: the longest read without duplicates.
    orders: dict[Hashable, list[Any]] = {}
    conflicting: dict[Hashable, list[Read]] = {}  # keys without an order: maximal reads
    longest_reader: dict[Hashable, int] = {}
    positions: dict[Hashable, set[Any]] = {}
    observed: dict[Hashable, Container[Any]] = {}
    dup_reads: set[int] = set()  # ids of the lists read that hold duplicates
    dup_keys: dict[Hashable, bool] = {}  # keys with such reads
    # keys whose reads conflict only on uncommitted elements: id of each list read ->
    # its committed elements (the order and the edges are taken from those)
    projected: dict[Hashable, dict[int, list[Any]]] = {}
    for k, rl in reads.items():
        longest = _longest(rl)
        order = longest[1]
        if len(set(order)) != len(order):
            dup_keys[k] = True
            clean: list[Read] = []
            for read in rl:
                if _duplicates(read, k, findings, dup_reads):
                    continue
                clean.append(read)
            rl = clean
            if not rl:
                observed[k] = {e for _, r in reads[k] for e in r}
                continue
            longest = _longest(rl)
            order = longest[1]
        n = len(order)
        conflict: Read | None = None
        for read in rl:
            r = read[1]
            m = len(r)
            if m == n:
                fits = r == order
            elif m:
                fits = r[-1] == order[m - 1] and r == order[:m]
            else:
                fits = True
            if not fits:
                if _duplicates(read, k, findings, dup_reads):
                    dup_keys[k] = True
                elif conflict is None:
                    conflict = read
        if conflict is not None:
            # Only the committed elements of a read must be a prefix of the order: a
            # conflict that elements of failed (or indeterminate, then aborted)
            # transactions make is an aborted read, not an unexplainable one, and the
            # committed elements still give the key's order, edges and all.
            who_k = appender.get(k, {})
            ok_only = _compatible(rl, who_k, txns)
            if ok_only is None:
                findings.append(Finding("incompatible-order", (conflict[0], longest[0]),
                                        k, {"reads": [conflict[1], order]}))
                observed[k] = {e for _, r in rl for e in r}
                conflicting[k] = _maximal(rl)
                continue
            findings.append(Finding("G1a", (ok_only[0], who_k[ok_only[1]]), k,
                                    {"read": ok_only[2], "elements": [ok_only[1]]}))
            clean_rl = [read for read in rl if id(read[1]) not in dup_reads]
            kept = [(ti, _committed_part(r, who_k, txns, ok_only[3])) for ti, r in clean_rl]
            longest = _longest(kept)
            order = longest[1]
            ext[k] = kept
            projected[k] = {id(r): c for (_, r), (_, c) in zip(clean_rl, kept, strict=True)}
        orders[k] = order
        longest_reader[k] = longest[0]
        positions[k] = elements = set(order)
        observed[k] = elements
        inf.versions[k] = VersionOrder(k, tuple(order), total=True)

    # A transaction's appends to a key are in its program order: in the key's order
    # they must come in that order, and one seen means the earlier ones are there too
    # (an indeterminate transaction shown otherwise did not commit).
    uncommitted: set[int] = set()
    for ti, k, seq in sequences:
        known = orders.get(k)
        if known is None or txns[ti].status == FAIL:
            continue
        elements = positions[k]
        if not any(a in elements for a in seq):
            continue
        index = {e: i for i, e in enumerate(known)}
        last, missing, reversed_ = -1, False, False
        for a in seq:
            p = index.get(a)
            if p is None:
                missing = True
            elif missing or p < last:
                reversed_ = True
                break
            else:
                last = p
        if reversed_ and txns[ti].status == INFO:
            # Its appends cannot be installed out of its own order: it did not commit,
            # and the read shows an aborted write.
            reader = _longest(reads[k])[0]
            shown = [a for a in seq if a in elements]
            findings.append(Finding("G1a", (reader, ti), k,
                                    {"read": known, "elements": shown,
                                     "indeterminate": True}))
            uncommitted.add(ti)
        elif reversed_:
            reader = _longest(reads[k])[0]
            findings.append(Finding("incompatible-order", (ti, reader), k,
                                    {"appended": seq, "read": known}))
            del orders[k]
            del inf.versions[k]
    check_deadline(deadline)

    # An indeterminate transaction committed if one of its appends was read.
    for t in infos:
        if t.tid in uncommitted:
            continue
        for f, k, v in t.mops:
            if f != READ and v in observed.get(k, ()):
                member[t.tid] = True
                break

    # Aborted and intermediate reads, over every committed read (an element appended
    # more than once has no known writer and is left out).
    # A read that fits the key's order holds a failed element exactly when it is longer
    # than the element's position in the order; other reads are scanned.
    for k, fs in failed.items():
        who = appender[k]
        amb = ambiguous.get(k, set())
        order_k = None if k in projected else orders.get(k)
        fpos = ([] if order_k is None else
                [i for i, e in enumerate(order_k) if e in fs and e not in amb])
        if order_k is not None and not fpos and not dup_keys.get(k):
            continue
        for ti, r in reads.get(k, ()):
            if order_k is not None and id(r) not in dup_reads:
                if not fpos or len(r) <= fpos[0]:
                    continue
                bad = [order_k[i] for i in fpos if i < len(r)]
            else:
                bad = [e for e in r if e in fs and e not in amb]
            if bad:
                findings.append(Finding("G1a", (ti, who[bad[0]]), k,
                                        {"read": r, "elements": bad}))
    for k, im in intermediate.items():
        who = appender[k]
        amb = ambiguous.get(k, set())
        for ti, r in reads.get(k, ()):
            if r and r[-1] in im and r[-1] not in amb:
                w = who[r[-1]]
                if w != ti:
                    findings.append(Finding("G1b", (ti, w), k,
                                            {"read": r, "element": r[-1]}))

    # Keys without a version order still give wr edges: a read ending with an element
    # was preceded by the append of that element. Incompatible reads still agree on
    # some orders: an element before another in every maximal read gives a ww edge (a
    # path of ww edges in any order one of them shows), so a cycle present whichever
    # of them is right is found too, besides the incompatible order.
    for k, rl in ext.items():
        if k in orders:
            continue
        who = appender.get(k, {})
        amb = ambiguous.get(k, set())
        for ti, r in rl:
            if r and r[-1] not in amb:
                w = who.get(r[-1], -1)
                if w >= 0 and w != ti and member[w]:
                    add((w, ti, WR, k, r[-1], r))
    for k, maximal in conflicting.items():
        who = appender.get(k, {})
        amb = ambiguous.get(k, set())
        for a, b in _agreed(maximal):
            wa, wb = who.get(a, -1), who.get(b, -1)
            if a in amb or b in amb or wa < 0 or wb < 0 or wa == wb:
                continue
            if member[wa] and member[wb]:
                add((wa, wb, WW, k, a, b))
    # Elements nobody appended: no interpretation explains such a read.
    for k, rl in reads.items():
        who = appender.get(k, {})
        pool = [(longest_reader[k], orders[k])] if k in orders else rl
        for ti, r in pool:
            ghost = [e for e in r if e not in who]
            if ghost:
                findings.append(Finding("garbage-read", (ti,), k,
                                        {"read": r, "elements": ghost}))
                break

    # Edges and dirty updates, key by key.
    txn_status = [t.status for t in txns]
    for k, order in orders.items():
        who = appender.get(k, {})
        amb_k = ambiguous.get(k)
        owners = [who.get(e, -1) for e in order]
        if amb_k:
            owners = [-1 if e in amb_k else w for e, w in zip(order, owners, strict=True)]
        if -1 in owners:
            unknown = [e for e, w in zip(order, owners, strict=True) if w < 0]
            if not amb_k or any(e not in amb_k for e in unknown):
                inf.notes.append(f"key {k!r}: read element(s) no transaction appended "
                                 f"(e.g. {unknown[0]!r}); they give no edges")
                inf.complete = False
        n = len(order)
        # ww along the order, and the next committed element from each position.
        nxt = [-1] * (n + 1)
        last = -1
        last_v: Any = None
        dirty_from = -1
        for i, w in enumerate(owners):
            if w < 0:
                continue
            st = txn_status[w]
            if st == FAIL:
                if dirty_from < 0:
                    dirty_from = i
                continue
            if st == OK and dirty_from >= 0:
                findings.append(Finding("dirty-update", (owners[dirty_from], w), k,
                                        {"values": order[dirty_from:i + 1]}))
                dirty_from = -1
            if not member[w]:
                continue
            if last >= 0 and last != w:
                add((last, w, WW, k, last_v, order[i]))
            last = w
            last_v = order[i]
        j = -1
        for i in range(n - 1, -1, -1):
            w = owners[i]
            if w >= 0 and member[w]:
                j = i
            nxt[i] = j
        # wr and rw from external reads.
        full: list[Read] = []
        prefixes: list[tuple[int, int]] = []
        for ti, r in ext.get(k, ()):
            m = len(r)
            if m > n or id(r) in dup_reads:
                continue  # a read with duplicates is no state of the key
            prefixes.append((ti, m))
            if m:
                w = owners[m - 1]
                if w >= 0 and w != ti and member[w]:
                    add((w, ti, WR, k, r[-1], r))
            j = nxt[m]
            if j >= 0:
                w = owners[j]
                if w != ti:
                    add((ti, w, RW, k, r, order[j]))
            else:
                full.append((ti, r))
        # Committed appends nobody read come after the whole order.
        done: set[int] = set()
        inf.layouts[k] = KeyLayout(tuple(w if w >= 0 and member[w] else -1 for w in owners),
                                   tuple(prefixes), ())
        if len(who) > n - owners.count(-1):
            pos = positions[k]
            for v, ti in who.items():
                if v in pos or ti in done or not member[ti]:
                    continue
                done.add(ti)
                if last >= 0 and last != ti:
                    add((last, ti, WW, k, last_v, v))
                for rt, rr in full:
                    if rt != ti:
                        add((rt, ti, RW, k, rr, v))
        if done:
            inf.layouts[k] = KeyLayout(inf.layouts[k].owners, tuple(prefixes),
                                       tuple(sorted(done)))
    for k, who in appender.items():
        if k not in reads:
            mine = tuple(sorted({w for w in who.values() if member[w]}))
            if mine:
                inf.layouts[k] = KeyLayout((), (), mine)
    check_deadline(deadline)

    # Lost updates: committed transactions that read the same version and appended.
    groups: dict[tuple[Hashable, Any], tuple[list[int], list[Any]]] = {}
    for ti, k, r in lost:
        # A read that fits the key's order is named by its length (of its committed
        # elements, when aborted ones are left out of the order).
        part = projected.get(k, {}).get(id(r), r)
        ident: Any = len(part) if k in orders and id(r) not in dup_reads else tuple(r)
        group = groups.get((k, ident))
        if group is None:
            groups[(k, ident)] = ([ti], r)
        else:
            group[0].append(ti)
    for (k, _), (tis, seen) in groups.items():
        if len(tis) > 1:
            findings.append(Finding("lost-update", tuple(tis), k, {"read": seen}))
    return inf


def _duplicates(read: Read, key: Hashable, findings: list[Finding], seen_ids: set[int]
                ) -> bool:
    """Report ``read`` as ``duplicate-elements`` if it holds an element twice (once:
    ``seen_ids`` keeps the ids of the lists reported)."""
    r = read[1]
    if id(r) in seen_ids:
        return True
    if len(set(r)) == len(r):
        return False
    seen_ids.add(id(r))
    seen: set[Any] = set()
    dups: list[Any] = []
    for e in r:
        if e in seen and e not in dups:
            dups.append(e)
        seen.add(e)
    findings.append(Finding("duplicate-elements", (read[0],), key,
                            {"read": r, "duplicates": dups}))
    return True


def _compatible(reads: list[Read], who: dict[Any, int], txns: Sequence[Txn]
                ) -> tuple[int, Any, list[Any], frozenset[str]] | None:
    """When the reads' elements that may have committed are each a prefix of the
    longest such sequence: a read holding an element that did not (reader, element,
    list), which the reads then show as an aborted write, and the statuses of the
    elements kept; else None. Elements of failed transactions are left out first, and
    only if that is not enough those of indeterminate ones too (then aborted)."""
    for keep in (_MAYBE, _COMMITTED):
        kept = [_committed_part(r, who, txns, keep) for _, r in reads]
        longest = max(kept, key=len, default=[])
        if all(s == longest[:len(s)] for s in kept):
            break
    else:
        return None
    for failed in (True, False):  # a failed transaction's element first: surely aborted
        for ti, r in reads:
            for e in r:
                status = txns[who[e]].status if e in who else OK
                if status not in keep and (status == FAIL) == failed:
                    return ti, e, r, keep
    return None  # pragma: no cover - the full lists conflicted, so one drops something


_COMMITTED: frozenset[str] = frozenset({OK})
_MAYBE: frozenset[str] = frozenset({OK, INFO})


def _committed_part(read: list[Any], who: dict[Any, int], txns: Sequence[Txn],
                    keep: frozenset[str]) -> list[Any]:
    """The elements of ``read`` appended by transactions of a status in ``keep`` or by
    nobody known: what a version order must hold as a prefix."""
    return [e for e in read if e not in who or txns[who[e]].status in keep]


def _add(index: dict[Hashable, list[Read]], k: Hashable, read: Read) -> None:
    rl = index.get(k)
    if rl is None:
        index[k] = [read]
    else:
        rl.append(read)


def _maximal(reads: list[Read]) -> list[Read]:
    """The reads no other read extends (distinct lists, each not a prefix of another)."""
    out: list[Read] = []
    for read in sorted(reads, key=lambda rd: -len(rd[1])):
        r = read[1]
        if not any(len(o) >= len(r) and o[:len(r)] == r for _, o in out):
            out.append(read)
    return out


def _agreed(maximal: list[Read]) -> list[tuple[Any, Any]]:
    """Pairs ``(a, b)`` of elements every one of ``maximal`` holds, ``a`` before ``b`` in
    all of them: consecutive such elements of the first read (a chain, enough for
    reachability along it)."""
    if not maximal:
        return []
    positions = [{e: i for i, e in enumerate(r)} for _, r in maximal]
    common = [e for e in maximal[0][1] if all(e in p for p in positions)]
    out: list[tuple[Any, Any]] = []
    for i, a in enumerate(common):
        for b in common[i + 1:]:
            if all(p[a] < p[b] for p in positions):
                out.append((a, b))
                break
    return out


def _longest(reads: list[Read]) -> Read:
    lengths = [len(r) for _, r in reads]
    return reads[lengths.index(max(lengths))]


def _within(t: Txn, ok: bool, intermediate: dict[Hashable, set[Any]],
            lost: list[tuple[int, Hashable, list[Any]]], findings: list[Finding],
            sequences: list[tuple[int, Hashable, list[Any]]]) -> None:
    """Checks of one transaction that touches a key more than once: intermediate
    appends and sequences of appends to one key, and (committed) internal
    consistency, future reads and lost-update candidates."""
    appended: dict[Hashable, list[Any]] = {}
    last_append: dict[Hashable, Any] = {}
    first: dict[Hashable, tuple[str, Any]] = {}
    # key -> (known: the whole list is known, else only its suffix), expected list
    state: dict[Hashable, tuple[bool, list[Any]]] = {}
    seen: dict[Hashable, list[list[Any]]] = {}
    internal_done = False
    future: set[tuple[Hashable, Any]] = set()
    lost_keys: set[Hashable] = set()
    candidates: list[tuple[int, Hashable, list[Any]]] = []
    for i, (f, k, v) in enumerate(t.mops):
        if f == READ:
            if not ok:
                continue
            first.setdefault(k, (f, v))
            s = state.get(k)
            if s is not None and not internal_done:
                known, expected = s
                if known:
                    bad = v != expected
                else:
                    m = len(expected)
                    bad = len(v) < m or v[len(v) - m:] != expected
                if bad:
                    findings.append(Finding("internal", (t.tid,), k, {
                        "mop": i, "read": v, "expected": expected, "whole": known}))
                    internal_done = True
            state[k] = (True, list(v))
            seen.setdefault(k, []).append(v)
        else:
            prev = last_append.get(k, _MISSING)
            if prev is not _MISSING:
                intermediate.setdefault(k, set()).add(prev)
            last_append[k] = v
            appended.setdefault(k, []).append(v)
            if not ok:
                continue
            fa = first.setdefault(k, (f, v))
            if fa[0] == READ and k not in lost_keys:
                lost_keys.add(k)
                candidates.append((t.tid, k, fa[1]))
            for r in seen.get(k, ()):
                if v in r and (k, v) not in future:
                    future.add((k, v))
                    findings.append(Finding("future-read", (t.tid,), k,
                                            {"read": r, "element": v, "mop": i}))
            s = state.get(k)
            if s is None:
                state[k] = (False, [v])
            else:
                state[k] = (s[0], [*s[1], v])
    sequences.extend((t.tid, k, seq) for k, seq in appended.items() if len(seq) > 1)
    # A first read showing one of the transaction's own appends (a future read) is no
    # version before its appends: no lost update.
    lost.extend((ti, k, r) for ti, k, r in candidates
                if not any(v in r for v in appended[k]))
