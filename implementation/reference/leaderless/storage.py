"""One node's versioned storage: the replica states of the keys it owns (with a
Merkle tree per ring range, kept up to date on every change), the hinted states it
holds for other nodes, and how both are rebuilt from the durable log.

The durable log is a list of plain tuples, appended before a change is acknowledged:

- ``("store", table, key, state)``: the node's state for ``key`` became ``state``
  (the merge of everything it received for it);
- ``("hint", owner, table, key, state)``: the hinted state held for ``owner``
  became ``state``; ``("unhint", owner, table, key)``: handed off, dropped;
- ``("ts", t)``: the highest last-writer-wins timestamp the node has given out;
- ``("boot", n)``: the node started its ``n``-th incarnation;
- ``("taken", client, rid)``: the node coordinates client ``client``'s request
  ``rid`` (a copy of it delivered again is not coordinated again).

Replaying the log in order gives back exactly the storage, the hints, the timestamp
high-water mark, the incarnation and the requests taken the node had logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from replicheck.implementation.reference.leaderless.config import Cluster
from replicheck.implementation.reference.leaderless.ring import merkle_key
from replicheck.implementation.reference.leaderless.versions import State
from replicheck.models.merkle import MerkleTree, key_token

KeyTuple = tuple[Any, ...]
HintKey = tuple[str, str, KeyTuple]
"""(owner, table, key) of a hinted state."""


class ReplicaStorage:
    """The states a node holds as a replica, by table and key tuple, and their Merkle
    trees: one per (table, ring range), keyed by each key's Merkle key (see
    :func:`~replicheck.implementation.reference.leaderless.ring.merkle_key`), whose
    value is the resolver's canonical encoding of the key's state. Trees always match
    the states."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.data: dict[str, dict[KeyTuple, State]] = {t: {} for t in cluster.tables}
        self._by_range: dict[tuple[str, str], dict[KeyTuple, State]] = {}
        self._trees: dict[tuple[str, str], MerkleTree] = {}

    def get(self, table: str, key: KeyTuple) -> State | None:
        """The state held for ``key`` (``None``: nothing)."""
        return self.data[table].get(key)

    def absorb(self, table: str, key: KeyTuple, incoming: State) -> State | None:
        """Merge ``incoming`` into the state of ``key``; the new state when it
        changed, ``None`` when the node already knew everything ``incoming`` holds."""
        current = self.data[table].get(key)
        merged = self.cluster.resolver.merge(current, incoming)
        if merged is None or merged == current:
            return None
        self.set(table, key, merged)
        return merged

    def set(self, table: str, key: KeyTuple, state: State) -> None:
        """Store ``state`` for ``key`` and update its range's tree."""
        self.data[table][key] = state
        name = self.cluster.ring.partition_of(key).name
        self._by_range.setdefault((table, name), {})[key] = state
        tree = self.tree(table, name)
        self._trees[(table, name)] = tree.with_put(merkle_key(key),
                                                   self.cluster.resolver.merkle_value(state))

    def load(self, table: str, states: Iterable[tuple[KeyTuple, State]]) -> None:
        """Store many states at once (a bulk load or a replay), rebuilding the trees
        of the ranges touched in one pass each."""
        touched: set[str] = set()
        ring = self.cluster.ring
        rows = self.data[table]
        for key, state in states:
            rows[key] = state
            name = ring.partition_of_token(key_token(merkle_key(key))).name
            self._by_range.setdefault((table, name), {})[key] = state
            touched.add(name)
        value = self.cluster.resolver.merkle_value
        for name in touched:
            pairs = [(merkle_key(k), value(s)) for k, s in self._by_range[(table, name)].items()]
            self._trees[(table, name)] = MerkleTree.build(pairs, self.cluster.shapes[name])

    def tree(self, table: str, range_name: str) -> MerkleTree:
        """The Merkle tree of the node's states in ``range_name`` of ``table``."""
        found = self._trees.get((table, range_name))
        if found is None:
            found = MerkleTree.empty(self.cluster.shapes[range_name])
            self._trees[(table, range_name)] = found
        return found

    def states(self, table: str) -> Mapping[KeyTuple, State]:
        """Every state of ``table`` (read-only view)."""
        return self.data[table]

    def range_states(self, table: str, range_name: str) -> Mapping[KeyTuple, State]:
        """The states of the keys of ``table`` in range ``range_name``."""
        return self._by_range.get((table, range_name), {})


@dataclass
class Recovered:
    """What a node rebuilds from its durable log."""

    storage: ReplicaStorage
    hints: dict[HintKey, State] = field(default_factory=dict)
    last_timestamp: int | None = None
    incarnation: int = 0
    taken: set[tuple[str, int]] = field(default_factory=set)


def replay(cluster: Cluster, log: Iterable[Any]) -> Recovered:
    """Rebuild a node's storage, hints, timestamp high-water mark, incarnation and
    requests taken from its durable log (see the module docstring)."""
    storage = ReplicaStorage(cluster)
    latest: dict[str, dict[KeyTuple, State]] = {t: {} for t in cluster.tables}
    out = Recovered(storage)
    for entry in log:
        kind = entry[0]
        if kind == "store":
            _, table, key, state = entry
            latest[table][key] = state
        elif kind == "hint":
            _, owner, table, key, state = entry
            out.hints[(owner, table, key)] = state
        elif kind == "unhint":
            _, owner, table, key = entry
            out.hints.pop((owner, table, key), None)
        elif kind == "ts":
            out.last_timestamp = entry[1] if out.last_timestamp is None else max(
                out.last_timestamp, entry[1])
        elif kind == "boot":
            out.incarnation = max(out.incarnation, entry[1])
        elif kind == "taken":
            out.taken.add((entry[1], entry[2]))
        else:  # pragma: no cover - the node writes only the kinds above
            raise ValueError(f"unknown durable log entry {entry!r}")
    for table, rows in latest.items():
        storage.load(table, rows.items())
    return out
