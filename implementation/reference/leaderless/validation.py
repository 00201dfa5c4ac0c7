"""DynamoDB's input validation, done before a request travels, and the refusal of
transactions (which the leaderless presets do not support).

The checks themselves live with the item model (``replicheck.models.items.validation``),
so a leaderless store refuses exactly what the model refuses. Everything here depends
on the request alone, never on a stored item, so a request rejected here changes no
replica and sends no message. Checks that depend on the item (an update adding a
number to a string, an updated item over the size limit) happen at the coordinator,
also before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.requests import Request, TableSchema, TransactGet, TransactWrite
from replicheck.models.items.validation import (
    MAX_ITEM_BYTES,
    check_item_size,
    item_size,
    validate_request,
    value_size,
)

__all__ = ["MAX_ITEM_BYTES", "check_item_size", "check_request", "item_size", "value_size"]


def check_request(schema_of: Callable[[str], TableSchema], request: Request,
                  preset: str) -> None:
    """Reject ``request`` with a ValidationError saying what and where, unless a
    DynamoDB table would accept it whatever item it holds. ``schema_of(table)``
    gives a table's schema (ValidationError for an unknown table). Transactions are
    always refused: ``preset`` names the store in the message."""
    if isinstance(request, TransactWrite | TransactGet):
        raise ValidationError(
            f"transactions are not supported by the {preset} preset: a leaderless "
            f"(Dynamo) cluster has no atomic multi-item operations", what="TransactItems")
    validate_request({request.table: schema_of(request.table)}, request)
