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
apply; ``error`` when the store broke the contract
(:class:`~replicheck.properties.recording.ContractBreach`: an answer of the wrong type,
an exception outside the typed errors, ``SystemExit``, a call that did not return
within ``call_timeout`` seconds; the reason is the breach's one line, and it wins
over anything judged on the broken history); ``failed`` when its machine raised
:class:`~replicheck.properties.examples.GuaranteeViolation` (its counterexample is kept,
shrunk further by :func:`replicheck.properties.shrink.minimize_counterexample` when
that module offers it); ``error`` for any other exception (the store's adapter or the
suite crashed: the reason is the exception's last line); else ``passed``.

Every store the engine builds is a
:class:`~replicheck.properties.recording.GuardedStore` (each call checked and timed),
and each property runs on a daemon worker thread under a
:class:`~replicheck.properties.recording.CallWatch`: when a store call overruns the
call timeout the engine stops waiting, abandons the thread (a hung call cannot keep
the process alive) and reports the call.

Progress: a callable receiving :class:`ProgressEvent` values, one when a property
starts, one after each example, and one when it ends (its final status).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from hypothesis import Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from replicheck.implementation.store import CLAIM_NEEDS, Descriptor, Store
from replicheck.models.guarantees import ANOMALY_COLUMNS, GUARANTEES, MECHANISM_PROMISES
from replicheck.properties.examples import ExampleReport, GuaranteeViolation, collecting
from replicheck.properties.outcomes import (
    NOT_APPLICABLE,
    UNCHECKED,
    Cell,
    Counterexample,
    PropertyRun,
    PropertyStatus,
    StoreOutcome,
    SuiteOutcome,
    cell_status,
    checker_names,
)
from replicheck.properties.recording import (
    DEFAULT_CALL_TIMEOUT,
    BadStore,
    CallTimedOut,
    CallWatch,
    ContractBreach,
    current_watch,
    guarded_factory,
    watching,
)
from replicheck.properties.shrink import SMALL_ENOUGH
from replicheck.properties.suite import PROPERTIES, STEPS, NotApplicable, Property

__all__ = [
    "BadStore",
    "ProgressEvent",
    "PropertyResult",
    "StoreContractError",
    "check_target",
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


class StoreContractError(Exception):
    """What a property that ended on a broken contract raises to its caller (the
    pytest suite): the breach's one line."""


@dataclass(frozen=True)
class PropertyResult:
    """One property on one store: the ``run`` (what the reports show), the judgement
    ``counts`` per guarantee (status -> examples), the smallest example observing
    each unclaimed guarantee (``observations``), and the ``exception`` that failed or
    crashed the run (None when it passed or was skipped), and the ``checkers`` that
    judged each guarantee (in the order first seen)."""

    run: PropertyRun
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    observations: Mapping[str, Counterexample] = field(default_factory=dict)
    exception: BaseException | None = field(default=None, compare=False)
    checkers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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


def check_target(target: str, *, seed: int = 0,
                 call_timeout: float = DEFAULT_CALL_TIMEOUT) -> Descriptor:
    """The descriptor of a store ``target`` builds (closed afterwards): UnknownStore
    when it names nothing; :class:`BadStore` (one line) when its factory raises,
    returns something that is not a store, or does not return within
    ``call_timeout`` seconds."""
    factory = guarded_factory(store_factory(target, seed), target)
    watch = CallWatch(call_timeout)
    with watching(watch):
        value, error = _in_worker(lambda: describe_store(factory), watch)
    if isinstance(error, CallTimedOut):
        raise BadStore(f"store {target!r}: {error.line}")
    if isinstance(error, BadStore):
        raise error
    if isinstance(error, ContractBreach):
        raise BadStore(f"store {target!r}: {error.line}")
    if error is not None:
        raise BadStore(f"store {target!r}: building and describing a store raised "
                       f"{_last_line(error)}")
    assert isinstance(value, Descriptor)
    return value


def _in_worker(run: Callable[[], object], watch: CallWatch
               ) -> tuple[object, BaseException | None]:
    """``run()`` on a daemon worker thread: its value and the exception it raised
    (None when it returned). When a store call registered in ``watch`` overruns its
    timeout, the worker is abandoned (``watch.abandoned``) and the error is a
    :class:`CallTimedOut` naming the call."""
    import threading

    box: dict[str, object] = {}

    def body() -> None:
        try:
            box["value"] = run()
        except BaseException as error:  # handed to the waiting thread
            box["error"] = error

    worker = threading.Thread(target=body, name="replicheck-property", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(watch.wait_hint())
        late = watch.overdue() if worker.is_alive() else None
        if late is not None:
            watch.abandoned = True
            return None, CallTimedOut(f"{late} did not return within {watch.timeout:g} s")
    error = box.get("error")
    return box.get("value"), error if isinstance(error, BaseException) else None


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


def _breach(error: BaseException | None, seen: set[int] | None = None
            ) -> ContractBreach | None:
    """The ContractBreach ``error`` is, holds (an exception group) or was raised
    while handling (a teardown failing after the breach)."""
    seen = set() if seen is None else seen
    if error is None or id(error) in seen:
        return None
    seen.add(id(error))
    if isinstance(error, ContractBreach):
        return error
    for inner in (*(getattr(error, "exceptions", ()) or ()), error.__cause__,
                  error.__context__):
        found = _breach(inner, seen)
        if found is not None:
            return found
    return None


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


def _checkers(reports: Sequence[ExampleReport], name: str) -> dict[str, tuple[str, ...]]:
    """The checkers that judged each guarantee in the examples of ``name`` (those
    that judged it at all: not-applicable ones left out), in the order first seen."""
    seen: dict[str, dict[str, None]] = {}
    for report in reports:
        if report.property != name:
            continue
        for guarantee, checker in report.checkers.items():
            if checker and report.statuses.get(guarantee, NOT_APPLICABLE) != NOT_APPLICABLE:
                seen.setdefault(guarantee, {})[checker] = None
    return {g: tuple(names) for g, names in seen.items()}


def _smaller(cx: Counterexample, than: Counterexample | None) -> bool:
    return than is None or cx.size < than.size


def run_property(prop: Property, factory: Callable[[], Store], target: str,
                 chosen_settings: settings, *, progress: Progress | None = None,
                 descriptor: Descriptor | None = None, seed: int = 0,
                 failure_dir: str | Path | None = None, minimize: bool = True,
                 known: Mapping[str, int] | None = None,
                 call_timeout: float = DEFAULT_CALL_TIMEOUT) -> PropertyResult:
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
    :data:`~replicheck.properties.shrink.SMALL_ENOUGH` steps. ``call_timeout``: the
    seconds a store call may take (the property then ends as an error naming it).
    Never raises for a failure of the store."""
    factory = guarded_factory(factory, target)
    watch = CallWatch(call_timeout)
    if descriptor is None:
        with watching(watch):
            found_descriptor, trouble = _in_worker(lambda: describe_store(factory), watch)
        if trouble is not None or not isinstance(found_descriptor, Descriptor):
            breach = _breach(trouble)
            why = breach.line if breach is not None else _last_line(
                trouble or TypeError("no descriptor"))
            if progress is not None:
                progress(ProgressEvent(target, prop.name, 0, chosen_settings.max_examples,
                                       "error"))
            return PropertyResult(PropertyRun(prop.name, "error", prop.guarantees,
                                              _broke(why)),
                                  exception=StoreContractError(_broke(why)))
        descriptor = found_descriptor
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
    from replicheck.properties.verdicts import failures_to

    with collecting() as reports, failures_to(failure_dir), watching(watch):
        built, error = _in_worker(
            lambda: _counted(prop.build(factory, target, seed), on_example), watch)
        if isinstance(error, NotApplicable):
            send(0, "skipped")
            return PropertyResult(PropertyRun(prop.name, "skipped", prop.guarantees,
                                              str(error)))
        machine: type[RuleBasedStateMachine] = built  # type: ignore[assignment]
        if error is None:  # else the store lacks what the property needs, or broke
            error = _attempt(machine, chosen_settings, shrink=False)
        breach = _breach(error)
        found = None if error is None or breach is not None else _violation(error)
        shrunk = _shrunk(found, target, seed) if minimize else None
        shown = None if found is None or found.counterexample is None else (
            known or {}).get(found.counterexample.guarantee)
        if found is not None and Phase.shrink in chosen_settings.phases and (
                shrunk is None or shrunk.size > SMALL_ENOUGH) and (
                shown is None or shown > SMALL_ENOUGH):
            # Hypothesis shrinks the rules (then the schedule shrinker, again); the
            # smaller counterexample wins
            again = _attempt(machine, chosen_settings, shrink=True)
            if again is not None and _breach(again) is not None:
                error, found, shrunk, breach = again, None, None, _breach(again)
            elif again is not None and _violation(again) is not None:
                second = _shrunk(_violation(again), target, seed) if minimize else None
                if shrunk is None or (second is not None and second.size < shrunk.size):
                    error, found, shrunk = again, _violation(again), second
        if breach is not None:
            status, why = "error", _broke(breach.line)
            exception = StoreContractError(why)
        elif error is not None:
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
    return PropertyResult(run, counts, observations, exception,
                          _checkers(reports, prop.name))


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
    from replicheck.properties.schedule import counterexample_schedule, dump
    from replicheck.properties.verdicts import failure_path

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
             ) -> BaseException | None:
    """Run ``machine`` under ``chosen`` (each example at most STEPS rules), with or
    without Hypothesis's shrink phase, on a worker thread under the active call
    watch; the
    exception that failed it (a violation, a crash of the store or the suite, a
    broken contract, a call timeout), or None."""
    phases = tuple(p for p in chosen.phases if shrink or p != Phase.shrink)

    def run() -> None:
        from replicheck.properties.profiles import source_independent

        with source_independent():
            run_state_machine_as_test(
                machine, settings=settings(chosen, stateful_step_count=STEPS, phases=phases,
                                           report_multiple_bugs=False))

    _, error = _in_worker(run, current_watch() or CallWatch())
    return error


def _broke(line: str) -> str:
    """The one line of a property that ended on the store breaking the contract."""
    return f"the store broke the contract: {line}"


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
            reason = _not_judged(guarantee, descriptor, guarantee in claimed, results)
            if guarantee in claimed:  # never "holds" without evidence
                status = UNCHECKED
        checker = checker_names(c for r in results for c in r.checkers.get(guarantee, ()))
        cells.append(Cell(guarantee, status, guarantee in claimed, counts, reason, checker))
    return tuple(cells) + tuple(_anomaly_cell(a, results) for a in ANOMALY_COLUMNS)


def _anomaly_cell(anomaly: str, results: Sequence[PropertyResult]) -> Cell:
    """The matrix column of an anomaly the suite looks for whatever the store claims
    (never claimed): observed, held (never seen) or not applicable."""
    counts: dict[str, int] = {}
    for result in results:
        for status, n in result.counts.get(anomaly, {}).items():
            counts[status] = counts.get(status, 0) + n
    status = cell_status(counts)
    reason = ("no example held a read or write its detector judges"
              if status == NOT_APPLICABLE else "")
    checker = checker_names(c for r in results for c in r.checkers.get(anomaly, ()))
    return Cell(anomaly, status, False, counts, reason, checker or f"{anomaly} detector")


def _not_judged(guarantee: str, descriptor: Descriptor, claimed: bool,
                results: Sequence[PropertyResult]) -> str:
    """Why no example judged ``guarantee``: the capability checking it needs, the
    reasons the properties bearing on it were skipped, or what their examples held."""
    need = CLAIM_NEEDS.get(guarantee)
    if claimed and need is not None and not descriptor.has(need):
        return (f"{descriptor.name} lacks the capability {need.value}, without which no "
                f"property can check {guarantee}")
    bearing = [r.run for r in results if guarantee in r.run.guarantees]
    ran = [r for r in bearing if r.status != "skipped"]
    if not bearing:
        return "no property of the suite checks it"
    if not ran:
        return "; ".join(f"{r.name} skipped ({r.reason})" for r in bearing)
    broken = [r for r in ran if r.status in ("failed", "error")]
    if broken and not any(r.examples for r in ran):
        return "; ".join(f"{r.name} {r.status} before any example judged it"
                         for r in broken)
    held = ", ".join(f"{r.examples} example{'s' if r.examples != 1 else ''} of {r.name}"
                     for r in ran)
    if claimed:
        return f"no example held anything it speaks about ({held})"
    return f"not claimed, and no example held anything it speaks about ({held})"


def verify_store(target: str, *, profile: str, max_examples: int | None = None,
                 progress: Progress | None = None, seed: int = 0,
                 failure_dir: str | Path | None = None,
                 properties: Sequence[Property] | None = None, minimize: bool = True,
                 call_timeout: float = DEFAULT_CALL_TIMEOUT) -> StoreOutcome:
    """Run every property (``properties``, default the suite's) on ``target`` (a
    preset, ``mutant:NAME`` or ``package.module:factory``, built with ``seed``) under
    ``profile`` (at most ``max_examples`` examples per property when given).
    UnknownStore when the target names nothing; :class:`BadStore` when its factory
    raises or builds no store; UnknownProfile for an unknown profile. ``minimize``
    and ``call_timeout`` as :func:`run_property`."""
    descriptor = check_target(target, seed=seed, call_timeout=call_timeout)
    factory = guarded_factory(store_factory(target, seed), target)
    chosen = _settings_for(profile, max_examples)
    results: list[PropertyResult] = []
    known: dict[str, int] = {}  # the smallest counterexample of each guarantee so far
    for prop in PROPERTIES if properties is None else properties:
        result = run_property(prop, factory, target, chosen, progress=progress,
                              descriptor=descriptor, seed=seed, failure_dir=failure_dir,
                              minimize=minimize, known=known, call_timeout=call_timeout)
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
    order = GUARANTEES + MECHANISM_PROMISES + ANOMALY_COLUMNS
    observations = tuple(observed[g] for g in sorted(
        observed, key=lambda g: order.index(g) if g in order else len(order)))
    claims = tuple(dict.fromkeys(str(c.guarantee) for c in descriptor.claims))
    return StoreOutcome(target, descriptor.name, claims, tuple(r.run for r in results),
                        _cells(descriptor, results), observations)


def verify(targets: Sequence[str] | None = None, *, profile: str,
           max_examples: int | None = None, progress: Progress | None = None,
           seed: int = 0, failure_dir: str | Path | None = None,
           call_timeout: float = DEFAULT_CALL_TIMEOUT) -> SuiteOutcome:
    """:func:`verify_store` for each target (None: every preset, in
    ``implementation.presets.PRESETS`` order), timed."""
    from replicheck.implementation.presets import PRESETS
    from replicheck.properties.profiles import import_every_module

    import_every_module()  # each store's search the same, alone or after others
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    began = time.perf_counter()
    stores = tuple(verify_store(t, profile=profile, max_examples=max_examples,
                                progress=progress, seed=seed, failure_dir=failure_dir,
                                call_timeout=call_timeout)
                   for t in (PRESETS if targets is None else targets))
    return SuiteOutcome(profile, stores, time.perf_counter() - began, started)
