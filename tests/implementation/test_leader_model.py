"""Leader mode answers exactly as the item-store model, request by request, on a
healthy cluster: conditions, update expressions, return values, transactions with
their cancellation reasons, client request tokens, TransactGet."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.implementation.reference.leader import dynamodb
from replicheck.implementation.store import (
    ConditionalCheckFailed,
    Delete,
    Get,
    Put,
    TransactGet,
    TransactionCanceled,
    TransactWrite,
    Update,
)
from replicheck.models.items.errors import StoreError
from replicheck.models.items.operations import apply, empty
from replicheck.models.items.requests import ConditionCheck, Request, Response

KEYS = ("a", "b", "c", "d", "e", "f")  # spread over the three partitions

CONDITIONS: list[tuple[str | None, dict[str, Any]]] = [
    (None, {}),
    ("attribute_not_exists(pk)", {}),
    ("attribute_exists(pk)", {}),
    ("n = :x", {":x": 1}),
    ("n < :x", {":x": 3}),
    ("attribute_type(n, :t)", {":t": "N"}),
]

UPDATES: list[tuple[str, dict[str, Any]]] = [
    ("SET n = :x", {":x": 2}),
    ("SET n = n + :x", {":x": 1}),  # fails (ValidationError) when n is missing
    ("ADD n :x", {":x": 1}),
    ("REMOVE n", {}),
    ("SET s = :x", {":x": "text"}),
    ("SET tags = :x", {":x": frozenset({"p", "q"})}),
]

keys = st.sampled_from(KEYS)


@st.composite
def conditioned(draw: st.DrawFn) -> tuple[str | None, dict[str, Any]]:
    condition, values = draw(st.sampled_from(CONDITIONS))
    return condition, values


@st.composite
def write_action(draw: st.DrawFn, key: str, in_transaction: bool) -> Any:
    condition, cvalues = draw(conditioned())
    old = draw(st.booleans())
    kind = draw(st.sampled_from(["put", "update", "delete", "check"] if in_transaction
                                else ["put", "update", "delete"]))
    if kind == "put":
        item = {"pk": key, "n": draw(st.integers(0, 3))}
        rv: Any = "NONE" if in_transaction else draw(st.sampled_from(["NONE", "ALL_OLD"]))
        return Put("items", item, condition, None, cvalues or None, rv, old)
    if kind == "update":
        text, uvalues = draw(st.sampled_from(UPDATES))
        values = {**uvalues, **cvalues} or None
        rv = "NONE" if in_transaction else draw(st.sampled_from(
            ["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]))
        return Update("items", {"pk": key}, text, condition, None, values, rv, old)
    if kind == "delete":
        rv = "NONE" if in_transaction else draw(st.sampled_from(["NONE", "ALL_OLD"]))
        return Delete("items", {"pk": key}, condition, None, cvalues or None, rv, old)
    check, cv = draw(st.sampled_from(CONDITIONS[1:]))
    assert check is not None
    return ConditionCheck("items", {"pk": key}, check, None, cv or None, old)


@st.composite
def requests(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["get", "write", "write", "transact-write", "transact-get"]))
    if kind == "get":
        projection = draw(st.sampled_from([None, "n", "pk, s"]))
        return Get("items", {"pk": draw(keys)}, consistent=True, projection=projection)
    if kind == "write":
        return draw(write_action(draw(keys), False))
    chosen = draw(st.lists(keys, min_size=1, max_size=3, unique=True))
    if kind == "transact-get":
        return TransactGet(tuple(Get("items", {"pk": k}) for k in chosen))
    actions = tuple(draw(write_action(k, True)) for k in chosen)
    return TransactWrite(actions, draw(st.sampled_from([None, None, "t1", "t2"])))


def _outcome(run: Any) -> Response | StoreError:
    try:
        return run()  # type: ignore[no-any-return]
    except StoreError as error:
        return error


def _same(store_answer: Response | StoreError, model_answer: Response | StoreError) -> None:
    if isinstance(model_answer, Response):
        assert store_answer == model_answer
        return
    assert type(store_answer) is type(model_answer), (store_answer, model_answer)
    if isinstance(model_answer, TransactionCanceled):
        assert isinstance(store_answer, TransactionCanceled)
        assert [(r.code, r.item) for r in store_answer.reasons] == \
               [(r.code, r.item) for r in model_answer.reasons]
    if isinstance(model_answer, ConditionalCheckFailed):
        assert isinstance(store_answer, ConditionalCheckFailed)
        assert store_answer.item == model_answer.item


@given(st.lists(requests(), min_size=1, max_size=15))
def test_every_answer_is_the_models(sequence: list[Request]) -> None:
    store = dynamodb()
    db = empty(*store.descriptor.tables)
    for request in sequence:
        now = store.sim.now
        got = _outcome(lambda r=request: store.execute(r))

        def model(r: Request = request, t: float = now) -> Response:
            nonlocal db
            db, response = apply(db, r, t)
            return response

        expected = _outcome(model)
        _same(got, expected)
    assert store.settle()
    for node in store.replicas():
        held = store.replica_items(node, "items")
        for p in store.config.hosts(node):
            for key, item in db.items("items").items():
                if store.config.partition_of("items", key) == p:
                    assert held[key] == item
        assert all(store.config.partition_of("items", k) in store.config.hosts(node)
                   for k in held)
        assert len(held) == sum(1 for k in db.items("items")
                                if store.config.partition_of("items", k)
                                in store.config.hosts(node))
