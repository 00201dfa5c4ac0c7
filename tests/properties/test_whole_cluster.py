"""Every kind of request sent together to a whole cluster is answered: part of both
availability promises. The reference presets answer them all; a store that drops a
request on a path only some requests take is caught by the probe, by the judge and by
the concurrency property."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.histories.history import pair
from replicheck.histories.recorder import Recorder
from replicheck.implementation.presets import PRESETS, preset
from replicheck.implementation.reference.leader.transactions import Coordinator
from replicheck.implementation.reference.leaderless.node import LeaderlessNode
from replicheck.implementation.store import Capability
from replicheck.models.items.requests import Update
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.guarantees import HOLDS, VIOLATED, judge_guarantee
from replicheck.properties.liveness import OBSERVATION, availability_observation
from replicheck.properties.liveness import PROMISE as MAJORITY
from replicheck.properties.sloppy_quorum import PROMISE as SLOPPY
from replicheck.properties.strategies import KEYS
from replicheck.properties.whole_cluster import (
    FIELD,
    can_probe_whole,
    requests_together,
    whole_cluster_probes,
)

PROMISES = {"dynamodb": MAJORITY, "dynamo-lww": SLOPPY, "dynamo-quorum": SLOPPY}


def _probes(store: Any) -> list[dict[str, Any]]:
    table = store.descriptor.tables[0]
    return whole_cluster_probes(store, table.name, table.partition_key, KEYS)


def _judged(store: Any, promise: str) -> Any:
    table = store.descriptor.tables[0]
    observation = availability_observation(store, table.name, table.partition_key, KEYS)
    assert observation is not None and observation[FIELD]
    recorder = Recorder()
    recorder.observe(OBSERVATION, observation)
    return judge_guarantee(promise, pair(recorder.records()), store.descriptor)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_answers_every_request_sent_together(name: str) -> None:
    store = preset(name)
    before = store.now()
    probes = _probes(store)
    assert store.now() == before, "the probe runs on a copy"
    kinds = {p["request"] for p in probes}
    assert {"read", "put", "create", "increment", "conditional delete"} <= kinds
    if store.descriptor.has(Capability.TRANSACTIONS):
        assert {"transaction on every key", "transactional read of one key"} <= kinds
    assert [p for p in probes if p["status"] not in ("ok", "error")] == []


def test_requests_follow_what_the_store_offers() -> None:
    leader, leaderless = preset("dynamodb"), preset("dynamo-lww")
    names = [n for n, _, _ in requests_together(leader, "items", "pk", KEYS)]
    assert names.count("strong read") == len(KEYS)
    assert "transactional read of every key" in names
    names = [n for n, _, _ in requests_together(leaderless, "items", "pk", KEYS)]
    assert "strong read" not in names and not any(n.startswith("trans") for n in names)
    assert can_probe_whole(leader) and can_probe_whole(leaderless)


@pytest.mark.parametrize("name", sorted(PROMISES))
def test_the_promise_holds_with_the_probes_on_the_presets(name: str) -> None:
    assert _judged(preset(name), PROMISES[name]).status == HOLDS


def _one_key_transact_get_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Coordinator, "_local_get", lambda self, op, request, refs: None)


def _updates_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    coordinate = LeaderlessNode._coordinate

    def dropping(self: Any, client: str, rid: int, request: Any, context: Any) -> None:
        if not isinstance(request, Update):
            coordinate(self, client, rid, request, context)

    monkeypatch.setattr(LeaderlessNode, "_coordinate", dropping)


MUTANTS: dict[str, tuple[str, Callable[[pytest.MonkeyPatch], None], str]] = {
    "one-key-transact-get-never-answered": ("dynamodb", _one_key_transact_get_dropped,
                                            "transactional read of one key"),
    "updates-never-answered": ("dynamo-lww", _updates_dropped, "increment"),
}


@pytest.mark.parametrize("bug", sorted(MUTANTS))
def test_a_request_dropped_on_one_path_breaks_the_promise(
        bug: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name, install, dropped = MUTANTS[bug]
    install(monkeypatch)
    store = preset(name)
    unanswered = {p["request"] for p in _probes(store) if p["status"] not in ("ok", "error")}
    assert unanswered == {dropped}
    judged = _judged(store, PROMISES[name])
    assert judged.status == VIOLATED
    assert dropped in judged.explanation()


@pytest.mark.parametrize("bug", sorted(MUTANTS))
def test_the_concurrency_property_catches_it_at_once(
        bug: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name, install, _ = MUTANTS[bug]
    install(monkeypatch)
    machine = concurrency_machine(lambda: preset(name), target=name)
    with pytest.raises(GuaranteeViolation) as raised:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=3, derandomize=True, database=None, deadline=None,
            stateful_step_count=5, print_blob=False, phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck)))
    assert PROMISES[name] in raised.value.guarantees
