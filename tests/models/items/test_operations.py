"""The item-store model's operations: DynamoDB semantics, atomicity, idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.items.errors import (
    ConditionalCheckFailed,
    IdempotentParameterMismatch,
    TransactionCanceled,
    ValidationError,
)
from replicheck.models.items.operations import Database, apply, empty, outcome
from replicheck.models.items.requests import (
    ConditionCheck,
    Delete,
    Get,
    Put,
    Response,
    TableSchema,
    TransactGet,
    TransactWrite,
    Update,
)

T = TableSchema("t", "pk")
TS = TableSchema("ts", "pk", "sk")


def db_with(*items: dict) -> Database:
    db = empty(T, TS)
    for item in items:
        db, _ = apply(db, Put("t", item))
    return db


def test_put_then_get_returns_the_item_with_numbers_as_decimal() -> None:
    db = db_with({"pk": "a", "n": 1, "s": "x"})
    _, response = apply(db, Get("t", {"pk": "a"}, consistent=True))
    assert response.item == {"pk": "a", "n": Decimal(1), "s": "x"}


def test_get_of_absent_item_is_none() -> None:
    assert apply(db_with(), Get("t", {"pk": "nope"}))[1].item is None


def test_put_replaces_the_whole_item_and_returns_all_old() -> None:
    db = db_with({"pk": "a", "old": 1})
    db, response = apply(db, Put("t", {"pk": "a", "new": 2}, return_values="ALL_OLD"))
    assert response.item == {"pk": "a", "old": Decimal(1)}
    assert db.item("t", {"pk": "a"}) == {"pk": "a", "new": Decimal(2)}


def test_conditional_put_fails_definitely_and_applies_nothing() -> None:
    db = db_with({"pk": "a", "v": 1})
    request = Put("t", {"pk": "a", "v": 2}, condition="attribute_not_exists(pk)",
                  return_old_on_condition_failure=True)
    with pytest.raises(ConditionalCheckFailed) as info:
        apply(db, request)
    assert info.value.item == {"pk": "a", "v": Decimal(1)}
    assert db.item("t", {"pk": "a"}) == {"pk": "a", "v": Decimal(1)}


def test_condition_failure_without_asking_returns_no_item() -> None:
    db = db_with({"pk": "a", "v": 1})
    with pytest.raises(ConditionalCheckFailed) as info:
        apply(db, Delete("t", {"pk": "a"}, condition="v = :x", values={":x": 5}))
    assert info.value.item is None


def test_update_creates_missing_item_from_its_key() -> None:
    _db, response = apply(db_with(), Update("t", {"pk": "a"}, "SET n = :one",
                                           values={":one": 1}, return_values="ALL_NEW"))
    assert response.item == {"pk": "a", "n": Decimal(1)}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("NONE", None),
        ("ALL_OLD", {"pk": "a", "n": Decimal(1), "m": Decimal(7)}),
        ("ALL_NEW", {"pk": "a", "n": Decimal(2), "m": Decimal(7)}),
        ("UPDATED_OLD", {"n": Decimal(1)}),
        ("UPDATED_NEW", {"n": Decimal(2)}),
    ],
)
def test_update_return_values(mode: str, expected: dict | None) -> None:
    db = db_with({"pk": "a", "n": 1, "m": 7})
    _, response = apply(db, Update("t", {"pk": "a"}, "SET n = n + :one",
                                   values={":one": 1}, return_values=mode))  # type: ignore[arg-type]
    assert response.item == expected


def test_update_of_a_key_attribute_is_refused() -> None:
    with pytest.raises(ValidationError, match="part of the key"):
        apply(db_with({"pk": "a"}), Update("t", {"pk": "a"}, "SET pk = :v", values={":v": "b"}))


def test_delete_returns_all_old_and_removes() -> None:
    db = db_with({"pk": "a", "v": 1})
    db, response = apply(db, Delete("t", {"pk": "a"}, return_values="ALL_OLD"))
    assert response.item == {"pk": "a", "v": Decimal(1)}
    assert db.item("t", {"pk": "a"}) is None


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Get("t", {"pk": "a", "x": 1}), "unexpected attributes"),
        (Get("t", {}), "missing key attribute 'pk'"),
        (Get("t", {"pk": True}), "has type BOOL"),
        (Get("t", {"pk": ""}), "is empty"),
        (Get("nope", {"pk": "a"}), "table 'nope'"),
        (Get("ts", {"pk": "a"}), "missing key attribute 'sk'"),
        (Put("t", {"v": 1}), "missing key attribute 'pk'"),
        (Put("t", {"pk": "a"}, return_values="ALL_NEW"), "ALL_OLD or NONE"),
        (Delete("t", {"pk": "a"}, return_values="UPDATED_NEW"), "ALL_OLD or NONE"),
        (Put("t", {"pk": "a"}, condition="v = :x"), ":x"),
        (Put("t", {"pk": "a"}, values={":unused": 1}), ":unused"),
    ],
)
def test_bad_requests_are_validation_errors(request_: object, message: str) -> None:
    db = db_with({"pk": "a"})
    with pytest.raises(ValidationError, match=message):
        apply(db, request_)  # type: ignore[arg-type]


def test_transaction_applies_all_actions() -> None:
    db = db_with({"pk": "a", "v": 1}, {"pk": "b", "v": 1}, {"pk": "d"})
    db, _ = apply(db, TransactWrite((
        Update("t", {"pk": "a"}, "SET v = v - :one", values={":one": 1}),
        Update("t", {"pk": "b"}, "SET v = v + :one", values={":one": 1}),
        Put("t", {"pk": "c"}),
        ConditionCheck("t", {"pk": "d"}, "attribute_exists(pk)"),
    )))
    assert db.item("t", {"pk": "a"}) == {"pk": "a", "v": Decimal(0)}
    assert db.item("t", {"pk": "b"}) == {"pk": "b", "v": Decimal(2)}
    assert db.item("t", {"pk": "c"}) == {"pk": "c"}


def test_cancelled_transaction_applies_nothing_and_gives_reasons_in_order() -> None:
    db = db_with({"pk": "a", "v": 1})
    request = TransactWrite((
        Put("t", {"pk": "x"}),
        ConditionCheck("t", {"pk": "a"}, "v = :two", values={":two": 2},
                       return_old_on_condition_failure=True),
        Delete("t", {"pk": "q"}),
        Update("t", {"pk": "z"}, "ADD s :n", values={":n": 1}, condition="attribute_exists(pk)"),
    ))
    with pytest.raises(TransactionCanceled) as info:
        apply(db, request)
    codes = [r.code for r in info.value.reasons]
    assert codes == ["None", "ConditionalCheckFailed", "None", "ConditionalCheckFailed"]
    assert info.value.reasons[1].item == {"pk": "a", "v": Decimal(1)}
    assert outcome(db, request)[0] == db


def test_transaction_type_error_cancels_with_validation_reason() -> None:
    db = db_with({"pk": "a", "s": "text"})
    with pytest.raises(TransactionCanceled) as info:
        apply(db, TransactWrite((
            Put("t", {"pk": "b"}),
            Update("t", {"pk": "a"}, "SET s = s + :one", values={":one": 1}),
        )))
    assert [r.code for r in info.value.reasons] == ["None", "ValidationError"]


def test_transaction_rejects_two_actions_on_one_item() -> None:
    with pytest.raises(ValidationError, match="multiple operations on one item"):
        apply(db_with(), TransactWrite((Put("t", {"pk": "a"}), Delete("t", {"pk": "a"}))))


@pytest.mark.parametrize("n", [0, 101])
def test_transaction_size_limits(n: int) -> None:
    actions = tuple(Put("t", {"pk": f"k{i}"}) for i in range(n))
    with pytest.raises(ValidationError, match="between 1 and 100"):
        apply(db_with(), TransactWrite(actions))


def test_transaction_of_100_actions_is_allowed() -> None:
    db, _ = apply(db_with(), TransactWrite(tuple(Put("t", {"pk": f"k{i}"}) for i in range(100))))
    assert len(db.items("t")) == 100


def test_client_token_applies_once_within_the_window() -> None:
    request = TransactWrite((Update("t", {"pk": "a"}, "ADD n :one", values={":one": 1}),),
                            token="tok")
    db, first = apply(db_with(), request, now=0.0)
    db, second = apply(db, request, now=599.0)
    assert first == second
    assert db.item("t", {"pk": "a"}) == {"pk": "a", "n": Decimal(1)}
    db, _ = apply(db, request, now=601.0)
    assert db.item("t", {"pk": "a"}) == {"pk": "a", "n": Decimal(2)}


def test_client_token_with_a_different_request_is_a_mismatch() -> None:
    db, _ = apply(db_with(), TransactWrite((Put("t", {"pk": "a"}),), token="tok"))
    with pytest.raises(IdempotentParameterMismatch):
        apply(db, TransactWrite((Put("t", {"pk": "b"}),), token="tok"), now=1.0)


def test_transact_get_is_a_snapshot_in_request_order() -> None:
    db = db_with({"pk": "a", "v": 1}, {"pk": "b", "v": 2})
    _, response = apply(db, TransactGet((Get("t", {"pk": "b"}), Get("t", {"pk": "zz"}),
                                         Get("t", {"pk": "a"}))))
    assert response == Response(items=({"pk": "b", "v": Decimal(2)}, None,
                                       {"pk": "a", "v": Decimal(1)}))


def test_get_with_projection() -> None:
    db = db_with({"pk": "a", "v": 1, "w": 2})
    _, response = apply(db, Get("t", {"pk": "a"}, projection="#v", names={"#v": "v"}))
    assert response.item == {"v": Decimal(1)}


def test_database_equality_is_by_value_and_hashable() -> None:
    a = db_with({"pk": "a", "v": 1}, {"pk": "b"})
    b = db_with({"pk": "b"}, {"pk": "a", "v": 1})
    assert a == b
    assert hash(a) == hash(b)
    assert a != db_with({"pk": "b"})


keys = st.sampled_from(["a", "b", "c"])
ops = st.one_of(
    st.tuples(st.just("put"), keys, st.integers(0, 5)),
    st.tuples(st.just("delete"), keys, st.none()),
    st.tuples(st.just("add"), keys, st.integers(-3, 3)),
    st.tuples(st.just("cas"), keys, st.integers(0, 5)),
)


@given(st.lists(ops, max_size=30))
def test_model_agrees_with_a_plain_dict(steps: list[tuple[str, str, int | None]]) -> None:
    """Unconditional and conditional single-item writes behave like a dict of ints."""
    db = db_with()
    reference: dict[str, int] = {}
    for f, k, v in steps:
        if f == "put":
            db, _ = apply(db, Put("t", {"pk": k, "v": v}))
            reference[k] = v  # type: ignore[assignment]
        elif f == "delete":
            db, _ = apply(db, Delete("t", {"pk": k}))
            reference.pop(k, None)
        elif f == "add":
            db, _ = apply(db, Update("t", {"pk": k}, "ADD v :d", values={":d": v}))
            reference[k] = reference.get(k, 0) + v  # type: ignore[operator]
        else:
            request = Put("t", {"pk": k, "v": v}, condition="v < :v", values={":v": v})
            db, answer = outcome(db, request)
            holds = k in reference and reference[k] < v  # type: ignore[operator]
            assert isinstance(answer, Response) == holds
            if holds:
                reference[k] = v  # type: ignore[assignment]
        for key in "abc":
            item = db.item("t", {"pk": key})
            assert (item is None) == (key not in reference)
            if item is not None:
                assert item["v"] == reference[key]


@given(st.lists(st.tuples(keys, st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=4,
                unique_by=lambda t: t[0]))
def test_transactions_are_all_or_nothing(actions: list[tuple[str, int, int]]) -> None:
    """A transaction of conditional writes either applies every write or none."""
    db = db_with({"pk": "a", "v": 1}, {"pk": "b", "v": 2}, {"pk": "c", "v": 3})
    request = TransactWrite(tuple(
        Update("t", {"pk": k}, "SET v = :new", condition="v = :expect",
               values={":new": new, ":expect": expect})
        for k, expect, new in actions
    ))
    after, answer = outcome(db, request)
    all_hold = all(db.item("t", {"pk": k})["v"] == expect for k, expect, _ in actions)  # type: ignore[index]
    if all_hold:
        assert isinstance(answer, Response)
        for k, _, new in actions:
            assert after.item("t", {"pk": k})["v"] == new  # type: ignore[index]
    else:
        assert isinstance(answer, TransactionCanceled)
        assert after == db
        assert [r.code != "None" for r in answer.reasons] == [
            db.item("t", {"pk": k})["v"] != expect for k, expect, _ in actions  # type: ignore[index]
        ]


def test_nested_remove_on_a_missing_item_is_ignored() -> None:
    _db, response = apply(db_with(), Update("t", {"pk": "new"}, "REMOVE a.b",
                                           return_values="ALL_NEW"))
    assert response.item == {"pk": "new"}
