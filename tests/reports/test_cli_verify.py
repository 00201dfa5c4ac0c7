"""``replicheck verify``: exit statuses, the report files, --json, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replicheck.reports.cli import main

FAILING_STORE = '''
from dataclasses import replace

from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.requests import Get, Response


class ForgetfulStore(MemoryStore):
    """Answers every strongly consistent read with no item: a broken store."""

    def execute(self, request):
        if isinstance(request, Get) and request.consistent:
            super().execute(request)
            return Response()
        return super().execute(request)


def store():
    return ForgetfulStore()
'''


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_verify_a_preset_holds_and_writes_the_reports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # three examples judge every claim of dynamodb (with two, no session read is judged
    # yet: those claims are honestly unchecked, exit 3)
    monkeypatch.setenv("REPLICHECK_MAX_EXAMPLES", "3")
    out = tmp_path / "report"
    status, stdout, err = _run(["verify", "--store", "dynamodb", "--profile", "ci",
                                "--out", str(out)], capsys)
    assert status == 0, stdout + err
    assert "dynamodb" in stdout
    assert "concurrent-histories-under-faults" in err  # one progress line per property
    for name in ("report.md", "report.html", "report.json"):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["profile"] == "ci"
    assert "dynamodb" in (out / "report.md").read_text(encoding="utf-8")


def test_verify_json_prints_the_report_and_quiet_draws_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REPLICHECK_MAX_EXAMPLES", "1")
    status, stdout, err = _run(["verify", "--store", "dynamo-lww", "--profile", "ci",
                                "--out", str(tmp_path), "--quiet", "--json"], capsys)
    assert err == ""
    printed = json.loads(stdout)
    assert status == printed["exit_status"]  # one example leaves claims unchecked: 3
    assert printed == json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))


def test_verify_a_broken_store_exits_1_and_writes_its_counterexample(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from replicheck.properties import engine
    from replicheck.properties.suite import property_named

    # the model-conformance property alone: the threaded one would catch it too, slowly
    monkeypatch.setattr(engine, "PROPERTIES", (property_named("sequential-model-conformance"),))
    (tmp_path / "forgetful_store.py").write_text(FAILING_STORE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("REPLICHECK_MAX_EXAMPLES", "20")
    out = tmp_path / "report"
    status, stdout, err = _run(["verify", "--store", "forgetful_store:store", "--profile",
                                "ci", "--out", str(out), "--quiet"], capsys)
    assert status == 1, stdout + err
    assert "VIOLATED" in stdout
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "forgetful_store:store" in report


def test_verify_usage_errors_exit_2_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["verify", "--store", "no-such-store", "--out", str(tmp_path)],
                 ["verify", "--store", "mutant:no-such-mutant", "--out", str(tmp_path)],
                 ["verify", "--profile", "no-such-profile", "--out", str(tmp_path)]):
        status, stdout, err = _run(args, capsys)
        assert status == 2, args
        assert stdout == ""
        assert len(err.strip().splitlines()) == 1 and err.startswith("replicheck: error:")
