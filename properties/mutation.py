"""Running the suite's machines against the mutants of the reference store.

:func:`run_mutant` runs the suite's properties that apply to a mutant's preset (those
driving a deterministic schedule first: the concurrency property, then the
conformance property when the preset claims linearizable operations) with the store
factory replaced by the mutant's, under a replicheck profile, and reports a
:class:`MutantResult`: whether a machine caught it, the guarantees the failing example
violated, the time until the first failing example (before shrinking) and the size of
the shrunk counterexample.

Only a guarantee violation catches a mutant (CONTRACTS.md section 6): a machine
failing with a :class:`~replicheck.properties.examples.GuaranteeViolation` (alone or
inside Hypothesis' exception group). Any other exception, raised by the mutant store
or by the suite, is an *error*: ``caught`` False, ``error`` one line naming the
exception and where it was raised; the remaining machines do not run.

Failure files (each failing example's schedule, and the shrunk counterexample's
schedule, ``...-minimal.json``) go to the folder ``out`` when given, else to
``$REPLICHECK_FAILURE_DIR`` or the current directory.

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

import contextlib
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from replicheck.implementation.mutants import catalog
from replicheck.implementation.mutants.catalog import Mutant
from replicheck.properties.examples import violation_of
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.profiles import import_every_module, settings_for, source_independent
from replicheck.properties.recording import ContractBreach
from replicheck.properties.replay import MUTANT_PREFIX
from replicheck.properties.shrink import SMALL_ENOUGH, minimize_counterexample
from replicheck.properties.suite import PROPERTIES
from replicheck.properties.suite import STEPS as SUITE_STEPS

__all__ = ["STEPS", "MutantResult", "counterexample_of", "error_line", "progress_line",
           "run_all", "run_mutant", "violation_of"]

STEPS = SUITE_STEPS
"""The most rules one example runs (as the shipped suite)."""


@dataclass(frozen=True)
class MutantResult:
    """What the suite found on one mutant (the JSON object of ``replicheck mutants``).

    ``caught`` only when a failing example violated a claimed guarantee: ``guarantee``
    is the one reported first (the narrowest check), ``violated`` every claimed
    guarantee that example violated. ``error`` (one line) when an exception other
    than a violation stopped a machine: then ``caught`` is False."""

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
    violated: tuple[str, ...] = field(default=(), compare=False)
    """Every claimed guarantee the failing example violated (``guarantee`` first)."""
    error: str | None = field(default=None, compare=False)
    """One line: the exception (not a violation) that stopped a machine, and where."""
    schedule_file: Path | None = field(default=None, compare=False)
    """Where the shown counterexample's schedule was written (``replicheck replay``)."""

    @property
    def verdict(self) -> str:
        """``caught``, ``escaped`` or ``error``."""
        return "caught" if self.caught else "error" if self.error is not None else "escaped"

    def to_json(self) -> dict[str, Any]:
        """The contract's fields (CONTRACTS.md section 6): the six, and ``error``
        (null unless an exception other than a violation stopped a machine)."""
        return {"name": self.name, "preset": self.preset, "caught": self.caught,
                "guarantee": self.guarantee, "seconds_to_failure": self.seconds_to_failure,
                "counterexample_steps": self.counterexample_steps, "error": self.error}


def progress_line(result: MutantResult) -> str:
    """The line ``replicheck mutants`` prints when ``result``'s mutant is done."""
    if result.caught:
        seconds = "" if result.seconds_to_failure is None else \
            f" in {result.seconds_to_failure:.2f} s"
        steps = "" if result.counterexample_steps is None else \
            f", {result.counterexample_steps} {result.step_unit or 'steps'}"
        return f"  caught   {result.name}: {result.guarantee}{seconds}{steps}"
    if result.error is not None:
        return f"  ERROR    {result.name}: {result.error}"
    return f"  ESCAPED  {result.name}"


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


def _leaf(error: BaseException) -> BaseException:
    """The first exception that is not a group, inside ``error``."""
    inner = getattr(error, "exceptions", None)
    if inner:
        return _leaf(inner[0])
    return error


def error_line(error: BaseException) -> str:
    """``error`` in one line: a broken store contract's own line (the call and what
    it returned or raised), else the exception's type, its message's first line and
    the innermost frame it was raised in (file name, line, function)."""
    leaf = _leaf(error)
    if isinstance(leaf, ContractBreach):  # already one line: the call and what it did
        return leaf.line
    message = next((line.strip() for line in str(leaf).splitlines() if line.strip()), "")
    text = type(leaf).__name__ + (f": {message}" if message else "")
    if len(text) > 200:
        text = text[:200] + "..."
    frames = traceback.extract_tb(leaf.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (raised in {Path(last.filename).name}:{last.lineno}, {last.name})"
    return text


def _write_minimal(cx: Counterexample | None, target: str) -> Path | None:
    """Write ``cx``'s schedule beside the machines' failure file of ``target``
    (``...-minimal.json``); its path, or None when there is none to write."""
    if cx is None or cx.schedule is None:
        return None
    from replicheck.properties.schedule import counterexample_schedule, dump
    from replicheck.properties.verdicts import failure_path

    schedule = counterexample_schedule(cx)
    if schedule is None:
        return None
    path = failure_path(target)
    path = path.with_name(path.stem + "-minimal.json")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        dump(schedule, path)
    except (OSError, ValueError):
        return None
    return path


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
        with source_independent():
            run_state_machine_as_test(watched, settings=chosen)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # a violation, or a crash (SystemExit too): judged after
        return error
    return None


def run_mutant(mutant: Mutant, profile: str = "ci", max_examples: int | None = None, *,
               shrink: bool = True, seed: int = 0, hypothesis_seed: int | None = None,
               out: str | Path | None = None,
               focus: Iterable[str] | None = None) -> MutantResult:
    """Run the machines of ``mutant``'s preset against the mutant (store seed
    ``seed``) under ``profile`` (at most ``max_examples`` examples per machine); the
    first machine that fails decides: caught by a guarantee violation, else an error.
    ``seconds_to_failure`` runs from the start of the first machine to the end of
    the first failing example. With ``hypothesis_seed``, Hypothesis searches at random
    from that seed (the profile's derandomization off), so several seeds measure the
    search, not one fixed path. Failure files go to ``out`` (module docstring). With
    ``focus``, only an example violating one of those guarantees fails
    (:func:`~replicheck.properties.verdicts.focused_on`): the search goes on past the
    bug's other symptoms."""
    from replicheck.properties.verdicts import failures_to, focused_on

    focusing = contextlib.nullcontext() if focus is None else focused_on(focus)
    with failures_to(out), focusing:
        return _run_mutant(mutant, profile, max_examples, shrink, seed, hypothesis_seed)


def _run_mutant(mutant: Mutant, profile: str, max_examples: int | None, shrink: bool,
                seed: int, hypothesis_seed: int | None) -> MutantResult:
    def factory() -> Any:
        return mutant.factory(seed)

    target = MUTANT_PREFIX + mutant.name
    import_every_module()  # the same search whatever ran before in this process
    began = time.perf_counter()
    try:
        machines = _machines(mutant, factory, seed)
    except Exception as crash:  # the mutant cannot even be built or described
        return MutantResult(mutant.name, mutant.preset, False, None, None, None,
                            message=str(crash)[:2000], error=error_line(crash))
    for name, machine in machines:
        watch = _Watch()
        error = _run(machine, _settings(profile, max_examples, False, hypothesis_seed),
                     watch, hypothesis_seed)
        if error is None:
            continue
        violation = violation_of(error)
        if violation is None:  # the store or the suite crashed: never a catch
            return MutantResult(mutant.name, mutant.preset, False, None, None, None, name,
                                str(error)[:2000], error=error_line(error))
        # from the start (machines that found nothing count too) to the first failure
        seconds = (watch.first_failure or time.perf_counter()) - began
        steps = watch.last_steps
        first = violation.counterexample
        minimal = None if first is None or not shrink else minimize_counterexample(
            first, target, seed)
        if minimal is first:
            minimal = None  # the schedule shrinker could not reproduce it
        if shrink and (minimal is None or minimal.size > SMALL_ENOUGH):
            # Hypothesis shrinks the rules (then the schedule shrinker, again); it may
            # shrink onto another failure (a crash of the store): the violation found
            # first is the one to report then
            shrunk = _Watch()
            again = _run(machine, _settings(profile, max_examples, True, hypothesis_seed),
                         shrunk, hypothesis_seed)
            other = None if again is None else violation_of(again)
            if other is not None:
                second = other.counterexample
                if second is not None:
                    second = minimize_counterexample(second, target, seed)
                if minimal is None or (second is not None and second.schedule is not None
                                       and second.size < minimal.size):
                    violation, minimal = other, second
                    steps = shrunk.last_steps if shrunk.last_steps is not None else steps
        unit = "rules"
        found = minimal if minimal is not None else violation.counterexample
        if found is not None and found.schedule is not None and found.decisions is not None:
            steps, unit = found.decisions, "decisions"
        violated = tuple(str(g) for g in violation.guarantees)
        written = _write_minimal(minimal, target)
        return MutantResult(mutant.name, mutant.preset, True,
                            violated[0] if violated else None, round(seconds, 3), steps,
                            name, str(violation)[:2000], unit, found, violated,
                            schedule_file=written)
    return MutantResult(mutant.name, mutant.preset, False, None, None, None)


def run_all(profile: str = "ci", max_examples: int | None = None, *, shrink: bool = True,
            out: str | Path | None = None) -> list[MutantResult]:
    """:func:`run_mutant` for every mutant of the catalog, in catalog order."""
    return [run_mutant(m, profile, max_examples, shrink=shrink, out=out)
            for m in catalog.MUTANTS]
