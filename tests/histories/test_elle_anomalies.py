"""One minimal hand-written history for each anomaly the Elle checkers report.

Each test names its anomaly, and checks the type found, the operations involved, the
models ruled out (and some left possible), and for a few the explanation.
"""

from __future__ import annotations

from typing import Any

from replicheck.histories.checkers.elle import check_list_append, check_rw_register
from replicheck.histories.checkers.elle.build import history, serial
from replicheck.histories.history import History
from replicheck.histories.verdict import Anomaly, Verdict

A, R, W = "append", "r", "w"

TRANSACTIONAL = frozenset({
    "read-uncommitted", "read-committed", "read-atomic", "repeatable-read",
    "snapshot-isolation", "serializable", "strict-serializable",
    "strong-session-serializable",
})


def types(v: Verdict) -> set[str]:
    return {a.type for a in v.anomalies}


def only(v: Verdict, t: str) -> Anomaly:
    found = [a for a in v.anomalies if a.type == t]
    assert len(found) == 1, (t, v.anomalies)
    return found[0]


def replay(h: History, witness: tuple[int, ...], *, appending: bool) -> None:
    """Replays the witness serially and asserts every committed read matches."""
    ops = {op.id: op for op in h.operations}
    assert len(set(witness)) == len(witness)
    assert all(ops[i].status != "fail" for i in witness)
    assert {op.id for op in h.operations if op.status == "ok"} <= set(witness)
    state: dict[Any, Any] = {}
    for i in witness:
        op = ops[i]
        for f, k, v in op.value:
            if f == R:
                if op.status == "ok":
                    assert v == state.get(k, [] if appending else None), (i, k, v, state)
            elif appending:
                state.setdefault(k, []).append(v)
            else:
                state[k] = v


# ---------------------------------------------------------------------------------------
# Cycles


def test_G0_write_cycle() -> None:
    h = history([
        ("invoke", 0, [[A, "x", 1], [A, "y", 1]]),
        ("invoke", 1, [[A, "x", 2], [A, "y", 2]]),
        ("ok", 0, [[A, "x", 1], [A, "y", 1]]),
        ("ok", 1, [[A, "x", 2], [A, "y", 2]]),
        ("invoke", 2, [[R, "x", None], [R, "y", None]]),
        ("ok", 2, [[R, "x", [1, 2]], [R, "y", [2, 1]]]),
    ])
    v = check_list_append(h)
    assert v.valid is False
    assert types(v) == {"G0"}
    g0 = only(v, "G0")
    assert sorted(g0.ops) == [0, 1]
    assert [s["kind"] for s in g0.data["cycle"]] == ["ww", "ww"]
    assert v.ruled_out == TRANSACTIONAL
    assert "T1 appended 2 after T0's append of 1 to x (ww)" in g0.explanation
    assert "T0 appended 1 after T1's append of 2 to y (ww)" in g0.explanation
    assert "(G0, dirty write)" in g0.explanation


def test_G1a_aborted_read() -> None:
    h = serial((0, [[A, "x", 1]], "fail"), (1, [[R, "x", [1]]]))
    v = check_list_append(h)
    assert types(v) == {"G1a"}
    g1a = only(v, "G1a")
    assert g1a.ops == (1, 0)
    assert v.valid is False
    assert "read-committed" in v.ruled_out and "read-uncommitted" not in v.ruled_out
    assert g1a.explanation == (
        "T1 read x = [1], which holds 1 appended by T0, a transaction that failed: it "
        "read a write that never committed (G1a, aborted read).")
    # Under read uncommitted an aborted read is allowed, yet still reported.
    ru = check_list_append(h, consistency=["read-uncommitted"])
    assert ru.valid is True and types(ru) == {"G1a"}


def test_G1b_intermediate_read() -> None:
    h = history([
        ("invoke", 0, [[A, "x", 1], [A, "x", 2]]),
        ("invoke", 1, [[R, "x", None]]),
        ("ok", 1, [[R, "x", [1]]]),
        ("ok", 0, [[A, "x", 1], [A, "x", 2]]),
    ])
    v = check_list_append(h)
    g1b = only(v, "G1b")
    assert g1b.ops == (1, 0)
    assert g1b.data["element"] == 1
    # Seeing 1 but not 2 also closes a read-skew cycle: T0 -wr-> T1 -rw-> T0.
    assert types(v) == {"G1b", "G-single"}
    assert "read-committed" in v.ruled_out and "read-uncommitted" not in v.ruled_out


def test_G1c_circular_information_flow() -> None:
    h = history([
        ("invoke", 0, [[A, "x", 1], [R, "y", None]]),
        ("invoke", 1, [[A, "y", 1], [R, "x", None]]),
        ("ok", 0, [[A, "x", 1], [R, "y", [1]]]),
        ("ok", 1, [[A, "y", 1], [R, "x", [1]]]),
    ])
    v = check_list_append(h)
    assert types(v) == {"G1c"}
    g1c = only(v, "G1c")
    assert sorted(g1c.ops) == [0, 1]
    assert g1c.explanation == (
        "T0 < T1 because T1 read the value 1 that T0 appended to x (wr); T1 < T0 because "
        "T0 read the value 1 that T1 appended to y (wr). Together, a cycle of ww and wr "
        "edges: each transaction saw or overwrote the effects of the next, so information "
        "flows in a circle (G1c, circular information flow).")
    assert {"read-committed", "snapshot-isolation", "serializable"} <= v.ruled_out
    assert "read-uncommitted" in v.still_possible
    assert v.counterexample["type"] == "G1c"
    assert {(s["from"], s["to"], s["kind"], s["key"]) for s in v.counterexample["cycle"]} \
        == {(0, 1, "wr", "x"), (1, 0, "wr", "y")}


def test_G_single_read_skew() -> None:
    h = history([
        ("invoke", 0, [[A, "x", 1], [A, "y", 1]]),
        ("invoke", 1, [[R, "x", None], [R, "y", None]]),
        ("ok", 0, [[A, "x", 1], [A, "y", 1]]),
        ("ok", 1, [[R, "x", [1]], [R, "y", []]]),
    ])
    v = check_list_append(h)
    assert types(v) == {"G-single"}
    gs = only(v, "G-single")
    assert sorted(gs.ops) == [0, 1]
    assert sorted(s["kind"] for s in gs.data["cycle"]) == ["rw", "wr"]
    assert {"snapshot-isolation", "repeatable-read", "serializable"} <= v.ruled_out
    assert {"read-committed", "read-uncommitted"} <= v.still_possible
    assert ("T1 < T0 because T1 read the initial (empty) state of y and did not see "
            "T0's append of 1 (rw)") in gs.explanation
    assert check_list_append(h, consistency=["snapshot-isolation"]).valid is False
    assert check_list_append(h, consistency=["read-committed"]).valid is True


def test_G2_item_write_skew() -> None:
    h = history([
        ("invoke", 0, [[R, "x", None], [A, "y", 1]]),
        ("invoke", 1, [[R, "y", None], [A, "x", 1]]),
        ("ok", 0, [[R, "x", []], [A, "y", 1]]),
        ("ok", 1, [[R, "y", []], [A, "x", 1]]),
        ("invoke", 2, [[R, "x", None], [R, "y", None]]),
        ("ok", 2, [[R, "x", [1]], [R, "y", [1]]]),
    ])
    v = check_list_append(h)
    assert types(v) == {"G2-item"}
    g2 = only(v, "G2-item")
    assert sorted(g2.ops) == [0, 1]
    assert [s["kind"] for s in g2.data["cycle"]] == ["rw", "rw"]
    assert g2.data["rw_adjacent"] is True
    # Write skew rules out serializability and repeatable read, not snapshot isolation.
    assert {"serializable", "repeatable-read", "strict-serializable"} <= v.ruled_out
    assert "snapshot-isolation" in v.still_possible
    si = check_list_append(h, consistency=["snapshot-isolation"])
    assert si.valid is True and types(si) == {"G2-item"}
    assert si.witness is None  # snapshot isolation allows it, but no serial order exists
    assert check_list_append(h, consistency=["serializable"]).valid is False


def test_G_nonadjacent_rules_out_snapshot_isolation() -> None:
    """T0 -rw(x)-> T1 -wr(z)-> T2 -rw(w)-> T3 -wr(q)-> T0: two anti-dependencies, never
    adjacent. Snapshot isolation forbids it (Cerone & Gotsman), unlike write skew."""
    h = history([
        ("invoke", 0, [[R, "x", None], [R, "q", None]]),
        ("invoke", 1, [[A, "x", 2], [A, "z", 2]]),
        ("invoke", 2, [[R, "z", None], [R, "w", None]]),
        ("invoke", 3, [[A, "w", 4], [A, "q", 4]]),
        ("ok", 0, [[R, "x", []], [R, "q", [4]]]),
        ("ok", 1, [[A, "x", 2], [A, "z", 2]]),
        ("ok", 2, [[R, "z", [2]], [R, "w", []]]),
        ("ok", 3, [[A, "w", 4], [A, "q", 4]]),
    ])
    v = check_list_append(h, consistency=["snapshot-isolation"])
    assert types(v) == {"G-nonadjacent"}
    cycle = only(v, "G-nonadjacent")
    assert sorted(cycle.ops) == [0, 1, 2, 3]
    assert sorted(s["kind"] for s in cycle.data["cycle"]) == ["rw", "rw", "wr", "wr"]
    assert v.valid is False
    assert {"snapshot-isolation", "serializable", "repeatable-read"} <= v.ruled_out
    assert "read-committed" in v.still_possible


def test_lost_update() -> None:
    h = history([
        ("invoke", 0, [[R, "x", None], [A, "x", 1]]),
        ("invoke", 1, [[R, "x", None], [A, "x", 2]]),
        ("ok", 0, [[R, "x", []], [A, "x", 1]]),
        ("ok", 1, [[R, "x", []], [A, "x", 2]]),
        ("invoke", 2, [[R, "x", None]]),
        ("ok", 2, [[R, "x", [1, 2]]]),
    ])
    v = check_list_append(h)
    lu = only(v, "lost-update")
    assert lu.ops == (0, 1)
    assert lu.data["read"] == []
    # T1 read the state T0 overwrote, then appended after T0: a read-skew cycle too.
    assert types(v) == {"lost-update", "G-single"}
    assert {"snapshot-isolation", "repeatable-read"} <= v.ruled_out
    assert "read-committed" in v.still_possible
    assert lu.explanation == (
        "T0 and T1 both read x = [] and then appended x, and both committed: all but one "
        "of their updates was lost (lost update).")


def test_internal_inconsistency() -> None:
    h = serial((0, [[A, "x", 1], [R, "x", []]]))
    v = check_list_append(h)
    assert types(v) == {"internal"}
    internal = only(v, "internal")
    assert internal.ops == (0,)
    assert internal.data["expected"] == [1]
    assert {"read-atomic", "snapshot-isolation", "serializable"} <= v.ruled_out
    assert {"read-committed", "repeatable-read"} <= v.still_possible
    assert "should have seen [..., 1]" in internal.explanation


def test_internal_inconsistency_between_two_reads() -> None:
    h = serial((0, [[A, "x", 1]]), (1, [[R, "x", [1]], [R, "x", []]]))
    v = check_list_append(h)
    # Each read shows a version: [1] (T0 -wr-> T1) and [] (T1 -rw-> T0), a G-single.
    assert types(v) == {"internal", "G-single"}
    assert only(v, "internal").data["expected"] == [1]


def test_dirty_update() -> None:
    h = serial((0, [[A, "x", 1]], "fail"), (1, [[A, "x", 2]]), (2, [[R, "x", [1, 2]]]))
    v = check_list_append(h)
    assert types(v) == {"dirty-update", "G1a"}
    du = only(v, "dirty-update")
    assert du.ops == (0, 1)
    assert du.data["values"] == [1, 2]
    assert "read-committed" in v.ruled_out


def test_duplicate_elements() -> None:
    h = serial((0, [[A, "x", 1]]), (1, [[R, "x", [1, 1]]]))
    v = check_list_append(h)
    assert types(v) == {"duplicate-elements"}
    dup = only(v, "duplicate-elements")
    assert dup.ops == (1,)
    assert dup.data["duplicates"] == [1]
    assert v.ruled_out == TRANSACTIONAL


def test_incompatible_order() -> None:
    h = history([
        ("invoke", 0, [[A, "x", 1]]),
        ("invoke", 1, [[A, "x", 2]]),
        ("ok", 0, [[A, "x", 1]]),
        ("ok", 1, [[A, "x", 2]]),
        ("invoke", 2, [[R, "x", None]]),
        ("ok", 2, [[R, "x", [1, 2]]]),
        ("invoke", 3, [[R, "x", None]]),
        ("ok", 3, [[R, "x", [2, 1]]]),
    ])
    v = check_list_append(h)
    assert types(v) == {"incompatible-order"}
    inc = only(v, "incompatible-order")
    assert sorted(inc.ops) == [2, 3]
    assert sorted(map(tuple, inc.data["reads"])) == [(1, 2), (2, 1)]
    # Two lists of one key, neither a prefix of the other: no interpretation explains
    # them, so every transactional model fails, read-uncommitted included.
    assert v.ruled_out == TRANSACTIONAL and not v.still_possible


def test_future_read() -> None:
    h = serial((0, [[R, "x", [1]], [A, "x", 1]]))
    v = check_list_append(h)
    assert types(v) == {"future-read"}
    fr = only(v, "future-read")
    assert fr.ops == (0,)
    assert fr.data["element"] == 1
    # A future read is a self-loop, not a G1c cycle: read committed allows it.
    assert "read-atomic" in v.ruled_out
    assert {"read-committed", "repeatable-read"} <= v.still_possible


def test_cyclic_versions_rw_register() -> None:
    h = history([
        ("invoke", 0, [[R, "x", None], [W, "x", 2]]),
        ("invoke", 1, [[R, "x", None], [W, "x", 1]]),
        ("ok", 0, [[R, "x", 1], [W, "x", 2]]),
        ("ok", 1, [[R, "x", 2], [W, "x", 1]]),
    ])
    v = check_rw_register(h)
    # Each read the other's write: circular information flow. A register's version
    # order is any order of its writes (writes following reads is what G1c forbids,
    # not a fact of the history), so read-uncommitted holds: x = 2 then 1.
    assert types(v) == {"G1c"}
    assert sorted(only(v, "G1c").ops) == [0, 1]
    assert "read-committed" in v.ruled_out
    assert "read-uncommitted" in v.still_possible


# ---------------------------------------------------------------------------------------
# Process and real-time variants


def test_G_single_realtime_stale_read() -> None:
    h = serial((0, [[A, "x", 1]]), (1, [[R, "x", []]]))
    v = check_list_append(h)
    assert types(v) == {"G-single-realtime"}
    gs = only(v, "G-single-realtime")
    assert sorted(gs.ops) == [0, 1]
    assert sorted(s["kind"] for s in gs.data["cycle"]) == ["realtime", "rw"]
    assert v.ruled_out == frozenset({"strict-serializable"})
    assert "T0 < T1 because T0 completed (at index 1) before T1 was invoked (at index 2) " \
           "(realtime)" in gs.explanation
    ser = check_list_append(h, consistency=["serializable"])
    assert ser.valid is True
    assert ser.witness == (1, 0)
    replay(h, ser.witness, appending=True)


def test_G_single_process_own_write_missed() -> None:
    h = serial((0, [[A, "x", 1]]), (0, [[R, "x", []]]))
    v = check_list_append(h, consistency=["strong-session-serializable"])
    assert types(v) == {"G-single-process"}
    assert sorted(s["kind"] for s in only(v, "G-single-process").data["cycle"]) \
        == ["process", "rw"]
    assert v.valid is False
    assert v.ruled_out == frozenset({"strict-serializable", "strong-session-serializable"})
    assert check_list_append(h, consistency=["serializable"]).valid is True


def test_G1c_realtime_read_from_the_future() -> None:
    h = serial((0, [[R, "x", [1]]]), (1, [[A, "x", 1]]))
    v = check_list_append(h)
    assert types(v) == {"G1c-realtime"}
    assert sorted(only(v, "G1c-realtime").ops) == [0, 1]
    assert v.ruled_out == frozenset({"strict-serializable"})


def test_G1c_process() -> None:
    h = serial((0, [[R, "x", [1]]]), (0, [[A, "x", 1]]))
    v = check_list_append(h)
    assert types(v) == {"G1c-process"}
    assert v.ruled_out == frozenset({"strict-serializable", "strong-session-serializable"})


def test_G0_realtime() -> None:
    h = serial((0, [[A, "x", 1]]), (1, [[A, "x", 2]]), (2, [[R, "x", [2, 1]]]))
    v = check_list_append(h)
    assert types(v) == {"G0-realtime"}
    g0 = only(v, "G0-realtime")
    assert sorted(g0.ops) == [0, 1]
    assert sorted(s["kind"] for s in g0.data["cycle"]) == ["realtime", "ww"]
    assert v.ruled_out == frozenset({"strict-serializable"})


def test_G2_item_realtime() -> None:
    # T0 runs long; T1 completes before T2 is invoked. T2 misses T0's append of x, T0
    # misses T1's append of y, and T1 ended before T2 began: two anti-dependencies
    # closed by real time. No cycle with a single rw edge exists.
    h = history([
        ("invoke", 0, [[R, "y", None], [A, "x", 1]]),
        ("invoke", 1, [[A, "y", 1]]),
        ("ok", 1, [[A, "y", 1]]),
        ("invoke", 2, [[R, "x", None]]),
        ("ok", 2, [[R, "x", []]]),
        ("ok", 0, [[R, "y", []], [A, "x", 1]]),
    ])
    v = check_list_append(h)
    assert types(v) == {"G2-item-realtime"}
    g2 = only(v, "G2-item-realtime")
    assert sorted(g2.ops) == [0, 1, 2]
    assert sorted(s["kind"] for s in g2.data["cycle"]) == ["realtime", "rw", "rw"]
    assert v.ruled_out == frozenset({"strict-serializable"})
    assert check_list_append(h, consistency=["serializable"]).valid is True


def test_write_skew_with_a_stale_read() -> None:
    # T1 began after T0 ended yet missed T0's append: G-single-realtime on top of the
    # write skew; the realtime variant of G2-item is implied, so not searched.
    h = history([
        ("invoke", 0, [[R, "x", None], [A, "y", 1]]),
        ("ok", 0, [[R, "x", []], [A, "y", 1]]),
        ("invoke", 1, [[R, "y", None], [A, "x", 1]]),
        ("ok", 1, [[R, "y", []], [A, "x", 1]]),
    ])
    v = check_list_append(h)
    assert types(v) == {"G2-item", "G-single-realtime"}
    assert {"serializable", "strict-serializable"} <= v.ruled_out
    assert "snapshot-isolation" in v.still_possible


# ---------------------------------------------------------------------------------------
# Valid histories


def test_serial_history_is_valid_with_a_witness() -> None:
    h = serial((0, [[A, "x", 1], [R, "y", []]]),
               (1, [[R, "x", [1]], [A, "y", 2], [A, "x", 3]]),
               (0, [[R, "x", [1, 3]], [R, "y", [2]]]))
    v = check_list_append(h)
    assert v.valid is True
    assert v.anomalies == ()
    assert v.witness == (0, 1, 2)
    replay(h, v.witness, appending=True)
    assert v.ruled_out == frozenset()
    assert v.counterexample is None


def test_concurrent_serializable_history_is_valid_with_a_witness() -> None:
    # T1 and T2 overlap; T2 read before T1's append, so T2 comes first in any serial
    # order, though T1 was invoked first. An info transaction that was seen committed
    # (T3's append, read by T5) is placed too; one never seen (T4) is left out.
    # (Operation ids follow invocation order.)
    h = history([
        ("invoke", 0, [[A, "x", 1]]),
        ("ok", 0, [[A, "x", 1]]),
        ("invoke", 1, [[R, "y", None], [A, "x", 2]]),
        ("invoke", 2, [[R, "x", None], [A, "y", 5]]),
        ("ok", 2, [[R, "x", [1]], [A, "y", 5]]),
        ("ok", 1, [[R, "y", [5]], [A, "x", 2]]),
        ("invoke", 3, [[A, "z", 7]]),
        ("info", 3, None),
        ("invoke", 5, [[A, "z", 8]]),
        ("info", 5, None),
        ("invoke", 4, [[R, "z", None], [R, "x", None]]),
        ("ok", 4, [[R, "z", [7]], [R, "x", [1, 2]]]),
    ])
    v = check_list_append(h)
    assert v.valid is True, v.anomalies
    assert v.witness is not None
    assert v.witness.index(2) < v.witness.index(1)
    assert 3 in v.witness and 4 not in v.witness and 5 in v.witness
    replay(h, v.witness, appending=True)


def test_rw_register_serial_history_is_valid_with_a_witness() -> None:
    h = serial((0, [[W, "x", 1], [W, "y", 1]]), (1, [[R, "x", 1], [W, "x", 2]]),
               (2, [[R, "x", 2], [R, "y", 1]]))
    v = check_rw_register(h)
    assert v.valid is True
    assert v.witness == (0, 1, 2)
    replay(h, v.witness, appending=False)


def test_empty_history_is_valid() -> None:
    v = check_list_append(history([]))
    assert v.valid is True and v.anomalies == () and v.witness == ()
    assert v.stats.operations == 0
