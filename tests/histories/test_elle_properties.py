"""Properties of the Elle checkers over generated histories.

- Transactions executed serially against an in-memory list store, given overlapping but
  consistent real-time intervals, are always strictly serializable, with a witness that
  replays.
- Histories of a simulated snapshot-isolation store never show an anomaly snapshot
  isolation forbids.
- For tiny histories (at most 4 transactions) the list-append verdict under
  serializability is exactly brute force over all serial orders; for rw-register the
  verdict is never wrong when it is not "unknown".
"""

from __future__ import annotations

from itertools import permutations
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.elle import check_list_append, check_rw_register
from replicheck.histories.checkers.elle.build import history
from replicheck.histories.checkers.elle.generate import list_append_history
from replicheck.histories.history import History, Record, pair
from replicheck.models import lattice

A, R, W = "append", "r", "w"
KEYS = ("x", "y", "z")


def replays(h: History, order: tuple[int, ...], *, appending: bool) -> bool:
    """Every committed read of the operations in ``order`` sees the state a serial run
    in that order gives."""
    ops = {op.id: op for op in h.operations}
    state: dict[Any, Any] = {}
    for i in order:
        op = ops[i]
        for f, k, v in op.value:
            if f == R:
                if op.status == "ok" and v != state.get(k, [] if appending else None):
                    return False
            elif appending:
                state.setdefault(k, []).append(v)
            else:
                state[k] = v
    return True


@st.composite
def serial_executions(draw: st.DrawFn) -> History:
    """Transactions run one at a time against a list store; each takes effect at its
    own instant 100*i, inside an interval drawn around it. Some fail (never run), some
    end indeterminate (run or not)."""
    n = draw(st.integers(1, 14))
    state: dict[str, list[int]] = {}
    counter: dict[str, int] = {}
    events: list[tuple[int, int, str, list[list[Any]] | None, int]] = []
    spans: list[tuple[int, int, bool]] = []
    bodies: list[tuple[list[list[Any]], list[list[Any]] | None, str]] = []
    for i in range(n):
        mops: list[list[Any]] = []
        for _ in range(draw(st.integers(1, 4))):
            k = draw(st.sampled_from(KEYS))
            if draw(st.booleans()):
                mops.append([R, k, None])
            else:
                counter[k] = counter.get(k, 0) + 1
                mops.append([A, k, counter[k]])
        fate = draw(st.sampled_from(("ok", "ok", "ok", "ok", "fail", "info-run", "info-lost")))
        done: list[list[Any]] | None = None
        if fate in ("ok", "info-run"):
            done = []
            for f, k, v in mops:
                if f == R:
                    done.append([R, k, list(state.get(k, []))])
                else:
                    state.setdefault(k, []).append(v)
                    done.append([A, k, v])
        at = 100 * i
        spans.append((at - draw(st.integers(1, 250)), at + draw(st.integers(1, 250)),
                      fate.startswith("info")))
        bodies.append((mops, done, "info" if fate.startswith("info") else fate))
    # Processes: a transaction goes to a process whose last one ended before it began
    # (a process after an indeterminate transaction is never reused).
    free: list[tuple[int, int]] = []  # (end, process)
    next_process = 0
    for i in sorted(range(n), key=lambda i: spans[i][0]):
        start, end, crashed = spans[i]
        reuse = [p for p in free if p[0] < start]
        if reuse:
            free.remove(reuse[0])
            process = reuse[0][1]
        else:
            process = next_process
            next_process += 1
        if not crashed:
            free.append((end, process))
        mops, done, status = bodies[i]
        events.append((start, 0, "invoke", [[f, k, None if f == R else v]
                                            for f, k, v in mops], process))
        events.append((end, 1, status, done if status == "ok" else mops, process))
    events.sort(key=lambda e: (e[0], e[1]))
    return pair(Record(p, kind, "txn", value, index=j)
                for j, (_, _, kind, value, p) in enumerate(events))


@given(serial_executions())
def test_serial_executions_are_strictly_serializable(h: History) -> None:
    v = check_list_append(h)
    assert v.valid is True, [a.explanation for a in v.anomalies]
    assert v.anomalies == ()
    assert v.witness is not None
    oks = {op.id for op in h.operations if op.ok}
    assert oks <= set(v.witness)
    assert not {op.id for op in h.operations if op.failed} & set(v.witness)
    assert replays(h, v.witness, appending=True)


@given(n=st.integers(1, 60), clients=st.integers(1, 6), keys=st.integers(1, 5),
       per_key=st.integers(2, 12), info=st.sampled_from((0.0, 0.15)),
       seed=st.integers(0, 2**16))
def test_snapshot_isolation_store_shows_nothing_snapshot_isolation_forbids(
        n: int, clients: int, keys: int, per_key: int, info: float, seed: int) -> None:
    h = list_append_history(n, store="snapshot-isolation", clients=clients,
                            active_keys=keys, appends_per_key=per_key, max_ops=4,
                            info_rate=info, seed=seed)
    v = check_list_append(h, consistency=("snapshot-isolation",))
    forbidden = lattice.forbidden_by("snapshot-isolation")
    assert not [a.explanation for a in v.anomalies if a.type in forbidden]
    assert v.valid is True


@given(n=st.integers(1, 80), clients=st.integers(1, 8), keys=st.integers(1, 6),
       info=st.sampled_from((0.0, 0.15)), seed=st.integers(0, 2**16))
def test_serializable_store_is_strictly_serializable(
        n: int, clients: int, keys: int, info: float, seed: int) -> None:
    h = list_append_history(n, store="serializable", clients=clients, active_keys=keys,
                            appends_per_key=8, max_ops=4, info_rate=info, seed=seed)
    v = check_list_append(h)
    assert v.valid is True, [a.explanation for a in v.anomalies]
    assert v.witness is not None and replays(h, v.witness, appending=True)


@st.composite
def tiny_list_append(draw: st.DrawFn) -> History:
    """Up to 4 committed transactions over two keys; every read is a prefix of one
    drawn order of each key's appends (so versions are always recoverable, and
    anything goes: the reads may or may not fit a serial order)."""
    n = draw(st.integers(1, 4))
    counter: dict[str, int] = {}
    shapes: list[list[tuple[str, str, int | None]]] = []
    for _ in range(n):
        mops: list[tuple[str, str, int | None]] = []
        for _ in range(draw(st.integers(1, 3))):
            k = draw(st.sampled_from(KEYS[:2]))
            if draw(st.booleans()):
                mops.append((R, k, None))
            else:
                counter[k] = counter.get(k, 0) + 1
                mops.append((A, k, counter[k]))
        shapes.append(mops)
    orders = {k: draw(st.permutations(range(1, c + 1))) for k, c in counter.items()}
    events: list[tuple[str, int, list[list[Any]]]] = []
    for p, mops in enumerate(shapes):
        done: list[list[Any]] = []
        for f, k, v in mops:
            if f == R:
                order = orders.get(k, [])
                done.append([R, k, list(order[:draw(st.integers(0, len(order)))])])
            else:
                done.append([A, k, v])
        events += [("invoke", p, done), ("ok", p, done)]
    return history(events)


@st.composite
def tiny_rw_register(draw: st.DrawFn) -> History:
    """Up to 4 committed transactions over two registers, writes unique per key,
    reads of any value written to the key (or nil)."""
    n = draw(st.integers(1, 4))
    counter: dict[str, int] = {}
    shapes: list[list[tuple[str, str, int | None]]] = []
    for _ in range(n):
        mops: list[tuple[str, str, int | None]] = []
        for _ in range(draw(st.integers(1, 3))):
            k = draw(st.sampled_from(KEYS[:2]))
            if draw(st.booleans()):
                mops.append((R, k, None))
            else:
                counter[k] = counter.get(k, 0) + 1
                mops.append((W, k, counter[k]))
        shapes.append(mops)
    events: list[tuple[str, int, list[list[Any]]]] = []
    for p, mops in enumerate(shapes):
        done = [[f, k, draw(st.sampled_from([None, *range(1, counter.get(k, 0) + 1)]))
                 if f == R else v] for f, k, v in mops]
        events += [("invoke", p, done), ("ok", p, done)]
    return history(events)


def serializable_by_brute_force(h: History, *, appending: bool) -> bool:
    return any(replays(h, order, appending=appending)
               for order in permutations(op.id for op in h.operations))


@given(tiny_list_append())
def test_tiny_list_append_verdict_is_brute_force(h: History) -> None:
    v = check_list_append(h, consistency=("serializable",))
    expected = serializable_by_brute_force(h, appending=True)
    assert v.valid is expected, [a.explanation for a in v.anomalies]
    if expected:
        assert v.witness is not None and replays(h, v.witness, appending=True)


@given(tiny_rw_register())
def test_tiny_rw_register_verdict_is_brute_force(h: History) -> None:
    v = check_rw_register(h, consistency=("serializable",))
    expected = serializable_by_brute_force(h, appending=False)
    assert v.valid is expected, [a.explanation for a in v.anomalies]
    if expected:
        assert v.witness is not None and replays(h, v.witness, appending=False)


@given(st.one_of(tiny_list_append().map(lambda h: (h, check_list_append)),
                 tiny_rw_register().map(lambda h: (h, check_rw_register))))
def test_runs_with_different_models_never_contradict(case: tuple[History, Any]) -> None:
    """What one run rules out no run lists as possible, and each run's validity is
    what every run says of its model: all eight are decided each time."""
    h, run = case
    verdicts = {m: run(h, consistency=(m,)) for m in lattice.TRANSACTIONAL}
    possible = set().union(*(v.still_possible for v in verdicts.values()))
    refuted = set().union(*(v.ruled_out for v in verdicts.values()))
    assert not possible & refuted
    for m, v in verdicts.items():
        assert v.valid is (m in possible)
        assert v.valid is not (m in refuted)
