"""Running the suite's machines against the mutants of the reference store.

:func:`run_mutant` runs the machines that apply to a mutant's preset (machine 1 when
the preset claims linearizable operations, then machine 2) with the store factory
replaced by the mutant's, under a replicheck profile, and reports a
:class:`MutantResult`: whether a machine failed (``caught``), the guarantee whose
check failed (from the failing judgement), the time until the first failing example
(before shrinking) and the number of rules in the (shrunk) failing run.

Two runs per machine that catches the mutant: one without the shrink phase (timed:
a flag set in the machine's teardown when the first violation is detected), then,
when ``shrink`` is True, one with shrinking, whose last failing run (the minimal
example Hypothesis replays) gives the step count.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from replicheck.implementation.mutants import catalog
from replicheck.implementation.mutants.catalog import Mutant
from replicheck.properties.machines import (
    compared_kinds,
    concurrency_machine,
    conformance_machine,
)
from replicheck.properties.profiles import settings_for

__all__ = ["STEPS", "MutantResult", "run_all", "run_mutant"]

STEPS = 30
"""The most rules one example runs (as the shipped suite)."""


@dataclass(frozen=True)
class MutantResult:
    """What the suite found on one mutant (the JSON object of ``replicheck mutants``)."""

    name: str
    preset: str
    caught: bool
    guarantee: str | None
    seconds_to_failure: float | None
    counterexample_steps: int | None
    machine: str | None = field(default=None, compare=False)
    message: str = field(default="", compare=False)

    def to_json(self) -> dict[str, Any]:
        """The contract's six fields (CONTRACTS.md section 6)."""
        data = asdict(self)
        return {k: data[k] for k in ("name", "preset", "caught", "guarantee",
                                     "seconds_to_failure", "counterexample_steps")}


@dataclass
class _Watch:
    """Filled in by the instrumented machine's teardown."""

    start: float = 0.0
    first_failure: float | None = None
    last_steps: int | None = None
    examples: int = 0


def _instrumented(machine: type[RuleBasedStateMachine], watch: _Watch
                  ) -> type[RuleBasedStateMachine]:
    class Watched(machine):  # type: ignore[valid-type,misc]
        def teardown(self) -> None:
            watch.examples += 1
            failing = sys.exc_info()[1] is not None  # a rule failed: teardown in finally
            try:
                super().teardown()
            except BaseException:
                failing = True
                raise
            finally:
                if failing:
                    if watch.first_failure is None:
                        watch.first_failure = time.perf_counter()
                    watch.last_steps = getattr(self, "rules_run", None)

    Watched.__name__ = Watched.__qualname__ = machine.__name__
    return Watched


def _machines(mutant: Mutant, factory: Callable[[], Any]
              ) -> list[tuple[str, type[RuleBasedStateMachine]]]:
    store = factory()
    try:
        descriptor = store.descriptor
        schedulable = descriptor.has("deterministic-scheduling")
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    out: list[tuple[str, type[RuleBasedStateMachine]]] = []
    if schedulable:
        out.append(("concurrency", concurrency_machine(factory, max_steps=STEPS)))
    if compared_kinds(descriptor):
        out.append(("conformance", conformance_machine(factory)))
    return out


def _settings(profile: str, max_examples: int | None, shrink: bool) -> settings:
    base = settings_for(profile)
    examples = base.max_examples if max_examples is None else min(max_examples,
                                                                  base.max_examples)
    phases = (Phase.explicit, Phase.reuse, Phase.generate) + (
        (Phase.shrink,) if shrink else ())
    return settings(base, max_examples=examples, stateful_step_count=STEPS,
                    phases=phases, report_multiple_bugs=False, print_blob=False,
                    database=None, suppress_health_check=list(HealthCheck))


def _guarantee_of(error: BaseException) -> str | None:
    found = getattr(error, "guarantees", None)
    if found:
        return str(found[0])
    for inner in getattr(error, "exceptions", ()) or ():
        guarantee = _guarantee_of(inner)
        if guarantee is not None:
            return guarantee
    return None


def _run(machine: type[RuleBasedStateMachine], chosen: settings, watch: _Watch
         ) -> BaseException | None:
    watch.start = time.perf_counter()
    try:
        run_state_machine_as_test(_instrumented(machine, watch), settings=chosen)
    except Exception as error:  # an assertion, or a crash of the store: a failure
        return error
    return None


def run_mutant(mutant: Mutant, profile: str = "ci", max_examples: int | None = None, *,
               shrink: bool = True, seed: int = 0) -> MutantResult:
    """Run the machines of ``mutant``'s preset against the mutant (store seed
    ``seed``) under ``profile`` (at most ``max_examples`` examples per machine); the
    first machine that fails catches it. ``seconds_to_failure`` runs from the start
    of the first machine to the end of the first failing example."""
    def factory() -> Any:
        return mutant.factory(seed)

    began = time.perf_counter()
    for name, machine in _machines(mutant, factory):
        watch = _Watch()
        error = _run(machine, _settings(profile, max_examples, shrink=False), watch)
        if error is None:
            continue
        # from the start (machines that found nothing count too) to the first failure
        seconds = (watch.first_failure or time.perf_counter()) - began
        steps = watch.last_steps
        if shrink:
            shrunk = _Watch()
            again = _run(machine, _settings(profile, max_examples, shrink=True), shrunk)
            if again is not None:
                error = again
                steps = shrunk.last_steps if shrunk.last_steps is not None else steps
        return MutantResult(mutant.name, mutant.preset, True, _guarantee_of(error),
                            round(seconds, 3), steps, name, str(error)[:2000])
    return MutantResult(mutant.name, mutant.preset, False, None, None, None)


def run_all(profile: str = "ci", max_examples: int | None = None, *, shrink: bool = True
            ) -> list[MutantResult]:
    """:func:`run_mutant` for every mutant of the catalog, in catalog order."""
    return [run_mutant(m, profile, max_examples, shrink=shrink) for m in catalog.MUTANTS]
