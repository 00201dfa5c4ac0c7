"""The leaderless store's metadata and replica snapshots in the forms the history
checkers read: the convergence checker accepts a repaired cluster and flags a
diverged one."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from replicheck.histories.checkers.causal import check_causal
from replicheck.histories.checkers.convergence import check_convergence
from replicheck.histories.checkers.sessions import check_sessions
from replicheck.histories.history import Record, pair
from replicheck.implementation.reference.leaderless import (
    LeaderlessStore,
    dynamo_lww,
    dynamo_quorum,
)
from replicheck.implementation.reference.sim import Drop
from replicheck.implementation.store import Delete, Get, Handle, Put, Update
from replicheck.models.items.values import item_to_wire, key_text

T = "items"


def scenario(store: LeaderlessStore) -> list[Record]:
    """Writes from three clients while one node is cut off and another crashes;
    returns their invoke/complete records (meta from the handles)."""
    records: list[Record] = []
    lonely = store.nodes[0]
    store.partition([{lonely}, set(store.nodes) - {lonely}])
    handles: list[tuple[int, Handle, str, object]] = []
    for i in range(12):
        key = f"k{i % 5}"
        request = (Delete(T, {"pk": key}) if i % 4 == 3
                   else Put(T, {"pk": key, "v": i}))
        value = None if isinstance(request, Delete) else item_to_wire(request.item)
        process = i % 3
        records.append(Record(process, "invoke", "delete" if value is None else "put",
                              value, key, index=len(records)))
        handle = store.submit(f"c{process}", request)
        store.run_until_done(handle)
        handles.append((process, handle, key, value))
        records.append(Record(process, "ok" if handle.status == "ok" else "info",
                              "delete" if value is None else "put", value, key,
                              index=len(records), meta=handle.meta))
        if i == 5:
            store.crash(store.nodes[2])
    for decision in store.decisions():  # the partition ate what was in flight
        if isinstance(decision, Drop):
            store.decide(decision)
    return records


@pytest.mark.parametrize("factory", [dynamo_lww, dynamo_quorum], ids=["lww", "quorum"])
def test_the_convergence_checker_accepts_a_repaired_cluster_and_flags_divergence(
        factory: object) -> None:
    store = factory()  # type: ignore[operator]
    records = scenario(store)
    diverged = store.replicas_observation(T, quiescent=True)
    json.dumps(diverged)
    bad = check_convergence(pair([*records, Record("observer", "observe", "replicas",
                                                   diverged, index=len(records))]))
    assert bad.valid is False
    kinds = {a.type for a in bad.anomalies}
    assert "divergence" in kinds and "merkle-mismatch" not in kinds

    store.heal()
    for node in store.nodes:
        store.restart(node)
    store.settle()
    store.anti_entropy_round(T)
    repaired = store.replicas_observation(T, quiescent=True, anti_entropy=True)
    good = check_convergence(pair([*records, Record("observer", "observe", "replicas",
                                                    repaired, index=len(records))]))
    assert good.valid is True, [a.explanation for a in good.anomalies]
    assert good.notes == ()  # every acknowledged write could be judged from the versions


def test_key_text_is_the_checkers_key_form() -> None:
    assert key_text(("k",)) == '"k"'
    assert key_text((Decimal(7),)) == "7"
    assert key_text(("user", Decimal("1.5"))) == '["user", {"N": "1.5"}]'
    assert key_text((b"\x00k",)) == '{"B": "AGs="}'


def _session_history(store: LeaderlessStore, steps: list[tuple[int, str, str]]) -> list[Record]:
    """Run (process, "get"|"update"|"put", key) steps one at a time; their records."""
    records: list[Record] = []
    for process, kind, key in steps:
        request: Get | Update | Put
        if kind == "get":
            request = Get(T, {"pk": key})
        elif kind == "update":
            request = Update(T, {"pk": key}, "SET v = if_not_exists(v, :z) + :one",
                             values={":z": 0, ":one": 1})
        else:
            request = Put(T, {"pk": key, "v": len(records)})
        f = "read" if kind == "get" else kind
        value = item_to_wire(request.item) if isinstance(request, Put) else None
        records.append(Record(process, "invoke", f, value, key, index=len(records)))
        handle = store.submit(f"c{process}", request)
        store.run_until_done(handle)
        if kind == "get" and handle.response is not None and handle.response.item is not None:
            value = item_to_wire(handle.response.item)
        status = "ok" if handle.status == "ok" else "info"
        records.append(Record(process, status, f, value, key, index=len(records),
                              meta=handle.meta))
    return records


@pytest.mark.parametrize("factory", [dynamo_lww, dynamo_quorum], ids=["lww", "quorum"])
def test_without_faults_the_session_and_causal_checkers_find_nothing(factory: object) -> None:
    rng = random.Random(5)
    store = factory()  # type: ignore[operator]
    steps = [(rng.randrange(3), rng.choice(("get", "update")), f"k{rng.randrange(3)}")
             for _ in range(60)]
    history = pair(_session_history(store, steps))
    for verdict in (check_sessions(history), check_causal(history)):
        assert verdict.valid is True, [a.explanation for a in verdict.anomalies]
        assert verdict.notes == ()  # every operation carried comparable versions


def test_the_session_checker_sees_the_stale_read_of_dynamo_lww() -> None:
    store = dynamo_lww()
    first = store.preference_list(T, {"pk": "k"})[0]
    store.partition([{first}, set(store.nodes) - {first}])
    records = _session_history(store, [(0, "put", "k")])
    store.crash(first)
    records += [Record(r.process, r.type, r.f, r.value, r.key, index=r.index + len(records),
                       meta=r.meta) for r in _session_history(store, [(0, "get", "k")])]
    verdict = check_sessions(pair(records))
    assert verdict.valid is False
    assert "read-your-writes" in {a.type for a in verdict.anomalies}
    assert "read-your-writes" in store.descriptor.weaknesses
