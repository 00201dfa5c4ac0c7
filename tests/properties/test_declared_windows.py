"""Checkers judge client request tokens and stream records against the windows the
store declares: a token reused after its window is a new request, a stream record
older than the retention window may be gone; inside the windows nothing changes."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from replicheck.histories.history import History, Record, pair
from replicheck.implementation.presets import preset
from replicheck.implementation.reference.leader import state as leader_state
from replicheck.implementation.store import Fire
from replicheck.models.items.requests import Get, Put, Request, TransactWrite, Update
from replicheck.properties.guarantees import judge_guarantee
from replicheck.properties.mechanisms import stream_observation
from replicheck.properties.recording import RecordingStore
from replicheck.properties.schedule import fair_decision

T = "items"


def run(rec: RecordingStore, client: str, request: Request) -> Any:
    """Submit ``request`` and take fair decisions until it completes."""
    handle = rec.submit(client, request)
    for _ in range(5000):
        if handle.done:
            break
        decision = fair_decision(rec.store)
        assert decision is not None
        rec.decide(decision)
    assert handle.done
    return handle


def increment(key: str, token: str) -> TransactWrite:
    return TransactWrite((Update(T, {"pk": key}, "SET n = if_not_exists(n, :zero) + :one",
                                 values={":zero": Decimal(0), ":one": Decimal(1)}),),
                         token=token)


def token_history(gap: float, same_body: bool) -> tuple[History, Any]:
    """A tokened transaction, ``gap`` seconds of time passing, the same token again
    (the same body, or a put of another item), then strong reads of both items."""
    rec, retry = token_recording(gap, same_body)
    return rec.history(), retry


def token_recording(gap: float, same_body: bool) -> tuple[RecordingStore, Any]:
    """:func:`token_history`'s recording."""
    store = preset("dynamodb")
    rec = RecordingStore(store)
    first = increment("k0", "tok")
    assert run(rec, "c0", first).status == "ok"
    store.advance(gap)
    again = first if same_body else TransactWrite((Put(T, {"pk": "k1", "v": "x"}),),
                                                  token="tok")
    retry = run(rec, "c0", again)
    run(rec, "c0", Get(T, {"pk": "k0"}, consistent=True))
    run(rec, "c0", Get(T, {"pk": "k1"}, consistent=True))
    return rec, retry


GUARANTEES = ("serializable-transactions", "linearizable-strong-reads")


def judged(history: History) -> dict[str, str]:
    descriptor = preset("dynamodb").descriptor
    return {g: judge_guarantee(g, history, descriptor).status for g in GUARANTEES}


def test_a_token_reused_with_another_body_after_its_window_is_a_new_request() -> None:
    history, retry = token_history(700.0, same_body=False)
    assert retry.status == "ok"  # the store forgot the token: the put applied
    assert judged(history) == {g: "holds" for g in GUARANTEES}


def test_the_same_body_after_the_window_applies_again() -> None:
    history, retry = token_history(700.0, same_body=True)
    assert retry.status == "ok"
    reads = [op for op in history.operations if op.f == "get-strong"]
    assert reads[0].output["item"]["n"] == {"N": "2"}  # applied twice: once per window
    assert judged(history) == {g: "holds" for g in GUARANTEES}


def retimed(records: tuple[Record, ...], times: dict[int, float]) -> History:
    """The history of ``records`` with the records at the given indexes at other
    times (seconds), every later record no earlier than them."""
    out = []
    floor = 0
    for record in records:
        time = round(times[record.index] * 1e9) if record.index in times else record.time
        floor = max(floor, time or 0)
        out.append(replace(record, time=floor))
    return pair(out)


@pytest.mark.parametrize("same_body", [True, False])
def test_where_the_first_use_may_or_may_not_be_forgotten_both_answers_hold(
        same_body: bool) -> None:
    """The same recorded answers (the retry applied anew) under other times: the
    first transaction took until 150 s, the retry came at 700 s: its effect may be
    less than the window after the first's, or not; either answer holds. Had the
    retry come at 599 s, the token was surely remembered: a violation."""
    rec, retry = token_recording(700.0, same_body)
    assert retry.status == "ok"
    records = rec.recorder.records()
    ops = rec.history().operations
    first_done, retry_call, retry_done = ops[0].ret, ops[1].call, ops[1].ret
    assert first_done is not None and retry_done is not None
    assert judged(retimed(records, {first_done: 150.0})) == {g: "holds" for g in GUARANTEES}
    surely_remembered = retimed(records, {retry_call: 599.0, retry_done: 599.0})
    assert judged(surely_remembered)["serializable-transactions"] == "violated"


def forget_tokens_after(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """A mutant store: it forgets client request tokens ``seconds`` after their
    transaction committed, though it declares the 600 s window."""
    monkeypatch.setattr(leader_state.TokenRecord, "live",
                        lambda self, now: now - self.time < seconds)


@pytest.mark.parametrize("same_body", [True, False])
def test_a_token_forgotten_inside_its_window_is_still_a_violation(
        monkeypatch: pytest.MonkeyPatch, same_body: bool) -> None:
    forget_tokens_after(monkeypatch, 300.0)
    history, retry = token_history(400.0, same_body=same_body)
    assert retry.status == "ok"  # applied again, where DynamoDB replays or refuses it
    assert judged(history)["serializable-transactions"] == "violated"


def test_inside_the_window_the_correct_store_holds() -> None:
    for same_body in (True, False):
        history, retry = token_history(400.0, same_body=same_body)
        assert retry.status == ("ok" if same_body else "error")  # a mismatch
        assert judged(history) == {g: "holds" for g in GUARANTEES}


# -- stream retention --------------------------------------------------------------------

STREAMS = ("stream-exactly-once", "stream-item-order")
DAY = 86_400.0


def stream_history(gap: float, keep: Any = None) -> History:
    """Two puts of one item and one of another, ``gap`` seconds of time passing, a put
    of the first item again, then the stream observed (through ``keep``, which may
    drop records, when given)."""
    store = preset("dynamodb")
    rec = RecordingStore(store)
    for key, value in (("k0", "a"), ("k0", "b"), ("k1", "c")):
        assert run(rec, "c0", Put(T, {"pk": key, "v": value})).status == "ok"
    store.advance(gap)
    assert run(rec, "c0", Put(T, {"pk": "k0", "v": "d"})).status == "ok"
    observation = stream_observation(store, T)
    if keep is not None:
        observation["records"] = [r for r in observation["records"] if keep(r)]
    rec.observe("stream", observation)
    return rec.history()


def stream_judged(history: History) -> dict[str, str]:
    descriptor = preset("dynamodb").descriptor
    return {g: judge_guarantee(g, history, descriptor).status for g in STREAMS}


def test_records_aged_out_past_retention_are_not_missing() -> None:
    history = stream_history(DAY + 60.0)
    stream = [r for r in history.observations if r.f == "stream"][-1].value
    assert [r["new_image"]["v"] for r in stream["records"]] == ["d"]  # the rest aged out
    assert stream_judged(history) == {g: "holds" for g in STREAMS}


def test_a_record_dropped_well_inside_retention_is_still_missing() -> None:
    history = stream_history(DAY / 2, keep=lambda r: r["new_image"]["v"] != "b")
    assert stream_judged(history)["stream-exactly-once"] == "violated"


# -- an indeterminate tokened transaction, its token reused -------------------------------


def indeterminate_then_reused(gap: float) -> tuple[History, Any, Any]:
    """A tokened increment whose client times out before it is applied (it applies
    later: indeterminate), ``gap`` seconds, the same request (same token) again, then
    the stream observed."""
    store = preset("dynamodb")
    rec = RecordingStore(store)
    request = increment("k0", "tok")
    first = rec.submit("c0", request)
    timeout = next(t for t in store.pending_timers() if t.owner == "c0" and t.name == "timeout")
    rec.decide(Fire(timeout.id))
    assert first.status == "indeterminate"
    for _ in range(5000):  # the request is still on its way: it applies
        decision = fair_decision(rec.store)
        if decision is None:
            break
        rec.decide(decision)
    store.advance(gap)
    retry = run(rec, "c1", request)
    rec.observe("stream", stream_observation(store, T))
    return rec.history(), first, retry


def test_an_indeterminate_transaction_then_its_token_past_the_window_are_two_requests(
        ) -> None:
    history, _, retry = indeterminate_then_reused(700.0)
    assert retry.status == "ok" and "writes" in retry.meta  # applied anew
    stream = [r for r in history.observations if r.f == "stream"][-1].value
    assert [r["new_image"]["n"] for r in stream["records"]] == [1, 2]
    assert stream_judged(history) == {g: "holds" for g in STREAMS}


def test_within_the_window_the_retry_is_the_same_request_and_one_record() -> None:
    history, _, retry = indeterminate_then_reused(60.0)
    assert retry.status == "ok" and retry.meta.get("replayed")
    assert stream_judged(history) == {g: "holds" for g in STREAMS}


def test_within_the_window_a_second_record_is_a_duplicate_apply(
        monkeypatch: pytest.MonkeyPatch) -> None:
    forget_tokens_after(monkeypatch, 30.0)  # forgets inside the declared window
    history, _, retry = indeterminate_then_reused(60.0)
    assert retry.status == "ok" and "writes" in retry.meta  # applied a second time
    assert stream_judged(history)["stream-exactly-once"] == "violated"
