"""A serial order of an item history, and whether it replays.

:func:`serial_order` is a topological order of the dependency graph (completion order
where the graph leaves it open); :func:`replay` says why an order is no serial order of
the history: a read that would see another version, or, when the history is not
complete, a transaction the item model would not apply or answer as it did.
:func:`search_serial_order` tries every topological order (depth first, the preferred
order first, memoized on the transactions done and the state reached) until one
replays: None then proves that none does.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from replicheck.histories.checkers.elle.explain import name
from replicheck.histories.checkers.elle.graph import (
    DATA,
    PROCESS,
    REALTIME,
    SearchTimeout,
    check_deadline,
)
from replicheck.histories.checkers.elle.item_inference import ItemAnalysis, ItemInference
from replicheck.histories.checkers.elle.item_values import ItemId, Vid, describe_vid, show_native
from replicheck.histories.history import INFO
from replicheck.histories.items import TABLES
from replicheck.models.items.errors import StoreError, ValidationError
from replicheck.models.items.operations import Database, apply, empty
from replicheck.models.items.requests import Delete, Get, Put, Response, TransactGet, Update
from replicheck.models.items.values import freeze_item, normalize_item


def serial_order(analysis: ItemAnalysis, forbidden: frozenset[str], deadline: float | None
                  ) -> list[int] | None:
    """A topological order of the members over the edge kinds the models need, or None
    when those edges form a cycle. Where the edges leave the order open, transactions
    come in the order they completed (indeterminate ones last), then were invoked: the
    order most likely to replay what the history leaves unrecorded."""
    kinds = edge_kinds(forbidden)
    graph = analysis.inference.graph
    txns = graph.txns
    n = len(txns)
    succ = graph.adjacency(kinds)
    indegree = [0] * len(succ)
    for nbrs in succ:
        for v in nbrs:
            indegree[v] += 1
    unfinished = max((t.call for t in txns), default=0) + 1

    def key(v: int) -> tuple[int, int, int]:
        if v >= n:
            return (-1, -1, v)  # a real-time barrier: pass through at once
        t = txns[v]
        return (unfinished if t.ret is None else t.ret, t.call, v)

    heap = [key(v) for v in range(len(succ)) if not indegree[v]]
    heapq.heapify(heap)
    order: list[int] = []
    done = 0
    while heap:
        v = heapq.heappop(heap)[2]
        done += 1
        if v < n and graph.member[v]:
            order.append(v)
        for w in succ[v]:
            indegree[w] -= 1
            if not indegree[w]:
                heapq.heappush(heap, key(w))
        if not done & 0xFFFF:
            try:
                check_deadline(deadline)
            except SearchTimeout:
                return None
    return order if done == len(succ) else None


def edge_kinds(forbidden: frozenset[str]) -> int:
    """The edge kinds a serial order must respect when ``forbidden`` anomalies are
    forbidden: data edges, and process or real-time edges for their variants."""
    kinds = DATA
    if any(a.endswith("-process") for a in forbidden):
        kinds |= PROCESS
    if any(a.endswith("-realtime") for a in forbidden):
        kinds |= REALTIME
    return kinds


def search_serial_order(analysis: ItemAnalysis, kinds: int, deadline: float | None
                        ) -> tuple[list[int] | None, int]:
    """A serial order over the edge ``kinds`` that replays (:func:`replay`), and the
    number of search states tried; the order is None when no order of the members
    does, with every indeterminate transaction nobody saw placed anywhere or never.
    Orders are tried depth first, the one :func:`serial_order` prefers first, and a
    state (transactions done, versions and items reached) is tried once. Raises
    :class:`SearchTimeout` past ``deadline``."""
    inf = analysis.inference
    graph = inf.graph
    txns = graph.txns
    n = len(txns)
    succ = graph.adjacency(kinds)
    size = len(succ)
    member = graph.member
    optional = [v < n and not member[v] and txns[v].status == INFO for v in range(size)]
    passing = [v >= n or (not member[v] and not optional[v]) for v in range(size)]
    members = sum(member)
    # The graph's process and real-time edges join members only: an indeterminate
    # transaction placed goes after the members its process ran before it, or that
    # completed before it was invoked.
    after: dict[int, frozenset[int]] = {}
    for v in range(n):
        if optional[v]:
            t = txns[v]
            after[v] = frozenset(u for u in range(n) if member[u] and _before(txns[u], t, kinds))
    db: Database | None = None
    if not inf.complete:
        if not inf.schemas_declared:
            return None, 0
        db = empty(*inf.schemas.values())
    unfinished = max((t.call for t in txns), default=0) + 1

    def rank(v: int) -> tuple[int, int, int]:
        t = txns[v]
        return (unfinished if t.ret is None else t.ret, t.call, v)

    def release(indeg: list[int], done: set[int], v: int) -> None:
        work = [v]
        while work:
            u = work.pop()
            done.add(u)
            for w in succ[u]:
                indeg[w] -= 1
                if not indeg[w] and passing[w]:
                    work.append(w)

    start_indeg = [0] * size
    for nbrs in succ:
        for w in nbrs:
            start_indeg[w] += 1
    start_done: set[int] = set()
    for v in range(size):
        if passing[v] and not start_indeg[v] and v not in start_done:
            release(start_indeg, start_done, v)
    Frame = tuple[tuple[int, ...], frozenset[int], tuple[int, ...],
                  frozenset[tuple[ItemId, Vid]], Database | None]
    stack: list[Frame] = [(tuple(start_indeg), frozenset(start_done), (), frozenset(), db)]
    seen: set[tuple[frozenset[int], frozenset[tuple[ItemId, Vid]], Database | None]] = set()
    tried = 0
    while stack:
        indeg_t, done, order, versions, state = stack.pop()
        if (done, versions, state) in seen:
            continue
        seen.add((done, versions, state))
        tried += 1
        if not tried & 0xFF:
            check_deadline(deadline)
        if sum(member[v] for v in order) == members:
            return list(order), tried
        ready = sorted((v for v in range(n) if not indeg_t[v] and v not in done
                        and not passing[v]), key=rank)
        children: list[Frame] = []
        for v in ready:
            moved = _advance(inf, v, dict(versions), state) if member[v] or (
                optional[v] and after[v] <= done) else None
            for effect in ((moved,) if member[v] else (moved, None)):
                if member[v] and effect is None:
                    continue
                indeg = list(indeg_t)
                now = set(done)
                release(indeg, now, v)
                if effect is None:  # an indeterminate transaction that never happened
                    children.append((tuple(indeg), frozenset(now), order, versions, state))
                else:
                    children.append((tuple(indeg), frozenset(now), (*order, v),
                                     frozenset(effect[0].items()), effect[1]))
        stack.extend(reversed(children))
    return None, tried


def _before(u: Any, t: Any, kinds: int) -> bool:
    """Whether ``u`` must precede ``t`` by process order or real time (as ``kinds``
    asks)."""
    ret = u.ret
    return bool((kinds & REALTIME and ret is not None and ret < t.call)
                or (kinds & PROCESS and u.process == t.process and u.call < t.call))


def _advance(inf: ItemInference, i: int, current: dict[ItemId, Vid], db: Database | None
             ) -> tuple[dict[ItemId, Vid], Database | None] | None:
    """The versions and items after transaction ``i`` runs next, or None when it would
    read another version, or (``db`` given) the item model would not apply it or would
    answer otherwise than it answered."""
    for item, vid in inf.reads.get(i, ()):
        if current.get(item) != vid:
            return None
    for item, vid in inf.writes.get(i, ()):
        current[item] = vid
    if db is None:
        return current, None
    request = inf.requests[i]
    try:
        db, answer = apply(db, request)
    except StoreError:
        return None
    recorded = inf.responses[i]
    if recorded is not None and not _same_answer(request, answer, recorded):
        return None
    return current, db


def _same_answer(request: Any, answer: Response, recorded: Response) -> bool:
    return not isinstance(request, Get | TransactGet | Put | Update | Delete) or (
        _same_item(answer.item, recorded.item)
        and len(answer.items) == len(recorded.items)
        and all(_same_item(a, b) for a, b in zip(answer.items, recorded.items, strict=True)))


def replay(inf: ItemInference, order: Sequence[int]) -> str | None:
    """Why ``order`` is no serial order of the history (None when it is one): over
    versions, and through the item model when the history is not complete."""
    problem = _replay_versions(inf, order)
    if problem is None and not inf.complete:
        problem = _replay_items(inf, order)
    return problem


def _replay_versions(inf: ItemInference, order: Iterable[int]) -> str | None:
    """Run ``order`` over versions: every resolved read must see the version it read
    (the last one written before it in the order), or a description of the first that
    does not."""
    current: dict[ItemId, Vid] = {}
    txns = inf.txns
    for i in order:
        for item, vid in inf.reads.get(i, ()):
            if current.get(item) != vid:
                return (f"in the serial order found, {name(txns[i])} would read "
                        f"{describe_vid(current.get(item), txns)} of {inf.labels[item]}, not "
                        f"{describe_vid(vid, txns)}")
        for item, vid in inf.writes.get(i, ()):
            current[item] = vid
    return None


def _replay_items(inf: ItemInference, order: Iterable[int]) -> str | None:
    """Run ``order`` through the item model (items absent at first): every transaction
    must apply and answer what it answered; a description of the first that does not,
    or None."""
    if not inf.schemas_declared:
        return ("it cannot be replayed through the item model without the tables' key "
                f'schemas (a "{TABLES}" observation record)')
    try:
        db = empty(*inf.schemas.values())
    except ValidationError as error:  # pragma: no cover - schemas_from_json checks names
        return f"the tables are invalid ({error.message})"
    txns = inf.txns
    for i in order:
        request = inf.requests[i]
        try:
            db, answer = apply(db, request)
        except StoreError as error:
            return (f"in the serial order found, {name(txns[i])} would fail with "
                    f"{error.code}")
        recorded = inf.responses[i]
        if recorded is None:
            continue
        if not _same_answer(request, answer, recorded):
            return (f"in the serial order found, {name(txns[i])} would answer "
                    f"{_show_response(answer)}, not {_show_response(recorded)}")
    return None


def _same_item(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    try:
        return freeze_item(normalize_item(a, what=None)) == freeze_item(
            normalize_item(b, what=None))
    except (ValidationError, TypeError, ValueError):  # pragma: no cover - decoded values
        return False


def _show_response(response: Response) -> str:
    if response.items:
        return "[" + ", ".join("nothing" if i is None else show_native(dict(i))
                               for i in response.items) + "]"
    return "nothing" if response.item is None else show_native(dict(response.item))
