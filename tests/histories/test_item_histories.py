"""Item-store histories (``replicheck.histories.items``): the JSON codec of requests and
outcomes, the ``item`` adapter of the linearizability checker, and
``replicheck check --model item`` on hand-written and model-generated histories."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.adapters import adapter_for, prepare
from replicheck.histories.formats import loads
from replicheck.histories.formats.jsonl import dumps_jsonl, read_jsonl
from replicheck.histories.history import History, HistoryError, Record, pair
from replicheck.histories.items import (
    completion_fields,
    completion_record,
    describe_touched,
    invoke_record,
    operation_records,
    outcome_from_operation,
    request_from_json,
    request_to_json,
    response_from_json,
    response_to_json,
    schemas_from_json,
    tables_record,
)
from replicheck.histories.judge import check, infer_model, spec_for
from replicheck.models.items.errors import (
    CancellationReason,
    ConditionalCheckFailed,
    Indeterminate,
    TransactionCanceled,
    TransactionConflict,
    ValidationError,
)
from replicheck.models.items.operations import empty, outcome
from replicheck.models.items.requests import (
    ConditionCheck,
    Delete,
    Get,
    Put,
    Request,
    Response,
    ReturnValues,
    TableSchema,
    TransactGet,
    TransactWrite,
    Update,
    WriteAction,
    request_kind,
)
from replicheck.models.items.values import normalize, normalize_item
from replicheck.models.specs.base import UNKNOWN, Input
from replicheck.models.specs.items import Failure
from replicheck.reports.cli import main

DATA = Path(__file__).parent / "data"
ITEMS = TableSchema("items", "pk")
SORTED = TableSchema("sorted", "pk", "sk")

# ---------------------------------------------------------------------------- strategies

numbers = st.one_of(
    st.integers(-1000, 1000).map(Decimal),
    st.builds(lambda m, e: Decimal(m).scaleb(e),
              st.integers(-(10**38) + 1, 10**38 - 1), st.integers(-130, 87)),
)
scalars = st.one_of(
    st.text(max_size=5),                                               # S
    numbers,                                                           # N
    st.binary(max_size=5),                                             # B
    st.booleans(),                                                     # BOOL
    st.none(),                                                         # NULL
    st.frozensets(st.text(max_size=4), min_size=1, max_size=3),        # SS
    st.frozensets(numbers, min_size=1, max_size=3),                    # NS
    st.frozensets(st.binary(max_size=4), min_size=1, max_size=3),      # BS
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),                       # L
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),  # M
    max_leaves=8,
).map(normalize)
names_ = st.text(min_size=1, max_size=4)
items = st.dictionaries(names_, values, max_size=4).map(normalize_item)
keys = st.dictionaries(names_, st.one_of(st.text(min_size=1, max_size=4), numbers,
                                         st.binary(min_size=1, max_size=4)),
                       min_size=1, max_size=2).map(normalize_item)
tables = st.sampled_from(["items", "sorted", "t-1"])
texts = st.text(max_size=12)
maybe_names = st.none() | st.dictionaries(names_.map(lambda s: "#" + s), names_, max_size=2)
maybe_values = st.none() | st.dictionaries(names_.map(lambda s: ":" + s), values, max_size=2)
maybe_condition = st.none() | texts
return_values: st.SearchStrategy[ReturnValues] = st.sampled_from(
    ["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])
old_or_none: st.SearchStrategy[ReturnValues] = st.sampled_from(["NONE", "ALL_OLD"])

gets = st.builds(Get, tables, keys, st.booleans(), st.none() | texts, maybe_names)
puts = st.builds(Put, tables, items, maybe_condition, maybe_names, maybe_values, return_values,
                 st.booleans())
updates = st.builds(Update, tables, keys, texts, maybe_condition, maybe_names, maybe_values,
                    return_values, st.booleans())
deletes = st.builds(Delete, tables, keys, maybe_condition, maybe_names, maybe_values,
                    return_values, st.booleans())
checks = st.builds(ConditionCheck, tables, keys, texts, maybe_names, maybe_values,
                   st.booleans())
actions: st.SearchStrategy[WriteAction] = st.one_of(puts, updates, deletes, checks)
transact_writes = st.builds(TransactWrite, st.lists(actions, max_size=3).map(tuple),
                            st.none() | st.text(min_size=1, max_size=8))
transact_gets = st.builds(TransactGet, st.lists(gets, max_size=3).map(tuple))
requests: st.SearchStrategy[Request] = st.one_of(gets, puts, updates, deletes,
                                                 transact_writes, transact_gets)


def through_text(obj: Any) -> Any:
    """``obj`` after a trip through JSON text: proves it is plain JSON."""
    return json.loads(json.dumps(obj))


# ---------------------------------------------------------------------------- the codec


@given(requests)
def test_every_request_round_trips_through_json(request: Request) -> None:
    kind = request_kind(request)
    obj = through_text(request_to_json(request))
    back = request_from_json(obj, kind)
    assert back == request
    # Equality of Python values confuses True with 1; the wire JSON keeps types apart.
    assert request_to_json(back) == obj
    assert request_kind(back) == kind


@given(requests)
def test_the_kind_is_told_from_the_fields_except_for_a_bare_delete(request: Request) -> None:
    obj = request_to_json(request)
    bare_delete = isinstance(request, Delete) and obj.keys() <= {"table", "key", "names"}
    if bare_delete:
        with pytest.raises(HistoryError, match="cannot tell the request kind"):
            request_from_json(obj)
    else:
        assert request_from_json(obj) == request


@given(st.one_of(
    st.builds(Response, st.none() | items),
    st.builds(Response, st.none(), st.lists(st.none() | items, min_size=1, max_size=3)
              .map(tuple)),
))
def test_responses_round_trip(response: Response) -> None:
    back = response_from_json(through_text(response_to_json(response)))
    assert back == response
    assert response_to_json(back) == response_to_json(response)


def test_the_wire_json_keeps_every_type() -> None:
    request = Put("items", normalize_item({
        "pk": "a", "n": Decimal("1.50"), "b": b"\x00\x01", "t": True, "z": None,
        "l": [Decimal(1), "x"], "m": {"k": False}, "ss": {"y", "x"},
        "ns": {Decimal(2), Decimal(1)}, "bs": {b"b", b"a"}}))
    assert request_to_json(request)["item"] == {
        "pk": {"S": "a"}, "n": {"N": "1.5"}, "b": {"B": "AAE="}, "t": {"BOOL": True},
        "z": {"NULL": True}, "l": {"L": [{"N": "1"}, {"S": "x"}]},
        "m": {"M": {"k": {"BOOL": False}}}, "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["YQ==", "Yg=="]}}


def test_a_value_dynamodb_has_no_type_for_cannot_be_written() -> None:
    with pytest.raises(HistoryError, match=r"value\.item\.f = 1\.5"):
        request_to_json(Put("items", {"pk": "a", "f": 1.5}))


MALFORMED: list[tuple[str, Any, str]] = [
    ("put", [], r"field value: is \[\]; expected a put object"),
    ("put", {"item": {"pk": {"S": "a"}}}, r"field value\.table: is missing"),
    ("put", {"table": "", "item": {}}, r"field value\.table: is empty"),
    ("put", {"table": "items"}, r"field value\.item: is missing"),
    ("put", {"table": "items", "item": {"pk": {"S": "a"}}, "when": "x"},
     r"field value\.when: unknown field; expected only table, item, condition"),
    ("put", {"table": "items", "item": {"pk": {"X": "a"}}},
     r"field value\.item\.pk: .*unknown datatype: X"),
    ("put", {"table": "items", "item": {"pk": "a"}},
     r"field value\.item\.pk: .*expected a DynamoDB wire value"),
    ("put", {"table": "items", "item": {"n": {"N": "one"}}}, r"field value\.item\.n: "),
    ("put", {"table": "items", "item": {"s": {"SS": []}}}, r"field value\.item\.s: .*empty"),
    ("put", {"table": "items", "item": {"pk": {"S": "a"}}, "return_values": "ALL"},
     r"field value\.return_values: is \"ALL\"; expected one of NONE, ALL_OLD"),
    ("update", {"table": "items", "key": {"pk": {"S": "a"}}},
     r"field value\.update: is missing"),
    ("update", {"table": "items", "key": {"pk": {"S": "a"}}, "update": "SET n = :v",
                "values": {":v": {"N": "1", "S": "1"}}},
     r'field value\.values\[":v"\]: .*more than one datatypes'),
    ("update", {"table": "items", "key": {"pk": {"S": "a"}}, "update": "SET #n = :v",
                "names": {"#n": 3}}, r'field value\.names\["#n"\]: is 3; expected'),
    ("delete", {"table": "items", "key": {"pk": {"S": "a"}},
                "return_old_on_condition_failure": "yes"},
     r"field value\.return_old_on_condition_failure: is \"yes\"; expected true or false"),
    ("get-strong", {"table": "items", "key": {"pk": {"S": "a"}}, "consistent": False},
     r"field value\.consistent: is false but the operation is get-strong"),
    ("get-eventual", {"table": 3, "key": {}}, r"field value\.table: is 3; expected a string"),
    ("transact-write", {"actions": {"put": {}}}, r"field value\.actions: .*expected an array"),
    ("transact-write", {"actions": [{"upsert": {}}]},
     r"field value\.actions\[0\]: is a \"upsert\" action; expected one of put, update"),
    ("transact-write", {"actions": [{"put": {}, "delete": {}}]},
     r"field value\.actions\[0\]: .*expected one of"),
    ("transact-write", {"actions": [
        {"put": {"table": "items", "item": {"pk": {"S": "a"}}}},
        {"update": {"table": "items", "key": {"pk": {"S": "b"}}, "update": "SET n = :v",
                    "values": {":v": {"N": ""}}}}]},
     r'field value\.actions\[1\]\.update\.values\[":v"\]'),
    ("transact-write", {"actions": [{"condition_check": {"table": "items",
                                                         "key": {"pk": {"S": "a"}}}}]},
     r"field value\.actions\[0\]\.condition_check\.condition: is missing"),
    ("transact-get", {"gets": [{"table": "items", "key": {"pk": {"S": "a"}}, "x": 1}]},
     r"field value\.gets\[0\]\.x: unknown field"),
    ("scan", {"table": "items"}, r"unknown item request kind 'scan'; expected one of"),
]


@pytest.mark.parametrize(("kind", "obj", "message"), MALFORMED)
def test_malformed_request_json_names_the_field(kind: str, obj: Any, message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        request_from_json(obj, kind)


def test_malformed_responses_and_tables_name_the_field() -> None:
    assert response_from_json(None) == response_from_json({}) == Response()  # nothing back
    two = TransactGet((Get("items", {"pk": "a"}), Get("items", {"pk": "b"})))
    with pytest.raises(HistoryError, match=r"value\.items: has 1 entries; expected one per get"):
        response_from_json({"items": [None]}, two)
    with pytest.raises(HistoryError, match=r"value\.items: is set but the request is put"):
        response_from_json({"items": [None]}, Put("items", {"pk": "a"}))
    with pytest.raises(HistoryError, match=r"value\.item\.n: "):
        response_from_json({"item": {"n": {"N": "x"}}})
    with pytest.raises(HistoryError, match=r"tables\[0\]\.partition_key: is missing"):
        schemas_from_json([{"name": "items"}])
    assert schemas_from_json([{"name": "s", "partition_key": "pk", "sort_key": "sk"}]) == (
        TableSchema("s", "pk", "sk"),)


def test_outcomes_become_completion_records_as_the_format_says() -> None:
    txn = TransactWrite((ConditionCheck("items", {"pk": "a"}, "attribute_exists(pk)"),
                         Put("items", {"pk": "b"})))
    cancelled = TransactionCanceled((CancellationReason("ConditionalCheckFailed"),
                                     CancellationReason("None")))
    conflict = TransactionCanceled((CancellationReason("TransactionConflict"),
                                    CancellationReason("None")))
    assert completion_fields(Response(item={"n": Decimal(1)})) == (
        "ok", {"item": {"n": {"N": "1"}}}, None)
    assert completion_fields(ConditionalCheckFailed(item={"pk": "a"})) == (
        "fail", {"code": "ConditionalCheckFailed", "message": "The conditional request failed",
                 "item": {"pk": {"S": "a"}}}, "condition-failed")
    assert completion_fields(cancelled)[::2] == ("fail", "condition-failed")
    assert completion_fields(cancelled)[1]["reasons"] == ["ConditionalCheckFailed", "None"]
    # A cancellation for a conflict is not a condition observation: a plain fail.
    assert completion_fields(conflict)[::2] == ("fail", "TransactionCanceled")
    assert completion_fields(TransactionConflict())[::2] == ("fail", "TransactionConflict")
    assert completion_fields(ValidationError("bad", what="Key"))[::2] == (
        "fail", "ValidationError")
    assert completion_fields(Indeterminate("timed out"))[::2] == ("info", "indeterminate")
    assert completion_fields(None) == ("info", None, "indeterminate")
    # And they read back into the outcome the item-store specification compares.
    records = [
        *operation_records(0, txn, cancelled, index=0),
        *operation_records(0, Get("items", {"pk": "a"}, consistent=True),
                           Response(item={"pk": "a"}), index=2),
        *operation_records(0, txn, conflict, index=4),
        *operation_records(0, Put("items", {"pk": "c"}), Indeterminate(), index=6),
    ]
    h = pair(read_jsonl(dumps_jsonl(records)))
    assert [outcome_from_operation(op) for op in h.operations] == [
        Failure("TransactionCanceled", ("ConditionalCheckFailed", "None")),
        Response(item={"pk": "a"}),
        Failure("TransactionCanceled", ("TransactionConflict", "None")),
        None,
    ]


# ---------------------------------------------------------------------------- histories


class Script:
    """Builds an item history: ``invoke`` and ``done`` append records in real-time
    order (through the codec's writers), ``text`` gives its JSON lines."""

    def __init__(self, *schemas: TableSchema, tables: bool = True) -> None:
        self.records: list[Record] = [tables_record(schemas or (ITEMS,))] if tables else []
        self.requests: dict[int, Request] = {}

    def invoke(self, process: int, request: Request) -> Script:
        self.requests[process] = request
        self.records.append(invoke_record(process, request, index=len(self.records)))
        return self

    def done(self, process: int, result: Any) -> Script:
        request = self.requests.pop(process)
        self.records.append(completion_record(process, request, result,
                                              index=len(self.records)))
        return self

    def op(self, process: int, request: Request, result: Any) -> Script:
        return self.invoke(process, request).done(process, result)

    def text(self) -> str:
        return dumps_jsonl(self.records)

    def history(self) -> History:
        return loads(self.text(), "jsonl")


def run_cli(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str],
            *extra: str) -> tuple[int, dict[str, Any] | None, str]:
    """``replicheck check --json --model item`` on ``text``: the exit status, the JSON
    report (None when there is none) and stderr. (The model is named: a history of
    puts alone would otherwise be taken for a kv history.)"""
    path = tmp_path / "history.jsonl"
    path.write_text(text)
    status = main(["check", str(path), "--json", "--model", "item", *extra])
    captured = capsys.readouterr()
    return status, (json.loads(captured.out) if captured.out else None), captured.err


A = {"pk": "a"}
B = {"pk": "b"}
OK = Response()


def strong(key: dict[str, Any]) -> Get:
    return Get("items", key, consistent=True)


def test_the_valid_data_history_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "item_valid.jsonl")
    assert main(["check", path, "--model", "item", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True and report["model"] == "item"
    assert report["stats"]["operations"] == 11
    # The refused update is left out; the cancelled transaction and the failed create
    # are placed (observations), the timed-out delete may be.
    assert 7 not in report["witness"]
    assert {0, 1, 2, 3, 4, 6, 8, 9, 10} <= set(report["witness"])


def test_the_model_is_inferred_for_item_histories(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("item_valid.jsonl", "item_lost_update.jsonl"):
        history = loads((DATA / name).read_text())
        assert infer_model(history) == "item"
        assert main(["check", str(DATA / name)]) == 0
        assert "model item" in capsys.readouterr().out


def test_a_lost_update_with_unconditional_puts_is_linearizable(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Both clients read n = 0 and put n = 1: an increment is lost, but every request
    is atomic and read, read, put, put, read explains every answer."""
    assert main(["check", str(DATA / "item_lost_update.jsonl"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["witness"][-1] == 5


@pytest.mark.parametrize("guarded", ["condition", "update-expression"])
def test_the_same_lost_update_with_guarded_writes_is_not_linearizable(
        guarded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Guard each write with what its client read (a condition), or increment in the
    store (an update expression): both succeeding from the same read is impossible."""
    n0, n1 = {"pk": "a", "n": Decimal(0)}, {"pk": "a", "n": Decimal(1)}
    script = Script().op(0, Put("items", n0), OK)
    write: Put | Update
    if guarded == "condition":
        write = Put("items", n1, condition="n = :seen", values={":seen": Decimal(0)})
        answer = OK
    else:
        write = Update("items", A, "SET n = n + :one", values={":one": Decimal(1)},
                       return_values="ALL_NEW")
        answer = Response(item=n1)
    script.invoke(1, strong(A)).invoke(2, strong(A)).done(1, Response(item=n0))
    script.done(2, Response(item=n0))
    script.invoke(1, write).invoke(2, write).done(1, answer).done(2, answer)
    status, report, _ = run_cli(tmp_path, script.text(), capsys)
    assert status == 1 and report is not None
    (anomaly,) = report["anomalies"]
    assert anomaly["type"] == "not-linearizable"
    assert set(anomaly["ops"]) & {3, 4}


def test_a_stale_strong_read_after_an_acknowledged_put_is_not_linearizable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = Script()
    script.op(0, Put("items", {"pk": "b", "v": Decimal(7)}), OK)     # another item
    script.op(0, Put("items", {"pk": "a", "v": Decimal(1)}), OK)
    script.op(1, Put("items", {"pk": "a", "v": Decimal(2)}), OK)
    script.op(2, strong(A), Response(item={"pk": "a", "v": Decimal(1)}))  # stale
    script.op(2, strong(B), Response(item={"pk": "b", "v": Decimal(7)}))
    status, report, _ = run_cli(tmp_path, script.text(), capsys)
    assert status == 1 and report is not None
    (anomaly,) = report["anomalies"]
    assert anomaly["type"] == "not-linearizable"
    assert anomaly["ops"] == [3]
    assert anomaly["data"]["key"] == repr(("items", ("a",)))
    assert anomaly["explanation"].startswith("On key a, ")  # the key in words, no repr
    assert "GetItem a (strong) -> {v: 1} by process 2 cannot be placed: a holds {v: 2}" \
        in anomaly["explanation"]
    assert report["counterexample"]["key"] == repr(("items", ("a",)))


def test_the_same_read_concurrent_with_the_put_is_linearizable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = Script().op(0, Put("items", {"pk": "a", "v": Decimal(1)}), OK)
    script.invoke(1, Put("items", {"pk": "a", "v": Decimal(2)}))
    script.op(2, strong(A), Response(item={"pk": "a", "v": Decimal(1)}))
    script.done(1, OK)
    assert run_cli(tmp_path, script.text(), capsys)[0] == 0


def test_eventual_reads_are_judged_like_strong_ones(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = Script().op(0, Put("items", {"pk": "a", "v": Decimal(1)}), OK)
    script.op(1, Get("items", A), Response(item=None))
    status, report, _ = run_cli(tmp_path, script.text(), capsys)
    assert status == 1 and report is not None
    assert report["anomalies"][0]["ops"] == [1]


def test_a_condition_failure_no_order_explains_is_not_linearizable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    create = Put("items", {"pk": "a"}, condition="attribute_not_exists(pk)")
    script = Script().op(0, Put("items", {"pk": "b"}), OK)
    script.op(1, create, ConditionalCheckFailed())
    status, report, _ = run_cli(tmp_path, script.text(), capsys)
    assert status == 1 and report is not None
    (anomaly,) = report["anomalies"]
    assert anomaly["ops"] == [1]
    assert "ConditionalCheckFailed" in anomaly["explanation"]
    assert "PutItem a {} if attribute_not_exists(pk) -> ConditionalCheckFailed" \
        in anomaly["explanation"]
    assert "cannot be placed: a is absent there" in anomaly["explanation"]


def test_a_condition_failure_explained_by_a_concurrent_create_is_linearizable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    create = Put("items", {"pk": "a"}, condition="attribute_not_exists(pk)")
    script = Script().invoke(0, create).op(1, create, ConditionalCheckFailed()).done(0, OK)
    assert run_cli(tmp_path, script.text(), capsys)[0] == 0
    # ... or by a create that timed out: it may have taken effect.
    script = Script().invoke(0, create).done(0, Indeterminate())
    script.op(1, create, ConditionalCheckFailed())
    assert run_cli(tmp_path, script.text(), capsys)[0] == 0


@pytest.mark.parametrize(("reasons", "status"), [
    (("None", "ConditionalCheckFailed"), 0),   # b exists, a does: what the model says
    (("ConditionalCheckFailed", "None"), 1),   # a exists: its check cannot fail
    (("ConditionalCheckFailed", "ConditionalCheckFailed"), 1),
])
def test_cancellation_reasons_must_fit_some_order(
        reasons: tuple[str, ...], status: int, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    txn = TransactWrite((ConditionCheck("items", A, "attribute_exists(pk)"),
                         Put("items", {"pk": "b"}, condition="attribute_not_exists(pk)")))
    script = Script().op(0, Put("items", {"pk": "a"}), OK).op(0, Put("items", B), OK)
    script.op(1, txn, TransactionCanceled(tuple(CancellationReason(r) for r in reasons)))
    got, report, _ = run_cli(tmp_path, script.text(), capsys)
    assert got == status and report is not None
    if status == 1:
        (anomaly,) = report["anomalies"]
        assert anomaly["ops"] == [2]
        # The transaction connects both items: they are judged together.
        assert anomaly["data"]["key"] == repr((("items", ("a",)), ("items", ("b",))))


def test_a_transaction_is_atomic_for_readers(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    txn = TransactWrite((Put("items", {"pk": "a", "v": Decimal(1)}),
                         Put("items", {"pk": "b", "v": Decimal(1)})))
    both = TransactGet((Get("items", A), Get("items", B)))
    torn = Response(items=({"pk": "a", "v": Decimal(1)}, None))
    script = Script().invoke(0, txn).op(1, both, torn).done(0, OK)
    status, report, _ = run_cli(tmp_path, script.text(), capsys)
    assert status == 1 and report is not None
    assert report["anomalies"][0]["ops"] == [1]


def test_failed_requests_did_not_take_effect(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A plain fail (a conflict) is left out, so reading what it wrote is a violation;
    an info write may explain the same read."""
    write = Put("items", {"pk": "a", "v": Decimal(1)})
    seen = Response(item={"pk": "a", "v": Decimal(1)})
    failed = Script().op(0, write, TransactionConflict()).op(1, strong(A), seen)
    status, report, _ = run_cli(tmp_path, failed.text(), capsys)
    assert status == 1 and report is not None
    unknown = Script().op(0, write, Indeterminate()).op(1, strong(A), seen)
    assert run_cli(tmp_path, unknown.text(), capsys)[0] == 0


def test_a_history_without_the_tables_record_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = Script(tables=False).op(0, Put("items", A), OK)
    status, report, err = run_cli(tmp_path, script.text(), capsys)
    assert status == 2 and report is None
    assert "model 'item' needs the tables' key schemas" in err
    assert '"f": "tables"' in err


@pytest.mark.parametrize(("line", "message"), [
    ('{"process": 0, "type": "invoke", "f": "put", "value": {"table": "items", '
     '"item": {"pk": "a"}}}',
     r'operation 0 \(put, line 2\): field value\.item\.pk: is "a"; expected a DynamoDB'),
    ('{"process": 0, "type": "invoke", "f": "get-strong", "value": {"table": "items", '
     '"key": {"pk": {"S": "a"}}}}\n{"process": 0, "type": "fail", "f": "get-strong", '
     '"error": "condition-failed"}',
     r"a get-strong failed with 'condition-failed', but reads have no condition"),
    ('{"process": 0, "type": "invoke", "f": "transact-write", "value": {"actions": '
     '[{"delete": {"table": "items", "key": {"pk": {"S": "a"}}}}]}}\n{"process": 0, '
     '"type": "fail", "f": "transact-write", "error": "condition-failed"}',
     r"field value\.reasons: is \[\] for a ConditionalCheckFailed transact-write with 1 "
     r"actions; expected .* one reason per action"),
])
def test_malformed_item_operations_exit_2_naming_the_place(
        line: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = Script().text() + line + "\n"
    status, report, err = run_cli(tmp_path, text, capsys)
    assert status == 2 and report is None
    assert err.startswith("replicheck: error: ")
    assert len(re.findall(message, err)) == 1, err


# ---------------------------------------------------------------------------- the adapter


def test_the_adapter_takes_decoded_objects_and_declares_reads_pure() -> None:
    """Records may hold request and response objects instead of JSON; reads and definite
    failures never change the state (an indeterminate read is dropped)."""
    put = Put("items", {"pk": "a", "v": Decimal(1)})
    records = [
        tables_record([ITEMS]),
        Record(0, "invoke", "put", put, index=1), Record(0, "ok", "put", OK, index=2),
        Record(1, "invoke", "get-strong", strong(A), index=3),
        Record(1, "ok", "get-strong", Response(item={"pk": "a", "v": Decimal(1)}), index=4),
        Record(2, "invoke", "get-eventual", Get("items", B), index=5),
        Record(2, "info", "get-eventual", None, index=6),
        Record(3, "invoke", "put", Put("items", A, condition="attribute_not_exists(pk)"),
               index=7),
        Record(3, "fail", "put", None, index=8, error="condition-failed"),
    ]
    h = pair(records)
    adapter = adapter_for("item")
    prepared = prepare(h.operations, adapter)
    assert prepared.dropped == 1 and prepared.excluded == 0
    assert [(s.op.id, s.pure) for s in prepared.steps] == [(0, False), (1, True), (3, True)]
    assert prepared.steps[2].result == Failure("ConditionalCheckFailed")
    assert adapter.pure(Input("transact-get", None, TransactGet(())), UNKNOWN)
    assert not adapter.pure(Input("put", None, put), UNKNOWN)
    verdict = check(h, "item")
    assert verdict.valid is True
    assert verdict.witness == (0, 1, 3)
    with pytest.raises(HistoryError, match="the request is a get-eventual; expected a "
                       "get-strong"):
        adapter.to_input(pair([Record(0, "invoke", "get-strong", Get("items", A))])
                         .operations[0])


def test_the_state_phrase_shows_the_items_touched() -> None:
    spec = spec_for("item", pair([tables_record([ITEMS, SORTED])]))
    db, _ = outcome(spec.init(), Put("items", {"pk": "a", "n": Decimal("2.50"),
                                               "s": {"x", "y"}, "b": b"\x01"}))
    txn = TransactWrite((Delete("items", A), ConditionCheck("sorted", {"pk": "a",
                                                                       "sk": Decimal(1)},
                                                            "attribute_exists(pk)")))
    assert describe_touched(db, txn) == (
        'a holds {n: 2.5, s: <<"x", "y">>, b: 0x01}; sorted (a, 1) is absent')
    assert "invalid" in describe_touched(db, Get("nope", A))


# ---------------------------------------------------------------------------- the model


small_keys = st.sampled_from([{"pk": "a"}, {"pk": "b"}])
sorted_keys = st.builds(lambda pk, sk: {"pk": pk, "sk": Decimal(sk)},
                        st.sampled_from(["a", "b"]), st.integers(1, 2))
small_numbers = st.integers(0, 2).map(Decimal)
conditions = st.sampled_from([None, "attribute_not_exists(pk)", "attribute_exists(pk)",
                              "n = :v", "attribute_type(n, :t)"])


@st.composite
def model_requests(draw: st.DrawFn) -> Request:
    """Meaningful requests over two tables and four items: conditions that hold and
    fail, increments of absent attributes (validation errors), every return value."""
    table, key = draw(st.one_of(st.tuples(st.just("items"), small_keys),
                                st.tuples(st.just("sorted"), sorted_keys)))
    condition = draw(conditions)
    values: dict[str, Any] = {}
    if condition == "n = :v":
        values[":v"] = draw(small_numbers)
    elif condition is not None and ":t" in condition:
        values[":t"] = draw(st.sampled_from(["N", "S"]))
    n = draw(small_numbers)
    old = draw(st.booleans())
    kind = draw(st.sampled_from(["get", "put", "update", "delete", "txn", "tget"]))

    def write() -> WriteAction:
        choice = draw(st.sampled_from(["put", "update", "delete", "check"]))
        if choice == "put":
            return Put(table, {**key, "n": n}, condition, None, values or None,
                       draw(old_or_none), old)
        if choice == "update":
            expression = draw(st.sampled_from(["SET n = n + :d", "ADD n :d", "REMOVE n"]))
            merged = {**values, ":d": n} if ":d" in expression else values
            return Update(table, key, expression, condition, None, merged or None,
                          draw(return_values), old)
        if choice == "delete":
            return Delete(table, key, condition, None, values or None,
                          draw(old_or_none), old)
        return ConditionCheck(table, key, condition or "attribute_exists(pk)", None,
                              values or None, old)

    if kind == "get":
        return Get(table, key, consistent=draw(st.booleans()),
                   projection=draw(st.sampled_from([None, "n", "pk, n"])))
    if kind == "tget":
        return TransactGet((Get(table, key), Get("items", draw(small_keys))))
    if kind == "txn":
        first = write()
        table, key = "items", draw(small_keys)   # a second item (maybe the same: invalid)
        condition, values = draw(st.none() | conditions), {}
        if condition == "n = :v":
            values[":v"] = draw(small_numbers)
        elif condition is not None:
            values[":t"] = "N"
        second = write()
        return TransactWrite((first, second), draw(st.none() | st.just("tok")))
    action = write()
    if isinstance(action, ConditionCheck):
        return Put(table, {**key, "n": n})
    return action


@st.composite
def model_histories(draw: st.DrawFn) -> tuple[Script, int]:
    """A history of answers the item-store model gave, pipelined over two lanes of
    clients (each operation overlaps its neighbours); some writes time out, applied or
    not (the client then goes on under a fresh process id)."""
    db = empty(ITEMS, SORTED)
    ops: list[tuple[Request, Any]] = []
    for _ in range(draw(st.integers(1, 10))):
        request = draw(model_requests())
        write = request_kind(request) not in ("get-strong", "get-eventual", "transact-get")
        timed_out = write and draw(st.integers(0, 5)) == 0
        answer: Any = None
        if not timed_out or draw(st.booleans()):
            db, answer = outcome(db, request)
        ops.append((request, None if timed_out else answer))
    script = Script(ITEMS, SORTED)
    lanes, fresh = [0, 1], 2
    processes: list[int] = []
    for i, (request, _answer) in enumerate(ops):
        processes.append(lanes[i % 2])
        script.invoke(processes[i], request)
        if i > 0:
            script.done(processes[i - 1], ops[i - 1][1])
            if ops[i - 1][1] is None:
                lanes[(i - 1) % 2], fresh = fresh, fresh + 1
    script.done(processes[-1], ops[-1][1])
    return script, len(ops)


@given(model_histories())
def test_histories_the_model_produced_are_linearizable(case: tuple[Script, int]) -> None:
    """Whatever the model answered (responses, returned attributes, failed conditions,
    cancelled transactions, validation errors), recorded through the codec, written as
    JSON lines and read back, the item checker finds it linearizable."""
    script, count = case
    history = loads(script.text(), "jsonl")
    assert len(history) == count
    verdict = check(history, "item")
    assert verdict.valid is True, verdict.anomalies


@given(model_histories(), small_keys)
def test_a_read_of_a_value_never_written_is_caught(case: tuple[Script, int],
                                                  key: dict[str, Any]) -> None:
    """The same histories, then a strong read after everything of an ``n`` no request
    ever wrote: not linearizable, on that item."""
    script, count = case
    script.op(99, strong(key), Response(item={**key, "n": Decimal(99)}))
    verdict = check(script.history(), "item")
    assert verdict.valid is False
    assert verdict.anomalies[0].ops == (count,)
    # The item's part (transactions may have joined it with others).
    assert repr(("items", (key["pk"],))) in verdict.anomalies[0].data["key"]


# ---------------------------------------------------------------------------------------
# A request DynamoDB refuses, recorded as accepted, is a malformed history


@pytest.mark.parametrize("condition", [
    " OR ".join(["attribute_exists(pk)"] * 301),            # past the 300-operator limit
    "(" * 2000 + "attribute_exists(pk)" + ")" * 2000,       # past 4 KB, nested deep
    "attribute_exists(" + ".".join(["a"] * 40) + ")",       # a path past 32 levels
])
@pytest.mark.parametrize("outcome", ["ok", "condition-failed"])
def test_a_refused_expression_recorded_as_accepted_exits_2_naming_the_field(
        tmp_path: Path, condition: str, outcome: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    from replicheck.reports.cli import main

    end: dict[str, object] = ({"process": 0, "type": "ok", "f": "put",
                               "value": {"item": None}} if outcome == "ok" else
                              {"process": 0, "type": "fail", "f": "put", "value": None,
                               "error": "condition-failed"})
    lines = [
        {"process": "observer", "type": "observe", "f": "tables",
         "value": [{"name": "items", "partition_key": "pk"}]},
        {"process": 0, "type": "invoke", "f": "put",
         "value": {"table": "items", "item": {"pk": {"S": "a"}}, "condition": condition}},
        end,
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    capsys.readouterr()
    assert main(["check", str(path), "--model", "item"]) == 2
    err = capsys.readouterr().err
    assert "hostile.jsonl" in err and "line 2" in err and "value.condition" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


_KEY = {"pk": {"S": "a"}}
_PUT = {"put": {"table": "items", "item": {"pk": {"S": "a"}}}}


@pytest.mark.parametrize(("f", "request_", "field", "says"), [
    ("update", {"table": "items", "key": _KEY, "update": "SET pk = :v",
                "values": {":v": {"S": "b"}}}, "value.update", "part of the key"),
    ("get-strong", {"table": "items", "key": {"pk": {"S": "a"}, "x": {"S": "b"}}},
     "value.key", "does not match the schema"),
    ("delete", {"table": "items", "key": {"other": {"S": "a"}}}, "value.key",
     "unexpected attributes"),
    ("transact-write", {"actions": [_PUT, {"delete": {"table": "items", "key": _KEY}}]},
     "value.actions", "multiple operations on one item"),
    ("transact-write", {"actions": [{"put": {"table": "items", "item": {"pk": {"S": str(i)}}}}
                                    for i in range(101)]},
     "value.actions", "between 1 and 100"),
    ("transact-write", {"actions": [_PUT, {"update": {
        "table": "items", "key": {"pk": {"S": "b"}}, "update": "SET pk = :v",
        "values": {":v": {"S": "c"}}}}]}, "value.actions[1].update", "part of the key"),
    ("put", {"table": "nope", "item": {"pk": {"S": "a"}}}, "value.table",
     "resource not found"),
])
@pytest.mark.parametrize("consistency", ["linearizable", "serializable"])
def test_a_request_dynamodb_always_refuses_recorded_as_accepted_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], f: str,
        request_: dict[str, object], field: str, says: str, consistency: str) -> None:
    """A request refused whatever the items hold (a key attribute updated, a key that is
    not the table's, two actions on one item or more than 100 in a transaction, an
    unknown table) cannot end ok: the history is malformed (exit 2, naming the line and
    the field), not invalid."""
    from replicheck.reports.cli import main

    lines = [
        {"process": "observer", "type": "observe", "f": "tables",
         "value": [{"name": "items", "partition_key": "pk"}]},
        {"process": 0, "type": "invoke", "f": f, "value": request_},
        {"process": 0, "type": "ok", "f": f,
         "value": None if f == "transact-write" else {"item": None}},
    ]
    path = tmp_path / "refused.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    capsys.readouterr()
    assert main(["check", str(path), "--model", "item", "--consistency", consistency]) == 2
    err = capsys.readouterr().err
    assert "refused.jsonl" in err and "line 2" in err and field + ":" in err, err
    assert says in err and len(err.strip().splitlines()) == 1


def test_a_refused_request_that_ended_fail_or_info_is_kept() -> None:
    """Only a request recorded as accepted contradicts DynamoDB: the same request that
    failed (with another error) or whose outcome is unknown is an ordinary record."""
    from replicheck.histories.history import Operation
    from replicheck.histories.items import check_requests

    request_ = {"table": "nope", "item": {"pk": {"S": "a"}}}
    for status in ("fail", "info"):
        op = Operation(0, 0, "put", None, request_, None, status, 0, 1,
                       error="ValidationError")
        history = History((op,), observations=(tables_record([TableSchema("items", "pk")]),))
        check_requests(history)


@pytest.mark.parametrize("consistency", ["serializable", "strong-session-serializable"])
def test_a_serial_model_of_an_item_history_without_tables_is_a_usage_error(
        tmp_path: Path, consistency: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Without the key schemas no serial order can be replayed: this was "UNKNOWN
    # (undecided)" with no limit reached.
    from replicheck.reports.cli import main

    source = Path(__file__).parent / "data" / "item_valid.jsonl"
    lines = [line for line in source.read_text(encoding="utf-8").splitlines()
             if '"tables"' not in line]
    path = tmp_path / "no-tables.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["check", str(path), "--model", "item", "--consistency", consistency]) == 2
    assert "needs the tables' key schemas" in capsys.readouterr().err
    assert main(["check", str(path), "--model", "item", "--consistency",
                 "read-committed"]) == 0
