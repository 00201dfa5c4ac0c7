"""The convergence checker: replica snapshots, Merkle roots and lost writes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.convergence import check_convergence, decode_key
from replicheck.histories.history import History, Record, pair
from replicheck.models.merkle import TOKEN_SPACE, MerkleShape, key_token, merkle_root

Row = dict[str, Any]
HALF = TOKEN_SPACE // 2


def op(process: int, f: str, key: Any, value: Any = None, status: str = "ok",
       **meta: Any) -> list[Row]:
    return [
        {"process": process, "type": "invoke", "f": f, "key": key, "value": value},
        {"process": process, "type": status, "f": f, "key": key, "value": value, "meta": meta},
    ]


def w(process: int, key: Any, value: Any, status: str = "ok", **meta: Any) -> list[Row]:
    return op(process, "write", key, value, status, **meta)


def history(*groups: list[Row]) -> History:
    rows = [row for group in groups for row in group]
    return pair([Record(**{**row, "index": i}) for i, row in enumerate(rows)])


def k(key: Any) -> str:
    return json.dumps(key)


def e(value: Any, ts: int, node: str) -> dict[str, Any]:
    return {"value": value, "version": [ts, node]}


def root(entries: dict[str, Any], lo: int = 0, hi: int = TOKEN_SPACE) -> str:
    shape = MerkleShape(fanout=2, depth=2, lo=lo, hi=hi)
    return merkle_root({decode_key(r): v for r, v in entries.items()}, shape).hex()


def snapshot(replicas: dict[str, dict[str, Any]], *, quiescent: bool = True,
             roots: dict[str, dict[str, str]] | None = None, **extra: Any) -> list[Row]:
    if roots is None:
        roots = {n: {"all": root(held)} for n, held in replicas.items()}
    value = {"table": "t", "quiescent": quiescent, "replicas": replicas, "roots": roots, **extra}
    return [{"process": "observer", "type": "observe", "f": "replicas", "value": value}]


def types(verdict: Any) -> list[str]:
    return [a.type for a in verdict.anomalies]


# ---------------------------------------------------------------------------------------
# valid


def test_converged_replicas_holding_every_write_are_valid() -> None:
    x = e(2, 7, "n2")
    h = history(
        w(1, "x", 1, version=[3, "n1"]), w(2, "x", 2, version=[7, "n2"]),
        snapshot({n: {k("x"): x} for n in ("n1", "n2", "n3")}),
    )
    v = check_convergence(h)
    assert v.valid is True, [a.explanation for a in v.anomalies]
    assert v.model == "convergence"
    assert v.consistency == ("convergence", "merkle-root-iff-equal", "anti-entropy-exact")
    assert v.still_possible == {"eventual"} and not v.ruled_out and not v.notes


def test_concurrent_writes_kept_as_siblings_or_merged_are_valid() -> None:
    siblings = {"siblings": [{"value": "a", "clock": {"n1": 1}},
                             {"value": "b", "clock": {"n2": 1}}], "clock": {"n1": 1, "n2": 1}}
    writes = (w(1, "x", "a", clock={"n1": 1}), w(2, "x", "b", clock={"n2": 1}))
    assert check_convergence(history(*writes, snapshot(
        {"n1": {k("x"): siblings}, "n2": {k("x"): siblings}}))).valid is True
    merged = {"value": "c", "clock": {"n1": 2, "n2": 1}}
    assert check_convergence(history(*writes, w(1, "x", "c", clock={"n1": 2, "n2": 1}),
                                     snapshot({"n1": {k("x"): merged},
                                               "n2": {k("x"): merged}}))).valid is True


def test_an_empty_history_and_one_without_snapshots_are_valid() -> None:
    v = check_convergence(history())
    assert v.valid is True and v.consistency == () and "no replicas observation" in v.notes[0]


# ---------------------------------------------------------------------------------------
# divergence


def test_a_replica_missing_a_key_is_divergence() -> None:
    x = e(1, 3, "n1")
    h = history(w(1, "x", 1, version=[3, "n1"]),
                snapshot({"n1": {k("x"): x}, "n2": {k("x"): x}, "n3": {}}))
    v = check_convergence(h)
    assert v.valid is False
    [a] = v.anomalies
    assert a.type == "divergence" and a.ops == (0,)
    for part in ('key "x"', "n1 holds 1 (version [3, \"n1\"])", "n3 holds nothing",
                 "record 2", "table 't'"):
        assert part in a.explanation, part
    assert a.data["guarantees"] == ["convergence", "anti-entropy-exact"]
    assert {"eventual", "linearizable"} <= v.ruled_out and not v.still_possible
    assert v.counterexample["key"] == "x" and v.counterexample["replicas"]["n3"] is None


def test_replicas_with_different_versions_diverge() -> None:
    h = history(snapshot({"n1": {k("x"): e(1, 3, "n1")}, "n2": {k("x"): e(2, 4, "n2")}}))
    [a] = check_convergence(h).anomalies
    assert a.type == "divergence" and a.ops == ()
    assert "n2 holds 2 (version [4, \"n2\"])" in a.explanation


def test_divergence_without_anti_entropy_names_only_convergence() -> None:
    h = history(snapshot({"n1": {k("x"): 1}, "n2": {k("x"): 2}}, roots={}))
    [a] = check_convergence(h).anomalies
    assert a.data["guarantees"] == ["convergence"]


def test_only_the_last_snapshot_of_a_table_is_judged_for_convergence() -> None:
    x = e(1, 3, "n1")
    h = history(snapshot({"n1": {k("x"): x}, "n2": {}}),
                snapshot({"n1": {k("x"): x}, "n2": {k("x"): x}}))
    assert check_convergence(h).valid is True


def test_a_last_snapshot_that_is_not_quiescent_is_not_judged() -> None:
    h = history(w(1, "x", 1, version=[3, "n1"]),
                snapshot({"n1": {k("x"): e(1, 3, "n1")}, "n2": {}}, quiescent=False))
    v = check_convergence(h)
    assert v.valid is True and "not quiescent" in v.notes[0]
    assert v.still_possible == frozenset()


# ---------------------------------------------------------------------------------------
# lost writes


def test_an_acknowledged_write_lost_under_an_older_version() -> None:
    old = e(0, 3, "n2")
    h = history(w(1, "x", 0, version=[3, "n2"]), w(1, "x", 1, version=[5, "n1"]),
                snapshot({"n1": {k("x"): old}, "n2": {k("x"): old}}))
    v = check_convergence(h)
    [a] = v.anomalies
    assert a.type == "lost-write" and a.ops == (1,)
    for part in ("process 1 wrote 1", "op 1", '[5, "n1"]', "no replica holds it"):
        assert part in a.explanation, part
    assert "eventual" in v.ruled_out


def test_a_write_superseded_by_a_later_version_is_not_lost() -> None:
    new = e(1, 5, "n1")
    h = history(w(1, "x", 0, version=[9, "n2"], status="info"), w(2, "x", 0, version=[3, "n2"]),
                w(1, "x", 1, version=[5, "n1"]),
                snapshot({"n1": {k("x"): new}, "n2": {k("x"): new}}))
    assert check_convergence(h).valid is True


def test_a_dropped_concurrent_write_is_a_lost_sibling() -> None:
    only_a = {"siblings": [{"value": "a", "clock": {"n1": 1}}], "clock": {"n1": 1}}
    h = history(w(1, "x", "a", clock={"n1": 1}), w(2, "x", "b", clock={"n2": 1}),
                snapshot({"n1": {k("x"): only_a}, "n2": {k("x"): only_a}}))
    [a] = check_convergence(h).anomalies
    assert a.type == "lost-sibling" and a.ops == (1,)
    assert "no sibling may be lost" in a.explanation and "process 2" in a.explanation


def test_a_lost_delete_brings_the_item_back() -> None:
    old = e(1, 3, "n1")
    h = history(w(1, "x", 1, version=[3, "n1"]), op(2, "delete", "x", version=[4, "n2"]),
                snapshot({"n1": {k("x"): old}, "n2": {k("x"): old}}))
    [a] = check_convergence(h).anomalies
    assert a.type == "lost-write" and a.ops == (1,) and "came back" in a.explanation


def test_a_deleted_key_may_be_absent() -> None:
    h = history(w(1, "x", 1, version=[3, "n1"]), op(2, "delete", "x", version=[4, "n2"]),
                snapshot({"n1": {}, "n2": {}}))
    assert check_convergence(h).valid is True


def test_a_key_held_nowhere_that_nobody_deleted_is_lost_even_without_versions() -> None:
    h = history(w(1, "x", 1), w(1, "y", 2), snapshot({"n1": {k("y"): 2}, "n2": {k("y"): 2}}))
    [a] = check_convergence(h).anomalies
    assert a.type == "lost-write" and a.ops == (0,)


def test_version_less_writes_that_cannot_be_judged_are_skipped() -> None:
    h = history(w(1, "x", 1), w(2, "x", 2), snapshot({"n1": {k("x"): 2}, "n2": {k("x"): 2}}))
    v = check_convergence(h)
    assert v.valid is True
    assert any("1 acknowledged write(s) could not be judged" in n for n in v.notes)


def test_writes_after_the_snapshot_and_failed_writes_are_not_expected() -> None:
    x = e(1, 3, "n1")
    h = history(w(1, "x", 1, version=[3, "n1"]),
                w(2, "x", 9, version=[8, "n2"], status="fail"),
                w(3, "x", 7, version=[6, "n2"], applied=False),
                snapshot({"n1": {k("x"): x}, "n2": {k("x"): x}}),
                w(1, "x", 2, version=[9, "n1"]))
    assert check_convergence(h).valid is True


# ---------------------------------------------------------------------------------------
# Merkle roots


def test_equal_roots_over_different_contents_is_a_merkle_mismatch() -> None:
    x = e(1, 3, "n1")
    h = history(
        snapshot({"n1": {k("x"): x}, "n2": {}}, quiescent=False,
                 roots={"n1": {"all": "ab"}, "n2": {"all": "ab"}}),
        snapshot({"n1": {k("x"): x}, "n2": {k("x"): x}}),
    )
    v = check_convergence(h)
    [a] = v.anomalies
    assert a.type == "merkle-mismatch" and a.ops == ()
    assert "same Merkle root" in a.explanation and 'key(s) "x"' in a.explanation
    assert a.data["guarantees"] == ["merkle-root-iff-equal"] and a.data["index"] == 0
    assert v.ruled_out == frozenset() and v.still_possible == {"eventual"}


def test_different_roots_over_equal_contents_is_a_merkle_mismatch() -> None:
    x = e(1, 3, "n1")
    h = history(snapshot({"n1": {k("x"): x}, "n2": {k("x"): x}},
                         roots={"n1": {"all": "01"}, "n2": {"all": "02"}}))
    [a] = check_convergence(h).anomalies
    assert a.type == "merkle-mismatch" and "different Merkle roots" in a.explanation


def two_ranges() -> dict[str, Any]:
    return {"r0": {"lo": 0, "hi": HALF, "replicas": ["n1", "n2"]},
            "r1": {"lo": HALF, "hi": TOKEN_SPACE, "replicas": ["n2", "n3"]}}


def keys_in(lo: int, hi: int, count: int) -> list[str]:
    out: list[str] = []
    i = 0
    while len(out) < count:
        if lo <= key_token(f"k{i}") < hi:
            out.append(f"k{i}")
        i += 1
    return out


def ring_snapshot(drop: tuple[str, str] | None = None) -> list[Row]:
    (a,), (b,) = keys_in(0, HALF, 1), keys_in(HALF, TOKEN_SPACE, 1)
    held = {"n1": {k(a): 1}, "n2": {k(a): 1, k(b): 2}, "n3": {k(b): 2}}
    if drop is not None:
        del held[drop[0]][k(drop[1])]
    roots = {"n1": {"r0": root({r: v for r, v in held["n1"].items()}, 0, HALF)},
             "n2": {"r0": root({k(a): 1} if k(a) in held["n2"] else {}, 0, HALF),
                    "r1": root({k(b): 2} if k(b) in held["n2"] else {}, HALF, TOKEN_SPACE)},
             "n3": {"r1": root({r: v for r, v in held["n3"].items()}, HALF, TOKEN_SPACE)}}
    return snapshot(held, roots=roots, ranges=two_ranges())


def test_ranges_say_which_nodes_replicate_which_keys() -> None:
    v = check_convergence(history(ring_snapshot()))
    assert v.valid is True, [a.explanation for a in v.anomalies]
    (b,) = keys_in(HALF, TOKEN_SPACE, 1)
    v = check_convergence(history(ring_snapshot(drop=("n3", b))))
    [a] = v.anomalies
    assert a.type == "divergence" and "(range 'r1')" in a.explanation
    assert "n3 holds nothing" in a.explanation and "n1" not in a.explanation


def test_without_ranges_nodes_holding_different_ranges_are_not_compared() -> None:
    h = history(snapshot({"n1": {k("a"): 1}, "n2": {k("b"): 2}},
                         roots={"n1": {"r0": "01"}, "n2": {"r1": "02"}}))
    v = check_convergence(h)
    assert v.valid is True and any("different ranges" in n for n in v.notes)


def test_a_range_given_by_its_keys() -> None:
    ranges = {"r": {"keys": [k("x"), k("y")]}}
    h = history(snapshot({"n1": {k("x"): 1, k("y"): 2}, "n2": {k("x"): 1}},
                         roots={"n1": {"r": "01"}, "n2": {"r": "02"}}, ranges=ranges))
    [a] = check_convergence(h).anomalies
    assert a.type == "divergence" and 'key "y"' in a.explanation


def test_composite_keys_match_between_operations_and_snapshots() -> None:
    key = ["user", 7]
    x = e("v", 3, "n1")
    ok = history(w(1, key, "v", version=[3, "n1"]),
                 snapshot({"n1": {k(key): x}, "n2": {k(key): x}}))
    assert check_convergence(ok).valid is True
    lost = history(w(1, ("user", 7), "v", version=[4, "n1"]),
                   snapshot({"n1": {k(key): x}, "n2": {k(key): x}}))
    assert types(check_convergence(lost)) == ["lost-write"]


def test_a_malformed_snapshot_is_a_note() -> None:
    h = history([{"process": "observer", "type": "observe", "f": "replicas", "value": [1]}])
    v = check_convergence(h)
    assert v.valid is True and "skipped" in v.notes[0]


# ---------------------------------------------------------------------------------------
# a last-writer-wins store, after full anti-entropy

NODES = ("n1", "n2", "n3")
KEYS = ("a", "b", "c", "d")


def lww_run(steps: list[tuple[str, int, str, int]]
            ) -> tuple[list[Row], dict[str, dict[str, Any]]]:
    data: dict[str, dict[str, tuple[tuple[int, str], int]]] = {n: {} for n in NODES}
    counter = dict.fromkeys(NODES, 0)
    inbox: list[tuple[str, str, tuple[int, str], int]] = []
    rows: list[Row] = []

    def apply(node: str, key: str, stamp: tuple[int, str], value: int) -> None:
        counter[node] = max(counter[node], stamp[0])
        held = data[node].get(key)
        if held is None or held[0] < stamp:
            data[node][key] = (stamp, value)

    for i, (action, node_index, key, pick) in enumerate(steps):
        node = NODES[node_index]
        if action == "write":
            counter[node] += 1
            stamp = (counter[node], node)
            apply(node, key, stamp, i)
            inbox.extend((m, key, stamp, i) for m in NODES if m != node)
            rows += w(node_index, key, i, version=list(stamp))
        elif inbox:
            apply(*inbox.pop(pick % len(inbox)))
    # full anti-entropy: every pair of replicas exchanges everything
    for a in NODES:
        for b in NODES:
            for key, (stamp, value) in list(data[a].items()):
                apply(b, key, stamp, value)
    replicas = {n: {k(key): e(v, *stamp) for key, (stamp, v) in held.items()}
                for n, held in data.items()}
    return rows, replicas


def honest(replicas: dict[str, dict[str, Any]]) -> list[Row]:
    ranges = {"r0": {"lo": 0, "hi": HALF}, "r1": {"lo": HALF, "hi": TOKEN_SPACE}}
    roots = {}
    for n, held in replicas.items():
        low = {r: v for r, v in held.items() if key_token(decode_key(r)) < HALF}
        high = {r: v for r, v in held.items() if r not in low}
        roots[n] = {"r0": root(low, 0, HALF), "r1": root(high, HALF, TOKEN_SPACE)}
    return snapshot(replicas, roots=roots, ranges=ranges)


lww_steps = st.lists(st.tuples(st.sampled_from(("write", "deliver")), st.integers(0, 2),
                               st.sampled_from(KEYS), st.integers(0, 30)),
                     min_size=1, max_size=30)


@given(lww_steps)
def test_after_full_anti_entropy_a_lww_store_converges(steps: list[Any]) -> None:
    rows, replicas = lww_run(steps)
    v = check_convergence(history(rows, honest(replicas)))
    assert v.valid is True, [a.explanation for a in v.anomalies]
    assert not v.notes


@given(lww_steps, st.data())
def test_dropping_a_replicas_key_is_always_divergence(steps: list[Any], data: Any) -> None:
    rows, replicas = lww_run(steps)
    held = sorted(replicas["n1"])
    if not held:
        return
    key = data.draw(st.sampled_from(held))
    node = data.draw(st.sampled_from(NODES))
    del replicas[node][key]
    v = check_convergence(history(rows, honest(replicas)))
    assert types(v) == ["divergence"]
    assert v.anomalies[0].data["key"] == decode_key(key)
    assert v.anomalies[0].data["replicas"][node] is None


@given(lww_steps, st.data())
def test_dropping_a_key_everywhere_loses_its_writes(steps: list[Any], data: Any) -> None:
    rows, replicas = lww_run(steps)
    held = sorted(replicas["n1"])
    if not held:
        return
    key = data.draw(st.sampled_from(held))
    for node in NODES:
        del replicas[node][key]
    h = history(rows, honest(replicas))
    v = check_convergence(h)
    writers = {o.id for o in h.operations if json.dumps(o.key) == key}
    assert set(types(v)) == {"lost-write"}
    assert {a.ops[0] for a in v.anomalies} == writers
