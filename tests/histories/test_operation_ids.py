"""Operation identity: an operation's ``id`` is its invocation index in the history as
read, kept by every filter, and every checker names anomalies by it.

- Filters (``drop_unknown_functions``, ``restrict_reads``) keep each operation as it
  was, ``id`` included, on random histories.
- ``check --lenient`` on a history with operations of an unknown function names the
  same operations as the check of the history without them (ids mapped), on random
  histories.
- Every checker, run on a history whose ids are not positions (relabelled, or
  filtered), names the operations by their ids: linearizability, the Elle checkers,
  the item checker (random histories), sessions, causal, streams and convergence
  (hand-written violations).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from random import Random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.causal import check_causal
from replicheck.histories.checkers.convergence import check_convergence
from replicheck.histories.checkers.sessions import check_sessions
from replicheck.histories.checkers.streams import check_streams
from replicheck.histories.history import History, Operation, Record, ops_by_id, pair
from replicheck.histories.judge import check, drop_unknown_functions
from replicheck.histories.verdict import Verdict
from replicheck.properties.guarantees import restrict_reads
from tests.oracles.generate_items import edit, generate
from tests.oracles.generate_single import history_of, random_history, recorded
from tests.oracles.generate_txn import random_history as random_txn_history

Row = dict[str, Any]


def relabel(history: History, to: Callable[[int], int]) -> History:
    """``history`` with every operation's id mapped by ``to`` (a history some filter
    left with ids that are not positions)."""
    return replace(history, operations=tuple(replace(op, id=to(op.id))
                                             for op in history.operations))


def shift(i: int) -> int:
    return 3 * i + 100


def named(verdict: Verdict, to: Callable[[int], int] = lambda i: i
          ) -> list[tuple[str, tuple[int, ...]]]:
    """The anomalies of ``verdict`` and of its parts as (type, ids mapped by ``to``)."""
    out = [(a.type, tuple(to(i) for i in a.ops)) for a in verdict.anomalies]
    for part in verdict.parts.values():
        out += named(part, to)
    return out


def witness(verdict: Verdict, to: Callable[[int], int] = lambda i: i) -> Any:
    return None if verdict.witness is None else tuple(to(i) for i in verdict.witness)


def assert_same_findings(plain: Verdict, relabelled: Verdict, to: Callable[[int], int]
                         ) -> None:
    assert relabelled.valid == plain.valid
    assert named(relabelled) == named(plain, to)
    assert witness(relabelled) == witness(plain, to)


# ---------------------------------------------------------------------------------------
# random histories: filters keep ids, and checkers name operations by them

FUNCTIONS = ("read", "write", "cas", "get-strong", "get-eventual", "transact-get", "noise")


@st.composite
def mixed_history(draw: st.DrawFn) -> History:
    """Operations of assorted functions by a few processes, interleaved at random (some
    never complete)."""
    n = draw(st.integers(0, 12))
    records: list[Record] = []
    open_: dict[int, str] = {}
    process = 0
    for _ in range(n):
        if open_ and draw(st.booleans()):
            p = draw(st.sampled_from(sorted(open_)))
            records.append(Record(p, draw(st.sampled_from(("ok", "fail", "info"))),
                                  open_.pop(p), 1, index=len(records)))
        else:
            process += 1
            f = draw(st.sampled_from(FUNCTIONS))
            open_[process] = f
            records.append(Record(process, "invoke", f, 1, index=len(records)))
    return pair(records)


def assert_kept_as_they_were(original: History, filtered: History) -> None:
    ids = [op.id for op in filtered.operations]
    original_ids = [op.id for op in original.operations]
    assert ids == [i for i in original_ids if i in set(ids)]  # a subsequence, in order
    for op in filtered.operations:
        assert op == original.operation(op.id)
        assert op.call == original.operation(op.id).call


@given(mixed_history(), st.sets(st.sampled_from(("get-strong", "get-eventual",
                                                 "transact-get"))))
def test_restrict_reads_keeps_each_operation_with_its_id(history: History,
                                                         reads: set[str]) -> None:
    kept = restrict_reads(history, frozenset(reads))
    assert_kept_as_they_were(history, kept)
    dropped = {"get-strong", "get-eventual", "transact-get"} - reads
    assert [op.id for op in kept.operations] == [op.id for op in history.operations
                                                 if op.f not in dropped]


@given(mixed_history())
def test_drop_unknown_functions_keeps_each_operation_with_its_id(history: History) -> None:
    kept = drop_unknown_functions(history, "cas-register")
    assert_kept_as_they_were(history, kept)
    assert [op.id for op in kept.operations] == [
        op.id for op in history.operations if op.f in ("read", "write", "cas")]
    assert len(kept.skipped) == len(history) - len(kept)


@st.composite
def with_noise(draw: st.DrawFn) -> tuple[list[Record], list[Record]]:
    """Records of a random cas-register execution (reads changed at random), and the
    same records with operations of an unknown function ``noise`` interleaved."""
    clean = [r for r in draw(recorded("cas-register"))]
    out: list[Record] = []
    for r in clean:
        if r.f == "read" and r.type == "ok" and draw(st.integers(0, 2)) == 0:
            r = replace(r, value=draw(st.sampled_from((0, 1, "a", None))))
        out.append(r)
    noisy: list[Record] = []
    noise_process = 1000
    for r in out:
        if draw(st.integers(0, 2)) == 0:
            noise_process += 1
            noisy.append(Record(noise_process, "invoke", "noise", 1))
            if draw(st.booleans()):
                noisy.append(Record(noise_process, "ok", "noise", 1))
        noisy.append(r)
    return out, noisy


@given(with_noise())
def test_lenient_check_names_the_operations_of_the_input(pair_: Any) -> None:
    clean_records, noisy_records = pair_
    clean, noisy = history_of(clean_records), history_of(noisy_records)
    # the id in the noisy history of each operation of the clean one
    kept = [op.id for op in noisy.operations if op.f != "noise"]
    assert len(kept) == len(clean)
    to = {op.id: kept[n] for n, op in enumerate(clean.operations)}.__getitem__
    assert_same_findings(check(clean, "cas-register"),
                         check(noisy, "cas-register", lenient=True), to)


@given(st.sampled_from(("cas-register", "kv")).flatmap(
    lambda model: st.tuples(st.just(model), random_history(model))))
def test_linearizability_names_operations_by_id(drawn: tuple[str, History]) -> None:
    model, history = drawn
    assert_same_findings(check(history, model), check(relabel(history, shift), model), shift)


@given(st.integers(0, 10**9), st.sampled_from(("list-append", "rw-register")))
def test_elle_checkers_name_operations_by_id(seed: int, workload: str) -> None:
    history = random_txn_history(Random(seed), workload)
    wanted = ("serializable", "strict-serializable")
    plain, relabelled = (check(history, workload, wanted),
                         check(relabel(history, shift), workload, wanted))
    if workload == "list-append":
        assert_same_findings(plain, relabelled, shift)
        return
    # rw-register asks z3, whose choice among several serial orders or anomalies may
    # differ between the two runs: the verdict agrees, and every id named is one of the
    # relabelled history's
    assert relabelled.valid == plain.valid
    ids = {shift(op.id) for op in history.operations}
    for _, ops in named(relabelled):
        assert set(ops) <= ids
    assert set(witness(relabelled) or ()) <= ids


@given(st.integers(0, 10**9))
def test_item_checker_names_operations_by_id(seed: int) -> None:
    generated = edit(seed) or generate(seed)
    history = generated.history()
    wanted = ("read-committed", "serializable")
    assert_same_findings(check(history, "item", wanted),
                         check(relabel(history, shift), "item", wanted), shift)


# ---------------------------------------------------------------------------------------
# hand-written violations of the session, causal, stream and convergence checkers


def op(process: int, f: str, key: Any, value: Any = None, out: Any = None,
       status: str = "ok", **meta: Any) -> list[Row]:
    return [{"process": process, "type": "invoke", "f": f, "key": key, "value": value},
            {"process": process, "type": status, "f": f, "key": key,
             "value": out if f in ("read", "get") else value, "meta": meta}]


def history(*groups: list[Row]) -> History:
    rows = [row for group in groups for row in group]
    return pair([Record(**{**row, "index": i}) for i, row in enumerate(rows)])


def without_first(history: History) -> History:
    """``history`` without its first operation, as a filter leaves it."""
    return replace(history, operations=history.operations[1:])


NOISE = op(9, "noise", "z", 0)


def test_sessions_name_operations_by_id() -> None:
    h = without_first(history(NOISE, op(1, "write", "x", 1, version=[5, "n1"]),
                              op(1, "read", "x", out=0, version=[3, "n2"])))
    v = check_sessions(h)
    [a] = v.anomalies
    assert a.type == "read-your-writes" and a.ops == (1, 2)
    assert "(op 1" in a.explanation and "(op 2)" in a.explanation
    assert [o["id"] for o in v.counterexample["operations"]] == [1, 2]


def test_sessions_identify_writes_by_id_when_matching_by_value() -> None:
    h = relabel(history(op(1, "write", "x", 1), op(2, "read", "x", out=1),
                        op(2, "read", "x", out=None)), shift)
    [a] = check_sessions(h).anomalies
    assert a.type == "monotonic-reads" and a.ops == (shift(1), shift(2))


def test_causal_names_operations_by_id() -> None:
    h = without_first(history(NOISE, op(1, "write", "x", 1, version=1),
                              op(1, "write", "y", 1, version=1),
                              op(2, "read", "y", out=1, version=1),
                              op(2, "read", "x", out=None, version=None)))
    v = check_causal(h)
    [a] = v.anomalies
    assert a.type == "causal" and a.ops == (1, 2, 3, 4)
    assert "op 1 -> op 2 (next in process 1) -> op 3 (read what op 2 wrote) -> op 4" \
        in a.explanation
    assert [o["id"] for o in v.counterexample["operations"]] == [1, 2, 3, 4]


def test_streams_name_operations_by_id() -> None:
    a1, a2 = {"pk": "a", "n": 1}, {"pk": "a", "n": 2}
    observed = {"process": "observer", "type": "observe", "f": "stream",
                "value": [{"table": "t", "event": "INSERT", "key": ["a"], "sequence": 1,
                           "old_image": None, "new_image": a1}]}
    h = without_first(history(NOISE, op(1, "put", ["a"], a1, table="t", version=1),
                              op(2, "put", ["a"], a2, table="t", version=2), [observed]))
    [a] = check_streams(h).anomalies
    assert a.type == "stream-missing" and a.ops == (2,)
    assert "op 2" in a.explanation


def test_convergence_names_operations_by_id() -> None:
    old = {"value": 0, "version": [3, "n2"]}
    held = {"n1": {json.dumps("x"): old}, "n2": {json.dumps("x"): old}}
    snapshot = {"process": "observer", "type": "observe", "f": "replicas",
                "value": {"table": "t", "quiescent": True, "replicas": held}}
    h = without_first(history(NOISE, op(1, "write", "x", 0, version=[3, "n2"]),
                              op(1, "write", "x", 1, version=[5, "n1"]), [snapshot]))
    v = check_convergence(h)
    [a] = [a for a in v.anomalies if a.type == "lost-write"]
    assert a.ops == (2,) and "op 2" in a.explanation


def test_ops_by_id_looks_operations_up_by_identity() -> None:
    h = relabel(history(op(1, "write", "x", 1), op(2, "read", "x", out=1)), shift)
    found = ops_by_id(h, [shift(1), shift(0)])
    assert [o.f for o in found] == ["read", "write"]
    assert all(isinstance(o, Operation) for o in found)
    with pytest.raises(KeyError):
        h.operation(0)
