"""Mutants of the leaderless presets' repair mechanisms (anti-entropy, Merkle trees,
read repair, deletes), each a bug whose damage only shows in what the replicas hold
afterwards, never in what the mechanism reports about itself: the classes the suite
catches by reading replicas after a session, after a read and at the end.

Each is the preset with one small bug installed on the mutant's own instances (its
nodes, sync engines and storages switched to a subclass with the bug, kept across a
crash and restart); a mutant keeps the preset's descriptor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from replicheck.implementation.reference.leaderless.antientropy import SyncEngine, state_bytes
from replicheck.implementation.reference.leaderless.node import (
    LeaderlessNode,
    Operation,
    hint_order,
)
from replicheck.implementation.reference.leaderless.presets import dynamo_lww, dynamo_quorum
from replicheck.implementation.reference.leaderless.ring import merkle_key
from replicheck.implementation.reference.leaderless.storage import KeyTuple, ReplicaStorage
from replicheck.implementation.reference.leaderless.store import LeaderlessStore
from replicheck.implementation.reference.leaderless.versions import State
from replicheck.implementation.reference.sim import Timer
from replicheck.models.lww import Stamped
from replicheck.models.merkle import Key

__all__ = [
    "anti_entropy_ignores_pull",
    "anti_entropy_misses_peer_only_keys",
    "hint_replayed_with_fresh_timestamp",
    "hint_sent_to_first_replica",
    "merkle_tree_misses_overwrites",
    "read_repair_sends_coordinator_state",
    "tombstone_purged_at_once",
]


def _with_storage(store: LeaderlessStore, node_class: type[LeaderlessNode],
                  storage_class: type[ReplicaStorage]) -> LeaderlessStore:
    for node in store.node_endpoints.values():
        node.__class__ = node_class
        node.storage.__class__ = storage_class
    return store


# -- anti-entropy ---------------------------------------------------------------------------


class _PushOnlyEngine(SyncEngine):
    """Sends its versions of the differing keys to the peer and takes nothing back:
    the peer's answer (its merged states) is dropped."""

    def _on_pull(self, session: Any,
                 states: tuple[tuple[KeyTuple, State | None], ...]) -> None:
        session.bytes_exchanged += sum(state_bytes(self.node, k, s) for k, s in states)
        # THE BUG: the peer's merged states are not merged here: repair runs one way
        self._finish(session, ok=True)


def anti_entropy_ignores_pull(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose anti-entropy initiator never takes the peer's versions."""
    store = dynamo_lww(seed)
    for node in store.node_endpoints.values():
        node.sync.__class__ = _PushOnlyEngine
    return store


class _OwnKeysDiffEngine(SyncEngine):
    """Compares differing buckets by walking its own entries only: a key the peer
    holds and this node lacks is never found to differ."""

    def _on_buckets(self, session: Any,
                    buckets: tuple[tuple[tuple[Key, bytes], ...], ...]) -> None:
        storage = self.node.storage
        # THE BUG: the peer's entries are looked up from this node's, never walked
        trimmed = tuple(
            tuple((k, h) for k, h in theirs if _holds_merkle_key(storage, session.table, name, k))
            for (name, _), theirs in zip(session.buckets, buckets, strict=True))
        super()._on_buckets(session, trimmed)


def _holds_merkle_key(storage: ReplicaStorage, table: str, range_name: str, key: Key) -> bool:
    """Whether ``storage``'s tree of ``range_name`` holds the Merkle key ``key``."""
    return key in storage.tree(table, range_name)


def anti_entropy_misses_peer_only_keys(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose anti-entropy never finds the keys only the peer holds."""
    store = dynamo_lww(seed)
    for node in store.node_endpoints.values():
        node.sync.__class__ = _OwnKeysDiffEngine
    return store


# -- Merkle trees ---------------------------------------------------------------------------


class _StaleHashStorage(ReplicaStorage):
    """Updates a range's Merkle tree when a key first appears, not when its state is
    overwritten: the tree keeps the key's first hash."""

    def set(self, table: str, key: KeyTuple, state: State) -> None:
        name = self.cluster.ring.partition_of(key).name
        known = merkle_key(key) in self.tree(table, name)
        if not known:
            super().set(table, key, state)
            return
        # THE BUG: the state changes, its leaf hash stays as it was
        self.data[table][key] = state
        self._by_range.setdefault((table, name), {})[key] = state


class _StaleHashNode(LeaderlessNode):
    """A node whose storage (also after a crash and restart) keeps stale hashes."""

    def on_crash(self) -> None:
        super().on_crash()
        self.storage.__class__ = _StaleHashStorage

    def recover(self) -> None:
        super().recover()
        self.storage.__class__ = _StaleHashStorage


def merkle_tree_misses_overwrites(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose Merkle trees keep a key's first hash when it is overwritten."""
    return _with_storage(dynamo_lww(seed), _StaleHashNode, _StaleHashStorage)


# -- hinted handoff -------------------------------------------------------------------------


class _MisaddressedHintNode(LeaderlessNode):
    """Hands each hint to the first replica of its key, not to the replica it was
    written for."""

    def on_timer(self, timer: Timer) -> None:
        if timer.name != "handoff":
            super().on_timer(timer)
            return
        self.handoff_timer = None
        for hint in sorted(self.hints, key=hint_order):
            owner, table, key = hint
            # THE BUG: addressed by the key's preference list, not by the hint's target
            target = self.cluster.ring.preference_list(key)[0]
            self.stats["handoffs"] += 1
            self.send(target, "handoff", (owner, table, key, self.hints[hint]))
        self._arm_handoff()


def hint_sent_to_first_replica(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose fallbacks hand every hint to the key's first replica."""
    store = dynamo_lww(seed)
    for node in store.node_endpoints.values():
        node.__class__ = _MisaddressedHintNode
    return store


# -- deletes --------------------------------------------------------------------------------


class _RestampingHintNode(LeaderlessNode):
    """Hands a hinted last-writer-wins state off under a fresh timestamp of its own."""

    def on_timer(self, timer: Timer) -> None:
        if timer.name == "handoff":
            for hint, state in list(self.hints.items()):
                if isinstance(state, Stamped):
                    # THE BUG: the replay is stamped as a new write at delivery time
                    self.hints[hint] = Stamped(state.value, self.timestamp(), self.id)
        super().on_timer(timer)


def hint_replayed_with_fresh_timestamp(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose fallbacks restamp hints when they hand them off: a hinted
    write replayed after a newer write to the key overwrites it. Caught by
    ``hinted-handoff-delivers`` on a copy of the store settled apart: the owner ends
    up holding a version that no replica or fallback held before settling."""
    store = dynamo_lww(seed)
    for node in store.node_endpoints.values():
        node.__class__ = _RestampingHintNode
    return store


def _tombstone(state: State) -> bool:
    return isinstance(state, Stamped) and state.value is None


class _PurgingStorage(ReplicaStorage):
    """Drops a tombstone as soon as it is stored (a grace period of zero): the key is
    absent, as if never written."""

    def set(self, table: str, key: KeyTuple, state: State) -> None:
        if not _tombstone(state):
            super().set(table, key, state)
            return
        # THE BUG: the tombstone is collected at once, before anti-entropy spread it
        name = self.cluster.ring.partition_of(key).name
        self.data[table].pop(key, None)
        self._by_range.get((table, name), {}).pop(key, None)
        self._trees[(table, name)] = self.tree(table, name).with_delete(merkle_key(key))

    def load(self, table: str, states: Iterable[tuple[KeyTuple, State]]) -> None:
        super().load(table, [(k, s) for k, s in states if not _tombstone(s)])

    def purge(self) -> None:
        """Drop every tombstone held (what a compaction with no grace period does)."""
        for table, rows in self.data.items():
            for key in [k for k, s in rows.items() if _tombstone(s)]:
                self.set(table, key, rows[key])


class _PurgingNode(LeaderlessNode):
    """A node whose storage (also after a crash and restart) purges tombstones."""

    def on_crash(self) -> None:
        super().on_crash()
        self.storage.__class__ = _PurgingStorage

    def recover(self) -> None:
        super().recover()  # the log replayed, tombstones included, then compacted
        self.storage.__class__ = _PurgingStorage
        assert isinstance(self.storage, _PurgingStorage)
        self.storage.purge()


def tombstone_purged_at_once(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose replicas drop a delete's tombstone as soon as they store it."""
    return _with_storage(dynamo_lww(seed), _PurgingNode, _PurgingStorage)


class _OwnStateRepairNode(LeaderlessNode):
    """Read repair sends the coordinator's own state to the replicas that answered
    differently, and leaves the coordinator as it was."""

    def _read_repair(self, op: Operation) -> None:
        own = op.replies.get(self.id)
        if own is None:
            super()._read_repair(op)
            return
        for node in op.owners:
            if node == self.id or node not in op.replies or op.replies[node] == own:
                continue
            self.stats["read_repairs"] += 1
            # THE BUG: the coordinator's own version, not the merge of the replies
            self.send(node, "repair", (op.table, op.key, own))


def read_repair_sends_coordinator_state(seed: int = 0) -> LeaderlessStore:
    """``dynamo-quorum`` whose read repair pushes the coordinator's own version to the
    replicas that answered differently, instead of the merge of the replies, and does
    not repair the coordinator (replicas merge what they receive, so only a stale
    coordinator stays stale). Caught by ``read-repair-repairs`` on a probe read
    coordinated by a stale replica of a disagreeing key."""
    store = dynamo_quorum(seed)
    for node in store.node_endpoints.values():
        node.__class__ = _OwnStateRepairNode
    return store
