"""Each rule class's turn in an example (properties/search/plan.py): which rules act
for a class, when a turn runs, waits, gives way to the class's next rule and gives up,
that a class switched off takes no turn, and the share of a ci run's examples each
class acts in."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
)

from replicheck.implementation.presets import preset
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.search import registry
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.search.plan import TURN_TRIES, Turn, Turns, class_rules
from replicheck.properties.search.swarm import applicable_classes, swarm_rules
from replicheck.properties.suite import STEPS


class _Toy(RuleBasedStateMachine):
    """Class ``a``'s rule ``act`` acts when ``ready`` (it logs the step it ran at);
    class ``b``'s rule ``idle`` never acts; ``w`` is the workload."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = True
        self.acted_at: list[tuple[int, int]] = []
        self.tried = 0

    @precondition(lambda self: self.swarm_on("a") and self.ready)
    @rule(tag=st.integers(0, 9))
    def act(self: Any, tag: int) -> None:
        self.acted_at.append((self.turn_step, tag))
        self.mark("a")

    @precondition(lambda self: self.swarm_on("b"))
    @rule()
    def idle(self) -> None:
        self.tried += 1

    @precondition(lambda self: self.swarm_on("w"))
    @rule()
    def work(self: Any) -> None:
        self.mark("w")


def _toy() -> Any:
    swarm = swarm_rules(("a", "b", "w"), always=("w",), machine_rules={})
    return type("Toy", (swarm, Turns, _Toy), {})


def test_class_rules_are_the_rules_asking_about_one_class() -> None:
    machine = _toy()()
    assert class_rules(machine) == {"a": ("act",), "b": ("idle",), "w": ("work",)}


def _search_machine(name: str) -> Any:
    factory = functools.partial(preset, name, 0)
    return registry.search_machine(concurrency_machine(factory, target=name),
                                   probe_surface(factory()))()


def test_the_search_machine_gives_every_applicable_class_its_rules() -> None:
    machine = _search_machine("dynamodb")
    try:
        rules = class_rules(machine)
        assert set(rules) == applicable_classes(machine)
    finally:
        machine.teardown()
    assert "anti-entropy" not in rules  # dynamodb has no anti-entropy to run
    assert rules["hold-message"] == ("hold_message",)
    assert "crash" in rules["crashes"]
    assert "race" in rules["races"]
    assert set(rules["window-jump"]) == {"token_after_window", "token_within_window",
                                         "window_jump"}


def test_a_class_takes_only_the_rules_the_store_can_run() -> None:
    machine = _search_machine("dynamo-lww")  # no transactions: no client tokens
    try:
        rules = class_rules(machine)
    finally:
        machine.teardown()
    assert rules["window-jump"] == ("window_jump",)
    assert "transactions" not in rules and "anti-entropy" in rules


def test_a_turn_runs_its_rule_at_its_step_and_once() -> None:
    machine = _toy()()
    machine.turns = [Turn("a", 3, (("act", {"tag": 7}),))]
    for _ in range(6):
        machine.take_turns()
    assert machine.acted_at == [(3, 7)] and machine.turns == []


def test_a_turn_waits_for_its_preconditions() -> None:
    machine = _toy()()
    machine.ready = False
    machine.turns = [Turn("a", 1, (("act", {"tag": 1}),))]
    for _ in range(4):
        machine.take_turns()
    assert machine.acted_at == [] and len(machine.turns) == 1
    machine.ready = True
    machine.take_turns()
    assert machine.acted_at == [(5, 1)] and machine.turns == []


def test_a_turn_that_does_not_act_tries_again_then_gives_up() -> None:
    machine = _toy()()
    machine.turns = [Turn("b", 1, (("idle", {}),))]
    for _ in range(TURN_TRIES + 3):
        machine.take_turns()
    assert machine.tried == TURN_TRIES and machine.turns == []


def test_a_class_switched_off_skips_its_turn() -> None:
    machine = _toy()()
    machine.enabled = frozenset({"w"})
    machine.turns = [Turn("a", 1, (("act", {"tag": 1}),))]
    machine.take_turns()
    assert machine.acted_at == [] and machine.turns == []


@pytest.mark.parametrize("name", ["dynamo-lww", "dynamo-quorum"])
def test_every_rule_class_acts_in_a_tenth_of_a_ci_run(name: str, tmp_path: Any) -> None:
    """The share registry.MINIMUM_SHARE of the examples of a 100-example ``ci`` run
    of the concurrency property with the whole fault search, per rule class that
    applies to the store (the stores without transactions: with them each example
    costs seconds of judging; benchmarks/bench_class_coverage.py measures every
    preset)."""
    factory = functools.partial(preset, name, 0)
    reported, shares = registry.class_shares(factory, name, examples=100, steps=STEPS,
                                             failure_dir=str(tmp_path))
    assert reported >= 100
    rare = {c: s for c, s in shares.items() if s < registry.MINIMUM_SHARE}
    assert not rare, rare


def test_a_call_that_does_not_act_gives_way_to_the_classes_next_rule() -> None:
    machine = _toy()()
    machine.turns = [Turn("a", 1, (("idle", {}), ("act", {"tag": 4})))]
    machine.take_turns()
    assert machine.tried == 1 and machine.acted_at == [] and len(machine.turns) == 1
    machine.take_turns()
    assert machine.acted_at == [(2, 4)] and machine.turns == []


def test_a_call_whose_preconditions_fail_yields_to_one_that_holds() -> None:
    machine = _toy()()
    machine.ready = False
    machine.turns = [Turn("a", 1, (("act", {"tag": 1}), ("idle", {})))]
    machine.take_turns()
    assert machine.tried == 1 and machine.acted_at == []


def test_a_class_applies_only_where_its_rules_can_act() -> None:
    """global-tables declares no leaders and no preference lists: commit-crash cannot
    name a transaction's coordinator there, so it does not apply (else it would
    count as a class that never acts)."""
    machine = _search_machine("global-tables")
    try:
        assert "commit-crash" not in applicable_classes(machine)
        assert "commit-crash" not in class_rules(machine)
    finally:
        machine.teardown()
    dynamodb = _search_machine("dynamodb")
    try:
        assert "commit-crash" in applicable_classes(dynamodb)
    finally:
        dynamodb.teardown()
