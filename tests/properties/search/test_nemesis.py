"""The Jepsen nemesis rule classes (properties/search/nemesis.py): each fault really
happens, pause/resume steps replay, and the commit crash finds a bug the
concurrency property misses without it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.presets import preset
from replicheck.implementation.reference.leader import transactions
from replicheck.implementation.store import Store, surface_names
from replicheck.models.items.requests import Put
from replicheck.properties import verdicts
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.replay import replay
from replicheck.properties.schedule import describe_step, dumps, loads
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.search.nemesis import (
    CLASSES,
    SHAPES,
    STAGES,
    nemesis_rules,
    split_groups,
)
from replicheck.properties.shrink import canonical_epilogue

T = "items"
NODES = ("n1", "n2", "n3", "n4", "n5")


def machine(target: str) -> Any:
    """A concurrency machine of ``target`` with the nemesis rules, started."""
    def factory() -> Store:
        store: Store = preset(target)
        return store

    surface = probe_surface(factory())
    cls = type("T", (nemesis_rules(surface), concurrency_machine(factory, target=target)), {})
    made = cls()
    made.start()
    return made


@pytest.fixture
def leader_machine() -> Iterator[Any]:
    made = machine("dynamodb")
    yield made
    made.teardown()


def talks(store: Any, a: str, b: str) -> bool:
    return bool(store.reachable(a, b))


def test_the_classes_are_named_in_kebab_case() -> None:
    assert CLASSES == ("leader-partition", "split", "leader-churn", "commit-crash")
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", name) for name in CLASSES)


# -- leader-partition -----------------------------------------------------------------------


def test_leader_partition_cuts_the_leader_off_and_the_others_elect_a_new_one(
        leader_machine: Any) -> None:
    m = leader_machine
    partition = m.raw.partition_of(T, {"pk": "k0"})
    old = m.raw.leader_of(partition)
    assert old is not None
    m.nemesis_leader_partition("k0", True)
    assert m.marked == {"leader-partition"}
    assert not any(talks(m.raw, old, n) for n in NODES if n != old)
    new = m.raw.leader_of(partition)
    assert new not in (old, None)
    assert m.raw.steps[0] == {"partition": [[old], sorted(n for n in NODES if n != old)]}


def test_leader_partition_without_waiting_leaves_the_leader_in_place(
        leader_machine: Any) -> None:
    m = leader_machine
    partition = m.raw.partition_of(T, {"pk": "k1"})
    old = m.raw.leader_of(partition)
    m.nemesis_leader_partition("k1", False)
    assert m.raw.leader_of(partition) == old
    assert [next(iter(s)) for s in m.raw.steps] == ["partition"]


def test_leader_partition_of_a_leaderless_store_cuts_off_the_first_replica() -> None:
    m = machine("dynamo-quorum")
    try:
        first = m.raw.preference_list(T, {"pk": "k2"})[0]
        m.nemesis_leader_partition("k2", True)
        assert m.marked == {"leader-partition"}
        assert not any(talks(m.raw, first, n) for n in NODES if n != first)
        others = [n for n in NODES if n != first]
        assert all(talks(m.raw, a, b) for a in others for b in others)
    finally:
        m.teardown()


# -- split ----------------------------------------------------------------------------------


def test_split_shapes_as_groups() -> None:
    order = ("n3", "n1", "n5", "n2", "n4")
    assert split_groups("majority", order) == [["n3", "n1"], ["n5", "n2", "n4"]]
    assert split_groups("ring", order) == [["n3", "n1"], ["n1", "n5"], ["n5", "n2"],
                                           ["n2", "n4"], ["n4", "n3"]]
    assert split_groups("bridge", order) == [["n3", "n1", "n5"], ["n3", "n2", "n4"]]
    with pytest.raises(ValueError, match="unknown split shape 'star'"):
        split_groups("star", order)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_split_cuts_the_network_as_its_shape_says(leader_machine: Any, shape: str) -> None:
    m = leader_machine
    order = ["n4", "n2", "n5", "n1", "n3"]
    m.nemesis_split(shape, order)
    assert m.marked == {"split"}
    reach = {(a, b) for a in NODES for b in NODES if a != b and talks(m.raw, a, b)}
    if shape == "majority":
        minority, majority = {"n4", "n2"}, {"n5", "n1", "n3"}
        assert not any((a, b) in reach for a in minority for b in majority)
        assert all((a, b) in reach for a in majority for b in majority if a != b)
        assert ("n4", "n2") in reach
    elif shape == "ring":  # each node talks to its two neighbours only
        for i, node in enumerate(order):
            sees = {b for a, b in reach if a == node}
            assert sees == {order[i - 1], order[(i + 1) % len(order)]}
    else:  # n4 bridges {n2, n5} and {n1, n3}
        assert {b for a, b in reach if a == "n4"} == set(NODES) - {"n4"}
        assert not any((a, b) in reach for a in ("n2", "n5") for b in ("n1", "n3"))
        assert ("n2", "n5") in reach and ("n1", "n3") in reach


def test_a_ring_leaves_a_leader_store_serving_and_heals(leader_machine: Any) -> None:
    """Every node of a five-node ring sees a majority of the nodes (itself and its
    two neighbours): a write still succeeds; teardown heals and the claims hold."""
    m = leader_machine
    m.nemesis_split("ring", list(NODES))
    handle = m.run_request("c0", Put(T, {"pk": "k0", "v": "x"}))
    assert handle.status == "ok"


# -- leader-churn ---------------------------------------------------------------------------


def spy_faults(m: Any) -> list[tuple[str, str, set[str], set[str]]]:
    """Record each crash/restart/pause/resume with the machine's crashed and paused
    sets as they are when the store is asked."""
    seen: list[tuple[str, str, set[str], set[str]]] = []
    raw = m.raw
    for name in ("crash", "restart", "pause", "resume"):
        forward: Callable[[str], None] = getattr(raw, name)

        def spied(node: str, _name: str = name, _forward: Callable[[str], None] = forward
                  ) -> None:
            seen.append((_name, node, set(m.crashed), set(m.paused)))
            _forward(node)

        setattr(raw, name, spied)
    return seen


@pytest.mark.parametrize(("how", "back"), [("crash", "restart"), ("pause", "resume")])
def test_leader_churn_takes_the_leader_down_each_round_and_a_new_one_takes_over(
        leader_machine: Any, how: str, back: str) -> None:
    m = leader_machine
    partition = m.raw.partition_of(T, {"pk": "k1"})
    seen = spy_faults(m)
    leaders = []
    forward = m._nemesis_stop

    def stop(node: str, kind: str) -> None:
        leaders.append(node)
        forward(node, kind)

    m._nemesis_stop = stop
    m.nemesis_leader_churn("k1", how, 3, ["a1", "a2", "a3", "a4", "a5", "a6"])
    assert m.marked == {"leader-churn"}
    assert len(leaders) == 3 and len(set(leaders)) == 3  # a new leader every round
    assert all(n in m.raw.partition_replicas(partition) for n in leaders)
    assert [(kind, node) for kind, node, _, _ in seen] == [
        pair for node in leaders for pair in ((how, node), (back, node))]
    for kind, node, crashed, paused in seen:  # one node down at a time, as the sets say
        assert crashed | paused == (set() if kind == how else {node})
    assert not m.crashed and not m.paused
    puts = [op for op in m.rec.history().operations if op.f == "put"]
    # each round: the write the leader could not replicate is indeterminate; the
    # write made while it was down, under the new leader, succeeded
    assert [op.status for op in puts] == ["info", "ok"] * 3


def test_leader_churn_in_a_leaderless_store_stops_the_first_replica() -> None:
    m = machine("dynamo-quorum")
    try:
        seen = spy_faults(m)
        first = m.raw.preference_list(T, {"pk": "k0"})[0]
        m.nemesis_leader_churn("k0", "crash", 2, ["a1", "a2", "a3", "a4", "a5", "a6"])
        assert [(kind, node) for kind, node, _, _ in seen] == [
            ("crash", first), ("restart", first)] * 2
        assert not m.crashed
    finally:
        m.teardown()


# -- commit-crash ---------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_commit_crash_crashes_the_coordinator_while_its_commit_is_in_flight(
        leader_machine: Any, stage: str) -> None:
    m = leader_machine
    coordinator = m.raw.leader_of(m.raw.partition_of(T, {"pk": "k0"}))
    at_crash: list[tuple[set[str], int, bool]] = []
    forward = m.raw.crash

    def crash(node: str) -> None:
        at_crash.append(({x.kind for x in m.raw.messages_in_flight()}, len(m.raw.steps),
                         all(h.done for h in m.handles.values())))
        forward(node)

    m.raw.crash = crash
    m.nemesis_commit_crash(["k0", "k1", "k2"], 2, ["x", "y", "z"], stage, 2, "crash", 1.0)
    assert m.marked == {"commit-crash"}
    crashes = [s for s in m.raw.steps if "crash" in s or "restart" in s]
    assert crashes == [{"crash": coordinator}, {"restart": coordinator}]
    ((in_flight, at, settled),) = at_crash
    assert not settled  # the transaction was still waiting for its answer
    seen = in_flight | {w[w.rindex("(") + 1:-1] for w in m.raw.described(0, at)
                        if w.startswith("deliver")}
    assert stage in seen  # its commit was under way: a message of the stage was sent
    ops = m.rec.history().operations
    assert ops[0].f == "transact-write"
    reads = [op for op in ops if op.f == "get-strong"]
    assert [op.input["key"]["pk"]["S"] for op in reads] == ["k0", "k1"]
    assert all(op.call > ops[0].call for op in reads) and not m.crashed


def test_commit_crash_can_cut_the_coordinator_off_instead(leader_machine: Any) -> None:
    m = leader_machine
    coordinator = m.raw.leader_of(m.raw.partition_of(T, {"pk": "k1"}))
    m.nemesis_commit_crash(["k1", "k0", "k2"], 3, ["x", "y", "z"], "prepare", 0, "isolate",
                           0.3)
    kinds = [next(iter(s)) for s in m.raw.steps]
    assert {"partition": [[coordinator], sorted(n for n in NODES if n != coordinator)]} \
        in m.raw.steps
    assert kinds.index("heal") > kinds.index("partition") and "crash" not in kinds


def test_commit_crash_can_orphan_the_coordinator_from_its_own_replicas(
        leader_machine: Any) -> None:
    m = leader_machine
    partition = m.raw.partition_of(T, {"pk": "k1"})
    coordinator = m.raw.leader_of(partition)
    fellows = sorted(n for n in m.raw.partition_replicas(partition) if n != coordinator)
    m.nemesis_commit_crash(["k1", "k0", "k2"], 2, ["x", "y", "z"], "prepare", 0, "orphan",
                           0.3)
    rest = sorted(n for n in NODES if n not in fellows)
    assert {"partition": [fellows, rest]} in m.raw.steps and coordinator in rest


# -- pause and resume as schedule steps -----------------------------------------------------


def comparable(history: Any) -> list[tuple[Any, ...]]:
    return [(op.process, op.f, op.key, op.input, op.output, op.status)
            for op in history.operations]


def test_a_schedule_with_pause_and_resume_round_trips_and_replays_to_the_same_history(
        leader_machine: Any) -> None:
    m = leader_machine
    m.nemesis_leader_churn("k2", "pause", 2, ["a1", "a2", "a3", "a4", "a5", "a6"])
    schedule = m.raw.schedule()
    kinds = [next(iter(s)) for s in schedule.steps]
    assert kinds.count("pause") == 2 and kinds.count("resume") == 2
    assert loads(dumps(schedule)) == schedule
    result = replay(loads(dumps(schedule)))
    assert comparable(result.history) == comparable(m.rec.history())
    assert describe_step({"pause": "n2"}) == (
        "pause n2 (frozen: it receives nothing, fires no timer)")
    assert describe_step({"resume": "n2"}) == "resume n2"


def test_the_shrinkers_epilogue_resumes_what_the_kept_steps_left_paused() -> None:
    kept = [{"pause": "n1"}, {"pause": "n2"}, {"resume": "n2"}, {"crash": "n3"}]
    assert canonical_epilogue(kept, [], faults=True) == [
        {"heal": {}}, {"restart": "n3"}, {"resume": "n1"}, {"run": {}}]


# -- inside the concurrency property --------------------------------------------------------


def small(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    stateful_step_count=20, print_blob=False,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def answered_undecided_status(self: Any, m: Any, src: str) -> None:
    """transactions.py:411 mutated (``is not None`` -> ``is None``): a participant in
    doubt asking for a transaction's outcome is told "no decision" (and aborts) while
    the home partition has not decided, and is never told a decision it has."""
    r = self.replica
    outcome = r.applied.decisions.get(m.txid)
    if outcome is None:
        r.send(src, transactions.Decision(m.asker, m.txid, outcome))
        return
    if not r.is_leader or m.txid in self.writes:
        return
    if m.txid in r.spec.decisions:
        return
    entry = r.append("decide", txid=m.txid, outcome="abort")
    r.on_commit(entry.index, lambda: r.send(
        src, transactions.Decision(m.asker, m.txid, r.applied.decisions[m.txid])))


def dynamodb() -> Store:
    store: Store = preset("dynamodb")
    return store


def test_the_commit_crash_finds_a_participant_told_no_decision(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """transactions.py:411 mutated survives the concurrency property (a small search
    here; the ci profile too, benchmarks/mutation_triage.json). Pausing the
    coordinator of a cross-partition transaction while its participants prepare
    leaves the other participant in doubt; told "no decision" it aborts its part of
    a transaction the home partition commits and answers ok: a strong read of the
    aborted item then finds nothing. The reference store keeps the same schedule
    atomic."""
    plain = concurrency_machine(dynamodb)
    surface = probe_surface(dynamodb())
    with_nemesis = type("T", (nemesis_rules(surface), plain), {})

    def pause_mid_commit() -> Any:
        m = with_nemesis()
        m.start()
        m.nemesis_commit_crash(["k0", "k1", "k2"], 2, ["x", "y", "z"], "prepare", 0,
                               "pause", 0.3)
        assert m.marked == {"commit-crash"}
        return m

    pause_mid_commit().teardown()  # the reference store: no violation
    monkeypatch.setattr(transactions.Coordinator, "on_status", answered_undecided_status)
    monkeypatch.setattr(verdicts, "OBSERVATIONS", [])  # the mutant's are not the store's
    run_state_machine_as_test(plain, settings=small(20))
    m = pause_mid_commit()
    with pytest.raises(GuaranteeViolation) as raised:
        m.teardown()
    # the transaction answered ok; a strong read of one of its items finds nothing
    assert "linearizable-strong-reads" in raised.value.guarantees
    assert "TransactWriteItems [Put k0" in str(raised.value)
    counterexample = raised.value.counterexample
    assert counterexample is not None
    assert any(re.fullmatch(r"pause n\d .*", step) for step in counterexample.steps)


def timeout_aborting_a_decided_transaction(self: Any, name: str, ident: str) -> None:
    """transactions.py:394 mutated (``== "voting"`` -> ``< "voting"``): the vote
    timeout aborts a transaction already deciding ("deciding" sorts before
    "voting")."""
    if name == "txn-timeout":
        txn = self.writes.get(ident)
        if txn is not None and txn.phase < "voting":
            self._abort(txn, None)
        return
    FORWARD_TIMER(self, name, ident)


FORWARD_TIMER = transactions.Coordinator.on_timer


def test_orphaning_the_coordinator_finds_a_timeout_that_aborts_a_decided_transaction(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """transactions.py:394 mutated survives the concurrency property (the ci
    profile, benchmarks/mutation_triage.json). A coordinator cut off from its own
    partition's replicas once it has the votes cannot commit its decision; the
    mutated vote timeout then aborts the transaction and tells the participants,
    while the commit decision already in its log wins: a partial transaction. The
    reference store keeps the same schedule atomic."""
    surface = probe_surface(dynamodb())
    cls = type("T", (nemesis_rules(surface), concurrency_machine(dynamodb)), {})

    def orphan_mid_commit() -> Any:
        m = cls()
        m.start()
        m.nemesis_commit_crash(["k1", "k0", "k2"], 2, ["x", "y", "z"], "txn-vote", 6,
                               "orphan", 1.0)
        assert m.marked == {"commit-crash"}
        return m

    orphan_mid_commit().teardown()  # the reference store: no violation
    monkeypatch.setattr(transactions.Coordinator, "on_timer",
                        timeout_aborting_a_decided_transaction)
    monkeypatch.setattr(verdicts, "OBSERVATIONS", [])
    m = orphan_mid_commit()
    with pytest.raises(GuaranteeViolation) as raised:
        m.teardown()
    assert "linearizable-strong-reads" in raised.value.guarantees
    assert "TransactWriteItems [Put k1" in str(raised.value)


class Watched:
    """A store behind a proxy noting the name of every attribute read."""

    def __init__(self, store: Any, seen: set[str]) -> None:
        self._store, self._seen = store, seen

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._seen.add(name)
        return getattr(self._store, name)


@pytest.mark.parametrize("target", ["dynamodb", "dynamo-quorum"])
def test_the_rules_touch_only_the_declared_surface(target: str) -> None:
    seen: set[str] = set()

    def factory() -> Any:
        return Watched(preset(target), seen)

    surface = probe_surface(factory())
    m = type("T", (nemesis_rules(surface), concurrency_machine(factory)), {})()
    m.start()
    m.nemesis_leader_partition("k0", True)
    m.nemesis_split("bridge", list(NODES))
    m.nemesis_leader_churn("k1", "pause", 2, ["a1", "a2", "a3", "a4", "a5", "a6"])
    m.nemesis_leader_churn("k2", "crash", 2, ["b1", "b2", "b3", "b4", "b5", "b6"])
    if surface.transactions:
        for how in ("pause", "isolate", "orphan", "crash"):
            m.nemesis_commit_crash(["k1", "k0", "k2"], 3, ["x", "y", "z"], "txn-vote", 1,
                                   how, 0.3)
    m.teardown()
    assert {"partition", "pause", "resume", "crash", "restart"} <= seen
    assert seen <= surface_names(), sorted(seen - surface_names())


def test_the_nemesis_rules_keep_the_reference_store_correct() -> None:
    surface = probe_surface(dynamodb())
    cls = type("T", (nemesis_rules(surface), concurrency_machine(dynamodb)), {})
    run_state_machine_as_test(cls, settings=small(6))
