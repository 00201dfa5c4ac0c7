"""What explaining a linearizability failure costs, over porcupine's corpus.

Every history of ``../shared/corpus/porcupine`` (or ``$REPLICHECK_CORPUS/porcupine``)
is checked as ``bench_porcupine.py`` does (split by key), ``--repeat`` times; the best
round is kept. The time spent in ``partial_linearization.explain_failure`` (extending
the search's longest prefix to a maximal one, the state after each operation, the
writes that could have explained the failing one) is measured apart, in CPU time (a
busy machine disturbs it less than wall time). The search itself does no extra work:
it records its deepest prefix only when it finds a deeper one, as before; the
explanation runs once, after a failed search.

Usage::

    .venv/bin/python benchmarks/bench_explanation.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from replicheck.histories.checkers import linearizable
from replicheck.histories.formats import load
from replicheck.models.specs import CAS_REGISTER, KV

ROOT = Path(__file__).resolve().parents[1]


def corpus() -> Path:
    env = os.environ.get("REPLICHECK_CORPUS")
    base = Path(env) if env else ROOT.parent / "shared" / "corpus"
    root = base / "porcupine"
    if not (root / "manifest.json").is_file():
        sys.exit(f"porcupine corpus not found at {root} (set REPLICHECK_CORPUS)")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds (best kept)")
    args = parser.parse_args()
    root = corpus()
    manifest = json.loads((root / "manifest.json").read_text())["histories"]
    loaded = [(entry, load(root / entry["file"])) for entry in manifest]
    explain = linearizable.explain_failure
    spent = [0.0, 0]

    def timed(*given: Any, **named: Any) -> Any:
        began = time.process_time()
        try:
            return explain(*given, **named)
        finally:
            spent[0] += time.process_time() - began
            spent[1] += 1

    linearizable.explain_failure = timed
    best: tuple[float, float, int] | None = None
    try:
        for _ in range(args.repeat):
            spent[0], spent[1] = 0.0, 0
            began = time.process_time()
            for entry, history in loaded:
                kv = entry["file"].startswith("kv/")
                linearizable.check_linearizable(history, KV if kv else CAS_REGISTER,
                                                model="kv" if kv else "cas-register")
            total = time.process_time() - began
            if best is None or total < best[0]:
                best = (total, spent[0], spent[1])
    finally:
        linearizable.explain_failure = explain
    assert best is not None
    total, explaining, parts = best
    failing = sum(1 for entry, _ in loaded if not entry["linearizable"])
    print(f"histories: {len(loaded)} ({failing} not linearizable, {parts} failing parts "
          "explained)")
    print(f"check_linearizable, CPU: {total:.4f} s, of which explaining {explaining:.4f} s "
          f"({explaining / max(parts, 1) * 1e3:.3f} ms per failing part)")
    print(f"ratio with / without the explanation: {total / (total - explaining):.3f}")


if __name__ == "__main__":
    main()
