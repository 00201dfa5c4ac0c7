"""A transaction answered with a failure the item model gives (cancelled for failed
conditions, or IdempotentParameterMismatch) applied nothing, and its answer says what
the state was when it ran: a serial order must hold a point where the model answers
it so. A same-token retry of a committed transaction is answered as the first was,
never cancelled; a mismatch needs an earlier transaction of that token with another
request. And its writes, if seen, are an aborted read (G1a)."""

from __future__ import annotations

from replicheck.histories.checkers.elle.items import check_item_transactions
from replicheck.histories.history import History
from replicheck.models.items.errors import (
    CancellationReason,
    IdempotentParameterMismatch,
    TransactionCanceled,
)
from tests.histories.test_elle_items import Builder, get, item, one, put, tw, wrote

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
