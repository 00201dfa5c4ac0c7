"""Properties of the linearizability checker over generated histories.

- Histories made valid by construction (a sequential run of a reference model, each
  operation's interval widened around its point in the run, indeterminate operations
  that did or did not take effect, failed ones that did not) are judged valid, with a
  witness that replays.
- On small histories (at most 7 operations), arbitrary, mostly indeterminate, or
  mutated from valid ones, the verdict is exactly brute force's, whether split by key
  or not, with or without a time limit (a limit may only turn the verdict into
  "unknown").
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.adapters import adapter_for
from replicheck.histories.checkers.linearizable import (
    brute_force_linearizable,
    check_linearizable,
)
from replicheck.histories.history import History, Record, pair
from replicheck.models.specs import CAS_REGISTER, KV, REGISTER, UNKNOWN, SequentialSpec

VALUES = st.sampled_from([None, 0, 1, 2])
WRITTEN = st.integers(0, 2)
SPECS: dict[str, SequentialSpec[Any]] = {
    "register": REGISTER, "cas-register": CAS_REGISTER, "kv": KV}


@dataclass
class Event:
    """One operation to be recorded: its process, function, key, argument, how it
    completed and what it returned, and when it was invoked and completed (``None``:
    never)."""

    process: int
    f: str
    key: Hashable | None
    value: Any
    status: str
    output: Any
    call: float
    ret: float | None
    error: str | None = None


def record(events: list[Event]) -> History:
    """The history of ``events``: invocations and completions in time order."""
    timed: list[tuple[float, int, Record]] = []
    for n, e in enumerate(events):
        timed.append((e.call, n, Record(e.process, "invoke", e.f, e.value, key=e.key)))
        if e.ret is not None:
            timed.append((e.ret, n, Record(e.process, e.status, e.f, e.output, key=e.key,
                                           error=e.error)))
    timed.sort(key=lambda t: (t[0], t[1]))
    return pair(Record(**{**r.__dict__, "index": i}) for i, (_, _, r) in enumerate(timed))


def replays(h: History, spec: SequentialSpec[Any], witness: tuple[int, ...],
            model: str) -> bool:
    """``witness`` is a linearization of ``h``: each operation that must be placed is
    there once, no excluded one is, real time holds, and ``spec`` allows every step."""
    ops = {op.id: op for op in h.operations}
    if len(set(witness)) != len(witness):
        return False

    def must(op: Any) -> bool:
        return bool(op.ok or (op.failed and op.condition_failed))

    for op in h.operations:
        if op.id in witness and op.failed and not must(op):
            return False
        if must(op) and op.id not in witness:
            return False
    for n, a in enumerate(witness):
        ret = ops[a].ret
        for b in witness[:n]:
            if must(ops[a]) and ret is not None and ret < ops[b].call:
                return False
    adapter = adapter_for(model)
    states: dict[Hashable, list[Any]] = {}
    for i in witness:
        op = ops[i]
        inp = adapter.to_input(op)
        result = (adapter.ok_result(op) if op.ok else
                  adapter.failed_result(op) if op.failed and adapter.failed_result else
                  UNKNOWN)
        part = next(iter(spec.keys(inp))) if spec.keys else None
        possible = states.get(part, [spec.init()])
        states[part] = [t for s in possible for t in spec.step(s, inp, result)]
        if not states[part]:
            return False
    return True


# ---------------------------------------------------------------------------------------
# Valid by construction


def _apply(model: str, state: dict[Hashable, Any], f: str, key: Hashable, value: Any
           ) -> Any:
    """Run one operation on a plain reference model; return its result."""
    current = state.get(key, "" if model == "kv" else None)
    if f in ("read", "get"):
        return current
    if f in ("write", "put"):
        state[key] = value
    elif f == "append":
        state[key] = current + value
    elif f == "cas":
        if current != value[0]:
            return False
        state[key] = value[1]
        return True
    return None


@st.composite
def valid_histories(draw: st.DrawFn, model: str, max_ops: int = 12) -> History:
    functions = {"register": ["read", "write"], "cas-register": ["read", "write", "cas"],
                 "kv": ["get", "put", "append"]}[model]
    keys = ["a", "b"] if model == "kv" else [None]
    state: dict[Hashable, Any] = {}
    events: list[Event] = []
    process = 0
    for n in range(draw(st.integers(0, max_ops))):
        f = draw(st.sampled_from(functions))
        key = draw(st.sampled_from(keys))
        if f == "cas":
            value: Any = [draw(VALUES), draw(WRITTEN)]
        elif f in ("write",):
            value = draw(WRITTEN)
        elif f in ("put", "append"):
            value = draw(st.sampled_from(["x", "y", "xy"]))
        else:
            value = None
        result = _apply(model, state, f, key, value)
        point = 10.0 * n + 5
        call = point - draw(st.integers(1, 25))
        ret: float | None = point + draw(st.integers(1, 25))
        status, output, error = "ok", (result if f in ("read", "get") else value), None
        if f == "cas" and result is False:
            # A failed compare, recorded either way the contract allows.
            status, error = draw(st.sampled_from([("fail", "condition-failed"),
                                                  ("ok", None)]))
            output = value if status == "fail" else False
        elif f not in ("read", "get") and draw(st.booleans()) and draw(st.booleans()):
            # Took effect, but the client never learnt it.
            status, output, error = "info", None, "timed-out"
            ret = draw(st.one_of(st.none(), st.just(point + 30)))
        events.append(Event(process, f, key, value, status, output, call, ret, error))
        process += 1
    # Operations that did not take effect: indeterminate ones and failed ones.
    for _ in range(draw(st.integers(0, 3))):
        f = draw(st.sampled_from([g for g in functions if g not in ("read", "get")]))
        key = draw(st.sampled_from(keys))
        value = ([draw(VALUES), draw(WRITTEN)] if f == "cas" else draw(WRITTEN)
                 if f == "write" else "z")
        call = float(draw(st.integers(0, 10 * max_ops)))
        status = draw(st.sampled_from(["info", "fail"]))
        ret = call + draw(st.integers(1, 20)) if status == "fail" or draw(
            st.booleans()) else None
        events.append(Event(process, f, key, value, status, None, call + 0.5,
                            None if ret is None else ret + 0.5,
                            "timed-out" if status == "info" else None))
        process += 1
    return record(events)


@given(st.sampled_from(sorted(SPECS)).flatmap(
    lambda m: st.tuples(st.just(m), valid_histories(m))))
def test_histories_valid_by_construction_are_judged_valid(case: tuple[str, History]
                                                          ) -> None:
    model, h = case
    spec = SPECS[model]
    v = check_linearizable(h, spec, model=model)
    assert v.valid is True, [a.explanation for a in v.anomalies]
    assert v.witness is not None and replays(h, spec, v.witness, model)
    assert v.stats.operations == len(h.operations)


# ---------------------------------------------------------------------------------------
# Small histories: exactly brute force


@st.composite
def small_histories(draw: st.DrawFn, model: str, indeterminate: bool = False) -> History:
    functions = {"register": ["read", "write"], "cas-register": ["read", "write", "cas"],
                 "kv": ["get", "put", "append"]}[model]
    keys = ["a", "b"] if model == "kv" else [None]
    events = []
    for process in range(draw(st.integers(1, 7))):
        f = draw(st.sampled_from(functions))
        key = draw(st.sampled_from(keys))
        if f == "cas":
            value: Any = [draw(VALUES), draw(WRITTEN)]
        elif f == "write":
            value = draw(WRITTEN)
        elif f in ("put", "append"):
            value = draw(st.sampled_from(["x", "y"]))
        else:
            value = None
        call = float(draw(st.integers(0, 20)))
        ret: float | None = call + draw(st.integers(1, 12))
        status = draw(st.sampled_from(
            ["ok", "info", "info"] if indeterminate and f not in ("read", "get") else
            ["ok", "ok", "ok", "info", "fail"]))
        error = None
        if status == "fail" and f == "cas" and draw(st.booleans()):
            error = "condition-failed"
        if status == "info":
            error = "timed-out"
            ret = draw(st.one_of(st.none(), st.just(ret)))
        if f in ("read", "get") and status == "ok":
            output: Any = (draw(st.sampled_from(["", "x", "y", "xy", "yx"])) if model == "kv"
                           else draw(VALUES))
        elif f == "cas" and status == "ok":
            output = draw(st.sampled_from([value, False]))
        else:
            output = value
        events.append(Event(process, f, key, value, status, output, call + process / 10,
                            None if ret is None else ret + process / 10 + 0.05, error))
    return record(events)


MODELS_AND_SMALL = st.sampled_from(sorted(SPECS)).flatmap(
    lambda m: st.tuples(st.just(m), small_histories(m)))


@given(MODELS_AND_SMALL)
def test_small_histories_agree_with_brute_force(case: tuple[str, History]) -> None:
    model, h = case
    spec = SPECS[model]
    expected = brute_force_linearizable(h, spec, model=model)
    v = check_linearizable(h, spec, model=model)
    assert v.valid is expected
    unsplit = check_linearizable(h, spec, model=model, split=False)
    assert unsplit.valid is expected
    if expected:
        assert v.witness is not None and replays(h, spec, v.witness, model)
        assert unsplit.witness is not None and replays(h, spec, unsplit.witness, model)
    else:
        assert len(v.anomalies) >= 1 and v.counterexample["blocked"]
        assert set(v.counterexample["blocked"]) <= {op.id for op in h.operations}
        prefix = v.counterexample["prefix"]
        assert not set(prefix) & set(v.counterexample["blocked"])


@given(st.sampled_from(sorted(SPECS)).flatmap(
    lambda m: st.tuples(st.just(m), small_histories(m, indeterminate=True))))
def test_indeterminate_heavy_histories_agree_with_brute_force(case: tuple[str, History]
                                                              ) -> None:
    # Mostly timed-out writes: exercises leaving them out, placing them late, merging
    # equal ones and skipping those overwritten before anyone could see them.
    model, h = case
    spec = SPECS[model]
    assert check_linearizable(h, spec, model=model).valid is brute_force_linearizable(
        h, spec, model=model)


@given(MODELS_AND_SMALL, st.sampled_from([1e-9, 1e-6, 1e-3]))
def test_a_time_limit_never_gives_a_wrong_verdict(case: tuple[str, History], limit: float
                                                  ) -> None:
    model, h = case
    v = check_linearizable(h, SPECS[model], model=model, timeout=limit)
    assert v.valid == "unknown" or v.valid is brute_force_linearizable(
        h, SPECS[model], model=model)


@st.composite
def mutated_histories(draw: st.DrawFn) -> tuple[str, History]:
    model = draw(st.sampled_from(sorted(SPECS)))
    h = draw(valid_histories(model, max_ops=4))
    reads = [op for op in h.operations if op.f in ("read", "get") and op.ok]
    if not reads:
        return model, h
    target = draw(st.sampled_from(reads))
    new = (draw(st.sampled_from(["", "x", "y", "xy", "yx", "xyx"])) if model == "kv"
           else draw(VALUES))
    ops = tuple(op if op.id != target.id else _with_output(op, new) for op in h.operations)
    return model, History(ops)


def _with_output(op: Any, output: Any) -> Any:
    return replace(op, output=output)


@given(mutated_histories())
def test_mutated_reads_are_judged_as_brute_force_judges_them(case: tuple[str, History]
                                                             ) -> None:
    model, h = case
    spec = SPECS[model]
    assert check_linearizable(h, spec, model=model).valid is brute_force_linearizable(
        h, spec, model=model)
