"""One framework for every scheduled property: each property's machine is built on
:class:`~replicheck.properties.scheduled.Scheduled`, records every call it makes to
the store as a schedule step, and offers the fault-search Driver surface, so a rule
class mixed into any of them acts on the store."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule, run_state_machine_as_test

from replicheck.implementation.presets import preset
from replicheck.models.items.requests import Delete, Get, Put, TransactWrite, Update
from replicheck.properties import suite
from replicheck.properties.clocks import clocks_machine, foreign_keys
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import collecting
from replicheck.properties.replicas import replicas_machine
from replicheck.properties.schedule import submit_step
from replicheck.properties.scheduled import Scheduled
from replicheck.properties.search import swarm
from replicheck.properties.search.driver import Driver
from replicheck.properties.search.registry import rule_mixins
from replicheck.properties.streams import streams_machine
from replicheck.properties.suite import STEPS, property_named

SCHEDULED = (
    ("concurrent-histories-under-faults", "dynamodb"),
    ("concurrent-histories-under-faults", "dynamo-quorum"),
    ("convergence-after-anti-entropy", "dynamo-lww"),
    ("convergence-after-anti-entropy", "global-tables"),
    ("stream-exactly-once-in-order", "dynamodb"),
    ("vector-clocks-and-siblings", "dynamo-quorum"),
)
"""Every scheduled property, on a preset it applies to (both modes where it has two)."""

DRIVER = ("surface", "raw", "rec", "handles", "crashed", "paused", "swarm_on", "mark",
          "idle", "run_request", "replica", "fair", "bring_back")
"""What :class:`Driver` declares."""


def _machine(name: str, store: str) -> type[Scheduled]:
    prop = property_named(name)
    assert prop.skip_reason(preset(store).descriptor) is None
    machine = prop.build(lambda: preset(store), store, 0)
    assert issubclass(machine, Scheduled)
    return machine


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    stateful_step_count=STEPS, print_blob=False,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def test_the_driver_surface_is_what_the_base_offers() -> None:
    declared = {n for n in vars(Driver) if not n.startswith("_")} | set(
        Driver.__annotations__)
    assert declared == set(DRIVER)


@pytest.mark.parametrize(("name", "store"), SCHEDULED)
def test_every_scheduled_property_offers_the_driver_and_records_its_steps(
        name: str, store: str) -> None:
    machine = _machine(name, store)()
    try:
        assert all(hasattr(machine, member) for member in DRIVER)
        assert machine.surface.nodes == tuple(preset(store).nodes)
        client = machine.idle("c0")
        assert client == "c0"
        key = "k0"
        first = machine.replica(key, 0)
        located = machine.surface.leaders or machine.surface.owners
        assert (first in machine.surface.nodes) if located else first is None
        handle = machine.run_request(client, Put(machine.surface.table,
                                                 {machine.surface.pk: key, "v": "x"}))
        assert handle.done and handle.status == "ok"
        assert machine.handles[client] is handle
        node = first if machine.surface.direct else None
        read = machine.run_request(client, Get(machine.surface.table,
                                               {machine.surface.pk: key}), node=node)
        assert read.done
        kinds = [next(iter(step)) for step in machine.raw.steps]
        assert kinds.count("submit") == 2 and "decide" in kinds
        assert [step["submit"].get("node") for step in machine.raw.steps
                if "submit" in step] == [None, node]
        assert len(machine.rec.history().operations) == 2
        machine.mark("demo")
        assert "demo" in machine.marked
    finally:
        machine.teardown()


class _WritesThroughTheDriver:
    """A rule class written against the Driver surface only: one put run to
    completion, at a chosen replica of its key where the store says which and takes
    requests there."""

    @precondition(lambda self: self.swarm_on("driver-demo"))
    @rule(index=st.integers(0, 2))
    def driver_put(self: Any, index: int) -> None:
        client = self.idle("c0")
        node = self.replica("k1", index) if self.surface.direct else None
        if client is None:
            return
        put = Put(self.surface.table, {self.surface.pk: "k1", "v": f"d{index}"})
        if self.run_request(client, put, node).done:
            self.mark("driver-demo")
            _ACTED.add(self.setup.name)


_ACTED: set[str] = set()


@pytest.mark.parametrize(("name", "store"), SCHEDULED)
def test_a_rule_class_mixed_into_any_scheduled_property_acts(
        name: str, store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a rule class outside the registry: the property's machine without the fault
    # search, whose swarm knows only the registered classes
    monkeypatch.setattr(suite, "FAULT_SEARCH", False)
    _ACTED.discard(name)
    mixed = type("Mixed", (_WritesThroughTheDriver, _machine(name, store)), {})
    with collecting() as reports:
        run_state_machine_as_test(mixed, settings=_settings(6))
    assert name in _ACTED
    assert reports and {r.property for r in reports} == {name}
    assert any("driver-demo" in r.classes for r in reports)  # the classes that acted


def test_no_property_is_numbered() -> None:
    """Properties are named for what they check, never "machine N"."""
    root = Path(__file__).resolve().parents[2]
    numbered = re.compile("machines? " + r"\d", re.IGNORECASE)
    found = [f"{path.relative_to(root)}:{i + 1}"
             for folder in ("properties", "tests", "benchmarks", "reports", "docs")
             for path in sorted((root / folder).rglob("*"))
             if path.suffix in (".py", ".md")
             for i, line in enumerate(path.read_text(encoding="utf-8").splitlines())
             if numbered.search(line)]
    found += [f"README.md:{i + 1}" for i, line in enumerate(
        (root / "README.md").read_text(encoding="utf-8").splitlines()) if numbered.search(line)]
    assert found == []


@pytest.mark.parametrize(("name", "store"), SCHEDULED)
def test_with_the_fault_search_every_scheduled_property_draws_every_rule_class(
        name: str, store: str) -> None:
    prop = property_named(name)
    builder = {"concurrent-histories-under-faults": concurrency_machine,
               "convergence-after-anti-entropy": replicas_machine,
               "stream-exactly-once-in-order": streams_machine,
               "vector-clocks-and-siblings": clocks_machine}[name]
    assert prop.skip_reason(preset(store).descriptor) is None
    plain = {r.function.__name__ for r in builder(lambda: preset(store)).setup_state().rules}
    searching = builder(lambda: preset(store), search=True)
    drawn = {r.function.__name__ for r in searching.setup_state().rules}
    searched = set()
    for mixin in rule_mixins(searching.setup.surface):
        searched |= {n for n in dir(mixin)
                     if hasattr(getattr(mixin, n), "hypothesis_stateful_rule")}
    assert searched and not plain & searched
    assert drawn == plain | searched
    assert issubclass(searching, swarm.DepthSteering)
    with collecting() as reports:
        run_state_machine_as_test(searching, settings=_settings(4))
    assert reports and all(s != "violated" for r in reports for s in r.statuses.values())


def test_a_logged_property_logs_what_a_rule_class_did() -> None:
    machine = streams_machine(lambda: preset("dynamodb"))()
    try:
        machine.run_request("c0", Put("items", {"pk": "k0", "v": "x"}))
        before = machine.log.decisions
        machine.mark("demo-class")
        assert machine.log.steps[-1].startswith("demo-class: c0 submits PutItem")
        assert "deliver" in machine.log.steps[-1]
        assert machine.log.decisions > before + 1
        logged = len(machine.log.steps)
        machine.mark("demo-class")  # nothing done since: nothing logged
        assert len(machine.log.steps) == logged and "demo-class" in machine.marked
    finally:
        machine.teardown()


def test_foreign_writes_are_the_writes_sent_without_a_context() -> None:
    def submit(request: Any, **extra: Any) -> dict[str, Any]:
        step = submit_step("c0", request)
        step["submit"].update(extra)
        return step

    steps = [submit(Put("items", {"pk": "k0", "v": "x"}), node="n1", context={}),
             submit(Get("items", {"pk": "k1"})),
             submit(Update("items", {"pk": "k2"}, "SET v = :v", values={":v": "y"})),
             submit(TransactWrite((Delete("items", {"pk": "k3"}),
                                   Put("items", {"pk": "k4", "v": "z"}))))]
    assert foreign_keys(steps, "pk") == {"k2", "k3", "k4"}
    assert foreign_keys(steps[:2], "pk") == set()


def test_a_write_with_a_context_the_clock_property_does_not_know_may_drop_siblings() -> None:
    """An update coordinated by a replica supersedes the siblings its coordinator held
    (with the coordinator's own context): the clock property, which knows only the
    contexts its own puts carry, must not call that a lost concurrent write."""
    machine = clocks_machine(lambda: preset("dynamo-quorum"))()
    try:
        machine.race("k0", 0)
        machine.fair(2000)
        machine.clocks_only_grow()
        assert machine.most_siblings >= 2
        handle = machine.run_request("c0", Update("items", {"pk": "k0"}, "SET v = :v",
                                                  values={":v": "merged"}), node="n1")
        machine.fair(2000)
        assert handle.status == "ok"
        machine.clocks_only_grow()
        assert not machine.verdicts.failed
        held = [len(e.get("siblings", ())) for e in (machine.held.get((n, '"k0"'))
                                                       for n in machine.surface.nodes)
                if isinstance(e, dict)]
        assert 1 in held  # the update did supersede the siblings somewhere
    finally:
        machine.teardown()
