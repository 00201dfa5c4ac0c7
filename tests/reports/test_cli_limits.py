"""`replicheck check --timeout S --memory MB` (CONTRACTS.md section 6): the limits are
usage-checked, bound the whole check (reading and set-up included), and reaching one
answers "unknown" naming it, never a crash, never a verdict. `--html` writes a whole
page or nothing. Speed and memory figures live in benchmarks/bench_limits.py."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from replicheck.histories.checkers.adapters import adapter_for, prepare
from replicheck.histories.checkers.wgl import searching
from replicheck.histories.formats import loads
from replicheck.histories.limits import (
    LimitReached,
    Limits,
    enforced,
    is_out_of_memory,
    parse_seconds,
)
from replicheck.models.specs import REGISTER
from replicheck.reports.cli import main

HISTORY = "\n".join(json.dumps(r) for r in [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 1, "type": "invoke", "f": "read", "value": None},
    {"process": 1, "type": "ok", "f": "read", "value": 1},
]) + "\n"


def _history(tmp_path: Path, text: str = HISTORY, name: str = "h.jsonl") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _data_in_use() -> int:
    """The process's data segment now (what RLIMIT_DATA caps), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmData:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmData in /proc/self/status")


# -- usage ------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["check", "replay"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "-0.5", "1e400", "soon", ""])
def test_a_timeout_that_is_not_a_finite_number_at_least_0_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, _history(tmp_path), f"--timeout={value}"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--timeout" in err and "seconds >= 0" in err


@pytest.mark.parametrize("command", ["check", "replay"])
@pytest.mark.parametrize("value", ["1e-400", "0.1e-999", "+1E-324"])
def test_a_positive_timeout_that_rounds_to_0_is_a_usage_error_not_no_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, _history(tmp_path), f"--timeout={value}"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--timeout" in err and "round to 0" in err


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf", "lots"])
def test_a_memory_that_is_not_a_positive_number_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", _history(tmp_path), f"--memory={value}"])
    assert exited.value.code == 2
    assert "--memory" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["1e12", "1e23", "1e300"])
def test_a_memory_larger_than_the_system_takes_is_no_cap_not_a_crash(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], value: str) -> None:
    """A budget past what setrlimit (a C long of bytes) or z3 (an unsigned int of
    mebibytes) takes caps nothing: the check runs as without a budget, with no
    traceback (exit 4) and no z3 warning."""
    assert main(["check", _history(tmp_path), f"--memory={value}"]) == 0
    captured = capfd.readouterr()
    assert "VALID" in captured.out
    assert "WARNING" not in captured.out + captured.err


def test_timeout_0_means_no_limit() -> None:
    assert parse_seconds("0") == 0.0
    assert Limits.start(0.0, None).deadline is None
    assert Limits.start(0.0, None).remaining() is None


# -- the deadline -------------------------------------------------------------------------

def _register_history(n: int, seed: int = 0) -> str:
    """A register history of ``n`` operations by 10 clients (reads see the register's
    value at completion, a few writes time out): its set-up grows with n squared."""
    rng = random.Random(seed)
    pending: dict[int, tuple[str, Any]] = {}
    clients = list(range(10))
    fresh = 10
    register = 0
    lines = []
    done = 0
    while done < n:
        p = rng.choice(clients)
        if p in pending:
            f, v = pending.pop(p)
            if rng.random() < 0.03:
                lines.append({"process": p, "type": "info", "f": f, "value": v})
                clients.remove(p)
                clients.append(fresh)
                fresh += 1
            else:
                if f == "read":
                    v = register
                else:
                    register = v
                lines.append({"process": p, "type": "ok", "f": f, "value": v})
            done += 1
        else:
            f, v = ("write", rng.randrange(5)) if rng.random() < 0.5 else ("read", None)
            pending[p] = (f, v)
            lines.append({"process": p, "type": "invoke", "f": f, "value": v})
    return "\n".join(json.dumps(r) for r in lines) + "\n"


def test_the_linearizability_set_up_pauses_so_that_a_deadline_can_stop_it() -> None:
    """The set-up before the search (reachability knowledge, one bitmask per step,
    O(n^2)) ran to its end before the deadline was first looked at: 35 s under
    --timeout 2 on 13,000 operations. Now it pauses, and a stop there is "unknown"."""
    history = loads(_register_history(1500), "jsonl")
    adapter = adapter_for("register")
    steps = prepare(history.operations, adapter).steps
    running = searching(steps, REGISTER, reach=adapter.reach)
    next(running)  # the first pause: still in the set-up, nothing explored
    with pytest.raises(StopIteration) as stopped:
        running.send(True)
    result = stopped.value.value
    assert result.valid == "unknown"
    assert result.configurations == 0 and result.prefix == ()


def test_a_checker_that_ignores_the_deadline_is_stopped_and_answers_unknown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A checker that never looks at the clock (here: a loop in Python) is interrupted
    shortly after the deadline; the verdict is unknown and names the time limit."""
    import replicheck.histories.judge as judge

    def stubborn(*_args: Any, **_kwargs: Any) -> Any:
        from replicheck.histories.verdict import Verdict

        until = time.perf_counter() + 20
        while time.perf_counter() < until:
            pass
        return Verdict(True, "cas-register", ("linearizable",))

    monkeypatch.setattr(judge, "check", stubborn)
    began = time.perf_counter()
    assert main(["check", _history(tmp_path), "--timeout", "2", "--json"]) == 3
    assert time.perf_counter() - began < 15  # stopped, not run to its end (20 s)
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] == "unknown"
    assert report["model"] == "cas-register" and report["consistency"] == ["linearizable"]
    assert any("time limit of 2 s reached while checking" in note for note in report["notes"])


def _busy_then(outcome: str) -> Callable[..., Any]:
    """A checker whose busy loop is interrupted by the alarm, and that then wraps the
    interruption into another exception (as Python does inside an import or a
    ``__set_name__``), or swallows it and answers valid."""
    def checker(*_args: Any, **_kwargs: Any) -> Any:
        from replicheck.histories.verdict import Verdict

        try:
            until = time.perf_counter() + 20
            while time.perf_counter() < until:
                pass
        except BaseException as error:
            if outcome == "wrap":
                raise RuntimeError("Error calling __set_name__") from error
        return Verdict(True, "cas-register", ("linearizable",))
    return checker


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_an_alarm_inside_a_finaliser_is_the_time_limit_and_prints_nothing(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Seen while fuzzing: the alarm went off in an import lock's callback, where Python
    drops the exception and prints "Exception ignored in ..." with a traceback on
    stderr; the verdict was right (unknown), the stray traceback was not."""

    class Slow:
        def __del__(self) -> None:
            until = time.perf_counter() + 5
            while time.perf_counter() < until:
                pass

    with pytest.raises(LimitReached) as reached, enforced(Limits.start(0.05, None)):
        Slow()  # finalised at once: the alarm rings inside __del__
    assert reached.value.kind == "time"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("outcome", ["wrap", "swallow"])
def test_an_interruption_wrapped_or_swallowed_is_still_the_time_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], outcome: str) -> None:
    """Seen while fuzzing: the alarm went off while networkx was being imported, and
    Python turned it into a RuntimeError (exit 4). Once the alarm rang, the result is the
    time limit, whatever the code did with the interruption."""
    import replicheck.histories.judge as judge

    monkeypatch.setattr(judge, "check", _busy_then(outcome))
    assert main(["check", _history(tmp_path), "--timeout", "2"]) == 3
    assert "time limit of 2 s reached" in capsys.readouterr().out


def test_the_deadline_covers_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    import replicheck.histories.formats as formats

    real = formats.load

    def slow(*args: Any, **kwargs: Any) -> Any:
        until = time.perf_counter() + 20
        while time.perf_counter() < until:
            pass
        return real(*args, **kwargs)

    monkeypatch.setattr(formats, "load", slow)
    assert main(["check", _history(tmp_path), "--timeout", "0.2"]) == 3
    out = capsys.readouterr().out
    assert "UNKNOWN" in out.upper() and "time limit of 0.2 s reached while reading" in out
    # no model was chosen yet: said so, not "model -, checked for -"
    assert "model not yet chosen, checked for not yet chosen" in out and " -," not in out


def test_the_alarm_is_removed_after_the_check(tmp_path: Path) -> None:
    """Nothing fires after ``check`` returned (the process goes on, e.g. in a test)."""
    import signal

    handler = signal.getsignal(signal.SIGALRM)
    assert main(["check", _history(tmp_path), "--timeout", "30"]) == 0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler


def test_an_index_of_10_to_the_30_allocates_nothing_of_its_size(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real-time order of the transactional checkers allocated one slot per index
    value (2 GB for a 2-line file with index 2.5e8; 10^30 raised OverflowError). The
    verdict must be the one of the same history with small indexes."""
    def history(base: int) -> str:
        records = [
            {"process": 0, "type": "invoke", "f": "txn", "value": [["append", "x", 1]],
             "index": base},
            {"process": 0, "type": "ok", "f": "txn", "value": [["append", "x", 1]],
             "index": base + 1},
            {"process": 1, "type": "invoke", "f": "txn", "value": [["r", "x", None]],
             "index": base + 5},
            {"process": 1, "type": "ok", "f": "txn", "value": [["r", "x", []]],
             "index": base + 10**9},
        ]
        return "\n".join(json.dumps(r) for r in records) + "\n"

    verdicts = []
    for base in (0, 10**30):
        assert main(["check", _history(tmp_path, history(base)), "--json"]) == 1
        verdicts.append(json.loads(capsys.readouterr().out))
    assert [a["type"] for a in verdicts[0]["anomalies"]] == ["G-single-realtime"]
    assert [a["type"] for a in verdicts[1]["anomalies"]] == ["G-single-realtime"]
    assert verdicts[0]["ruled_out"] == verdicts[1]["ruled_out"]


# -- memory -------------------------------------------------------------------------------

def _hungry(*_args: Any, **_kwargs: Any) -> Any:
    """A checker that keeps allocating (up to 1.5 GB, then it would answer valid)."""
    from replicheck.histories.verdict import Verdict

    hoard = []
    for _ in range(1500):
        hoard.append(bytearray(1 << 20))
    return Verdict(True, "cas-register", ("linearizable",))


def test_a_check_past_the_memory_budget_answers_unknown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import replicheck.histories.judge as judge

    monkeypatch.setattr(judge, "check", _hungry)
    budget_mb = _data_in_use() // (1 << 20) + 200
    assert main(["check", _history(tmp_path), "--memory", str(budget_mb), "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] == "unknown"
    assert any(f"memory limit of {budget_mb} MB reached while checking" in note
               for note in report["notes"])


def test_z3_out_of_memory_is_the_memory_limit_not_a_crash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import z3

    import replicheck.histories.judge as judge

    def solver_out_of_memory(*_args: Any, **_kwargs: Any) -> Any:
        raise z3.Z3Exception(b"out of memory")

    monkeypatch.setattr(judge, "check", solver_out_of_memory)
    assert main(["check", _history(tmp_path), "--memory", "100000"]) == 3
    out = capsys.readouterr().out
    assert "UNKNOWN (memory limit reached)" in out
    assert "memory limit of 100000 MB reached" in out


def test_z3_itself_stops_at_the_budget() -> None:
    """Under ``enforced``, z3's own memory (``memory_max_size``) is capped too: a problem
    larger than the budget ends in LimitReached("memory")."""
    import z3

    assert is_out_of_memory(z3.Z3Exception(b"out of memory"))
    assert not is_out_of_memory(z3.Z3Exception(b"invalid argument"))
    budget = _data_in_use() + 40 * (1 << 20)
    with pytest.raises(LimitReached) as reached, enforced(Limits(memory=budget)):
        solver = z3.Solver()
        xs = [z3.Int(f"x{i}") for i in range(3000)]
        for i in range(3000):
            for j in range(i + 1, min(3000, i + 80)):
                solver.add(z3.Or(xs[i] < xs[j], xs[j] < xs[i] + 3))
        solver.check()
    assert reached.value.kind == "memory"


def test_z3_solving_past_the_deadline_is_interrupted() -> None:
    """z3's C code does not return to Python for the alarm to be handled: the backstop
    interrupts it. Pigeonhole (13 pigeons, 12 holes) keeps z3 busy for minutes; its own
    timeout is 60 s, so only the interruption ends it before."""
    import z3

    n = 13
    solver = z3.Solver()
    solver.set("timeout", 60_000)
    x = [[z3.Bool(f"x{i}_{j}") for j in range(n - 1)] for i in range(n)]
    for i in range(n):
        solver.add(z3.Or(*x[i]))
    for j in range(n - 1):
        for i in range(n):
            for k in range(i + 1, n):
                solver.add(z3.Or(z3.Not(x[i][j]), z3.Not(x[k][j])))
    began = time.perf_counter()
    with pytest.raises(LimitReached) as reached, enforced(Limits.start(0.5, None)):
        solver.check()
    assert reached.value.kind == "time"
    assert time.perf_counter() - began < 30  # interrupted, not ended by z3's own timeout


def test_the_memory_cap_is_lifted_after_the_check(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import replicheck.histories.judge as judge

    monkeypatch.setattr(judge, "check", _hungry)
    budget_mb = _data_in_use() // (1 << 20) + 100
    assert main(["check", _history(tmp_path), "--memory", str(budget_mb)]) == 3
    monkeypatch.undo()
    assert len(bytearray(300 << 20)) == 300 << 20  # past the old budget: no MemoryError


# -- --html -------------------------------------------------------------------------------

def _fail_rendering(*_args: Any, **_kwargs: Any) -> str:
    raise RuntimeError("injected rendering defect")


def test_html_a_rendering_error_leaves_no_file_and_keeps_an_older_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import tempfile

    import replicheck.reports.html as html

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(html, "render_check_html", _fail_rendering)
    out = tmp_path / "site"
    out.mkdir()
    fresh = out / "new.html"
    assert main(["check", _history(tmp_path), "--html", str(fresh)]) == 4
    assert not fresh.exists()
    older = out / "old.html"
    older.write_text("<html>the previous page</html>")
    assert main(["check", _history(tmp_path), "--html", str(older)]) == 4
    assert older.read_text() == "<html>the previous page</html>"
    assert sorted(p.name for p in out.iterdir()) == ["old.html"]  # no temporary left
    assert "injected rendering defect" in capsys.readouterr().err


def test_html_text_that_utf8_cannot_encode_is_written_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lone surrogate (read from a history's JSON string) used to fail the write after
    the file was opened, leaving an empty file."""
    import replicheck.reports.html as html

    real: Callable[..., str] = html.render_check_html

    def with_surrogate(*args: Any, **kwargs: Any) -> str:
        return real(*args, **kwargs).replace("</body>", "<p>\ud800</p></body>")

    monkeypatch.setattr(html, "render_check_html", with_surrogate)
    page = tmp_path / "page.html"
    assert main(["check", _history(tmp_path), "--html", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.rstrip().endswith("</html>") and "\\ud800" in text


def test_html_into_a_missing_directory_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "absent" / "page.html"
    assert main(["check", _history(tmp_path), "--html", str(page)]) == 2
    assert f"cannot write {page}" in capsys.readouterr().err


def test_an_alarm_between_entering_and_the_block_leaves_nothing_behind(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen while fuzzing: the alarm went off just after ``enforced`` was entered, before
    the block ran; closing the abandoned context then raised again ("Exception ignored
    in: <generator object enforced>" on stderr). Closing it now only cleans up."""
    import signal

    import replicheck.histories.limits as limits

    class Rang(limits._Alarm):
        def __init__(self) -> None:
            super().__init__()
            self.rang = True

    monkeypatch.setattr(limits, "_Alarm", Rang)
    handler = signal.getsignal(signal.SIGALRM)
    entered = enforced(Limits.start(30, None))
    entered.__enter__()
    entered.gen.close()  # what garbage collection does to the abandoned context
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler


def _unknown_after(seconds: float) -> Callable[..., Any]:
    """A checker that answers "unknown" (naming no limit) after ``seconds``."""
    def checker(*_args: Any, **_kwargs: Any) -> Any:
        from replicheck.histories.verdict import Verdict

        time.sleep(seconds)
        return Verdict("unknown", "cas-register", ("linearizable",))
    return checker


@pytest.mark.parametrize(("seconds", "headline"), [
    (0.0, "UNKNOWN (undecided; no limit was reached)"),
    (2.1, "UNKNOWN (time limit reached)"),  # past the deadline, before the backstop
])
def test_an_unknown_names_the_time_limit_only_when_the_deadline_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], seconds: float, headline: str) -> None:
    """An item or rw-register checker answering "unknown" at once (a serial order it
    could not show) was reported as "UNKNOWN (time limit reached)" after a few
    milliseconds of a 300-second limit."""
    import replicheck.histories.judge as judge

    monkeypatch.setattr(judge, "check", _unknown_after(seconds))
    assert main(["check", _history(tmp_path), "--timeout", "2"]) == 3
    assert headline in capsys.readouterr().out


def test_an_interruption_swallowed_once_is_followed_by_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Where Python drops the alarm's exception (a weakref callback, a finaliser; seen
    while fuzzing, inside importlib), the code would run on unbounded: the alarm rings
    again until the block is left."""
    import replicheck.histories.judge as judge

    def swallows_once(*_args: Any, **_kwargs: Any) -> Any:
        from replicheck.histories.verdict import Verdict

        until = time.perf_counter() + 20
        try:
            while time.perf_counter() < until:
                pass
        except BaseException:  # the point: the first ring is lost
            pass
        while time.perf_counter() < until:
            pass
        return Verdict(True, "cas-register", ("linearizable",))

    monkeypatch.setattr(judge, "check", swallows_once)
    began = time.perf_counter()
    assert main(["check", _history(tmp_path), "--timeout", "1"]) == 3
    assert time.perf_counter() - began < 15  # stopped by a later ring, not after 20 s
    assert "time limit of 1 s reached" in capsys.readouterr().out


def test_a_dropped_interruption_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python reports an exception it cannot raise (in a weakref callback, say) through
    sys.unraisablehook, with a traceback on stderr: not for the alarm's, which the next
    ring replaces; any other still reaches the hook."""
    import sys
    from types import SimpleNamespace

    reported: list[type[BaseException]] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda report: reported.append(report.exc_type))

    def report(error: BaseException) -> SimpleNamespace:
        return SimpleNamespace(exc_type=type(error), exc_value=error, exc_traceback=None,
                               err_msg="Exception ignored in", object=None)

    with enforced(Limits.start(30, None)):
        sys.unraisablehook(report(LimitReached("time", "t")))  # type: ignore[arg-type]
        sys.unraisablehook(report(ValueError("other")))  # type: ignore[arg-type]
    assert reported == [ValueError]


def test_a_ring_while_the_alarm_is_being_armed_leaves_no_timer_behind(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen while fuzzing (exit 142, killed by SIGALRM): with the deadline already past
    when the check began, the alarm rang while its watchdog thread was being started,
    before the block that disarms it; the timer went on ringing, and once Python had
    restored the default handler at exit, it killed the process."""
    import signal
    import threading

    handler = signal.getsignal(signal.SIGALRM)
    start = threading.Timer.start

    def slow_start(self: threading.Timer) -> None:
        time.sleep(0.2)  # the deadline, already past, rings meanwhile
        start(self)

    monkeypatch.setattr(threading.Timer, "start", slow_start)
    limits = Limits.start(0.001, None)
    time.sleep(0.01)
    with pytest.raises(LimitReached), enforced(limits):
        time.sleep(2)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler
