"""The engine turns machine runs into outcomes: statuses, cells, counts, counterexamples."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings

from replicheck.implementation.presets import preset
from replicheck.implementation.store import Handle
from replicheck.models.guarantees import ANOMALY_COLUMNS, GUARANTEES, MECHANISM_PROMISES
from replicheck.models.items.requests import Request
from replicheck.properties.engine import (
    ProgressEvent,
    describe_store,
    run_property,
    store_factory,
    verify_store,
)
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.replay import replay
from replicheck.properties.schedule import from_json
from replicheck.properties.suite import property_named


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    print_blob=False, phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def test_verify_store_on_a_preset_fills_every_cell() -> None:
    events: list[ProgressEvent] = []
    outcome = verify_store("dynamodb", profile="ci", max_examples=3, progress=events.append)
    assert outcome.target == "dynamodb" and outcome.name == "dynamodb"
    runs = {p.name: p for p in outcome.properties}
    assert runs["concurrent-histories-under-faults"].status == "passed"
    assert runs["concurrent-histories-under-faults"].examples >= 3
    assert runs["sequential-model-conformance"].status == "passed"
    assert runs["vector-clocks-and-siblings"].status == "skipped"
    assert runs["vector-clocks-and-siblings"].reason.startswith("not applicable")
    assert [c.guarantee for c in outcome.cells] == list(
        GUARANTEES + MECHANISM_PROMISES + ANOMALY_COLUMNS)
    claimed = set(outcome.claims)
    for cell in outcome.cells:
        assert cell.claimed == (cell.guarantee in claimed)
        assert cell.status != "violated"
        if cell.status == "not-applicable":
            assert cell.reason
    strong = outcome.cell("linearizable-strong-reads")
    assert strong is not None and strong.status == "holds" and strong.counts["holds"] >= 1
    # each cell names the checkers that decided it: the conformance property's and the
    # concurrency property's here
    assert strong.checker == ("item model conformance (one client); "
                              "item linearizability (WGL)")
    assert all(c.checker for c in outcome.cells if c.status != "not-applicable")
    assert all(r.status != "error" for r in outcome.properties)
    # progress: a start and an end per property, examples counted on the way
    finals = [e for e in events if e.status != "running"]
    assert [e.property for e in finals] == [p.name for p in outcome.properties]
    assert any(e.status == "running" and e.examples > 0 for e in events)


def test_a_mutant_fails_with_a_replayable_counterexample(tmp_path: Path) -> None:
    target = "mutant:ack-before-quorum"
    prop = property_named("concurrent-histories-under-faults")
    result = run_property(prop, store_factory(target, 5), target, _settings(100),
                          failure_dir=tmp_path, minimize=False, seed=5)
    run = result.run
    assert run.status == "failed", run.reason
    cx = run.counterexample
    assert cx is not None
    descriptor = describe_store(store_factory(target))
    assert descriptor.claims_guarantee(cx.guarantee)
    assert cx.property == prop.name
    assert cx.decisions == len(cx.steps) - 1 > 0  # the steps, then the teardown's line
    assert cx.steps[-1].startswith("then: ")
    assert any(" submits " in step for step in cx.steps)
    assert cx.history is not None and cx.history.operations
    assert cx.verdict is not None and cx.verdict.valid is False
    assert cx.schedule is not None and cx.schedule["target"] == target
    assert cx.schedule["seed"] == 5  # the store's seed, so that it replays on that store
    # the schedule replays to the same violation
    replayed = {j.guarantee: j.status for j in replay(from_json(cx.schedule)).judgements}
    assert replayed[cx.guarantee] == "violated"
    # the failure (what pytest shows) ends with how to replay it, from a file written
    assert isinstance(result.exception, GuaranteeViolation)
    message = str(result.exception)
    assert "replicheck replay" in message
    written = [p for p in tmp_path.iterdir() if p.name.startswith("replicheck-failure-")]
    assert len(written) == 1 and str(written[0]) in message
    assert result.counts[cx.guarantee]["violated"] >= 1


class _BrokenAdapter:
    """A schedulable store whose adapter crashes on the third submission."""

    def __init__(self) -> None:
        self.inner = preset("dynamodb")
        self.nodes = self.inner.nodes
        self.submitted = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def descriptor(self) -> Any:
        return self.inner.descriptor

    def execute(self, request: Request) -> Any:
        return self.inner.execute(request)

    def submit(self, client: str, request: Request) -> Handle:
        self.submitted += 1
        if self.submitted >= 3:
            raise RuntimeError("the adapter lost its connection")
        return self.inner.submit(client, request)  # type: ignore[no-any-return]

    def decisions(self) -> Any:
        return self.inner.decisions()

    def decide(self, decision: Any) -> None:
        self.inner.decide(decision)


def test_a_crash_that_is_no_violation_is_an_error() -> None:
    prop = property_named("concurrent-histories-under-faults")
    result = run_property(prop, _BrokenAdapter, "tests:broken", _settings(20),
                          minimize=False)
    assert result.run.status == "error"
    assert "RuntimeError: the adapter lost its connection" in result.run.reason
    assert result.run.counterexample is None
    assert isinstance(result.exception, RuntimeError)


def test_a_property_that_does_not_apply_is_skipped_without_running() -> None:
    prop = property_named("vector-clocks-and-siblings")
    events: list[ProgressEvent] = []
    result = run_property(prop, store_factory("dynamodb"), "dynamodb", _settings(5),
                          progress=events.append)
    assert result.run.status == "skipped" and result.run.examples == 0
    assert "versions" in result.run.reason
    assert [e.status for e in events] == ["skipped"]


class ProtocolsOnly:
    """A dynamo-quorum store seen only through the Store and Schedulable protocols:
    it declares the capabilities the replica and clock properties require, but none of the reference
    store's simulation methods they drive replicas with."""

    def __init__(self) -> None:
        self.inner: Any = preset("dynamo-quorum")

    @property
    def descriptor(self) -> Any:
        return self.inner.descriptor

    def execute(self, request: Request) -> Any:
        return self.inner.execute(request)

    def submit(self, client: str, request: Request) -> Handle:
        handle: Handle = self.inner.submit(client, request)
        return handle

    def decisions(self) -> tuple[Any, ...]:
        return tuple(self.inner.decisions())

    def decide(self, decision: Any) -> None:
        self.inner.decide(decision)


def test_a_machine_that_cannot_drive_the_store_skips_it_with_the_reason() -> None:
    for name, missing in (
            ("convergence-after-anti-entropy",
             ("MessageControl", "Settling", "Topology", "RangeSnapshots or ReplicaSnapshots")),
            ("vector-clocks-and-siblings",
             ("MessageControl", "Settling", "Topology", "PreferenceLists", "ReplicaSnapshots",
              "DirectRouting"))):
        prop = property_named(name)
        assert prop.skip_reason(ProtocolsOnly().descriptor) is None  # capabilities suffice
        result = run_property(prop, ProtocolsOnly, "tests:protocols-only", _settings(3))
        assert result.run.status == "skipped"
        reason = result.run.reason
        assert reason.startswith("not applicable: dynamo-quorum lacks ")
        assert reason.endswith(f"which {name} drives and observes the store's replicas through")
        assert re.findall(r"\b([A-Z]\w+) \(", reason) == [
            part for m in missing for part in m.split(" or ")]
        bare = re.sub(r" \([^)]*\)", "", reason)  # the members each protocol lists
        assert bare.startswith("not applicable: dynamo-quorum lacks " + "; ".join(missing))
        assert result.exception is None


def test_a_guarantee_already_shown_small_is_not_shrunk_by_hypothesis_again(
        monkeypatch: Any, tmp_path: Path) -> None:
    """Hypothesis' shrinking (slow) runs for a failure the schedule shrinker did not
    bring within SMALL_ENOUGH steps, unless another property already showed the same
    guarantee violated within them."""
    from replicheck.properties import engine

    calls: list[bool] = []
    real = engine._attempt

    def spy(machine: Any, chosen: settings, *, shrink: bool) -> Exception | None:
        calls.append(shrink)  # asked for; the shrinking attempt itself is not run
        return None if shrink else real(machine, chosen, shrink=shrink)

    monkeypatch.setattr(engine, "_attempt", spy)
    target = "mutant:ack-before-quorum"
    prop = property_named("concurrent-histories-under-faults")
    chosen = settings(_settings(100), phases=tuple(Phase))
    first = run_property(prop, store_factory(target), target, chosen, failure_dir=tmp_path,
                         minimize=False)  # no schedule shrinking: nothing within 10 steps
    assert first.run.status == "failed" and calls == [False, True]
    calls.clear()
    shown = dict.fromkeys(GUARANTEES + MECHANISM_PROMISES, 2)  # every one, in 2 steps
    again = run_property(prop, store_factory(target), target, chosen, failure_dir=tmp_path,
                         minimize=False, known=shown)
    assert again.run.status == "failed" and calls == [False]


def test_dynamo_lww_shows_a_lost_update_with_its_writes_and_the_read() -> None:
    # last writer wins with R=W=1: two increments coordinated by different replicas
    # both read the same version; a read after both returns one of them
    outcome = verify_store("dynamo-lww", profile="ci", max_examples=60, minimize=False,
                           properties=[property_named("concurrent-histories-under-faults")])
    cell = outcome.cell("lost-update")
    assert cell is not None and cell.status == "observed" and not cell.claimed
    assert cell.counts["observed"] >= 1
    (cx,) = [o for o in outcome.observations if o.guarantee == "lost-update"]
    assert cx.verdict is not None and cx.history is not None
    lost = [a for a in cx.verdict.anomalies if a.type == "lost-update"]
    assert lost and len(lost) == len(cx.verdict.anomalies)
    by_id = {op.id: op for op in cx.history.operations}
    for anomaly in lost:
        writes, read = anomaly.data["writes"], anomaly.data["read"]
        assert len(writes) >= 2 and read is not None
        assert set(anomaly.ops) == {*writes, read}
        assert all(by_id[w].f in ("put", "update", "delete") and by_id[w].status == "ok"
                   for w in writes)
        assert by_id[read].f.startswith("get") and by_id[read].status == "ok"
        assert all(by_id[w].ret is not None and by_id[w].ret < by_id[read].call
                   for w in writes)
        assert all(f"op {w}" in anomaly.explanation for w in writes)
        assert f"Op {read}" in anomaly.explanation
