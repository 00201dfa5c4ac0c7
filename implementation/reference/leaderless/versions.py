"""Conflict resolution of one key's versions at one replica: last-writer-wins
registers (:mod:`replicheck.models.lww`) or dotted version vectors with siblings
(:mod:`replicheck.models.dvv`).

A replica's *state* for a key is a ``Stamped`` value (LWW) or a ``DVVSet`` (DVV)
whose values are frozen items (:func:`replicheck.models.items.values.freeze_item`),
``None`` standing for a deletion (a tombstone, kept so that the delete wins or
supersedes like any write); a DVV sibling also keeps the causal context its write
carried. States only grow by ``merge``, a join: replicas that exchange states in any
order end equal.

What a reader sees of a state:

- LWW: the one value with the greatest (timestamp, node) stamp.
- DVV: every sibling and the causal context. A single-item answer (``Get``) is the
  live sibling (not a tombstone) with the greatest dot (dots ordered by node id,
  then counter: an arbitrary but fixed choice), ``None`` when every sibling is a
  tombstone.

Metadata (JSON values) follows :mod:`replicheck.histories.checkers.sessions`:

- a LWW write or read carries ``{"version": [timestamp, node]}`` (``null``: nothing
  there);
- a DVV write carries ``{"dot": [node, counter], "clock": {...}}``: the clock is the
  causal context the write carried, without its own dot — exactly the versions it
  supersedes (a blind write's is empty, though its dot's counter may be above other
  dots of the same node, which it does NOT supersede);
- a DVV read carries ``{"siblings": [{"value": V, "dot": [node, counter],
  "clock": {...}}, ...], "clock": {...}}``: each sibling with the context its write
  carried, and the context a later write should carry back.

Values in metadata are DynamoDB JSON (:func:`~replicheck.models.items.values.item_to_wire`),
``null`` for a tombstone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, TypeAlias

from replicheck.models import dvv, lww
from replicheck.models.clocks import VectorClock
from replicheck.models.dvv import DVVSet
from replicheck.models.items.requests import Item
from replicheck.models.items.values import FrozenItem, freeze_item, item_to_wire, thaw_item
from replicheck.models.lww import Stamped

Value: TypeAlias = FrozenItem | None
"""What one write stored: a frozen item, or ``None`` for a delete."""

ClockEntries: TypeAlias = tuple[tuple[str, int], ...]
"""A vector clock's entries (``VectorClock.entries``)."""

DVVValue: TypeAlias = tuple[Value, ClockEntries]
"""What a DVV sibling holds: the value and the causal context its write carried (the
versions it superseded), so every sibling can be reported with its own clock."""

State: TypeAlias = Stamped[Value] | DVVSet[DVVValue]
"""One replica's versions of one key."""


def frozen(item: Item | None) -> Value:
    """The stored form of an item (``None``: deleted)."""
    return None if item is None else freeze_item(item)


def thawed(value: Value) -> Item | None:
    """The item a stored value stands for."""
    return None if value is None else thaw_item(value)


_NESTED = frozenset({"L", "M", "SS", "NS", "BS"})


def _canonical(frozen_value: Any) -> Any:
    tag = frozen_value[0]
    if tag in ("SS", "NS", "BS"):
        return (tag, tuple(sorted(frozen_value[1])))
    if tag == "L":
        return (tag, tuple(_canonical(x) for x in frozen_value[1]))
    if tag == "M":
        return (tag, tuple((k, _canonical(v)) for k, v in frozen_value[1]))
    return frozen_value


def value_bytes(value: Value) -> bytes:
    """A canonical, process-independent encoding of a stored value: equal exactly
    when the items are equal (DynamoDB equality: numbers by value, sets regardless of
    order). ``b"-"`` for a tombstone."""
    if value is None:
        return b"-"
    if any(v[0] in _NESTED for _, v in value):
        value = tuple((name, _canonical(v)) for name, v in value)
    return b"+" + repr(value).encode("utf-8", "surrogatepass")


def wire(value: Value) -> dict[str, Any] | None:
    """A stored value as DynamoDB JSON (``None`` for a tombstone)."""
    return None if value is None else item_to_wire(thaw_item(value))


def clock_json(clock: VectorClock) -> dict[str, int]:
    """A vector clock as a JSON object."""
    return dict(clock.entries)


class Resolver(ABC):
    """How one cluster merges, writes and shows a key's versions."""

    name: str
    siblings_allowed: bool

    @abstractmethod
    def merge(self, a: State | None, b: State | None) -> State | None:
        """The join of two states (``None``: nothing stored)."""

    def merge_all(self, states: Iterable[State | None]) -> State | None:
        """The join of every state given; ``None`` when none holds anything."""
        result: State | None = None
        for state in states:
            result = self.merge(result, state)
        return result

    @abstractmethod
    def write(self, local: State | None, context: VectorClock, node: str, value: Value,
              timestamp: int) -> tuple[State, dict[str, Any]]:
        """A write of ``value`` coordinated by ``node``: the coordinator's new local
        state (what it sends to the other replicas) and the write's metadata.
        ``context`` is what the writer had read (DVV), ``timestamp`` the
        coordinator's clock (LWW)."""

    @abstractmethod
    def values(self, state: State | None) -> tuple[Value, ...]:
        """Every value a reader sees (one for LWW, the siblings for DVV)."""

    @abstractmethod
    def chosen(self, state: State | None) -> Item | None:
        """The single item a ``Get`` answers with (see the module docstring)."""

    @abstractmethod
    def context(self, state: State | None) -> VectorClock:
        """The causal context a reader gets (the zero clock for LWW)."""

    @abstractmethod
    def read_meta(self, state: State | None) -> dict[str, Any]:
        """The version metadata of a read that returned ``state``."""

    @abstractmethod
    def merkle_value(self, state: State) -> object:
        """The canonical value a Merkle tree hashes for this state: equal exactly
        when the states are equal."""

    @abstractmethod
    def entry(self, state: State) -> dict[str, Any]:
        """The state as JSON, in the convergence checker's entry forms."""


class LWWResolver(Resolver):
    """Last writer wins on (timestamp, node): concurrent writes are not kept."""

    name = "lww"
    siblings_allowed = False

    def merge(self, a: State | None, b: State | None) -> State | None:
        assert a is None or isinstance(a, Stamped)
        assert b is None or isinstance(b, Stamped)
        return lww.merge(a, b)

    def write(self, local: State | None, context: VectorClock, node: str, value: Value,
              timestamp: int) -> tuple[State, dict[str, Any]]:
        new = Stamped(value, timestamp, node)
        merged = self.merge(local, new)
        assert merged is not None
        return merged, {"version": [timestamp, node]}

    def values(self, state: State | None) -> tuple[Value, ...]:
        if state is None:
            return ()
        assert isinstance(state, Stamped)
        return (state.value,)

    def chosen(self, state: State | None) -> Item | None:
        if state is None:
            return None
        assert isinstance(state, Stamped)
        return thawed(state.value)

    def context(self, state: State | None) -> VectorClock:
        return VectorClock()

    def read_meta(self, state: State | None) -> dict[str, Any]:
        if state is None:
            return {"version": None}
        assert isinstance(state, Stamped)
        return {"version": [state.timestamp, state.replica]}

    def merkle_value(self, state: State) -> object:
        assert isinstance(state, Stamped)
        head = f"lww|{state.timestamp}|{len(state.replica)}:{state.replica}|"
        return head.encode("utf-8", "surrogatepass") + value_bytes(state.value)

    def entry(self, state: State) -> dict[str, Any]:
        assert isinstance(state, Stamped)
        return {"value": wire(state.value), "version": [state.timestamp, state.replica]}


class DVVResolver(Resolver):
    """Dotted version vectors: concurrent writes are kept as siblings; a write
    supersedes exactly what its context covers."""

    name = "dvv"
    siblings_allowed = True

    def merge(self, a: State | None, b: State | None) -> State | None:
        if a is None:
            return b
        if b is None:
            return a
        assert isinstance(a, DVVSet) and isinstance(b, DVVSet)
        return dvv.sync(a, b)

    def write(self, local: State | None, context: VectorClock, node: str, value: Value,
              timestamp: int) -> tuple[State, dict[str, Any]]:
        base: DVVSet[DVVValue] = DVVSet() if local is None else _dvv(local)
        dot = dvv.next_dot(base, context, node)
        new = dvv.update(base, context, node, (value, context.entries))
        return new, {"dot": [dot.replica, dot.counter], "clock": clock_json(context)}

    def values(self, state: State | None) -> tuple[Value, ...]:
        return () if state is None else tuple(s.value[0] for s in _dvv(state).siblings)

    def chosen(self, state: State | None) -> Item | None:
        if state is None:
            return None
        live = [s for s in _dvv(state).siblings if s.value[0] is not None]
        if not live:
            return None
        return thawed(max(live, key=lambda s: s.dot).value[0])

    def context(self, state: State | None) -> VectorClock:
        return VectorClock() if state is None else _dvv(state).context

    def read_meta(self, state: State | None) -> dict[str, Any]:
        if state is None:
            return {"siblings": [], "clock": {}}
        return self.entry(state)

    def merkle_value(self, state: State) -> object:
        s = _dvv(state)
        parts = [f"dvv|{len(s.siblings)}|".encode()]
        for x in s.siblings:
            body = value_bytes(x.value[0]) + repr(x.value[1]).encode("utf-8", "surrogatepass")
            parts.append(f"{len(x.dot.replica)}:{x.dot.replica}|{x.dot.counter}|{len(body)}:"
                         .encode("utf-8", "surrogatepass"))
            parts.append(body)
        parts.append(repr(s.context.entries).encode("utf-8", "surrogatepass"))
        return b"".join(parts)

    def entry(self, state: State) -> dict[str, Any]:
        s = _dvv(state)
        return {"siblings": [{"value": wire(x.value[0]), "dot": [x.dot.replica, x.dot.counter],
                              "clock": dict(x.value[1])}
                             for x in s.siblings],
                "clock": clock_json(s.context)}


def _dvv(state: State) -> DVVSet[DVVValue]:
    assert isinstance(state, DVVSet)
    return state
