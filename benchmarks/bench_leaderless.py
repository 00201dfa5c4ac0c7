"""Speed of the leaderless reference store, and the cost of Merkle anti-entropy.

Run from the repository root:

    .venv/bin/python benchmarks/bench_leaderless.py [--ops 5000] [--max-exp 5] [--repeat 3]

1. Simulated operations per second on a 5-node cluster (both presets), taken by the
   fair policy: ``--ops`` operations (half puts, half gets over 1000 keys) run one at a
   time through ``execute``, and the same number submitted by 10 concurrent clients
   and run to completion by ``Simulation.run``. Reported: operations per second of
   wall time (best of ``--repeat``), and messages delivered per operation.

2. Merkle anti-entropy cost: ``n = 10**3 .. 10**max-exp`` keys are bulk-loaded into
   two replicas ``n1`` and ``n2`` (only the keys of the ranges both replicate count),
   then ``d`` of those keys are changed on ``n1`` alone and ``n1`` syncs with ``n2``.
   Reported: node hashes compared, bucket entries compared, bytes exchanged, keys
   repaired, round trips, and the hashes set against ``d * log2(n)``. Two tree shapes:
   the store's default (fan-out 4, depth 4 per ring range, 40 ranges) and one whose
   depth grows with ``n`` (about 8 keys per bucket).

No assertion is made on time: the numbers are for comparison on the same machine.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import replace

from tabulate import tabulate

from replicheck.implementation.reference.leaderless import (
    DYNAMO_LWW,
    DYNAMO_QUORUM,
    LeaderlessConfig,
    LeaderlessStore,
)
from replicheck.implementation.store import Get, Put

TABLE = "items"
PRESETS = {"dynamo-lww": DYNAMO_LWW, "dynamo-quorum": DYNAMO_QUORUM}


def sequential(config: LeaderlessConfig, ops: int, seed: int = 1) -> tuple[float, float]:
    """(seconds, messages delivered per operation) for ``ops`` calls of ``execute``."""
    rng = random.Random(seed)
    store = LeaderlessStore(config)
    start = time.perf_counter()
    for i in range(ops):
        key = f"k{rng.randrange(1000)}"
        store.execute(Put(TABLE, {"pk": key, "v": i}) if i % 2 == 0 else Get(TABLE, {"pk": key}))
    return time.perf_counter() - start, store.sim.stats["delivered"] / ops


def concurrent(config: LeaderlessConfig, ops: int, clients: int = 10,
               seed: int = 1) -> tuple[float, float]:
    """(seconds, messages per operation) for ``ops`` operations, ``clients`` at a time."""
    rng = random.Random(seed)
    store = LeaderlessStore(config)
    start = time.perf_counter()
    done = 0
    while done < ops:
        batch = [store.submit(f"c{c}", Put(TABLE, {"pk": f"k{rng.randrange(1000)}", "v": c})
                              if (done + c) % 2 == 0 else
                              Get(TABLE, {"pk": f"k{rng.randrange(1000)}"}))
                 for c in range(min(clients, ops - done))]
        store.sim.run(lambda: all(h.done for h in batch))  # noqa: B023 (run at once)
        done += len(batch)
    return time.perf_counter() - start, store.sim.stats["delivered"] / ops


def throughput(ops: int, repeat: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, config in PRESETS.items():
        for mode, run in (("sequential", sequential), ("10 clients", concurrent)):
            best = min((run(config, ops) for _ in range(repeat)), key=lambda r: r[0])
            rows.append([name, mode, ops, f"{ops / best[0]:,.0f}", f"{best[1]:.1f}"])
    return rows


def scaled_depth(n: int, config: LeaderlessConfig, per_bucket: int = 8) -> int:
    ranges = config.nodes * config.vnodes
    keys_per_range = max(1.0, n / ranges)
    return max(1, math.ceil(math.log(keys_per_range / per_bucket, config.merkle_fanout)))


def merkle_cost(max_exp: int, ds: tuple[int, ...]) -> list[list[object]]:
    rows: list[list[object]] = []
    for exp in range(3, max_exp + 1):
        n = 10**exp
        for shape in ("default", "scaled"):
            config = DYNAMO_LWW if shape == "default" else replace(
                DYNAMO_LWW, merkle_depth=scaled_depth(n, DYNAMO_LWW))
            store = LeaderlessStore(config)
            load_start = time.perf_counter()
            store.bulk_load(TABLE, ({"pk": f"k{i}", "v": 0} for i in range(n)),
                            nodes=["n1", "n2"])
            load_seconds = time.perf_counter() - load_start
            shared = set(store.ring.shared_ranges("n1", "n2"))
            both = [f"k{i}" for i in range(n)
                    if store.ring.partition_of((f"k{i}",)).name in shared]
            rng = random.Random(exp)
            for d in ds:
                if d > len(both):
                    continue
                changed = rng.sample(both, d)
                store.bulk_load(TABLE, ({"pk": k, "v": d} for k in changed), nodes=["n1"])
                sync_start = time.perf_counter()
                stats = store.anti_entropy("n1", "n2", TABLE)
                sync_seconds = time.perf_counter() - sync_start
                result = store.last_sync
                assert result is not None and stats.keys_repaired == d
                bound = d * math.log2(n)
                rows.append([
                    f"10^{exp}", len(both), shape,
                    f"{config.merkle_fanout}^{config.merkle_depth}", d,
                    stats.hashes_compared, result.entries_compared, stats.bytes_exchanged,
                    stats.keys_repaired, result.round_trips, f"{bound:.0f}",
                    f"{stats.hashes_compared / bound:.2f}", f"{sync_seconds * 1000:.1f}",
                    f"{load_seconds:.1f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-exp", type=int, default=5,
                        help="largest n is 10**max-exp (6 takes minutes)")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}")
    print("\nSimulated operations per second (5 nodes, fair policy)")
    print(tabulate(throughput(args.ops, args.repeat),
                   headers=["preset", "mode", "ops", "ops/s", "msgs/op"]))
    print("\nMerkle anti-entropy n1 <-> n2: d differing keys out of n")
    print(tabulate(merkle_cost(args.max_exp, (1, 10, 100, 1000)),
                   headers=["n", "keys on both", "shape", "fanout^depth", "d", "hashes",
                            "entries", "bytes", "repaired", "round trips", "d*log2(n)",
                            "hashes/(d log2 n)", "sync ms", "load s"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
