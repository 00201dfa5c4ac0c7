"""Item operations in DynamoDB's words (models.items.wording): every request kind, every
answer kind, placeholders written as what they stand for, and no Python repr for any
request the suite's strategies generate."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from hypothesis import given

from replicheck.models.items.errors import (
    CancellationReason,
    ConditionalCheckFailed,
    Indeterminate,
    TransactionCanceled,
)
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
from replicheck.models.items.wording import (
    answer_text,
    item_key_text,
    operation_text,
    request_keys,
    request_text,
    value_text,
)
from replicheck.properties import strategies

SCHEMAS = {"items": TableSchema("items", "pk"), "orders": TableSchema("orders", "id", "n")}

REQUEST_CLASSES = tuple(re.findall(
    r"^class (\w+)", (Path(__file__).parents[3] / "models/items/requests.py").read_text(),
    re.M))


def test_the_examples_of_the_issue_read_as_dynamodb_writes_them() -> None:
    put = Put("items", {"pk": "k0", "v": "v2"}, condition="attribute_not_exists(pk)")
    assert request_text(put, SCHEMAS) == 'PutItem k0 {v: "v2"} if attribute_not_exists(pk)'
    assert request_text(Get("items", {"pk": "k0"}, consistent=True)) == "GetItem k0 (strong)"
    assert request_text(Get("items", {"pk": "k0"})) == "GetItem k0 (eventual)"
    update = Update("items", {"pk": "k1"}, "SET v = :v", condition="v = :old",
                    values={":v": "v2", ":old": "v1"})
    assert request_text(update) == 'UpdateItem k1 SET v = "v2" if v = "v1"'
    txn = TransactWrite((Put("items", {"pk": "k0", "v": "x"}),
                         ConditionCheck("items", {"pk": "k1"}, "attribute_exists(pk)")))
    assert request_text(txn, SCHEMAS) == ('TransactWriteItems [Put k0 {v: "x"}, '
                                          "ConditionCheck k1 if attribute_exists(pk)]")


def test_every_request_kind_and_option() -> None:
    assert request_text(Delete("items", {"pk": "k2"}, condition="#n > :z",
                               names={"#n": "n"}, values={":z": Decimal(0)},
                               return_values="ALL_OLD")) == (
        "DeleteItem k2 if n > 0 returning ALL_OLD")
    assert request_text(TransactWrite((Update("orders", {"id": "a b", "n": Decimal(3)},
                                              "ADD c :one", values={":one": Decimal(1)}),
                                       Delete("items", {"pk": "k0"})), token="t-1")) == (
        'TransactWriteItems [Update orders ("a b", 3) ADD c 1, Delete k0] token t-1')
    assert request_text(TransactGet((Get("items", {"pk": "k0"}),
                                     Get("items", {"pk": "k1"}, projection="#v",
                                         names={"#v": "v"})))) == (
        "TransactGetItems [k0, k1 projecting v]")
    # without the schema a PutItem cannot tell its key apart: the whole item
    assert request_text(Put("items", {"pk": "k0", "v": "x"})) == 'PutItem {pk: "k0", v: "x"}'
    assert request_keys(TransactWrite((Put("items", {"pk": "k0"}), Delete("items",
                                                                          {"pk": "k0"}),
                                       Delete("items", {"pk": "k1"}))), SCHEMAS) == (
        "k0", "k1")


def test_answers() -> None:
    get = Get("items", {"pk": "k0"}, consistent=True)
    assert answer_text(get, Response({"pk": "k0", "v": "v2"})) == '{v: "v2"}'
    assert answer_text(get, Response(None)) == "no item"
    put = Put("items", {"pk": "k0"}, return_values="ALL_OLD")
    assert answer_text(put, Response()) == "ok"
    old = Response({"pk": "k0", "v": "v1"})
    assert answer_text(put, old) == 'ok, ALL_OLD {pk: "k0", v: "v1"}'  # no schema: all
    assert answer_text(put, old, SCHEMAS) == 'ok, ALL_OLD {v: "v1"}'
    assert answer_text(Delete("items", {"pk": "k0"}, return_values="ALL_OLD"), old) == (
        'ok, ALL_OLD {v: "v1"}')
    assert answer_text(put, ConditionalCheckFailed()) == "ConditionalCheckFailed"
    assert answer_text(put, TransactionCanceled((CancellationReason("None"),
                                                 CancellationReason("ConditionalCheckFailed")))
                       ) == "TransactionCanceled [None, ConditionalCheckFailed]"
    assert answer_text(put, None) == "indeterminate"
    assert answer_text(put, Indeterminate()) == "Indeterminate"
    tget = TransactGet((get, Get("items", {"pk": "k1"})))
    assert answer_text(tget, Response(items=({"pk": "k0", "n": Decimal("2.50")}, None))) == (
        "[{n: 2.5}, no item]")
    assert operation_text(get, None) == "GetItem k0 (strong) -> indeterminate"


def test_values_and_keys() -> None:
    assert value_text({"s": {"b", "a"}, "l": [True, None, b"\x00\xff"], "m": {"x y": 1.5}}) == (
        '{s: <<"a", "b">>, l: [true, null, 0x00ff], m: {"x y": 1.5}}')
    assert item_key_text("items", {"pk": "k0"}) == "k0"
    assert item_key_text("items", {"pk": 'a "q" <b>'}) == '"a \\"q\\" <b>"'
    assert item_key_text("orders", {"id": Decimal(7), "n": b"\x01"}) == "orders (7, 0x01)"


@given(strategies.requests("items", "pk", transactions=True))
def test_no_generated_request_reads_as_a_python_repr(sent: object) -> None:
    text = operation_text(sent, Response(), schemas=SCHEMAS)  # type: ignore[arg-type]
    assert "=None" not in text and "object at 0x" not in text
    assert not any(f"{name}(" in text for name in REQUEST_CLASSES), text
    assert "Decimal(" not in text and "table=" not in text
