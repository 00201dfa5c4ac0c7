"""The shape every sequential specification takes.

A sequential specification says what a single, never-replicated copy of an object
allows: from a state, an operation with an argument and an observed result leads to
zero or more next states. Zero next states means the observation is impossible;
several mean the object is nondeterministic. Checkers (in ``histories/``) search for
an order of a history's operations that every step allows.

States must be hashable and compared by value: checkers memoize on them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

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


@dataclass(frozen=True)
class Input:
    """One operation as a specification sees it: a function name, the key it acts on
    (``None`` for single-object specifications) and its argument."""

    f: str
    key: Hashable | None = None
    value: Any = None


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
