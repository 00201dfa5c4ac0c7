"""Leader mode under faults: failover keeps every acknowledged write, a deposed leader
is fenced (its writes are never acknowledged, its strong reads never answered, whatever
its clock says), crashed nodes recover from their durable logs, elections are
deterministic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from replicheck.implementation.reference.base import ClientEndpoint
from replicheck.implementation.reference.leader import LeaderStore, dynamodb
from replicheck.implementation.reference.leader.partition import LEADER
from replicheck.implementation.reference.sim import Deliver, Duplicate, Fire
from replicheck.implementation.store import Delete, Get, Handle, Put
from replicheck.models.items.requests import Request


def run(store: LeaderStore, request: Request, client: str = "c") -> Handle:
    handle = store.submit(client, request)
    store.run_until_done(handle)
    return handle


def fair_without_timers_of(store: LeaderStore, excluded: set[str],
                           until: Callable[[], bool], max_steps: int = 200_000) -> bool:
    """The fair policy, except that timers of ``excluded`` endpoints never fire (so a
    deposed leader keeps believing it leads)."""
    for _ in range(max_steps):
        if until():
            return True
        message = next((m for m in store.sim.in_flight.values()
                        if store.sim.reachable(m.src, m.dst)), None)
        if message is not None:
            store.decide(Deliver(message.id))
            continue
        timers = [t for t in store.sim.timers.values() if t.owner not in excluded]
        if not timers:
            break
        store.decide(Fire(min(timers, key=lambda t: (t.deadline, t.id)).id))
    return until()


def send_directly(store: LeaderStore, client: str, node: str, request: Request) -> Handle:
    """A client that talks to ``node`` itself (as to a leader it believes in)."""
    handle = Handle(client, request)
    endpoint: ClientEndpoint = store.client(client)
    endpoint.submit(handle, node)
    return handle


def test_crashing_leaders_keeps_every_acknowledged_write() -> None:
    store = dynamodb()
    written = {f"k{i}": run(store, Put("items", {"pk": f"k{i}", "n": i})) for i in range(12)}
    assert all(h.status == "ok" for h in written.values())
    old = {p: store.leader_of(p) for p in range(3)}
    store.crash("n1")
    store.crash("n2")  # two of the three leaders, and two replicas of partitions 0 and 1
    store.restart("n1")
    assert store.settle()
    for p in range(3):
        leader = store.leader_of(p)
        assert leader is not None
        replica = store.cluster.nodes[leader].replicas[p]
        if old[p] in ("n1", "n2"):
            assert replica.term > 1
    for key, handle in written.items():
        assert store.execute(Get("items", {"pk": key}, consistent=True)).item == {
            "pk": key, "n": int(key[1:])}
        assert handle.meta["version"] is not None


def test_a_partitioned_leader_never_acknowledges_and_its_writes_are_truncated() -> None:
    store = dynamodb()
    partition = store.partition_of("items", {"pk": "x"})
    old = store.leader_of(partition)
    assert old is not None
    run(store, Put("items", {"pk": "x", "n": 0}))
    others = [n for n in store.replicas() if n != old]
    store.partition([{old}, others])
    late = store.submit("c1", Put("items", {"pk": "x", "n": 1}))  # the router still sends to old
    store.run_until_done(late)
    assert late.status == "indeterminate"
    new = run(store, Put("items", {"pk": "x", "n": 2}), "c2")
    assert new.status == "ok"
    assert store.leader_of(partition) != old
    store.heal()
    assert store.settle()
    assert store.execute(Get("items", {"pk": "x"}, consistent=True)).item == {"pk": "x", "n": 2}
    assert [r.new_image for r in store.stream_records("items") if r.key == ("x",)] == [
        {"pk": "x", "n": 0}, {"pk": "x", "n": 2}]
    for node in store.partition_replicas(partition):
        log = store.cluster.nodes[node].replicas[partition].log
        assert not any(e.effects and e.effects[0].new == {"pk": "x", "n": 1} for e in log)


def test_a_deposed_leader_never_answers_a_strong_read_under_any_skew() -> None:
    store = dynamodb()
    partition = store.partition_of("items", {"pk": "x"})
    old = store.leader_of(partition)
    assert old is not None
    run(store, Put("items", {"pk": "x", "n": 1}))
    store.skew_clock(old, 3600.0)
    for node in store.replicas():
        if node != old:
            store.skew_clock(node, -3600.0)
    others = [n for n in store.replicas() if n != old]
    store.partition([{old}, others])

    def new_leader() -> bool:
        leader = store.leader_of(partition)
        return leader is not None and leader != old

    assert fair_without_timers_of(store, {old}, new_leader)
    write = store.submit("writer", Put("items", {"pk": "x", "n": 2}))
    assert fair_without_timers_of(store, {old}, lambda: write.done)
    assert write.status == "ok"
    deposed = store.cluster.nodes[old].replicas[partition]
    assert deposed.role == LEADER  # it still believes it leads, in its old term
    stale = send_directly(store, "reader", old, Get("items", {"pk": "x"}, consistent=True))
    assert fair_without_timers_of(store, {old}, lambda: stale.done)
    assert stale.status == "indeterminate"  # never the stale n = 1
    # healed, it hears of the newer term and steps down; a read pending there is dropped
    pending = send_directly(store, "reader2", old, Get("items", {"pk": "x"}, consistent=True))
    store.heal()
    store.run_until_done(pending)
    assert pending.status != "ok" or (
        pending.response is not None and pending.response.item == {"pk": "x", "n": 2})
    assert deposed.role != LEADER
    assert store.execute(Get("items", {"pk": "x"}, consistent=True)).item == {"pk": "x", "n": 2}


def test_a_node_answers_requests_sent_straight_to_it() -> None:
    store = dynamodb()
    partition = store.partition_of("items", {"pk": "x"})
    leader = store.leader_of(partition)
    assert leader is not None
    follower = next(n for n in store.partition_replicas(partition) if n != leader)
    outsider = next(n for n in store.replicas() if n not in store.partition_replicas(partition))
    for target, n in ((leader, 1), (follower, 2), (outsider, 3)):
        handle = send_directly(store, f"c-{target}", target, Put("items", {"pk": "x", "n": n}))
        store.run_until_done(handle)
        assert handle.status == "ok"
    assert store.execute(Get("items", {"pk": "x"}, consistent=True)).item == {"pk": "x", "n": 3}


def test_restarted_nodes_recover_from_their_durable_logs() -> None:
    store = dynamodb()
    for i in range(6):
        run(store, Put("items", {"pk": f"k{i}", "n": i}))
    store.crash("n4")
    for i in range(6, 9):
        run(store, Put("items", {"pk": f"k{i}", "n": i}))
    store.restart("n4")
    assert store.settle()
    items = store.replica_items("n4", "items")
    expected = {(f"k{i}",) for i in range(9)
                if set(store.config.hosts("n4")) & {store.partition_of("items", {"pk": f"k{i}"})}}
    assert set(items) == expected
    for node in store.replicas():
        store.crash(node)
    assert store.replica_items("n4", "items") == items  # read from the durable log
    for node in store.replicas():
        store.restart(node)
    assert store.settle()
    for i in range(9):
        assert store.execute(Get("items", {"pk": f"k{i}"}, consistent=True)).item == {
            "pk": f"k{i}", "n": i}


def test_elections_are_deterministic() -> None:
    outcomes = []
    for _ in range(2):
        store = dynamodb(seed=7)
        run(store, Put("items", {"pk": "x"}))
        store.crash("n1")
        store.crash("n3")
        store.restart("n1")
        assert store.settle()
        outcomes.append([(store.leader_of(p),
                          store.cluster.nodes[store.leader_of(p) or ""].replicas[p].term)
                         for p in range(3)])
    assert outcomes[0] == outcomes[1]
    config = dynamodb(seed=7).config
    timeouts = {config.election_timeout(n, 0, 0) for n in config.nodes}
    assert len(timeouts) == len(config.nodes)
    assert all(config.timing.election_min <= t < config.timing.election_max for t in timeouts)
    assert config.election_timeout("n1", 0, 0) == config.election_timeout("n1", 0, 0)


def _hold_a_copy(store: LeaderStore, kind: str) -> int:
    """Duplicate the (only) in-flight message of ``kind``; the copy's id."""
    message = next(m for m in store.sim.in_flight.values() if m.kind == kind)
    before = set(store.sim.in_flight)
    store.decide(Duplicate(message.id))
    (copy,) = set(store.sim.in_flight) - before
    return copy


def _deliver_all_but(store: LeaderStore, held: int, until: Callable[[], bool]) -> None:
    while not until():
        message = next(m for m in store.sim.in_flight.values()
                       if m.id != held and store.sim.reachable(m.src, m.dst))
        store.decide(Deliver(message.id))


@pytest.mark.parametrize("kind", ["request", "op"])
def test_a_duplicated_request_is_applied_once(kind: str) -> None:
    store = dynamodb()
    first = store.submit("c1", Put("items", {"pk": "x", "n": 1},
                                   condition="attribute_not_exists(pk)"))
    if kind == "op":  # the router's forward, not the client's send
        store.decide(Deliver(next(iter(store.sim.in_flight))))
    copy = _hold_a_copy(store, kind)
    _deliver_all_but(store, copy, lambda: first.done)
    assert first.status == "ok"
    second = store.submit("c2", Delete("items", {"pk": "x"}))
    _deliver_all_but(store, copy, lambda: second.done)
    store.decide(Deliver(copy))  # the old copy arrives at last: ignored
    assert store.settle()
    assert store.execute(Get("items", {"pk": "x"}, consistent=True)).item is None
    assert [r.event for r in store.stream_records("items")] == ["INSERT", "REMOVE"]


def test_a_reply_held_across_a_reelection_never_confirms_a_strong_read() -> None:
    """A follower's rejection of an old-term heartbeat, held back until the same node
    leads again in a later term, echoes a confirmation round that node reuses: it must
    not count. Here n1 leads term 3 in its own view while n2 and n3 elect a term-4
    leader that acknowledges a newer write; n1's strong read stays unanswered."""
    store = dynamodb(seed=0)
    sim = store.sim
    key = next(f"k{i}" for i in range(20) if store.partition_of("items", {"pk": f"k{i}"}) == 0)

    def replica(node: str) -> Any:
        return store.cluster.nodes[node].replicas[0]

    def deliver_while(ok: Callable[[Any], bool]) -> None:
        for _ in range(10_000):
            message = next((m for m in sim.in_flight.values()
                            if sim.deliverable(m) and ok(m)), None)
            if message is None:
                return
            store.decide(Deliver(message.id))
        raise AssertionError("the cluster never went quiet")

    def elect(node: str, ok: Callable[[Any], bool] = lambda m: True) -> None:
        timer = min((t for t in sim.timers.values() if t.owner == node and t.name == "election"),
                    key=lambda t: t.deadline)
        store.decide(Fire(timer.id))
        deliver_while(ok)

    def take(kind: str, src: str, dst: str) -> Any:
        message = next(m for m in sim.in_flight.values()
                       if m.kind == kind and m.src == src and m.dst == dst
                       and m.body.partition == 0)
        del sim.in_flight[message.id]
        return message

    store.execute(Put("items", {"pk": key, "v": "old"}))
    for _ in range(3):  # three read-index rounds at n1 (term 1)
        store.execute(Get("items", {"pk": key}, consistent=True))
    heartbeat = min((t for t in sim.timers.values() if t.owner == "n1" and t.name == "heartbeat"),
                    key=lambda t: t.deadline)
    store.decide(Fire(heartbeat.id))
    held = take("append", "n1", "n2")  # a term-1 heartbeat of round 3, held back
    deliver_while(lambda m: True)
    elect("n2")
    elect("n1")
    assert replica("n1").role == LEADER and replica("n1").term == 3
    sim.in_flight[held.id] = held
    store.decide(Deliver(held.id))
    stale = take("append-reply", "n2", "n1")  # n2's rejection echoes round 3
    elect("n2", lambda m: m.dst != "n1")  # term 4 without n1
    write = store.submit("writer", Put("items", {"pk": key, "v": "new"}))
    deliver_while(lambda m: m.dst != "n1")
    assert write.status == "ok"
    read = send_directly(store, "reader", "n1", Get("items", {"pk": key}, consistent=True))
    deliver_while(lambda m: m.kind == "request" and m.dst == "n1")
    sim.in_flight[stale.id] = stale
    store.decide(Deliver(stale.id))
    deliver_while(lambda m: m.dst == "reader")
    assert not read.done, f"n1 answered a strong read with {read.response}"
