"""The single judging entry point: model inference, dispatch, and the z3 decision
for rw-register histories whose version order the history leaves open."""

from __future__ import annotations

from typing import Any

import pytest

from replicheck.histories.checkers.elle import check_rw_register
from replicheck.histories.history import History, Record, pair
from replicheck.histories.judge import ModelChoiceError, check, infer_model


def txns(*rows: tuple[int, str, list[list[Any]]]) -> History:
    """(process, type, micro-ops) records in order; invocations carry nil reads."""
    records = []
    for i, (process, type_, mops) in enumerate(rows):
        value = [[f, k, None if (f == "r" and type_ == "invoke") else v] for f, k, v in mops]
        records.append(Record(process, type_, "txn", value, index=i))
    return pair(records)


def test_infers_each_model_from_functions() -> None:
    def h(*fs: str) -> History:
        return pair([Record(0, t, f, None, index=2 * i + (t == "ok"))
                     for i, f in enumerate(fs) for t in ("invoke", "ok")])

    assert infer_model(h("read", "write", "cas")) == "cas-register"
    assert infer_model(h("get", "put", "append")) == "kv"
    assert infer_model(txns((0, "invoke", [["append", "x", 1]]),
                            (0, "ok", [["append", "x", 1]]))) == "list-append"
    assert infer_model(txns((0, "invoke", [["w", "x", 1]]),
                            (0, "ok", [["w", "x", 1]]))) == "rw-register"
    with pytest.raises(ModelChoiceError, match="choose --model"):
        infer_model(h("enqueue"))


def test_repeated_writes_are_decided_by_z3_not_guessed() -> None:
    """Two transactions write the same value: the reader's writer is ambiguous; an
    order that replays every read is found all the same."""
    h = txns(
        (0, "invoke", [["w", "x", 1]]), (1, "invoke", [["w", "x", 1]]),
        (0, "ok", [["w", "x", 1]]), (1, "ok", [["w", "x", 1]]),
        (2, "invoke", [["r", "x", None], ["w", "x", 2]]),
        (2, "ok", [["r", "x", 1], ["w", "x", 2]]),
        (3, "invoke", [["r", "x", None]]), (3, "ok", [["r", "x", 2]]),
    )
    verdict = check(h, "rw-register", ["serializable"])
    assert verdict.valid is True
    assert verdict.witness is not None and set(verdict.witness) == {0, 1, 2, 3}


def test_reads_of_a_repeated_value_may_have_seen_different_versions() -> None:
    """Both read x = 0, written by T0 and by T1, and both wrote x. They need not have
    read the same version (T0, T2, T1, T3 is a serial order), so this is no lost
    update; only real time (T1 completed before T2 began) forbids it."""
    h = txns(
        (0, "invoke", [["w", "x", 0]]), (0, "ok", [["w", "x", 0]]),
        (1, "invoke", [["w", "x", 0]]), (1, "ok", [["w", "x", 0]]),
        (2, "invoke", [["r", "x", None], ["w", "x", 5]]),
        (3, "invoke", [["r", "x", None], ["w", "x", 6]]),
        (2, "ok", [["r", "x", 0], ["w", "x", 5]]),
        (3, "ok", [["r", "x", 0], ["w", "x", 6]]),
    )
    verdict = check(h, "rw-register", ["snapshot-isolation"])
    assert verdict.valid is True
    assert "lost-update" not in {a.type for a in verdict.anomalies}
    assert verdict.ruled_out == {"strict-serializable"}
    assert check(h, "rw-register", ["serializable"]).valid is True
    assert check(h, "rw-register", ["strict-serializable"]).valid is False


def test_an_impossible_order_with_ambiguous_writers_is_refuted_by_z3() -> None:
    """T2 read x = 1 (from T0 or T1, either way) and T3 read T2's y but the initial x:
    T3 must precede both writers of x and follow one of them."""
    h = txns(
        (0, "invoke", [["w", "x", 1]]), (1, "invoke", [["w", "x", 1]]),
        (0, "ok", [["w", "x", 1]]), (1, "ok", [["w", "x", 1]]),
        (2, "invoke", [["r", "x", None], ["w", "y", 1]]),
        (2, "ok", [["r", "x", 1], ["w", "y", 1]]),
        (3, "invoke", [["r", "y", None], ["r", "x", None]]),
        (3, "ok", [["r", "y", 1], ["r", "x", None]]),
    )
    elle = check_rw_register(h, consistency=["serializable"])
    verdict = check(h, "rw-register", ["serializable"])
    assert elle.valid != verdict.valid or elle.valid is False
    assert verdict.valid is False
    assert "serializable" in verdict.ruled_out
    assert verdict.anomalies[0].type == "G-single"  # T3 -rw-> T0 or T1 -wr-> T2 -wr-> T3
    assert set(verdict.anomalies[0].ops) >= {2, 3}


def test_empty_history_is_valid_with_no_operations() -> None:
    verdict = check(pair([]))
    assert verdict.valid is True
    assert verdict.stats.operations == 0


def _puts_only_item_history(tables: object) -> History:
    put = {"table": "items", "item": {"pk": {"S": "a"}}}
    return pair([
        Record(0, "observe", "tables", tables, index=0),
        Record(0, "invoke", "put", put, index=1),
        Record(0, "ok", "put", {"item": None}, index=2),
    ])


def test_a_declared_tables_record_makes_even_puts_only_an_item_history() -> None:
    h = _puts_only_item_history([{"name": "items", "partition_key": "pk"}])
    assert infer_model(h) == "item"
    assert check(h).valid is True


def test_a_malformed_tables_record_is_a_model_choice_error() -> None:
    with pytest.raises(ModelChoiceError, match="tables"):
        check(_puts_only_item_history([{"nam": "items"}]))


DATA = __import__("pathlib").Path(__file__).parent / "data"


@pytest.mark.parametrize("consistency", [["serializable"], ["strict-serializable"],
                                         ["linearizable", "serializable"]])
def test_item_histories_are_judged_for_transactional_models(consistency: list[str]) -> None:
    from replicheck.histories.formats import load

    verdict = check(load(DATA / "item_valid.jsonl"), "item", consistency)
    assert verdict.valid is True
    assert verdict.consistency == tuple(consistency)
    assert verdict.witness is not None


def test_item_histories_refuse_an_unknown_transactional_model() -> None:
    from replicheck.histories.formats import load

    with pytest.raises(ModelChoiceError, match="unknown consistency model"):
        check(load(DATA / "item_valid.jsonl"), "item", ["serialisable"])


@pytest.mark.parametrize("model", ["list-append", "rw-register"])
@pytest.mark.parametrize("consistency", [
    "linearizable", "sequential", "causal", "PRAM", "read-your-writes", "monotonic-reads",
    "monotonic-writes", "writes-follow-reads", "eventual",
])
def test_transactional_workloads_refuse_models_they_do_not_judge(model: str,
                                                                 consistency: str) -> None:
    """Asked for read-your-writes, a history where a process appends 1 and then reads []
    was once 'valid' (never checked). Now a usage error naming the models judged."""
    write, read = (["append", "x", 1], ["r", "x", []]) if model == "list-append" else \
        (["w", "x", 1], ["r", "x", None])
    h = txns((0, "invoke", [write]), (0, "ok", [write]),
             (0, "invoke", [read]), (0, "ok", [read]))
    with pytest.raises(ModelChoiceError, match="snapshot-isolation"):
        check(h, model, [consistency])


def test_rw_register_values_compare_by_type_and_value() -> None:
    """A read of true is not a read of the 1 written; a read of NaN is the NaN written."""
    wrote_one = txns((0, "invoke", [["w", "x", 1]]), (0, "ok", [["w", "x", 1]]),
                     (1, "invoke", [["r", "x", None]]), (1, "ok", [["r", "x", True]]))
    v = check(wrote_one, "rw-register", ["read-uncommitted"])
    assert v.valid is False
    assert "garbage-read" in {a.type for a in v.anomalies}
    nan = float("nan")
    wrote_nan = txns((0, "invoke", [["w", "x", nan]]), (0, "ok", [["w", "x", nan]]),
                     (1, "invoke", [["r", "x", None]]), (1, "ok", [["r", "x", nan]]))
    assert check(wrote_nan, "rw-register", ["strict-serializable"]).valid is True


def test_list_append_elements_compare_by_type_and_value() -> None:
    wrote_one = txns((0, "invoke", [["append", "x", 1]]), (0, "ok", [["append", "x", 1]]),
                     (1, "invoke", [["r", "x", None]]), (1, "ok", [["r", "x", [True]]]))
    v = check(wrote_one, "list-append", ["read-uncommitted"])
    assert v.valid is False
    nan = float("nan")
    wrote_nan = txns((0, "invoke", [["append", "x", nan]]),
                     (0, "ok", [["append", "x", nan]]),
                     (1, "invoke", [["r", "x", None]]), (1, "ok", [["r", "x", [nan]]]))
    assert check(wrote_nan, "list-append", ["strict-serializable"]).valid is True


def _skew(reads: list[list[Any]], writes: list[list[Any]]) -> History:
    """T0 sets x and y to 0; T1 and T2 run concurrently after it."""
    init = [["w", "x", 0], ["w", "y", 0]]
    return txns((0, "invoke", init), (0, "ok", init),
                (1, "invoke", reads[0]), (2, "invoke", reads[1]),
                (1, "ok", reads[0]), (2, "ok", reads[1]))


def test_write_skew_and_read_skew_are_not_repeatable_read() -> None:
    """Write skew (G2-item) and read skew (G-single) under every version order were
    once valid under repeatable-read, with serializable and linearizable listed as
    still possible."""
    write_skew = _skew([[["r", "x", 0], ["r", "y", 0], ["w", "x", 1]],
                        [["r", "x", 0], ["r", "y", 0], ["w", "y", 1]]], [])
    read_skew = txns(
        (0, "invoke", [["w", "x", 1], ["w", "y", 1]]),
        (1, "invoke", [["r", "x", None], ["r", "y", None]]),
        (0, "ok", [["w", "x", 1], ["w", "y", 1]]),
        (1, "ok", [["r", "x", 1], ["r", "y", None]]))
    for h, allowed_by_si in ((write_skew, True), (read_skew, False)):
        v = check(h, "rw-register", ["repeatable-read"])
        assert v.valid is False
        assert not v.still_possible & {"repeatable-read", "serializable",
                                       "strict-serializable", "linearizable"}
        assert "read-committed" in v.still_possible
        assert ("snapshot-isolation" in v.still_possible) is allowed_by_si
        again = check(h, "rw-register", ["serializable"])
        assert again.ruled_out == v.ruled_out and again.still_possible == v.still_possible


def test_strong_session_serializable_is_decided_not_unknown() -> None:
    """Process 0 writes x, then y, then reads x = 1 and y = 2; process 1, concurrently
    with all three, wrote y = 2 and x = 2. In process order, x = 1 last means process
    1 wrote x before process 0 did, and y = 2 last that it wrote y after: a cycle (G0
    with process order) whatever the version orders. Once "unknown" in under a
    second; serializable without process order (the reads need not be last)."""
    h = txns(
        (1, "invoke", [["w", "y", 2], ["w", "x", 2]]),
        (0, "invoke", [["w", "x", 1]]), (0, "ok", [["w", "x", 1]]),
        (0, "invoke", [["w", "y", 1]]), (0, "ok", [["w", "y", 1]]),
        (1, "ok", [["w", "y", 2], ["w", "x", 2]]),
        (0, "invoke", [["r", "x", None], ["r", "y", None]]),
        (0, "ok", [["r", "x", 1], ["r", "y", 2]]),
    )
    v = check(h, "rw-register", ["strong-session-serializable"], timeout=10)
    assert v.valid is False
    assert "strong-session-serializable" in v.ruled_out
    assert "serializable" in v.still_possible
