"""The dependency graph over transactions, and the search for its cycles.

Nodes are transactions (their index among the history's transactions); only
*members* take part: committed (``ok``) transactions and indeterminate (``info``) ones
whose writes were observed (then they committed). Edges have a kind:

- ``ww`` (write-write): the source installed a version, the target a later one;
- ``wr`` (write-read): the target read what the source wrote;
- ``rw`` (anti-dependency): the source read a version, the target installed a later
  one;
- ``process``: the same process ran the source, then the target;
- ``realtime``: the source completed before the target was invoked.

A data edge carries its *reason*: the key and the two values that justify it (for
explanations). Between two transactions there may be several kinds at once.

Scale. Python objects per edge are the cost that matters, so the whole graph is kept
as plain tuples and int adjacency lists, and networkx is used only where graphs are
small: the strongly connected components are found first with an iterative Tarjan
over int lists (linear time); each non-trivial component then becomes a
``networkx.DiGraph`` with edge attributes ``kinds`` (a bit mask of ``KINDS``) and
``why`` (kind -> reason), in which cycles are searched. (Building a networkx graph of
all of a 100 000-transaction history costs seconds by itself; the components of a
healthy history are empty or tiny.)

Real time. Every committed transaction precedes every transaction invoked after it
completed: O(n²) pairs. For the whole graph, reachability is what matters, so real
time is encoded with *barrier* nodes (ids from ``len(txns)`` on): a transaction points
to the barrier of the run of completions it belongs to, barriers form a chain in time
order, and each barrier points to the transactions invoked after it — about three
edges per transaction, and ``a`` reaches ``b`` through barriers exactly when ``a``
completed before ``b`` was invoked. Inside a component, real-time edges are
materialized as Elle does: the transitive reduction computed with a frontier of
completed transactions (:meth:`DependencyGraph.realtime_pairs`). Process order is
contained in real time (a process runs one operation at a time), so it adds no
reachability and is materialized only inside components.

The cycle search (:func:`shortest_cycle`): restrict a component to the edge kinds a
class of anomaly may use, split it into strongly connected components again, and for
each candidate first edge ``u -> v`` of the required kind, a breadth-first search from
``v`` back to ``u`` over the other allowed kinds gives the shortest cycle through that
edge. When the first kind is not among the other allowed kinds (``G-single``: one
``rw``, then ``ww``/``wr`` only), candidates are first filtered exactly with reachability
bit sets over the condensation, so a breadth-first search is only started from edges
known to close a cycle.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import networkx as nx

from replicheck.histories.checkers.elle.txn import Txn, Workload

WW: Final = 1
"""Write-write dependency."""
WR: Final = 2
"""Write-read dependency."""
RW: Final = 4
"""Read-write anti-dependency."""
PROCESS: Final = 8
"""Process order."""
REALTIME: Final = 16
"""Real-time order."""
DATA: Final = WW | WR | RW
"""The data dependencies."""
ALL: Final = DATA | PROCESS | REALTIME
"""Every kind of edge."""

KIND_NAMES: Final[dict[int, str]] = {
    WW: "ww", WR: "wr", RW: "rw", PROCESS: "process", REALTIME: "realtime",
}
"""The name of each edge kind."""
KINDS: Final = (WW, WR, RW, PROCESS, REALTIME)
"""The edge kinds, in the order explanations prefer them."""

Reason = tuple[Hashable, Any, Any]
"""Why an edge exists: ``(key, from_value, to_value)``. For ``ww``: the values the
source and the target wrote; ``wr``: the value written and the value read (for
list-append, the list read); ``rw``: the value read by the source (``None`` for the
initial state; for list-append, the list read) and the value the target wrote;
``process``: ``(None, process, None)``; ``realtime``: ``(None, completion index of the
source, invocation index of the target)``."""

RawEdge = tuple[int, int, int, Hashable, Any, Any]


class Edge(NamedTuple):
    """One edge of the dependency graph: transaction indexes ``src`` and ``dst``, its
    ``kind`` (one of ``KINDS``) and its reason (see :data:`Reason`)."""

    src: int
    dst: int
    kind: int
    key: Hashable
    value: Any
    value2: Any


class SearchTimeout(Exception):
    """The deadline passed during a search."""


def check_deadline(deadline: float | None) -> None:
    """Raise :class:`SearchTimeout` when ``deadline`` (a ``time.monotonic`` instant)
    has passed."""
    if deadline is not None and time.monotonic() > deadline:
        raise SearchTimeout


def realtime_reduction(txns: Sequence[Txn], nodes: Iterable[int]) -> list[tuple[int, int]]:
    """The transitive reduction of real-time order among ``nodes`` (indexes into
    ``txns``): ``a -> b`` when ``a`` completed before ``b`` was invoked and no third
    transaction among ``nodes`` lies between them. Linear in the events, after sorting
    them; at equal indexes (which a well-formed history never has) nothing is taken to
    precede anything."""
    events: list[tuple[int, int, int]] = []  # (index, 0 invocation / 1 completion, txn)
    for i in nodes:
        t = txns[i]
        events.append((t.call, 0, i))
        if t.ret is not None:
            events.append((t.ret, 1, i))
    events.sort()
    frontier: set[int] = set()
    preds: dict[int, frozenset[int]] = {}
    out: list[tuple[int, int]] = []
    for _, completion, i in events:
        if not completion:
            seen = frozenset(frontier)
            preds[i] = seen
            out.extend((j, i) for j in sorted(seen))
        else:
            frontier -= preds.get(i, frozenset())
            frontier.add(i)
    return out


def shortest_cycle_within(g: nx.DiGraph[Any], nodes: set[Any]) -> list[Any]:
    """A shortest cycle of ``g`` inside ``nodes`` (one strongly connected component
    with a cycle), as the list of its nodes, ties broken by the nodes' repr."""
    sub = g.subgraph(nodes)
    best: list[Any] | None = None
    for start in sorted(nodes, key=repr):
        for pred in sub.predecessors(start):
            path: list[Any] = nx.shortest_path(sub, start, pred)
            if best is None or len(path) < len(best):
                best = path
    assert best is not None
    return best


class DependencyGraph:
    """The dependency graph of one history.

    ``txns`` are all of the history's transactions; ``member[i]`` says whether
    transaction ``i`` is a node (committed, or indeterminate with an observed write).
    ``edges`` holds the data edges (``ww``, ``wr``, ``rw``) as raw tuples
    ``(src, dst, kind, key, value, value2)``, possibly repeated for several reasons;
    process and real-time edges are derived on demand from the transactions.
    The graph is data for other deciders to build on (e.g. an SMT encoding of the
    ambiguous version orders)."""

    def __init__(self, txns: Sequence[Txn], workload: Workload) -> None:
        self.txns: tuple[Txn, ...] = tuple(txns)
        self.workload: Workload = workload
        self.member: list[bool] = [t.status == "ok" for t in self.txns]
        self.edges: list[RawEdge] = []

    def add(self, src: int, dst: int, kind: int, key: Hashable, value: Any, value2: Any
            ) -> None:
        """Add a data edge with its reason (a self-edge is ignored)."""
        if src != dst:
            self.edges.append((src, dst, kind, key, value, value2))

    @property
    def nodes(self) -> tuple[int, ...]:
        """The member transactions' indexes."""
        return tuple(i for i, m in enumerate(self.member) if m)

    def data_edges(self, kinds: int = DATA) -> Iterator[Edge]:
        """The data edges of the given kinds, as :class:`Edge` values."""
        for e in self.edges:
            if e[2] & kinds:
                yield Edge(*e)

    # -- process and real time -------------------------------------------------------

    def process_pairs(self, nodes: Iterable[int] | None = None) -> list[tuple[int, int]]:
        """Process-order edges among ``nodes`` (default: all members): each member to
        the next member of the same process."""
        chosen = self.nodes if nodes is None else sorted(nodes)
        last: dict[Hashable, int] = {}
        out: list[tuple[int, int]] = []
        for i in chosen:
            p = self.txns[i].process
            prev = last.get(p)
            if prev is not None:
                out.append((prev, i))
            last[p] = i
        return out

    def realtime_pairs(self, nodes: Iterable[int] | None = None) -> list[tuple[int, int]]:
        """The transitive reduction of real-time order among ``nodes`` (default: all
        members): see :func:`realtime_reduction`."""
        return realtime_reduction(self.txns, self.nodes if nodes is None else nodes)

    def realtime_barriers(self) -> tuple[int, list[tuple[int, int]]]:
        """Real-time order as barrier edges for reachability: the number of barrier
        nodes (numbered from ``len(txns)``) and the edges (transaction -> barrier,
        barrier -> barrier, barrier -> transaction). A member ``a`` reaches a member
        ``b`` through them iff ``a`` completed before ``b`` was invoked."""
        txns = self.txns
        member = self.member
        # Events by record index: txn for an invocation, ~txn for a completion. Record
        # indexes are distinct; should two coincide, the events are sorted instead.
        size = 1 + max((max(t.call, t.ret or 0) for t in txns), default=0)
        # Sparse indexes (e.g. one of 10^9) are sorted too: no allocation may grow with
        # the value of an index.
        clash = size > 4 * len(txns) + 64
        at: list[int | None] = [] if clash else [None] * size
        for t in txns:
            if clash:
                break
            if member[t.tid]:
                if at[t.call] is not None:
                    clash = True
                at[t.call] = t.tid
                if t.ret is not None:
                    if at[t.ret] is not None:
                        clash = True
                    at[t.ret] = ~t.tid
        events: list[int | None] = at
        if clash:
            pairs = sorted([(t.call, 0, t.tid) for t in txns if member[t.tid]]
                           + [(t.ret, 1, ~t.tid) for t in txns
                              if member[t.tid] and t.ret is not None])
            events = [e for _, _, e in pairs]
        out: list[tuple[int, int]] = []
        append = out.append
        barrier = -1
        fresh = False  # no invocation since the current barrier was made
        next_id = len(txns)
        for e in events:
            if e is None:
                continue
            if e < 0:
                if not fresh:
                    if barrier >= 0:
                        append((barrier, next_id))
                    barrier = next_id
                    next_id += 1
                    fresh = True
                append((~e, barrier))
            else:
                if barrier >= 0:
                    append((barrier, e))
                fresh = False
        return next_id - len(txns), out

    # -- whole-graph structure --------------------------------------------------------

    def adjacency(self, kinds: int = ALL) -> list[list[int]]:
        """Successor lists over transactions and (when ``kinds`` has ``REALTIME``)
        barrier nodes, for reachability questions. ``PROCESS`` adds process edges
        unless ``REALTIME`` (which contains them) is asked for too."""
        n = len(self.txns)
        extra: list[tuple[int, int]] = []
        if kinds & REALTIME:
            count, extra = self.realtime_barriers()
            n += count
        elif kinds & PROCESS:
            extra = self.process_pairs()
        succ: list[list[int]] = [[] for _ in range(n)]
        data = kinds & DATA
        if data == DATA:
            for e in self.edges:
                succ[e[0]].append(e[1])
        elif data:
            for e in self.edges:
                if e[2] & data:
                    succ[e[0]].append(e[1])
        for a, b in extra:
            succ[a].append(b)
        return succ

    def component_graph(self, nodes: Iterable[int], edges: Iterable[RawEdge] | None = None,
                        kinds: int = ALL) -> nx.DiGraph[int]:
        """The subgraph induced by ``nodes`` as a ``networkx.DiGraph``: edge attributes
        ``kinds`` (bit mask) and ``why`` (kind -> :data:`Reason`, the first reason
        found). ``edges`` may give the data edges already known to lie inside."""
        chosen = set(nodes)
        g: nx.DiGraph[int] = nx.DiGraph()
        g.add_nodes_from(sorted(chosen))
        if edges is None:
            edges = (e for e in self.edges if e[0] in chosen and e[1] in chosen)
        adj = g.adj
        for src, dst, kind, key, a, b in edges:
            if not kind & kinds:
                continue
            d = adj[src].get(dst)
            if d is None:
                g.add_edge(src, dst, kinds=kind, why={kind: (key, a, b)})
            else:
                d["kinds"] |= kind
                d["why"].setdefault(kind, (key, a, b))
        extra: list[tuple[int, int, int, Reason]] = []
        if kinds & PROCESS:
            extra.extend((a, b, PROCESS, (None, self.txns[a].process, None))
                         for a, b in self.process_pairs(chosen))
        if kinds & REALTIME:
            extra.extend((a, b, REALTIME, (None, self.txns[a].ret, self.txns[b].call))
                         for a, b in self.realtime_pairs(chosen))
        for src, dst, kind, why in extra:
            d = adj[src].get(dst)
            if d is None:
                g.add_edge(src, dst, kinds=kind, why={kind: why})
            else:
                d["kinds"] |= kind
                d["why"].setdefault(kind, why)
        return g

    def to_networkx(self, kinds: int = ALL) -> nx.DiGraph[int]:
        """The whole graph over members as a ``networkx.DiGraph`` (see
        :meth:`component_graph`), with real time as its transitive reduction. Costly
        for large histories; meant for export and for other deciders."""
        return self.component_graph(self.nodes, kinds=kinds)


def strongly_connected(succ: Sequence[Sequence[int]], deadline: float | None = None
                       ) -> tuple[list[list[int]], list[int]]:
    """Tarjan's algorithm, iterative, over int successor lists.

    Returns the components with at least two nodes, and every node in an order that is
    a topological order of the condensation (when there is no such component, a
    topological order of the graph)."""
    n = len(succ)
    index = [0] * n
    low = [0] * n
    onstack = bytearray(n)
    stack: list[int] = []
    emitted: list[int] = []
    sccs: list[list[int]] = []
    counter = 1
    steps = 0
    for root in range(n):
        if index[root]:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        onstack[root] = 1
        work: list[tuple[int, Iterator[int]]] = [(root, iter(succ[root]))]
        while work:
            v, it = work[-1]
            for w in it:
                if not index[w]:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    onstack[w] = 1
                    work.append((w, iter(succ[w])))
                    break
                if onstack[w] and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                lv = low[v]
                if work:
                    p = work[-1][0]
                    if lv < low[p]:
                        low[p] = lv
                if lv == index[v]:
                    w = stack.pop()
                    onstack[w] = 0
                    if w == v:
                        emitted.append(v)
                    else:
                        comp = [w]
                        while w != v:
                            w = stack.pop()
                            onstack[w] = 0
                            comp.append(w)
                        sccs.append(comp)
                        emitted.extend(comp)
                steps += 1
                if not steps & 0xFFFF:
                    check_deadline(deadline)
    emitted.reverse()
    return sccs, emitted


@dataclass(frozen=True)
class Step:
    """One edge of a cycle: from transaction ``src`` to ``dst``, of ``kind``, with its
    reason."""

    src: int
    dst: int
    kind: int
    key: Hashable
    value: Any
    value2: Any

    @property
    def kind_name(self) -> str:
        """The kind's name (``ww``, ``wr``, ``rw``, ``process``, ``realtime``)."""
        return KIND_NAMES[self.kind]


@dataclass
class SearchStats:
    """Work done by cycle searches: nodes expanded by breadth-first searches."""

    states: int = 0


MAX_TRIES: Final = 16
"""How many more candidate first edges a search tries, once it has found a cycle,
looking for a shorter one."""


def _label(kinds: int) -> int:
    for k in KINDS:
        if kinds & k:
            return k
    raise ValueError("no kind")  # pragma: no cover - callers pass non-empty masks


def kind_masks(g: nx.DiGraph[int]) -> dict[int, dict[int, int]]:
    """The ``kinds`` bit mask of every edge of ``g``, as ``{u: {v: kinds}}``."""
    return {u: {v: d["kinds"] for v, d in nbrs.items()} for u, nbrs in g.adjacency()}


def shortest_cycle(g: nx.DiGraph[int], first: int, rest: int, *,
                   deadline: float | None = None, stats: SearchStats | None = None,
                   masks: dict[int, dict[int, int]] | None = None) -> list[Step] | None:
    """A shortest cycle of ``g`` whose first edge has kind ``first`` and whose other
    edges have kinds in ``rest``, or ``None`` when there is none.

    Exact for existence: ``None`` means no such cycle exists. Shortest among the
    cycles through the candidate first edges tried (every candidate until one closes a
    cycle, then up to ``MAX_TRIES`` more). Each other edge is labelled with its
    preferred kind among ``rest`` (``ww``, ``wr``, ``rw``, process, real time, in that
    order), so that a cycle uses data edges when it can. ``masks`` may pass
    :func:`kind_masks` of ``g``, computed once for many searches."""
    if masks is None:
        masks = kind_masks(g)
    allowed = first | rest
    restricted = {u: [v for v, k in nbrs.items() if k & allowed] for u, nbrs in masks.items()}
    best: list[Step] | None = None
    comps = [c for c in _components(restricted) if len(c) > 1]
    for comp_list in sorted(comps, key=min):
        comp = set(comp_list)
        check_deadline(deadline)
        cands = sorted((u, v) for u in comp_list for v, k in masks[u].items()
                       if k & first and v in comp)
        if not cands:
            continue
        radj: dict[int, list[tuple[int, int]]] = {
            u: [(v, k & rest) for v, k in masks[u].items() if k & rest and v in comp]
            for u in comp_list
        }
        if first & ~rest:
            cands = _closing(cands, radj)
        heads: dict[int, set[int]] = {}
        for u, v in cands:
            heads.setdefault(v, set()).add(u)
        tries = 0
        for v, targets in heads.items():
            if best is not None and (len(best) == 2 or tries >= MAX_TRIES):
                break
            check_deadline(deadline)
            path = _bfs(radj, v, targets, stats)
            if path is None:
                continue
            if best is not None:
                tries += 1
            u = path[-1][1]
            first_kind = _label(masks[u][v] & first)
            steps = [Step(u, v, first_kind, *g.adj[u][v]["why"][first_kind])]
            for x, y, k in path:
                steps.append(Step(x, y, k, *g.adj[x][y]["why"][k]))
            if best is None or len(steps) < len(best):
                best = steps
    return best


def _components(succ: dict[int, list[int]]) -> list[list[int]]:
    """The strongly connected components of a small graph given as successor lists
    (every successor is a key), each emitted after every component it reaches."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    onstack: set[int] = set()
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in succ:
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        onstack.add(root)
        work: list[tuple[int, Iterator[int]]] = [(root, iter(succ[root]))]
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    onstack.add(w)
                    work.append((w, iter(succ[w])))
                    break
                if w in onstack and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                if work:
                    p = work[-1][0]
                    if low[v] < low[p]:
                        low[p] = low[v]
                if low[v] == index[v]:
                    comp: list[int] = []
                    while True:
                        w = stack.pop()
                        onstack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    out.append(comp)
    return out


def _closing(cands: list[tuple[int, int]], radj: dict[int, list[tuple[int, int]]]
             ) -> list[tuple[int, int]]:
    """The candidate edges ``u -> v`` for which ``u`` is reachable from ``v`` in
    ``radj``: reachability bit sets over its condensation."""
    comps = _components({u: [v for v, _ in nbrs] for u, nbrs in radj.items()})
    which: dict[int, int] = {}
    for i, comp in enumerate(comps):
        for v in comp:
            which[v] = i
    reach: list[int] = []
    for i, comp in enumerate(comps):  # successors' components come first
        bits = 1 << i
        for u in comp:
            for v, _ in radj[u]:
                j = which[v]
                if j != i:
                    bits |= reach[j]
        reach.append(bits)
    return [(u, v) for u, v in cands if reach[which[v]] >> which[u] & 1]


def _bfs(radj: dict[int, list[tuple[int, int]]], start: int, targets: set[int],
         stats: SearchStats | None) -> list[tuple[int, int, int]] | None:
    """The shortest path from ``start`` to one of ``targets`` (as labelled edges), or
    ``None``."""
    parent: dict[int, tuple[int, int]] = {start: (-1, 0)}
    queue = deque([start])
    expanded = 0
    found = -1
    while queue and found < 0:
        x = queue.popleft()
        expanded += 1
        for y, kinds in radj[x]:
            if y in parent:
                continue
            parent[y] = (x, _label(kinds))
            if y in targets:
                found = y
                break
            queue.append(y)
    if stats is not None:
        stats.states += expanded
    if found < 0:
        return None
    path: list[tuple[int, int, int]] = []
    y = found
    while y != start:
        x, k = parent[y]
        path.append((x, y, k))
        y = x
    path.reverse()
    return path
