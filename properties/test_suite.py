"""replicheck's shipped properties: ``pytest --pyargs replicheck.properties --store T``.

One test per property of :data:`replicheck.properties.suite.PROPERTIES` (the list
``replicheck verify`` runs too), named ``test_<property>`` with dashes as
underscores, marked with the guarantees it checks (CONTRACTS.md section 7), and run
by the same engine (:func:`replicheck.properties.engine.run_property`). The store comes
from the plugin's ``store_factory`` fixture (``--store``), called once per Hypothesis
example; the examples follow the chosen replicheck profile (capped by
``REPLICHECK_MAX_EXAMPLES``). A property that does not apply to the store is skipped
with the reason; anomalies the store does not claim to prevent are listed in the
"replicheck observations" summary (and recorded as ``observation:<guarantee>`` test
properties), never failed.

A property that finds a violation fails its test with a plain report
(:func:`failure_report`), no traceback: the guarantee (and any other the example
violated), the checker's explanation, the steps, the ``replicheck replay`` command of
its schedule, the ``@reproduce_failure`` blob when Hypothesis gave one, and the
path of the history as JSON lines, which ``replicheck check`` reads as is. Both
files are written (:func:`write_failure_files`) beside the machines' failure file
(``$REPLICHECK_FAILURE_DIR``, else the current directory), named for the target and
the property. Any other exception (a crash of the store or of the suite) is raised
as itself, never wrapped in an exception group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from replicheck.implementation.store import check_store
from replicheck.properties.examples import GuaranteeViolation, violation_of
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.suite import PROPERTIES, Property

SHOWN_STEPS = 60
"""The most steps a failure report lists (the first ones and the last
:data:`SHOWN_LAST_STEPS`); the schedule file holds every step."""

SHOWN_LAST_STEPS = 15


def test_store_keeps_the_contract(store: Any) -> None:
    """The store implements the protocol of every capability it declares and claims
    nothing it lacks the capability for."""
    assert check_store(store) == []


def _run(prop: Property, factory: Callable[[], Any], target: str, chosen: settings,
         record_property: Callable[[str, object], None], call_timeout: float = 30.0
         ) -> None:
    """Run ``prop`` through the engine: skip when it does not apply, record its
    observations, re-raise what failed it."""
    from replicheck.properties.engine import describe_store, run_property

    descriptor = describe_store(factory)
    reason = prop.skip_reason(descriptor)
    if reason is not None:
        pytest.skip(reason)
    result = run_property(prop, factory, target, chosen, descriptor=descriptor,
                          call_timeout=call_timeout)
    if result.run.status == "skipped":  # the machine cannot drive this store
        pytest.skip(result.run.reason)
    from replicheck.properties.verdicts import OBSERVATIONS, Observation

    for guarantee, example in result.observations.items():
        record_property(f"observation:{guarantee}", example.explanation)
        noted = Observation(descriptor.name, guarantee, example.explanation)
        if noted not in OBSERVATIONS:  # the plugin's summary lists them
            OBSERVATIONS.append(noted)
    if result.exception is not None:
        from replicheck.properties.engine import StoreContractError

        if isinstance(result.exception, StoreContractError):  # one line says it all
            pytest.fail(f"{target}: {result.run.reason}", pytrace=False)
        violation = violation_of(result.exception)
        if violation is None:  # a crash: the exception itself, with its traceback
            raise _leaf(result.exception)
        shown = result.run.counterexample or violation.counterexample
        schedule_file, history_file = write_failure_files(shown, target, prop.name)
        pytest.fail(failure_report(prop.name, target, violation, shown, schedule_file,
                                   history_file), pytrace=False)


def _leaf(error: BaseException) -> BaseException:
    """The first exception inside ``error`` that is not a group."""
    inner = getattr(error, "exceptions", None)
    return _leaf(inner[0]) if inner else error


def write_failure_files(cx: Counterexample | None, target: str, property_name: str
                        ) -> tuple[Path | None, Path | None]:
    """Write ``cx``'s schedule (replayable JSON) and its history (JSON lines: the
    records of the history the checker judged, else those of a replay of the
    schedule) beside the machines' failure file of ``target``, named for
    ``property_name``; their paths (None for a file that could not be written: no
    schedule, no history)."""
    from replicheck.properties.verdicts import failure_path

    if cx is None:
        return None, None
    base = failure_path(target)
    stem = f"{base.stem}-{property_name}"
    schedule_file = history_file = None
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None, None
    records: Sequence[Any] | None = None
    if cx.history is not None:  # the history the checker judged
        records = _records_of(cx.history)
    if cx.schedule is not None:
        from replicheck.properties.schedule import dump, from_json

        try:
            schedule = from_json(cx.schedule)
            schedule_file = dump(schedule, base.with_name(stem + ".json"))
            if records is None:  # recorded again by replaying the schedule
                from replicheck.properties.replay import replay

                records = replay(schedule).records
        except Exception:  # a file less to show; the report still has the rest
            pass
    if records is not None:
        from replicheck.histories.formats.jsonl import dumps_jsonl

        try:
            text = dumps_jsonl(records)
            history_file = base.with_name(stem + ".history.jsonl")
            history_file.write_text(text, encoding="utf-8")
        except (OSError, ValueError):
            history_file = None
    return schedule_file, history_file


def _records_of(history: Any) -> list[Any]:
    """The records of a paired history (invocations, completions, faults and
    observations), in record order; pairing them again gives the same operations
    (an operation's metadata goes on its completion, where pairing merges it)."""
    from replicheck.histories.history import Record

    records = [*history.faults, *history.observations]
    for op in history.operations:
        records.append(Record(op.process, "invoke", op.f, op.input, op.key, op.call,
                              op.call_time))
        if op.ret is not None:
            records.append(Record(op.process, op.status, op.f, op.output, op.key, op.ret,
                                  op.ret_time, op.error, op.meta))
    return sorted(records, key=lambda r: r.index)


def failure_report(property_name: str, target: str, violation: GuaranteeViolation,
                   cx: Counterexample | None, schedule_file: Path | None,
                   history_file: Path | None) -> str:
    """What a failing property's test shows: the guarantee, the checker's
    explanation, the steps, the replay command, the Hypothesis reproduction blob and
    the history file, each once."""
    violated = tuple(violation.guarantees)
    guarantee = cx.guarantee if cx is not None else (violated[0] if violated else "?")
    others = [g for g in violated if g != guarantee]
    lines = [f"{property_name} on {target}: claimed guarantee {guarantee} violated"
             + (f" (the failing example also violated {', '.join(others)})"
                if others else "")]
    if cx is None:
        lines += _indented(str(violation).splitlines())
        return "\n".join(lines)
    lines.append("explanation:")
    lines += _indented(cx.explanation.splitlines())
    unit = "one scheduler decision = one step" if cx.schedule is not None else \
        "one operation or fault = one step"
    teardown = "; the teardown's are not counted" if len(cx.steps) > cx.size else ""
    lines.append(f"steps ({cx.size}, {unit}{teardown}):")
    numbered = [f"  {i}. {step}" for i, step in enumerate(cx.steps, 1)]
    if len(numbered) > SHOWN_STEPS:
        left_out = len(numbered) - SHOWN_STEPS
        numbered = [*numbered[:SHOWN_STEPS - SHOWN_LAST_STEPS],
                    f"  ... {left_out} more steps (the schedule file holds them all) ...",
                    *numbered[-SHOWN_LAST_STEPS:]]
    lines += numbered
    if schedule_file is not None:
        lines.append(f"replay: replicheck replay {schedule_file}")
    if cx.reproduce:
        lines.append(f"reproduce in Hypothesis: {cx.reproduce}")
    if history_file is not None:
        lines.append(f"history (JSON lines): {history_file}")
        lines.append(f"  judge it again: replicheck check {history_file}")
    return "\n".join(lines)


def _indented(lines: Sequence[str]) -> list[str]:
    return [f"  {line}" if line.strip() else "" for line in lines]


def _test_of(prop: Property) -> Callable[..., None]:
    def test(store_factory: Callable[[], Any], replicheck_settings: settings,
             pytestconfig: pytest.Config,
             record_property: Callable[[str, object], None]) -> None:
        from replicheck.properties.plugin import call_timeout, store_target

        _run(prop, store_factory, store_target(pytestconfig), replicheck_settings,
             record_property, call_timeout(pytestconfig))

    name = "test_" + prop.name.replace("-", "_")
    test.__name__ = test.__qualname__ = name
    test.__doc__ = prop.title + "."
    marked: Callable[..., None] = test
    for guarantee in reversed(prop.guarantees):
        marked = getattr(pytest.mark, guarantee.replace("-", "_"))(marked)
    return marked


for _prop in PROPERTIES:
    globals()["test_" + _prop.name.replace("-", "_")] = _test_of(_prop)
del _prop
