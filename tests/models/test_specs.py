"""Tests of the sequential specifications: register, cas-register and kv."""

from __future__ import annotations

import os
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.equality import Keyword, same_value
from replicheck.models.specs import (
    CAS_REGISTER,
    KV,
    REGISTER,
    UNKNOWN,
    Input,
    KVState,
    SequentialSpec,
    cas_register,
    kv,
    register,
)
from replicheck.models.specs.base import Cells, Value


def reg(value: Any, initial: Any = None) -> Cells:
    """The register state where the key-less register holds ``value``."""
    return Cells(initial, {None: value})


def run(spec: SequentialSpec[Any], steps: list[tuple[Input, Any]]) -> Any:
    """Apply ``steps`` from ``init()``, requiring each to lead to exactly one state;
    return the final state."""
    state = spec.init()
    for op, result in steps:
        nxt = spec.step(state, op, result)
        assert len(nxt) == 1, f"{spec.describe(op, result)} not allowed from {state!r}"
        state = nxt[0]
    return state


# ---------------------------------------------------------------------------------------
# register


def test_register_starts_never_written() -> None:
    assert REGISTER.init() == reg(None)
    assert REGISTER.step(reg(None), Input("read"), None) == (reg(None),)
    assert REGISTER.step(reg(None), Input("read"), 1) == ()


def test_register_hand_history() -> None:
    final = run(
        REGISTER,
        [
            (Input("read"), None),
            (Input("write", value=1), None),
            (Input("read"), 1),
            (Input("write", value=2), None),
            (Input("write", value=3), None),
            (Input("read"), 3),
        ],
    )
    assert final == reg(3)


def test_register_rejects_stale_and_invented_reads() -> None:
    assert REGISTER.step(reg(2), Input("read"), 1) == ()
    assert REGISTER.step(reg(2), Input("read"), None) == ()
    assert not REGISTER.allows(reg(2), Input("read"), 5)
    assert REGISTER.allows(reg(2), Input("read"), 2)


def test_register_compares_values_by_decoded_type_and_value() -> None:
    assert not REGISTER.allows(reg(1), Input("read"), True)
    assert not REGISTER.allows(reg(True), Input("read"), 1)
    assert not REGISTER.allows(reg(1), Input("read"), 1.0)
    assert not REGISTER.allows(reg("a"), Input("read"), Keyword("a"))
    assert not REGISTER.allows(reg(Keyword("a")), Input("read"), "a")
    assert not REGISTER.allows(reg([1]), Input("read"), [True])
    assert REGISTER.allows(reg(float("nan")), Input("read"), float("nan"))
    assert REGISTER.allows(reg([1, "a"]), Input("read"), (1, "a"))
    # states holding True and 1 are different states (checkers memoize on them)
    assert reg(True) != reg(1) and len({reg(True), reg(1), reg(1.0), reg(None)}) == 4
    assert reg(float("nan")) == reg(float("nan"))
    assert hash(reg(float("nan"))) == hash(reg(float("nan")))
    (after,) = REGISTER.step(reg(1), Input("write", value=True), None)
    assert after == reg(True) and REGISTER.describe_state(after) == "True"


def test_register_keys_are_separate_registers() -> None:
    (state,) = REGISTER.step(REGISTER.init(), Input("write", "a", 1), None)
    assert REGISTER.allows(state, Input("read", "a"), 1)
    assert not REGISTER.allows(state, Input("read", "b"), 1)
    assert REGISTER.allows(state, Input("read", "b"), None)
    # keys compare by decoded type and value too: the key 1 is not the key True
    (state,) = REGISTER.step(REGISTER.init(), Input("write", 1, "x"), None)
    assert not REGISTER.allows(state, Input("read", True), "x")
    assert REGISTER.keys is not None
    assert REGISTER.keys(Input("read", "a")) == frozenset({Value("a")})
    assert REGISTER.keys(Input("read")) == frozenset({Value(None)})
    assert REGISTER.describe(Input("read", "a"), 2) == "read 'a' -> 2"
    assert REGISTER.describe(Input("write", "a", 3), None) == "write 'a' 3"
    assert REGISTER.describe_state(state) == "{1: 'x'}"


def test_register_unknown_results() -> None:
    assert REGISTER.step(reg(7), Input("read"), UNKNOWN) == (reg(7),)
    assert REGISTER.step(reg(7), Input("write", value=8), UNKNOWN) == (reg(8),)
    # A write's result is not an observation of the state: any result is allowed.
    assert REGISTER.step(reg(7), Input("write", value=8), "whatever") == (reg(8),)


def test_register_initial_value_is_a_parameter() -> None:
    spec = register(initial=0)
    assert spec.init() == reg(0, initial=0)
    assert spec.allows(spec.init(), Input("read"), 0)
    assert not spec.allows(spec.init(), Input("read"), None)
    assert "0" in spec.description


def test_register_unknown_function() -> None:
    with pytest.raises(ValueError, match=r"'cas'.*read, write"):
        REGISTER.step(reg(None), Input("cas", value=(1, 2)), True)


def test_register_describe() -> None:
    assert REGISTER.describe(Input("read"), 2) == "read -> 2"
    assert REGISTER.describe(Input("read"), UNKNOWN) == "read -> ?"
    assert REGISTER.describe(Input("write", value=3), None) == "write 3"
    assert REGISTER.describe_state(reg(3)) == "3"
    assert REGISTER.describe_state(REGISTER.init()) == "None"
    assert frozenset({"read", "write"}) == REGISTER.functions


# ---------------------------------------------------------------------------------------
# cas-register


def cas(old: Hashable, new: Hashable) -> Input:
    return Input("cas", value=(old, new))


def test_cas_hand_history_like_etcd() -> None:
    final = run(
        CAS_REGISTER,
        [
            (Input("read"), None),
            (Input("write", value=4), None),
            (cas(4, 0), True),
            (Input("read"), 0),
            (cas(3, 1), False),  # compare failed: value was not 3, stays 0
            (Input("read"), 0),
            (cas(0, 2), True),
            (Input("read"), 2),
        ],
    )
    assert final == reg(2)


def test_cas_outcomes_must_match_the_state() -> None:
    # succeeds only when the value is `old`
    assert CAS_REGISTER.step(reg(1), cas(1, 3), True) == (reg(3),)
    assert CAS_REGISTER.step(reg(2), cas(1, 3), True) == ()
    # fails only when the value is not `old`, and changes nothing
    assert CAS_REGISTER.step(reg(2), cas(1, 3), False) == (reg(2),)
    assert CAS_REGISTER.step(reg(1), cas(1, 3), False) == ()
    # from the absent value
    assert CAS_REGISTER.step(reg(None), cas(None, 1), True) == (reg(1),)
    assert CAS_REGISTER.step(reg(None), cas(0, 1), True) == ()
    # a pair given as a list (as a history loader may produce) works the same
    assert CAS_REGISTER.step(reg(1), Input("cas", value=[1, 3]), True) == (reg(3),)


def test_cas_compares_by_decoded_type_and_value() -> None:
    assert CAS_REGISTER.step(reg(1), cas(True, 3), True) == ()
    assert CAS_REGISTER.step(reg(1), cas(True, 3), False) == (reg(1),)
    assert CAS_REGISTER.step(reg(1), cas(1.0, 3), UNKNOWN) == (reg(1),)
    assert CAS_REGISTER.step(reg("a"), cas(Keyword("a"), 3), False) == (reg("a"),)
    nan = float("nan")
    assert CAS_REGISTER.step(reg(nan), cas(float("nan"), 0), True) == (reg(0),)
    (state,) = CAS_REGISTER.step(CAS_REGISTER.init(), Input("write", "a", 1), None)
    assert CAS_REGISTER.step(state, Input("cas", "b", (1, 2)), True) == ()
    assert CAS_REGISTER.describe(Input("cas", "a", (1, 3)), True) == "cas 'a' (1 -> 3) = ok"


def test_cas_unknown_result_allows_the_possible_outcome() -> None:
    assert CAS_REGISTER.step(reg(1), cas(1, 3), UNKNOWN) == (reg(3),)
    assert CAS_REGISTER.step(reg(2), cas(1, 3), UNKNOWN) == (reg(2),)
    assert CAS_REGISTER.step(reg(2), Input("read"), UNKNOWN) == (reg(2),)
    assert CAS_REGISTER.step(reg(2), Input("write", value=5), UNKNOWN) == (reg(5),)


def test_cas_read_and_write_behave_like_a_register() -> None:
    assert CAS_REGISTER.step(reg(2), Input("read"), 2) == (reg(2),)
    assert CAS_REGISTER.step(reg(2), Input("read"), 3) == ()
    assert CAS_REGISTER.step(reg(2), Input("write", value=9), None) == (reg(9),)


def test_cas_malformed_input_is_an_error() -> None:
    with pytest.raises(ValueError, match="pair"):
        CAS_REGISTER.step(reg(1), Input("cas", value=1), True)
    with pytest.raises(ValueError, match="pair"):
        CAS_REGISTER.step(reg(1), Input("cas", value=(1, 2, 3)), True)
    with pytest.raises(ValueError, match="pair"):
        CAS_REGISTER.step(reg(1), Input("cas", value="ab"), True)
    with pytest.raises(ValueError, match="True, False or UNKNOWN"):
        CAS_REGISTER.step(reg(1), cas(1, 2), "ok")
    with pytest.raises(ValueError, match=r"'append'.*cas, read, write"):
        CAS_REGISTER.step(reg(1), Input("append", value=1), None)


def test_cas_initial_value_and_describe() -> None:
    spec = cas_register(initial=0)
    assert spec.init() == reg(0, initial=0)
    assert spec.allows(spec.init(), cas(0, 1), True)
    assert CAS_REGISTER.describe(cas(1, 3), True) == "cas(1 -> 3) = ok"
    assert CAS_REGISTER.describe(cas(1, 3), False) == "cas(1 -> 3) = fail"
    assert CAS_REGISTER.describe(cas(1, 3), UNKNOWN) == "cas(1 -> 3) = ?"
    assert CAS_REGISTER.describe(Input("read"), 2) == "read -> 2"
    assert CAS_REGISTER.describe(Input("write", value=4), None) == "write 4"
    assert CAS_REGISTER.keys is not None
    assert frozenset({"read", "write", "cas"}) == CAS_REGISTER.functions


# ---------------------------------------------------------------------------------------
# kv


def test_kv_hand_history_like_porcupine() -> None:
    final = run(
        KV,
        [
            (Input("get", "7"), ""),
            (Input("append", "0", "x 0 0 y"), None),
            (Input("get", "0"), "x 0 0 y"),
            (Input("append", "0", "x 0 1 y"), None),
            (Input("get", "0"), "x 0 0 yx 0 1 y"),
            (Input("put", "0", "z"), None),
            (Input("get", "0"), "z"),
            (Input("get", "1"), ""),
        ],
    )
    assert final == KVState({"0": "z"})
    assert KV.describe_state(final) == "{'0': 'z'}"


def test_kv_rejects_wrong_gets() -> None:
    state = KVState({"a": "xy"})
    assert KV.step(state, Input("get", "a"), "xy") == (state,)
    assert KV.step(state, Input("get", "a"), "x") == ()
    assert KV.step(state, Input("get", "a"), "") == ()
    assert KV.step(state, Input("get", "b"), "xy") == ()
    assert KV.step(state, Input("get", "b"), "") == (state,)


def test_kv_unknown_results() -> None:
    state = KVState({"a": "xy"})
    assert KV.step(state, Input("get", "a"), UNKNOWN) == (state,)
    assert KV.step(state, Input("append", "a", "z"), UNKNOWN) == (KVState({"a": "xyz"}),)
    assert KV.step(state, Input("put", "a", "q"), UNKNOWN) == (KVState({"a": "q"}),)


def test_kv_states_are_hashable_values() -> None:
    one = KV.init().set("a", "1").set("b", "2")
    two = KV.init().set("b", "2").set("a", "1")
    assert one == two
    assert hash(one) == hash(two)
    assert len({one, two, KV.init()}) == 2
    # an empty string reads like a key never written, so it is the same state
    assert KV.init().set("a", "") == KV.init()
    assert KV.step(KV.init(), Input("put", "a", ""), None) == (KV.init(),)
    # updates never change the receiver
    base = KVState({"a": "1"})
    base.set("a", "2")
    assert base.value("a") == "1"
    assert dict(base) == {Value("a"): "1"}
    assert base != {"a": "1"}  # a state is not a plain dict


def test_kv_keys_split_by_key() -> None:
    assert KV.keys is not None
    assert KV.keys(Input("get", "4")) == frozenset({Value("4")})
    assert KV.keys(Input("append", 3, "x")) == frozenset({Value(3)})
    assert KV.keys(Input("append", 3, "x")) != KV.keys(Input("append", 3.0, "x"))


def test_kv_compares_keys_and_results_by_decoded_type_and_value() -> None:
    (state,) = KV.step(KV.init(), Input("put", 1, "x"), None)
    assert KV.allows(state, Input("get", 1), "x")
    assert KV.allows(state, Input("get", True), "")
    assert not KV.allows(state, Input("get", True), "x")
    assert not KV.allows(state, Input("get", 1), Keyword("x"))
    assert not KV.allows(state, Input("get", 1), ["x"])
    with pytest.raises(ValueError, match="string"):
        KV.step(state, Input("put", 1, Keyword("x")), None)


def test_kv_bad_input_is_an_error() -> None:
    with pytest.raises(ValueError, match="string"):
        KV.step(KV.init(), Input("put", "a", 1), None)
    with pytest.raises(ValueError, match="string"):
        KV.step(KV.init(), Input("append", "a", None), None)
    with pytest.raises(ValueError, match=r"'cas'.*append, get, put"):
        KV.step(KV.init(), Input("cas", "a", ("", "x")), None)
    with pytest.raises(ValueError, match="string"):
        KVState({"a": 1})  # type: ignore[dict-item]


def test_kv_initial_mapping_and_describe() -> None:
    spec = kv({"a": "start", "b": ""})
    assert spec.init() == KVState({"a": "start"})
    assert spec.allows(spec.init(), Input("get", "a"), "start")
    assert spec.allows(spec.init(), Input("get", "b"), "")
    assert KV.describe(Input("get", "4"), "x") == "get '4' -> 'x'"
    assert KV.describe(Input("get", "4"), UNKNOWN) == "get '4' -> ?"
    assert KV.describe(Input("put", "4", "x"), None) == "put '4' 'x'"
    assert KV.describe(Input("append", "4", "y"), None) == "append '4' 'y'"
    assert frozenset({"get", "put", "append"}) == KV.functions


_EDN = re.compile(
    r'\{:process (\d+), :type :(invoke|ok), :f :(get|put|append), :key "([^"]*)", '
    r':value (nil|"[^"]*")\}'
)


def _corpus_kv(name: str) -> Path:
    env = os.environ.get("REPLICHECK_CORPUS")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "corpus"
    path = root / "porcupine" / "kv" / name
    if not path.is_file():
        pytest.skip(f"corpus file {path} not present")
    return path


def _single_client_allowed(path: Path) -> bool:
    """A one-client history is sequential: the spec alone decides it."""
    state = KV.init()
    pending: Input | None = None
    for line in path.read_text().splitlines():
        m = _EDN.fullmatch(line.strip())
        assert m, line
        _, kind, f, key, raw = m.groups()
        value = None if raw == "nil" else raw[1:-1]
        if kind == "invoke":
            pending = Input(f, key, value if f != "get" else None)
            continue
        assert pending is not None
        nxt = KV.step(state, pending, value if f == "get" else None)
        if not nxt:
            return False
        (state,) = nxt
    return True


def test_kv_porcupine_single_client_verdicts() -> None:
    assert _single_client_allowed(_corpus_kv("c01-ok.txt"))
    assert not _single_client_allowed(_corpus_kv("c01-bad.txt"))


# ---------------------------------------------------------------------------------------
# properties: a plain reference implementation agrees with each spec step by step

VALUES = st.one_of(st.none(), st.integers(0, 3), st.booleans(),
                   st.sampled_from([1.0, float("nan"), "a", Keyword("a"), (1,), (True,)]))
REGISTER_OPS = st.lists(
    st.one_of(st.just(Input("read")), VALUES.map(lambda v: Input("write", value=v))),
    max_size=30,
)


@given(REGISTER_OPS, VALUES)
def test_register_agrees_with_reference(ops: list[Input], other: Hashable) -> None:
    current: Hashable = None
    state = REGISTER.init()
    for op in ops:
        if op.f == "read":
            assert REGISTER.step(state, op, UNKNOWN) == (reg(current),)
            if not same_value(other, current):
                assert REGISTER.step(state, op, other) == ()
            result: Any = current
        else:
            current = op.value
            result = None
        assert REGISTER.step(state, op, result) == (reg(current),)
        (state,) = REGISTER.step(state, op, result)
        assert state == reg(current)


CAS_OPS = st.lists(
    st.one_of(
        st.just(Input("read")),
        VALUES.map(lambda v: Input("write", value=v)),
        st.tuples(VALUES, VALUES).map(lambda p: Input("cas", value=p)),
    ),
    max_size=30,
)


@given(CAS_OPS, VALUES)
def test_cas_register_agrees_with_reference(ops: list[Input], other: Hashable) -> None:
    current: Hashable = None
    state = CAS_REGISTER.init()
    for op in ops:
        result: Any = None
        if op.f == "read":
            result = current
            if not same_value(other, current):
                assert CAS_REGISTER.step(state, op, other) == ()
        elif op.f == "write":
            current = op.value
        else:
            old, new = op.value
            result = same_value(current, old)
            if result:
                current = new
            assert CAS_REGISTER.step(state, op, not result) == ()
        assert CAS_REGISTER.step(state, op, UNKNOWN) == (reg(current),)
        assert CAS_REGISTER.step(state, op, result) == (reg(current),)
        (state,) = CAS_REGISTER.step(state, op, result)
        assert state == reg(current)


KEYS = st.sampled_from(["a", "b", "c"])
STRINGS = st.text(alphabet="xyz ", max_size=3)
KV_OPS = st.lists(
    st.one_of(
        KEYS.map(lambda k: Input("get", k)),
        st.tuples(st.sampled_from(["put", "append"]), KEYS, STRINGS).map(
            lambda t: Input(t[0], t[1], t[2])
        ),
    ),
    max_size=30,
)


def _kv_reference(ops: list[Input]) -> list[Any]:
    """Results a plain dict gives (gets return the string; others None)."""
    store: dict[Hashable, str] = {}
    results: list[Any] = []
    for op in ops:
        if op.f == "get":
            results.append(store.get(op.key, ""))
        else:
            store[op.key] = (store.get(op.key, "") if op.f == "append" else "") + op.value
            results.append(None)
    return results


@given(KV_OPS, STRINGS)
def test_kv_agrees_with_reference(ops: list[Input], suffix: str) -> None:
    results = _kv_reference(ops)
    state = KV.init()
    for op, result in zip(ops, results, strict=True):
        if op.f == "get":
            assert KV.step(state, op, result + suffix + "!") == ()
            assert KV.step(state, op, UNKNOWN) == (state,)
        (state,) = KV.step(state, op, result)
    hash(state)


@given(KV_OPS)
def test_kv_each_key_alone_from_init(ops: list[Input]) -> None:
    """P-compositionality: the ops of one key, checked alone from init(), are accepted
    with the results the whole history gave them."""
    results = _kv_reference(ops)
    assert KV.keys is not None
    for key in {k for op in ops for k in KV.keys(op)}:
        state = KV.init()
        for op, result in zip(ops, results, strict=True):
            if KV.keys(op) == frozenset({key}):
                (state,) = KV.step(state, op, result)
        assert set(state) <= {key}
