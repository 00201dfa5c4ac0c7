"""A defect of replicheck is never read as a verdict (CONTRACTS.md section 6): in every
command, an exception that is not bad input exits 4 with one line on stderr naming the
input and a new file holding the traceback; never exit 1, never a bare traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from replicheck.reports.cli import EXIT_CRASH, build_parser, main

HISTORY = "\n".join(json.dumps(r) for r in [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 1, "type": "invoke", "f": "read", "value": None},
    {"process": 1, "type": "ok", "f": "read", "value": 1},
]) + "\n"


def _raise(error: BaseException) -> Callable[..., Any]:
    def defect(*_args: Any, **_kwargs: Any) -> Any:
        raise error
    return defect


@pytest.fixture
def crash_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory crash files go to, empty at first."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _history(tmp_path: Path) -> str:
    path = tmp_path / "h.jsonl"
    path.write_text(HISTORY)
    return str(path)


def _assert_crash_reported(err: str, crash_dir: Path, subject: str, marker: str) -> None:
    """One line on stderr naming ``subject`` and a new crash file in ``crash_dir``
    holding the whole traceback (with ``marker``, the injected defect's message)."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "internal error" in lines[0] and subject in lines[0]
    files = list(crash_dir.glob("replicheck-crash-*.txt"))
    assert len(files) == 1
    assert str(files[0]) in lines[0]
    saved = files[0].read_text()
    assert "Traceback (most recent call last)" in saved and marker in saved


def test_check_a_checker_defect_exits_4(tmp_path: Path, crash_dir: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import replicheck.histories.judge as judge

    monkeypatch.setattr(judge, "check", _raise(RuntimeError("injected defect in check")))
    path = _history(tmp_path)
    assert main(["check", path]) == EXIT_CRASH
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_crash_reported(captured.err, crash_dir, path, "injected defect in check")


@pytest.mark.parametrize("error", [ValueError("max() arg is an empty sequence"),
                                   KeyError("k"), RecursionError("too deep"),
                                   TypeError("unhashable type: 'list'")])
def test_check_a_checker_error_that_looks_like_bad_input_is_still_a_defect(
        tmp_path: Path, crash_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], error: Exception) -> None:
    """A ValueError from deep inside a checker is not the user's bad input (exit 2)."""
    import replicheck.histories.checkers.linearizable as linearizable

    monkeypatch.setattr(linearizable, "check_linearizable", _raise(error))
    path = _history(tmp_path)
    assert main(["check", path]) == EXIT_CRASH
    _assert_crash_reported(capsys.readouterr().err, crash_dir, path, type(error).__name__)


def test_check_a_reader_defect_exits_4(tmp_path: Path, crash_dir: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import replicheck.histories.formats as formats

    monkeypatch.setattr(formats, "load", _raise(IndexError("injected defect in a reader")))
    path = _history(tmp_path)
    assert main(["check", path]) == EXIT_CRASH
    _assert_crash_reported(capsys.readouterr().err, crash_dir, path, "injected defect")


def test_check_a_renderer_defect_exits_4(tmp_path: Path, crash_dir: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import replicheck.reports.text as text

    monkeypatch.setattr(text, "render_verdict", _raise(AttributeError("injected in text")))
    path = _history(tmp_path)
    assert main(["check", path]) == EXIT_CRASH
    _assert_crash_reported(capsys.readouterr().err, crash_dir, path, "injected in text")


def test_bad_input_is_still_exit_2_without_a_crash_file(
        tmp_path: Path, crash_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"process": 0, "type": "ok", "f": "read", "value": 1}\n')
    assert main(["check", str(path)]) == 2
    assert "internal error" not in capsys.readouterr().err
    assert not list(crash_dir.iterdir())


def test_replay_defect_exits_4(tmp_path: Path, crash_dir: Path,
                                monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    import replicheck.properties.schedule as schedule

    monkeypatch.setattr(schedule, "load", _raise(RuntimeError("injected defect in replay")))
    path = str(tmp_path / "schedule.json")
    assert main(["replay", path]) == EXIT_CRASH
    _assert_crash_reported(capsys.readouterr().err, crash_dir, path, "injected defect")


def test_verify_defect_exits_4(tmp_path: Path, crash_dir: Path,
                                monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    import replicheck.properties.engine as engine

    monkeypatch.setattr(engine, "verify", _raise(RuntimeError("injected defect in verify")))
    assert main(["verify", "--store", "dynamodb", "--quiet",
                 "--out", str(tmp_path / "report")]) == EXIT_CRASH
    _assert_crash_reported(capsys.readouterr().err, crash_dir, "dynamodb",
                           "injected defect")


def test_mutants_defect_exits_4(crash_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    import replicheck.properties.mutation as mutation

    monkeypatch.setattr(mutation, "run_mutant",
                        _raise(RuntimeError("injected defect in mutants")))
    assert main(["mutants", "--quiet"]) == EXIT_CRASH
    _assert_crash_reported(capsys.readouterr().err, crash_dir, "mutants", "injected defect")


def test_prove_defect_exits_4(crash_dir: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    import replicheck.models.proofs.catalog as catalog

    monkeypatch.setattr(catalog, "run_all", _raise(RuntimeError("injected defect in prove")))
    assert main(["prove", "--quiet"]) == EXIT_CRASH
    _assert_crash_reported(capsys.readouterr().err, crash_dir, "proving",
                           "injected defect")


def test_a_crash_file_that_cannot_be_written_is_said_in_the_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import replicheck.histories.judge as judge

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "absent"))
    monkeypatch.setattr(judge, "check", _raise(RuntimeError("injected")))
    assert main(["check", _history(tmp_path)]) == EXIT_CRASH
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "the traceback could not be saved" in err and "Traceback" not in err


def test_the_real_entry_point_exits_4_without_a_traceback(tmp_path: Path) -> None:
    """Through the interpreter, as a script sees it: status 4, one line, no traceback."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    program = (
        "import sys, replicheck.histories.judge as judge\n"
        "def defect(*a, **k): raise RuntimeError('injected defect')\n"
        "judge.check = defect\n"
        "from replicheck.reports.cli import main\n"
        "sys.exit(main())\n"
    )
    path = _history(tmp_path)
    result = subprocess.run([sys.executable, "-c", program, "check", path],
                            capture_output=True, text=True, env={"TMPDIR": str(folder),
                                                                 "PATH": "/usr/bin:/bin"})
    assert result.returncode == EXIT_CRASH
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert path in result.stderr
    assert len(list(folder.glob("replicheck-crash-*.txt"))) == 1


@pytest.mark.parametrize("command", [[], ["check"], ["replay"], ["verify"], ["mutants"],
                                     ["prove"]])
def test_help_names_exit_status_4(command: list[str]) -> None:
    parser = build_parser()
    if command:
        sub = next(a for a in parser._actions if a.dest == "command")
        parser = sub.choices[command[0]]  # type: ignore[attr-defined]
    text = " ".join(parser.format_help().split())
    assert "4 internal error" in text
    assert "3 unknown (the time or memory limit" in text


def test_an_unreadable_history_is_bad_input_not_a_defect(
        tmp_path: Path, crash_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import builtins

    path = _history(tmp_path)
    real_open = builtins.open

    def denied(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file) == path:
            raise PermissionError(13, "Permission denied", path)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    assert main(["check", path]) == 2
    assert f"cannot read {path}: Permission denied" in capsys.readouterr().err
    assert not list(crash_dir.iterdir())
