"""Mechanism promises are judged on what the replicas hold, never on the store's own
bookkeeping: a hinted handoff whose owner acknowledges a hint it never stored leaves
no pending hint, yet the owner lacks the write."""

from __future__ import annotations

from typing import Any

from replicheck.implementation.presets import preset
from replicheck.implementation.reference.leaderless.node import LeaderlessNode
from replicheck.models.items.requests import Put
from replicheck.properties.guarantees import NOT_APPLICABLE, judge_guarantee
from replicheck.properties.mechanisms import hinted_states, hints_observation
from replicheck.properties.verdicts import snapshot_history


class _AcksUnstoredHandoff(LeaderlessNode):
    """Acknowledges a handed-off hint without storing it: the fallback drops the hint
    and counts nothing pending."""

    def on_message(self, message: Any) -> None:
        if message.kind == "handoff":
            self.send(message.src, "handoff-ack", message.body)
            return
        super().on_message(message)


def _handed_off(store: Any) -> dict[str, Any]:
    owners = store.preference_list("items", {"pk": "k0"})
    store.crash(owners[1])
    store.crash(owners[2])
    store.execute(Put("items", {"pk": "k0", "v": "x"}))
    store.restart(owners[1])
    store.restart(owners[2])
    before = hinted_states(store, "items")
    assert before, "the write should have been taken by fallbacks"
    store.settle()
    return hints_observation(store, "items", before)


def _judge(store: Any, observation: dict[str, Any]) -> Any:
    history = snapshot_history(store.descriptor, [("hints", observation)])
    return judge_guarantee("hinted-handoff-delivers", history, store.descriptor)


def test_a_handoff_acknowledged_but_never_stored_is_caught() -> None:
    store = preset("dynamo-quorum")
    for node in store.node_endpoints.values():
        node.__class__ = _AcksUnstoredHandoff
    observation = _handed_off(store)
    assert observation["pending"] == 0  # the store's own count says all was delivered
    judgement = _judge(store, observation)
    assert judgement.status == "violated", judgement.explanation()
    assert "is not held by" in judgement.reason


def test_a_delivered_handoff_holds() -> None:
    store = preset("dynamo-quorum")
    observation = _handed_off(store)
    judgement = _judge(store, observation)
    assert judgement.status == "holds", judgement.explanation()


def test_a_hint_superseded_at_its_owner_by_a_newer_write_counts_as_delivered() -> None:
    store = preset("dynamo-lww")
    hint = {"fallback": "n3", "owner": "n1", "key": '"k0"',
            "entry": {"value": {"pk": {"S": "k0"}}, "version": [5, "n2"]}}
    newer = {"value": {"pk": {"S": "k0"}, "v": {"S": "y"}}, "version": [7, "n1"]}
    older = {"value": {"pk": {"S": "k0"}, "v": {"S": "z"}}, "version": [4, "n1"]}
    for held, status in ((newer, "holds"), (older, "violated"), (None, "violated")):
        observation = {"table": "items", "settled": True, "pending": 0, "held": [hint],
                       "owners": {"n1": {'"k0"': held}}}
        assert _judge(store, observation).status == status


def _stream_history(corrupt: bool) -> tuple[Any, Any]:
    """Two acknowledged puts of k0 on dynamodb, an indeterminate put of k0 that did
    not apply, and the store's stream (its second record's old image made wrong when
    ``corrupt``)."""
    from replicheck.histories.items import request_to_json
    from replicheck.properties.mechanisms import stream_observation
    from replicheck.properties.recording import RecordingStore

    store = preset("dynamodb")
    rec = RecordingStore(store)
    rec.execute(Put("items", {"pk": "k0", "v": "x"}), "c0")
    lost = Put("items", {"pk": "k0", "v": "lost"})
    rec.recorder.invoke(99, "put", request_to_json(lost))
    rec.recorder.info(99, "put", request_to_json(lost), error="timed out")
    rec.execute(Put("items", {"pk": "k0", "v": "y"}), "c0")
    observation = stream_observation(store, "items", view=False)
    if corrupt:
        observation["records"][1]["old_image"] = {"pk": "k0", "v": "z"}
    rec.observe("stream", observation)
    return store, rec.history()


def test_a_wrong_image_on_a_key_with_an_indeterminate_write_is_judged() -> None:
    store, history = _stream_history(corrupt=True)
    judgement = judge_guarantee("stream-exactly-once", history, store.descriptor)
    assert judgement.status == "violated", judgement.explanation()
    assert "old image" in judgement.explanation()
    store, history = _stream_history(corrupt=False)
    judgement = judge_guarantee("stream-exactly-once", history, store.descriptor)
    assert judgement.status == "holds", judgement.explanation()


def _sibling(node: str, counter: int, value: str, clock: dict[str, int]) -> dict[str, Any]:
    return {"value": {"pk": {"S": "k0"}, "v": {"S": value}}, "dot": [node, counter],
            "clock": clock}


def test_read_repair_is_judged_against_the_merge_of_what_replicas_held() -> None:
    """The store's own merge dropped the concurrent sibling and the replicas were
    repaired to it: judged against the merge computed from the replicas' entries,
    that is a lost sibling."""
    store = preset("dynamo-quorum")
    x, y = _sibling("n1", 1, "x", {}), _sibling("n2", 1, "y", {})
    only_y = {"siblings": [y], "clock": {"n1": 1, "n2": 1}}
    probe = {"table": "items", "key": '"k0"', "coordinator": "n1", "answered": True,
             "before": {"n1": {"siblings": [x], "clock": {"n1": 1}},
                        "n2": {"siblings": [y], "clock": {"n2": 1}}},
             "merged": only_y, "after": {"n1": only_y, "n2": only_y}}
    history = snapshot_history(store.descriptor, [("read-repair", probe)])
    judgement = judge_guarantee("read-repair-repairs", history, store.descriptor)
    assert judgement.status == "violated", judgement.explanation()
    assert "('n1', 1)" in judgement.reason
    both = {"siblings": [x, y], "clock": {"n1": 1, "n2": 1}}
    fixed = {**probe, "merged": both, "after": {"n1": both, "n2": both}}
    history = snapshot_history(store.descriptor, [("read-repair", fixed)])
    assert judge_guarantee("read-repair-repairs", history, store.descriptor).status == "holds"
    # a sibling the other replica's clock covers (and it does not hold) is superseded
    newer = _sibling("n2", 2, "z", {"n1": 1})
    superseding = {"siblings": [newer], "clock": {"n1": 1, "n2": 2}}
    covered = {**probe, "before": {"n1": {"siblings": [x], "clock": {"n1": 1}},
                                   "n2": superseding},
               "merged": superseding, "after": {"n1": superseding, "n2": superseding}}
    history = snapshot_history(store.descriptor, [("read-repair", covered)])
    assert judge_guarantee("read-repair-repairs", history, store.descriptor).status == "holds"


def _misaddressed_handoff(store: Any) -> dict[str, Any]:
    """k0's second replica down while it is written, taken by a fallback, back up: the
    hints observation of a copy of the store settled apart."""
    from replicheck.properties.mechanisms import handoff_twin

    owners = store.preference_list("items", {"pk": "k0"})
    store.crash(owners[1])
    store.execute(Put("items", {"pk": "k0", "v": "x"}))
    store.sim.run(lambda: len(hinted_states(store, "items")) == 1)
    store.restart(owners[1])
    observation = handoff_twin(store, "items")
    assert observation is not None
    return observation


def test_a_hint_dropped_before_its_owner_has_it_is_caught_when_it_is_dropped() -> None:
    """The fallback hands the hint to the key's first replica, which acknowledges: the
    fallback lets go of it while its owner holds nothing (read right then, before
    anti-entropy could bring the write there)."""
    from replicheck.implementation.mutants import mutant

    bad = _misaddressed_handoff(mutant("hint-sent-to-first-replica").build(0))
    assert [(d["owner"], d["owner_entry"]) for d in bad["dropped"]] == [
        (bad["held"][0]["owner"], None)]
    judgement = _judge(preset("dynamo-lww"), bad)
    assert judgement.status == "violated", judgement.explanation()
    assert "dropped before its owner had it" in judgement.reason
    good = _misaddressed_handoff(preset("dynamo-lww"))
    assert [d["owner_entry"] for d in good["dropped"]] == [good["held"][0]["entry"]]
    assert _judge(preset("dynamo-lww"), good).status == "holds"


class _NoDeadline(LeaderlessNode):
    """Its coordinator timers do nothing: a read answered by two owners waits for the
    third forever and repairs nobody while it is down."""

    def on_timer(self, timer: Any) -> None:
        if timer.name in ("sloppy", "deadline"):
            return  # THE BUG
        super().on_timer(timer)


def _one_owner_missed_a_write(bug: type | None) -> Any:
    store = preset("dynamo-quorum")
    if bug is not None:
        for node in store.node_endpoints.values():
            node.__class__ = bug
    owners = store.preference_list("items", {"pk": "k0"})
    store.crash(owners[2])
    store.execute(Put("items", {"pk": "k0", "v": "x"}))
    store.restart(owners[2])
    return store, owners


def test_read_repair_with_an_owner_down_is_observed_and_judged() -> None:
    """k0's third owner missed a write; with another owner down, a read coordinated
    by the stale one gathers the two live owners and must repair itself once the
    coordinator stops waiting for the third."""
    from replicheck.properties.mechanisms import read_repair_probes

    store, owners = _one_owner_missed_a_write(None)
    probes = [p for p in read_repair_probes(store, "items", "pk") if "down" in p]
    assert probes and probes[0]["key"] == '"k0"'
    first = probes[0]
    assert first["down"] != first["coordinator"] and set(first["after"]) == (
        set(owners) - {first["down"]})
    assert first["before"][owners[2]] is None and first["coordinator"] == owners[2]
    assert all(entry is not None for entry in first["after"].values())  # repaired
    history = snapshot_history(store.descriptor, [("read-repair", p) for p in probes])
    assert judge_guarantee("read-repair-repairs", history, store.descriptor).status == "holds"

    broken, _ = _one_owner_missed_a_write(_NoDeadline)
    probes = [p for p in read_repair_probes(broken, "items", "pk") if "down" in p]
    assert probes[0]["after"][owners[2]] is None  # never repaired
    history = snapshot_history(broken.descriptor, [("read-repair", p) for p in probes])
    judgement = judge_guarantee("read-repair-repairs", history, broken.descriptor)
    assert judgement.status == "violated" and owners[2] in judgement.reason
    # a read the store refused with an owner down (it cannot serve it) is not judged
    refused = [{**p, "answered": False} for p in probes]
    history = snapshot_history(broken.descriptor, [("read-repair", p) for p in refused])
    judgement = judge_guarantee("read-repair-repairs", history, broken.descriptor)
    assert judgement.status == NOT_APPLICABLE
