"""A compare-and-set register, as in the Jepsen etcd histories of the porcupine corpus.

Functions:

- ``read``: the result is the current value (``None``: never written / absent).
- ``write``: the argument is the new value; the result is ignored.
- ``cas``: the argument is a pair ``(old, new)``; the result is ``True`` when the value
  was ``old`` and became ``new``, ``False`` when the value was not ``old`` and stayed as
  it was. A failed compare is a legitimate observation that the value was not ``old``.
  With ``UNKNOWN`` as the result the step allows whichever outcome the state leads to
  (a sequential cas is deterministic, so exactly one).

Whether an indeterminate operation took effect at all is the checker's business, not
the specification's. Values must be hashable and are compared with ``==``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Final

from replicheck.models.specs.base import UNKNOWN, Input, SequentialSpec
from replicheck.models.specs.register import (
    READ,
    WRITE,
    constant,
    describe_state,
    read_step,
    show,
    unknown_function,
)

CAS: Final = "cas"
"""The function name of a compare-and-set."""

FUNCTIONS: Final = frozenset({READ, WRITE, CAS})
"""The function names a compare-and-set register understands."""


def cas_pair(op: Input) -> tuple[Hashable, Hashable]:
    """The ``(old, new)`` pair of a cas operation.

    Raises ``ValueError`` when the argument is not a sequence of exactly two values."""
    value = op.value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and len(value) == 2:
        return value[0], value[1]
    raise ValueError(f"cas_register: cas expects a pair [old new], got {value!r}")


def cas_step(state: Hashable, op: Input, result: Any) -> tuple[Hashable, ...]:
    """The states after a cas returning ``result``: ``True`` needs ``state == old`` and
    leads to ``new``; ``False`` needs ``state != old`` and keeps ``state``; ``UNKNOWN``
    takes whichever of the two the state allows.

    Raises ``ValueError`` for a result that is neither a bool nor ``UNKNOWN``."""
    old, new = cas_pair(op)
    matches = state == old
    if result is UNKNOWN:
        return (new,) if matches else (state,)
    if result is True:
        return (new,) if matches else ()
    if result is False:
        return () if matches else (state,)
    raise ValueError(f"cas_register: a cas result is True, False or UNKNOWN, got {result!r}")


def step(state: Hashable, op: Input, result: Any) -> tuple[Hashable, ...]:
    """One compare-and-set register step (see the module docstring).

    Raises ``ValueError`` for an unknown function or a malformed cas."""
    if op.f == READ:
        return read_step(state, result)
    if op.f == WRITE:
        return (op.value,)
    if op.f == CAS:
        return cas_step(state, op, result)
    raise unknown_function("cas_register", op, FUNCTIONS)


def describe(op: Input, result: Any) -> str:
    """A short human rendering: ``read -> 2``, ``write 3``, ``cas(1 -> 3) = ok``,
    ``cas(1 -> 3) = fail``, ``cas(1 -> 3) = ?``."""
    if op.f == CAS:
        try:
            old, new = cas_pair(op)
        except ValueError:
            return f"cas {op.value!r} -> {show(result)}"
        outcome = "ok" if result is True else "fail" if result is False else "?"
        return f"cas({old!r} -> {new!r}) = {outcome}"
    if op.f == READ:
        return f"read -> {show(result)}"
    if op.f == WRITE:
        return f"write {op.value!r}"
    return f"{op.f} {op.value!r} -> {show(result)}"


def cas_register(initial: Hashable = None) -> SequentialSpec[Hashable]:
    """A compare-and-set register whose value is ``initial`` before any write.

    The returned specification is deterministic: every allowed step has exactly one
    next state, even for ``UNKNOWN`` results."""
    return SequentialSpec(
        name="cas-register",
        description=f"compare-and-set register (initial value {initial!r})",
        functions=FUNCTIONS,
        init=constant(initial),
        step=step,
        keys=None,
        describe=describe,
        describe_state=describe_state,
    )


CAS_REGISTER: Final = cas_register()
"""A compare-and-set register that starts as ``None`` (absent), as etcd's key does."""
