"""The stale-read and lost-update detectors: hand-written cases, and generated
families: linearizable register histories (a sequential model, each operation's
interval around its linearization point) where neither finds anything, and the same
histories with a stale read or a lost update planted, which must be found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.lost_update import check_lost_updates, find_lost_updates
from replicheck.histories.checkers.stale_read import check_stale_reads, find_stale_reads
from replicheck.histories.history import History, Record, pair

Row = dict[str, Any]

# ---------------------------------------------------------------------------------------
# hand-written histories (records in the order given; each op invoked then completed)


def invoke(p: int, f: str, key: str, value: Any = None) -> Row:
    return {"process": p, "type": "invoke", "f": f, "key": key, "value": value}


def done(p: int, f: str, key: str, value: Any = None, status: str = "ok",
         **meta: Any) -> Row:
    return {"process": p, "type": status, "f": f, "key": key, "value": value,
            "meta": meta}


def history(*rows: Row) -> History:
    return pair([Record(**{**row, "index": i}) for i, row in enumerate(rows)])


def write(p: int, key: str, value: Any, **meta: Any) -> list[Row]:
    return [invoke(p, "write", key, value), done(p, "write", key, value, **meta)]


def read(p: int, key: str, out: Any, **meta: Any) -> list[Row]:
    return [invoke(p, "read", key), done(p, "read", key, out, **meta)]


def test_a_read_of_an_overwritten_value_after_the_overwrite_is_stale() -> None:
    h = history(*write(0, "k", 1), *write(1, "k", 2), *read(2, "k", 1))
    (found,) = find_stale_reads(h)
    assert found.type == "stale-read" and found.ops == (0, 1, 2)
    assert found.data["read"] == 2 and found.data["write"] == 1
    assert found.data["returned"] == 0
    assert "op 2" in found.explanation and "op 1" in found.explanation
    assert "op 0 completed before op 1 began" in found.explanation
    assert check_stale_reads(h).valid is False


def test_a_read_of_nothing_after_a_completed_write_is_stale() -> None:
    h = history(*write(0, "k", 1), *read(1, "k", None))
    (found,) = find_stale_reads(h)
    assert found.ops == (0, 1) and found.data["returned"] == "initial"


def test_reads_of_either_of_two_concurrent_writes_are_not_stale() -> None:
    h = history(invoke(0, "write", "k", 1), invoke(1, "write", "k", 2),
                done(0, "write", "k", 1), done(1, "write", "k", 2), *read(2, "k", 1))
    assert find_stale_reads(h) == ()
    assert check_stale_reads(h).valid is True


def test_a_read_concurrent_with_the_overwrite_is_not_stale() -> None:
    h = history(*write(0, "k", 1), invoke(1, "write", "k", 2), *read(2, "k", 1),
                done(1, "write", "k", 2))
    assert find_stale_reads(h) == ()


def test_a_read_shows_the_order_of_concurrent_writes() -> None:
    # 1 and 2 concurrent; a read after both returns 2 (so 1 came first); a later read
    # returning 1 is stale.
    h = history(invoke(0, "write", "k", 1), invoke(1, "write", "k", 2),
                done(0, "write", "k", 1), done(1, "write", "k", 2), *read(2, "k", 2),
                *read(3, "k", 1))
    (found,) = find_stale_reads(h)
    assert found.data["read"] == 3 and found.data["write"] == 1
    assert set(found.ops) == {0, 1, 2, 3}
    assert "op 2 began after op 0 completed and returned the version op 1 made" \
        in found.explanation


def test_store_versions_name_what_was_read() -> None:
    # the values say nothing (the same value written twice), the versions do
    h = history(*write(0, "k", "x", version=1), *write(1, "k", "x", version=2),
                *read(2, "k", "x", version=1))
    (found,) = find_stale_reads(h)
    assert found.data["returned"] == 0 and found.data["write"] == 1
    h2 = history(*write(0, "k", "x"), *write(1, "k", "x"), *read(2, "k", "x"))
    assert find_stale_reads(h2) == ()  # ambiguous without versions: nothing claimed


def test_a_write_that_applied_nothing_supersedes_nothing() -> None:
    h = history(*write(0, "k", 1), *write(1, "k", 2, applied=False), *read(2, "k", 1))
    assert find_stale_reads(h) == ()


def test_an_absent_item_after_a_transaction_that_may_have_deleted_it_is_not_judged() -> None:
    h = history(*write(0, "k", 1),
                invoke(1, "transact-write", None, "t"),
                done(1, "transact-write", None, "t"),
                *read(2, "k", None))
    assert find_stale_reads(h) == ()


def cas(p: int, key: str, expected: Any, new: Any, **meta: Any) -> list[Row]:
    return [invoke(p, "cas", key, [expected, new]),
            done(p, "cas", key, [expected, new], **meta)]


def test_two_read_modify_writes_of_one_version_are_a_lost_update() -> None:
    h = history(*write(0, "k", 1, version=1),
                invoke(1, "cas", "k", [1, 2]), invoke(2, "cas", "k", [1, 3]),
                done(1, "cas", "k", [1, 2], version=2, read={"version": 1}),
                done(2, "cas", "k", [1, 3], version=3, read={"version": 1}),
                *read(3, "k", 3, version=3))
    (found,) = find_lost_updates(h)
    assert found.type == "lost-update" and found.ops == (1, 2, 3)
    assert found.data["writes"] == [1, 2] and found.data["read"] == 3
    assert found.data["read_source"] == 0
    assert "returned the version op 2 made, without the write of op 1." in found.explanation
    assert check_lost_updates(h).valid is False


def test_old_items_returned_name_the_version_read() -> None:
    h = history(*write(0, "k", 1), *cas(1, "k", 1, 2, old=1), *cas(2, "k", 1, 3, old=1))
    (found,) = find_lost_updates(h)
    assert found.data["writes"] == [1, 2] and found.data["read"] is None


def test_blind_writes_are_never_a_lost_update() -> None:
    h = history(invoke(0, "write", "k", 1), invoke(1, "write", "k", 2),
                done(0, "write", "k", 1), done(1, "write", "k", 2), *read(2, "k", 2))
    assert find_lost_updates(h) == ()
    assert check_lost_updates(h).valid is True


def test_chained_read_modify_writes_are_not_a_lost_update() -> None:
    h = history(*write(0, "k", 1), *cas(1, "k", 1, 2, old=1), *cas(2, "k", 2, 3, old=2))
    assert find_lost_updates(h) == ()


def test_a_failed_read_modify_write_loses_nothing() -> None:
    h = history(*write(0, "k", 1), *cas(1, "k", 1, 2, old=1),
                invoke(2, "cas", "k", [1, 3]),
                done(2, "cas", "k", [1, 3], status="fail", old=1))
    assert find_lost_updates(h) == ()


def test_operation_ids_are_the_callers() -> None:
    h = history(*write(0, "k", 1), *write(1, "k", 2), *read(2, "k", 1))
    from dataclasses import replace

    shifted = replace(h, operations=tuple(replace(op, id=op.id + 10) for op in h.operations))
    (found,) = find_stale_reads(shifted)
    assert found.ops == (10, 11, 12) and found.data["read"] == 12


# ---------------------------------------------------------------------------------------
# generated: linearizable histories of registers


@dataclass
class Planned:
    """One operation of a generated history: what it did at its linearization point
    and its interval."""

    process: int
    f: str
    key: str
    value: Any
    out: Any
    status: str
    call: int
    ret: int | None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Generated:
    ops: list[Planned]
    versions: bool
    states: dict[str, list[tuple[Any, int | None]]]  # per key: (value, version) in order


def records(ops: list[Planned]) -> History:
    events = []
    for i, op in enumerate(ops):
        events.append((op.call, 1, i, invoke(op.process, op.f, op.key, op.value)))
        if op.ret is not None:
            out = op.out if op.f == "read" else op.value
            events.append((op.ret, 0, i, {**done(op.process, op.f, op.key, out, op.status,
                                                 **op.meta), "time": op.ret}))
    rows = []
    for at, _, _, row in sorted(events, key=lambda e: e[:3]):
        rows.append({**row, "time": at})
    return history(*rows)


@st.composite
def linearizable(draw: st.DrawFn) -> Generated:
    """Operations applied to one register per key in linearization order (point
    10*i+5), each interval around its point: a linearizable history."""
    versions = draw(st.booleans())
    n = draw(st.integers(1, 14))
    state: dict[str, tuple[Any, int | None]] = {}
    states: dict[str, list[tuple[Any, int | None]]] = {"a": [(None, None)],
                                                       "b": [(None, None)]}
    counter = 0
    ops: list[Planned] = []
    for i in range(n):
        key = draw(st.sampled_from(("a", "a", "a", "b")))
        value, version = state.get(key, (None, None))
        point = 10 * i + 5
        call = point - draw(st.integers(0, 25))
        ret: int | None = point + draw(st.integers(1, 25))
        kind = draw(st.sampled_from(("write", "read", "read", "cas", "info-write")))
        meta: dict[str, Any] = {}
        status = "ok"
        fresh = f"v{i}"
        if kind == "read":
            if versions:
                meta["version"] = version
            ops.append(Planned(i, "read", key, None, value, "ok", call, ret, meta))
            continue
        if kind == "cas" and value is None:
            kind = "write"
        applied = True
        if kind == "info-write":
            applied = draw(st.booleans())
            status = "info"
            if draw(st.booleans()):
                ret = None
        counter += 1
        if kind == "cas":
            meta["read" if versions else "old"] = {"version": version} if versions \
                else value
        if versions and status == "ok":
            meta["version"] = counter
        if applied:
            state[key] = (fresh, counter)
            states[key].append((fresh, counter))
        f = "cas" if kind == "cas" else "write"
        written = [value, fresh] if kind == "cas" else fresh
        ops.append(Planned(i, f, key, written, None, status, call, ret, meta))
    return Generated(ops, versions, states)


@given(linearizable())
def test_linearizable_histories_show_no_stale_read_and_no_lost_update(g: Generated) -> None:
    h = records(g.ops)
    assert find_stale_reads(h) == ()
    assert find_lost_updates(h) == ()


def _end(g: Generated) -> int:
    return max(max(op.call, op.ret or 0) for op in g.ops) + 10


@given(linearizable(), st.data())
def test_a_planted_stale_read_is_found(g: Generated, data: st.DataObject) -> None:
    ok_writes = [op for op in g.ops if op.f in ("write", "cas") and op.status == "ok"]
    if not ok_writes:
        return
    w = data.draw(st.sampled_from(ok_writes))
    earlier = [op for op in ok_writes if op.ret is not None and op.ret < w.call
               and op.key == w.key]
    source = data.draw(st.sampled_from([None, *earlier]))
    at = _end(g)
    meta: dict[str, Any] = {}
    if source is None:
        out = None
        if g.versions:
            meta["version"] = None
    else:
        out = source.value[1] if source.f == "cas" else source.value
        if g.versions:
            meta["version"] = source.meta["version"]
    planted = Planned(99, "read", w.key, None, out, "ok", at, at + 1, meta)
    h = records([*g.ops, planted])
    found = find_stale_reads(h)
    read_id = len(g.ops)  # invoked last
    assert any(a.data["read"] == read_id for a in found), found
    assert all(a.data["read"] == read_id for a in found)  # nothing else invented


@given(linearizable(), st.data(), st.booleans())
def test_a_planted_lost_update_is_found(g: Generated, data: st.DataObject,
                                        with_read: bool) -> None:
    key = data.draw(st.sampled_from(("a", "b")))
    value, version = data.draw(st.sampled_from(g.states[key]))
    at = _end(g)
    extra = []
    for j, fresh in enumerate(("x1", "x2")):
        meta: dict[str, Any] = ({"read": {"version": version}, "version": 1000 + j}
                                if g.versions else {"old": value})
        extra.append(Planned(100 + j, "cas", key, [value, fresh], None, "ok", at + j,
                             at + 5, meta))
    if with_read:
        meta = {"version": 1001} if g.versions else {}
        extra.append(Planned(102, "read", key, None, "x2", "ok", at + 10, at + 11, meta))
    h = records([*g.ops, *extra])
    found = find_lost_updates(h)
    first = len(g.ops)
    (lost,) = [a for a in found if a.data["writes"][-2:] == [first, first + 1]]
    assert lost.data["read"] == (first + 2 if with_read else None)
    assert all(a is lost for a in found)  # nothing else invented


def test_two_compare_and_sets_of_one_expected_value_are_a_lost_update() -> None:
    # a cas that took effect found the value it expected: both read op 0's version
    h = history(*write(0, "k", 1), invoke(1, "cas", "k", [1, 2]),
                invoke(2, "cas", "k", [1, 3]), done(1, "cas", "k", [1, 2]),
                done(2, "cas", "k", [1, 3]), *read(3, "k", 2))
    (found,) = find_lost_updates(h)
    assert found.data["writes"] == [1, 2] and found.data["read_source"] == 0
    assert found.data["read"] == 3
    assert "returned the version op 1 made, without the write of op 2" in found.explanation


def test_compare_and_sets_whose_compare_failed_wrote_nothing() -> None:
    # an ok cas answered false found another value and wrote nothing: two of them
    # expecting the same value are no lost update, and supersede nothing
    h = history(*write(0, "k", 1), invoke(1, "cas", "k", [0, 2]),
                invoke(2, "cas", "k", [0, 3]), done(1, "cas", "k", False),
                done(2, "cas", "k", False), *read(3, "k", 1))
    assert not find_lost_updates(h)
    assert not find_stale_reads(h)


def test_check_names_the_stale_read_of_a_register_history() -> None:
    from replicheck.histories.judge import check

    h = history(*write(0, "k", 1), *write(1, "k", 2), *read(2, "k", 1))
    verdict = check(h, "cas-register")
    assert verdict.valid is False
    assert [a.type for a in verdict.anomalies][1:] == ["stale-read"]
    assert check(history(*write(0, "k", 1), *read(1, "k", 1)), "cas-register").anomalies == ()


def test_the_stale_read_search_stops_at_its_time_limit() -> None:
    # forty writes one after another, then a read of the first: with no time at all
    # the search answers unknown, never valid
    rows: list[Row] = []
    for i in range(40):
        rows += [invoke(0, "write", "k", i), done(0, "write", "k", i)]
    rows += read(1, "k", 0)
    h = history(*rows)
    assert check_stale_reads(h).valid is False
    out_of_time = check_stale_reads(h, timeout=-1.0)
    assert out_of_time.valid == "unknown" and out_of_time.limit == "time"
    assert out_of_time.notes and "ran out" in out_of_time.notes[0]


@st.composite
def arbitrary(draw: st.DrawFn) -> History:
    """Any single-key history of writes, cas and reads (reads of any written value or
    nothing), intervals anywhere, times on some operations: mostly not linearizable."""
    n = draw(st.integers(1, 12))
    ops = []
    for i in range(n):
        call = draw(st.integers(0, 60))
        ret = call + draw(st.integers(1, 30))
        f = draw(st.sampled_from(("write", "read", "read", "cas")))
        if f == "read":
            out = draw(st.sampled_from([None, *range(n)]))
            ops.append(Planned(i, "read", "k", None, out, "ok", call, ret))
        elif f == "cas":
            ops.append(Planned(i, "cas", "k", [draw(st.integers(0, n)), i], None,
                               draw(st.sampled_from(("ok", "ok", "info"))), call, ret))
        else:
            ops.append(Planned(i, "write", "k", i, None,
                               draw(st.sampled_from(("ok", "ok", "info"))), call, ret))
    return records(ops)


@given(arbitrary())
def test_the_fast_search_finds_a_path_exactly_when_the_edges_give_one(h: History) -> None:
    from replicheck.histories.checkers.write_order import (
        SingleKeyView,
        WriteOrder,
        precedes,
        took_effect,
    )

    view = SingleKeyView(h)
    for ops in view.keys.values():
        order = WriteOrder(ops)
        for read, source in ops.reads:
            goals = {w.id: w for w in ops.writes
                     if took_effect(w) and w.id != source and precedes(w, read)}
            fast = order.path(source, goals, reads_before=read.call)
            slow = order.path_by_edges(source, goals, reads_before=read.call)
            assert (fast is None) == (slow is None)
            if fast is not None:
                at = source
                for edge in fast:  # a chain of real edges from the source to a goal
                    assert edge.before == at
                    assert edge in set(order.successors(at, reads_before=read.call))
                    at = edge.after
                assert at in goals
