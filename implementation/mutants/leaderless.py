"""Mutants of the leaderless presets (``dynamo-lww``, ``dynamo-quorum``): each is the
preset with one small, named bug in a mechanism (conflict resolution, read repair,
hinted handoff, Merkle trees, anti-entropy), installed on the mutant's own instances
only: its cluster gets a buggy resolver, its nodes, sync engines and storages are
switched to a subclass with the bug. A mutant keeps the preset's descriptor.
"""

from __future__ import annotations

from typing import Any

from replicheck.implementation.reference.leaderless.antientropy import SyncEngine
from replicheck.implementation.reference.leaderless.node import LeaderlessNode, Operation
from replicheck.implementation.reference.leaderless.presets import dynamo_lww, dynamo_quorum
from replicheck.implementation.reference.leaderless.storage import ReplicaStorage
from replicheck.implementation.reference.leaderless.store import LeaderlessStore
from replicheck.implementation.reference.leaderless.versions import (
    DVVResolver,
    DVVValue,
    LWWResolver,
    Resolver,
    State,
)
from replicheck.implementation.reference.sim import Timer
from replicheck.models.clocks import VectorClock
from replicheck.models.dvv import DVVSet
from replicheck.models.lww import Stamped
from replicheck.models.merkle import MerkleTree

__all__ = [
    "anti_entropy_skips_last_range",
    "concurrent_clocks_ordered",
    "hint_forgotten_when_sent",
    "hint_never_delivered",
    "lww_tie_keeps_local",
    "merkle_root_ignores_child",
    "read_repair_drops_sibling",
    "repair_waits_for_every_replica",
    "requests_forgotten_on_restart",
    "vv_merge_drops_entries",
]


def _with_resolver(store: LeaderlessStore, resolver: Resolver) -> LeaderlessStore:
    # The cluster is this store's own (frozen) value; only its resolver changes.
    object.__setattr__(store.cluster, "resolver", resolver)
    return store


# -- conflict resolution --------------------------------------------------------------------


class _TieKeepsLocalLWW(LWWResolver):
    """Last writer wins on the timestamp alone; a tie keeps what the replica holds."""

    def merge(self, a: State | None, b: State | None) -> State | None:
        if isinstance(a, Stamped) and isinstance(b, Stamped) and a.timestamp == b.timestamp:
            return a  # THE BUG: no tie-break on the node id, the local copy wins
        return super().merge(a, b)


def lww_tie_keeps_local(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose equal timestamps are resolved differently per replica."""
    return _with_resolver(dynamo_lww(seed), _TieKeepsLocalLWW())


def _sloppy_descends(a: VectorClock, b: VectorClock) -> bool:
    """``a >= b`` checked only on the replicas ``a`` has an entry for (THE BUG: an
    entry missing from ``a`` is skipped instead of counting as 0)."""
    return all(a.counter(r) >= c for r, c in b.entries if r in a)


class _ConcurrentOrderedDVV(DVVResolver):
    """Takes one state as superseding the other whenever its context 'descends' by a
    comparison that calls some concurrent clocks ordered."""

    def merge(self, a: State | None, b: State | None) -> State | None:
        if isinstance(a, DVVSet) and isinstance(b, DVVSet) and a.context != b.context:
            if _sloppy_descends(b.context, a.context):
                return b
            if _sloppy_descends(a.context, b.context):
                return a
        return super().merge(a, b)


def concurrent_clocks_ordered(seed: int = 0) -> LeaderlessStore:
    """``dynamo-quorum`` whose clock comparison ignores entries one side lacks."""
    return _with_resolver(dynamo_quorum(seed), _ConcurrentOrderedDVV())


class _PruningDVV(DVVResolver):
    """Merges contexts but keeps only the entries of nodes that still hold a sibling."""

    def merge(self, a: State | None, b: State | None) -> State | None:
        merged = super().merge(a, b)
        if not isinstance(merged, DVVSet):
            return merged
        holders = {s.dot.replica for s in merged.siblings}
        # THE BUG: the entries of nodes whose writes were all superseded are dropped
        pruned = VectorClock({r: c for r, c in merged.context.entries if r in holders})
        out: DVVSet[DVVValue] = DVVSet(merged.siblings, pruned)
        return out


def vv_merge_drops_entries(seed: int = 0) -> LeaderlessStore:
    """``dynamo-quorum`` whose version-vector merge drops entries."""
    return _with_resolver(dynamo_quorum(seed), _PruningDVV())


# -- read repair ----------------------------------------------------------------------------


class _ResolvedRepairNode(LeaderlessNode):
    """Read repair sends the one sibling the client was answered with."""

    def _read_repair(self, op: Operation) -> None:
        resolver = self.cluster.resolver
        merged = resolver.merge_all(op.replies[n] for n in sorted(op.replies))
        if not isinstance(merged, DVVSet) or not merged.siblings:
            super()._read_repair(op)
            return
        live = [s for s in merged.siblings if s.value[0] is not None] or list(merged.siblings)
        chosen = max(live, key=lambda s: s.dot)
        # THE BUG: the resolved value (with the full context) is written back, not the
        # siblings: the context covers the others, so the repaired replica drops them
        resolved: DVVSet[DVVValue] = DVVSet((chosen,), merged.context)
        for node in op.owners:
            if node not in op.replies or op.replies[node] == merged:
                continue
            self.stats["read_repairs"] += 1
            if node == self.id:
                self.absorb(op.table, op.key, resolved)
            else:
                self.send(node, "repair", (op.table, op.key, resolved))


def read_repair_drops_sibling(seed: int = 0) -> LeaderlessStore:
    """``dynamo-quorum`` whose read repair writes back only the chosen sibling."""
    store = dynamo_quorum(seed)
    for node in store.node_endpoints.values():
        node.__class__ = _ResolvedRepairNode
    return store


# -- hinted handoff -------------------------------------------------------------------------


class _StuckHintNode(LeaderlessNode):
    """Keeps its hints: the handoff task believes every owner is still down."""

    def on_timer(self, timer: Timer) -> None:
        if timer.name == "handoff":
            self.handoff_timer = None
            self._arm_handoff()  # THE BUG: re-armed, nothing ever sent
            return
        super().on_timer(timer)


def hint_never_delivered(seed: int = 0) -> LeaderlessStore:
    """``dynamo-quorum`` whose fallbacks never hand their hints off."""
    store = dynamo_quorum(seed)
    for node in store.node_endpoints.values():
        node.__class__ = _StuckHintNode
    return store


class _SendAndForgetHintNode(LeaderlessNode):
    """Deletes each hint as it sends it, before the owner acknowledged it."""

    def on_timer(self, timer: Timer) -> None:
        super().on_timer(timer)
        if timer.name == "handoff":
            for owner, table, key in list(self.hints):
                del self.hints[(owner, table, key)]  # THE BUG: no wait for the ack
                self.log(("unhint", owner, table, key))


def hint_forgotten_when_sent(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose fallbacks drop a hint once sent, acknowledged or not."""
    store = dynamo_lww(seed)
    for node in store.node_endpoints.values():
        node.__class__ = _SendAndForgetHintNode
    return store


# -- coordination ---------------------------------------------------------------------------


class _AmnesiacNode(LeaderlessNode):
    """Keeps the requests it took in memory only: a restart forgets them."""

    def recover(self) -> None:
        super().recover()
        self.taken = set()  # THE BUG: the durable log's record of them is ignored


def requests_forgotten_on_restart(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose coordinators forget, across a restart, the requests
    they took: a copy delivered afterwards is coordinated again."""
    store = dynamo_lww(seed)
    for node in store.node_endpoints.values():
        node.__class__ = _AmnesiacNode
    return store


class _PatientRepairNode(LeaderlessNode):
    """Its coordinator never gives up waiting: no deadline, no sloppy fallback."""

    def on_timer(self, timer: Timer) -> None:
        if timer.name in ("sloppy", "deadline") and timer.payload in self.ops:
            return  # THE BUG: the operation waits for every replica forever
        super().on_timer(timer)


def repair_waits_for_every_replica(seed: int = 0) -> LeaderlessStore:
    """``dynamo-quorum`` whose read repair happens only once every replica of the
    key answered."""
    store = dynamo_quorum(seed)
    for node in store.node_endpoints.values():
        node.__class__ = _PatientRepairNode
    return store


# -- Merkle trees and anti-entropy ----------------------------------------------------------


class _BlindRootTree(MerkleTree):
    """A Merkle tree whose root hashes every child of the root but the last."""

    @property
    def root(self) -> bytes:
        children = MerkleTree.children(self, 0, 0)
        if not children:
            return super().root
        # THE BUG: the last child's subtree takes no part in the root
        return self.shape.hash_fn(b"\x01" + b"".join(children[:-1]))

    def node(self, level: int, index: int) -> bytes:
        if level == 0:
            return self.root
        return super().node(level, index)


class _BlindRootStorage(ReplicaStorage):
    """Storage whose trees are :class:`_BlindRootTree`."""

    def tree(self, table: str, range_name: str) -> MerkleTree:
        found = super().tree(table, range_name)
        return _BlindRootTree(found.shape, found._root, len(found), found.nodes_rehashed)


class _BlindRootNode(LeaderlessNode):
    """A node whose storage (also after a crash and restart) has blind roots."""

    def on_crash(self) -> None:
        super().on_crash()
        self.storage.__class__ = _BlindRootStorage

    def recover(self) -> None:
        super().recover()
        self.storage.__class__ = _BlindRootStorage


def merkle_root_ignores_child(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose Merkle roots ignore the last quarter of each range."""
    store = dynamo_lww(seed)
    for node in store.node_endpoints.values():
        node.__class__ = _BlindRootNode
        node.storage.__class__ = _BlindRootStorage
    return store


class _ShortSyncEngine(SyncEngine):
    """Starts a sync over every shared range but the last."""

    def _ask_hashes(self, session: Any, nodes: list[tuple[str, int, int]]) -> None:
        if session.round == 0 and len(nodes) > 1:
            nodes = nodes[:-1]  # THE BUG: off by one over the ranges
        super()._ask_hashes(session, nodes)


def anti_entropy_skips_last_range(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose anti-entropy never compares the last shared range."""
    store = dynamo_lww(seed)
    for node in store.node_endpoints.values():
        node.sync.__class__ = _ShortSyncEngine
    return store

