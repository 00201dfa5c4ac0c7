"""In what share of a ``ci`` run's examples each fault-search rule class acts.

For each reference preset: the concurrency property with the whole fault search
(the swarm, every rule-class module present, the depth steering:
properties/search/registry.py) run under the ``ci`` profile (at most ``--examples``
examples, default 60, of at most ``--steps`` rules, default the suite's STEPS); for
each rule class that applies to the store, the share of the examples in which it
acted. Classes under registry.MINIMUM_SHARE (10%) are listed at the end, and the
exit status is 1 when there is one.

    .venv/bin/python benchmarks/bench_class_coverage.py [--examples N] [--steps N]
                                                        [PRESET ...]
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time

from tabulate import tabulate

from replicheck.implementation.presets import PRESETS, preset
from replicheck.properties.search.registry import MINIMUM_SHARE, all_classes, class_shares
from replicheck.properties.suite import STEPS


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("presets", nargs="*", help="reference presets (default: every one)")
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    names = args.presets or list(PRESETS)
    shares: dict[str, dict[str, float]] = {}
    folder = tempfile.mkdtemp(prefix="bench-coverage-")
    for name in names:
        began = time.perf_counter()
        reported, shares[name] = class_shares(functools.partial(preset, name, 0), name,
                                              examples=args.examples, steps=args.steps,
                                              failure_dir=folder)
        print(f"  {name}: {reported} examples, {time.perf_counter() - began:.0f} s",
              flush=True)
    rows = [(c, *(f"{shares[n][c]:.2f}" if c in shares[n] else "-" for n in names))
            for c in all_classes()]
    print(tabulate(rows, headers=["rule class", *names]))
    rare = [f"{n}: {c} {s:.2f}" for n in names for c, s in shares[n].items()
            if s < MINIMUM_SHARE]
    if rare:
        print(f"\nunder {MINIMUM_SHARE:.0%}: " + "; ".join(rare))
    return 1 if rare else 0


if __name__ == "__main__":
    sys.exit(main())
