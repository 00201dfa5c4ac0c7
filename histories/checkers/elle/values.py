"""History values compared by decoded type and value inside the Elle inferences.

The inferences index keys, written values and list elements in dicts and sets and
compare lists with ``==``: Python's equality, for which ``True == 1``, ``1 == 1.0``
and NaN differs from itself. :func:`by_value` rewrites a history's transactions so
that every key and value is a :class:`Value`, whose equality and hash are those of
``replicheck.models.equality.value_key`` (the one home of the rule) and whose
``repr`` is the original's, so explanations read as before. When every key and value
are of one type whose ``==`` is exact (plain ints, or plain strings), they are left
as they are (so are the values): the common case costs one pass over the values.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any, Final

from replicheck.histories.checkers.elle.txn import LIST_APPEND, READ, Txn, Workload
from replicheck.models.equality import value_key

_EXACT: Final = (int, str)
"""Types whose instances compare exactly among themselves with ``==`` (``bool`` and
``Keyword`` are subclasses, so the check is on the exact type)."""


class Value:
    """A key or value compared by :func:`value_key`; shown as the original."""

    __slots__ = ("_hash", "key", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.key: Hashable = value_key(value)
        self._hash = hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Value) and self.key == other.key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return repr(self.value)

    def to_json(self) -> Any:
        """The original value, made JSON-able as a Verdict makes its data."""
        from replicheck.histories.verdict import _jsonable

        return _jsonable(self.value)


def _types(txns: Iterable[Txn], workload: Workload) -> tuple[set[type], set[type]]:
    """The exact types of the keys, and of the values (``None`` left out)."""
    keys: set[type] = set()
    values: set[type] = set()
    appending = workload == LIST_APPEND
    for t in txns:
        for f, k, v in t.mops:
            keys.add(type(k))
            if v is None:
                continue
            if f == READ and appending:
                values.update(map(type, v))
            else:
                values.add(type(v))
    return keys, values


def _exact(types: set[type]) -> bool:
    return len(types) <= 1 and types <= set(_EXACT)


def by_value(txns: Sequence[Txn], workload: Workload) -> tuple[Txn, ...]:
    """``txns`` with every key (unless all keys are of one exact type, int or str) and
    every written value, value read and list element (unless all of them are of one
    exact type) wrapped in :class:`Value`; ``None`` stays ``None`` (the initial
    state)."""
    key_types, value_types = _types(txns, workload)
    wrap_keys, wrap_values = not _exact(key_types), not _exact(value_types)
    if not wrap_keys and not wrap_values:
        return tuple(txns)
    appending = workload == LIST_APPEND
    out: list[Txn] = []
    for t in txns:
        mops = []
        for f, k, v in t.mops:
            if v is None or not wrap_values:
                w: Any = v
            elif f == READ and appending:
                w = [Value(e) for e in v]
            else:
                w = Value(v)
            mops.append((f, Value(k) if wrap_keys else k, w))
        out.append(t._replace(mops=tuple(mops)))
    return tuple(out)
