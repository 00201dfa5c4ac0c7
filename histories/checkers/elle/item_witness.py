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
from replicheck.models.items.operations import (
    Database,
    apply,
    apply_within,
    empty,
    outcome,
    touched,
)
from replicheck.models.items.requests import (
    Delete,
    Get,
    Put,
    Response,
    TransactGet,
    TransactWrite,
    Update,
)
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
                        ) -> tuple[list[int] | None, int, tuple[int, ...]]:
    """A serial order over the edge ``kinds`` that replays (:func:`replay`), the
    number of search states tried, and the members of the part without one; the order
    is None when no order of the members does, with every indeterminate transaction
    nobody saw placed anywhere or never.

    Transactions touching disjoint items (and client tokens) are searched apart unless
    ``kinds`` has process edges without real-time ones (session order is no local
    property): with data edges alone their orders concatenate, and with real-time
    edges they merge into one order respecting real time (strict serializability is
    local, as linearizability is: Herlihy & Wing). In each part orders are tried depth
    first, the completion order first, and a state (transactions done, versions and
    items reached) is tried once. Raises :class:`SearchTimeout` past ``deadline``."""
    inf = analysis.inference
    graph = inf.graph
    txns = graph.txns
    member = graph.member
    db: Database | None = None
    if not inf.complete:
        if not inf.schemas_declared:
            return None, 0, ()
        db = empty(*inf.schemas.values())
    failed = explained_failures(inf) if db is not None else ()
    nodes = [v for v in range(len(txns))
             if member[v] or txns[v].status == INFO or v in failed]
    data_pred: dict[int, set[int]] = {v: set() for v in nodes}
    for u, nbrs in enumerate(graph.adjacency(DATA)):
        if member[u]:
            for w in nbrs:
                if w in data_pred:
                    data_pred[w].add(u)
    local = bool(kinds & REALTIME or not kinds & PROCESS)
    groups = _groups(inf, db, nodes, data_pred) if local else [nodes]
    orders: list[list[int]] = []
    tried = 0
    for group in groups:
        order, count = _search_group(inf, group, data_pred, kinds, db, deadline)
        tried += count
        if order is None:
            return None, tried, tuple(v for v in group if member[v] or v in failed)
        orders.append(order)
    if len(orders) == 1:
        return orders[0], tried, ()
    merged = _merge(orders, txns, kinds)
    if merged is None:  # pragma: no cover - locality says the parts always merge
        order, count = _search_group(inf, nodes, data_pred, kinds, db, deadline)
        part = () if order is not None else tuple(v for v in nodes if member[v])
        return order, tried + count, part
    return merged, tried, ()


def _groups(inf: ItemInference, db: Database | None, nodes: Sequence[int],
            data_pred: Mapping[int, set[int]]) -> list[list[int]]:
    """``nodes`` split into parts that share no item, client token or data edge."""
    parent = {v: v for v in nodes}

    def find(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    def join(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    owner: dict[Any, int] = {}
    for v in nodes:
        request = inf.requests[v]
        marks: set[Any] = {("item", item) for item, _ in inf.reads.get(v, ())}
        marks |= {("item", item) for item, _ in inf.writes.get(v, ())}
        if db is not None:
            try:
                marks |= {("key", t) for t in touched(db, request)}
            except ValidationError:
                marks.add(("invalid",))
        if isinstance(request, TransactWrite) and request.token is not None:
            marks.add(("token", request.token))
        for mark in marks:
            if mark in owner:
                join(v, owner[mark])
            else:
                owner[mark] = v
        for u in data_pred[v]:
            join(u, v)
    out: dict[int, list[int]] = {}
    for v in nodes:
        out.setdefault(find(v), []).append(v)
    return list(out.values())


def _search_group(inf: ItemInference, group: Sequence[int],
                  data_pred: Mapping[int, set[int]], kinds: int, db: Database | None,
                  deadline: float | None) -> tuple[list[int] | None, int]:
    """Depth-first search for an order of ``group`` that replays (see
    :func:`search_serial_order`).

    Two reductions keep it small, neither losing an order: an indeterminate
    transaction nobody saw is simply never placed when it never happened (it orders
    nothing, so the state without it can do all that the state with it left out can),
    and is not placed where it changes nothing; a failure the item model must explain
    (:func:`explained_failures`) is placed, as an observation that changes nothing, as
    soon as its predecessors (by ``kinds``) are placed and the state reached gives it
    (placing it later could only hold back what must follow it)."""
    txns = _timed(inf)
    member = inf.graph.member
    failed = frozenset(explained_failures(inf)) & set(group) if db is not None else frozenset()
    group = [v for v in group if v not in failed]  # observations, placed by explain()
    inside = set(group)
    members = [u for u in group if member[u]]
    ordered = [*members, *sorted(failed)]
    pred: dict[int, frozenset[int]] = {}
    for v in (*group, *failed):
        check_deadline(deadline)
        t = txns[v]
        pred[v] = frozenset(u for u in data_pred.get(v, ()) if u in inside) | frozenset(
            u for u in ordered if u != v and _before(txns[u], t, kinds))
    unfinished = max((t.call for t in txns), default=0) + 1

    def rank(v: int) -> tuple[int, int, int]:
        t = txns[v]
        return (unfinished if t.ret is None else t.ret, t.call, v)

    ranked = sorted(group, key=rank)
    wanted = len(members)
    reached: dict[tuple[int, Database], tuple[Database, ...]] = {}
    answers: dict[tuple[int, Database], bool] = {}

    def explain(done: frozenset[int], explained: frozenset[int], state: Database | None
                ) -> tuple[frozenset[int], frozenset[int]]:
        if state is None or explained == failed:
            return done, explained
        grew = True
        while grew:
            grew = False
            for v in sorted(failed - explained):
                if pred[v] <= done and _gives_failure(inf, v, state, answers):
                    done, explained, grew = done | {v}, explained | {v}, True
        return done, explained

    Frame = tuple[frozenset[int], tuple[int, ...], int, frozenset[tuple[ItemId, Vid]],
                  Database | None, frozenset[int]]
    done0, explained0 = explain(frozenset(), frozenset(), db)
    stack: list[Frame] = [(done0, (), 0, frozenset(), db, explained0)]
    seen: set[tuple[frozenset[int], frozenset[tuple[ItemId, Vid]], Database | None]] = set()
    tried = 0
    while stack:
        done, order, placed, versions, state, explained = stack.pop()
        if (done, versions, state) in seen:
            continue
        seen.add((done, versions, state))
        tried += 1
        if not tried & 0xFF:
            check_deadline(deadline)
        if placed == wanted and explained == failed:
            return list(order), tried
        children: list[Frame] = []
        for v in ranked:
            if v in done or not pred[v] <= done:
                continue
            for moved in _advance(inf, v, dict(versions), state, reached):
                after = frozenset(moved[0].items())
                if not member[v] and after == versions and moved[1] == state:
                    continue  # changes nothing: the state without it does as much
                now, now_explained = explain(done | {v}, explained, moved[1])
                children.append((now, (*order, v), placed + member[v], after, moved[1],
                                 now_explained))
        stack.extend(reversed(children))
    return None, tried


def explained_failures(inf: ItemInference) -> tuple[int, ...]:
    """The transactions answered with a failure the item model itself gives, which a
    serial order must explain: a TransactWrite cancelled for failed conditions only
    (reasons ``None`` / ``ConditionalCheckFailed``), or answered
    IdempotentParameterMismatch. Such a transaction applied nothing, and the answer
    says what the state was when it ran: some point of the serial order (before or
    after any transaction: it writes nothing) must be one where the model answers it
    with that error (a same-token retry of a committed transaction, for one, is
    answered as the first was: never cancelled). A cancellation for a conflict, a
    throttle or a timeout is the store's own matter, not the model's; so is a mismatch
    when any other request of the history (whatever its outcome: a store may refuse
    a token another request holds while that one is still running) uses its token."""
    from replicheck.models.items.operations import fingerprint

    bodies: dict[str, set[Any]] = {}
    for request in inf.requests:
        if isinstance(request, TransactWrite) and request.token is not None:
            bodies.setdefault(request.token, set()).add(fingerprint(request))
    out = []
    for v, failure in enumerate(inf.failures):
        request = inf.requests[v]
        if failure is None or not isinstance(request, TransactWrite):
            continue
        if failure.code == "IdempotentParameterMismatch":
            if request.token is None or len(bodies.get(request.token, ())) <= 1:
                out.append(v)
        elif (failure.code == "TransactionCanceled" and failure.reasons
              and set(failure.reasons) <= {"None", "ConditionalCheckFailed"}):
            out.append(v)
    return tuple(out)


def _gives_failure(inf: ItemInference, v: int, db: Database,
                   memo: dict[tuple[int, Database], bool] | None = None) -> bool:
    """Whether the item model, in state ``db``, answers transaction ``v`` with the code
    of its recorded failure (kept in ``memo`` by transaction and state)."""
    known = memo.get((v, db)) if memo is not None else None
    if known is None:
        known = _fails_so(db, inf.requests[v], inf.failures[v])
        if memo is not None:
            memo[(v, db)] = known
    return known


def _fails_so(db: Database, request: Any, failure: Any) -> bool:
    """Whether the item model, in state ``db``, answers ``request`` with the code of
    ``failure``. The reasons of a cancellation are not compared: a store may evaluate
    the actions of one transaction on different partitions at different moments, so
    the reasons need not all come from one state; that some state cancels it is what
    its answer promises."""
    try:
        apply(db, request)
    except StoreError as error:
        return bool(error.code == failure.code)
    return False


def _merge(orders: Sequence[Sequence[int]], txns: Sequence[Any], kinds: int
           ) -> list[int] | None:
    """One order holding each of ``orders`` as a subsequence and, with real-time edges,
    placing a transaction only after every one (of any part) that completed before it
    was invoked; None if none is found."""
    if not kinds & REALTIME:
        return [v for order in orders for v in order]
    by_ret = sorted((v for order in orders for v in order if txns[v].ret is not None),
                    key=lambda v: txns[v].ret)
    placed: set[int] = set()
    heads = [0] * len(orders)
    first = 0
    out: list[int] = []
    total = sum(len(o) for o in orders)
    while len(out) < total:
        while first < len(by_ret) and by_ret[first] in placed:
            first += 1
        bound = txns[by_ret[first]].ret if first < len(by_ret) else None
        ready = [i for i, order in enumerate(orders) if heads[i] < len(order)
                 and (bound is None or bound >= txns[order[heads[i]]].call)]
        if not ready:
            return None
        i = min(ready, key=lambda i: (txns[orders[i][heads[i]]].ret is None,
                                      txns[orders[i][heads[i]]].ret or 0,
                                      txns[orders[i][heads[i]]].call))
        v = orders[i][heads[i]]
        heads[i] += 1
        placed.add(v)
        out.append(v)
    return out


def _timed(inf: ItemInference) -> list[Any]:
    """The transactions, a failed one with its completion (its ``Txn.ret`` is None: it
    is no member of the graph) so real time can place the failure's explanation."""
    ends = inf.failed_returns
    return [t._replace(ret=ends[v]) if v < len(ends) and ends[v] is not None else t
            for v, t in enumerate(inf.graph.txns)]


def _before(u: Any, t: Any, kinds: int) -> bool:
    """Whether ``u`` must precede ``t`` by process order or real time (as ``kinds``
    asks)."""
    ret = u.ret
    return bool((kinds & REALTIME and ret is not None and ret < t.call)
                or (kinds & PROCESS and u.process == t.process and u.call < t.call))


def _advance(inf: ItemInference, i: int, current: dict[ItemId, Vid], db: Database | None,
             memo: dict[tuple[int, Database], tuple[Database, ...]]
             ) -> list[tuple[dict[ItemId, Vid], Database | None]]:
    """The versions and items after transaction ``i`` runs next, one pair per outcome
    the item model allows (two where a client token may be remembered or forgotten:
    :func:`outcomes`); none when it would read another version, or (``db`` given) the
    item model would not apply it or would answer otherwise than it answered. The
    items reached are kept in ``memo`` by transaction and state."""
    for item, vid in inf.reads.get(i, ()):
        if current.get(item) != vid:
            return []
    for item, vid in inf.writes.get(i, ()):
        current[item] = vid
    if db is None:
        return [(current, None)]
    reached = memo.get((i, db))
    if reached is None:
        request = inf.requests[i]
        recorded = inf.responses[i]
        reached = memo[(i, db)] = tuple(
            after for after, answer in outcomes(inf, i, db)
            if not isinstance(answer, StoreError)
            and (recorded is None or _same_answer(request, answer, recorded)))
    return [(current, after) for after in reached]


def outcomes(inf: ItemInference, i: int, db: Database
             ) -> tuple[tuple[Database, Response | StoreError], ...]:
    """What the item model allows transaction ``i`` to do from ``db``: with the
    store's token window and the transaction's span known, every outcome for some
    instant of its span (``apply_within``); else the one outcome at time 0 (tokens
    never forgotten)."""
    request = inf.requests[i]
    span = inf.spans[i] if i < len(inf.spans) else None
    if inf.token_window is None or span is None:
        return (outcome(db, request),)
    return apply_within(db, request, span, inf.token_window)


def _same_answer(request: Any, answer: Response, recorded: Response) -> bool:
    return not isinstance(request, Get | TransactGet | Put | Update | Delete) or (
        _same_item(answer.item, recorded.item)
        and len(answer.items) == len(recorded.items)
        and all(_same_item(a, b) for a, b in zip(answer.items, recorded.items, strict=True)))


def replay(inf: ItemInference, order: Sequence[int], kinds: int = DATA) -> str | None:
    """Why ``order`` is no serial order of the history (None when it is one): over
    versions, and through the item model when the history is not complete, each
    failure it must explain answered so at some point the edge ``kinds`` allow it."""
    problem = _replay_versions(inf, order)
    if problem is None and not inf.complete:
        problem = _replay_items(inf, order, kinds)
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


def _replay_items(inf: ItemInference, order: Sequence[int], kinds: int) -> str | None:
    """Run ``order`` through the item model (items absent at first): every transaction
    must apply and answer what it answered, under some choice of the outcomes the
    model allows (:func:`outcomes`), and every failure it must explain
    (:func:`explained_failures`) must be answered so in a state between the
    transactions the edge ``kinds`` put before it and those they put after it
    (:func:`_failure_points`); a description of the first that does not, or None."""
    if not inf.schemas_declared:
        return ("it cannot be replayed through the item model without the tables' key "
                f'schemas (a "{TABLES}" observation record)')
    try:
        db = empty(*inf.schemas.values())
    except ValidationError as error:  # pragma: no cover - schemas_from_json checks names
        return f"the tables are invalid ({error.message})"
    txns = inf.txns
    states = [db]
    reached_at = [states]
    for i in order:
        request = inf.requests[i]
        recorded = inf.responses[i]
        reached: list[Database] = []
        first: Response | StoreError | None = None
        for state in states:
            for after, answer in outcomes(inf, i, state):
                first = answer if first is None else first
                if not isinstance(answer, StoreError) and after not in reached and (
                        recorded is None or _same_answer(request, answer, recorded)):
                    reached.append(after)
        if not reached:
            if isinstance(first, StoreError):
                return (f"in the serial order found, {name(txns[i])} would fail with "
                        f"{first.code}")
            assert isinstance(first, Response) and recorded is not None
            return (f"in the serial order found, {name(txns[i])} would answer "
                    f"{_show_response(first)}, not {_show_response(recorded)}")
        states = reached
        reached_at.append(reached)
    points = _failure_points(inf, order, kinds, reached_at)
    for v, point in points.items():
        if point is None:
            return (f"at no point of the serial order found does the item model answer "
                    f"{name(txns[v])} with {inf.failures[v].code}, as it was answered")
    return None


def _failure_points(inf: ItemInference, order: Sequence[int], kinds: int,
                    reached_at: Sequence[Sequence[Database]]) -> dict[int, int | None]:
    """For each failure the history must explain, the first point of ``order`` (the
    number of its transactions before it) where the item model gives that failure in
    a state reached there (``reached_at[k]``: the states after ``k`` transactions),
    after every transaction and earlier-placed failure the edge ``kinds`` put before
    it and before every transaction they put after it; None where there is none.
    Failures go in invocation order, each at its first such point: a failure placed
    as early as it can be leaves the most room to those that must follow it."""
    txns = _timed(inf)
    position = {v: k for k, v in enumerate(order)}
    points: dict[int, int | None] = {}
    for v in sorted(explained_failures(inf), key=lambda v: txns[v].call):
        t = txns[v]
        low = max([0, *(position[u] + 1 for u in order if _before(txns[u], t, kinds)),
                   *(p for u, p in points.items()
                     if p is not None and _before(txns[u], t, kinds))])
        high = min((position[u] for u in order if _before(t, txns[u], kinds)),
                   default=len(order))
        points[v] = next((k for k in range(low, high + 1)
                          if any(_gives_failure(inf, v, state) for state in reached_at[k])),
                         None)
    return points


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
