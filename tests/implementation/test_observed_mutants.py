"""The mutants whose bugs only show in what replicas and streams hold (the classes
the observed-state rules judge): one fixed schedule per mutant, recorded as a client
history with the observation its guarantee is judged on; the guarantee the catalog
names is violated on the mutant and holds on the unmutated preset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from replicheck.implementation.mutants import MUTANTS, escapees, mutant
from replicheck.implementation.presets import preset
from replicheck.implementation.reference.sim import Deliver, Drop, Message
from replicheck.implementation.store import check_store
from replicheck.models.items.requests import ConditionCheck, Delete, Put, TransactWrite
from replicheck.properties.guarantees import Judgement, judge_guarantee
from replicheck.properties.mechanisms import hinted_states, hints_observation, sync_session
from replicheck.properties.recording import RecordingStore

T = "items"


def _drive(store: Any, drop: Callable[[Message], bool] = lambda m: False) -> None:
    """Deliver (or drop) every message, oldest first, until none is in flight; no timer."""
    while store.sim.in_flight:
        message = next(iter(store.sim.in_flight.values()))
        if drop(message) or not store.sim.reachable(message.src, message.dst):
            store.decide(Drop(message.id))
        else:
            store.decide(Deliver(message.id))


def _owners(store: Any, key: str) -> tuple[str, ...]:
    return tuple(store.preference_list(T, {"pk": key}))


def _stream(store: Any) -> dict[str, Any]:
    records = [{"table": r.table, "event": r.event, "key": list(r.key),
                "sequence": r.sequence, "old_image": r.old_image, "new_image": r.new_image}
               for r in store.stream_records(T)]
    return {"table": T, "records": records, "complete": True}


def _done(rec: RecordingStore, *handles: Any) -> None:
    for handle in handles:
        rec.store.run_until_done(handle)
    rec.collect()


def _judged(rec: RecordingStore, guarantee: str) -> Judgement:
    return judge_guarantee(guarantee, rec.history(), rec.store.descriptor, timeout=20)


# -- leaderless -----------------------------------------------------------------------------


def one_way_sync(store: Any) -> RecordingStore:
    """A key held by the peer only; one session from the other node."""
    rec = RecordingStore(store)
    a, b = next((a, b) for a in store.nodes for b in store.nodes
                if a != b and store.ring.shared_ranges(a, b))
    shared = set(store.ring.shared_ranges(a, b))
    key = next(f"k{i}" for i in range(1000)
               if store.ring.partition_of((f"k{i}",)).name in shared)
    store.bulk_load(T, [{"pk": key, "v": 1}], nodes=[b])
    rec.observe("anti-entropy", sync_session(store, T, a, b))
    return rec


def overwrite_missed_by_one(store: Any) -> RecordingStore:
    """A key written everywhere, then overwritten on all replicas but the last."""
    rec = RecordingStore(store)
    first, _, third = _owners(store, "k1")
    handle = rec.submit_at("c0", Put(T, {"pk": "k1", "v": 1}), first)
    _drive(store)
    handle = rec.submit_at("c1", Put(T, {"pk": "k1", "v": 2}), first)
    _drive(store, lambda m: m.kind == "write" and m.dst == third)
    assert handle.status == "ok"
    rec.collect()
    rec.observe("replicas", store.replicas_observation(T))
    return rec


def handed_off(store: Any) -> RecordingStore:
    """Two replicas of a key down while it is written, until both fallbacks hold a
    hint; the replicas back; the hints observation after settling."""
    rec = RecordingStore(store)
    _, second, third = _owners(store, "k1")
    store.crash(second)
    store.crash(third)
    handle = rec.submit("c0", Put(T, {"pk": "k1", "v": 1}))
    store.sim.run(lambda: len(hinted_states(store, T)) == 2)
    before = hinted_states(store, T)
    assert handle.status == "ok" and len(before) == 2, "both fallbacks should hold hints"
    rec.collect()
    store.restart(second)
    store.restart(third)
    store.settle()
    rec.observe("hints", hints_observation(store, T, before))
    return rec


def _final_snapshot(rec: RecordingStore) -> None:
    store = rec.store
    store.anti_entropy_round(T)
    rec.observe("replicas", store.replicas_observation(T, quiescent=True, anti_entropy=True))


def delete_missed_by_one(store: Any) -> RecordingStore:
    """A put everywhere, then a delete that misses the last replica (no handoff);
    anti-entropy; the final snapshot."""
    rec = RecordingStore(store)
    first, _, third = _owners(store, "k1")
    rec.submit_at("c0", Put(T, {"pk": "k1", "v": 1}), first)
    _drive(store)
    handle = rec.submit_at("c1", Delete(T, {"pk": "k1"}), first)
    _drive(store, lambda m: m.kind == "write" and m.dst == third)
    assert handle.status == "ok"
    rec.collect()
    _final_snapshot(rec)
    return rec


def writes_across_a_power_of_ten(store: Any) -> RecordingStore:
    """A put stamped near 0.9 s, then (after it) a put stamped near 1.5 s by another
    replica's clock; the final snapshot."""
    rec = RecordingStore(store)
    first, second, _ = _owners(store, "k1")
    store.skew_clock(first, 0.9)
    store.skew_clock(second, 1.5)
    rec.submit_at("c0", Put(T, {"pk": "k1", "v": 1}), first)
    _drive(store)
    rec.submit_at("c1", Put(T, {"pk": "k1", "v": 2}), second)
    _drive(store)
    rec.collect()
    _final_snapshot(rec)
    return rec


def concurrent_siblings(store: Any) -> RecordingStore:
    """Two puts of one key that do not see each other (siblings), then anti-entropy;
    the final snapshot."""
    rec = RecordingStore(store)
    first, second, _ = _owners(store, "k1")
    rec.submit_at("c0", Put(T, {"pk": "k1", "v": 1}), first)
    _drive(store, lambda m: m.kind == "write" and m.src == first and m.dst == second)
    rec.submit_at("c1", Put(T, {"pk": "k1", "v": 2}), second)
    _drive(store, lambda m: m.kind == "write" and m.src == second and m.dst == first)
    rec.collect()
    _final_snapshot(rec)
    return rec


# -- leader-mode streams --------------------------------------------------------------------


def _keys_on_two_partitions(store: Any) -> tuple[str, str]:
    first = "k0"
    home = store.partition_of(T, {"pk": first})
    other = next(f"k{i}" for i in range(1, 100)
                 if store.partition_of(T, {"pk": f"k{i}"}) != home)
    return first, other


def cancelled_transaction(store: Any) -> RecordingStore:
    """A committed put, then a transaction over two partitions whose condition check
    fails (cancelled after the other participant prepared); the stream."""
    rec = RecordingStore(store)
    x, y = _keys_on_two_partitions(store)
    _done(rec, rec.submit("c0", Put(T, {"pk": "z", "v": 0})))
    cancelled = rec.submit("c1", TransactWrite((
        Put(T, {"pk": x, "v": 1}), ConditionCheck(T, {"pk": y}, "attribute_exists(pk)"))))
    _done(rec, cancelled)
    assert cancelled.status == "error"
    store.settle()
    rec.observe("stream", _stream(store))
    return rec


def unchanged_writes(store: Any) -> RecordingStore:
    """The same put twice (the second changes nothing); the stream."""
    rec = RecordingStore(store)
    for client in ("c0", "c1"):
        _done(rec, rec.submit(client, Put(T, {"pk": "a", "v": 1})))
    store.settle()
    rec.observe("stream", _stream(store))
    return rec


def failover_between_writes(store: Any) -> RecordingStore:
    """A put, the key's leader crashed (a new leader elected), a second put; the
    stream."""
    rec = RecordingStore(store)
    _done(rec, rec.submit("c0", Put(T, {"pk": "a", "v": 1})))
    leader = store.leader_of(store.partition_of(T, {"pk": "a"}))
    store.crash(leader)
    assert store.settle()
    _done(rec, rec.submit("c1", Put(T, {"pk": "a", "v": 2})))
    store.restart(leader)
    store.settle()
    rec.observe("stream", _stream(store))
    return rec


def pipelined_writes(store: Any) -> RecordingStore:
    """Two puts of one item submitted together (the second appended before the first
    commits); the stream."""
    rec = RecordingStore(store)
    first = rec.submit("c0", Put(T, {"pk": "a", "v": 1}))
    second = rec.submit("c1", Put(T, {"pk": "a", "v": 2}))
    _done(rec, first, second)
    store.settle()
    rec.observe("stream", _stream(store))
    return rec


SCENARIOS: dict[str, Callable[[Any], RecordingStore]] = {
    "anti-entropy-ignores-pull": one_way_sync,
    "anti-entropy-misses-peer-only-keys": one_way_sync,
    "merkle-tree-misses-overwrites": overwrite_missed_by_one,
    "hint-sent-to-first-replica": handed_off,
    "tombstone-purged-at-once": delete_missed_by_one,
    "lww-compares-timestamps-as-text": writes_across_a_power_of_ten,
    "dvv-merge-restamps-sibling-contexts": concurrent_siblings,
    "stream-emits-prepared-transactions": cancelled_transaction,
    "stream-emits-unchanged-writes": unchanged_writes,
    "stream-reorders-on-failover": failover_between_writes,
    "stream-skips-record-after-failover": failover_between_writes,
    "stream-old-image-from-committed-state": pipelined_writes,
}
"""A schedule showing each mutant's bug, by mutant."""


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_schedule_violates_the_catalogs_guarantee_on_the_mutant_only(name: str) -> None:
    entry = mutant(name)
    bad = _judged(SCENARIOS[name](entry.build(0)), entry.guarantee)
    assert bad.status == "violated", bad.explanation()
    good = _judged(SCENARIOS[name](preset(entry.preset, 0)), entry.guarantee)
    assert good.status == "holds", good.explanation()


def test_a_restarted_node_keeps_its_storage_bug() -> None:
    for name in ("merkle-tree-misses-overwrites", "tombstone-purged-at-once"):
        store = mutant(name).build(0)
        kind = type(store.node_endpoints["n1"].storage)
        store.crash("n1")
        store.restart("n1")
        assert type(store.node_endpoints["n1"].storage) is kind


ESCAPEES = {
    "anti-entropy-pushes-one-key": ("dynamo-lww", escapees.anti_entropy_pushes_one_key),
    "geo-ack-turned-around": ("global-tables", escapees.geo_ack_turned_around),
    "token-ignores-request-body": ("dynamodb", escapees.token_ignores_request_body),
}
"""The realistic mutants the suite does not catch yet (``mutants/escapees.py``)."""


@pytest.mark.parametrize("name", list(ESCAPEES))
def test_an_escapee_is_kept_out_of_the_catalog_and_keeps_its_presets_contract(
        name: str) -> None:
    assert name not in {m.name for m in MUTANTS}
    preset_name, factory = ESCAPEES[name]
    store = factory(0)
    assert check_store(store) == []
    assert store.descriptor == preset(preset_name, 0).descriptor
    assert set(escapees.__all__) == {n.replace("-", "_") for n in ESCAPEES}
