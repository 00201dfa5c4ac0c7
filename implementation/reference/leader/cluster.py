"""One leader-mode cluster attached to a simulation, and what the facades ask of it:
who leads, what each replica holds, the committed logs, and whether it is quiet."""

from __future__ import annotations

from typing import Any

from replicheck.implementation.reference.leader.config import ClusterConfig
from replicheck.implementation.reference.leader.node import NodeEndpoint, replay
from replicheck.implementation.reference.leader.partition import LEADER
from replicheck.implementation.reference.leader.router import RouterEndpoint
from replicheck.implementation.reference.leader.state import Entry, PartitionState
from replicheck.implementation.reference.sim import Simulation
from replicheck.models.items.operations import KeyTuple
from replicheck.models.items.requests import Item


class Cluster:
    """The router and nodes of ``config``, attached to ``sim`` and started (each
    partition led by the first node of its placement, in term 1)."""

    def __init__(self, sim: Simulation, config: ClusterConfig) -> None:
        self.sim = sim
        self.config = config
        self.router = RouterEndpoint(config.router, config)
        sim.attach(self.router)
        self.nodes: dict[str, NodeEndpoint] = {}
        for name in config.nodes:
            node = NodeEndpoint(name, config)
            sim.attach(node)
            self.nodes[name] = node
        for node in self.nodes.values():
            node.start()

    # -- per-replica views ------------------------------------------------------------------

    def replica_view(self, node: str, partition: int
                     ) -> tuple[list[Entry], int, PartitionState, int]:
        """A replica's (log, commit index, committed state, term); a crashed node's as
        its durable records would restore it."""
        endpoint = self.nodes[node]
        if node in self.sim.crashed:
            term, _, log, commit = replay(endpoint.durable).get(partition, (0, None, [], 0))
            state = PartitionState(self.config.schema_map)
            for entry in log[:commit]:
                state.apply(entry)
            return log, commit, state, term
        replica = endpoint.replicas[partition]
        return replica.log, replica.commit, replica.applied, replica.term

    def committed_log(self, partition: int) -> list[Entry]:
        """The longest committed prefix of the partition's log any replica knows
        (all replicas agree on committed entries)."""
        best: list[Entry] = []
        for node in self.config.placement[partition]:
            log, commit, _, _ = self.replica_view(node, partition)
            if commit > len(best):
                best = log[:commit]
        return best

    def entries(self, node: str, table: str) -> dict[KeyTuple, tuple[Item | None, int, Any]]:
        """Every item ``node`` has applied for ``table`` over the partitions it hosts,
        deletes included: key -> (item or None, log index version, stamp)."""
        out: dict[KeyTuple, tuple[Item | None, int, Any]] = {}
        for partition in self.config.hosts(node):
            _, _, state, _ = self.replica_view(node, partition)
            items = state.items[table]
            for (t, key), version in state.versions.items():
                if t == table:
                    found = items.get(key)
                    out[key] = (None if found is None else dict(found), version,
                                state.stamps.get((t, key)))
        return out

    def items(self, node: str, table: str) -> dict[KeyTuple, Item]:
        """Every item ``node`` has applied for ``table`` (its hosted partitions merged)."""
        out: dict[KeyTuple, Item] = {}
        for partition in self.config.hosts(node):
            _, _, state, _ = self.replica_view(node, partition)
            out.update({k: dict(v) for k, v in state.items[table].items()})
        return out

    def leader_of(self, partition: int) -> str | None:
        """The live replica leading ``partition`` in the highest term, if any."""
        best: tuple[int, str] | None = None
        for node in self.config.placement[partition]:
            if node in self.sim.crashed:
                continue
            replica = self.nodes[node].replicas[partition]
            if replica.role == LEADER and (best is None or replica.term > best[0]):
                best = (replica.term, node)
        return None if best is None else best[1]

    def quiet(self) -> bool:
        """True when every partition has a leader whose whole log is committed in its
        term, every live replica holds and has applied that log, no transaction is in
        flight or holds a lock, and (global tables) every other region acknowledged
        every committed local write."""
        for partition in range(self.config.partitions):
            name = self.leader_of(partition)
            if name is None:
                return False
            leader = self.nodes[name].replicas[partition]
            if leader.commit != leader.last_index:
                return False
            if leader.coordinator.writes or leader.coordinator.gets:
                return False
            if leader.applied.locks or leader.applied.prepared:
                return False
            for node in self.config.placement[partition]:
                if node in self.sim.crashed:
                    continue
                replica = self.nodes[node].replicas[partition]
                if replica.commit != leader.commit or replica.last_index != leader.last_index:
                    return False
            if leader.geo is not None:
                for peer in self.config.geo:
                    if leader.geo.acked.get(peer.region, 0) < leader.commit and any(
                            e.kind in ("write", "commit") and e.effects
                            for e in leader.log[leader.geo.acked.get(peer.region, 0):]):
                        return False
        return True
