"""Cost of the stale-read and lost-update detectors: a linearizable register history
of N operations over K keys (default 20,000 over 20: 1,000 per key, so the per-key
search is what is measured), P operations overlapping at any time, half reads, a
quarter writes, a quarter cas; then the same history with one stale read planted at
the end of each key. Prints the time of each detector on each (building excluded)
and what it found.

    .venv/bin/python benchmarks/bench_stale_lost.py [--ops N] [--keys K] [--processes P]
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import replace

from replicheck.histories.checkers.lost_update import find_lost_updates
from replicheck.histories.checkers.stale_read import check_stale_reads
from replicheck.histories.history import History, Operation


def build(n: int, keys: int, processes: int, seed: int) -> History:
    """Operation i is invoked at 2i and returns at 2i + 2P - 1: the order 0, 1, 2, ...
    lies inside every interval, so the history is linearizable by construction."""
    rng = random.Random(seed)
    state: dict[str, object] = {}
    ops = []
    for i in range(n):
        key = f"k{rng.randrange(keys)}"
        roll = rng.random()
        current = state.get(key)
        if roll < 0.5:
            f, given, seen = "read", None, current
        elif roll < 0.75 or current is None:
            f, given, seen = "write", f"v{i}", None
            state[key] = given
        else:
            f, given, seen = "cas", [current, f"v{i}"], None
            state[key] = f"v{i}"
        ops.append(Operation(i, i % processes, f, key, given, seen if f == "read" else given,
                             "ok", 2 * i, 2 * i + 2 * processes - 1))
    return History(tuple(ops))


def planted(history: History, keys: int) -> History:
    """``history`` and, per key, a read after everything that returns the key's first
    written value (stale when the key was written again)."""
    ops = list(history.operations)
    end = max(op.ret or 0 for op in ops) + 1
    firsts: dict[str, object] = {}
    for op in ops:
        if op.f == "write" and op.key not in firsts:
            firsts[str(op.key)] = op.input
    for j, (key, value) in enumerate(sorted(firsts.items())):
        ops.append(Operation(len(ops), 10_000 + j, "read", key, None, value, "ok",
                             end + 2 * j, end + 2 * j + 1))
    return replace(history, operations=tuple(ops))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--processes", type=int, default=8)
    args = parser.parse_args()
    valid = build(args.ops, args.keys, args.processes, seed=1)
    for name, history in (("linearizable", valid), ("planted", planted(valid, args.keys))):
        began = time.perf_counter()
        stale = check_stale_reads(history, timeout=600)
        middle = time.perf_counter()
        lost = find_lost_updates(history)
        done = time.perf_counter()
        print(f"{name}: {len(history.operations)} operations over {args.keys} keys: "
              f"stale-read {middle - began:.2f} s ({len(stale.anomalies)} found, "
              f"valid={stale.valid}), lost-update {done - middle:.2f} s ({len(lost)} found)")


if __name__ == "__main__":
    main()
