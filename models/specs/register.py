"""A read/write register: one value, read whole and overwritten whole.

Functions:

- ``read``: the argument is ignored; the result is the value read (``None`` when the
  register was never written and its initial value is ``None``).
- ``write``: the argument is the value written; the result is ignored (a write always
  succeeds sequentially, so every observed result is allowed).

The state is the current value itself, so values must be hashable (and are compared
with ``==``). ``keys`` is ``None``: a register is a single object.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Final

from replicheck.models.specs.base import UNKNOWN, Input, SequentialSpec

READ: Final = "read"
"""The function name of a register read."""

WRITE: Final = "write"
"""The function name of a register write."""

FUNCTIONS: Final = frozenset({READ, WRITE})
"""The function names a plain register understands."""


def unknown_function(spec: str, op: Input, known: frozenset[str]) -> ValueError:
    """The error for an operation whose function the specification ``spec`` lacks.

    The message names the function given and the functions that are known."""
    return ValueError(
        f"{spec}: unknown function {op.f!r}; known functions are {', '.join(sorted(known))}"
    )


def show(value: Any) -> str:
    """Render an argument or a result for people: ``?`` for ``UNKNOWN``, else its repr."""
    return "?" if value is UNKNOWN else repr(value)


def read_step(state: Hashable, result: Any) -> tuple[Hashable, ...]:
    """The states after a read returning ``result`` from ``state``: ``(state,)`` when the
    result is ``UNKNOWN`` or equals ``state``, else ``()`` (the read is impossible)."""
    if result is UNKNOWN or result == state:
        return (state,)
    return ()


def step(state: Hashable, op: Input, result: Any) -> tuple[Hashable, ...]:
    """One register step: a read must return the current value; a write replaces it.

    Raises ``ValueError`` for a function other than ``read`` and ``write``."""
    if op.f == READ:
        return read_step(state, result)
    if op.f == WRITE:
        return (op.value,)
    raise unknown_function("register", op, FUNCTIONS)


def describe(op: Input, result: Any) -> str:
    """A short human rendering: ``read -> 2``, ``read -> ?``, ``write 3``."""
    if op.f == READ:
        return f"read -> {show(result)}"
    if op.f == WRITE:
        return f"write {op.value!r}"
    return f"{op.f} {op.value!r} -> {show(result)}"


def describe_state(state: Hashable) -> str:
    """The register's value, rendered with ``repr``."""
    return repr(state)


def constant(value: Hashable) -> Callable[[], Hashable]:
    """A zero-argument function that always returns ``value`` (an ``init``)."""

    def init() -> Hashable:
        return value

    return init


def register(initial: Hashable = None) -> SequentialSpec[Hashable]:
    """A read/write register whose value is ``initial`` before any write.

    The returned specification is deterministic: every allowed step has exactly one
    next state."""
    return SequentialSpec(
        name="register",
        description=f"read/write register (initial value {initial!r})",
        functions=FUNCTIONS,
        init=constant(initial),
        step=step,
        keys=None,
        describe=describe,
        describe_state=describe_state,
    )


REGISTER: Final = register()
"""A read/write register that starts as ``None`` (never written)."""
