"""The knobs of a leaderless (Dynamo paper) cluster, and the immutable facts every
node of one cluster shares (ring, conflict resolution, table schemas, Merkle shapes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from replicheck.implementation.reference.leaderless.ring import Ring
from replicheck.implementation.reference.leaderless.versions import (
    DVVResolver,
    LWWResolver,
    Resolver,
)
from replicheck.models.items.errors import ValidationError
from replicheck.models.items.requests import TableSchema
from replicheck.models.merkle import MerkleShape

Resolution = Literal["lww", "dvv"]
"""Conflict resolution: last-writer-wins on (coordinator timestamp, node), or dotted
version vectors with siblings."""


@dataclass(frozen=True)
class LeaderlessConfig:
    """How a leaderless cluster replicates.

    ``n`` replicas per key (the first ``n`` distinct nodes of the key's preference
    list); a write is acknowledged after ``w`` replicas stored it, a read answers after
    ``r`` replies. ``resolution`` picks last-writer-wins or dotted version vectors.
    ``sloppy_quorum``: a write (read) that has not heard from a preference-list node
    within ``sloppy_after`` seconds goes to the next healthy nodes beyond the list,
    writes carrying a hint naming the intended owner (hinted handoff, retried every
    ``handoff_period`` seconds). ``read_repair``: replicas that answered a read with
    an older state get the merged one back. An operation the coordinator cannot
    finish within ``coordinator_timeout`` seconds answers ``Indeterminate``. Every
    time is simulated, elapsed time (clock skew does not change it).
    """

    n: int = 3
    r: int = 1
    w: int = 1
    resolution: Resolution = "lww"
    sloppy_quorum: bool = True
    read_repair: bool = False
    nodes: int = 5
    vnodes: int = 8
    sloppy_after: float = 0.2
    coordinator_timeout: float = 0.6
    handoff_period: float = 0.5
    sync_timeout: float = 2.0
    merkle_fanout: int = 4
    merkle_depth: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.n <= self.nodes:
            raise ValueError(f"n must be between 1 and nodes ({self.nodes}), got {self.n}")
        if not 1 <= self.r <= self.n or not 1 <= self.w <= self.n:
            raise ValueError(f"r and w must be between 1 and n ({self.n}), got r={self.r} "
                             f"w={self.w}")
        if self.resolution not in ("lww", "dvv"):
            raise ValueError(f"resolution must be 'lww' or 'dvv', got {self.resolution!r}")
        if self.vnodes < 1:
            raise ValueError(f"vnodes must be at least 1, got {self.vnodes}")
        if not 0 < self.sloppy_after < self.coordinator_timeout:
            raise ValueError("need 0 < sloppy_after < coordinator_timeout")


@dataclass(frozen=True)
class Cluster:
    """What every node of one cluster knows and never changes: its configuration, the
    ring, the conflict resolver, the tables and the Merkle shape of every ring range."""

    config: LeaderlessConfig
    ring: Ring
    tables: Mapping[str, TableSchema]
    resolver: Resolver = field(init=False)
    shapes: Mapping[str, MerkleShape] = field(init=False)

    def __post_init__(self) -> None:
        resolver: Resolver = (LWWResolver() if self.config.resolution == "lww"
                              else DVVResolver())
        object.__setattr__(self, "resolver", resolver)
        shapes = {p.name: MerkleShape(self.config.merkle_fanout, self.config.merkle_depth,
                                      lo=p.lo, hi=p.hi)
                  for p in self.ring.partitions}
        object.__setattr__(self, "shapes", shapes)

    def schema(self, table: str) -> TableSchema:
        """The schema of ``table``; ValidationError when the cluster has no such table."""
        found = self.tables.get(table)
        if found is None:
            raise ValidationError(f"Requested resource not found: table {table!r}",
                                  what="TableName")
        return found
