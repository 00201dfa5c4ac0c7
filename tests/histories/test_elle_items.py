"""Elle-style checking of DynamoDB item transactions (``check_item_transactions``).

Hand-written item histories with recorded versions (as the reference leader store
records them) for each anomaly class, histories without versions judged by unique
values, metadata edge cases (indeterminate writes, retried client tokens, duplicate
versions, malformed metadata), and two properties over histories of random item
transactions executed serially through the item model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from itertools import permutations
from random import Random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.elle.items import (
    ITEM_MODEL,
    analyze_items,
    check_item_transactions,
    infer_items,
)
from replicheck.histories.formats.jsonl import dumps_jsonl, read_jsonl
from replicheck.histories.history import History, HistoryError, Record, pair
from replicheck.histories.items import completion_record, invoke_record, tables_record
from replicheck.histories.verdict import Verdict
from replicheck.models import lattice
from replicheck.models.items.errors import (
    CancellationReason,
    ConditionalCheckFailed,
    StoreError,
    TransactionCanceled,
    TransactionConflict,
)
from replicheck.models.items.operations import Database, apply, empty
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
)
from tests.oracles.items import serial

T = "items"
SCHEMA = TableSchema(T, "pk")
Meta = Mapping[str, Any]


# ---------------------------------------------------------------------------- building


class Builder:
    """Item-history records in real-time order (each record's index is its position),
    opened by the ``tables`` record."""

    def __init__(self, *, tables: bool = True) -> None:
        self.records: list[Record] = [tables_record([SCHEMA], index=0)] if tables else []
        self.pending: dict[int, Request] = {}

    def invoke(self, p: int, request: Request) -> Builder:
        self.pending[p] = request
        self.records.append(invoke_record(p, request, index=len(self.records)))
        return self

    def complete(self, p: int, outcome: Response | StoreError | None,
                 meta: Meta | None = None) -> Builder:
        record = completion_record(p, self.pending.pop(p), outcome, index=len(self.records))
        if meta:
            record = replace(record, meta=dict(meta))
        self.records.append(record)
        return self

    def ok(self, p: int, request: Request, response: Response | None = None,
           meta: Meta | None = None) -> Builder:
        """Invoke and complete at once (nothing in between)."""
        return self.invoke(p, request).complete(p, response or Response(), meta)

    def history(self) -> History:
        return pair(self.records)


def put(k: str, v: int, **kw: Any) -> Put:
    return Put(T, {"pk": k, "v": v}, **kw)


def get(k: str, *, strong: bool = True) -> Get:
    return Get(T, {"pk": k}, consistent=strong)


def check(k: str, condition: str = "attribute_exists(pk)") -> ConditionCheck:
    return ConditionCheck(T, {"pk": k}, condition)


def tw(*actions: WriteAction, token: str | None = None) -> TransactWrite:
    return TransactWrite(tuple(actions), token)


def tg(*keys: str) -> TransactGet:
    return TransactGet(tuple(get(k) for k in keys))


def item(k: str, v: int) -> dict[str, Any]:
    return {"pk": k, "v": v}


def got(*items: dict[str, Any] | None) -> Response:
    return Response(items=tuple(items))


def one(i: dict[str, Any] | None) -> Response:
    return Response(item=i)


def wrote(*writes: tuple[str, int, int | None]) -> dict[str, Any]:
    """``meta["writes"]`` of a transaction: (key, version, value written or None for a
    delete)."""
    return {"writes": [{"table": T, "key": [k], "version": n,
                        "item": None if v is None else item(k, v), "delete": v is None}
                       for k, n, v in writes]}


def read(*reads: tuple[str, int | None]) -> dict[str, Any]:
    """``meta["reads"]``: (key, version read)."""
    return {"reads": [{"table": T, "key": [k], "version": n} for k, n in reads]}


def ver(n: int | None) -> dict[str, Any]:
    return {"version": n}


def types(v: Verdict) -> list[str]:
    return [a.type for a in v.anomalies]


def check_all(h: History, *models: str) -> dict[str, Verdict]:
    return {m: check_item_transactions(h, consistency=(m,)) for m in models}


# ---------------------------------------------------------------------------- valid


def valid_concurrent() -> History:
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.ok(0, put("y", 1), meta=ver(2))
    # T2 and T3 overlap: T2 moves both items on, T3 reads both before it.
    b.invoke(1, tw(put("x", 2), put("y", 2), check("z", "attribute_not_exists(pk)")))
    b.invoke(2, tg("x", "y"))
    b.complete(2, got(item("x", 1), item("y", 1)), read(("x", 1), ("y", 2)))
    b.invoke(3, get("y", strong=False))
    b.complete(1, Response(), {**wrote(("x", 3, 2), ("y", 3, 2)), **read(("z", None))})
    b.complete(3, one(item("y", 2)), ver(3))
    b.ok(0, Update(T, {"pk": "x"}, "SET v = :v", values={":v": 3}, return_values="ALL_NEW"),
         one(item("x", 3)), ver(7))
    b.ok(2, tg("x", "z"), got(item("x", 3), None), read(("x", 7), ("z", None)))
    return b.history()


def test_valid_concurrent_history_is_strictly_serializable() -> None:
    h = valid_concurrent()
    v = check_item_transactions(h)
    assert v.model == ITEM_MODEL
    assert v.valid is True, [a.explanation for a in v.anomalies]
    assert v.anomalies == ()
    # The reading transaction T3 goes before T2, whose writes it did not see; the rest
    # in the order they completed.
    assert v.witness == (0, 1, 3, 2, 4, 5, 6)
    assert v.consistency == ("strict-serializable",)
    assert "strict-serializable" in v.still_possible and not v.ruled_out
    assert any("every read sees the version it recorded" in n for n in v.notes)
    inf = infer_items(h)
    assert inf.complete
    x = next(k for k, label in inf.labels.items() if label == "items/pk=x")
    assert inf.versions[x].total and inf.versions[x].versions == (1, 3, 7)
    assert v.to_json()["valid"] is True


def test_edges_are_exact_from_versions() -> None:
    inf = infer_items(valid_concurrent())
    names = {1: "ww", 2: "wr", 4: "rw"}
    edges = {(inf.txns[e.src].op, inf.txns[e.dst].op, names[e.kind])
             for e in inf.graph.data_edges()}
    assert edges == {
        (0, 2, "ww"), (1, 2, "ww"), (2, 5, "ww"),   # consecutive recorded versions
        (0, 3, "wr"), (1, 3, "wr"), (2, 4, "wr"), (5, 6, "wr"),
        (3, 2, "rw"),   # T3 read x@1 and y@2; T2 wrote the next versions (3)
    }   # z is never written: reading its initial state gives no edge


# ---------------------------------------------------------------------------- cycles


def test_G0_opposite_version_orders() -> None:
    b = Builder()
    b.invoke(0, tw(put("x", 1), put("y", 1)))
    b.invoke(1, tw(put("x", 2), put("y", 2)))
    b.complete(0, Response(), wrote(("x", 1, 1), ("y", 4, 1)))
    b.complete(1, Response(), wrote(("x", 2, 2), ("y", 3, 2)))
    v = check_item_transactions(b.history())
    assert v.valid is False
    assert types(v) == ["G0"]
    assert v.anomalies[0].explanation == (
        "T0 < T1 because T0 wrote version 1 of items/pk=x and T1 wrote version 2, which "
        "comes later in the item's version order (ww); T1 < T0 because T1 wrote version 3 "
        "of items/pk=y and T0 wrote version 4, which comes later in the item's version "
        "order (ww). Together, a cycle of write-write edges only: the transactions' writes "
        "are interleaved, so no order of them installs these versions (G0, dirty write).")
    assert "read-uncommitted" in v.ruled_out
    assert v.counterexample["cycle"][0] == {
        "from": 0, "to": 1, "kind": "ww", "item": "items/pk=x", "from_version": 1,
        "to_version": 2}


def test_G1c_circular_information_flow_through_checks() -> None:
    b = Builder()
    b.invoke(0, tw(check("y"), put("x", 1)))
    b.invoke(1, tw(check("x"), put("y", 1)))
    b.complete(0, Response(), {**wrote(("x", 1, 1)), **read(("y", 2))})
    b.complete(1, Response(), {**wrote(("y", 2, 1)), **read(("x", 1))})
    v = check_item_transactions(b.history(), consistency=("read-committed",))
    assert v.valid is False
    assert types(v) == ["G1c"]
    assert "T0 < T1 because T1 read version 1 of items/pk=x that T0 wrote (wr)" in \
        v.anomalies[0].explanation
    assert "read-committed" in v.ruled_out and "read-uncommitted" not in v.ruled_out
    # Still possible lists only what a verdict proves: an invalid one proves nothing.
    assert v.still_possible == frozenset()
    assert check_item_transactions(b.history(), consistency=("read-uncommitted",)
                                   ).still_possible == {"read-uncommitted"}


def fractured_read() -> History:
    b = Builder()
    b.ok(0, tw(put("x", 1), put("y", 1)), meta=wrote(("x", 1, 1), ("y", 2, 1)))
    b.invoke(1, tw(put("x", 2), put("y", 2)))
    b.invoke(2, tg("x", "y"))
    b.complete(1, Response(), wrote(("x", 3, 2), ("y", 4, 2)))
    b.complete(2, got(item("x", 2), item("y", 1)), read(("x", 3), ("y", 2)))
    return b.history()


def test_G_single_fractured_transact_get() -> None:
    v = check_item_transactions(fractured_read(), consistency=("snapshot-isolation",))
    assert v.valid is False
    assert types(v) == ["G-single"]
    a = v.anomalies[0]
    assert a.ops == (2, 1)
    assert a.explanation == (
        "T2 < T1 because T2 read version 2 of items/pk=y and T1 wrote version 4, which "
        "comes later in the item's version order (rw); T1 < T2 because T2 read version 3 "
        "of items/pk=x that T1 wrote (wr). Together, a cycle with exactly one read-write "
        "anti-dependency: one transaction missed an effect of transactions that depend on "
        "it (G-single, read skew).")
    assert {"snapshot-isolation", "serializable"} <= v.ruled_out
    assert "read-committed" not in v.ruled_out


def write_skew() -> History:
    b = Builder()
    b.ok(0, tw(put("x", 1), put("y", 1)), meta=wrote(("x", 1, 1), ("y", 1, 1)))
    # Each checks the other's item still exists, then moves its own item on.
    b.invoke(1, tw(check("y"), put("x", 2)))
    b.invoke(2, tw(check("x"), put("y", 2)))
    b.complete(1, Response(), {**wrote(("x", 5, 2)), **read(("y", 1))})
    b.complete(2, Response(), {**wrote(("y", 6, 2)), **read(("x", 1))})
    return b.history()


def test_G2_item_write_skew_through_condition_checks() -> None:
    v = check_all(write_skew(), "snapshot-isolation", "serializable", "repeatable-read")
    assert v["snapshot-isolation"].valid is True
    assert types(v["snapshot-isolation"]) == ["G2-item"]
    assert v["snapshot-isolation"].witness is None
    assert any("no serial order" in n for n in v["snapshot-isolation"].notes)
    assert v["serializable"].valid is False and v["repeatable-read"].valid is False
    a = v["serializable"].anomalies[0]
    assert set(a.ops) == {1, 2} and a.data["rw_adjacent"] is True
    assert "T1 read version 1 of items/pk=y and T2 wrote version 6" in a.explanation
    assert "snapshot-isolation" not in v["serializable"].ruled_out


def stale_read(*, strong: bool) -> History:
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.ok(0, put("x", 2), meta=ver(2))
    b.ok(1, get("x", strong=strong), one(item("x", 1)), ver(1))
    return b.history()


def test_stale_strong_read_is_G_single_realtime() -> None:
    v = check_all(stale_read(strong=True), "strict-serializable", "serializable")
    strict = v["strict-serializable"]
    assert strict.valid is False
    assert types(strict) == ["G-single-realtime"]
    assert strict.anomalies[0].explanation.startswith(
        "T2 < T1 because T2 read version 1 of items/pk=x and T1 wrote version 2, which "
        "comes later in the item's version order (rw); T1 < T2 because T1 completed (at "
        "index 4) before T2 was invoked (at index 5) (realtime).")
    # Serializable has no real time: the read goes before the second write.
    assert v["serializable"].valid is True
    assert v["serializable"].witness == (0, 2, 1)


def test_stale_eventual_read_serializable_not_strict() -> None:
    v = check_all(stale_read(strong=False), "serializable", "strict-serializable",
                  "strong-session-serializable")
    assert v["serializable"].valid is True and v["serializable"].witness == (0, 2, 1)
    assert v["strict-serializable"].valid is False
    # Different processes: session order does not forbid it.
    assert v["strong-session-serializable"].valid is True


def test_stale_read_in_own_session_is_G_single_process() -> None:
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.ok(1, put("x", 2), meta=ver(2))
    b.ok(1, get("x", strong=False), one(item("x", 1)), ver(1))
    v = check_item_transactions(b.history(), consistency=("strong-session-serializable",))
    assert v.valid is False and types(v) == ["G-single-process"]


def test_read_of_the_initial_state_after_a_write() -> None:
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.ok(1, get("x"), one(None), ver(None))
    v = check_item_transactions(b.history())
    assert types(v) == ["G-single-realtime"]
    assert "T1 read items/pk=x in its initial (absent) state and T0 wrote version 1" in \
        v.anomalies[0].explanation


# ---------------------------------------------------------------------------- non-cycle


def test_G1a_read_of_a_failed_write() -> None:
    b = Builder()
    b.invoke(0, put("x", 1, condition="attribute_not_exists(pk)"))
    b.complete(0, ConditionalCheckFailed())
    b.ok(1, get("x"), one(item("x", 1)), ver(3))
    v = check_item_transactions(b.history())
    assert v.valid is False and types(v) == ["G1a"]
    assert v.anomalies[0].ops == (1, 0)
    assert v.anomalies[0].explanation == (
        'T1 read items/pk=x = {pk: "x", v: 1} (version 3), which only T0 wrote, and it '
        "failed: it read a write that never committed (G1a, aborted read).")


def test_a_version_nobody_wrote_is_a_garbage_read() -> None:
    """Regression: a read of a recorded version no write of the history can have made
    was a note (valid under read committed, unknown under serializable); no
    interpretation explains it, so every model rules it out."""
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.ok(1, get("x"), one(item("x", 9)), ver(5))
    for model in ("read-uncommitted", "read-committed", "serializable"):
        v = check_item_transactions(b.history(), consistency=(model,))
        assert v.valid is False and types(v) == ["garbage-read"], model
        assert "read-uncommitted" in v.ruled_out and v.still_possible == frozenset()
    assert "no write of the history can have made" in v.anomalies[0].explanation


def test_a_version_read_holding_another_item_is_a_garbage_read() -> None:
    """Regression: the recorded version names its writer; a read of it returning
    another item than the writer wrote was only a note."""
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.ok(1, get("x"), one(item("x", 2)), ver(1))
    v = check_item_transactions(b.history(), consistency=("read-uncommitted",))
    assert v.valid is False and types(v) == ["garbage-read"]


def test_one_version_read_as_two_items_is_a_garbage_read() -> None:
    """Regression: an update's item may be unknown, but one version holds one item."""
    b = Builder()
    b.ok(0, Update(T, {"pk": "x"}, "SET v = :v", values={":v": 1}), meta=ver(1))
    b.ok(1, get("x"), one(item("x", 1)), ver(1))
    b.ok(2, get("x"), one(item("x", 2)), ver(1))
    v = check_item_transactions(b.history(), consistency=("read-uncommitted",))
    assert v.valid is False and types(v) == ["garbage-read"]


def test_a_version_either_indeterminate_write_made_is_decided() -> None:
    """Regression: two indeterminate puts of one item could each have made the version
    read; the checker answered "unknown" for serializable. Each way is judged."""
    b = Builder()
    b.invoke(0, put("x", 1))
    b.invoke(1, put("x", 1))
    b.complete(0, None)
    b.complete(1, None)
    b.ok(2, get("x"), one(item("x", 1)), ver(5))
    for model in ("serializable", "strict-serializable"):
        v = check_item_transactions(b.history(), consistency=(model,))
        assert v.valid is True and v.witness is not None, model


def test_duplicate_versions_are_cyclic_versions() -> None:
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(4))
    b.ok(1, put("x", 2), meta=ver(4))
    v = check_item_transactions(b.history(), consistency=("read-uncommitted",))
    assert v.valid is False and types(v) == ["cyclic-versions"]
    assert v.anomalies[0].ops == (0, 1)
    assert "claim to have created version 4 of items/pk=x" in v.anomalies[0].explanation


def test_lost_update_seen_through_old_items() -> None:
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.invoke(1, put("x", 2, return_values="ALL_OLD"))
    b.invoke(2, put("x", 3, return_values="ALL_OLD"))
    b.complete(1, one(item("x", 1)), ver(2))
    b.complete(2, one(item("x", 1)), ver(3))
    v = check_item_transactions(b.history(), consistency=("snapshot-isolation",))
    assert v.valid is False
    assert sorted(types(v)) == ["G-single", "lost-update"]
    lost = next(a for a in v.anomalies if a.type == "lost-update")
    assert lost.ops == (1, 2)
    assert lost.explanation.startswith("T1 and T2 both read version 1 of items/pk=x")


def test_retried_token_is_one_transaction() -> None:
    request = tw(put("x", 1), put("y", 1), token="t-1")
    b = Builder()
    b.invoke(0, request)
    b.invoke(1, request)  # a retry from another client, joined to the running one
    meta = wrote(("x", 1, 1), ("y", 1, 1))
    b.complete(0, Response(), meta)
    b.complete(1, Response(), meta)
    b.ok(2, tw(put("x", 2), token="t-1x"), meta=wrote(("x", 2, 2)))
    b.ok(3, request, meta={"replayed": True})  # a replay long after: writes nothing
    v = check_item_transactions(b.history())
    assert v.valid is True and v.anomalies == ()
    assert any("same client token 't-1'" in n for n in v.notes)


def test_indeterminate_write_identified_by_value() -> None:
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.invoke(1, tw(put("x", 2), put("y", 2)))
    b.complete(1, None)  # timed out; the client goes on as process 2
    b.ok(2, get("y"), one(item("y", 2)), ver(7))
    b.ok(2, get("x"), one(item("x", 2)), ver(7))
    h = b.history()
    inf = infer_items(h)
    assert inf.graph.member[1] and inf.complete
    assert check_item_transactions(h).witness == (0, 1, 2, 3)
    # A reader that misses it after it was seen committed: stale in real time.
    b.ok(3, get("x"), one(item("x", 1)), ver(1))
    v = check_all(b.history(), "strict-serializable", "serializable")
    assert types(v["strict-serializable"]) == ["G-single-realtime"]
    assert v["strict-serializable"].anomalies[0].explanation.startswith(
        "T4 < T1 because T4 read version 1 of items/pk=x and T1 wrote version 7")
    assert v["serializable"].valid is True
    w = v["serializable"].witness
    assert w is not None and w.index(0) < w.index(4) < w.index(1) < w.index(2)


def test_indeterminate_write_seen_on_one_item_only() -> None:
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.invoke(1, tw(put("x", 2), put("y", 2)))
    b.complete(1, None)
    b.ok(2, get("y"), one(item("y", 2)), ver(7))
    b.ok(3, get("x"), one(item("x", 1)), ver(1))
    # T1 committed, but where its write of x falls among x's versions is not
    # recorded: each place is judged (regression: this was "unknown"). Before x@1, T1
    # precedes T0, which completed before T1 began; after it, T3 missed T1's x while T2
    # saw T1's y before T3 began. So not strictly serializable, and serializable.
    v = check_item_transactions(b.history())
    assert v.valid is False and v.ruled_out == {"strict-serializable"}
    assert check_item_transactions(b.history(), consistency=("serializable",)).valid is True


def test_indeterminate_write_not_seen_is_left_out() -> None:
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.invoke(1, put("x", 2))
    b.complete(1, None)
    b.ok(2, get("x"), one(item("x", 1)), ver(1))
    v = check_item_transactions(b.history())
    assert v.valid is True and v.witness == (0, 2)


def test_malformed_metadata_names_the_operation() -> None:
    b = Builder()
    b.ok(0, put("x", 1), meta={"version": "three"})
    with pytest.raises(HistoryError, match=r"operation 0 \(put.*meta \"version\""):
        check_item_transactions(b.history())
    b = Builder()
    b.ok(0, tw(put("x", 1)), meta=wrote(("y", 1, 1)))
    with pytest.raises(HistoryError, match="names items/pk=y, which no put"):
        check_item_transactions(b.history())


def test_unknown_function_is_bad_input() -> None:
    h = pair([Record(0, "invoke", "txn", [["r", "x", None]], index=0),
              Record(0, "ok", "txn", [["r", "x", None]], index=1)])
    with pytest.raises(HistoryError, match="expected an item request kind"):
        check_item_transactions(h)


def test_composite_keys_and_json_round_trip() -> None:
    schema = TableSchema("orders", "customer", "order")
    key = {"customer": "c1", "order": 7}
    records = [tables_record([schema], index=0)]
    w = Put("orders", {**key, "total": 10})
    g = Get("orders", key, consistent=True)
    meta_w = {"version": 1}
    meta_g = {"version": 1}
    records += [invoke_record(0, w, index=1),
                replace(completion_record(0, w, Response(), index=2), meta=meta_w),
                invoke_record(1, g, index=3),
                replace(completion_record(1, g, Response(item={**key, "total": 10}),
                                          index=4), meta=meta_g)]
    h = pair(read_jsonl(dumps_jsonl(records)))
    v = check_item_transactions(h)
    assert v.valid is True and v.witness == (0, 1)
    assert set(infer_items(h).labels.values()) == {"orders/customer=c1,order=7"}


def test_empty_history_is_valid() -> None:
    v = check_item_transactions(Builder().history())
    assert v.valid is True and v.witness == () and v.stats.operations == 0


def test_unknown_model_name() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        check_item_transactions(Builder().history(), consistency=("serialisable",))


# ---------------------------------------------------------------------------- no versions


def test_without_versions_unique_values_valid() -> None:
    b = Builder()
    b.ok(0, put("x", 1))
    b.invoke(1, get("x"))
    b.ok(0, put("x", 2, return_values="ALL_OLD"), one(item("x", 1)))
    b.complete(1, one(item("x", 1)))
    b.ok(1, tg("x", "y"), got(item("x", 2), None))
    v = check_item_transactions(b.history())
    assert v.valid is True and v.anomalies == ()
    assert v.witness == (0, 1, 2, 3)
    assert any("replays through the item model" in n for n in v.notes)
    assert not infer_items(b.history()).complete


def test_without_versions_stale_read_by_value() -> None:
    b = Builder()
    b.ok(0, put("x", 1))
    b.ok(0, put("x", 2, return_values="ALL_OLD"), one(item("x", 1)))
    b.ok(1, get("x"), one(item("x", 1)))
    v = check_item_transactions(b.history())
    assert v.valid is False and types(v) == ["G-single-realtime"]
    assert ('T2 read the version {pk: "x", v: 1} of items/pk=x and T1 wrote the version '
            '{pk: "x", v: 2}') in v.anomalies[0].explanation
    ser = check_item_transactions(b.history(), consistency=("serializable",))
    assert ser.valid is True and ser.witness == (0, 2, 1)


def test_without_versions_absent_read_after_a_write() -> None:
    b = Builder()
    b.ok(0, put("x", 1))
    b.ok(1, get("x"), one(None))
    assert types(check_item_transactions(b.history())) == ["G-single-realtime"]
    # Once the item may have been deleted, absence names no one version: no edges, but
    # no serial order in real time replays (the delete began after the get ended), while
    # one ignoring real time does.
    b.ok(2, Delete(T, {"pk": "x"}))
    v = check_item_transactions(b.history())
    assert v.valid is False and types(v) == ["G2-realtime"]
    assert v.ruled_out == {"strict-serializable"}
    assert any("absence names no one version" in n for n in v.notes)
    ser = check_item_transactions(b.history(), consistency=("serializable",))
    assert ser.valid is True and ser.witness is not None


def test_without_versions_G1a_by_value() -> None:
    b = Builder()
    b.invoke(0, tw(put("x", 1), put("y", 1)))
    b.complete(0, TransactionConflict("conflict"))
    b.ok(1, get("x"), one(item("x", 1)))
    v = check_item_transactions(b.history(), consistency=("read-committed",))
    assert v.valid is False and types(v) == ["G1a"]
    assert v.anomalies[0].explanation.startswith(
        'T1 read items/pk=x = {pk: "x", v: 1}, which only T0 wrote')


def test_without_versions_a_value_nobody_wrote_is_a_garbage_read() -> None:
    """Regression: every write's item shown, and none (nor a failed one) holds the
    item read: it was a note, so the history was VALID under read-uncommitted,
    read-committed and snapshot isolation and "unknown" under serializable."""
    b = Builder()
    b.ok(0, put("x", 1))
    b.invoke(1, put("x", 2))
    b.complete(1, None)  # indeterminate: its item is still shown
    b.ok(2, get("x"), one(item("x", 9)))
    for model in ("read-uncommitted", "read-committed", "snapshot-isolation",
                  "serializable"):
        v = check_item_transactions(b.history(), consistency=(model,))
        assert v.valid is False and types(v) == ["garbage-read"], model
        assert "read-uncommitted" in v.ruled_out and v.still_possible == frozenset()
    assert "no version of the history holds that item" in v.anomalies[0].explanation


def test_without_versions_duplicate_values_give_no_edges() -> None:
    b = Builder()
    b.ok(0, put("x", 1))
    b.ok(1, put("x", 1))
    b.ok(2, get("x"), one(item("x", 1)))
    v = check_item_transactions(b.history())
    assert v.anomalies == ()
    assert any("2 writes of it wrote that value" in n for n in v.notes)
    # Any order of the two puts replays: the witness still shows one.
    assert v.valid is True and v.witness is not None


def test_without_versions_write_skew_is_never_valid() -> None:
    b = Builder()
    b.ok(0, tw(put("x", 1), put("y", 1)))
    one_ = {":one": 1}
    b.invoke(1, tw(ConditionCheck(T, {"pk": "y"}, "v = :one", values=one_), put("x", 2)))
    b.invoke(2, tw(ConditionCheck(T, {"pk": "x"}, "v = :one", values=one_), put("y", 2)))
    b.complete(1, Response())
    b.complete(2, Response())
    b.ok(3, tg("x", "y"), got(item("x", 2), item("y", 2)))
    h = b.history()
    # The checks' versions are not recorded: no edges show the skew, but no serial
    # order replays either (the second check fails in any order): a G2 cycle.
    v = check_item_transactions(h, consistency=("serializable",))
    assert v.valid is False and types(v) == ["G2"]
    assert set(v.anomalies[0].ops) == {0, 1, 2, 3}
    assert any("would fail with TransactionCanceled" in n for n in v.notes)
    assert check_item_transactions(h, consistency=("snapshot-isolation",)).valid is True


def test_without_versions_cyclic_version_order() -> None:
    b = Builder()
    b.invoke(0, put("x", 1, return_values="ALL_OLD"))
    b.invoke(1, put("x", 2, return_values="ALL_OLD"))
    b.complete(0, one(item("x", 2)))  # each saw the other's item as the old one
    b.complete(1, one(item("x", 1)))
    v = check_item_transactions(b.history(), consistency=("read-uncommitted",))
    assert v.valid is False
    assert "cyclic-versions" in types(v)
    cyc = next(a for a in v.anomalies if a.type == "cyclic-versions")
    assert set(cyc.ops) == {0, 1}
    assert "the versions of items/pk=x must be ordered" in cyc.explanation


def test_future_read_of_its_own_version() -> None:
    b = Builder()
    b.ok(0, tw(check("x"), put("y", 1)), meta={**wrote(("y", 5, 1)), **read(("x", None))})
    b.ok(1, tw(put("x", 1)), meta={**wrote(("x", 6, 1)), **read(("x", 6))})
    v = check_item_transactions(b.history(), consistency=("read-atomic",))
    assert v.valid is False and types(v) == ["future-read"]
    assert v.anomalies[0].explanation == (
        "T1 read version 6 of items/pk=x, the version it writes itself: it read its own "
        "future write (future read).")


def test_reading_from_the_future_in_real_time() -> None:
    b = Builder()
    b.ok(0, get("x"), one(item("x", 1)))       # no versions: by value
    b.ok(1, put("x", 1))                       # the only write of that value, later
    v = check_item_transactions(b.history())
    assert types(v) == ["G1c-realtime"]
    assert check_item_transactions(b.history(), consistency=("serializable",)).valid is True


def test_verdict_json_is_plain_data() -> None:
    import json

    v = check_item_transactions(fractured_read())
    out = json.loads(json.dumps(v.to_json()))
    assert out["model"] == "item" and out["valid"] is False
    assert out["anomalies"][0]["type"] == "G-single"
    assert out["counterexample"]["cycle"][1] == {
        "from": 1, "to": 2, "kind": "wr", "item": "items/pk=x", "from_version": 3,
        "to_version": 3}


def test_analysis_exposes_components() -> None:
    a = analyze_items(fractured_read())
    assert a.components == [[1, 2]]
    assert [c.type for c in a.cycles] == ["G-single"]
    assert a.order is None and not a.timed_out


# ---------------------------------------------------------------------------- properties

KEYS = ("a", "b", "c")


@st.composite
def requests(draw: st.DrawFn, counter: list[int], *, olds: bool,
             keys: Sequence[str] = KEYS,
             kinds: Sequence[str] = ("get", "transact-get", "single", "transact-write"),
             ) -> Request:
    """A random item request over ``keys`` of one of ``kinds``; values written are
    unique (``counter``)."""

    def fresh() -> int:
        counter[0] += 1
        return counter[0]

    def action(k: str, checks: bool) -> WriteAction:
        kinds = ["put", "update", "delete"] + (["check"] if checks else [])
        kind = draw(st.sampled_from(kinds))
        cond = draw(st.sampled_from([None, "attribute_exists(pk)",
                                     "attribute_not_exists(pk)"]))
        if kind == "put":
            return Put(T, {"pk": k, "v": fresh()}, condition=cond)
        if kind == "update":
            return Update(T, {"pk": k}, "SET v = :v", condition=cond, values={":v": fresh()})
        if kind == "delete":
            return Delete(T, {"pk": k}, condition=cond)
        return ConditionCheck(T, {"pk": k}, cond or "attribute_exists(pk)")

    kind = draw(st.sampled_from(kinds))
    if kind == "get":
        return Get(T, {"pk": draw(st.sampled_from(keys))}, consistent=draw(st.booleans()))
    chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True))
    if kind == "transact-get":
        return TransactGet(tuple(Get(T, {"pk": k}) for k in chosen))
    if kind == "single":
        a = action(chosen[0], checks=False)
        assert not isinstance(a, ConditionCheck)
        mode: ReturnValues = "ALL_OLD" if olds and draw(st.booleans()) else "NONE"
        if isinstance(a, Update) and draw(st.booleans()):
            mode = "ALL_NEW"
        return replace(a, return_values=mode)
    return TransactWrite(tuple(action(k, checks=True) for k in chosen))


def _writes_only_puts(request: Request) -> bool:
    if isinstance(request, Put):
        return True
    return isinstance(request, TransactWrite) and all(isinstance(a, Put)
                                                      for a in request.actions)


def _targets(request: Request) -> list[tuple[str, bool]]:
    """(key, written) for every item the request touches."""
    if isinstance(request, Get):
        return [(request.key["pk"], False)]
    if isinstance(request, TransactGet):
        return [(g.key["pk"], False) for g in request.gets]
    if isinstance(request, Put):
        return [(request.item["pk"], True)]
    if isinstance(request, Update | Delete):
        return [(request.key["pk"], True)]
    assert isinstance(request, TransactWrite)
    return [((a.item if isinstance(a, Put) else a.key)["pk"], not isinstance(a, ConditionCheck))
            for a in request.actions]


class Execution:
    """Requests run one at a time through the item model, each applied write making a
    new per-item version (a global counter, like a leader's log index), recording what
    the reference leader store records."""

    def __init__(self) -> None:
        self.db: Database = empty(SCHEMA)
        self.clock = 0
        self.versions: dict[str, int] = {}
        self.made: dict[str, dict[int, dict[str, Any] | None]] = {k: {} for k in KEYS}

    def run(self, request: Request) -> tuple[Response | StoreError, dict[str, Any]]:
        before = dict(self.versions)
        try:
            self.db, response = apply(self.db, request)
        except StoreError as error:
            return error, {}
        targets = _targets(request)
        written = [k for k, w in targets if w]
        if written:
            self.clock += 1
            for k in written:
                self.versions[k] = self.clock
                self.made[k][self.clock] = self.db.item(T, {"pk": k})
        if isinstance(request, Get):
            return response, {"version": before.get(request.key["pk"])}
        if isinstance(request, TransactGet):
            return response, {"reads": [{"table": T, "key": [k], "version": before.get(k)}
                                        for k, _ in targets]}
        if isinstance(request, Put | Delete):
            return response, {"version": self.clock}
        if isinstance(request, Update):
            return response, {"version": self.clock,
                              "item": self.db.item(T, dict(request.key))}
        return response, {
            "writes": [{"table": T, "key": [k], "version": self.clock,
                        "item": self.db.item(T, {"pk": k}),
                        "delete": self.db.item(T, {"pk": k}) is None}
                       for k in written],
            "reads": [{"table": T, "key": [k], "version": before.get(k)}
                      for k, w in targets if not w],
        }


@st.composite
def serial_executions(draw: st.DrawFn) -> History:
    """Random item transactions, each taking effect at its own instant 100*i inside an
    interval drawn around it; some fail (a conflict: never applied), some end
    indeterminate (applied or not; only put-only requests, so that a read of what they
    wrote names them by value). ``ALL_OLD`` old items appear only without
    indeterminate ones (an indeterminate write seen only through an old item has no
    version to place it by)."""
    n = draw(st.integers(1, 12))
    olds = draw(st.booleans())
    counter = [0]
    run = Execution()
    spans: list[tuple[int, int, bool]] = []
    bodies: list[tuple[Request, str, Any, dict[str, Any]]] = []
    for i in range(n):
        request = draw(requests(counter, olds=olds))
        fates = ["ok", "ok", "ok", "conflict"]
        if not olds and _writes_only_puts(request):
            fates += ["info-run", "info-lost"]
        fate = draw(st.sampled_from(fates))
        outcome: Any
        meta: dict[str, Any] = {}
        if fate == "ok":
            outcome, meta = run.run(request)
        elif fate == "info-run":
            run.run(request)
            outcome = None
        elif fate == "info-lost":
            outcome = None
        else:
            outcome = TransactionConflict("conflict")
        at = 100 * i
        spans.append((at - draw(st.integers(1, 250)), at + draw(st.integers(1, 250)),
                      outcome is None))
        bodies.append((request, fate, outcome, meta))
    return _history(spans, bodies)


def _history(spans: Sequence[tuple[int, int, bool]],
             bodies: Sequence[tuple[Request, str, Any, dict[str, Any]]]) -> History:
    free: list[tuple[int, int]] = []
    next_process = 0
    events: list[tuple[int, int, int, Request, Any, dict[str, Any], bool]] = []
    for i in sorted(range(len(spans)), key=lambda i: spans[i][0]):
        start, end, crashed = spans[i]
        reuse = [p for p in free if p[0] < start]
        if reuse:
            free.remove(reuse[0])
            process = reuse[0][1]
        else:
            process = next_process
            next_process += 1
        if not crashed:
            free.append((end, process))
        request, _, outcome, meta = bodies[i]
        events.append((start, 0, process, request, None, {}, True))
        events.append((end, 1, process, request, outcome, meta, False))
    events.sort(key=lambda e: (e[0], e[1]))
    records = [tables_record([SCHEMA], index=0)]
    for j, (_, _, process, request, outcome, meta, invoking) in enumerate(events, start=1):
        if invoking:
            records.append(invoke_record(process, request, index=j))
        else:
            record = completion_record(process, request, outcome, index=j)
            records.append(replace(record, meta=meta) if meta else record)
    return pair(records)


@given(serial_executions())
def test_serial_executions_are_strictly_serializable(h: History) -> None:
    v = check_item_transactions(h)
    assert v.valid is True, ([a.explanation for a in v.anomalies], v.notes)
    assert v.anomalies == ()
    assert v.witness is not None
    assert {op.id for op in h.operations if op.ok} <= set(v.witness)
    assert not {op.id for op in h.operations if op.failed} & set(v.witness)


WRITERS = ("transact-write", "transact-write", "single", "get", "transact-get")


@st.composite
def tiny_swapped(draw: st.DrawFn) -> tuple[History, bool]:
    """Up to 4 item transactions over two items run serially (all at once, so real
    time says nothing), the last a transact-get of both items; then one read of a get
    or transact-get (one of several items, when there is such a read) changed to
    another version of its item (with that version's item, so version and data
    agree). Returns the history and whether it is serializable by brute force: some
    order of the committed transactions in which every write makes a later version of
    its item than the one before and every read recorded (gets and condition checks)
    sees the version it recorded."""
    n = draw(st.integers(2, 4))
    counter = [0]
    run = Execution()
    bodies: list[tuple[Request, str, Any, dict[str, Any]]] = []
    for i in range(n):
        request = (draw(requests(counter, olds=False, keys=KEYS[:2], kinds=WRITERS))
                   if i < n - 1 else TransactGet((get("a"), get("b"))))
        outcome, meta = run.run(request)
        bodies.append((request, "ok", outcome, meta))
    # Swap the version of one read of a get or transact-get.
    reads = [(i, j) for i, (r, _, o, meta) in enumerate(bodies)
             if isinstance(o, Response) and isinstance(r, Get | TransactGet)
             for j in range(1 if isinstance(r, Get) else len(meta["reads"]))]
    several = [(i, j) for i, j in reads if isinstance(bodies[i][0], TransactGet)
               and len(bodies[i][3]["reads"]) > 1]
    if len(several) > 0 and draw(st.integers(0, 3)) > 0:
        reads = several
    i, j = draw(st.sampled_from(reads))
    request, fate, response, meta = bodies[i]
    k = _targets(request)[j][0]
    options = sorted({None, *run.made[k]} - {_version_read(meta, j)}, key=lambda v: v or 0)
    if options:
        new = draw(st.sampled_from(options))
        value = None if new is None else run.made[k][new]
        if isinstance(request, Get):
            meta, response = {"version": new}, Response(item=value)
        else:
            reads_meta = [dict(e) for e in meta["reads"]]
            reads_meta[j]["version"] = new
            items = list(response.items)
            items[j] = value
            meta, response = {"reads": reads_meta}, Response(items=tuple(items))
        bodies[i] = (request, fate, response, meta)
    spans = [(10 * i, 10 * n + i, False) for i in range(n)]  # all overlap
    h = _history(spans, bodies)
    return h, _brute_force(bodies)


def _version_read(meta: Mapping[str, Any], j: int) -> Any:
    return meta["reads"][j]["version"] if "reads" in meta else meta["version"]


def _brute_force(bodies: Sequence[tuple[Request, str, Any, dict[str, Any]]]) -> bool:
    txns: list[tuple[list[tuple[str, Any]], list[tuple[str, int]]]] = []
    for request, _, outcome, meta in bodies:
        if not isinstance(outcome, Response):
            continue
        if isinstance(request, Get):
            txns.append(([(request.key["pk"], meta["version"])], []))
        elif isinstance(request, TransactGet | TransactWrite):
            rs = [(e["key"][0], e["version"]) for e in meta.get("reads", ())]
            ws = [(e["key"][0], e["version"]) for e in meta.get("writes", ())]
            txns.append((rs, ws))
        else:
            txns.append(([], [(_targets(request)[0][0], meta["version"])]))
    for order in permutations(range(len(txns))):
        current: dict[str, Any] = {}
        fine = True
        for t in order:
            rs, ws = txns[t]
            if any(current.get(k) != v for k, v in rs):
                fine = False
                break
            for k, v in ws:
                if current.get(k) is not None and current[k] >= v:
                    fine = False
                current[k] = v
            if not fine:
                break
        if fine:
            return True
    return False


@given(tiny_swapped())
def test_swapped_read_verdict_is_brute_force(case: tuple[History, bool]) -> None:
    h, serializable = case
    v = check_item_transactions(h, consistency=("serializable",))
    assert v.valid is serializable, ([a.explanation for a in v.anomalies], v.notes)
    if serializable:
        assert v.anomalies == () or all(
            a.type not in lattice.forbidden_by("serializable") for a in v.anomalies)
    else:
        assert v.anomalies


def test_a_condition_check_without_a_recorded_version_is_decided() -> None:
    """Regression: a transact-write's condition check without a recorded version (the
    reference store records none) left the history incomplete, and serializable was
    "unknown" when replaying it through the item model failed. The check read some
    version of its item; each is judged, and one that fits makes the history valid."""
    b = Builder()
    b.invoke(0, put("x", 1))
    b.complete(0, None)
    b.ok(1, tw(check("x"), put("y", 1)), Response(), wrote(("y", 1, 1)))
    for model in ("serializable", "strict-serializable"):
        v = check_item_transactions(b.history(), consistency=(model,))
        assert v.valid is True and v.witness == (1,), model



def test_anomalies_every_way_shows_are_found_without_trying_each_way() -> None:
    """With versions left open (here: which of two indeterminate puts made z@5), a G0
    that does not depend on them is reported at once, for every way."""
    b = Builder()
    b.ok(0, tw(put("x", 1), put("y", 1)), Response(), wrote(("x", 1, 1), ("y", 2, 1)))
    b.ok(1, tw(put("x", 2), put("y", 2)), Response(), wrote(("x", 2, 2), ("y", 1, 2)))
    b.invoke(2, put("z", 1))
    b.invoke(3, put("z", 1))
    b.complete(2, None)
    b.complete(3, None)
    b.ok(4, get("z"), one(item("z", 1)), ver(5))
    v = check_item_transactions(b.history(), consistency=("read-uncommitted",))
    assert v.valid is False and types(v) == ["G0"]
    assert any("hold whichever way they are fixed" in n for n in v.notes)
    assert "read-uncommitted" in v.ruled_out and v.still_possible == frozenset()


def test_an_update_version_read_as_absent_is_a_garbage_read() -> None:
    """Regression: an update whose item the history does not show still made an item;
    a read of its version finding nothing was accepted."""
    b = Builder()
    b.ok(0, Update(T, {"pk": "x"}, "SET v = :v", values={":v": 1}), meta=ver(1))
    b.ok(1, get("x"), one(None), ver(1))
    v = check_item_transactions(b.history(), consistency=("read-uncommitted",))
    assert v.valid is False and types(v) == ["garbage-read"]
    assert "holding null" in v.anomalies[0].explanation


def test_one_indeterminate_write_cannot_make_two_versions() -> None:
    """Regression: an indeterminate update was taken to have made both versions read
    (2 and 3), so a read of a version only a failed write can have made was not seen
    as the aborted read it is."""
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.invoke(0, tw(Update(T, {"pk": "x"}, "SET v = :v", "v = :c", values={":v": 1, ":c": 2})))
    b.complete(0, TransactionCanceled((CancellationReason("ConditionalCheckFailed"),)))
    b.ok(0, get("x"), one(item("x", 1)), ver(2))
    b.invoke(0, tw(Update(T, {"pk": "x"}, "SET v = :v", values={":v": 2})))
    b.complete(0, None)
    b.ok(1, get("x"), one(item("x", 2)), ver(3))
    assert check_item_transactions(b.history(), consistency=("read-uncommitted",)
                                   ).valid is True
    v = check_item_transactions(b.history(), consistency=("read-committed",))
    assert v.valid is False and "G1a" in types(v)


def test_an_old_item_nobody_wrote_is_a_garbage_read() -> None:
    """Regression: the old item a write returned (ALL_OLD) is a read of a version the
    history does not record; one no version holds was only a note."""
    b = Builder()
    b.ok(0, Update(T, {"pk": "x"}, "SET v = :v", values={":v": 3}, return_values="ALL_OLD"),
         one(item("x", 1)), ver(1))
    v = check_item_transactions(b.history(), consistency=("read-uncommitted",))
    assert v.valid is False and types(v) == ["garbage-read"]
    assert "without a recorded version" in v.anomalies[0].explanation


def test_an_old_item_is_read_from_the_version_before_the_write() -> None:
    b = Builder()
    b.ok(0, put("x", 1), meta=ver(1))
    b.ok(1, put("x", 2, return_values="ALL_OLD"), one(item("x", 1)), ver(2))
    assert check_item_transactions(b.history()).valid is True
    # Two writes returning the same old item: a lost update.
    b.ok(2, put("x", 3, return_values="ALL_OLD"), one(item("x", 1)), ver(3))
    v = check_item_transactions(b.history(), consistency=("repeatable-read",))
    assert v.valid is False and "lost-update" in types(v)


def test_an_indeterminate_write_makes_one_version_and_a_failed_one_the_other() -> None:
    """Regression: once the indeterminate update was picked for version 1, version 3
    was no longer an open choice, so the way where a failed put made version 3 (an
    aborted read, which read uncommitted allows) was never judged."""
    b = Builder()
    b.invoke(0, Update(T, {"pk": "x"}, "SET v = :v", values={":v": 1}))
    b.complete(0, None)
    b.ok(1, get("x"), one(item("x", 1)), ver(1))
    b.invoke(1, put("x", 3))
    b.complete(1, TransactionConflict("busy"))
    b.ok(2, get("x"), one(item("x", 3)), ver(3))
    assert check_item_transactions(b.history(), consistency=("read-uncommitted",)
                                   ).valid is True
    v = check_item_transactions(b.history(), consistency=("read-committed",))
    assert v.valid is False and "G1a" in types(v)


def test_an_old_item_from_an_indeterminate_write_seen_elsewhere() -> None:
    """Regression: an old item returned that an indeterminate put made (its version
    read by another transaction) was resolved by value to another name of that version
    than the recorded one, and strict serializability was "unknown"."""
    b = Builder()
    b.invoke(0, put("x", 3))
    b.complete(0, None)
    b.ok(1, get("x"), one(item("x", 3)), ver(1))
    b.ok(1, Update(T, {"pk": "x"}, "SET v = :v", values={":v": 2}, return_values="ALL_OLD"),
         one(item("x", 3)), {"version": 2, "item": item("x", 2)})
    v = check_item_transactions(b.history(), consistency=("strict-serializable",))
    assert v.valid is True and v.witness == (0, 1, 2)


# ------------------------------------------------ histories without recorded versions


@st.composite
def tiny_versionless(draw: st.DrawFn) -> History:
    """1-5 puts, deletes, two-put transact-writes, gets and transact-gets of x and y by
    up to 3 processes, interleaved at random, writes ending ok or info (a process that
    ended info continues under a fresh id), reads returning any value some write of the
    history wrote to the item, or nothing: unique values, no versions recorded."""
    rng = draw(st.randoms(use_true_random=False))
    fresh = iter(range(1, 100))
    plan: list[tuple[int, Request]] = []
    for _ in range(rng.randint(1, 5)):
        k = rng.choice("xy")
        r = rng.random()
        request: Request
        if r < 0.3:
            request = put(k, next(fresh))
        elif r < 0.4:
            request = Delete(T, {"pk": k})
        elif r < 0.5:
            request = tw(put("x", next(fresh)), put("y", next(fresh)))
        elif r < 0.85:
            request = get(k)
        else:
            request = tg("x", "y")
        plan.append((rng.randrange(3), request))
    written: dict[str, list[int]] = {"x": [], "y": []}
    for _, request in plan:
        for w in request.actions if isinstance(request, TransactWrite) else (request,):
            if isinstance(w, Put):
                written[w.item["pk"]].append(w.item["v"])

    def seen(k: str) -> dict[str, Any] | None:
        v = rng.choice([None, *written[k]])
        return None if v is None else item(k, v)

    def outcome(request: Request) -> Response | None:
        if isinstance(request, Get):
            return one(seen(request.key["pk"]))
        if isinstance(request, TransactGet):
            return got(seen("x"), seen("y"))
        return None if rng.random() < 0.2 else Response()

    return interleaved(rng, plan, outcome)


def interleaved(rng: Random, plan: Sequence[tuple[int, Request]],
                outcome: Callable[[Request], Response | StoreError | None]) -> History:
    """The requests of ``plan`` (``(process, request)`` pairs, processes 0-2), each
    process's in its order, invoked and completed in an interleaving ``rng`` picks;
    ``outcome`` answers each (None: indeterminate, after which the process goes on
    under a fresh id, as a client does)."""
    b = Builder()
    queues = {p: [r for q, r in plan if q == p] for p in range(3)}
    ids = {p: p for p in range(3)}
    flight: dict[int, Request] = {}
    while any(queues.values()) or flight:
        p = rng.choice([q for q in range(3) if queues[q] or q in flight])
        if p not in flight:
            flight[p] = queues[p].pop(0)
            b.invoke(ids[p], flight[p])
            continue
        answer = outcome(flight.pop(p))
        b.complete(ids[p], answer)
        if answer is None:
            ids[p] += 3
    return b.history()


@given(tiny_versionless())
def test_tiny_versionless_histories_are_decided_as_the_serial_oracle_decides(
        h: History) -> None:
    """Without a time limit no verdict is "unknown": every serial order the dependency
    edges allow is tried before the checker gives up on a witness, and the verdict is
    the brute-force oracle's (tests/oracles/items.py ``serial``)."""
    for model, order in (("serializable", "none"), ("strong-session-serializable", "process"),
                         ("strict-serializable", "realtime")):
        v = check_item_transactions(h, consistency=(model,))
        assert v.valid is serial(h, order), (model, [a.type for a in v.anomalies], v.notes)


def test_a_read_of_an_overwritten_value_is_serializable_not_strictly() -> None:
    """Regression: put x=1, then put x=2, then a get of x=1, no versions recorded, was
    "unknown" under serializable and strict serializable: only the completion order was
    tried. The get fits between the puts, unless real time keeps it after both."""
    b = Builder()
    b.ok(0, put("x", 1)).ok(0, put("x", 2)).ok(1, get("x"), one(item("x", 1)))
    ser = check_item_transactions(b.history(), consistency=("serializable",))
    assert ser.valid is True and ser.witness == (0, 2, 1)
    strict = check_item_transactions(b.history(), consistency=("strict-serializable",))
    assert strict.valid is False and types(strict) == ["G2-realtime"]


def test_parts_without_shared_items_are_searched_apart() -> None:
    """Forty concurrent puts of other items beside the stale read: each part is searched
    alone (strict serializability is local), so the search stays small and the anomaly
    names the three transactions of its part only."""
    b = Builder()
    for i in range(40):
        b.invoke(i, put(f"k{i}", i))
    for i in range(40):
        b.complete(i, Response())
    b.ok(40, put("x", 1)).ok(40, put("x", 2)).ok(41, get("x"), one(item("x", 1)))
    strict = check_item_transactions(b.history(), consistency=("strict-serializable",))
    assert strict.valid is False and types(strict) == ["G2-realtime"]
    assert strict.anomalies[0].ops == (40, 41, 42)
    assert strict.anomalies[0].data["search_states"] < 1000
    ser = check_item_transactions(b.history(), consistency=("serializable",))
    assert ser.valid is True and ser.witness is not None and len(ser.witness) == 43


def test_a_version_with_text_parts_is_shown_as_json_not_as_a_python_repr() -> None:
    """A store's version such as (8199999, 'r1') (a timestamp and a region) reads
    ``[8199999, "r1"]`` in explanations and notes, as the history's JSON writes it."""
    from replicheck.histories.checkers.elle.item_values import show_version

    assert show_version((8199999, "r1")) == '[8199999, "r1"]'
    assert show_version((3, "it's")) == '[3, "it\'s"]'
    assert show_version(7) == "7"
