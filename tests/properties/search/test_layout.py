"""Keys chosen for the store's layout: the groups follow what the store declares
(one range, neighbouring ranges, one partition, distinct partitions), the rule writes
a group, syncs its range and reads it back, and keys outside the workload's pool are
observed and judged like any other."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.histories.history import Operation, pair
from replicheck.histories.items import (
    operation_records,
    request_from_json,
    tables_record,
)
from replicheck.implementation.mutants.escapees import anti_entropy_pushes_one_key
from replicheck.implementation.presets import preset
from replicheck.models.items.requests import Get, Put, Response
from replicheck.models.items.values import key_text
from replicheck.properties import strategies
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.guarantees import VIOLATED, judge_guarantee
from replicheck.properties.search.driver import Surface, probe_surface
from replicheck.properties.search.layout import (
    CLASSES,
    GROUP_SIZE,
    KINDS,
    LAYOUT_KEYS,
    LAYOUT_KEYS_CLASS,
    LayoutGroups,
    layout_groups,
    layout_rules,
)

TABLE, PK = "items", "pk"


def _partition(store: Any, surface: Surface, key: str) -> Any:
    if surface.leaders:
        return store.partition_of(TABLE, {PK: key})
    name = store.range_of(TABLE, (key,))
    return next(frozenset(r.replicas) for r in store.key_ranges(TABLE) if r.name == name)


@pytest.mark.parametrize("name", ["dynamodb", "dynamo-quorum", "global-tables"])
def test_groups_follow_the_declared_layout(name: str) -> None:
    store = preset(name)
    surface = probe_surface(store)
    groups = layout_groups(surface, store)
    assert groups == layout_groups(surface, preset(name))  # a function of the layout
    order = [r.name for r in store.key_ranges(TABLE)]

    def range_of(key: str) -> str:
        return str(store.range_of(TABLE, (key,)))

    for kind in KINDS:
        for group in groups.of(kind):
            assert 2 <= len(group) <= GROUP_SIZE and len(set(group)) == len(group)
            assert set(group) <= set(LAYOUT_KEYS)
    for group in groups.one_range:
        assert len({range_of(k) for k in group}) == 1
    for group in groups.sibling_ranges:
        held = sorted({order.index(range_of(k)) for k in group})
        assert len(held) == 2 and held[1] == held[0] + 1
    for group in groups.one_partition:
        assert len({_partition(store, surface, k) for k in group}) == 1
    for group in groups.across_partitions:
        assert len({_partition(store, surface, k) for k in group}) == len(group)
    if len(order) > 1:
        assert all(groups.of(kind) for kind in KINDS)
    else:  # global tables: one range, one partition
        assert groups.one_range and groups.one_partition
        assert not groups.sibling_ranges and not groups.across_partitions
    if name == "dynamo-quorum":  # one replica set holds several ranges of the ring
        assert set(groups.one_partition) != set(groups.one_range)


def test_no_topology_no_groups() -> None:
    surface = Surface(nodes=(), table=TABLE, pk=PK)
    assert layout_groups(surface, object()) == LayoutGroups()
    assert CLASSES == (LAYOUT_KEYS_CLASS,)


def _machine(name: str) -> Any:
    factory = lambda: preset(name)  # noqa: E731
    machine = type("T", (layout_rules(probe_surface(factory())),
                         concurrency_machine(factory)), {})()
    machine.start()
    return machine


def _request(op: Operation) -> Any:
    return request_from_json(op.input, op.f)


def _ops(machine: Any) -> list[Operation]:
    return sorted(machine.rec.history().operations, key=lambda op: op.call)


def test_one_range_written_synced_and_read_back() -> None:
    machine = _machine("dynamo-quorum")
    store = machine.raw
    groups = layout_groups(machine.surface, store)
    keys = groups.one_range[1]
    assert len({store.range_of(TABLE, (k,)) for k in keys}) == 1
    machine.layout_keys("one-range", 1, ["v1", "v2", "v3", "v4"], "puts", True, False, "c0")
    ops = _ops(machine)
    puts = [op for op in ops if op.f == "put"]
    reads = [op for op in ops if op.f.startswith("get")]
    assert [_request(op).item[PK] for op in puts] == list(keys)
    assert [_request(op).key[PK] for op in reads] == list(keys)
    assert all(op.status == "ok" for op in ops)
    assert min(op.call for op in reads) > max(op.ret for op in puts)
    syncs = [r.value for r in machine.rec.history().observations if r.f == "anti-entropy"]
    assert len(syncs) == 1
    replicas = next(r.replicas for r in store.key_ranges(TABLE)
                    if r.name == store.range_of(TABLE, (keys[0],)))
    assert {syncs[0]["initiator"], syncs[0]["peer"]} <= set(replicas)
    assert LAYOUT_KEYS_CLASS in machine.marked
    machine.teardown()
    final = [r.value for r in machine.rec.history().observations if r.f == "replicas"][-1]
    held = {k for entries in final["replicas"].values() for k in entries}
    assert {key_text((k,)) for k in keys} <= held  # every key is read, not only k0..k2


def test_across_partitions_in_one_transaction() -> None:
    machine = _machine("dynamodb")
    keys = layout_groups(machine.surface, machine.raw).across_partitions[0]
    machine.layout_keys("across-partitions", 0, ["v1", "v2", "v3", "v4"], "transaction",
                        False, False, "c1")
    ops = _ops(machine)
    assert ops[0].f == "transact-write" and ops[0].status == "ok"
    written = [a.item[PK] for a in _request(ops[0]).actions]
    assert written == list(keys)
    assert len({machine.raw.partition_of(TABLE, {PK: k}) for k in written}) == len(written)
    assert [_request(op).key[PK] for op in ops[1:]] == list(keys)
    machine.teardown()


def test_one_partition_written_at_once_from_several_clients() -> None:
    machine = _machine("dynamodb")
    keys = layout_groups(machine.surface, machine.raw).one_partition[0]
    machine.layout_keys("one-partition", 0, ["v1", "v2", "v3", "v4"], "concurrent",
                        False, False, "c0")
    puts = [op for op in _ops(machine) if op.f == "put"]
    assert [_request(op).item[PK] for op in puts] == list(keys)
    assert len({op.process for op in puts}) == len(keys)
    assert max(op.call for op in puts) < min(op.ret for op in puts)  # all in flight at once
    machine.teardown()


def test_keys_outside_the_workload_pool_are_judged() -> None:
    key = next(k for k in LAYOUT_KEYS if k not in strategies.KEYS)
    descriptor = preset("dynamodb").descriptor
    records = [tables_record(descriptor.tables)]
    records += operation_records(0, Put(TABLE, {PK: key, "v": "v1"}), Response(), index=1)
    records += operation_records(0, Get(TABLE, {PK: key}, consistent=True), Response(None),
                                 index=3)
    judgement = judge_guarantee("linearizable-strong-reads", pair(records), descriptor)
    assert judgement.status == VIOLATED
    assert key in judgement.explanation()


def _search(examples: int, steps: int) -> settings:
    return settings(max_examples=examples, stateful_step_count=steps, derandomize=True,
                    database=None, deadline=None, print_blob=False,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", ["dynamodb", "dynamo-lww"])
def test_search_with_the_layout_rule_passes_on_the_reference_stores(name: str) -> None:
    factory = lambda: preset(name)  # noqa: E731
    machine = type("T", (layout_rules(probe_surface(factory())),
                         concurrency_machine(factory, max_steps=10)), {})
    run_state_machine_as_test(machine, settings=_search(10, 10))


def test_cut_off_replica_leaves_the_range_divergent_for_the_session() -> None:
    machine = _machine("dynamo-lww")
    store = machine.raw
    keys = layout_groups(machine.surface, store).one_range[1]
    name = store.range_of(TABLE, (keys[0],))
    behind = next(r.replicas for r in store.key_ranges(TABLE) if r.name == name)[-1]
    machine.layout_keys("one-range", 1, ["v1", "v2", "v3", "v4"], "puts", True, True, "c0")
    (session,) = [r.value for r in machine.rec.history().observations
                  if r.f == "anti-entropy"]
    assert session["initiator"] == behind  # the replica that was cut off
    assert {key_text((k,)) for k in keys} <= set(session["differing"])
    assert not store.cut_off() and all(store.reachable(behind, n) for n in store.nodes)
    machine.teardown()


def test_search_catches_a_one_key_push_only_with_the_layout_rule() -> None:
    base = concurrency_machine(anti_entropy_pushes_one_key, max_steps=10)
    run_state_machine_as_test(base, settings=_search(20, 10))  # the suite today misses it
    with_rule = type("T", (layout_rules(probe_surface(anti_entropy_pushes_one_key())), base),
                     {})
    with pytest.raises(GuaranteeViolation) as failure:
        run_state_machine_as_test(with_rule, settings=_search(20, 10))
    assert "anti-entropy-exact" in failure.value.guarantees


def test_a_divergent_range_and_its_session_replay_to_the_same_history() -> None:
    from replicheck.properties.replay import replay
    from replicheck.properties.schedule import completed_schedule

    factory = lambda: preset("dynamo-lww")  # noqa: E731
    machine = type("T", (layout_rules(probe_surface(factory())),
                         concurrency_machine(factory, target="dynamo-lww")), {})()
    machine.start()
    machine.layout_keys("one-range", 1, ["v1", "v2", "v3", "v4"], "puts", True, True, "c0")
    machine.teardown()
    replayed = replay(completed_schedule(machine.raw))

    def sessions(history: Any) -> list[Any]:
        return [r.value for r in history.observations if r.f == "anti-entropy"]

    assert sessions(replayed.history)[0] == sessions(machine.rec.history())[0]
    assert [(op.f, op.status, op.output) for op in replayed.history.operations] == [
        (op.f, op.status, op.output) for op in machine.rec.history().operations]
