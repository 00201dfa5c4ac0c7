"""How fast the threaded property runs: examples per second of
``concurrent-histories-on-threads`` on the in-memory store and on the example adapter
of ``replicheck.properties.plugging_in``, under the ``ci`` profile's settings
(derandomized, no shrinking needed: they pass), with the suite's step bound. Each
example starts real threads per batch, records with the monotonic clock, judges every
guarantee, deletes what it wrote and closes the store.

    .venv/bin/python benchmarks/bench_threaded.py [--examples N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from tabulate import tabulate

from replicheck.implementation.memory import MemoryStore
from replicheck.properties.examples import collecting
from replicheck.properties.plugging_in import make_store
from replicheck.properties.suite import STEPS
from replicheck.properties.threaded import threaded_machine

STORES: dict[str, Callable[[], Any]] = {"memory": MemoryStore, "example": make_store}


def _row(name: str, factory: Callable[[], Any], examples: int) -> tuple[Any, ...]:
    chosen = settings(max_examples=examples, derandomize=True, database=None,
                      deadline=None, stateful_step_count=STEPS,
                      suppress_health_check=list(HealthCheck))
    start = time.perf_counter()
    with collecting() as reports:
        run_state_machine_as_test(threaded_machine(factory), settings=chosen)
    seconds = time.perf_counter() - start
    ran = len(reports)  # one report per example judged (Hypothesis may add a few)
    return name, ran, f"{seconds:.2f}", f"{ran / seconds:.1f}"


def main() -> None:
    """Print one row per store: examples run, seconds, examples per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100)
    args = parser.parse_args()
    rows = [_row(name, factory, args.examples) for name, factory in STORES.items()]
    print(tabulate(rows, headers=("store", "examples", "seconds", "examples/s")))


if __name__ == "__main__":
    main()
