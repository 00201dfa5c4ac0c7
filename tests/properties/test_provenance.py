"""Every version a replica holds was produced by a client write that did not fail, or
is a merge of such versions: a version with a fresh stamp or an invented clock would
otherwise pass the lost-write rule as superseding the acknowledged writes it hides."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from replicheck.histories.history import History
from replicheck.histories.items import request_to_json
from replicheck.implementation.presets import preset
from replicheck.models.items.requests import Put
from replicheck.properties.driving import DrivenRecording, fair_step
from replicheck.properties.guarantees import judge_guarantee
from replicheck.properties.provenance import unwritten_versions, writes_by_key


def _two_writes(name: str) -> tuple[Any, DrivenRecording, dict[str, Any]]:
    """Two puts of k0 sent to two of its replicas at once, completed and settled; the
    store, its recording and a quiescent snapshot of every replica."""
    store = preset(name)
    rec = DrivenRecording(store)
    owners = store.preference_list("items", {"pk": "k0"})
    rec.submit_at("c0", Put("items", {"pk": "k0", "v": "x"}), owners[0])
    rec.submit_at("c1", Put("items", {"pk": "k0", "v": "y"}), owners[1])
    while rec.in_flight() and fair_step(rec):
        pass
    store.settle()
    rec.collect()
    assert all(op.status == "ok" for op in rec.history().operations)
    return store, rec, store.replicas_observation("items", quiescent=True)


def _judged(store: Any, rec: DrivenRecording, snapshot: dict[str, Any], guarantee: str
            ) -> Any:
    rec.observe("replicas", snapshot)
    history: History = rec.history()
    return judge_guarantee(guarantee, history, store.descriptor)


@pytest.mark.parametrize(("name", "guarantee"), [
    ("dynamo-lww", "convergence"), ("dynamo-quorum", "convergence"),
    ("dynamo-quorum", "vector-clock-order")])
def test_the_versions_writes_produced_hold(name: str, guarantee: str) -> None:
    store, rec, snapshot = _two_writes(name)
    assert unwritten_versions(snapshot, writes_by_key(rec.history(), "items")) == []
    assert _judged(store, rec, snapshot, guarantee).status == "holds"


def test_a_failed_writes_value_under_a_fresh_version_is_caught() -> None:
    """Every replica holds, under a version newer than every acknowledged write, the
    value of a write that definitely failed: the lost-write rule alone takes it as
    superseding them."""
    store, rec, snapshot = _two_writes("dynamo-lww")
    failed = Put("items", {"pk": "k0", "v": "rolled-back"})
    rec.recorder.invoke(99, "put", request_to_json(failed))
    rec.recorder.fail(99, "put", request_to_json(failed), error="ConditionalCheckFailed")
    restamped = copy.deepcopy(snapshot)
    for held in restamped["replicas"].values():
        if '"k0"' in held:
            held['"k0"'] = {"value": {"pk": {"S": "k0"}, "v": {"S": "rolled-back"}},
                            "version": [held['"k0"']["version"][0] + 5000, "n9"]}
    judgement = _judged(store, rec, restamped, "convergence")
    assert judgement.status == "violated", judgement.explanation()
    assert judgement.verdict is not None
    assert [a.type for a in judgement.verdict.anomalies] == ["unwritten-version"]
    assert "which no write of the key that did not fail wrote" in judgement.explanation()


def test_a_request_applied_twice_may_hold_two_versions_of_its_value() -> None:
    """A request the network delivered twice is coordinated twice (a new version of
    the same value): no invented version."""
    store, rec, snapshot = _two_writes("dynamo-lww")
    again = copy.deepcopy(snapshot)
    for held in again["replicas"].values():
        if '"k0"' in held:
            held['"k0"']["version"] = [held['"k0"']["version"][0] + 5000, "n2"]
    assert _judged(store, rec, again, "convergence").status == "holds"


def test_a_value_mixed_into_another_writes_version_is_caught() -> None:
    store, rec, snapshot = _two_writes("dynamo-quorum")
    mixed = copy.deepcopy(snapshot)
    for held in mixed["replicas"].values():
        entry = held.get('"k0"')
        if entry is not None:
            values = [s["value"] for s in entry["siblings"]]
            for sibling, value in zip(entry["siblings"], reversed(values), strict=True):
                sibling["value"] = value
    problems = unwritten_versions(mixed, writes_by_key(rec.history(), "items"))
    assert problems and all("mixed into another write's version" in p for p in problems)
    assert _judged(store, rec, mixed, "convergence").status == "violated"


def test_a_merge_that_invents_a_context_to_drop_a_sibling_is_caught() -> None:
    """The replicas keep only y and claim y's write saw x (a context no write had):
    x looks superseded to both the lost-write rule and the dotted-versions check."""
    store, rec, snapshot = _two_writes("dynamo-quorum")
    invented = copy.deepcopy(snapshot)
    for held in invented["replicas"].values():
        entry = held.get('"k0"')
        if entry is None:
            continue
        kept = [s for s in entry["siblings"] if s["value"]["v"] == {"S": "y"}]
        dropped = [s for s in entry["siblings"] if s["value"]["v"] == {"S": "x"}]
        kept[0]["clock"] = {dropped[0]["dot"][0]: dropped[0]["dot"][1]}
        entry["siblings"] = kept
    for guarantee in ("convergence", "vector-clock-order"):
        judgement = _judged(store, rec, invented, guarantee)
        assert judgement.status == "violated", judgement.explanation()
        assert "invented by a merge" in judgement.explanation()


# -- a hinted write handed off as it was written ----------------------------------------------


def _hinted_write(store: Any, *, answered: bool = True) -> tuple[DrivenRecording, Any]:
    """Two replicas of k0 down, a put taken by fallbacks (recorded ``ok`` with its
    version, or ``info`` when not ``answered``), the replicas back: (the recording,
    the hints observation of a copy of the store settled apart)."""
    from replicheck.properties.mechanisms import handoff_twin, hinted_states

    rec = DrivenRecording(store)
    owners = store.preference_list("items", {"pk": "k0"})
    store.crash(owners[1])
    store.crash(owners[2])
    put = Put("items", {"pk": "k0", "v": "x"})
    if answered:
        rec.submit("c0", put)
        while rec.in_flight() and fair_step(rec):
            pass
        assert [op.status for op in rec.history().operations] == ["ok"]
    else:
        store.run_until_done(store.submit("c0", put))
        rec.recorder.invoke(7, "put", request_to_json(put))
        rec.recorder.info(7, "put", request_to_json(put), error="timed out")
    store.sim.run(lambda: len(hinted_states(store, "items")) == 2)
    store.restart(owners[1])
    store.restart(owners[2])
    twin = handoff_twin(store, "items")
    assert twin is not None and twin["held"], "the write should have been taken by fallbacks"
    return rec, twin


def _handoff_judged(store: Any, rec: DrivenRecording, twin: Any) -> Any:
    rec.observe("hints", twin)
    return judge_guarantee("hinted-handoff-delivers", rec.history(), store.descriptor)


def test_a_hint_handed_off_under_its_own_version_holds() -> None:
    store = preset("dynamo-lww")
    rec, twin = _hinted_write(store)
    assert _handoff_judged(store, rec, twin).status == "holds"


def test_a_hint_handed_off_under_a_fresh_version_is_caught() -> None:
    """The owner holds the hinted value under a version newer than the hint's: it
    reflects the hint (at least as new), yet no one held that version before the
    handoff and the write was answered with another."""
    from replicheck.implementation.mutants import mutant

    store = mutant("hint-replayed-with-fresh-timestamp").build(0)
    rec, twin = _hinted_write(store)
    judgement = _handoff_judged(store, rec, twin)
    assert judgement.status == "violated", judgement.explanation()
    assert "no replica or fallback held before settling" in judgement.explanation()


def test_a_new_version_of_a_write_of_unknown_outcome_is_excused() -> None:
    """A write whose answer was lost may still be coordinating when the store settles:
    a version of its value nobody held before is not an invented one."""
    from replicheck.implementation.mutants import mutant

    store = mutant("hint-replayed-with-fresh-timestamp").build(0)
    rec, twin = _hinted_write(store, answered=False)
    assert _handoff_judged(store, rec, twin).status == "holds"
