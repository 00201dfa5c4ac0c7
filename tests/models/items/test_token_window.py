"""Client request tokens judged against the store's token window when a history only
bounds when each request took effect (``token_fate``, ``apply_within``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.items.errors import IdempotentParameterMismatch
from replicheck.models.items.operations import (
    EITHER,
    FORGOTTEN,
    REMEMBERED,
    Span,
    apply_within,
    empty,
    token_fate,
)
from replicheck.models.items.requests import Put, Response, TableSchema, TransactWrite

W = 600.0
SCHEMA = TableSchema("items", "pk")


def put(value: str) -> TransactWrite:
    return TransactWrite((Put("items", {"pk": "k", "v": value}),), token="tok")


def test_the_three_zones() -> None:
    first = Span(0.0, 100.0)
    assert token_fate(first, Span(599.0, 599.9), W) == REMEMBERED  # ended < W after start
    assert token_fate(first, Span(599.0, 600.0), W) == EITHER
    assert token_fate(first, Span(699.9, 800.0), W) == EITHER
    assert token_fate(first, Span(700.0, 800.0), W) == FORGOTTEN  # began >= W after end
    assert token_fate(Span(0.0, None), Span(5000.0, 5000.0), W) == EITHER  # first info
    assert token_fate(Span(0.0, 0.0), Span(10.0, None), W) == EITHER  # retry info


@given(first=st.floats(0, 1000), first_len=st.floats(0, 100), gap=st.floats(0, 1000),
       retry_len=st.floats(0, 100), a=st.floats(0, 1), b=st.floats(0, 1))
def test_a_sure_fate_holds_for_every_pair_of_instants(
        first: float, first_len: float, gap: float, retry_len: float, a: float,
        b: float) -> None:
    """Whatever instants of the spans the two requests took effect at, the model's
    rule (remembered while less than the window apart) agrees with a sure fate."""
    one = Span(first, first + first_len)
    two = Span(first + gap, first + gap + retry_len)
    t1 = first + a * first_len
    t2 = first + gap + b * retry_len
    if t2 < t1:
        return
    fate = token_fate(one, two, W)
    if fate != EITHER:
        assert fate == (REMEMBERED if t2 - t1 < W else FORGOTTEN)


def test_apply_within_allows_both_outcomes_only_where_either() -> None:
    db = empty(SCHEMA)
    [(after, answer)] = apply_within(db, put("a"), Span(0.0, 10.0), W)
    assert isinstance(answer, Response)
    [(_, remembered)] = apply_within(after, put("b"), Span(300.0, 300.0), W)
    assert isinstance(remembered, IdempotentParameterMismatch)
    [(forgot_db, forgotten)] = apply_within(after, put("b"), Span(700.0, 700.0), W)
    assert isinstance(forgotten, Response)
    assert forgot_db.item("items", {"pk": "k"}) == {"pk": "k", "v": "b"}
    both = apply_within(after, put("b"), Span(605.0, 605.0), W)
    assert {type(answer).__name__ for _, answer in both} == {
        "IdempotentParameterMismatch", "Response"}
    # the new registration counts from the retry: 550 s later it is remembered
    assert isinstance(apply_within(forgot_db, put("c"), Span(1250.0, 1250.0), W)[0][1],
                      IdempotentParameterMismatch)
