"""Every law of the models that replicheck proves with z3, in one list."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from replicheck.models.proofs.result import ProofResult


def proof_groups() -> list[tuple[str, Callable[[], list[ProofResult]]]]:
    """The groups of proofs, each a name and a function running them."""
    from replicheck.models.proofs.clocks import all_clock_proofs
    from replicheck.models.proofs.merkle import all_merkle_proofs

    return [("clocks", all_clock_proofs), ("merkle", all_merkle_proofs)]


def run_all() -> Iterator[tuple[str, ProofResult]]:
    """Run every proof, yielding (group, result) as each one finishes."""
    for group, run in proof_groups():
        for result in run():
            yield group, result
