"""The mutant catalog, and one deterministic scenario per mutant: the same fixed
schedule shows the bug on the mutant (through the project's checkers, or through the
mechanism's observable) and nothing on the unmutated preset."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from replicheck.histories.checkers.convergence import check_convergence
from replicheck.histories.checkers.streams import check_streams
from replicheck.histories.history import History, Record, pair
from replicheck.histories.items import completion_record, invoke_record, tables_record
from replicheck.histories.judge import check
from replicheck.histories.verdict import Verdict
from replicheck.implementation.memory import DEFAULT_TABLE
from replicheck.implementation.mutants import MUTANTS, Mutant, mutant
from replicheck.implementation.presets import PRESETS, preset
from replicheck.implementation.reference.leader import LeaderStore
from replicheck.implementation.reference.leaderless import LeaderlessStore
from replicheck.implementation.reference.leaderless.ring import merkle_key
from replicheck.implementation.reference.sim import Deliver, Drop, Duplicate, Message
from replicheck.implementation.store import (
    ConditionCheck,
    Get,
    Handle,
    Put,
    TransactGet,
    TransactWrite,
    Update,
    check_store,
)
from replicheck.models.guarantees import ALL_GUARANTEES
from replicheck.models.items.requests import Request
from replicheck.models.items.values import item_to_wire, key_text
from replicheck.models.merkle import key_token
from replicheck.properties.guarantees import judge_guarantee
from replicheck.properties.mechanisms import read_repair_probes
from replicheck.properties.verdicts import snapshot_history

T = "items"


def both(name: str) -> tuple[Any, Any]:
    """(the mutant ``name``'s store, its unmutated preset), both with seed 0."""
    found = mutant(name)
    return found.build(0), preset(found.preset, 0)


# -- the catalog ----------------------------------------------------------------------------


def test_the_catalog_has_at_least_15_uniquely_named_mutants() -> None:
    names = [m.name for m in MUTANTS]
    assert len(names) >= 15
    assert len(set(names)) == len(names)
    for m in MUTANTS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", m.name), m.name
        assert m.preset in PRESETS
        assert m.guarantee in ALL_GUARANTEES
        assert m.bug.strip() and "\n" not in m.bug


@pytest.mark.parametrize("entry", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_mutant_keeps_the_contract_and_claims_what_its_preset_claims(
        entry: Mutant) -> None:
    store = entry.build(0)
    reference = preset(entry.preset, 0)
    assert check_store(store) == []
    assert store.descriptor == reference.descriptor
    assert store.descriptor.claims_guarantee(entry.guarantee)


def test_a_bad_entry_is_refused_and_an_unknown_name_lists_the_mutants() -> None:
    with pytest.raises(ValueError, match="kebab"):
        Mutant("Bad_Name", "dynamodb", "x", "convergence", lambda seed: None)
    with pytest.raises(ValueError, match="preset"):
        Mutant("ok-name", "nope", "x", "convergence", lambda seed: None)
    with pytest.raises(ValueError, match="guarantee"):
        Mutant("ok-name", "dynamodb", "x", "nope", lambda seed: None)
    with pytest.raises(KeyError, match="stale-condition-check"):
        mutant("nope")


def test_a_mutant_does_not_touch_the_reference_classes() -> None:
    for entry in MUTANTS:
        entry.build(0)
    store = preset("dynamodb", 0)
    node = next(iter(store.cluster.nodes.values()))
    assert type(node).__module__.startswith("replicheck.implementation.reference")
    for replica in node.replicas.values():
        assert type(replica).__module__.startswith("replicheck.implementation.reference")
        assert type(replica.coordinator).__module__.startswith(
            "replicheck.implementation.reference")


# -- item histories -------------------------------------------------------------------------


class Items:
    """Records item operations (invocation at submission, completion when the handle
    completes) as an item history for ``judge.check(..., "item")``."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.records: list[Record] = [tables_record((DEFAULT_TABLE,), index=0)]
        self.open: list[tuple[int, Handle]] = []
        self.next_process = 0

    def submit(self, request: Request, node: str | None = None) -> Handle:
        """Submit ``request`` as a fresh process (through the router, or straight to
        ``node``)."""
        process = self.next_process
        self.next_process += 1
        self.records.append(invoke_record(process, request, index=len(self.records)))
        client = f"c{process}"
        handle: Handle
        if node is None:
            handle = self.store.submit(client, request)
        else:
            handle = Handle(client, request)
            self.store.client(client).submit(handle, node)
        self.open.append((process, handle))
        self.poll()
        return handle

    def poll(self) -> None:
        """Record the completions of the handles that are done."""
        for process, handle in [(p, h) for p, h in self.open if h.done]:
            self.open.remove((process, handle))
            outcome = handle.response if handle.status == "ok" else handle.error
            self.records.append(completion_record(process, handle.request, outcome,
                                                  index=len(self.records)))

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Take fair decisions until ``until()`` (default: nothing open), recording
        completions as they happen."""
        done = until or (lambda: not self.open)
        sim = self.store.sim
        steps = 0
        while not done() and steps < 200_000:
            decision = sim.default_decision()
            if decision is None:
                break
            sim.decide(decision)
            self.poll()
            steps += 1

    def do(self, request: Request, node: str | None = None) -> Handle:
        """Submit ``request`` and run until it completes."""
        handle = self.submit(request, node)
        self.run(lambda: handle.done)
        self.poll()
        return handle

    def verdict(self) -> Verdict:
        """The item model's linearizability verdict on the history so far."""
        self.poll()
        return check(pair(self.records), "item", timeout=20)


def run_for(store: LeaderStore, items: Items, seconds: float) -> None:
    end = store.sim.now + seconds
    items.run(lambda: store.sim.now >= end)


def leader_of(store: LeaderStore, key: str) -> str:
    found = store.leader_of(store.partition_of(T, {"pk": key}))
    assert found is not None
    return found


def same_partition_keys(store: LeaderStore, count: int) -> list[str]:
    by_partition: dict[int, list[str]] = {}
    for i in range(100):
        key = f"k{i}"
        group = by_partition.setdefault(store.partition_of(T, {"pk": key}), [])
        group.append(key)
        if len(group) == count:
            return group
    raise AssertionError("no such keys")


# -- leader mode ----------------------------------------------------------------------------


def conditional_race(store: LeaderStore) -> Items:
    items = Items(store)
    for value in (1, 2):
        items.submit(Put(T, {"pk": "a", "v": value}, "attribute_not_exists(pk)"))
    items.run()
    items.do(Get(T, {"pk": "a"}, consistent=True))
    return items


def test_stale_condition_check_lets_two_creates_succeed() -> None:
    bad, good = both("stale-condition-check")
    verdict = conditional_race(bad).verdict()
    assert verdict.valid is False
    assert conditional_race(good).verdict().valid is True


def stale_leader_read(store: LeaderStore) -> Items:
    items = Items(store)
    items.do(Put(T, {"pk": "a", "v": 1}))
    old = leader_of(store, "a")
    store.partition([{old}, set(store.nodes) - {old}])
    run_for(store, items, 3.0)
    assert items.do(Put(T, {"pk": "a", "v": 2})).status == "ok"
    items.do(Get(T, {"pk": "a"}, consistent=True), node=old)
    return items


def test_strong_read_any_replica_serves_a_stale_read() -> None:
    bad, good = both("strong-read-any-replica")
    assert stale_leader_read(bad).verdict().valid is False
    assert stale_leader_read(good).verdict().valid is True


def lost_on_failover(store: LeaderStore) -> tuple[Items, Handle]:
    items = Items(store)
    items.do(Put(T, {"pk": "a", "v": 1}))
    old = leader_of(store, "a")
    store.partition([{old}, set(store.nodes) - {old}])
    write = items.do(Put(T, {"pk": "a", "v": 2}))
    run_for(store, items, 3.0)
    store.heal()
    store.settle()
    items.do(Get(T, {"pk": "a"}, consistent=True))
    return items, write


def test_ack_before_quorum_loses_an_acknowledged_write_on_failover() -> None:
    bad, good = both("ack-before-quorum")
    items, write = lost_on_failover(bad)
    assert write.status == "ok"
    assert items.verdict().valid is False
    items, write = lost_on_failover(good)
    assert write.status == "indeterminate"
    assert items.verdict().valid is True


def lagging_replica_rejoins(store: LeaderStore) -> tuple[Items, Handle]:
    """A write committed while one replica of its partition was cut off; the replica
    (its term raised by its lonely elections) rejoins; a strong read after the cluster
    settles. (the history, the write)."""
    items = Items(store)
    items.do(Put(T, {"pk": "a", "v": 1}))
    partition = store.partition_of(T, {"pk": "a"})
    leader = leader_of(store, "a")
    lagging = [n for n in store.partition_replicas(partition) if n != leader][-1]
    store.partition([{lagging}, set(store.nodes) - {lagging}])
    write = items.do(Put(T, {"pk": "a", "v": 2}))
    run_for(store, items, 3.0)
    store.heal()
    store.settle()
    items.do(Get(T, {"pk": "a"}, consistent=True))
    return items, write


def test_election_ignores_log_loses_an_acknowledged_write_on_failover() -> None:
    bad, good = both("election-ignores-log")
    items, write = lagging_replica_rejoins(bad)
    assert write.status == "ok"
    assert items.verdict().valid is False
    items, write = lagging_replica_rejoins(good)
    assert write.status == "ok"
    assert items.verdict().valid is True


def partial_transaction(store: LeaderStore) -> Items:
    x, y = same_partition_keys(store, 2)
    items = Items(store)
    cancelled = items.do(TransactWrite((
        Put(T, {"pk": x, "v": 1}),
        ConditionCheck(T, {"pk": y}, "attribute_exists(pk)"))))
    assert cancelled.status == "error"
    items.do(Get(T, {"pk": x}, consistent=True))
    return items


def test_txn_partial_apply_keeps_the_actions_before_the_failing_one() -> None:
    bad, good = both("txn-partial-apply")
    assert partial_transaction(bad).verdict().valid is False
    assert partial_transaction(good).verdict().valid is True


def increment(key: str) -> Update:
    return Update(T, {"pk": key}, "SET n = if_not_exists(n, :z) + :one",
                  values={":z": 0, ":one": 1})


def concurrent_increments(store: LeaderStore) -> Items:
    x = "a"
    others = [k for k in (f"k{i}" for i in range(100))
              if store.partition_of(T, {"pk": k}) != store.partition_of(T, {"pk": x})][:2]
    items = Items(store)
    for i, other in enumerate(others):
        items.submit(TransactWrite((Put(T, {"pk": other, "v": i}), increment(x))))
    items.run()
    items.do(Get(T, {"pk": x}, consistent=True))
    # a snapshot showing both transactions' puts: it follows both in any serial order,
    # so it must show both increments (a lone read of x may be ordered between them)
    items.do(TransactGet(tuple(Get(T, {"pk": k}) for k in (x, *others))))
    return items


def test_txn_ignores_locks_loses_an_update() -> None:
    bad, good = both("txn-ignores-locks")
    assert concurrent_increments(bad).verdict().valid is False
    assert concurrent_increments(good).verdict().valid is True


def retried_token(store: LeaderStore) -> Items:
    items = Items(store)
    for _ in range(2):
        assert items.do(TransactWrite((increment("a"),), token="tok-1")).status == "ok"
    items.do(Get(T, {"pk": "a"}, consistent=True))
    return items


def test_token_applies_twice_on_a_retry_after_the_commit() -> None:
    bad, good = both("token-applies-twice")
    assert retried_token(bad).verdict().valid is False
    assert retried_token(good).verdict().valid is True


ITEM_SCENARIOS: dict[str, Callable[[Any], Items]] = {
    "stale-condition-check": conditional_race,
    "strong-read-any-replica": stale_leader_read,
    "ack-before-quorum": lambda store: lost_on_failover(store)[0],
    "election-ignores-log": lambda store: lagging_replica_rejoins(store)[0],
    "txn-partial-apply": partial_transaction,
    "txn-ignores-locks": concurrent_increments,
    "token-applies-twice": retried_token,
}
"""The scenarios above that record an item history, by mutant."""

@pytest.mark.parametrize("name", list(ITEM_SCENARIOS))
def test_the_scenario_violates_the_guarantee_the_catalog_names(name: str) -> None:
    entry = mutant(name)
    bad, good = both(name)
    for store, expected in ((bad, "violated"), (good, "holds")):
        items = ITEM_SCENARIOS[name](store)
        items.poll()
        judged = judge_guarantee(entry.guarantee, pair(items.records), store.descriptor,
                                 timeout=20)
        assert judged.status == expected, f"{store.descriptor.name}: {judged.explanation()}"



# -- leader-mode streams --------------------------------------------------------------------


def stream_history(store: LeaderStore, writes: list[tuple[str, int]],
                   between: Callable[[int], None] = lambda i: None) -> History:
    """Write ``(key, value)`` puts one at a time (``between(i)`` after the i-th), then
    observe the stream; the history for ``check_streams``."""
    records: list[Record] = []
    for i, (key, value) in enumerate(writes):
        item = {"pk": key, "v": value}
        records.append(Record(0, "invoke", "put", item_to_wire(item), key,
                              index=len(records)))
        handle = store.submit("c0", Put(T, item))
        store.run_until_done(handle)
        assert handle.status == "ok"
        records.append(Record(0, "ok", "put", item_to_wire(item), key, index=len(records),
                              meta=handle.meta))
        between(i)
    stream = [{"table": r.table, "event": r.event, "key": list(r.key),
               "sequence": r.sequence,
               "old_image": None if r.old_image is None else item_to_wire(r.old_image),
               "new_image": None if r.new_image is None else item_to_wire(r.new_image)}
              for r in store.stream_records(T)]
    records.append(Record("observer", "observe", "stream",
                          {"table": T, "records": stream, "complete": True},
                          index=len(records)))
    return pair(records)


def anomalies(verdict: Verdict) -> set[str]:
    return {a.type for a in verdict.anomalies}


def test_stream_string_sequence_order_reorders_an_items_records() -> None:
    bad, good = both("stream-string-sequence-order")
    writes = [("a", i) for i in range(12)]  # log indices 1..12: "10" < "9"
    verdict = check_streams(stream_history(bad, writes))
    assert verdict.valid is False and "stream-reorder" in anomalies(verdict)
    assert check_streams(stream_history(good, writes)).valid is True


def test_stream_duplicate_on_failover_repeats_a_record() -> None:
    def failover(store: LeaderStore) -> Callable[[int], None]:
        def between(i: int) -> None:
            if i == 0:
                store.crash(leader_of(store, "a"))
                assert store.settle()
        return between

    bad, good = both("stream-duplicate-on-failover")
    writes = [("a", 1), ("a", 2)]
    verdict = check_streams(stream_history(bad, writes, failover(bad)))
    assert verdict.valid is False and "stream-duplicate" in anomalies(verdict)
    assert check_streams(stream_history(good, writes, failover(good))).valid is True


def retried_writes(store: LeaderStore) -> History:
    """A transaction retried with its token after it committed, and a put whose
    request message is delivered twice; then the stream."""
    records: list[Record] = []

    def record(kind: str, process: int, f: str, value: Any, key: str | None,
               meta: Any = None) -> None:
        records.append(Record(process, kind, f, value, key, index=len(records),
                              meta=meta or {}))

    transaction = TransactWrite((Put(T, {"pk": "a", "v": 1}),), token="tok-1")
    for process in (0, 1):
        record("invoke", process, "transact-write", None, None)
        handle = store.submit(f"c{process}", transaction)
        store.run_until_done(handle)
        assert handle.status == "ok"
        writes = [{**w, "item": None if w["item"] is None else item_to_wire(w["item"])}
                  for w in handle.meta.get("writes", ())]
        record("ok", process, "transact-write", None, None,
               {"writes": writes} if writes else {})
    item = {"pk": "b", "v": 2}
    record("invoke", 2, "put", item_to_wire(item), "b")
    handle = store.submit("c2", Put(T, item))
    request = next(m for m in store.sim.in_flight.values() if m.src == "c2")
    store.decide(Duplicate(request.id))
    store.run_until_done(handle)
    store.settle()
    assert handle.status == "ok"
    record("ok", 2, "put", item_to_wire(item), "b", handle.meta)
    stream = [{"table": r.table, "event": r.event, "key": list(r.key),
               "sequence": r.sequence,
               "old_image": None if r.old_image is None else item_to_wire(r.old_image),
               "new_image": None if r.new_image is None else item_to_wire(r.new_image)}
              for r in store.stream_records(T)]
    record("observe", "observer", "stream", {"table": T, "records": stream, "complete": True},
           None)
    return pair(records)


def test_stream_duplicate_on_retry_repeats_a_retried_writes_records() -> None:
    bad, good = both("stream-duplicate-on-retry")
    verdict = check_streams(retried_writes(bad))
    assert verdict.valid is False
    duplicated = {tuple(a.data["key"]) for a in verdict.anomalies
                  if a.type == "stream-duplicate"}
    assert duplicated == {("a",), ("b",)}
    assert check_streams(retried_writes(good)).valid is True


# -- leaderless: scenarios ------------------------------------------------------------------


def key_where(store: LeaderlessStore, ok: Callable[[str], bool]) -> str:
    for i in range(10_000):
        if ok(f"k{i}"):
            return f"k{i}"
    raise AssertionError("no such key")


def owners(store: LeaderlessStore, key: str) -> tuple[str, ...]:
    return store.preference_list(T, {"pk": key})


def drive(store: LeaderlessStore, drop: Callable[[Message], bool] = lambda m: False) -> None:
    """Deliver (or drop) every message, oldest first, until none is in flight; no timer."""
    while store.sim.in_flight:
        message = next(iter(store.sim.in_flight.values()))
        if drop(message) or not store.sim.reachable(message.src, message.dst):
            store.decide(Drop(message.id))
        else:
            store.decide(Deliver(message.id))


class Writes:
    """Leaderless writes sent straight to a chosen coordinator, recorded with their
    version metadata for the convergence checker."""

    def __init__(self, store: LeaderlessStore) -> None:
        self.store = store
        self.records: list[Record] = []
        self.handles: list[tuple[int, Handle, str, Any]] = []

    def put(self, key: str, value: int, node: str) -> Handle:
        process = len(self.handles)
        item = {"pk": key, "v": value}
        self.records.append(Record(process, "invoke", "put", item_to_wire(item), key,
                                   index=len(self.records)))
        handle = Handle(f"c{process}", Put(T, item))
        self.store.client(f"c{process}").submit(handle, node)
        self.handles.append((process, handle, key, item_to_wire(item)))
        return handle

    def complete(self) -> None:
        for process, handle, key, value in self.handles:
            status = "ok" if handle.status == "ok" else "info"
            self.records.append(Record(process, status, "put", value, key,
                                       index=len(self.records), meta=handle.meta))

    def converged(self) -> Verdict:
        """Heal, settle, run a full anti-entropy round and judge the snapshot."""
        self.complete()
        store = self.store
        store.heal()
        store.settle()
        store.anti_entropy_round(T)
        snapshot = store.replicas_observation(T, quiescent=True, anti_entropy=True)
        return check_convergence(pair([*self.records, Record(
            "observer", "observe", "replicas", snapshot, index=len(self.records))]))


def same_microsecond_writes(store: LeaderlessStore) -> Verdict:
    key = "k1"
    first, second, _ = owners(store, key)
    writes = Writes(store)
    writes.put(key, 1, first)
    writes.put(key, 2, second)
    drive(store)
    assert all(h.status == "ok" for _, h, _, _ in writes.handles)
    assert writes.handles[0][1].meta["version"][0] == writes.handles[1][1].meta["version"][0]
    return writes.converged()


def test_lww_tie_keeps_local_never_converges() -> None:
    bad, good = both("lww-tie-keeps-local")
    verdict = same_microsecond_writes(bad)
    assert verdict.valid is False and "divergence" in anomalies(verdict)
    assert same_microsecond_writes(good).valid is True


def concurrent_puts(store: LeaderlessStore) -> Verdict:
    key = "k1"
    first, second, _ = owners(store, key)
    writes = Writes(store)
    writes.put(key, 1, first)
    drive(store, lambda m: m.kind == "write" and m.src == first and m.dst == second)
    writes.put(key, 2, second)
    drive(store, lambda m: m.kind == "write" and m.src == second and m.dst == first)
    assert all(h.status == "ok" for _, h, _, _ in writes.handles)
    return writes.converged()


def test_concurrent_clocks_ordered_drops_a_concurrent_write() -> None:
    bad, good = both("concurrent-clocks-ordered")
    verdict = concurrent_puts(bad)
    assert verdict.valid is False and "lost-sibling" in anomalies(verdict)
    assert concurrent_puts(good).valid is True


def resurrection(store: LeaderlessStore) -> list[Any]:
    """v1 everywhere, then an update to v2 (superseding v1) that misses the third
    replica; the third replica then coordinates a read. The siblings it answers."""
    key = "k1"
    first, second, third = owners(store, key)
    writes = Writes(store)
    writes.put(key, 1, first)
    drive(store)
    update = Handle("u", Update(T, {"pk": key}, "SET v = :two", values={":two": 2}))
    store.client("u").submit(update, second)
    drive(store, lambda m: m.kind == "write" and m.dst == third)
    assert update.status == "ok"
    read = Handle("r", Get(T, {"pk": key}))
    store.client("r").submit(read, third)
    drive(store)
    assert read.status == "ok"
    return [s["value"]["v"] for s in read.meta["siblings"]]


def test_vv_merge_drops_entries_resurrects_a_superseded_value() -> None:
    bad, good = both("vv-merge-drops-entries")
    assert sorted(v["N"] for v in resurrection(bad)) == ["1", "2"]
    assert resurrection(good) == [{"N": "2"}]


def repaired(store: LeaderlessStore) -> tuple[Any, Any]:
    """Two blind puts (siblings), the second missing the third replica; a read with
    read repair. (the read's merged state, the third replica's state after it)."""
    key = "k1"
    first, _, third = owners(store, key)
    writes = Writes(store)
    writes.put(key, 1, first)
    drive(store)
    writes.put(key, 2, first)
    drive(store, lambda m: m.kind == "write" and m.dst == third)
    read = Handle("r", Get(T, {"pk": key}))
    store.client("r").submit(read, first)
    drive(store)
    assert len(read.meta["siblings"]) == 2
    return store.replica_states(first, T)[(key,)], store.replica_states(third, T)[(key,)]


def test_read_repair_drops_sibling_leaves_the_repaired_replica_short() -> None:
    bad, good = both("read-repair-drops-sibling")
    merged, third = repaired(bad)
    assert third != merged and len(third.siblings) == 1
    merged, third = repaired(good)
    assert third == merged


def stale_coordinator_probes(store: LeaderlessStore) -> tuple[list[dict[str, Any]], str]:
    """A key outside the suite's three fixed keys written twice, the second write
    missing its last replica; the read-repair probes of the store. (the probes, the
    stale replica)."""
    key = "k40"
    first, _, third = owners(store, key)
    writes = Writes(store)
    writes.put(key, 1, first)
    drive(store)
    writes.put(key, 2, first)
    drive(store, lambda m: m.kind == "write" and m.dst == third)
    return read_repair_probes(store, T, "pk"), third


def test_read_repair_sends_coordinator_state_leaves_a_stale_coordinator_stale() -> None:
    bad, good = both("read-repair-sends-coordinator-state")
    for store, expected in ((bad, "violated"), (good, "holds")):
        probes, stale = stale_coordinator_probes(store)
        assert {(p["key"], p["coordinator"]) for p in probes} >= {(key_text(("k40",)), stale)}
        history = snapshot_history(store.descriptor, [("read-repair", p) for p in probes])
        judged = judge_guarantee("read-repair-repairs", history, store.descriptor)
        assert judged.status == expected, judged.explanation()
    # the first replica holds the merge: coordinated there, the bug repairs the others
    probes, stale = stale_coordinator_probes(mutant("read-repair-sends-coordinator-state")
                                             .build(0))
    first = [p for p in probes if p["coordinator"] == owners(bad, "k40")[0]]
    assert all(p["after"][stale] == p["merged"] for p in first)


def handoff(store: LeaderlessStore) -> tuple[int, Any]:
    """Two replicas down, a sloppy write, the replicas back, settle: (hints still
    pending, the item at the second replica)."""
    key = "k1"
    _, second, third = owners(store, key)
    store.crash(second)
    store.crash(third)
    write = store.submit("c", Put(T, {"pk": key, "v": 1}))
    store.run_until_done(write)
    assert write.status == "ok"
    store.restart(second)
    store.restart(third)
    store.settle()
    return store.pending_hints(), store.replica_items(second, T).get((key,))


def test_hint_never_delivered_keeps_hints_after_heal_and_settle() -> None:
    bad, good = both("hint-never-delivered")
    assert handoff(bad) == (2, None)
    assert handoff(good) == (0, {"pk": "k1", "v": 1})


def merkle_blind_spot(store: LeaderlessStore) -> tuple[bool, Verdict]:
    """A key in the last quarter of its range, loaded on every replica but one:
    (equal roots for the range?, the convergence verdict of the snapshot)."""
    def in_last_child(key: str) -> bool:
        part = store.ring.partition_of((key,))
        shape = store.cluster.shapes[part.name]
        return key_token(merkle_key((key,))) in shape.node_range(1, shape.fanout - 1)

    key = key_where(store, in_last_child)
    first, _, third = owners(store, key)
    range_name = store.ring.partition_of((key,)).name
    store.bulk_load(T, [{"pk": key, "v": 1}], nodes=set(store.nodes) - {third})
    equal = store.merkle_roots(first, T)[range_name] == store.merkle_roots(third, T)[range_name]
    snapshot = store.replicas_observation(T)
    return equal, check_convergence(pair([Record("observer", "observe", "replicas",
                                                  snapshot, index=0)]))


def test_merkle_root_ignores_child_reports_equal_roots_over_different_contents() -> None:
    bad, good = both("merkle-root-ignores-child")
    equal, verdict = merkle_blind_spot(bad)
    assert equal and verdict.valid is False and "merkle-mismatch" in anomalies(verdict)
    equal, verdict = merkle_blind_spot(good)
    assert not equal and verdict.valid is True


def last_range_sync(store: LeaderlessStore) -> tuple[str, Any]:
    """A key of the last range two nodes share, held by one of them; one sync between
    them. (the key, what the other node holds for it afterwards)."""
    a, b = next((a, b) for a in store.nodes for b in store.nodes
                if a < b and len(store.ring.shared_ranges(a, b)) > 1)
    last = store.ring.shared_ranges(a, b)[-1]
    key = key_where(store, lambda k: store.ring.partition_of((k,)).name == last)
    store.bulk_load(T, [{"pk": key, "v": 1}], nodes=[a])
    store.anti_entropy(a, b, T)
    return key, store.replica_items(b, T).get((key,))


def test_anti_entropy_skips_last_range_leaves_it_unrepaired() -> None:
    bad, good = both("anti-entropy-skips-last-range")
    key, held = last_range_sync(bad)
    assert held is None
    key, held = last_range_sync(good)
    assert held == {"pk": key, "v": 1}


def test_a_restarted_node_keeps_its_bug() -> None:
    leader_mutant = mutant("ack-before-quorum").build(0)
    node = leader_mutant.nodes[0]
    kinds = {type(r) for r in leader_mutant.cluster.nodes[node].replicas.values()}
    leader_mutant.crash(node)
    leader_mutant.restart(node)
    assert {type(r) for r in leader_mutant.cluster.nodes[node].replicas.values()} == kinds
    merkle_mutant = mutant("merkle-root-ignores-child").build(0)
    kind = type(merkle_mutant.node_endpoints["n1"].storage)
    merkle_mutant.crash("n1")
    merkle_mutant.restart("n1")
    assert type(merkle_mutant.node_endpoints["n1"].storage) is kind
