"""The consistent-hash ring: virtual nodes, fixed key ranges and preference lists.

The ring follows the Dynamo paper's third partitioning strategy ("Q/S tokens per
node, equal-sized partitions"): the token space ``[0, 2**64)`` of
:func:`replicheck.models.merkle.key_token` is cut into ``Q = nodes * vnodes`` equal,
contiguous partitions, and each physical node owns ``vnodes`` of them (its virtual
nodes). Which partition a virtual node gets is a fixed pseudo-random permutation
(virtual node ``(node, i)`` is ranked by the token of ``("vnode", seed, node, i)``),
so the nodes interleave around the ring, and the same seed always gives the same
ring, in every process.

A key's token is :func:`key_token` of its *Merkle key* (:func:`merkle_key`: the
bare value of a one-attribute key, the tuple of a composite key — so ``k`` and
``(k,)`` are the same key, as the convergence checker reads them); the key lies in
the partition whose range holds the token. Its *preference list* is the walk
clockwise from that partition, collecting each physical node the first time one of
its partitions is met; the first ``n`` nodes are the key's replicas (owners), the
rest are the fallbacks a sloppy quorum uses, in order. Partitions (the *key ranges*)
are named ``r00``, ``r01``, ... in token order and never move, so each can have its
own Merkle tree whose token range is exactly the partition's.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from replicheck.models.merkle import TOKEN_SPACE, Key, key_token


def merkle_key(key: tuple[Any, ...]) -> Key:
    """The key a Merkle tree (and the ring) uses for a key tuple: its only value for
    a one-attribute key, the tuple itself for a composite one."""
    return key[0] if len(key) == 1 else key


def key_tuple_of(key: Key) -> tuple[Any, ...]:
    """The key tuple a Merkle key stands for (the inverse of :func:`merkle_key`:
    attribute values are never tuples)."""
    return key if isinstance(key, tuple) else (key,)


def token_of(key: tuple[Any, ...]) -> int:
    """The ring position of a key tuple."""
    return key_token(merkle_key(key))


@dataclass(frozen=True)
class Partition:
    """One key range of the ring: ``name``, tokens ``[lo, hi)``, the virtual node
    owning it (``owner``, a physical node id), and the full preference list of its
    keys (every node once, owners first)."""

    index: int
    name: str
    lo: int
    hi: int
    owner: str
    preference: tuple[str, ...]


class Ring:
    """A fixed ring over ``nodes`` with ``vnodes`` virtual nodes each and ``n``
    replicas per key. Deterministic: a function of its arguments only."""

    def __init__(self, nodes: Sequence[str], *, vnodes: int = 8, n: int = 3,
                 seed: int = 0) -> None:
        if len(set(nodes)) != len(nodes) or not nodes:
            raise ValueError(f"ring needs distinct node ids, got {list(nodes)}")
        if not 1 <= n <= len(nodes):
            raise ValueError(f"n must be between 1 and {len(nodes)}, got {n}")
        self.nodes = tuple(nodes)
        self.n = n
        self.vnodes = vnodes
        self.seed = seed
        virtual = sorted(((node, i) for node in self.nodes for i in range(vnodes)),
                         key=lambda v: key_token(("vnode", seed, v[0], v[1])))
        q = len(virtual)
        width = len(str(q - 1))
        self.bounds = tuple(i * TOKEN_SPACE // q for i in range(q + 1))
        owners = [node for node, _ in virtual]
        partitions = []
        for i in range(q):
            walk: list[str] = []
            for step in range(q):
                node = owners[(i + step) % q]
                if node not in walk:
                    walk.append(node)
                if len(walk) == len(self.nodes):
                    break
            partitions.append(Partition(i, f"r{i:0{width}d}", self.bounds[i],
                                        self.bounds[i + 1], owners[i], tuple(walk)))
        self.partitions = tuple(partitions)
        self._by_name = {p.name: p for p in partitions}

    # -- lookups -------------------------------------------------------------------------

    def partition_of_token(self, token: int) -> Partition:
        """The partition whose range holds ``token``."""
        if not 0 <= token < TOKEN_SPACE:
            raise ValueError(f"token {token} is outside [0, 2**64)")
        return self.partitions[bisect_right(self.bounds, token) - 1]

    def partition_of(self, key: tuple[Any, ...]) -> Partition:
        """The partition holding ``key`` (a key tuple)."""
        return self.partition_of_token(token_of(key))

    def partition(self, name: str) -> Partition:
        """The partition named ``name``; KeyError if there is none."""
        return self._by_name[name]

    def preference_list(self, key: tuple[Any, ...]) -> tuple[str, ...]:
        """The ``n`` replicas (owners) of ``key``, in preference order."""
        return self.partition_of(key).preference[: self.n]

    def fallbacks(self, key: tuple[Any, ...]) -> tuple[str, ...]:
        """The nodes beyond the preference list, in the order a sloppy quorum uses them."""
        return self.partition_of(key).preference[self.n:]

    def replicas_of(self, name: str) -> tuple[str, ...]:
        """The ``n`` nodes replicating the range ``name``."""
        return self.partition(name).preference[: self.n]

    def ranges_of(self, node: str) -> tuple[str, ...]:
        """The names of the ranges ``node`` replicates, in token order."""
        return tuple(p.name for p in self.partitions if node in p.preference[: self.n])

    def replicates(self, node: str, key: tuple[Any, ...]) -> bool:
        """True when ``node`` is one of the ``n`` replicas of ``key``."""
        return node in self.preference_list(key)

    def shared_ranges(self, a: str, b: str) -> tuple[str, ...]:
        """The ranges both ``a`` and ``b`` replicate, in token order."""
        return tuple(p.name for p in self.partitions
                     if a in p.preference[: self.n] and b in p.preference[: self.n])
