"""Classifying dependency cycles into Adya's and Elle's anomalies, and finding them.

A cycle is classified by the kinds of its edges alone (as Elle does):

- no ``rw`` edge: ``G0`` when every data edge is ``ww`` (dirty write), else ``G1c``
  (circular information flow);
- exactly one ``rw`` edge: ``G-single`` (read skew);
- two or more: ``G2-item`` (every anti-dependency here is on an item; our workloads
  have no predicates, so plain ``G2`` is never reported by itself — it is implied);

with the suffix ``-realtime`` when the cycle uses a real-time edge, else ``-process``
when it uses a process-order edge.

Two or more ``rw`` edges of which no two are adjacent (cyclically) make Elle's
``G-nonadjacent``, which snapshot isolation forbids (it implies ``G2-item``). Its search
is exact, like ``G-single``'s: a breadth-first search over (transaction, whether the
last edge was ``rw``) states, so a history with such a cycle is never judged valid
under snapshot isolation.

:func:`cycles_in_component` searches one strongly connected component (as a
``networkx.DiGraph`` with ``kinds``/``why`` edge attributes) for each class, with data
edges first, then allowing process edges, then real-time edges, and skips a class
already implied by one found in the same component (``G0`` implies ``G1c``, any class
implies its ``-process`` and ``-realtime`` variants, ``G-single`` implies ``G2-item``:
they would rule out no further model). The searches for ``G0``, ``G1c`` and
``G-single`` at each level are exact; ``G2-item`` is searched through every ``rw`` edge
and found whenever no ``G-single`` at that level or below exists. Every component with
a cycle of the kinds searched yields at least one anomaly. Process and real-time edges
are always searched (their cost is linear); whether the anomalies they reveal matter
depends only on the models asked for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import networkx as nx

from replicheck.histories.checkers.elle.graph import (
    PROCESS,
    REALTIME,
    RW,
    WR,
    WW,
    SearchStats,
    Step,
    _label,
    check_deadline,
    kind_masks,
    shortest_cycle,
)
from replicheck.models import lattice

CYCLE_SPECS: Final[tuple[tuple[str, int, int], ...]] = (
    ("G0", WW, WW),
    ("G1c", WR, WW | WR),
    ("G-single", RW, WW | WR),
    ("G-nonadjacent", RW, WW | WR | RW),
    ("G2-item", RW, WW | WR | RW),
)
"""Each base cycle class: its name, the kind of its first edge, and the kinds its other
edges may have (before process and real-time edges are allowed)."""

LEVELS: Final[tuple[tuple[str, int], ...]] = (
    ("", 0),
    ("-process", PROCESS),
    ("-realtime", PROCESS | REALTIME),
)
"""The search levels: the suffix of the anomalies found there and the extra edge kinds
allowed."""

NON_CYCLE: Final[tuple[str, ...]] = (
    "G1a", "G1b", "dirty-update", "duplicate-elements", "incompatible-order",
    "cyclic-versions", "internal", "future-read", "lost-update",
)
"""The anomalies found by inference rather than cycle search, in report order."""


@dataclass(frozen=True)
class CycleAnomaly:
    """A dependency cycle and its class: ``steps`` in cycle order (each edge from a
    transaction to the next, the last back to the first), and the size of the strongly
    connected component it was found in."""

    type: str
    steps: tuple[Step, ...]
    scc_size: int

    @property
    def txns(self) -> tuple[int, ...]:
        """The transactions of the cycle, in order."""
        return tuple(s.src for s in self.steps)

    @property
    def rw_adjacent(self) -> bool:
        """Two ``rw`` edges follow each other somewhere in the cycle (Elle's G2-item
        proper, as opposed to G-nonadjacent)."""
        kinds = [s.kind for s in self.steps]
        return any(a == RW and b == RW for a, b in zip(kinds, kinds[1:] + kinds[:1],
                                                       strict=True))


def classify(kinds: Sequence[int]) -> str:
    """The anomaly name of a cycle whose edges have the given kinds (one per edge)."""
    rw = sum(1 for k in kinds if k == RW)
    if rw == 0:
        base = "G0" if all(k in (WW, PROCESS, REALTIME) for k in kinds) else "G1c"
    elif rw == 1:
        base = "G-single"
    else:
        adjacent = any(a == RW and b == RW
                       for a, b in zip(kinds, [*kinds[1:], *kinds[:1]], strict=True))
        base = "G2-item" if adjacent else "G-nonadjacent"
    if REALTIME in kinds:
        return base + "-realtime"
    if PROCESS in kinds:
        return base + "-process"
    return base


def nonadjacent_cycle(g: nx.DiGraph[int], allowed: int, *, deadline: float | None = None,
                      masks: dict[int, dict[int, int]] | None = None) -> list[Step] | None:
    """A shortest cycle through some ``rw`` edge whose ``rw`` edges are never adjacent
    (cyclically) and whose other edges have kinds in ``allowed`` (``rw`` excluded), or
    ``None`` when there is none (exact for existence)."""
    if masks is None:
        masks = kind_masks(g)
    plain = allowed & ~RW
    best: list[Step] | None = None
    for u in sorted(masks):
        for v in sorted(masks[u]):
            if not masks[u][v] & RW:
                continue
            check_deadline(deadline)
            # states (node, last edge was rw); start after the rw edge u -> v and come
            # back to u by a non-rw edge.
            start = (v, True)
            parent: dict[tuple[int, bool], tuple[tuple[int, bool], int] | None] = {start: None}
            queue = deque([start])
            goal: tuple[int, bool] | None = None
            while queue and goal is None:
                x, after_rw = queue.popleft()
                for y, kinds in masks[x].items():
                    moves = []
                    if kinds & plain:
                        moves.append(((y, False), _label(kinds & plain)))
                    if kinds & RW and not after_rw:
                        moves.append(((y, True), RW))
                    for state, kind in moves:
                        if state in parent:
                            continue
                        parent[state] = ((x, after_rw), kind)
                        if state == (u, False):
                            goal = state
                            break
                        queue.append(state)
                    if goal is not None:
                        break
            if goal is None:
                continue
            path: list[tuple[int, int, int]] = []
            state = goal
            while parent[state] is not None:
                previous, kind = parent[state]  # type: ignore[misc]
                path.append((previous[0], state[0], kind))
                state = previous
            path.reverse()
            steps = [Step(u, v, RW, *g.adj[u][v]["why"][RW])]
            steps += [Step(x, y, k, *g.adj[x][y]["why"][k]) for x, y, k in path]
            if best is None or len(steps) < len(best):
                best = steps
    return best


def cycles_in_component(g: nx.DiGraph[int], *, deadline: float | None = None,
                        stats: SearchStats | None = None,
                        found: list[CycleAnomaly] | None = None) -> list[CycleAnomaly]:
    """The cycle anomalies of one strongly connected component: for each class, its
    shortest cycle found at the weakest level, unless a class found earlier implies it.
    They are appended to ``found`` (a new list by default), which is returned. Raises
    ``SearchTimeout`` past ``deadline``; what was found before stays in ``found``."""
    if found is None:
        found = []
    implied: set[str] = set()
    size = g.number_of_nodes()
    masks = kind_masks(g)
    present = 0
    for nbrs in masks.values():
        for k in nbrs.values():
            present |= k
    for suffix, extra in LEVELS:
        if extra and not present & extra:
            continue  # the same search as the level before
        for base, first, rest in CYCLE_SPECS:
            if base + suffix in implied or not present & first:
                continue
            if base == "G-nonadjacent":
                steps = nonadjacent_cycle(g, rest | extra, deadline=deadline, masks=masks)
            else:
                steps = shortest_cycle(g, first, rest | extra, deadline=deadline,
                                       stats=stats, masks=masks)
            if steps is None:
                continue
            kind = classify([s.kind for s in steps])
            if kind in implied:
                continue
            found.append(CycleAnomaly(kind, tuple(steps), size))
            implied |= lattice.implied_anomalies([kind])
    return found
