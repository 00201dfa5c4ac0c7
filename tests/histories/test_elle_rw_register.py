"""Read-write register inference: the part of the version order a history shows,
the edges it gives, register anomalies, and honesty where the order is unknown."""

from __future__ import annotations

from typing import Any

from replicheck.histories.checkers.elle import analyze, check_rw_register, transactions
from replicheck.histories.checkers.elle.build import history, serial
from replicheck.histories.checkers.elle.checker import Analysis
from replicheck.histories.checkers.elle.graph import KIND_NAMES
from replicheck.histories.checkers.elle.txn import ext_reads, ext_writes
from replicheck.histories.history import History
from replicheck.histories.verdict import Verdict

R, W = "r", "w"


def analysis(h: History) -> Analysis:
    return analyze(transactions(h, "rw-register"), "rw-register")


def edges(h: History) -> set[tuple[int, int, str, Any]]:
    a = analysis(h)
    txns = a.inference.txns
    return {(txns[e.src].op, txns[e.dst].op, KIND_NAMES[e.kind], e.key)
            for e in a.inference.graph.data_edges()}


def types(v: Verdict) -> set[str]:
    return {a.type for a in v.anomalies}


def test_known_version_pairs_initial_state_and_writes_after_reads() -> None:
    h = serial((0, [[W, "x", 1]]), (1, [[R, "x", 1], [W, "x", 2]]), (2, [[W, "x", 3]]))
    vo = analysis(h).inference.versions["x"]
    assert not vo.total
    assert set(vo.versions) == {None, 1, 2, 3}
    # 1 < 2 is known (T1 read 1, then wrote 2); 3 only follows the initial state; the
    # initial state's pair with 2 is implied through 1 and left out.
    assert set(vo.pairs()) == {(None, 1), (None, 3), (1, 2)}


def test_edges_from_known_pairs() -> None:
    h = serial((0, [[W, "x", 1]]), (1, [[R, "x", 1], [W, "x", 2]]),
               (2, [[R, "x", None], [W, "y", 1]]), (3, [[R, "x", 1]]))
    assert edges(h) == {
        (0, 1, "wr", "x"), (0, 3, "wr", "x"),
        (0, 1, "ww", "x"),
        (3, 1, "rw", "x"),
        (2, 0, "rw", "x"),  # T2 read the initial state; 1 is the first known version
    }


def test_blind_writes_leave_the_order_open() -> None:
    # Two blind writes, then a read of the first: no order of 1 and 2 is known.
    h = serial((0, [[W, "x", 1]]), (1, [[W, "x", 2]]), (2, [[R, "x", 1]]))
    assert edges(h) == {(0, 2, "wr", "x")}
    # Serializable (2 then 1 then the read) and the order replays: valid.
    ser = check_rw_register(h, consistency=["serializable"])
    assert ser.valid is True and ser.witness == (1, 0, 2)
    # In real time the read came after the write of 2: whichever order 1 and 2 took,
    # not strictly serializable (decided over every version order, not "unknown").
    strict = check_rw_register(h)
    assert strict.valid is False
    assert [a.type for a in strict.anomalies] == ["G2-item-realtime"]
    assert strict.ruled_out == {"strict-serializable"}


def test_G1a_register() -> None:
    h = serial((0, [[W, "x", 1]], "fail"), (1, [[R, "x", 1]]))
    v = check_rw_register(h)
    assert types(v) == {"G1a"}
    assert v.anomalies[0].ops == (1, 0)
    assert v.anomalies[0].explanation == (
        "T1 read x = 1, written by T0, a transaction that failed: it read a write that "
        "never committed (G1a, aborted read).")


def test_G1b_register() -> None:
    h = history([
        ("invoke", 0, [[W, "x", 1], [W, "x", 2]]),
        ("invoke", 1, [[R, "x", None]]),
        ("ok", 1, [[R, "x", 1]]),
        ("ok", 0, [[W, "x", 1], [W, "x", 2]]),
    ])
    v = check_rw_register(h)
    assert types(v) == {"G1b"}
    assert v.anomalies[0].ops == (1, 0)


def test_internal_register() -> None:
    v = check_rw_register(serial((0, [[W, "x", 1], [R, "x", 2]]), (1, [[W, "x", 2]])))
    assert "internal" in types(v)
    internal = next(a for a in v.anomalies if a.type == "internal")
    assert internal.ops == (0,) and internal.data["expected"] == 1
    v = check_rw_register(serial((0, [[W, "x", 1]]), (1, [[R, "x", 1], [R, "x", None]])))
    # Both reads read versions: 1 (T0 -wr-> T1) and nil (T1 -rw-> T0), a G-single too.
    assert "internal" in types(v)
    assert "repeatable-read" in v.ruled_out and "read-committed" in v.still_possible


def test_future_read_register() -> None:
    v = check_rw_register(serial((0, [[R, "x", 1], [W, "x", 1]])))
    assert "future-read" in types(v)
    # A self-loop, not a G1c cycle: read committed allows it, read atomic does not.
    assert "read-atomic" in v.ruled_out
    assert {"read-committed", "repeatable-read"} <= v.still_possible


def test_lost_update_register() -> None:
    h = history([
        ("invoke", 0, [[R, "x", None], [W, "x", 1]]),
        ("invoke", 1, [[R, "x", None], [W, "x", 2]]),
        ("ok", 0, [[R, "x", None], [W, "x", 1]]),
        ("ok", 1, [[R, "x", None], [W, "x", 2]]),
    ])
    v = check_rw_register(h)
    assert "lost-update" in types(v)
    lu = next(a for a in v.anomalies if a.type == "lost-update")
    assert lu.ops == (0, 1)
    assert "snapshot-isolation" in v.ruled_out
    assert check_rw_register(h, consistency=["read-committed"]).valid is True


def test_G_single_register_read_skew() -> None:
    # T0 sets x and y; T1 sees T0's x but the initial y.
    h = history([
        ("invoke", 0, [[W, "x", 1], [W, "y", 1]]),
        ("invoke", 1, [[R, "x", None], [R, "y", None]]),
        ("ok", 0, [[W, "x", 1], [W, "y", 1]]),
        ("ok", 1, [[R, "x", 1], [R, "y", None]]),
    ])
    v = check_rw_register(h)
    assert types(v) == {"G-single"}
    gs = v.anomalies[0]
    assert ("T1 < T0 because T1 read the initial (nil) state of y, which T0 overwrote with "
            "1 (rw)") in gs.explanation
    assert ("T0 < T1 because T1 read x = 1, the value T0 wrote (wr)") in gs.explanation


def test_cyclic_versions_drop_the_keys_order() -> None:
    h = history([
        ("invoke", 0, [[R, "x", None], [W, "x", 2]]),
        ("invoke", 1, [[R, "x", None], [W, "x", 1]]),
        ("ok", 0, [[R, "x", 1], [W, "x", 2]]),
        ("ok", 1, [[R, "x", 2], [W, "x", 1]]),
    ])
    assert {k for _, _, k, _ in edges(h)} == {"wr"}


def test_observed_indeterminate_writer_joins_the_graph() -> None:
    h = serial((0, [[W, "x", 1]], "info"), (1, [[W, "x", 2]], "info"), (2, [[R, "x", 1]]))
    a = analysis(h)
    assert a.inference.graph.member == [True, False, True]
    v = check_rw_register(h)
    assert v.valid is True and v.witness == (0, 2)


def test_ambiguous_and_unexplained_values_are_noted() -> None:
    twice = serial((0, [[W, "x", 1]]), (1, [[W, "x", 1]]), (2, [[R, "x", 1]]))
    v = check_rw_register(twice)
    assert any("written by more than one transaction" in n for n in v.notes)
    assert edges(twice) == set()
    ghost = check_rw_register(serial((0, [[R, "x", 5]])),
                              consistency=["read-uncommitted"])
    # A value nobody wrote: no interpretation explains it, so every model fails.
    assert "garbage-read" in types(ghost)
    assert ghost.valid is False
    assert "read-uncommitted" in ghost.ruled_out and not ghost.still_possible


def test_weaker_models_are_judged_on_what_is_known() -> None:
    h = serial((0, [[W, "x", 1]]), (1, [[W, "x", 2]]), (2, [[R, "x", 1]]))
    v = check_rw_register(h, consistency=["read-committed"])
    assert v.valid is True
    assert "read-committed" in v.still_possible


def test_external_reads_and_writes_of_a_transaction() -> None:
    (t,) = transactions(serial((0, [[R, "x", 1], [W, "x", 2], [W, "y", 3], [R, "y", 3],
                                    [W, "y", 4]])), "rw-register")
    assert ext_reads(t.mops) == {"x": 1}
    assert ext_writes(t.mops, W) == {"x": 2, "y": 4}


def test_a_read_another_write_explains_is_no_future_read() -> None:
    # T1 read 1 and wrote 1: T0 wrote 1 first, so it may have read T0's.
    h = serial((0, [[W, "x", 1]]), (1, [[R, "x", 1], [W, "x", 1]]))
    assert "future-read" not in {f.type for f in analysis(h).inference.findings}
    assert check_rw_register(h, consistency=["serializable"]).valid is True
    # A read after its own write, then the same write again: not a future read.
    h = serial((0, [[W, "x", 1], [R, "x", 1], [W, "x", 1]]))
    assert "future-read" not in {f.type for f in analysis(h).inference.findings}


def test_reads_of_a_value_written_twice_are_no_lost_update() -> None:
    h = history([
        ("invoke", 0, [[W, "x", 0]]), ("ok", 0, [[W, "x", 0]]),
        ("invoke", 1, [[W, "x", 0]]), ("ok", 1, [[W, "x", 0]]),
        ("invoke", 2, [[R, "x", None], [W, "x", 5]]),
        ("invoke", 3, [[R, "x", None], [W, "x", 6]]),
        ("ok", 2, [[R, "x", 0], [W, "x", 5]]),
        ("ok", 3, [[R, "x", 0], [W, "x", 6]]),
    ])
    assert "lost-update" not in {f.type for f in analysis(h).inference.findings}
