"""The leaderless store's mechanisms, one scenario each: sloppy quorum and hinted
handoff, read repair, Merkle anti-entropy, siblings and lost updates, causal contexts,
clock skew, durability, non-atomic conditions, validation, and the descriptor."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from replicheck.implementation.memory import DEFAULT_TABLE
from replicheck.implementation.reference.leaderless import (
    DYNAMO_QUORUM,
    LeaderlessConfig,
    LeaderlessStore,
    dynamo_lww,
    dynamo_quorum,
)
from replicheck.implementation.reference.sim import Deliver, Drop, Message
from replicheck.implementation.store import (
    Capability,
    ConditionalCheckFailed,
    ConditionCheck,
    Delete,
    Get,
    Handle,
    Indeterminate,
    Put,
    TransactGet,
    TransactWrite,
    Update,
    ValidationError,
    check_store,
)
from replicheck.models.clocks import VectorClock
from replicheck.models.dvv import Dot, covers
from replicheck.models.items.operations import apply, empty
from replicheck.models.items.requests import Request

T = "items"


def key_where(store: LeaderlessStore, ok: Callable[[tuple[str, ...]], bool],
              start: int = 0) -> str:
    """The first key ``k<i>`` (i >= start) whose replicas satisfy ``ok``."""
    for i in range(start, 10_000):
        if ok(store.preference_list(T, {"pk": f"k{i}"})):
            return f"k{i}"
    raise AssertionError("no such key")


def drive(store: LeaderlessStore, drop: Callable[[Message], bool] = lambda m: False) -> None:
    """Deliver (or drop, when ``drop`` says so) every message, oldest first, until none
    is in flight; never fire a timer."""
    while store.sim.in_flight:
        message = next(iter(store.sim.in_flight.values()))
        if drop(message) or not store.sim.reachable(message.src, message.dst):
            store.decide(Drop(message.id))
        else:
            store.decide(Deliver(message.id))


def item(store: LeaderlessStore, node: str, key: str) -> dict[str, Any] | None:
    return store.replica_items(node, T).get((key,))


def held(store: LeaderlessStore, node: str, key: str) -> dict[str, Any]:
    found = item(store, node, key)
    assert found is not None, f"{node} holds no {key}"
    return found


# -- the descriptor -------------------------------------------------------------------------


def test_both_presets_keep_the_contract_and_claim_only_what_holds() -> None:
    lww, quorum = dynamo_lww(), dynamo_quorum()
    for store in (lww, quorum):
        assert check_store(store) == []
        d = store.descriptor
        assert not d.has(Capability.STRONG_READS)
        assert not d.has(Capability.TRANSACTIONS)
        for guarantee in ("linearizable-strong-reads", "linearizable-conditional-writes",
                          "read-your-writes", "monotonic-reads", "serializable-transactions"):
            assert not d.claims_guarantee(guarantee)
        for guarantee in ("convergence", "merkle-root-iff-equal", "anti-entropy-exact",
                          "hinted-handoff-delivers"):
            assert d.claims_guarantee(guarantee)
        assert {"stale-read", "not-linearizable", "lost-update"} <= d.weaknesses
        assert d.tables == (DEFAULT_TABLE,)
    assert lww.descriptor.name == "dynamo-lww" and quorum.descriptor.name == "dynamo-quorum"
    assert not lww.descriptor.has(Capability.VERSIONS)
    assert quorum.descriptor.has(Capability.VERSIONS)
    assert not lww.descriptor.claims_guarantee("vector-clock-order")
    assert quorum.descriptor.claims_guarantee("vector-clock-order")
    assert not lww.descriptor.claims_guarantee("read-repair-repairs")
    assert quorum.descriptor.claims_guarantee("read-repair-repairs")
    assert (lww.config.n, lww.config.r, lww.config.w) == (3, 1, 1)
    assert (quorum.config.n, quorum.config.r, quorum.config.w) == (3, 2, 2)
    assert len(lww.replicas()) == len(quorum.replicas()) == 5


def test_a_strict_quorum_does_not_claim_hinted_handoff() -> None:
    store = LeaderlessStore(LeaderlessConfig(r=2, w=2, sloppy_quorum=False))
    assert not store.descriptor.claims_guarantee("hinted-handoff-delivers")


# -- sloppy quorum and hinted handoff -------------------------------------------------------


def test_sloppy_quorum_writes_to_fallbacks_and_hands_off_after_recovery() -> None:
    store = dynamo_quorum()
    key = key_where(store, lambda owners: True)
    coordinator, second, third = store.preference_list(T, {"pk": key})
    first_fallback, second_fallback = store.ring.fallbacks((key,))
    store.crash(second)
    store.crash(third)
    # W=2 with two replicas down: only the fallbacks make the write succeed
    write = store.submit("c", Put(T, {"pk": key, "v": 1}))
    store.run_until_done(write)
    assert write.status == "ok"
    assert store.hinted(first_fallback, T) == {
        (second, (key,)): {"siblings": [{"value": {"pk": {"S": key}, "v": {"N": "1"}},
                                         "dot": [coordinator, 1], "clock": {}}],
                           "clock": {coordinator: 1}}}
    assert write.meta["dot"] == [coordinator, 1] and write.meta["clock"] == {}
    assert set(store.hinted(second_fallback, T)) == {(third, (key,))}
    assert item(store, first_fallback, key) is None  # kept apart from its own data
    # a sloppy read (R=2) finds the write on the fallbacks
    assert store.execute(Get(T, {"pk": key})).item == {"pk": key, "v": 1}
    store.settle(2.0)  # the owners are still down: the hints stay
    assert store.pending_hints() == 2
    store.restart(second)
    store.restart(third)
    store.settle()
    assert item(store, second, key) == item(store, third, key) == {"pk": key, "v": 1}
    assert store.hinted(first_fallback, T) == store.hinted(second_fallback, T) == {}
    assert store.pending_hints() == 0
    stats = store.node_endpoints[first_fallback].stats
    assert stats["hinted_writes"] == 1 and stats["hints_dropped"] == 1


def test_a_strict_quorum_answers_indeterminate_though_the_write_was_stored() -> None:
    store = LeaderlessStore(LeaderlessConfig(r=2, w=2, resolution="dvv",
                                             sloppy_quorum=False))
    key = key_where(store, lambda owners: True)
    coordinator, second, third = store.preference_list(T, {"pk": key})
    store.crash(second)
    store.crash(third)
    with pytest.raises(Indeterminate):
        store.execute(Put(T, {"pk": key, "v": 1}))
    assert item(store, coordinator, key) == {"pk": key, "v": 1}
    assert store.pending_hints() == 0
    with pytest.raises(Indeterminate):
        store.execute(Get(T, {"pk": key}))


def test_hints_survive_a_crash_of_the_fallback() -> None:
    store = dynamo_quorum()
    key = key_where(store, lambda owners: True)
    _, second, _third = store.preference_list(T, {"pk": key})
    fallback = store.ring.fallbacks((key,))[0]
    store.crash(second)
    store.execute(Put(T, {"pk": key, "v": 7}))
    store.settle(0.3)  # the sloppy timer fires: a hinted copy goes to the fallback
    assert set(store.hinted(fallback, T)) == {(second, (key,))}
    store.crash(fallback)
    assert set(store.hinted(fallback, T)) == {(second, (key,))}  # durable
    store.restart(fallback)
    store.restart(second)
    store.settle()
    assert item(store, second, key) == {"pk": key, "v": 7}
    assert store.pending_hints() == 0


# -- read repair ----------------------------------------------------------------------------


def _stale_third_replica(store: LeaderlessStore) -> tuple[str, str]:
    key = key_where(store, lambda owners: True)
    stale = store.preference_list(T, {"pk": key})[2]
    store.submit("c1", Put(T, {"pk": key, "v": 1}))
    drive(store, drop=lambda m: m.kind == "write" and m.dst == stale)
    assert item(store, stale, key) is None
    return key, stale


def test_read_repair_fixes_a_stale_replica() -> None:
    store = dynamo_quorum()
    key, stale = _stale_third_replica(store)
    handle = store.submit("c2", Get(T, {"pk": key}))
    drive(store)
    assert handle.status == "ok" and handle.response is not None
    assert handle.response.item == {"pk": key, "v": 1}
    assert item(store, stale, key) == {"pk": key, "v": 1}
    assert sum(store.node_endpoints[n].stats["read_repairs"] for n in store.nodes) == 1
    assert store.sim.stats["fired"] == 0  # no timer: not hinted handoff's doing


def test_without_read_repair_the_stale_replica_stays_stale_until_anti_entropy() -> None:
    store = dynamo_lww()
    key, stale = _stale_third_replica(store)
    coordinator = store.preference_list(T, {"pk": key})[0]
    handle = store.submit("c2", Get(T, {"pk": key}))
    drive(store)
    assert handle.status == "ok"
    assert item(store, stale, key) is None
    store.anti_entropy(coordinator, stale, T)
    assert item(store, stale, key) == {"pk": key, "v": 1}


def test_a_read_of_one_stale_replica_is_a_stale_read() -> None:
    store = dynamo_lww()
    key = key_where(store, lambda owners: True)
    coordinator, _second, _ = store.preference_list(T, {"pk": key})
    store.partition([{coordinator}, set(store.nodes) - {coordinator}])
    store.execute(Put(T, {"pk": key, "v": 1}))  # W=1: acknowledged by the coordinator
    store.crash(coordinator)
    assert store.execute(Get(T, {"pk": key})).item is None  # R=1 at the next replica


# -- Merkle anti-entropy --------------------------------------------------------------------


def test_merkle_sync_after_a_partition_repairs_exactly_the_divergent_keys() -> None:
    store = dynamo_quorum()
    store.bulk_load(T, ({"pk": f"k{i}", "v": i} for i in range(1000)))
    a, b = "n1", "n2"
    shared = set(store.ring.shared_ranges(a, b))
    divergent: list[str] = []
    for i in range(1000):
        key = f"k{i}"
        owners = store.preference_list(T, {"pk": key})
        if store.ring.partition_of((key,)).name in shared and owners[0] != b:
            divergent.append(key)
        if len(divergent) == 5:
            break
    store.partition([{b}, set(store.nodes) - {b}])
    for key in divergent:
        store.execute(Put(T, {"pk": key, "v": -1}))
    for message in list(store.sim.in_flight.values()):  # the partition lost them
        if message.dst == b:
            store.decide(Drop(message.id))
    store.heal()
    roots_before = (store.merkle_roots(a, T), store.merkle_roots(b, T))
    differing = {r for r in shared if roots_before[0][r] != roots_before[1][r]}
    assert differing and differing <= {store.ring.partition_of((k,)).name for k in divergent}
    before_a, before_b = store.replica_states(a, T), store.replica_states(b, T)

    stats = store.anti_entropy(a, b, T)

    assert stats.keys_repaired == 5
    assert store.last_sync is not None
    assert sorted(store.last_sync.repaired_keys) == sorted((k,) for k in divergent)
    after_a, after_b = store.replica_states(a, T), store.replica_states(b, T)
    changed_b = {k for k in after_b if after_b[k] != before_b.get(k)}
    assert changed_b == {(k,) for k in divergent}
    assert after_a == before_a  # a had the newer versions already
    assert all(after_b[(k,)] == after_a[(k,)] for k in divergent)
    # far fewer hashes than keys: the roots plus one path per divergent key
    fanout, depth = store.config.merkle_fanout, store.config.merkle_depth
    assert stats.hashes_compared <= len(shared) + 5 * fanout * depth < 1000 // 5
    assert 0 < stats.bytes_exchanged < 10_000
    roots_a, roots_b = store.merkle_roots(a, T), store.merkle_roots(b, T)
    assert all(roots_a[r] == roots_b[r] for r in shared)
    again = store.anti_entropy(a, b, T)
    assert again.keys_repaired == 0 and again.hashes_compared == len(shared)


def test_anti_entropy_merges_both_ways() -> None:
    store = dynamo_quorum()
    a, b = "n1", "n3"
    shared = set(store.ring.shared_ranges(a, b))
    keys = [f"k{i}" for i in range(400) if store.ring.partition_of((f"k{i}",)).name in shared]
    store.bulk_load(T, ({"pk": k, "side": "a"} for k in keys[:3]), nodes=[a])
    store.bulk_load(T, ({"pk": k, "side": "b"} for k in keys[2:5]), nodes=[b])
    stats = store.anti_entropy(a, b, T)
    assert stats.keys_repaired == 5
    states_a, states_b = store.replica_states(a, T), store.replica_states(b, T)
    assert all(states_a[(k,)] == states_b[(k,)] for k in keys[:5])
    assert store.merkle_roots(a, T)[store.ring.partition_of((keys[0],)).name] == \
        store.merkle_roots(b, T)[store.ring.partition_of((keys[0],)).name]
    # the key both wrote blindly keeps both writes, as siblings
    siblings = store.replica_versions(a, T)[(keys[2],)]["siblings"]
    assert sorted(s["value"]["side"]["S"] for s in siblings) == ["a", "b"]


def test_anti_entropy_across_a_partition_is_indeterminate() -> None:
    store = dynamo_lww()
    store.execute(Put(T, {"pk": "x", "v": 1}))
    store.partition([{"n1"}, {"n2", "n3", "n4", "n5"}])
    with pytest.raises(Indeterminate, match="did not finish"):
        store.anti_entropy("n1", "n2", T)
    assert store.last_sync is not None and not store.last_sync.ok
    store.crash("n3")
    with pytest.raises(Indeterminate, match="crashed"):
        store.anti_entropy("n3", "n1", T)


# -- concurrency: siblings, lost updates, contexts ------------------------------------------


def _concurrent(store: LeaderlessStore, *requests: Request) -> list[str]:
    handles = [store.submit(f"c{i}", r) for i, r in enumerate(requests)]
    store.sim.quiesce()
    return [h.status for h in handles]


def test_concurrent_blind_writes_become_siblings_under_dvv() -> None:
    store = dynamo_quorum()
    statuses = _concurrent(store, Put(T, {"pk": "x", "v": 1}), Put(T, {"pk": "x", "v": 2}))
    assert statuses == ["ok", "ok"]
    siblings, context = store.get_versions(Get(T, {"pk": "x"}))
    assert sorted(s["v"] for s in siblings if s is not None) == [1, 2]
    assert isinstance(context, VectorClock)
    # execute(Get) answers ONE of them, deterministically, and lists all in the meta
    handle = store.submit("r", Get(T, {"pk": "x"}))
    store.run_until_done(handle)
    assert handle.response is not None and handle.response.item in siblings
    assert len(handle.meta["siblings"]) == 2


def test_concurrent_writes_lose_one_under_lww() -> None:
    store = dynamo_lww()
    statuses = _concurrent(store, Put(T, {"pk": "x", "v": 1}), Put(T, {"pk": "x", "v": 2}))
    assert statuses == ["ok", "ok"]
    store.settle()
    held = {json.dumps(store.replica_versions(n, T).get(("x",))) for n in
            store.preference_list(T, {"pk": "x"})}
    assert len(held) == 1  # one value everywhere: the other acknowledged write is gone


def test_lost_update_under_lww_while_dvv_keeps_both_as_siblings() -> None:
    increment = Update(T, {"pk": "c"}, "SET n = if_not_exists(n, :zero) + :one",
                       values={":zero": 0, ":one": 1})
    # LWW: two acknowledged increments, coordinated by two replicas that cannot talk
    lww = dynamo_lww()
    first, _second, _ = lww.preference_list(T, {"pk": "c"})
    lww.partition([{first}, set(lww.nodes) - {first}])
    lww.execute(increment)
    lww.crash(first)
    lww.execute(increment)
    lww.restart(first)
    lww.heal()
    lww.settle()
    lww.anti_entropy_round(T)
    assert {held(lww, n, "c")["n"] for n in lww.preference_list(T, {"pk": "c"})} == {1}
    # DVV: two increments racing through the same coordinator both survive
    dvv = dynamo_quorum()
    assert _concurrent(dvv, increment, increment) == ["ok", "ok"]
    siblings, _ = dvv.get_versions(Get(T, {"pk": "c"}))
    assert [s["n"] for s in siblings if s is not None] == [1, 1]


def test_a_write_with_the_reads_context_resolves_siblings() -> None:
    store = dynamo_quorum()
    _concurrent(store, Put(T, {"pk": "x", "v": 1}), Put(T, {"pk": "x", "v": 2}))
    siblings, context = store.get_versions(Get(T, {"pk": "x"}))
    assert len(siblings) == 2
    store.put_with_context(Put(T, {"pk": "x", "v": 3}), context)
    siblings, _ = store.get_versions(Get(T, {"pk": "x"}))
    assert siblings == ({"pk": "x", "v": 3},)
    store.settle()
    for node in store.preference_list(T, {"pk": "x"}):
        assert len(store.replica_versions(node, T)[("x",)]["siblings"]) == 1


def test_a_blind_put_is_a_sibling_and_read_modify_write_is_not() -> None:
    store = dynamo_quorum()
    first = store.submit("c", Put(T, {"pk": "x", "v": 1}))
    store.run_until_done(first)
    second = store.submit("c", Put(T, {"pk": "x", "v": 2}))  # no context: concurrent
    store.run_until_done(second)
    assert len(store.get_versions(Get(T, {"pk": "x"}))[0]) == 2
    # the metadata says so: the second write's context does not cover the first's dot
    assert not covers(VectorClock(second.meta["clock"]), Dot(*first.meta["dot"]))
    add = Update(T, {"pk": "x"}, "SET v = v + :one", values={":one": 1})
    update = store.submit("c", add)
    store.run_until_done(update)
    for write in (first, second):  # a read-modify-write supersedes what it read
        assert covers(VectorClock(update.meta["clock"]), Dot(*write.meta["dot"]))
    for _ in range(2):
        store.execute(add)
    siblings, _ = store.get_versions(Get(T, {"pk": "x"}))
    assert siblings == ({"pk": "x", "v": 5},)  # the update read v=2 (the chosen sibling)
    store.execute(Delete(T, {"pk": "x"}))
    assert store.get_versions(Get(T, {"pk": "x"}))[0] == (None,)
    assert store.execute(Get(T, {"pk": "x"})).item is None


def test_versions_are_not_exposed_by_the_lww_preset() -> None:
    store = dynamo_lww()
    with pytest.raises(ValidationError, match="last writer wins"):
        store.get_versions(Get(T, {"pk": "x"}))
    with pytest.raises(ValidationError, match="last writer wins"):
        store.put_with_context(Put(T, {"pk": "x"}), {})


def test_conditional_writes_are_not_atomic() -> None:
    store = dynamo_quorum()
    a = Put(T, {"pk": "x", "owner": "a"}, condition="attribute_not_exists(pk)")
    b = Put(T, {"pk": "x", "owner": "b"}, condition="attribute_not_exists(pk)")
    assert _concurrent(store, a, b) == ["ok", "ok"]  # both "created" the item
    assert len(store.get_versions(Get(T, {"pk": "x"}))[0]) == 2
    with pytest.raises(ConditionalCheckFailed) as failed:
        store.execute(Put(T, {"pk": "x", "owner": "c"}, condition="attribute_not_exists(pk)",
                          return_old_on_condition_failure=True))
    assert failed.value.item is not None and failed.value.item["owner"] in ("a", "b")
    assert len(store.get_versions(Get(T, {"pk": "x"}))[0]) == 2  # the failure wrote nothing


# -- clocks, durability ---------------------------------------------------------------------


def _skewed_pair(skew: float) -> tuple[LeaderlessStore, str, dict[str, Any], dict[str, Any]]:
    store = dynamo_lww()
    first, _second, _ = store.preference_list(T, {"pk": "x"})
    store.skew_clock(first, skew)
    h1 = store.submit("c", Put(T, {"pk": "x", "v": "older"}))
    store.run_until_done(h1)
    store.settle()
    store.crash(first)
    h2 = store.submit("c", Put(T, {"pk": "x", "v": "newer"}))
    store.run_until_done(h2)
    assert h1.status == h2.status == "ok"
    store.restart(first)
    store.settle()
    store.anti_entropy_round(T)
    return store, first, h1.meta, h2.meta


def test_clock_skew_makes_last_writer_wins_drop_the_later_write() -> None:
    store, first, older, newer = _skewed_pair(60.0)
    assert older["version"][1] == first and older["version"][0] >= 60_000_000
    assert newer["version"] < older["version"]
    for node in store.preference_list(T, {"pk": "x"}):
        assert item(store, node, "x") == {"pk": "x", "v": "older"}
    assert store.execute(Get(T, {"pk": "x"})).item == {"pk": "x", "v": "older"}


def test_without_skew_the_later_write_wins() -> None:
    store, _, older, newer = _skewed_pair(0.0)
    assert newer["version"] > older["version"]
    for node in store.preference_list(T, {"pk": "x"}):
        assert item(store, node, "x") == {"pk": "x", "v": "newer"}


def test_timestamps_never_repeat_even_when_a_clock_goes_back() -> None:
    store = dynamo_lww()
    node = store.preference_list(T, {"pk": "x"})[0]
    store.skew_clock(node, 10.0)
    v1 = store.submit("c", Put(T, {"pk": "x", "v": 1}))
    store.run_until_done(v1)
    store.skew_clock(node, -10.0)
    store.crash(node)
    store.restart(node)
    v2 = store.submit("c", Put(T, {"pk": "x", "v": 2}))
    store.run_until_done(v2)
    assert v2.meta["version"] > v1.meta["version"]  # same node: its stamps only grow


def test_crash_keeps_what_was_logged_and_restart_rebuilds_it() -> None:
    store = dynamo_quorum()
    for i in range(20):
        store.execute(Put(T, {"pk": f"k{i}", "v": i}))
    store.settle()
    node = "n1"
    items_before = store.replica_items(node, T)
    roots_before = store.merkle_roots(node, T)
    assert items_before
    store.crash(node)
    assert store.node_endpoints[node].storage.states(T) == {}  # the in-memory copy is gone
    assert store.replica_items(node, T) == items_before  # the log still has everything
    store.restart(node)
    assert store.node_endpoints[node].storage.states(T) != {}
    assert store.replica_items(node, T) == items_before
    assert store.merkle_roots(node, T) == roots_before


def test_a_crashed_coordinator_leaves_its_client_indeterminate() -> None:
    store = dynamo_quorum()
    coordinator = store.preference_list(T, {"pk": "x"})[0]
    handle = store.submit("c", Put(T, {"pk": "x", "v": 1}))
    request = next(iter(store.sim.in_flight.values()))
    store.decide(Deliver(request.id))  # the coordinator stored it and sent the copies
    store.crash(coordinator)
    store.run_until_done(handle)
    assert handle.status == "indeterminate"
    assert item(store, coordinator, "x") == {"pk": "x", "v": 1}  # durably logged


# -- validation -----------------------------------------------------------------------------

BAD: list[Request] = [
    Get(T, {"pk": ""}),
    Get(T, {"other": "x"}),
    Get(T, {"pk": "x", "extra": 1}),
    Get("nope", {"pk": "x"}),
    Get(T, {"pk": "x"}, projection="a,,b"),
    Put(T, {"v": 1}),
    Put(T, {"pk": 1.5}),
    Put(T, {"pk": "x", "v": 1.5}),
    Put(T, {"pk": "x", "": 1}),
    Put(T, {"pk": "x"}, condition="attribute_exists("),
    Put(T, {"pk": "x"}, condition="v = :v"),
    Put(T, {"pk": "x"}, values={":unused": 1}),
    Put(T, {"pk": "x"}, return_values="ALL_NEW"),
    Update(T, {"pk": "x"}, "SET pk = :v", values={":v": "y"}),
    Update(T, {"pk": "x"}, "SET a = :v, a = :v", values={":v": 1}),
    Update(T, {"pk": "x"}, "SET"),
    Delete(T, {"pk": "x"}, return_values="ALL_NEW"),
    Delete(T, {"pk": b""}),
]


@pytest.mark.parametrize("request_", BAD, ids=lambda r: repr(r)[:60])
def test_bad_input_is_refused_before_anything_travels(request_: Request) -> None:
    for store in (dynamo_lww(), dynamo_quorum()):
        store.execute(Put(T, {"pk": "x", "v": 1}))
        store.settle()
        before = {n: store.replica_states(n, T) for n in store.nodes}
        sent = store.sim.stats["sent"]
        with pytest.raises(ValidationError):
            store.execute(request_)
        assert store.sim.stats["sent"] == sent
        assert {n: store.replica_states(n, T) for n in store.nodes} == before
    # the item-store model refuses it too (the same validation, not a stricter one)
    if isinstance(request_, Get | Put | Update | Delete) and request_.table == T:
        with pytest.raises(ValidationError):
            apply(empty(DEFAULT_TABLE), request_)


def test_items_over_400_kb_are_refused_and_the_limit_is_dynamodbs() -> None:
    store = dynamo_lww()
    store.execute(Put(T, {"pk": "x", "v": "a" * (400 * 1024 - 10)}))
    with pytest.raises(ValidationError, match="maximum allowed size"):
        store.execute(Put(T, {"pk": "y", "v": "a" * (400 * 1024)}))
    # an update that would grow the item past the limit fails at the coordinator
    with pytest.raises(ValidationError, match="maximum allowed size"):
        store.execute(Update(T, {"pk": "x"}, "SET w = :w", values={":w": "b" * 100}))
    assert held(store, store.preference_list(T, {"pk": "x"})[0], "x")["v"].startswith("a")


def test_an_update_invalid_for_the_stored_item_is_a_definite_error() -> None:
    for store in (dynamo_lww(), dynamo_quorum()):
        store.execute(Put(T, {"pk": "x", "v": "text"}))
        store.settle()
        before = {n: store.replica_states(n, T) for n in store.nodes}
        with pytest.raises(ValidationError):
            store.execute(Update(T, {"pk": "x"}, "SET v = v + :one", values={":one": 1}))
        store.settle()
        assert {n: store.replica_states(n, T) for n in store.nodes} == before


def test_transactions_are_refused_by_both_presets() -> None:
    for store in (dynamo_lww(), dynamo_quorum()):
        for request_ in (TransactWrite((Put(T, {"pk": "x"}),
                                        ConditionCheck(T, {"pk": "y"}, "attribute_exists(pk)"))),
                         TransactGet((Get(T, {"pk": "x"}),))):
            with pytest.raises(ValidationError, match="transactions are not supported"):
                store.execute(request_)
        assert store.sim.stats["sent"] == 0


# -- answers and metadata -------------------------------------------------------------------


def test_answers_follow_the_item_model_and_metadata_is_json() -> None:
    for store in (dynamo_lww(), dynamo_quorum()):
        put = store.submit("c", Put(T, {"pk": "x", "v": 1, "s": {"a", "b"}}))
        store.run_until_done(put)
        old = store.execute(Put(T, {"pk": "x", "v": 2}, condition="v = :one",
                                values={":one": 1}, return_values="ALL_OLD")).item
        assert old == {"pk": "x", "v": 1, "s": frozenset({"a", "b"})}
        new = store.execute(Update(T, {"pk": "x"}, "ADD v :d", values={":d": 5},
                                   return_values="UPDATED_NEW")).item
        assert new == {"v": Decimal(7)}
        assert store.execute(Get(T, {"pk": "x"}, projection="v")).item == {"v": 7}
        assert store.execute(Get(T, {"pk": "x"}, consistent=True)).item == {"pk": "x", "v": 7}
        get = store.submit("c", Get(T, {"pk": "x"}))
        store.run_until_done(get)
        json.dumps(put.meta)
        json.dumps(get.meta)
        if store.config.resolution == "lww":
            assert put.meta["version"][1] == put.meta["coordinator"]
            assert get.meta["version"] > put.meta["version"]
        else:
            node, counter = put.meta["dot"]
            assert put.meta["clock"] == {}  # a blind put supersedes nothing
            assert [s["value"]["v"] for s in get.meta["siblings"]] == [{"N": "7"}]
            assert get.meta["clock"][node] > counter


def test_a_missing_item_reads_as_none_with_an_empty_version() -> None:
    lww, quorum = dynamo_lww(), dynamo_quorum()
    for store, empty_meta in ((lww, {"version": None}), (quorum, {"siblings": [], "clock": {}})):
        handle = store.submit("c", Get(T, {"pk": "nothing"}))
        store.run_until_done(handle)
        assert handle.response is not None and handle.response.item is None
        assert {k: v for k, v in handle.meta.items() if k != "coordinator"} == empty_meta


def test_the_quorum_preset_config_is_the_contracts() -> None:
    assert DYNAMO_QUORUM.resolution == "dvv" and DYNAMO_QUORUM.read_repair
    assert DYNAMO_QUORUM.sloppy_quorum and DYNAMO_QUORUM.nodes == 5


def test_a_node_that_is_not_a_replica_forwards_to_the_first_replica() -> None:
    store = dynamo_quorum()
    owners = store.preference_list(T, {"pk": "x"})
    outsider = next(n for n in store.nodes if n not in owners)
    handle = Handle("c", Put(T, {"pk": "x", "v": 1}))
    store.client("c").submit(handle, outsider)
    store.run_until_done(handle)
    assert handle.status == "ok"
    assert handle.meta["dot"][0] == owners[0]  # coordinated by the first replica
    assert store.node_endpoints[outsider].stats["coordinated"] == 0
    assert item(store, outsider, "x") is None
