"""Hypothesis strategies for item-store requests.

Every strategy draws requests on one table whose partition key is ``pk``
(configurable), with keys from a small pool (:data:`KEYS`) so that operations
collide, and written values that are unique within one Hypothesis example
(:func:`unique_values`: ``"v1"``, ``"v2"``, ... in draw order), so a read names the
write it observed. Conditions compare against the values written so far in the
example and against the item's existence; update expressions SET, REMOVE and ADD;
transactions hold one to three actions on distinct items (DynamoDB refuses two
actions on one item).

Every request drawn is valid input for the item model (no ValidationError from
its shape); whether its condition holds depends on the state.

Each request carries its own copy of the table name (:func:`table_name`): equal to
the name given, never the same string object, as a table name decoded from a wire
request or a replayed schedule is. A store that compares table names by identity
(``is``) instead of equality then answers as it would in production.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

from hypothesis import strategies as st

from replicheck.models.items.requests import (
    ConditionCheck,
    Delete,
    Get,
    Put,
    Request,
    ReturnValues,
    TransactGet,
    TransactWrite,
    Update,
    WriteAction,
)

__all__ = [
    "KEYS",
    "conditions",
    "deletes",
    "gets",
    "increment",
    "keys",
    "puts",
    "requests",
    "single_requests",
    "table_name",
    "transact_gets",
    "transact_writes",
    "unique_values",
    "updates",
    "write_actions",
]

KEYS: Final[tuple[str, ...]] = ("k0", "k1", "k2")
"""The partition-key pool: three keys, so concurrent operations collide often."""

TABLE: Final = "items"
PK: Final = "pk"
_WRITE_RETURNS: Final[tuple[ReturnValues, ...]] = ("NONE", "ALL_OLD")
_UPDATE_RETURNS: Final[tuple[ReturnValues, ...]] = (
    "NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW")


def table_name(table: str) -> str:
    """A string equal to ``table`` that is not the same object (for any name of two
    or more characters: CPython shares only the empty and one-character strings)."""
    return table.encode("utf-8").decode("utf-8")


def _counter() -> Iterator[int]:
    return itertools.count(1)


def increment(table: str, pk: str, key: str) -> Update:
    """Add one to the item's ``n`` (created at 1): applied twice, it shows."""
    return Update(table, {pk: key}, "SET n = if_not_exists(n, :zero) + :one",
                  values={":zero": Decimal(0), ":one": Decimal(1)})


def unique_values() -> st.SearchStrategy[str]:
    """Values ``"v1"``, ``"v2"``, ...: each draw in one example gives a new one."""
    return st.shared(st.builds(_counter), key="replicheck-unique-values").map(
        lambda counter: f"v{next(counter)}")


def keys(pool: tuple[str, ...] = KEYS) -> st.SearchStrategy[str]:
    """A partition-key value from ``pool`` (shrinks towards the first)."""
    return st.sampled_from(pool)


def _earlier_value() -> st.SearchStrategy[str]:
    # A value likely written earlier in the example (v1..v4): a comparison may hold.
    return st.integers(1, 4).map(lambda i: f"v{i}")


Condition = tuple[str | None, dict[str, Any]]
"""A condition expression (or None) and the expression attribute values it uses."""


def conditions(pk: str = PK) -> st.SearchStrategy[Condition]:
    """No condition (most often), or one on existence, on the value ``v`` or on the
    counter ``n``, with its ``:placeholders``."""
    return st.one_of(
        st.just((None, {})),
        st.just((f"attribute_exists({pk})", {})),
        st.just((f"attribute_not_exists({pk})", {})),
        _earlier_value().map(lambda v: ("v = :expected", {":expected": v})),
        _earlier_value().map(lambda v: ("attribute_not_exists(v) OR v <> :expected",
                                        {":expected": v})),
        st.integers(0, 2).map(lambda n: ("attribute_not_exists(n) OR n < :limit",
                                         {":limit": Decimal(n)})),
    )


def _with_condition(condition: Condition, values: dict[str, Any]
                    ) -> tuple[str | None, dict[str, Any] | None]:
    expression, used = condition
    merged = {**values, **used}
    return expression, (merged or None)


@st.composite
def puts(draw: st.DrawFn, table: str = TABLE, pk: str = PK, *,
         action: bool = False) -> Put:
    """A put of ``{pk: key, "v": fresh value}``, sometimes with a counter, maybe
    conditional, asking for ALL_OLD sometimes (never inside a transaction)."""
    item: dict[str, Any] = {pk: draw(keys()), "v": draw(unique_values())}
    if draw(st.booleans()):
        item["n"] = Decimal(draw(st.integers(0, 2)))
    condition, values = _with_condition(draw(conditions(pk)), {})
    returns: ReturnValues = "NONE" if action else draw(st.sampled_from(_WRITE_RETURNS))
    return Put(table_name(table), item, condition, None, values, returns)


_UPDATES: Final = (
    ("SET v = :v", True),
    ("SET v = :v ADD n :one", True),
    ("SET n = if_not_exists(n, :zero) + :one", False),
    ("REMOVE v", False),
    ("ADD n :one", False),
)


@st.composite
def updates(draw: st.DrawFn, table: str = TABLE, pk: str = PK, *,
            action: bool = False) -> Update:
    """An update of one key: SET a fresh value, count with ADD / if_not_exists, or
    REMOVE the value; maybe conditional; any return values (NONE in a transaction)."""
    expression, sets_value = draw(st.sampled_from(_UPDATES))
    values: dict[str, Any] = {}
    if sets_value:
        values[":v"] = draw(unique_values())
    if ":one" in expression:
        values[":one"] = Decimal(1)
    if ":zero" in expression:
        values[":zero"] = Decimal(0)
    condition, merged = _with_condition(draw(conditions(pk)), values)
    returns: ReturnValues = "NONE" if action else draw(st.sampled_from(_UPDATE_RETURNS))
    return Update(table_name(table), {pk: draw(keys())}, expression, condition, None, merged,
                  returns)


@st.composite
def deletes(draw: st.DrawFn, table: str = TABLE, pk: str = PK, *,
            action: bool = False) -> Delete:
    """A delete of one key, maybe conditional, maybe asking for ALL_OLD."""
    condition, values = _with_condition(draw(conditions(pk)), {})
    returns: ReturnValues = "NONE" if action else draw(st.sampled_from(_WRITE_RETURNS))
    return Delete(table_name(table), {pk: draw(keys())}, condition, None, values, returns)


@st.composite
def gets(draw: st.DrawFn, table: str = TABLE, pk: str = PK, *,
         consistent: bool | None = None) -> Get:
    """A get of one key: strongly consistent or not (``consistent`` fixes it)."""
    strong = draw(st.booleans()) if consistent is None else consistent
    return Get(table_name(table), {pk: draw(keys())}, consistent=strong)


@st.composite
def _condition_checks(draw: st.DrawFn, table: str, pk: str) -> ConditionCheck:
    expression, values = draw(conditions(pk).filter(lambda c: c[0] is not None))
    assert expression is not None
    return ConditionCheck(table_name(table), {pk: draw(keys())}, expression, None,
                          values or None)


def write_actions(table: str = TABLE, pk: str = PK) -> st.SearchStrategy[WriteAction]:
    """One action of a TransactWrite: a put, update, delete or condition check."""
    return st.one_of(puts(table, pk, action=True), updates(table, pk, action=True),
                     deletes(table, pk, action=True), _condition_checks(table, pk))


def _key_of(action: WriteAction, pk: str) -> Any:
    return action.item[pk] if isinstance(action, Put) else action.key[pk]


def transact_writes(table: str = TABLE, pk: str = PK) -> st.SearchStrategy[TransactWrite]:
    """A TransactWrite of one to three actions on distinct items, without a token."""
    return st.lists(write_actions(table, pk), min_size=1, max_size=3,
                    unique_by=lambda a: _key_of(a, pk)).map(
        lambda actions: TransactWrite(tuple(actions)))


def transact_gets(table: str = TABLE, pk: str = PK) -> st.SearchStrategy[TransactGet]:
    """A TransactGet of one to three distinct keys."""
    return st.lists(keys(), min_size=1, max_size=3, unique=True).map(
        lambda ks: TransactGet(tuple(Get(table_name(table), {pk: k}) for k in ks)))


def single_requests(table: str = TABLE, pk: str = PK, *,
                    eventual_reads: bool = True) -> st.SearchStrategy[Request]:
    """A get, put, update or delete on one item (gets strong only when
    ``eventual_reads`` is False)."""
    return st.one_of(gets(table, pk, consistent=None if eventual_reads else True),
                     puts(table, pk), updates(table, pk), deletes(table, pk))


def requests(table: str = TABLE, pk: str = PK, *, transactions: bool = True,
             eventual_reads: bool = True) -> st.SearchStrategy[Request]:
    """Any request of this module: single-item ones (gets weighted as often as all
    writes), and transactions (about one draw in five) when ``transactions`` is
    True."""
    read = gets(table, pk, consistent=None if eventual_reads else True)
    choices: list[st.SearchStrategy[Request]] = [
        read, puts(table, pk), read, updates(table, pk), read, deletes(table, pk)]
    if transactions:
        choices += [transact_writes(table, pk), transact_gets(table, pk)]
    return st.sampled_from(choices).flatmap(lambda chosen: chosen)
