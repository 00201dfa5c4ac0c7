"""Focusing the search on some guarantees (``verdicts.focused_on``): inside, an example
fails only when one of them is violated, naming every guarantee it violated; another
guarantee's violation is kept as the example's status and raises nothing."""

from __future__ import annotations

import pytest

from replicheck.properties.examples import GuaranteeViolation, collecting
from replicheck.properties.guarantees import Judgement
from replicheck.properties.verdicts import StepLog, Verdicts, focused_on


def _verdicts() -> Verdicts:
    return Verdicts("p", StepLog())


def _violated(guarantee: str) -> Judgement:
    return Judgement(guarantee, "violated", True, reason="broken")


def test_a_violation_outside_the_focus_is_kept_and_raises_nothing() -> None:
    verdicts = _verdicts()
    with collecting(), focused_on({"convergence"}):
        verdicts.take_all([_violated("stream-exactly-once"),
                           Judgement("convergence", "holds", True)], None)
    assert verdicts.statuses == {"stream-exactly-once": "violated", "convergence": "holds"}
    assert not verdicts.failed


def test_a_violation_in_the_focus_raises_naming_every_violated_guarantee() -> None:
    verdicts = _verdicts()
    with collecting(), focused_on({"convergence"}), \
            pytest.raises(GuaranteeViolation) as raised:
        verdicts.take_all([_violated("stream-exactly-once"), _violated("convergence")],
                          None)
    assert set(raised.value.guarantees) == {"stream-exactly-once", "convergence"}
    assert verdicts.failed


def test_without_focus_any_claimed_violation_raises_and_focus_ends_with_its_block() -> None:
    with collecting(), focused_on({"convergence"}):
        pass
    with collecting(), pytest.raises(GuaranteeViolation):
        _verdicts().take_all([_violated("stream-exactly-once")], None)
