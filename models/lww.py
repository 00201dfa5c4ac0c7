"""Last-writer-wins registers.

Every write carries a stamp: a timestamp (an int, from whatever clock the writer
uses) and the id of the replica that took it. Stamps are ordered totally by
(timestamp, replica): the replica id breaks ties between equal timestamps, so any two
different stamps have a winner. Merging two registers keeps the one with the greater
stamp; ``None`` is the empty register, below every write.

A stamp names one write: a replica never gives two different values the same
timestamp. Under that assumption ``merge`` is a join-semilattice (commutative,
associative, idempotent), so replicas that exchange registers in any order converge
on the write with the greatest stamp. (``replicheck.models.proofs.clocks`` proves it.)
Note what last-writer-wins promises and what it does not: concurrent writes are not
kept, the one with the lower stamp is silently lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar, overload

V = TypeVar("V")


class StampConflict(ValueError):
    """Two different values carry the same (timestamp, replica) stamp, so neither can
    be chosen: the stamps were not unique."""


@dataclass(frozen=True)
class Stamped(Generic[V]):
    """A value written at ``timestamp`` by ``replica``.

    ``a < b`` (and ``<=``, ``>``, ``>=``) compares stamps only: by timestamp, then by
    replica id. ``==`` compares value and stamp. Raises ``TypeError`` when the
    timestamp is not an int or the replica id not a str.
    """

    value: V
    timestamp: int
    replica: str

    def __post_init__(self) -> None:
        if isinstance(self.timestamp, bool) or not isinstance(self.timestamp, int):
            raise TypeError(f"Stamped: timestamp must be an int, got {self.timestamp!r}")
        if not isinstance(self.replica, str):
            raise TypeError(f"Stamped: replica id must be a str, got {self.replica!r}")

    @property
    def stamp(self) -> tuple[int, str]:
        """The (timestamp, replica) pair that orders this write among all others."""
        return (self.timestamp, self.replica)

    def __lt__(self, other: Stamped[V]) -> bool:
        if not isinstance(other, Stamped):
            return NotImplemented
        return self.stamp < other.stamp

    def __le__(self, other: Stamped[V]) -> bool:
        if not isinstance(other, Stamped):
            return NotImplemented
        return self.stamp <= other.stamp

    def __gt__(self, other: Stamped[V]) -> bool:
        if not isinstance(other, Stamped):
            return NotImplemented
        return self.stamp > other.stamp

    def __ge__(self, other: Stamped[V]) -> bool:
        if not isinstance(other, Stamped):
            return NotImplemented
        return self.stamp >= other.stamp


@overload
def merge(a: Stamped[V], b: Stamped[V] | None) -> Stamped[V]: ...
@overload
def merge(a: Stamped[V] | None, b: Stamped[V]) -> Stamped[V]: ...
@overload
def merge(a: None, b: None) -> None: ...
@overload
def merge(a: Stamped[V] | None, b: Stamped[V] | None) -> Stamped[V] | None: ...
def merge(a: Stamped[V] | None, b: Stamped[V] | None) -> Stamped[V] | None:
    """The register holding whichever of ``a`` and ``b`` has the greater stamp.

    ``None`` (the empty register) loses to every write; ``merge(None, None)`` is
    ``None``. The result is always one of the arguments. Raises ``StampConflict`` when
    ``a`` and ``b`` share a stamp but hold different values.
    """
    if a is None:
        return b
    if b is None:
        return a
    if a.stamp == b.stamp:
        if a.value != b.value:
            raise StampConflict(
                f"last-writer-wins: stamp {a.stamp} carries two values, {a.value!r} and {b.value!r}"
            )
        return a
    return a if a.stamp > b.stamp else b


def merge_all(registers: Iterable[Stamped[V] | None]) -> Stamped[V] | None:
    """The write with the greatest stamp among ``registers``; ``None`` when there is none."""
    result: Stamped[V] | None = None
    for register in registers:
        result = merge(result, register)
    return result
