"""The lost-update and stale-read columns: judged on item histories the reference
store records (every decision scripted), named in a violated guarantee's
explanation, and shown in the matrix's words."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from replicheck.histories.history import History
from replicheck.implementation.memory import MemoryStore
from replicheck.implementation.presets import preset
from replicheck.implementation.reference.sim import Deliver
from replicheck.implementation.store import Claim
from replicheck.models.guarantees import ANOMALY_COLUMNS
from replicheck.models.items.errors import Indeterminate
from replicheck.models.items.operations import apply
from replicheck.models.items.requests import (
    Delete,
    Get,
    Put,
    Request,
    Response,
    ReturnValues,
    TransactWrite,
    Update,
)
from replicheck.properties.examples import ExampleReport, GuaranteeViolation, collecting
from replicheck.properties.guarantees import (
    READ_KINDS,
    judge_anomalies,
    judge_anomaly,
    judge_guarantee,
)
from replicheck.properties.outcomes import Cell
from replicheck.properties.recording import RecordingStore
from replicheck.properties.threaded import threaded_machine
from replicheck.reports.naming import cell_text

T = "items"


def run(rec: RecordingStore, wanted: Callable[[Any], bool] = lambda m: True) -> None:
    """Deliver the messages in flight that ``wanted`` accepts, oldest first, until
    none is left (timers never fire: nothing times out)."""
    sim = rec.store.sim  # type: ignore[attr-defined]
    while True:
        chosen = [d for d in rec.decisions() if isinstance(d, Deliver)
                  and wanted(sim.in_flight[d.message])]
        if not chosen:
            return
        rec.decide(min(chosen, key=lambda d: d.message))


def increment(returns: ReturnValues = "NONE") -> Update:
    return Update(T, {"pk": "k2"}, "SET n = if_not_exists(n, :zero) + :one",
                  values={":zero": Decimal(0), ":one": Decimal(1)}, return_values=returns)


def two_increments_then_a_read(name: str, returns: ReturnValues = "NONE") -> History:
    """Two increments of k2 sent at once (in a leaderless store, to two of its
    replicas, n5 and n2), both acknowledged; then a strong read of k2 (at n2) once
    everything was delivered."""
    rec = RecordingStore(preset(name))
    leaderless = name.startswith("dynamo-")
    for client, node in (("r1", "n5"), ("r2", "n2")):
        if leaderless:
            rec.submit_at(client, increment(returns), node)
        else:
            rec.submit(client, increment(returns))
    run(rec)
    read = Get(T, {"pk": "k2"}, consistent=True)
    if leaderless:
        rec.submit_at("c1", read, "n2")
    else:
        rec.submit("c1", read)
    run(rec)
    return rec.history()


def test_two_increments_on_two_replicas_of_dynamo_lww_are_a_lost_update() -> None:
    h = two_increments_then_a_read("dynamo-lww")
    assert [op.status for op in h.operations] == ["ok", "ok", "ok"]
    judged = judge_anomaly("lost-update", h)
    assert judged.status == "observed" and not judged.claimed
    assert judged.verdict is not None
    (lost,) = judged.verdict.anomalies
    assert lost.type == "lost-update" and lost.ops == (0, 1, 2)
    assert lost.data["writes"] == [0, 1] and lost.data["read"] == 2
    assert lost.data["read_source"] == "initial"
    assert h.operations[2].output["item"]["n"] == {"N": "1"}  # one increment survived


def test_the_old_item_returned_shows_the_version_read_too() -> None:
    h = two_increments_then_a_read("dynamo-lww", "ALL_OLD")
    # as a store that records no read version would show it: only the old items
    h = replace(h, operations=tuple(
        replace(op, meta={k: v for k, v in op.meta.items() if k != "read"})
        for op in h.operations))
    judged = judge_anomaly("lost-update", h)
    assert judged.status == "observed"
    (lost,) = judged.verdict.anomalies  # type: ignore[union-attr]
    assert lost.data["writes"] == [0, 1] and lost.data["read_source"] == "initial"


def test_a_leader_serializes_the_increments() -> None:
    h = two_increments_then_a_read("dynamodb", "ALL_OLD")
    assert [op.status for op in h.operations] == ["ok", "ok", "ok"]
    judged = judge_anomaly("lost-update", h)
    assert judged.status == "holds", judged.explanation()
    assert judge_anomaly("stale-read", h).status == "holds"


def test_without_a_read_version_nothing_is_judged() -> None:
    h = two_increments_then_a_read("dynamodb")  # NONE: the leader records no read
    judged = judge_anomaly("lost-update", h)
    assert judged.status == "not-applicable" and "read-modify-write" in judged.reason


def test_a_violated_guarantee_names_the_lost_update_in_its_explanation() -> None:
    h = two_increments_then_a_read("dynamo-lww")
    descriptor = preset("dynamo-lww").descriptor
    claimed = type(descriptor)(descriptor.name, descriptor.capabilities,
                               (Claim("linearizable-strong-reads", READ_KINDS),),
                               tables=descriptor.tables)
    judged = judge_guarantee("linearizable-strong-reads", h, claimed)
    assert judged.status == "violated"
    types = [a.type for a in judged.verdict.anomalies]  # type: ignore[union-attr]
    assert types[0] == "not-linearizable" and "lost-update" in types
    assert "lost update on key" in judged.explanation()


def test_a_read_at_a_replica_the_write_has_not_reached_is_stale() -> None:
    rec = RecordingStore(preset("dynamo-lww"))
    rec.submit_at("c0", Put(T, {"pk": "k2", "v": "v1"}), "n2")
    run(rec, lambda m: m.kind in ("request", "reply"))  # W=1: acknowledged at once
    rec.submit_at("c1", Get(T, {"pk": "k2"}), "n3")
    run(rec, lambda m: m.kind in ("request", "reply"))  # R=1: n3 answers alone
    h = rec.history()
    assert [op.status for op in h.operations] == ["ok", "ok"]
    assert h.operations[1].output == {"item": None}  # nothing found
    judged = judge_anomaly("stale-read", h)
    assert judged.status == "observed"
    (stale,) = judged.verdict.anomalies  # type: ignore[union-attr]
    assert stale.ops == (0, 1) and stale.data["returned"] == "initial"
    run(rec)  # the write reaches every replica: a read now is fresh
    rec.submit_at("c2", Get(T, {"pk": "k2"}), "n3")
    run(rec)
    assert [a.data["read"] for a in judge_anomaly(  # type: ignore[union-attr]
        "stale-read", rec.history()).verdict.anomalies] == [1]


def test_every_anomaly_column_is_judged_in_order() -> None:
    h = two_increments_then_a_read("dynamo-lww")
    assert [j.guarantee for j in judge_anomalies(h)] == list(ANOMALY_COLUMNS)


def test_an_anomaly_column_never_seen_reads_not_seen() -> None:
    assert cell_text(Cell("stale-read", "holds", False, {"holds": 12})) == "not seen (12)"
    assert cell_text(Cell("lost-update", "observed", False, {"holds": 9, "observed": 3})
                     ) == "observed (3 of 12)"


# -- threaded, real-time histories -------------------------------------------------------


class CheckThenWrite(MemoryStore):
    """A broken store: a write is computed on a snapshot, then installed after a pause
    without looking again (concurrent updates overwrite each other's effects)."""

    def execute(self, request: Request) -> Response:
        with self._lock:
            snapshot = self._db
        after, response = apply(snapshot, request)
        if after is not snapshot:
            time.sleep(0.05)
            with self._lock:
                self._db = after
        return response


def _threaded(store: type[MemoryStore], *batches: list[tuple[str, Request]]
              ) -> list[ExampleReport]:
    machine: Any = threaded_machine(store)()
    with collecting() as reports:
        for batch in batches:
            for client, request in batch:
                machine.enqueue(client, request)
            machine.run_batch()
        with contextlib.suppress(GuaranteeViolation):
            machine.teardown()
    return reports


def test_threads_writing_over_one_snapshot_show_a_lost_update() -> None:
    def claim(value: str) -> Put:  # a conditional put that returns the old item
        return Put(T, {"pk": "k0", "v": value}, "attribute_not_exists(pk)",
                   return_values="ALL_OLD")

    (report,) = _threaded(CheckThenWrite, [("c0", claim("v1")), ("c1", claim("v2"))],
                          [("c2", Get(T, {"pk": "k0"}, consistent=True))])
    assert report.statuses["lost-update"] == "observed"
    cx = report.observations["lost-update"]
    (lost,) = cx.verdict.anomalies  # type: ignore[union-attr]
    assert lost.data["writes"] == [0, 1] and lost.data["read"] == 2
    assert lost.data["read_source"] == "initial"
    ops = cx.history.operations  # type: ignore[union-attr]
    assert ops[1].ret_time is not None and ops[2].call_time is not None
    assert ops[0].ret_time < ops[2].call_time and ops[1].ret_time < ops[2].call_time


def test_a_lost_increment_no_read_can_show_is_named_in_the_reason() -> None:
    # the items the increments made are not in the history (no ALL_NEW, no versions):
    # no read can be said to show one of them
    bump = Update(T, {"pk": "k0"}, "ADD n :one", values={":one": Decimal(1)},
                  return_values="ALL_OLD")
    (report,) = _threaded(CheckThenWrite, [("c0", bump), ("c1", bump)],
                          [("c2", Get(T, {"pk": "k0"}, consistent=True))])
    assert report.statuses["lost-update"] == "holds"
    machine: Any = threaded_machine(CheckThenWrite)()
    for client in ("c0", "c1"):
        machine.enqueue(client, bump)
    machine.run_batch()
    judged = judge_anomaly("lost-update", machine.history())
    assert judged.status == "holds" and "1 more that no later read showed" in judged.reason


def test_threads_on_a_correct_store_show_nothing() -> None:
    bump = Update(T, {"pk": "k0"}, "ADD n :one", values={":one": Decimal(1)},
                  return_values="ALL_OLD")
    (report,) = _threaded(MemoryStore, [("c0", bump), ("c1", bump)],
                          [("c2", Get(T, {"pk": "k0"}, consistent=True))])
    assert report.statuses["lost-update"] == "holds"
    assert report.statuses["stale-read"] == "holds"
    assert not report.observations


# -- transactions write items too ----------------------------------------------------------


class LaggingReads(MemoryStore):
    """A broken store: reads are served from the state before the latest write."""

    def __init__(self) -> None:
        super().__init__()
        self._copy = self.snapshot()

    def execute(self, request: Request) -> Response:
        if isinstance(request, Get):
            with self._lock:
                return apply(self._copy, request)[1]
        with self._lock:
            before = self._db
            self._db, response = apply(self._db, request)
            if self._db is not before:
                self._copy = before
            return response


class LostAnswers(MemoryStore):
    """Applies a transaction, then loses the answer (the client cannot tell)."""

    def execute(self, request: Request) -> Response:
        response = super().execute(request)
        if isinstance(request, TransactWrite):
            raise Indeterminate("the answer was lost")
        return response


def test_a_read_older_than_a_transaction_that_wrote_the_item_is_stale() -> None:
    rec = RecordingStore(LaggingReads())
    rec.execute(Put(T, {"pk": "k0", "v": "v1"}))
    rec.execute(TransactWrite((Put(T, {"pk": "k0", "v": "v2"}),
                               Put(T, {"pk": "k1", "v": "v3"}))))
    rec.execute(Get(T, {"pk": "k0"}))
    judged = judge_anomaly("stale-read", rec.history())
    assert judged.status == "observed"
    (stale,) = judged.verdict.anomalies  # type: ignore[union-attr]
    assert stale.data == {**stale.data, "read": 2, "write": 1, "returned": 0}


def test_an_item_a_transaction_may_have_deleted_is_not_judged_by_its_absence() -> None:
    rec = RecordingStore(LostAnswers())
    rec.execute(Put(T, {"pk": "k0", "v": "v1"}))
    with contextlib.suppress(Indeterminate):
        rec.execute(TransactWrite((Delete(T, {"pk": "k0"}),)))
    rec.execute(Get(T, {"pk": "k0"}))
    h = rec.history()
    assert [op.status for op in h.operations] == ["ok", "info", "ok"]
    assert judge_anomaly("stale-read", h).status == "holds"


def test_a_projected_read_names_no_version() -> None:
    rec = RecordingStore(MemoryStore())
    rec.execute(Put(T, {"pk": "k0", "v": "v1"}))
    rec.execute(Update(T, {"pk": "k0"}, "ADD n :one", values={":one": Decimal(1)},
                       return_values="ALL_NEW"))
    rec.execute(Get(T, {"pk": "k0"}, projection="pk, v"))  # {pk, v}: the put's item
    rec.execute(Get(T, {"pk": "k0"}))
    assert judge_anomaly("stale-read", rec.history()).status == "holds"


def test_a_transaction_retried_with_its_token_writes_nothing_again() -> None:
    rec = RecordingStore(preset("dynamodb"))
    rec.submit("c0", Put(T, {"pk": "k0", "v": "v1"}))
    run(rec)
    bump = TransactWrite((Update(T, {"pk": "k0"}, "SET n = if_not_exists(n, :zero) + :one",
                                 values={":zero": Decimal(0), ":one": Decimal(1)}),),
                         token="token-1")
    for _ in range(2):  # the second answer is replayed: it wrote nothing
        rec.submit("c1", bump)
        run(rec)
    rec.submit("c2", Get(T, {"pk": "k0"}, consistent=True))
    run(rec)
    h = rec.history()
    assert [op.status for op in h.operations] == ["ok"] * 4
    assert h.operations[2].meta.get("replayed") is True
    assert judge_anomaly("stale-read", h).status == "holds"
    # a store that does not say so: the two transactions' writes are indeterminate
    silent = replace(h, operations=tuple(
        replace(op, meta={k: v for k, v in op.meta.items() if k not in ("replayed", "writes")})
        for op in h.operations))
    assert judge_anomaly("stale-read", silent).status == "holds"


# -- an oracle on what the presets record -------------------------------------------------


def test_every_stale_read_the_presets_show_is_a_history_no_order_explains() -> None:
    # a stale read proves a history not linearizable: the item linearizability checker
    # (every read kind) must agree on each example that showed one
    from hypothesis import HealthCheck, Phase, settings

    from replicheck.implementation.presets import PRESETS
    from replicheck.properties.engine import run_property, store_factory
    from replicheck.properties.suite import property_named
    from replicheck.properties.verdicts import judge_unclaimed

    chosen = settings(max_examples=20, derandomize=True, database=None, deadline=None,
                      print_blob=False, phases=(Phase.explicit, Phase.reuse, Phase.generate),
                      suppress_health_check=list(HealthCheck))
    shown = 0
    for name in PRESETS:
        with collecting() as reports:
            run_property(property_named("concurrent-histories-under-faults"),
                         store_factory(name), name, chosen, minimize=False)
        descriptor = preset(name).descriptor
        for report in reports:
            cx = report.observations.get("stale-read")
            if cx is None:
                continue
            shown += 1
            assert cx.history is not None
            every_read = judge_unclaimed("linearizable-strong-reads", cx.history, descriptor)
            assert every_read.status != "holds", (name, cx.explanation)
    assert shown >= 5
