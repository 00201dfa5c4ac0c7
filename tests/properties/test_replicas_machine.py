"""The replica property (convergence-after-anti-entropy) passes on every preset and catches the
Merkle, anti-entropy and last-writer-wins mutants."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.mutants.catalog import mutant
from replicheck.implementation.presets import PRESETS, preset
from replicheck.implementation.reference.leaderless.antientropy import SyncEngine
from replicheck.models.items.requests import Put
from replicheck.properties.examples import GuaranteeViolation, collecting
from replicheck.properties.guarantees import judge_guarantee
from replicheck.properties.mechanisms import sync_session
from replicheck.properties.profiles import settings_for
from replicheck.properties.replicas import CONVERGENCE_PROPERTY, replicas_machine
from replicheck.properties.schedule import ScheduleRecorder
from replicheck.properties.suite import STEPS, property_named
from replicheck.properties.verdicts import snapshot_history


def _settings(examples: int) -> settings:
    return settings(settings_for("ci"), max_examples=examples, stateful_step_count=STEPS,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate), print_blob=False,
                    report_multiple_bugs=False, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", PRESETS)
def test_the_machine_passes_on_the_preset(name: str) -> None:
    assert property_named(CONVERGENCE_PROPERTY).skip_reason(preset(name).descriptor) is None
    with collecting() as reports:
        run_state_machine_as_test(replicas_machine(lambda: preset(name)),
                                  settings=_settings(20))
    assert reports and {r.property for r in reports} == {CONVERGENCE_PROPERTY}
    judged = [r.statuses for r in reports if "convergence" in r.statuses]
    assert judged and all(s["convergence"] == "holds" for s in judged)
    leaderless = name.startswith("dynamo-")
    assert any("merkle-root-iff-equal" in r.statuses for r in reports) == leaderless
    if leaderless:
        assert all(s.get("anti-entropy-exact") == "holds" for s in judged)


@pytest.mark.parametrize("name", ["merkle-root-ignores-child", "anti-entropy-skips-last-range",
                                  "lww-tie-keeps-local"])
def test_the_machine_catches_the_mutant(name: str) -> None:
    bug = mutant(name)
    with collecting() as reports, pytest.raises(GuaranteeViolation) as caught:
        run_state_machine_as_test(replicas_machine(lambda: bug.build(0)),
                                  settings=_settings(100))
    error = caught.value
    # the narrowest check first: a tie kept apart also leaves a sync's replicas unequal
    assert bug.guarantee in error.guarantees
    found = error.counterexample
    assert found is not None and found.property == CONVERGENCE_PROPERTY
    assert found.guarantee == error.guarantees[0] and bug.guarantee in str(error)
    assert found.steps and found.decisions is not None and found.decisions >= len(found.steps)
    assert found.history is not None and any(r.f == "replicas"
                                             for r in found.history.observations)
    assert reports[-1].statuses[bug.guarantee] == "violated"


def test_an_anti_entropy_session_reports_its_own_repairs_through_a_recorder() -> None:
    """The observation reads the session's result through the schedule recorder (which
    forwards the store's attributes), and a session repairs only what differed."""
    store = ScheduleRecorder(preset("dynamo-lww"), "dynamo-lww")
    a, b, *_ = store.preference_list("items", {"pk": "k0"})
    store.crash(b)
    store.execute(Put("items", {"pk": "k0", "v": "x"}))
    store.restart(b)
    first = sync_session(store, "items", a, b)
    assert first["ok"] and first["differing"] == first["repaired"] == ['"k0"']
    again = sync_session(store, "items", a, b)
    assert again["ok"] and again["differing"] == again["repaired"] == []


class _RepairsOneKeyEngine(SyncEngine):
    """Absorbs only the first state its peer sends back, yet reports every differing
    key repaired (the store's own bookkeeping lies)."""

    def _on_pull(self, session: Any, states: tuple[Any, ...]) -> None:
        super()._on_pull(session, states[:1])


def _two_keys_of_one_pair(store: Any) -> tuple[str, str, str, str]:
    """Two keys and two nodes replicating both, with both keys in their shared ranges."""
    keys = [f"k{i}" for i in range(40)]
    for first in keys:
        owners = store.preference_list("items", {"pk": first})
        for a, b in ((owners[0], owners[1]), (owners[1], owners[2])):
            shared = set(store.ring.shared_ranges(a, b))
            for second in keys:
                if second != first and {a, b} <= set(store.preference_list(
                        "items", {"pk": second})) and store.ring.partition_of(
                        (second,)).name in shared and store.ring.partition_of(
                        (first,)).name in shared:
                    return first, second, a, b
    raise AssertionError("no two keys share two replicas")


def test_a_session_that_repairs_one_key_and_reports_all_is_caught() -> None:
    """anti-entropy-exact is judged on both replicas read after the session, not on the
    keys the store says it repaired."""
    store = preset("dynamo-lww")
    first, second, a, b = _two_keys_of_one_pair(store)
    store.node_endpoints[b].sync.__class__ = _RepairsOneKeyEngine
    store.crash(b)
    store.execute(Put("items", {"pk": first, "v": "x"}))
    store.execute(Put("items", {"pk": second, "v": "y"}))
    store.restart(b)
    session = sync_session(store, "items", b, a)
    assert session["ok"] and session["differing"] == session["repaired"]
    assert len(session["differing"]) >= 2
    history = snapshot_history(store.descriptor, [("anti-entropy", session)])
    judgement = judge_guarantee("anti-entropy-exact", history, store.descriptor)
    assert judgement.status == "violated", judgement.explanation()
    assert "still differ" in judgement.reason


def test_a_correct_session_leaves_both_replicas_equal() -> None:
    store = preset("dynamo-lww")
    first, second, a, b = _two_keys_of_one_pair(store)
    store.crash(b)
    store.execute(Put("items", {"pk": first, "v": "x"}))
    store.execute(Put("items", {"pk": second, "v": "y"}))
    store.restart(b)
    session = sync_session(store, "items", b, a)
    assert session["ok"] and len(session["differing"]) >= 2
    assert session["after"][a] == session["after"][b]
    history = snapshot_history(store.descriptor, [("anti-entropy", session)])
    assert judge_guarantee("anti-entropy-exact", history, store.descriptor).status == "holds"
