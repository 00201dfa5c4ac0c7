"""Are ``--timeout`` and ``--memory`` honoured on inputs that used to ignore them?
Generates each history into a temporary directory, runs ``replicheck check`` on it as a
subprocess under ``/usr/bin/time -v``, and prints the wall time, the CPU time, the
process's peak resident memory, the exit status and the verdict's note.

    .venv/bin/python benchmarks/bench_limits.py [--only NAME ...] [--keep DIR]

The cases (issue 11's figures before the fix in brackets):

- ``register-13k``: 13,000 operations on one register, ``--timeout 2``
  [answered after 35 s: the search's set-up ignored the deadline];
- ``index-2.5e8``: a 2-line list-append history whose index is 2.5e8, ``--timeout 1``
  [14 s and 2 GB: one slot per index value];
- ``register-20mb``: a 20 MB register history (one key, a quadratic set-up),
  ``--memory 1000 --timeout 120`` [5.5 GB];
- ``jsonl-200mb``: a 200 MB list-append history, ``--memory 2000 --timeout 300``
  [killed by the kernel at 13.7 GB];
- ``rw-register-3k``: 3,000 rw-register transactions with blind writes (z3 decides the
  version order), ``--memory 500 --timeout 60`` [z3 grew past 11 GB].
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO


def _register(out: TextIO, operations: int, seed: int = 0) -> None:
    """Ten clients on one register; reads see the value at completion; 3% time out."""
    rng = random.Random(seed)
    pending: dict[int, tuple[str, int | None]] = {}
    clients = list(range(10))
    fresh, register, done = 10, 0, 0
    while done < operations:
        p = rng.choice(clients)
        if p in pending:
            f, v = pending.pop(p)
            if rng.random() < 0.03:
                out.write(json.dumps({"process": p, "type": "info", "f": f, "value": v}) + "\n")
                clients.remove(p)
                clients.append(fresh)
                fresh += 1
            else:
                if f == "read":
                    v = register
                else:
                    assert v is not None
                    register = v
                out.write(json.dumps({"process": p, "type": "ok", "f": f, "value": v}) + "\n")
            done += 1
        else:
            f, v = ("write", rng.randrange(5)) if rng.random() < 0.5 else ("read", None)
            pending[p] = (f, v)
            out.write(json.dumps({"process": p, "type": "invoke", "f": f, "value": v}) + "\n")


def _register_bytes(out: TextIO, size: int) -> None:
    _register(out, size // 100)  # about 100 bytes per operation (two lines)


def _list_append(out: TextIO, size: int, seed: int = 1) -> None:
    """Twenty clients, 200 keys, transactions of 1-4 appends and reads, valid."""
    rng = random.Random(seed)
    lists: dict[int, list[int]] = {}
    written = counter = n = 0
    while written < size:
        mops: list[list[object]] = []
        for _ in range(rng.randrange(1, 5)):
            k = rng.randrange(200)
            if rng.random() < 0.5:
                counter += 1
                mops.append(["append", k, counter])
            else:
                mops.append(["r", k, None])
        done = []
        for f, k, v in mops:
            assert isinstance(k, int)
            if f == "append":
                assert isinstance(v, int)
                lists.setdefault(k, []).append(v)
                done.append([f, k, v])
            else:
                done.append([f, k, lists.get(k, [])[-20:]])
        p = n % 20
        lines = (json.dumps({"process": p, "type": "invoke", "f": "txn", "value": mops}) + "\n"
                 + json.dumps({"process": p, "type": "ok", "f": "txn", "value": done}) + "\n")
        out.write(lines)
        written += len(lines)
        n += 1


def _rw_register(out: TextIO, transactions: int, seed: int = 2) -> None:
    """Ten clients, ten keys, blind writes of unique values, reads of the current one."""
    rng = random.Random(seed)
    registers: dict[int, int] = {}
    pending: dict[int, list[list[object]]] = {}
    counter = done = 0
    while done < transactions:
        p = rng.randrange(10)
        if p in pending:
            result = []
            for f, k, v in pending.pop(p):
                assert isinstance(k, int)
                if f == "w":
                    assert isinstance(v, int)
                    registers[k] = v
                    result.append([f, k, v])
                else:
                    result.append([f, k, registers.get(k)])
            out.write(json.dumps({"process": p, "type": "ok", "f": "txn", "value": result})
                      + "\n")
            done += 1
        else:
            mops: list[list[object]] = []
            for _ in range(rng.randrange(1, 4)):
                k = rng.randrange(10)
                if rng.random() < 0.5:
                    counter += 1
                    mops.append(["w", k, counter])
                else:
                    mops.append(["r", k, None])
            pending[p] = mops
            out.write(json.dumps({"process": p, "type": "invoke", "f": "txn", "value": mops})
                      + "\n")


def _index(out: TextIO) -> None:
    out.write('{"process": 0, "type": "invoke", "f": "txn", "value": [["append", "x", 1]], '
              '"index": 0}\n'
              '{"process": 0, "type": "ok", "f": "txn", "value": [["append", "x", 1]], '
              '"index": 250000000}\n')


CASES: dict[str, tuple[Callable[[TextIO], None], list[str]]] = {
    "register-13k": (lambda out: _register(out, 13_000), ["--timeout", "2"]),
    "index-2.5e8": (_index, ["--timeout", "1"]),
    "register-20mb": (lambda out: _register_bytes(out, 20_000_000),
                      ["--memory", "1000", "--timeout", "120"]),
    "jsonl-200mb": (lambda out: _list_append(out, 200_000_000),
                    ["--memory", "2000", "--timeout", "300"]),
    "rw-register-3k": (lambda out: _rw_register(out, 3_000),
                       ["--memory", "500", "--timeout", "60"]),
}


def _measure(path: Path, options: list[str]) -> Iterator[str]:
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "replicheck.reports.cli",
               "check", str(path), *options]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - began
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", done.stderr)
    system = re.search(r"System time \(seconds\): ([\d.]+)", done.stderr)
    cpu = (float(user.group(1)) if user else 0.0) + (float(system.group(1)) if system else 0.0)
    first = done.stdout.splitlines()[:1]
    notes = [line.strip() for line in done.stdout.splitlines() if "note:" in line]
    yield (f"exit {done.returncode}, {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS "
           f"{int(rss.group(1)) // 1024 if rss else -1} MB")
    yield from (f"  {line}" for line in first + notes)
    errors = [line for line in done.stderr.splitlines()
              if line.startswith("replicheck") or "Traceback" in line]
    yield from (f"  stderr: {line}" for line in errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), default=None)
    parser.add_argument("--keep", default=None, help="write the histories here and keep them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="replicheck-limits-") as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for name in args.only or list(CASES):
            make, options = CASES[name]
            path = folder / f"{name}.jsonl"
            if not path.exists():
                with path.open("w") as out:
                    make(out)
            size = path.stat().st_size / 1e6
            print(f"{name} ({size:.1f} MB) replicheck check {' '.join(options)}", flush=True)
            for line in _measure(path, options):
                print(f"  {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
