"""A compare-and-set register per key, as in the Jepsen etcd histories of the porcupine
corpus.

Functions (each acts on ``op.key``; ``None`` is the key of operations that name none):

- ``read``: the result is the key's current value (``None``: never written / absent).
- ``write``: the argument is the new value; the result is ignored.
- ``cas``: the argument is a pair ``(old, new)``; the result is ``True`` when the value
  was ``old`` and became ``new``, ``False`` when the value was not ``old`` and stayed as
  it was. A failed compare is a legitimate observation that the value was not ``old``.
  With ``UNKNOWN`` as the result the step allows whichever outcome the state leads to
  (a sequential cas is deterministic, so exactly one).

Whether an indeterminate operation took effect at all is the checker's business, not
the specification's. Values, the compared ``old`` included, are compared by decoded
type and value (``replicheck.models.equality``), as in ``register``; the state is the
same :class:`Cells` map, and keys split the same way.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Final

from replicheck.models.specs.base import (
    NO_KEY,
    UNKNOWN,
    Cells,
    Input,
    SequentialSpec,
    Value,
)
from replicheck.models.specs.register import (
    READ,
    WRITE,
    constant,
    describe_state,
    keys,
    read_step,
    show,
    unknown_function,
)

CAS: Final = "cas"
"""The function name of a compare-and-set."""

FUNCTIONS: Final = frozenset({READ, WRITE, CAS})
"""The function names a compare-and-set register understands."""


def cas_pair(op: Input) -> tuple[Value, Value]:
    """The ``(old, new)`` pair of a cas operation, held as :class:`Value`.

    Raises ``ValueError`` when the argument is not a sequence of exactly two values."""
    value = op.value
    if isinstance(value, Value):
        value = value.value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and len(value) == 2:
        return Value.of(value[0]), Value.of(value[1])
    raise ValueError(f"cas_register: cas expects a pair [old new], got {value!r}")


def cas_step(state: Cells, op: Input, result: Any) -> tuple[Cells, ...]:
    """The states after a cas of ``op.key`` returning ``result``: ``True`` needs the key
    to hold the same value as ``old`` and leads to ``new``; ``False`` needs another
    value and keeps ``state``; ``UNKNOWN`` takes whichever of the two the state allows.

    Raises ``ValueError`` for a result that is neither a bool nor ``UNKNOWN``."""
    old, new = cas_pair(op)
    matches = state.value(op.key) == old
    if result is UNKNOWN:
        return (state.set(op.key, new),) if matches else (state,)
    if result is True:
        return (state.set(op.key, new),) if matches else ()
    if result is False:
        return () if matches else (state,)
    raise ValueError(f"cas_register: a cas result is True, False or UNKNOWN, got {result!r}")


def step(state: Cells, op: Input, result: Any) -> tuple[Cells, ...]:
    """One compare-and-set register step (see the module docstring).

    Raises ``ValueError`` for an unknown function or a malformed cas."""
    if op.f == READ:
        return read_step(state, op, result)
    if op.f == WRITE:
        return (state.set(op.key, op.value),)
    if op.f == CAS:
        return cas_step(state, op, result)
    raise unknown_function("cas_register", op, FUNCTIONS)


def describe(op: Input, result: Any) -> str:
    """A short human rendering: ``read -> 2``, ``write 3``, ``cas(1 -> 3) = ok``,
    ``cas(1 -> 3) = fail``, ``cas(1 -> 3) = ?``, with the key after the function when
    there is one (``read 'a' -> 2``, ``cas 'a' (1 -> 3) = ok``)."""
    keyed = Value.of(op.key) != NO_KEY
    f = f"{op.f} {op.key!r}" if keyed else op.f
    if op.f == CAS:
        try:
            old, new = cas_pair(op)
        except ValueError:
            return f"{f} {op.value!r} -> {show(result)}"
        outcome = "ok" if result is True else "fail" if result is False else "?"
        return f"{f}{' ' if keyed else ''}({old!r} -> {new!r}) = {outcome}"
    if op.f == READ:
        return f"{f} -> {show(result)}"
    if op.f == WRITE:
        return f"{f} {op.value!r}"
    return f"{f} {op.value!r} -> {show(result)}"


def cas_register(initial: Hashable = None) -> SequentialSpec[Cells]:
    """A compare-and-set register per key, each holding ``initial`` before any write.

    The returned specification is deterministic (every allowed step has exactly one
    next state, even for ``UNKNOWN`` results) and splits by key."""
    return SequentialSpec(
        name="cas-register",
        description=f"compare-and-set register (initial value {initial!r})",
        functions=FUNCTIONS,
        init=constant(initial),
        step=step,
        keys=keys,
        describe=describe,
        describe_state=describe_state,
    )


CAS_REGISTER: Final = cas_register()
"""A compare-and-set register that starts as ``None`` (absent), as etcd's key does."""
