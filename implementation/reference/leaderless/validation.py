"""DynamoDB's input validation, done before a request travels: keys, attribute
values, expressions and their placeholders, return values, the 400 KB item limit,
and the refusal of transactions (which the leaderless presets do not support).

Everything here depends on the request alone, never on a stored item, so a request
rejected here changes no replica and sends no message. Checks that depend on the
item (an update adding a number to a string, an updated item over the size limit)
happen at the coordinator, also before anything is written.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions import (
    check_placeholders,
    parse_condition,
    parse_projection,
    parse_update,
    updated_paths,
    validate_condition,
    validate_update,
)
from replicheck.models.items.operations import key_tuple
from replicheck.models.items.requests import (
    RETURN_VALUES,
    Delete,
    Get,
    Item,
    Put,
    Request,
    TableSchema,
    TransactGet,
    TransactWrite,
    Update,
)
from replicheck.models.items.values import normalize, normalize_item, type_of

MAX_ITEM_BYTES: Final = 400 * 1024
"""DynamoDB's limit on one item's size (attribute names and values)."""


def value_size(value: Any) -> int:
    """DynamoDB's approximate stored size of one attribute value, in bytes: strings
    and binaries by length (UTF-8), numbers one byte per two significant digits plus
    one, booleans and nulls one byte, lists and maps three bytes plus one per element
    plus the elements (map keys counted), sets the sum of their elements."""
    kind = type_of(value)
    if kind == "S":
        return len(value.encode("utf-8", "surrogatepass"))
    if kind == "B":
        return len(bytes(value))
    if kind == "N":
        digits = Decimal(value).normalize().as_tuple().digits
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in value)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8", "surrogatepass")) + value_size(v)
                       for k, v in value.items())
    return sum(value_size(v) for v in value)


def item_size(item: Item) -> int:
    """DynamoDB's approximate size of ``item``: attribute names (UTF-8) plus values."""
    return sum(len(name.encode("utf-8", "surrogatepass")) + value_size(value)
               for name, value in item.items())


def check_item_size(item: Item, what: str = "Item") -> None:
    """ValidationError when ``item`` is larger than DynamoDB's 400 KB limit."""
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise ValidationError(
            f"Item size has exceeded the maximum allowed size: {size} bytes > "
            f"{MAX_ITEM_BYTES}", what=what)


def check_request(schema_of: Any, request: Request, preset: str) -> None:
    """Reject ``request`` with a ValidationError saying what and where, unless a
    DynamoDB table would accept it whatever item it holds. ``schema_of(table)``
    gives a table's schema (ValidationError for an unknown table). Transactions are
    always refused: ``preset`` names the store in the message."""
    if isinstance(request, TransactWrite | TransactGet):
        raise ValidationError(
            f"transactions are not supported by the {preset} preset: a leaderless "
            f"(Dynamo) cluster has no atomic multi-item operations", what="TransactItems")
    schema: TableSchema = schema_of(request.table)
    if isinstance(request, Get):
        key_tuple(schema, request.key, what="Key")
        if request.projection is None:
            check_placeholders(request.names or {}, {})
        else:
            projection = parse_projection(request.projection)
            check_placeholders(request.names or {}, {}, projection)
        return
    names = request.names or {}
    values = {k: normalize(v) for k, v in (request.values or {}).items()}
    parsed: list[Any] = []
    if request.condition is not None:
        condition = parse_condition(request.condition)
        validate_condition(condition, names, values)
        parsed.append(condition)
    if isinstance(request, Put):
        item = normalize_item(request.item)
        key_tuple(schema, item, what="Item", exact=False)
        if request.return_values not in ("NONE", "ALL_OLD"):
            raise ValidationError(
                f"ReturnValues can only be ALL_OLD or NONE for PutItem, "
                f"not {request.return_values}", what="ReturnValues")
        check_item_size(item)
    elif isinstance(request, Update):
        key_tuple(schema, request.key, what="Key")
        update = parse_update(request.update)
        validate_update(update, names, values)
        touched = updated_paths(update, names)
        for attribute in schema.key_attributes:
            if attribute in touched:
                raise ValidationError(
                    f"Cannot update attribute {attribute}. This attribute is part of the key",
                    what="UpdateExpression")
        parsed.append(update)
        if request.return_values not in RETURN_VALUES:
            raise ValidationError(f"ReturnValues must be one of {list(RETURN_VALUES)}, "
                                  f"not {request.return_values!r}", what="ReturnValues")
    elif isinstance(request, Delete):
        key_tuple(schema, request.key, what="Key")
        if request.return_values not in ("NONE", "ALL_OLD"):
            raise ValidationError(
                f"ReturnValues can only be ALL_OLD or NONE for DeleteItem, "
                f"not {request.return_values}", what="ReturnValues")
    else:
        raise ValidationError(f"unknown request type {type(request).__name__}",
                              what="Request")
    check_placeholders(names, values, *parsed)
