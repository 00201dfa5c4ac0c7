"""The DynamoDB item store as a sequential specification.

An operation's ``value`` is a request of ``replicheck.models.items.requests``; its
result is the :class:`~replicheck.models.items.requests.Response` the client saw,
or a :class:`Failure` naming the definite error. The step applies the request with
the item-store model and allows exactly the observed outcome the model gives. The
specification splits by the items a request touches: operations on disjoint items
never constrain each other.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from replicheck.models.items.errors import StoreError, TransactionCanceled, ValidationError
from replicheck.models.items.operations import (
    Database,
    apply_within,
    empty,
    outcome,
    touched,
)
from replicheck.models.items.requests import (
    Delete,
    Get,
    Put,
    Request,
    Response,
    TableSchema,
    TransactGet,
    TransactWrite,
    Update,
)
from replicheck.models.items.values import freeze
from replicheck.models.items.wording import item_key_text, operation_text, value_text
from replicheck.models.specs.base import UNKNOWN, Input, SequentialSpec

FUNCTIONS = frozenset(
    {"get-strong", "get-eventual", "put", "update", "delete", "transact-write",
     "transact-get"}
)


@dataclass(frozen=True)
class Failure:
    """A definite error as a history records it: its code and, for a cancelled
    transaction, the per-action reason codes in request order."""

    code: str
    reasons: tuple[str, ...] = ()

    @staticmethod
    def of(error: StoreError) -> Failure:
        """The failure record of ``error``."""
        reasons = tuple(r.code for r in error.reasons) if isinstance(
            error, TransactionCanceled) else ()
        return Failure(error.code, reasons)


def _canonical(result: Response | Failure | StoreError) -> Hashable:
    if isinstance(result, StoreError):
        result = Failure.of(result)
    if isinstance(result, Failure):
        return result
    return ("ok", freeze(result.item), tuple(freeze(i) for i in result.items))


def _item_words(schema: TableSchema | None, table: str, key: tuple[Any, ...],
                item: Mapping[str, Any]) -> str:
    """One item of a state in words: ``k0 = {v: "v2"}``."""
    if schema is None:
        return f"{table} {value_text(list(key))} = {value_text(dict(item))}"
    named = dict(zip(schema.key_attributes, key, strict=True))
    rest = {a: v for a, v in item.items() if a not in named}
    return f"{item_key_text(table, named)} = {value_text(rest)}"


def item_store(*schemas: TableSchema, token_window: float | None = None
               ) -> SequentialSpec[Database]:
    """The item-store specification over tables ``schemas``. With the store's
    ``token_window`` (seconds), an operation whose input carries its ``span`` may
    take every outcome the model allows within it (``apply_within``: a client token
    reused near the window's end may be remembered or forgotten); without, tokens
    are never forgotten."""
    initial = empty(*schemas)

    def step(state: Database, op: Input, result: Any) -> tuple[Database, ...]:
        request: Request = op.value
        if token_window is None or op.span is None:
            found: tuple[tuple[Database, Response | StoreError], ...] = (
                outcome(state, request),)
        else:
            found = apply_within(state, request, op.span, token_window)
        return tuple(after for after, answer in found
                     if result is UNKNOWN or _canonical(answer) == _canonical(result))

    def keys(op: Input) -> frozenset[Hashable]:
        try:
            return frozenset(touched(initial, op.value))
        except ValidationError:
            return frozenset()

    by_name = {s.name: s for s in schemas}

    def describe(op: Input, result: Any) -> str:
        if not isinstance(op.value, Get | Put | Update | Delete | TransactWrite | TransactGet):
            return f"{op.f} {op.value}"
        return operation_text(op.value, None if result is UNKNOWN else result,
                              schemas=by_name)

    def describe_state(state: Database) -> str:
        return "; ".join(_item_words(by_name.get(t), t, key, item)
                         for t, items in sorted(state.tables.items())
                         for key, item in sorted(items.items(), key=lambda kv: repr(kv[0]))
                         ) or "no item"

    return SequentialSpec(
        name="item-store",
        description="DynamoDB items: conditional writes, update expressions, transactions",
        functions=FUNCTIONS,
        init=lambda: initial,
        step=step,
        keys=keys,
        describe=describe,
        describe_state=describe_state,
    )
