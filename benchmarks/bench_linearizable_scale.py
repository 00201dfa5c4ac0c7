"""Scale of the linearizability checker: a valid key-value register history of N
operations over K keys (default 1,000,000 over 1,000), built in memory, then checked
with the history split by key. Prints checking time (building excluded), the peak
resident memory of the process, and what building alone took, so the checker's own
share can be read off.

    .venv/bin/python benchmarks/bench_linearizable_scale.py [--ops N] [--keys K]
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import time

from replicheck.histories.checkers.linearizable import check_linearizable
from replicheck.histories.history import History, Operation
from replicheck.models.specs import KV


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(n: int, keys: int, processes: int, seed: int) -> History:
    """Process p runs operations p, p + P, p + 2P, ...; operation i is invoked at 2i
    and returns at 2i + 2P - 1, so P operations overlap at any time, and the order
    i = 0, 1, 2, ... lies inside every interval: a valid linearization by construction."""
    rng = random.Random(seed)
    state: dict[str, str] = {}
    ops = []
    for i in range(n):
        key = str(rng.randrange(keys))
        if rng.random() < 0.5:
            value = f"v{i} "
            state[key] = value
            f, given, seen = "put", value, None
        else:
            f, given, seen = "get", None, state.get(key, "")
        ops.append(Operation(i, i % processes, f, key, given, seen if f == "get" else given,
                             "ok", 2 * i, 2 * i + 2 * processes - 1))
    return History(tuple(ops))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    base = peak_rss_mb()
    gc.disable()
    started = time.perf_counter()
    history = build(args.ops, args.keys, args.processes, args.seed)
    built = time.perf_counter() - started
    gc.enable()
    after_build = peak_rss_mb()
    started = time.perf_counter()
    verdict = check_linearizable(history, KV, model="kv")
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    print(f"operations        {args.ops:,} over {args.keys:,} keys, "
          f"{args.processes} concurrent processes")
    print(f"verdict           {verdict.valid} ({len(verdict.parts)} parts, "
          f"{verdict.stats.states:,} states)")
    print(f"build time        {built:.1f} s (not part of checking)")
    print(f"checking time     {seconds:.1f} s  ({args.ops / seconds:,.0f} operations/s)")
    print(f"peak RSS          {peak:,.0f} MB  (interpreter {base:,.0f} MB, after building "
          f"the history {after_build:,.0f} MB, so checking added {peak - after_build:,.0f} MB;"
          f" ratio peak / history {peak / after_build:.2f})")


if __name__ == "__main__":
    main()
