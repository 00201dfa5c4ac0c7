"""The ``replicheck`` command line.

Exit statuses (CONTRACTS.md section 6): 0 everything holds, 1 a violation (or a
refuted law), 2 bad input or usage, 3 unknown (a time or memory limit was reached, or
undecided), 4 internal error: a defect of replicheck, never read as a verdict. Every
command goes through :func:`main`, where any exception that is not bad input becomes
exit 4 with one line on stderr naming the input and a file holding the traceback.
The ``check`` command is :mod:`replicheck.reports.check_command`; what every command
prints and the exit statuses are :mod:`replicheck.reports.console`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from replicheck.reports.console import EXIT_CRASH as EXIT_CRASH
from replicheck.reports.console import EXIT_OK as EXIT_OK
from replicheck.reports.console import EXIT_UNKNOWN as EXIT_UNKNOWN
from replicheck.reports.console import EXIT_USAGE as EXIT_USAGE
from replicheck.reports.console import EXIT_VIOLATION as EXIT_VIOLATION
from replicheck.reports.console import emit, fail_usage, printable
from replicheck.reports.escaping import terminal_line

if TYPE_CHECKING:
    from replicheck.properties.engine import ProgressEvent
    from replicheck.properties.outcomes import SuiteOutcome

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


def _call_timeout(text: str) -> float:
    """argparse type of ``--call-timeout``: a finite number of seconds > 0."""
    import math

    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a finite number of seconds > 0, got {text!r}")
    return seconds


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
        print(printable(terminal_line(line), sys.stderr), file=sys.stderr, flush=True)
    return EXIT_CRASH


def _check(args: argparse.Namespace) -> int:
    """``replicheck check``: see :func:`replicheck.reports.check_command.run_check`; a
    defect on one of several files is reported here (exit 4) and the others checked."""
    from replicheck.reports.check_command import run_check

    return run_check(args, _report_crash)


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
        return fail_usage(str(error))
    except UnknownStore as error:
        return fail_usage(f"{args.file}: {error}")
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
    one line per finished property otherwise; each with the property's own time
    (since its first event)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.began = time.perf_counter()
        self.current: tuple[str, str] | None = None
        self.width = 0

    def __call__(self, event: ProgressEvent) -> None:
        now = time.perf_counter()
        if (event.store, event.property) != self.current:  # a property starts
            self.current = (event.store, event.property)
            self.began = now
        elapsed = now - self.began
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
    from replicheck.properties.engine import BadStore, store_factory, verify
    from replicheck.properties.profiles import PROFILES, UnknownProfile, choose_profile

    if args.profile is not None and args.profile not in PROFILES:
        return fail_usage(f"unknown profile {args.profile!r}; choose one of: "
                           f"{', '.join(PROFILES)}")
    try:
        profile = choose_profile(args.profile)
    except UnknownProfile as error:
        return fail_usage(str(error))
    try:
        cap = _max_examples_cap()
    except ValueError as error:
        return fail_usage(str(error))
    targets = list(PRESETS) if args.store is None else [args.store]
    try:
        for target in targets:
            store_factory(target)
    except UnknownStore as error:
        return fail_usage(str(error).splitlines()[0])
    out = Path(args.out)
    try:
        (out / "replay").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return fail_usage(f"cannot create the report directory {out}: {error}")
    progress = None if args.quiet else _ProgressBar(sys.stderr)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="replicheck-failures-") as scratch:
        # the machines' own failure files: the reports' replay/ files supersede them
        try:
            outcome = verify(targets, profile=profile, max_examples=cap, progress=progress,
                             failure_dir=scratch, call_timeout=args.call_timeout)
        except BadStore as error:  # the factory raised or built no store
            return fail_usage(error.line)
    written = _write_reports(outcome, out)
    if args.json:
        from replicheck.reports.json_report import suite_to_json

        emit(json.dumps(suite_to_json(outcome), indent=2, default=str))
    elif not args.quiet:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    if not args.json:
        emit(_verify_summary(outcome))
    return outcome.exit_status


def _write_reports(outcome: SuiteOutcome, out: Path) -> list[Path]:
    """Write report.md, report.html, report.json and every counterexample's schedule
    (``replay/<store>-<property>.json``) under ``out``; the paths written."""
    from replicheck.properties.schedule import counterexample_schedule, dump
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
            schedule = counterexample_schedule(example)
            if schedule is None:
                continue
            path = out / replay_file_name(store.target, example.property, example.guarantee)
            if path in written:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            dump(schedule, path)
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
        unchecked = [c for c in store.cells if c.status == "unchecked"]
        observed = [c.guarantee for c in store.cells if c.status == "observed"]
        undecided = [*(f"unknown {g}" for g in unknown),
                     *(f"UNCHECKED {c.guarantee}" for c in unchecked)]
        verdict = ("VIOLATED " + ", ".join(violated) if violated
                   else "ERROR" if errors else "; ".join(undecided) if undecided
                   else "every claimed guarantee holds")
        lines.append(f"{store.target}: {verdict}"
                     + (f" (observed, not claimed: {', '.join(observed)})" if observed else ""))
        if not violated and not errors:
            lines += [f"  unchecked {c.guarantee}: {c.reason}" for c in unchecked]
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
    """``replicheck mutants``: run the suite against every mutant of the catalog, one
    progress line per mutant on stderr as it finishes (unless ``--quiet``; ``--json``
    keeps them, as ``verify`` keeps its progress: stdout holds only the JSON)."""
    from replicheck.properties.profiles import PROFILES

    if args.profile not in PROFILES:
        return fail_usage(f"unknown profile {args.profile!r}; choose one of: "
                           f"{', '.join(PROFILES)}")
    from tabulate import tabulate

    from replicheck.implementation.mutants import catalog
    from replicheck.properties import mutation

    out = Path(args.out)  # created when the first failure file is written
    if out.exists() and not out.is_dir():
        return fail_usage(f"--out {args.out}: exists and is not a folder")
    results = []
    for entry in catalog.MUTANTS:
        result = mutation.run_mutant(entry, profile=args.profile, out=out)
        results.append(result)
        if not args.quiet:
            print(terminal_line(mutation.progress_line(result)), file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        rows = [(r.name, r.preset, r.verdict if r.caught else r.verdict.upper(),
                 r.guarantee or "-",
                 "-" if r.seconds_to_failure is None else f"{r.seconds_to_failure:.2f}",
                 "-" if r.counterexample_steps is None else r.counterexample_steps,
                 r.step_unit or "-")
                for r in results]
        print(tabulate(rows, headers=["mutant", "preset", "verdict", "guarantee",
                                      "seconds", "steps", "counted in"]))
        escaped = [r.name for r in results if r.verdict == "escaped"]
        errors = [r for r in results if r.verdict == "error"]
        print(f"\n{len(results) - len(escaped) - len(errors)} of {len(results)} mutants "
              "caught" + (f"; escaped: {', '.join(escaped)}" if escaped else "")
              + (f"; errors: {', '.join(r.name for r in errors)}" if errors else ""))
        for r in errors:
            print(terminal_line(f"error in {r.name}: {r.error}"))
        replays = [r for r in results if r.schedule_file is not None]
        if replays:
            print("\nreplay a shrunk counterexample:")
        for r in replays:
            print(terminal_line(f"  {r.name}: replicheck replay {r.schedule_file}"))
        if out.is_dir():
            print(terminal_line(f"failure files (schedules to replay) in {out}/"))
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
    verify_cmd.add_argument("--call-timeout", type=_call_timeout, default=30.0,
                            metavar="S",
                            help="seconds a store call may take, a finite number > 0: a "
                            "call that does not return within S ends its property as an "
                            "error naming the call (exit 1) (default 30)")
    verify_cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    verify_cmd.add_argument("--json", action="store_true",
                            help="print the JSON report to stdout")
    verify_cmd.set_defaults(run=_verify)

    mutants = sub.add_parser("mutants", help="run the suite against every mutant of the "
                             "reference store and report which it catches",
                             epilog="Here 0 means every mutant was caught (by a "
                             "violation of a claimed guarantee) and 1 that a mutant escaped "
                             "or errored (an exception in the store or the suite is never a "
                             "catch). " + EXIT_STATUS_HELP)
    mutants.add_argument("--profile", default="ci", metavar="P",
                         help="replicheck profile: quick, ci or thorough (default: ci)")
    mutants.add_argument("--out", default="replicheck-mutants", metavar="DIR",
                         help="the folder failing examples' schedules are written to "
                         "(default: replicheck-mutants/)")
    mutants.add_argument("--json", action="store_true",
                         help="print a JSON array, one object per mutant, on stdout (the "
                         "progress lines stay on stderr)")
    mutants.add_argument("--quiet", action="store_true",
                         help="no progress lines (one per mutant, on stderr, as it "
                         "finishes)")
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
