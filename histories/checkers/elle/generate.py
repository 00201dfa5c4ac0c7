"""Synthetic list-append histories from simulated stores, for tests and benchmarks.

A few clients run transactions concurrently against an in-memory store of lists, in
simulated time. Each transaction has 1 to ``max_ops`` micro-operations, each a read or
an append on one of ``active_keys`` keys; a key is retired (replaced by a fresh one)
once ``appends_per_key`` appends to it were issued, as in Elle's workload. Appended
values are unique per key.

Two stores:

- ``"serializable"``: each transaction takes effect atomically at a random instant
  between its invocation and its completion, so the history is strictly
  serializable (a serial execution with overlapping, consistent real-time intervals);
- ``"snapshot-isolation"``: a transaction reads from the snapshot of the store taken
  when it is invoked (plus its own appends) and commits when it completes unless a key
  it appends to was committed by another transaction since its snapshot
  (first-committer-wins), in which case it fails. Write skew happens; nothing that
  snapshot isolation forbids does.

With ``info_rate`` a transaction's client may crash at completion: the completion is
``info`` (the transaction committed, or not, at random), and the client continues
under a fresh process id. With ``lag``, the snapshot-isolation store reads from the
snapshot ``lag`` time units before the invocation (a stale, broken store: stale reads
in real time, and long chains of them).
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Literal

from replicheck.histories.checkers.elle.txn import APPEND, READ, TXN
from replicheck.histories.history import History, Record, pair

Store = Literal["serializable", "snapshot-isolation"]


@dataclass
class _Key:
    values: list[Any] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)  # commit time of each element


def list_append_history(n: int, *, store: Store = "snapshot-isolation", clients: int = 10,
                        active_keys: int = 100, appends_per_key: int = 100,
                        max_ops: int = 5, read_fraction: float = 0.5,
                        info_rate: float = 0.0, lag: float = 0.0, seed: int = 0) -> History:
    """A history of ``n`` list-append transactions run by ``clients`` concurrent
    clients against the given simulated store (see the module's description)."""
    rng = random.Random(seed)
    keys: dict[int, _Key] = {}
    active = list(range(active_keys))
    next_key = active_keys
    issued: dict[int, int] = {}
    records: list[tuple[float, int, Record]] = []
    seq = 0

    def record(t: float, process: int, kind: str, value: Any) -> None:
        nonlocal seq
        records.append((t, seq, Record(process, kind, TXN, value)))
        seq += 1

    def new_txn() -> list[list[Any]]:
        nonlocal next_key
        mops: list[list[Any]] = []
        for _ in range(rng.randint(1, max_ops)):
            slot = rng.randrange(len(active))
            k = active[slot]
            if rng.random() < read_fraction:
                mops.append([READ, k, None])
            else:
                c = issued.get(k, 0) + 1
                issued[k] = c
                mops.append([APPEND, k, c])
                if c >= appends_per_key:
                    active[slot] = next_key
                    next_key += 1
        return mops

    def snapshot(k: Any, at: float) -> list[Any]:
        state = keys.get(k)
        if state is None:
            return []
        return state.values[:bisect_right(state.stamps, at)]

    def run(mops: list[list[Any]], at: float) -> list[list[Any]]:
        """Reads from the snapshot at ``at`` plus the transaction's own appends."""
        own: dict[Any, list[Any]] = {}
        out: list[list[Any]] = []
        for f, k, v in mops:
            if f == READ:
                out.append([READ, k, snapshot(k, at) + own.get(k, [])])
            else:
                own.setdefault(k, []).append(v)
                out.append([f, k, v])
        return out

    def commit(mops: list[list[Any]], at: float) -> None:
        for f, k, v in mops:
            if f == APPEND:
                state = keys.setdefault(k, _Key())
                state.values.append(v)
                state.stamps.append(at)

    def conflicts(mops: list[list[Any]], since: float) -> bool:
        for f, k, _ in mops:
            if f == APPEND:
                state = keys.get(k)
                if state is not None and state.stamps and state.stamps[-1] > since:
                    return True
        return False

    # Events: (time, tie, kind, client); kinds: 0 = invoke, 1 = take effect, 2 = complete.
    events: list[tuple[float, int, int, int]] = []
    process_of = list(range(clients))
    next_process = clients
    # client -> (micro-ops, invocation time, completed micro-ops, crashes, applies)
    current: dict[int, tuple[list[list[Any]], float, list[list[Any]] | None, bool, bool]] = {}
    started = 0
    tie = 0

    def schedule(t: float, kind: int, client: int) -> None:
        nonlocal tie
        heapq.heappush(events, (t, tie, kind, client))
        tie += 1

    def blank(mops: list[list[Any]]) -> list[list[Any]]:
        return [[f, k, None if f == READ else v] for f, k, v in mops]

    for c in range(clients):
        schedule(rng.random(), 0, c)
    while events:
        t, _, kind, c = heapq.heappop(events)
        if kind == 0:
            if started >= n:
                continue
            started += 1
            mops = new_txn()
            record(t, process_of[c], "invoke", blank(mops))
            end = t + 1 + rng.random() * 9
            crashes = bool(info_rate) and rng.random() < info_rate
            applies = not crashes or rng.random() < 0.5
            if store == "serializable":
                current[c] = (mops, t, None, crashes, applies)
                schedule(t + rng.random() * (end - t), 1, c)
            else:
                current[c] = (mops, t, run(mops, t - lag), crashes, applies)
            schedule(end, 2, c)
        elif kind == 1:
            mops, t0, _, crashes, applies = current[c]
            effect = run(mops, t)
            if applies:
                commit(mops, t)
            current[c] = (mops, t0, effect, crashes, applies)
        else:
            mops, t0, seen, crashes, applies = current.pop(c)
            assert seen is not None
            done = seen
            committed = applies
            if store == "snapshot-isolation":
                committed = applies and not conflicts(mops, t0)
                if committed:
                    commit(mops, t)
            if crashes:
                record(t, process_of[c], "info", blank(mops))
                process_of[c] = next_process
                next_process += 1
            elif committed:
                record(t, process_of[c], "ok", done)
            else:
                record(t, process_of[c], "fail", blank(mops))
            schedule(t + rng.random(), 0, c)
    records.sort(key=lambda r: (r[0], r[1]))
    return pair(Record(r.process, r.type, r.f, r.value, index=i)
                for i, (_, _, r) in enumerate(records))
