"""What pytest shows when one of replicheck's properties fails: the guarantee, the
checker's explanation, the steps, the replay command and the history as JSON lines,
each once, with no traceback and no exception group."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from replicheck.reports.cli import main


def test_a_failing_property_shows_a_plain_report_and_writes_a_checkable_history(
        tmp_path: Path, capsys: object) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["REPLICHECK_FAILURE_DIR"] = str(tmp_path / "failures")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs",
         "replicheck.properties", "--store", "mutant:strong-read-any-replica",
         "--replicheck-profile", "ci", "-q", "-k", "concurrent_histories_under_faults"],
        capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    lines = out.splitlines()
    assert not [line for line in lines if re.match(r"\s*[|+]", line)], out  # no group
    assert "Traceback" not in out and "GuaranteeViolation" not in out
    assert out.count("claimed guarantee linearizable-strong-reads violated") == 1, out
    assert out.count("linearizable-strong-reads: violated (") == 1, out  # the explanation
    assert "\nsteps (" in out and "\n  1. " in out
    (replay,) = re.findall(r"^replay: replicheck replay (\S+)$", out, re.MULTILINE)
    (history,) = re.findall(r"^history \(JSON lines\): (\S+)$", out, re.MULTILINE)
    assert Path(replay).parent == Path(history).parent == tmp_path / "failures"
    assert history.endswith(".history.jsonl") and Path(history).is_file()
    assert not list(tmp_path.glob("replicheck-failure-*"))  # nothing in the current folder
    assert main(["check", history]) == 1  # read as is; the violation found again
    assert "not-linearizable" in capsys.readouterr().out  # type: ignore[attr-defined]
    assert main(["replay", replay]) == 1


def test_an_unknown_mutant_target_is_one_usage_error_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs",
         "replicheck.properties", "--store", "mutant:no-such-mutant", "-q"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 4  # pytest's usage error
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert "no-such-mutant" in line and "stale-condition-check" in line  # the mutants
