"""The ``replicheck`` command line.

Exit statuses (CONTRACTS.md section 6): 0 everything holds, 1 a violation (or a
refuted law), 2 bad input or usage, 3 unknown (a time or memory limit was reached, or
undecided), 4 internal error: a defect of replicheck, never read as a verdict. Every
command goes through :func:`main`, where any exception that is not bad input becomes
exit 4 with one line on stderr naming the input and a file holding the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from replicheck.reports.escaping import terminal_line

if TYPE_CHECKING:
    from replicheck.histories.history import History
    from replicheck.histories.limits import LimitReached, Limits
    from replicheck.histories.verdict import Verdict
    from replicheck.properties.engine import ProgressEvent
    from replicheck.properties.outcomes import SuiteOutcome

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_CRASH = 4

EXIT_STATUS_HELP = (
    "exit status: 0 valid (every claimed guarantee holds), 1 a violation found, 2 bad "
    "input or usage, 3 unknown (the time or memory limit was reached, or undecided), "
    "4 internal error (a defect of replicheck: one line on stderr names the input and "
    "the file holding the traceback)"
)


def _prove(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from replicheck.models.proofs.catalog import run_all

    rows = []
    results = []
    for group, result in run_all():
        results.append((group, result))
        verdict = "proved" if result.proved else ("REFUTED" if result.refuted else "unknown")
        rows.append((group, result.law, result.bounds, verdict, f"{result.seconds:.2f}"))
        if not args.json and not args.quiet:
            print(f"  {verdict:8} {group}: {result.law}", file=sys.stderr, flush=True)
    refuted = [r for _, r in results if r.refuted]
    unknown = [r for _, r in results if not r.proved and not r.refuted]
    if args.json:
        print(json.dumps({
            "schema": 1,
            "proofs": [
                {"group": g, "law": r.law, "bounds": r.bounds, "proved": r.proved,
                 "status": r.status, "counterexample": r.counterexample,
                 "seconds": round(r.seconds, 4)}
                for g, r in results
            ],
        }, indent=2))
    else:
        print(tabulate(rows, headers=["group", "law", "bounds", "verdict", "seconds"],
                       maxcolwidths=[None, 48, 44, None, None]))
        print(f"\n{len(results) - len(refuted) - len(unknown)} proved, "
              f"{len(refuted)} refuted, {len(unknown)} unknown")
        for r in refuted:
            print(f"\nREFUTED: {r.law}\n{r.counterexample}")
    if refuted:
        return EXIT_VIOLATION
    return EXIT_UNKNOWN if unknown else EXIT_OK


def _printable(text: str, stream: TextIO) -> str:
    """``text`` as ``stream`` can encode it: what it cannot (a lone surrogate read
    from a history, say) is written as a backslash escape instead of failing."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # pragma: no cover - an encoding Python does not know
        return text.encode("ascii", "backslashreplace").decode("ascii")
    return text


def _emit(text: str) -> None:
    """Print ``text``; a reader that went away (``| head``) changes nothing: the exit
    status still says the verdict."""
    try:
        print(_printable(text, sys.stdout), flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _fail_usage(message: str) -> int:
    # the message quotes the input (a file name, a field): one line, no terminal controls
    print(_printable(f"replicheck: error: {terminal_line(message)}", sys.stderr),
          file=sys.stderr)
    return EXIT_USAGE


def _seconds(text: str) -> float:
    """argparse type of ``--timeout``: see :func:`replicheck.histories.limits.parse_seconds`."""
    from replicheck.histories.limits import parse_seconds

    try:
        return parse_seconds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _megabytes(text: str) -> float:
    """argparse type of ``--memory``: see
    :func:`replicheck.histories.limits.parse_megabytes`."""
    from replicheck.histories.limits import parse_megabytes

    try:
        return parse_megabytes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _crash_subject(args: argparse.Namespace) -> str:
    """What the command was doing, naming its input, for the one line of a crash."""
    command = getattr(args, "command", None)
    if command == "check":
        paths = args.history if isinstance(args.history, list) else [args.history]
        return f"checking {', '.join(paths)}"
    if command == "replay":
        return f"replaying {args.file}"
    if command == "verify":
        return f"verifying {args.store or 'every preset'}"
    if command == "mutants":
        return f"running the mutants (profile {args.profile})"
    if command == "prove":
        return "proving the models' laws"
    return f"running {command}"


def _report_crash(args: argparse.Namespace, error: BaseException,
                  argv: Sequence[str]) -> int:
    """A defect of replicheck: write the traceback to a new file in the temporary
    directory and say so in one line on stderr (CONTRACTS.md section 6: exit 4)."""
    import tempfile
    import traceback

    summary = (str(error).splitlines() or [""])[0]
    if len(summary) > 200:
        summary = summary[:200] + "..."
    text = (f"replicheck {' '.join(argv)}\n"
            f"python {sys.version.split()[0]}\n\n"
            + "".join(traceback.format_exception(error)))
    try:
        fd, path = tempfile.mkstemp(prefix="replicheck-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(text)
        where = f"the traceback is in {path}"
    except OSError as failure:
        where = f"the traceback could not be saved ({failure})"
    line = (f"replicheck: internal error while {_crash_subject(args)}: "
            f"{type(error).__name__}: {summary} (a defect of replicheck, not a verdict; "
            f"{where})")
    with contextlib.suppress(OSError):  # stderr itself may be gone
        print(_printable(terminal_line(line), sys.stderr), file=sys.stderr, flush=True)
    return EXIT_CRASH


def _check(args: argparse.Namespace) -> int:
    """``replicheck check HISTORY [HISTORY ...]``: each history judged on its own, both
    limits applying to each; with several, one verdict per file (``--json``: one object
    per line with its ``file``), then a summary line, and the statuses combined: any
    internal error (4) or bad input (2) wins, then any violation (1), then any unknown
    (3), else 0."""
    paths: list[str] = args.history
    if len(paths) == 1:
        return _check_one(argparse.Namespace(**{**vars(args), "history": paths[0],
                                                "histories": paths}))
    if args.html:
        return _fail_usage("--html writes the page of one history; give one HISTORY")
    statuses = []
    for path in paths:
        one = argparse.Namespace(**{**vars(args), "history": path, "histories": paths})
        try:
            statuses.append(_check_one(one))
        except Exception as error:  # a defect on this file: the others still get checked
            statuses.append(_report_crash(one, error, getattr(args, "argv", [])))
    counts = {status: statuses.count(status) for status in range(5)}
    summary = (f"{len(paths)} histories: {counts[0]} valid, {counts[1]} invalid, "
               f"{counts[3]} unknown, {counts[2]} bad input, {counts[4]} internal errors")
    if args.json:
        print(summary, file=sys.stderr)
    else:
        _emit(summary)
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
        return _fail_usage(error.message)
    except ModelChoiceError as error:
        return _fail_usage(f"{args.history}: {error}")
    except LimitReached as reached:
        verdict = _limit_verdict(args, consistency, progress, reached)
    else:
        if verdict.valid == "unknown" and verdict.limit is None and limits.reached():
            verdict = replace(verdict, limit="time")
    history = progress.history
    if args.html:
        failed = _write_html(args, history, verdict)
        if failed is not None:
            return failed
    skipped = () if history is None else history.skipped
    if args.json and len(args.histories) > 1:
        _emit(json.dumps({"file": args.history, **verdict.to_json()}))
    elif args.json:
        _emit(json.dumps(verdict.to_json(), indent=2))
    else:
        _emit(render_verdict(verdict, source=args.history, skipped=skipped))
    return exit_status(verdict.valid)


class _BadInput(Exception):
    """The history cannot be read: the message for exit 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _CheckProgress:
    """How far ``check`` got: the history once read, the phase, when checking began."""

    def __init__(self) -> None:
        self.history: History | None = None
        self.phase = "reading the history"
        self.began = time.perf_counter()


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
        progress.history = history
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
        return _fail_usage(f"cannot write {args.html}: {error}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(page)
        os.chmod(scratch, 0o666 & ~_umask())
        os.replace(scratch, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        return _fail_usage(f"cannot write {args.html}: {error}")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        raise
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replay(args: argparse.Namespace) -> int:
    """``replicheck replay FILE``: rerun a schedule, print its history (JSON lines) and
    each claimed guarantee's judgement (``#`` lines, so the output is itself a history
    file); ``--json``: one object. Exit 0 all hold, 1 a violation, 3 unknown, 2 bad
    file or target."""
    from replicheck.implementation.presets import UnknownStore
    from replicheck.properties.replay import replay
    from replicheck.properties.schedule import ScheduleError, load

    try:
        result = replay(load(args.file), timeout=args.timeout if args.timeout > 0 else 1e9)
    except ScheduleError as error:
        if error.source is None:
            error = ScheduleError(error.message, source=args.file, step=error.step)
        return _fail_usage(str(error))
    except UnknownStore as error:
        return _fail_usage(f"{args.file}: {error}")
    if args.json:
        print(json.dumps({
            "schema": 1, "target": result.schedule.target, "seed": result.schedule.seed,
            "store": result.store, "steps": len(result.schedule.steps),
            "history": [json.loads(line) for line in result.history_jsonl.splitlines()],
            "judgements": [
                {"guarantee": j.guarantee, "status": j.status, "claimed": j.claimed,
                 "reason": j.reason,
                 "anomalies": [] if j.verdict is None else [
                     {"type": a.type, "ops": list(a.ops), "explanation": a.explanation}
                     for a in j.verdict.anomalies]}
                for j in result.judgements],
            "exit": result.exit_status,
        }, indent=2, default=str))
    else:
        sys.stdout.write(result.history_jsonl)
        print(f"# {result.store} ({result.schedule.target}, seed {result.schedule.seed}): "
              f"{len(result.schedule.steps)} steps, "
              f"{len(result.history.operations)} operations")
        for judgement in result.judgements:
            for line in judgement.explanation().splitlines():
                print(f"# {line}")
    return result.exit_status


def _max_examples_cap() -> int | None:
    """``REPLICHECK_MAX_EXAMPLES`` as a positive integer, None when unset; ValueError
    naming it when it is not one."""
    raw = os.environ.get("REPLICHECK_MAX_EXAMPLES")
    if not raw:
        return None
    try:
        cap = int(raw)
    except ValueError:
        cap = 0
    if cap < 1:
        raise ValueError(f"REPLICHECK_MAX_EXAMPLES={raw!r}: expected a positive integer")
    return cap


class _ProgressBar:
    """Draws the engine's progress on ``stream``: redrawn in place on a terminal,
    one line per finished property otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.began = time.perf_counter()
        self.width = 0

    def __call__(self, event: ProgressEvent) -> None:
        elapsed = time.perf_counter() - self.began
        if event.status == "running":
            if not self.tty:
                return
            done = min(event.examples, event.max_examples)
            filled = round(20 * done / event.max_examples) if event.max_examples else 0
            line = (f"{event.store} {event.property} [{'#' * filled}{'.' * (20 - filled)}] "
                    f"{event.examples}/{event.max_examples} examples, {elapsed:.0f} s")
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            line = (f"  {event.status:7} {event.store} {event.property}: {event.examples} "
                    f"examples, {elapsed:.1f} s")
            self.stream.write(("\r" + line.ljust(self.width) if self.tty else line) + "\n")
            self.width = 0
        self.stream.flush()


def _verify(args: argparse.Namespace) -> int:
    """``replicheck verify``: run the suite on one store or every preset, write the
    reports (markdown, HTML, JSON) and each counterexample's schedule to ``--out``."""
    from replicheck.implementation.presets import PRESETS, UnknownStore
    from replicheck.properties.engine import store_factory, verify
    from replicheck.properties.profiles import PROFILES, UnknownProfile, choose_profile

    if args.profile is not None and args.profile not in PROFILES:
        return _fail_usage(f"unknown profile {args.profile!r}; choose one of: "
                           f"{', '.join(PROFILES)}")
    try:
        profile = choose_profile(args.profile)
    except UnknownProfile as error:
        return _fail_usage(str(error))
    try:
        cap = _max_examples_cap()
    except ValueError as error:
        return _fail_usage(str(error))
    targets = list(PRESETS) if args.store is None else [args.store]
    try:
        for target in targets:
            store_factory(target)
    except UnknownStore as error:
        return _fail_usage(str(error).splitlines()[0])
    out = Path(args.out)
    try:
        (out / "replay").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return _fail_usage(f"cannot create the report directory {out}: {error}")
    progress = None if args.quiet else _ProgressBar(sys.stderr)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="replicheck-failures-") as scratch:
        # the machines' own failure files: the reports' replay/ files supersede them
        outcome = verify(targets, profile=profile, max_examples=cap, progress=progress,
                         failure_dir=scratch)
    written = _write_reports(outcome, out)
    if args.json:
        from replicheck.reports.json_report import suite_to_json

        _emit(json.dumps(suite_to_json(outcome), indent=2, default=str))
    elif not args.quiet:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    if not args.json:
        _emit(_verify_summary(outcome))
    return outcome.exit_status


def _write_reports(outcome: SuiteOutcome, out: Path) -> list[Path]:
    """Write report.md, report.html, report.json and every counterexample's schedule
    (``replay/<store>-<property>.json``) under ``out``; the paths written."""
    from replicheck.properties.schedule import dump, from_json
    from replicheck.reports.html import render_html
    from replicheck.reports.json_report import suite_to_json
    from replicheck.reports.markdown import render_markdown
    from replicheck.reports.naming import replay_file_name

    written = []
    for name, text in (("report.md", render_markdown(outcome)),
                       ("report.html", render_html(outcome)),
                       ("report.json", json.dumps(suite_to_json(outcome), indent=2,
                                                  default=str) + "\n")):
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    for store in outcome.stores:
        for example in (*store.violations, *store.observations):
            if example.schedule is None:
                continue
            path = out / replay_file_name(store.target, example.property, example.guarantee)
            if path in written:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            dump(from_json(example.schedule), path)
            written.append(path)
    return written


def _verify_summary(outcome: SuiteOutcome) -> str:
    """A few lines for the terminal: each store's result and where its failures are."""
    from replicheck.reports.naming import replay_file_name

    lines = []
    for store in outcome.stores:
        violated = [c.guarantee for c in store.cells if c.status == "violated"]
        errors = [p for p in store.properties if p.status == "error"]
        unknown = [c.guarantee for c in store.cells if c.status == "unknown" and c.claimed]
        observed = [c.guarantee for c in store.cells if c.status == "observed"]
        verdict = ("VIOLATED " + ", ".join(violated) if violated
                   else "ERROR" if errors else "unknown " + ", ".join(unknown) if unknown
                   else "every claimed guarantee holds")
        lines.append(f"{store.target}: {verdict}"
                     + (f" (observed, not claimed: {', '.join(observed)})" if observed else ""))
        for run in store.properties:
            if run.status == "error":
                lines.append(f"  error in {run.name}: {run.reason}")
            cx = run.counterexample
            if cx is not None and cx.schedule is not None:
                lines.append(f"  replay: replicheck replay "
                             f"{replay_file_name(store.target, run.name, cx.guarantee)} "
                             "(in the report directory)")
    lines.append(f"{len(outcome.stores)} store(s), {outcome.seconds:.1f} s, profile "
                 f"{outcome.profile}: exit {outcome.exit_status}")
    return "\n".join(lines)


def _mutants(args: argparse.Namespace) -> int:
    """``replicheck mutants``: run the suite against every mutant of the catalog."""
    from replicheck.properties.profiles import PROFILES

    if args.profile not in PROFILES:
        return _fail_usage(f"unknown profile {args.profile!r}; choose one of: "
                           f"{', '.join(PROFILES)}")
    from tabulate import tabulate

    from replicheck.implementation.mutants import catalog
    from replicheck.properties import mutation

    results = []
    for entry in catalog.MUTANTS:
        result = mutation.run_mutant(entry, profile=args.profile)
        results.append(result)
        if not args.json and not args.quiet:
            print(f"  {'caught' if result.caught else 'ESCAPED':8} {entry.name}",
                  file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        rows = [(r.name, r.preset, "caught" if r.caught else "ESCAPED", r.guarantee or "-",
                 "-" if r.seconds_to_failure is None else f"{r.seconds_to_failure:.2f}",
                 "-" if r.counterexample_steps is None else r.counterexample_steps,
                 r.step_unit or "-")
                for r in results]
        print(tabulate(rows, headers=["mutant", "preset", "verdict", "guarantee",
                                      "seconds", "steps", "counted in"]))
        escaped = [r.name for r in results if not r.caught]
        print(f"\n{len(results) - len(escaped)} of {len(results)} mutants caught"
              + (f"; escaped: {', '.join(escaped)}" if escaped else ""))
    return EXIT_OK if all(r.caught for r in results) else EXIT_VIOLATION


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``replicheck`` command."""
    parser = argparse.ArgumentParser(
        prog="replicheck",
        description="Property-based consistency verification for replicated key-value stores.",
        epilog=EXIT_STATUS_HELP,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    prove = sub.add_parser("prove", help="prove the models' laws with z3 and print the results",
                           epilog=EXIT_STATUS_HELP)
    prove.add_argument("--json", action="store_true", help="print one JSON object")
    prove.add_argument("--quiet", action="store_true", help="no progress lines")
    prove.set_defaults(run=_prove)

    check = sub.add_parser("check", help="judge a recorded history against a consistency model",
                           epilog=EXIT_STATUS_HELP)
    check.add_argument("history", metavar="HISTORY", nargs="+",
                       help="the history file(s); each is judged on its own, within the "
                       "limits")
    check.add_argument("--format", choices=("jsonl", "edn", "jepsen-log"), default=None,
                       help="the history's format (default: detected from its content)")
    check.add_argument("--model", default=None, metavar="M",
                       help="register, cas-register, kv, item, list-append or rw-register "
                       "(default: implied by the history's functions)")
    check.add_argument("--consistency", default=None, metavar="C",
                       help="consistency model(s) to check, comma-separated "
                       "(default: linearizable, or strict-serializable for transactions)")
    check.add_argument("--timeout", type=_seconds, default=300.0, metavar="S",
                       help="bound the whole check (reading, set-up and solver) to S "
                       "seconds, a finite number >= 0; reaching it answers 'unknown' with "
                       "the part decided so far (default 300; 0: none)")
    check.add_argument("--memory", type=_megabytes, default=None, metavar="MB",
                       help="bound the check's memory (the process's data segment, and "
                       "z3's) to MB mebibytes; reaching it answers 'unknown' (default: half "
                       "the machine's memory)")
    check.add_argument("--lenient", action="store_true",
                       help="report and skip malformed records instead of stopping")
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check.add_argument("--html", default=None, metavar="FILE",
                       help="also write the verdict, the history's timeline and the "
                       "anomalies' graphs as one HTML page to FILE")
    check.set_defaults(run=_check)

    replay = sub.add_parser("replay", help="rerun a recorded schedule and judge its history",
                            epilog=EXIT_STATUS_HELP)
    replay.add_argument("file", metavar="FILE", help="the schedule file (JSON)")
    replay.add_argument("--timeout", type=_seconds, default=30.0, metavar="S",
                        help="checker time limit per guarantee, a finite number >= 0 "
                        "(default 30; 0: none)")
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    replay.set_defaults(run=_replay)

    verify_cmd = sub.add_parser("verify", help="run the suite on a store (default: every "
                                "preset) and write the claims-versus-observed report",
                                epilog=EXIT_STATUS_HELP)
    verify_cmd.add_argument("--store", default=None, metavar="TARGET",
                            help="a preset, mutant:NAME or package.module:factory "
                            "(default: every preset)")
    verify_cmd.add_argument("--profile", default=None, metavar="P",
                            help="replicheck profile: quick, ci or thorough (default: "
                            "$REPLICHECK_PROFILE, else ci when $CI is set, else quick)")
    verify_cmd.add_argument("--out", default="replicheck-report", metavar="DIR",
                            help="the report directory (default: replicheck-report/)")
    verify_cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    verify_cmd.add_argument("--json", action="store_true",
                            help="print the JSON report to stdout")
    verify_cmd.set_defaults(run=_verify)

    mutants = sub.add_parser("mutants", help="run the suite against every mutant of the "
                             "reference store and report which it catches",
                             epilog=EXIT_STATUS_HELP)
    mutants.add_argument("--profile", default="ci", metavar="P",
                         help="replicheck profile: quick, ci or thorough (default: ci)")
    mutants.add_argument("--json", action="store_true",
                         help="print a JSON array, one object per mutant")
    mutants.add_argument("--quiet", action="store_true", help="no progress lines")
    mutants.set_defaults(run=_mutants)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status. Any exception of a command that
    is not bad input (those are exit 2, handled by the command) is a defect: exit 4,
    the traceback written to a file (never a bare traceback, never exit 1)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(arguments)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from replicheck.histories.limits import LimitReached

    args.argv = arguments
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:
        raise
    except (Exception, LimitReached) as error:  # a limit escaping its check is a defect too
        return _report_crash(args, error, arguments)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
