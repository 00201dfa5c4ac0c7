"""Vector clocks: a partial order of events that captures causality.

A vector clock maps replica ids to non-negative counters. A replica id that is
absent counts as 0, and a counter of 0 is never stored, so two clocks that agree on
every replica are the same value (equal and with the same hash) however they were
built. Clocks are immutable: every operation returns a new clock.

The order is pointwise: ``a <= b`` when every counter of ``a`` is at most the
matching counter of ``b``. It is a partial order, and ``merge`` (pointwise maximum) is
the least upper bound of two clocks. By Mattern's theorem, when every event increments
its replica's counter and every receive merges in the sender's clock, event ``e``
happened before event ``f`` exactly when ``clock(e) < clock(f)``.
(``replicheck.models.proofs.clocks`` proves these laws with z3.)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final


class Ordering(enum.Enum):
    """How two clocks ``a`` and ``b`` relate; ``compare(a, b)`` returns exactly one.

    ``BEFORE``: ``a < b`` (a happened before b). ``AFTER``: ``a > b``. ``EQUAL``: the
    same clock. ``CONCURRENT``: neither ``a <= b`` nor ``b <= a``.
    """

    BEFORE = "before"
    AFTER = "after"
    EQUAL = "equal"
    CONCURRENT = "concurrent"


def _checked_entries(
    counters: Mapping[str, int] | Iterable[tuple[str, int]],
) -> tuple[tuple[str, int], ...]:
    """Validate replica ids and counters; drop zeros; sort by replica id."""
    pairs = counters.items() if isinstance(counters, Mapping) else counters
    seen: dict[str, int] = {}
    for pair in pairs:
        replica, counter = pair
        if not isinstance(replica, str):
            raise TypeError(f"vector clock: replica id must be a str, got {replica!r}")
        if isinstance(counter, bool) or not isinstance(counter, int):
            raise TypeError(f"vector clock: counter of {replica!r} must be an int, got {counter!r}")
        if counter < 0:
            raise ValueError(f"vector clock: counter of {replica!r} must be >= 0, got {counter}")
        if replica in seen:
            raise ValueError(f"vector clock: replica id {replica!r} given twice")
        seen[replica] = counter
    return tuple(sorted((r, c) for r, c in seen.items() if c != 0))


@dataclass(frozen=True, init=False, repr=False)
class VectorClock(Mapping[str, int]):
    """An immutable, hashable vector clock: replica id (str) -> counter (int >= 0).

    Build one from a mapping or from (replica, counter) pairs; ``VectorClock()`` is the
    zero clock (below every other). Zero counters are dropped, so clocks are equal
    exactly when they agree on every replica. As a mapping it holds only the non-zero
    entries, iterated in replica-id order; ``counter(r)`` reads any replica, 0 if absent.

    The comparison operators are the causal partial order: ``a <= b`` is
    ``descends(b, a)``, ``a < b`` means ``a`` happened before ``b``. Two concurrent
    clocks are neither ``<=`` nor ``>=`` each other, so do not sort clocks.

    Raises ``TypeError`` for a non-str replica id or a non-int counter, ``ValueError``
    for a negative counter or a replica id given twice.
    """

    entries: tuple[tuple[str, int], ...]

    def __init__(self, counters: Mapping[str, int] | Iterable[tuple[str, int]] = ()) -> None:
        object.__setattr__(self, "entries", _checked_entries(counters))

    def __getitem__(self, replica: str) -> int:
        for r, c in self.entries:
            if r == replica:
                return c
        raise KeyError(replica)

    def __iter__(self) -> Iterator[str]:
        return (r for r, _ in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"VectorClock({dict(self.entries)!r})"

    def counter(self, replica: str) -> int:
        """The counter of ``replica``: 0 when the clock has no entry for it."""
        return dict(self.entries).get(replica, 0)

    def increment(self, replica: str) -> VectorClock:
        """This clock with ``replica``'s counter one higher (see ``increment``)."""
        return increment(self, replica)

    def merge(self, other: VectorClock) -> VectorClock:
        """The least upper bound of this clock and ``other`` (see ``merge``)."""
        return merge(self, other)

    def compare(self, other: VectorClock) -> Ordering:
        """How this clock relates to ``other`` (see ``compare``)."""
        return compare(self, other)

    def descends(self, other: VectorClock) -> bool:
        """True when this clock is ``>= other`` pointwise (see ``descends``)."""
        return descends(self, other)

    def __le__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return descends(other, self)

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return descends(self, other)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return self != other and descends(other, self)

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return self != other and descends(self, other)


ZERO: Final = VectorClock()
"""The zero clock: no event seen. It is below every clock and the identity of merge."""


def increment(clock: VectorClock, replica: str) -> VectorClock:
    """``clock`` with ``replica``'s counter raised by one, other entries unchanged.

    The result is strictly after ``clock`` (``clock < increment(clock, r)``). It is what
    a replica does to its own clock at each local event.
    """
    if not isinstance(replica, str):
        raise TypeError(f"vector clock: replica id must be a str, got {replica!r}")
    counters = dict(clock.entries)
    counters[replica] = counters.get(replica, 0) + 1
    return VectorClock(counters)


def merge(a: VectorClock, b: VectorClock) -> VectorClock:
    """The join of ``a`` and ``b``: for every replica, the larger of the two counters.

    The result is ``>=`` both and ``<=`` every clock that is ``>=`` both (the least
    upper bound). Merge is commutative, associative and idempotent, and ``ZERO`` is its
    identity.
    """
    counters = dict(a.entries)
    for replica, counter in b.entries:
        if counter > counters.get(replica, 0):
            counters[replica] = counter
    return VectorClock(counters)


def merge_all(clocks: Iterable[VectorClock]) -> VectorClock:
    """The join of every clock given; ``ZERO`` when none are."""
    result = ZERO
    for clock in clocks:
        result = merge(result, clock)
    return result


def descends(a: VectorClock, b: VectorClock) -> bool:
    """True when ``a >= b``: every counter of ``a`` is at least the matching one of ``b``.

    ``a`` has seen every event ``b`` has seen. Every clock descends from itself and
    from ``ZERO``.
    """
    counters = dict(a.entries)
    return all(counters.get(replica, 0) >= counter for replica, counter in b.entries)


def compare(a: VectorClock, b: VectorClock) -> Ordering:
    """Exactly one of the four relations between ``a`` and ``b``.

    ``EQUAL`` when ``a <= b`` and ``b <= a`` (then ``a == b``); ``BEFORE`` when only
    ``a <= b``; ``AFTER`` when only ``b <= a``; ``CONCURRENT`` when neither holds.
    ``compare(b, a)`` is the mirror image of ``compare(a, b)``.
    """
    a_le_b = descends(b, a)
    b_le_a = descends(a, b)
    if a_le_b and b_le_a:
        return Ordering.EQUAL
    if a_le_b:
        return Ordering.BEFORE
    if b_le_a:
        return Ordering.AFTER
    return Ordering.CONCURRENT


def happened_before(a: VectorClock, b: VectorClock) -> bool:
    """True when ``a < b``: ``b`` descends from ``a`` and differs from it."""
    return compare(a, b) is Ordering.BEFORE


def concurrent(a: VectorClock, b: VectorClock) -> bool:
    """True when neither clock descends from the other."""
    return compare(a, b) is Ordering.CONCURRENT
