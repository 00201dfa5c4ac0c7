"""The leader-per-partition (DynamoDB) mode of the reference store, and global tables.

Keys hash to partitions; each partition is a Raft group of replicas with one leader
per epoch. Writes are evaluated by the leader with the item-store model and
acknowledged once a majority logged them; strong reads confirm leadership through a
majority round; transactions run two-phase commit over the partitions' logs; the
change stream is read from committed entries. Global tables join several such
clusters (regions) with asynchronous last-writer-wins replication.
"""

from replicheck.implementation.reference.leader.global_tables import (
    GlobalTablesStore,
    global_tables,
)
from replicheck.implementation.reference.leader.store import (
    LeaderStore,
    dynamodb,
    leader_descriptor,
)

__all__ = ["GlobalTablesStore", "LeaderStore", "dynamodb", "global_tables",
           "leader_descriptor"]
