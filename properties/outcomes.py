"""What running the suite on a store found, as plain values the reports render.

The engine (:mod:`replicheck.properties.engine`) produces these; the renderers in
``reports/`` only format them (they never rerun a checker). One
:class:`SuiteOutcome` holds one :class:`StoreOutcome` per store checked (a preset, a
mutant, a user's factory). A store's outcome has one :class:`PropertyRun` per
property of the suite (a stateful machine) and one :class:`Cell` per guarantee: the
claims-versus-observed matrix.

Cell statuses (CELL_STATUSES), over every example the suite ran on the store:

``holds``
    claimed, checked on at least one example, never found violated;
``violated``
    claimed and found violated (the property that found it failed, with a
    :class:`Counterexample`);
``observed``
    not claimed, and an anomaly was seen (reported, never a failure);
``unknown``
    a checker ran out of time and nothing was violated;
``unchecked``
    claimed, but no example judged it: no property could check it on this store (a
    missing capability, every property bearing on it skipped) or none of the examples
    held anything it speaks about; the cell's ``reason`` says which. A claim is never
    ``holds`` without evidence;
``not-applicable``
    not claimed, and nothing the guarantee speaks about was checked (the store lacks
    the capability, or no example held an operation the guarantee covers).

A guarantee the store does not claim but the suite checked without finding an anomaly
is ``holds`` with ``claimed`` False: the renderers say "not claimed".
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from replicheck.histories.history import History
from replicheck.histories.verdict import Verdict

__all__ = [
    "CELL_STATUSES",
    "PROPERTY_STATUSES",
    "UNCHECKED",
    "Cell",
    "Counterexample",
    "PropertyRun",
    "StoreOutcome",
    "SuiteOutcome",
    "cell_status",
    "checker_names",
]

HOLDS: Final = "holds"
VIOLATED: Final = "violated"
OBSERVED: Final = "observed"
UNKNOWN: Final = "unknown"
UNCHECKED: Final = "unchecked"
NOT_APPLICABLE: Final = "not-applicable"

CELL_STATUSES: Final = (HOLDS, VIOLATED, OBSERVED, UNKNOWN, UNCHECKED, NOT_APPLICABLE)
"""A matrix cell's possible statuses (all but ``unchecked`` are also the per-example
judgement statuses)."""

PROPERTY_STATUSES: Final = ("passed", "failed", "skipped", "error")
"""A property run's possible statuses: ``error`` is a crash of the suite or of the
store's adapter that is no guarantee's violation, or the store breaking the contract
(an answer of the wrong type, an exception outside its typed errors, a call that did
not return within the call timeout): a bug to report, exit 1 too."""

PropertyStatus = Literal["passed", "failed", "skipped", "error"]


@dataclass(frozen=True)
class Counterexample:
    """The minimal failing (or observing) example of one property, on one guarantee.

    ``steps`` are the example's steps in plain words, in order (the renderers number
    them); ``decisions`` counts them the way CONTRACTS.md section 6 does (in
    :attr:`unit`: one scheduler decision = one step for a schedulable store, one
    client operation or fault = one step for a threaded one; the teardown's settling
    is not counted).
    ``history`` and ``verdict`` are what the checker judged (the verdict's anomalies
    name operation ids of the history). ``schedule`` is the replayable schedule (the
    JSON object of :mod:`replicheck.properties.schedule`) when the store is
    schedulable, else None; ``reproduce`` the ``@reproduce_failure(...)`` decorator
    Hypothesis printed, when it did; ``batches`` the requests of a threaded example,
    per batch and client (what the threaded shrinker reruns), else None."""

    property: str
    guarantee: str
    explanation: str
    steps: tuple[str, ...] = ()
    decisions: int | None = None
    history: History | None = None
    verdict: Verdict | None = None
    schedule: Mapping[str, Any] | None = None
    reproduce: str | None = None
    batches: tuple[Mapping[str, tuple[Any, ...]], ...] | None = None

    @builtins.property
    def unit(self) -> str:
        """What ``decisions`` counts: ``"scheduler decisions"`` for a schedule, else
        ``"operations"`` (client operations and faults)."""
        return "scheduler decisions" if self.schedule is not None else "operations"

    @builtins.property  # the field ``property`` shadows the builtin here
    def size(self) -> int:
        """How long it is: ``decisions`` when counted, else the number of steps."""
        return self.decisions if self.decisions is not None else len(self.steps)


@dataclass(frozen=True)
class Cell:
    """One guarantee of one store: its aggregate ``status``, whether the store
    ``claimed`` it, how many examples gave each judgement status (``counts``, keys
    from CELL_STATUSES; absent means 0), a ``reason`` (why not applicable...), and the
    ``checker`` that decided it (:func:`checker_names`: the checkers of the examples
    that judged it, e.g. ``"Elle item checker: serializable"``; empty when none did)."""

    guarantee: str
    status: str
    claimed: bool
    counts: Mapping[str, int] = field(default_factory=dict)
    reason: str = ""
    checker: str = ""

    @property
    def examples(self) -> int:
        """How many examples judged this guarantee at all (not-applicable excluded)."""
        return sum(n for s, n in self.counts.items() if s != NOT_APPLICABLE)


@dataclass(frozen=True)
class PropertyRun:
    """One property (stateful machine) run on one store: ``status`` (passed, failed,
    skipped, error), ``reason`` (why skipped, or the failure's first line), the
    ``examples`` run, the wall ``seconds``, the ``guarantees`` it checks, and the
    ``counterexample`` when it failed."""

    name: str
    status: PropertyStatus
    guarantees: tuple[str, ...] = ()
    reason: str = ""
    examples: int = 0
    seconds: float = 0.0
    counterexample: Counterexample | None = None


@dataclass(frozen=True)
class StoreOutcome:
    """Everything the suite found on one store: its ``target`` (as given to
    ``--store``), its descriptor ``name``, the guarantees it ``claims``, one
    :class:`PropertyRun` per property, one :class:`Cell` per guarantee (in
    ``models.guarantees`` order: GUARANTEES then MECHANISM_PROMISES), and one
    :class:`Counterexample` per observed guarantee (``observations``)."""

    target: str
    name: str
    claims: tuple[str, ...]
    properties: tuple[PropertyRun, ...] = ()
    cells: tuple[Cell, ...] = ()
    observations: tuple[Counterexample, ...] = ()

    @property
    def violations(self) -> tuple[Counterexample, ...]:
        """The counterexamples of the failed properties."""
        return tuple(p.counterexample for p in self.properties
                     if p.counterexample is not None)

    def cell(self, guarantee: str) -> Cell | None:
        """The cell of ``guarantee`` (None when the matrix has no such column)."""
        return next((c for c in self.cells if c.guarantee == guarantee), None)


@dataclass(frozen=True)
class SuiteOutcome:
    """One run of ``replicheck verify``: the ``profile``, one outcome per store, the
    wall ``seconds``, and when it ran (``started``, ISO 8601 UTC)."""

    profile: str
    stores: tuple[StoreOutcome, ...]
    seconds: float = 0.0
    started: str = ""

    @property
    def exit_status(self) -> int:
        """0 every claimed guarantee holds, 1 one is violated (or a property
        crashed, or the store broke the contract), 3 nothing violated but something
        claimed is unknown or unchecked (CONTRACTS.md section 6)."""
        if any(p.status in ("failed", "error") for s in self.stores for p in s.properties):
            return 1
        if any(c.status == VIOLATED for s in self.stores for c in s.cells):
            return 1
        if any(c.status in (UNKNOWN, UNCHECKED) and c.claimed
               for s in self.stores for c in s.cells):
            return 3
        return 0


def checker_names(names: Iterable[str]) -> str:
    """The checkers of a cell in words: each distinct non-empty name once, in the order
    first seen, joined by ``"; "`` (several properties may judge one guarantee, each
    with its own checker)."""
    return "; ".join(dict.fromkeys(n for n in names if n))


def cell_status(counts: Mapping[str, int]) -> str:
    """The aggregate status of a guarantee from the per-example ``counts``: violated
    if any example violated it, else observed if any observed an anomaly, else unknown
    if any was unknown, else holds if any held, else not-applicable."""
    for status in (VIOLATED, OBSERVED, UNKNOWN, HOLDS):
        if counts.get(status, 0) > 0:
            return status
    return NOT_APPLICABLE
