"""How fast the leader-mode reference store simulates: operations per second of wall
time for the ``dynamodb`` preset (5 nodes, 3 partitions replicated 3 ways) under the
fair scheduling policy.

Run from the repository root:

    .venv/bin/python benchmarks/bench_leader.py [--ops 2000] [--repeat 3] [--keys 100]

Workloads, each on a fresh cluster, best of ``--repeat`` runs:

- ``put``: single-item writes one after another (``execute``);
- ``get-strong`` / ``get-eventual``: reads of written keys;
- ``conditional-update``: ``ADD n :one`` guarded by ``attribute_exists(pk)``;
- ``transact-write``: two-item transactions, items usually in two partitions
  (two-phase commit);
- ``transact-get``: two-item atomic reads;
- ``mixed-10-clients``: 10 clients with one operation in flight each (60 % strong reads,
  30 % puts, 10 % transactions), all driven together by the fair policy.

Reported: operations per second, messages delivered per operation, and simulated
seconds elapsed. No assertion is made on time: the numbers are for comparison on the
same machine.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from tabulate import tabulate

from replicheck.implementation.reference.leader import LeaderStore, dynamodb
from replicheck.implementation.store import (
    Get,
    Handle,
    Put,
    TransactGet,
    TransactWrite,
    Update,
)
from replicheck.models.items.requests import Request

Workload = Callable[[LeaderStore, int, int], None]


def _sequential(make: Callable[[int, int], Request]) -> Workload:
    def run(store: LeaderStore, ops: int, keys: int) -> None:
        for i in range(ops):
            store.execute(make(i, keys))
    return run


def _prefill(store: LeaderStore, keys: int) -> None:
    for k in range(keys):
        store.execute(Put("items", {"pk": f"k{k}", "n": 0}))


def _mixed(store: LeaderStore, ops: int, keys: int) -> None:
    rng = random.Random(1)
    clients = [f"c{i}" for i in range(10)]
    active: dict[str, Handle] = {}
    submitted = 0
    while submitted < ops or active:
        for client in clients:
            handle = active.get(client)
            if handle is not None and not handle.done:
                continue
            active.pop(client, None)
            if submitted >= ops:
                continue
            submitted += 1
            k = rng.randrange(keys)
            roll = rng.random()
            request: Request
            if roll < 0.6:
                request = Get("items", {"pk": f"k{k}"}, consistent=True)
            elif roll < 0.9:
                request = Put("items", {"pk": f"k{k}", "n": submitted})
            else:
                request = TransactWrite((Put("items", {"pk": f"k{k}", "n": submitted}),
                                         Put("items", {"pk": f"k{(k + 1) % keys}"})))
            active[client] = store.submit(client, request)
        decision = store.sim.default_decision()
        if decision is None:
            break
        store.decide(decision)


WORKLOADS: dict[str, tuple[Workload, bool]] = {
    "put": (_sequential(lambda i, keys: Put("items", {"pk": f"k{i % keys}", "n": i})), False),
    "get-strong": (_sequential(
        lambda i, keys: Get("items", {"pk": f"k{i % keys}"}, consistent=True)), True),
    "get-eventual": (_sequential(lambda i, keys: Get("items", {"pk": f"k{i % keys}"})), True),
    "conditional-update": (_sequential(lambda i, keys: Update(
        "items", {"pk": f"k{i % keys}"}, "ADD n :one", "attribute_exists(pk)",
        values={":one": 1})), True),
    "transact-write": (_sequential(lambda i, keys: TransactWrite((
        Put("items", {"pk": f"k{i % keys}", "n": i}),
        Put("items", {"pk": f"k{(i * 7 + 3) % keys}", "n": i})))), False),
    "transact-get": (_sequential(lambda i, keys: TransactGet((
        Get("items", {"pk": f"k{i % keys}"}), Get("items", {"pk": f"k{(i * 7 + 3) % keys}"})))),
        True),
    "mixed-10-clients": (_mixed, True),
}


def measure(name: str, ops: int, keys: int, repeat: int) -> list[object]:
    """Best of ``repeat`` runs of workload ``name``: a table row."""
    workload, prefill = WORKLOADS[name]
    best = float("inf")
    delivered = 0
    simulated = 0.0
    for _ in range(repeat):
        store = dynamodb()
        if prefill:
            _prefill(store, keys)
        before = store.sim.stats["delivered"]
        sim_before = store.sim.now
        started = time.perf_counter()
        workload(store, ops, keys)
        elapsed = time.perf_counter() - started
        if elapsed < best:
            best = elapsed
            delivered = store.sim.stats["delivered"] - before
            simulated = store.sim.now - sim_before
    return [name, ops, f"{ops / best:,.0f}", f"{delivered / ops:.1f}", f"{simulated:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=sorted(WORKLOADS), action="append")
    args = parser.parse_args()
    rows = [measure(name, args.ops, args.keys, args.repeat)
            for name in (args.only or WORKLOADS)]
    print(tabulate(rows, headers=["workload", "ops", "ops/s", "messages/op",
                                  "simulated s"], colalign=("left", "right", "right",
                                                            "right", "right")))


if __name__ == "__main__":
    main()
