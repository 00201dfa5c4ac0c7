"""The item store as a sequential specification."""

from __future__ import annotations

from replicheck.models.items.errors import ConditionalCheckFailed
from replicheck.models.items.operations import empty
from replicheck.models.items.requests import Get, Put, Response, TableSchema, TransactWrite
from replicheck.models.specs.base import UNKNOWN, Input
from replicheck.models.specs.items import Failure, item_store

T = TableSchema("t", "pk")
SPEC = item_store(T)


def run(*steps: tuple[object, object]) -> bool:
    states = [SPEC.init()]
    for request, result in steps:
        op = Input("x", None, request)
        states = [n for s in states for n in SPEC.step(s, op, result)]
        if not states:
            return False
    return True


def test_observed_answers_that_the_model_gives_are_allowed() -> None:
    assert run(
        (Put("t", {"pk": "a", "v": 1}), Response()),
        (Get("t", {"pk": "a"}, consistent=True), Response(item={"pk": "a", "v": 1})),
        (Put("t", {"pk": "a"}, condition="attribute_not_exists(pk)"),
         Failure("ConditionalCheckFailed")),
    )


def test_a_stale_or_wrong_answer_is_not_allowed() -> None:
    assert not run(
        (Put("t", {"pk": "a", "v": 1}), Response()),
        (Get("t", {"pk": "a"}, consistent=True), Response(item=None)),
    )
    assert not run((Put("t", {"pk": "a"}, condition="attribute_exists(pk)"), Response()))


def test_errors_compare_by_code_and_cancellation_reasons() -> None:
    request = TransactWrite((Put("t", {"pk": "a"}, condition="attribute_exists(pk)"),
                             Put("t", {"pk": "b"})))
    assert run((request, Failure("TransactionCanceled", ("ConditionalCheckFailed", "None"))))
    assert not run((request, Failure("TransactionCanceled", ("None", "ConditionalCheckFailed"))))
    assert Failure.of(ConditionalCheckFailed()) == Failure("ConditionalCheckFailed")


def test_unknown_result_follows_the_model() -> None:
    (after,) = SPEC.step(SPEC.init(), Input("put", None, Put("t", {"pk": "a"})), UNKNOWN)
    assert after.item("t", {"pk": "a"}) == {"pk": "a"}
    assert SPEC.init() == empty(T)


def test_keys_are_the_items_touched() -> None:
    assert SPEC.keys is not None
    op = Input("transact-write", None, TransactWrite((Put("t", {"pk": "a"}),
                                                     Put("t", {"pk": "b"}))))
    assert SPEC.keys(op) == frozenset({("t", ("a",)), ("t", ("b",))})
