"""Every schedule file ``verify`` writes replays, on every preset and every mutant, and
reproduces what it was written for (CONTRACTS.md section 6).

Each target is verified by the engine with a small example budget (Hypothesis' own
shrinking off, the schedule shrinker off: its candidates are replays already), the
report directory written as ``replicheck verify --out`` writes it, and every schedule
file found there and among the failing examples' files (what the pytest plugin
prints) is replayed:

- the file names the guarantee it was written for;
- a claimed guarantee (a violation) is violated again, and the replay exits 1;
- an unclaimed one (an observation) is observed again, and shown;
- a file written for a counterexample replays its very history: the same operations
  (process, function, input, output, status), and every observation it recorded, in
  order (the file may add the observations its claims need), so the replay's
  exit status is the one the recorded example earned.

Every mutant is also run as the catalog's test runs it (``ci``, its full example
budget, no shrinking), and each schedule its failing examples wrote (what the pytest
plugin prints) and its counterexample's is replayed: the guarantee that caught the
mutant is violated again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from replicheck.histories.history import History
from replicheck.implementation.mutants import MUTANTS, Mutant
from replicheck.implementation.presets import PRESETS
from replicheck.properties import engine
from replicheck.properties.guarantees import OBSERVED, VIOLATED
from replicheck.properties.mutation import run_mutant
from replicheck.properties.outcomes import Counterexample, SuiteOutcome
from replicheck.properties.profiles import settings_for
from replicheck.properties.replay import ReplayResult, replay
from replicheck.properties.schedule import counterexample_schedule, dump, load
from replicheck.properties.verdicts import FAILURE_DIR_ENV
from replicheck.reports.cli import _write_reports
from replicheck.reports.naming import replay_file_name

EXAMPLES = 5
"""Examples per property: enough for every preset to write files, few enough for CI."""

TARGETS = (*PRESETS, *(f"mutant:{m.name}" for m in MUTANTS))


def _small(profile: str, max_examples: int | None, examples: int = EXAMPLES) -> settings:
    return settings(settings_for("ci"), max_examples=examples,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate))


def _verified(target: str, out: Path, monkeypatch: pytest.MonkeyPatch,
              examples: int = EXAMPLES
              ) -> tuple[list[tuple[Path, Counterexample | None]], frozenset[str]]:
    """Verify ``target`` with the small budget, write its reports under ``out``; every
    schedule file written, with the counterexample it was written for (None: a
    failing example's file), and the store's claims."""
    monkeypatch.setattr(engine, "_settings_for",
                        lambda profile, most: _small(profile, most, examples))
    failures = out / "failures"
    outcome = engine.verify_store(target, profile="ci", failure_dir=failures, minimize=False)
    written = set(_write_reports(SuiteOutcome("ci", (outcome,)), out))
    files: list[tuple[Path, Counterexample | None]] = []
    for example in (*outcome.violations, *outcome.observations):
        path = out / replay_file_name(target, example.property, example.guarantee)
        if example.schedule is not None and path in written and \
                path not in [p for p, _ in files]:
            files.append((path, example))
    assert {p for p, _ in files} == {p for p in written if p.suffix == ".json"
                                     and p.parent.name == "replay"}
    files += [(path, None) for path in sorted(failures.glob("*.json"))]
    return files, frozenset(outcome.claims)


def _run(history: History) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    operations = [(op.process, op.f, op.input, op.output, op.status)
                  for op in history.operations]
    observations = [(r.f, r.value) for r in history.observations]
    return operations, observations


def _problems(path: Path, example: Counterexample | None, claims: frozenset[str]
              ) -> list[str]:
    """What is wrong with replaying ``path`` (nothing: an empty list)."""
    schedule = load(path)
    if schedule.guarantee is None:
        return [f"{path.name}: names no guarantee"]
    try:
        result: ReplayResult = replay(schedule)
    except Exception as error:  # the failure this test exists to catch
        return [f"{path.name}: does not replay: {type(error).__name__}: {error}"]
    recorded = result.recorded
    status = None if recorded is None else recorded.status
    problems = []
    if schedule.guarantee in claims:
        if status != VIOLATED or result.exit_status != 1:
            problems.append(f"{path.name}: {schedule.guarantee} {status}, exit "
                            f"{result.exit_status}; expected violated, exit 1")
    elif status != OBSERVED or recorded is None or recorded.claimed:
        problems.append(f"{path.name}: {schedule.guarantee} {status}; expected observed")
    if example is not None and example.history is not None:
        (ops, seen), (again, seen_again) = _run(example.history), _run(result.history)
        if ops != again:
            problems.append(f"{path.name}: the replayed operations differ from the "
                            "recorded ones")
        if not _in_order(seen, seen_again):
            problems.append(f"{path.name}: an observation the example recorded is "
                            "missing from the replay")
    return problems


def _in_order(wanted: list[Any], among: list[Any]) -> bool:
    """``wanted`` is a subsequence of ``among`` (the file may end with observations
    for the claims that the machine's teardown did not take)."""
    rest = iter(among)
    return all(any(x == y for y in rest) for x in wanted)


@pytest.mark.parametrize("target", TARGETS)
def test_every_file_verify_writes_replays_what_it_was_written_for(
        target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, claims = _verified(target, tmp_path, monkeypatch)
    problems = [p for path, example in files for p in _problems(path, example, claims)]
    assert not problems, "\n".join(problems)


def test_global_tables_writes_replay_files_that_replay(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The files the report of global-tables pointed at, which replay refused (the ci
    search first shows global-tables' observations within 8 examples)."""
    files, _ = _verified("global-tables", tmp_path, monkeypatch, examples=8)
    assert [path for path, example in files if example is not None]


@pytest.mark.parametrize("entry", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_schedule_a_caught_mutant_writes_replays_its_violation(
        entry: Mutant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAILURE_DIR_ENV, str(tmp_path))
    result = run_mutant(entry, profile="ci", max_examples=100, shrink=False)
    assert result.caught, result.message
    files: list[tuple[Path, Counterexample | None]] = [
        (path, None) for path in sorted(tmp_path.glob("*.json"))]
    schedule = None if result.counterexample is None else counterexample_schedule(
        result.counterexample)
    if schedule is not None:
        files.append((dump(schedule, tmp_path / "counterexample.json"),
                      result.counterexample))
    claims = frozenset(str(c.guarantee) for c in entry.build(0).descriptor.claims)
    problems = [p for path, example in files for p in _problems(path, example, claims)]
    assert not problems, "\n".join(problems)
    # a machine that records a schedule writes its file as it fails (none otherwise),
    # naming the guarantee its counterexample shows
    assert (schedule is None) == (not files)
    assert result.counterexample is not None
    assert {load(path).guarantee for path, _ in files} <= {result.counterexample.guarantee}
