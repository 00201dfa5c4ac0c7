"""The plugin end to end: ``pytest --pyargs replicheck.properties --store ...`` in a
subprocess, with a tiny profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from replicheck.implementation.presets import PRESETS
from replicheck.models.guarantees import GUARANTEES, marker_name


def _run(*args: str, examples: str = "3") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env.update(REPLICHECK_PROFILE="quick", REPLICHECK_MAX_EXAMPLES=examples)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs",
         "replicheck.properties", *args],
        capture_output=True, text=True, env=env, timeout=300, cwd=Path(__file__).parent)


def test_dynamodb_passes() -> None:
    done = _run("--store", "dynamodb", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    from replicheck.implementation.presets import preset
    from replicheck.properties.suite import PROPERTIES

    descriptor = preset("dynamodb").descriptor
    applying = [p for p in PROPERTIES if p.skip_reason(descriptor) is None]
    # the contract test, then one test per property of the suite that applies
    assert f"{1 + len(applying)} passed" in done.stdout


def test_leaderless_preset_skips_scheduling_free_tests_with_reason() -> None:
    done = _run("--store", "dynamo-lww", "-rs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "claims no linearizable operations" in done.stdout


def test_unknown_store_is_a_one_line_usage_error() -> None:
    done = _run("--store", "nope")
    assert done.returncode == 4
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "'nope'" in lines[0]
    assert all(p in lines[0] for p in PRESETS)
    assert "Traceback" not in done.stderr


def test_bad_factory_target_names_what_was_looked_up() -> None:
    done = _run("--store", "replicheck.no_such_module:factory")
    assert done.returncode == 4
    assert "cannot import 'replicheck.no_such_module'" in done.stdout + done.stderr


def test_guarantee_markers_are_registered() -> None:
    done = _run("--markers")
    assert done.returncode == 0
    for guarantee in GUARANTEES:
        assert f"@pytest.mark.{marker_name(guarantee)}:" in done.stdout


def test_markers_select_tests() -> None:
    done = _run("--store", "dynamodb", "-q", "-m", "read_your_writes", "--co")
    assert done.returncode == 0, done.stdout
    assert "test_concurrent_histories_under_faults" in done.stdout
    assert "test_sequential_model_conformance" not in done.stdout


@pytest.mark.parametrize("value", ["0", "x"])
def test_bad_example_cap_is_a_usage_error(value: str) -> None:
    done = _run("--store", "dynamodb", "-q", examples=value)
    assert done.returncode != 0
    assert "REPLICHECK_MAX_EXAMPLES" in done.stdout + done.stderr
