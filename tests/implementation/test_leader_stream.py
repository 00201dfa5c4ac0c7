"""Leader mode change streams: exactly the successful modifications, in order per item,
with the images of the view type, none for failed or cancelled writes or writes that
changed nothing, nothing lost or repeated by a failover, gone after 24 hours."""

from __future__ import annotations

import pytest

from replicheck.implementation.reference.leader import LeaderStore, dynamodb
from replicheck.implementation.store import (
    ConditionalCheckFailed,
    Delete,
    Get,
    Handle,
    Put,
    TransactionCanceled,
    TransactWrite,
    Update,
)
from replicheck.models.items.requests import Request, TableSchema


def run(store: LeaderStore, request: Request) -> Handle:
    handle = store.submit("c", request)
    store.run_until_done(handle)
    return handle


def test_stream_holds_exactly_the_successful_modifications_in_order() -> None:
    store = dynamodb()
    insert = run(store, Put("items", {"pk": "a", "n": 1}))
    modify = run(store, Update("items", {"pk": "a"}, "SET n = :v", values={":v": 2}))
    same = run(store, Put("items", {"pk": "a", "n": 2}))  # changes nothing
    failed = run(store, Put("items", {"pk": "a", "n": 3}, condition="attribute_not_exists(pk)"))
    cancelled = run(store, TransactWrite((Put("items", {"pk": "a", "n": 4}),
                                          Put("items", {"pk": "b", "n": 4},
                                              condition="attribute_exists(pk)"))))
    remove = run(store, Delete("items", {"pk": "a"}))
    absent = run(store, Delete("items", {"pk": "a"}))  # nothing to delete
    again = run(store, TransactWrite((Put("items", {"pk": "a", "n": 5}),
                                      Put("items", {"pk": "b", "n": 5}))))
    assert isinstance(failed.error, ConditionalCheckFailed)
    assert isinstance(cancelled.error, TransactionCanceled)
    assert same.meta["changed"] is False and absent.meta["changed"] is False
    records = [r for r in store.stream_records("items") if r.key == ("a",)]
    assert [(r.event, r.old_image, r.new_image) for r in records] == [
        ("INSERT", None, {"pk": "a", "n": 1}),
        ("MODIFY", {"pk": "a", "n": 1}, {"pk": "a", "n": 2}),
        ("REMOVE", {"pk": "a", "n": 2}, None),
        ("INSERT", None, {"pk": "a", "n": 5}),
    ]
    assert [r.sequence for r in records] == [
        insert.meta["version"], modify.meta["version"], remove.meta["version"],
        again.meta["writes"][0]["version"]]
    assert [r.new_image for r in store.stream_records("items") if r.key == ("b",)] == [
        {"pk": "b", "n": 5}]


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_view_type_chooses_the_images(view: str) -> None:
    store = LeaderStore(tables=(TableSchema("t", "k"),), streams={"t": view})
    store.execute(Put("t", {"k": "a", "n": 1}))
    store.execute(Put("t", {"k": "a", "n": 2}))
    store.execute(Delete("t", {"k": "a"}))
    records = store.stream_records("t")
    assert [r.event for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert all(r.key == ("a",) for r in records)
    new = [r.new_image for r in records]
    old = [r.old_image for r in records]
    with_new = view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
    with_old = view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
    assert new == ([{"k": "a", "n": 1}, {"k": "a", "n": 2}, None] if with_new else [None] * 3)
    assert old == ([None, {"k": "a", "n": 1}, {"k": "a", "n": 2}] if with_old else [None] * 3)


def test_records_are_gone_after_24_hours_of_global_time() -> None:
    store = dynamodb()
    store.execute(Put("items", {"pk": "old"}))
    store.sim.advance(23 * 3600.0)
    assert store.settle()
    store.execute(Put("items", {"pk": "new"}))
    assert [r.key for r in store.stream_records("items")] == [("old",), ("new",)]
    store.sim.advance(3600.0)
    for node in store.replicas():  # node clocks do not matter: retention is global time
        store.skew_clock(node, -7200.0)
    assert [r.key for r in store.stream_records("items")] == [("new",)]


def test_failover_neither_loses_nor_repeats_records() -> None:
    store = dynamodb()
    acknowledged = []
    for i in range(4):
        acknowledged.append(run(store, Put("items", {"pk": "a", "n": i})))
    partition = store.partition_of("items", {"pk": "a"})
    leader = store.leader_of(partition)
    assert leader is not None
    # the last write is committed but the followers have not heard it is: the crash
    # leaves its commit to the next leader
    store.crash(leader)
    assert store.settle()
    assert store.leader_of(partition) not in (None, leader)
    for i in range(4, 6):
        acknowledged.append(run(store, Put("items", {"pk": "a", "n": i})))
    store.restart(leader)
    assert store.settle()
    assert all(h.status == "ok" for h in acknowledged)
    records = [r for r in store.stream_records("items") if r.key == ("a",)]
    assert [r.new_image for r in records] == [{"pk": "a", "n": i} for i in range(6)]
    assert [r.sequence for r in records] == [h.meta["version"] for h in acknowledged]
    assert store.execute(Get("items", {"pk": "a"}, consistent=True)).item == {"pk": "a", "n": 5}
