"""Every history of the porcupine corpus gets its known verdict.

The corpus (``../shared/corpus/porcupine`` next to the repository, or
``$REPLICHECK_CORPUS/porcupine``) lists each history with its model and whether it is
linearizable: ``jepsen/*.log`` are compare-and-set registers, ``kv/*.txt`` key-value
stores split by key. A valid verdict's witness is replayed against the specification
and real time; an invalid one must point at operations of the history. A time limit
guards against a performance regression hanging the suite (it would show as
"unknown" and fail).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from replicheck.histories.checkers.adapters import adapter_for
from replicheck.histories.checkers.linearizable import check_linearizable
from replicheck.histories.formats import load
from replicheck.histories.history import History
from replicheck.models.specs import CAS_REGISTER, KV, UNKNOWN, SequentialSpec

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 30.0
"""Seconds per history before the verdict would be "unknown" (the whole corpus takes
well under a second)."""


def corpus() -> Path | None:
    """The porcupine corpus: $REPLICHECK_CORPUS/porcupine, else ../shared/corpus/porcupine
    next to the repository root; None when absent."""
    env = os.environ.get("REPLICHECK_CORPUS")
    base = Path(env) if env else ROOT.parent / "shared" / "corpus"
    root = base / "porcupine"
    return root if (root / "manifest.json").is_file() else None


SKIP = ("the porcupine corpus is absent: expected ../shared/corpus/porcupine next to the "
        "repository, or $REPLICHECK_CORPUS/porcupine")


def entries() -> list[Any]:
    root = corpus()
    if root is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SKIP))]
    manifest = json.loads((root / "manifest.json").read_text())
    return [pytest.param(e, id=e["file"]) for e in manifest["histories"]]


def model_of(entry: dict[str, Any]) -> tuple[str, SequentialSpec[Any]]:
    return ("kv", KV) if entry["file"].startswith("kv/") else ("cas-register", CAS_REGISTER)


def is_linearization(h: History, spec: SequentialSpec[Any], model: str,
                     witness: tuple[int, ...]) -> bool:
    """``witness`` places every operation that must be placed once and no failed one,
    respects real time (no operation after one that returned before it was invoked),
    and ``spec`` allows each step (per key when it splits)."""
    ops = {op.id: op for op in h.operations}
    if len(set(witness)) != len(witness):
        return False
    placed = set(witness)
    for op in h.operations:
        must = op.ok or (op.failed and op.condition_failed)
        if (must and op.id not in placed) or (op.failed and not must and op.id in placed):
            return False
    earliest_later_return = float("inf")
    for i in reversed(witness):
        op = ops[i]
        if op.call > earliest_later_return:
            return False
        if not op.indeterminate and op.ret is not None:
            earliest_later_return = min(earliest_later_return, op.ret)
    adapter = adapter_for(model)
    states: dict[Any, list[Any]] = {}
    for i in witness:
        op = ops[i]
        inp = adapter.to_input(op)
        result = (adapter.ok_result(op) if op.ok else
                  adapter.failed_result(op) if op.failed and adapter.failed_result else
                  UNKNOWN)
        part = next(iter(spec.keys(inp))) if spec.keys else None
        states[part] = [t for s in states.get(part, [spec.init()])
                        for t in spec.step(s, inp, result)]
        if not states[part]:
            return False
    return True


@pytest.mark.parametrize("entry", entries())
def test_known_verdict(entry: dict[str, Any]) -> None:
    root = corpus()
    assert root is not None
    h = load(root / entry["file"])
    model, spec = model_of(entry)
    v = check_linearizable(h, spec, model=model, timeout=LIMIT)
    assert v.valid is entry["linearizable"], v.notes
    assert v.model == model and v.stats.operations == len(h.operations)
    if v.valid:
        assert v.witness is not None and is_linearization(h, spec, model, v.witness)
    else:
        ids = {op.id for op in h.operations}
        assert v.anomalies and all(a.type == "not-linearizable" for a in v.anomalies)
        assert all(a.ops and set(a.ops) <= ids for a in v.anomalies)
        assert set(v.counterexample["blocked"]) <= ids
        assert set(v.counterexample["prefix"]) <= ids
    if model == "kv":
        keys = {repr(op.key) for op in h.operations}
        assert set(v.parts) == keys
        if v.valid is False:
            assert v.counterexample["key"] in keys
            assert v.anomalies[0].explanation.startswith(f"On key {v.counterexample['key']}")


@pytest.mark.parametrize("name", ["c01-ok", "c01-bad", "c10-ok"])
def test_kv_unsplit_gets_the_same_verdict(name: str) -> None:
    root = corpus()
    if root is None:
        pytest.skip(SKIP)
    h = load(root / "kv" / f"{name}.txt")
    v = check_linearizable(h, KV, model="kv", split=False, timeout=LIMIT)
    assert v.valid is name.endswith("-ok") and v.parts == {}
    if v.valid:
        assert v.witness is not None and is_linearization(h, KV, "kv", v.witness)
