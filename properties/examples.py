"""What one example of a property reports, and where those reports go.

Each machine's teardown calls :func:`report_example` once per example with an
:class:`ExampleReport`: the property, the judgement status of every guarantee it
judged, and for each anomaly seen on a guarantee the store does not claim, a
:class:`~replicheck.properties.outcomes.Counterexample` (the engine turns these into
the report's observations). Whoever wants them (the engine, a test) listens with
:func:`collecting`; with no listener, reports go nowhere.

A machine fails by raising :class:`GuaranteeViolation`, which carries every claimed
guarantee the failing example violated and the example's
:class:`~replicheck.properties.outcomes.Counterexample` when the machine could build
one. :func:`violation_of` finds it in what Hypothesis raised: only that catches a
store; any other exception is a crash of the store or the suite.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from replicheck.properties.outcomes import Counterexample

__all__ = ["ExampleReport", "GuaranteeViolation", "collecting", "report_example",
           "violation_of"]


@dataclass(frozen=True)
class ExampleReport:
    """One example of ``property``: ``statuses`` maps each guarantee it judged to the
    judgement status (holds, violated, observed, unknown, not-applicable);
    ``observations`` maps each observed guarantee to the example as a
    counterexample; ``checkers`` maps each guarantee judged to the checker that
    decided it (``Judgement.checker``); ``classes`` names the rule classes that
    acted in the example (:mod:`replicheck.properties.search.swarm`)."""

    property: str
    statuses: Mapping[str, str] = field(default_factory=dict)
    observations: Mapping[str, Counterexample] = field(default_factory=dict)
    checkers: Mapping[str, str] = field(default_factory=dict)
    classes: frozenset[str] = frozenset()


class GuaranteeViolation(AssertionError):
    """A machine's failure: ``guarantees`` names every claimed guarantee whose check
    failed on the failing example (the first, the narrowest check, is the one
    reported); ``counterexample`` is the failing example when the machine could build
    it."""

    def __init__(self, message: str, guarantees: tuple[str, ...],
                 counterexample: Counterexample | None = None) -> None:
        super().__init__(message)
        self.guarantees = guarantees
        self.counterexample = counterexample


def violation_of(error: BaseException) -> GuaranteeViolation | None:
    """The guarantee violation ``error`` is, or holds in an exception group
    (Hypothesis' flaky failure); None for any other exception. A violation that is
    only the cause or context of another exception does not count: the other
    exception (a crash while failing) is what stopped the machine."""
    if isinstance(error, GuaranteeViolation):
        return error
    for inner in getattr(error, "exceptions", ()) or ():
        if isinstance(inner, BaseException):
            found = violation_of(inner)
            if found is not None:
                return found
    return None


_LISTENERS: list[list[ExampleReport]] = []


def report_example(report: ExampleReport) -> None:
    """Hand ``report`` to every active :func:`collecting` block."""
    for sink in _LISTENERS:
        sink.append(report)


@contextmanager
def collecting() -> Iterator[list[ExampleReport]]:
    """Within the block, every :func:`report_example` call appends to the list
    yielded."""
    sink: list[ExampleReport] = []
    _LISTENERS.append(sink)
    try:
        yield sink
    finally:
        _LISTENERS.remove(sink)
