"""The session-guarantee checker: hand-written histories, skipping without versions,
and properties of simulated last-writer-wins stores."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.sessions import (
    INITIAL,
    SESSION_GUARANTEES,
    ClockVersion,
    DottedVersion,
    TotalVersion,
    WriteRef,
    check_sessions,
    compare_versions,
    parse_version,
    reflects,
    version_le,
)
from replicheck.histories.history import History, Record, pair
from replicheck.models.clocks import Ordering, VectorClock
from replicheck.models.dvv import Dot

Row = dict[str, Any]


def op(process: int, f: str, key: Any, value: Any = None, out: Any = None,
       meta: dict[str, Any] | None = None, status: str = "ok") -> list[Row]:
    """An invocation and its completion, adjacent."""
    return [
        {"process": process, "type": "invoke", "f": f, "key": key, "value": value},
        {"process": process, "type": status, "f": f, "key": key,
         "value": out if f in ("read", "get") else value, "meta": meta or {}},
    ]


def history(*groups: list[Row]) -> History:
    rows = [row for group in groups for row in group]
    return pair([Record(**{**row, "index": i}) for i, row in enumerate(rows)])


def w(process: int, key: Any, value: Any, status: str = "ok", **meta: Any) -> list[Row]:
    return op(process, "write", key, value, meta=meta, status=status)


def r(process: int, key: Any, out: Any, status: str = "ok", **meta: Any) -> list[Row]:
    return op(process, "read", key, out=out, meta=meta, status=status)


def types(verdict: Any) -> list[str]:
    return [a.type for a in verdict.anomalies]


# ---------------------------------------------------------------------------------------
# the version order


def test_version_order_of_each_kind() -> None:
    assert version_le(TotalVersion((3, "n1")), TotalVersion((3, "n2")))
    assert version_le(TotalVersion((4, "a")), TotalVersion((3, "z"))) is False
    a, b = ClockVersion(VectorClock({"n1": 1})), ClockVersion(VectorClock({"n2": 1}))
    assert compare_versions(a, b) is Ordering.CONCURRENT
    assert compare_versions(a, ClockVersion(VectorClock({"n1": 1, "n2": 1}))) is Ordering.BEFORE
    d1 = DottedVersion(Dot("n1", 1), VectorClock())
    d2 = DottedVersion(Dot("n1", 2), VectorClock())          # blind write: does not see n1:1
    d3 = DottedVersion(Dot("n2", 1), VectorClock({"n1": 2}))  # saw both
    assert compare_versions(d1, d2) is Ordering.CONCURRENT
    assert compare_versions(d1, d3) is Ordering.BEFORE
    assert compare_versions(d2, d3) is Ordering.BEFORE
    assert version_le(ClockVersion(VectorClock({"n1": 2})), d2) is False
    assert version_le(ClockVersion(VectorClock({"n1": 2})),
                      DottedVersion(Dot("n1", 2), VectorClock({"n1": 1})))
    assert compare_versions(INITIAL, WriteRef(3)) is Ordering.BEFORE
    # kinds that cannot be compared
    assert version_le(WriteRef(1), WriteRef(2)) is None
    assert version_le(TotalVersion((1,)), a) is None
    assert version_le(TotalVersion((1,)), TotalVersion((1, "n1"))) is None
    assert reflects((a, b), a) is True
    assert reflects((b,), a) is False
    assert reflects((), INITIAL) is True
    assert reflects((WriteRef(2),), WriteRef(1)) is None


def test_parse_version_shapes() -> None:
    assert parse_version({"version": [5, "n1"]}) == TotalVersion((5, "n1"))
    assert parse_version({"version": 7}) == TotalVersion((7,))
    assert parse_version({"version": None}) == INITIAL
    assert parse_version({"clock": {}}) == INITIAL
    assert parse_version({"clock": {"n1": 2}}) == ClockVersion(VectorClock({"n1": 2}))
    assert parse_version({"dot": ["n1", 2], "clock": {"n1": 1}}) == DottedVersion(
        Dot("n1", 2), VectorClock({"n1": 1}))
    assert parse_version({"value": 3}) is None


# ---------------------------------------------------------------------------------------
# valid histories


def test_valid_history_with_total_versions() -> None:
    h = history(
        w(1, "x", 1, version=[1, "n1"]),
        r(1, "x", 1, version=[1, "n1"]),
        w(2, "x", 2, version=[2, "n2"]),
        r(1, "x", 2, version=[2, "n2"]),
        w(1, "x", 3, version=[3, "n1"]),
        r(1, "x", 3, version=[3, "n1"]),
        r(3, "x", 1, version=[1, "n1"]),   # another session may lag: not a session anomaly
    )
    v = check_sessions(h)
    assert v.valid is True, [a.explanation for a in v.anomalies]
    assert v.model == "sessions"
    assert v.consistency == SESSION_GUARANTEES
    assert v.still_possible == frozenset(SESSION_GUARANTEES)
    assert v.ruled_out == frozenset() and v.counterexample is None and not v.notes


def test_valid_history_with_siblings_and_clocks() -> None:
    h = history(
        w(1, "x", "a", clock={"n1": 1}),
        w(2, "x", "b", clock={"n2": 1}),
        op(1, "get", "x", out=["a", "b"], meta={"siblings": [
            {"value": "a", "clock": {"n1": 1}}, {"value": "b", "clock": {"n2": 1}}]}),
        w(1, "x", "c", clock={"n1": 2, "n2": 1}),
        r(1, "x", "c", clock={"n1": 2, "n2": 1}),
    )
    v = check_sessions(h)
    assert v.valid is True, [a.explanation for a in v.anomalies]


def test_valid_history_with_dotted_versions_read_by_dot() -> None:
    h = history(
        op(1, "put", "x", "a", meta={"dot": ["n1", 1], "clock": {}}),
        op(2, "put", "x", "b", meta={"dot": ["n2", 1], "clock": {}}),
        op(1, "get", "x", out=["a", "b"],
           meta={"siblings": [{"dot": ["n1", 1]}, {"dot": ["n2", 1]}], "clock": {"n1": 1,
                                                                                "n2": 1}}),
        op(1, "put", "x", "c", meta={"dot": ["n1", 2], "clock": {"n1": 1, "n2": 1}}),
        op(1, "get", "x", out=["c"], meta={"siblings": [{"dot": ["n1", 2]}]}),
    )
    assert check_sessions(h).valid is True


def test_valid_history_identified_by_unique_values() -> None:
    h = history(r(1, "x", None), w(1, "x", 1), r(1, "x", 1), w(2, "x", 2), r(1, "x", 2))
    v = check_sessions(h)
    assert v.valid is True


def test_an_empty_history_is_valid() -> None:
    v = check_sessions(history())
    assert v.valid is True and v.stats.operations == 0


# ---------------------------------------------------------------------------------------
# one minimal violation per guarantee


def test_read_your_writes_violation_with_total_versions() -> None:
    h = history(w(1, "x", 1, version=[5, "n1"]), r(1, "x", 0, version=[3, "n2"]))
    v = check_sessions(h)
    assert v.valid is False
    [a] = v.anomalies
    assert a.type == "read-your-writes" and a.ops == (0, 1)
    for part in ("process 1", '"x"', "op 0", "op 1", '[5, "n1"]', '[3, "n2"]', "older than",
                 "own write"):
        assert part in a.explanation, part
    assert a.data["guarantee"] == "read-your-writes" and a.data["process"] == 1
    assert {"read-your-writes", "PRAM", "causal", "sequential", "linearizable"} <= v.ruled_out
    assert "monotonic-reads" not in v.ruled_out
    assert v.still_possible == {"monotonic-reads", "monotonic-writes", "writes-follow-reads"}
    assert [o["id"] for o in v.counterexample["operations"]] == [0, 1]


def test_read_your_writes_violation_by_value_identity() -> None:
    v = check_sessions(history(w(1, "x", 1), r(1, "x", None)))
    assert types(v) == ["read-your-writes"]
    assert v.anomalies[0].ops == (0, 1)
    assert "nothing (the initial version)" in v.anomalies[0].explanation


def test_read_your_writes_violation_concurrent_clock() -> None:
    v = check_sessions(history(w(1, "k", 1, clock={"n1": 1}), r(1, "k", 2, clock={"n2": 1})))
    assert types(v) == ["read-your-writes"]
    assert "concurrent with" in v.anomalies[0].explanation


def test_monotonic_reads_violation() -> None:
    h = history(
        w(2, "x", 1, version=1), w(2, "x", 2, version=2),
        r(1, "x", 2, version=2), r(1, "x", 1, version=1),
    )
    v = check_sessions(h)
    [a] = v.anomalies
    assert a.type == "monotonic-reads" and a.ops == (2, 3)
    assert "process 1" in a.explanation and "already read" in a.explanation
    assert "monotonic-reads" in v.ruled_out and "read-your-writes" in v.still_possible


def test_every_earlier_read_and_write_counts_not_only_the_last() -> None:
    h = history(
        w(2, "x", 3, version=3), w(2, "x", 1, version=1), w(2, "x", 2, version=2),
        r(1, "x", 3, version=3), r(1, "x", 1, version=1), r(1, "x", 2, version=2),
    )
    v = check_sessions(h, guarantees=["monotonic-reads"])
    assert [a.ops for a in v.anomalies] == [(3, 4), (3, 5)]
    h = history(w(1, "x", 5, version=5), w(1, "x", 3, version=3), r(1, "x", 4, version=4))
    v = check_sessions(h, guarantees=["read-your-writes"])
    assert [a.ops for a in v.anomalies] == [(0, 2)]


def test_monotonic_reads_violation_when_a_sibling_disappears() -> None:
    a_ = {"value": "a", "clock": {"n1": 1}}
    b_ = {"value": "b", "clock": {"n2": 1}}
    h = history(
        w(2, "x", "a", clock={"n1": 1}), w(3, "x", "b", clock={"n2": 1}),
        op(1, "get", "x", out=["a", "b"], meta={"siblings": [a_, b_]}),
        op(1, "get", "x", out=["a"], meta={"siblings": [a_]}),
    )
    v = check_sessions(h)
    assert types(v) == ["monotonic-reads"] and v.anomalies[0].ops == (2, 3)


def test_monotonic_writes_violation() -> None:
    v = check_sessions(history(w(1, "x", 1, version=[5, "n1"]), w(1, "x", 2, version=[4, "n2"])))
    [a] = v.anomalies
    assert a.type == "monotonic-writes" and a.ops == (0, 1)
    assert "older than" in a.explanation and "earlier write" in a.explanation


def test_monotonic_writes_violation_with_a_blind_dotted_write() -> None:
    h = history(op(1, "put", "x", 1, meta={"dot": ["n1", 1], "clock": {}}),
                op(1, "put", "x", 2, meta={"dot": ["n1", 2], "clock": {}}))
    v = check_sessions(h)
    assert types(v) == ["monotonic-writes"]
    assert "concurrent with" in v.anomalies[0].explanation


def test_writes_follow_reads_violation() -> None:
    h = history(w(2, "x", 1, version=9), r(1, "x", 1, version=9), w(1, "x", 2, version=4))
    v = check_sessions(h)
    [a] = v.anomalies
    assert a.type == "writes-follow-reads" and a.ops == (1, 2)
    assert "version it had read" in a.explanation and "9" in a.explanation


def test_only_the_chosen_guarantees_are_checked() -> None:
    h = history(w(1, "x", 1, version=5), r(1, "x", 0, version=3))
    v = check_sessions(h, guarantees=["monotonic-reads"])
    assert v.valid is True and v.consistency == ("monotonic-reads",)
    with pytest.raises(ValueError, match="unknown session guarantee"):
        check_sessions(h, guarantees=["monotonic-read"])
    with pytest.raises(TypeError):
        check_sessions(h, guarantees="monotonic-reads")


def test_failed_and_unapplied_writes_and_other_keys_do_not_count() -> None:
    h = history(
        w(1, "x", 1, status="fail", version=5),
        w(1, "x", 2, version=6, applied=False),
        w(1, "y", 3, version=7),
        r(1, "x", 0, version=3),
    )
    assert check_sessions(h).valid is True


def test_a_process_continuing_after_info_is_a_new_session() -> None:
    h = history(w(1, "x", 1, version=5), w(1, "y", 2, status="info"), r(1, "x", 0, version=3))
    assert check_sessions(h).valid is True
    assert check_sessions(history(w(1, "x", 1, version=5), w(1, "y", 2),
                                  r(1, "x", 0, version=3))).valid is False


# ---------------------------------------------------------------------------------------
# missing metadata: skipped, never a violation


def test_reads_without_versions_or_unique_values_are_skipped() -> None:
    h = history(w(1, "x", 1, version=5), w(2, "x", 1, version=6), r(1, "x", 1))
    v = check_sessions(h)
    assert v.valid is True
    assert any("read-your-writes: 1 operation(s) skipped" in n for n in v.notes)


def test_incomparable_versions_are_skipped() -> None:
    h = history(
        w(1, "x", 1, version=5),
        r(1, "x", 7, clock={"n1": 1}),            # a clock against a total version
        w(2, "y", 1), w(2, "y", 2), r(2, "y", 1),  # identity only: 2 vs 1 unknown
    )
    v = check_sessions(h)
    assert v.valid is True
    assert any(n.startswith("read-your-writes: 2 operation(s) skipped") for n in v.notes)


def test_update_with_unknown_value_disables_value_identity() -> None:
    h = history(w(1, "x", 1), op(2, "update", "x", "SET a = 1"), r(1, "x", None))
    v = check_sessions(h)
    assert v.valid is True and v.notes


def test_malformed_metadata_is_a_note_not_a_crash() -> None:
    h = history(w(1, "x", 1, version=True), r(1, "x", 0, clock={"n1": -1}))
    v = check_sessions(h)
    assert v.valid is True
    assert any("malformed" in n for n in v.notes)


# ---------------------------------------------------------------------------------------
# a simulated last-writer-wins store with asynchronous replication

REPLICAS = ("n1", "n2", "n3")


class LWWStore:
    """Replicas holding (stamp, value) per key; a write takes a Lamport stamp above
    everything its replica saw and is sent to the others, delivered in any order."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, tuple[tuple[int, str], int]]] = {n: {} for n in REPLICAS}
        self.counter = dict.fromkeys(REPLICAS, 0)
        self.inbox: list[tuple[str, str, tuple[int, str], int]] = []
        self.rows: list[Row] = []
        self.next_value = 0

    def write(self, process: int, replica: str, key: str) -> None:
        self.next_value += 1
        self.counter[replica] += 1
        stamp = (self.counter[replica], replica)
        self._apply(replica, key, stamp, self.next_value)
        self.inbox += [(n, key, stamp, self.next_value) for n in REPLICAS if n != replica]
        self.rows += w(process, key, self.next_value, version=list(stamp))

    def read(self, process: int, replica: str, key: str) -> None:
        held = self.data[replica].get(key)
        self.rows += r(process, key, None if held is None else held[1],
                       version=None if held is None else list(held[0]))

    def deliver(self, choice: int) -> None:
        if self.inbox:
            replica, key, stamp, value = self.inbox.pop(choice % len(self.inbox))
            self._apply(replica, key, stamp, value)

    def _apply(self, replica: str, key: str, stamp: tuple[int, str], value: int) -> None:
        self.counter[replica] = max(self.counter[replica], stamp[0])
        held = self.data[replica].get(key)
        if held is None or held[0] < stamp:
            self.data[replica][key] = (stamp, value)

    def history(self) -> History:
        return history(self.rows)


step = st.tuples(st.sampled_from(("read", "read", "write", "deliver")), st.integers(0, 2),
                 st.integers(0, 2), st.sampled_from(("x", "x", "y")), st.integers(0, 50))
steps_strategy = st.lists(step, min_size=4, max_size=40)


def run_lww(steps: list[tuple[str, int, int, str, int]], sticky: bool) -> LWWStore:
    store = LWWStore()
    for action, process, replica_choice, key, choice in steps:
        replica = REPLICAS[process if sticky else replica_choice]
        if action == "read":
            store.read(process, replica, key)
        elif action == "write":
            store.write(process, replica, key)
        else:
            store.deliver(choice)
    return store


@given(steps_strategy)
def test_sticky_clients_of_a_lww_store_keep_every_session_guarantee(steps: list[Any]) -> None:
    v = check_sessions(run_lww(steps, sticky=True).history())
    assert v.valid is True, [a.explanation for a in v.anomalies]
    assert not v.notes


def brute_force_monotonic_reads(h: History) -> set[int]:
    """Reads that return a version below one an earlier read of the session returned."""
    bad = set()
    for process in {o.process for o in h.operations}:
        reads = [o for o in h.operations if o.process == process and o.f == "read"]
        for j, later in enumerate(reads):
            for earlier in reads[:j]:
                if earlier.key != later.key:
                    continue
                a, b = earlier.meta["version"], later.meta["version"]
                if a is not None and (b is None or tuple(b) < tuple(a)):
                    bad.add(later.id)
    return bad


@given(steps_strategy)
def test_non_sticky_monotonic_reads_violations_are_exactly_the_brute_force_ones(
        steps: list[Any]) -> None:
    h = run_lww(steps, sticky=False).history()
    v = check_sessions(h, guarantees=["monotonic-reads"])
    found = {a.ops[-1] for a in v.anomalies}
    assert all(a.type == "monotonic-reads" for a in v.anomalies)
    assert found == brute_force_monotonic_reads(h)
    assert v.valid is (not found)


def test_non_sticky_clients_can_violate_monotonic_reads() -> None:
    # p0 reads x at n1 after writing there, then at n2 where the write has not arrived
    steps = [("write", 0, 0, "x", 0), ("read", 0, 0, "x", 0), ("read", 0, 1, "x", 0)]
    v = check_sessions(run_lww(steps, sticky=False).history())
    assert sorted(types(v)) == ["monotonic-reads", "read-your-writes"]
