"""The clock property (vector-clocks-and-siblings): its per-step check of replica entries, and
the machine passing on dynamo-quorum and catching the version-vector mutants."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.mutants.catalog import mutant
from replicheck.implementation.presets import preset
from replicheck.properties.clocks import CLOCKS_PROPERTY, clock_problems, clocks_machine
from replicheck.properties.examples import GuaranteeViolation, collecting
from replicheck.properties.profiles import settings_for
from replicheck.properties.suite import STEPS


def _settings(examples: int) -> settings:
    return settings(settings_for("ci"), max_examples=examples, stateful_step_count=STEPS,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate), print_blob=False,
                    report_multiple_bugs=False, suppress_health_check=list(HealthCheck))


def _entry(clock: dict[str, int], *siblings: tuple[str, int, dict[str, int]]) -> Any:
    return {"siblings": [{"value": None, "dot": [n, c], "clock": seen}
                         for n, c, seen in siblings], "clock": clock}


A = ("n1", 1, {})
B = ("n2", 1, {})


def test_growing_clocks_and_superseded_siblings_are_fine() -> None:
    before = _entry({"n1": 1, "n2": 1}, A, B)
    after = _entry({"n1": 1, "n2": 1, "n3": 1}, ("n3", 1, {"n1": 1, "n2": 1}))
    assert clock_problems("n1", '"k0"', before, after, {"n1": 1, "n2": 1}) == []
    assert clock_problems("n1", '"k0"', None, before, {}) == []


def test_a_clock_going_backwards_is_a_problem() -> None:
    problems = clock_problems("n1", '"k0"', _entry({"n1": 1}, A), _entry({"n2": 1}, B), {})
    assert any("went backwards" in p for p in problems)
    assert any("dropped the sibling n1:1" in p for p in problems)


def test_a_sibling_dropped_without_a_write_that_saw_it_is_a_problem() -> None:
    before = _entry({"n1": 1, "n2": 1}, A, B)
    after = _entry({"n1": 1, "n2": 1}, B)
    assert clock_problems("n3", '"k0"', before, after, {"n1": 1}) == []
    problems = clock_problems("n3", '"k0"', before, after, {"n2": 1})
    assert problems == [p for p in problems if "dropped the sibling n1:1" in p] and problems


def test_a_sibling_held_next_to_a_write_that_saw_it_is_a_problem() -> None:
    after = _entry({"n1": 1, "n2": 1}, A, ("n2", 1, {"n1": 1}))
    problems = clock_problems("n1", '"k0"', None, after, {})
    assert len(problems) == 1 and "supersede every sibling it saw" in problems[0]


def test_the_machine_passes_on_dynamo_quorum() -> None:
    with collecting() as reports:
        run_state_machine_as_test(clocks_machine(lambda: preset("dynamo-quorum")),
                                  settings=_settings(30))
    statuses = [r.statuses.get("vector-clock-order") for r in reports]
    assert {r.property for r in reports} == {CLOCKS_PROPERTY}
    assert "holds" in statuses and "violated" not in statuses


@pytest.mark.parametrize("name", ["concurrent-clocks-ordered", "vv-merge-drops-entries",
                                  "read-repair-drops-sibling"])
def test_the_machine_catches_the_mutant(name: str) -> None:
    bug = mutant(name)
    with collecting() as reports, pytest.raises(GuaranteeViolation) as caught:
        run_state_machine_as_test(clocks_machine(lambda: bug.build(0)),
                                  settings=_settings(100))
    error = caught.value
    assert error.guarantees == ("vector-clock-order",)
    found = error.counterexample
    assert found is not None and found.property == CLOCKS_PROPERTY
    assert found.steps and found.decisions is not None and found.decisions >= len(found.steps)
    assert found.history is not None and found.history.operations
    assert reports[-1].statuses["vector-clock-order"] == "violated"
