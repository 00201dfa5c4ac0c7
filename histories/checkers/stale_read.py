"""Stale reads on single keys (the seed's and Jepsen's ``stale-read``).

:func:`find_stale_reads` reads a history of single-key operations as
:mod:`~replicheck.histories.checkers.write_order` does (which write each read
returned, by the store's versions when recorded, else by the value) and reports:

A ``stale-read``
    an ``ok`` read ``R`` of key ``k`` that returned the version made by ``S`` (a write
    of ``k``, or the initial state), while a write ``W`` of ``k`` that took effect
    (``ok``, not "applied nothing"), ``W`` not ``S``, completed before ``R`` began (real
    time: record order, or the operations' times), and ``S`` is known to come before
    ``W``: the initial state comes before every write; otherwise a chain of the known
    write order (``S`` completed before ``W`` began, ``W`` read ``S``'s version, or a
    read invoked before ``R`` that began after one write completed returned the
    other's version: of two reads that contradict each other, the later one is the
    stale one).

Every step of that chain holds in every linearization, and ``W`` precedes ``R``, so
``S`` cannot be the last write before ``R``: a history with a stale read is not
linearizable (the lattice: ``stale-read`` implies ``not-linearizable``). The converse
does not hold: a non-linearizable history may show no stale read (e.g. a condition
that evaluated against a state no order explains). Nothing is inferred from the
order of store versions alone (two concurrent writes may be linearized in either
order whatever their versions say); versions only name what a read returned.

Each stale read is one anomaly, with the nearest superseding write (the fewest steps
of evidence): ``ops`` the written-then-superseded write (when not the initial
state), the superseding write, the read, and any read the chain rests on, in the
caller's operation ids; ``data`` the ``key``, ``read``, ``write``, ``returned`` (the
source's op id, or ``"initial"``) and ``chain`` (each step's reason).

The search of one read is breadth-first over the key's writes: quadratic in the
writes of a key per source; :func:`check_stale_reads`'s ``timeout`` bounds the whole
check (the verdict is then ``"unknown"`` when nothing was found yet, never ``valid``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from replicheck.histories.checkers.sessions import show
from replicheck.histories.checkers.write_order import (
    INITIAL_SOURCE,
    Edge,
    KeyOps,
    SingleKeyView,
    WriteOrder,
    describe_edge,
    describe_source,
    describe_write_op,
    precedes,
    renumbered,
    took_effect,
)
from replicheck.histories.history import History, Operation
from replicheck.histories.verdict import Anomaly, Stats, Verdict
from replicheck.histories.wording import WORDS
from replicheck.models import lattice

__all__ = ["STALE_READ", "check_stale_reads", "find_stale_reads"]

STALE_READ = "stale-read"
"""The anomaly's name (CONTRACTS.md section 4)."""


def find_stale_reads(history: History) -> tuple[Anomaly, ...]:
    """Every stale read of ``history`` (module docstring), in read order."""
    return _search(history, None)[0]


def _search(history: History, deadline: float | None) -> tuple[tuple[Anomaly, ...], bool]:
    """The stale reads found before ``deadline`` (a ``time.monotonic()`` value), and
    whether the search finished."""
    work, ids = renumbered(history)
    view = SingleKeyView(work)
    found: list[Anomaly] = []
    complete = True
    for ops in view.keys.values():
        if not _stale_in_key(work, ops, WriteOrder(ops), ids, deadline, found):
            complete = False
            break
    return tuple(sorted(found, key=lambda a: a.data["read"])), complete


def _stale_in_key(history: History, ops: KeyOps, order: WriteOrder, ids: Sequence[int],
                  deadline: float | None, found: list[Anomaly]) -> bool:
    effective = [w for w in ops.writes if took_effect(w)]
    for read, source in ops.reads:
        if deadline is not None and time.monotonic() > deadline:
            return False
        before = {w.id: w for w in effective if w.id != source and precedes(w, read)}
        if not before:
            continue
        if source == INITIAL_SOURCE:
            newest = max(before.values(), key=lambda w: w.ret or 0)
            found.append(_anomaly(history, read, source, newest, [], ids, ops.key))
            continue
        try:
            chain = order.path(source, before, reads_before=read.call, deadline=deadline)
        except TimeoutError:
            return False
        if chain is None:
            continue
        last = chain[-1].after
        assert isinstance(last, int)
        found.append(_anomaly(history, read, source, before[last], chain, ids, ops.key))
    return True


def _anomaly(history: History, read: Operation, source: int | str, write: Operation,
             chain: list[Edge], ids: Sequence[int], key: str) -> Anomaly:
    returned = describe_source(history, source, ids)
    steps = [describe_edge(history, e, ids) for e in chain]
    why = ("every write comes after the initial state" if source == INITIAL_SOURCE
           else "; ".join(steps))
    explanation = (
        f"stale read: op {ids[read.id]} ({_read_words(read)}) began after "
        f"{describe_write_op(write, ids)} had completed, yet returned {returned}, which "
        f"that write superseded ({why}).")
    involved = {read.id, write.id}
    if isinstance(source, int):
        involved.add(source)
    for edge in chain:
        for end in (edge.before, edge.after):
            if isinstance(end, int):
                involved.add(end)
        if edge.via is not None:
            involved.add(edge.via)
    return Anomaly(STALE_READ, tuple(sorted(ids[i] for i in involved)), explanation, {
        "key": key, "read": ids[read.id], "write": ids[write.id],
        "returned": ids[source] if isinstance(source, int) else INITIAL_SOURCE,
        "chain": steps,
    })


def check_stale_reads(history: History, *, timeout: float | None = None) -> Verdict:
    """:func:`find_stale_reads` as a Verdict (``model`` ``"stale-read"``): valid when
    none is found, False with each one found; ``"unknown"`` (``limit`` ``"time"``)
    when ``timeout`` seconds ran out before any was found (False with those found
    when some were); a note says when the search ran out."""
    started = time.perf_counter()
    deadline = None if timeout is None else time.monotonic() + timeout
    anomalies, complete = _search(history, deadline)
    stats = Stats(len(history.operations), time.perf_counter() - started)
    ruled = lattice.ruled_out({STALE_READ}) if anomalies else frozenset()
    notes = () if complete else (f"the stale-read search ran out of its {timeout} s",)
    if not complete and not anomalies:
        return Verdict("unknown", STALE_READ, ("linearizable",), limit="time", stats=stats,
                       notes=notes)
    return Verdict(not anomalies, STALE_READ, ("linearizable",), anomalies,
                   ruled_out=ruled,
                   counterexample=min(anomalies, key=lambda a: len(a.ops)).to_json()
                   if anomalies else None, stats=stats, notes=notes)


def _read_words(read: Operation) -> str:
    """A read in an explanation: the request in DynamoDB's words when the view carries
    them (``meta["words"]``), else its function and key."""
    words = read.meta.get(WORDS)
    return words if isinstance(words, str) else f"{read.f} of key {show(read.key)}"
