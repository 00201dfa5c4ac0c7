"""A brute-force linearizability oracle for ``register``, ``cas-register`` and ``kv``
histories, written from the definitions and independent of ``replicheck.histories.
checkers`` and ``replicheck.models`` (it uses only the history data types and
``replicheck.models.equality``, the one home of value equality).

Definitions used:

- Linearizability (Herlihy & Wing, 1990): a history is linearizable when its operations
  that took effect can be put in one sequence that (1) the sequential object allows
  step by step and (2) respects real time: an operation that completed before another
  was invoked comes first. Pending operations may be completed or removed.
- Jepsen's completions: ``ok`` took effect, between its invocation and its completion
  (it must be in the sequence); ``fail`` never took effect (it is not in the sequence),
  except a ``fail`` with error ``condition-failed``, which replicheck's history format
  uses for a compare that did not hold: the cas did take place and observed a value
  other than the expected one (it is in the sequence, as an observation that changes
  nothing). ``info`` or no completion: it may have taken effect at any time after its
  invocation, or never (it may be in the sequence, with no upper bound on its place, or
  left out); its process never continues. An ``ok`` cas whose completion value is
  ``false`` is the other way of recording a compare that did not hold.
- Locality (Herlihy & Wing, theorem 1): a history is linearizable exactly when each
  object's sub-history is. Each key is one object (operations without a key: the key
  ``None``), so keys are decided one at a time.

The sequential objects, each key starting empty: a register (``read`` returns the
value, ``None`` before any write; ``write`` sets it); a cas-register (also ``cas [old
new]``: when the value is ``old``, it becomes ``new``, else nothing changes); a kv store
of strings (``get`` returns the string, ``""`` before any put and for a ``nil`` output;
``put`` sets it; ``append`` concatenates). Values are the same when
``models.equality.same_value`` says so (by decoded type and value).

The search enumerates every sequence: at each point it tries every operation not yet
placed whose real-time predecessors (the operations that must be in the sequence and
completed before it was invoked) are placed, and stops when every operation that must
be in the sequence is placed. Nothing is memoized and nothing is reduced; a prefix the
object refuses is abandoned (every prefix of a legal sequence is legal). For histories
of up to about 8 operations per key.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from replicheck.histories.history import History, Operation
from replicheck.models.equality import same_value, value_key

MODELS: Final = ("register", "cas-register", "kv")
FUNCTIONS: Final = {
    "register": frozenset({"read", "write"}),
    "cas-register": frozenset({"read", "write", "cas"}),
    "kv": frozenset({"get", "put", "append"}),
}
MAX_OPERATIONS: Final = 10
"""The most operations of one key the oracle accepts."""

_REFUSED: Final = object()


class NotMeaningful(ValueError):
    """The history is not one of the model's (an unknown function, a malformed cas, a
    ``condition-failed`` outside a cas, a kv value that is not a string)."""


@dataclass(frozen=True)
class Event:
    """One operation as the oracle sees it: ``must`` (it took effect or observed),
    ``start`` and ``end`` (record indexes; ``end`` is infinite for an operation that may
    take effect at any time after its invocation) and ``outcome``: ``"ok"``,
    ``"compare-failed"`` or ``"maybe"``."""

    op: Operation
    must: bool
    start: int
    end: float
    outcome: str


def _events(ops: Iterable[Operation], model: str) -> list[Event]:
    out = []
    for op in ops:
        if op.f not in FUNCTIONS[model]:
            raise NotMeaningful(f"{model} has no function {op.f!r}")
        if op.status == "fail":
            if str(op.error).lstrip(":") != "condition-failed":
                continue  # never took effect
            if op.f != "cas":
                raise NotMeaningful(f"a {op.f} has no condition to fail")
            out.append(Event(op, True, op.call, _end(op), "compare-failed"))
        elif op.status == "ok":
            outcome = "compare-failed" if op.f == "cas" and op.output is False else "ok"
            out.append(Event(op, True, op.call, _end(op), outcome))
        else:
            out.append(Event(op, False, op.call, math.inf, "maybe"))
    return out


def _end(op: Operation) -> float:
    return math.inf if op.ret is None else op.ret


def _cas_pair(op: Operation) -> tuple[Any, Any]:
    pair = op.input
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        raise NotMeaningful(f"a cas needs [old new], got {pair!r}")
    return pair[0], pair[1]


def _string(value: Any) -> str:
    if type(value) is not str:
        raise NotMeaningful(f"kv values are strings, got {value!r}")
    return value


def apply(model: str, state: Any, event: Event) -> Any:
    """The object's value after ``event`` from ``state``, or ``_REFUSED`` when the
    object cannot have done what was observed."""
    op = event.op
    if model == "kv":
        current = "" if state is None else state
        if op.f == "get":
            if event.outcome == "maybe":
                return state
            seen = "" if op.output is None else op.output
            return state if same_value(seen, current) else _REFUSED
        if op.f == "put":
            return _string(op.input)
        return current + _string(op.input)  # append
    if op.f == "read":
        if event.outcome == "maybe" or same_value(op.output, state):
            return state
        return _REFUSED
    if op.f == "write":
        return op.input
    old, new = _cas_pair(op)
    holds = same_value(state, old)
    if event.outcome == "ok":
        return new if holds else _REFUSED
    if event.outcome == "compare-failed":
        return _REFUSED if holds else state
    return new if holds else state  # maybe: it takes place and does what the value says


def events(ops: Iterable[Operation], model: str) -> list[Event]:
    """The operations as the oracle sees them (plain failures left out; see
    :class:`Event`)."""
    return _events(ops, model)


def refuses(model: str, state: Any, event: Event) -> bool:
    """Whether the object, holding ``state``, cannot have done what ``event`` observed."""
    return apply(model, state, event) is _REFUSED


def linearizable_key(ops: Iterable[Operation], model: str) -> bool:
    """Whether the operations of one key have a linearization (see the module
    docstring)."""
    events = _events(ops, model)
    if len(events) > MAX_OPERATIONS:
        raise ValueError(f"the oracle takes at most {MAX_OPERATIONS} operations per key, "
                         f"got {len(events)}")
    n = len(events)
    must = frozenset(i for i in range(n) if events[i].must)
    before = [frozenset(a for a in must if events[a].end < events[b].start) for b in range(n)]

    def extend(placed: frozenset[int], state: Any) -> bool:
        if must <= placed:
            return True
        for b in range(n):
            if b in placed or not before[b] <= placed:
                continue
            after = apply(model, state, events[b])
            if after is not _REFUSED and extend(placed | {b}, after):
                return True
        return False

    return extend(frozenset(), None)


def by_key(history: History) -> dict[Hashable, list[Operation]]:
    """The client operations per key (keys told apart by decoded type and value)."""
    out: dict[Hashable, list[Operation]] = {}
    for op in history.operations:
        out.setdefault(value_key(op.key), []).append(op)
    return out


def is_linearization(history: History, model: str, order: Iterable[int]) -> bool:
    """Whether ``order`` (operation ids) is a linearization of ``history``: every
    operation that must be in the sequence is there once, none that never took effect
    is, real time is respected, and each key's object allows the sequence."""
    order = list(order)
    events = {e.op.id: e for e in _events(history.operations, model)}
    if len(set(order)) != len(order) or not set(order) <= set(events):
        return False
    if any(e.must and i not in order for i, e in events.items()):
        return False
    for later, b in enumerate(order):
        for a in order[later + 1:]:
            if events[a].must and events[a].end < events[b].start:
                return False  # a completed before b was invoked, yet comes after it
    states: dict[Hashable, Any] = {}
    for i in order:
        key = value_key(events[i].op.key)
        after = apply(model, states.get(key), events[i])
        if after is _REFUSED:
            return False
        states[key] = after
    return True


def linearizable(history: History, model: str) -> bool:
    """Whether ``history`` is linearizable for ``model`` (one of :data:`MODELS`).

    Raises :class:`NotMeaningful` for a history that is not one of the model's."""
    if model not in MODELS:
        raise ValueError(f"no oracle for model {model!r}")
    return all(linearizable_key(ops, model) for ops in by_key(history).values())
