"""What a single-key history proves about the order of each key's writes.

The ``stale-read`` and ``lost-update`` detectors
(:mod:`~replicheck.histories.checkers.stale_read`,
:mod:`~replicheck.histories.checkers.lost_update`) share this module's reading of a
history: which write each read returned, which version a read-modify-write read, and
which write must come before which in *every* linearization.

Operations read
    The single-key vocabulary of :mod:`~replicheck.histories.checkers.sessions`:
    reads (``read``, ``get``), writes (``write``, ``put``, ``update``, ``cas``) and
    deletes (``delete``), keyed by ``Operation.key``. A write *took effect* when it is
    ``ok`` and did not say it applied nothing (``meta["applied"]`` false). Any other
    operation that names keys it may write (a ``transact-write`` with
    ``meta["writes"]``) makes the absent item of those keys ambiguous; one that does
    not say which keys it wrote makes it ambiguous for every key.

What a read returned (its *source*)
    Through :class:`~replicheck.histories.checkers.sessions.Catalog`: by the store's
    version metadata when recorded (``meta["version"]``, ``clock``, ``dot``), else by
    the value, which must be unique among the key's writes (and no write of unknown
    value may have made it). ``None`` (the absent item) is the initial state when the
    read's metadata says no write (``"version": null``) or when no write of the key
    (not failed) can have written ``None``: a delete, a write of ``None``, a write of
    unknown value unless its ``meta["present"]`` is true (an item update never deletes
    the item). A read returning several siblings, or a value nobody or several writes
    wrote, has no source.

What a read-modify-write read (its *read source*)
    ``meta["read"]``: the store's version metadata of the state the write read before
    writing (a read's forms: ``{"version": V}``, ``{"version": null}``, ...), or
    ``meta["old"]``: the old item it returned (``ALL_OLD``), identified like a read's
    value; for a ``cas`` that took effect, the value it expected (it found it). Any
    other write is blind, as far as the history shows.

Real time (:func:`precedes`)
    ``a`` precedes ``b`` when ``a`` completed before ``b`` was invoked: ``a``'s
    completion record comes before ``b``'s invocation record, or both carry times
    (``ret_time``, ``call_time``; simulated or wall clock) and ``a``'s completion time
    is strictly below ``b``'s invocation time.

The known order of writes (:class:`WriteOrder`), an edge ``a -> b`` meaning ``a``
comes before ``b`` in every linearization of the key's operations:

- ``real-time``: ``a`` took effect and precedes ``b``;
- ``read-by``: ``b`` read the version ``a`` made (``b``'s read source is ``a``);
- ``read-shows``: a read ``r`` returned ``b``'s version although ``a`` (another write
  that took effect) completed before ``r`` began: ``b`` is the last write before ``r``,
  so ``a`` comes before it;
- the initial state comes before every write.

Each edge holds in every linearization, so a path does too.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from replicheck.histories.checkers.sessions import (
    CAS_FUNCTIONS,
    INITIAL,
    Catalog,
    InitialVersion,
    MetadataError,
    applied,
    canonical_key,
    has_version,
    op_kind,
    parse_version,
    show,
    version_id,
    written_value,
)
from replicheck.histories.history import History, Operation
from replicheck.histories.wording import WORDS

__all__ = [
    "INITIAL_SOURCE",
    "Edge",
    "KeyOps",
    "SingleKeyView",
    "WriteOrder",
    "precedes",
    "renumbered",
]

INITIAL_SOURCE: Final = "initial"
"""The source of a read that returned the initial state (no write)."""

Source = int | str
"""A write's id (in the renumbered history), or :data:`INITIAL_SOURCE`."""

REAL_TIME: Final = "real-time"
READ_BY: Final = "read-by"
READ_SHOWS: Final = "read-shows"


def precedes(a: Operation, b: Operation) -> bool:
    """True when ``a`` completed before ``b`` was invoked (see the module docstring)."""
    if a.ret is None:
        return False
    if a.ret < b.call:
        return True
    return a.ret_time is not None and b.call_time is not None and a.ret_time < b.call_time


def renumbered(history: History) -> tuple[History, tuple[int, ...]]:
    """``history`` with its operations numbered by position, and the original id of
    each position (the detectors answer in the caller's ids)."""
    ids = tuple(op.id for op in history.operations)
    if all(op.id == i for i, op in enumerate(history.operations)):
        return history, ids
    return replace(history, operations=tuple(replace(op, id=i) for i, op in
                                             enumerate(history.operations))), ids


def took_effect(op: Operation) -> bool:
    """An ``ok`` write that did not say it applied nothing."""
    return op.ok and op_kind(op) == "write" and applied(op)


@dataclass(frozen=True)
class Edge:
    """``before`` comes before ``after`` in every linearization, for the ``reason``
    (``real-time``, ``read-by`` or ``read-shows``), shown by the operation ``via``
    (the read, for ``read-shows``)."""

    before: Source
    after: Source
    reason: str
    via: int | None = None


@dataclass
class KeyOps:
    """One key's operations: its writes (every write not failed), the ``ok`` reads
    with their source, and the read-modify-writes that took effect with their read
    source."""

    key: str
    writes: list[Operation]
    reads: list[tuple[Operation, Source]]
    read_sources: dict[int, Source]


class SingleKeyView:
    """A history's single-key operations grouped by key, each read's source and each
    read-modify-write's read source resolved (see the module docstring)."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.catalog = Catalog(history)
        self._ambiguous_absence = _foreign_keys(history)
        self._may_delete = {canonical_key(op.key) for op in history.operations
                            if op_kind(op) == "write" and not op.failed
                            and _may_write_absent(op)}
        self.keys: dict[str, KeyOps] = {}
        for op in history.operations:
            kind = op_kind(op)
            if kind is None:
                continue
            key = canonical_key(op.key)
            ops = self.keys.setdefault(key, KeyOps(key, [], [], {}))
            if kind == "write":
                if op.failed:
                    continue
                ops.writes.append(op)
                if took_effect(op):
                    source = self.read_source(op)
                    if source is not None:
                        ops.read_sources[op.id] = source
            elif op.ok:
                found = self.source(op)
                if found is not None:
                    ops.reads.append((op, found))

    def _absent_is_initial(self, key: str) -> bool:
        foreign = self._ambiguous_absence
        return (not isinstance(foreign, bool) and key not in foreign
                and key not in self._may_delete)

    def source(self, read: Operation) -> Source | None:
        """The write whose version ``read`` returned (its id), :data:`INITIAL_SOURCE`,
        or None when the history does not say."""
        key = canonical_key(read.key)
        if read.output is None and not has_version(read.meta) and "siblings" not in read.meta:
            return INITIAL_SOURCE if self._absent_is_initial(key) else None
        observed = self.catalog.observe(read)
        if observed.versions is None or len(observed.versions) > 1:
            return None
        if len(observed.sources) == 1:
            return next(iter(observed.sources))
        if observed.versions in ((), (INITIAL,)) and not observed.sources:
            if "siblings" in read.meta:
                return None
            if read.output is None and (_explicit_initial(read.meta)
                                        or self._absent_is_initial(key)):
                return INITIAL_SOURCE
        return None

    def read_source(self, write: Operation) -> Source | None:
        """The version the read-modify-write ``write`` read before writing: the write
        that made it (its id), :data:`INITIAL_SOURCE`, or None (blind, or not
        known)."""
        key = canonical_key(write.key)
        meta = write.meta
        if isinstance(meta.get("read"), Mapping):
            try:
                version = parse_version(meta["read"])
            except MetadataError:
                version = None
            if isinstance(version, InitialVersion):
                return INITIAL_SOURCE if "siblings" not in meta["read"] else None
            if version is not None:
                writer = self.catalog.writer_of(key, version)
                if writer is not None:
                    return writer
                name = version_id(version)
                return None if name is None else f"version {show(name)}"
        if "old" in meta:
            return self._by_value(key, meta["old"])
        if write.f in CAS_FUNCTIONS and isinstance(write.input, list | tuple) \
                and len(write.input) == 2:
            return self._by_value(key, write.input[0])  # it found what it expected
        return None

    def _by_value(self, key: str, value: Any) -> Source | None:
        """The write of ``key`` that wrote ``value`` (unique), or the initial state for
        ``None`` when no write can have written ``None``."""
        if value is None:
            return INITIAL_SOURCE if self._absent_is_initial(key) else None
        found = self.catalog.identify(key, value)
        return found if isinstance(found, int) else None


def _may_write_absent(write: Operation) -> bool:
    """The write (not failed) may have left its key absent: a delete, a write of
    ``None``, or a write of unknown value that does not say ``meta["present"]``."""
    known, value = written_value(write)
    if known:
        return value is None
    return write.meta.get("present") is not True


def _explicit_initial(meta: Mapping[str, Any]) -> bool:
    """The read's metadata says it found no write (``"version": null``, an empty
    clock)."""
    try:
        return isinstance(parse_version(meta), InitialVersion)
    except MetadataError:
        return False


def _foreign_keys(history: History) -> set[str] | bool:
    """The keys that operations outside the single-key vocabulary may have written
    (True: any key), so that the absent item there names no particular state."""
    keys: set[str] = set()
    for op in history.operations:
        if op_kind(op) is not None or op.failed or op.f in _READ_ONLY:
            continue
        writes = op.meta.get("writes")
        if not isinstance(writes, list | tuple):
            return True
        for entry in writes:
            key = entry.get("key") if isinstance(entry, Mapping) else None
            if isinstance(key, Mapping):
                key = list(key.values()) if len(key) == 1 else None
            if key is None:
                return True
            keys.add(canonical_key(key))
    return keys


_READ_ONLY: Final = frozenset({"transact-get", "get-strong", "get-eventual"})


class WriteOrder:
    """The known order of one key's writes (edges of the module docstring), searched
    on demand."""

    def __init__(self, ops: KeyOps) -> None:
        self.ops = ops
        self.by_id = {w.id: w for w in ops.writes}
        self.effective = [w for w in ops.writes if took_effect(w)]
        self._read_by: dict[int, list[int]] = {}
        for other, source in sorted(ops.read_sources.items()):
            if isinstance(source, int) and source != other:
                self._read_by.setdefault(source, []).append(other)
        shown = [(r, s) for r, s in ops.reads if isinstance(s, int)]
        self._writes_by_call = sorted(((w.call, w) for w in ops.writes),
                                      key=lambda cw: cw[0])
        self._reads_by_call = sorted(((r.call, r, s) for r, s in shown),
                                     key=lambda crs: crs[0])
        self._writes_by_time = sorted(((w.call_time, w) for w in ops.writes
                                       if w.call_time is not None), key=lambda cw: cw[0])
        self._reads_by_time = sorted(((r.call_time, r, s) for r, s in shown
                                      if r.call_time is not None), key=lambda crs: crs[0])

    def successors(self, node: Source, reads_before: int | None = None) -> Iterator[Edge]:
        """The edges leaving ``node`` (``read-shows`` edges only through reads invoked
        before the record index ``reads_before``, when given)."""
        if node == INITIAL_SOURCE:
            return
        assert isinstance(node, int)
        write = self.by_id.get(node)
        if write is None or not took_effect(write):
            return
        for other in self.ops.writes:
            if other.id != node and precedes(write, other):
                yield Edge(node, other.id, REAL_TIME)
        for other_id, source in self.ops.read_sources.items():
            if source == node and other_id != node:
                yield Edge(node, other_id, READ_BY)
        for read, source in self.ops.reads:
            if (isinstance(source, int) and source != node and precedes(write, read)
                    and (reads_before is None or read.call < reads_before)):
                yield Edge(node, source, READ_SHOWS, read.id)

    def path(self, start: Source, goals: Mapping[int, Any], reads_before: int | None = None,
             deadline: float | None = None) -> list[Edge] | None:
        """A path of edges from ``start`` to one of ``goals`` (write ids), or None when
        there is none (exactly when :meth:`path_by_edges` finds none; ``reads_before``
        as for :meth:`successors`). TimeoutError when the ``deadline`` (a
        ``time.monotonic()`` value) passes first.

        Linear in the key's operations: the ``real-time`` and ``read-shows`` edges
        leaving a set of writes are those leaving its write that completed first (by
        record index, and by time), so the search keeps those two and takes in the
        writes invoked, and the writes shown by reads invoked, after each."""
        if isinstance(start, int) and start in goals:
            return []
        parent: dict[Source, Edge] = {}
        seen: set[Source] = {start}
        queue: deque[Source] = deque([start])
        by_index = _Frontier(self._writes_by_call, self._reads_by_call, index=True)
        by_time = _Frontier(self._writes_by_time, self._reads_by_time, index=False)
        while queue:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the search of the write order ran out of time")
            node = queue.popleft()
            if node == INITIAL_SOURCE:
                continue
            assert isinstance(node, int)
            write = self.by_id.get(node)
            if write is None or not took_effect(write):
                continue
            found: list[Edge] = [Edge(node, other, READ_BY)
                                 for other in self._read_by.get(node, ())]
            for frontier in (by_index, by_time):
                found += frontier.lower(write, reads_before)
            for edge in found:
                if edge.after in seen:
                    continue
                seen.add(edge.after)
                parent[edge.after] = edge
                if isinstance(edge.after, int) and edge.after in goals:
                    return _walk_back(parent, start, edge.after)
                queue.append(edge.after)
        return None

    def path_by_edges(self, start: Source, goals: Mapping[int, Any],
                      reads_before: int | None = None, deadline: float | None = None
                      ) -> list[Edge] | None:
        """The shortest path of :meth:`successors` edges from ``start`` to one of
        ``goals`` (write ids), or None: the definition :meth:`path` computes faster
        (quadratic in the key's operations per search). TimeoutError when the
        ``deadline`` (a ``time.monotonic()`` value) passes first."""
        if isinstance(start, int) and start in goals:
            return []
        parent: dict[Source, Edge] = {}
        seen: set[Source] = {start}
        queue: deque[Source] = deque([start])
        while queue:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the search of the write order ran out of time")
            node = queue.popleft()
            for edge in self.successors(node, reads_before):
                if edge.after in seen:
                    continue
                seen.add(edge.after)
                parent[edge.after] = edge
                if isinstance(edge.after, int) and edge.after in goals:
                    return _walk_back(parent, start, edge.after)
                queue.append(edge.after)
        return None


def _walk_back(parent: Mapping[Source, Edge], start: Source, end: Source) -> list[Edge]:
    """The edges from ``start`` to ``end`` a search recorded (each node's ``parent``)."""
    found: list[Edge] = []
    at = end
    while at != start:
        step = parent[at]
        found.append(step)
        at = step.before
    return found[::-1]


class _Frontier:
    """The ``real-time`` and ``read-shows`` edges leaving the writes a search has
    visited, by one clock (record indexes, or times): those of the visited write that
    completed first. The writes and reads are sorted by invocation on that clock and
    taken in from the latest down as that write's completion moves earlier, so each is
    taken once per search."""

    def __init__(self, writes: Sequence[tuple[Any, Operation]],
                 reads: Sequence[tuple[Any, Operation, Source]], *, index: bool) -> None:
        self.writes, self.reads, self.index = writes, reads, index
        self.next_write, self.next_read = len(writes), len(reads)
        self.first: Operation | None = None

    def _ret(self, op: Operation) -> Any:
        return op.ret if self.index else op.ret_time

    def lower(self, write: Operation, reads_before: int | None) -> list[Edge]:
        """The new edges once ``write`` (visited, took effect) is visited."""
        ret = self._ret(write)
        if ret is None or (self.first is not None and self._ret(self.first) <= ret):
            return []
        self.first = write
        edges = []
        while self.next_write and self.writes[self.next_write - 1][0] > ret:
            self.next_write -= 1
            other = self.writes[self.next_write][1]
            edges.append(Edge(write.id, other.id, REAL_TIME))
        while self.next_read and self.reads[self.next_read - 1][0] > ret:
            self.next_read -= 1
            _, read, source = self.reads[self.next_read]
            if reads_before is None or read.call < reads_before:
                edges.append(Edge(write.id, source, READ_SHOWS, read.id))
        return edges


def describe_source(history: History, source: Source, ids: Sequence[int]) -> str:
    """A source in an explanation: the initial state, or the write with its op id
    (in the caller's ids) and what it wrote."""
    if source == INITIAL_SOURCE:
        return "the initial state (no write)"
    if isinstance(source, str):
        return f"the version {source}"
    return describe_write_op(history.operations[source], ids)


def describe_write_op(op: Operation, ids: Sequence[int]) -> str:
    """A write in an explanation: its op id and the request in DynamoDB's words when
    the view carries them (``meta["words"]``), else its kind and what it wrote."""
    words = op.meta.get(WORDS)
    if isinstance(words, str):
        return f"op {ids[op.id]} ({words})"
    known, value = written_value(op)
    what = f" of {show(value)}" if known and value is not None else ""
    return f"the {op.f}{what} (op {ids[op.id]})"


def describe_edge(history: History, edge: Edge, ids: Sequence[int]) -> str:
    """Why ``edge.before`` comes before ``edge.after``, in words."""
    before = history.operations[edge.before] if isinstance(edge.before, int) else None
    after = history.operations[edge.after] if isinstance(edge.after, int) else None
    b = "the initial state" if before is None else f"op {ids[before.id]}"
    a = "the initial state" if after is None else f"op {ids[after.id]}"
    if edge.reason == REAL_TIME:
        return f"{b} completed before {a} began"
    if edge.reason == READ_BY:
        return f"{a} read the version {b} made"
    assert edge.via is not None
    return (f"op {ids[edge.via]} began after {b} completed and returned the version "
            f"{a} made, so {a} came after {b}")
