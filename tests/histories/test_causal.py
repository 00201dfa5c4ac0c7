"""The causal checker: hand-written histories, the causal path in explanations,
skipping without versions, and properties of simulated stores."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.causal import CAUSAL_CONSISTENCY, check_causal
from replicheck.histories.checkers.sessions import check_sessions
from replicheck.histories.history import History, Record, pair

Row = dict[str, Any]


def op(process: int, f: str, key: Any, value: Any = None, out: Any = None,
       meta: dict[str, Any] | None = None, status: str = "ok") -> list[Row]:
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


def r(process: int, key: Any, out: Any, **meta: Any) -> list[Row]:
    return op(process, "read", key, out=out, meta=meta)


# ---------------------------------------------------------------------------------------
# valid histories


def test_valid_cross_session_history() -> None:
    h = history(
        w(1, "x", 1, version=1), w(1, "y", 1, version=1),
        r(2, "y", 1, version=1), r(2, "x", 1, version=1),
        w(2, "x", 2, version=2), r(3, "x", 2, version=2), r(3, "y", 1, version=1),
    )
    v = check_causal(h)
    assert v.valid is True, [a.explanation for a in v.anomalies]
    assert v.model == "causal" and v.consistency == CAUSAL_CONSISTENCY
    assert v.still_possible == {"causal", "PRAM", "read-your-writes", "monotonic-reads",
                                "monotonic-writes", "writes-follow-reads"}
    assert not v.notes and v.counterexample is None


def test_reading_an_unrelated_stale_key_is_allowed() -> None:
    # p2 never saw x=1 (it read nothing of p1), so reading the initial x is causal
    h = history(w(1, "x", 1), w(1, "y", 1), r(2, "x", None), r(2, "y", 1))
    assert check_causal(h).valid is True


def test_valid_siblings_history() -> None:
    h = history(
        w(1, "x", "a", clock={"n1": 1}), w(2, "x", "b", clock={"n2": 1}),
        op(3, "get", "x", out=["a", "b"], meta={"siblings": [
            {"value": "a", "clock": {"n1": 1}}, {"value": "b", "clock": {"n2": 1}}]}),
        w(3, "y", "c", clock={"n3": 1}),
        r(4, "y", "c", clock={"n3": 1}),
        r(4, "x", "d", clock={"n1": 2, "n2": 1}),
    )
    assert check_causal(h).valid is True


# ---------------------------------------------------------------------------------------
# violations


def test_stale_read_through_another_session_is_causal() -> None:
    h = history(w(1, "x", 1, version=1), w(1, "y", 1, version=1),
                r(2, "y", 1, version=1), r(2, "x", None, version=None))
    v = check_causal(h)
    assert v.valid is False
    [a] = v.anomalies
    assert a.type == "causal" and a.ops == (0, 1, 2, 3)
    for part in ("process 1 wrote 1 to key \"x\" (op 0", "causal past",
                 "op 0 -> op 1 (next in process 1) -> op 2 (read what op 1 wrote) -> op 3",
                 "process 2", "nothing (the initial version)"):
        assert part in a.explanation, part
    assert {"causal", "sequential", "linearizable"} <= v.ruled_out
    assert "PRAM" not in v.ruled_out and "read-your-writes" in v.still_possible
    assert [o["id"] for o in v.counterexample["operations"]] == [0, 1, 2, 3]


def test_causality_is_transitive_across_three_sessions() -> None:
    h = history(w(1, "x", 1), w(1, "y", 1), r(2, "y", 1), w(2, "z", 1), r(3, "z", 1),
                r(3, "x", None))
    [a] = check_causal(h).anomalies
    assert a.type == "causal" and a.ops == (0, 1, 2, 3, 4, 5)


def test_a_read_concurrent_with_its_causal_past_is_causal() -> None:
    h = history(w(1, "x", "a", clock={"n1": 1}), w(1, "y", "b", clock={"n1": 1}),
                r(2, "y", "b", clock={"n1": 1}), r(2, "x", "c", clock={"n2": 1}))
    [a] = check_causal(h).anomalies
    assert a.type == "causal" and "concurrent with" in a.explanation


def test_a_write_below_its_causal_past_is_causal() -> None:
    h = history(w(1, "x", 1, version=5), w(1, "y", 1, version=1),
                r(2, "y", 1, version=1), w(2, "x", 2, version=3))
    [a] = check_causal(h).anomalies
    assert a.type == "causal" and a.ops == (0, 1, 2, 3)
    assert "older than 5" in a.explanation and "ordered after" in a.explanation


def test_a_read_from_an_indeterminate_write_brings_its_causal_past() -> None:
    h = history(w(1, "y", 1), w(1, "x", 1, status="info"), r(2, "x", 1), r(2, "y", None))
    [a] = check_causal(h).anomalies
    assert a.type == "causal" and a.ops == (0, 1, 2, 3)


def test_a_causal_cycle() -> None:
    h = history(r(1, "x", 1), w(1, "y", 1), r(2, "y", 1), w(2, "x", 1))
    v = check_causal(h)
    [a] = v.anomalies
    assert a.type == "causal" and set(a.ops) == {0, 1, 2, 3}
    assert "cycle" in a.explanation and "cannot causally precede itself" in a.explanation


def test_session_violations_are_named_by_their_guarantee() -> None:
    cases = {
        "read-your-writes": history(w(1, "x", 1, version=5), r(1, "x", 0, version=3)),
        "monotonic-reads": history(w(2, "x", 1, version=1), w(2, "x", 2, version=2),
                                   r(1, "x", 2, version=2), r(1, "x", 1, version=1)),
        "monotonic-writes": history(w(1, "x", 1, version=5), w(1, "x", 2, version=4)),
        "writes-follow-reads": history(w(2, "x", 1, version=9), r(1, "x", 1, version=9),
                                       w(1, "x", 2, version=4)),
    }
    for guarantee, h in cases.items():
        v = check_causal(h)
        assert [a.type for a in v.anomalies] == [guarantee], guarantee
        assert v.anomalies[0].ops == tuple(o.id for o in h.operations[-2:])
        assert guarantee in v.ruled_out and "causal" in v.ruled_out
        assert guarantee not in v.still_possible


def test_monotonic_reads_is_found_even_when_a_write_already_carried_the_version() -> None:
    # p1 read p2's write (so the frontier names the write), then went back
    h = history(w(2, "x", 1, version=2), r(1, "x", 1, version=2), r(1, "x", 0, version=1))
    assert [a.type for a in check_causal(h).anomalies] == ["monotonic-reads"]


# ---------------------------------------------------------------------------------------
# missing metadata


def test_unidentifiable_reads_are_skipped() -> None:
    # x=1 was written twice, so the read of x cannot be placed: no violation invented
    h = history(w(1, "x", 1), w(3, "x", 1), w(1, "y", 1), r(2, "y", 1), r(2, "x", 7))
    v = check_causal(h)
    assert v.valid is True
    assert any(n.startswith("causal: 1 operation(s) skipped") for n in v.notes)


def test_writes_without_versions_are_not_compared() -> None:
    h = history(w(1, "x", 1), w(1, "y", 1), r(2, "y", 1), w(2, "x", 2))
    v = check_causal(h)
    assert v.valid is True and v.notes


# ---------------------------------------------------------------------------------------
# a single-copy (linearizable) store: always causal and session-consistent

KEYS = ("x", "y")
MODES = ("version", "clock", "dot", "value")


def single_copy(mode: str, steps: list[tuple[int, str, str, str, bool]]) -> History:
    """Three client slots against one copy; an operation takes effect at its
    completion (or, for an ``info`` write, maybe never); a slot whose operation ends
    ``info`` continues as a fresh process."""
    value: dict[str, int | None] = dict.fromkeys(KEYS)
    version = dict.fromkeys(KEYS, 0)
    process = [0, 1, 2]
    pending: dict[int, tuple[str, str, int]] = {}
    rows: list[Row] = []
    counter = 0

    def meta(n: int, reading: bool) -> dict[str, Any]:
        if mode == "version":
            return {"version": n or None}
        if mode == "clock":
            return {"clock": {"n1": n}}
        if mode == "dot":
            if reading:
                return {"siblings": [{"dot": ["n1", n]}] if n else []}
            return {"dot": ["n1", n], "clock": {"n1": n - 1}}
        return {}

    for slot, f, key, outcome, applies in steps:
        p = process[slot]
        if slot not in pending:
            counter += 1
            pending[slot] = (f, key, counter)
            rows.append({"process": p, "type": "invoke", "f": f, "key": key,
                         "value": counter if f == "write" else None})
            continue
        f, key, new = pending.pop(slot)
        if outcome == "info":
            if f == "write" and applies:
                version[key] += 1
                value[key] = new
            rows.append({"process": p, "type": "info", "f": f, "key": key,
                         "value": new if f == "write" else None})
            process[slot] += 3
            continue
        if f == "write":
            version[key] += 1
            value[key] = new
            rows.append({"process": p, "type": "ok", "f": f, "key": key, "value": new,
                         "meta": meta(version[key], False)})
        else:
            rows.append({"process": p, "type": "ok", "f": f, "key": key, "value": value[key],
                         "meta": meta(version[key], True)})
    return history(rows)


single_copy_steps = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(("read", "write")), st.sampled_from(KEYS),
              st.sampled_from(("ok", "ok", "ok", "info")), st.booleans()),
    max_size=40)


@given(st.sampled_from(MODES), single_copy_steps)
def test_a_single_copy_store_is_causal_and_keeps_session_guarantees(
        mode: str, steps: list[Any]) -> None:
    h = single_copy(mode, steps)
    causal = check_causal(h)
    assert causal.valid is True, [a.explanation for a in causal.anomalies]
    sessions = check_sessions(h)
    assert sessions.valid is True, [a.explanation for a in sessions.anomalies]
    if mode in ("version", "clock"):
        # every version is known (reads identify info writes by their full version)
        assert not causal.notes and not sessions.notes


# ---------------------------------------------------------------------------------------
# a last-writer-wins store with asynchronous replication

REPLICAS = ("n1", "n2", "n3")


def lww(steps: list[tuple[str, int, int, str, int]], sticky: bool) -> History:
    data: dict[str, dict[str, tuple[tuple[int, str], int]]] = {n: {} for n in REPLICAS}
    counter = dict.fromkeys(REPLICAS, 0)
    inbox: list[tuple[str, str, tuple[int, str], int]] = []
    rows: list[Row] = []

    def apply(replica: str, key: str, stamp: tuple[int, str], v: int) -> None:
        counter[replica] = max(counter[replica], stamp[0])
        held = data[replica].get(key)
        if held is None or held[0] < stamp:
            data[replica][key] = (stamp, v)

    for n, (action, process, choice, key, pick) in enumerate(steps):
        replica = REPLICAS[process if sticky else choice]
        if action == "write":
            counter[replica] += 1
            stamp = (counter[replica], replica)
            apply(replica, key, stamp, n)
            inbox.extend((m, key, stamp, n) for m in REPLICAS if m != replica)
            rows += w(process, key, n, version=list(stamp))
        elif action == "read":
            held = data[replica].get(key)
            rows += r(process, key, None if held is None else held[1],
                      version=None if held is None else list(held[0]))
        elif inbox:
            apply(*inbox.pop(pick % len(inbox)))
    return history(rows)


lww_steps = st.lists(st.tuples(st.sampled_from(("read", "read", "write", "deliver")),
                               st.integers(0, 2), st.integers(0, 2), st.sampled_from(KEYS),
                               st.integers(0, 50)), min_size=4, max_size=40)


@given(lww_steps)
def test_sticky_lww_violations_are_only_cross_session(steps: list[Any]) -> None:
    v = check_causal(lww(steps, sticky=True))
    assert {a.type for a in v.anomalies} <= {"causal"}


@given(lww_steps)
def test_causal_flags_every_read_the_session_checker_flags(steps: list[Any]) -> None:
    h = lww(steps, sticky=False)
    session_reads = {a.ops[-1] for a in check_sessions(h).anomalies
                     if a.type in ("read-your-writes", "monotonic-reads")}
    causal_ops = {a.ops[-1] for a in check_causal(h).anomalies}
    assert session_reads <= causal_ops


def test_out_of_order_replication_breaks_causality() -> None:
    # p0 writes x then y at n1; y reaches n2 first; p1 reads y then x at n2
    steps = [("write", 0, 0, "x", 0), ("write", 0, 0, "y", 0),
             ("deliver", 0, 0, "x", 2),   # inbox: x->n2, x->n3, y->n2, y->n3: pick y->n2
             ("read", 1, 1, "y", 0), ("read", 1, 1, "x", 0)]
    v = check_causal(lww(steps, sticky=True))
    assert [a.type for a in v.anomalies] == ["causal"]
    assert v.anomalies[0].ops == (0, 1, 2, 3)
