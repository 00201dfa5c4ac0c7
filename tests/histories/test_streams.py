"""The change-stream checker: exactly once, in order per item, with matching images."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.streams import STREAM_GUARANTEES, check_streams
from replicheck.histories.history import History, Record, pair

Row = dict[str, Any]


def op(process: int, f: str, key: Any, value: Any = None, status: str = "ok",
       **meta: Any) -> list[Row]:
    return [
        {"process": process, "type": "invoke", "f": f, "key": key, "value": value},
        {"process": process, "type": status, "f": f, "key": key, "value": value,
         "meta": {"table": "t", **meta}},
    ]


def put(process: int, key: str, item: dict[str, Any], version: int | None,
        status: str = "ok", **meta: Any) -> list[Row]:
    if version is not None:
        meta["version"] = version
    return op(process, "put", [key], item, status, **meta)


def delete(process: int, key: str, version: int, status: str = "ok") -> list[Row]:
    return op(process, "delete", [key], None, status, version=version)


def rec(event: str, key: str, version: int, old: Any, new: Any, table: str = "t") -> Row:
    return {"table": table, "event": event, "key": [key], "sequence": version,
            "old_image": old, "new_image": new}


def stream(records: list[Row], **options: Any) -> list[Row]:
    value: Any = {"records": records, **options} if options else records
    return [{"process": "observer", "type": "observe", "f": "stream", "value": value}]


def history(*groups: list[Row]) -> History:
    rows = [row for group in groups for row in group]
    return pair([Record(**{**row, "index": i}) for i, row in enumerate(rows)])


def item(key: str, n: int) -> dict[str, Any]:
    return {"pk": key, "n": n}


A1, A2, B1 = item("a", 1), item("a", 2), item("b", 1)
VALID_WRITES = (put(1, "a", A1, 1), put(2, "a", A2, 2), delete(1, "a", 3), put(2, "b", B1, 1))
VALID_RECORDS = [rec("INSERT", "a", 1, None, A1), rec("INSERT", "b", 1, None, B1),
                 rec("MODIFY", "a", 2, A1, A2), rec("REMOVE", "a", 3, A2, None)]


def types(verdict: Any) -> list[str]:
    return [a.type for a in verdict.anomalies]


# ---------------------------------------------------------------------------------------
# valid


def test_a_faithful_stream_is_valid() -> None:
    v = check_streams(history(*VALID_WRITES, stream(VALID_RECORDS)))
    assert v.valid is True, [a.explanation for a in v.anomalies]
    assert v.model == "streams" and v.consistency == STREAM_GUARANTEES
    assert v.ruled_out == frozenset() and not v.notes and v.counterexample is None


def test_indeterminate_writes_may_appear_or_not() -> None:
    writes = (put(1, "a", A1, 1), put(3, "a", A2, None, status="info"))
    with_it = [rec("INSERT", "a", 1, None, A1), rec("MODIFY", "a", 2, A1, A2)]
    assert check_streams(history(*writes, stream(with_it))).valid is True
    assert check_streams(history(*writes, stream(with_it[:1]))).valid is True


def test_writes_that_change_nothing_produce_nothing() -> None:
    h = history(put(1, "a", A1, 1), put(2, "a", A1, None, changed=False),
                stream([rec("INSERT", "a", 1, None, A1)]))
    assert check_streams(h).valid is True


def test_an_empty_history_is_valid() -> None:
    v = check_streams(history())
    assert v.valid is True and v.consistency == () and "no stream observation" in v.notes[0]


# ---------------------------------------------------------------------------------------
# one minimal violation per anomaly


def test_a_duplicate_record() -> None:
    h = history(put(1, "a", A1, 1), stream([rec("INSERT", "a", 1, None, A1)] * 2))
    v = check_streams(h)
    [a] = v.anomalies
    assert a.type == "stream-duplicate" and a.ops == (0,)
    for part in ("process 1's put", '["a"]', "op 0", "appears 2 times", "table 't'",
                 "stream-exactly-once violated"):
        assert part in a.explanation, part
    assert a.data["guarantees"] == ["stream-exactly-once"] and len(a.data["records"]) == 2
    assert len(v.counterexample["records"]) == 2


def test_a_missing_record() -> None:
    h = history(put(1, "a", A1, 1), put(2, "a", A2, 2), stream([rec("INSERT", "a", 1, None, A1)]))
    [a] = check_streams(h).anomalies
    assert a.type == "stream-missing" and a.ops == (1,)
    assert "version 2" in a.explanation and "no record of it" in a.explanation


def test_a_record_of_a_failed_write() -> None:
    h = history(put(1, "a", A1, 1), put(2, "a", A2, None, status="fail"),
                stream([rec("INSERT", "a", 1, None, A1), rec("MODIFY", "a", 2, A1, A2)]))
    [a] = check_streams(h).anomalies
    assert a.type == "stream-phantom" and a.ops == (1,)
    assert "failed op 1" in a.explanation


def test_records_out_of_modification_order() -> None:
    h = history(put(1, "a", A1, 1), put(1, "a", A2, 2),
                stream([rec("MODIFY", "a", 2, A1, A2), rec("INSERT", "a", 1, None, A1)]))
    v = check_streams(h)
    [a] = v.anomalies
    assert a.type == "stream-reorder" and a.ops == (1, 0)
    assert a.data["guarantees"] == ["stream-item-order"]
    assert "version 1 (sequence 1) comes after version 2" in a.explanation


def test_records_of_different_items_may_interleave_in_any_order() -> None:
    h = history(put(1, "a", A1, 1), put(1, "b", B1, 1),
                stream([rec("INSERT", "b", 1, None, B1), rec("INSERT", "a", 1, None, A1)]))
    assert check_streams(h).valid is True


def test_wrong_images_and_events() -> None:
    writes = (put(1, "a", A1, 1), put(1, "a", A2, 2))
    cases = {
        "has new image": [rec("INSERT", "a", 1, None, A1), rec("MODIFY", "a", 2, A1, A1)],
        "has old image": [rec("INSERT", "a", 1, None, A1), rec("MODIFY", "a", 2, A2, A2)],
        "is a MODIFY but should be a INSERT": [rec("MODIFY", "a", 1, None, A1),
                                               rec("MODIFY", "a", 2, A1, A2)],
        "is a REMOVE": [rec("INSERT", "a", 1, None, A1), rec("REMOVE", "a", 2, A1, A2)],
    }
    for problem, records in cases.items():
        v = check_streams(history(*writes, stream(records)))
        assert types(v) == ["stream-image"], problem
        assert problem in v.anomalies[0].explanation, problem
        assert v.anomalies[0].data["guarantees"] == ["stream-exactly-once"]


def test_a_populated_start_lets_the_first_record_be_a_modify() -> None:
    h = history(put(1, "a", A2, 2), stream([rec("MODIFY", "a", 2, A1, A2)]))
    assert types(check_streams(h)) == ["stream-image"]
    assert check_streams(h, items_start_absent=False).valid is True


# ---------------------------------------------------------------------------------------
# transactions


def txn(process: int, writes: list[dict[str, Any]], status: str = "ok") -> list[Row]:
    return [{"process": process, "type": "invoke", "f": "transact-write", "value": None,
             "meta": {"writes": writes}},
            {"process": process, "type": status, "f": "transact-write", "value": None}]


def test_each_write_of_a_transaction_produces_one_record() -> None:
    writes = [{"table": "t", "key": ["a"], "version": 1, "item": A1},
              {"table": "t", "key": ["b"], "version": 1, "item": B1}]
    both = [rec("INSERT", "a", 1, None, A1), rec("INSERT", "b", 1, None, B1)]
    assert check_streams(history(txn(1, writes), stream(both))).valid is True
    [a] = check_streams(history(txn(1, writes), stream(both[:1]))).anomalies
    assert a.type == "stream-missing" and a.ops == (0,) and '["b"]' in a.explanation


def test_a_cancelled_transaction_produces_nothing() -> None:
    writes = [{"table": "t", "key": ["a"], "item": A1}]
    h = history(txn(1, writes, status="fail"), stream([rec("INSERT", "a", 1, None, A1)]))
    [a] = check_streams(h).anomalies
    assert a.type == "stream-phantom" and a.ops == (0,)


def test_a_transaction_without_recorded_writes_is_noted() -> None:
    h = history(txn(1, []), [{"process": 1, "type": "invoke", "f": "txn", "value": None},
                             {"process": 1, "type": "ok", "f": "txn", "value": None}],
                stream([]))
    v = check_streams(h)
    assert v.valid is True and any("without meta" in n for n in v.notes)


# ---------------------------------------------------------------------------------------
# what is not judged


def test_an_incomplete_stream_does_not_judge_missing_records() -> None:
    h = history(put(1, "a", A1, 1), put(1, "a", A2, 2),
                stream([rec("MODIFY", "a", 2, A1, A2)], complete=False))
    assert check_streams(h).valid is True


def test_a_keys_only_stream_does_not_judge_images() -> None:
    h = history(put(1, "a", A1, 1), stream([rec("INSERT", "a", 1, None, None)],
                                           view="KEYS_ONLY"))
    assert check_streams(h).valid is True
    assert types(check_streams(history(put(1, "a", A1, 1),
                                       stream([rec("INSERT", "a", 1, None, None)])))) == [
        "stream-image"]


def test_writes_acknowledged_after_the_observation_are_not_expected() -> None:
    h = history(put(1, "a", A1, 1), stream([rec("INSERT", "a", 1, None, A1)]),
                put(1, "a", A2, 2))
    assert check_streams(h).valid is True


def test_without_versions_records_match_by_image() -> None:
    ok = history(put(1, "a", A1, None), stream([rec("INSERT", "a", 7, None, A1)]))
    assert check_streams(ok).valid is True
    lost = history(put(1, "a", A1, None), put(1, "a", A2, None),
                   stream([rec("INSERT", "a", 7, None, A1)]))
    [a] = check_streams(lost).anomalies
    assert a.type == "stream-missing" and a.ops == (1,)


def test_one_stream_per_table() -> None:
    h = history(put(1, "a", A1, 1), op(2, "put", ["a"], B1, table="u", version=1),
                stream([rec("INSERT", "a", 1, None, A1)], table="t"),
                stream([rec("INSERT", "a", 1, None, B1, table="u")], table="u"))
    assert check_streams(h).valid is True
    h = history(put(1, "a", A1, 1), op(2, "put", ["a"], B1, table="u", version=1),
                stream([rec("INSERT", "a", 1, None, A1)], table="t"),
                stream([], table="u"))
    [a] = check_streams(h).anomalies
    assert a.type == "stream-missing" and a.ops == (1,)


def test_a_malformed_stream_is_a_note() -> None:
    h = history(put(1, "a", A1, 1), stream([{"event": "UPSERT", "key": ["a"], "sequence": 1}]))
    v = check_streams(h)
    assert v.valid is True and "UPSERT" in v.notes[0]


# ---------------------------------------------------------------------------------------
# a leader store with a faithful stream, and broken copies of it

KEYS = ("a", "b", "c")


def leader(steps: list[tuple[int, str, str, str, bool]]) -> tuple[list[Row], list[Row], set[int]]:
    """Writes applied in order at one leader, each changed item getting the next
    version and one stream record; returns the history rows, the stream records and
    the positions of records of ok writes."""
    items: dict[str, dict[str, Any] | None] = dict.fromkeys(KEYS)
    versions = dict.fromkeys(KEYS, 0)
    rows: list[Row] = []
    records: list[Row] = []
    ok_records: set[int] = set()
    for n, (process, f, key, status, applies) in enumerate(steps):
        new = None if f == "delete" else item(key, n)
        if status == "fail" or (status == "info" and not applies) or (
                f == "delete" and items[key] is None):
            rows += op(process, f, [key], new, status, changed=False)
            continue
        versions[key] += 1
        old, items[key] = items[key], new
        event = "REMOVE" if f == "delete" else "INSERT" if old is None else "MODIFY"
        if status == "ok":
            ok_records.add(len(records))
        records.append(rec(event, key, versions[key], old, new))
        meta = {"version": versions[key]} if status == "ok" else {}
        rows += op(process, f, [key], new, status, **meta)
    return rows, records, ok_records


leader_steps = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(("put", "put", "delete")),
                                  st.sampled_from(KEYS),
                                  st.sampled_from(("ok", "ok", "ok", "fail", "info")),
                                  st.booleans()),
                        min_size=1, max_size=30)


@given(leader_steps)
def test_a_faithful_stream_of_a_leader_store_is_valid(steps: list[Any]) -> None:
    rows, records, _ = leader(steps)
    v = check_streams(history(rows, stream(records)))
    assert v.valid is True, [a.explanation for a in v.anomalies]


@given(leader_steps, st.data())
def test_dropping_the_record_of_an_ok_write_is_missing(steps: list[Any], data: Any) -> None:
    rows, records, ok_records = leader(steps)
    if not ok_records:
        return
    dropped = data.draw(st.sampled_from(sorted(ok_records)))
    kept = [r for i, r in enumerate(records) if i != dropped]
    v = check_streams(history(rows, stream(kept)))
    assert "stream-missing" in types(v)
    [missing] = [a for a in v.anomalies if a.type == "stream-missing"]
    assert missing.data["key"] == records[dropped]["key"]


@given(leader_steps, st.data())
def test_repeating_a_record_is_a_duplicate(steps: list[Any], data: Any) -> None:
    rows, records, _ = leader(steps)
    if not records:
        return
    i = data.draw(st.integers(0, len(records) - 1))
    v = check_streams(history(rows, stream([*records, records[i]])))
    assert types(v) == ["stream-duplicate"]


@given(leader_steps, st.data())
def test_swapping_two_records_of_an_item_is_a_reorder(steps: list[Any], data: Any) -> None:
    rows, records, _ = leader(steps)
    pairs = [(i, j) for i in range(len(records)) for j in range(i + 1, len(records))
             if records[i]["key"] == records[j]["key"]]
    if not pairs:
        return
    i, j = data.draw(st.sampled_from(pairs))
    swapped = list(records)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    v = check_streams(history(rows, stream(swapped)))
    assert set(types(v)) == {"stream-reorder"}


# ---------------------------------------------------------------------------------------
# every record is explained by exactly one write that did not fail


def test_an_indeterminate_write_applied_twice_is_unexplained() -> None:
    """An ``info`` write may explain one record, never two: its second apply is a
    record no modification explains."""
    writes = (put(1, "a", A1, 1), put(3, "a", A2, None, status="info"))
    twice = [rec("INSERT", "a", 1, None, A1), rec("MODIFY", "a", 2, A1, A2),
             rec("MODIFY", "a", 3, A2, A2)]
    assert types(check_streams(history(*writes, stream(twice)))) == ["stream-unexplained"]


def test_a_record_no_write_made_is_a_violation() -> None:
    h = history(put(1, "a", A1, 1), stream([rec("INSERT", "a", 1, None, A1),
                                            rec("INSERT", "b", 1, None, B1)]))
    [a] = check_streams(h).anomalies
    assert a.type == "stream-unexplained" and a.data["key"] == ["b"]
    assert a.data["guarantees"] == ["stream-exactly-once"]


def test_a_rolled_back_transaction_without_recorded_writes_leaves_no_record() -> None:
    h = history(txn(1, [], status="fail"), stream([rec("INSERT", "a", 1, None, A1)]))
    assert types(check_streams(h)) == ["stream-unexplained"]


def test_a_wrong_old_image_is_caught_next_to_an_indeterminate_write() -> None:
    """Indeterminate means applied or not: the records themselves chain, so an old
    image no explanation fits is a violation even on an item an info write touched."""
    writes = (put(1, "a", A1, 1), put(3, "a", A2, None, status="info"),
              put(2, "a", item("a", 3), 3))
    faithful = [rec("INSERT", "a", 1, None, A1), rec("MODIFY", "a", 2, A1, A2),
                rec("MODIFY", "a", 3, A2, item("a", 3))]
    assert check_streams(history(*writes, stream(faithful))).valid is True
    skipped = [faithful[0], faithful[2]]  # the info write did not apply
    assert check_streams(history(*writes, stream(
        [skipped[0], rec("MODIFY", "a", 3, A1, item("a", 3))]))).valid is True
    wrong = [faithful[0], faithful[1], rec("MODIFY", "a", 3, A1, item("a", 3))]
    assert types(check_streams(history(*writes, stream(wrong)))) == ["stream-image"]
    hidden = [faithful[0], rec("MODIFY", "a", 3, A2, item("a", 3))]  # applied, no record
    assert types(check_streams(history(*writes, stream(hidden)))) == ["stream-image"]


def test_a_write_that_changed_nothing_explains_no_record() -> None:
    """An ok delete of an absent item (``changed`` false) leaves no record, so it
    cannot stand for a second REMOVE after the item was written again."""
    unchanged = op(0, "delete", ["a"], None, changed=False)
    writes = (put(0, "a", A1, 1), delete(0, "a", 2), unchanged, put(0, "a", A2, 3))
    faithful = [rec("INSERT", "a", 1, None, A1), rec("REMOVE", "a", 2, A1, None),
                rec("INSERT", "a", 3, None, A2)]
    assert check_streams(history(*writes, stream(faithful))).valid is True
    again = [*faithful, rec("REMOVE", "a", 4, A2, None)]
    assert types(check_streams(history(*writes, stream(again)))) == ["stream-unexplained"]


@given(leader_steps, st.data())
def test_applying_a_write_twice_is_caught(steps: list[Any], data: Any) -> None:
    """A second record of one modification, at the item's next version."""
    rows, records, _ = leader(steps)
    if not records:
        return
    i = data.draw(st.integers(0, len(records) - 1))
    again = records[i]
    last = max(r["sequence"] for r in records if r["key"] == again["key"])
    latest = next(r for r in records if r["key"] == again["key"] and r["sequence"] == last)
    extra = {**again, "sequence": last + 1, "old_image": latest["new_image"],
             "event": again["event"] if again["new_image"] is None
             else "INSERT" if latest["new_image"] is None else "MODIFY"}
    v = check_streams(history(rows, stream([*records, extra])))
    assert v.valid is False
    assert any(extra in a.data["records"] for a in v.anomalies), [
        a.explanation for a in v.anomalies]


@given(leader_steps, st.data())
def test_a_wrong_old_image_is_caught(steps: list[Any], data: Any) -> None:
    rows, records, _ = leader(steps)
    if not records:
        return
    i = data.draw(st.integers(0, len(records) - 1))
    wrong = dict(records[i], old_image={"pk": records[i]["key"][0], "n": -1})
    corrupted = [*records[:i], wrong, *records[i + 1:]]
    v = check_streams(history(rows, stream(corrupted)))
    assert "stream-image" in types(v), [a.explanation for a in v.anomalies]


# -- the store's stream retention window ---------------------------------------------------

RETENTION_NS = 86_400 * 10**9


def windows(clock: str = "store-ns") -> list[Row]:
    return [{"process": "observer", "type": "observe", "f": "windows",
             "value": {"idempotency_token": 600, "stream_retention": 86_400, "lease": None,
                       "hint_timer": None, "clock": clock}}]


def timed(rows: list[Row], *times: int) -> list[Row]:
    return [{**row, "time": t} for row, t in zip(rows, times, strict=True)]


def aged_history(seen_at: int, clock: str = "store-ns") -> History:
    """``a`` put at version 1 (invoked at 0, acknowledged at 1 s) and 2 (at 10 s),
    the stream observed at ``seen_at`` ns holding only version 2's record."""
    return history(windows(clock), timed(put(1, "a", A1, 1), 0, 10**9),
                   timed(put(1, "a", A2, 2), 10 * 10**9, 10 * 10**9),
                   timed(stream([rec("MODIFY", "a", 2, A1, A2)]), seen_at))


def test_a_record_may_be_gone_once_its_write_was_invoked_the_retention_ago() -> None:
    verdict = check_streams(aged_history(RETENTION_NS))
    assert verdict.valid is True, verdict.anomalies


def test_a_record_younger_than_retention_must_be_there() -> None:
    verdict = check_streams(aged_history(RETENTION_NS - 1))
    assert verdict.valid is False
    assert {a.type for a in verdict.anomalies} >= {"stream-missing"}


def test_without_store_times_retention_is_not_judged() -> None:
    verdict = check_streams(aged_history(RETENTION_NS + 10**12, clock="wall"))
    assert verdict.valid is False
    assert {a.type for a in verdict.anomalies} >= {"stream-missing"}


def test_only_the_first_record_left_may_follow_a_record_gone() -> None:
    """Version 2's record shows no item before it, where version 1 (aged out) left
    one: a wrong old image, retention or not."""
    h = history(windows(), timed(put(1, "a", A1, 1), 0, 10**9),
                timed(put(1, "a", A2, 2), 10 * 10**9, 10 * 10**9),
                timed(stream([rec("INSERT", "a", 2, None, A2)]), RETENTION_NS * 2))
    assert {a.type for a in check_streams(h).anomalies} == {"stream-image"}
