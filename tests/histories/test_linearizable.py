"""The linearizability checker on small hand-written histories.

Each history is built from records with ``pair()``; a record's index is its position,
so the order of the rows is real time. Valid verdicts are checked further: the witness
is replayed against the specification and against real time.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

import pytest

from replicheck.histories.checkers.adapters import (
    Adapter,
    adapter_for,
    register_adapter,
)
from replicheck.histories.checkers.linearizable import (
    brute_force_linearizable,
    check_linearizable,
)
from replicheck.histories.checkers.wgl import SpecificationError
from replicheck.histories.history import History, Record, pair
from replicheck.histories.verdict import Verdict
from replicheck.models.specs import CAS_REGISTER, KV, REGISTER, UNKNOWN, Input, SequentialSpec

Row = tuple[Any, ...]


def hist(*rows: Row) -> History:
    """Rows ``(process, type, f, value[, key[, error]])`` in real-time order."""
    records = []
    for index, row in enumerate(rows):
        process, type_, f, value, *rest = row
        key = rest[0] if rest else None
        error = rest[1] if len(rest) > 1 else None
        records.append(Record(process, type_, f, value, key=key, error=error, index=index))
    return pair(records)


def replays(h: History, spec: SequentialSpec[Any], witness: tuple[int, ...],
            model: str) -> bool:
    """The witness is a linearization: every operation that took effect is in it once,
    no failed one is, real time is respected, and the specification allows each step
    (splitting by key when the specification has keys)."""
    ops = {op.id: op for op in h.operations}
    if len(set(witness)) != len(witness):
        return False
    placed = set(witness)
    for op in h.operations:
        observed_fail = op.condition_failed
        if (op.ok or observed_fail) != (op.id in placed) and not op.indeterminate:
            return False
    position = {i: n for n, i in enumerate(witness)}
    for a in witness:
        for b in witness:
            ra = ops[a].ret
            if (ops[a].ok or ops[a].failed) and ra is not None and ra < ops[b].call \
                    and position[a] > position[b]:
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


def assert_valid(h: History, spec: SequentialSpec[Any], model: str) -> Verdict:
    v = check_linearizable(h, spec, model=model)
    assert v.valid is True, v.anomalies
    assert v.witness is not None and replays(h, spec, v.witness, model)
    assert v.anomalies == () and "linearizable" in v.still_possible
    assert brute_force_linearizable(h, spec, model=model)
    return v


def assert_invalid(h: History, spec: SequentialSpec[Any], model: str) -> Verdict:
    v = check_linearizable(h, spec, model=model)
    assert v.valid is False
    assert not brute_force_linearizable(h, spec, model=model)
    assert [a.type for a in v.anomalies] == ["not-linearizable"]
    assert "linearizable" in v.ruled_out and "linearizable" not in v.still_possible
    assert v.witness is None
    return v


# ---------------------------------------------------------------------------------------
# Registers


def test_sequential_write_then_read_is_valid_with_its_order_as_witness() -> None:
    h = hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (1, "invoke", "read", None), (1, "ok", "read", 1))
    v = assert_valid(h, REGISTER, "register")
    assert v.witness == (0, 1)
    assert v.model == "register" and v.consistency == ("linearizable",)
    assert v.stats.operations == 2 and v.stats.states >= 1


def test_stale_read_is_not_linearizable_and_says_which_read_and_what_was_there() -> None:
    h = hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (0, "invoke", "write", 2), (0, "ok", "write", 2),
             (1, "invoke", "read", None), (1, "ok", "read", 1))
    v = assert_invalid(h, REGISTER, "register")
    (anomaly,) = v.anomalies
    assert anomaly.ops == (2,)
    assert v.counterexample == {"key": None, "prefix": [0, 1], "blocked": [2]}
    text = anomaly.explanation
    assert "after linearizing 2 operations" in text
    assert "read -> 1 by process 1 cannot be placed" in text
    assert "the register holds 2 there" in text


def test_read_concurrent_with_a_write_may_see_either_value() -> None:
    for seen in (None, 7):
        h = hist((0, "invoke", "write", 7), (1, "invoke", "read", None),
                 (1, "ok", "read", seen), (0, "ok", "write", 7))
        assert_valid(h, REGISTER, "register")


def test_reads_must_agree_on_one_order_of_concurrent_writes() -> None:
    # Two concurrent writes; one reader sees 1 then 2, the other 2 then 1.
    h = hist((0, "invoke", "write", 1), (1, "invoke", "write", 2),
             (2, "invoke", "read", None), (2, "ok", "read", 1),
             (3, "invoke", "read", None), (3, "ok", "read", 2),
             (2, "invoke", "read", None), (2, "ok", "read", 2),
             (3, "invoke", "read", None), (3, "ok", "read", 1),
             (0, "ok", "write", 1), (1, "ok", "write", 2))
    assert_invalid(h, REGISTER, "register")


def test_a_value_never_written_cannot_be_read() -> None:
    h = hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (1, "invoke", "read", None), (1, "ok", "read", 3))
    v = assert_invalid(h, REGISTER, "register")
    assert "no operation left can make it possible" in v.anomalies[0].explanation


def test_empty_history_is_valid() -> None:
    v = check_linearizable(History(()), CAS_REGISTER)
    assert v.valid is True and v.witness == () and v.stats.operations == 0


# ---------------------------------------------------------------------------------------
# Compare-and-set registers


def test_cas_takes_effect_between_call_and_return() -> None:
    h = hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (1, "invoke", "cas", [1, 2]), (1, "ok", "cas", [1, 2]),
             (2, "invoke", "read", None), (2, "ok", "read", 2))
    assert_valid(h, CAS_REGISTER, "cas-register")
    bad = hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
               (1, "invoke", "cas", [3, 2]), (1, "ok", "cas", [3, 2]))
    assert_invalid(bad, CAS_REGISTER, "cas-register")


def test_condition_failed_is_an_observation_but_a_plain_fail_is_left_out() -> None:
    def with_error(error: str | None) -> History:
        return hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
                    (1, "invoke", "cas", [1, 2]), (1, "fail", "cas", [1, 2], None, error),
                    (2, "invoke", "read", None), (2, "ok", "read", 1))
    # The compare against 1 cannot fail while the register holds 1.
    v = assert_invalid(with_error("condition-failed"), CAS_REGISTER, "cas-register")
    assert "cas(1 -> 2) = fail by process 1 cannot be placed" in v.anomalies[0].explanation
    # A plain fail did not take effect and observed nothing.
    v = assert_valid(with_error(None), CAS_REGISTER, "cas-register")
    assert v.witness == (0, 2)
    assert any("1 failed operations left out" in n for n in v.notes)


def test_condition_failed_concurrent_with_a_change_is_allowed() -> None:
    h = hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (1, "invoke", "cas", [1, 2]), (0, "invoke", "write", 5),
             (1, "fail", "cas", [1, 2], None, "condition-failed"), (0, "ok", "write", 5))
    v = assert_valid(h, CAS_REGISTER, "cas-register")
    assert v.witness == (0, 2, 1)


def test_info_write_may_take_effect_late() -> None:
    h = hist((0, "invoke", "write", 1), (0, "info", "write", None, None, "timed-out"),
             (1, "invoke", "read", None), (1, "ok", "read", None),
             (2, "invoke", "read", None), (2, "ok", "read", 1))
    v = assert_valid(h, CAS_REGISTER, "cas-register")
    assert v.witness == (1, 0, 2)


def test_info_write_may_never_take_effect() -> None:
    h = hist((0, "invoke", "write", 1), (0, "info", "write", None, None, "timed-out"),
             (1, "invoke", "read", None), (1, "ok", "read", None))
    v = assert_valid(h, CAS_REGISTER, "cas-register")
    assert v.witness == (1,)


def test_info_write_cannot_take_effect_before_it_was_invoked_or_be_undone() -> None:
    early = hist((1, "invoke", "read", None), (1, "ok", "read", 1),
                 (0, "invoke", "write", 1), (0, "info", "write", None, None, "timed-out"))
    assert_invalid(early, CAS_REGISTER, "cas-register")
    undone = hist((0, "invoke", "write", 1), (0, "info", "write", None, None, "timed-out"),
                  (1, "invoke", "read", None), (1, "ok", "read", 1),
                  (2, "invoke", "read", None), (2, "ok", "read", None))
    assert_invalid(undone, CAS_REGISTER, "cas-register")


def test_operation_never_completed_is_indeterminate() -> None:
    h = hist((0, "invoke", "cas", [None, 4]),
             (1, "invoke", "read", None), (1, "ok", "read", 4))
    assert_valid(h, CAS_REGISTER, "cas-register")


def test_failed_write_is_excluded_and_failed_read_constrains_nothing() -> None:
    h = hist((0, "invoke", "write", 5), (0, "fail", "write", 5),
             (1, "invoke", "read", None), (1, "ok", "read", 5))
    assert_invalid(h, CAS_REGISTER, "cas-register")
    timed_out = hist((1, "invoke", "read", None), (1, "fail", "read", None, None, "timed-out"),
                     (1, "invoke", "read", None), (1, "ok", "read", None))
    v = assert_valid(timed_out, CAS_REGISTER, "cas-register")
    assert v.witness == (1,)


def test_equal_timed_out_writes_are_interchangeable() -> None:
    # Many identical indeterminate writes: the search treats them as one choice, and
    # a read of the value needs just one of them.
    rows: list[Row] = []
    for p in range(12):
        rows += [(p, "invoke", "write", 3), (p, "info", "write", None, None, "timed-out")]
    rows += [(99, "invoke", "read", None), (99, "ok", "read", 3),
             (98, "invoke", "write", 4), (98, "ok", "write", 4),
             (97, "invoke", "read", None), (97, "ok", "read", 3)]
    v = check_linearizable(hist(*rows), CAS_REGISTER)
    assert v.valid is True and v.witness is not None
    assert replays(hist(*rows), CAS_REGISTER, v.witness, "cas-register")
    assert v.stats.states < 200


def test_model_defaults_to_the_specification_name() -> None:
    h = hist((0, "invoke", "write", 1), (0, "ok", "write", 1))
    assert check_linearizable(h, CAS_REGISTER).model == "cas-register"
    assert check_linearizable(h, REGISTER).model == "register"


def test_unknown_function_names_the_function_the_model_and_the_known_ones() -> None:
    h = hist((0, "invoke", "increment", 1), (0, "ok", "increment", 1))
    with pytest.raises(ValueError) as caught:
        check_linearizable(h, CAS_REGISTER, model="cas-register")
    message = str(caught.value)
    assert "'increment'" in message and "'cas-register'" in message
    assert "cas, read, write" in message
    with pytest.raises(ValueError, match="no linearizability adapter for model 'queue'"):
        check_linearizable(h, CAS_REGISTER, model="queue")


def test_verdict_to_json_has_the_contract_keys() -> None:
    h = hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (1, "invoke", "read", None), (1, "ok", "read", 2))
    out = check_linearizable(h, CAS_REGISTER).to_json()
    json.dumps(out)
    assert out["valid"] is False and out["model"] == "cas-register"
    assert out["anomalies"][0]["type"] == "not-linearizable"
    # The read of 2 is impossible from the start (nothing writes 2): the search stops at
    # once, with the read as the operation that cannot be placed; the prefix reported is
    # extended with what can still come next (the write).
    assert out["counterexample"] == {"key": None, "prefix": [0], "blocked": [1]}
    data = out["anomalies"][0]["data"]
    assert data["prefix"] == [{"op": 0, "operation": "write 1", "process": 0,
                               "client": "process 0", "state": "1"}]
    assert data["unplaceable"]["op"] == 1 and data["unplaceable"]["doomed"] is True
    assert data["explaining_writes"] == []
    assert out["stats"]["operations"] == 2


# ---------------------------------------------------------------------------------------
# Key-value store, split by key


def test_kv_is_checked_per_key_and_reports_each_key() -> None:
    h = hist((0, "invoke", "append", "a", "x"), (0, "ok", "append", "a", "x"),
             (1, "invoke", "append", "b", "y"), (1, "ok", "append", "b", "y"),
             (0, "invoke", "get", None, "x"), (0, "ok", "get", "a", "x"),
             (1, "invoke", "get", None, "y"), (1, "ok", "get", "b", "y"),
             (2, "invoke", "get", None, "z"), (2, "ok", "get", None, "z"))
    v = assert_valid(h, KV, "kv")
    assert set(v.parts) == {"'x'", "'y'", "'z'"}
    assert v.parts["'x'"].witness == (0, 2) and v.parts["'z'"].witness == (4,)
    assert all(p.valid is True for p in v.parts.values())
    assert sorted(v.witness or ()) == [0, 1, 2, 3, 4]


def test_kv_violation_on_one_key_names_that_key() -> None:
    h = hist((0, "invoke", "put", "a", "x"), (0, "ok", "put", "a", "x"),
             (1, "invoke", "append", "b", "y"), (1, "ok", "append", "b", "y"),
             (1, "invoke", "append", "c", "y"), (1, "ok", "append", "c", "y"),
             (2, "invoke", "get", None, "y"), (2, "ok", "get", "cb", "y"),
             (0, "invoke", "get", None, "x"), (0, "ok", "get", "a", "x"))
    v = assert_invalid(h, KV, "kv")
    assert v.parts["'x'"].valid is True and v.parts["'y'"].valid is False
    assert v.counterexample["key"] == "'y'"
    assert v.anomalies[0].explanation.startswith("On key 'y', no order")
    assert "get 'y' -> 'cb' by process 2 cannot be placed" in v.anomalies[0].explanation
    unsplit = check_linearizable(h, KV, split=False)
    assert unsplit.valid is False and unsplit.parts == {}


def test_condition_failed_in_a_model_without_conditions_is_an_error() -> None:
    h = hist((0, "invoke", "put", "v", "k"), (0, "fail", "put", "v", "k", "condition-failed"))
    with pytest.raises(ValueError, match="model 'kv' has no conditions"):
        check_linearizable(h, KV)


def test_kv_get_of_absent_key_reads_empty_string() -> None:
    h = hist((0, "invoke", "get", None, "k"), (0, "ok", "get", None, "k"),
             (0, "invoke", "append", "v", "k"), (0, "ok", "append", "v", "k"),
             (0, "invoke", "get", None, "k"), (0, "ok", "get", "v", "k"))
    assert_valid(h, KV, "kv")


# ---------------------------------------------------------------------------------------
# Nondeterministic specifications, custom adapters, limits


def _bump_step(state: int, op: Input, result: Any) -> tuple[int, ...]:
    if op.f == "bump":  # adds 1 or 2, nobody knows which
        return (state + 1, state + 2)
    if op.f == "read":
        return (state,) if result == state or result is UNKNOWN else ()
    raise ValueError(f"bump: unknown function {op.f!r}")


BUMP = SequentialSpec(name="bump", description="a counter that grows by 1 or 2",
                      functions=frozenset({"bump", "read"}), init=lambda: 0, step=_bump_step)


def _bump_adapter() -> Adapter:
    return Adapter(model="bump", functions=frozenset({"bump", "read"}),
                   to_input=lambda op: Input(op.f, None, op.input),
                   ok_result=lambda op: op.output if op.f == "read" else None,
                   pure=lambda inp, _r: inp.f == "read")


@pytest.fixture
def bump() -> SequentialSpec[Any]:
    register_adapter(_bump_adapter())
    return BUMP


def test_nondeterministic_specification_branches(bump: SequentialSpec[Any]) -> None:
    def bumps_then_read(k: int, value: int) -> History:
        rows: list[Row] = []
        for _ in range(k):
            rows += [(0, "invoke", "bump", None), (0, "ok", "bump", None)]
        return hist(*rows, (1, "invoke", "read", None), (1, "ok", "read", value))
    assert_valid(bumps_then_read(1, 2), bump, "bump")
    assert_valid(bumps_then_read(2, 3), bump, "bump")
    assert_invalid(bumps_then_read(1, 3), bump, "bump")
    v = assert_invalid(bumps_then_read(2, 5), bump, "bump")
    assert "one of" in v.anomalies[0].explanation  # several states were possible


def test_timeout_gives_unknown_with_the_longest_prefix(bump: SequentialSpec[Any]) -> None:
    # Ten concurrent (distinct) bumps, then a read no number of bumps can explain: the
    # search has to try a thousand subsets, far beyond a zero-length time budget.
    rows: list[Row] = [(p, "invoke", "bump", p) for p in range(10)]
    rows += [(p, "ok", "bump", p) for p in range(10)]
    rows += [(20, "invoke", "read", None), (20, "ok", "read", 1)]
    h = hist(*rows)
    v = check_linearizable(h, bump, timeout=1e-9)
    assert v.valid == "unknown"
    assert v.anomalies == () and v.witness is None
    assert v.counterexample["prefix"]  # something was linearized before giving up
    assert any("time limit" in n for n in v.notes)
    assert check_linearizable(h, bump).valid is False


def test_a_pure_step_that_changes_the_state_is_reported() -> None:
    register_adapter(Adapter(model="bump-liar", functions=frozenset({"bump", "read"}),
                             to_input=lambda op: Input(op.f, None, op.input),
                             ok_result=lambda op: None,
                             pure=lambda _inp, _r: True))
    h = hist((0, "invoke", "bump", None), (0, "ok", "bump", None))
    with pytest.raises(SpecificationError, match="declared pure"):
        check_linearizable(h, BUMP, model="bump-liar")


def test_brute_force_refuses_large_histories() -> None:
    rows: list[Row] = []
    for p in range(13):
        rows += [(p, "invoke", "write", p), (p, "ok", "write", p)]
    with pytest.raises(ValueError, match="at most 12"):
        brute_force_linearizable(hist(*rows), REGISTER)
