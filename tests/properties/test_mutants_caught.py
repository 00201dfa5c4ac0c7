"""The suite's machines catch every mutant of the reference store under the ``ci``
profile, by a violation of the guarantee the catalog says the bug breaks, and
``replicheck mutants`` reports it; an exception that is not a violation is an error,
never a catch."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis.stateful import RuleBasedStateMachine, rule

from replicheck.implementation.mutants import MUTANTS, Mutant, catalog
from replicheck.implementation.presets import preset
from replicheck.models.items.requests import Put, TransactWrite
from replicheck.properties import mutation
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.mutation import MutantResult, run_mutant
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.schedule import Schedule, submit_step
from replicheck.properties.verdicts import FAILURE_DIR_ENV
from replicheck.reports.cli import main


@pytest.fixture(autouse=True)
def _failure_files_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schedules of failing examples go to a temporary folder, and so does
    ``replicheck mutants``' default ``--out`` (in the current folder)."""
    monkeypatch.setenv(FAILURE_DIR_ENV, str(tmp_path))
    monkeypatch.chdir(tmp_path)


MAX_EXAMPLES = 100
"""The examples per machine a mutant may take here (the ci profile's own budget)."""


@pytest.mark.parametrize("entry", MUTANTS, ids=lambda m: m.name)
def test_the_suite_catches_the_mutant_by_the_guarantee_its_bug_breaks(entry: Mutant) -> None:
    # the search goes on past the bug's other symptoms: does it find the one it names?
    result = run_mutant(entry, profile="ci", max_examples=MAX_EXAMPLES, shrink=False,
                        focus=(entry.guarantee, *entry.also))
    assert result.caught, f"{entry.name} escaped the suite under the ci profile: " + (
        result.error or "")
    assert result.error is None
    claims = {c.guarantee for c in preset(entry.preset, 0).descriptor.claims}
    assert set(result.violated) <= claims and result.guarantee == result.violated[0]
    assert {entry.guarantee, *entry.also} & set(result.violated), (
        f"{entry.name}: the catalog says it breaks {entry.guarantee} (and "
        f"{', '.join(entry.also) or 'nothing else'}); the failing example "
        f"violates {', '.join(result.violated)}\n{result.message}")
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
                 shrink: bool = True, seed: int = 0, out: Any = None) -> MutantResult:
        return real(m, profile, max_examples, shrink=False, seed=seed, out=out)  # quick

    monkeypatch.setattr(mutation, "run_mutant", unshrunk)
    status = main(["mutants", "--profile", "ci", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [o["name"] for o in out] == ["hint-never-delivered", "merkle-root-ignores-child"]
    for entry in out:
        assert set(entry) == {"name", "preset", "caught", "guarantee", "seconds_to_failure",
                              "counterexample_steps", "error"}
        assert entry["caught"] is True and entry["error"] is None
        assert isinstance(entry["seconds_to_failure"], float)
        assert isinstance(entry["counterexample_steps"], int)
    assert {o["guarantee"] for o in out} == {"hinted-handoff-delivers",
                                             "merkle-root-iff-equal"}


def test_mutants_command_prints_a_table_and_exits_1_when_one_escapes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _subset(monkeypatch, "hint-never-delivered")

    def escaped(m: Mutant, profile: str = "ci", max_examples: int | None = None, *,
                shrink: bool = True, seed: int = 0, out: Any = None) -> MutantResult:
        return MutantResult(m.name, m.preset, False, None, None, None)

    monkeypatch.setattr(mutation, "run_mutant", escaped)
    status = main(["mutants"])
    out = capsys.readouterr().out
    assert status == 1
    assert "hint-never-delivered" in out and "dynamo-quorum" in out and "ESCAPED" in out
    assert "0 of 1 mutants caught; escaped: hint-never-delivered" in out


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
                                     "seconds_to_failure", "counterexample_steps", "error"}

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


def _raising_mutant() -> Mutant:
    """dynamodb whose adapter raises KeyError from its third submission on: a crash of
    the store, not a violation of anything it claims."""

    def build(seed: int) -> Any:
        store = preset("dynamodb", seed)
        submit = store.submit
        calls = [0]

        def broken(client: str, request: Any) -> Any:
            calls[0] += 1
            if calls[0] >= 3:
                raise KeyError("pk")
            return submit(client, request)

        store.submit = broken
        return store

    return Mutant("adapter-raises-key-error", "dynamodb", "The adapter raises KeyError.",
                  "linearizable-strong-reads", build)


def test_an_exception_of_the_store_is_an_error_never_a_catch() -> None:
    result = run_mutant(_raising_mutant(), profile="ci", max_examples=20, shrink=False)
    assert not result.caught and result.verdict == "error"
    assert result.guarantee is None and result.violated == ()
    assert result.error is not None and "\n" not in result.error
    assert result.error.startswith("KeyError: 'pk' (raised in test_mutants_caught.py:")
    assert result.to_json()["caught"] is False
    assert result.to_json()["error"] == result.error
    assert mutation.progress_line(result).startswith("  ERROR    adapter-raises-key-error: ")


def test_a_violation_only_behind_another_exception_is_not_a_catch() -> None:
    violation = GuaranteeViolation("v", ("convergence",))
    assert mutation.violation_of(violation) is violation
    assert mutation.violation_of(ExceptionGroup("g", [ValueError(), violation])) is violation
    try:
        try:
            raise violation
        except GuaranteeViolation as inner:
            raise RuntimeError("closing the store failed") from inner
    except RuntimeError as outer:
        assert mutation.violation_of(outer) is None
        assert mutation.error_line(outer).startswith("RuntimeError: closing the store failed")


def test_mutants_command_reports_an_erroring_mutant_and_exits_1(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    monkeypatch.setattr(catalog, "MUTANTS", (_raising_mutant(),))
    real = mutation.run_mutant

    def quick(m: Mutant, profile: str = "ci", max_examples: int | None = None, *,
              shrink: bool = True, seed: int = 0, out: Any = None) -> MutantResult:
        return real(m, profile, 20, shrink=False, seed=seed, out=out)

    monkeypatch.setattr(mutation, "run_mutant", quick)
    status = main(["mutants", "--json", "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status == 1
    (entry,) = json.loads(captured.out)
    assert entry["caught"] is False and entry["guarantee"] is None
    assert entry["error"].startswith("KeyError: 'pk'")
    # one progress line per mutant on stderr, --json or not
    assert captured.err.splitlines() == [f"  ERROR    adapter-raises-key-error: "
                                         f"{entry['error']}"]
    status = main(["mutants", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert status == 1
    assert "ERROR" in out and "0 of 1 mutants caught; errors: adapter-raises-key-error" in out


@pytest.mark.parametrize("out", [None, "elsewhere/failures"])
def test_mutants_command_writes_its_failure_files_under_out_only(
        out: str | None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.delenv(FAILURE_DIR_ENV)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    _subset(monkeypatch, "strong-read-any-replica")
    status = main(["mutants", *(["--out", out] if out else ["--json"])])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    folder = work / (out or "replicheck-mutants")
    if out:  # the table, then each shrunk counterexample's replay command
        (replay,) = [line for line in captured.out.splitlines() if "replicheck replay" in line]
        path = Path(replay.split("replicheck replay ", 1)[1])
        assert path.parent == Path(out) and (work / path).is_file()
        assert main(["replay", str(path)]) == 1
        capsys.readouterr()
    assert [p.name for p in work.iterdir()] == [(out or "replicheck-mutants").split("/")[0]]
    written = sorted(p.name for p in folder.iterdir())
    assert any(n.endswith("-minimal.json") for n in written), written
    assert all(n.startswith("replicheck-failure-mutant-strong-read-any-replica-")
               for n in written), written
    (line,) = captured.err.splitlines()
    assert line.startswith("  caught   strong-read-any-replica: linearizable-strong-reads in ")
    assert os.environ.get(FAILURE_DIR_ENV) is None  # restored after the run


def test_mutants_command_refuses_an_out_that_is_a_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    assert main(["mutants", "--out", str(taken)]) == 2
    assert f"--out {taken}: exists and is not a folder" in capsys.readouterr().err


def test_a_broken_store_contract_is_an_error_in_its_own_line() -> None:
    from replicheck.properties.recording import CallTimedOut

    breach = CallTimedOut("execute(Get items k0) did not return within 30 s")
    assert mutation.violation_of(BaseExceptionGroup("g", [breach])) is None
    assert mutation.error_line(BaseExceptionGroup("g", [breach])) == breach.line
