"""The static shape of one leader-mode cluster: its nodes, where each partition's
replicas live, its tables and streams, its timing, and how keys map to partitions.

Everything here is a plain value fixed when the cluster is built; nothing changes
while the simulation runs. Key placement hashes the key's canonical bytes with
BLAKE2b, so it is the same in every process whatever ``PYTHONHASHSEED`` says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from replicheck.models.items.operations import KeyTuple, key_tuple
from replicheck.models.items.requests import (
    Get,
    Put,
    Request,
    TableSchema,
    TransactGet,
    TransactWrite,
    WriteAction,
)
from replicheck.models.items.values import number_to_wire

STREAM_VIEWS: Final[tuple[str, ...]] = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE",
                                        "NEW_AND_OLD_IMAGES")
"""The stream view types a table's stream may be configured with (DynamoDB's names)."""

STREAM_RETENTION_SECONDS: Final = 24 * 3600.0
"""How long a stream record is kept, in seconds of the simulation's global clock."""

KeyRef = tuple[str, KeyTuple]
"""An item's identity inside a cluster: (table name, key tuple)."""


@dataclass(frozen=True)
class Timing:
    """Every timeout of the protocol, in seconds of simulated (elapsed) time.

    Elections use a timeout drawn deterministically in ``[election_min,
    election_max)`` from the node, the partition and a counter (never ``random``).
    No timeout here is used to decide what is safe: they only decide when to try
    again, so clock skew cannot make a replica answer wrongly."""

    heartbeat: float = 0.05
    election_min: float = 0.3
    election_max: float = 0.6
    router_retry: float = 0.05
    router_attempts: int = 12
    prepare_retry: float = 0.1
    vote_timeout: float = 0.5
    commit_ack_wait: float = 0.2
    in_doubt: float = 0.3
    geo_retry: float = 0.2
    batch: int = 64


@dataclass(frozen=True)
class GeoPeer:
    """Another region a cluster replicates its writes to (global tables): the
    region's name and where its partitions' replicas live."""

    region: str
    placement: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ClusterConfig:
    """One leader-mode cluster (one region of a global table, or the whole store).

    ``placement[p]`` lists the nodes holding partition ``p``'s replicas; the first
    one leads at start. ``streams`` maps a table to its stream view type (tables
    without an entry have no stream). ``geo`` lists the regions this one ships its
    committed writes to (empty: no cross-region replication)."""

    region: str
    nodes: tuple[str, ...]
    router: str
    placement: tuple[tuple[str, ...], ...]
    schemas: tuple[TableSchema, ...]
    streams: tuple[tuple[str, str], ...] = ()
    seed: int = 0
    timing: Timing = field(default_factory=Timing)
    geo: tuple[GeoPeer, ...] = ()

    @property
    def partitions(self) -> int:
        """How many partitions the key space is split into."""
        return len(self.placement)

    @property
    def schema_map(self) -> Mapping[str, TableSchema]:
        """The tables by name."""
        return {s.name: s for s in self.schemas}

    def stream_view(self, table: str) -> str | None:
        """The stream view type of ``table``, or ``None`` when it has no stream."""
        return dict(self.streams).get(table)

    def partition_of(self, table: str, key: KeyTuple) -> int:
        """The partition holding item ``key`` of ``table``."""
        return _bucket(canonical_key_bytes(table, key), self.partitions)

    def token_partition(self, token: str) -> int:
        """The partition whose leader coordinates transactions carrying the client
        request token ``token`` (so every retry reaches the same coordinator)."""
        return _bucket(b"token\x00" + token.encode("utf-8"), self.partitions)

    def partition_for(self, request: Request) -> int:
        """The partition whose leader serves ``request`` (a validated request): the
        item's; for TransactWrite its token's, else its first action's; for
        TransactGet its first get's."""
        if isinstance(request, TransactWrite):
            if request.token is not None:
                return self.token_partition(request.token)
            return self.partition_of(*ref_of(self.schema_map, request.actions[0]))
        if isinstance(request, TransactGet):
            return self.partition_of(*ref_of(self.schema_map, request.gets[0]))
        return self.partition_of(*ref_of(self.schema_map, request))

    def hosts(self, node: str) -> tuple[int, ...]:
        """The partitions ``node`` holds a replica of."""
        return tuple(p for p, replicas in enumerate(self.placement) if node in replicas)

    def election_timeout(self, node: str, partition: int, count: int) -> float:
        """The ``count``-th election timeout of ``node``'s replica of ``partition``:
        deterministic jitter in ``[election_min, election_max)``."""
        digest = hashlib.blake2b(
            f"{self.seed}/{self.region}/{node}/{partition}/{count}".encode(), digest_size=8
        ).digest()
        fraction = int.from_bytes(digest, "big") / 2.0**64
        t = self.timing
        return t.election_min + (t.election_max - t.election_min) * fraction


def ref_of(schemas: Mapping[str, TableSchema], request: Get | WriteAction) -> KeyRef:
    """The (table, key) a validated single-item request or action touches."""
    schema = schemas[request.table]
    if isinstance(request, Put):
        return request.table, key_tuple(schema, request.item, what="Item", exact=False)
    return request.table, key_tuple(schema, request.key, what="Key", exact=True)


def place(nodes: tuple[str, ...], partitions: int, replication: int
          ) -> tuple[tuple[str, ...], ...]:
    """Replica sets for ``partitions`` partitions over ``nodes``: partition ``p`` on
    ``replication`` consecutive nodes starting at node ``p`` (mod the node count), so
    initial leaders are spread over the nodes."""
    if not 1 <= replication <= len(nodes):
        raise ValueError(f"replication {replication} needs 1..{len(nodes)} nodes")
    if partitions < 1:
        raise ValueError("a cluster needs at least one partition")
    return tuple(
        tuple(nodes[(p + i) % len(nodes)] for i in range(replication))
        for p in range(partitions)
    )


def canonical_key_bytes(table: str, key: KeyTuple) -> bytes:
    """Bytes naming one item, the same for equal keys in every process."""
    parts = [table.encode("utf-8")]
    for value in key:
        parts.append(_key_part(value))
    return b"\x00".join(parts)


def _key_part(value: Any) -> bytes:
    if isinstance(value, str):
        return b"S" + value.encode("utf-8")
    if isinstance(value, bytes):
        return b"B" + value.hex().encode("ascii")
    if isinstance(value, Decimal | int):
        return b"N" + number_to_wire(value).encode("ascii")
    raise TypeError(f"not a key value: {value!r}")


def _bucket(data: bytes, buckets: int) -> int:
    digest = hashlib.blake2b(data, digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets
