"""The shape every sequential specification takes.

A sequential specification says what a single, never-replicated copy of an object
allows: from a state, an operation with an argument and an observed result leads to
zero or more next states. Zero next states means the observation is impossible;
several mean the object is nondeterministic. Checkers (in ``histories/``) search for
an order of a history's operations that every step allows.

States must be hashable and compared by value: checkers memoize on them. History
values are compared by decoded type and value (``replicheck.models.equality``), never
by Python's ``==`` (``True == 1``, ``nan != nan``): a specification holds them as
:class:`Value` (the value with its :func:`~replicheck.models.equality.value_key`), so a
state holding ``True`` and one holding ``1`` are different states, and a state holding
NaN equals itself.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from replicheck.models.equality import value_key

if TYPE_CHECKING:
    from replicheck.models.items.operations import Span

S = TypeVar("S", bound=Hashable)


class _Unknown:
    """The type of ``UNKNOWN``."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()
"""The result of an operation whose outcome was never observed (indeterminate).

A step given ``UNKNOWN`` as the result allows every outcome the operation could
have had, and returns every next state those outcomes lead to."""


class Value:
    """A history value as specifications hold it: the value itself (``value``, shown in
    explanations) and its :func:`~replicheck.models.equality.value_key` (``key``), by
    which it compares and hashes. ``Value(True) != Value(1)``, ``Value(1) !=
    Value(1.0)``, ``Value(nan) == Value(nan)``; ``repr`` is the value's own."""

    __slots__ = ("key", "value")

    value: Any
    key: Hashable

    def __init__(self, value: Any) -> None:
        """Hold ``value``; raises ``TypeError`` for a value no history format decodes to
        that is not hashable either (see ``value_key``)."""
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "key", value_key(value))

    @staticmethod
    def of(value: Any) -> Value:
        """``value`` held as a :class:`Value` (itself when it already is one)."""
        return value if isinstance(value, Value) else Value(value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Value is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Value) and self.key == other.key

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return repr(self.value)

    def __reduce__(self) -> tuple[type[Value], tuple[Any]]:
        return (Value, (self.value,))


NO_KEY: Final = Value(None)
"""The key of operations that name none (one object per history of such operations)."""


def same(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` (plain values or :class:`Value`) are the same value by
    decoded type and value."""
    return Value.of(a) == Value.of(b)


class Cells(Mapping[Value, Value]):
    """An immutable map from keys to values, both held as :class:`Value`; a key never
    set holds ``initial``. Setting a key to ``initial`` removes it, so equal contents
    are equal states (and equal hashes) however they were reached. ``set`` returns a new
    map; the receiver never changes."""

    __slots__ = ("_data", "_hash", "initial")

    initial: Value
    _data: dict[Value, Value]
    _hash: int | None

    def __init__(self, initial: Any = None, data: Mapping[Any, Any] | None = None) -> None:
        """A map whose unset keys hold ``initial``, holding ``data``'s entries (keys and
        values may be plain values or :class:`Value`)."""
        self.initial = Value.of(initial)
        self._data = {}
        for key, value in (data or {}).items():
            held = Value.of(value)
            if held != self.initial:
                self._data[Value.of(key)] = held
        self._hash = None

    def value(self, key: Any) -> Value:
        """The value ``key`` holds (``initial`` when never set)."""
        return self._data.get(Value.of(key), self.initial)

    def set(self, key: Any, value: Any) -> Cells:
        """A new map where ``key`` holds ``value``."""
        out = Cells.__new__(Cells)
        out.initial = self.initial
        out._data = dict(self._data)
        held = Value.of(value)
        if held == self.initial:
            out._data.pop(Value.of(key), None)
        else:
            out._data[Value.of(key)] = held
        out._hash = None
        return out

    def __getitem__(self, key: Value) -> Value:
        return self._data[Value.of(key)]

    def __iter__(self) -> Iterator[Value]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Cells):
            return self.initial == other.initial and self._data == other._data
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.initial, frozenset(self._data.items())))
        return self._hash

    def __repr__(self) -> str:
        return f"Cells({self.initial!r}, {self._data!r})"


@dataclass(frozen=True)
class Input:
    """One operation as a specification sees it: a function name, the key it acts on
    (``None``: the one object of a history without keys) and its argument; ``span``,
    when the history's times are the store's own, bounds when it took effect (a
    :class:`~replicheck.models.items.operations.Span`, for specifications that judge
    the store's time windows)."""

    f: str
    key: Hashable | None = None
    value: Any = None
    span: Span | None = None


def _describe_input(op: Input, result: Any) -> str:
    key = "" if op.key is None else f" {op.key!r}"
    shown = "?" if result is UNKNOWN else repr(result)
    return f"{op.f}{key} {op.value!r} -> {shown}"


@dataclass(frozen=True)
class SequentialSpec(Generic[S]):
    """A sequential specification: four functions and a name.

    - ``init()`` gives the initial state.
    - ``step(state, op, result)`` gives the tuple of states that may follow ``state``
      when ``op`` is applied and returns ``result`` (``UNKNOWN`` when not observed);
      the empty tuple means the step is not allowed.
    - ``keys(op)``, when not ``None``, gives the keys an operation touches; operations
      whose key sets never connect are independent, so a history may be split into
      parts, one per connected group of keys, and each part checked alone from
      ``init()`` (P-compositionality). ``None`` means the history must be checked whole.
    - ``describe(op, result)`` and ``describe_state(state)`` render for reports.

    ``functions`` lists the function names the specification understands; a history
    using another one is malformed for this specification.
    """

    name: str
    description: str
    functions: frozenset[str]
    init: Callable[[], S]
    step: Callable[[S, Input, Any], tuple[S, ...]]
    keys: Callable[[Input], frozenset[Hashable]] | None = None
    describe: Callable[[Input, Any], str] = _describe_input
    describe_state: Callable[[S], str] = repr

    def allows(self, state: S, op: Input, result: Any) -> bool:
        """True when some next state follows ``state`` for ``op`` returning ``result``."""
        return bool(self.step(state, op, result))
