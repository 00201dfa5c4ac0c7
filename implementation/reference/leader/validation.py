"""DynamoDB's input checks that need no stored item, run before a request travels.

:func:`validate_request` raises the ``ValidationError`` DynamoDB would answer for a
malformed request (bad keys, unsupported or invalid attribute values, expressions that
do not parse or use undefined or unused placeholders, a ReturnValues the operation
does not allow, items over 400 KB, keys over their size limits, transactions with no
or more than 100 actions, two actions on one item, a bad ClientRequestToken), so that
no replica ever sees it. Checks that depend on the stored item (an update whose result
is too big, arithmetic on a missing attribute) are made by the partition leader with
the item-store model, and answered as definite errors there.

Where the item-store model turns a fault into a transaction cancellation reason
rather than a request error (an update expression that cannot apply, an update of a
key attribute), these checks leave it to the model, so the answer is the model's.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from replicheck.implementation.reference.leader.config import ref_of
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
from replicheck.models.items.operations import KeyTuple, key_tuple
from replicheck.models.items.requests import (
    MAX_TRANSACTION_ACTIONS,
    ConditionCheck,
    Delete,
    Get,
    Put,
    Request,
    TableSchema,
    TransactGet,
    TransactWrite,
    Update,
    WriteAction,
)
from replicheck.models.items.values import normalize, normalize_item

__all__ = ["MAX_ITEM_BYTES", "check_item_size", "item_size", "ref_of", "validate_request",
           "value_size"]

MAX_ITEM_BYTES: Final = 400 * 1024
"""DynamoDB's item size limit (attribute names plus values)."""

MAX_TRANSACTION_BYTES: Final = 4 * 1024 * 1024
"""DynamoDB's limit on the aggregate size of the items of one transaction."""

MAX_PARTITION_KEY_BYTES: Final = 2048
"""DynamoDB's limit on a partition key value (string or binary)."""

MAX_SORT_KEY_BYTES: Final = 1024
"""DynamoDB's limit on a sort key value (string or binary)."""

MAX_TOKEN_LENGTH: Final = 36
"""The longest ClientRequestToken DynamoDB accepts."""


def value_size(value: Any) -> int:
    """DynamoDB's (approximate) storage size of one attribute value in bytes: UTF-8
    length of strings, byte length of binaries, about one byte per two significant
    digits of a number plus one, one byte for booleans and nulls, three bytes of
    overhead plus one per element for lists and maps, and the sum of the elements for
    sets."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, Decimal | int):
        digits = len(Decimal(value).normalize().as_tuple().digits)
        return (digits + 1) // 2 + 1
    if isinstance(value, bytes | bytearray | memoryview):
        return len(bytes(value))
    if isinstance(value, list | tuple):
        return 3 + sum(1 + value_size(v) for v in value)
    if isinstance(value, Mapping):
        return 3 + sum(1 + len(str(k).encode("utf-8")) + value_size(v)
                       for k, v in value.items())
    if isinstance(value, set | frozenset):
        return sum(value_size(v) for v in value)
    return 0


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's (approximate) size of an item: attribute name lengths plus value
    sizes, in bytes."""
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in item.items())


def check_item_size(item: Mapping[str, Any], what: str = "Item") -> None:
    """ValidationError when ``item`` is over 400 KB."""
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise ValidationError(
            f"Item size has exceeded the maximum allowed size ({size} > {MAX_ITEM_BYTES} "
            "bytes)",
            what=what,
        )


def _schema(schemas: Mapping[str, TableSchema], table: str) -> TableSchema:
    try:
        return schemas[table]
    except KeyError:
        raise ValidationError(
            f"Requested resource not found: table {table!r}; tables: "
            f"{', '.join(schemas) or '(none)'}",
            what="TableName",
        ) from None


def _key(schema: TableSchema, mapping: Any, *, what: str, exact: bool) -> KeyTuple:
    if not isinstance(mapping, Mapping):
        raise ValidationError(f"expected a mapping, got {type(mapping).__name__}", what=what)
    key = key_tuple(schema, mapping, what=what, exact=exact)
    limits = (MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES)
    for name, value, limit in zip(schema.key_attributes, key, limits, strict=False):
        if isinstance(value, str | bytes) and value_size(value) > limit:
            raise ValidationError(
                f"One or more parameter values were invalid: size of key attribute "
                f"{name!r} is {value_size(value)} bytes, above the limit of {limit}",
                what=what,
            )
    return key


def _values(values: Mapping[str, Any] | None) -> None:
    for value in (values or {}).values():
        normalize(value, what="ExpressionAttributeValues")


def _write(schemas: Mapping[str, TableSchema], action: WriteAction, *,
           in_transaction: bool) -> tuple[str, KeyTuple, int]:
    """Static checks of one write; returns its table, key and the size it adds."""
    schema = _schema(schemas, action.table)
    _values(action.values)
    names = action.names or {}
    condition = parse_condition(action.condition) if action.condition is not None else None
    update = None
    size = 0
    if isinstance(action, Put):
        item = normalize_item(action.item)
        key = _key(schema, item, what="Item", exact=False)
        check_item_size(item)
        size = item_size(item)
        if action.return_values not in ("NONE", "ALL_OLD"):
            raise ValidationError(
                f"ReturnValues can only be ALL_OLD or NONE for PutItem, not "
                f"{action.return_values}",
                what="ReturnValues",
            )
    else:
        key = _key(schema, action.key, what="Key", exact=True)
        if isinstance(action, Update):
            update = parse_update(action.update)
        elif isinstance(action, Delete) and action.return_values not in ("NONE", "ALL_OLD"):
            raise ValidationError(
                f"ReturnValues can only be ALL_OLD or NONE for DeleteItem, not "
                f"{action.return_values}",
                what="ReturnValues",
            )
    parsed = [p for p in (condition, update) if p is not None]
    check_placeholders(names, action.values or {}, *parsed)
    if condition is not None:
        validate_condition(condition, names, action.values or {})
    if update is not None and not in_transaction:
        validate_update(update, names, action.values or {})
        touched = updated_paths(update, names)
        for attribute in schema.key_attributes:
            if attribute in touched:
                raise ValidationError(
                    f"Cannot update attribute {attribute}. This attribute is part of the key",
                    what="UpdateExpression",
                )
    return action.table, key, size


def _get(schemas: Mapping[str, TableSchema], get: Get) -> tuple[str, KeyTuple]:
    schema = _schema(schemas, get.table)
    key = _key(schema, get.key, what="Key", exact=True)
    if get.projection is None:
        check_placeholders(get.names or {}, {})
    else:
        check_placeholders(get.names or {}, {}, parse_projection(get.projection))
    return get.table, key


def _count(n: int) -> None:
    if not 1 <= n <= MAX_TRANSACTION_ACTIONS:
        raise ValidationError(
            f"Member must have length between 1 and {MAX_TRANSACTION_ACTIONS}, not {n}",
            what="TransactItems",
        )


def _distinct(refs: list[tuple[str, KeyTuple]]) -> None:
    if len(set(refs)) != len(refs):
        raise ValidationError(
            "Transaction request cannot include multiple operations on one item",
            what="TransactItems",
        )


def validate_request(schemas: Mapping[str, TableSchema], request: Request) -> None:
    """Raise the ValidationError DynamoDB answers for ``request`` whatever the stored
    items are; return quietly when only the stored items can decide."""
    if isinstance(request, Get):
        _get(schemas, request)
    elif isinstance(request, Put | Update | Delete):
        _write(schemas, request, in_transaction=False)
    elif isinstance(request, TransactWrite):
        _count(len(request.actions))
        if request.token is not None and not (
                isinstance(request.token, str) and 1 <= len(request.token) <= MAX_TOKEN_LENGTH):
            raise ValidationError(
                f"ClientRequestToken must be a string of 1 to {MAX_TOKEN_LENGTH} characters",
                what="ClientRequestToken",
            )
        refs = []
        total = 0
        for action in request.actions:
            if not isinstance(action, Put | Update | Delete | ConditionCheck):
                raise ValidationError(
                    f"not a transaction write action: {type(action).__name__}",
                    what="TransactItems",
                )
            table, key, size = _write(schemas, action, in_transaction=True)
            refs.append((table, key))
            total += size
        _distinct(refs)
        if total > MAX_TRANSACTION_BYTES:
            raise ValidationError(
                f"Transaction size has exceeded the maximum allowed size ({total} bytes)",
                what="TransactItems",
            )
    elif isinstance(request, TransactGet):
        _count(len(request.gets))
        refs = []
        for get in request.gets:
            if not isinstance(get, Get):
                raise ValidationError(f"not a Get: {type(get).__name__}", what="TransactItems")
            refs.append(_get(schemas, get))
        _distinct(refs)
    else:
        raise ValidationError(f"unknown request type {type(request).__name__}",
                              what="Request")
