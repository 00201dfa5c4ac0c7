"""Running the suite's machines against the mutants of the reference store.

:func:`run_mutant` runs the suite's properties that apply to a mutant's preset (those
driving a deterministic schedule first: machine 2, then machine 1 when the preset
claims linearizable operations) with the store
factory replaced by the mutant's, under a replicheck profile, and reports a
:class:`MutantResult`: whether a machine failed (``caught``), the guarantee whose
check failed (from the failing judgement), the time until the first failing example
(before shrinking) and the size of the shrunk counterexample.

A machine that catches the mutant runs without Hypothesis' shrink phase (timed: a
flag set in the machine's teardown when the first violation is detected). When
``shrink`` is True, the failure's schedule is shrunk by the schedule shrinker (in
scheduler decisions, much faster); when there is no schedule, the shrinker cannot
reproduce it, or what it leaves is longer than
:data:`~replicheck.properties.shrink.SMALL_ENOUGH`, the machine runs
again with Hypothesis' shrinking and the smaller counterexample wins. The step count follows
CONTRACTS.md section 6 (one scheduler decision = one step) when the failure carries
a :class:`~replicheck.properties.outcomes.Counterexample` with a schedule: that
schedule is shrunk further by :func:`replicheck.properties.shrink.minimize_counterexample`
and the count is its ``decisions`` (``step_unit`` ``"decisions"``). Otherwise (a
machine that attaches no schedule, such as the conformance machine) it is the number
of rules of the last failing run (``step_unit`` ``"rules"``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from replicheck.implementation.mutants import catalog
from replicheck.implementation.mutants.catalog import Mutant
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.profiles import import_every_module, settings_for
from replicheck.properties.recording import ContractBreach
from replicheck.properties.replay import MUTANT_PREFIX
from replicheck.properties.shrink import SMALL_ENOUGH, minimize_counterexample
from replicheck.properties.suite import PROPERTIES
from replicheck.properties.suite import STEPS as SUITE_STEPS

__all__ = ["STEPS", "MutantResult", "counterexample_of", "run_all", "run_mutant"]

STEPS = SUITE_STEPS
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
    step_unit: str | None = field(default=None, compare=False)
    """What ``counterexample_steps`` counts: ``"decisions"`` (steps of the shrunk
    schedule, one scheduler decision = one step, as the contract says) or
    ``"rules"`` (rules of Hypothesis' shrunk run: no schedule was attached)."""
    counterexample: Counterexample | None = field(default=None, compare=False, repr=False)
    """The (shrunk) counterexample, when the failure carried one."""

    def to_json(self) -> dict[str, Any]:
        """The contract's six fields (CONTRACTS.md section 6), nothing else."""
        return {"name": self.name, "preset": self.preset, "caught": self.caught,
                "guarantee": self.guarantee, "seconds_to_failure": self.seconds_to_failure,
                "counterexample_steps": self.counterexample_steps}


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


def _machines(mutant: Mutant, factory: Callable[[], Any], seed: int = 0
              ) -> list[tuple[str, type[RuleBasedStateMachine]]]:
    """The suite's properties that apply to the mutant (:data:`suite.PROPERTIES`),
    those driving a deterministic schedule first, each built for the target
    ``mutant:NAME`` (so their schedules replay on the mutant)."""
    store = factory()
    try:
        descriptor = store.descriptor
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    chosen = [p for p in PROPERTIES if p.skip_reason(descriptor) is None]
    chosen.sort(key=lambda p: "deterministic-scheduling" not in p.requires)
    return [(p.name, p.build(factory, MUTANT_PREFIX + mutant.name, seed)) for p in chosen]


def _settings(profile: str, max_examples: int | None, shrink: bool,
              hypothesis_seed: int | None = None) -> settings:
    base = settings_for(profile)
    if hypothesis_seed is not None:  # a seeded random search instead of the profile's
        base = settings(base, derandomize=False)
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


def counterexample_of(error: BaseException) -> Counterexample | None:
    """The counterexample a failure carries (``error.counterexample``, also inside an
    exception group or as the cause of another error), if any."""
    found = getattr(error, "counterexample", None)
    if isinstance(found, Counterexample):
        return found
    for inner in (*(getattr(error, "exceptions", ()) or ()), error.__cause__,
                  error.__context__):
        if isinstance(inner, BaseException) and inner is not error:
            found = counterexample_of(inner)
            if found is not None:
                return found
    return None


def _run(machine: type[RuleBasedStateMachine], chosen: settings, watch: _Watch,
         hypothesis_seed: int | None = None) -> BaseException | None:
    watch.start = time.perf_counter()
    watched = _instrumented(machine, watch)
    if hypothesis_seed is not None:
        watched = hypothesis.seed(hypothesis_seed)(watched)
    try:
        run_state_machine_as_test(watched, settings=chosen)
    except (Exception, ContractBreach) as error:  # a violation, a crash, a broken contract
        return error
    return None


def run_mutant(mutant: Mutant, profile: str = "ci", max_examples: int | None = None, *,
               shrink: bool = True, seed: int = 0, hypothesis_seed: int | None = None
               ) -> MutantResult:
    """Run the machines of ``mutant``'s preset against the mutant (store seed
    ``seed``) under ``profile`` (at most ``max_examples`` examples per machine); the
    first machine that fails catches it. ``seconds_to_failure`` runs from the start
    of the first machine to the end of the first failing example. With
    ``hypothesis_seed``, Hypothesis searches at random from that seed (the profile's
    derandomization off), so several seeds measure the search, not one fixed path."""
    def factory() -> Any:
        return mutant.factory(seed)

    import_every_module()  # the same search whatever ran before in this process
    began = time.perf_counter()
    for name, machine in _machines(mutant, factory, seed):
        watch = _Watch()
        error = _run(machine, _settings(profile, max_examples, False, hypothesis_seed),
                     watch, hypothesis_seed)
        if error is None:
            continue
        # from the start (machines that found nothing count too) to the first failure
        seconds = (watch.first_failure or time.perf_counter()) - began
        steps = watch.last_steps
        first = counterexample_of(error)
        minimal = None if first is None or not shrink else minimize_counterexample(
            first, MUTANT_PREFIX + mutant.name, seed)
        if minimal is first:
            minimal = None  # the schedule shrinker could not reproduce it
        if shrink and (minimal is None or minimal.size > SMALL_ENOUGH):
            # Hypothesis shrinks the rules (then the schedule shrinker, again)
            shrunk = _Watch()
            again = _run(machine, _settings(profile, max_examples, True, hypothesis_seed),
                         shrunk, hypothesis_seed)
            # Hypothesis may shrink onto another failure (a crash of the store);
            # a guarantee violation found first is the one to report then
            if again is not None and (_guarantee_of(again) is not None
                                      or _guarantee_of(error) is None):
                second = counterexample_of(again)
                if second is not None:
                    second = minimize_counterexample(second, MUTANT_PREFIX + mutant.name,
                                                     seed)
                if minimal is None or (second is not None and second.schedule is not None
                                       and second.size < minimal.size):
                    error, minimal = again, second
                    steps = shrunk.last_steps if shrunk.last_steps is not None else steps
        unit = "rules"
        found = minimal if minimal is not None else counterexample_of(error)
        if found is not None and found.schedule is not None and found.decisions is not None:
            steps, unit = found.decisions, "decisions"
        guarantee = _guarantee_of(error) or (found.guarantee if found is not None else None)
        return MutantResult(mutant.name, mutant.preset, True, guarantee,
                            round(seconds, 3), steps, name, str(error)[:2000], unit, found)
    return MutantResult(mutant.name, mutant.preset, False, None, None, None)


def run_all(profile: str = "ci", max_examples: int | None = None, *, shrink: bool = True
            ) -> list[MutantResult]:
    """:func:`run_mutant` for every mutant of the catalog, in catalog order."""
    return [run_mutant(m, profile, max_examples, shrink=shrink) for m in catalog.MUTANTS]
