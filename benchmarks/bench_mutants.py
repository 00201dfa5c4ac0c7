"""How fast the suite catches each mutant, and how fast the machines run.

For every mutant of the catalog: the time until the first failing example under the
``ci`` profile (no shrinking), the median over three store seeds, and the rules in
that failing example. Then the stateful steps per second of machine 2 on each
reference preset (the baseline the mutants' times are measured against).

    .venv/bin/python benchmarks/bench_mutants.py [--examples N] [--seeds K] [MUTANT ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from tabulate import tabulate

from replicheck.implementation.mutants import MUTANTS
from replicheck.implementation.presets import PRESETS, preset
from replicheck.properties.machines import concurrency_machine
from replicheck.properties.mutation import STEPS, run_mutant


def _mutant_rows(names: list[str], examples: int | None, seeds: int) -> list[tuple[Any, ...]]:
    rows = []
    for entry in MUTANTS:
        if names and entry.name not in names:
            continue
        results = [run_mutant(entry, "ci", examples, shrink=False, seed=seed)
                   for seed in range(seeds)]
        times = [r.seconds_to_failure for r in results if r.seconds_to_failure is not None]
        steps = [r.counterexample_steps for r in results
                 if r.counterexample_steps is not None]
        caught = sum(r.caught for r in results)
        guarantees = sorted({r.guarantee for r in results if r.guarantee})
        rows.append((entry.name, entry.preset, f"{caught}/{seeds}",
                     ", ".join(guarantees) or "-",
                     f"{statistics.median(times):.3f}" if times else "-",
                     f"{statistics.median(steps):.0f}" if steps else "-"))
        print(f"  {entry.name}: done", flush=True)
    return rows


def _steps_per_second(factory: Callable[[], Any], examples: int) -> tuple[float, int]:
    counted = {"rules": 0}
    machine = concurrency_machine(factory, max_steps=STEPS)

    class Counted(machine):  # type: ignore[valid-type,misc]
        def teardown(self) -> None:
            counted["rules"] += getattr(self, "rules_run", 0)
            super().teardown()

    Counted.__name__ = Counted.__qualname__ = "Concurrency"
    chosen = settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      stateful_step_count=STEPS, print_blob=False,
                      phases=(Phase.explicit, Phase.generate),
                      suppress_health_check=list(HealthCheck))
    start = time.perf_counter()
    run_state_machine_as_test(_as_machine(Counted), settings=chosen)
    seconds = time.perf_counter() - start
    return counted["rules"] / seconds if seconds else 0.0, counted["rules"]


def _as_machine(cls: type) -> type[RuleBasedStateMachine]:
    return cls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mutants", nargs="*", help="mutant names (default: every one)")
    parser.add_argument("--examples", type=int, default=None,
                        help="examples per machine (default: the ci profile's)")
    parser.add_argument("--seeds", type=int, default=3, help="store seeds per mutant")
    parser.add_argument("--baseline-examples", type=int, default=20,
                        help="examples per preset for the steps-per-second baseline")
    args = parser.parse_args()

    rows = _mutant_rows(args.mutants, args.examples, args.seeds)
    print(tabulate(rows, headers=["mutant", "preset", "caught", "guarantee",
                                  "median s to failure", "steps"]))
    print()
    baseline = []
    for name in PRESETS:
        rate, rules = _steps_per_second(lambda name=name: preset(name, 0),
                                        args.baseline_examples)
        baseline.append((name, rules, f"{rate:.0f}"))
    print(tabulate(baseline, headers=["reference preset", "rules run", "steps per second"]))


if __name__ == "__main__":
    main()
