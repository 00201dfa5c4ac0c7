"""Tests of dotted version vectors with siblings: the value, the sibling rules of
update, and the laws of sync, on concrete scenarios and on random runs of a small
replicated system checked against a ground truth of what each write saw."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.clocks import VectorClock
from replicheck.models.dvv import (
    Dot,
    DVVSet,
    Sibling,
    context,
    covers,
    next_dot,
    sync,
    sync_all,
    update,
    values,
)

EMPTY: DVVSet[str] = DVVSet()


# ------------------------------------------------------------------ the values


def test_dot_rules() -> None:
    assert Dot("a", 1) < Dot("a", 2) < Dot("b", 1)
    with pytest.raises(ValueError):
        Dot("a", 0)
    with pytest.raises(TypeError):
        Dot("a", True)
    assert covers(VectorClock({"a": 2}), Dot("a", 2))
    assert not covers(VectorClock({"a": 2}), Dot("a", 3))
    assert not covers(VectorClock({"a": 2}), Dot("b", 1))


def test_state_is_normalised_and_validated() -> None:
    x, y = Sibling(Dot("b", 1), "x"), Sibling(Dot("a", 1), "y")
    clock = VectorClock({"a": 1, "b": 1})
    assert DVVSet((x, y), clock) == DVVSet((y, x), clock)
    assert DVVSet((x, y), clock).dots() == (Dot("a", 1), Dot("b", 1))
    assert hash(DVVSet((x, y), clock)) == hash(DVVSet((y, x), clock))
    with pytest.raises(ValueError, match="not covered"):
        DVVSet((x,), VectorClock({"a": 1}))
    with pytest.raises(ValueError, match="share a dot"):
        DVVSet((x, Sibling(Dot("b", 1), "z")), clock)
    with pytest.raises(TypeError):
        DVVSet(("x",), clock)  # type: ignore[arg-type]


def test_empty_state() -> None:
    assert values(EMPTY) == ()
    assert context(EMPTY) == VectorClock()


# ------------------------------------------------------------ update, by example


def test_first_write_gets_the_first_dot() -> None:
    state = update(EMPTY, VectorClock(), "r1", "v1")
    assert state.siblings == (Sibling(Dot("r1", 1), "v1"),)
    assert context(state) == VectorClock({"r1": 1})


def test_read_modify_write_replaces_the_value_read() -> None:
    state = update(EMPTY, VectorClock(), "r1", "v1")
    state = update(state, context(state), "r1", "v2")
    assert values(state) == ("v2",)
    assert state.dots() == (Dot("r1", 2),)


def test_two_clients_that_read_the_same_version_make_siblings_then_resolve() -> None:
    state = update(EMPTY, VectorClock(), "r1", "v0")
    seen = context(state)  # both clients read v0
    state = update(state, seen, "r1", "client-1")
    state = update(state, seen, "r1", "client-2")
    assert values(state) == ("client-1", "client-2")  # true concurrency, v0 gone
    state = update(state, context(state), "r1", "resolved")
    assert values(state) == ("resolved",)


def test_blind_write_keeps_what_is_there() -> None:
    state = update(EMPTY, VectorClock(), "r1", "v1")
    state = update(state, VectorClock(), "r1", "v2")
    assert values(state) == ("v1", "v2")


def test_write_supersedes_exactly_what_its_context_covers() -> None:
    s = update(EMPTY, VectorClock(), "r1", "a")
    ctx_a = context(s)
    s = update(s, VectorClock(), "r1", "b")  # b concurrent with a
    s = update(s, ctx_a, "r1", "c")  # saw a, not b
    assert values(s) == ("b", "c")


def test_write_supersedes_siblings_that_came_from_other_replicas() -> None:
    at_b = update(EMPTY, VectorClock(), "b", "from-b")
    at_a = sync(update(EMPTY, VectorClock(), "a", "from-a"), at_b)
    assert values(at_a) == ("from-a", "from-b")
    at_a = update(at_a, context(at_a), "a", "merged")
    assert values(at_a) == ("merged",)
    assert context(at_a) == VectorClock({"a": 2, "b": 1})


def test_fresh_dot_is_above_the_client_context_too() -> None:
    # A client context may know more of replica r1 than r1 itself (r1 lost state).
    ctx = VectorClock({"r1": 5})
    assert next_dot(EMPTY, ctx, "r1") == Dot("r1", 6)
    assert update(EMPTY, ctx, "r1", "v").dots() == (Dot("r1", 6),)


def test_write_elsewhere_with_context_supersedes_after_sync() -> None:
    at_a = update(EMPTY, VectorClock(), "a", "old")
    at_b = update(EMPTY, context(at_a), "b", "new")  # read at a, wrote at b
    assert values(at_b) == ("new",)
    assert values(sync(at_a, at_b)) == ("new",)
    assert values(sync(at_b, at_a)) == ("new",)


def test_concurrent_writes_at_two_replicas_are_siblings_after_sync() -> None:
    at_a = update(EMPTY, VectorClock(), "a", "x")
    at_b = update(EMPTY, VectorClock(), "b", "y")
    merged = sync(at_a, at_b)
    assert values(merged) == ("x", "y")
    assert context(merged) == VectorClock({"a": 1, "b": 1})


def test_sync_drops_what_the_other_side_saw_superseded() -> None:
    at_a = update(EMPTY, VectorClock(), "a", "x")
    at_b = sync(EMPTY, at_a)
    at_b = update(at_b, context(at_b), "b", "y")  # supersedes x at b
    at_a = update(at_a, VectorClock(), "a", "z")  # concurrent with everything
    assert values(sync(at_a, at_b)) == ("z", "y")  # dot order: (a,2) then (b,1)


# --------------------------------------------------------- random system runs


@dataclass
class Client:
    """What a client holds: the context of its reads and the writes those reads
    showed it (with their causal pasts): the ground truth of what it has seen."""

    context: VectorClock = field(default_factory=VectorClock)
    seen: frozenset[int] = frozenset()


@dataclass
class System:
    """Replicas of one key, clients, and the ground truth.

    Values are write ids. ``past[w]`` is every write the writer of ``w`` had seen
    (transitively); ``known[r]`` is every write replica ``r`` has received, by a
    client or by sync. The surviving siblings at ``r`` must be exactly the writes
    of ``known[r]`` that no other write of ``known[r]`` has seen."""

    replicas: dict[str, DVVSet[int]]
    clients: list[Client]
    past: dict[int, frozenset[int]] = field(default_factory=dict)
    known: dict[str, set[int]] = field(default_factory=dict)
    history: list[DVVSet[int]] = field(default_factory=list)

    def read(self, client: int, replica: str, accumulate: bool) -> tuple[int, ...]:
        state = self.replicas[replica]
        got = values(state)
        seen = frozenset(got).union(*(self.past[w] for w in got))
        old = self.clients[client]
        if accumulate:
            ctx = VectorClock(
                {r: max(old.context.counter(r), context(state).counter(r)) for r in "abc"}
            )
            self.clients[client] = Client(ctx, old.seen | seen)
        else:
            self.clients[client] = Client(context(state), seen)
        return got

    def write(self, client: int | None, replica: str) -> tuple[int, DVVSet[int], DVVSet[int]]:
        me = self.clients[client] if client is not None else Client()
        write_id = len(self.past)
        self.past[write_id] = me.seen
        before = self.replicas[replica]
        after = update(before, me.context, replica, write_id)
        self.replicas[replica] = after
        self.known.setdefault(replica, set()).add(write_id)
        self.history.append(after)
        return write_id, before, after

    def sync(self, source: str, target: str) -> None:
        self.replicas[target] = sync(self.replicas[source], self.replicas[target])
        self.known.setdefault(target, set()).update(self.known.get(source, set()))
        self.history.append(self.replicas[target])

    def frontier(self, replica: str) -> set[int]:
        known = self.known.get(replica, set())
        return {w for w in known if not any(w in self.past[v] for v in known)}


REPLICA_IDS = ("a", "b", "c")


@dataclass(frozen=True)
class Step:
    """One step of a run. ``read``: ``client`` reads at ``replica`` (merging into what
    it read before when ``accumulate``). ``write``: ``client`` writes at ``replica``
    with the context it holds. ``rmw``: ``client`` reads at ``replica`` then writes at
    ``other``. ``blind``: a write at ``replica`` with an empty context. ``sync``:
    ``replica`` sends its state to ``other``."""

    kind: str
    client: int
    replica: str
    other: str
    accumulate: bool


steps = st.lists(
    st.builds(
        Step,
        st.sampled_from(["read", "write", "rmw", "rmw", "blind", "sync", "sync"]),
        st.integers(0, 2),
        st.sampled_from(REPLICA_IDS),
        st.sampled_from(REPLICA_IDS),
        st.booleans(),
    ),
    max_size=40,
)


def checked_write(system: System, client: int | None, replica: str, check: bool) -> None:
    """A write, checking that it supersedes exactly the siblings its context covers
    and keeps the rest, under a fresh dot."""
    ctx = system.clients[client].context if client is not None else VectorClock()
    write_id, before, after = system.write(client, replica)
    if check:
        kept = {s.value for s in before.siblings if not covers(ctx, s.dot)}
        assert set(values(after)) == kept | {write_id}
        new_dot = next(s.dot for s in after.siblings if s.value == write_id)
        assert new_dot.counter > before.context.counter(replica)
        assert new_dot.counter > ctx.counter(replica)


def run(plan: list[Step], check: bool = True) -> System:
    """Run ``plan`` on a fresh system; with ``check``, after each step compare every
    replica's siblings with the ground truth and check the update rule."""
    system = System({r: DVVSet() for r in REPLICA_IDS}, [Client() for _ in range(3)])
    for step in plan:
        if step.kind == "read":
            system.read(step.client, step.replica, step.accumulate)
        elif step.kind == "write":
            checked_write(system, step.client, step.replica, check)
        elif step.kind == "rmw":
            system.read(step.client, step.replica, accumulate=False)
            checked_write(system, step.client, step.other, check)
        elif step.kind == "blind":
            checked_write(system, None, step.replica, check)
        else:
            system.sync(step.replica, step.other)
        if check:
            for replica in REPLICA_IDS:
                frontier = system.frontier(replica)
                assert set(values(system.replicas[replica])) == frontier, (replica, step)
    return system


@given(steps)
def test_siblings_are_exactly_the_writes_no_known_write_has_seen(
    plan: list[Step],
) -> None:
    system = run(plan)
    # After every replica has sent to every other, all agree on the global frontier.
    for source in REPLICA_IDS:
        for target in REPLICA_IDS:
            system.sync(source, target)
    for source in REPLICA_IDS:
        for target in REPLICA_IDS:
            system.sync(source, target)
    everything = set(system.past)
    frontier = {w for w in everything if not any(w in system.past[v] for v in everything)}
    for replica in REPLICA_IDS:
        assert set(values(system.replicas[replica])) == frontier


@given(steps, st.integers(0, 2), st.sampled_from(REPLICA_IDS), st.sampled_from(REPLICA_IDS))
def test_read_modify_write_never_makes_a_false_sibling(
    plan: list[Step], client: int, read_at: str, write_at: str
) -> None:
    system = run(plan, check=False)
    read = system.read(client, read_at, accumulate=False)
    write_id, _, after = system.write(client, write_at)
    # Nothing the client read survives next to its write, wherever it is merged.
    assert not set(read) & set(values(after))
    merged = sync(system.replicas[read_at], system.replicas[write_at])
    assert write_id in values(merged)
    assert not set(read) & set(values(merged))
    if read_at == write_at:
        assert values(system.replicas[write_at]) == (write_id,)


@given(steps, st.sampled_from(REPLICA_IDS), st.sampled_from(REPLICA_IDS))
def test_writes_that_did_not_see_each_other_become_siblings(
    plan: list[Step], first_at: str, second_at: str
) -> None:
    system = run(plan, check=False)
    # Clients 0 and 1 both read at first_at, then both write: neither saw the other.
    system.read(0, first_at, accumulate=False)
    system.read(1, first_at, accumulate=False)
    w0, _, _ = system.write(0, first_at)
    w1, _, _ = system.write(1, second_at)
    merged = sync(system.replicas[first_at], system.replicas[second_at])
    assert {w0, w1} <= set(values(merged))
    assert not covers(system.clients[0].context, _dot_of(merged, w1))
    assert not covers(system.clients[1].context, _dot_of(merged, w0))


def _dot_of(state: DVVSet[int], value: int) -> Dot:
    return next(s.dot for s in state.siblings if s.value == value)


# ------------------------------------------------------------------ sync laws


@st.composite
def states_of_one_system(draw: st.DrawFn, count: int) -> list[DVVSet[int]]:
    """``count`` states (possibly the same) reached in one random run, where every
    dot names one value."""
    system = run(draw(steps), check=False)
    pool = [DVVSet(), *system.replicas.values(), *system.history]
    return [draw(st.sampled_from(pool)) for _ in range(count)]


@given(states_of_one_system(2))
def test_sync_is_commutative(states: list[DVVSet[int]]) -> None:
    a, b = states
    assert sync(a, b) == sync(b, a)


@given(states_of_one_system(3))
def test_sync_is_associative(states: list[DVVSet[int]]) -> None:
    a, b, c = states
    assert sync(sync(a, b), c) == sync(a, sync(b, c))
    assert sync_all([a, b, c]) == sync(sync(a, b), c)


@given(states_of_one_system(1))
def test_sync_is_idempotent_with_empty_as_identity(states: list[DVVSet[int]]) -> None:
    (a,) = states
    assert sync(a, a) == a
    assert sync(a, DVVSet()) == a
    assert sync(DVVSet(), a) == a


@given(states_of_one_system(2))
def test_sync_result_knows_both_sides(states: list[DVVSet[int]]) -> None:
    a, b = states
    merged = sync(a, b)
    assert context(merged) == a.context.merge(b.context)
    for side, other in ((a, b), (b, a)):
        for sibling in side.siblings:
            dropped = covers(other.context, sibling.dot) and sibling not in other.siblings
            assert (sibling in merged.siblings) == (not dropped)
