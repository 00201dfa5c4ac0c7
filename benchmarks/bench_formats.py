"""How fast histories are read: operations per second for JSON lines and EDN, and the
time to parse the whole porcupine corpus.

Run from the repository root:

    .venv/bin/python benchmarks/bench_formats.py [--records 200000] [--repeat 3]

Two generated workloads (in memory, seeded): a list-append transaction workload
(``{"f": "txn", "value": [["append", 3, 7], ["r", 4, [1, 2]]]}``) and a register
workload (read / write / cas on a few keys). Each is written with ``dumps_jsonl`` and
``dumps_edn`` and read back with ``read_records`` (records only) and ``loads`` (records
paired into operations); the best of ``--repeat`` runs is reported. No assertion is made
on time: the numbers are for comparison on the same machine.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from tabulate import tabulate

from replicheck.histories.formats import dumps_edn, dumps_jsonl, load, loads, read_records
from replicheck.histories.history import Record

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 10


def txn_workload(records: int, seed: int = 1) -> list[Record]:
    """Invoke/ok pairs of list-append transactions over 50 keys, ``CLIENTS`` at a time."""
    rng = random.Random(seed)
    lists: dict[int, list[int]] = {}
    out: list[Record] = []
    counter = 0

    def op(process: int) -> tuple[Any, Any]:
        nonlocal counter
        micro_in, micro_out = [], []
        for _ in range(rng.randint(1, 4)):
            k = rng.randrange(50)
            if rng.random() < 0.5:
                counter += 1
                lists.setdefault(k, []).append(counter)
                micro_in.append(["append", k, counter])
                micro_out.append(["append", k, counter])
            else:
                micro_in.append(["r", k, None])
                micro_out.append(["r", k, list(lists.get(k, []))[-8:]])
        return micro_in, micro_out

    return _interleave(records, rng, "txn", op, out)


def register_workload(records: int, seed: int = 2) -> list[Record]:
    """Invoke/completion pairs of read / write / cas on 5 keys."""
    rng = random.Random(seed)
    values: dict[int, int] = {}
    out: list[Record] = []
    pending: dict[int, Record] = {}
    while len(out) < records:
        process = rng.randrange(CLIENTS)
        if process in pending:
            inv = pending.pop(process)
            k = inv.key
            assert isinstance(k, int)
            if inv.f == "read":
                out.append(Record(process, "ok", "read", values.get(k), key=k, index=len(out)))
            elif inv.f == "write":
                values[k] = inv.value
                out.append(Record(process, "ok", "write", inv.value, key=k, index=len(out)))
            elif values.get(k) == inv.value[0]:
                values[k] = inv.value[1]
                out.append(Record(process, "ok", "cas", inv.value, key=k, index=len(out)))
            else:
                out.append(Record(process, "fail", "cas", inv.value, key=k, index=len(out),
                                  error="condition-failed"))
            continue
        k = rng.randrange(5)
        f = rng.choice(["read", "write", "cas"])
        value: Any = None if f == "read" else rng.randrange(5) if f == "write" else [
            rng.randrange(5), rng.randrange(5)]
        inv = Record(process, "invoke", f, value, key=k, index=len(out))
        pending[process] = inv
        out.append(inv)
    return out


def _interleave(records: int, rng: random.Random, f: str,
                op: Callable[[int], tuple[Any, Any]], out: list[Record]) -> list[Record]:
    pending: dict[int, Any] = {}
    while len(out) < records:
        process = rng.randrange(CLIENTS)
        if process in pending:
            out.append(Record(process, "ok", f, pending.pop(process), index=len(out)))
        else:
            value_in, value_out = op(process)
            pending[process] = value_out
            out.append(Record(process, "invoke", f, value_in, index=len(out)))
    return out


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    rows = []
    for name, make in (("list-append txn", txn_workload), ("register", register_workload)):
        records = make(args.records)
        for fmt, dump in (("jsonl", dumps_jsonl), ("edn", dumps_edn)):
            text = dump(records)
            operations = len(loads(text, fmt))
            t_read = best(args.repeat, partial(read_records, text, fmt))
            t_loads = best(args.repeat, partial(loads, text, fmt))
            rows.append([name, fmt, len(records), f"{len(text) / 1e6:.1f}",
                         f"{len(records) / t_read:,.0f}", f"{operations / t_loads:,.0f}",
                         f"{t_loads:.2f}"])
    print(tabulate(rows, headers=["workload", "format", "records", "MB",
                                  "records/s (read_records)", "operations/s (loads)",
                                  "loads s"]))

    corpus = _corpus()
    if corpus is None:
        print("\nporcupine corpus absent (../shared/corpus or $REPLICHECK_CORPUS): skipped")
        return 0
    files = sorted(p for p in corpus.rglob("*") if p.suffix in (".log", ".txt"))
    operations = 0

    def parse_all() -> None:
        nonlocal operations
        operations = sum(len(load(p)) for p in files)

    seconds = best(args.repeat, parse_all)
    print(f"\nporcupine corpus: {len(files)} files, {operations:,} operations parsed in "
          f"{seconds:.2f} s ({operations / seconds:,.0f} operations/s, detection included)")
    return 0


def _corpus() -> Path | None:
    env = os.environ.get("REPLICHECK_CORPUS")
    root = (Path(env) if env else ROOT.parent / "shared" / "corpus") / "porcupine"
    return root if root.is_dir() else None


if __name__ == "__main__":
    sys.exit(main())
