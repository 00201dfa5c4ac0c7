"""The polygraph front end: known edges, choices resolved by reachability, and what is
left for z3; checked against enumerating every order of a few points."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.checkers.elle.polygraph import Polygraph, solve


def test_a_choice_closing_a_cycle_takes_its_other_edge() -> None:
    # 0 -> 1 known; choice (1 -> 0) or (2 -> 1): the first closes a cycle.
    out = solve(Polygraph(3, [(0, 1)], [((1, 0), (2, 1))]))
    assert out.status == "sat"
    assert out.order.index(2) < out.order.index(1)


def test_both_edges_closing_cycles_is_unsat_with_the_cycle() -> None:
    out = solve(Polygraph(3, [(0, 1), (1, 2)], [((2, 0), (1, 0))]))
    assert out.status == "unsat"
    assert set(out.cycle) <= {0, 1, 2} and len(out.cycle) >= 2


def test_a_cyclic_known_graph_is_unsat() -> None:
    assert solve(Polygraph(2, [(0, 1), (1, 0)])).status == "unsat"


edges = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)).filter(lambda e: e[0] != e[1]),
                 max_size=4)


@given(edges, st.lists(st.tuples(st.tuples(st.integers(0, 3), st.integers(0, 3)),
                                 st.tuples(st.integers(0, 3), st.integers(0, 3))).filter(
    lambda c: c[0][0] != c[0][1] and c[1][0] != c[1][1]), max_size=4))
def test_never_wrong_against_every_order(known: list[tuple[int, int]],
                                         choices: list[tuple[tuple[int, int],
                                                             tuple[int, int]]]) -> None:
    def meets(order: tuple[int, ...]) -> bool:
        pos = {v: i for i, v in enumerate(order)}
        return all(pos[a] < pos[b] for a, b in known) and all(
            pos[a] < pos[b] or pos[c] < pos[d] for (a, b), (c, d) in choices)

    possible = any(meets(o) for o in itertools.permutations(range(4)))
    out = solve(Polygraph(4, list(known), list(choices)))
    if out.status == "sat":
        assert meets(out.order)
    elif out.status == "unsat":
        assert not possible
    else:
        assert out.left  # open: some choice is left to the caller
