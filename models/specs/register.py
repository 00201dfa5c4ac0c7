"""A read/write register per key: each key's value is read whole and overwritten whole.

Functions (each acts on ``op.key``; ``None`` is the key of operations that name none,
so a history without keys is one register):

- ``read``: the argument is ignored; the result is the value read (the initial value,
  ``None`` by default, when the key was never written).
- ``write``: the argument is the value written; the result is ignored (a write always
  succeeds sequentially, so every observed result is allowed).

Values are compared by decoded type and value (``replicheck.models.equality``): a read
of ``True`` does not match a write of ``1``, nor ``1`` one of ``1.0``, nor the keyword
``:a`` the string ``"a"``; NaN matches NaN. The state is a :class:`Cells` map from key
to :class:`Value`. Keys are independent registers: ``keys(op)`` is ``{op.key}``, so a
checker may split a history by key and check each part from ``init()``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Final

from replicheck.models.specs.base import NO_KEY, UNKNOWN, Cells, Input, SequentialSpec, Value

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


def read_step(state: Cells, op: Input, result: Any) -> tuple[Cells, ...]:
    """The states after a read of ``op.key`` returning ``result``: ``(state,)`` when the
    result is ``UNKNOWN`` or the same value as the key holds, else ``()`` (the read is
    impossible)."""
    if result is UNKNOWN or Value.of(result) == state.value(op.key):
        return (state,)
    return ()


def step(state: Cells, op: Input, result: Any) -> tuple[Cells, ...]:
    """One register step: a read must return the key's current value; a write replaces
    it.

    Raises ``ValueError`` for a function other than ``read`` and ``write``."""
    if op.f == READ:
        return read_step(state, op, result)
    if op.f == WRITE:
        return (state.set(op.key, op.value),)
    raise unknown_function("register", op, FUNCTIONS)


def keys(op: Input) -> frozenset[Hashable]:
    """The one key an operation acts on (``None`` included), held as a :class:`Value`."""
    return frozenset({Value.of(op.key)})


def describe(op: Input, result: Any) -> str:
    """A short human rendering: ``read -> 2``, ``read -> ?``, ``write 3``, with the key
    after the function when there is one (``read 'a' -> 2``, ``write 'a' 3``)."""
    f = op.f if Value.of(op.key) == NO_KEY else f"{op.f} {op.key!r}"
    if op.f == READ:
        return f"{f} -> {show(result)}"
    if op.f == WRITE:
        return f"{f} {op.value!r}"
    return f"{f} {op.value!r} -> {show(result)}"


def describe_state(state: Cells) -> str:
    """The register's value when the state holds no key but ``None`` (``1``), else the
    keys set and their values as a dict literal (``{'a': 1}``; an empty state shows
    the initial value)."""
    if not state or set(state) == {NO_KEY}:
        return repr(state.value(NO_KEY))
    return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in state.items()) + "}"


def constant(value: Hashable) -> Callable[[], Cells]:
    """A zero-argument function that always returns the state where every key holds
    ``value`` (an ``init``)."""
    start = Cells(value)

    def init() -> Cells:
        return start

    return init


def register(initial: Hashable = None) -> SequentialSpec[Cells]:
    """A read/write register per key, each holding ``initial`` before any write.

    The returned specification is deterministic (every allowed step has exactly one
    next state) and splits by key."""
    return SequentialSpec(
        name="register",
        description=f"read/write register (initial value {initial!r})",
        functions=FUNCTIONS,
        init=constant(initial),
        step=step,
        keys=keys,
        describe=describe,
        describe_state=describe_state,
    )


REGISTER: Final = register()
"""A read/write register that starts as ``None`` (never written)."""
