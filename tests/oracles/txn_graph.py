"""Dependency graphs of transactional histories and the phenomena each model forbids.

The half of the transactional oracle (:mod:`tests.oracles.transactional`) that knows
Adya's phenomena: given the edges of one interpretation (``ww``, ``wr``, ``rw``,
``process``, ``realtime`` between committed transactions) and the phenomena its reads show
by themselves (G1a, G1b, future-read, internal), :class:`Interpretation` says which
phenomena it shows; :data:`FORBIDDEN` says which each model forbids (txn-models.md).
Cycles are found by depth-first search (acyclicity, "a cycle through this edge") and, for
the cycle shapes snapshot isolation forbids, by enumerating simple cycles with networkx.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Final

import networkx as nx

RU: Final = "read-uncommitted"
RC: Final = "read-committed"
RA: Final = "read-atomic"
RR: Final = "repeatable-read"
SI: Final = "snapshot-isolation"
SER: Final = "serializable"
SSS: Final = "strong-session-serializable"
SS: Final = "strict-serializable"
MODELS: Final = (RU, RC, RA, RR, SI, SER, SSS, SS)
"""The eight transactional models, weakest first."""

G0: Final = "G0"
G1A: Final = "G1a"
G1B: Final = "G1b"
G1C: Final = "G1c"
G_SINGLE: Final = "G-single"
G_NONADJACENT: Final = "G-nonadjacent"
G2: Final = "G2-item"
INTERNAL: Final = "internal"
FUTURE: Final = "future-read"
G1C_PROCESS: Final = "G1c-process"
G2_PROCESS: Final = "G2-process"
G1C_REALTIME: Final = "G1c-realtime"
G2_REALTIME: Final = "G2-realtime"

_RC_SET: Final = frozenset({G0, G1A, G1B, G1C})
_SER_SET: Final = _RC_SET | {INTERNAL, FUTURE, G2}
FORBIDDEN: Final[Mapping[str, frozenset[str]]] = {
    RU: frozenset({G0}),
    RC: _RC_SET,
    RA: _RC_SET | {INTERNAL, FUTURE},
    RR: _RC_SET | {G2},
    SI: _RC_SET | {INTERNAL, FUTURE, G_SINGLE, G_NONADJACENT},
    SER: _SER_SET,
    SSS: _SER_SET | {G1C_PROCESS, G2_PROCESS},
    SS: _SER_SET | {G1C_REALTIME, G2_REALTIME},
}
"""The phenomena each model forbids (txn-models.md)."""


WW, WR, RW, PROCESS, REALTIME = "ww", "wr", "rw", "process", "realtime"
_DATA: Final = (WW, WR, RW)


# ---------------------------------------------------------------------------------------
# Graph helpers (a few transactions: plain adjacency sets)

Adjacency = dict[int, set[int]]


def adjacency(edges: Sequence[set[tuple[int, int]]]) -> Adjacency:
    """The union of edge sets as adjacency sets."""
    adj: Adjacency = {}
    for kind in edges:
        for a, b in kind:
            adj.setdefault(a, set()).add(b)
    return adj


def cyclic(adj: Adjacency) -> bool:
    """The directed graph has a cycle."""
    state: dict[int, int] = {}  # 1 on the stack, 2 done
    for root in adj:
        if root in state:
            continue
        stack = [(root, iter(adj.get(root, ())))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return True
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(adj.get(nxt, ()))))
    return False


def _reaches(adj: Adjacency, src: int, dst: int) -> bool:
    seen = {src}
    todo = [src]
    while todo:
        node = todo.pop()
        if node == dst:
            return True
        for nxt in adj.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _cycle_with(adj: Adjacency, edges: set[tuple[int, int]]) -> bool:
    """Some cycle of ``adj`` uses one of ``edges`` (which ``adj`` contains)."""
    return any(_reaches(adj, b, a) for a, b in edges)


# ---------------------------------------------------------------------------------------
# One interpretation and its phenomena


class Interpretation:
    """The dependency graph of one interpretation, its phenomena computed lazily."""

    def __init__(self, edges: Mapping[str, set[tuple[int, int]]], flags: frozenset[str]
                 ) -> None:
        self.edges = edges
        self.flags = flags
        self._memo: dict[str, bool] = {}
        self._adj: dict[tuple[str, ...], Adjacency] = {}

    def adj(self, *kinds: str) -> Adjacency:
        if kinds not in self._adj:
            self._adj[kinds] = adjacency([self.edges[k] for k in kinds])
        return self._adj[kinds]

    def shows(self, phenomenon: str) -> bool:
        """The interpretation shows ``phenomenon``."""
        if phenomenon not in self._memo:
            self._memo[phenomenon] = self._decide(phenomenon)
        return self._memo[phenomenon]

    def _decide(self, p: str) -> bool:
        if p in (G1A, G1B, FUTURE, INTERNAL):
            return p in self.flags
        if p == G0:
            return cyclic(self.adj(WW))
        if p == G1C:
            return cyclic(self.adj(WW, WR))
        if p == G2:
            return _cycle_with(self.adj(*_DATA), self.edges[RW])
        if p in (G_SINGLE, G_NONADJACENT):
            single, nonadjacent = self._rw_shapes()
            self._memo[G_SINGLE], self._memo[G_NONADJACENT] = single, nonadjacent
            return self._memo[p]
        if p == G1C_PROCESS:
            return cyclic(self.adj(WW, WR, PROCESS))
        if p == G2_PROCESS:
            return _cycle_with(self.adj(*_DATA, PROCESS), self.edges[RW])
        if p == G1C_REALTIME:
            return cyclic(self.adj(WW, WR, REALTIME))
        if p == G2_REALTIME:
            return _cycle_with(self.adj(*_DATA, REALTIME), self.edges[RW])
        raise ValueError(p)

    def _rw_shapes(self) -> tuple[bool, bool]:
        """(a cycle with exactly one rw edge, a cycle with rw edges none adjacent),
        over every simple cycle and every choice of edge kind along it."""
        if not self.edges[RW] or not _cycle_with(self.adj(*_DATA), self.edges[RW]):
            return False, False
        graph = nx.DiGraph()
        for a, bs in self.adj(*_DATA).items():
            graph.add_edges_from((a, b) for b in bs)
        single = nonadjacent = False
        for cycle in nx.simple_cycles(graph):
            steps = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
            choices = []
            for step in steps:
                kinds = [k for k in _DATA if step in self.edges[k]]
                choices.append(sorted({k == RW for k in kinds}))
            for pick in itertools.product(*choices):
                rws = [i for i, is_rw in enumerate(pick) if is_rw]
                if not rws:
                    continue
                n = len(pick)
                if len(rws) == 1:
                    single = True
                if all(not pick[(i + 1) % n] for i in rws):
                    nonadjacent = True
            if single and nonadjacent:
                break
        return single, nonadjacent

    def allows(self, model: str) -> bool:
        """No phenomenon the model forbids shows."""
        return not any(self.shows(p) for p in sorted(FORBIDDEN[model]))

    def shown(self, model: str) -> list[str]:
        return sorted(p for p in FORBIDDEN[model] if self.shows(p))
