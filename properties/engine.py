"""Running the suite: the one engine behind ``replicheck verify`` and the pytest suite.

Pure orchestration: it builds each property's machine (:mod:`replicheck.properties.suite`),
runs it with Hypothesis, listens to the per-example reports
(:mod:`replicheck.properties.examples`) and turns what it heard into the outcome values
of :mod:`replicheck.properties.outcomes`. It renders nothing.

- :func:`run_property`: one property on one store -> a :class:`PropertyResult` (the
  :class:`~replicheck.properties.outcomes.PropertyRun`, the per-guarantee judgement
  counts, the smallest observation per guarantee, and the exception that failed it,
  which the pytest suite re-raises).
- :func:`verify_store`: every property on one store -> a
  :class:`~replicheck.properties.outcomes.StoreOutcome` (one cell per guarantee).
- :func:`verify`: several stores (default: every preset) -> a
  :class:`~replicheck.properties.outcomes.SuiteOutcome`.

A property's status: ``skipped`` when :meth:`Property.skip_reason` says it does not
apply; ``failed`` when its machine raised
:class:`~replicheck.properties.examples.GuaranteeViolation` (its counterexample is kept,
shrunk further by :func:`replicheck.properties.shrink.minimize_counterexample` when
that module offers it); ``error`` for any other exception (the store's adapter or the
suite crashed: the reason is the exception's last line); else ``passed``.

Progress: a callable receiving :class:`ProgressEvent` values, one when a property
starts, one after each example, and one when it ends (its final status).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from hypothesis import Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from replicheck.implementation.store import Descriptor, Store
from replicheck.models.guarantees import GUARANTEES, MECHANISM_PROMISES
from replicheck.properties.examples import ExampleReport, GuaranteeViolation, collecting
from replicheck.properties.outcomes import (
    NOT_APPLICABLE,
    Cell,
    Counterexample,
    PropertyRun,
    PropertyStatus,
    StoreOutcome,
    SuiteOutcome,
    cell_status,
)
from replicheck.properties.shrink import SMALL_ENOUGH
from replicheck.properties.suite import PROPERTIES, STEPS, NotApplicable, Property

__all__ = [
    "ProgressEvent",
    "PropertyResult",
    "describe_store",
    "run_property",
    "store_factory",
    "verify",
    "verify_store",
]

Progress = Callable[["ProgressEvent"], None]
"""A progress listener."""

RUNNING: Final = "running"
"""The status of a progress event sent while a property runs."""


@dataclass(frozen=True)
class ProgressEvent:
    """Where a run is: the ``store`` (its target), the ``property``, the examples
    done so far and the most the profile allows (``max_examples``; shrinking may run
    more), and the ``status``: ``running``, or the property's final status (passed,
    failed, skipped, error)."""

    store: str
    property: str
    examples: int
    max_examples: int
    status: str


@dataclass(frozen=True)
class PropertyResult:
    """One property on one store: the ``run`` (what the reports show), the judgement
    ``counts`` per guarantee (status -> examples), the smallest example observing
    each unclaimed guarantee (``observations``), and the ``exception`` that failed or
    crashed the run (None when it passed or was skipped)."""

    run: PropertyRun
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    observations: Mapping[str, Counterexample] = field(default_factory=dict)
    exception: BaseException | None = field(default=None, compare=False)


def store_factory(target: str, seed: int = 0) -> Callable[[], Store]:
    """The zero-argument factory of ``target``: a preset (built with ``seed``),
    ``mutant:NAME`` (built with ``seed``) or ``package.module:factory``. UnknownStore
    (one line) when it names nothing."""
    from replicheck.implementation.presets import PRESETS, UnknownStore, preset, resolve_target
    from replicheck.properties.replay import MUTANT_PREFIX

    if target.startswith(MUTANT_PREFIX):
        from replicheck.implementation.mutants import mutant

        try:
            found = mutant(target[len(MUTANT_PREFIX):])
        except KeyError as error:
            raise UnknownStore(str(error.args[0])) from None
        return lambda: found.build(seed)
    if target in PRESETS:
        return lambda: preset(target, seed)
    return resolve_target(target)


def describe_store(factory: Callable[[], Store]) -> Descriptor:
    """The descriptor of a fresh store of ``factory`` (closed afterwards)."""
    made = factory()
    try:
        return made.descriptor
    finally:
        close = getattr(made, "close", None)
        if callable(close):
            close()


@contextlib.contextmanager
def _failure_dir(folder: str | Path | None) -> Iterator[None]:
    """Within the block, machines write failing schedules to ``folder``."""
    from replicheck.properties.machines import FAILURE_DIR_ENV

    if folder is None:
        yield
        return
    before = os.environ.get(FAILURE_DIR_ENV)
    os.environ[FAILURE_DIR_ENV] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FAILURE_DIR_ENV, None)
        else:
            os.environ[FAILURE_DIR_ENV] = before


def _counted(machine: type[RuleBasedStateMachine], on_example: Callable[[], None]
             ) -> type[RuleBasedStateMachine]:
    """``machine`` calling ``on_example`` after each example's teardown."""

    class Counted(machine):  # type: ignore[valid-type,misc]
        def teardown(self) -> None:
            try:
                super().teardown()
            finally:
                on_example()

    Counted.__name__ = Counted.__qualname__ = machine.__name__
    return Counted


def _violation(error: BaseException) -> GuaranteeViolation | None:
    """The GuaranteeViolation ``error`` is or holds (an exception group, e.g.
    Hypothesis's flaky failure)."""
    if isinstance(error, GuaranteeViolation):
        return error
    for inner in getattr(error, "exceptions", ()) or ():
        found = _violation(inner)
        if found is not None:
            return found
    return None


def _reproduce(error: BaseException) -> str | None:
    """The ``@reproduce_failure(...)`` decorator Hypothesis attached, if any."""
    for note in getattr(error, "__notes__", ()) or ():
        text = str(note)
        start = text.find("@reproduce_failure(")
        if start >= 0:
            end = text.find(")", start)
            return text[start:end + 1] if end > start else text[start:]
    return None


def _last_line(error: BaseException) -> str:
    """The traceback's last line: the exception's type and message (notes left out;
    a message of several lines gives its first)."""
    message = _first_line(str(error))
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "").strip()


OBSERVATION_SHRINK_SECONDS: Final = 10.0
"""The schedule shrinker's budget for one observation's counterexample."""


def _minimized(cx: Counterexample, target: str, seed: int,
               seconds: float | None = None) -> Counterexample:
    """``cx`` shrunk by :mod:`replicheck.properties.shrink` when it offers
    ``minimize_counterexample``; ``cx`` when not, or when that raises."""
    try:
        from replicheck.properties import shrink
    except Exception:  # an optional courtesy: its absence or failure changes nothing
        return cx
    minimize = getattr(shrink, "minimize_counterexample", None)
    if not callable(minimize) or (cx.schedule is None and cx.batches is None):
        return cx
    try:
        shrunk = (minimize(cx, target, seed) if seconds is None
                  else minimize(cx, target, seed, seconds=seconds))
    except Exception:
        return cx
    return shrunk if isinstance(shrunk, Counterexample) else cx


def _tally(reports: Sequence[ExampleReport], name: str
           ) -> tuple[dict[str, dict[str, int]], dict[str, Counterexample]]:
    counts: dict[str, dict[str, int]] = {}
    observations: dict[str, Counterexample] = {}
    for report in reports:
        if report.property != name:
            continue
        for guarantee, status in report.statuses.items():
            per = counts.setdefault(guarantee, {})
            per[status] = per.get(status, 0) + 1
        for guarantee, cx in report.observations.items():
            if _smaller(cx, observations.get(guarantee)):
                observations[guarantee] = cx
    return counts, observations


def _smaller(cx: Counterexample, than: Counterexample | None) -> bool:
    return than is None or cx.size < than.size


def run_property(prop: Property, factory: Callable[[], Store], target: str,
                 chosen_settings: settings, *, progress: Progress | None = None,
                 descriptor: Descriptor | None = None, seed: int = 0,
                 failure_dir: str | Path | None = None, minimize: bool = True,
                 known: Mapping[str, int] | None = None) -> PropertyResult:
    """Run ``prop`` on the store ``factory`` builds (``target`` names it in
    schedules and reports) under ``chosen_settings`` (each example at most
    :data:`~replicheck.properties.suite.STEPS` rules), as the module docstring says.
    ``descriptor`` saves building a store to read it; ``seed`` is the seed the
    target's stores are built with (for shrinking replays); ``failure_dir`` is where
    the machines write failing schedules (default: ``$REPLICHECK_FAILURE_DIR``, else
    the current directory); ``minimize`` False skips the schedule shrinking of a
    failure's counterexample. ``known`` gives, per guarantee, the size of a
    counterexample already found (by another property): Hypothesis' slow shrinking is
    skipped for a violation of a guarantee already shown within
    :data:`~replicheck.properties.shrink.SMALL_ENOUGH` steps. Never raises for a
    failure of the store."""
    descriptor = descriptor or describe_store(factory)
    limit = chosen_settings.max_examples

    def send(examples: int, status: str) -> None:
        if progress is not None:
            progress(ProgressEvent(target, prop.name, examples, limit, status))

    reason = prop.skip_reason(descriptor)
    if reason is not None:
        send(0, "skipped")
        return PropertyResult(PropertyRun(prop.name, "skipped", prop.guarantees, reason))
    send(0, RUNNING)
    done = [0]

    def on_example() -> None:
        done[0] += 1
        send(done[0], RUNNING)

    began = time.perf_counter()
    status: PropertyStatus = "passed"
    why = ""
    counterexample: Counterexample | None = None
    exception: BaseException | None = None
    with collecting() as reports, _failure_dir(failure_dir):
        try:
            machine = _counted(prop.build(factory, target, seed), on_example)
        except NotApplicable as inapplicable:
            send(0, "skipped")
            return PropertyResult(PropertyRun(prop.name, "skipped", prop.guarantees,
                                              str(inapplicable)))
        except Exception as crash:  # the store lacks what the property needs
            error: Exception | None = crash
        else:
            error = _attempt(machine, chosen_settings, shrink=False)
        found = None if error is None else _violation(error)
        shrunk = _shrunk(found, target, seed) if minimize else None
        shown = None if found is None or found.counterexample is None else (
            known or {}).get(found.counterexample.guarantee)
        if found is not None and Phase.shrink in chosen_settings.phases and (
                shrunk is None or shrunk.size > SMALL_ENOUGH) and (
                shown is None or shown > SMALL_ENOUGH):
            # Hypothesis shrinks the rules (then the schedule shrinker, again); the
            # smaller counterexample wins
            again = _attempt(machine, chosen_settings, shrink=True)
            if again is not None and _violation(again) is not None:
                second = _shrunk(_violation(again), target, seed) if minimize else None
                if shrunk is None or (second is not None and second.size < shrunk.size):
                    error, found, shrunk = again, _violation(again), second
        if error is not None:
            exception = error
            if found is not None:
                status, why = "failed", _first_line(str(found))
                counterexample = shrunk or found.counterexample
                if counterexample is not None:
                    reproduce = _reproduce(error) or _reproduce(found)
                    if reproduce is not None and counterexample.reproduce is None:
                        from dataclasses import replace

                        counterexample = replace(counterexample, reproduce=reproduce)
                if shrunk is not None:
                    _note_minimal(error, shrunk, target)
            else:
                status, why = "error", _last_line(error)
    counts, observations = _tally(reports, prop.name)
    run = PropertyRun(prop.name, status, prop.guarantees, why, done[0],
                      time.perf_counter() - began, counterexample)
    send(done[0], status)
    return PropertyResult(run, counts, observations, exception)


def _shrunk(found: GuaranteeViolation | None, target: str, seed: int
            ) -> Counterexample | None:
    """The violation's counterexample shrunk by the schedule shrinker, or None when
    it has none or the shrinker could not reproduce it."""
    if found is None or found.counterexample is None:
        return None
    shrunk = _minimized(found.counterexample, target, seed)
    return None if shrunk is found.counterexample else shrunk


def _note_minimal(error: BaseException, cx: Counterexample, target: str) -> None:
    """Write ``cx``'s (shrunk) schedule next to the machine's failing schedule and say
    so on ``error`` (what pytest shows), with its replay command; a shrunk threaded
    counterexample (no schedule) is shown on ``error`` as it is."""
    from replicheck.properties.machines import failure_path
    from replicheck.properties.schedule import counterexample_schedule, dump

    schedule = counterexample_schedule(cx)
    if schedule is None:
        if cx.batches is not None:
            error.add_note(f"shrunk to {cx.decisions} operation(s) in {len(cx.batches)} "
                           "batch(es), which failed again when rerun:\n"
                           + "\n".join(f"  {s}" for s in cx.steps) + "\n" + cx.explanation)
        return
    path = failure_path(target)
    path = path.with_name(path.stem + "-minimal.json")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        dump(schedule, path)
    except (OSError, ValueError):
        return
    error.add_note(f"minimal schedule ({cx.decisions} steps, one scheduler decision = one "
                   f"step) written to {path}\nreplay it with: replicheck replay {path}")


def _attempt(machine: type[RuleBasedStateMachine], chosen: settings, *, shrink: bool
             ) -> Exception | None:
    """Run ``machine`` under ``chosen`` (each example at most STEPS rules), with or
    without Hypothesis's shrink phase; the exception that failed it, or None."""
    phases = tuple(p for p in chosen.phases if shrink or p != Phase.shrink)
    try:
        run_state_machine_as_test(
            machine, settings=settings(chosen, stateful_step_count=STEPS, phases=phases,
                                       report_multiple_bugs=False))
    except Exception as error:  # a violation, or a crash of the store or the suite
        return error
    return None


def _settings_for(profile: str, max_examples: int | None) -> settings:
    from replicheck.properties.profiles import settings_for

    chosen = settings_for(profile)
    if max_examples is not None and max_examples < chosen.max_examples:
        chosen = settings(chosen, max_examples=max_examples)
    return chosen


def _cells(descriptor: Descriptor, results: Sequence[PropertyResult]) -> tuple[Cell, ...]:
    claimed = {c.guarantee for c in descriptor.claims}
    cells = []
    for guarantee in GUARANTEES + MECHANISM_PROMISES:
        counts: dict[str, int] = {}
        for result in results:
            for status, n in result.counts.get(guarantee, {}).items():
                counts[status] = counts.get(status, 0) + n
        for result in results:  # a failure whose example reported nothing still counts
            cx = result.run.counterexample
            if result.run.status == "failed" and cx is not None \
                    and cx.guarantee == guarantee and not counts.get("violated"):
                counts["violated"] = 1
        status = cell_status(counts)
        reason = ""
        if status == NOT_APPLICABLE:
            reason = _not_applicable(guarantee, guarantee in claimed, results)
        cells.append(Cell(guarantee, status, guarantee in claimed, counts, reason))
    return tuple(cells)


def _not_applicable(guarantee: str, claimed: bool, results: Sequence[PropertyResult]
                    ) -> str:
    bearing = [r.run for r in results if guarantee in r.run.guarantees]
    ran = [r for r in bearing if r.status != "skipped"]
    if not bearing:
        return "no property of the suite checks it"
    if not ran:
        return "; ".join(dict.fromkeys(r.reason for r in bearing))
    if claimed:
        return "no example held anything it speaks about"
    return "not claimed, and no example held anything it speaks about"


def verify_store(target: str, *, profile: str, max_examples: int | None = None,
                 progress: Progress | None = None, seed: int = 0,
                 failure_dir: str | Path | None = None,
                 properties: Sequence[Property] | None = None, minimize: bool = True
                 ) -> StoreOutcome:
    """Run every property (``properties``, default the suite's) on ``target`` (a
    preset, ``mutant:NAME`` or ``package.module:factory``, built with ``seed``) under
    ``profile`` (at most ``max_examples`` examples per property when given).
    UnknownStore when the target names nothing; UnknownProfile for an unknown
    profile. ``minimize`` as :func:`run_property`."""
    factory = store_factory(target, seed)
    descriptor = describe_store(factory)
    chosen = _settings_for(profile, max_examples)
    results: list[PropertyResult] = []
    known: dict[str, int] = {}  # the smallest counterexample of each guarantee so far
    for prop in PROPERTIES if properties is None else properties:
        result = run_property(prop, factory, target, chosen, progress=progress,
                              descriptor=descriptor, seed=seed, failure_dir=failure_dir,
                              minimize=minimize, known=known)
        cx = result.run.counterexample
        if cx is not None and result.run.status == "failed":
            known[cx.guarantee] = min(cx.size, known.get(cx.guarantee, cx.size))
        results.append(result)
    claimed = {c.guarantee for c in descriptor.claims}
    observed: dict[str, Counterexample] = {}
    for result in results:
        for guarantee, cx in result.observations.items():
            if guarantee not in claimed and _smaller(cx, observed.get(guarantee)):
                observed[guarantee] = cx
    if minimize:
        observed = {g: _minimized(cx, target, seed, OBSERVATION_SHRINK_SECONDS)
                    for g, cx in observed.items()}
    order = GUARANTEES + MECHANISM_PROMISES
    observations = tuple(observed[g] for g in sorted(
        observed, key=lambda g: order.index(g) if g in order else len(order)))
    claims = tuple(dict.fromkeys(str(c.guarantee) for c in descriptor.claims))
    return StoreOutcome(target, descriptor.name, claims, tuple(r.run for r in results),
                        _cells(descriptor, results), observations)


def verify(targets: Sequence[str] | None = None, *, profile: str,
           max_examples: int | None = None, progress: Progress | None = None,
           seed: int = 0, failure_dir: str | Path | None = None) -> SuiteOutcome:
    """:func:`verify_store` for each target (None: every preset, in
    ``implementation.presets.PRESETS`` order), timed."""
    from replicheck.implementation.presets import PRESETS
    from replicheck.properties.profiles import import_every_module

    import_every_module()  # each store's search the same, alone or after others
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    began = time.perf_counter()
    stores = tuple(verify_store(t, profile=profile, max_examples=max_examples,
                                progress=progress, seed=seed, failure_dir=failure_dir)
                   for t in (PRESETS if targets is None else targets))
    return SuiteOutcome(profile, stores, time.perf_counter() - began, started)
