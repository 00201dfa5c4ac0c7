"""Machine 3 (convergence-after-anti-entropy) passes on every preset and catches the
Merkle, anti-entropy and last-writer-wins mutants."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.mutants.catalog import mutant
from replicheck.implementation.presets import PRESETS, preset
from replicheck.models.items.requests import Put
from replicheck.properties.examples import GuaranteeViolation, collecting
from replicheck.properties.profiles import settings_for
from replicheck.properties.replicas import CONVERGENCE_PROPERTY, replicas_machine, sync_session
from replicheck.properties.schedule import ScheduleRecorder
from replicheck.properties.suite import STEPS, property_named


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
    assert error.guarantees[0] == bug.guarantee
    found = error.counterexample
    assert found is not None and found.property == CONVERGENCE_PROPERTY
    assert found.guarantee == bug.guarantee and bug.guarantee in found.explanation
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
