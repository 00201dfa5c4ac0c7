"""Guarantee judging names the operations of the recorded history: the reads a claim
does not cover are dropped before checking (``restrict_reads``) and the session
checkers see a single-item view (``item_session_history``), yet every anomaly's
operations are ids of the whole history (a report marks them on its timeline)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.history import History
from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.requests import Delete, Get, Put, Request, TransactWrite, Update
from replicheck.properties.guarantees import (
    item_session_history,
    judge_guarantee,
    restrict_reads,
)
from replicheck.properties.recording import RecordingStore
from replicheck.properties.threaded import _session_view


def stale_after_an_eventual_read() -> tuple[History, MemoryStore]:
    """op 0: an eventual read; op 1: a put of k0; op 2: a strong read by the same
    client answered as if the put had not happened."""
    store = MemoryStore()
    rec = RecordingStore(store)
    rec.execute(Get("items", {"pk": "k0"}, consistent=False), "c0")
    rec.execute(Put("items", {"pk": "k0", "v": "v1"}), "c0")
    rec.execute(Get("items", {"pk": "k0"}, consistent=True), "c0")
    history = rec.history()
    ops = list(history.operations)
    ops[2] = replace(ops[2], output=ops[0].output)  # the strong read misses the put
    return replace(history, operations=tuple(ops)), store


def test_linearizability_names_the_read_of_the_whole_history() -> None:
    history, store = stale_after_an_eventual_read()
    # unclaimed: the default reads are strong ones, so the eventual read is dropped
    judgement = judge_guarantee("linearizable-strong-reads", history,
                                replace(store.descriptor, claims=()))
    assert judgement.status == "observed" and judgement.verdict is not None
    found = {a.type: a.ops for a in judgement.verdict.anomalies}
    assert found == {"not-linearizable": (2,), "stale-read": (1, 2)}
    assert history.operation(2).f == "get-strong"


def test_sessions_name_the_write_and_read_of_the_whole_history() -> None:
    history, store = stale_after_an_eventual_read()
    judgement = judge_guarantee("read-your-writes", history,
                                replace(store.descriptor, claims=()))
    assert judgement.status == "observed" and judgement.verdict is not None
    [anomaly] = judgement.verdict.anomalies
    assert anomaly.ops == (1, 2)
    assert [history.operation(i).f for i in anomaly.ops] == ["put", "get-strong"]
    assert "(op 1" in anomaly.explanation and "(op 2)" in anomaly.explanation


def test_the_threaded_session_view_keeps_the_ids_of_the_recorded_history() -> None:
    """The threaded property judges sessions without the single-item operations on items
    a transaction wrote without reporting its writes; the counterexample shows the whole
    history, so the anomaly names its ids."""
    store = MemoryStore()
    rec = RecordingStore(store)
    rec.execute(TransactWrite((Put("items", {"pk": "k0", "v": "t"}),)), "c0")
    rec.execute(Put("items", {"pk": "k0", "v": "a"}), "c1")  # left out of the view
    rec.execute(Put("items", {"pk": "k1", "v": "b"}), "c1")
    rec.execute(Get("items", {"pk": "k1"}, consistent=True), "c1")
    history = rec.history()
    ops = list(history.operations)
    ops[3] = replace(ops[3], output={"item": None})  # the read misses c1's own put
    history = replace(history, operations=tuple(ops))
    view = _session_view(history, store.descriptor)
    assert [op.id for op in view.operations] == [0, 2, 3]
    judgement = judge_guarantee("read-your-writes", view, replace(store.descriptor, claims=()))
    assert judgement.verdict is not None
    [anomaly] = judgement.verdict.anomalies
    assert anomaly.ops == (2, 3)
    assert [history.operation(i).f for i in anomaly.ops] == ["put", "get-strong"]


KEYS = ("k0", "k1")


@st.composite
def requests(draw: st.DrawFn) -> list[tuple[str, Request]]:
    out: list[tuple[str, Request]] = []
    for _ in range(draw(st.integers(0, 10))):
        client = draw(st.sampled_from(("c0", "c1", "c2")))
        key = {"pk": draw(st.sampled_from(KEYS))}
        kind = draw(st.sampled_from(("get-eventual", "get-strong", "put", "update",
                                     "delete")))
        request: Request
        if kind.startswith("get"):
            request = Get("items", key, consistent=kind == "get-strong")
        elif kind == "put":
            request = Put("items", {**key, "v": draw(st.sampled_from(("a", "b")))})
        elif kind == "update":
            request = Update("items", key, "SET v = :v", values={":v": "c"})
        else:
            request = Delete("items", key)
        out.append((client, request))
    return out


@given(requests(), st.sets(st.sampled_from(("get-strong", "get-eventual"))))
def test_filtered_views_keep_the_ids_of_the_recorded_history(
        drawn: list[tuple[str, Request]], reads: set[str]) -> None:
    rec = RecordingStore(MemoryStore())
    for client, request in drawn:
        rec.execute(request, client)
    history = rec.history()
    for view in (restrict_reads(history, frozenset(reads)),
                 item_session_history(history, frozenset(reads))):
        ids = [op.id for op in view.operations]
        assert len(set(ids)) == len(ids)
        for op in view.operations:
            original = history.operation(op.id)
            assert (op.process, op.call, op.ret, op.status) == (
                original.process, original.call, original.ret, original.status)
    session = item_session_history(history, frozenset(reads))
    assert [op.id for op in session.operations] == [
        op.id for op in history.operations
        if op.f in ("put", "update", "delete") or op.f in reads]
