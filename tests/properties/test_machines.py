"""The machines pass on correct stores and catch deliberately broken ones."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.memory import MemoryStore
from replicheck.implementation.presets import preset
from replicheck.implementation.store import Handle
from replicheck.models.items.requests import Get, Put, Request, Update
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.conformance import conformance_machine
from replicheck.properties.guarantees import judge_guarantee
from replicheck.properties.recording import RecordingStore


def _settings(examples: int, steps: int = 20, *, shrink: bool = True) -> settings:
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate)
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    stateful_step_count=steps, print_blob=False, phases=phases,
                    suppress_health_check=list(HealthCheck))


class IgnoresConditions(MemoryStore):
    """A broken store: conditional puts and updates apply whatever the condition."""

    def execute(self, request: Request) -> Any:
        if isinstance(request, Put | Update) and request.condition is not None:
            request = replace(request, condition=None, values=_without_expected(request))
        return super().execute(request)


def _without_expected(request: Put | Update) -> Any:
    values = {k: v for k, v in (request.values or {}).items()
              if isinstance(request, Update) and k in request.update}
    return values or None


class StaleStrongReads:
    """A broken schedulable store: strong reads are served as eventual reads."""

    def __init__(self) -> None:
        self.inner = preset("dynamodb")
        self.nodes = self.inner.nodes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def descriptor(self) -> Any:
        return self.inner.descriptor

    def execute(self, request: Request) -> Any:
        return self.inner.execute(request)

    def submit(self, client: str, request: Request) -> Handle:
        if isinstance(request, Get) and request.consistent:
            handle: Handle = self.inner.submit(client, replace(request, consistent=False))
            handle.request = request
            return handle
        return self.inner.submit(client, request)  # type: ignore[no-any-return]

    def decisions(self) -> Any:
        return self.inner.decisions()

    def decide(self, decision: Any) -> None:
        self.inner.decide(decision)


def test_conformance_passes_on_memory_store() -> None:
    run_state_machine_as_test(conformance_machine(MemoryStore), settings=_settings(30))


def test_conformance_passes_on_dynamodb() -> None:
    run_state_machine_as_test(conformance_machine(lambda: preset("dynamodb")),
                              settings=_settings(10))


def test_conformance_catches_ignored_conditions() -> None:
    with pytest.raises(AssertionError, match="model"):
        run_state_machine_as_test(conformance_machine(IgnoresConditions),
                                  settings=_settings(200))


def test_concurrency_passes_on_dynamodb() -> None:
    run_state_machine_as_test(concurrency_machine(lambda: preset("dynamodb")),
                              settings=_settings(15, steps=30))


def test_concurrency_catches_stale_strong_reads() -> None:
    with pytest.raises(AssertionError, match="linearizable-strong-reads"):
        run_state_machine_as_test(concurrency_machine(StaleStrongReads),
                                  settings=_settings(300, steps=30, shrink=False))


def test_judge_reports_stale_reads_as_violation_only_when_claimed() -> None:
    store = StaleStrongReads()
    rec = RecordingStore(store)
    rec.submit("c0", Put("items", {"pk": "k0", "v": "v1"}))
    # deliver until the put is acknowledged, leaving a lagging follower
    while rec.in_flight():
        decisions = [d for d in rec.decisions() if type(d).__name__ == "Deliver"]
        rec.decide(decisions[0])
    for _ in range(3):
        h = rec.submit("c1", Get("items", {"pk": "k0"}, consistent=True))
        while not h.done:
            rec.decide(next(d for d in rec.decisions()
                            if type(d).__name__ in ("Deliver", "Fire")))
    history = rec.history()
    claimed = judge_guarantee("linearizable-strong-reads", history, store.descriptor)
    unclaimed = judge_guarantee("linearizable-strong-reads", history,
                                replace(store.descriptor, claims=()))
    assert claimed.claimed and not unclaimed.claimed
    if claimed.status == "violated":
        assert unclaimed.status == "observed"
    else:
        assert claimed.status == unclaimed.status == "holds"
