"""The clock-skew and window-jump rule classes, and the schedule steps time jumps are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.histories.formats.jsonl import dumps_jsonl
from replicheck.implementation.presets import preset
from replicheck.implementation.reference.leader import state as leader_state
from replicheck.implementation.reference.leader import stream as leader_stream
from replicheck.implementation.store import Store
from replicheck.models.items.requests import Get, Put, TransactWrite, Update
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.profiles import source_independent
from replicheck.properties.recording import RecordingStore
from replicheck.properties.replay import build_store, replay
from replicheck.properties.schedule import (
    ScheduleRecorder,
    check_step,
    describe_step,
    fair_decision,
    load,
)
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.search.timing import (
    CLASSES,
    NEAR,
    RUN_FOR_LIMIT,
    current_skew,
    jump_plan,
    jump_seconds,
    timing_rules,
)
from replicheck.properties.verdicts import failures_to

T = "items"


def every_class_on(self: Any, name: str) -> bool:
    """Swarm testing off: every rule class enabled in every example."""
    return True


def machine(name: str, factory: Callable[[], Store] | None = None) -> Any:
    """A concurrency machine for preset ``name`` with the timing rules mixed in
    (every rule class enabled)."""
    make = factory or (lambda: preset(name))
    mixin = timing_rules(probe_surface(make()))
    return type("T", (mixin, concurrency_machine(make, target=name)),
                {"swarm_on": every_class_on})


def instance(name: str) -> Any:
    built = machine(name)()
    built.timing_start()
    return built


def search(machine_class: Any, examples: int, folder: Path) -> None:
    """A derandomized search without shrinking; failing schedules go to ``folder``.
    Drawn from no literal of the loaded modules' source (``source_independent``), so
    its path is the properties' own, not that of whatever code is loaded."""
    with failures_to(folder), source_independent():
        run_state_machine_as_test(machine_class, settings=settings(
            max_examples=examples, derandomize=True, database=None, deadline=None,
            stateful_step_count=20, print_blob=False,
            phases=(Phase.explicit, Phase.reuse, Phase.generate),
            suppress_health_check=list(HealthCheck)))


# -- the schedule steps -----------------------------------------------------------------------


def test_advance_and_run_for_are_schedule_steps() -> None:
    assert check_step({"advance": 600.5}) == {"advance": 600.5}
    assert check_step({"run_for": 2}) == {"run_for": 2}
    for bad in (0, -1.0, True, "600", None, float("inf")):
        with pytest.raises(ValueError, match="expected a positive number of seconds"):
            check_step({"advance": bad})
    with pytest.raises(ValueError, match="run_for is"):
        check_step({"run_for": 0})
    assert describe_step({"advance": 606}) == ("time jumps 606 s forward (timers due "
                                               "meanwhile fire late)")
    assert describe_step({"run_for": 2.0}) == "run the store for 2 s of simulated time"


def test_a_recorded_jump_replays_to_the_same_history() -> None:
    """A tokened increment, a jump just inside the token window (advance, then the
    store's own run_for), the retry and a read: replay gives the same history, byte
    for byte, and simulated time passed the jump."""
    store = build_store("dynamodb")
    recorder = ScheduleRecorder(store, "dynamodb")
    rec = RecordingStore(recorder)  # the store's time, and its windows declared

    def run(client: str, request: Any) -> Any:
        handle = rec.submit(client, request)
        while not handle.done:
            decision = fair_decision(recorder)
            if decision is None:
                break
            rec.decide(decision)
        return handle

    increment = TransactWrite((Update(T, {"pk": "a"}, "ADD n :one", values={":one": 1}),),
                              token="t1")
    assert run("c0", increment).status == "ok"
    rec.submit("c1", Put(T, {"pk": "b", "v": "x"}))  # in flight across the jump
    recorder.advance(590.0)
    assert recorder.run_for(RUN_FOR_LIMIT) > 0
    rec.collect()
    assert store.now() >= 592.0
    assert run("c0", increment).status == "ok"
    read = run("c2", Get(T, {"pk": "a"}, consistent=True))
    assert read.response.item["n"] == 1  # the retry inside the window did not apply
    rec.abandon()
    kinds = [next(iter(s)) for s in recorder.steps]
    assert kinds.count("advance") == 1 and kinds.count("run_for") == 1
    first, second = replay(recorder.schedule()), replay(recorder.schedule())
    assert first.history_jsonl == second.history_jsonl == dumps_jsonl(
        rec.recorder.records())
    assert first.exit_status == 0
    assert max(op.ret_time or 0 for op in first.history.operations) > 590 * 1_000_000_000


# -- clock-skew -------------------------------------------------------------------------------


def test_a_clock_that_jumps_back_stamps_a_later_write_earlier() -> None:
    """dynamo-lww stamps writes with the coordinator's clock: after a replica's clock
    jumps back 30 s, the put it coordinates carries a stamp 30 s before global time,
    below the stamp of a write another replica made before it."""
    m = instance("dynamo-lww")
    first = m.run_request("c1", Put(T, {"pk": "k0", "v": "a"}), m.replica("k0", 0))
    assert first.status == "ok"
    earlier = first.meta["version"][0]
    node = m.replica("k0", 1)
    m.clock_back_then_write("c0", "k0", 1, 30.0, "b")
    assert current_skew(m.raw.steps, node) == -30.0
    later = m.handles["c0"]
    assert later.status == "ok" and later.meta["coordinator"] == node
    stamp = later.meta["version"][0]
    assert stamp < earlier
    assert stamp <= round((m.raw.now() - 29.0) * 1_000_000)
    m.clock_back(node, 5.0)  # below its current offset, not below zero
    assert current_skew(m.raw.steps, node) == -35.0
    assert m.marked == {"clock-skew"}
    m.teardown()


def test_clock_faults_reach_isolated_and_every_node() -> None:
    m = instance("dynamodb")
    leader = m.replica("k1", 0)
    m.clock_isolated("k1", 0, -5.0)
    assert m.raw.steps[-2:] == [
        {"partition": [[leader], [n for n in m.surface.nodes if n != leader]]},
        {"skew": [leader, -5.0]}]
    offsets = [30.0, -30.0, 0.5, -0.5, 5.0]
    m.clock_each(offsets)
    assert [current_skew(m.raw.steps, n) for n in m.surface.nodes] == offsets
    m.clock_set("n2", -0.5)
    assert current_skew(m.raw.steps, "n2") == -0.5
    m.teardown()


# -- window-jump ------------------------------------------------------------------------------


def test_jump_arithmetic() -> None:
    assert jump_seconds(600.0, True) == pytest.approx(606.0)
    assert jump_seconds(600.0, False) == pytest.approx(594.0)
    assert jump_plan(606.0, False) == (606.0, 0.0)
    assert jump_plan(606.0, True) == (606.0 - RUN_FOR_LIMIT, RUN_FOR_LIMIT)
    assert jump_plan(0.505, True) == (0.0, 0.505)
    assert CLASSES == ("clock-skew", "window-jump")


def test_time_jumps_past_each_declared_window() -> None:
    """The leader store's token window (advance, then its own run_for), its stream
    retention window (counted from the run's start: the records written before
    the jump age out, and the teardown's checkers do not call them missing), the
    leaderless hint timer."""
    m = instance("dynamodb")
    assert m.surface.windows.idempotency_token == 600.0
    m.run_request("c0", Put(T, {"pk": "k0", "v": "early"}))
    m.window_jump("idempotency_token", True, True, 10)
    assert m.raw.now() >= 600.0 * (1 + NEAR)
    assert {"run_for": RUN_FOR_LIMIT} in m.raw.steps
    assert any("advance" in s for s in m.raw.steps)
    m.window_jump("stream_retention", True, False, 0)
    retention = m.surface.windows.stream_retention
    assert m.raw.now() == pytest.approx(retention * (1 + NEAR))
    assert m.raw.stream_records(T) == ()  # the early put's record aged out
    before = m.raw.now()
    m.window_jump("stream_retention", False, False, 0)  # already past: nothing
    assert m.raw.now() == before
    assert m.marked == {"window-jump"}
    m.teardown()

    lww = instance("dynamo-lww")
    hint = lww.surface.windows.hint_timer
    assert hint is not None
    lww.window_jump("hint_timer", True, True, 0)  # a quiet store: run_for, then advance
    assert lww.raw.now() >= hint * (1 + NEAR)
    lww.teardown()


def test_the_rules_keep_correct_stores_clean(tmp_path: Path) -> None:
    """A small search with the timing rules over the leader store and the LWW store:
    every claim holds (no jump or skew makes a false violation)."""
    search(machine("dynamodb"), 25, tmp_path)
    search(machine("dynamo-lww"), 15, tmp_path)


def test_a_token_retried_past_its_window_applies_anew_and_the_checkers_agree() -> None:
    """The retry of a tokened increment just past the window applies again (the
    item holds 2); the teardown's checkers find no violation (it raises one)."""
    m = instance("dynamodb")
    m.token_after_window("c0", "k0", False)
    reads = [op for op in m.rec.history().operations if op.f == "get-strong"]
    assert reads[-1].output["item"]["n"] == {"N": "2"}
    assert m.raw.now() >= 600.0 * (1 + NEAR)
    m.teardown()


# -- the bugs the rules find ------------------------------------------------------------------


def forgets_tokens_early(record: Any, now: float) -> bool:
    """A token remembered for half the window the store declares."""
    return bool(now - record.time < leader_state.IDEMPOTENCY_WINDOW_SECONDS / 2)


def test_a_token_forgotten_before_its_window_is_caught(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    """The leader store forgetting a client request token after 300 s where it
    declares 600: the machine alone (time stays near zero) passes; with the
    window-jump rules a retry just inside the window applies the transaction twice."""
    monkeypatch.setattr(leader_state.TokenRecord, "live", forgets_tokens_early)
    search(concurrency_machine(lambda: preset("dynamodb"), target="dynamodb"), 40, tmp_path)
    with pytest.raises(GuaranteeViolation) as raised:
        search(machine("dynamodb"), 40, tmp_path)
    assert {"serializable-transactions", "linearizable-strong-reads"} & set(
        raised.value.guarantees)
    (written,) = tmp_path.glob("replicheck-failure-dynamodb-*.json")
    schedule = load(written)
    assert any("advance" in step for step in schedule.steps)
    assert replay(schedule).exit_status == 1  # the jump replays to the same violation


def test_stream_records_dropped_before_their_retention_are_caught(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The change stream keeping records one hour where the store declares a day: the
    machine alone passes; a jump to just before the declared retention shows a
    record missing."""
    monkeypatch.setattr(leader_stream, "STREAM_RETENTION_SECONDS", 3600.0)
    search(concurrency_machine(lambda: preset("dynamodb"), target="dynamodb"), 40, tmp_path)
    with pytest.raises(GuaranteeViolation) as raised:
        search(machine("dynamodb"), 100, tmp_path)
    assert "stream-exactly-once" in raised.value.guarantees
    (written,) = tmp_path.glob("replicheck-failure-dynamodb-*.json")
    assert replay(load(written)).exit_status == 1

