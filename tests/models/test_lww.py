"""Tests of last-writer-wins registers: the stamp order and merge as a join."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.lww import StampConflict, Stamped, merge, merge_all

Register = Stamped[str] | None


def _write(timestamp: int, replica: str) -> Stamped[str]:
    # One value per stamp, as a real system guarantees.
    return Stamped(f"{replica}@{timestamp}", timestamp, replica)


writes = st.builds(_write, st.integers(-3, 3), st.sampled_from(["r1", "r2", "r3"]))
"""Writes with few distinct stamps, so equal timestamps and equal stamps are common."""

registers = st.none() | writes


def test_stamp_order_breaks_timestamp_ties_by_replica() -> None:
    a = Stamped("x", 5, "r1")
    b = Stamped("y", 5, "r2")
    assert a < b and b > a and a <= b and b >= a
    assert merge(a, b) is b
    assert merge(b, a) is b
    assert merge(Stamped("z", 6, "r0"), b).value == "z"


def test_none_is_the_empty_register() -> None:
    a = Stamped("x", 0, "r1")
    assert merge(None, a) is a
    assert merge(a, None) is a
    assert merge(None, None) is None
    assert merge_all([]) is None
    assert merge_all([None, a, None]) is a


def test_same_stamp_with_different_values_is_a_conflict() -> None:
    with pytest.raises(StampConflict, match="carries two values"):
        merge(Stamped("x", 1, "r1"), Stamped("y", 1, "r1"))
    assert merge(Stamped("x", 1, "r1"), Stamped("x", 1, "r1")) == Stamped("x", 1, "r1")


@pytest.mark.parametrize(("timestamp", "replica"), [(1.5, "r1"), (True, "r1"), ("1", "r1"), (1, 7)])
def test_bad_stamps_are_rejected(timestamp: object, replica: object) -> None:
    with pytest.raises(TypeError):
        Stamped("x", timestamp, replica)  # type: ignore[arg-type]


def test_stamped_is_frozen_and_hashable() -> None:
    a = Stamped("x", 1, "r1")
    assert hash(a) == hash(Stamped("x", 1, "r1"))
    with pytest.raises(AttributeError):
        a.timestamp = 2  # type: ignore[misc]


@given(writes, writes)
def test_stamp_order_is_total(a: Stamped[str], b: Stamped[str]) -> None:
    relations = [a < b, a.stamp == b.stamp, a > b]
    assert sum(relations) == 1
    assert (a <= b) == (a < b or a.stamp == b.stamp)
    assert (a.stamp == b.stamp) == (a == b)  # one value per stamp


@given(writes, writes, writes)
def test_stamp_order_is_transitive(a: Stamped[str], b: Stamped[str], c: Stamped[str]) -> None:
    if a < b and b < c:
        assert a < c


@given(registers, registers)
def test_merge_keeps_the_greater(a: Register, b: Register) -> None:
    result = merge(a, b)
    assert result is a or result is b
    if a is None or b is None:
        assert result is (b if a is None else a)
    else:
        assert result is not None
        assert result.stamp == max(a.stamp, b.stamp)
        assert result >= a and result >= b


@given(registers, registers)
def test_merge_is_commutative(a: Register, b: Register) -> None:
    assert merge(a, b) == merge(b, a)


@given(registers, registers, registers)
def test_merge_is_associative(a: Register, b: Register, c: Register) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c))
    assert merge_all([a, b, c]) == merge(merge(a, b), c)


@given(registers)
def test_merge_is_idempotent(a: Register) -> None:
    assert merge(a, a) == a


@given(st.lists(registers, max_size=8), st.randoms())
def test_replicas_converge_whatever_the_merge_order(
    items: list[Register], rnd: random.Random
) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)
    expected = max((w for w in items if w is not None), key=lambda w: w.stamp, default=None)
    assert merge_all(shuffled) == expected
