"""How fast the suite catches each mutant, and how fast its machines run.

For every mutant of the catalog: the time until the first failing example (no
shrinking), over several Hypothesis seeds: each seed is a different random search
(``derandomize`` off, the seed set with ``hypothesis.seed``), the store seed stays 0.
Reported: how many searches caught it, the guarantee(s) that failed, and the median,
fastest and slowest time to the first failure (from the start of the first machine,
machines that found nothing included).

Then the baseline, measured in the same run: the stateful steps (rules) per second
of every property of the suite that applies to each reference preset, over a fixed
number of derandomized examples.

    .venv/bin/python benchmarks/bench_mutants.py [--seeds N] [--quick] [--examples N]
                                                  [--baseline-examples N] [MUTANT ...]

``--quick``: two seeds, at most 25 examples per machine, 5 baseline examples.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from tabulate import tabulate

from replicheck.implementation.mutants import MUTANTS
from replicheck.implementation.presets import PRESETS, preset
from replicheck.properties.mutation import STEPS, run_mutant
from replicheck.properties.suite import PROPERTIES


def _seconds(values: list[float], pick: Callable[[list[float]], float]) -> str:
    return f"{pick(values):.2f}" if values else "-"


def mutant_rows(names: list[str], examples: int | None, seeds: int) -> list[tuple[Any, ...]]:
    """One row per mutant: caught/seeds, guarantees, median/min/max seconds."""
    rows = []
    for entry in MUTANTS:
        if names and entry.name not in names:
            continue
        results = [run_mutant(entry, "ci", examples, shrink=False, hypothesis_seed=seed)
                   for seed in range(seeds)]
        times = [r.seconds_to_failure for r in results if r.seconds_to_failure is not None]
        caught = sum(r.caught for r in results)
        guarantees = sorted({r.guarantee for r in results if r.guarantee})
        rows.append((entry.name, entry.preset, f"{caught}/{seeds}",
                     ", ".join(guarantees) or "-", _seconds(times, statistics.median),
                     _seconds(times, min), _seconds(times, max)))
        print(f"  {entry.name}: {caught}/{seeds} caught", flush=True)
    return rows


def _counted(machine: type[RuleBasedStateMachine], counts: dict[str, int]
             ) -> type[RuleBasedStateMachine]:
    class Counted(machine):  # type: ignore[valid-type,misc]
        def teardown(self) -> None:
            counts["rules"] += getattr(self, "rules_run", 0)
            counts["examples"] += 1
            super().teardown()

    Counted.__name__ = Counted.__qualname__ = machine.__name__
    return Counted


def baseline_rows(examples: int) -> list[tuple[Any, ...]]:
    """One row per (reference preset, applicable property): examples, rules, seconds,
    rules per second."""
    chosen = settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      stateful_step_count=STEPS, print_blob=False,
                      phases=(Phase.explicit, Phase.generate),
                      suppress_health_check=list(HealthCheck))
    rows = []
    for name in PRESETS:
        descriptor = preset(name, 0).descriptor
        for prop in PROPERTIES:
            if prop.skip_reason(descriptor) is not None:
                continue
            counts = {"rules": 0, "examples": 0}
            machine = prop.build(functools.partial(preset, name, 0), name)
            start = time.perf_counter()
            failure = ""
            try:
                run_state_machine_as_test(_counted(machine, counts), settings=chosen)
            except Exception as error:  # a reference preset should never fail
                failure = f" (FAILED: {type(error).__name__})"
            seconds = time.perf_counter() - start
            rate = counts["rules"] / seconds if seconds else 0.0
            rows.append((name, prop.name + failure, counts["examples"], counts["rules"],
                         f"{seconds:.1f}", f"{rate:.1f}"))
            print(f"  {name} / {prop.name}: {rate:.1f} rules/s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("mutants", nargs="*", help="mutant names (default: every one)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="Hypothesis seeds per mutant (default 5; 2 with --quick)")
    parser.add_argument("--examples", type=int, default=None,
                        help="examples per machine (default: the ci profile's; 25 with "
                             "--quick)")
    parser.add_argument("--baseline-examples", type=int, default=None,
                        help="examples per preset and property for the steps-per-second "
                             "baseline (default 20; 5 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a short run (see above)")
    args = parser.parse_args()
    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 5)
    examples = args.examples if args.examples is not None else (25 if args.quick else None)
    baseline = args.baseline_examples if args.baseline_examples is not None else (
        5 if args.quick else 20)
    # failing examples write their schedules; keep them out of the working tree
    os.environ.setdefault("REPLICHECK_FAILURE_DIR", tempfile.mkdtemp(prefix="bench-mutants-"))

    began = time.perf_counter()
    print("baseline (reference presets):", flush=True)
    base = baseline_rows(baseline)
    print(f"mutants ({seeds} Hypothesis seeds each):", flush=True)
    rows = mutant_rows(args.mutants, examples, seeds)
    print()
    print(tabulate(rows, headers=["mutant", "preset", "caught", "guarantee",
                                  "median s", "min s", "max s"]))
    print()
    print(tabulate(base, headers=["reference preset", "property", "examples", "rules",
                                  "seconds", "rules/s"]))
    print(f"\n{time.perf_counter() - began:.0f} s in all")


if __name__ == "__main__":
    main()
