"""``replicheck check``: each history read and judged on its own within the time and
memory limits (reaching one answers "unknown", naming it and the phase), the verdict
printed as text or JSON and, with ``--html``, written as a page whole or not at all;
with several histories, a summary line and the statuses combined."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from replicheck.reports.console import (
    EXIT_CRASH,
    EXIT_OK,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    EXIT_VIOLATION,
    emit,
    fail_usage,
)

if TYPE_CHECKING:
    from replicheck.histories.history import History
    from replicheck.histories.limits import LimitReached, Limits
    from replicheck.histories.verdict import Verdict


def run_check(args: argparse.Namespace,
              report_crash: Callable[[argparse.Namespace, BaseException, Sequence[str]], int]
              ) -> int:
    """``replicheck check HISTORY [HISTORY ...]``: each history judged on its own, both
    limits applying to each; with several, one verdict per file (``--json``: one object
    per line with its ``file``), then a summary line, and the statuses combined: any
    internal error (4) or bad input (2) wins, then any violation (1), then any unknown
    (3), else 0. A defect on one file is reported by ``report_crash`` (exit 4) and the
    others are still checked."""
    paths: list[str] = args.history
    if len(paths) == 1:
        return _check_one(argparse.Namespace(**{**vars(args), "history": paths[0],
                                                "histories": paths}))
    if args.html:
        return fail_usage("--html writes the page of one history; give one HISTORY")
    statuses = []
    for path in paths:
        one = argparse.Namespace(**{**vars(args), "history": path, "histories": paths})
        try:
            statuses.append(_check_one(one))
        except Exception as error:  # a defect on this file: the others still get checked
            statuses.append(report_crash(one, error, getattr(args, "argv", [])))
    counts = {status: statuses.count(status) for status in range(5)}
    summary = (f"{len(paths)} histories: {counts[0]} valid, {counts[1]} invalid, "
               f"{counts[3]} unknown, {counts[2]} bad input, {counts[4]} internal errors")
    if args.json:
        print(summary, file=sys.stderr)
    else:
        emit(summary)
    return combine_statuses(statuses)


def combine_statuses(statuses: Sequence[int]) -> int:
    """The exit status of several checks (CONTRACTS.md section 6): 4 or 2 win over all
    (4 first), then any violation, then any unknown, else 0."""
    for status in (EXIT_CRASH, EXIT_USAGE, EXIT_VIOLATION, EXIT_UNKNOWN):
        if status in statuses:
            return status
    return EXIT_OK


def _check_one(args: argparse.Namespace) -> int:
    """Read the history ``args.history`` and judge it within ``--timeout`` and
    ``--memory`` (reading included); reaching either answers "unknown", naming it."""
    from replicheck.histories.judge import ModelChoiceError
    from replicheck.histories.limits import MEBIBYTE, LimitReached, Limits, default_memory
    from replicheck.histories.verdict import exit_status
    from replicheck.reports.text import render_verdict

    memory_mb = args.memory if args.memory is not None else default_memory() / MEBIBYTE
    limits = Limits.start(args.timeout, memory_mb)
    consistency = [c.strip() for c in args.consistency.split(",")] if args.consistency else None
    progress = _CheckProgress()
    try:
        verdict = _judge(args, consistency, limits, progress)
    except _BadInput as error:
        return fail_usage(error.message)
    except ModelChoiceError as error:
        return fail_usage(f"{args.history}: {error}")
    except LimitReached as reached:
        verdict = _limit_verdict(args, consistency, progress, reached)
    else:
        if verdict.valid == "unknown" and verdict.limit is None and limits.reached():
            verdict = replace(verdict, limit="time")
    history = progress.history
    if args.html:
        failed = _write_html(args, progress.drawn(), verdict)
        if failed is not None:
            return failed
    skipped = () if history is None else history.skipped
    if args.json:
        from replicheck.reports.json_report import check_to_json

        shown = check_to_json(verdict, progress.read)
        emit(json.dumps({"file": args.history, **shown}) if len(args.histories) > 1
             else json.dumps(shown, indent=2))
    else:
        emit(render_verdict(verdict, source=args.history, skipped=skipped))
    return exit_status(verdict.valid)


class _BadInput(Exception):
    """The history cannot be read: the message for exit 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _CheckProgress:
    """How far ``check`` got: the history as ``read``, the ``history`` checked (without
    the operations ``--lenient`` dropped; each operation keeps its id), the phase, when
    checking began."""

    def __init__(self) -> None:
        self.read: History | None = None
        self.history: History | None = None
        self.phase = "reading the history"
        self.began = time.perf_counter()

    def drawn(self) -> History | None:
        """The history a page draws: every operation as read (the verdict's ids name
        them), with the problems skipped on the way to the history checked."""
        if self.read is None or self.history is None:
            return self.history
        return replace(self.read, skipped=self.history.skipped)


def _judge(args: argparse.Namespace, consistency: list[str] | None, limits: Limits,
           progress: _CheckProgress) -> Verdict:
    """Read and judge ``args.history`` under ``limits`` (LimitReached past them),
    recording in ``progress`` how far it got; _BadInput for an unreadable history."""
    import gc

    from replicheck.histories.formats import load
    from replicheck.histories.history import HistoryError
    from replicheck.histories.judge import check, drop_unknown_functions, infer_model
    from replicheck.histories.limits import enforced

    with enforced(limits):
        gc.disable()  # reading builds many small objects and no cycles: skip the collector
        try:
            history = load(args.history, args.format, lenient=args.lenient)
        except FileNotFoundError:
            raise _BadInput(f"no such history file: {args.history}") from None
        except IsADirectoryError:
            raise _BadInput(f"{args.history} is a directory, not a history file") from None
        except OSError as error:  # unreadable: permissions, a device error, ...
            raise _BadInput(f"cannot read {args.history}: "
                            f"{error.strerror or error}") from None
        except (HistoryError, UnicodeDecodeError) as error:
            raise _BadInput(str(error)) from None
        finally:
            gc.enable()
        progress.read = progress.history = history
        progress.phase = "checking the history"
        progress.began = time.perf_counter()
        try:
            if args.lenient:
                history = drop_unknown_functions(history, args.model or infer_model(history))
                progress.history = history
            return check(history, args.model, consistency, limits.remaining())
        except HistoryError as error:
            raise _BadInput(f"{args.history}: {error}") from None


def _limit_verdict(args: argparse.Namespace, consistency: list[str] | None,
                   progress: _CheckProgress, reached: LimitReached) -> Verdict:
    """The "unknown" verdict of a check stopped by a limit before any checker could
    report what it had decided: it names the limit and the phase."""
    from replicheck.histories.judge import DEFAULT_CONSISTENCY
    from replicheck.histories.verdict import Stats, Verdict

    history = progress.history
    model = args.model or _inferred_model(history)
    wanted = tuple(consistency) if consistency else DEFAULT_CONSISTENCY.get(model, ())
    operations = 0 if history is None else len(history)
    seconds = 0.0 if history is None else time.perf_counter() - progress.began
    return Verdict("unknown", model, wanted, limit=reached.kind,
                   stats=Stats(operations=operations, seconds=seconds),
                   notes=(f"{reached.message} while {progress.phase}; no part of the "
                          "history was decided",))


def _inferred_model(history: History | None) -> str:
    """The model ``check`` would have inferred for ``history``; ``NOT_CHOSEN`` when
    none can be yet (the history is not read, or no model fits)."""
    from replicheck.histories.judge import ModelChoiceError, infer_model
    from replicheck.histories.verdict import NOT_CHOSEN

    if history is None:
        return NOT_CHOSEN
    try:
        return infer_model(history)
    except ModelChoiceError:
        return NOT_CHOSEN


def _write_html(args: argparse.Namespace, history: History | None,
                verdict: Verdict) -> int | None:
    """Write the ``--html`` page whole or not at all: rendered first, written to a
    temporary file in the same directory, then renamed over FILE. None when written;
    the exit status (2) when FILE cannot be written. A rendering error is a defect and
    propagates (exit 4), leaving no file."""
    import tempfile

    from replicheck.histories.history import History
    from replicheck.reports.html import render_check_html

    page = render_check_html(history if history is not None else History((), source=args.history),
                             verdict, source=args.history)
    target = Path(args.html)
    try:
        fd, scratch = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                       dir=target.parent if str(target.parent) else ".")
    except OSError as error:
        return fail_usage(f"cannot write {args.html}: {error}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(page)
        os.chmod(scratch, 0o666 & ~_umask())
        os.replace(scratch, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        return fail_usage(f"cannot write {args.html}: {error}")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        raise
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
