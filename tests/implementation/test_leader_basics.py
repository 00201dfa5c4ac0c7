"""Leader mode: the contract, the presets' descriptors, validation, versions, and the
weakness it admits (eventually consistent reads can be stale)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from replicheck.implementation.reference.leader import (
    GlobalTablesStore,
    LeaderStore,
    dynamodb,
    global_tables,
)
from replicheck.implementation.reference.leader.validation import item_size
from replicheck.implementation.store import (
    Capability,
    ConditionalCheckFailed,
    Delete,
    Get,
    Put,
    TransactGet,
    TransactWrite,
    Update,
    ValidationError,
    check_store,
)
from replicheck.models.items.requests import ConditionCheck, TableSchema


def test_presets_keep_the_contract_and_declare_every_leader_capability() -> None:
    for store in (dynamodb(), global_tables()):
        assert check_store(store) == []
        for capability in ("transactions", "strong-reads", "replica-introspection", "stream",
                           "faults", "deterministic-scheduling"):
            assert store.descriptor.has(capability)
        assert not store.descriptor.has(Capability.VERSIONS)


def test_dynamodb_claims_and_weaknesses() -> None:
    d = dynamodb().descriptor
    for guarantee in ("linearizable-strong-reads", "linearizable-conditional-writes",
                      "serializable-transactions", "atomic-transactions",
                      "stream-exactly-once", "stream-item-order", "convergence",
                      "read-your-writes", "monotonic-reads"):
        assert d.claims_guarantee(guarantee), guarantee
    strong = next(c for c in d.claims if c.guarantee == "linearizable-strong-reads")
    assert "get-strong" in strong.operations and "get-eventual" not in strong.operations
    sessions = [c for c in d.claims if c.guarantee in ("read-your-writes", "monotonic-reads")]
    assert all(c.operations == {"get-strong"} for c in sessions)
    assert d.weaknesses == {"stale-read"}
    assert [t.name for t in d.tables] == ["items"]


def test_global_tables_claim_only_what_holds_across_regions() -> None:
    d = global_tables().descriptor
    assert d.claims_guarantee("convergence")
    for guarantee in ("linearizable-strong-reads", "linearizable-conditional-writes",
                      "serializable-transactions", "atomic-transactions",
                      "stream-exactly-once"):
        assert not d.claims_guarantee(guarantee), guarantee
    assert {"lost-update", "stale-read"} <= d.weaknesses


def test_dynamodb_preset_shape() -> None:
    store = dynamodb(seed=3)
    assert store.replicas() == ("n1", "n2", "n3", "n4", "n5")
    assert store.config.partitions == 3
    assert all(len(store.partition_replicas(p)) == 3 for p in range(3))
    assert [store.leader_of(p) for p in range(3)] == ["n1", "n2", "n3"]
    regions = global_tables(regions=3)
    assert regions.region_names() == ("r1", "r2", "r3")
    assert regions.region_nodes("r2") == ("r2-n1", "r2-n2", "r2-n3")


def test_writes_and_reads_answer_like_dynamodb_with_versions() -> None:
    store = dynamodb()
    first = store.submit("c", Put("items", {"pk": "a", "n": 1}))
    store.run_until_done(first)
    assert first.status == "ok" and first.meta["changed"] is True
    second = store.submit("c", Update("items", {"pk": "a"}, "SET n = n + :one",
                                      values={":one": 1}, return_values="UPDATED_NEW"))
    store.run_until_done(second)
    assert second.response is not None and second.response.item == {"n": Decimal(2)}
    assert second.meta["version"] > first.meta["version"]
    read = store.submit("c", Get("items", {"pk": "a"}, consistent=True))
    store.run_until_done(read)
    assert read.response is not None and read.response.item == {"pk": "a", "n": 2}
    assert read.meta["version"] == second.meta["version"]
    with pytest.raises(ConditionalCheckFailed) as failure:
        store.execute(Delete("items", {"pk": "a"}, condition="n = :x", values={":x": 5},
                             return_old_on_condition_failure=True))
    assert failure.value.item == {"pk": "a", "n": 2}


def test_a_write_that_changes_nothing_still_gets_a_new_version() -> None:
    store = dynamodb()
    one = store.submit("c", Put("items", {"pk": "a", "n": 1}))
    store.run_until_done(one)
    two = store.submit("c", Put("items", {"pk": "a", "n": 1}))
    store.run_until_done(two)
    assert two.meta["changed"] is False
    assert two.meta["version"] > one.meta["version"]


def test_eventually_consistent_reads_can_be_stale() -> None:
    store = dynamodb()
    store.execute(Put("items", {"pk": "a", "n": 1}))
    store.execute(Put("items", {"pk": "a", "n": 2}))
    # followers learn that the second write committed only with the next heartbeat:
    # eventually consistent reads go to each replica in turn, some of them stale
    seen = set()
    for _ in range(3):
        handle = store.submit("c", Get("items", {"pk": "a"}))
        store.run_until_done(handle)
        assert handle.response is not None and handle.response.item is not None
        seen.add(handle.response.item["n"])
    assert seen == {Decimal(1), Decimal(2)}
    assert store.execute(Get("items", {"pk": "a"}, consistent=True)).item == {"pk": "a", "n": 2}


def _untouched(store: LeaderStore | GlobalTablesStore) -> dict[str, object]:
    return {n: dict(store.replica_items(n, "items")) for n in store.replicas()}


BAD_REQUESTS = [
    Put("items", {"pk": "", "v": 1}),
    Put("items", {"v": 1}),
    Put("items", {"pk": "a", "v": 1.5}),
    Put("items", {"pk": "a", "v": object()}),
    Put("items", {"pk": "a", "v": "x" * (400 * 1024)}),
    Put("items", {"pk": "a" * 2049}),
    Put("items", {"pk": "a", "v": 1}, return_values="ALL_NEW"),
    Get("items", {"pk": "a", "extra": 1}),
    Get("nope", {"pk": "a"}),
    Update("items", {"pk": "a"}, "SET pk = :v", values={":v": "b"}),
    Update("items", {"pk": "a"}, "SET v = :v"),
    Update("items", {"pk": "a"}, "SET v = :v", values={":v": 1, ":unused": 2}),
    Delete("items", {"pk": "a"}, condition="v = = 1"),
    TransactWrite(()),
    TransactWrite(tuple(Put("items", {"pk": f"k{i}"}) for i in range(101))),
    TransactWrite((Put("items", {"pk": "a"}), Delete("items", {"pk": "a"}))),
    TransactWrite((Put("items", {"pk": "a"}),), token="t" * 37),
    TransactWrite((ConditionCheck("items", {"pk": "a"}, "size(v) > :n"),)),
    TransactGet((Get("items", {"pk": "a"}), Get("items", {"pk": "a"}))),
]


@pytest.mark.parametrize("request_", BAD_REQUESTS, ids=lambda r: type(r).__name__)
def test_validation_errors_complete_at_once_and_touch_no_replica(request_: object) -> None:
    store = dynamodb()
    store.execute(Put("items", {"pk": "a", "v": 1}))
    store.settle()
    before = _untouched(store)
    in_flight = dict(store.sim.in_flight)
    handle = store.submit("c", request_)  # type: ignore[arg-type]
    assert handle.status == "error" and isinstance(handle.error, ValidationError)
    assert store.sim.in_flight == in_flight
    store.settle()
    assert _untouched(store) == before


def test_item_size_counts_names_and_values() -> None:
    assert item_size({"pk": "ab"}) == 4
    assert item_size({"n": 12345}) == 1 + 4
    assert item_size({"l": [1, "x"]}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"s": frozenset({"ab", "c"})}) == 1 + 3


def test_tables_with_a_sort_key_and_no_stream() -> None:
    orders = TableSchema("orders", "user", "seq")
    store = LeaderStore(tables=(orders,), streams={"orders": None})
    store.execute(Put("orders", {"user": "u", "seq": 1, "total": 5}))
    store.execute(Put("orders", {"user": "u", "seq": 2, "total": 7}))
    got = store.execute(Get("orders", {"user": "u", "seq": 2}, consistent=True))
    assert got.item == {"user": "u", "seq": 2, "total": 7}
    with pytest.raises(ValidationError, match="no stream"):
        store.stream_records("orders")
    with pytest.raises(ValueError, match="unknown stream view"):
        LeaderStore(tables=(orders,), streams={"orders": "EVERYTHING"})
