"""Leader mode transactions: all or nothing across partitions, cancellation reasons in
request order, TransactionConflict against transactions in flight, client request
tokens on the global clock, crash-safe decisions, atomic TransactGet.

Interleavings are driven by hand: ``pump`` delivers messages (oldest first, no
timers) except those a predicate holds back."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from replicheck.implementation.reference.leader import LeaderStore, dynamodb
from replicheck.implementation.reference.sim import Deliver, Drop, Message
from replicheck.implementation.store import (
    Delete,
    Get,
    Handle,
    IdempotentParameterMismatch,
    Put,
    TransactGet,
    TransactionCanceled,
    TransactionConflict,
    TransactWrite,
    Update,
)
from replicheck.models.items.requests import ConditionCheck


def pump(store: LeaderStore, hold: Callable[[Message], bool] = lambda m: False,
         max_steps: int = 100_000) -> int:
    """Deliver every deliverable message not held back, oldest first; no timers."""
    steps = 0
    while steps < max_steps:
        message = next((m for m in store.sim.in_flight.values()
                        if store.sim.reachable(m.src, m.dst) and not hold(m)), None)
        if message is None:
            break
        store.decide(Deliver(message.id))
        steps += 1
    return steps


def keys_by_partition(store: LeaderStore) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for i in range(200):
        out.setdefault(store.partition_of("items", {"pk": f"k{i}"}), []).append(f"k{i}")
    return out


def two_partitions(store: LeaderStore) -> tuple[str, str, str, str]:
    """Keys x, x2 in one partition and y, y2 in another."""
    groups = keys_by_partition(store)
    (x, x2), (y, y2) = groups[0][:2], groups[1][:2]
    return x, x2, y, y2


def everything(store: LeaderStore) -> dict[str, object]:
    return {n: dict(store.replica_items(n, "items")) for n in store.replicas()}


def item(store: LeaderStore, key: str) -> object:
    return store.execute(Get("items", {"pk": key}, consistent=True)).item


def no_locks_anywhere(store: LeaderStore) -> bool:
    return all(not r.applied.locks and not r.applied.prepared
               for node in store.cluster.nodes.values() for r in node.replicas.values())


def test_cancelled_transaction_reasons_in_request_order_and_no_trace() -> None:
    store = dynamodb()
    x, x2, y, y2 = two_partitions(store)
    store.execute(Put("items", {"pk": x, "n": 1}))
    assert store.settle()
    before = everything(store)
    stream_before = store.stream_records("items")
    request = TransactWrite((
        Put("items", {"pk": x, "n": 9}, condition="attribute_not_exists(pk)"),
        Update("items", {"pk": y}, "SET n = :v", values={":v": 5}),
        Delete("items", {"pk": x2}, condition="attribute_exists(pk)",
               return_old_on_condition_failure=True),
        ConditionCheck("items", {"pk": y2}, "attribute_not_exists(pk)"),
    ))
    with pytest.raises(TransactionCanceled) as cancelled:
        store.execute(request)
    assert [r.code for r in cancelled.value.reasons] == [
        "ConditionalCheckFailed", "None", "ConditionalCheckFailed", "None"]
    assert store.settle()
    assert everything(store) == before
    assert store.stream_records("items") == stream_before
    assert no_locks_anywhere(store)


def test_transaction_applies_on_every_replica_of_every_partition() -> None:
    store = dynamodb()
    x, _, y, _ = two_partitions(store)
    handle = store.submit("c", TransactWrite((Put("items", {"pk": x, "n": 1}),
                                              Put("items", {"pk": y, "n": 2}))))
    store.run_until_done(handle)
    assert handle.status == "ok"
    writes = handle.meta["writes"]
    assert [w["key"] for w in writes] == [[x], [y]] and all(w["changed"] for w in writes)
    assert store.settle()
    for node in store.replicas():
        held = store.replica_items(node, "items")
        for key, n in ((x, 1), (y, 2)):
            if store.partition_of("items", {"pk": key}) in store.config.hosts(node):
                assert held[(key,)] == {"pk": key, "n": n}
    assert no_locks_anywhere(store)


def test_single_partition_transaction_is_one_log_entry() -> None:
    store = dynamodb()
    x, x2, _, _ = two_partitions(store)
    store.execute(TransactWrite((Put("items", {"pk": x, "n": 1}), Put("items", {"pk": x2}))))
    leader = store.cluster.nodes[store.leader_of(0) or ""].replicas[0]
    writes = [e for e in leader.log if e.kind == "write" and e.effects]
    assert len(writes) == 1 and {e.key for e in writes[0].effects} == {(x,), (x2,)}


def _start_held(store: LeaderStore, request: TransactWrite) -> tuple[Handle, str]:
    """Submit a cross-partition transaction and run it until every participant has
    prepared (locked), holding back its votes; returns the handle and its id."""
    handle = store.submit("holder", request)
    txid: list[str] = []

    def hold(m: Message) -> bool:
        return m.kind == "txn-vote" and (not txid or m.body.txid == txid[0])

    pump(store, hold)
    for node in store.cluster.nodes.values():
        for replica in node.replicas.values():
            txid.extend(replica.coordinator.writes)
    assert len(txid) == 1 and not handle.done
    return handle, txid[0]


def _votes_of(txid: str) -> Callable[[Message], bool]:
    return lambda m: m.kind == "txn-vote" and m.body.txid == txid


def test_single_item_write_to_an_item_locked_by_a_transaction_conflicts() -> None:
    store = dynamodb()
    x, _, y, _ = two_partitions(store)
    txn, txid = _start_held(store, TransactWrite((Put("items", {"pk": x, "n": 1}),
                                                  Put("items", {"pk": y, "n": 1}))))
    locked = [r for node in store.cluster.nodes.values() for r in node.replicas.values()
              if r.spec is not None and r.spec.locks]
    assert {ref[1] for r in locked for ref in r.spec.locks} == {(x,), (y,)}  # type: ignore[union-attr]
    write = store.submit("other", Put("items", {"pk": x, "n": 2}))
    pump(store, _votes_of(txid))
    assert write.status == "error" and isinstance(write.error, TransactionConflict)
    pump(store)
    assert txn.status == "ok"
    assert item(store, x) == {"pk": x, "n": 1}
    assert [r.new_image for r in store.stream_records("items") if r.key == (x,)] == [
        {"pk": x, "n": 1}]


def test_strong_read_of_a_locked_item_waits_for_the_outcome() -> None:
    store = dynamodb()
    x, _, y, _ = two_partitions(store)
    store.execute(Put("items", {"pk": x, "n": 0}))
    txn, txid = _start_held(store, TransactWrite((Put("items", {"pk": x, "n": 1}),
                                                  Put("items", {"pk": y, "n": 1}))))
    read = store.submit("reader", Get("items", {"pk": x}, consistent=True))
    pump(store, _votes_of(txid))
    assert not read.done
    pump(store)
    assert txn.status == "ok" and read.status == "ok"
    assert read.response is not None and read.response.item == {"pk": x, "n": 1}


def test_transaction_conflicting_with_one_in_flight_is_cancelled_for_that_item() -> None:
    store = dynamodb()
    x, x2, y, y2 = two_partitions(store)
    first, txid = _start_held(store, TransactWrite((Put("items", {"pk": x, "n": 1}),
                                                    Put("items", {"pk": y, "n": 1}))))
    second = store.submit("other", TransactWrite((Put("items", {"pk": x2, "n": 2}),
                                                  Put("items", {"pk": y2, "n": 2}),
                                                  Update("items", {"pk": x}, "SET n = :v",
                                                         values={":v": 2}))))
    pump(store, _votes_of(txid))
    assert second.status == "error" and isinstance(second.error, TransactionCanceled)
    assert [r.code for r in second.error.reasons] == ["None", "None", "TransactionConflict"]
    pump(store)
    assert first.status == "ok"
    assert store.settle()
    assert [item(store, k) for k in (x, x2, y, y2)] == [
        {"pk": x, "n": 1}, None, {"pk": y, "n": 1}, None]


def _counter_txn(x: str, y: str, token: str) -> TransactWrite:
    return TransactWrite((Update("items", {"pk": x}, "ADD n :one", values={":one": 1}),
                          Update("items", {"pk": y}, "ADD n :one", values={":one": 1})),
                         token)


def test_client_request_token_applies_once_then_expires_after_ten_minutes() -> None:
    store = dynamodb()
    x, _, y, _ = two_partitions(store)
    store.execute(_counter_txn(x, y, "tok"))
    store.execute(_counter_txn(x, y, "tok"))
    assert item(store, x) == {"pk": x, "n": 1}
    with pytest.raises(IdempotentParameterMismatch):
        store.execute(_counter_txn(x, y + "-other", "tok"))
    store.sim.advance(590.0)
    assert store.settle()
    store.execute(_counter_txn(x, y, "tok"))  # still within ten minutes: not applied
    assert item(store, x) == {"pk": x, "n": 1}
    store.sim.advance(15.0)  # the global clock passed the window (node clocks skewed)
    for node in store.replicas():
        store.skew_clock(node, -3600.0)
    assert store.settle()
    store.execute(_counter_txn(x, y, "tok"))
    assert item(store, x) == {"pk": x, "n": 2} and item(store, y) == {"pk": y, "n": 2}
    assert len([r for r in store.stream_records("items") if r.key == (x,)]) == 2


def test_a_retry_while_the_first_is_in_flight_gets_the_same_outcome() -> None:
    store = dynamodb()
    x, _, y, _ = two_partitions(store)
    first = store.submit("c1", _counter_txn(x, y, "tok"))
    retry = store.submit("c2", _counter_txn(x, y, "tok"))
    pump(store)
    assert first.status == retry.status == "ok"
    assert item(store, x) == {"pk": x, "n": 1}


def _coordinator_node(store: LeaderStore, txid: str) -> str:
    for name, node in store.cluster.nodes.items():
        for replica in node.replicas.values():
            if txid in replica.coordinator.writes:
                return name
    raise AssertionError("no coordinator")


def test_decision_survives_a_coordinator_crash() -> None:
    store = dynamodb()
    x, _, y, _ = two_partitions(store)
    handle = store.submit("c", TransactWrite((Put("items", {"pk": x, "n": 1}),
                                              Put("items", {"pk": y, "n": 1}))))
    pump(store, lambda m: m.kind == "decision")
    decided = [m for m in store.sim.in_flight.values() if m.kind == "decision"]
    assert decided and all(m.body.outcome == "commit" for m in decided)
    coordinator = decided[0].src
    for message in decided:
        store.decide(Drop(message.id))
    store.crash(coordinator)
    store.run_until_done(handle)
    assert store.settle()
    assert handle.status == "indeterminate"
    assert item(store, x) == {"pk": x, "n": 1} and item(store, y) == {"pk": y, "n": 1}
    assert no_locks_anywhere(store)


def test_a_transaction_whose_coordinator_dies_before_deciding_aborts() -> None:
    store = dynamodb()
    x, _, y, _ = two_partitions(store)
    handle, txid = _start_held(store, TransactWrite((Put("items", {"pk": x, "n": 1}),
                                                     Put("items", {"pk": y, "n": 1}))))
    coordinator = _coordinator_node(store, txid)
    for message in [m for m in store.sim.in_flight.values() if m.kind == "txn-vote"]:
        store.decide(Drop(message.id))
    store.crash(coordinator)
    store.run_until_done(handle)
    assert store.settle()
    assert handle.status == "indeterminate"
    assert item(store, x) is None and item(store, y) is None
    assert no_locks_anywhere(store)
    store.restart(coordinator)
    assert store.settle()
    store.execute(Put("items", {"pk": x, "n": 5}))
    assert item(store, x) == {"pk": x, "n": 5}


def test_transact_get_is_an_atomic_snapshot_across_a_commit() -> None:
    store = dynamodb()
    x, _, y, _ = two_partitions(store)
    store.execute(TransactWrite((Put("items", {"pk": x, "n": 0}), Put("items", {"pk": y, "n": 0}))))
    py = store.partition_of("items", {"pk": y})
    reads = store.submit("reader", TransactGet((Get("items", {"pk": x}), Get("items", {"pk": y}))))

    def hold_y_reads(m: Message) -> bool:
        return m.kind == "read" and m.body.partition == py

    pump(store, hold_y_reads)  # x read at 0, y's read held back
    writer = store.submit("writer", TransactWrite((Put("items", {"pk": x, "n": 1}),
                                                   Put("items", {"pk": y, "n": 1}))))
    pump(store, hold_y_reads)
    assert writer.status == "ok" and not reads.done
    pump(store)
    assert reads.status == "ok" and reads.response is not None
    assert reads.response.items == ({"pk": x, "n": Decimal(1)}, {"pk": y, "n": Decimal(1)})
    assert [r["version"] for r in reads.meta["reads"]] == [
        w["version"] for w in writer.meta["writes"]]
