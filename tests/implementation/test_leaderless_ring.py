"""The leaderless ring: virtual nodes, fixed ranges, preference lists."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from replicheck.implementation.reference.leaderless import Ring
from replicheck.models.merkle import TOKEN_SPACE, key_token

NODES = ("n1", "n2", "n3", "n4", "n5")


def test_ranges_partition_the_token_space_into_equal_named_ranges() -> None:
    ring = Ring(NODES, vnodes=8, n=3)
    parts = ring.partitions
    assert len(parts) == 40
    assert [p.name for p in parts] == [f"r{i:02d}" for i in range(40)]
    assert parts[0].lo == 0 and parts[-1].hi == TOKEN_SPACE
    assert all(a.hi == b.lo for a, b in itertools.pairwise(parts))
    sizes = {p.hi - p.lo for p in parts}
    assert max(sizes) - min(sizes) <= 1


def test_every_node_owns_its_virtual_nodes_and_they_interleave() -> None:
    ring = Ring(NODES, vnodes=8, n=3)
    assert Counter(p.owner for p in ring.partitions) == dict.fromkeys(NODES, 8)
    # a pseudo-random placement: no node owns a run of all its partitions
    owners = [p.owner for p in ring.partitions]
    assert len({owners[i] for i in range(8)}) > 1


def test_preference_lists_walk_clockwise_over_distinct_nodes() -> None:
    ring = Ring(NODES, vnodes=8, n=3)
    q = len(ring.partitions)
    for p in ring.partitions:
        assert sorted(p.preference) == sorted(NODES)
        assert p.preference[0] == p.owner
        # the walk meets each node at the first partition (clockwise) it owns
        order = []
        for step in range(q):
            owner = ring.partitions[(p.index + step) % q].owner
            if owner not in order:
                order.append(owner)
        assert tuple(order) == p.preference


def test_a_key_lives_in_the_range_holding_its_token() -> None:
    ring = Ring(NODES, vnodes=8, n=3)
    for i in range(200):
        key = (f"k{i}",)
        part = ring.partition_of(key)
        assert part.lo <= key_token(key[0]) < part.hi  # k and (k,) are one key
        assert ring.preference_list(key) == part.preference[:3]
        assert ring.fallbacks(key) == part.preference[3:]
        assert all(ring.replicates(node, key) for node in ring.preference_list(key))
        assert part.name in ring.ranges_of(ring.preference_list(key)[2])


def test_shared_ranges_are_those_both_nodes_replicate() -> None:
    ring = Ring(NODES, vnodes=8, n=3)
    shared = ring.shared_ranges("n1", "n2")
    assert shared == tuple(sorted(set(ring.ranges_of("n1")) & set(ring.ranges_of("n2"))))
    assert all({"n1", "n2"} <= set(ring.replicas_of(name)) for name in shared)
    # every range has N replicas, so the nodes replicate N * Q ranges between them
    assert sum(len(ring.ranges_of(n)) for n in NODES) == 3 * len(ring.partitions)


def test_the_ring_is_a_function_of_its_arguments() -> None:
    assert Ring(NODES, seed=3).partitions == Ring(NODES, seed=3).partitions
    assert Ring(NODES, seed=3).partitions != Ring(NODES, seed=4).partitions


def test_bad_rings_are_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        Ring(("a", "a"))
    with pytest.raises(ValueError, match="n must be"):
        Ring(("a", "b"), n=3)
