"""Global tables: several leader-mode regions in one simulation, replicating each
committed local write asynchronously to every other region with last-writer-wins.

Each region is a full leader-mode cluster (its own nodes, partitions and request
router): inside a region everything the ``dynamodb`` preset promises holds (strong
reads, conditional writes and transactions are linearizable / serializable among
that region's operations). Across regions replication is asynchronous
(:mod:`~replicheck.implementation.reference.leader.geo`): a strong read in one region
can miss a write acknowledged in another, concurrent writes of one item in two
regions lose one of them (lost update), and a transaction is applied in other
regions item by item under last-writer-wins. What holds globally: after the network
heals and replication catches up, every replica of every region holds the same
items (convergence); a client that stays in its region reads its own writes and
never goes back in time with strong reads (versions are stamps ``[timestamp,
region]``, only ever increasing in a region).

Clients belong to a region: one :meth:`GlobalTablesStore.assign`-ed explicitly, else
one whose name starts with ``"<region>:"`` (``"r2:alice"``), else one whose name ends
in a number ``n`` goes to region ``n mod regions`` (``"client-0"`` to ``r1``,
``"client-1"`` to ``r2``), else the first region.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from replicheck.implementation.memory import DEFAULT_TABLE
from replicheck.implementation.reference.base import CLIENT_TIMEOUT, SimulatedStore
from replicheck.implementation.reference.leader.cluster import Cluster
from replicheck.implementation.reference.leader.config import (
    ClusterConfig,
    GeoPeer,
    Timing,
    place,
)
from replicheck.implementation.reference.leader.store import (
    LEADER_CAPABILITIES,
    LEADER_WINDOWS,
    stream_config,
)
from replicheck.implementation.reference.leader.stream import stream_records
from replicheck.implementation.reference.leader.validation import validate_request
from replicheck.implementation.store import Claim, Descriptor, Handle, KeyRange, StreamRecord
from replicheck.models.items.errors import ValidationError
from replicheck.models.items.operations import KeyTuple
from replicheck.models.items.requests import Item, Request, TableSchema

_TRAILING_NUMBER = re.compile(r"(\d+)$")


def global_descriptor(name: str, tables: tuple[TableSchema, ...]) -> Descriptor:
    """What global tables promise everywhere (little) and admit (much)."""
    return Descriptor(
        name=name,
        capabilities=LEADER_CAPABILITIES,
        claims=(
            Claim("convergence", frozenset({"replicas"}),
                  "after healing and quiescence every replica of every region holds the "
                  "items with the greatest last-writer-wins stamps"),
            Claim("read-your-writes", frozenset({"get-strong"}),
                  "for clients that stay in their region"),
            Claim("monotonic-reads", frozenset({"get-strong"}),
                  "for clients that stay in their region"),
        ),
        weaknesses=frozenset({"stale-read", "lost-update", "not-linearizable", "G0",
                              "G1c", "G-single", "G2-item"}),
        tables=tables,
        notes="regions replicate asynchronously with last writer wins; strong reads, "
              "conditional writes and transactions are linearizable / serializable only "
              "within one region; stream_records() is the first region's stream",
        windows=LEADER_WINDOWS,
    )


class GlobalTablesStore(SimulatedStore):
    """``regions`` leader-mode regions (``nodes`` nodes, ``partitions`` partitions
    each) in one simulation, with asynchronous last-writer-wins replication between
    them. Node ids are ``"<region>-n<i>"``, regions ``"r1"``, ``"r2"``, ..."""

    def __init__(self, *, seed: int = 0, regions: int = 2, nodes: int = 3,
                 partitions: int = 1, replication: int = 3,
                 tables: Iterable[TableSchema] = (DEFAULT_TABLE,),
                 streams: Mapping[str, str | None] | None = None,
                 timing: Timing | None = None, client_timeout: float = CLIENT_TIMEOUT,
                 name: str = "global-tables") -> None:
        super().__init__(seed=seed, client_timeout=client_timeout)
        if regions < 1:
            raise ValueError("global tables need at least one region")
        schemas = tuple(tables)
        names = tuple(f"r{i + 1}" for i in range(regions))
        placements = {
            region: place(tuple(f"{region}-n{j + 1}" for j in range(nodes)), partitions,
                          replication)
            for region in names
        }
        self.regions: dict[str, Cluster] = {}
        for region in names:
            config = ClusterConfig(
                region=region, nodes=tuple(f"{region}-n{j + 1}" for j in range(nodes)),
                router=f"{region}-router", placement=placements[region], schemas=schemas,
                streams=stream_config(schemas, streams), seed=seed,
                timing=timing or Timing(),
                geo=tuple(GeoPeer(other, placements[other]) for other in names
                          if other != region),
            )
            self.regions[region] = Cluster(self.sim, config)
        self.nodes = tuple(n for c in self.regions.values() for n in c.config.nodes)
        self.assignments: dict[str, str] = {}
        self._descriptor = global_descriptor(name, schemas)

    # -- regions ----------------------------------------------------------------------------

    def region_names(self) -> tuple[str, ...]:
        """The regions, in order."""
        return tuple(self.regions)

    def assign(self, client: str, region: str) -> None:
        """Attach ``client`` to ``region`` (before its first request)."""
        if region not in self.regions:
            raise ValueError(f"unknown region {region!r}; regions: {', '.join(self.regions)}")
        self.assignments[client] = region

    def region_of(self, client: str) -> str:
        """The region ``client`` belongs to (see the module docstring for the rule)."""
        if client in self.assignments:
            return self.assignments[client]
        prefix = client.split(":", 1)[0]
        if ":" in client and prefix in self.regions:
            return prefix
        names = tuple(self.regions)
        match = _TRAILING_NUMBER.search(client)
        if match:
            return names[int(match.group(1)) % len(names)]
        return names[0]

    def region_nodes(self, region: str) -> tuple[str, ...]:
        """The nodes of ``region``."""
        return self.regions[region].config.nodes

    def leader_of(self, region: str, partition: int = 0) -> str | None:
        """The node leading ``partition`` in ``region``, if any."""
        return self.regions[region].leader_of(partition)

    def _cluster_of(self, node: str) -> Cluster:
        self._known(node)
        return self.regions[node.split("-", 1)[0]]

    # -- Store ------------------------------------------------------------------------------

    def coordinator(self, client: str, request: Request) -> str:
        """The request router of the client's region."""
        return self.regions[self.region_of(client)].config.router

    def submit_at(self, client: str, request: Request, node: str,
                  context: Mapping[str, int] | None = None) -> Handle:
        """Start ``request`` for ``client`` at ``node`` of the client's own region (a
        client reaches its region's endpoint only: the guarantees held for a client
        are those of a client that stays in its region). A node of another region
        completes the handle at once with a ValidationError, nothing sent."""
        self._known(node)
        region = self.region_of(client)
        if node not in self.region_nodes(region):
            handle = Handle(client, request)
            handle.status = "error"
            handle.error = ValidationError(
                f"node {node!r} is outside client {client!r}'s region {region!r}: a "
                "client reaches its own region's nodes only", what="Endpoint")
            return handle
        return super().submit_at(client, request, node, context)

    def validate(self, request: Request) -> None:
        """DynamoDB's static input checks (see ``leader.validation``)."""
        first = next(iter(self.regions.values()))
        validate_request(first.config.schema_map, request)

    # -- introspection ----------------------------------------------------------------------

    def replicas(self) -> tuple[str, ...]:
        """Every node of every region."""
        return self.nodes

    def replica_items(self, replica: str, table: str) -> Mapping[KeyTuple, Item]:
        """The committed items node ``replica`` has applied."""
        self.descriptor.table(table)
        return self._cluster_of(replica).items(replica, table)

    def replica_versions(self, replica: str, table: str
                         ) -> Mapping[KeyTuple, tuple[Item | None, Any]]:
        """Each applied item (``None``: deleted) with its stamp ``[timestamp, region]``."""
        self.descriptor.table(table)
        entries = self._cluster_of(replica).entries(replica, table)
        return {k: (item, None if stamp is None else [stamp[0], stamp[1]])
                for k, (item, _, stamp) in entries.items()}

    def stream_records(self, table: str) -> tuple[StreamRecord, ...]:
        """The first region's stream of ``table`` (see :meth:`region_stream_records`)."""
        return self.region_stream_records(next(iter(self.regions)), table)

    def region_stream_records(self, region: str, table: str) -> tuple[StreamRecord, ...]:
        """Every retained change record of ``table`` in ``region``: local writes and
        writes replicated from other regions that won there."""
        self.descriptor.table(table)
        cluster = self.regions[region]
        view = cluster.config.stream_view(table)
        if view is None:
            raise ValidationError(f"table {table!r} has no stream", what="TableName")
        logs = {p: cluster.committed_log(p) for p in range(cluster.config.partitions)}
        return stream_records(logs, table, view, self.sim.now)

    # -- driving ----------------------------------------------------------------------------

    def key_ranges(self, table: str) -> tuple[KeyRange, ...]:
        """One range per partition, ``p<i>``, replicated in every region (each region
        leads its own copy: no single leader)."""
        self.descriptor.table(table)
        first = next(iter(self.regions.values())).config
        return tuple(KeyRange(f"p{p}", tuple(n for c in self.regions.values()
                                              for n in c.config.placement[p]))
                     for p in range(first.partitions))

    def range_of(self, table: str, key: tuple[Any, ...]) -> str:
        """``p<i>``, the partition holding key tuple ``key`` (the same in every region)."""
        self.descriptor.table(table)
        return f"p{next(iter(self.regions.values())).config.partition_of(table, key)}"

    def quiet(self) -> bool:
        """Every region quiet, every shipment acknowledged."""
        return all(c.quiet() for c in self.regions.values())

    def settle(self, *, seconds: float = 30.0) -> bool:
        """Take fair decisions until every region is quiet and replication caught up,
        or ``seconds`` of simulated time passed; True when quiet."""
        end = self.sim.now + seconds
        self.sim.run(lambda: self.quiet() or self.sim.now >= end, max_steps=2_000_000)
        return self.quiet()


def global_tables(seed: int = 0, regions: int = 2) -> GlobalTablesStore:
    """The ``global-tables`` preset: ``regions`` regions of 3 nodes and 1 partition
    each, table ``items`` (key ``pk``) with a NEW_AND_OLD_IMAGES stream per region."""
    return GlobalTablesStore(seed=seed, regions=regions, nodes=3, partitions=1,
                             replication=3, tables=(DEFAULT_TABLE,))
