"""Properties of replicheck.models.merkle: canonical roots, exact diffs, cheap updates,
and what a colliding hash breaks."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.merkle import (
    DEFAULT_SHAPE,
    TOKEN_SPACE,
    BlakeHash,
    Key,
    MerkleShape,
    MerkleTree,
    diff,
    encode_key,
    encode_value,
    key_token,
    merkle_root,
)

# --------------------------------------------------------------------------- strategies

atoms = st.one_of(
    st.text(max_size=6),
    st.binary(max_size=6),
    st.integers(-50, 50),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-100, max_value=100),
)
keys: st.SearchStrategy[Any] = st.one_of(atoms, st.tuples(atoms, atoms))
# No bools and no tuples among values: for the rest, Python's == is exactly the tree's
# notion of "the same value", so plain dict comparison is the oracle.
values: st.SearchStrategy[Any] = st.one_of(
    st.binary(max_size=6),
    st.text(max_size=6),
    st.integers(),
    st.none(),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.text(max_size=2), st.binary(max_size=2), max_size=3),
    st.frozensets(st.text(max_size=2), max_size=3),
)
mappings = st.dictionaries(keys, values, max_size=12)
shapes = st.builds(MerkleShape, fanout=st.integers(2, 4), depth=st.integers(1, 3))


def by_encoding(ks: Any) -> list[Any]:
    return sorted(ks, key=encode_key)


@st.composite
def near_pairs(draw: st.DrawFn) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Two mappings, usually the second a few edits away from the first (sometimes
    none, sometimes an edit that changes nothing), sometimes independent."""
    a = draw(mappings)
    if draw(st.integers(0, 9)) == 0:
        return a, draw(mappings)
    b = dict(a)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["new", "overwrite", "delete"]))
        if action == "new" or not b:
            b[draw(keys)] = draw(values)
        else:
            key = draw(st.sampled_from(by_encoding(b)))
            if action == "delete":
                del b[key]
            else:
                b[key] = draw(st.one_of(st.just(b[key]), values))
    return (b, a) if draw(st.booleans()) else (a, b)


class CountingHash:
    """SHA-256, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data: bytes) -> bytes:
        self.calls += 1
        return hashlib.sha256(data).digest()


def expected_diff(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> tuple[set[Any], ...]:
    missing_here = {k for k in b if k not in a}
    missing_there = {k for k in a if k not in b}
    different = {k for k in a if k in b and a[k] != b[k]}
    return missing_here, missing_there, different


def restrict(mapping: Mapping[Any, Any], lo: int, hi: int) -> dict[Any, Any]:
    return {k: v for k, v in mapping.items() if lo <= key_token(k) < hi}


# --------------------------------------------------------------------------- canonical roots


@given(mappings, shapes, st.data())
def test_root_is_independent_of_insertion_order(
    mapping: dict[Any, Any], shape: MerkleShape, data: st.DataObject
) -> None:
    reference = MerkleTree.build(mapping, shape)
    shuffled = data.draw(st.permutations(list(mapping.items())))
    assert MerkleTree.build(shuffled, shape).root == reference.root

    junk = data.draw(st.lists(st.text(min_size=7, max_size=9), max_size=4, unique=True))
    tree = MerkleTree.empty(shape)
    for key in junk:
        tree = tree.with_put(key, b"junk")
    for key, value in shuffled:
        tree = tree.with_put(key, value)
    for key in data.draw(st.permutations(junk)):
        tree = tree.with_delete(key)
    assert tree.root == reference.root
    assert tree == reference
    assert len(tree) == len(mapping)
    assert merkle_root(mapping, shape) == reference.root


def test_empty_tree_has_the_fixed_empty_root() -> None:
    shape = MerkleShape(3, 2)
    assert MerkleTree.empty(shape).root == shape.empty_hash(0)
    assert MerkleTree.build({}, shape).root == shape.empty_hash(0)
    assert MerkleTree.build({"a": b"1"}, shape).root != shape.empty_hash(0)
    tree = MerkleTree.build({"a": b"1"}, shape).with_delete("a")
    assert tree.root == shape.empty_hash(0)
    assert len(tree) == 0


def test_later_pairs_win_when_building_from_pairs() -> None:
    assert merkle_root([("k", b"old"), ("k", b"new")]) == merkle_root({"k": b"new"})
    assert merkle_root([("k", b"old"), ("k", b"new")]) != merkle_root({"k": b"old"})


@given(near_pairs())
def test_roots_equal_exactly_when_mappings_equal_default_shape(
    pair: tuple[dict[Any, Any], dict[Any, Any]],
) -> None:
    a, b = pair
    assert (merkle_root(a) == merkle_root(b)) == (a == b)


@given(near_pairs(), shapes)
def test_roots_equal_exactly_when_mappings_equal_any_shape(
    pair: tuple[dict[Any, Any], dict[Any, Any]], shape: MerkleShape
) -> None:
    a, b = pair
    tree_a, tree_b = MerkleTree.build(a, shape), MerkleTree.build(b, shape)
    assert (tree_a.root == tree_b.root) == (a == b)
    assert (tree_a == tree_b) == (a == b)


def test_root_does_not_depend_on_the_hash_seed() -> None:
    program = (
        "from decimal import Decimal\n"
        "from replicheck.models.merkle import merkle_root\n"
        "m = {('user', Decimal('7.50')): {'tags': frozenset({'x', 'y', 'z', 'w'}), 'n': 3},\n"
        "     'plain': b'bytes', 42: ['a', 'b'], b'raw': frozenset({'p', 'q', 'r'})}\n"
        "print(merkle_root(m).hex())\n"
    )
    outputs = set()
    for seed in ("1", "2", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run(
            [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1
    here: dict[Key, object] = {
        ("user", Decimal("7.5")): {"n": Decimal(3), "tags": frozenset({"w", "z", "y", "x"})},
        "plain": b"bytes",
        Decimal(42): ["a", "b"],
        b"raw": frozenset({"r", "q", "p"}),
    }
    assert outputs == {merkle_root(here).hex()}


# --------------------------------------------------------------------------- encodings


@given(keys, keys)
def test_key_encoding_is_injective_and_respects_equality(k1: Any, k2: Any) -> None:
    assert (encode_key(k1) == encode_key(k2)) == (k1 == k2)


@pytest.mark.parametrize(
    ("k1", "k2", "same"),
    [
        (Decimal("1.0"), 1, True),
        (Decimal("1E+2"), 100, True),
        (Decimal("-0.00"), 0, True),
        (10**20, Decimal("1E+20"), True),
        (-(2**63), Decimal(-(2**63)), True),
        (2**63 - 1, Decimal(2**63 - 1), True),
        (2**70 + 5, Decimal(2**70 + 5), True),
        (-120, Decimal("-1.2E2"), True),
        (("a", Decimal("2.50")), ("a", Decimal("2.5")), True),
        (Decimal("1.00000000000000000000000000000000001"), 1, False),
        (Decimal("-1"), 1, False),
        (Decimal("0.1"), Decimal("0.01"), False),
        ("a", b"a", False),
        (("ab", "c"), ("a", "bc"), False),
        (("a",), "a", False),
        ((), "", False),
        (("a", ("b",)), ("a", "b"), False),
        ("1", 1, False),
    ],
)
def test_key_encoding_examples(k1: Key, k2: Key, same: bool) -> None:
    assert (encode_key(k1) == encode_key(k2)) is same
    assert (key_token(k1) == key_token(k2)) is same


@given(values, values)
def test_value_encoding_is_injective_and_respects_equality(v1: Any, v2: Any) -> None:
    assert (encode_value(v1) == encode_value(v2)) == (v1 == v2)


def test_value_encoding_ignores_mapping_and_set_order_but_not_list_order() -> None:
    assert encode_value({"a": 1, "b": 2}) == encode_value({"b": 2, "a": 1})
    assert encode_value({1, 2, 3}) == encode_value({3, 2, 1})
    assert encode_value([1, 2]) != encode_value([2, 1])
    assert encode_value([1, 2]) == encode_value((1, 2))
    assert encode_value(True) != encode_value(1)
    assert encode_value(None) != encode_value(b"")
    assert encode_value(bytearray(b"xy")) == encode_value(b"xy")
    assert encode_value({"a": [1]}) != encode_value({"a": 1})


@pytest.mark.parametrize("bad", [True, 1.5, None, ["a"], {"a": 1}, object(), ("a", 2.0)])
def test_bad_keys_are_type_errors(bad: Any) -> None:
    with pytest.raises(TypeError, match="not a valid key"):
        encode_key(bad)
    with pytest.raises(TypeError):
        MerkleTree.empty().with_put(bad, b"v")
    assert bad not in MerkleTree.build({"a": b"1"})


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_numbers_are_value_errors(bad: Decimal) -> None:
    with pytest.raises(ValueError, match="not finite"):
        encode_key(bad)
    with pytest.raises(ValueError, match="not finite"):
        encode_value({"n": bad})


@pytest.mark.parametrize("bad", [1.5, object(), {"k": 2.5}, [1, object()]])
def test_bad_values_are_type_errors(bad: Any) -> None:
    with pytest.raises(TypeError, match="not a valid value"):
        encode_value(bad)
    with pytest.raises(TypeError):
        MerkleTree.empty().with_put("k", bad)


# --------------------------------------------------------------------------- diff


@given(near_pairs(), shapes)
def test_diff_returns_exactly_the_differing_keys(
    pair: tuple[dict[Any, Any], dict[Any, Any]], shape: MerkleShape
) -> None:
    a, b = pair
    tree_a, tree_b = MerkleTree.build(a, shape), MerkleTree.build(b, shape)
    found = diff(tree_a, tree_b)
    missing_here, missing_there, different = expected_diff(a, b)
    assert found.missing_here == missing_here
    assert found.missing_there == missing_there
    assert found.different == different
    assert found.keys == missing_here | missing_there | different
    assert found.empty == (a == b)
    assert found.differing_buckets == tuple(sorted({shape.leaf_of(k) for k in found.keys}))

    back = diff(tree_b, tree_a)
    assert (back.missing_here, back.missing_there) == (found.missing_there, found.missing_here)
    assert back.different == found.different
    assert back.hashes_compared == found.hashes_compared


@given(near_pairs(), shapes)
def test_diff_compares_only_hashes_on_differing_paths(
    pair: tuple[dict[Any, Any], dict[Any, Any]], shape: MerkleShape
) -> None:
    a, b = pair
    found = diff(MerkleTree.build(a, shape), MerkleTree.build(b, shape))
    if found.empty:
        assert found.hashes_compared == 1
        assert found.differing_buckets == ()
        assert found.entries_compared == 0
        return
    # Every inner node above a differing bucket is entered, and it compares each of its
    # children once; no other node is entered.
    entered = {
        (level, leaf // shape.fanout ** (shape.depth - level))
        for leaf in found.differing_buckets
        for level in range(shape.depth)
    }
    assert found.hashes_compared == 1 + shape.fanout * len(entered)
    assert found.hashes_compared <= 1 + shape.fanout * shape.depth * len(found.keys)
    ta, tb = MerkleTree.build(a, shape), MerkleTree.build(b, shape)
    assert found.entries_compared == sum(
        len(ta.bucket(i)) + len(tb.bucket(i)) for i in found.differing_buckets
    )


@given(mappings, shapes)
def test_diff_of_equal_trees_compares_one_hash(mapping: dict[Any, Any], shape: MerkleShape) -> None:
    tree = MerkleTree.build(mapping, shape)
    rebuilt = MerkleTree.build(list(reversed(list(mapping.items()))), shape)
    found = diff(tree, rebuilt)
    assert found.empty
    assert found.hashes_compared == 1


def test_diff_of_one_changed_key_in_a_large_tree_stays_on_one_path() -> None:
    shape = MerkleShape(fanout=4, depth=4)
    base = {f"key-{i}": i for i in range(2000)}
    changed = dict(base, **{"key-1234": -1})
    found = diff(MerkleTree.build(base, shape), MerkleTree.build(changed, shape))
    assert found.different == {"key-1234"}
    assert found.hashes_compared == 1 + 4 * 4
    assert found.differing_buckets == (shape.leaf_of("key-1234"),)


@pytest.mark.parametrize(
    ("other", "mentions"),
    [
        (MerkleShape(fanout=3, depth=2), "fanout"),
        (MerkleShape(fanout=2, depth=3), "depth"),
        (MerkleShape(fanout=2, depth=2, hash_fn=BlakeHash(16)), "hash_fn"),
        (MerkleShape(fanout=2, depth=2, lo=0, hi=2**63), "hi"),
        (MerkleShape(fanout=2, depth=2, lo=5), "lo"),
    ],
)
def test_diff_rejects_trees_of_different_shapes(other: MerkleShape, mentions: str) -> None:
    here = MerkleTree.empty(MerkleShape(fanout=2, depth=2))
    with pytest.raises(ValueError, match=f"different shapes: .*{mentions}"):
        diff(here, MerkleTree.empty(other))
    with pytest.raises(ValueError, match="different shapes"):
        diff(MerkleTree.empty(other), here)


def test_shapes_with_equal_hash_objects_are_the_same_shape() -> None:
    a = MerkleTree.build({"k": 1}, MerkleShape(2, 2, BlakeHash(8)))
    b = MerkleTree.build({"k": 2}, MerkleShape(2, 2, BlakeHash(8)))
    assert diff(a, b).different == {"k"}


# --------------------------------------------------------------------------- updates

operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), keys, values),
        st.tuples(st.just("delete"), keys, st.none()),
    ),
    max_size=12,
)


@given(mappings, shapes, operations, st.data())
def test_incremental_updates_equal_a_rebuild_and_rehash_one_path(
    initial: dict[Any, Any],
    shape: MerkleShape,
    ops: list[tuple[str, Any, Any]],
    data: st.DataObject,
) -> None:
    counter = CountingHash()
    shape = MerkleShape(shape.fanout, shape.depth, counter)
    current = dict(initial)
    tree = MerkleTree.build(current, shape)
    for op, key, value in ops:
        if op == "delete" and current and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(by_encoding(current)))
        before = dict(current)
        counter.calls = 0
        if op == "put":
            tree = tree.with_put(key, value)
            current[key] = value
            # one value hash, then the node hashes
            assert counter.calls == 1 + tree.nodes_rehashed
        else:
            tree = tree.with_delete(key)
            current.pop(key, None)
            assert counter.calls == tree.nodes_rehashed
        if current == before:
            assert tree.nodes_rehashed == 0
        elif op == "put":
            assert tree.nodes_rehashed == shape.depth + 1
        else:
            assert 0 <= tree.nodes_rehashed <= shape.depth + 1
        rebuilt = MerkleTree.build(current, shape)
        assert tree == rebuilt
        assert tree.root == rebuilt.root
        assert len(tree) == len(current)


def test_update_shares_untouched_subtrees_and_leaves_the_original_alone() -> None:
    shape = MerkleShape(fanout=4, depth=3)
    original = MerkleTree.build({f"k{i}": i for i in range(200)}, shape)
    root_before = original.root
    updated = original.with_put("k7", "changed")
    assert original.root == root_before
    assert original.value_hash("k7") != updated.value_hash("k7")
    path = shape.path(shape.leaf_of("k7"))
    changed_top = path[0]
    for j in range(shape.fanout):
        same = original.node(1, j) == updated.node(1, j)
        assert same == (j != changed_top)
    assert updated.nodes_rehashed == shape.depth + 1
    assert original.with_put("k7", 7).nodes_rehashed == 0
    assert original.with_delete("absent").nodes_rehashed == 0
    assert original.with_delete("absent") == original


def test_build_counts_only_non_empty_nodes() -> None:
    shape = MerkleShape(fanout=2, depth=3)
    one = MerkleTree.build({"only": b"x"}, shape)
    assert one.nodes_rehashed == shape.depth + 1
    assert MerkleTree.build({}, shape).nodes_rehashed == 0


# --------------------------------------------------------------------------- node access


@given(mappings, shapes)
def test_node_hashes_agree_across_accessors(mapping: dict[Any, Any], shape: MerkleShape) -> None:
    tree = MerkleTree.build(mapping, shape)
    assert tree.node(0, 0) == tree.root
    assert tree.level_hashes(0) == (tree.root,)
    occupied = {shape.leaf_of(k) for k in mapping}
    for level in range(shape.depth + 1):
        hashes = tree.level_hashes(level)
        assert len(hashes) == shape.nodes_at(level) == shape.fanout**level
        for index, digest in enumerate(hashes):
            assert tree.node(level, index) == digest
            width = shape.fanout ** (shape.depth - level)
            has_keys = any(index * width <= leaf < (index + 1) * width for leaf in occupied)
            assert (digest == shape.empty_hash(level)) == (not has_keys)
            if level < shape.depth:
                assert tree.children(level, index) == tuple(
                    tree.node(level + 1, index * shape.fanout + j) for j in range(shape.fanout)
                )
            else:
                assert tree.children(level, index) == ()
    listed = [key for i in range(shape.leaves) for key, _ in tree.bucket(i)]
    assert listed == list(tree.keys())
    assert set(listed) == set(mapping)
    for key, value in mapping.items():
        assert key in tree
        assert tree.value_hash(key) == shape.hash_fn(b"\x00" + encode_value(value))
        assert any(k == key for k, _ in tree.bucket(shape.leaf_of(key)))


@given(shapes, st.integers(0, 3), st.integers(0, 3))
def test_node_ranges_partition_the_token_range(
    shape: MerkleShape, lo_shift: int, hi_shift: int
) -> None:
    lo = lo_shift * 2**60
    hi = TOKEN_SPACE - hi_shift * 2**59
    shape = MerkleShape(shape.fanout, shape.depth, lo=lo, hi=hi)
    for level in range(shape.depth + 1):
        ranges = [shape.node_range(level, i) for i in range(shape.nodes_at(level))]
        assert ranges[0].lo == lo
        assert ranges[-1].hi == hi
        assert all(r.lo < r.hi for r in ranges)
        assert all(ranges[i].hi == ranges[i + 1].lo for i in range(len(ranges) - 1))
        if level < shape.depth:
            for i, r in enumerate(ranges):
                first = shape.node_range(level + 1, i * shape.fanout)
                last = shape.node_range(level + 1, i * shape.fanout + shape.fanout - 1)
                assert (first.lo, last.hi) == (r.lo, r.hi)


@given(keys, shapes)
def test_each_key_lies_in_its_buckets_range(key: Any, shape: MerkleShape) -> None:
    leaf = shape.leaf_of(key)
    assert key_token(key) in shape.node_range(shape.depth, leaf)
    assert shape.node_range(shape.depth, leaf).contains_key(key)
    index = 0
    for level, digit in enumerate(shape.path(leaf), start=1):
        index = index * shape.fanout + digit
        assert key_token(key) in shape.node_range(level, index)
    assert index == leaf


@given(near_pairs(), st.builds(MerkleShape, fanout=st.integers(2, 3), depth=st.integers(1, 3)))
def test_node_hashes_equal_exactly_when_their_key_ranges_agree(
    pair: tuple[dict[Any, Any], dict[Any, Any]], shape: MerkleShape
) -> None:
    a, b = pair
    tree_a, tree_b = MerkleTree.build(a, shape), MerkleTree.build(b, shape)
    for level in range(shape.depth + 1):
        for index in range(shape.nodes_at(level)):
            r = shape.node_range(level, index)
            agree = restrict(a, r.lo, r.hi) == restrict(b, r.lo, r.hi)
            assert (tree_a.node(level, index) == tree_b.node(level, index)) == agree


def test_keys_outside_the_range_are_rejected() -> None:
    inside = [k for k in (f"k{i}" for i in range(100)) if key_token(k) < TOKEN_SPACE // 2]
    outside = [k for k in (f"k{i}" for i in range(100)) if key_token(k) >= TOKEN_SPACE // 2]
    shape = MerkleShape(fanout=2, depth=2, hi=TOKEN_SPACE // 2)
    tree = MerkleTree.build({k: 1 for k in inside}, shape)
    assert len(tree) == len(inside)
    with pytest.raises(ValueError, match="outside this tree's range"):
        tree.with_put(outside[0], 1)
    with pytest.raises(ValueError, match="outside this tree's range"):
        MerkleTree.build({outside[0]: 1}, shape)
    assert outside[0] not in tree
    assert tree.value_hash(outside[0]) is None
    assert tree.with_delete(outside[0]) == tree
    with pytest.raises(ValueError, match="outside"):
        shape.leaf_index(TOKEN_SPACE // 2)


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.node(4, 0),
        lambda t: t.node(-1, 0),
        lambda t: t.node(1, 3),
        lambda t: t.node(2, -1),
        lambda t: t.children(0, 1),
        lambda t: t.level_hashes(4),
        lambda t: t.bucket(9),
        lambda t: t.shape.node_range(3, 8),
        lambda t: t.shape.path(9),
    ],
)
def test_bad_node_coordinates_are_value_errors(call: Callable[[MerkleTree], object]) -> None:
    tree = MerkleTree.build({"a": 1}, MerkleShape(fanout=3, depth=2))
    with pytest.raises(ValueError):
        call(tree)


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"fanout": 1}, ValueError, "fanout must be at least 2"),
        ({"fanout": 0}, ValueError, "fanout must be at least 2"),
        ({"fanout": -4}, ValueError, "fanout must be at least 2"),
        ({"depth": 0}, ValueError, "depth must be at least 1"),
        ({"depth": -2}, ValueError, "depth must be at least 1"),
        ({"fanout": True}, TypeError, "fanout must be an int"),
        ({"fanout": 2.0}, TypeError, "fanout must be an int"),
        ({"depth": "3"}, TypeError, "depth must be an int"),
        ({"hash_fn": "sha256"}, TypeError, "callable"),
        ({"hash_fn": lambda data: data.hex()}, TypeError, "returned str, expected bytes"),
        ({"lo": 10, "hi": 10}, ValueError, "0 <= lo < hi"),
        ({"lo": -1}, ValueError, "0 <= lo < hi"),
        ({"hi": TOKEN_SPACE + 1}, ValueError, "0 <= lo < hi"),
        ({"fanout": 4, "depth": 2, "hi": 15}, ValueError, "fewer than the 16 buckets"),
    ],
)
def test_bad_shapes_are_rejected(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        MerkleShape(**kwargs)


@pytest.mark.parametrize("size", [0, 65, True, 1.0])
def test_bad_blake_sizes_are_rejected(size: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        BlakeHash(size)


def test_default_shape_and_hash() -> None:
    assert (DEFAULT_SHAPE.fanout, DEFAULT_SHAPE.depth) == (16, 3)
    assert len(MerkleTree.empty().root) == 32
    assert len(MerkleTree.empty(MerkleShape(2, 1, BlakeHash(1))).root) == 1


# --------------------------------------------------------------------------- collisions

TINY = MerkleShape(fanout=2, depth=2, hash_fn=BlakeHash(1))


def first_collision(
    candidates: list[dict[Any, Any]], digest: Callable[[dict[Any, Any]], bytes]
) -> tuple[dict[Any, Any], dict[Any, Any]]:
    seen: dict[bytes, dict[Any, Any]] = {}
    for candidate in candidates:
        key = digest(candidate)
        if key in seen:
            return seen[key], candidate
        seen[key] = candidate
    raise AssertionError("no collision among the candidates")


def first_root_collision(
    candidates: list[dict[Any, Any]], shape: MerkleShape
) -> tuple[dict[Any, Any], dict[Any, Any]]:
    return first_collision(candidates, lambda m: merkle_root(m, shape))


def test_tiny_hash_root_collision_hides_a_changed_value() -> None:
    # 257 distinct mappings into 256 possible roots: the pigeonhole guarantees a hit.
    a, b = first_root_collision([{"k": i} for i in range(257)], TINY)
    assert a != b
    tree_a, tree_b = MerkleTree.build(a, TINY), MerkleTree.build(b, TINY)
    assert tree_a.root == tree_b.root
    found = diff(tree_a, tree_b)
    assert expected_diff(a, b)[2] == {"k"}
    assert found.empty
    assert found.hashes_compared == 1


def test_tiny_hash_node_collision_hides_different_keys() -> None:
    a, b = first_root_collision([{f"key-{i}": b"v"} for i in range(257)], TINY)
    tree_a, tree_b = MerkleTree.build(a, TINY), MerkleTree.build(b, TINY)
    assert tree_a.root == tree_b.root
    assert tree_a != tree_b  # different keys, yet one root
    found = diff(tree_a, tree_b)
    assert found.empty
    assert set(a) != set(b)


def test_tiny_hash_subtree_collision_makes_the_diff_miss_some_keys() -> None:
    shape = MerkleShape(fanout=2, depth=1, hash_fn=BlakeHash(1))
    left = next(f"left-{i}" for i in range(1000) if shape.leaf_of(f"left-{i}") == 0)
    right = next(f"right-{i}" for i in range(1000) if shape.leaf_of(f"right-{i}") == 1)
    # Find two values for `left` whose buckets collide, and a change to `right` that
    # does show at the root.
    v1, v2 = (
        m[left]
        for m in first_collision(
            [{left: i} for i in range(257)], lambda m: MerkleTree.build(m, shape).node(1, 0)
        )
    )
    a = {left: v1, right: 0}
    b = next(
        m
        for m in ({left: v2, right: j} for j in range(1, 1000))
        if merkle_root(m, shape) != merkle_root(a, shape)
        and MerkleTree.build(m, shape).node(1, 1) != MerkleTree.build(a, shape).node(1, 1)
    )
    found = diff(MerkleTree.build(a, shape), MerkleTree.build(b, shape))
    assert expected_diff(a, b)[2] == {left, right}
    assert found.different == {right}  # `left` is missed: its bucket hashes collide
    assert found.differing_buckets == (1,)
    assert found.hashes_compared == 1 + 2


@given(mappings, mappings)
def test_tiny_hash_diff_never_invents_differences(a: dict[Any, Any], b: dict[Any, Any]) -> None:
    """A colliding hash can only hide keys: whatever the diff reports does differ."""
    found = diff(MerkleTree.build(a, TINY), MerkleTree.build(b, TINY))
    missing_here, missing_there, different = expected_diff(a, b)
    assert found.missing_here <= missing_here
    assert found.missing_there <= missing_there
    assert found.different <= different
