"""Fuzz ``replicheck check`` as a user's script runs it: generated inputs, one
subprocess each, every format (jsonl, edn, jepsen-log) and every model, well-formed and
broken (deep nesting, huge integers and indexes, lone surrogates, ``{"$decimal":
"sNaN"}``, broken log lines, multi-line EDN maps, hostile item expressions, random
bytes, byte-level mutations of valid files, large histories under a small
``--timeout``), with options mixed (``--timeout``, ``--memory``, ``--lenient``,
``--html``, ``--json``, ``--model``, ``--consistency``, ``--format``).

It counts what must never happen (CONTRACTS.md section 6, issue 11): a Python traceback
on stderr, an exit status outside 0-4, a run longer than 1.2 x timeout + 1 s; and the
exit 4s (internal errors, each with its traceback file). Every failing input is saved to
``--out`` with the command that reproduces it.

    .venv/bin/python benchmarks/fuzz_check.py [--inputs 5000] [--seed 0] [--jobs 2]
                                              [--out fuzz-failures]

Exit status: 0 when nothing that must never happen happened, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODELS = ("register", "cas-register", "kv", "item", "list-append", "rw-register")
CONSISTENCY = ("linearizable", "strict-serializable", "serializable", "snapshot-isolation",
               "repeatable-read", "read-committed", "read-uncommitted", "causal",
               "strong-session-serializable", "sequential", "bogus-model")
TXN = ("list-append", "rw-register")
TIME = Path("/usr/bin/time").exists()


@dataclass
class Case:
    """One generated input: its name (the generator), file content, file suffix, and
    the options of its run."""

    name: str
    content: bytes
    suffix: str
    options: list[str] = field(default_factory=list)
    timeout: float = 2.0


# -- well-formed histories ----------------------------------------------------------------

def _register_records(rng: random.Random, n: int, functions: tuple[str, ...],
                      keys: int = 0) -> list[dict[str, Any]]:
    """A register (or cas-register, kv) history of ``n`` operations by a few clients;
    reads see the value at completion (mostly valid), some time out or fail."""
    clients = list(range(rng.randint(1, 6)))
    fresh = len(clients)
    pending: dict[int, tuple[str, Any, Any]] = {}
    state: dict[Any, Any] = {}
    out: list[dict[str, Any]] = []
    done = 0
    while done < n:
        p = rng.choice(clients)
        if p in pending:
            f, key, v = pending.pop(p)
            r = rng.random()
            record: dict[str, Any] = {"process": p, "f": f}
            if key is not None:
                record["key"] = key
            if r < 0.05:
                record.update(type="info", value=v)
                clients.remove(p)
                clients.append(fresh)
                fresh += 1
            elif r < 0.08:
                record.update(type="fail", value=v)
            else:
                if f in ("read", "get"):
                    v = state.get(key) if rng.random() > 0.05 else rng.randrange(4)
                elif f == "cas":
                    if state.get(key) != v[0]:
                        record.update(type="fail", value=v)
                        out.append(record)
                        done += 1
                        continue
                    state[key] = v[1]
                elif f == "append":
                    state[key] = str(state.get(key) or "") + str(v)
                else:
                    state[key] = v
                record.update(type="ok", value=v)
            out.append(record)
            done += 1
        else:
            f = rng.choice(functions)
            key = str(rng.randrange(keys)) if keys else None
            if f in ("read", "get"):
                v = None
            elif f == "cas":
                v = [rng.randrange(4), rng.randrange(4)]
            elif f == "append":
                v = f"x{rng.randrange(9)} "
            elif f == "put":
                v = f"v{rng.randrange(4)} "
            else:
                v = rng.randrange(4)
            pending[p] = (f, key, v)
            record = {"process": p, "type": "invoke", "f": f, "value": v}
            if key is not None:
                record["key"] = key
            out.append(record)
    return out


def _txn_records(rng: random.Random, n: int, workload: str) -> list[dict[str, Any]]:
    """A list-append or rw-register history of ``n`` transactions (mostly valid)."""
    keys = rng.randint(1, 4)
    clients = list(range(rng.randint(1, 5)))
    pending: dict[int, list[list[Any]]] = {}
    lists: dict[int, list[int]] = {}
    regs: dict[int, int] = {}
    counter = 0
    out: list[dict[str, Any]] = []
    done = 0
    while done < n:
        p = rng.choice(clients)
        if p in pending:
            mops = pending.pop(p)
            result = []
            for f, k, v in mops:
                if f == "append":
                    lists.setdefault(k, []).append(v)
                    result.append([f, k, v])
                elif f == "w":
                    regs[k] = v
                    result.append([f, k, v])
                elif workload == "list-append":
                    result.append([f, k, list(lists.get(k, []))])
                else:
                    result.append([f, k, regs.get(k)])
            kind = rng.choices(["ok", "info", "fail"], [0.9, 0.05, 0.05])[0]
            out.append({"process": p, "type": kind, "f": "txn",
                        "value": result if kind == "ok" else mops})
            done += 1
        else:
            mops = []
            for _ in range(rng.randint(1, 4)):
                k = rng.randrange(keys)
                if rng.random() < 0.5:
                    counter += 1
                    mops.append(["append" if workload == "list-append" else "w", k, counter])
                else:
                    mops.append(["r", k, None])
            pending[p] = mops
            out.append({"process": p, "type": "invoke", "f": "txn", "value": mops})
    return out


def _item_records(rng: random.Random, n: int, hostile: bool) -> list[dict[str, Any]]:
    """An item history: a tables record, then puts, gets and conditional updates;
    ``hostile`` makes the expressions huge or deep."""
    out: list[dict[str, Any]] = [{"process": "observer", "type": "observe", "f": "tables",
                                  "value": [{"name": "t", "partition_key": "pk"}]}]
    for i in range(n):
        p = i % 3
        key = {"pk": {"S": rng.choice("abc")}}
        choice = rng.random()
        if choice < 0.4:
            value: dict[str, Any] = {"table": "t", "item": {**key, "n": {"N": str(i)}}}
            f, result = "put", {"item": None}
        elif choice < 0.7:
            value = {"table": "t", "key": key}
            f, result = "get-strong", {"item": None}
        else:
            condition = "n = :z"
            if hostile:
                form = rng.randrange(4)
                if form == 0:
                    condition = " AND ".join(["n = :z"] * rng.choice([50, 2000, 20000]))
                elif form == 1:
                    condition = ".".join(["a"] * rng.choice([40, 500, 5000])) + " = :z"
                elif form == 2:
                    condition = "(" * 3000 + "n = :z" + ")" * 3000
                else:
                    condition = "n IN (" + ", ".join([":z"] * rng.choice([99, 101, 5000])) + ")"
            value = {"table": "t", "key": key, "update": "SET n = :z", "condition": condition,
                     "values": {":z": {"N": "0"}}}
            f, result = "update", {"item": None}
        out.append({"process": p, "type": "invoke", "f": f, "value": value})
        out.append({"process": p, "type": "ok", "f": f, "value": result})
    return out


def _as_jsonl(records: list[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(r) for r in records) + "\n").encode()


def _edn_value(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + " ".join(_edn_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_edn_key(k)} {_edn_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def _edn_key(key: str) -> str:
    return f":{key}" if isinstance(key, str) and key.isidentifier() else _edn_value(key)


def _as_edn(records: list[dict[str, Any]], rng: random.Random) -> bytes:
    """Jepsen-style EDN: keywords for type and f (and micro-op functions), sometimes
    one vector of maps, sometimes maps spread over several lines."""
    lines = []
    for i, r in enumerate(records):
        value = r.get("value")
        if r.get("f") == "txn" and isinstance(value, list):
            value_text = "[" + " ".join(
                f"[:{m[0]} {_edn_value(m[1])} {_edn_value(m[2])}]" for m in value) + "]"
        else:
            value_text = _edn_value(value)
        parts = [f":type :{r['type']}", f":f :{r['f']}", f":value {value_text}",
                 f":process {_edn_value(r['process'])}", f":index {i}"]
        if "key" in r:
            parts.append(f":key {_edn_value(r['key'])}")
        sep = ",\n " if rng.random() < 0.2 else ", "
        lines.append("{" + sep.join(parts) + "}")
    if rng.random() < 0.3:
        return ("[" + "\n ".join(lines) + "]\n").encode()
    return ("\n".join(lines) + "\n").encode()


def _as_log(records: list[dict[str, Any]]) -> bytes:
    lines = []
    for r in records:
        value = r.get("value")
        text = _edn_value(value)
        lines.append(f"INFO  jepsen.util - {r['process']}\t:{r['type']}\t:{r['f']}\t{text}")
    return ("\n".join(lines) + "\n").encode()


def _well_formed(rng: random.Random) -> tuple[str, bytes, str, str]:
    """(name, content, suffix, model) of a mostly valid history in a random format."""
    model = rng.choice(MODELS)
    n = rng.choice([0, 1, 3, 8, 20, 60])
    if model in ("register", "cas-register"):
        functions = ("read", "write") if model == "register" else ("read", "write", "cas")
        records = _register_records(rng, n, functions, keys=rng.choice([0, 0, 3]))
    elif model == "kv":
        records = _register_records(rng, n, ("get", "put", "append"), keys=3)
    elif model == "item":
        records = _item_records(rng, n, hostile=False)
        return f"item-{n}", _as_jsonl(records), ".jsonl", model
    else:
        records = _txn_records(rng, n, model)
    form = rng.choice(["jsonl", "edn", "log"] if model not in TXN else ["jsonl", "edn"])
    if form == "jsonl":
        return f"{model}-{n}", _as_jsonl(records), ".jsonl", model
    if form == "edn":
        return f"{model}-{n}-edn", _as_edn(records, rng), ".edn", model
    return f"{model}-{n}-log", _as_log(records), ".log", model


# -- hostile inputs -----------------------------------------------------------------------

def _deep_json(rng: random.Random) -> bytes:
    depth = rng.choice([100, 990, 1100, 5000, 50000])
    opener, closer = rng.choice([("[", "]"), ('{"a": ', "}")])
    value = opener * depth + "1" + closer * depth
    return (f'{{"process": 0, "type": "invoke", "f": "write", "value": {value}}}\n'
            f'{{"process": 0, "type": "ok", "f": "write", "value": {value}}}\n').encode()


def _deep_edn(rng: random.Random) -> bytes:
    depth = rng.choice([100, 990, 1100, 5000, 50000])
    form = rng.randrange(3)
    if form == 0:
        value = "[" * depth + "1" + "]" * depth
    elif form == 1:
        value = "#a " * depth + "1"
    else:
        value = "{:a " * depth + "1" + "}" * depth
    return (f"{{:type :invoke, :f :write, :value {value}, :process 0}}\n"
            f"{{:type :ok, :f :write, :value {value}, :process 0}}\n").encode()


def _huge_integers(rng: random.Random) -> tuple[bytes, str]:
    digits = "9" * rng.choice([20, 400, 5000, 50000])
    form = rng.randrange(3)
    if form == 0:
        return (f"{{:type :invoke, :f :write, :value {digits}, :process 0}}\n"
                f"{{:type :ok, :f :write, :value {digits}, :process 0}}\n").encode(), ".edn"
    if form == 1:
        return (f"INFO  jepsen.util - {digits}\t:invoke\t:write\t{digits}\n"
                f"INFO  jepsen.util - {digits}\t:ok\t:write\t{digits}\n").encode(), ".log"
    return (f'{{"process": {digits}, "type": "invoke", "f": "write", "value": {digits}}}\n'
            f'{{"process": {digits}, "type": "ok", "f": "write", "value": {digits}}}\n'
            ).encode(), ".jsonl"


def _huge_index(rng: random.Random) -> bytes:
    index = rng.choice(["1000000000", "250000000", "1" + "0" * 30, "-5", "1e30", "2.5"])
    txn = rng.random() < 0.5
    f = '"txn"' if txn else '"write"'
    value = '[["append", "x", 1]]' if txn else "1"
    return (f'{{"process": 0, "type": "invoke", "f": {f}, "value": {value}, "index": 0}}\n'
            f'{{"process": 0, "type": "ok", "f": {f}, "value": {value}, "index": {index}}}\n'
            ).encode()


def _surrogates(rng: random.Random) -> bytes:
    where = rng.randrange(4)
    s = rng.choice(['"\\ud800"', '"\\udfff x"', '"a\\ud83d"'])
    if where == 0:
        return (f'{{"process": 0, "type": "invoke", "f": "write", "value": {s}}}\n'
                f'{{"process": 0, "type": "ok", "f": "write", "value": {s}}}\n').encode()
    if where == 1:
        return (f'{{"process": 0, "type": "invoke", "f": {s}, "value": 1}}\n').encode()
    if where == 2:
        return (f'{{"process": 0, "type": "invoke", "f": "put", "key": {s}, "value": 1}}\n'
                f'{{"process": 0, "type": "ok", "f": "put", "key": {s}, "value": 1}}\n'
                ).encode()
    return (f'{{"process": {s}, "type": "invoke", "f": "write", "value": 1}}\n').encode()


def _decimals(rng: random.Random) -> bytes:
    text = rng.choice(["sNaN", "NaN", "-sNaN", "Infinity", "1e999999999", "1.5", "x"])
    value = json.dumps({"$decimal": text})
    return (f'{{"process": 0, "type": "invoke", "f": "write", "value": {value}}}\n'
            f'{{"process": 0, "type": "ok", "f": "write", "value": {value}}}\n'
            f'{{"process": 1, "type": "invoke", "f": "read", "value": null}}\n'
            f'{{"process": 1, "type": "ok", "f": "read", "value": {value}}}\n').encode()


def _broken_log(rng: random.Random) -> bytes:
    lines = [
        "INFO  jepsen.util - 0\t:invoke\t:write\t1",
        "INFO  jepsen.util - 0\t:ok\t:write\t1",
        "INFO  jepsen.util - 1\t:invoke\t:read\tnil",
        "INFO  jepsen.util - 1\t:ok\t:read\t1",
    ]
    broken = rng.choice([
        "INFO  jepsen.util - 1\t:okk\t:read\t1",
        "INFO  jepsen.util - 1\t:ok\t:read",
        "INFO  jepsen.util - 1\t:ok",
        "INFO  jepsen.util - \t:ok\t:read\t1",
        "INFO  jepsen.util - 1\t:ok\t:read\t[1 2",
        "INFO  jepsen.util - 1\t:ok\t:read\t{:a",
        "INFO  jepsen.util - :nemesis\t:info\t:start\tnil",
        "|",
        '{"process": 0, "type": "invoke", "f": "write", "value": 1}',
    ])
    lines.insert(rng.randrange(len(lines) + 1), broken)
    return ("\n".join(lines) + "\n").encode()


def _random_bytes(rng: random.Random) -> bytes:
    n = rng.choice([1, 10, 100, 2000])
    return bytes(rng.randrange(256) for _ in range(n))


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """A few byte-level edits of ``data``: delete, duplicate or swap lines, insert a
    token, flip a byte."""
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        if not lines:
            break
        i = rng.randrange(len(lines))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[i])
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3 and lines[i]:
            k = rng.randrange(len(lines[i]))
            token = rng.choice([b"null", b"nil", b"-1", b"1e999", b"[", b"}", b'"', b":okk",
                                b"\\u0000", b"NaN", b"true", b"99999999999999999999"])
            lines[i] = lines[i][:k] + token + lines[i][k:]
        elif lines[i]:
            k = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:k] + bytes([rng.randrange(256)]) + lines[i][k + 1:]
    return b"\n".join(lines)


def _large(rng: random.Random) -> Case:
    """A large history under a small timeout (and sometimes a small memory budget)."""
    kind = rng.randrange(3)
    if kind == 0:
        records = _register_records(rng, rng.choice([3000, 13000]), ("read", "write"))
        name, model = "large-register", "register"
    elif kind == 1:
        records = _txn_records(rng, rng.choice([2000, 10000]), "list-append")
        name, model = "large-list-append", "list-append"
    else:
        records = _txn_records(rng, rng.choice([1000, 3000]), "rw-register")
        name, model = "large-rw-register", "rw-register"
    timeout = rng.choice([0.2, 0.5, 1.0, 2.0])
    options = ["--model", model, "--timeout", str(timeout)]
    if rng.random() < 0.3:
        options += ["--memory", str(rng.choice([150, 300, 600]))]
    if model == "rw-register" and rng.random() < 0.5:
        options += ["--consistency", rng.choice(["serializable", "snapshot-isolation"])]
    return Case(name, _as_jsonl(records), ".jsonl", options, timeout)


def generate(rng: random.Random) -> Case:
    """One input with its options."""
    roll = rng.random()
    suffix = ".jsonl"
    model: str | None = None
    if roll < 0.30:
        name, content, suffix, model = _well_formed(rng)
    elif roll < 0.50:
        name, content, suffix, model = _well_formed(rng)
        name, content = f"mutated-{name}", _mutate(rng, content)
    elif roll < 0.55:
        name, content = "deep-json", _deep_json(rng)
    elif roll < 0.60:
        name, content, suffix = "deep-edn", _deep_edn(rng), ".edn"
    elif roll < 0.65:
        content, suffix = _huge_integers(rng)
        name = "huge-integers"
    elif roll < 0.70:
        name, content = "huge-index", _huge_index(rng)
    elif roll < 0.75:
        name, content = "surrogates", _surrogates(rng)
    elif roll < 0.79:
        name, content = "decimal", _decimals(rng)
    elif roll < 0.85:
        name, content, suffix = "broken-log", _broken_log(rng), ".log"
    elif roll < 0.91:
        name, content, model = "hostile-item", _as_jsonl(_item_records(
            rng, rng.randint(1, 6), hostile=True)), "item"
    elif roll < 0.95:
        name, content, suffix = "random-bytes", _random_bytes(rng), rng.choice(
            [".jsonl", ".edn", ".log"])
    else:
        return _large(rng)
    timeout = rng.choice([0.5, 1.0, 2.0, 5.0])
    options = ["--timeout", str(timeout)]
    if rng.random() < 0.5 and model is not None:
        options += ["--model", model if rng.random() < 0.85 else rng.choice(MODELS)]
    if rng.random() < 0.2:
        options += ["--consistency", rng.choice(CONSISTENCY)]
    if rng.random() < 0.3:
        options += ["--format", rng.choice(["jsonl", "edn", "jepsen-log"])]
    if rng.random() < 0.2:
        options.append("--lenient")
    if rng.random() < 0.3:
        options.append("--json")
    if rng.random() < 0.25:
        options.append("--html")  # the runner adds the file
    if rng.random() < 0.1:
        options += ["--memory", str(rng.choice([200, 500]))]
    return Case(name, content, suffix, options, timeout)


# -- running ------------------------------------------------------------------------------

@dataclass
class Outcome:
    """One run: the case, the command, exit status (None: killed), seconds, stderr."""

    case: Case
    command: list[str]
    status: int | None
    seconds: float
    stderr: str
    html_problem: str | None = None
    cpu: float | None = None

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr

    @property
    def bad_status(self) -> bool:
        return self.status is None or not 0 <= self.status <= 4

    @property
    def overtime(self) -> bool:
        return self.seconds > 1.2 * self.case.timeout + 1.0

    @property
    def cpu_overtime(self) -> bool:
        """Over the bound in CPU time (user + system): what wall time means on a machine
        shared with other work."""
        return self.cpu is not None and self.cpu > 1.2 * self.case.timeout + 1.0

    @property
    def failed(self) -> bool:
        return (self.traceback or self.bad_status or self.overtime or self.status == 4
                or self.html_problem is not None)


def run(case: Case, index: int, scratch: Path, executable: list[str]) -> Outcome:
    """Write the case to a file under ``scratch`` and run ``replicheck check`` on it."""
    path = scratch / f"input-{index}{case.suffix}"
    path.write_bytes(case.content)
    options = list(case.options)
    html: Path | None = None
    if "--html" in options:
        html = scratch / f"page-{index}.html"
        options.insert(options.index("--html") + 1, str(html))
    command = [*executable, "check", str(path), *options]
    env = {**os.environ, "TMPDIR": str(scratch)}
    timing = scratch / f"time-{index}.txt"
    timed = ["/usr/bin/time", "-o", str(timing), "-f", "%U %S"] if TIME else []
    began = time.perf_counter()
    try:
        done = subprocess.run([*timed, *command], capture_output=True,
                              timeout=3 * case.timeout + 20, env=env)
        status: int | None = done.returncode
        stderr = done.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as expired:
        status = None
        stderr = (expired.stderr or b"").decode("utf-8", "replace") + "\n[killed: hung]"
    seconds = time.perf_counter() - began
    cpu = None
    if TIME and status is not None:
        try:
            user, system = timing.read_text().split()[-2:]
            cpu = float(user) + float(system)
        except (OSError, ValueError):
            cpu = None
    problem = None
    if html is not None and html.exists():
        text = html.read_text(encoding="utf-8", errors="replace")
        if not text.rstrip().endswith("</html>"):
            problem = f"--html left a partial file ({len(text)} characters)"
    elif html is not None and status in (0, 1, 3):
        problem = "--html wrote no file for a verdict"
    return Outcome(case, command, status, seconds, stderr, problem, cpu)


def save(outcome: Outcome, index: int, out: Path) -> tuple[Path, str]:
    """Keep a failing input, the command and what it printed, under ``out``."""
    folder = out / f"{index:05d}-{outcome.case.name}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"input{outcome.case.suffix}").write_bytes(outcome.case.content)
    saved = folder / f"input{outcome.case.suffix}"
    command = [str(saved) if part.endswith(f"input-{index}{outcome.case.suffix}")
               else str(folder / "page.html") if part.endswith(f"page-{index}.html")
               else part for part in outcome.command]
    (folder / "command.txt").write_text(" ".join(command) + "\n")
    (folder / "stderr.txt").write_text(outcome.stderr)
    for line in outcome.stderr.splitlines():
        if "replicheck-crash-" in line:
            crash = line.rsplit(" ", 1)[-1].rstrip(")")
            if Path(crash).exists():
                shutil.copy(crash, folder / "traceback.txt")
    return folder, " ".join(command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=5000, help="how many inputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (default 2)")
    parser.add_argument("--out", default="fuzz-failures",
                        help="folder for failing inputs (default fuzz-failures/)")
    parser.add_argument("--replicheck", default=None,
                        help="the command to run (default: this Python's "
                        "-m replicheck.reports.cli)")
    args = parser.parse_args(argv)
    executable = (args.replicheck.split() if args.replicheck
                  else [sys.executable, "-m", "replicheck.reports.cli"])
    names: Counter[str] = Counter()
    out = Path(args.out)
    began = time.perf_counter()
    statuses: Counter[Any] = Counter()
    counts = Counter[str]()
    failures: list[int] = []
    with tempfile.TemporaryDirectory(prefix="replicheck-fuzz-") as scratch_name:
        scratch = Path(scratch_name)

        def work(i: int) -> Outcome:
            # each input from its own seed: reproducible alone, and generated only when run
            case = generate(random.Random(args.seed * 1_000_003 + i))
            outcome = run(case, i, scratch, executable)
            for leftover in scratch.glob(f"*-{i}.*"):
                leftover.unlink()
            return outcome

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for i, outcome in enumerate(pool.map(work, range(args.inputs))):
                names[outcome.case.name.split("-")[0]] += 1
                statuses[outcome.status] += 1
                counts["traceback"] += outcome.traceback
                counts["bad status"] += outcome.bad_status
                counts["overtime"] += outcome.overtime
                counts["cpu overtime"] += outcome.cpu_overtime
                counts["exit 4"] += outcome.status == 4
                counts["html"] += outcome.html_problem is not None
                if outcome.failed:
                    folder, command = save(outcome, i, out)
                    failures.append(i)
                    why = ", ".join(w for w, bad in (
                        ("traceback", outcome.traceback), ("status", outcome.bad_status),
                        ("overtime", outcome.overtime), ("exit 4", outcome.status == 4),
                        (outcome.html_problem or "", outcome.html_problem is not None))
                        if bad)
                    cpu = "" if outcome.cpu is None else f", {outcome.cpu:.1f} s CPU"
                    print(f"[{i}] {outcome.case.name}: {why} (exit {outcome.status}, "
                          f"{outcome.seconds:.1f} s{cpu}) -> {folder}", flush=True)
                    print(f"    {command}", flush=True)
                if (i + 1) % 100 == 0:
                    print(f"... {i + 1} runs, {time.perf_counter() - began:.0f} s",
                          file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - began
    print(f"\n{args.inputs} inputs (seed {args.seed}) in {elapsed:.0f} s; by generator: "
          + ", ".join(f"{k} {v}" for k, v in sorted(names.items())))
    print("exit statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(
        statuses.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))))
    print(f"tracebacks: {counts['traceback']}, statuses outside 0-4: {counts['bad status']}, "
          f"exit 4: {counts['exit 4']}, over 1.2 x timeout + 1 s: {counts['overtime']} "
          f"(in CPU time: {counts['cpu overtime']}; the machine's load average at the end "
          f"{os.getloadavg()[0]:.1f}), --html files partial or missing: {counts['html']}")
    if failures:
        print(f"failing inputs saved under {out}/")
    bad = counts["traceback"] + counts["bad status"] + counts["overtime"] + counts["html"]
    return 1 if bad or counts["exit 4"] else 0


if __name__ == "__main__":
    sys.exit(main())
