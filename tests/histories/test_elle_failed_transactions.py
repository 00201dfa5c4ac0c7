"""A transaction answered with a failure the item model gives (cancelled for failed
conditions, or IdempotentParameterMismatch) applied nothing, and its answer says what
the state was when it ran: a serial order must hold a point where the model answers
it so. A same-token retry of a committed transaction is answered as the first was,
never cancelled; a mismatch needs an earlier transaction of that token with another
request. And its writes, if seen, are an aborted read (G1a)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.elle.items import check_item_transactions
from replicheck.histories.history import History
from replicheck.models.items.errors import (
    CancellationReason,
    IdempotentParameterMismatch,
    TransactionCanceled,
)
from replicheck.models.items.requests import Response, TransactWrite
from tests.histories.test_elle_items import (
    Builder,
    get,
    interleaved,
    item,
    one,
    put,
    tw,
    wrote,
)
from tests.oracles.items import serial

CCF = CancellationReason("ConditionalCheckFailed")
OK_REASON = CancellationReason("None")
ABSENT = "attribute_not_exists(pk)"


def serializable(history: History) -> tuple[object, list[str]]:
    verdict = check_item_transactions(history, consistency=("serializable",), timeout=20,
                                      replay_items=True)
    return verdict.valid, [a.type for a in verdict.anomalies]


def read_atomic(history: History) -> tuple[object, list[str]]:
    verdict = check_item_transactions(history, consistency=("read-atomic",), timeout=20)
    return verdict.valid, [a.type for a in verdict.anomalies]


def test_a_same_token_retry_answered_cancelled_is_no_serial_history() -> None:
    first = tw(put("k0", 1, condition=ABSENT), token="t")
    h = (Builder()
         .ok(0, first, meta=wrote(("k0", 1, 1)))
         .invoke(0, first).complete(0, TransactionCanceled((CCF,)))
         .ok(1, get("k0"), one(item("k0", 1)), {"version": 1})
         .history())
    valid, found = serializable(h)
    assert valid is False and found == ["G2"]


def test_a_retry_cancelled_before_the_first_committed_may_be_serial() -> None:
    # the retry, cancelled while k0 existed, serializes before a delete and the first
    first = tw(put("k0", 1, condition=ABSENT), token="t")
    h = (Builder()
         .ok(0, put("k0", 9), meta={"version": 1})
         .invoke(1, first).complete(1, TransactionCanceled((CCF,)))
         .ok(2, tw(put("k1", 3)), meta=wrote(("k1", 1, 3)))
         .ok(0, put("k0", 8, condition="attribute_exists(pk)"), meta={"version": 2})
         .history())
    assert serializable(h)[0] is True


def test_a_mismatch_needs_a_committed_transaction_of_that_token_with_another_body(
        ) -> None:
    first = tw(put("k0", 1), token="t")
    same = (Builder()
            .ok(0, first, meta=wrote(("k0", 1, 1)))
            .invoke(0, first).complete(0, IdempotentParameterMismatch("used"))
            .history())
    assert serializable(same)[0] is False
    other = (Builder()
             .ok(0, first, meta=wrote(("k0", 1, 1)))
             .invoke(0, tw(put("k0", 2), token="t"))
             .complete(0, IdempotentParameterMismatch("used"))
             .history())
    assert serializable(other)[0] is True


def test_a_cancellation_some_state_explains_holds() -> None:
    h = (Builder()
         .ok(0, put("k0", 1), meta={"version": 1})
         .invoke(1, tw(put("k0", 2, condition=ABSENT), put("k1", 2)))
         .complete(1, TransactionCanceled((CCF, OK_REASON)))
         .history())
    assert serializable(h)[0] is True


def test_a_cancelled_transaction_whose_write_is_seen_is_an_aborted_read() -> None:
    h = (Builder()
         .invoke(0, tw(put("k0", 1), put("k1", 1, condition="attribute_exists(pk)")))
         .complete(0, TransactionCanceled((OK_REASON, CCF)))
         .ok(1, get("k0"), one(item("k0", 1)), {"version": 1})
         .history())
    for judged in (serializable(h), read_atomic(h)):
        assert judged[0] is False and "G1a" in judged[1]


def test_a_mismatched_transaction_whose_write_is_seen_is_an_aborted_read() -> None:
    h = (Builder()
         .ok(0, tw(put("k0", 1), token="t"), meta=wrote(("k0", 1, 1)))
         .invoke(0, tw(put("k0", 2), token="t"))
         .complete(0, IdempotentParameterMismatch("used"))
         .ok(1, get("k0"), one(item("k0", 2)), {"version": 2})
         .history())
    for judged in (serializable(h), read_atomic(h)):
        assert judged[0] is False and "G1a" in judged[1]



def test_a_mismatch_while_another_body_held_the_token_is_the_store_s_matter() -> None:
    # the other request held the token while running, then was cancelled: no
    # committed request explains the mismatch, but the store may refuse a held token
    h = (Builder()
         .invoke(0, tw(put("k0", 1, condition="attribute_exists(pk)"), token="t"))
         .invoke(1, tw(put("k0", 2), token="t"))
         .complete(1, IdempotentParameterMismatch("held"))
         .complete(0, TransactionCanceled((CCF,)))
         .history())
    assert serializable(h)[0] is True


EXISTS = "attribute_exists(pk)"


@st.composite
def tiny_conditional(draw: st.DrawFn) -> History:
    """2-6 requests of up to 3 processes, interleaved at random, with no versions
    recorded: transact-writes of one or two puts of x and y, one of them maybe under
    a condition (the item absent, present, or holding a value some put writes), and
    strong gets. A write ends ok, info (its process goes on under a fresh id) or, when
    it has a condition, cancelled with the reasons its one condition gives (so some
    state of the item model gives that very answer, or none does); a get returns any
    value some put writes, or nothing."""
    rng = draw(st.randoms(use_true_random=False))
    fresh = iter(range(1, 100))
    plan: list[tuple[int, Any]] = []
    for _ in range(rng.randint(2, 6)):
        if rng.random() < 0.35:
            plan.append((rng.randrange(3), get(rng.choice("xy"))))
            continue
        keys = rng.choice(["x", "y", "xy", "yx"])
        guarded = rng.randrange(len(keys) + 1)  # == len(keys): no condition
        actions = []
        for i, k in enumerate(keys):
            extra: dict[str, Any] = {}
            if i == guarded:
                extra["condition"] = rng.choice([ABSENT, EXISTS, "v = :v"])
                if extra["condition"] == "v = :v":
                    extra["values"] = {":v": rng.randint(1, 4)}
            actions.append(put(k, next(fresh), **extra))
        plan.append((rng.randrange(3), tw(*actions)))
    written: dict[str, list[int]] = {"x": [], "y": []}
    for _, request in plan:
        if isinstance(request, TransactWrite):
            for action in request.actions:
                written[action.item["pk"]].append(action.item["v"])
    def outcome(request: Any) -> Response | TransactionCanceled | None:
        if not isinstance(request, TransactWrite):
            v = rng.choice([None, *written[request.key["pk"]]])
            return one(None if v is None else item(request.key["pk"], v))
        guarded = any(a.condition is not None for a in request.actions)
        r = rng.random()
        if guarded and r < 0.35:
            return TransactionCanceled(tuple(
                CCF if a.condition is not None else OK_REASON for a in request.actions))
        return None if r < 0.55 else Response()

    return interleaved(rng, plan, outcome)


@given(tiny_conditional())
def test_conditional_transactions_are_decided_as_the_serial_oracle_decides(
        h: History) -> None:
    """Each serial model's verdict, replayed through the item model, is the brute-force
    oracle's (tests/oracles/items.py ``serial``, a cancellation for failed conditions
    an observation at its point): indeterminate writes placed anywhere or never, a
    cancellation explained by a state where the model's order allows it (under strict
    serializability not before what completed before it began, nor after what began
    after it ended), no time limit so never "unknown"."""
    for model, order in (("serializable", "none"), ("strong-session-serializable", "process"),
                         ("strict-serializable", "realtime")):
        verdict = check_item_transactions(h, consistency=(model,), replay_items=True)
        assert verdict.valid is serial(h, order, failures_observed=True), (
            model, [a.type for a in verdict.anomalies], verdict.notes)


def test_a_cancellation_is_explained_only_where_real_time_allows() -> None:
    """Cancelled because k0 existed, though k0 was first written after the cancellation
    was answered: serializable (the cancellation serializes after the write), not
    strictly (no state it may see holds k0)."""
    h = (Builder()
         .invoke(0, tw(put("k0", 1, condition=ABSENT))).complete(0, TransactionCanceled((CCF,)))
         .ok(1, tw(put("k0", 2)))
         .history())
    assert serializable(h)[0] is True
    strict = check_item_transactions(h, consistency=("strict-serializable",), timeout=20,
                                     replay_items=True)
    assert strict.valid is False and [a.type for a in strict.anomalies] == ["G2-realtime"]
