"""Deciding a register model without a solver when every read has one possible writer.

With the values written to a key unique (as Elle's workload makes them), each read
names the one transaction it read from, and what is left open is the order: a model
of ``histories.checkers.smt`` then asks for a total order of points (one per committed
transaction, or a start and a commit point each for snapshot isolation) that respects
*known* edges (a writer before its readers, real time, ...) and, for each *choice*,
one of two edges (another writer of the key is before the version read, or after the
reader). That is Papadimitriou's polygraph; as Cobra (Tan et al., OSDI 2020) does,
choices one of whose edges would close a cycle with the known edges are resolved
(the other edge becomes known), until nothing changes:

- the known edges form a cycle, or some choice has both edges closing one: no order
  exists (a cycle that every interpretation shows);
- every choice remaining is met by a topological order of the known edges: that order
  is an execution;
- otherwise: the known edges and the choices left are the caller's (for z3: a much
  smaller question than the whole history).

Reachability is kept as one bit set per point (Python integers), recomputed after each
round; rounds are few in practice. The deadline is checked in every loop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

Edge = tuple[int, int]
Choice = tuple[Edge, Edge]


class Timeout(Exception):
    """The deadline passed."""


def _tick(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise Timeout


@dataclass
class Polygraph:
    """``size`` points, ``known`` edges between them, and ``choices``: pairs of edges of
    which at least one must hold."""

    size: int
    known: list[Edge] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """``status``: ``sat`` (with ``order``, every point in a valid order), ``unsat``
    (with ``cycle``, points of a cycle the known and forced edges make) or ``open``
    (with the ``known`` edges, forced ones included, and the indexes into
    ``Polygraph.choices`` of those ``left`` unresolved)."""

    status: str
    order: tuple[int, ...] = ()
    cycle: tuple[int, ...] = ()
    known: tuple[Edge, ...] = ()
    left: tuple[int, ...] = ()


def _topological(size: int, succ: Sequence[list[int]], deadline: float | None
                 ) -> list[int] | None:
    indegree = [0] * size
    for nbrs in succ:
        for b in nbrs:
            indegree[b] += 1
    ready = [v for v in range(size) if not indegree[v]]
    order: list[int] = []
    while ready:
        v = ready.pop()
        order.append(v)
        for b in succ[v]:
            indegree[b] -= 1
            if not indegree[b]:
                ready.append(b)
        if not len(order) & 0x3FF:
            _tick(deadline)
    return order if len(order) == size else None


def _cycle(size: int, succ: Sequence[list[int]]) -> tuple[int, ...]:
    """Some cycle of a graph known to have one (iterative depth-first search)."""
    state = [0] * size
    parent = [-1] * size
    for root in range(size):
        if state[root]:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            v, it = stack[-1]
            for w in it:
                if state[w] == 1:
                    path = [v]
                    while path[-1] != w:
                        path.append(parent[path[-1]])
                    return tuple(reversed(path))
                if not state[w]:
                    state[w] = 1
                    parent[w] = v
                    stack.append((w, iter(succ[w])))
                    break
            else:
                state[v] = 2
                stack.pop()
    return ()  # pragma: no cover - callers pass cyclic graphs


def _reach(size: int, succ: Sequence[list[int]], order: Sequence[int],
           deadline: float | None) -> list[int]:
    reach = [0] * size
    for n, v in enumerate(reversed(order)):
        bits = 1 << v
        for b in succ[v]:
            bits |= reach[b]
        reach[v] = bits
        if not n & 0x3FF:
            _tick(deadline)
    return reach


def solve(graph: Polygraph, deadline: float | None = None) -> Outcome:
    """Resolve ``graph``'s choices as far as reachability forces them, then try a
    topological order. Raises :class:`Timeout` past ``deadline``."""
    succ: list[list[int]] = [[] for _ in range(graph.size)]
    for a, b in graph.known:
        succ[a].append(b)
    pending = list(range(len(graph.choices)))
    choices = graph.choices
    while True:
        order = _topological(graph.size, succ, deadline)
        if order is None:
            return Outcome("unsat", cycle=_cycle(graph.size, succ))
        reach = _reach(graph.size, succ, order, deadline)
        forced: list[Edge] = []
        left: list[int] = []
        for n, which in enumerate(pending):
            (a, b), (c, d) = choices[which]
            if not n & 0xFFF:
                _tick(deadline)
            if reach[a] >> b & 1 or reach[c] >> d & 1:
                continue  # already met
            first = not reach[b] >> a & 1
            second = not reach[d] >> c & 1
            if first and second:
                left.append(which)
            elif first:
                forced.append((a, b))
            elif second:
                forced.append((c, d))
            else:
                succ[a].append(b)  # either way a cycle: show the first
                return Outcome("unsat", cycle=_cycle(graph.size, succ))
        if not forced:
            break
        for a, b in forced:
            succ[a].append(b)
        pending = left
    position = [0] * graph.size
    for i, v in enumerate(order):
        position[v] = i
    if all(position[choices[n][0][0]] < position[choices[n][0][1]]
           or position[choices[n][1][0]] < position[choices[n][1][1]] for n in left):
        return Outcome("sat", order=tuple(order))
    known = tuple((a, b) for a, nbrs in enumerate(succ) for b in nbrs)
    return Outcome("open", known=known, left=tuple(left))
