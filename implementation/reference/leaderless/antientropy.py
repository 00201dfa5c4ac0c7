"""Merkle-tree anti-entropy between two replicas, as a message exchange.

Each node keeps one Merkle tree per (table, ring range) it replicates
(:class:`~replicheck.implementation.reference.leaderless.storage.ReplicaStorage`).
A sync between an *initiator* and a *peer* covers every range both replicate and
runs level by level, like :func:`replicheck.models.merkle.diff` but over the network:

1. the initiator asks for the peer's roots of the shared ranges (``ae-hash-req``),
   the peer answers with them (``ae-hashes``), the initiator compares each with its
   own;
2. below every node whose hashes differ it asks for all the children, one level per
   round trip, until the differing nodes are buckets;
3. it asks for the entries (key, value hash) of the differing buckets
   (``ae-bucket-req`` / ``ae-buckets``) and compares them with its own: the keys
   present on one side only or with different value hashes are the *differing keys*;
4. it sends its states of the differing keys (``ae-push``); the peer merges them
   into its own, logs them, and answers with its merged states (``ae-pull``), which
   the initiator merges in turn.

Afterwards both hold, for every differing key, the join of what they held (last
writer wins, or the DVV sync); keys whose hashes matched were never sent. With no
write racing the exchange, the two replicas then hold equal states for every shared
range (the repair is exact). Every message can be lost, delayed, duplicated or cut
off by a partition; a duplicated or stale answer is ignored, and a sync that has not
finished within the cluster's ``sync_timeout`` fails (whatever was merged stays
merged: merging is always safe).

Costs are counted on the initiator: ``hashes_compared`` is the number of node-hash
comparisons (as ``diff`` counts them), ``entries_compared`` the bucket entries read
on both sides, and ``bytes_exchanged`` the bytes of the hashes, encoded keys and
encoded values sent in either direction (node addresses and framing are not
counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from replicheck.implementation.reference.leaderless.ring import key_tuple_of, merkle_key
from replicheck.implementation.reference.leaderless.storage import KeyTuple
from replicheck.implementation.reference.leaderless.versions import State
from replicheck.implementation.reference.sim import Message, Timer
from replicheck.models.merkle import Key, encode_key, encode_value

if TYPE_CHECKING:
    from replicheck.implementation.reference.leaderless.node import LeaderlessNode

SyncId = tuple[int, int]
"""A sync's id: the initiator's (incarnation, sequence number)."""


@dataclass(frozen=True)
class SyncResult:
    """What one sync did and cost (see the module docstring for the counters).
    ``ok`` is False when it did not finish (``reason`` says why); then the counters
    cover the part that ran."""

    initiator: str
    peer: str
    table: str
    ranges: tuple[str, ...]
    ok: bool
    hashes_compared: int
    entries_compared: int
    bytes_exchanged: int
    keys_repaired: int
    repaired_keys: tuple[KeyTuple, ...]
    round_trips: int
    reason: str = ""


@dataclass
class _Session:
    id: SyncId
    peer: str
    table: str
    ranges: tuple[str, ...]
    timer: Timer | None = None
    round: int = 0
    asked: list[tuple[str, int, int]] = field(default_factory=list)
    buckets: list[tuple[str, int]] = field(default_factory=list)
    differing: list[KeyTuple] = field(default_factory=list)
    hashes_compared: int = 0
    entries_compared: int = 0
    bytes_exchanged: int = 0


def state_bytes(node: LeaderlessNode, key: KeyTuple, state: State | None) -> int:
    """The bytes a (key, state) pair costs on the wire: its encoded key and, when
    there is a state, the encoding of the state's Merkle value."""
    size = len(encode_key(merkle_key(key)))
    if state is not None:
        size += len(encode_value(node.cluster.resolver.merkle_value(state)))
    return size


class SyncEngine:
    """The anti-entropy role of one node: the syncs it initiates and the answers it
    gives as a peer. Its sessions are volatile (lost on a crash)."""

    def __init__(self, node: LeaderlessNode) -> None:
        self.node = node
        self.sessions: dict[SyncId, _Session] = {}
        self.results: dict[SyncId, SyncResult] = {}
        self.sequence = 0

    def reset(self) -> None:
        """Forget every session in progress (a crash)."""
        self.sessions.clear()

    # -- the initiator ---------------------------------------------------------------------

    def start(self, peer: str, table: str) -> SyncId:
        """Begin a sync with ``peer`` over every range of ``table`` both replicate;
        its result appears in ``results`` under the returned id."""
        node = self.node
        self.sequence += 1
        sid = (node.incarnation, self.sequence)
        ranges = node.cluster.ring.shared_ranges(node.id, peer)
        session = _Session(sid, peer, table, ranges)
        if not ranges:
            self._finish(session, ok=True)
            return sid
        self.sessions[sid] = session
        session.timer = node.set_timer(node.cluster.config.sync_timeout, "ae-timeout", sid)
        self._ask_hashes(session, [(name, 0, 0) for name in ranges])
        return sid

    def _ask_hashes(self, session: _Session, nodes: list[tuple[str, int, int]]) -> None:
        session.round += 1
        session.asked = nodes
        self.node.send(session.peer, "ae-hash-req",
                       (session.id, session.round, session.table, tuple(nodes)))

    def _on_hashes(self, session: _Session, hashes: tuple[bytes, ...]) -> None:
        storage = self.node.storage
        fanout = self.node.cluster.config.merkle_fanout
        depth = self.node.cluster.config.merkle_depth
        session.hashes_compared += len(hashes)
        session.bytes_exchanged += sum(len(h) for h in hashes)
        differing = [(name, level, index)
                     for (name, level, index), theirs in zip(session.asked, hashes, strict=True)
                     if storage.tree(session.table, name).node(level, index) != theirs]
        if not differing:
            self._finish(session, ok=True)
            return
        level = differing[0][1]
        if level < depth:
            self._ask_hashes(session, [(name, lv + 1, index * fanout + j)
                                       for name, lv, index in differing for j in range(fanout)])
            return
        session.round += 1
        session.buckets = [(name, index) for name, _, index in differing]
        self.node.send(session.peer, "ae-bucket-req",
                       (session.id, session.round, session.table, tuple(session.buckets)))

    def _on_buckets(self, session: _Session,
                    buckets: tuple[tuple[tuple[Key, bytes], ...], ...]) -> None:
        storage = self.node.storage
        differing: dict[bytes, KeyTuple] = {}
        for (name, index), theirs in zip(session.buckets, buckets, strict=True):
            mine = storage.tree(session.table, name).bucket(index)
            session.entries_compared += len(mine) + len(theirs)
            session.bytes_exchanged += sum(len(encode_key(k)) + len(h) for k, h in theirs)
            here = {encode_key(k): (k, h) for k, h in mine}
            there = {encode_key(k): (k, h) for k, h in theirs}
            for encoded, (key, digest) in here.items():
                other = there.get(encoded)
                if other is None or other[1] != digest:
                    differing[encoded] = key_tuple_of(key)
            for encoded, (key, _) in there.items():
                if encoded not in here:
                    differing[encoded] = key_tuple_of(key)
        session.differing = [differing[e] for e in sorted(differing)]
        if not session.differing:
            self._finish(session, ok=True)
            return
        pushed = tuple((key, storage.get(session.table, key)) for key in session.differing)
        session.bytes_exchanged += sum(state_bytes(self.node, k, s) for k, s in pushed)
        session.round += 1
        self.node.send(session.peer, "ae-push", (session.id, session.round, session.table,
                                                 pushed))

    def _on_pull(self, session: _Session,
                 states: tuple[tuple[KeyTuple, State | None], ...]) -> None:
        session.bytes_exchanged += sum(state_bytes(self.node, k, s) for k, s in states)
        for key, state in states:
            if state is not None:
                self.node.absorb(session.table, key, state)
        self._finish(session, ok=True)

    def _finish(self, session: _Session, *, ok: bool, reason: str = "") -> None:
        self.sessions.pop(session.id, None)
        if session.timer is not None:
            self.node.cancel_timer(session.timer)
        self.results[session.id] = SyncResult(
            self.node.id, session.peer, session.table, session.ranges, ok,
            session.hashes_compared, session.entries_compared, session.bytes_exchanged,
            len(session.differing) if ok else 0, tuple(session.differing) if ok else (),
            session.round, reason)

    # -- dispatch ---------------------------------------------------------------------------

    def on_message(self, message: Message) -> bool:
        """Handle an anti-entropy message; False when ``message`` is not one."""
        kind = message.kind
        if kind == "ae-hash-req":
            sid, round_, table, nodes = message.body
            storage = self.node.storage
            hashes = tuple(storage.tree(table, name).node(level, index)
                           for name, level, index in nodes)
            self.node.send(message.src, "ae-hashes", (sid, round_, hashes))
        elif kind == "ae-bucket-req":
            sid, round_, table, buckets = message.body
            storage = self.node.storage
            entries = tuple(storage.tree(table, name).bucket(index) for name, index in buckets)
            self.node.send(message.src, "ae-buckets", (sid, round_, entries))
        elif kind == "ae-push":
            sid, round_, table, states = message.body
            merged = []
            for key, state in states:
                if state is not None:
                    self.node.absorb(table, key, state)
                merged.append((key, self.node.storage.get(table, key)))
            self.node.send(message.src, "ae-pull", (sid, round_, tuple(merged)))
        elif kind in ("ae-hashes", "ae-buckets", "ae-pull"):
            sid, round_, payload = message.body
            session = self.sessions.get(sid)
            if session is None or round_ != session.round or message.src != session.peer:
                return True  # late, duplicated or from a previous incarnation: ignore
            if kind == "ae-hashes":
                self._on_hashes(session, payload)
            elif kind == "ae-buckets":
                self._on_buckets(session, payload)
            else:
                self._on_pull(session, payload)
        else:
            return False
        return True

    def on_timer(self, timer: Timer) -> bool:
        """Handle an anti-entropy timer; False when ``timer`` is not one."""
        if timer.name != "ae-timeout":
            return False
        session = self.sessions.get(timer.payload)
        if session is not None:
            session.timer = None
            self._finish(session, ok=False,
                         reason=f"no answer from {session.peer} within "
                                f"{self.node.cluster.config.sync_timeout} s "
                                f"(round {session.round})")
        return True


def summary(result: SyncResult) -> dict[str, Any]:
    """A sync's result as JSON-friendly data (for reports and benchmarks)."""
    return {
        "initiator": result.initiator, "peer": result.peer, "table": result.table,
        "ranges": len(result.ranges), "ok": result.ok,
        "hashes_compared": result.hashes_compared,
        "entries_compared": result.entries_compared,
        "bytes_exchanged": result.bytes_exchanged, "keys_repaired": result.keys_repaired,
        "round_trips": result.round_trips, "reason": result.reason,
    }
