"""The ``windows`` observation: the store's windows, when the history's times are the
store's own, and when an operation took effect."""

from __future__ import annotations

from typing import Any

import pytest

from replicheck.histories.history import HistoryError, Record, pair
from replicheck.histories.windows import HistoryWindows, history_windows, span_of
from replicheck.models.items.operations import Span


def observed(value: Any) -> Any:
    return pair([Record("observer", "observe", "windows", value, index=0)])


def test_the_windows_of_a_store_timed_history() -> None:
    value = {"idempotency_token": 600, "stream_retention": 86400.0, "lease": None,
             "hint_timer": None, "clock": "store-ns"}
    assert history_windows(observed(value)) == HistoryWindows(600.0, 86400.0, None, None)


def test_no_windows_without_the_record_or_without_store_times() -> None:
    assert history_windows(pair([])) is None
    assert history_windows(observed({"idempotency_token": 600, "clock": "wall"})) is None


@pytest.mark.parametrize("value", [[600], {"idempotency_token": -1, "clock": "store-ns"},
                                   {"stream_retention": "1d", "clock": "store-ns"},
                                   {"lease": True, "clock": "store-ns"}])
def test_a_malformed_record_is_named(value: Any) -> None:
    with pytest.raises(HistoryError, match="'windows' observation \\(record 0\\)"):
        history_windows(observed(value))


def test_an_operation_took_effect_between_its_invocation_and_completion() -> None:
    def op(status: str) -> Any:
        return pair([Record(0, "invoke", "put", 1, index=0, time=2 * 10**9),
                     Record(0, status, "put", 1, index=1, time=5 * 10**9)]).operations[0]

    assert span_of(op("ok")) == Span(2.0, 5.0)
    assert span_of(op("fail")) == Span(2.0, 5.0)
    assert span_of(op("info")) == Span(2.0, None)  # any time after its invocation
