"""DynamoDB's input checks that need no stored item: one home for the item model and
for every store that rejects bad input before it travels.

:func:`validate_request` raises the ``ValidationError`` DynamoDB answers for a
malformed request — an unknown table, bad keys (missing, extra, of the wrong type,
empty, over their size limits), unsupported or invalid attribute values, expressions
that do not parse or use undefined or unused placeholders, a ReturnValues the
operation does not allow, an update of a key attribute, items over 400 KB,
transactions with no or more than 100 actions, two actions on one item, more than
4 MB in one transaction, a bad ClientRequestToken — and returns quietly when only the
stored items can decide. The per-part checks (:func:`check_write`,
:func:`check_get`, :func:`check_transaction`) return what they parsed, so the item
model evaluates exactly what was validated.

Inside a transaction, an update expression that cannot apply and an update of a key
attribute are left to evaluation, where DynamoDB reports them as a cancellation
reason of that action rather than as a request error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions import (
    MAX_SUBSTITUTION_BYTES,
    LimitExceeded,
    check_placeholders,
    parse_condition,
    parse_projection,
    parse_update,
    updated_paths,
    validate_condition,
    validate_update,
)
from replicheck.models.items.expressions.limits import check_attribute_name_length, utf8_length
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
from replicheck.models.items.values import normalize, normalize_item, type_of

__all__ = [
    "MAX_ITEM_BYTES",
    "MAX_PARTITION_KEY_BYTES",
    "MAX_SORT_KEY_BYTES",
    "MAX_TOKEN_LENGTH",
    "MAX_TRANSACTION_BYTES",
    "CheckedWrite",
    "KeyTuple",
    "check_get",
    "check_item_size",
    "check_substitution_size",
    "check_transact_get",
    "check_transaction",
    "check_write",
    "expression_fault",
    "item_size",
    "key_tuple",
    "schema_of",
    "substitution_size",
    "validate_request",
    "value_size",
]

KeyTuple = tuple[Any, ...]
"""A primary key's values, partition key first."""

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

_KEY_TYPES: Final = ("S", "N", "B")


def value_size(value: Any) -> int:
    """DynamoDB's (approximate) storage size of one attribute value in bytes: UTF-8
    length of strings, byte length of binaries, about one byte per two significant
    digits of a number plus one, one byte for booleans and nulls, three bytes of
    overhead plus one per element for lists and maps (map keys counted), and the sum
    of the elements for sets. Nested values are walked on an explicit stack."""
    total = 0
    pending: list[Any] = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, str):
            total += len(current.encode("utf-8", "surrogatepass"))
        elif isinstance(current, bool) or current is None:
            total += 1
        elif isinstance(current, Decimal | int):
            digits = len(Decimal(current).normalize().as_tuple().digits)
            total += (digits + 1) // 2 + 1
        elif isinstance(current, bytes | bytearray | memoryview):
            total += len(bytes(current))
        elif isinstance(current, list | tuple):
            total += 3 + len(current)
            pending.extend(current)
        elif isinstance(current, Mapping):
            total += 3 + sum(1 + len(str(k).encode("utf-8", "surrogatepass")) for k in current)
            pending.extend(current.values())
        elif isinstance(current, set | frozenset):
            pending.extend(current)
    return total


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's (approximate) size of an item: attribute name lengths plus value
    sizes, in bytes."""
    return sum(len(name.encode("utf-8", "surrogatepass")) + value_size(v)
               for name, v in item.items())


def substitution_size(names: Mapping[str, str], values: Mapping[str, Any]) -> int:
    """The bytes of a request's substitution variables, as DynamoDB's 2 MB limit counts
    them: each ExpressionAttributeNames key and name in UTF-8, each
    ExpressionAttributeValues key in UTF-8 plus its value's :func:`value_size`."""
    return (sum(utf8_length(key) + utf8_length(name) for key, name in names.items())
            + sum(utf8_length(key) + value_size(value) for key, value in values.items()))


def check_substitution_size(names: Mapping[str, str], values: Mapping[str, Any]) -> None:
    """:class:`LimitExceeded` when ExpressionAttributeNames and ExpressionAttributeValues
    together are over ``MAX_SUBSTITUTION_BYTES`` (2 MB); ``values`` normalized."""
    size = substitution_size(names, values)
    if size > MAX_SUBSTITUTION_BYTES:
        raise LimitExceeded(
            "ExpressionAttributeNames and ExpressionAttributeValues are too large; size: "
            f"{size} bytes, limit: {MAX_SUBSTITUTION_BYTES} bytes (maximum length of all "
            "substitution variables)",
            limit="maximum length of all substitution variables, in bytes",
            figure=MAX_SUBSTITUTION_BYTES,
            what="ExpressionAttributeValues" if values else "ExpressionAttributeNames",
        )


def check_item_size(item: Mapping[str, Any], what: str = "Item") -> None:
    """ValidationError when ``item`` is over 400 KB or one of its attribute names over
    64 KB."""
    for name in item:
        check_attribute_name_length(name, what)
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise ValidationError(
            f"Item size has exceeded the maximum allowed size ({size} > {MAX_ITEM_BYTES} "
            "bytes)",
            what=what,
        )


def schema_of(schemas: Mapping[str, TableSchema], table: str) -> TableSchema:
    """The schema of ``table``; ValidationError naming the tables when unknown."""
    try:
        return schemas[table]
    except KeyError:
        raise ValidationError(
            f"Requested resource not found: table {table!r}; tables: "
            f"{', '.join(schemas) or '(none)'}",
            what="TableName",
        ) from None


def key_tuple(schema: TableSchema, item: Mapping[str, Any], *, what: str,
              exact: bool = True) -> KeyTuple:
    """The key of ``item`` under ``schema``.

    With ``exact`` the mapping must hold the key attributes and nothing else (a Key
    parameter); otherwise it may hold more (an Item). Key values must be S, N or B,
    not empty, and within DynamoDB's key size limits. Raises ValidationError saying
    which attribute is at fault."""
    if not isinstance(item, Mapping):
        raise ValidationError(f"expected a mapping, got {type(item).__name__}", what=what)
    names = schema.key_attributes
    if exact:
        extra = sorted(set(item) - set(names))
        if extra:
            raise ValidationError(
                f"The provided key element does not match the schema: unexpected "
                f"attributes {extra}; the key of {schema.name!r} is {list(names)}",
                what=what,
            )
    values = []
    for name, limit in zip(names, (MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES),
                           strict=False):
        if name not in item:
            raise ValidationError(
                f"The provided key element does not match the schema: missing key "
                f"attribute {name!r}",
                what=what,
            )
        value = normalize(item[name])
        kind = type_of(value)
        if kind not in _KEY_TYPES:
            raise ValidationError(
                f"The provided key element does not match the schema: key attribute "
                f"{name!r} has type {kind}, expected one of S, N, B",
                what=what,
            )
        if kind in ("S", "B") and len(value) == 0:
            raise ValidationError(
                f"One or more parameter values are not valid: the key attribute "
                f"{name!r} is empty",
                what=what,
            )
        if kind in ("S", "B") and value_size(value) > limit:
            raise ValidationError(
                f"One or more parameter values were invalid: size of key attribute "
                f"{name!r} is {value_size(value)} bytes, above the limit of {limit}",
                what=what,
            )
        values.append(value)
    return tuple(values)


@dataclass(frozen=True)
class CheckedWrite:
    """A write action that passed the static checks: its table and key, the item
    size it adds, and its parsed condition and update (``None`` when absent)."""

    action: WriteAction
    table: str
    key: KeyTuple
    size: int
    condition: Any
    update: Any


def check_write(schemas: Mapping[str, TableSchema], action: WriteAction, *,
                in_transaction: bool = False) -> CheckedWrite:
    """The static checks of one write (Put, Update, Delete, or a transaction's
    ConditionCheck); ValidationError at the first fault."""
    schema = schema_of(schemas, action.table)
    names = action.names or {}
    values = {k: normalize(v, what="ExpressionAttributeValues")
              for k, v in (action.values or {}).items()}
    condition = parse_condition(action.condition) if action.condition is not None else None
    update = None
    size = 0
    if isinstance(action, Put):
        item = normalize_item(action.item)
        key = key_tuple(schema, item, what="Item", exact=False)
        check_item_size(item)
        size = item_size(item)
        if action.return_values not in ("NONE", "ALL_OLD"):
            raise ValidationError(
                f"ReturnValues can only be ALL_OLD or NONE for PutItem, "
                f"not {action.return_values}",
                what="ReturnValues",
            )
    else:
        key = key_tuple(schema, action.key, what="Key")
        if isinstance(action, Update):
            update = parse_update(action.update)
        elif isinstance(action, Delete) and action.return_values not in ("NONE", "ALL_OLD"):
            raise ValidationError(
                f"ReturnValues can only be ALL_OLD or NONE for DeleteItem, "
                f"not {action.return_values}",
                what="ReturnValues",
            )
    parsed = [p for p in (condition, update) if p is not None]
    check_placeholders(names, values, *parsed)
    check_substitution_size(names, values)
    if condition is not None:
        validate_condition(condition, names, values)
    if update is not None and not in_transaction:
        validate_update(update, names, values)
        touched = updated_paths(update, names)
        for attribute in schema.key_attributes:
            if attribute in touched:
                raise ValidationError(
                    f"Cannot update attribute {attribute}. This attribute is part of the key",
                    what="UpdateExpression",
                )
    return CheckedWrite(action, action.table, key, size, condition, update)


def check_get(schemas: Mapping[str, TableSchema], get: Get) -> tuple[str, KeyTuple, Any]:
    """The static checks of a get: its table, key and parsed projection (or None)."""
    schema = schema_of(schemas, get.table)
    key = key_tuple(schema, get.key, what="Key")
    projection = None if get.projection is None else parse_projection(get.projection)
    check_placeholders(get.names or {}, {}, *([projection] if projection else []))
    check_substitution_size(get.names or {}, {})
    return get.table, key, projection


def _count(n: int) -> None:
    if not 1 <= n <= MAX_TRANSACTION_ACTIONS:
        raise ValidationError(
            f"Member must have length between 1 and {MAX_TRANSACTION_ACTIONS}, not {n}",
            what="TransactItems",
        )


def _distinct(refs: Iterable[tuple[str, KeyTuple]]) -> None:
    seen: set[tuple[str, KeyTuple]] = set()
    for ref in refs:
        if ref in seen:
            raise ValidationError(
                "Transaction request cannot include multiple operations on one item",
                what="TransactItems",
            )
        seen.add(ref)


def check_transaction(schemas: Mapping[str, TableSchema], request: TransactWrite
                      ) -> tuple[CheckedWrite, ...]:
    """The static checks of TransactWriteItems: 1 to 100 actions on distinct items,
    each action checked, at most 4 MB in all, a well-formed token."""
    _count(len(request.actions))
    if request.token is not None and not (
            isinstance(request.token, str) and 1 <= len(request.token) <= MAX_TOKEN_LENGTH):
        raise ValidationError(
            f"ClientRequestToken must be a string of 1 to {MAX_TOKEN_LENGTH} characters",
            what="ClientRequestToken",
        )
    checked = []
    for action in request.actions:
        if not isinstance(action, Put | Update | Delete | ConditionCheck):
            raise ValidationError(f"not a transaction write action: {type(action).__name__}",
                                  what="TransactItems")
        checked.append(check_write(schemas, action, in_transaction=True))
    _distinct((c.table, c.key) for c in checked)
    total = sum(c.size for c in checked)
    if total > MAX_TRANSACTION_BYTES:
        raise ValidationError(
            f"Transaction size has exceeded the maximum allowed size ({total} bytes)",
            what="TransactItems",
        )
    return tuple(checked)


def check_transact_get(schemas: Mapping[str, TableSchema], request: TransactGet
                       ) -> tuple[tuple[str, KeyTuple, Any], ...]:
    """The static checks of TransactGetItems: 1 to 100 gets of distinct items."""
    _count(len(request.gets))
    checked = []
    for get in request.gets:
        if not isinstance(get, Get):
            raise ValidationError(f"not a Get: {type(get).__name__}", what="TransactItems")
        checked.append(check_get(schemas, get))
    _distinct((table, key) for table, key, _ in checked)
    return tuple(checked)


_FIELD_OF: Final = {"ExpressionAttributeNames": "names", "ExpressionAttributeValues": "values"}


def _check_expressions(action: Get | WriteAction) -> None:
    """Raise the first fault of one action's expressions (see
    :func:`expression_fault`)."""
    names = dict(action.names or {})
    raw_values = {} if isinstance(action, Get) else dict(action.values or {})
    parsed: list[Any] = []
    condition = update = None
    if isinstance(action, Get):
        if action.projection is not None:
            parsed.append(parse_projection(action.projection))
    else:
        if action.condition is not None:
            condition = parse_condition(action.condition)
            parsed.append(condition)
        if isinstance(action, Update):
            update = parse_update(action.update)
            parsed.append(update)
    values = {k: normalize(v, what="ExpressionAttributeValues") for k, v in raw_values.items()}
    check_placeholders(names, values, *parsed)
    check_substitution_size(names, values)
    if condition is not None:
        validate_condition(condition, names, values)
    if update is not None:
        validate_update(update, names, values)


def _field(prefix: str, error: ValidationError) -> str:
    what = error.what or ""
    name = _FIELD_OF.get(what) or {"ConditionExpression": "condition",
                                   "UpdateExpression": "update",
                                   "ProjectionExpression": "projection"}.get(what, "")
    return f"{prefix}.{name}" if prefix and name else prefix or name


def expression_fault(request: Request) -> tuple[str, ValidationError] | None:
    """The first fault DynamoDB finds in the expressions of ``request`` whatever the
    tables and the items hold, with the field of the request that holds it
    (``"condition"``, ``"update"``, ``"names"``, ``"values"``, ``"projection"``,
    ``"actions[1].update"``, ``"gets[0].projection"``); ``None`` when there is none.

    Faults: an expression that does not parse or exceeds one of DynamoDB's limits,
    placeholders undefined or unused, substitution variables over 2 MB or not valid
    attribute values, and the static checks of conditions and updates (literal
    operand types, BETWEEN bounds, ...). A request with such a fault never succeeds and
    no condition of it is ever evaluated: DynamoDB refuses it (or, inside a
    transaction, cancels the transaction), so a history that records it as ``ok`` or
    as a failed condition contradicts DynamoDB's API whatever the order."""
    actions: list[tuple[str, Get | WriteAction]]
    if isinstance(request, TransactWrite):
        actions = [(f"actions[{i}]", a) for i, a in enumerate(request.actions)]
    elif isinstance(request, TransactGet):
        actions = [(f"gets[{i}]", g) for i, g in enumerate(request.gets)]
    else:
        actions = [("", request)]
    for prefix, action in actions:
        try:
            _check_expressions(action)
        except ValidationError as error:
            return _field(prefix, error), error
    return None


_REQUEST_FIELD: Final = {
    "TableName": "table", "Key": "key", "Item": "item", "ReturnValues": "return_values",
    "ClientRequestToken": "token", "ConditionExpression": "condition",
    "UpdateExpression": "update", "ProjectionExpression": "projection",
    "ExpressionAttributeNames": "names", "ExpressionAttributeValues": "values"}


def request_fault(schemas: Mapping[str, TableSchema] | None, request: Request
                  ) -> tuple[str, ValidationError] | None:
    """The first fault DynamoDB finds in ``request`` whatever the items hold, with the
    field of the request at fault (as :func:`expression_fault` names them; ``""`` for
    the request as a whole); ``None`` when there is none. Besides the expressions'
    faults, with the tables' ``schemas`` (None: not known, expressions only): an
    unknown table, a key that is not the table's (missing, extra or mistyped
    attributes), an update of a key attribute, a transaction of no or more than 100
    actions, or of two actions on one item (:func:`validate_request`). Such a request
    never takes effect and no condition of it is evaluated."""
    fault = expression_fault(request)
    if fault is not None or schemas is None:
        return fault
    parts: list[tuple[str, Request]] = []
    if isinstance(request, TransactWrite):
        parts = [(f"actions[{i}]", a) for i, a in enumerate(request.actions)
                 if isinstance(a, Put | Update | Delete)]
    elif isinstance(request, TransactGet):
        parts = [(f"gets[{i}]", g) for i, g in enumerate(request.gets)]
    for prefix, part in (*parts, ("", request)):
        try:
            validate_request(schemas, part)
        except ValidationError as error:
            where = _REQUEST_FIELD.get(error.what or "", "")
            if not where and not prefix:
                where = {"TransactItems": "actions" if isinstance(request, TransactWrite)
                         else "gets"}.get(error.what or "", "")
            return ".".join(p for p in (prefix, where) if p), error
    return None


def validate_request(schemas: Mapping[str, TableSchema], request: Request) -> None:
    """Raise the ValidationError DynamoDB answers for ``request`` whatever the stored
    items are; return quietly when only the stored items can decide."""
    if isinstance(request, Get):
        check_get(schemas, request)
    elif isinstance(request, Put | Update | Delete):
        check_write(schemas, request)
    elif isinstance(request, TransactWrite):
        check_transaction(schemas, request)
    elif isinstance(request, TransactGet):
        check_transact_get(schemas, request)
    else:
        raise ValidationError(f"unknown request type {type(request).__name__}",
                              what="Request")
