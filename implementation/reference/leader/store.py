"""The leader-per-partition (DynamoDB) mode of the reference store.

:class:`LeaderStore` is a :class:`~replicheck.implementation.reference.base.SimulatedStore`
over one leader-mode cluster: keys hash to partitions, each replicated on
``replication`` of the nodes with one leader per epoch (Raft), behind a request
router. See :mod:`~replicheck.implementation.reference.leader.partition` for
replication and reads, :mod:`~replicheck.implementation.reference.leader.transactions`
for transactions and :mod:`~replicheck.implementation.reference.leader.stream` for the
change stream. :func:`dynamodb` builds the ``dynamodb`` preset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from replicheck.implementation.memory import DEFAULT_TABLE
from replicheck.implementation.reference.base import CLIENT_TIMEOUT, SimulatedStore
from replicheck.implementation.reference.leader.cluster import Cluster
from replicheck.implementation.reference.leader.config import (
    STREAM_RETENTION_SECONDS,
    STREAM_VIEWS,
    ClusterConfig,
    Timing,
    place,
)
from replicheck.implementation.reference.leader.stream import stream_records
from replicheck.implementation.reference.leader.validation import validate_request
from replicheck.implementation.store import (
    Capability,
    Claim,
    Descriptor,
    KeyRange,
    StreamRecord,
    Windows,
)
from replicheck.models.items.errors import ValidationError
from replicheck.models.items.operations import KeyTuple, key_tuple
from replicheck.models.items.requests import (
    IDEMPOTENCY_WINDOW_SECONDS,
    Item,
    Request,
    TableSchema,
)

_WRITES = frozenset({"put", "update", "delete", "conditional-write"})

LEADER_CAPABILITIES = frozenset({
    Capability.TRANSACTIONS, Capability.STRONG_READS, Capability.REPLICA_INTROSPECTION,
    Capability.STREAM, Capability.FAULTS, Capability.DETERMINISTIC_SCHEDULING,
    Capability.TOPOLOGY, Capability.SETTLING, Capability.REPLICA_SNAPSHOTS,
    Capability.TIME_CONTROL, Capability.MESSAGE_CONTROL,
})
"""What a leader-mode store (and a global table) can do."""


FAILOVER_SECONDS = 4 * Timing.election_max
"""How long a partition that lost a replica may take to answer again: four of the
longest election timeouts (an election, and three more after split votes)."""

LEADER_WINDOWS = Windows(idempotency_token=IDEMPOTENCY_WINDOW_SECONDS,
                         stream_retention=STREAM_RETENTION_SECONDS,
                         failover=FAILOVER_SECONDS)
"""A leader-mode store's windows: ClientRequestToken memory, stream retention and
failover (no leases: strong reads use read index)."""


def leader_descriptor(name: str, tables: tuple[TableSchema, ...]) -> Descriptor:
    """The self-description of a leader-mode cluster: what it promises, and the one
    weakness it admits (eventually consistent reads may be stale)."""
    return Descriptor(
        name=name,
        capabilities=LEADER_CAPABILITIES,
        claims=(
            Claim("linearizable-strong-reads", frozenset({"get-strong"}) | _WRITES,
                  "strong reads are answered by the partition leader after a majority "
                  "acknowledged it in a heartbeat round started after the read arrived "
                  "(read index): no clock lease, so any clock skew and any partition"),
            Claim("linearizable-conditional-writes", _WRITES,
                  "conditions are evaluated by the leader in log order and answered "
                  "once the entry is committed by a majority"),
            Claim("serializable-transactions", frozenset({"transact-write", "transact-get"}),
                  "two-phase commit with item locks (strict two-phase locking) over "
                  "replicated logs; TransactGet reads twice and checks versions"),
            Claim("atomic-transactions", frozenset({"transact-write"}),
                  "the decision is logged by the coordinator partition; participants "
                  "in doubt ask for it, so a transaction never applies partially"),
            Claim("stream-exactly-once", frozenset({"stream"}),
                  "records come from committed log entries"),
            Claim("stream-item-order", frozenset({"stream"}),
                  "an item lives in one partition; its records follow that log"),
            Claim("convergence", frozenset({"replicas"}),
                  "after healing and quiescence every replica of a partition has "
                  "applied the same committed log"),
            Claim("read-your-writes", frozenset({"get-strong"}),
                  "strong reads only (eventually consistent reads may be stale)"),
            Claim("monotonic-reads", frozenset({"get-strong"}),
                  "strong reads only (eventually consistent reads may be stale)"),
            Claim("majority-availability", frozenset({"get-strong"}) | _WRITES,
                  "a partition with a majority of its replicas up and connected elects "
                  f"a leader within {FAILOVER_SECONDS:g} s and answers every request: "
                  "strong reads confirm with a majority, the router tries the other "
                  "replicas of a redirected request, a committed transaction is "
                  "answered after commit_ack_wait even while a participant is cut off"),
        ),
        weaknesses=frozenset({"stale-read"}),
        tables=tables,
        notes="leader per partition (Raft), quorum writes, read-index strong reads, "
              "eventually consistent reads from any replica in turn",
        windows=LEADER_WINDOWS,
    )


class LeaderStore(SimulatedStore):
    """A DynamoDB-style cluster: ``nodes`` nodes, ``partitions`` partitions each on
    ``replication`` nodes, the given tables, and a change stream per table with the
    view type ``streams[table]`` (default ``NEW_AND_OLD_IMAGES`` for every table;
    a table mapped to ``None`` has no stream).

    Keeps the Store contract and the Introspectable, Streaming, FaultInjectable and
    Schedulable protocols; its descriptor's claims hold under every schedule."""

    def __init__(self, *, seed: int = 0, nodes: int = 5, partitions: int = 3,
                 replication: int = 3, tables: Iterable[TableSchema] = (DEFAULT_TABLE,),
                 streams: Mapping[str, str | None] | None = None,
                 timing: Timing | None = None, client_timeout: float = CLIENT_TIMEOUT,
                 name: str = "dynamodb") -> None:
        super().__init__(seed=seed, client_timeout=client_timeout)
        schemas = tuple(tables)
        node_ids = tuple(f"n{i + 1}" for i in range(nodes))
        config = ClusterConfig(
            region="local", nodes=node_ids, router="router",
            placement=place(node_ids, partitions, replication), schemas=schemas,
            streams=stream_config(schemas, streams), seed=seed,
            timing=timing or Timing(),
        )
        self.cluster = Cluster(self.sim, config)
        self.nodes = node_ids
        self._descriptor = leader_descriptor(name, schemas)

    @property
    def config(self) -> ClusterConfig:
        """The cluster's static shape."""
        return self.cluster.config

    def coordinator(self, client: str, request: Request) -> str:
        """Every client talks to the request router."""
        return self.config.router

    def validate(self, request: Request) -> None:
        """DynamoDB's static input checks (see ``leader.validation``)."""
        validate_request(self.config.schema_map, request)

    # -- introspection ----------------------------------------------------------------------

    def replicas(self) -> tuple[str, ...]:
        """The node ids."""
        return self.nodes

    def replica_items(self, replica: str, table: str) -> Mapping[KeyTuple, Item]:
        """The committed items node ``replica`` has applied, over the partitions it hosts."""
        self._known(replica)
        self.descriptor.table(table)
        return self.cluster.items(replica, table)

    def replica_versions(self, replica: str, table: str
                         ) -> Mapping[KeyTuple, tuple[Item | None, Any]]:
        """Like :meth:`replica_items` with each item's version (the one histories
        record) and deleted items as ``None``: key -> (item or None, version)."""
        self._known(replica)
        self.descriptor.table(table)
        return {k: (item, version) for k, (item, version, _)
                in self.cluster.entries(replica, table).items()}

    def partition_of(self, table: str, key: Mapping[str, Any]) -> int:
        """The partition holding the item with primary key ``key``."""
        schema = self.descriptor.table(table)
        return self.config.partition_of(table, key_tuple(schema, key, what="Key"))

    def partition_replicas(self, partition: int) -> tuple[str, ...]:
        """The nodes holding ``partition``'s replicas."""
        return self.config.placement[partition]

    def leader_of(self, partition: int) -> str | None:
        """The live node leading ``partition`` in the highest term, if any."""
        return self.cluster.leader_of(partition)

    def stream_view(self, table: str) -> str | None:
        """The stream view type of ``table`` (None: no stream)."""
        self.descriptor.table(table)
        return self.config.stream_view(table)

    def stream_records(self, table: str) -> tuple[StreamRecord, ...]:
        """Every retained change record of ``table``, in stream order."""
        self.descriptor.table(table)
        view = self.config.stream_view(table)
        if view is None:
            raise ValidationError(f"table {table!r} has no stream", what="TableName")
        logs = {p: self.cluster.committed_log(p) for p in range(self.config.partitions)}
        return stream_records(logs, table, view, self.sim.now)

    def key_ranges(self, table: str) -> tuple[KeyRange, ...]:
        """One range per partition, ``p<i>``, with its replicas and its leader now."""
        self.descriptor.table(table)
        return tuple(KeyRange(f"p{p}", self.config.placement[p], self.cluster.leader_of(p))
                     for p in range(self.config.partitions))

    def range_of(self, table: str, key: tuple[Any, ...]) -> str:
        """``p<i>``, the partition holding key tuple ``key``."""
        self.descriptor.table(table)
        return f"p{self.config.partition_of(table, key)}"

    # -- driving ----------------------------------------------------------------------------

    def settle(self, *, seconds: float = 30.0) -> bool:
        """Take fair decisions until the cluster is quiet (every partition led, logs
        committed and replicated everywhere, no transaction in flight) or ``seconds``
        of simulated time passed; True when quiet."""
        end = self.sim.now + seconds
        self.sim.run(lambda: self.cluster.quiet() or self.sim.now >= end,
                     max_steps=2_000_000)
        return self.cluster.quiet()


def stream_config(schemas: tuple[TableSchema, ...], streams: Mapping[str, str | None] | None
                  ) -> tuple[tuple[str, str], ...]:
    """The (table, view type) pairs of the tables with a stream; ValueError for an
    unknown table or view type."""
    names = {s.name for s in schemas}
    if streams is None:
        return tuple((s.name, "NEW_AND_OLD_IMAGES") for s in schemas)
    out = []
    for table, view in streams.items():
        if table not in names:
            raise ValueError(f"stream for unknown table {table!r}")
        if view is None:
            continue
        if view not in STREAM_VIEWS:
            raise ValueError(f"unknown stream view {view!r}; known: {', '.join(STREAM_VIEWS)}")
        out.append((table, view))
    return tuple(out)


def dynamodb(seed: int = 0) -> LeaderStore:
    """The ``dynamodb`` preset: 5 nodes, 3 partitions replicated 3 ways, table
    ``items`` (key ``pk``) with a NEW_AND_OLD_IMAGES stream."""
    return LeaderStore(seed=seed, nodes=5, partitions=3, replication=3,
                       tables=(DEFAULT_TABLE,), streams={DEFAULT_TABLE.name:
                                                         "NEW_AND_OLD_IMAGES"})
