"""The ``replicheck`` command line.

Exit statuses (CONTRACTS.md section 6): 0 everything holds, 1 a violation (or a
refuted law), 2 bad input or usage, 3 unknown (a solver or a search ran out of time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3


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


def _emit(text: str) -> None:
    """Print ``text``; a reader that went away (``| head``) changes nothing: the exit
    status still says the verdict."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _fail_usage(message: str) -> int:
    print(f"replicheck: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _check(args: argparse.Namespace) -> int:
    import gc

    from replicheck.histories.formats import load
    from replicheck.histories.history import HistoryError
    from replicheck.histories.judge import (
        ModelChoiceError,
        check,
        drop_unknown_functions,
        infer_model,
    )
    from replicheck.histories.verdict import exit_status
    from replicheck.reports.text import render_verdict

    gc.disable()  # reading builds many small objects and no cycles: skip the collector
    try:
        history = load(args.history, args.format, lenient=args.lenient)
    except FileNotFoundError:
        return _fail_usage(f"no such history file: {args.history}")
    except (HistoryError, UnicodeDecodeError) as error:
        return _fail_usage(str(error))
    finally:
        gc.enable()
    consistency = [c.strip() for c in args.consistency.split(",")] if args.consistency else None
    try:
        if args.lenient:
            history = drop_unknown_functions(history, args.model or infer_model(history))
        verdict = check(history, args.model, consistency, args.timeout)
    except (ModelChoiceError, ValueError) as error:
        return _fail_usage(f"{args.history}: {error}")
    if args.json:
        _emit(json.dumps(verdict.to_json(), indent=2))
    else:
        _emit(render_verdict(verdict, source=args.history, skipped=history.skipped))
    return exit_status(verdict.valid)


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
                 "-" if r.counterexample_steps is None else r.counterexample_steps)
                for r in results]
        print(tabulate(rows, headers=["mutant", "preset", "verdict", "guarantee",
                                      "seconds", "steps"]))
        escaped = [r.name for r in results if not r.caught]
        print(f"\n{len(results) - len(escaped)} of {len(results)} mutants caught"
              + (f"; escaped: {', '.join(escaped)}" if escaped else ""))
    return EXIT_OK if all(r.caught for r in results) else EXIT_VIOLATION


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``replicheck`` command."""
    parser = argparse.ArgumentParser(
        prog="replicheck",
        description="Property-based consistency verification for replicated key-value stores.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    prove = sub.add_parser("prove", help="prove the models' laws with z3 and print the results")
    prove.add_argument("--json", action="store_true", help="print one JSON object")
    prove.add_argument("--quiet", action="store_true", help="no progress lines")
    prove.set_defaults(run=_prove)

    check = sub.add_parser("check", help="judge a recorded history against a consistency model")
    check.add_argument("history", metavar="HISTORY", help="the history file")
    check.add_argument("--format", choices=("jsonl", "edn", "jepsen-log"), default=None,
                       help="the history's format (default: detected from its content)")
    check.add_argument("--model", default=None, metavar="M",
                       help="register, cas-register, kv, item, list-append or rw-register "
                       "(default: implied by the history's functions)")
    check.add_argument("--consistency", default=None, metavar="C",
                       help="consistency model(s) to check, comma-separated "
                       "(default: linearizable, or strict-serializable for transactions)")
    check.add_argument("--timeout", type=float, default=300.0, metavar="S",
                       help="give up after S seconds with 'unknown' (default 300; 0: none)")
    check.add_argument("--lenient", action="store_true",
                       help="report and skip malformed records instead of stopping")
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check.set_defaults(run=_check)

    replay = sub.add_parser("replay", help="rerun a recorded schedule and judge its history")
    replay.add_argument("file", metavar="FILE", help="the schedule file (JSON)")
    replay.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="checker time limit per guarantee (default 30; 0: none)")
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    replay.set_defaults(run=_replay)

    mutants = sub.add_parser("mutants", help="run the suite against every mutant of the "
                             "reference store and report which it catches")
    mutants.add_argument("--profile", default="ci", metavar="P",
                         help="replicheck profile: quick, ci or thorough (default: ci)")
    mutants.add_argument("--json", action="store_true",
                         help="print a JSON array, one object per mutant")
    mutants.add_argument("--quiet", action="store_true", help="no progress lines")
    mutants.set_defaults(run=_mutants)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    status: int = args.run(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
