"""The z3 proofs of the Merkle laws: proved for the correct encoding, refuted with a
counterexample for each broken one."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from replicheck.models.proofs.merkle import (
    CORRECT,
    DIFF_LAW,
    DIFF_STOPS_EARLY,
    NON_INJECTIVE_HASH,
    ROOT_IGNORES_LAST_CHILD,
    ROOT_LAW,
    HashModel,
    MerkleEncoding,
    all_merkle_proofs,
    prove_diff_exact,
    prove_root_iff_buckets_equal,
)
from replicheck.models.proofs.result import ProofResult

pytestmark = pytest.mark.proof

Prover = Callable[..., ProofResult]
PROVERS: list[tuple[Prover, str]] = [
    (prove_root_iff_buckets_equal, ROOT_LAW),
    (prove_diff_exact, DIFF_LAW),
]


@pytest.mark.parametrize("fanout", [2, 3])
@pytest.mark.parametrize(("prove", "law"), PROVERS)
def test_correct_encoding_is_proved_for_depths_1_to_4(prove: Prover, law: str, fanout: int) -> None:
    result = prove(fanout)
    assert result.proved
    assert result.status == "unsat"
    assert not result.refuted
    assert result.counterexample is None
    assert result.law == law
    assert f"fan-out {fanout}" in result.bounds
    assert len(result.details) == 4
    for depth, line in enumerate(result.details, start=1):
        assert line.startswith(f"depth {depth} ({fanout**depth} buckets): unsat")


def test_all_merkle_proofs_are_proved() -> None:
    results = all_merkle_proofs()
    assert len(results) == 4
    assert all(r.proved and r.status == "unsat" for r in results)
    assert {r.law for r in results} == {ROOT_LAW, DIFF_LAW}
    assert {(r.law, r.bounds) for r in results} == {
        (law, f"complete trees of fan-out {f}, depths 1, 2, 3, 4; encoding: correct")
        for law in (ROOT_LAW, DIFF_LAW)
        for f in (2, 3)
    }


BROKEN = [
    (NON_INJECTIVE_HASH, prove_root_iff_buckets_equal),
    (NON_INJECTIVE_HASH, prove_diff_exact),
    (ROOT_IGNORES_LAST_CHILD, prove_root_iff_buckets_equal),
    (ROOT_IGNORES_LAST_CHILD, prove_diff_exact),
    (DIFF_STOPS_EARLY, prove_diff_exact),
]


def parse_counterexample(text: str) -> dict[str, Any]:
    """Pull the facts out of the rendered counterexample."""

    def ints(label: str) -> list[int]:
        found = re.search(re.escape(label) + r"\[([^\]]*)\]", text)
        assert found is not None, f"{label!r} not in {text!r}"
        return [int(x) for x in found.group(1).split(",") if x.strip()]

    roots = re.search(r"roots equal: (True|False)", text)
    assert roots is not None
    return {
        "a": ints("buckets of A = "),
        "b": ints("buckets of B = "),
        "roots_equal": roots.group(1) == "True",
        "differing": ints("differing buckets: "),
        "reported": ints("buckets the diff reports: "),
    }


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("fanout", [2, 3])
@pytest.mark.parametrize(
    ("encoding", "prove"), BROKEN, ids=[f"{e.name}-{p.__name__}" for e, p in BROKEN]
)
def test_broken_encodings_are_refuted_with_a_counterexample(
    encoding: MerkleEncoding, prove: Prover, fanout: int, depth: int
) -> None:
    result = prove(fanout, depths=(depth,), encoding=encoding)
    assert result.refuted
    assert result.status == "sat"
    assert not result.proved
    assert result.counterexample is not None
    assert encoding.name in result.bounds
    facts = parse_counterexample(result.counterexample)
    assert len(facts["a"]) == len(facts["b"]) == fanout**depth
    differing = [i for i, (x, y) in enumerate(zip(facts["a"], facts["b"], strict=True)) if x != y]
    assert facts["differing"] == differing
    # The counterexample really breaks the law it was asked about.
    if prove is prove_root_iff_buckets_equal:
        assert facts["roots_equal"] == (differing != [])
    else:
        assert facts["reported"] != differing


def test_a_broken_diff_does_not_break_the_root_law() -> None:
    result = prove_root_iff_buckets_equal(2, encoding=DIFF_STOPS_EARLY)
    assert result.proved


def test_refutation_stops_at_the_first_failing_depth() -> None:
    result = prove_diff_exact(2, depths=(1, 2, 3), encoding=NON_INJECTIVE_HASH)
    assert result.refuted
    assert len(result.details) == 1
    assert result.details[0].startswith("depth 1 (2 buckets): sat")


def test_a_custom_encoding_can_be_passed() -> None:
    def reversed_children(hashes: HashModel, level: int, children: tuple[Any, ...]) -> Any:
        return hashes.node(children[::-1])

    def first_child_twice(hashes: HashModel, level: int, children: tuple[Any, ...]) -> Any:
        return hashes.node((children[0], *children[:-1]))

    still_fine = MerkleEncoding("children hashed in reverse", combine=reversed_children)
    broken = MerkleEncoding("first child replaces the last", combine=first_child_twice)
    assert prove_root_iff_buckets_equal(2, depths=(1, 2), encoding=still_fine).proved
    assert prove_root_iff_buckets_equal(2, depths=(2,), encoding=broken).refuted


def test_injectivity_axioms_cover_every_hash_application() -> None:
    import z3

    injective, plain = HashModel(injective=True), HashModel(injective=False)
    for hashes in (injective, plain):
        leaves = [hashes.leaf(z3.Int(f"x{i}")) for i in range(3)]
        hashes.node(leaves)
    # three leaf hashes (one inverse each) and one ternary node (three inverses)
    assert len(injective.axioms()) == 3 + 3
    assert plain.axioms() == []
    assert CORRECT.injective_hash and not NON_INJECTIVE_HASH.injective_hash


@pytest.mark.parametrize(
    "call",
    [
        lambda: prove_root_iff_buckets_equal(1),
        lambda: prove_diff_exact(0),
        lambda: prove_diff_exact(2, depths=(0,)),
        lambda: prove_diff_exact(2, depths=()),
        lambda: prove_root_iff_buckets_equal(True),
    ],
)
def test_bad_bounds_are_rejected(call: Callable[[], ProofResult]) -> None:
    with pytest.raises(ValueError):
        call()
