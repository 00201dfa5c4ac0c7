"""``sloppy-quorum-availability``: with every owner of a key but one down and enough
other nodes up, a leaderless store with a sloppy quorum still answers requests on the
key. The reference presets keep it; stores whose coordinators never turn to the
fallbacks (the sloppy timer disabled, running the deadline's handler, or reads that
never ask the fallbacks) are caught by the probe and by the concurrency property."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.histories.history import pair
from replicheck.histories.recorder import Recorder
from replicheck.implementation.memory import DEFAULT_TABLE
from replicheck.implementation.presets import PRESETS, preset
from replicheck.implementation.reference.leaderless.node import LeaderlessNode
from replicheck.implementation.reference.leaderless.presets import DYNAMO_QUORUM
from replicheck.implementation.reference.leaderless.store import LeaderlessStore
from replicheck.models.items.requests import Put
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.guarantees import HOLDS, NOT_APPLICABLE, VIOLATED, judge_guarantee
from replicheck.properties.liveness import OBSERVATION, availability_observation, can_probe
from replicheck.properties.replay import replay
from replicheck.properties.schedule import Schedule, submit_step
from replicheck.properties.sloppy_quorum import (
    FIELD,
    HANDOFF,
    HANDOFF_LOSSY,
    PROMISE,
    owners_down_probes,
)
from replicheck.properties.strategies import KEYS

HANDOFF_PROMISE = "hinted-handoff-delivers"


def _no_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LeaderlessNode, "_sloppy", lambda self, op: None)


def _timers_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    sloppy, deadline = LeaderlessNode._sloppy, LeaderlessNode._deadline
    monkeypatch.setattr(LeaderlessNode, "_sloppy", deadline)
    monkeypatch.setattr(LeaderlessNode, "_deadline", sloppy)


def _reads_never_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    sloppy = LeaderlessNode._sloppy

    def writes_only(self: Any, op: Any) -> None:
        if op.phase != "read":
            sloppy(self, op)

    monkeypatch.setattr(LeaderlessNode, "_sloppy", writes_only)


MUTANTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "no-fallbacks": _no_fallbacks,
    "sloppy-and-deadline-timers-swapped": _timers_swapped,
    "reads-never-fall-back": _reads_never_fall_back,
}

CLAIMING = [p for p in PRESETS if preset(p).descriptor.claims_guarantee(PROMISE)]


def _judged(store: Any) -> tuple[dict[str, Any], Any]:
    table = store.descriptor.tables[0]
    observation = availability_observation(store, table.name, table.partition_key, KEYS)
    assert observation is not None
    recorder = Recorder()
    recorder.observe(OBSERVATION, observation)
    return observation, judge_guarantee(PROMISE, pair(recorder.records()), store.descriptor)


def test_the_leaderless_presets_claim_the_promise_and_the_leader_ones_do_not() -> None:
    assert CLAIMING == ["dynamo-lww", "dynamo-quorum"]


@pytest.mark.parametrize("name", CLAIMING)
def test_every_claiming_preset_answers_with_all_owners_but_one_down(name: str) -> None:
    store = preset(name)
    before = store.now()
    assert can_probe(store)
    observation, judgement = _judged(store)
    assert judgement.status == HOLDS, judgement.explanation()
    probes = observation[FIELD]
    assert {p["status"] for p in probes} == {"ok"}
    assert {(p["key"], p["request"]) for p in probes} == {
        (k, r) for k in KEYS for r in ("read", "put")}
    for p in probes:  # every owner of the key but the last is down
        assert p["down"] == p["owners"][:-1] and len(p["owners"]) == 3
    assert store.now() == before  # probed on copies: the store itself is as it was


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_the_probe_catches_a_coordinator_that_never_turns_to_the_fallbacks(
        mutant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    MUTANTS[mutant](monkeypatch)
    observation, judgement = _judged(preset("dynamo-quorum"))
    assert judgement.status == VIOLATED
    unanswered = [p for p in observation[FIELD] if p["status"] != "ok"]
    assert unanswered and all(p["status"] == "indeterminate" for p in unanswered)
    assert "never answered" in judgement.explanation()


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_the_concurrency_property_catches_it(mutant: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    MUTANTS[mutant](monkeypatch)
    machine = concurrency_machine(lambda: preset("dynamo-quorum"))
    chosen = settings(max_examples=3, derandomize=True, database=None, deadline=None,
                      stateful_step_count=10, print_blob=False,
                      phases=(Phase.explicit, Phase.reuse, Phase.generate),
                      suppress_health_check=list(HealthCheck))
    with pytest.raises(GuaranteeViolation) as raised:
        run_state_machine_as_test(machine, settings=chosen)
    assert PROMISE in raised.value.guarantees


def test_a_ring_without_nodes_to_stand_in_is_not_probed() -> None:
    # three nodes, three owners per key: with two down, nobody can stand in for them
    small = LeaderlessStore(dataclasses.replace(DYNAMO_QUORUM, nodes=3), name="small",
                            tables=(DEFAULT_TABLE,))
    assert owners_down_probes(small, "items", "pk", KEYS) == []
    four = LeaderlessStore(dataclasses.replace(DYNAMO_QUORUM, nodes=4), name="four",
                           tables=(DEFAULT_TABLE,))
    assert owners_down_probes(four, "items", "pk", KEYS) == []  # 2 up < 3 owners


def test_the_promise_is_not_applicable_without_an_observation() -> None:
    judgement = judge_guarantee(PROMISE, pair(()), preset("dynamo-quorum").descriptor)
    assert judgement.status == NOT_APPLICABLE


def test_replay_takes_the_observation_on_a_leaderless_store() -> None:
    put = Put("items", {"pk": "k0", "v": "v1"})
    schedule = Schedule("dynamo-quorum", 0, (submit_step("c0", put), {"run": {}},
                                             {"observe": OBSERVATION}), guarantee=PROMISE)
    result = replay(schedule)
    assert result.recorded is not None and result.recorded.status == HOLDS
    assert any(r.f == OBSERVATION and r.value.get(FIELD)
               for r in result.history.observations)


# -- a put taken with the owners down reaches them by hinted handoff -------------------------


def _hints_never_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fallback keeps a hinted write only when it holds that very state already."""

    def absorb_hint(self: Any, owner: str, table: str, key: Any, state: Any) -> None:
        hint = (owner, table, key)
        merged = self.cluster.resolver.merge(self.hints.get(hint), state)
        if merged == self.hints.get(hint):
            self.hints[hint] = merged
        self._arm_handoff()

    monkeypatch.setattr(LeaderlessNode, "absorb_hint", absorb_hint)


def _handoff_judged(store: Any) -> tuple[list[dict[str, Any]], Any]:
    observation, _ = _judged(store)
    puts = [p for p in observation[FIELD] if p["request"] == "put"]
    recorder = Recorder()
    recorder.observe(OBSERVATION, observation)
    return puts, judge_guarantee(HANDOFF_PROMISE, pair(recorder.records()), store.descriptor)


@pytest.mark.parametrize("name", CLAIMING)
def test_a_put_taken_with_the_owners_down_is_handed_off_to_them(name: str) -> None:
    puts, judgement = _handoff_judged(preset(name))
    assert len(puts) == len(KEYS)
    for put in puts:
        assert sorted(put[HANDOFF]["owners"]) == sorted(put["down"])
        assert all(held is not None for held in put[HANDOFF]["owners"].values())
    assert judgement.status == HOLDS, judgement.explanation()
    assert f"{len(KEYS) + 2} put(s) made with the owners down" in judgement.explanation()
    (first,) = [put for put in puts if HANDOFF_LOSSY in put]  # the first key's only
    assert first is puts[0]
    for put in [first]:  # the same again with the first handoff message lost
        lossy = put[HANDOFF_LOSSY]
        assert lossy["dropped"]["dst"] in put["down"]
        assert lossy["dropped"]["src"] not in put["down"]
        assert all(held is not None for held in lossy["owners"].values())


def _hints_dropped_when_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fallback forgets each hint as it sends it, before the owner acknowledged it:
    a handoff message lost is never offered again."""
    on_timer = LeaderlessNode.on_timer

    def forgetting(self: Any, timer: Any) -> None:
        on_timer(self, timer)
        if timer.name == "handoff":
            self.hints.clear()  # THE BUG

    monkeypatch.setattr(LeaderlessNode, "on_timer", forgetting)


@pytest.mark.parametrize("name", CLAIMING)
def test_a_hint_forgotten_when_sent_is_caught_when_its_handoff_is_lost(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _hints_dropped_when_sent(monkeypatch)
    puts, judgement = _handoff_judged(preset(name))
    assert all(all(held is not None for held in p[HANDOFF]["owners"].values())
               for p in puts)  # without a loss every hint arrives
    assert judgement.status == VIOLATED
    assert "lost" in judgement.explanation()


@pytest.mark.parametrize("name", CLAIMING)
def test_fallbacks_that_never_store_a_hint_are_caught(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _hints_never_stored(monkeypatch)
    puts, judgement = _handoff_judged(preset(name))
    assert puts and all(p["status"] == "ok" for p in puts)  # answered, never handed off
    assert judgement.status == VIOLATED
    assert "the fallbacks did not hand it off" in judgement.explanation()
    machine = concurrency_machine(lambda: preset(name))
    chosen = settings(max_examples=3, derandomize=True, database=None, deadline=None,
                      stateful_step_count=10, print_blob=False, phases=(Phase.generate,),
                      suppress_health_check=list(HealthCheck))
    with pytest.raises(GuaranteeViolation) as raised:
        run_state_machine_as_test(machine, settings=chosen)
    assert HANDOFF_PROMISE in raised.value.guarantees


def _retry_cancelled_by_an_ack(monkeypatch: pytest.MonkeyPatch) -> None:
    """An acknowledged hint cancels the fallback's handoff timer while other hints
    are still waiting: a hint whose handoff was lost is never offered again."""
    on_message = LeaderlessNode.on_message

    def cancelling(self: Any, message: Any) -> None:
        on_message(self, message)
        if message.kind == "handoff-ack" and self.hints and self.handoff_timer is not None:
            self.cancel_timer(self.handoff_timer)  # THE BUG
            self.handoff_timer = None

    monkeypatch.setattr(LeaderlessNode, "on_message", cancelling)


@pytest.mark.parametrize("name", CLAIMING)
def test_two_hints_for_one_owner_one_handoff_lost(name: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The lossy check writes a second key with the same owners first, so each
    fallback holds two hints for one owner: a clean store offers the lost one again,
    one whose acknowledgement cancels the retries does not."""
    puts, judgement = _handoff_judged(preset(name))
    assert judgement.status == HOLDS, judgement.explanation()
    for put in [p for p in puts if HANDOFF_LOSSY in p]:
        also = put[HANDOFF_LOSSY]["also"]
        assert also["key"] != put["key"] and sorted(also["owners"]) == sorted(put["down"])
        assert all(held is not None for held in also["owners"].values())
    _retry_cancelled_by_an_ack(monkeypatch)
    puts, judgement = _handoff_judged(preset(name))
    assert judgement.status == VIOLATED
    assert "lost" in judgement.explanation()
