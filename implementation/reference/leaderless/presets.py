"""The two leaderless presets of CONTRACTS.md section 3.

``dynamo-lww``: 5 nodes, N=3 R=1 W=1, last writer wins on the coordinator's (skewed)
clock, sloppy quorum with hinted handoff, no read repair (a read asks one replica and
compares nothing), Merkle anti-entropy.

``dynamo-quorum``: 5 nodes, N=3 R=2 W=2, dotted version vectors with siblings, sloppy
quorum with hinted handoff, read repair, Merkle anti-entropy.

Neither claims linearizability, read-your-writes or monotonic reads: under a sloppy
quorum (or R=W=1) a read can miss an acknowledged write.
"""

from __future__ import annotations

from replicheck.implementation.memory import DEFAULT_TABLE
from replicheck.implementation.reference.leaderless.config import LeaderlessConfig
from replicheck.implementation.reference.leaderless.store import LeaderlessStore
from replicheck.models.items.requests import TableSchema

DYNAMO_LWW = LeaderlessConfig(n=3, r=1, w=1, resolution="lww", sloppy_quorum=True,
                              read_repair=False, nodes=5)
"""The configuration of the ``dynamo-lww`` preset."""

DYNAMO_QUORUM = LeaderlessConfig(n=3, r=2, w=2, resolution="dvv", sloppy_quorum=True,
                                 read_repair=True, nodes=5)
"""The configuration of the ``dynamo-quorum`` preset."""


def dynamo_lww(seed: int = 0, *tables: TableSchema) -> LeaderlessStore:
    """A fresh ``dynamo-lww`` cluster over ``tables`` (default: the one table
    ``items`` keyed by ``pk``)."""
    return LeaderlessStore(DYNAMO_LWW, name="dynamo-lww", tables=tables or (DEFAULT_TABLE,),
                           seed=seed)


def dynamo_quorum(seed: int = 0, *tables: TableSchema) -> LeaderlessStore:
    """A fresh ``dynamo-quorum`` cluster over ``tables`` (default: the one table
    ``items`` keyed by ``pk``)."""
    return LeaderlessStore(DYNAMO_QUORUM, name="dynamo-quorum",
                           tables=tables or (DEFAULT_TABLE,), seed=seed)
