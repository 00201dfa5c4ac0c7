"""RecordingStore: invoke/completion pairs with the store's metadata, and a fresh
process after an indeterminate completion."""

from __future__ import annotations

from typing import Any

import pytest

from replicheck.histories.judge import check
from replicheck.implementation.memory import MemoryStore
from replicheck.implementation.presets import preset
from replicheck.implementation.store import Handle
from replicheck.models.items.errors import ConditionalCheckFailed, Indeterminate
from replicheck.models.items.requests import Get, Put, Request, Update
from replicheck.properties.driving import fair_step
from replicheck.properties.recording import RecordingStore


def test_execute_records_pairs_and_condition_failures() -> None:
    rec = RecordingStore(MemoryStore())
    rec.execute(Put("items", {"pk": "a", "v": "v1"}))
    with pytest.raises(ConditionalCheckFailed):
        rec.execute(Put("items", {"pk": "a", "v": "v2"}, "attribute_not_exists(pk)"))
    assert rec.execute(Get("items", {"pk": "a"}, consistent=True)).item == {"pk": "a",
                                                                           "v": "v1"}
    records = [r for r in rec.recorder.records() if r.is_client]
    assert [(r.process, r.type, r.f) for r in records] == [
        (0, "invoke", "put"), (0, "ok", "put"), (0, "invoke", "put"),
        (0, "fail", "put"), (0, "invoke", "get-strong"), (0, "ok", "get-strong")]
    assert records[3].error == "condition-failed"
    history = rec.history()
    assert len(history.operations) == 3
    assert check(history, "item").valid is True


class _Flaky:
    """A MemoryStore whose second request times out after applying."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.calls = 0

    @property
    def descriptor(self) -> Any:
        return self.inner.descriptor

    def execute(self, request: Request) -> Any:
        self.calls += 1
        response = self.inner.execute(request)
        if self.calls == 2:
            raise Indeterminate("timed out")
        return response


def test_indeterminate_retires_the_process() -> None:
    rec = RecordingStore(_Flaky())
    rec.execute(Put("items", {"pk": "a", "v": "v1"}), "alice")
    with pytest.raises(Indeterminate):
        rec.execute(Put("items", {"pk": "a", "v": "v2"}), "alice")
    rec.execute(Get("items", {"pk": "a"}, consistent=True), "alice")
    ops = rec.history().operations
    assert [op.status for op in ops] == ["ok", "info", "ok"]
    assert ops[0].process == ops[1].process != ops[2].process
    assert check(rec.history(), "item").valid is True


def test_schedulable_submissions_carry_versions() -> None:
    store = preset("dynamodb")
    rec = RecordingStore(store)
    handles: list[Handle] = [
        rec.submit("c0", Put("items", {"pk": "k0", "v": "v1"})),
        rec.submit("c1", Update("items", {"pk": "k0"}, "SET v = :v", values={":v": "v2"})),
        rec.submit("c2", Get("items", {"pk": "k0"}, consistent=True)),
    ]
    assert rec.in_flight() == 3
    assert len({rec.process_of(c) for c in ("c0", "c1", "c2")}) == 3
    while rec.in_flight() and fair_step(rec):
        pass
    assert all(h.status == "ok" for h in handles)
    ops = rec.history().operations
    assert all(op.status == "ok" for op in ops)
    assert all("version" in op.meta and "coordinator" not in op.meta for op in ops)
    assert check(rec.history(), "item").valid is True


def test_abandoned_handles_are_indeterminate_and_retire_the_client() -> None:
    rec = RecordingStore(preset("dynamodb"))
    rec.submit("c0", Put("items", {"pk": "k0", "v": "v1"}))
    before = rec.process_of("c0")
    rec.abandon()
    assert [op.status for op in rec.history().operations] == ["info"]
    assert rec.process_of("c0") != before
