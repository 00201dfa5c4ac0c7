"""What the step limit (the most rules one example runs) costs.

For each step limit asked for (default 30, 50 and 60) and each reference preset:
the concurrency property run under the ``ci`` profile's settings with that
``stateful_step_count`` (at most ``--examples`` examples, default 20, no
shrinking), timed. Reported: examples run (valid or not: every teardown), rules run
(every rule, the initialize rules apart), seconds, rules per second,
seconds per example, and the estimated seconds a full ``ci`` run of the property
takes (the profile's max_examples times seconds per example). With ``--search``
the property runs with the fault search mixed in (the swarm, every rule-class
module present and the depth steering: properties.search.registry).

    .venv/bin/python benchmarks/bench_step_limit.py [--steps 30 50 60] [--examples N]
                                                    [--search] [PRESET ...]
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from typing import Any

from hypothesis import Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, run_state_machine_as_test
from tabulate import tabulate

from replicheck.implementation.presets import PRESETS, preset
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.profiles import settings_for, source_independent
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.search.registry import search_machine


def _counted(machine: type[RuleBasedStateMachine], counts: dict[str, int]
             ) -> type[RuleBasedStateMachine]:
    class Counted(machine):  # type: ignore[valid-type,misc]
        @invariant()
        def count_rule(self) -> None:
            counts["rules"] += 1  # after every rule (not the initialize rules)

        def teardown(self) -> None:
            counts["examples"] += 1
            super().teardown()

    Counted.__name__ = Counted.__qualname__ = machine.__name__
    return Counted


def row(name: str, steps: int, examples: int, search: bool) -> tuple[Any, ...]:
    """One preset at one step limit: the numbers of the table."""
    factory = functools.partial(preset, name, 0)
    machine = concurrency_machine(factory, max_steps=steps, target=name)
    if search:
        probe = factory()
        try:
            machine = search_machine(machine, probe_surface(probe))
        finally:
            probe.close()
    ci = settings_for("ci")
    chosen = settings(ci, max_examples=examples, stateful_step_count=steps,
                      phases=(Phase.explicit, Phase.generate, Phase.target))
    counts = {"rules": 0, "examples": 0}
    start = time.perf_counter()
    failure = ""
    with source_independent():
        try:
            run_state_machine_as_test(_counted(machine, counts), settings=chosen)
        except Exception as error:  # a reference preset should never fail
            failure = f" (FAILED: {type(error).__name__})"
    seconds = time.perf_counter() - start
    per_example = seconds / max(counts["examples"], 1)
    return (name + failure, steps, counts["examples"], counts["rules"], f"{seconds:.1f}",
            f"{counts['rules'] / seconds:.1f}", f"{per_example:.2f}",
            f"{per_example * ci.max_examples:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("presets", nargs="*", help="reference presets (default: every one)")
    parser.add_argument("--steps", type=int, nargs="+", default=[30, 50, 60])
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--search", action="store_true",
                        help="mix in the fault search (swarm, rule classes, steering)")
    args = parser.parse_args()
    os.environ.setdefault("REPLICHECK_FAILURE_DIR", tempfile.mkdtemp(prefix="bench-steps-"))
    rows = []
    for steps in args.steps:
        for name in args.presets or PRESETS:
            rows.append(row(name, steps, args.examples, args.search))
            print("  " + " | ".join(str(x) for x in rows[-1]), flush=True)
    print()
    print(tabulate(rows, headers=["preset", "step limit", "examples", "rules", "seconds",
                                  "rules/s", "s/example", "est. s per ci run"]))


if __name__ == "__main__":
    main()
