"""Swarm testing over rule classes, the per-example class counts, and the depth
steering (properties/search/swarm.py, properties/search/registry.py)."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)

from replicheck.implementation.presets import preset
from replicheck.models.items.requests import Put
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import ExampleReport, collecting
from replicheck.properties.profiles import source_independent
from replicheck.properties.search import registry
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.search.swarm import (
    CLASSES,
    MACHINE_RULE_CLASSES,
    DepthSteering,
    applicable_classes,
    class_counts,
    swarm_rules,
)


def _quick(examples: int, steps: int = 10, *, shrink: bool = False) -> settings:
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.generate)
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    stateful_step_count=steps, print_blob=False, phases=phases,
                    suppress_health_check=list(HealthCheck))


def _machine(name: str = "dynamodb") -> Any:
    """The concurrency machine of preset ``name`` with the swarm over its own rule
    classes mixed in first."""
    factory = functools.partial(preset, name, 0)
    return type("T", (swarm_rules(CLASSES), concurrency_machine(factory, target=name)), {})


def _preconditions_hold(machine: Any, rule_name: str) -> bool:
    record = getattr(type(machine), rule_name).hypothesis_stateful_rule
    return all(condition(machine) for condition in record.preconditions)


def test_a_swarmed_example_switches_off_every_rule_of_a_class() -> None:
    machine = _machine()()
    try:
        switchable = type(machine).swarm_classes
        workload = {"workload", "races", "transactions"}
        assert not workload & set(switchable)
        machine.swarm(mode="swarmed", switches=[False] * len(switchable))
        assert machine.enabled == workload
        assert not machine.steers
        for name in ("partition", "isolate", "heal", "crash", "skew", "decide"):
            assert not _preconditions_hold(machine, name), name
        for name in ("submit", "race", "idempotent", "guarded"):  # the workload stays
            assert _preconditions_hold(machine, name), name
        on = [c == "partitions" for c in switchable]
        machine.swarm(mode="swarmed", switches=on)
        assert machine.enabled == workload | {"partitions"}
        assert _preconditions_hold(machine, "partition")
        assert not _preconditions_hold(machine, "crash")
        machine.swarm(mode="full", switches=[False] * len(switchable))
        assert machine.enabled == frozenset(CLASSES) and machine.steers
        machine.swarm(mode="plain", switches=[True] * len(switchable))
        assert machine.enabled == frozenset(MACHINE_RULE_CLASSES.values())
        assert machine.steers
        with pytest.raises(ValueError, match="swarm mode"):
            machine.swarm(mode="half", switches=[True] * len(switchable))
    finally:
        machine.teardown()


def test_a_machine_rule_marks_its_class_only_when_it_acted() -> None:
    machine = _machine()()
    try:
        node = machine.raw.nodes[0]
        machine.crash(node=node)
        assert machine.marked == {"crashes"}
        machine.marked.clear()
        machine.crash(node=machine.raw.nodes[1])  # one node down already: no-op
        assert machine.marked == set()
        machine.partition(side={node})
        machine.call(client="c0", request=Put("items", {"pk": "k0", "v": "a"}))
        assert machine.marked == {"partitions", "workload"}
    finally:
        machine.teardown()


def test_swarm_on_refuses_a_class_nobody_registered() -> None:
    machine = _machine()()
    try:
        with pytest.raises(KeyError, match="hold-messages"):
            machine.swarm_on("hold-messages")
    finally:
        machine.teardown()


def test_every_machine_rule_class_is_a_swarm_class() -> None:
    assert set(MACHINE_RULE_CLASSES.values()) == set(CLASSES)
    with pytest.raises(ValueError, match="partitions"):
        swarm_rules(("workload",))


class _Toy(RuleBasedStateMachine):
    """Two rule classes; the example fails once class ``a`` acted three times."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    @precondition(lambda self: self.swarm_on("a"))
    @rule()
    def step_a(self) -> None:
        self.count += 1
        self.mark("a")
        assert self.count < 3

    @precondition(lambda self: self.swarm_on("b"))
    @rule(n=st.integers(0, 3))
    def step_b(self, n: int) -> None:
        self.mark("b")

    @rule()
    def idle(self) -> None:
        self.mark("w")


SHRUNK: list[Any] = []


def test_shrinking_switches_off_the_classes_a_failure_does_not_need() -> None:
    base = type("Toy", (swarm_rules(("a", "b", "w"), always=("w",), machine_rules={}),
                        _Toy), {})

    class Toy(base):  # type: ignore[valid-type,misc]
        def teardown(self) -> None:
            SHRUNK.append((self.steers, self.enabled))

    SHRUNK.clear()
    with pytest.raises(AssertionError):
        run_state_machine_as_test(Toy, settings=_quick(200, 20, shrink=True))
    steers, enabled = SHRUNK[-1]  # the minimal example, replayed last
    assert (steers, enabled) == (False, {"a", "w"})


def test_every_report_carries_the_classes_that_acted() -> None:
    factory = functools.partial(preset, "dynamo-lww", 0)
    machine = registry.search_machine(concurrency_machine(factory, target="dynamo-lww"),
                                      probe_surface(factory()))
    with collecting() as reports, source_independent():
        run_state_machine_as_test(machine, settings=_quick(8, 12))
    every = set(registry.all_classes())
    assert reports and all(r.classes <= every for r in reports)
    assert any("workload" in r.classes for r in reports)
    assert any(len(r.classes) > 2 for r in reports)
    assert class_counts(reports) == {
        c: sum(c in r.classes for r in reports) for c in {c for r in reports for c in r.classes}}


def test_class_counts_counts_examples_not_actions() -> None:
    reports = [ExampleReport("p", classes=frozenset({"a", "b"})),
               ExampleReport("p", classes=frozenset({"a"})), ExampleReport("p")]
    assert class_counts(reports) == {"a": 2, "b": 1}


def test_the_registry_names_every_class_once_with_the_machines_first() -> None:
    names = registry.all_classes()
    assert names[:len(CLASSES)] == CLASSES
    assert len(set(names)) == len(names)
    for module in registry.rule_modules():
        assert set(module.CLASSES) <= set(names)


def test_applicable_classes_follow_the_stores_surface() -> None:
    lww = _machine("dynamo-lww")()
    dynamodb = _machine("dynamodb")()
    try:
        assert "transactions" not in applicable_classes(lww)
        assert "anti-entropy" in applicable_classes(lww)
        assert {"transactions", "partitions", "crashes"} <= applicable_classes(dynamodb)
        assert "anti-entropy" not in applicable_classes(dynamodb)
    finally:
        lww.teardown()
        dynamodb.teardown()


def _steered(name: str) -> Any:
    factory = functools.partial(preset, name, 0)
    return type("S", (swarm_rules(CLASSES), DepthSteering,
                      concurrency_machine(factory, target=name)), {})()


def test_depth_steering_counts_leader_changes_and_isolated_nodes() -> None:
    machine = _steered("dynamodb")
    try:
        machine.call(client="c0", request=Put("items", {"pk": "k0", "v": "a"}))
        machine.sample_depth()
        partition = machine.raw.partition_of("items", {"pk": "k0"})
        leader = machine.raw.leader_of(partition)
        assert leader is not None and machine.leader_changes == 0
        machine.raw.partition([[leader], [n for n in machine.raw.nodes if n != leader]])
        machine.sample_depth()
        assert machine.isolated == {leader}
        for _ in range(40):
            machine.wait(seconds=1.0)
            machine.sample_depth()
            if machine.leader_changes:
                break
        assert machine.leader_changes == 1
        assert machine.raw.leader_of(partition) not in (None, leader)
    finally:
        machine.teardown()


def test_depth_steering_keeps_the_peak_of_messages_in_flight() -> None:
    machine = _steered("dynamo-quorum")
    try:
        machine.sample_depth()
        assert machine.peak_messages == 0
        machine.submit(client="c0", request=Put("items", {"pk": "k0", "v": "a"}))
        machine.sample_depth()
        peak = machine.peak_messages
        assert peak == len(machine.raw.messages_in_flight()) > 0
        machine.run_fair(steps=20)
        machine.sample_depth()
        assert machine.peak_messages >= peak
    finally:
        machine.teardown()


def test_class_shares_are_the_shares_of_examples_each_applicable_class_acted_in(
        tmp_path: Any) -> None:
    factory = functools.partial(preset, "dynamo-lww", 0)
    reported, shares = registry.class_shares(factory, "dynamo-lww", examples=5, steps=8,
                                             failure_dir=str(tmp_path))
    machine = registry.search_machine(concurrency_machine(factory, target="dynamo-lww"),
                                      probe_surface(factory()))()
    try:
        applicable = applicable_classes(machine)
    finally:
        machine.teardown()
    assert reported >= 5
    assert set(shares) == applicable
    assert "transactions" not in shares and "anti-entropy" in shares
    assert all(abs(s * reported - round(s * reported)) < 1e-9 for s in shares.values())
    assert all(0.0 <= s <= 1.0 for s in shares.values()) and max(shares.values()) > 0
