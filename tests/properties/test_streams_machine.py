"""The stream property (stream-exactly-once-in-order) passes on dynamodb, applies only to stores
that claim a stream guarantee, and catches the stream mutants."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.mutants.catalog import mutant
from replicheck.implementation.presets import preset
from replicheck.properties.examples import GuaranteeViolation, collecting
from replicheck.properties.profiles import settings_for
from replicheck.properties.streams import STREAMS_PROPERTY, streams_machine
from replicheck.properties.suite import STEPS, property_named


def _settings(examples: int) -> settings:
    return settings(settings_for("ci"), max_examples=examples, stateful_step_count=STEPS,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate), print_blob=False,
                    report_multiple_bugs=False, suppress_health_check=list(HealthCheck))


def test_the_property_applies_to_claimed_streams_only() -> None:
    prop = property_named(STREAMS_PROPERTY)
    assert prop.skip_reason(preset("dynamodb").descriptor) is None
    assert "lacks the capability stream" in str(prop.skip_reason(
        preset("dynamo-lww").descriptor))
    assert "claims none of" in str(prop.skip_reason(preset("global-tables").descriptor))


def test_the_machine_passes_on_dynamodb() -> None:
    with collecting() as reports:
        run_state_machine_as_test(streams_machine(lambda: preset("dynamodb")),
                                  settings=_settings(20))
    judged = [r.statuses for r in reports if r.statuses]
    assert judged and {r.property for r in reports} == {STREAMS_PROPERTY}
    assert all(s == {"stream-item-order": "holds", "stream-exactly-once": "holds"}
               for s in judged)


@pytest.mark.parametrize("name", ["stream-string-sequence-order",
                                  "stream-duplicate-on-failover"])
def test_the_machine_catches_the_mutant(name: str) -> None:
    bug = mutant(name)
    with collecting() as reports, pytest.raises(GuaranteeViolation) as caught:
        run_state_machine_as_test(streams_machine(lambda: bug.build(0)),
                                  settings=_settings(100))
    error = caught.value
    assert error.guarantees == (bug.guarantee,)
    found = error.counterexample
    assert found is not None and found.property == STREAMS_PROPERTY
    assert found.verdict is not None and found.verdict.valid is False
    assert found.steps and found.decisions is not None and found.decisions >= len(found.steps)
    assert found.history is not None and any(r.f == "stream"
                                             for r in found.history.observations)
    assert reports[-1].statuses[bug.guarantee] == "violated"
