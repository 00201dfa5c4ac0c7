"""The DynamoDB item store as a sequential specification.

An operation's ``value`` is a request of ``replicheck.models.items.requests``; its
result is the :class:`~replicheck.models.items.requests.Response` the client saw,
or a :class:`Failure` naming the definite error. The step applies the request with
the item-store model and allows exactly the observed outcome the model gives. The
specification splits by the items a request touches: operations on disjoint items
never constrain each other.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from replicheck.models.items.errors import StoreError, TransactionCanceled, ValidationError
from replicheck.models.items.operations import Database, empty, outcome, touched
from replicheck.models.items.requests import Request, Response, TableSchema
from replicheck.models.items.values import freeze
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


def item_store(*schemas: TableSchema) -> SequentialSpec[Database]:
    """The item-store specification over tables ``schemas``."""
    initial = empty(*schemas)

    def step(state: Database, op: Input, result: Any) -> tuple[Database, ...]:
        request: Request = op.value
        after, answer = outcome(state, request)
        if result is UNKNOWN or _canonical(answer) == _canonical(result):
            return (after,)
        return ()

    def keys(op: Input) -> frozenset[Hashable]:
        try:
            return frozenset(touched(initial, op.value))
        except ValidationError:
            return frozenset()

    def describe(op: Input, result: Any) -> str:
        shown = "?" if result is UNKNOWN else (
            result.code if isinstance(result, Failure | StoreError) else repr(result.item))
        return f"{op.f} {op.value!r} -> {shown}"

    def describe_state(state: Database) -> str:
        return "; ".join(
            f"{t}: {dict(sorted(items.items()))}" for t, items in sorted(state.tables.items())
        )

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
