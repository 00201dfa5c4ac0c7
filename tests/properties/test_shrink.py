"""Shrinking a failing schedule: hand-written schedules for mutants, with steps that
have nothing to do with the bug, shrink to fewer steps that still show it on the
mutant and show nothing on the reference preset."""

from __future__ import annotations

from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any

from replicheck.models.items.requests import Get, Put, TransactWrite
from replicheck.properties.guarantees import HOLDS, VIOLATED
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.replay import replay
from replicheck.properties.schedule import (
    Schedule,
    burst_step,
    describe_step,
    from_json,
    load,
    submit_step,
)
from replicheck.properties.shrink import canonical_epilogue, ddmin, minimize_counterexample

T = "items"
RETRY = "mutant:stream-duplicate-on-retry"
ELECTION = "mutant:election-ignores-log"


def counterexample(target: str, guarantee: str, steps: list[dict[str, Any]],
                   teardown: list[dict[str, Any]]) -> Counterexample:
    schedule = Schedule(target, 0, tuple(steps + teardown))
    return Counterexample("concurrency", guarantee, "hand-written", decisions=len(steps),
                          schedule=schedule.to_json())


def status(schedule: dict[str, Any] | Any, guarantee: str, target: str | None = None) -> str:
    loaded = from_json(schedule)
    if target is not None:
        loaded = Schedule(target, loaded.seed, loaded.steps)
    return next(j.status for j in replay(loaded).judgements if j.guarantee == guarantee)


def retried_transaction() -> Counterexample:
    """A transaction retried with its token after it committed (every scheduler
    decision written out: message ids as the simulation numbers them), among steps
    that do not matter: clock skews, a crash and restart of a node outside the item's
    partition, other keys written afterwards."""
    retry = submit_step("c0", TransactWrite((Put(T, {"pk": "a", "v": 1}),), token="tok-1"))
    steps: list[dict[str, Any]] = [
        {"skew": ["n2", 0.5]},
        retry,
        *({"decide": {"deliver": i}} for i in (10, 12, 13, 14, 15, 16, 17)),
        {"skew": ["n3", -0.5]},
        retry,
        *({"decide": {"deliver": i}} for i in (18, 20, 21, 22, 23, 24, 25)),
        submit_step("c1", Put(T, {"pk": "b", "v": 2})),
        {"run": {}},
        submit_step("c2", Get(T, {"pk": "b"}, consistent=True)),
        {"run": {}},
    ]
    teardown: list[dict[str, Any]] = [{"heal": {}}, {"run": {}}, {"observe": "stream"}]
    return counterexample(RETRY, "stream-exactly-once", steps, teardown)


def test_a_retried_transaction_shrinks_to_the_retry_and_still_fails() -> None:
    cx = retried_transaction()
    assert status(cx.schedule, "stream-exactly-once") == VIOLATED
    shrunk = minimize_counterexample(cx, RETRY)
    assert shrunk.decisions is not None and cx.decisions is not None
    assert shrunk.decisions < cx.decisions
    assert shrunk.schedule is not None
    assert len(shrunk.schedule["steps"]) < len(cx.schedule["steps"])  # type: ignore[index]
    kept = shrunk.schedule["steps"][:shrunk.decisions]
    assert sum(1 for s in kept if "submit" in s) == 2  # the transaction and its retry
    assert not any("skew" in s for s in kept)
    assert status(shrunk.schedule, "stream-exactly-once") == VIOLATED
    assert status(shrunk.schedule, "stream-exactly-once", target="dynamodb") == HOLDS
    assert shrunk.guarantee == cx.guarantee and shrunk.property == cx.property
    assert shrunk.history is not None and shrunk.verdict is not None
    assert "stream-duplicate" in {a.type for a in shrunk.verdict.anomalies}
    assert len(shrunk.steps) >= shrunk.decisions
    assert shrunk.steps[0].startswith("c0 submits")


def lagging_replica() -> Counterexample:
    """One replica of key a's partition cut off while a write commits; time passes;
    the network heals; a strong read. Among them: writes of other keys, a clock skew,
    a crash and restart."""
    steps: list[dict[str, Any]] = [
        submit_step("c0", Put(T, {"pk": "a", "v": 1})),
        {"run": {}},
        submit_step("c1", Put(T, {"pk": "k7", "v": 9})),
        {"run": {}},
        {"partition": [["n3"], ["n1", "n2", "n4", "n5"]]},
        {"skew": ["n1", 2.0]},
        submit_step("c0", Put(T, {"pk": "a", "v": 2})),
        {"run": {}},
        {"crash": "n5"},
        {"settle": {"seconds": 3.0}},
        {"restart": "n5"},
        {"heal": {}},
        {"settle": {}},
        submit_step("c2", Get(T, {"pk": "k7"}, consistent=True)),
        {"run": {}},
        submit_step("c1", Get(T, {"pk": "a"}, consistent=True)),
        {"run": {}},
    ]
    teardown: list[dict[str, Any]] = [{"heal": {}}, {"run": {}}, {"observe": "stream"}]
    return counterexample(ELECTION, "linearizable-strong-reads", steps, teardown)


def test_a_lost_write_after_failover_shrinks_and_the_reference_holds() -> None:
    cx = lagging_replica()
    assert status(cx.schedule, "linearizable-strong-reads") == VIOLATED
    shrunk = minimize_counterexample(cx, ELECTION)
    assert shrunk.decisions is not None and cx.decisions is not None
    assert shrunk.decisions < cx.decisions
    kept = shrunk.schedule["steps"][:shrunk.decisions]  # type: ignore[index]
    assert {"partition": [["n3"], ["n1", "n2", "n4", "n5"]]} in kept
    assert not any("skew" in s or "crash" in s for s in kept)
    assert status(shrunk.schedule, "linearizable-strong-reads") == VIOLATED
    assert status(shrunk.schedule, "linearizable-strong-reads", target="dynamodb") == HOLDS


def test_a_counterexample_that_does_not_reproduce_comes_back_unchanged() -> None:
    cx = retried_transaction()
    assert minimize_counterexample(cx, "dynamodb") is cx  # the reference: no violation
    bare = Counterexample("concurrency", "stream-exactly-once", "no schedule")
    assert minimize_counterexample(bare, RETRY) is bare
    broken = Counterexample("concurrency", "stream-exactly-once", "bad",
                            decisions=1, schedule={"steps": [{"nope": 1}]})
    assert minimize_counterexample(broken, RETRY) is broken
    assert minimize_counterexample(cx, "mutant:no-such-mutant") is cx


def test_the_budget_bounds_the_work() -> None:
    cx = retried_transaction()
    assert minimize_counterexample(cx, RETRY, max_replays=1).decisions == cx.decisions
    assert minimize_counterexample(cx, RETRY, seconds=0.0) is cx


def test_ddmin_finds_a_one_minimal_subsequence() -> None:
    calls: list[list[int]] = []

    def fails(candidate: list[int]) -> bool:
        calls.append(candidate)
        return {3, 7}.issubset(candidate) and candidate.index(3) < candidate.index(7)

    assert ddmin(list(range(10)), fails) == [3, 7]
    assert ddmin([5], lambda c: True) == []
    assert ddmin([1, 2], lambda c: c == [1, 2]) == [1, 2]


def test_the_epilogue_restarts_what_the_kept_steps_left_crashed() -> None:
    kept = [{"crash": "n1"}, {"crash": "n2"}, {"restart": "n2"}]
    teardown: list[dict[str, Any]] = [{"heal": {}}, {"decide": {"deliver": 3}}, {"settle": {}},
                {"observe": "replicas"}]
    epilogue = canonical_epilogue(kept, teardown, faults=True,
                                  observations=("replicas", "stream"))
    assert epilogue == [{"heal": {}}, {"restart": "n1"}, {"run": {}}, {"settle": {}},
                        {"observe": "replicas"}, {"observe": "stream"}]
    assert canonical_epilogue([], [], faults=False) == [{"run": {}}]


def test_a_decision_keeps_its_part_when_earlier_steps_go() -> None:
    """A put whose request message is delivered twice, after an unrelated put: the
    duplicate's message id (18) shifts once the unrelated put (and the messages it
    caused) is gone; the shrinker points the decision at the same request."""
    steps: list[dict[str, Any]] = [
        submit_step("c2", Put(T, {"pk": "c", "v": 3})),
        *({"decide": {"deliver": i}} for i in (10, 12, 13, 14, 15, 16, 17)),
        submit_step("c1", Put(T, {"pk": "b", "v": 2})),
        {"decide": {"duplicate": 18}},
        *({"decide": {"deliver": i}} for i in (18, *range(20, 32))),
    ]
    teardown: list[dict[str, Any]] = [{"heal": {}}, {"run": {}}, {"observe": "stream"}]
    words = tuple(describe_step(s, "c1 -> router (request)" if i == 9 else None)
                  for i, s in enumerate(steps))
    cx = dc_replace(counterexample(RETRY, "stream-exactly-once", steps, teardown),
                    steps=words)
    assert status(cx.schedule, "stream-exactly-once") == VIOLATED
    shrunk = minimize_counterexample(cx, RETRY)
    assert shrunk.schedule is not None and shrunk.decisions is not None
    kept = shrunk.schedule["steps"][:shrunk.decisions]
    assert [s for s in kept if "submit" in s] == [steps[8]]  # the put of c is gone
    duplicates = [s["decide"]["duplicate"] for s in kept
                  if "decide" in s and "duplicate" in s["decide"]]
    assert len(duplicates) == 1 and duplicates[0] < 18  # the same request, renumbered
    assert f"duplicate message {duplicates[0]} c1 -> router (request)" in shrunk.steps
    assert shrunk.decisions <= 3
    assert status(shrunk.schedule, "stream-exactly-once") == VIOLATED
    assert status(shrunk.schedule, "stream-exactly-once", target="dynamodb") == HOLDS


DATA = Path(__file__).parent / "data"
VV_MERGE = "mutant:vv-merge-drops-entries"


def partitioned_stale_replica() -> Counterexample:
    """A failing example of the concurrency property on vv-merge-drops-entries (72 decisions, then
    the machine's own teardown), recorded by the Hypothesis search: it ends with n2
    cut off while messages to and from it are in flight. The teardown drops those
    messages before it heals; delivered after the heal instead, they change the run
    and the violation is gone."""
    schedule = load(DATA / "vv-merge-cut-off-by-partition.json")
    return Counterexample("concurrent-histories-under-faults", "vector-clock-order",
                          "recorded", decisions=72, schedule=schedule.to_json())


def test_the_epilogue_drops_what_the_partition_cut_off_before_it_heals() -> None:
    kept = [{"partition": [["n2"], ["n1", "n3"]]}]
    teardown: list[dict[str, Any]] = [{"decide": {"drop": 4}}, {"heal": {}},
                                      {"decide": {"deliver": 5}}, {"observe": "replicas"}]
    epilogue = canonical_epilogue(kept, teardown, faults=True,
                                  observations=("replicas",), cut_off=(7, 9))
    assert epilogue == [{"decide": {"drop": 7}}, {"decide": {"drop": 9}}, {"heal": {}},
                        {"run": {}}, {"observe": "replicas"}]
    assert canonical_epilogue(kept, teardown, faults=False,
                              cut_off=(7,)) == [{"run": {}}, {"observe": "replicas"}]


def test_a_schedule_cut_off_by_a_partition_reproduces_with_the_canonical_epilogue() -> None:
    cx = partitioned_stale_replica()
    assert status(cx.schedule, "vector-clock-order") == VIOLATED  # the machine's teardown
    first = minimize_counterexample(cx, VV_MERGE, max_replays=1)  # step 1 only
    assert first is not cx and first.decisions == cx.decisions
    assert first.schedule is not None and first.schedule["steps"][:72] == \
        cx.schedule["steps"][:72]  # type: ignore[index]
    epilogue = first.schedule["steps"][72:]
    heal = epilogue.index({"heal": {}})
    dropped = [s["decide"]["drop"] for s in epilogue[:heal]]
    assert dropped == [22, 27, 41, 48, 60]  # in flight across the partition
    assert epilogue[heal + 1] == {"run": {}}  # the canonical epilogue, not the recording
    assert status(first.schedule, "vector-clock-order") == VIOLATED


def test_a_schedule_cut_off_by_a_partition_shrinks_to_a_few_steps() -> None:
    cx = partitioned_stale_replica()
    shrunk = minimize_counterexample(cx, VV_MERGE)
    assert shrunk.decisions is not None and shrunk.decisions <= 10
    assert shrunk.schedule is not None
    assert status(shrunk.schedule, "vector-clock-order") == VIOLATED
    assert shrunk.history is not None


def test_a_teardown_the_canonical_epilogue_does_not_reproduce_is_replayed_as_recorded(
        ) -> None:
    """The request of a put duplicated in the recorded teardown: the canonical
    epilogue (fair decisions, no duplicate) shows nothing, the recorded teardown
    does; every candidate then ends with it, its decisions pointed at the same
    messages, and the unrelated put goes."""
    steps: list[dict[str, Any]] = [
        submit_step("c2", Put(T, {"pk": "c", "v": 3})),
        *({"decide": {"deliver": i}} for i in (10, 12, 13, 14, 15, 16, 17)),
        submit_step("c1", Put(T, {"pk": "b", "v": 2})),
    ]
    teardown: list[dict[str, Any]] = [
        {"decide": {"duplicate": 18}},
        *({"decide": {"deliver": i}} for i in (18, *range(20, 32))),
        {"observe": "stream"},
    ]
    cx = counterexample(RETRY, "stream-exactly-once", steps, teardown)
    assert status(cx.schedule, "stream-exactly-once") == VIOLATED
    canonical = Schedule(RETRY, 0, tuple(steps + canonical_epilogue(
        steps, teardown, faults=True, observations=("stream",))))
    assert status(canonical.to_json(), "stream-exactly-once") == HOLDS
    shrunk = minimize_counterexample(cx, RETRY)
    assert shrunk is not cx
    assert shrunk.schedule is not None and shrunk.decisions == 1
    kept, epilogue = (shrunk.schedule["steps"][:1], shrunk.schedule["steps"][1:])
    assert kept == [steps[8]]  # the put of c is gone
    assert epilogue[0] == {"decide": {"duplicate": 10}}  # b's request, renumbered
    assert shrunk.steps[1] == ("then: duplicate message 10, deliver 13 messages, "
                               "observe stream")
    assert status(shrunk.schedule, "stream-exactly-once") == VIOLATED


def test_a_burst_shrinks_to_the_fewest_puts_that_still_show_the_bug() -> None:
    """The string-ordered stream needs a partition's tenth record: a burst of 12 puts
    shrinks to the smallest count that still reorders it, and one fewer does not."""
    target = "mutant:stream-string-sequence-order"
    steps: list[dict[str, Any]] = [{"skew": ["n2", 0.5]},
                                   burst_step("c0", Put(T, {"pk": "a"}), 12)]
    cx = counterexample(target, "stream-item-order", steps,
                        [{"settle": {}}, {"observe": "stream"}])
    assert status(cx.schedule, "stream-item-order") == VIOLATED
    shrunk = minimize_counterexample(cx, target)
    assert shrunk.schedule is not None and shrunk.decisions == 1
    (kept,) = shrunk.schedule["steps"][:1]
    count = kept["burst"]["count"]
    assert 1 < count < 12
    assert status(shrunk.schedule, "stream-item-order") == VIOLATED
    fewer = [{"burst": {**kept["burst"], "count": count - 1}},
             *shrunk.schedule["steps"][1:]]
    assert status(Schedule(target, 0, tuple(fewer)).to_json(), "stream-item-order") == HOLDS
    assert shrunk.steps[0] == describe_step(kept)


def test_the_shrunk_steps_name_each_client_as_the_shrunk_history_does() -> None:
    """The original run's words may name a client's fresh process (``c0/2``, after an
    indeterminate answer) that the shrunk history no longer has: each kept submission
    is named as the history the shrunk schedule replays labels its operation."""
    from replicheck.histories.wording import process_label

    cx = retried_transaction()
    assert cx.schedule is not None and cx.decisions is not None
    words = tuple(describe_step(s).replace("c0 submits", "c0/2 submits")
                  for s in cx.schedule["steps"][:cx.decisions])
    shrunk = minimize_counterexample(dc_replace(cx, steps=words), RETRY)
    assert shrunk.history is not None and shrunk.decisions is not None
    submitted = [w.split(" ")[0] for w in shrunk.steps if " submits " in w]
    labels = [process_label(op) for op in sorted(shrunk.history.operations,
                                                 key=lambda o: o.call)]
    assert submitted == labels and submitted[0] == "c0"
