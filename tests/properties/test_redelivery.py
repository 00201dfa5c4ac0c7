"""The redelivery epilogue (properties/redelivery.py): on every preset with message
control and faults its copy arrives after the coordinator restarted and the store
applies it once; a coordinator that forgets across a restart the requests it took,
and a leader that never deduplicates, are caught by the concurrency property's own
judging, without the fault search."""

from __future__ import annotations

from typing import Any

import pytest

from replicheck.implementation.presets import preset
from replicheck.implementation.reference.leaderless.node import LeaderlessNode
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.redelivery import KEY, can_redeliver, redelivery_epilogue
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.verdicts import failures_to


class _Amnesiac(LeaderlessNode):
    """Keeps the requests it took in memory only: after a restart a copy of one of
    them is coordinated again."""

    def recover(self) -> None:
        super().recover()
        self.taken = set()  # THE BUG


def amnesiac(name: str) -> Any:
    store = preset(name)
    for node in store.node_endpoints.values():
        node.__class__ = _Amnesiac
    return store


def _run(factory: Any, target: str) -> Any:
    m = concurrency_machine(factory, target=target)()
    steps = len(m.raw.steps)
    redelivery_epilogue(m)
    return m, m.raw.steps[steps:]


@pytest.mark.parametrize(("name", "restarts"), [
    ("dynamodb", True), ("dynamo-lww", True), ("dynamo-quorum", True),
    ("global-tables", False),  # it names no node for a key: no coordinator to restart
])
def test_the_copy_arrives_after_a_restart_and_is_applied_once(name: str,
                                                              restarts: bool) -> None:
    m, steps = _run(lambda: preset(name), name)
    assert can_redeliver(probe_surface(m.raw))
    kinds = [next(iter(s)) for s in steps]
    assert ("crash" in kinds and "restart" in kinds) is restarts
    decided = [next(iter(s["decide"])) for s in steps if "decide" in s]
    assert "duplicate" in decided
    if restarts:
        assert kinds.index("crash") < len(kinds) - 1 - kinds[::-1].index("decide")
    ops = m.rec.history().operations
    assert ops[0].f == "update" and ops[0].status == "ok"
    answered = [op.output["item"] for op in ops if op.f.startswith("get") and op.status == "ok"]
    assert answered and all(item["n"] == {"N": "1"} and item["pk"] == {"S": KEY}
                            for item in answered)
    m.teardown()  # judged: holds


@pytest.mark.parametrize("name", ["dynamo-lww", "dynamo-quorum"])
def test_a_coordinator_that_forgets_across_a_restart_is_caught(name: str,
                                                                tmp_path: Any) -> None:
    m, _ = _run(lambda: amnesiac(name), f"{__name__}:amnesiac")
    with failures_to(str(tmp_path)), pytest.raises(GuaranteeViolation) as caught:
        m.teardown()
    assert "reapplied-write" in str(caught.value)
    assert f'key "{KEY}"' in str(caught.value) and "n = 2" in str(caught.value)


def test_a_leader_that_never_deduplicates_is_caught_by_its_strong_read(tmp_path: Any
                                                                       ) -> None:
    from tests.properties.search.test_messages import forgetful

    m, _ = _run(forgetful, "tests.properties.search.test_messages:forgetful")
    with failures_to(str(tmp_path)), pytest.raises(GuaranteeViolation) as caught:
        m.teardown()
    assert "linearizable-strong-reads" in str(caught.value)
