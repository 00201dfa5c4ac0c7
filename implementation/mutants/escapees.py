"""Realistic mutants the suite does not catch yet, kept apart from the catalog: each
shows a gap (the rule or checker it would need is in its docstring). Not registered in
:data:`~replicheck.implementation.mutants.catalog.MUTANTS`: the catalog holds only
mutants the suite catches.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from replicheck.implementation.mutants.leader import _Bug, _install, _install_nodes
from replicheck.implementation.reference.leader.geo import GeoShipper
from replicheck.implementation.reference.leader.global_tables import (
    GlobalTablesStore,
    global_tables,
)
from replicheck.implementation.reference.leader.messages import GeoAck, GeoShip, Op
from replicheck.implementation.reference.leader.store import LeaderStore, dynamodb
from replicheck.implementation.reference.leader.transactions import Coordinator
from replicheck.implementation.reference.leaderless.antientropy import SyncEngine, state_bytes
from replicheck.implementation.reference.leaderless.presets import dynamo_lww
from replicheck.implementation.reference.leaderless.ring import key_tuple_of
from replicheck.implementation.reference.leaderless.storage import KeyTuple
from replicheck.implementation.reference.leaderless.store import LeaderlessStore
from replicheck.models.items.operations import fingerprint
from replicheck.models.items.requests import TransactWrite
from replicheck.models.merkle import Key, encode_key

__all__ = [
    "anti_entropy_pushes_one_key",
    "geo_ack_turned_around",
    "token_ignores_request_body",
]


class _BodyBlindTokenCoordinator(Coordinator):
    """Matches a client request token without comparing the request's fingerprint."""

    def transact_write(self, op: Op) -> None:
        request = op.request
        spec = self.replica.spec
        if (isinstance(request, TransactWrite) and request.token is not None
                and spec is not None and request.token in spec.tokens):
            record = spec.tokens[request.token]
            # THE BUG: the token alone decides; a different body replays the first
            spec.tokens[request.token] = dataclasses.replace(
                record, fingerprint=fingerprint(request))
        super().transact_write(op)


def token_ignores_request_body(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose ClientRequestToken check ignores the request body: a token
    reused with another body is answered as a retry of the first (DynamoDB answers
    IdempotentParameterMismatch).

    Escapes because no rule of the suite reuses a token with a different body (the
    ``idempotent`` rule retries the same request); needs the section-2 strategy
    "requests that reuse an idempotency token with a different body"."""
    return _install(dynamodb(seed), _Bug(coordinator=_BodyBlindTokenCoordinator))


# -- anti-entropy ---------------------------------------------------------------------------


class _OneKeyPushEngine(SyncEngine):
    """Finds every differing key of a session but pushes only the first; the session
    still reports every differing key repaired."""

    def _on_buckets(self, session: Any,
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
        # THE BUG: the push is cut to its first batch (one key); the rest are never sent,
        # yet the session's result lists every differing key as repaired
        pushed = tuple((key, storage.get(session.table, key)) for key in session.differing[:1])
        session.bytes_exchanged += sum(state_bytes(self.node, k, s) for k, s in pushed)
        session.round += 1
        self.node.send(session.peer, "ae-push", (session.id, session.round, session.table,
                                                 pushed))


def anti_entropy_pushes_one_key(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose anti-entropy repairs one differing key per session and
    reports them all repaired (a push cut to its first batch).

    Escapes because a session shows the bug only when two keys of the two nodes'
    shared ranges differ at once, and the suite writes three keys that the ring
    spreads over ranges; a session right after a partition rarely finds two of them
    differing between the same two replicas. ``anti-entropy-exact`` itself would see
    it (both replicas are read after each session). Needed: keys chosen for the
    store's layout (several keys in one Merkle range, section 2) and a fault that
    leaves several keys divergent between one pair of replicas."""
    store = dynamo_lww(seed)
    for node in store.node_endpoints.values():
        node.sync.__class__ = _OneKeyPushEngine
    return store


# -- global tables -----------------------------------------------------------------------


class _LateAckShipper(GeoShipper):
    """Acknowledges a shipment it already appended only when the shipment reaches at
    least as far as what it has applied, instead of only when it does not reach past
    it: a re-shipped range that is already applied gets no acknowledgement."""

    def on_ship(self, m: GeoShip, src: str) -> None:
        r = self.replica
        spec = r.spec
        if r.is_leader and spec is not None:
            source = (m.region, m.source)
            done = r.applied.geo_cursor.get(source, 0)
            if m.to_index <= spec.geo_cursor.get(source, 0):
                if m.to_index >= done:  # THE BUG: the comparison turned around
                    r.send(src, GeoAck(m.source, r.config.region, done))
                return
        super().on_ship(m, src)


def geo_ack_turned_around(seed: int = 0) -> GlobalTablesStore:
    """``global-tables`` whose regions acknowledge an already-applied re-shipment
    only when it is not behind what they applied, so a range re-shipped after a lost
    acknowledgement or a leader change is never acknowledged and the source's cursor
    stalls behind it (a comparison turned around on the resend path of cross-region
    log shipping).

    Escapes because it shows only once a region's log outgrows one 64-entry shipping
    batch, and no example of the suite writes that much (a burst puts at most 12
    times): with bursts of 65 to 130 puts the concurrency property catches it by
    convergence within seconds, but drawing them shifts Hypothesis's derandomized
    runs, so it waits for bursts sized by what a store declares it batches."""
    store = global_tables(seed)
    for cluster in store.regions.values():
        _install_nodes(cluster.nodes.values(), _Bug(geo=_LateAckShipper))
    return store
