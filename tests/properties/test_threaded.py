"""The threaded machine passes a linearizable store, catches broken ones, records
timeouts as indeterminate, and leaves a shared server as it found it."""

from __future__ import annotations

import itertools
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import FlakyFailure
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.errors import ConditionalCheckFailed, ValidationError
from replicheck.models.items.operations import Database, apply
from replicheck.models.items.requests import (
    Delete,
    Get,
    Put,
    Request,
    Response,
    TransactGet,
    TransactWrite,
    Update,
)
from replicheck.properties.examples import GuaranteeViolation, collecting
from replicheck.properties.namespaces import (
    CleanupError,
    PrefixedStore,
    clean_up,
    written_keys,
)
from replicheck.properties.recording import ContractBreach
from replicheck.properties.suite import property_named
from replicheck.properties.threaded import PROPERTY, threaded_machine


def _settings(examples: int, *, shrink: bool = True) -> settings:
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate)
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    stateful_step_count=20, print_blob=False, phases=phases,
                    suppress_health_check=list(HealthCheck))


def _violation(error: BaseException) -> GuaranteeViolation:
    """The GuaranteeViolation a run raised, directly or inside Hypothesis's flaky
    report (threads may interleave differently when the example is replayed)."""
    if isinstance(error, GuaranteeViolation):
        return error
    if isinstance(error, FlakyFailure):
        for inner in error.exceptions:
            if isinstance(inner, GuaranteeViolation):
                return inner
    raise AssertionError(f"expected a GuaranteeViolation, got {error!r}") from error


class LaggingReads(MemoryStore):
    """A broken store: reads are served from a copy of the state as it was before the
    latest write (writes become visible one write late)."""

    def __init__(self) -> None:
        super().__init__()
        self._copy: Database = self.snapshot()

    def execute(self, request: Request) -> Response:
        if isinstance(request, Get | TransactGet):
            with self._lock:
                return apply(self._copy, request)[1]
        with self._lock:
            before = self._db
            self._db, response = apply(self._db, request)
            if self._db is not before:
                self._copy = before
            return response


class CheckThenWrite(MemoryStore):
    """A broken store: a write is computed on a snapshot, then installed after a pause
    without looking again (concurrent writes overwrite each other's effects)."""

    def execute(self, request: Request) -> Response:
        with self._lock:
            snapshot = self._db
        after, response = apply(snapshot, request)
        if after is not snapshot:
            time.sleep(0.05)
            with self._lock:
                self._db = after
        return response


def test_the_property_is_in_the_suite_and_skips_schedulable_stores() -> None:
    prop = property_named(PROPERTY)
    assert prop.skip_reason(MemoryStore().descriptor) is None
    from replicheck.implementation.presets import preset

    reason = prop.skip_reason(preset("dynamodb").descriptor)
    assert reason is not None and "deterministic-scheduling" in reason


def test_memory_store_passes_and_reports_each_example() -> None:
    with collecting() as reports:
        run_state_machine_as_test(threaded_machine(MemoryStore), settings=_settings(15))
    assert reports and all(r.property == PROPERTY for r in reports)
    assert all(r.statuses["linearizable-strong-reads"] == "holds" for r in reports)
    assert all(r.statuses["convergence"] == "not-applicable" for r in reports)
    assert not any(r.observations for r in reports)


def test_reads_from_a_lagging_copy_are_caught() -> None:
    # not shrunk: each shrinking attempt starts threads again, and this test is about
    # the machine noticing, not about Hypothesis's shrinker
    with pytest.raises((GuaranteeViolation, FlakyFailure)) as raised:
        run_state_machine_as_test(threaded_machine(LaggingReads),
                                  settings=_settings(100, shrink=False))
    violation = _violation(raised.value)
    counterexample = violation.counterexample
    assert counterexample is not None and counterexample.property == PROPERTY
    assert counterexample.guarantee in ("linearizable-strong-reads", "read-your-writes",
                                        "monotonic-reads", "serializable-transactions",
                                        "atomic-transactions",
                                        "linearizable-conditional-writes")
    assert counterexample.history is not None and counterexample.verdict is not None
    # counted in operations (CONTRACTS.md section 6), not in lines of steps
    assert counterexample.decisions == len(counterexample.history.operations) > 0
    assert counterexample.verdict.valid is False
    assert "replicheck check" in str(violation)


def test_concurrent_check_then_write_is_caught() -> None:
    machine: Any = threaded_machine(CheckThenWrite)()
    for client, value in (("c0", "v1"), ("c1", "v2")):
        machine.enqueue(client, Put("items", {"pk": "k0", "v": value},
                                    "attribute_not_exists(pk)"))
    machine.run_batch()
    with pytest.raises(GuaranteeViolation) as raised:
        machine.teardown()
    assert raised.value.guarantees[0] == "linearizable-conditional-writes"
    steps = raised.value.counterexample.steps  # type: ignore[union-attr]
    assert steps[0] == "batch 1: c0, c1 start together"
    assert sum("-> ok" in s for s in steps) == 2


class Blocking(MemoryStore):
    """Puts of the value ``stuck`` wait until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def execute(self, request: Request) -> Response:
        if isinstance(request, Put) and request.item.get("v") == "stuck":
            self.release.wait(10)
        return super().execute(request)


def test_an_operation_past_the_batch_timeout_is_indeterminate() -> None:
    stores: list[Blocking] = []

    def factory() -> Blocking:
        stores.append(Blocking())
        return stores[-1]

    machine: Any = threaded_machine(factory, batch_timeout=0.2)()
    machine.enqueue("c0", Put("items", {"pk": "k0", "v": "stuck"}))
    machine.enqueue("c0", Get("items", {"pk": "k0"}, consistent=True))
    machine.enqueue("c1", Put("items", {"pk": "k1", "v": "v1"}))
    machine.run_batch()
    history = machine.history()
    assert sorted((op.input["item"]["v"]["S"], op.status) for op in history.operations) \
        == [("stuck", "info"), ("v1", "ok")]
    assert any("no answer within 0.2 s" in s for s in machine.steps)
    # the client continues under a fresh process; the late answer is not recorded
    machine.enqueue("c0", Get("items", {"pk": "k1"}, consistent=True))
    stores[-1].release.set()
    machine.run_batch()
    time.sleep(0.05)
    processes = {op.process for op in machine.history().operations}
    assert len(processes) == 3 and len(machine.history().operations) == 3
    machine.teardown()


class Crashing(MemoryStore):
    """An adapter bug: deletes raise a plain RuntimeError."""

    def execute(self, request: Request) -> Response:
        if isinstance(request, Delete):
            raise RuntimeError("adapter bug")
        return super().execute(request)


def test_an_adapter_crash_is_raised_after_the_batch() -> None:
    machine: Any = threaded_machine(Crashing)()
    machine.enqueue("c0", Delete("items", {"pk": "k0"}))
    machine.enqueue("c1", Put("items", {"pk": "k1", "v": "v1"}))
    with pytest.raises(ContractBreach, match=r"execute\(DeleteItem .*\) raised RuntimeError: "
                       "adapter bug, which is not one of the contract's typed errors"):
        machine.run_batch()
    statuses = sorted(op.status for op in machine.history().operations)
    assert statuses == ["info", "ok"]


# -- namespaces on a shared server ---------------------------------------------------------


class CountingServer(MemoryStore):
    """A shared in-process "server" that counts the writes it answered."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def execute(self, request: Request) -> Response:
        if isinstance(request, Put | Update | TransactWrite):
            self.writes += 1
        return super().execute(request)


def test_a_shared_server_holds_nothing_the_suite_wrote() -> None:
    server = CountingServer()
    counter = itertools.count()

    def factory() -> PrefixedStore:
        return PrefixedStore(server, f"run{next(counter)}/")

    run_state_machine_as_test(threaded_machine(factory), settings=_settings(10))
    assert server.writes > 0
    assert server.snapshot().tables["items"] == {}


class SelfCleaning(PrefixedStore):
    cleans_up = True


def test_a_store_that_cleans_up_itself_is_left_alone() -> None:
    server = MemoryStore()
    machine: Any = threaded_machine(lambda: SelfCleaning(server, "mine/"))()
    machine.enqueue("c0", Put("items", {"pk": "k0", "v": "v1"}))
    machine.teardown()
    assert list(server.snapshot().tables["items"]) == [("mine/k0",)]


class RefusesDeletes(PrefixedStore):
    def execute(self, request: Request) -> Response:
        if isinstance(request, Delete):
            raise ValidationError("deletes are not allowed here", what="Delete")
        return super().execute(request)


def test_items_the_suite_cannot_delete_fail_the_example() -> None:
    server = MemoryStore()
    machine: Any = threaded_machine(lambda: RefusesDeletes(server, "ro/"))()
    machine.enqueue("c0", Put("items", {"pk": "k0", "v": "v1"}))
    with pytest.raises(CleanupError, match="prefix ro/"):
        machine.teardown()


def test_written_keys_covers_every_write_whatever_its_outcome() -> None:
    store = MemoryStore()
    requests: list[Request] = [Get("items", {"pk": "k9"}), Put("items", {"pk": "k0", "v": "v1"}),
                Update("items", {"pk": "k1"}, "ADD n :one", values={":one": Decimal(1)}),
                TransactWrite((Put("items", {"pk": "k2"}), Delete("items", {"pk": "k0"})))]
    assert written_keys(requests, store.descriptor) == (
        ("items", (("pk", "k0"),)), ("items", (("pk", "k1"),)), ("items", (("pk", "k2"),)))
    for request in requests:
        store.execute(request)
    assert clean_up(store, written_keys(requests, store.descriptor)) == ()
    assert store.snapshot().tables["items"] == {}


def test_prefixed_stores_are_isolated_and_answer_without_the_prefix() -> None:
    server = MemoryStore()
    a, b = PrefixedStore(server, "a/"), PrefixedStore(server, "b/")
    a.execute(Put("items", {"pk": "k0", "v": "v1"}))
    assert b.execute(Get("items", {"pk": "k0"})).item is None
    assert a.execute(Get("items", {"pk": "k0"})).item == {"pk": "k0", "v": "v1"}
    assert a.execute(TransactGet((Get("items", {"pk": "k0"}),))).items == (
        {"pk": "k0", "v": "v1"},)
    with pytest.raises(ConditionalCheckFailed) as raised:
        a.execute(Put("items", {"pk": "k0", "v": "v2"}, "attribute_not_exists(pk)",
                      return_old_on_condition_failure=True))
    assert raised.value.item == {"pk": "k0", "v": "v1"}
    with pytest.raises(ValidationError, match="must be a string"):
        a.execute(Get("items", {"pk": Decimal(1)}))
    assert a.namespace == "prefix a/" and a.descriptor.claims == server.descriptor.claims


def test_a_transaction_without_reported_writes_does_not_fool_the_session_checks() -> None:
    # put k1, delete k1 in a transaction (execute reports no per-item writes), read k1
    machine: Any = threaded_machine(MemoryStore)()
    machine.enqueue("c0", Put("items", {"pk": "k1", "v": "v1"}))
    machine.enqueue("c0", TransactWrite((Delete("items", {"pk": "k1"}),)))
    machine.enqueue("c0", Get("items", {"pk": "k1"}))
    machine.enqueue("c0", Put("items", {"pk": "k0", "v": "v2"}))
    machine.enqueue("c1", Get("items", {"pk": "k0"}, consistent=True))
    with collecting() as reports:
        machine.teardown()
    assert reports[0].statuses["read-your-writes"] in ("holds", "not-applicable")
    assert reports[0].statuses["linearizable-strong-reads"] == "holds"
