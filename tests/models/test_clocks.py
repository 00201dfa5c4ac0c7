"""Tests of vector clocks: normalisation, the partial order, merge as least upper
bound, compare, and Mattern's theorem on random happens-before graphs."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.clocks import (
    ZERO,
    Ordering,
    VectorClock,
    compare,
    concurrent,
    descends,
    happened_before,
    increment,
    merge,
    merge_all,
)

REPLICAS = ("a", "b", "c", "d")

clocks = st.dictionaries(st.sampled_from(REPLICAS), st.integers(0, 4)).map(VectorClock)
"""Clocks over a few replicas with small counters, so equal and comparable pairs are
drawn often."""

replicas = st.sampled_from(REPLICAS)


@st.composite
def clock_pairs(draw: st.DrawFn) -> tuple[VectorClock, VectorClock]:
    """Two clocks: independent, or the second one entry away from the first, so that
    equal, ordered and barely concurrent pairs all come up often."""
    a = draw(clocks)
    if draw(st.booleans()):
        return a, draw(clocks)
    counters = {r: a.counter(r) for r in REPLICAS}
    counters[draw(replicas)] = draw(st.integers(0, 4))
    return a, VectorClock(counters)


_ORDER = {
    Ordering.BEFORE: Ordering.AFTER,
    Ordering.AFTER: Ordering.BEFORE,
    Ordering.EQUAL: Ordering.EQUAL,
    Ordering.CONCURRENT: Ordering.CONCURRENT,
}


def pointwise_le(a: VectorClock, b: VectorClock) -> bool:
    """The definition, written independently of the module: every entry <=."""
    return all(a.counter(r) <= b.counter(r) for r in REPLICAS)


# ---------------------------------------------------------------- the value


def test_zero_entries_are_absent_entries() -> None:
    clock = VectorClock({"a": 0, "b": 2})
    assert clock == VectorClock({"b": 2})
    assert hash(clock) == hash(VectorClock([("b", 2)]))
    assert dict(clock) == {"b": 2}
    assert "a" not in clock
    assert clock.counter("a") == 0
    assert clock.counter("zz") == 0
    assert len(clock) == 1
    assert VectorClock({"a": 0}) == ZERO == VectorClock()


def test_mapping_view_is_sorted_and_raises_for_absent() -> None:
    clock = VectorClock({"c": 1, "a": 3})
    assert list(clock) == ["a", "c"]
    assert clock["a"] == 3
    assert clock.get("b", 0) == 0
    with pytest.raises(KeyError):
        clock["b"]
    assert repr(clock) == "VectorClock({'a': 3, 'c': 1})"


def test_clocks_are_frozen() -> None:
    clock = VectorClock({"a": 1})
    with pytest.raises(AttributeError):
        clock.entries = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("counters", "error"),
    [
        ({"a": -1}, ValueError),
        ({"a": 1.0}, TypeError),
        ({"a": True}, TypeError),
        ({1: 1}, TypeError),
        ([("a", 1), ("a", 2)], ValueError),
    ],
)
def test_bad_counters_are_rejected(counters: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        VectorClock(counters)  # type: ignore[arg-type]


@given(clocks)
def test_equal_iff_same_counters(a: VectorClock) -> None:
    rebuilt = VectorClock({r: a.counter(r) for r in REPLICAS})
    assert rebuilt == a
    assert hash(rebuilt) == hash(a)


# ----------------------------------------------------------------- increment


@given(clocks, replicas)
def test_increment_raises_one_entry_by_one(clock: VectorClock, replica: str) -> None:
    after = increment(clock, replica)
    assert after.counter(replica) == clock.counter(replica) + 1
    for other in REPLICAS:
        if other != replica:
            assert after.counter(other) == clock.counter(other)
    assert compare(clock, after) is Ordering.BEFORE
    assert clock.increment(replica) == after


def test_increment_does_not_change_its_argument() -> None:
    clock = VectorClock({"a": 1})
    increment(clock, "a")
    assert clock == VectorClock({"a": 1})


# ------------------------------------------------------------ the order


@given(clock_pairs())
def test_order_is_pointwise(pair: tuple[VectorClock, VectorClock]) -> None:
    a, b = pair
    assert (a <= b) == pointwise_le(a, b) == descends(b, a)
    assert (a >= b) == pointwise_le(b, a) == descends(a, b)
    assert (a < b) == (pointwise_le(a, b) and a != b)
    assert (a > b) == (pointwise_le(b, a) and a != b)


@given(clocks)
def test_order_is_reflexive(a: VectorClock) -> None:
    assert a <= a
    assert not a < a
    assert a >= ZERO


@given(clock_pairs())
def test_order_is_antisymmetric(pair: tuple[VectorClock, VectorClock]) -> None:
    a, b = pair
    if a <= b and b <= a:
        assert a == b
    if a != b:
        assert not (a <= b and b <= a)


@given(clocks, clocks, clocks)
def test_order_is_transitive(a: VectorClock, b: VectorClock, c: VectorClock) -> None:
    if a <= b and b <= c:
        assert a <= c


# -------------------------------------------------------------------- merge


@given(clocks, clocks)
def test_merge_is_an_upper_bound(a: VectorClock, b: VectorClock) -> None:
    m = merge(a, b)
    assert a <= m and b <= m
    assert all(m.counter(r) == max(a.counter(r), b.counter(r)) for r in REPLICAS)


@given(clocks, clocks, clocks)
def test_merge_is_below_every_upper_bound(a: VectorClock, b: VectorClock, c: VectorClock) -> None:
    upper = merge(c, merge(a, b))  # an upper bound of a and b, usually above their merge
    assert a <= upper and b <= upper
    assert merge(a, b) <= upper
    if a <= c and b <= c:
        assert merge(a, b) <= c


@given(clocks, clocks)
def test_merge_is_commutative(a: VectorClock, b: VectorClock) -> None:
    assert merge(a, b) == merge(b, a)
    assert a.merge(b) == merge(a, b)


@given(clocks, clocks, clocks)
def test_merge_is_associative(a: VectorClock, b: VectorClock, c: VectorClock) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c))
    assert merge_all([a, b, c]) == merge(merge(a, b), c)


@given(clocks)
def test_merge_is_idempotent_with_zero_as_identity(a: VectorClock) -> None:
    assert merge(a, a) == a
    assert merge(a, ZERO) == a
    assert merge_all([]) == ZERO


@given(clocks, clocks)
def test_merge_equals_the_larger_when_ordered(a: VectorClock, b: VectorClock) -> None:
    assert (merge(a, b) == b) == (a <= b)


# ------------------------------------------------------------------ compare


@given(clock_pairs())
def test_compare_agrees_with_the_order(pair: tuple[VectorClock, VectorClock]) -> None:
    a, b = pair
    le, ge = pointwise_le(a, b), pointwise_le(b, a)
    outcome = compare(a, b)
    assert (outcome is Ordering.EQUAL) == (a == b)
    assert (outcome is Ordering.BEFORE) == (le and not ge)
    assert (outcome is Ordering.AFTER) == (ge and not le)
    assert (outcome is Ordering.CONCURRENT) == (not le and not ge)
    assert compare(b, a) is _ORDER[outcome]
    assert a.compare(b) is outcome
    assert happened_before(a, b) == (outcome is Ordering.BEFORE)
    assert concurrent(a, b) == (outcome is Ordering.CONCURRENT)


def test_compare_examples() -> None:
    a = VectorClock({"a": 1})
    b = VectorClock({"b": 1})
    assert compare(a, b) is Ordering.CONCURRENT
    assert not a <= b and not b <= a
    ab = merge(a, b)
    assert compare(a, ab) is Ordering.BEFORE
    assert compare(ab, b) is Ordering.AFTER
    assert compare(ab, VectorClock({"b": 1, "a": 1, "c": 0})) is Ordering.EQUAL


# ----------------------------------------------------- Mattern's theorem


@dataclass(frozen=True)
class Event:
    """The ``index``-th event of ``process``."""

    process: int
    index: int


@st.composite
def executions(draw: st.DrawFn) -> nx.DiGraph:
    """A happens-before graph: each process's events in a chain, and an edge from
    each send to the receive of that message on another process. Events are created
    in one global sequence and every edge points forward in it, so it is acyclic.
    Node attribute ``kind`` is "local", "send" or "receive"."""
    processes = draw(st.integers(1, 4))
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(0, processes - 1),
                st.sampled_from(["local", "send", "receive"]),
                st.integers(0, 10),
            ),
            max_size=30,
        )
    )
    graph = nx.DiGraph()
    last: dict[int, Event] = {}
    in_flight: list[tuple[Event, int]] = []  # (send event, destination process)
    for drawn_process, kind, choice in steps:
        message = None
        process = drawn_process
        if kind == "receive" and in_flight:
            # The receive happens at the destination of the chosen message.
            message, process = in_flight.pop(choice % len(in_flight))
        event = Event(process, last[process].index + 1 if process in last else 0)
        graph.add_node(event, kind="local")
        if process in last:
            graph.add_edge(last[process], event)
        last[process] = event
        if message is not None:
            graph.add_edge(message, event)
            graph.nodes[event]["kind"] = "receive"
        elif kind == "send" and processes > 1:
            destination = (process + 1 + choice % (processes - 1)) % processes
            in_flight.append((event, destination))
            graph.nodes[event]["kind"] = "send"
    return graph


def assign_clocks(graph: nx.DiGraph) -> dict[Event, VectorClock]:
    """The standard algorithm: each event starts from its process predecessor's
    clock, a receive merges in the sender's clock, then the process increments."""
    clock: dict[Event, VectorClock] = {}
    for event in nx.topological_sort(graph):
        current = ZERO
        for before in graph.predecessors(event):
            current = merge(current, clock[before])  # process predecessor or sender
        clock[event] = increment(current, f"p{event.process}")
    return clock


@given(executions())
def test_mattern_clock_order_is_happens_before(graph: nx.DiGraph) -> None:
    assert nx.is_directed_acyclic_graph(graph)
    clock = assign_clocks(graph)
    reach = {e: nx.descendants(graph, e) for e in graph}
    for e in graph:
        for f in graph:
            if e == f:
                assert compare(clock[e], clock[f]) is Ordering.EQUAL
                continue
            outcome = compare(clock[e], clock[f])
            assert (outcome is Ordering.BEFORE) == (f in reach[e]), (e, f)
            assert (outcome is Ordering.AFTER) == (e in reach[f]), (e, f)
            assert (outcome is Ordering.CONCURRENT) == (f not in reach[e] and e not in reach[f])
            assert outcome is not Ordering.EQUAL, (e, f)


def test_mattern_on_a_fixed_exchange() -> None:
    # p0: x0 (send m) ; p1: y0, y1 (receive m) ; p2: z0 -- z0 is concurrent with all.
    graph = nx.DiGraph()
    x0, y0, y1, z0 = Event(0, 0), Event(1, 0), Event(1, 1), Event(2, 0)
    graph.add_nodes_from([x0, y0, y1, z0])
    graph.add_edges_from([(y0, y1), (x0, y1)])
    clock = assign_clocks(graph)
    assert clock[y1] == VectorClock({"p0": 1, "p1": 2})
    assert compare(clock[x0], clock[y1]) is Ordering.BEFORE
    assert compare(clock[x0], clock[y0]) is Ordering.CONCURRENT
    assert all(compare(clock[z0], clock[e]) is Ordering.CONCURRENT for e in (x0, y0, y1))
