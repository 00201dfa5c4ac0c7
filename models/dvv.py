"""Dotted version vectors with siblings: one key's versions at one replica.

Follows the idea of "Dotted Version Vectors: Logical Clocks for Optimistic
Replication" (Preguiça, Baquero, Almeida, Fonte, Gonçalves) as Riak uses it: every
write gets a *dot*, a (replica, counter) pair naming that one write, and a replica's
state for a key (a ``DVVSet``) is the set of values not yet superseded (the
*siblings*), each with its dot, plus a *causal context*: a vector clock covering the
dot of every write the state has seen, held or superseded.

A client reads the siblings' values and the context (``context``); a later write
carries that context back (``update``). The write supersedes exactly the siblings the
context covers and nothing else, so:

- a read-modify-write never creates a false sibling: the value read is replaced;
- writes that did not see each other (neither context covers the other's dot) are
  kept side by side as siblings, whichever replica took them.

``sync`` merges two replicas' states: a sibling survives unless the other side has
seen its dot (its context covers it) and no longer holds it. Sync is commutative,
associative and idempotent over the states of one system (where a dot always names the
same value), so replicas that exchange states in any order converge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from replicheck.models.clocks import VectorClock, merge

V = TypeVar("V")


@dataclass(frozen=True, order=True)
class Dot:
    """One write's name: the ``counter``-th write (from 1) taken at ``replica``.

    Dots are ordered by (replica, counter); that order only makes listings
    deterministic and says nothing about causality.
    """

    replica: str
    counter: int

    def __post_init__(self) -> None:
        if not isinstance(self.replica, str):
            raise TypeError(f"dot: replica id must be a str, got {self.replica!r}")
        if isinstance(self.counter, bool) or not isinstance(self.counter, int):
            raise TypeError(f"dot: counter must be an int, got {self.counter!r}")
        if self.counter < 1:
            raise ValueError(f"dot: counter must be >= 1, got {self.counter}")

    def covered_by(self, clock: VectorClock) -> bool:
        """True when ``clock`` has seen this write (its counter for the replica reaches it)."""
        return clock.counter(self.replica) >= self.counter


def covers(clock: VectorClock, dot: Dot) -> bool:
    """True when ``clock`` has seen the write named ``dot``."""
    return dot.covered_by(clock)


@dataclass(frozen=True)
class Sibling(Generic[V]):
    """A value a write stored, with the dot naming that write."""

    dot: Dot
    value: V


@dataclass(frozen=True)
class DVVSet(Generic[V]):
    """One replica's versions of one key: the concurrent siblings and the causal context.

    ``siblings`` are the values no write seen here has superseded, each with a
    distinct dot, kept sorted by dot (any order given is normalised). ``context``
    covers every write this state has seen, so it covers every sibling's dot.
    ``DVVSet()`` is the empty state (nothing written, nothing seen). Equal states
    compare equal; a state is hashable when its values are.

    Raises ``ValueError`` when two siblings share a dot or a sibling's dot is not
    covered by the context.
    """

    siblings: tuple[Sibling[V], ...] = ()
    context: VectorClock = field(default_factory=VectorClock)

    def __post_init__(self) -> None:
        given = tuple(self.siblings)
        for sibling in given:
            if not isinstance(sibling, Sibling):
                raise TypeError(f"DVVSet: expected Sibling, got {sibling!r}")
        ordered = tuple(sorted(given, key=lambda s: s.dot))
        dots = [s.dot for s in ordered]
        if len(set(dots)) != len(dots):
            raise ValueError(f"DVVSet: two siblings share a dot in {dots}")
        for dot in dots:
            if not covers(self.context, dot):
                raise ValueError(f"DVVSet: sibling dot {dot} is not covered by {self.context}")
        object.__setattr__(self, "siblings", ordered)

    def dots(self) -> tuple[Dot, ...]:
        """The siblings' dots, in dot order."""
        return tuple(s.dot for s in self.siblings)

    def values(self) -> tuple[V, ...]:
        """The siblings' values, in dot order (see ``values``)."""
        return values(self)


def context(state: DVVSet[V]) -> VectorClock:
    """What a reader gets besides the values: the clock of everything ``state`` has seen.

    A write that carries this context back (``update``) supersedes every sibling the
    reader saw.
    """
    return state.context


def values(state: DVVSet[V]) -> tuple[V, ...]:
    """The values of ``state``'s siblings, in dot order: one value unless writes conflict."""
    return tuple(s.value for s in state.siblings)


def next_dot(state: DVVSet[V], read_context: VectorClock, replica: str) -> Dot:
    """The dot ``update`` gives a write at ``replica``: one above every counter of
    ``replica`` that the state or the client's context has seen, so it is fresh."""
    return Dot(replica, max(state.context.counter(replica), read_context.counter(replica)) + 1)


def update(state: DVVSet[V], read_context: VectorClock, replica: str, value: V) -> DVVSet[V]:
    """The state after ``replica`` takes a write of ``value`` from a client that read
    ``read_context`` (``VectorClock()`` for a blind write).

    The write gets a fresh dot (``next_dot``). It supersedes exactly the siblings whose
    dots ``read_context`` covers; every other sibling stays, concurrent with the new
    value. The new context covers the state's old context, ``read_context`` and the new
    dot.
    """
    dot = next_dot(state, read_context, replica)
    kept = tuple(s for s in state.siblings if not covers(read_context, s.dot))
    seen = merge(merge(state.context, read_context), VectorClock({replica: dot.counter}))
    return DVVSet((*kept, Sibling(dot, value)), seen)


def sync(a: DVVSet[V], b: DVVSet[V]) -> DVVSet[V]:
    """The state that knows what ``a`` and ``b`` know.

    A sibling of either side survives unless the other side's context covers its dot
    while the other side does not hold it (the other side saw a write supersede it).
    The context is the merge of both contexts. Commutative, associative and idempotent
    for states of one system, where a dot always names the same value.
    """
    a_dots = {s.dot for s in a.siblings}
    b_dots = {s.dot for s in b.siblings}
    kept_a = [s for s in a.siblings if s.dot in b_dots or not covers(b.context, s.dot)]
    kept_b = [s for s in b.siblings if s.dot not in a_dots and not covers(a.context, s.dot)]
    return DVVSet((*kept_a, *kept_b), merge(a.context, b.context))


def sync_all(states: Iterable[DVVSet[V]]) -> DVVSet[V]:
    """The state that knows what every given state knows; the empty state when none."""
    result: DVVSet[V] = DVVSet()
    for state in states:
        result = sync(result, state)
    return result
