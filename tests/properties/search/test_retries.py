"""The retry rule classes: a token reused with another body is answered with
IdempotentParameterMismatch and applies nothing, a token-blind store is caught by a
small derandomized search only with the rules, and a write made indeterminate is
retried and its items read back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.histories.history import Operation, pair
from replicheck.histories.items import (
    operation_records,
    request_from_json,
    response_from_json,
    tables_record,
)
from replicheck.implementation.mutants.escapees import token_ignores_request_body
from replicheck.implementation.presets import preset
from replicheck.models.items.errors import IdempotentParameterMismatch
from replicheck.models.items.requests import (
    Delete,
    Get,
    Put,
    Request,
    Response,
    TransactWrite,
    Update,
)
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.guarantees import VIOLATED, judge_claims
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.search.retries import (
    CAUSES,
    CLASSES,
    PAST_WINDOW,
    RETRY_INDETERMINATE,
    TOKEN_REUSE,
    retry_rules,
    touched_keys,
)

TABLE, PK = "items", "pk"
ONE = {":one": Decimal(1)}


def _machine(factory: Any) -> Any:
    machine = type("T", (retry_rules(probe_surface(factory())), concurrency_machine(factory)),
                   {})()
    machine.start()
    return machine


def _ops(machine: Any) -> list[Operation]:
    return sorted(machine.rec.history().operations, key=lambda op: op.call)


def _request(op: Operation) -> Any:
    return request_from_json(op.input, op.f)


def _item(op: Operation) -> Any:
    return response_from_json(op.output, _request(op)).item


def _key(op: Operation) -> str:
    return str(_request(op).key[PK])


def _search(examples: int, steps: int) -> settings:
    return settings(max_examples=examples, stateful_step_count=steps, derandomize=True,
                    database=None, deadline=None, print_blob=False,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def test_classes_are_named() -> None:
    assert CLASSES == (TOKEN_REUSE, RETRY_INDETERMINATE)


def test_touched_keys_lists_each_key_once_in_order() -> None:
    txn = TransactWrite((Put(TABLE, {PK: "k2", "v": "v1"}),
                         Update(TABLE, {PK: "k0"}, "ADD n :one", values=ONE),
                         Delete(TABLE, {PK: "k1"})))
    assert touched_keys(txn, PK) == ("k2", "k0", "k1")
    assert touched_keys(Put(TABLE, {PK: "k1", "v": "v1"}), PK) == ("k1",)


def test_token_reused_with_another_body_is_a_mismatch_that_applies_nothing() -> None:
    machine = _machine(lambda: preset("dynamodb"))
    first = TransactWrite((Put(TABLE, {PK: "k0", "v": "v1"}),))
    machine.token_reuse(("c0", first, "k1", "v2", "other-body"))
    ops = _ops(machine)
    assert [(op.f, op.status) for op in ops] == [
        ("transact-write", "ok"), ("transact-write", "fail"),
        ("get-strong", "ok"), ("get-strong", "ok")]
    assert _request(ops[0]).token == _request(ops[1]).token == "token-v2"
    assert ops[1].error == "IdempotentParameterMismatch"
    assert _item(ops[2]) == {PK: "k0", "v": "v1"}
    assert _item(ops[3]) is None  # the mismatched body applied nothing
    assert TOKEN_REUSE in machine.marked
    machine.teardown()  # every claimed guarantee holds


def test_token_reused_with_the_same_body_applies_once() -> None:
    machine = _machine(lambda: preset("dynamodb"))
    increment = TransactWrite((Update(TABLE, {PK: "k0"}, "ADD n :one", values=ONE),))
    machine.token_reuse(("c0", increment, "k1", "v1", "same-body"))
    ops = _ops(machine)
    assert [(op.f, op.status) for op in ops] == [
        ("transact-write", "ok"), ("transact-write", "ok"), ("get-strong", "ok")]
    assert ops[1].meta.get("replayed") is True
    assert _item(ops[2]) == {PK: "k0", "n": Decimal(1)}
    machine.teardown()


def test_token_reused_past_its_window_with_another_body_applies_it() -> None:
    """Past the declared token window the store has forgotten the token: the other
    body applies, and the checkers (judging the window) find nothing wrong."""
    machine = _machine(lambda: preset("dynamodb"))
    first = TransactWrite((Put(TABLE, {PK: "k0", "v": "v1"}),))
    machine.token_reuse(("c0", first, "k1", "v2", "after-window"))
    ops = _ops(machine)
    assert [(op.f, op.status) for op in ops] == [
        ("transact-write", "ok"), ("transact-write", "ok"),
        ("get-strong", "ok"), ("get-strong", "ok")]
    assert ops[1].call_time - ops[0].ret_time >= 600 * PAST_WINDOW * 10**9
    assert _item(ops[3]) == {PK: "k1", "v": "v2"}
    machine.teardown()  # every claimed guarantee holds


def test_token_reused_while_the_first_is_in_flight_comes_from_two_clients() -> None:
    machine = _machine(lambda: preset("dynamodb"))
    first = TransactWrite((Put(TABLE, {PK: "k0", "v": "v1"}),
                           Put(TABLE, {PK: "k1", "v": "v2"})))
    machine.token_reuse(("c0", first, "k2", "v3", "overlapping"))
    ops = _ops(machine)
    writes = [op for op in ops if op.f == "transact-write"]
    assert len({op.process for op in writes}) == 2
    assert {_request(op).token for op in writes} == {"token-v3"}
    assert writes[1].call < writes[0].ret  # the second was sent before the first ended
    assert sorted(op.status for op in writes) == ["fail", "ok"]
    assert "IdempotentParameterMismatch" in {op.error for op in writes}
    assert [_key(op) for op in ops if op.f == "get-strong"] == ["k0", "k1", "k2"]
    machine.teardown()


def test_token_blind_store_is_caught_by_the_rule() -> None:
    machine = _machine(token_ignores_request_body)
    first = TransactWrite((Put(TABLE, {PK: "k0", "v": "v1"}),))
    machine.token_reuse(("c0", first, "k1", "v2", "other-body"))
    ops = _ops(machine)
    assert (ops[1].status, ops[1].meta.get("replayed")) == ("ok", True)
    with pytest.raises(GuaranteeViolation) as failure:
        machine.teardown()
    assert "serializable-transactions" in failure.value.guarantees


def test_small_derandomized_search_catches_a_token_blind_store_only_with_the_rules() -> None:
    base = concurrency_machine(token_ignores_request_body, max_steps=10)
    run_state_machine_as_test(base, settings=_search(20, 10))  # the suite today misses it
    with_rules = type("T", (retry_rules(probe_surface(token_ignores_request_body())), base),
                      {})
    with pytest.raises(GuaranteeViolation) as failure:
        run_state_machine_as_test(with_rules, settings=_search(20, 10))
    assert "serializable-transactions" in failure.value.guarantees


def _requests(transactions: bool) -> list[Request]:
    plain: list[Request] = [Put(TABLE, {PK: "k0", "v": "v1"}),
                            Update(TABLE, {PK: "k1"}, "ADD n :one", values=ONE)]
    if transactions:
        plain.append(TransactWrite((Put(TABLE, {PK: "k2", "v": "v3"}),
                                    Update(TABLE, {PK: "k1"}, "ADD n :one", values=ONE))))
    return plain


@pytest.mark.parametrize("cause", CAUSES)
@pytest.mark.parametrize("name", ["dynamodb", "dynamo-quorum"])
def test_indeterminate_write_is_retried_then_its_items_read(name: str, cause: str) -> None:
    factory = lambda: preset(name)  # noqa: E731
    surface = probe_surface(factory())
    for request in _requests(surface.transactions):
        machine = _machine(factory)
        machine.retry_indeterminate("c1", request, cause, "v7")
        ops = _ops(machine)
        first, retry, *reads = ops
        assert first.status == "info"  # the answer really was indeterminate
        assert (retry.f, retry.input) == (first.f, first.input)  # the same request again
        assert retry.meta["client"] == first.meta["client"]
        assert retry.process != first.process  # continued under a fresh process
        assert retry.status == "ok"
        keys = touched_keys(request, PK)
        assert [_key(op) for op in reads] == list(keys)
        assert all(op.call > retry.ret for op in reads)
        kind = "get-strong" if surface.strong else "get-eventual"
        assert {op.f for op in reads} == {kind}
        if isinstance(request, TransactWrite):
            assert _request(retry).token == "token-v7"
        assert RETRY_INDETERMINATE in machine.marked
        machine.teardown()


class _SortsNoHigher:
    """A remembered fingerprint whose ``==`` is ``<=`` over the fingerprints' text (a
    total order): the surviving mutant of ``record.fingerprint == print_`` in the
    leader's token check (reference/leader/transactions.py:258), where a token reused
    with a body whose fingerprint sorts no lower is taken for the first request."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return repr(self.value) <= repr(getattr(other, "value", other))

    def __hash__(self) -> int:
        return hash(self.value)


@pytest.fixture
def token_check_sorts(monkeypatch: pytest.MonkeyPatch) -> None:
    from replicheck.implementation.reference.leader import state

    real = state.TokenRecord
    monkeypatch.setattr(state, "TokenRecord",
                        lambda fingerprint, time: real(_SortsNoHigher(fingerprint), time))


@pytest.mark.usefixtures("token_check_sorts")
def test_search_catches_the_surviving_token_comparison_mutant_only_with_the_rules() -> None:
    factory = lambda: preset("dynamodb")  # noqa: E731
    machine = _machine(factory)  # the patch is in force: a later-sorting body replays
    machine.token_reuse(("c0", TransactWrite((Put(TABLE, {PK: "k0", "v": "v1"}),)),
                         "k1", "v2", "other-body"))
    assert _ops(machine)[1].meta.get("replayed") is True
    machine.raw.close()
    base = concurrency_machine(factory, max_steps=10)
    run_state_machine_as_test(base, settings=_search(20, 10))
    with_rules = type("T", (retry_rules(probe_surface(factory())), base), {})
    with pytest.raises(GuaranteeViolation):
        run_state_machine_as_test(with_rules, settings=_search(20, 10))


@pytest.mark.parametrize("name", ["dynamodb", "dynamo-lww"])
def test_search_with_the_rules_passes_on_the_reference_stores(name: str) -> None:
    factory = lambda: preset(name)  # noqa: E731
    machine = type("T", (retry_rules(probe_surface(factory())),
                         concurrency_machine(factory, max_steps=10)), {})
    run_state_machine_as_test(machine, settings=_search(10, 10))


@pytest.mark.parametrize("applied", [False, True])
def test_a_mismatch_that_applied_its_body_is_judged_a_violation(applied: bool) -> None:
    descriptor = preset("dynamodb").descriptor
    first = TransactWrite((Put(TABLE, {PK: "k0", "v": "v1"}),), token="t")
    other = TransactWrite((Put(TABLE, {PK: "k1", "v": "v2"}),), token="t")
    seen = {PK: "k1", "v": "v2"} if applied else None
    records = [tables_record(descriptor.tables)]
    records += operation_records(0, first, Response(), index=1)
    records += operation_records(0, other, IdempotentParameterMismatch("token reused"),
                                 index=3)
    records += operation_records(0, Get(TABLE, {PK: "k1"}, consistent=True), Response(seen),
                                 index=5)
    verdicts = {j.guarantee: j.status for j in judge_claims(pair(records), descriptor)}
    broken = {g for g, status in verdicts.items() if status == VIOLATED}
    if applied:
        assert {"serializable-transactions", "linearizable-strong-reads"} <= broken
    else:
        assert not broken


@pytest.mark.parametrize("cause", CAUSES)
def test_a_retried_indeterminate_write_replays_to_the_same_history(cause: str) -> None:
    from replicheck.properties.replay import replay
    from replicheck.properties.schedule import completed_schedule

    factory = lambda: preset("dynamodb")  # noqa: E731
    machine = type("T", (retry_rules(probe_surface(factory())),
                         concurrency_machine(factory, target="dynamodb")), {})()
    machine.start()
    machine.retry_indeterminate("c0", Put(TABLE, {PK: "k0", "v": "v1"}), cause, "v5")
    machine.teardown()
    replayed = replay(completed_schedule(machine.raw))

    def shape(ops: Any) -> list[tuple[Any, ...]]:
        return [(op.f, op.status, op.process, op.output) for op in ops]

    assert shape(replayed.history.operations) == shape(machine.rec.history().operations)
    assert replayed.history.operations[0].status == "info"
