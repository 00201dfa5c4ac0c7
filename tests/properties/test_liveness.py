"""The ``majority-availability`` promise: a partition with a majority of its replicas
up and connected answers. The probe passes on every preset that claims it and
catches three liveness bugs a mutation run left alive in the reference store (each
reproduced here as a test-local mutant: a monkeypatched method; the reference store
itself is unchanged), from the probe's observation and through the concurrency
property."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.histories.history import pair
from replicheck.histories.recorder import Recorder
from replicheck.implementation.presets import PRESETS, preset
from replicheck.implementation.reference.leader import partition as partition_module
from replicheck.implementation.reference.leader import router as router_module
from replicheck.implementation.reference.leader import transactions as transactions_module
from replicheck.implementation.reference.leader.messages import LeaderNotice, Op, Redirect
from replicheck.models.items.requests import Put
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.guarantees import HOLDS, NOT_APPLICABLE, VIOLATED, judge_guarantee
from replicheck.properties.liveness import (
    OBSERVATION,
    PROMISE,
    availability_observation,
    can_probe,
)
from replicheck.properties.replay import replay
from replicheck.properties.schedule import Schedule, submit_step
from replicheck.properties.strategies import KEYS


def _read_index_waits_for_every_follower(monkeypatch: pytest.MonkeyPatch) -> None:
    """partition.py's read-index quorum with 1 replaced by 2 (cosmic-ray's
    NumberReplacer): the round counts as confirmed only once every follower acked."""
    def confirmed_round(self: Any) -> int:
        needed = self.majority - 1
        if needed <= 0:
            return int(self.round)
        rounds = sorted((self.acked_round[f] for f in self.others), reverse=True)
        return int(rounds[needed - 2])

    monkeypatch.setattr(partition_module.PartitionReplica, "_confirmed_round",
                        confirmed_round)


def _router_attempts_never_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """router.py's ``op.attempt + 1`` as ``op.attempt & 1`` (cosmic-ray's
    ReplaceBinaryOperator_Add_BitAnd): a redirected request's attempt stays 0, so the
    router retries the partition's first replica forever."""
    def on_message(self: Any, message: Any) -> None:
        body = message.body
        if message.kind == "request":
            rid, request = body
            self._forward(Op(message.src, rid, request, self.config.partition_for(request)))
        elif isinstance(body, Redirect):
            op = body.op
            retry = Op(op.client, op.rid, op.request, op.partition, op.attempt & 1)
            if retry.attempt >= self.config.timing.router_attempts:
                return
            if body.hint is not None and body.hint != message.src:
                self._send(retry, body.hint)
            else:
                self.set_timer(self.config.timing.router_retry, "retry", retry)
        elif isinstance(body, LeaderNotice):
            known = self.leaders.get(body.partition)
            if known is None or body.term >= known[0]:
                self.leaders[body.partition] = (body.term, body.node)

    monkeypatch.setattr(router_module.RouterEndpoint, "on_message", on_message)


def _commit_ack_wait_never_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """transactions.py's ack-wait test ``txn.phase == "committing"`` as ``>``
    (cosmic-ray's ReplaceComparisonOperator_Eq_Gt): a committed transaction is
    answered only once every participant acknowledged."""
    original = transactions_module.Coordinator.on_timer

    def on_timer(self: Any, name: str, ident: str) -> None:
        if name != "txn-ack-wait":
            original(self, name, ident)
            return
        txn = self.writes.get(ident)
        if txn is not None and txn.phase > "committing":
            self._complete(txn, {})

    monkeypatch.setattr(transactions_module.Coordinator, "on_timer", on_timer)


MUTANTS = {
    "read-index-every-follower": _read_index_waits_for_every_follower,
    "router-attempts-never-count": _router_attempts_never_count,
    "commit-ack-wait-never-answers": _commit_ack_wait_never_answers,
}


def _judged(store: Any) -> Any:
    table = store.descriptor.tables[0]
    observation = availability_observation(store, table.name, table.partition_key, KEYS)
    assert observation is not None
    recorder = Recorder()
    recorder.observe(OBSERVATION, observation)
    history = pair(recorder.records())
    return observation, judge_guarantee(PROMISE, history, store.descriptor)


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    stateful_step_count=10, print_blob=False,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", [p for p in PRESETS
                                  if preset(p).descriptor.claims_guarantee(PROMISE)])
def test_every_claiming_preset_answers_with_a_replica_cut_off(name: str) -> None:
    store = preset(name)
    assert can_probe(store)
    observation, judgement = _judged(store)
    assert judgement.status == HOLDS, judgement.explanation()
    assert {p["status"] for p in observation["probes"]} == {"ok"}
    # the probes reached a router redirect and a leader elected after the cut
    assert any(p["via"] != "routing" for p in observation["probes"])
    assert any(t["committed"] and t["status"] == "ok"
               for t in observation["transactions"])


def test_dynamodb_claims_the_promise_and_leaderless_presets_do_not() -> None:
    assert preset("dynamodb").descriptor.claims_guarantee(PROMISE)
    assert not preset("dynamo-quorum").descriptor.claims_guarantee(PROMISE)


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_the_probe_catches_each_liveness_survivor(mutant: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _, before = _judged(preset("dynamodb"))
    assert before.status == HOLDS
    MUTANTS[mutant](monkeypatch)
    _, judgement = _judged(preset("dynamodb"))
    assert judgement.status == VIOLATED
    assert "never answered" in judgement.explanation()


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_the_concurrency_property_catches_each_liveness_survivor(
        mutant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    MUTANTS[mutant](monkeypatch)
    machine = concurrency_machine(lambda: preset("dynamodb"))
    with pytest.raises(GuaranteeViolation) as raised:
        run_state_machine_as_test(machine, settings=_settings(3))
    assert PROMISE in raised.value.guarantees


def test_the_promise_is_not_applicable_without_an_observation() -> None:
    judgement = judge_guarantee(PROMISE, pair(()), preset("dynamodb").descriptor)
    assert judgement.status == NOT_APPLICABLE


def test_replay_takes_the_availability_observation() -> None:
    put = Put("items", {"pk": "k0", "v": "v1"})
    schedule = Schedule("dynamodb", 0, (submit_step("c0", put), {"run": {}},
                                        {"observe": OBSERVATION}), guarantee=PROMISE)
    result = replay(schedule)
    assert result.recorded is not None and result.recorded.status == HOLDS
    assert any(r.f == OBSERVATION for r in result.history.observations)
