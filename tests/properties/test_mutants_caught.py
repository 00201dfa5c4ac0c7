"""The suite's machines catch every mutant of the reference store under the ``ci``
profile, and ``replicheck mutants`` reports it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis.stateful import RuleBasedStateMachine, rule

from replicheck.implementation.mutants import MUTANTS, Mutant, catalog
from replicheck.implementation.presets import preset
from replicheck.models.items.requests import Put, TransactWrite
from replicheck.properties import mutation
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.machines import FAILURE_DIR_ENV
from replicheck.properties.mutation import MutantResult, run_mutant
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.schedule import Schedule, submit_step
from replicheck.reports.cli import main


@pytest.fixture(autouse=True)
def _failure_files_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schedules of failing examples go to a temporary folder."""
    monkeypatch.setenv(FAILURE_DIR_ENV, str(tmp_path))


MAX_EXAMPLES = 100
"""The examples per machine a mutant may take here (the ci profile's own budget)."""


@pytest.mark.parametrize("entry", MUTANTS, ids=[m.name for m in MUTANTS])
def test_the_suite_catches_the_mutant(entry: Mutant) -> None:
    result = run_mutant(entry, profile="ci", max_examples=MAX_EXAMPLES, shrink=False)
    assert result.caught, f"{entry.name} escaped the suite under the ci profile"
    claims = {c.guarantee for c in preset(entry.preset, 0).descriptor.claims}
    assert result.guarantee in claims, result.message
    assert result.seconds_to_failure is not None and result.seconds_to_failure >= 0
    assert result.counterexample_steps is not None and result.counterexample_steps >= 1


def _subset(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    chosen = tuple(m for m in MUTANTS if m.name in names)
    monkeypatch.setattr(catalog, "MUTANTS", chosen)


def test_mutants_command_prints_one_json_object_per_mutant(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _subset(monkeypatch, "merkle-root-ignores-child", "hint-never-delivered")
    real = mutation.run_mutant

    def unshrunk(m: Mutant, profile: str = "ci", max_examples: int | None = None, *,
                 shrink: bool = True, seed: int = 0) -> MutantResult:
        return real(m, profile, max_examples, shrink=False, seed=seed)  # keep it quick

    monkeypatch.setattr(mutation, "run_mutant", unshrunk)
    status = main(["mutants", "--profile", "ci", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [o["name"] for o in out] == ["hint-never-delivered", "merkle-root-ignores-child"]
    for entry in out:
        assert set(entry) == {"name", "preset", "caught", "guarantee", "seconds_to_failure",
                              "counterexample_steps"}
        assert entry["caught"] is True
        assert isinstance(entry["seconds_to_failure"], float)
        assert isinstance(entry["counterexample_steps"], int)
    assert {o["guarantee"] for o in out} == {"hinted-handoff-delivers",
                                             "merkle-root-iff-equal"}


def test_mutants_command_prints_a_table_and_exits_1_when_one_escapes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _subset(monkeypatch, "hint-never-delivered")

    def escaped(m: Mutant, profile: str = "ci", max_examples: int | None = None, *,
                shrink: bool = True, seed: int = 0) -> MutantResult:
        return MutantResult(m.name, m.preset, False, None, None, None)

    monkeypatch.setattr(mutation, "run_mutant", escaped)
    status = main(["mutants"])
    out = capsys.readouterr().out
    assert status == 1
    assert "hint-never-delivered" in out and "dynamo-quorum" in out and "caught" in out


def test_mutants_command_refuses_an_unknown_profile(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", "--profile", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def _failing_machine(counterexample: Counterexample | None) -> type[RuleBasedStateMachine]:
    class Failing(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.rules_run = 0

        @rule()
        def step(self) -> None:
            self.rules_run += 1

        def teardown(self) -> None:
            if self.rules_run >= 2:
                raise GuaranteeViolation("hand-written", ("stream-exactly-once",),
                                         counterexample)

    return Failing


def test_the_step_count_is_the_shrunk_schedules_when_a_counterexample_is_attached(
        monkeypatch: pytest.MonkeyPatch) -> None:
    retry = submit_step("c0", TransactWrite((Put("items", {"pk": "a", "v": 1}),),
                                            token="tok-1"))
    steps: list[dict[str, Any]] = [
        retry, {"run": {}}, {"skew": ["n1", 0.5]}, retry, {"run": {}},
        submit_step("c1", Put("items", {"pk": "b", "v": 2})), {"run": {}}]
    schedule = Schedule("mutant:stream-duplicate-on-retry", 0,
                        (*steps, {"heal": {}}, {"run": {}}, {"observe": "stream"}))
    attached = Counterexample("concurrent-histories-under-faults", "stream-exactly-once",
                              "hand-written", decisions=len(steps),
                              schedule=schedule.to_json())
    entry = catalog.mutant("stream-duplicate-on-retry")
    monkeypatch.setattr(mutation, "_machines", lambda m, f, seed=0: [
        ("hand-written", _failing_machine(attached))])
    result = run_mutant(entry, profile="ci", max_examples=5)
    assert result.caught and result.guarantee == "stream-exactly-once"
    assert result.step_unit == "decisions"
    assert result.counterexample is not None and result.counterexample.schedule is not None
    assert result.counterexample_steps == result.counterexample.decisions
    assert result.counterexample_steps is not None and result.counterexample_steps < len(steps)
    assert set(result.to_json()) == {"name", "preset", "caught", "guarantee",
                                     "seconds_to_failure", "counterexample_steps"}

    monkeypatch.setattr(mutation, "_machines", lambda m, f, seed=0: [
        ("hand-written", _failing_machine(None))])
    result = run_mutant(entry, profile="ci", max_examples=5)
    assert result.caught and result.step_unit == "rules"
    assert result.counterexample_steps == 2  # Hypothesis' shrunk run: two rules
    unshrunk = run_mutant(entry, profile="ci", max_examples=5, shrink=False)
    assert unshrunk.step_unit == "rules" and unshrunk.counterexample is None


def test_a_counterexample_is_found_inside_exception_groups_and_causes() -> None:
    cx = Counterexample("p", "convergence", "x")
    violation = GuaranteeViolation("v", ("convergence",), cx)
    assert mutation.counterexample_of(violation) is cx
    assert mutation.counterexample_of(ExceptionGroup("g", [ValueError(), violation])) is cx
    try:
        try:
            raise violation
        except GuaranteeViolation as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert mutation.counterexample_of(outer) is cx
    assert mutation.counterexample_of(ValueError("plain")) is None
