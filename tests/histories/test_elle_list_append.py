"""List-append inference: version orders, dependency edges, real time, bad input,
and the verdict's limits (timeouts, caps, JSON)."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.elle import (
    analyze,
    check_list_append,
    checker,
    transactions,
)
from replicheck.histories.checkers.elle.build import history, serial
from replicheck.histories.checkers.elle.generate import list_append_history
from replicheck.histories.checkers.elle.graph import (
    ALL,
    KIND_NAMES,
    PROCESS,
    REALTIME,
    WR,
    DependencyGraph,
    strongly_connected,
)
from replicheck.histories.history import History, HistoryError, Record, pair

A, R = "append", "r"


def analysis(h: History) -> checker.Analysis:
    return analyze(transactions(h, "list-append"), "list-append")


def edges(h: History) -> set[tuple[int, int, str, Any]]:
    """The data edges as (from op, to op, kind, key)."""
    a = analysis(h)
    txns = a.inference.txns
    return {(txns[e.src].op, txns[e.dst].op, KIND_NAMES[e.kind], e.key)
            for e in a.inference.graph.data_edges()}


def test_version_order_is_the_longest_read() -> None:
    h = serial((0, [[A, "x", 1]]), (1, [[A, "x", 2], [A, "y", 9]]),
               (2, [[R, "x", [1]]]), (3, [[R, "x", [1, 2]]]))
    vo = analysis(h).inference.versions
    assert vo["x"].total and vo["x"].versions == (1, 2)
    assert vo["x"].pairs() == ((None, 1), (1, 2))
    assert "y" not in vo  # never read: no order known


def test_edges_from_a_version_order() -> None:
    # x = [1, 2] appended by T0 then T1; T2 read [1], T3 read [1, 2].
    h = serial((0, [[A, "x", 1]]), (1, [[A, "x", 2]]),
               (2, [[R, "x", [1]]]), (3, [[R, "x", [1, 2]]]))
    assert edges(h) == {
        (0, 1, "ww", "x"),
        (0, 2, "wr", "x"), (2, 1, "rw", "x"),
        (1, 3, "wr", "x"),
    }


def test_unread_appends_come_after_the_longest_read() -> None:
    # T2 appended 3 but nobody read it: it follows T1's 2 (ww) and T3, which read the
    # whole [1, 2], did not see it (rw).
    h = serial((0, [[A, "x", 1]]), (1, [[A, "x", 2]]), (2, [[A, "x", 3]]),
               (3, [[R, "x", [1, 2]]]))
    assert {(1, 2, "ww", "x"), (3, 2, "rw", "x")} <= edges(h)
    assert check_list_append(h, consistency=["serializable"]).valid is True


def test_a_read_after_own_appends_shows_the_version_it_started_from() -> None:
    # T1 appends 2 and then reads [1, 2]: its own append on the version [1], which it
    # read from T0 (wr), as an external read would have.
    h = serial((0, [[A, "x", 1]]), (1, [[A, "x", 2], [R, "x", [1, 2]]]))
    assert edges(h) == {(0, 1, "ww", "x"), (0, 1, "wr", "x")}
    assert check_list_append(h).valid is True


def test_every_read_shows_a_version_so_a_non_repeatable_read_is_not_repeatable_read(
        ) -> None:
    # T1 read [] and then [1]: two versions, T1 -rw-> T0 -wr-> T1 (G-single). Once only
    # an internal inconsistency, which repeatable read allows.
    h = serial((0, [[A, "x", 1]]), (1, [[R, "x", []], [R, "x", [1]]]))
    v = check_list_append(h, consistency=["repeatable-read"])
    assert v.valid is False
    assert {"internal", "G-single"} <= {a.type for a in v.anomalies}
    assert "read-committed" in v.still_possible


def test_an_internal_read_with_an_unknown_prefix_is_consistent() -> None:
    h = serial((0, [[A, "x", 1], [A, "x", 2]]), (1, [[A, "x", 3], [R, "x", [1, 2, 3]]]))
    v = check_list_append(h)
    assert v.valid is True and v.anomalies == ()


def test_indeterminate_transactions_join_when_their_write_is_seen() -> None:
    h = serial((0, [[A, "x", 1]], "info"), (1, [[A, "y", 1]], "info"),
               (2, [[R, "x", [1]], [R, "y", []]]))
    a = analysis(h)
    assert a.inference.graph.member == [True, False, True]
    assert edges(h) == {(0, 2, "wr", "x")}
    v = check_list_append(h)
    assert v.valid is True and v.witness == (0, 2)


def test_a_failed_writer_gives_no_edges() -> None:
    h = serial((0, [[A, "x", 1]], "fail"), (1, [[R, "x", [1]]]))
    assert edges(h) == set()
    assert analysis(h).inference.graph.member == [False, True]


def test_rw_explanation_for_a_nonempty_read() -> None:
    h = history([
        ("invoke", 0, [[A, "x", 1]]),
        ("ok", 0, [[A, "x", 1]]),
        ("invoke", 1, [[R, "x", None], [A, "y", 1]]),
        ("invoke", 2, [[R, "y", None], [A, "x", 2]]),
        ("ok", 1, [[R, "x", [1]], [A, "y", 1]]),
        ("ok", 2, [[R, "y", []], [A, "x", 2]]),
        ("invoke", 3, [[R, "x", None], [R, "y", None]]),
        ("ok", 3, [[R, "x", [1, 2]], [R, "y", [1]]]),
    ])
    v = check_list_append(h)
    g2 = next(a for a in v.anomalies if a.type == "G2-item")
    assert ("T1 < T2 because T1's read of x, ending with 1, did not see T2's append of "
            "2, which came later (rw)") in g2.explanation


def test_appends_out_of_program_order_are_an_incompatible_order() -> None:
    # Found by the brute-force property: T1 appended 2 then 3, T0 saw 3 before 2.
    h = serial((0, [[A, "x", 1], [R, "x", [3, 2, 1]]]), (1, [[A, "x", 2], [A, "x", 3]]))
    v = check_list_append(h, consistency=["serializable"])
    assert v.valid is False
    inc = next(a for a in v.anomalies if a.type == "incompatible-order")
    assert inc.ops == (1, 0)
    assert inc.explanation == (
        "T1 appended 2, then 3 to x, but T0 read x = [3, 2]: no single order of "
        "appends explains both (incompatible order).")


def test_a_transaction_interleaved_with_another_is_G0() -> None:
    h = history([
        ("invoke", 0, [[A, "x", 1], [A, "x", 3]]),
        ("invoke", 1, [[A, "x", 2]]),
        ("ok", 1, [[A, "x", 2]]),
        ("ok", 0, [[A, "x", 1], [A, "x", 3]]),
        ("invoke", 2, [[R, "x", None]]),
        ("ok", 2, [[R, "x", [1, 2, 3]]]),
    ])
    v = check_list_append(h)
    assert {a.type for a in v.anomalies} == {"G0"}


def test_values_appended_twice_and_values_nobody_appended_are_noted() -> None:
    twice = serial((0, [[A, "x", 1]]), (1, [[A, "x", 1]]), (2, [[R, "x", [1]]]))
    v = check_list_append(twice)
    assert any("appended more than once" in n for n in v.notes)
    assert v.valid is not False
    ghost = serial((0, [[R, "x", [7]]]))
    g = check_list_append(ghost)
    assert any("no transaction appended" in n for n in g.notes)
    # A value out of nowhere: no interpretation explains it, every model fails.
    assert g.valid is False
    assert [a.type for a in g.anomalies] == ["garbage-read"]


# ---------------------------------------------------------------------------------------
# Real time and process order


@st.composite
def intervals(draw: st.DrawFn) -> History:
    n = draw(st.integers(1, 12))
    events: list[tuple[int, int, str, int]] = []
    for p in range(n):
        start = draw(st.integers(0, 40))
        events.append((start, 0, "invoke", p))
        kind = draw(st.sampled_from(("ok", "ok", "info")))
        events.append((start + draw(st.integers(1, 15)), 1, kind, p))
    events.sort()
    return pair(Record(p, kind, "txn", [[A, "x", p]], index=i)
                for i, (_, _, kind, p) in enumerate(events))


@given(intervals())
def test_realtime_barriers_reach_exactly_the_realtime_order(h: History) -> None:
    txns = transactions(h, "list-append")
    g = DependencyGraph(txns, "list-append")
    g.member = [True] * len(txns)
    count, extra = g.realtime_barriers()
    succ: list[list[int]] = [[] for _ in range(len(txns) + count)]
    for a, b in extra:
        succ[a].append(b)

    def reach(a: int) -> set[int]:
        seen, todo = {a}, [a]
        while todo:
            for b in succ[todo.pop()]:
                if b not in seen:
                    seen.add(b)
                    todo.append(b)
        return {b for b in seen if b < len(txns)} - {a}

    for t in txns:
        expected = {u.tid for u in txns if t.ret is not None and t.ret < u.call}
        assert reach(t.tid) == expected
    # The reduction inside components has the same transitive closure.
    pairs = g.realtime_pairs()
    closure: dict[int, set[int]] = {t.tid: set() for t in txns}
    for a, b in pairs:
        closure[a].add(b)
    changed = True
    while changed:
        changed = False
        for a in closure:
            more = set().union(*(closure[b] for b in closure[a])) - closure[a]
            if more:
                closure[a] |= more
                changed = True
    for t in txns:
        assert closure[t.tid] == {u.tid for u in txns if t.ret is not None and t.ret < u.call}
    # ... and no edge of it is implied by two others.
    assert not [(a, c) for a, b in pairs for b2, c in pairs if b == b2 and (a, c) in pairs]


def test_to_networkx_has_every_kind_with_reasons() -> None:
    h = serial((0, [[A, "x", 1]]), (0, [[R, "x", [1]]]), (1, [[R, "x", [1]]]))
    g = analysis(h).inference.graph.to_networkx()
    assert g[0][1]["kinds"] & PROCESS and g[0][1]["kinds"] & REALTIME
    assert g[0][1]["why"][2] == ("x", 1, [1])  # wr: key, value appended, list read
    assert g[1][2]["kinds"] == REALTIME
    assert g[0][2]["kinds"] == WR  # real time 0 -> 2 is implied by 0 -> 1 -> 2


def test_whole_graph_components_include_realtime() -> None:
    h = serial((0, [[A, "x", 1]]), (1, [[R, "x", []]]))
    a = analysis(h)
    sccs, _ = strongly_connected(a.inference.graph.adjacency(ALL))
    assert a.components == [[0, 1]]
    assert len(sccs) == 1


# ---------------------------------------------------------------------------------------
# Bad input and limits


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([["append", "x"]], "micro-operation 0 is ['append', 'x']; expected [f, k, v]"),
        ([["w", "x", 1]], "micro-operation 0 has function 'w'; expected 'append' or 'r'"),
        ([["append", ["x"], 1]], "unhashable key ['x']"),
        ("append x 1", "must be a list of micro-operations"),
    ],
)
def test_malformed_transactions_are_located_errors(value: Any, message: str) -> None:
    h = pair([Record(0, "invoke", "txn", value, index=0, line=7),
              Record(0, "fail", "txn", value, index=1, line=8)])
    with pytest.raises(HistoryError) as info:
        check_list_append(h)
    assert message in str(info.value)
    assert info.value.line == 7


def test_other_functions_and_incomplete_oks_are_errors() -> None:
    h = pair([Record(0, "invoke", "read", None, index=0, line=1),
              Record(0, "ok", "read", 1, index=1, line=2)])
    with pytest.raises(HistoryError, match="function 'read'; expected 'txn'"):
        check_list_append(h)
    h = pair([Record(0, "invoke", "txn", [[R, "x", None]], index=0, line=1),
              Record(0, "ok", "txn", None, index=1, line=2)])
    with pytest.raises(HistoryError, match="must complete with its micro-operations"):
        check_list_append(h)
    h = serial((0, [[R, "x", 5]]))
    with pytest.raises(HistoryError, match="reads 5 from key 'x'; expected a list"):
        check_list_append(h)


def test_unknown_models_are_refused() -> None:
    h = serial((0, [[A, "x", 1]]))
    with pytest.raises(ValueError, match="unknown model 'snapshot'"):
        check_list_append(h, consistency=["snapshot"])
    with pytest.raises(TypeError):
        check_list_append(h, consistency="serializable")


def test_a_time_limit_gives_unknown_never_a_guess() -> None:
    h = list_append_history(3000, store="serializable", seed=3)
    v = check_list_append(h, timeout=1e-9)
    assert v.valid == "unknown"
    assert v.witness is None
    assert any("time limit" in n for n in v.notes)
    assert check_list_append(h).valid is True


def test_anomalies_of_one_type_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checker, "MAX_PER_TYPE", 2)
    h = serial((0, [[A, "x", 1], [A, "y", 1], [A, "z", 1]], "fail"),
               (1, [[R, "x", [1]], [R, "y", [1]], [R, "z", [1]]]))
    v = check_list_append(h)
    assert [a.type for a in v.anomalies] == ["G1a", "G1a"]
    assert "3 G1a anomalies found; the first 2 are listed" in v.notes


def test_verdict_is_json() -> None:
    h = history([
        ("invoke", 0, [[A, "x", 1], [R, "y", None]]),
        ("invoke", 1, [[A, "y", 1], [R, "x", None]]),
        ("ok", 0, [[A, "x", 1], [R, "y", [1]]]),
        ("ok", 1, [[A, "y", 1], [R, "x", [1]]]),
    ])
    out = json.loads(json.dumps(check_list_append(h).to_json()))
    assert out["valid"] is False and out["model"] == "list-append"
    assert out["anomalies"][0]["type"] == "G1c"
    assert out["counterexample"]["cycle"][0]["kind"] == "wr"
    assert out["stats"]["operations"] == 2


def test_generated_histories_are_well_formed() -> None:
    h = list_append_history(400, store="snapshot-isolation", clients=5, seed=7,
                            info_rate=0.1)
    assert len(h) == 400
    ends = [op.ret for op in h.operations if op.ret is not None]
    assert len(set(ends)) == len(ends)
    for a, b in pairwise(op.call for op in h.operations):
        assert a < b
    assert {op.status for op in h.operations} == {"ok", "fail", "info"}


TRANSACTIONAL = ("read-uncommitted", "read-committed", "read-atomic", "repeatable-read",
                 "snapshot-isolation", "serializable", "strong-session-serializable",
                 "strict-serializable")


def test_a_cycle_under_every_order_incompatible_reads_allow_is_reported_too() -> None:
    # x is read as [1, 2, 3] and [1, 3, 2]: incompatible. Either way 1 comes before 2,
    # and T1 (appending 1) read T2's append to y: T1 -ww-> ... -> T2 -wr-> T1, G1c
    # whichever order is right. Once only incompatible-order was reported.
    h = serial(
        (0, [[A, "y", 5], [A, "x", 2]]),
        (1, [[A, "x", 1], [R, "y", [5]]]),
        (2, [[A, "x", 3]]),
        (3, [[R, "x", [1, 2, 3]]]),
        (4, [[R, "x", [1, 3, 2]]]),
    )
    v = check_list_append(h, consistency=["read-committed"])
    assert v.valid is False
    found = {a.type for a in v.anomalies}
    assert {"incompatible-order", "G1c"} <= found
    g1c = next(a for a in v.anomalies if a.type == "G1c")
    assert set(g1c.ops) == {0, 1}


def test_unexplainable_reads_rule_out_every_transactional_model() -> None:
    ghost = serial((0, [[A, "x", 1]]), (1, [[R, "x", [1, 9]]]))
    dup = serial((0, [[A, "x", 1]]), (1, [[R, "x", [1, 1]]]))
    for h, kind in ((ghost, "garbage-read"), (dup, "duplicate-elements")):
        v = check_list_append(h, consistency=["read-uncommitted"])
        assert v.valid is False
        assert kind in {a.type for a in v.anomalies}
        assert v.ruled_out == set(TRANSACTIONAL) and not v.still_possible


def test_an_indeterminate_transaction_shown_out_of_its_order_did_not_commit() -> None:
    # T1 (info) appended 2 then 3; T0 read [3]. Had T1 committed, its appends would be
    # in its own order: it did not, and T0 read an aborted write. Read-uncommitted
    # allows that (once every model was ruled out as an incompatible order).
    h = history([
        ("invoke", 1, [[A, "x", 2], [A, "x", 3]]),
        ("invoke", 0, [[R, "x", None]]),
        ("ok", 0, [[R, "x", [3]]]),
        ("info", 1, None),
    ])
    v = check_list_append(h, consistency=["read-uncommitted"])
    assert v.valid is True
    assert "incompatible-order" not in {a.type for a in v.anomalies}
    assert "read-committed" in v.ruled_out and "read-uncommitted" in v.still_possible


def test_reads_conflicting_only_on_uncommitted_elements_are_aborted_reads() -> None:
    # T0 (info) appended 1 then 2; T2 read [2] and T3 [1, 2]. With T0 aborted, both
    # reads' committed elements are [] (aborted reads, which read-uncommitted allows);
    # once every model was ruled out as an incompatible order.
    h = history([
        ("invoke", 0, [[A, "x", 1], [A, "x", 2]]),
        ("info", 0, None),
        ("invoke", 2, [[R, "x", None]]),
        ("ok", 2, [[R, "x", [2]]]),
        ("invoke", 3, [[R, "x", None]]),
        ("ok", 3, [[R, "x", [1, 2]]]),
    ])
    v = check_list_append(h, consistency=["read-uncommitted"])
    assert v.valid is True
    assert "G1a" in {a.type for a in v.anomalies}
    assert "read-committed" in v.ruled_out
    committed = history([
        ("invoke", 0, [[A, "x", 1], [A, "x", 2]]),
        ("ok", 0, [[A, "x", 1], [A, "x", 2]]),
        ("invoke", 2, [[R, "x", None]]),
        ("ok", 2, [[R, "x", [2]]]),
        ("invoke", 3, [[R, "x", None]]),
        ("ok", 3, [[R, "x", [1, 2]]]),
    ])
    assert check_list_append(committed, consistency=["read-uncommitted"]).valid is False


def test_a_write_cycle_of_indeterminate_transactions_is_avoided_by_aborting_them() -> None:
    # T1 and T2 (both info) interleave in the read [2, 1, 3]: committed, they make a
    # G0 cycle; aborted, the read shows aborted writes, which read-uncommitted allows
    # (read committed does not, either way).
    h = history([
        ("invoke", 1, [[A, "x", 1]]),
        ("invoke", 2, [[A, "x", 2], [A, "x", 3]]),
        ("info", 1, None),
        ("info", 2, None),
        ("invoke", 3, [[R, "x", None]]),
        ("ok", 3, [[R, "x", [2, 1, 3]]]),
    ])
    v = check_list_append(h, consistency=["read-uncommitted"])
    assert v.valid is True
    assert "G0" not in {a.type for a in v.anomalies}
    assert v.ruled_out == set(TRANSACTIONAL) - {"read-uncommitted"}


def test_snapshot_isolation_is_decided_over_every_order_of_unread_appends() -> None:
    # Nobody read x's appends 1 (T0) and 4 (T1). [1, 4]: T1 read [] so T1 -rw-> T0
    # -ww-> T1; [4, 1]: T1 -ww-> T0, and T0 read y = [] so T0 -rw-> T1: a G-single
    # either way. Once valid under snapshot isolation (the two orders' ww edges were
    # both left out).
    h = history([
        ("invoke", 0, [[R, "y", None], [A, "x", 1]]),
        ("ok", 0, [[R, "y", []], [A, "x", 1]]),
        ("invoke", 3, [[A, "y", 2], [R, "x", None], [A, "x", 4]]),
        ("ok", 3, [[A, "y", 2], [R, "x", []], [A, "x", 4]]),
    ])
    v = check_list_append(h, consistency=["snapshot-isolation"])
    assert v.valid is False
    assert "snapshot-isolation" in v.ruled_out
    assert "read-atomic" in v.still_possible


def test_an_aborted_read_beside_a_committed_write_cycle_keeps_the_cycle() -> None:
    # T1 appended 4 then read [7, 4, 8]: not ending with its own 4, the whole list is
    # the version read, so x's order has T2's 7, T1's 4, T2's 8: T2 -ww-> T1 -ww-> T2,
    # a G0 in every interpretation. T3's read [3] of the failed T0's append conflicts
    # with [7, 4, 8] only on that aborted element; it once made the key's order be
    # dropped, and the G0 with it (valid under read-uncommitted).
    h = history([
        ("invoke", 0, [[A, "x", 3]]),
        ("fail", 0, None),
        ("invoke", 2, [[A, "x", 4], [R, "x", None]]),
        ("ok", 2, [[A, "x", 4], [R, "x", [7, 4, 8]]]),
        ("invoke", 1, [[A, "x", 7], [A, "x", 8]]),
        ("ok", 1, [[A, "x", 7], [A, "x", 8]]),
        ("invoke", 2, [[R, "x", None]]),
        ("ok", 2, [[R, "x", [3]]]),
    ])
    v = check_list_append(h, consistency=["read-uncommitted"])
    assert v.valid is False
    assert v.ruled_out == set(TRANSACTIONAL) and not v.still_possible
    found = {a.type for a in v.anomalies}
    assert {"G0", "G1a"} <= found and "incompatible-order" not in found
    g0 = next(a for a in v.anomalies if a.type == "G0")
    assert set(g0.ops) == {1, 2}


def test_an_aborted_element_leaves_the_committed_order_of_its_key() -> None:
    # x's committed elements are [1 (T0), 2 (T1)] and y's [20 (T1), 10 (T0)]: T0 -ww->
    # T1 on x, T1 -ww-> T0 on y, a G0 whatever else. T3 read [5] of x (T2 failed):
    # it conflicts with [1, 2] only on the aborted 5, and leaves x's order as it is.
    h = serial((0, [[A, "x", 1], [A, "y", 10]]),
               (1, [[A, "x", 2], [A, "y", 20]]),
               (2, [[A, "x", 5]], "fail"),
               (3, [[R, "x", [1, 2]], [R, "y", [20, 10]]]),
               (4, [[R, "x", [5]]]))
    v = check_list_append(h, consistency=["read-uncommitted"])
    assert v.valid is False
    assert {"G0", "G1a"} <= {a.type for a in v.anomalies}
    vo = analysis(h).inference.versions
    assert vo["x"].versions == (1, 2)


def test_a_read_of_its_own_future_append_is_no_lost_update() -> None:
    # T0 read [1], its own later append 1 (a future read, then an internal one: []),
    # and T1 read [1] too before appending 2. T0's read is of no version before its
    # append, so no two transactions read one version and both appended: the order
    # [1, 2] has no cycle, and repeatable read (which allows future and internal
    # reads) holds. Once reported as a lost update.
    h = history([
        ("invoke", 1, [[R, "x", None], [R, "x", None], [A, "x", 1]]),
        ("invoke", 0, [[R, "x", None], [R, "x", None], [A, "x", 2]]),
        ("ok", 0, [[R, "x", [1]], [R, "x", [1]], [A, "x", 2]]),
        ("ok", 1, [[R, "x", [1]], [R, "x", []], [A, "x", 1]]),
    ])
    v = check_list_append(h, consistency=["repeatable-read"])
    assert v.valid is True
    found = {a.type for a in v.anomalies}
    assert "lost-update" not in found and {"future-read", "internal"} <= found
    assert "read-atomic" in v.ruled_out
