"""A key-value store of strings with get, put and append, as in the porcupine kv corpus.

Functions (each acts on ``op.key``):

- ``get``: the result is the key's string, ``""`` when the key was never written.
- ``put``: the argument (a string) becomes the key's value; the result is ignored.
- ``append``: the argument (a string) is concatenated to the key's value; the result
  is ignored.

Keys are independent, so ``keys(op)`` is ``{op.key}`` and a checker may split a
history by key and check each part from ``init()``. States are ``KVState`` values:
immutable, hashable, compared by content. An empty string and an absent key are the
same state (no ``get`` can tell them apart), which keeps memoization tight.

Keys and results are compared by decoded type and value (``replicheck.models.equality``):
keys are held as :class:`Value` (the key ``1`` is not the key ``True``), and a get that
returned anything but a plain string (a keyword ``:x``, a list) never matches. Put and
append arguments must be plain strings (an EDN keyword is not one).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Final

from replicheck.models.specs.base import UNKNOWN, Input, SequentialSpec, Value, same
from replicheck.models.specs.register import show, unknown_function

GET: Final = "get"
"""The function name of a read of one key."""

PUT: Final = "put"
"""The function name of an overwrite of one key."""

APPEND: Final = "append"
"""The function name of a concatenation to one key's string."""

FUNCTIONS: Final = frozenset({GET, PUT, APPEND})
"""The function names the key-value store understands."""


def _is_string(value: Any) -> bool:
    return type(value) is str


class KVState(Mapping[Value, str]):
    """An immutable mapping from keys (held as :class:`Value`) to non-empty strings;
    absent keys read as ``""``. Keys may be given as plain values or as ``Value``.

    Equal content means equal states and equal hashes. ``set`` returns a new state;
    the receiver never changes. Updating costs time proportional to the number of
    keys held, which for a history split by key is at most one."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[Any, str] | None = None) -> None:
        """A state holding ``data``'s entries; entries with an empty string are dropped.

        Raises ``ValueError`` when a value is not a plain string."""
        clean: dict[Value, str] = {}
        for key, value in (data or {}).items():
            if not _is_string(value):
                raise ValueError(f"kv: the value of {key!r} must be a string, got {value!r}")
            if value:
                clean[Value.of(key)] = value
        self._data = clean
        self._hash: int | None = None

    @classmethod
    def _wrap(cls, data: dict[Value, str]) -> KVState:
        state = cls.__new__(cls)
        state._data = data
        state._hash = None
        return state

    def __getitem__(self, key: Any) -> str:
        return self._data[Value.of(key)]

    def __iter__(self) -> Iterator[Value]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def value(self, key: Any) -> str:
        """The key's string: ``""`` when absent."""
        return self._data.get(Value.of(key), "")

    def set(self, key: Any, value: str) -> KVState:
        """A new state where ``key`` holds ``value`` (``""`` removes the key)."""
        data = dict(self._data)
        if value:
            data[Value.of(key)] = value
        else:
            data.pop(Value.of(key), None)
        return KVState._wrap(data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KVState):
            return self._data == other._data
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"KVState({self._data!r})"


def string_argument(op: Input) -> str:
    """The string argument of a put or append (held as a :class:`Value` or not).

    Raises ``ValueError`` when it is not a plain string (an EDN keyword is not one)."""
    value = op.value.value if isinstance(op.value, Value) else op.value
    if not _is_string(value):
        raise ValueError(f"kv: {op.f} of {op.key!r} expects a string, got {value!r}")
    return str(value)


def step(state: KVState, op: Input, result: Any) -> tuple[KVState, ...]:
    """One key-value step: a get must return the key's current string (``""`` when
    never written), the same value by decoded type and value; a put replaces it; an
    append extends it.

    Raises ``ValueError`` for an unknown function or a non-string argument."""
    if op.f == GET:
        if result is UNKNOWN or _read_matches(result, state.value(op.key)):
            return (state,)
        return ()
    if op.f == PUT:
        return (state.set(op.key, string_argument(op)),)
    if op.f == APPEND:
        return (state.set(op.key, state.value(op.key) + string_argument(op)),)
    raise unknown_function("kv", op, FUNCTIONS)


def _read_matches(result: Any, held: str) -> bool:
    if _is_string(result):
        return bool(result == held)
    return same(result, held)


def keys(op: Input) -> frozenset[Hashable]:
    """The one key an operation touches, held as a :class:`Value`."""
    return frozenset({Value.of(op.key)})


def describe(op: Input, result: Any) -> str:
    """A short human rendering: ``get '4' -> 'x 0 1 y'``, ``put '4' 'x'``,
    ``append '4' 'x 0 1 y'``."""
    if op.f == GET:
        return f"get {op.key!r} -> {show(result)}"
    if op.f in (PUT, APPEND):
        return f"{op.f} {op.key!r} {op.value!r}"
    return f"{op.f} {op.key!r} {op.value!r} -> {show(result)}"


def describe_state(state: KVState) -> str:
    """The non-empty keys and their strings, as a dict literal."""
    return repr(dict(state))


def kv(initial: Mapping[Any, str] | None = None) -> SequentialSpec[KVState]:
    """A key-value store of strings holding ``initial`` (default: every key ``""``).

    The returned specification is deterministic and splits by key."""
    start = KVState(initial)
    shown = "empty" if not start else describe_state(start)

    def init() -> KVState:
        return start

    return SequentialSpec(
        name="kv",
        description=f"key-value store with get/put/append of strings (initially {shown})",
        functions=FUNCTIONS,
        init=init,
        step=step,
        keys=keys,
        describe=describe,
        describe_state=describe_state,
    )


KV: Final = kv()
"""A key-value store of strings in which every key starts as ``""``."""
