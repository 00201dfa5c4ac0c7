"""`replicheck check` as a user runs it: exit statuses, text, JSON (CONTRACTS.md 6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from replicheck.reports.cli import main

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("REPLICHECK_CORPUS", ROOT.parent / "shared" / "corpus"))
ETCD = CORPUS / "porcupine" / "jepsen"
needs_corpus = pytest.mark.skipif(not ETCD.is_dir(), reason="the shared corpus is absent "
                                  "(../shared/corpus or $REPLICHECK_CORPUS)")

CAS_HISTORY = "\n".join(json.dumps(r) for r in [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 1, "type": "invoke", "f": "cas", "value": [1, 2]},
    {"process": 1, "type": "ok", "f": "cas", "value": [1, 2]},
    {"process": 0, "type": "invoke", "f": "read", "value": None},
    {"process": 0, "type": "ok", "f": "read", "value": 1},
]) + "\n"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@needs_corpus
def test_invalid_corpus_history_exits_1_and_explains(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ETCD / "etcd_000.log")]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "not-linearizable" in out
    assert "ruled out: linearizable" in out


@needs_corpus
def test_valid_corpus_history_exits_0_with_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ETCD / "etcd_002.log"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["model"] == "cas-register"
    assert report["consistency"] == ["linearizable"]
    assert isinstance(report["witness"], list) and report["witness"]
    for key in ("schema", "anomalies", "ruled_out", "still_possible", "counterexample",
                "stats"):
        assert key in report
    assert report["stats"]["operations"] > 0


def test_a_stale_read_is_a_violation_in_json(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The read of 1 comes after the cas set 2: no order explains it."""
    stale = write(tmp_path, "stale.jsonl", CAS_HISTORY)
    assert main(["check", stale, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert [a["type"] for a in report["anomalies"]] == ["not-linearizable"]
    assert report["witness"] is None
    assert report["stats"]["operations"] == 3


def test_empty_history_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", write(tmp_path, "empty.jsonl", "")]) == 0
    assert "0 operations" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "text", "message"),
    [
        ([], '{"process": 0, "type": "ok", "f": "read", "value": 1}\n',
         "completes 'read' (ok) without an invocation"),
        (["--model", "queue"], CAS_HISTORY, "unknown model 'queue'"),
        ([], '{"process": 0, "type": "invoke", "f": "enqueue", "value": 1}\n',
         "cannot infer the model from the functions ['enqueue']"),
        (["--model", "kv"], CAS_HISTORY, "write"),
        (["--consistency", "serializable"], CAS_HISTORY, "linearizable only"),
        (["--format", "jsonl"], '{"process": 0}\n{not json\n', "h.txt:1"),
        ([], "{not json\n", "cannot tell the history's format"),
    ],
)
def test_bad_input_exits_2_with_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            args: list[str], text: str, message: str) -> None:
    assert main(["check", write(tmp_path, "h.txt", text), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "/nonexistent/history.jsonl"]) == 2
    assert "no such history file" in capsys.readouterr().err


def test_lenient_skips_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = '{"process": 3, "type": "ok", "f": "read", "value": 1}\n' + CAS_HISTORY
    assert main(["check", write(tmp_path, "h.jsonl", text), "--lenient"]) == 1
    assert "skipped:" in capsys.readouterr().out


def test_installed_command_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "replicheck.reports.cli", "check", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0
    for flag in ("--format", "--model", "--consistency", "--timeout", "--lenient", "--json"):
        assert flag in result.stdout


def test_unknown_function_names_file_and_line_and_lenient_skips_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = CAS_HISTORY + '{"process": 5, "type": "invoke", "f": "frob", "value": 1}\n'
    path = write(tmp_path, "h.jsonl", text)
    assert main(["check", path, "--model", "cas-register"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: unknown function 'frob'" in err and "line 7" in err
    assert main(["check", path, "--model", "cas-register", "--lenient"]) == 1
    out = capsys.readouterr().out
    assert f"skipped: {path}:7: unknown function 'frob' for model 'cas-register'" in out


@needs_corpus
def test_a_reader_that_goes_away_keeps_the_exit_status() -> None:
    """`replicheck check ... | head -1`: no traceback, and the status is the verdict's."""
    result = subprocess.run(
        f"{sys.executable} -m replicheck.reports.cli check "
        f"{CORPUS / 'porcupine' / 'kv' / 'c10-bad.txt'} | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout.count("\n") == 1
