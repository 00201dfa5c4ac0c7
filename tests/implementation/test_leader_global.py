"""Global tables: regions converge after healing, last writer (by stamp) wins, a
concurrent cross-region update is lost, a strong read in one region can miss a write
acknowledged in another, clients belong to regions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.implementation.reference.leader import GlobalTablesStore, global_tables
from replicheck.implementation.reference.sim import Deliver
from replicheck.implementation.store import Delete, Get, Handle, Put, TransactWrite, Update
from replicheck.models.items.requests import Request


def run(store: GlobalTablesStore, client: str, request: Request) -> Handle:
    handle = store.submit(client, request)
    store.run_until_done(handle)
    return handle


def strong(store: GlobalTablesStore, client: str, key: str) -> Any:
    handle = run(store, client, Get("items", {"pk": key}, consistent=True))
    assert handle.status == "ok" and handle.response is not None
    return handle.response.item


def converged(store: GlobalTablesStore) -> dict[Any, Any]:
    views = [dict(store.replica_versions(node, "items")) for node in store.replicas()]
    assert all(view == views[0] for view in views), views
    return views[0]


def test_clients_belong_to_regions() -> None:
    store = global_tables(regions=3)
    assert store.region_of("client-0") == "r1"
    assert store.region_of("client-4") == "r2"
    assert store.region_of("r3:alice") == "r3"
    assert store.region_of("bob") == "r1"
    store.assign("bob", "r2")
    assert store.region_of("bob") == "r2"
    assert store.coordinator("bob", Get("items", {"pk": "a"})) == "r2-router"


def test_regions_converge_after_a_partition_heals() -> None:
    store = global_tables()
    r1, r2 = store.region_nodes("r1"), store.region_nodes("r2")
    store.partition([r1, r2])
    for i in range(3):
        assert run(store, "r1:a", Put("items", {"pk": f"one{i}", "n": i})).status == "ok"
        assert run(store, "r2:b", Put("items", {"pk": f"two{i}", "n": i})).status == "ok"
    assert run(store, "r1:a", TransactWrite((Put("items", {"pk": "t1"}),
                                             Put("items", {"pk": "t2"})))).status == "ok"
    assert strong(store, "r2:b", "one0") is None  # not replicated across the partition
    store.heal()
    assert store.settle()
    held = converged(store)
    assert {k[0] for k, (item, _) in held.items() if item is not None} == {
        "one0", "one1", "one2", "two0", "two1", "two2", "t1", "t2"}
    assert strong(store, "r2:b", "one2") == {"pk": "one2", "n": 2}


def test_a_strong_read_in_another_region_can_miss_an_acknowledged_write() -> None:
    store = global_tables()
    assert run(store, "r1:a", Put("items", {"pk": "x", "n": 1})).status == "ok"
    read = store.submit("r2:b", Get("items", {"pk": "x"}, consistent=True))
    while not read.done:  # deliver everything but the cross-region shipment
        message = next(m for m in store.sim.in_flight.values() if m.kind != "geo-ship")
        store.decide(Deliver(message.id))
    assert read.status == "ok" and read.response is not None and read.response.item is None
    assert store.settle()
    assert strong(store, "r2:b", "x") == {"pk": "x", "n": 1}


def test_concurrent_updates_in_two_regions_lose_one() -> None:
    store = global_tables()
    run(store, "r1:a", Put("items", {"pk": "counter", "n": 0}))
    assert store.settle()
    increment = Update("items", {"pk": "counter"}, "ADD n :one", values={":one": 1})
    first = store.submit("r1:a", increment)
    second = store.submit("r2:b", increment)
    store.run_until_done(first)
    store.run_until_done(second)
    assert first.status == second.status == "ok"
    assert store.settle()
    held = converged(store)
    item, version = held[("counter",)]
    assert item == {"pk": "counter", "n": Decimal(1)}  # two increments acknowledged, one kept
    assert version in (first.meta["version"], second.meta["version"])


def test_the_greatest_stamp_wins_even_against_real_time() -> None:
    store = global_tables()
    for node in store.region_nodes("r2"):
        store.skew_clock(node, 100.0)  # region r2's clocks run ahead
    store.partition([store.region_nodes("r1"), store.region_nodes("r2")])
    early = run(store, "r2:b", Put("items", {"pk": "x", "v": "from r2, earlier"}))
    store.sim.advance(5.0)
    late = run(store, "r1:a", Put("items", {"pk": "x", "v": "from r1, later"}))
    assert early.meta["version"] > late.meta["version"]
    store.heal()
    assert store.settle()
    held = converged(store)
    assert held[("x",)] == ({"pk": "x", "v": "from r2, earlier"}, early.meta["version"])


def test_a_local_write_supersedes_what_its_region_holds_despite_a_slow_clock() -> None:
    store = global_tables()
    for node in store.region_nodes("r2"):
        store.skew_clock(node, -100.0)
    run(store, "r1:a", Put("items", {"pk": "x", "v": 1}))
    assert store.settle()
    own = run(store, "r2:b", Put("items", {"pk": "x", "v": 2}))
    assert strong(store, "r2:b", "x") == {"pk": "x", "v": 2}  # read your writes in r2
    assert store.settle()
    assert converged(store)[("x",)] == ({"pk": "x", "v": 2}, own.meta["version"])


def test_stream_of_each_region_shows_its_writes_and_the_winning_replicated_ones() -> None:
    store = global_tables()
    run(store, "r1:a", Put("items", {"pk": "x", "v": 1}))
    run(store, "r2:b", Put("items", {"pk": "y", "v": 2}))
    assert store.settle()
    for region in store.region_names():
        records = store.region_stream_records(region, "items")
        assert sorted(r.key for r in records) == [("x",), ("y",)]
    assert store.stream_records("items") == store.region_stream_records("r1", "items")


@given(st.data())
def test_random_schedules_converge_and_keep_acknowledged_writes(data: st.DataObject) -> None:
    store = global_tables(seed=data.draw(st.integers(0, 3)))
    clients = ("r1:a", "r2:b")
    handles: list[Handle] = []
    for n in range(data.draw(st.integers(1, 60))):
        action = data.draw(st.sampled_from(["write"] * 2 + ["fair"] * 5 + ["any", "fault"]))
        if action == "write":
            key = data.draw(st.sampled_from(["x", "y"]))
            request: Any = data.draw(st.sampled_from([
                Put("items", {"pk": key, "v": n}), Delete("items", {"pk": key}),
                Update("items", {"pk": key}, "ADD n :one", values={":one": 1})]))
            handles.append(store.submit(data.draw(st.sampled_from(clients)), request))
        elif action == "fair":
            for _ in range(data.draw(st.integers(1, 15))):
                decision = store.sim.default_decision()
                if decision is not None:
                    store.decide(decision)
        elif action == "any":
            options = store.decisions()
            if options:
                store.decide(options[data.draw(st.integers(0, len(options) - 1))])
        else:
            node = data.draw(st.sampled_from(store.replicas()))
            fault = data.draw(st.sampled_from(["regions", "crash", "restart", "skew", "heal"]))
            if fault == "regions":
                store.partition([store.region_nodes("r1"), store.region_nodes("r2")])
            elif fault == "crash":
                store.crash(node)
            elif fault == "restart":
                store.restart(node)
            elif fault == "skew":
                store.skew_clock(node, data.draw(st.floats(-50, 50)))
            else:
                store.heal()
    store.heal()
    for node in store.replicas():
        store.restart(node)
    for handle in handles:
        store.run_until_done(handle)
    assert store.settle(seconds=120)
    held = converged(store)
    for handle in handles:
        if handle.status == "ok":
            done: Any = handle.request
            key = (done.item if isinstance(done, Put) else done.key)["pk"]
            assert held[(key,)][1] >= handle.meta["version"]


def test_a_client_reaches_only_its_own_regions_nodes() -> None:
    """A client that sends a request straight to a node of another region has left
    its region, where read-your-writes is not promised: the store refuses it (a
    ValidationError, nothing sent), and serves it at a node of the client's region."""
    store = global_tables()
    assert store.region_of("c0") == "r1"
    store.partition([["r1-n1", "r1-n2", "r1-n3", "r1-router"],
                     ["r2-n1", "r2-n2", "r2-n3", "r2-router"]])
    run(store, "c0", Put("items", {"pk": "k1", "v": "v1"}))
    before = store.messages_in_flight()
    refused = store.submit_at("c0", Get("items", {"pk": "k1"}, consistent=True), "r2-n1")
    assert refused.status == "error"
    assert "outside client 'c0'" in str(refused.error)
    assert store.messages_in_flight() == before
    local = store.submit_at("c0", Get("items", {"pk": "k1"}, consistent=True), "r1-n1")
    store.run_until_done(local)
    assert local.status == "ok"
    assert local.response is not None and local.response.item == {"pk": "k1", "v": "v1"}
