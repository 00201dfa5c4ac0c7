"""The workload's requests carry equal but distinct table-name strings, as requests
decoded from the wire or from a replayed schedule do: a store that compares table
names by identity (``is``) answers the suite as it would answer production."""

from __future__ import annotations

from hypothesis import given, settings

from replicheck.models.items.requests import Request, TransactGet, TransactWrite
from replicheck.properties import strategies


def _tables(request: Request) -> list[str]:
    if isinstance(request, TransactWrite):
        return [a.table for a in request.actions]
    if isinstance(request, TransactGet):
        return [g.table for g in request.gets]
    return [request.table]


TABLE = "".join(["it", "ems"])  # a table name object of the test's own


@settings(max_examples=200, database=None, derandomize=True)
@given(request=strategies.requests(TABLE, "pk"))
def test_every_drawn_request_carries_an_equal_but_distinct_table_name(request: Request
                                                                       ) -> None:
    for table in _tables(request):
        assert table == TABLE
        assert table is not TABLE


@settings(max_examples=50, database=None, derandomize=True)
@given(first=strategies.single_requests(TABLE, "pk"),
       second=strategies.single_requests(TABLE, "pk"))
def test_two_requests_never_share_a_table_name_object(first: Request,
                                                      second: Request) -> None:
    assert first.table is not second.table  # type: ignore[union-attr]


def test_table_name_is_equal_and_distinct() -> None:
    copy = strategies.table_name(TABLE)
    assert copy == TABLE and copy is not TABLE
