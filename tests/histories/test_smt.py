"""The z3-backed checker for read-write registers without unique values: hand-written
anomalies, and agreement with brute-force enumeration on every small history."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replicheck.histories.checkers import smt
from replicheck.histories.checkers.smt import check_smt
from replicheck.histories.history import History, Record, pair
from replicheck.histories.judge import check
from replicheck.models.equality import same_value, value_key

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
    assert "T0 -> T1 -> T0" in v.anomalies[0].explanation or \
        "T1 -> T0 -> T1" in v.anomalies[0].explanation


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


# ------------------------------------------------ the models straight from their definitions
# (docs: txn-models): enumerate every interpretation (which indeterminate transactions
# committed, a version order per key, which write each read saw), build Adya's
# dependency graph and look for each model's forbidden phenomena. Every read but one
# returning the transaction's own last write of the key reads a version. Exponential: for a
# handful of transactions only. It shares nothing with the checker but the history
# reader and same_value / value_key.

EIGHT = ("read-uncommitted", "read-committed", "read-atomic", "repeatable-read",
         "snapshot-isolation", "serializable", "strong-session-serializable",
         "strict-serializable")

# One write: (transaction id, key, value, is it the transaction's last write of the key)
Write = tuple[int, Hashable, Any, bool]


def _mops(h: History, i: int) -> list[list[Any]]:
    op = h.operations[i]
    return list(op.output if op.ok else op.input)


def _cyclic(nodes: Sequence[int], edges: set[tuple[int, int]]) -> bool:
    succ: dict[int, set[int]] = {n: set() for n in nodes}
    for a, b in edges:
        succ[a].add(b)
    state: dict[int, int] = {}

    def visit(n: int) -> bool:
        state[n] = 1
        for m in succ[n]:
            if state.get(m) == 1 or (m not in state and visit(m)):
                return True
        state[n] = 2
        return False

    return any(n not in state and visit(n) for n in nodes)


def _interpretations(h: History) -> Iterator[tuple[list[int], dict[str, Any]]]:
    ops = h.operations
    n = len(ops)
    writes: list[Write] = []
    reads: list[tuple[int, Hashable, Any]] = []
    for i in range(n):
        ms = _mops(h, i)
        own: dict[Any, Any] = {}
        lasts = {value_key(k): j for j, (f, k, _) in enumerate(ms) if f == "w"}
        for j, (f, k, v) in enumerate(ms):
            if f == "w":
                writes.append((i, k, v, lasts[value_key(k)] == j))
                own[value_key(k)] = value_key(v)
            elif ops[i].ok and own.get(value_key(k), reads) != value_key(v):
                reads.append((i, k, v))  # a version read (not its own last write)
    info = [i for i in range(n) if ops[i].indeterminate]
    for extra in itertools.chain.from_iterable(
            itertools.combinations(info, m) for m in range(len(info) + 1)):
        committed = [i for i in range(n) if ops[i].ok or i in extra]
        keys = sorted({value_key(k) for _, k, _, _ in writes}, key=repr)
        installers = {kk: [i for i, k, _, last in writes
                           if last and value_key(k) == kk and i in committed] for kk in keys}
        options = []
        for _, k, v in reads:
            found: list[Write | None] = [w for w in writes if value_key(w[1]) == value_key(k)
                                         and same_value(w[2], v)]
            if v is None:
                found.append(None)
            options.append(found)
        for orders in itertools.product(*(itertools.permutations(installers[kk])
                                          for kk in keys)):
            version = dict(zip(keys, orders, strict=True))
            for choice in itertools.product(*options):
                yield committed, {"version": version, "choice": choice, "reads": reads}


def _internal(h: History, i: int) -> bool:
    current: dict[Any, Any] = {}
    for f, k, v in _mops(h, i):
        kk = value_key(k)
        if f == "r" and kk in current and not same_value(current[kk], v):
            return True
        current[kk] = v
    return False


def allowed(h: History) -> dict[str, bool]:
    """For each of the eight models, whether some interpretation of ``h`` shows none of
    its forbidden phenomena."""
    ops = h.operations
    internal = any(op.ok and _internal(h, op.id) for op in ops)
    out = dict.fromkeys(EIGHT, False)
    written = [(value_key(k), value_key(v)) for op in ops for f, k, v in _mops(h, op.id)
               if f == "w"]
    if any(f == "r" and v is not None and (value_key(k), value_key(v)) not in written
           for op in ops if op.ok for f, k, v in _mops(h, op.id)):
        return out  # a read of a value nobody wrote (even a later one): unexplained
    for committed, it in _interpretations(h):
        live = set(committed)
        version, choice, reads = it["version"], it["choice"], it["reads"]
        ww: set[tuple[int, int]] = set()
        for order in version.values():
            ww.update(itertools.pairwise(order))
        wr: set[tuple[int, int]] = set()
        rw: set[tuple[int, int]] = set()
        g1a = g1b = future = False
        for (t, k, _), w in zip(reads, choice, strict=True):
            order = version.get(value_key(k), ())
            if w is None:
                read_after: int | None = None
            else:
                src, _, _, last = w
                if src == t:
                    future = True
                    read_after = t
                elif src not in live:
                    g1a = True
                    continue
                elif not last:
                    g1b = True
                    continue
                else:
                    wr.add((src, t))
                    read_after = src
            if read_after is None:
                nxt = order[0] if order else None
            else:
                pos = order.index(read_after)
                nxt = order[pos + 1] if pos + 1 < len(order) else None
            if nxt is not None and nxt != t:
                rw.add((t, nxt))
        process: set[tuple[int, int]] = set()
        realtime: set[tuple[int, int]] = set()
        for a in committed:
            for b in committed:
                if a != b and ops[a].ok and ops[a].ret < ops[b].call:  # type: ignore[operator]
                    realtime.add((a, b))
                    if ops[a].process == ops[b].process:
                        process.add((a, b))
        nodes = sorted(live)
        g0 = _cyclic(nodes, ww)
        g1c = _cyclic(nodes, ww | wr)
        g2 = _cyclic(nodes, ww | wr | rw)
        si_cycle = _cyclic(nodes, {(a, c) for a, b in ww | wr for b2, c in rw if b == b2}
                           | ww | wr)
        g2p = _cyclic(nodes, ww | wr | rw | process)
        g2r = _cyclic(nodes, ww | wr | rw | realtime)
        rc = not (g0 or g1a or g1b or g1c)
        ra = rc and not (internal or future)
        holds = {
            "read-uncommitted": not g0,
            "read-committed": rc,
            "read-atomic": ra,
            "repeatable-read": rc and not g2,
            "snapshot-isolation": ra and not si_cycle,
            "serializable": ra and not g2,
            "strong-session-serializable": ra and not g2p,
            "strict-serializable": ra and not g2r,
        }
        for m, ok in holds.items():
            out[m] = out[m] or ok
        if all(out.values()):
            break
    return out


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
def test_every_model_agrees_with_its_definition(h: History) -> None:
    """Each of the eight models, decided over every interpretation, agrees with the
    enumeration of interpretations; ruled_out and still_possible are exactly the
    models that fail and hold (repeatable read under write skew was once valid)."""
    expected = allowed(h)
    v = check_smt(h, consistency=EIGHT)
    assert v.still_possible == {m for m, ok in expected.items() if ok}
    assert v.ruled_out == {m for m, ok in expected.items() if not ok}
    assert v.valid is all(expected.values())


@st.composite
def session_histories(draw: st.DrawFn) -> History:
    """Up to 5 transactions by 2 or 3 processes, each running its transactions one
    after another (an indeterminate one ends its process), interleaved at random; a
    read returns some value written to its key so far, or nil, or (rarely) a value
    nobody wrote: process order, real time, repeated (or, half the time, unique)
    values, aborted and intermediate reads all matter here."""
    processes = draw(st.integers(2, 3))
    plans: dict[int, list[tuple[str, list[Mop]]]] = {p: [] for p in range(processes)}
    unique = iter(range(10, 100)) if draw(st.booleans()) else None  # Elle's workload
    for _ in range(draw(st.integers(2, 5))):
        p = draw(st.integers(0, processes - 1))
        ops = [[f, k, (draw(st.sampled_from([1, 2, 3])) if unique is None else next(unique))
                if f == "w" else None] for f, k, _ in draw(mops)]
        plans[p].append((draw(st.sampled_from(["ok", "ok", "ok", "info", "fail"])), ops))
    written: dict[str, list[Any]] = {"x": [None], "y": [None]}
    rows: list[tuple[int, str, list[Mop], int, int | None]] = []
    clock = 0
    running: dict[int, tuple[str, list[Mop], int]] = {}
    while any(plans.values()) or running:
        choices = [p for p in range(processes) if p in running or plans[p]]
        p = draw(st.sampled_from(choices))
        clock += 1
        if p not in running:
            status, ops = plans[p].pop(0)
            running[p] = (status, ops, clock)
            continue
        status, ops, call = running.pop(p)
        done: list[Mop] = []
        for f, k, v in ops:
            if f == "w":
                written[k].append(v)
                done.append([f, k, v])
            else:
                seen = written[k] + ([4] if draw(st.integers(0, 9)) == 0 else [])
                done.append([f, k, draw(st.sampled_from(seen))])
        rows.append((p, status, done, call, None if status == "info" else clock))
        if status == "info":
            plans[p] = []
    return history(*rows)


@settings(max_examples=200)
@given(st.one_of(session_histories(), small_histories(), snapshot_histories()))
def test_check_decides_each_model_as_defined_and_runs_never_contradict(h: History) -> None:
    """``check`` on an rw-register history: every model decided over every
    interpretation, whichever --consistency is asked (repeatable read, snapshot
    isolation, strong session serializability were once judged on the inferred order
    alone or left "unknown"), and what one run rules out no other run lists as
    possible."""
    expected = allowed(h)
    possible: set[str] = set()
    refuted: set[str] = set()
    for model in EIGHT:
        v = check(h, "rw-register", [model], timeout=None)
        assert v.valid is expected[model], (model, v)
        assert v.still_possible <= {m for m, ok in expected.items() if ok}
        assert v.ruled_out <= {m for m, ok in expected.items() if not ok}
        possible |= v.still_possible
        refuted |= v.ruled_out
    assert not possible & refuted


# ----------------------------------------------------------------------------- limits


def _write_skew_chain(n: int) -> History:
    rows = []
    for i in range(n):
        rows.append((i, "ok", [["r", f"k{i}", None], ["r", f"k{i + 1}", None],
                               ["w", f"k{i}", i]], 0, 1))
    return history(*rows)


def test_the_time_limit_gives_unknown_naming_it() -> None:
    v = check(_write_skew_chain(30), "rw-register", ["repeatable-read"], timeout=1e-9)
    assert v.valid == "unknown"
    assert any("time limit" in n for n in v.notes)
    assert not v.still_possible & v.ruled_out


def test_the_solver_gets_the_time_left() -> None:
    import time as clock

    import z3

    solver = z3.Solver()
    x = z3.Int("x")
    solver.add(x > 0)
    assert smt.run_solver(solver, clock.monotonic() - 1) == ("unknown", "time limit")
    assert smt.run_solver(solver, clock.monotonic() + 60)[0] == "sat"


class _OutOfMemory:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def set(self, *_: Any) -> None:
        pass

    def check(self) -> Any:
        raise self.error


def test_running_out_of_memory_gives_unknown_naming_it() -> None:
    import z3

    for error in (z3.Z3Exception("out of memory"), MemoryError()):
        assert smt.run_solver(_OutOfMemory(error), None) == ("unknown", "memory limit")


def test_running_out_of_memory_while_encoding_is_unknown(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    def broke(*_: Any, **__: Any) -> smt.Solved:
        raise MemoryError

    monkeypatch.setattr(smt, "solve", broke)
    monkeypatch.setattr(smt, "without_solver", broke)
    h = _write_skew_chain(3)
    v = check_smt(h, consistency=("serializable",))
    assert v.valid == "unknown"
    assert any("memory limit" in n for n in v.notes)
