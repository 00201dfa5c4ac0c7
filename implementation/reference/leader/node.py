"""A storage node: the endpoint hosting this node's partition replicas.

Clients normally reach nodes through the request router, but a client may also send
its request straight to a node (a ``request`` message, as to a router): the node
serves it if it hosts the partition (leading it, or any replica for an eventually
consistent read), else hands it to the router.

The node owns the durable log of the simulation (one append-only list shared by
its replicas; records are tagged with the partition) and hands each message and
timer to the replica of the partition it names. A crash loses every replica's
volatile state; a restart rebuilds each replica from the durable records (term,
vote, log, known commit index) as a follower.

Durable records:
    ``("meta", partition, term, voted_for)``    the latest wins;
    ``("log", partition, start, entries)``      the log from ``start`` on is ``entries``;
    ``("commit", partition, index)``            entries up to ``index`` are committed.
"""

from __future__ import annotations

from typing import Any

from replicheck.implementation.reference.leader.config import ClusterConfig
from replicheck.implementation.reference.leader.messages import (
    AppendEntries,
    AppendReply,
    CommitAck,
    Decision,
    GeoAck,
    GeoShip,
    Op,
    Prepare,
    ReadReply,
    ReadRequest,
    Redirect,
    StatusQuery,
    TxnVote,
    VoteReply,
    VoteRequest,
)
from replicheck.implementation.reference.leader.partition import PartitionReplica
from replicheck.implementation.reference.leader.state import Entry
from replicheck.implementation.reference.sim import Endpoint, Message, Timer


def replay(durable: list[Any]) -> dict[int, tuple[int, str | None, list[Entry], int]]:
    """Each partition's (term, voted_for, log, commit index) as a node's durable
    records leave them."""
    out: dict[int, tuple[int, str | None, list[Entry], int]] = {}
    for record in durable:
        kind, partition = record[0], record[1]
        term, vote, log, commit = out.get(partition, (0, None, [], 0))
        if kind == "meta":
            term, vote = record[2], record[3]
        elif kind == "log":
            start, entries = record[2], record[3]
            log = log[:start - 1] + list(entries)
        elif kind == "commit":
            commit = max(commit, record[2])
        out[partition] = (term, vote, log, commit)
    return out


class NodeEndpoint(Endpoint):
    """One node of a leader-mode cluster."""

    def __init__(self, id: str, config: ClusterConfig) -> None:
        super().__init__(id)
        self.config = config
        self.replicas: dict[int, PartitionReplica] = {}

    def start(self) -> None:
        """Create this node's replicas (after the node is attached), each in term 1
        under the partition's initial leader."""
        for partition in self.config.hosts(self.id):
            replica = PartitionReplica(self, partition, self.config)
            self.replicas[partition] = replica
        for partition, replica in self.replicas.items():
            replica.bootstrap(self.config.placement[partition][0])

    # -- messages and timers ----------------------------------------------------------------

    def on_message(self, message: Message) -> None:
        body = message.body
        if message.kind == "request":  # a client talking to a node directly
            rid, request = body
            body = Op(message.src, rid, request, self.config.partition_for(request))
            if body.partition not in self.replicas:
                self.send(self.config.router, "redirect", Redirect(body, None, body.partition))
                return
        replica = self.replicas.get(getattr(body, "partition", -1))
        if replica is None:
            return
        if isinstance(body, AppendEntries):
            replica.on_append(body)
        elif isinstance(body, AppendReply):
            replica.on_append_reply(body)
        elif isinstance(body, Op):
            replica.on_op(body)
        elif isinstance(body, VoteRequest):
            replica.on_vote_request(body)
        elif isinstance(body, VoteReply):
            replica.on_vote_reply(body)
        elif isinstance(body, Prepare):
            replica.participant.on_prepare(body, message.src)
        elif isinstance(body, TxnVote):
            replica.coordinator.on_vote(body)
        elif isinstance(body, Decision):
            replica.participant.on_decision(body, message.src)
        elif isinstance(body, CommitAck):
            replica.coordinator.on_commit_ack(body)
        elif isinstance(body, StatusQuery):
            replica.coordinator.on_status(body, message.src)
        elif isinstance(body, ReadRequest):
            replica.participant.on_read(body, message.src)
        elif isinstance(body, ReadReply):
            replica.coordinator.on_read_reply(body)
        elif isinstance(body, GeoShip):
            if replica.geo is not None:
                replica.geo.on_ship(body, message.src)
        elif isinstance(body, GeoAck) and replica.geo is not None:
            replica.geo.on_ack(body)

    def on_timer(self, timer: Timer) -> None:
        partition, *payload = timer.payload
        replica = self.replicas.get(partition)
        if replica is not None:
            replica.on_timer(timer.name, tuple(payload))

    # -- crash and restart ------------------------------------------------------------------

    def on_crash(self) -> None:
        self.replicas = {}

    def recover(self) -> None:
        state = replay(self.durable)
        self.replicas = {}
        for partition in self.config.hosts(self.id):
            replica = PartitionReplica(self, partition, self.config)
            self.replicas[partition] = replica
            term, vote, log, commit = state.get(partition, (0, None, [], 0))
            replica.restore(term, vote, log, commit)
