"""The replicated state machine of one partition: log entries and the state they
build.

A partition's log is a sequence of :class:`Entry` values. Every entry carries its
*effects* already computed by the leader that appended it (the item before and after,
evaluated with ``replicheck.models.items.operations.apply`` on the leader's state), so
replaying a log never re-evaluates a request: any replica that applies the same
entries in the same order holds the same :class:`PartitionState`.

Entry kinds
    ``noop``      a new leader's first entry (lets it commit earlier terms' entries);
    ``write``     a single-item write or a single-partition transaction (effects,
                  possibly none for a request that failed definitely: the entry then
                  only records that the client's request was answered);
    ``prepare``   a cross-partition transaction's effects here, with its item locks;
    ``commit``    applies a prepared transaction and releases its locks;
    ``abort``     releases a prepared transaction's locks (or fences a transaction id
                  never prepared here);
    ``decide``    the coordinator's durable decision on a transaction (the first
                  decision for an id wins);
    ``geo``       writes replicated from another region (global tables), already
                  filtered by last-writer-wins.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from replicheck.implementation.reference.leader.config import KeyRef
from replicheck.models.items.operations import Database, KeyTuple
from replicheck.models.items.requests import (
    IDEMPOTENCY_WINDOW_SECONDS,
    Item,
    TableSchema,
)
from replicheck.models.items.values import freeze_item

Stamp = tuple[int, str]
"""A last-writer-wins stamp: (timestamp in microseconds, region id)."""


@dataclass(frozen=True)
class Effect:
    """What one entry does to one item: ``old`` and ``new`` (``None``: absent),
    whether that is a change, and the last-writer-wins stamp (global tables only)."""

    table: str
    key: KeyTuple
    old: Item | None
    new: Item | None
    changed: bool
    stamp: Stamp | None = None

    @property
    def ref(self) -> KeyRef:
        """The item's identity."""
        return (self.table, self.key)


def make_effect(table: str, key: KeyTuple, old: Item | None, new: Item | None,
                stamp: Stamp | None = None) -> Effect:
    """An effect, with ``changed`` computed by DynamoDB equality of the two images."""
    if old is None or new is None:
        changed = (old is None) != (new is None)
    else:
        changed = freeze_item(old) != freeze_item(new)
    return Effect(table, key, old, new, changed, stamp)


@dataclass(frozen=True)
class Entry:
    """One log entry: the ``term`` (epoch) of the leader that appended it, its
    ``index`` (from 1), its ``kind`` (see the module docstring), the global time it
    was appended, and what the kind needs. ``request`` is the (client, request id)
    it answers, so a duplicated request is never applied twice."""

    term: int
    index: int
    kind: str
    time: float = 0.0
    effects: tuple[Effect, ...] = ()
    request: tuple[str, int] | None = None
    txid: str | None = None
    home: int | None = None
    locks: tuple[KeyRef, ...] = ()
    outcome: str | None = None
    token: str | None = None
    fingerprint: Hashable = None
    source: tuple[str, int, int] | None = None


@dataclass(frozen=True)
class TokenRecord:
    """A remembered client request token: the request's fingerprint and the global
    time its transaction committed."""

    fingerprint: Hashable
    time: float

    def live(self, now: float) -> bool:
        """True while the token is inside its idempotency window at global time ``now``."""
        return now - self.time < IDEMPOTENCY_WINDOW_SECONDS


class PartitionState:
    """What a partition's log up to some index builds: items, per-item versions (the
    index of the entry that last wrote the item, deletes included) and stamps, item
    locks and prepared transactions, transaction decisions, client request tokens,
    answered requests, and how far each other region's writes were applied."""

    def __init__(self, schemas: Mapping[str, TableSchema]) -> None:
        self.schemas = dict(schemas)
        self.items: dict[str, dict[KeyTuple, Item]] = {name: {} for name in schemas}
        self.versions: dict[KeyRef, int] = {}
        self.stamps: dict[KeyRef, Stamp] = {}
        self.locks: dict[KeyRef, str] = {}
        self.prepared: dict[str, Entry] = {}
        self.finished: dict[str, int] = {}
        self.decisions: dict[str, str] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.answered: set[tuple[str, int]] = set()
        self.geo_cursor: dict[tuple[str, int], int] = {}
        self.index = 0

    def copy(self) -> PartitionState:
        """An independent copy (items themselves are never mutated, so they are shared)."""
        other = PartitionState.__new__(PartitionState)
        other.schemas = self.schemas
        other.items = {name: dict(items) for name, items in self.items.items()}
        other.versions = dict(self.versions)
        other.stamps = dict(self.stamps)
        other.locks = dict(self.locks)
        other.prepared = dict(self.prepared)
        other.finished = dict(self.finished)
        other.decisions = dict(self.decisions)
        other.tokens = dict(self.tokens)
        other.answered = set(self.answered)
        other.geo_cursor = dict(self.geo_cursor)
        other.index = self.index
        return other

    # -- reading ------------------------------------------------------------------------

    def item(self, ref: KeyRef) -> Item | None:
        """The item (shared, do not mutate) or ``None``."""
        return self.items[ref[0]].get(ref[1])

    def database(self, refs: Iterable[KeyRef]) -> Database:
        """A model database holding just the items ``refs`` (enough for the model to
        evaluate a request touching only them)."""
        tables: dict[str, dict[KeyTuple, Item]] = {name: {} for name in self.schemas}
        for table, key in refs:
            found = self.items[table].get(key)
            if found is not None:
                tables[table][key] = found
        return Database(self.schemas, tables)

    # -- applying -----------------------------------------------------------------------

    def apply(self, entry: Entry) -> bool:
        """Apply the next entry; True when it released item locks."""
        released = False
        kind = entry.kind
        if entry.request is not None:
            self.answered.add(entry.request)
        if kind in ("write", "geo"):
            self._effects(entry.effects, entry.index)
            if entry.token is not None:
                self.tokens[entry.token] = TokenRecord(entry.fingerprint, entry.time)
            if entry.source is not None:
                region, partition, upto = entry.source
                cursor = self.geo_cursor.get((region, partition), 0)
                self.geo_cursor[(region, partition)] = max(cursor, upto)
        elif kind == "prepare":
            assert entry.txid is not None
            if entry.txid not in self.finished and entry.txid not in self.prepared:
                self.prepared[entry.txid] = entry
                for ref in entry.locks:
                    self.locks[ref] = entry.txid
        elif kind in ("commit", "abort"):
            assert entry.txid is not None
            prepared = self.prepared.pop(entry.txid, None)
            if prepared is not None:
                for ref in prepared.locks:
                    if self.locks.get(ref) == entry.txid:
                        del self.locks[ref]
                released = True
                if kind == "commit":
                    self._effects(entry.effects, entry.index)
            self.finished.setdefault(entry.txid, entry.index)
        elif kind == "decide":
            assert entry.txid is not None and entry.outcome is not None
            if entry.txid not in self.decisions:
                self.decisions[entry.txid] = entry.outcome
                if entry.outcome == "commit" and entry.token is not None:
                    self.tokens[entry.token] = TokenRecord(entry.fingerprint, entry.time)
        self.index = entry.index
        return released

    def _effects(self, effects: tuple[Effect, ...], index: int) -> None:
        for effect in effects:
            items = self.items[effect.table]
            if effect.new is None:
                items.pop(effect.key, None)
            else:
                items[effect.key] = effect.new
            self.versions[effect.ref] = index
            if effect.stamp is not None:
                self.stamps[effect.ref] = effect.stamp
