"""The linearizability checker against porcupine's Go checker, over porcupine's corpus.

Every history of ``../shared/corpus/porcupine`` (or ``$REPLICHECK_CORPUS/porcupine``)
is loaded first — parsing is excluded from timing, as it is from the Go times in the
manifest — then ``check_linearizable`` is timed on each (best of ``--repeat`` runs):
``jepsen/*.log`` as a compare-and-set register, ``kv/*.txt`` as a key-value store split
by key. The table gives each history's verdict, our time, the Go checker's
(``reference_checker_ns``, measured on the same kind of 2-core machine) and the ratio;
then the totals and the total ratio (ours / Go; below 1 is faster than Go). Wall time
is what the table shows; total CPU time is printed too, since other processes on a busy
machine disturb it less. The unsplit key-value histories c01 and c10 are timed last
against ``reference_checker_unpartitioned_ns``, each with a time limit.

Usage::

    .venv/bin/python benchmarks/bench_porcupine.py
    .venv/bin/python benchmarks/bench_porcupine.py --repeat 5 --unsplit-limit 30
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from replicheck.histories.checkers.linearizable import check_linearizable
from replicheck.histories.formats import load
from replicheck.histories.history import History
from replicheck.models.specs import CAS_REGISTER, KV, SequentialSpec

ROOT = Path(__file__).resolve().parents[1]


def corpus() -> Path:
    env = os.environ.get("REPLICHECK_CORPUS")
    base = Path(env) if env else ROOT.parent / "shared" / "corpus"
    root = base / "porcupine"
    if not (root / "manifest.json").is_file():
        sys.exit(f"porcupine corpus not found at {root} (set REPLICHECK_CORPUS)")
    return root


def model_of(name: str) -> tuple[str, SequentialSpec[Any]]:
    return ("kv", KV) if name.startswith("kv/") else ("cas-register", CAS_REGISTER)


def timed(history: History, model: str, spec: SequentialSpec[Any], repeat: int,
          split: bool = True, limit: float | None = None) -> tuple[Any, float, float]:
    """The verdict, and the best wall and CPU seconds over ``repeat`` runs."""
    best_wall = best_cpu = float("inf")
    verdict = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        verdict = check_linearizable(history, spec, model=model, split=split, timeout=limit)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return verdict, best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per history (best)")
    parser.add_argument("--unsplit-limit", type=float, default=20.0,
                        help="seconds allowed per unsplit key-value history")
    args = parser.parse_args()
    root = corpus()
    manifest = json.loads((root / "manifest.json").read_text())["histories"]
    loaded = [(entry, load(root / entry["file"])) for entry in manifest]

    print(f"{'file':<22} {'verdict':<8} {'ours ns':>13} {'Go ns':>13} {'ratio':>7}")
    total_ours = total_cpu = total_go = 0.0
    wrong = []
    for entry, history in loaded:
        model, spec = model_of(entry["file"])
        verdict, wall, cpu = timed(history, model, spec, args.repeat)
        go = entry["reference_checker_ns"] / 1e9
        total_ours += wall
        total_cpu += cpu
        total_go += go
        if verdict.valid is not entry["linearizable"]:
            wrong.append(entry["file"])
        print(f"{entry['file']:<22} {verdict.valid!s:<8} {wall * 1e9:>13,.0f} "
              f"{go * 1e9:>13,.0f} {wall / go:>7.2f}")
    print()
    print(f"histories: {len(loaded)}, verdicts as known: {len(loaded) - len(wrong)}"
          + (f" (WRONG: {', '.join(wrong)})" if wrong else ""))
    print(f"total ours (wall): {total_ours:.3f} s   Go: {total_go:.3f} s   "
          f"ratio ours/Go: {total_ours / total_go:.2f}")
    print(f"total ours (CPU):  {total_cpu:.3f} s   ratio ours/Go: {total_cpu / total_go:.2f}")

    print()
    print("unsplit key-value histories (one search over all keys):")
    print(f"{'file':<22} {'verdict':<8} {'ours ns':>15} {'Go ns':>15} {'ratio':>7}")
    for entry, history in loaded:
        go_ns = entry.get("reference_checker_unpartitioned_ns")
        if not go_ns:
            continue
        name = entry["file"]
        repeat = args.repeat if go_ns < 1e8 else 1
        verdict, wall, _ = timed(history, "kv", KV, repeat, split=False,
                                 limit=args.unsplit_limit)
        if verdict.valid == "unknown":
            print(f"{name:<22} {'unknown':<8} {'unknown after':>13} "
                  f"{args.unsplit_limit:g} s {go_ns:>15,.0f}")
            continue
        print(f"{name:<22} {verdict.valid!s:<8} {wall * 1e9:>15,.0f} {go_ns:>15,.0f} "
              f"{wall * 1e9 / go_ns:>7.2f}")


if __name__ == "__main__":
    main()
