"""Tests of the z3 proofs of vector-clock and last-writer-wins laws: the correct
definitions are proved, deliberately broken ones are refuted with a counterexample,
and the z3 encodings compute what the Python code computes."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest
import z3
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models import lww
from replicheck.models.clocks import Ordering, VectorClock, compare, descends, merge
from replicheck.models.proofs import clocks as proofs
from replicheck.models.proofs.clocks import (
    ORDERING_CODES,
    Clock,
    Register,
    all_clock_proofs,
    compare_code,
    lww_merge,
    lww_merge_by,
    pointwise_le,
    pointwise_max,
    stamp_less,
)
from replicheck.models.proofs.result import ProofResult

pytestmark = pytest.mark.proof

CLOCK_PROOFS: list[Callable[[], ProofResult]] = [
    proofs.prove_order_reflexive,
    proofs.prove_order_antisymmetric,
    proofs.prove_order_transitive,
    proofs.prove_merge_upper_bound,
    proofs.prove_merge_least,
    proofs.prove_merge_commutative,
    proofs.prove_merge_associative,
    proofs.prove_merge_idempotent,
    proofs.prove_compare_exactly_one,
    proofs.prove_compare_matches_order,
]
LWW_PROOFS: list[Callable[[], ProofResult]] = [
    proofs.prove_lww_total_order,
    proofs.prove_lww_commutative,
    proofs.prove_lww_associative,
    proofs.prove_lww_idempotent,
    proofs.prove_lww_picks_greater,
]


def assert_refuted(result: ProofResult) -> str:
    """The result is a refutation with a counterexample; return the counterexample."""
    assert result.status == "sat", result
    assert result.refuted
    assert not result.proved
    assert result.counterexample
    return result.counterexample


def shown_clocks(counterexample: str) -> dict[str, list[int]]:
    """The clocks a counterexample names, e.g. ``a=(1, 0)`` -> {"a": [1, 0]}."""
    return {
        name: [int(x) for x in entries.split(", ")]
        for name, entries in re.findall(r"(\w+)=\(([-\d, ]+)\)", counterexample)
    }


# ------------------------------------------------------------ correct proofs


@pytest.mark.parametrize("prove", CLOCK_PROOFS, ids=lambda f: f.__name__)
def test_clock_law_is_proved_in_every_dimension(prove: Callable[[], ProofResult]) -> None:
    result = prove()
    assert result.proved, result
    assert result.status == "unsat"
    assert result.counterexample is None
    assert result.details == tuple(f"dimension {n}: unsat" for n in range(1, 9))
    assert "1..8" in result.bounds


@pytest.mark.parametrize("prove", LWW_PROOFS, ids=lambda f: f.__name__)
def test_lww_law_is_proved(prove: Callable[[], ProofResult]) -> None:
    result = prove()
    assert result.proved, result
    assert result.status == "unsat"
    assert result.counterexample is None


def test_all_clock_proofs_are_the_correct_variants() -> None:
    results = all_clock_proofs()
    assert len(results) == len(CLOCK_PROOFS) + len(LWW_PROOFS)
    assert len({r.law for r in results}) == len(results)
    assert all(r.proved and r.status == "unsat" for r in results), [
        r.law for r in results if not r.proved
    ]
    assert {r.law for r in results} == {p().law for p in CLOCK_PROOFS + LWW_PROOFS}


def test_ordering_codes_are_distinct_and_complete() -> None:
    assert set(ORDERING_CODES) == set(Ordering)
    assert len(set(ORDERING_CODES.values())) == len(Ordering)


# ------------------------------------------------------------ broken orders


def sum_le(a: Clock, b: Clock) -> z3.BoolRef:
    """Not a partial order of clocks: (1, 0) and (0, 1) are below each other."""
    return z3.Sum(list(a)) <= z3.Sum(list(b))


def strict_lt(a: Clock, b: Clock) -> z3.BoolRef:
    return z3.And([x < y for x, y in zip(a, b, strict=True)])


def some_le(a: Clock, b: Clock) -> z3.BoolRef:
    return z3.Or([x <= y for x, y in zip(a, b, strict=True)])


def test_sum_order_is_refuted_as_not_antisymmetric() -> None:
    counterexample = assert_refuted(proofs.prove_order_antisymmetric(sum_le))
    # In one dimension the sum order is the pointwise order: it first fails in two.
    assert counterexample.startswith("dimension 2:")
    clocks = shown_clocks(counterexample)
    a, b = clocks["a"], clocks["b"]
    assert sum(a) <= sum(b) and sum(b) <= sum(a) and a != b
    # It is still reflexive and transitive (a preorder): the failure is specific.
    assert proofs.prove_order_reflexive(sum_le).proved
    assert proofs.prove_order_transitive(sum_le).proved


def test_strict_order_is_refuted_as_not_reflexive() -> None:
    counterexample = assert_refuted(proofs.prove_order_reflexive(strict_lt))
    assert counterexample.startswith("dimension 1:")


def test_some_entry_order_is_refuted_as_not_transitive() -> None:
    counterexample = assert_refuted(proofs.prove_order_transitive(some_le))
    c = shown_clocks(counterexample)
    le = lambda x, y: any(p <= q for p, q in zip(x, y, strict=True))  # noqa: E731
    assert le(c["a"], c["b"]) and le(c["b"], c["c"]) and not le(c["a"], c["c"])


# ------------------------------------------------------------ broken merges


def pointwise_min(a: Clock, b: Clock) -> list[z3.ArithRef]:
    return [z3.If(x <= y, x, y) for x, y in zip(a, b, strict=True)]


def drop_last(a: Clock, b: Clock) -> list[z3.ArithRef]:
    """Forgets the last replica's counter."""
    return [*pointwise_max(a[:-1], b[:-1]), z3.IntVal(0)]


def left_biased_last(a: Clock, b: Clock) -> list[z3.ArithRef]:
    """Takes the last entry from the left argument only."""
    return [*pointwise_max(a[:-1], b[:-1]), a[-1]]


def pointwise_sum(a: Clock, b: Clock) -> list[z3.ArithRef]:
    return [x + y for x, y in zip(a, b, strict=True)]


def test_min_merge_is_refuted_as_not_an_upper_bound() -> None:
    counterexample = assert_refuted(proofs.prove_merge_upper_bound(pointwise_min))
    c = shown_clocks(counterexample)
    m = [min(x, y) for x, y in zip(c["a"], c["b"], strict=True)]
    assert not (all(x <= y for x, y in zip(c["a"], m, strict=True))) or not (
        all(x <= y for x, y in zip(c["b"], m, strict=True))
    )
    # Min is a semilattice too, so only the bound laws tell it from max.
    assert proofs.prove_merge_commutative(pointwise_min).proved
    assert proofs.prove_merge_associative(pointwise_min).proved
    assert proofs.prove_merge_idempotent(pointwise_min).proved


def test_merge_that_drops_the_last_entry_is_refuted() -> None:
    assert_refuted(proofs.prove_merge_upper_bound(drop_last))
    assert_refuted(proofs.prove_merge_idempotent(drop_last))


def test_left_biased_merge_is_refuted_as_not_commutative() -> None:
    counterexample = assert_refuted(proofs.prove_merge_commutative(left_biased_last))
    c = shown_clocks(counterexample)
    assert c["a"][-1] != c["b"][-1]


def test_sum_merge_is_an_upper_bound_but_not_the_least() -> None:
    assert proofs.prove_merge_upper_bound(pointwise_sum).proved
    assert_refuted(proofs.prove_merge_least(pointwise_sum))
    assert_refuted(proofs.prove_merge_idempotent(pointwise_sum))


# ---------------------------------------------------------- broken compares


def equal_checked_last(a: Clock, b: Clock) -> z3.ArithRef:
    """Checks ``a <= b`` before equality, so equal clocks come out BEFORE."""
    le, ge = pointwise_le(a, b), pointwise_le(b, a)
    code = ORDERING_CODES
    return z3.If(
        le,
        code[Ordering.BEFORE],
        z3.If(ge, code[Ordering.AFTER], z3.If(z3.And(le, ge), code[Ordering.EQUAL], 3)),
    )


def no_concurrent_branch(a: Clock, b: Clock) -> z3.ArithRef:
    """Falls through to no outcome at all when neither clock is below the other."""
    le, ge = pointwise_le(a, b), pointwise_le(b, a)
    code = ORDERING_CODES
    return z3.If(
        z3.And(le, ge),
        code[Ordering.EQUAL],
        z3.If(le, code[Ordering.BEFORE], z3.If(ge, code[Ordering.AFTER], -1)),
    )


def compare_by_sums(a: Clock, b: Clock) -> z3.ArithRef:
    """The compare of the sum order: never says CONCURRENT."""
    return compare_code(a, b, order=sum_le)


def test_compare_that_checks_equality_last_is_refuted() -> None:
    counterexample = assert_refuted(proofs.prove_compare_matches_order(equal_checked_last))
    assert counterexample.startswith("dimension 1:")
    c = shown_clocks(counterexample)
    assert c["a"] == c["b"]
    assert proofs.prove_compare_exactly_one(equal_checked_last).proved


def test_compare_without_concurrent_outcome_is_refuted() -> None:
    counterexample = assert_refuted(proofs.prove_compare_exactly_one(no_concurrent_branch))
    # Concurrency needs two replicas.
    assert counterexample.startswith("dimension 2:")
    c = shown_clocks(counterexample)
    assert compare(_vc(c["a"]), _vc(c["b"])) is Ordering.CONCURRENT


def test_compare_by_sums_is_refuted() -> None:
    counterexample = assert_refuted(proofs.prove_compare_matches_order(compare_by_sums))
    assert counterexample.startswith("dimension 2:")


# ------------------------------------------------------------- broken LWW


def timestamp_only_less(a: Register, b: Register) -> z3.BoolRef:
    """A tie-break that ignores the replica id."""
    return a.timestamp < b.timestamp


def greater_first(a: Register, b: Register) -> z3.BoolRef:
    """The stamp order upside down: merge would keep the older write."""
    return stamp_less(b, a)


def keep_left(a: Register, b: Register) -> Register:
    return Register(
        present=z3.Or(a.present, b.present),
        timestamp=z3.If(a.present, a.timestamp, b.timestamp),
        replica=z3.If(a.present, a.replica, b.replica),
        value=z3.If(a.present, a.value, b.value),
    )


def test_tie_break_ignoring_replica_is_refuted() -> None:
    broken = lww_merge_by(timestamp_only_less)
    counterexample = assert_refuted(proofs.prove_lww_commutative(broken))
    times = re.findall(r"timestamp=(-?\d+), replica=<rank (-?\d+)>", counterexample)
    assert len(times) == 2
    (ta, ra), (tb, rb) = times
    assert ta == tb and ra != rb  # same timestamp, different replicas
    assert_refuted(proofs.prove_lww_picks_greater(broken))
    assert_refuted(proofs.prove_lww_total_order(timestamp_only_less))


def test_merge_keeping_the_older_write_is_refuted() -> None:
    broken = lww_merge_by(greater_first)
    assert_refuted(proofs.prove_lww_picks_greater(broken))
    # It is still a semilattice (of the opposite order): only picks_greater catches it.
    assert proofs.prove_lww_commutative(broken).proved
    assert proofs.prove_lww_associative(broken).proved


def test_merge_keeping_the_left_side_is_refuted() -> None:
    assert_refuted(proofs.prove_lww_commutative(keep_left))
    assert proofs.prove_lww_idempotent(keep_left).proved


# ------------------------------------- the encodings compute what the code does

REPLICAS = ("a", "b", "c")
clocks = st.dictionaries(st.sampled_from(REPLICAS), st.integers(0, 3)).map(VectorClock)


def _vc(entries: Sequence[int]) -> VectorClock:
    return VectorClock({f"r{i}": n for i, n in enumerate(entries)})


def _terms(clock: VectorClock) -> list[z3.ArithRef]:
    return [z3.IntVal(clock.counter(r)) for r in REPLICAS]


def _value(term: z3.ExprRef) -> int | bool:
    simplified = z3.simplify(term)
    if z3.is_bool(simplified):
        return z3.is_true(simplified)
    return int(simplified.as_long())


@given(clocks, clocks)
def test_clock_encodings_agree_with_the_python_code(a: VectorClock, b: VectorClock) -> None:
    assert _value(pointwise_le(_terms(a), _terms(b))) == descends(b, a)
    merged = [_value(t) for t in pointwise_max(_terms(a), _terms(b))]
    assert merged == [merge(a, b).counter(r) for r in REPLICAS]
    assert _value(compare_code(_terms(a), _terms(b))) == ORDERING_CODES[compare(a, b)]


def _register(write: lww.Stamped[int] | None) -> Register:
    if write is None:
        return Register(z3.BoolVal(False), z3.IntVal(0), z3.IntVal(0), z3.IntVal(0))
    rank = int(write.replica[1:])  # "r<k>" -> k: same order as the strings for k < 10
    return Register(
        z3.BoolVal(True), z3.IntVal(write.timestamp), z3.IntVal(rank), z3.IntVal(write.value)
    )


writes = st.none() | st.builds(
    lambda t, r: lww.Stamped(t * 10 + r, t, f"r{r}"), st.integers(-2, 2), st.integers(0, 3)
)


@given(writes, writes)
def test_lww_encoding_agrees_with_the_python_code(
    a: lww.Stamped[int] | None, b: lww.Stamped[int] | None
) -> None:
    expected = lww.merge(a, b)
    got = lww_merge(_register(a), _register(b))
    assert _value(got.present) == (expected is not None)
    if expected is not None:
        assert _value(got.timestamp) == expected.timestamp
        assert _value(got.replica) == int(expected.replica[1:])
        assert _value(got.value) == expected.value


def test_dimensions_can_be_narrowed_and_are_reported() -> None:
    result = proofs.prove_order_antisymmetric(sum_le, dimensions=[1])
    assert result.proved  # in one dimension the sum order is the pointwise order
    assert result.details == ("dimension 1: unsat",)
    assert result.bounds.startswith("clock dimensions 1;")
    with pytest.raises(ValueError):
        proofs.prove_order_reflexive(dimensions=[0])
