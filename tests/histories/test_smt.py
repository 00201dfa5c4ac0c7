"""The z3-backed checker for read-write registers without unique values: hand-written
anomalies, and agreement with brute-force enumeration on every small history."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replicheck.histories.checkers.smt import check_smt
from replicheck.histories.history import History, Record, pair

Mop = list[Any]


def history(*txns: tuple[int, str, list[Mop], int, int | None]) -> History:
    """Transactions as (process, status, micro-ops as completed, call, ret)."""
    events: list[tuple[int, int, Record]] = []
    for process, status, mops, call, ret in txns:
        invoked = [[f, k, None if f == "r" else v] for f, k, v in mops]
        events.append((call, 0, Record(process, "invoke", "txn", invoked)))
        if ret is not None:
            value = mops if status == "ok" else invoked
            events.append((ret, 1, Record(process, status, "txn", value)))
    events.sort(key=lambda e: (e[0], e[1]))
    return pair([Record(**{**r.__dict__, "index": i}) for i, (_, _, r) in enumerate(events)])


def test_serial_history_is_valid_with_a_witness() -> None:
    h = history(
        (0, "ok", [["w", "x", 1]], 0, 1),
        (1, "ok", [["r", "x", 1], ["w", "x", 2]], 2, 3),
        (2, "ok", [["r", "x", 2]], 4, 5),
    )
    v = check_smt(h, consistency=("strict-serializable",))
    assert v.valid is True
    assert v.witness == (0, 1, 2)


def test_repeated_values_leave_the_order_open_but_consistent() -> None:
    # Two writers of the same value: either may have been read.
    h = history(
        (0, "ok", [["w", "x", 1]], 0, 10),
        (1, "ok", [["w", "x", 1]], 0, 10),
        (2, "ok", [["r", "x", 1], ["w", "y", 5]], 0, 10),
        (3, "ok", [["r", "y", 5], ["r", "x", 1]], 0, 10),
    )
    assert check_smt(h, consistency=("serializable", "snapshot-isolation")).valid is True


def test_write_skew_is_g2_item_allowed_by_snapshot_isolation() -> None:
    h = history(
        (0, "ok", [["w", "x", 0], ["w", "y", 0]], 0, 1),
        (1, "ok", [["r", "x", 0], ["r", "y", 0], ["w", "x", 1]], 2, 5),
        (2, "ok", [["r", "x", 0], ["r", "y", 0], ["w", "y", 1]], 2, 5),
    )
    ser = check_smt(h, consistency=("serializable",))
    assert ser.valid is False
    assert [a.type for a in ser.anomalies] == ["G2-item"]
    assert set(ser.anomalies[0].ops) >= {1, 2}
    assert "serializable" in ser.ruled_out
    assert "snapshot-isolation" not in ser.ruled_out
    assert check_smt(h, consistency=("snapshot-isolation",)).valid is True


def test_lost_update_is_refused_by_snapshot_isolation() -> None:
    h = history(
        (0, "ok", [["r", "x", None], ["w", "x", 1]], 0, 5),
        (1, "ok", [["r", "x", None], ["w", "x", 2]], 0, 5),
    )
    v = check_smt(h, consistency=("snapshot-isolation",))
    assert v.valid is False
    assert v.anomalies[0].type == "G-single"
    assert "snapshot-isolation" in v.ruled_out


def test_circular_reads_are_g1c() -> None:
    h = history(
        (0, "ok", [["r", "y", 1], ["w", "x", 1]], 0, 5),
        (1, "ok", [["r", "x", 1], ["w", "y", 1]], 0, 5),
    )
    v = check_smt(h, consistency=("serializable",))
    assert [a.type for a in v.anomalies] == ["G1c"]
    assert "read-committed" in v.ruled_out
    assert "T0 read 1 from 'y', which only T1 could have written" in v.anomalies[0].explanation


def test_stale_read_in_real_time_is_a_realtime_anomaly_only() -> None:
    h = history(
        (0, "ok", [["w", "x", 1]], 0, 1),
        (1, "ok", [["r", "x", None]], 2, 3),
    )
    assert check_smt(h, consistency=("serializable",)).valid is True
    v = check_smt(h, consistency=("strict-serializable",))
    assert v.valid is False
    assert v.anomalies[0].type.endswith("-realtime")
    assert "strict-serializable" in v.ruled_out
    assert "serializable" not in v.ruled_out


def test_reading_an_aborted_write_is_g1a_without_a_solver() -> None:
    h = history(
        (0, "fail", [["w", "x", 7]], 0, 1),
        (1, "ok", [["r", "x", 7]], 2, 3),
    )
    v = check_smt(h)
    assert v.valid is False
    assert v.anomalies[0].type == "G1a"
    assert v.anomalies[0].ops == (1, 0)


def test_intermediate_read_is_g1b() -> None:
    h = history(
        (0, "ok", [["w", "x", 1], ["w", "x", 2]], 0, 1),
        (1, "ok", [["r", "x", 1]], 2, 3),
    )
    assert [a.type for a in check_smt(h).anomalies] == ["G1b"]


def test_internal_inconsistency() -> None:
    h = history((0, "ok", [["w", "x", 1], ["r", "x", 2]], 0, 1),
                (1, "ok", [["w", "x", 2]], 0, 1))
    assert "internal" in [a.type for a in check_smt(h).anomalies]


def test_indeterminate_writes_may_or_may_not_commit() -> None:
    seen = history((0, "info", [["w", "x", 3]], 0, None), (1, "ok", [["r", "x", 3]], 1, 2))
    unseen = history((0, "info", [["w", "x", 3]], 0, None), (1, "ok", [["r", "x", None]], 1, 2))
    for h in (seen, unseen):
        assert check_smt(h, consistency=("strict-serializable",)).valid is True


def test_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="not \\['causal'\\]"):
        check_smt(history(), consistency=("causal",))


# --------------------------------------------------------------------- brute force


def _committed_sets(h: History) -> list[list[int]]:
    ok = [op.id for op in h.operations if op.ok]
    info = [op.id for op in h.operations if op.indeterminate]
    return [ok + list(extra) for n in range(len(info) + 1)
            for extra in itertools.combinations(info, n)]


def _mops(h: History, i: int) -> list[Mop]:
    op = h.operations[i]
    return op.output if op.ok else op.input  # type: ignore[no-any-return]


def brute_serializable(h: History, strict: bool) -> bool:
    for committed in _committed_sets(h):
        for order in itertools.permutations(committed):
            if strict and any(
                h.operations[b].ret is not None and h.operations[b].ret < h.operations[a].call
                for x, a in enumerate(order) for b in order[x + 1:]
            ):
                continue
            state: dict[Any, Any] = {}
            good = True
            for i in order:
                for f, k, v in _mops(h, i):
                    if f == "w":
                        state[k] = v
                    elif h.operations[i].ok and state.get(k) != v:
                        good = False
            if good:
                return True
    return False


def brute_snapshot_isolation(h: History) -> bool:
    for committed in _committed_sets(h):
        events = [(i, e) for i in committed for e in ("s", "c")]
        for order in itertools.permutations(events):
            pos = {ev: n for n, ev in enumerate(order)}
            if any(pos[(i, "s")] > pos[(i, "c")] for i in committed):
                continue
            writes = {i: {k for f, k, _ in _mops(h, i) if f == "w"} for i in committed}
            if any(writes[a] & writes[b] and pos[(a, "s")] < pos[(b, "c")]
                   and pos[(b, "s")] < pos[(a, "c")]
                   for a, b in itertools.combinations(committed, 2)):
                continue
            state: dict[Any, Any] = {}
            snapshots: dict[int, dict[Any, Any]] = {}
            good = True
            for i, e in order:
                if e == "s":
                    snapshots[i] = dict(state)
                    continue
                local = dict(snapshots[i])
                for f, k, v in _mops(h, i):
                    if f == "w":
                        local[k] = v
                        state[k] = v
                    elif h.operations[i].ok and local.get(k) != v:
                        good = False
            if good:
                return True
    return False


mops = st.lists(st.tuples(st.sampled_from(["r", "w"]), st.sampled_from(["x", "y"]),
                          st.sampled_from([None, 1, 2])), min_size=1, max_size=3)


@st.composite
def small_histories(draw: st.DrawFn) -> History:
    n = draw(st.integers(1, 4))
    txns = []
    for p in range(n):
        ms = [[f, k, (v if v is not None else 1) if f == "w" else v] for f, k, v in draw(mops)]
        status = draw(st.sampled_from(["ok", "ok", "ok", "info", "fail"]))
        call = draw(st.integers(0, 6))
        ret = None if status == "info" else call + draw(st.integers(1, 4))
        txns.append((p, status, ms, call, ret))
    return history(*txns)


@st.composite
def snapshot_histories(draw: st.DrawFn) -> History:
    """Executions of a snapshot-isolation store (first committer wins), sometimes with
    one read altered: write skew and real-time staleness show up here."""
    n = draw(st.integers(2, 4))
    programs = [[[f, k, draw(st.sampled_from([1, 2])) if f == "w" else None]
                 for f, k, _ in draw(mops)] for _ in range(n)]
    events = draw(st.permutations([(i, e) for i in range(n) for e in ("s", "c")]))
    events = sorted(events, key=lambda ev: (events.index(ev)
                                            if ev[1] == "s" or events.index((ev[0], "s"))
                                            < events.index(ev) else 99))
    state: dict[Any, Any] = {}
    snap: dict[int, dict[Any, Any]] = {}
    began: dict[int, int] = {}
    commits: list[tuple[int, int]] = []
    done: dict[int, tuple[str, list[Mop], int]] = {}
    for t, (i, e) in enumerate(events):
        if e == "s":
            snap[i], began[i] = dict(state), t
            continue
        local, ran = dict(snap[i]), []
        for f, k, v in programs[i]:
            if f == "w":
                local[k] = v
                ran.append([f, k, v])
            else:
                ran.append([f, k, local.get(k)])
        mine = {k for f, k, _ in programs[i] if f == "w"}
        clash = any(at > began[i] and mine & {k for f, k, _ in programs[j] if f == "w"}
                    for j, at in commits)
        if clash:
            done[i] = ("fail", ran, t)
            continue
        commits.append((i, t))
        state.update({k: v for f, k, v in ran if f == "w"})
        done[i] = ("ok", ran, t)
    if draw(st.booleans()):
        victim = draw(st.sampled_from(sorted(done)))
        ran = done[victim][1]
        reads = [m for m in ran if m[0] == "r"]
        if reads:
            draw(st.sampled_from(reads))[2] = draw(st.sampled_from([None, 1, 2]))
    return history(*[(i, status, ran, began[i] * 2, t * 2 + 1)
                     for i, (status, ran, t) in sorted(done.items())])


@settings(max_examples=200)
@given(st.one_of(small_histories(), snapshot_histories()))
def test_agrees_with_brute_force(h: History) -> None:
    assert (check_smt(h, consistency=("serializable",)).valid is True) == \
        brute_serializable(h, strict=False)
    assert (check_smt(h, consistency=("strict-serializable",)).valid is True) == \
        brute_serializable(h, strict=True)
    assert (check_smt(h, consistency=("snapshot-isolation",)).valid is True) == \
        brute_snapshot_isolation(h)


