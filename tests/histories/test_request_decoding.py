"""An item operation's request is decoded (and validated) once: every guarantee asks
for it again, and the answer, a request or the error naming the operation, is the
same each time."""

from __future__ import annotations

import pytest

from replicheck.histories.history import HistoryError, Operation, Record, pair
from replicheck.histories.items import decode_request, request_of
from replicheck.models.items.requests import Put

PUT = {"table": "items", "item": {"pk": {"S": "k0"}, "v": {"S": "v1"}}}
BROKEN = {"table": "items", "key": {"pk": {"S": "k0"}}, "update": "SET = oops"}


def operations(value: dict[str, object], f: str) -> tuple[Operation, ...]:
    history = pair([Record(0, "invoke", f, value, index=0, line=7),
                    Record(0, "ok", f, {}, index=1, line=8)])
    return history.operations


def test_a_request_is_decoded_once_per_operation() -> None:
    (op,) = operations(PUT, "put")
    first = request_of(op)
    assert isinstance(first, Put) and first.item["v"] == "v1"
    assert request_of(op) is first
    assert decode_request(op) == first and decode_request(op) is not first


def test_a_malformed_request_raises_the_same_error_every_time() -> None:
    (op,) = operations(BROKEN, "update")
    messages = []
    for _ in range(2):
        with pytest.raises(HistoryError) as raised:
            request_of(op)
        messages.append(str(raised.value))
    assert messages[0] == messages[1] and "operation 0 (update, line 7)" in messages[0]


def test_equal_operations_of_two_histories_are_decoded_apart() -> None:
    (a,) = operations(PUT, "put")
    (b,) = operations({**PUT, "item": {"pk": {"S": "k1"}, "v": {"S": "v2"}}}, "put")
    assert request_of(a).item["pk"] == "k0"  # type: ignore[union-attr]
    assert request_of(b).item["pk"] == "k1"  # type: ignore[union-attr]
