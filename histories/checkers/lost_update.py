"""Lost updates on single keys (Elle's ``lost-update``).

Elle calls a *lost update* two committed transactions that read the same version of
a key and both wrote that key: whichever came second in a serial order would have
read the first one's write, so no serial (or linearizable) order exists, and one
write's effect is missing from the other's. On a single-item store the transactions
are read-modify-writes: a conditional put or delete, an update expression (``ADD n
:one``, ``SET v = :v`` keeps the item's other attributes), a write returning the old
item (``ALL_OLD``). :func:`find_lost_updates` reports:

A ``lost-update``
    two or more writes of key ``k`` that took effect (``ok``, not "applied nothing"),
    each a read-modify-write whose *read source* (the version it read before writing,
    :mod:`~replicheck.histories.checkers.write_order`: the store's ``meta["read"]``
    version metadata, else the old item it returned in ``meta["old"]``, or the value a
    ``cas`` expected, identified by its unique value) is known and the same: the same
    write's version, the same recorded version, or the initial state (the absent
    item, when no write of ``k`` can have written ``None``).

    When some ``ok`` read of ``k`` began after every one of them completed and returned
    the version one of them made (the first such read, in invocation order), the
    anomaly shows it too: that read shows one write's effect and not the others'
    (the seed's "a settled read shows only one"). ``shown_by_read`` keeps only the
    lost updates such a read shows.

What is NOT a lost update here: two blind writes (a put or delete without a
condition and without ``ALL_OLD``: it reads nothing) of which a later read shows only
one: last writer wins may order concurrent blind writes either way, as DynamoDB
does. A blind write acknowledged before another began yet overwritten by it later in
the store's order, or missing from reads that began after it completed, is a
``stale-read`` (:mod:`~replicheck.histories.checkers.stale_read`). A write whose read
source is unknown (no metadata, an ambiguous value) is never part of a lost update.

``ops`` are the writes (and the read, when shown), in the caller's operation ids;
``data``: ``key``, ``writes``, ``read_source`` (an op id, ``"initial"`` or the
version's text) and ``read`` (or None).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from replicheck.histories.checkers.sessions import show
from replicheck.histories.checkers.write_order import (
    KeyOps,
    SingleKeyView,
    describe_source,
    describe_write_op,
    precedes,
    renumbered,
)
from replicheck.histories.history import History, Operation
from replicheck.histories.verdict import Anomaly, Stats, Verdict
from replicheck.models import lattice

__all__ = ["LOST_UPDATE", "check_lost_updates", "find_lost_updates"]

LOST_UPDATE = "lost-update"
"""The anomaly's name (CONTRACTS.md section 4)."""


def find_lost_updates(history: History, *, shown_by_read: bool = False
                      ) -> tuple[Anomaly, ...]:
    """Every lost update of ``history`` (module docstring): one anomaly per key and
    version read by two or more writes, in order of their first write; with
    ``shown_by_read``, only those a later read shows."""
    work, ids = renumbered(history)
    view = SingleKeyView(work)
    found: list[Anomaly] = []
    for ops in view.keys.values():
        groups: dict[int | str, list[int]] = {}
        for write, source in sorted(ops.read_sources.items()):
            groups.setdefault(source, []).append(write)
        for source, writes in groups.items():
            if len(writes) > 1:
                anomaly = _anomaly(work, ops, source, writes, ids)
                if anomaly.data["read"] is not None or not shown_by_read:
                    found.append(anomaly)
    return tuple(sorted(found, key=lambda a: a.ops))


def _settled_read(history: History, ops: KeyOps, writes: Sequence[int]
                  ) -> Operation | None:
    """The first ``ok`` read that began after every write in ``writes`` completed and
    returned the version one of them made."""
    chosen = [history.operations[w] for w in writes]
    for read, source in sorted(ops.reads, key=lambda rs: rs[0].call):
        if source in writes and all(precedes(w, read) for w in chosen):
            return read
    return None


def _anomaly(history: History, ops: KeyOps, source: int | str, writes: list[int],
             ids: Sequence[int]) -> Anomaly:
    read = _settled_read(history, ops, writes)
    shown = [describe_write_op(history.operations[w], ids) for w in writes]
    both = "both" if len(writes) == 2 else f"all {len(writes)}"
    explanation = (
        f"lost update on key {show(history.operations[writes[0]].key)}: "
        f"{', '.join(shown[:-1])} and {shown[-1]} {both} read "
        f"{describe_source(history, source, ids)} and wrote the key, so "
        f"{'neither saw the other' if len(writes) == 2 else 'none saw another'}'s write: "
        "in any serial order the later would have read the earlier's version.")
    if read is not None:
        survivor = _source_of(ops, read)
        lost = [ids[w] for w in writes if w != survivor]
        explanation += (
            f" Op {ids[read.id]} ({read.f}), which began after they all completed, "
            f"returned the version op {ids[survivor]} made, without the write of op"
            f"{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))}.")
    involved = sorted(ids[w] for w in writes)
    if read is not None:
        involved.append(ids[read.id])
    return Anomaly(LOST_UPDATE, tuple(sorted(involved)), explanation, {
        "key": ops.key, "writes": [ids[w] for w in writes],
        "read_source": ids[source] if isinstance(source, int) else source,
        "read": None if read is None else ids[read.id]})


def _source_of(ops: KeyOps, read: Operation) -> int:
    """The write whose version ``read`` returned (it has one: it was chosen so)."""
    source = next(s for r, s in ops.reads if r.id == read.id)
    assert isinstance(source, int)
    return source


def check_lost_updates(history: History, *, shown_by_read: bool = False) -> Verdict:
    """:func:`find_lost_updates` as a Verdict (``model`` ``"lost-update"``): valid when
    none is found, False with each one found (``shown_by_read`` as there)."""
    started = time.perf_counter()
    anomalies = find_lost_updates(history, shown_by_read=shown_by_read)
    return Verdict(not anomalies, LOST_UPDATE, ("serializable",), anomalies,
                   ruled_out=lattice.ruled_out({LOST_UPDATE}) if anomalies else frozenset(),
                   counterexample=anomalies[0].to_json() if anomalies else None,
                   stats=Stats(len(history.operations), time.perf_counter() - started))

