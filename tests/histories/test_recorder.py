"""The recorder's core: records in order with a monotonic clock, Jepsen's process rules,
the operation block, and many client threads at once."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace

import pytest

from replicheck.histories.formats import dumps_jsonl, read_records
from replicheck.histories.history import HistoryError
from replicheck.histories.recorder import Recorder


def counting_clock(start: int = 100, step: int = 10):  # type: ignore[no-untyped-def]
    counter = itertools.count(start, step)
    return lambda: next(counter)


class ConditionFailed(Exception):
    pass


class Timeout(Exception):
    pass


def test_records_events_in_order_with_the_injected_clock() -> None:
    rec = Recorder(clock=counting_clock())
    p = rec.new_process()
    assert rec.invoke(p, "write", 1, key="x", meta={"coordinator": "n1"}) == 0
    assert rec.ok(p, "write", 1, meta={"clock": {"n1": 1}}) == 1
    assert rec.fault("start-partition", ["n1"]) == 2
    assert rec.observe("replicas", {"n1": 1}) == 3
    records = rec.records()
    assert [(r.process, r.type, r.f, r.key, r.index, r.time) for r in records] == [
        (0, "invoke", "write", "x", 0, 100), (0, "ok", "write", "x", 1, 110),
        ("nemesis", "info", "start-partition", None, 2, 120),
        ("observer", "observe", "replicas", None, 3, 130),
    ]
    assert records[0].meta == {"coordinator": "n1"} and records[1].meta == {"clock": {"n1": 1}}
    h = rec.history()
    assert [(o.f, o.status, o.key, o.call_time, o.ret_time) for o in h.operations] == [
        ("write", "ok", "x", 100, 110)]
    assert h.operations[0].meta == {"coordinator": "n1", "clock": {"n1": 1}}
    assert len(h.faults) == 1 and len(h.observations) == 1


def test_records_is_a_snapshot() -> None:
    rec = Recorder()
    rec.invoke(0, "read")
    snapshot = rec.records()
    rec.ok(0, "read", 3)
    assert len(snapshot) == 1 and len(rec.records()) == 2


def test_fail_keeps_the_process_and_info_retires_it() -> None:
    rec = Recorder(clock=counting_clock())
    p = rec.new_process()
    rec.invoke(p, "cas", [1, 2], key="x")
    rec.fail(p, "cas", [1, 2], error="condition-failed")
    rec.invoke(p, "write", 3, key="x")
    fresh = rec.info(p, "write", 3, error="timed-out")
    assert fresh != p and fresh not in (r.process for r in rec.records())
    with pytest.raises(HistoryError) as info:
        rec.invoke(p, "read")
    assert str(info.value) == ("process 0 was retired after an info; expected the fresh "
                               "process id that info() returned")
    rec.invoke(fresh, "read", key="x")
    h = rec.history()
    assert [(o.process, o.f, o.status, o.error) for o in h.operations] == [
        (p, "cas", "fail", "condition-failed"), (p, "write", "info", "timed-out"),
        (fresh, "read", "info", None)]
    assert rec.in_flight() == {fresh: "read"}


def test_new_processes_never_reuse_a_process_seen_in_a_record() -> None:
    rec = Recorder()
    rec.invoke(7, "read")
    assert rec.new_process() == 8


@pytest.mark.parametrize(("steps", "message"), [
    ([("invoke", 0, "read"), ("invoke", 0, "write")],
     "process 0 invokes 'write' while its 'read' is in flight; expected ok, fail or info first"),
    ([("ok", 0, "read")],
     "process 0 completes 'read' (ok) without an invocation in flight; expected invoke first"),
    ([("invoke", 0, "read"), ("fail", 0, "write")],
     "process 0 completes 'write' but invoked 'read'; expected the same function"),
    ([("invoke", "nemesis", "read")],
     "process 'nemesis' is not an integer; expected a client process id (use fault() for a "
     "nemesis)"),
])
def test_broken_client_protocol_is_refused_and_not_recorded(
    steps: list[tuple[str, object, str]], message: str
) -> None:
    rec = Recorder()
    *ok_steps, last = steps
    for name, process, f in ok_steps:
        getattr(rec, name)(process, f)
    before = rec.records()
    name, process, f = last
    with pytest.raises(HistoryError) as info:
        getattr(rec, name)(process, f)
    assert str(info.value) == message
    assert rec.records() == before


def test_a_fault_needs_a_non_client_process() -> None:
    with pytest.raises(HistoryError, match="fault process 3 is an integer"):
        Recorder().fault("crash", process=3)


def test_recorded_history_round_trips_through_json_lines() -> None:
    rec = Recorder(clock=counting_clock())
    rec.invoke(0, "cas", [1, 2], key="k")
    rec.fail(0, "cas", [1, 2], error="condition-failed")
    rec.fault("heal")
    again = read_records(dumps_jsonl(rec.records()))
    assert [replace(r, line=None) for r in again] == list(rec.records())


# ------------------------------------------------------------------------------------
# The operation block


def test_operation_records_ok_with_the_result_or_the_invocation_value() -> None:
    rec = Recorder(clock=counting_clock())
    with rec.operation(0, "read", key="x") as call:
        call.result = 5
        call.meta["clock"] = {"n1": 2}
    with rec.operation(0, "write", 6, key="x") as write:
        pass
    assert (call.status, write.status, write.next_process) == ("ok", "ok", 0)
    ops = rec.history().operations
    assert [(o.f, o.status, o.output, o.key) for o in ops] == [
        ("read", "ok", 5, "x"), ("write", "ok", 6, "x")]
    assert ops[0].meta == {"clock": {"n1": 2}}


def test_operation_records_fail_for_definite_exceptions_and_reraises() -> None:
    rec = Recorder()
    with pytest.raises(ConditionFailed), \
            rec.operation(0, "cas", [1, 2], definite={ConditionFailed: "condition-failed"}):
        raise ConditionFailed
    with pytest.raises(ConditionFailed), rec.operation(0, "cas", [1, 2],
                                                       definite=[ConditionFailed]) as call:
        raise ConditionFailed
    assert call.next_process == 0
    assert [(o.status, o.error) for o in rec.history().operations] == [
        ("fail", "condition-failed"), ("fail", "ConditionFailed")]


def test_operation_records_info_for_other_exceptions_and_hands_a_fresh_process() -> None:
    rec = Recorder()
    with pytest.raises(Timeout), rec.operation(0, "write", 1,
                                               definite={ConditionFailed: "x"}) as call:
        raise Timeout
    assert call.status == "info" and call.error == "Timeout"
    assert call.next_process != 0
    with rec.operation(call.next_process, "read") as again:
        again.ok(1)
    (write, read) = rec.history().operations
    assert (write.status, write.error, read.process, read.output) == (
        "info", "Timeout", call.next_process, 1)


def test_an_explicit_outcome_wins() -> None:
    rec = Recorder()
    with rec.operation(0, "cas", [1, 2]) as call:
        call.fail("condition-failed")  # a store that answers False instead of raising
    with pytest.raises(ConditionFailed), rec.operation(0, "write", 1) as call2:
        call2.info("unavailable")
        raise ConditionFailed
    assert [(o.status, o.error) for o in rec.history().operations] == [
        ("fail", "condition-failed"), ("info", "unavailable")]


# ------------------------------------------------------------------------------------
# Threads


def test_many_threads_lose_no_record_and_get_fresh_processes_after_info() -> None:
    rec = Recorder()
    threads, rounds = 8, 150
    used: list[list[int]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads)

    def client(slot: int) -> None:
        process = rec.new_process()
        start.wait()
        for i in range(rounds):
            used[slot].append(process)
            rec.invoke(process, "write", (slot, i), key=slot % 3)
            if i % 10 == 9:
                process = rec.info(process, "write", (slot, i), error="timed-out")
            elif i % 10 == 4:
                rec.fail(process, "write", (slot, i))
            else:
                rec.ok(process, "write", (slot, i))

    workers = [threading.Thread(target=client, args=(s,)) for s in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    records = rec.records()
    assert len(records) == 2 * threads * rounds
    assert [r.index for r in records] == list(range(len(records)))
    times = [r.time or 0 for r in records]
    assert times == sorted(times) and times[0] > 0
    h = rec.history()
    assert len(h) == threads * rounds and h.skipped == ()
    assert sum(o.indeterminate for o in h.operations) == threads * rounds // 10
    by_process: dict[object, list[str]] = {}
    for o in h.operations:
        by_process.setdefault(o.process, []).append(o.status)
    # after info a process never continues, and no two clients share a process
    assert all("info" not in statuses[:-1] for statuses in by_process.values())
    all_used = [p for slot in used for p in set(slot)]
    assert len(all_used) == len(set(all_used))
    assert len(by_process) == threads * (rounds // 10)
