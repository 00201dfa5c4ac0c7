"""Every version a replica holds was produced by a client write that did not fail, or
is a merge of such versions: a version with a fresh stamp or an invented clock would
otherwise pass the lost-write rule as superseding the acknowledged writes it hides."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from replicheck.histories.history import History
from replicheck.implementation.presets import preset
from replicheck.models.items.requests import Put
from replicheck.properties.guarantees import judge_guarantee
from replicheck.properties.provenance import unwritten_versions, writes_by_key
from replicheck.properties.replicas import DrivenRecording, fair_step


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


def test_a_version_restamped_by_a_replayed_hint_is_caught() -> None:
    """Every replica holds the winning value under a fresh stamp no write answered
    with: newer than every acknowledged write, so the lost-write rule alone passes."""
    store, rec, snapshot = _two_writes("dynamo-lww")
    restamped = copy.deepcopy(snapshot)
    for held in restamped["replicas"].values():
        if '"k0"' in held:
            held['"k0"']["version"] = [held['"k0"']["version"][0] + 5000, "n9"]
    judgement = _judged(store, rec, restamped, "convergence")
    assert judgement.status == "violated", judgement.explanation()
    assert judgement.verdict is not None
    assert [a.type for a in judgement.verdict.anomalies] == ["unwritten-version"]
    assert "no write that did not fail produced" in judgement.explanation()


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


def test_a_context_covering_dots_no_write_produced_is_caught() -> None:
    store, rec, snapshot = _two_writes("dynamo-quorum")
    invented = copy.deepcopy(snapshot)
    for held in invented["replicas"].values():
        if '"k0"' in held:
            held['"k0"']["clock"] = {**held['"k0"']["clock"], "n9": 3}
    problems = unwritten_versions(invented, writes_by_key(rec.history(), "items"))
    assert len(problems) == 1 and "n9:1, n9:2, n9:3" in problems[0]
    assert _judged(store, rec, invented, "convergence").status == "violated"
