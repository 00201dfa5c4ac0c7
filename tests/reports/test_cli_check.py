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
    assert [a["type"] for a in report["anomalies"]] == ["not-linearizable", "stale-read"]
    stale_read = report["anomalies"][1]  # named: the write, the cas that superseded it, the read
    assert stale_read["ops"] == [0, 1, 2] and stale_read["data"]["read"] == 2
    assert stale_read["data"]["write"] == 1 and stale_read["data"]["returned"] == 0
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


# -- several histories (CONTRACTS.md section 6) ----------------------------------------

VALID_HISTORY = "\n".join(json.dumps(r) for r in [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 1, "type": "invoke", "f": "read", "value": None},
    {"process": 1, "type": "ok", "f": "read", "value": 1},
]) + "\n"


def test_several_histories_one_json_object_per_line_with_its_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    valid = write(tmp_path, "valid.jsonl", VALID_HISTORY)
    stale = write(tmp_path, "stale.jsonl", CAS_HISTORY)
    assert main(["check", valid, stale, "--json"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert [json.loads(line)["file"] for line in lines] == [valid, stale]
    assert [json.loads(line)["valid"] for line in lines] == [True, False]
    assert "2 histories: 1 valid, 1 invalid" in captured.err


@pytest.mark.parametrize(("texts", "status"), [
    ([VALID_HISTORY, VALID_HISTORY], 0),
    ([VALID_HISTORY, CAS_HISTORY], 1),
    ([CAS_HISTORY, '{"process": 0, "type": "ok", "f": "read", "value": 1}\n'], 2),
])
def test_several_histories_combine_their_statuses(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], texts: list[str],
        status: int) -> None:
    paths = [write(tmp_path, f"h{i}.jsonl", text) for i, text in enumerate(texts)]
    assert main(["check", *paths]) == status
    out = capsys.readouterr().out
    assert all(f"{path}: " in out for path, text in zip(paths, texts, strict=True)
               if not text.startswith('{"process": 0, "type": "ok"'))
    assert f"{len(paths)} histories:" in out


def test_several_histories_a_crash_on_one_still_checks_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import tempfile

    import replicheck.histories.judge as judge

    real = judge.check
    calls = []

    def crash_on_first(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("injected defect")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(judge, "check", crash_on_first)
    first = write(tmp_path, "a.jsonl", VALID_HISTORY)
    second = write(tmp_path, "b.jsonl", CAS_HISTORY)
    assert main(["check", first, second]) == 4
    captured = capsys.readouterr()
    assert f"internal error while checking {first}" in captured.err
    assert f"{second}: INVALID" in captured.out
    assert "1 invalid, 0 unknown, 0 bad input, 1 internal errors" in captured.out


def test_html_takes_one_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [write(tmp_path, f"h{i}.jsonl", VALID_HISTORY) for i in range(2)]
    assert main(["check", *paths, "--html", str(tmp_path / "p.html")]) == 2
    assert "--html" in capsys.readouterr().err


def test_a_bad_input_message_is_one_line_without_terminal_controls(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The message quotes the file's name and the field's text: an escape sequence, a
    line break or a bidirectional override there reached the terminal as it was."""
    path = tmp_path / "h\x1b[31m\nforged.jsonl"
    path.write_text(json.dumps({"process": 0, "type": "invoke\x1b[2J\u202e", "f": "write"},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n")
    assert "\x1b" not in err and "\u202e" not in err and "\r" not in err
    assert "forged.jsonl:1:" in err and "\\x1b" in err


# A write of 1, then a cas 1 -> 2 that failed with condition-failed.
FAILED_CAS_EDN = (
    "{:process 0, :type :invoke, :f :write, :value 1}\n"
    "{:process 0, :type :ok, :f :write, :value 1}\n"
    "{:process 0, :type :invoke, :f :cas, :value [1 2]}\n"
    "{:process 0, :type :fail, :f :cas, :value [1 2], :error :condition-failed}\n")
FAILED_CAS_LOG = (
    "INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
    "INFO  jepsen.util - 0\t:ok\t:write\t1\n"
    "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\n"
    "INFO  jepsen.util - 0\t:fail\t:cas\t[1 2]\t:condition-failed\n")
FAILED_CAS_JSONL = "\n".join(json.dumps(r) for r in [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 0, "type": "invoke", "f": "cas", "value": [1, 2]},
    {"process": 0, "type": "fail", "f": "cas", "value": [1, 2], "error": "condition-failed"},
]) + "\n"


@pytest.mark.parametrize(("name", "text"), [("failed.edn", FAILED_CAS_EDN),
                                            ("failed.log", FAILED_CAS_LOG)])
def test_a_jepsen_fail_only_did_not_happen_whatever_its_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str) -> None:
    """In Jepsen's meaning (CONTRACTS.md section 5) a ``:fail`` did not take effect and
    observed nothing, even with ``:error :condition-failed``: the cas is left out and
    the history is valid, as Knossos says."""
    assert main(["check", write(tmp_path, name, text), "--model", "cas-register",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["stats"]["operations"] == 2


def test_a_json_lines_condition_failed_is_an_observation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In JSON lines (the README) the same fail observed that the register did not hold
    1: no order explains that, the history is invalid."""
    assert main(["check", write(tmp_path, "failed.jsonl", FAILED_CAS_JSONL), "--model",
                 "cas-register", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["valid"] is False
