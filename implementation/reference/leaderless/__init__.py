"""The leaderless (Dynamo paper) mode of the reference store.

A consistent-hash ring with virtual nodes and fixed key ranges (:mod:`.ring`),
per-node versioned storage with a Merkle tree per range and a durable log
(:mod:`.storage`), last-writer-wins or dotted-version-vector conflict resolution
(:mod:`.versions`), nodes that coordinate N/R/W quorums with sloppy quorum, hinted
handoff and read repair (:mod:`.node`), Merkle anti-entropy as a message exchange
(:mod:`.antientropy`), and the Store facade with its two presets (:mod:`.store`,
:mod:`.presets`).
"""

from replicheck.implementation.reference.leaderless.antientropy import SyncResult
from replicheck.implementation.reference.leaderless.config import Cluster, LeaderlessConfig
from replicheck.implementation.reference.leaderless.node import LeaderlessNode
from replicheck.implementation.reference.leaderless.presets import (
    DYNAMO_LWW,
    DYNAMO_QUORUM,
    dynamo_lww,
    dynamo_quorum,
)
from replicheck.implementation.reference.leaderless.ring import Partition, Ring
from replicheck.implementation.reference.leaderless.store import (
    NETWORK_LATENCY,
    WEAKNESSES,
    LatencySimulation,
    LeaderlessClient,
    LeaderlessStore,
    describe,
)
from replicheck.implementation.reference.leaderless.validation import (
    MAX_ITEM_BYTES,
    item_size,
)

__all__ = [
    "DYNAMO_LWW",
    "DYNAMO_QUORUM",
    "MAX_ITEM_BYTES",
    "NETWORK_LATENCY",
    "WEAKNESSES",
    "Cluster",
    "LatencySimulation",
    "LeaderlessClient",
    "LeaderlessConfig",
    "LeaderlessNode",
    "LeaderlessStore",
    "Partition",
    "Ring",
    "SyncResult",
    "describe",
    "dynamo_lww",
    "dynamo_quorum",
    "item_size",
]
