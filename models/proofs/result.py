"""The outcome of a z3 proof, as data."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProofResult:
    """What z3 said about one law.

    ``proved`` is True exactly when z3 showed the negation of the law unsatisfiable
    (the law holds for every input in the stated bounds). When it is False,
    ``counterexample`` holds z3's model of the negation, rendered as text, so a
    reader sees concrete values that break the law. ``status`` is z3's raw answer
    to the negated law ("unsat", "sat" or "unknown"): "unknown" is neither a proof
    nor a refutation.
    """

    law: str
    proved: bool
    status: str
    bounds: str = ""
    counterexample: str | None = None
    seconds: float = 0.0
    details: tuple[str, ...] = field(default_factory=tuple)

    @property
    def refuted(self) -> bool:
        """True when z3 found a concrete counterexample to the law."""
        return self.status == "sat"
