"""Elle-style list-append checking at scale: time and peak memory by history size.

The workload is Elle's: transactions of 1 to 5 micro-operations (reads and appends),
100 keys active at a time, each key retired after 100 appends, run by 10 concurrent
clients against a simulated snapshot-isolation store (so there is real concurrency,
failed transactions from first-committer-wins conflicts, and some write skew). The
history is built in memory first; only checking is timed (``check_list_append`` with
its default, strict serializability). Peak memory is measured in a second run under
``tracemalloc`` (which slows allocation, so it is not timed).

Usage::

    .venv/bin/python benchmarks/bench_elle.py                 # 10k, 20k, 50k, 100k
    .venv/bin/python benchmarks/bench_elle.py --sizes 2000,5000
    .venv/bin/python benchmarks/bench_elle.py --store serializable --no-memory

The target: 100 000 transactions in under 5 s on one core, growing linearly. Wall and
CPU time of the best of ``--repeat`` runs are printed; ``us/txn`` and the growth
exponent (the slope of log(CPU time) against log(size); 1 = linear) use CPU time, which
other processes on a busy machine disturb less. A calibration loop is timed too, and the
load average printed, so that numbers from different machines can be compared.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
import tracemalloc
from collections import Counter
from itertools import pairwise

from replicheck.histories.checkers.elle import check_list_append
from replicheck.histories.checkers.elle.generate import list_append_history


def calibrate() -> float:
    """Seconds for a fixed pure-Python loop (dict and list work, ~1M steps)."""
    started = time.perf_counter()
    d: dict[int, list[int]] = {}
    for i in range(1_000_000):
        d.setdefault(i & 1023, []).append(i)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,20000,50000,100000",
                        help="comma-separated numbers of transactions")
    parser.add_argument("--store", default="snapshot-isolation",
                        choices=("snapshot-isolation", "serializable"))
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lag", type=float, default=0.0,
                        help="stale reads: snapshots this long before invocation "
                             "(a broken store; typical durations are 1-10)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs per size (the best is kept)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the tracemalloc run")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}; load average {load:.2f}; "
          f"calibration loop {calibrate():.3f} s")
    print(f"store: {args.store}, {args.clients} clients, 100 active keys, 100 appends "
          "per key, 1-5 micro-ops per transaction")
    header = (f"{'txns':>8} {'ok':>7} {'fail':>6} {'wall s':>7} {'cpu s':>7} {'us/txn':>7} "
              f"{'peak MB':>8} {'valid':>7}  anomalies")
    print(header)
    print("-" * len(header))
    points: list[tuple[int, float]] = []
    for n in sizes:
        history = list_append_history(n, store=args.store, clients=args.clients,
                                      lag=args.lag, seed=args.seed)
        statuses = Counter(op.status for op in history.operations)
        best = cpu = math.inf
        verdict = None
        for _ in range(args.repeat):
            gc.collect()
            started, started_cpu = time.perf_counter(), time.process_time()
            verdict = check_list_append(history)
            best = min(best, time.perf_counter() - started)
            cpu = min(cpu, time.process_time() - started_cpu)
        assert verdict is not None
        peak = float("nan")
        if not args.no_memory:
            gc.collect()
            tracemalloc.start()
            check_list_append(history)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        kinds = Counter(a.type for a in verdict.anomalies)
        found = ", ".join(f"{t} {c}" for t, c in sorted(kinds.items())) or "none"
        print(f"{n:>8} {statuses['ok']:>7} {statuses['fail']:>6} {best:>7.2f} {cpu:>7.2f} "
              f"{cpu / n * 1e6:>7.1f} {peak:>8.1f} {verdict.valid!s:>7}  {found}")
        points.append((n, cpu))
        del history, verdict
    if len(points) > 1:
        xs = [math.log(n) for n, _ in points]
        ys = [math.log(t) for _, t in points]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
                 / sum((x - mx) ** 2 for x in xs))
        steps = ", ".join(f"x{b[1] / a[1]:.2f} for x{b[0] / a[0]:.1f}"
                          for a, b in pairwise(points))
        print(f"growth: time exponent {slope:.2f} (1 = linear); {steps}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
