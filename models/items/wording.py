"""Item operations in DynamoDB's own words: the one home of how a request and its answer
read wherever a person reads them (counterexample steps, timelines and their hover text,
history tables, explanations, terminal output).

- :func:`request_text`: ``PutItem k0 {v: "v2"} if attribute_not_exists(pk)``,
  ``GetItem k0 (strong)``, ``UpdateItem k1 SET v = "v2" if v = "v1"``,
  ``TransactWriteItems [Put k0 {v: "v1"}, ConditionCheck k1 if attribute_exists(pk)]``;
- :func:`answer_text`: ``{v: "v2"}``, ``no item``, ``ok``,
  ``ConditionalCheckFailed``, ``TransactionCanceled [None, ConditionalCheckFailed]``,
  ``indeterminate``;
- :func:`operation_text`: the two joined by ``->``.

Placeholders (``:v``, ``#n``) are written as the values and names they stand for, so an
expression reads as DynamoDB evaluates it. An item's key is written as its key values
(``k0``; ``(k0, 3)`` for a composite key) when the table's key schema is known: always
for the requests that name a key, and for PutItem when ``schemas`` are given (else the
whole item is shown). The table is named (``orders k0``) unless it is
:data:`QUIET_TABLE`, the one table replicheck's own suite writes. Text is plain and
unescaped: a report escapes it for the context it lands in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from replicheck.models.items.requests import (
    ConditionCheck,
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

__all__ = [
    "INDETERMINATE",
    "QUIET_TABLE",
    "answer_text",
    "item_key_text",
    "operation_text",
    "request_keys",
    "request_text",
    "value_text",
]

QUIET_TABLE: Final = "items"
"""The table name an operation's words leave out (replicheck's own suite writes only it);
every other table is named before the key."""

INDETERMINATE: Final = "indeterminate"
"""The answer of an operation whose outcome is unknown."""

_BARE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_PLACEHOLDER: Final = re.compile(r"[:#][A-Za-z0-9_]+")

_API: Final[dict[type, str]] = {Get: "GetItem", Put: "PutItem", Update: "UpdateItem",
                                Delete: "DeleteItem"}
_ACTION: Final[dict[type, str]] = {Put: "Put", Update: "Update", Delete: "Delete",
                                   ConditionCheck: "ConditionCheck", Get: "Get"}


def _name(name: str) -> str:
    """An attribute name: bare when it looks like an identifier, else quoted."""
    return name if _BARE.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def value_text(value: Any) -> str:
    """An attribute value as DynamoDB documents write it: strings quoted (``"v2"``),
    numbers plain (``2``, ``1.5``), binaries in hex (``0x00ff``), booleans ``true`` /
    ``false``, null ``null``, lists ``[...]``, maps ``{name: value}``, sets ``<<...>>``
    (sorted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return str(int(value))
        return str(value.normalize()) if value.is_finite() else str(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_name(str(k))}: {value_text(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, set | frozenset):
        return "<<" + ", ".join(sorted(value_text(v) for v in value)) + ">>"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    return str(value)


def _key_part(value: Any) -> str:
    """One key value: a string bare when it has no space or punctuation that could
    mislead (``k0``), else quoted."""
    if isinstance(value, str) and _BARE.fullmatch(value):
        return value
    if isinstance(value, bytes):
        return "0x" + value.hex() if value else '""'
    return value_text(value)


def item_key_text(table: str, key: Mapping[str, Any]) -> str:
    """An item's key in words: its key values (``k0``; ``(k0, 3)`` for a partition and
    sort key), after the table's name unless it is :data:`QUIET_TABLE`."""
    values = [_key_part(v) for v in key.values()]
    shown = values[0] if len(values) == 1 else "(" + ", ".join(values) + ")"
    return shown if table == QUIET_TABLE else f"{table} {shown}"


def _substitute(expression: str, names: Mapping[str, str] | None,
                values: Mapping[str, Any] | None) -> str:
    """``expression`` with each placeholder it defines written as its name or value."""
    def one(match: re.Match[str]) -> str:
        token = match.group()
        if token.startswith("#") and names and token in names:
            return _name(names[token])
        if token.startswith(":") and values and token in values:
            return value_text(values[token])
        return token

    return _PLACEHOLDER.sub(one, expression)


def _split_item(table: str, item: Mapping[str, Any],
                schemas: Mapping[str, TableSchema] | None) -> str:
    """A PutItem's item: ``k0 {v: "v2"}`` with the key apart when the schema is known,
    else the whole item."""
    schema = (schemas or {}).get(table)
    if schema is None or any(a not in item for a in schema.key_attributes):
        prefix = "" if table == QUIET_TABLE else f"{table} "
        return prefix + value_text(dict(item))
    key = {a: item[a] for a in schema.key_attributes}
    rest = {a: v for a, v in item.items() if a not in schema.key_attributes}
    return f"{item_key_text(table, key)} {value_text(rest)}"


def _action_text(action: Put | Update | Delete | ConditionCheck | Get,
                 schemas: Mapping[str, TableSchema] | None, verb: str) -> str:
    names = getattr(action, "names", None)
    values = getattr(action, "values", None)
    if isinstance(action, Put):
        text = f"{verb} {_split_item(action.table, action.item, schemas)}"
    else:
        text = f"{verb} {item_key_text(action.table, action.key)}"
    if isinstance(action, Update):
        text += " " + _substitute(action.update, names, values)
    if isinstance(action, Get):
        if verb:  # a GetItem; TransactGetItems reads are serializable whatever the flag
            text += " (strong)" if action.consistent else " (eventual)"
        if action.projection:
            text += " projecting " + _substitute(action.projection, action.names, None)
        return text
    condition = getattr(action, "condition", None)
    if condition:
        text += " if " + _substitute(condition, names, values)
    returns = getattr(action, "return_values", "NONE")
    if returns != "NONE":
        text += f" returning {returns}"
    if getattr(action, "return_old_on_condition_failure", False):
        text += " (old item on condition failure)"
    return text


def request_text(request: Request, schemas: Mapping[str, TableSchema] | None = None) -> str:
    """``request`` in DynamoDB's words, e.g. ``PutItem k0 {v: "v2"} if
    attribute_not_exists(pk)``, ``GetItem k0 (strong)``, ``UpdateItem k1 SET v = "v2"
    if v = "v1"``, ``DeleteItem k2``, ``TransactWriteItems [Put k0 {v: "v1"},
    ConditionCheck k1 if attribute_exists(pk)] token t-1``, ``TransactGetItems [k0,
    k1]``. ``schemas`` (by table name) let a PutItem show its key
    apart from its other attributes."""
    if isinstance(request, TransactWrite):
        parts = ", ".join(_action_text(a, schemas, _ACTION[type(a)])
                          for a in request.actions)
        token = f" token {request.token}" if request.token else ""
        return f"TransactWriteItems [{parts}]{token}"
    if isinstance(request, TransactGet):
        gets = ", ".join(_action_text(g, schemas, "").lstrip() for g in request.gets)
        return f"TransactGetItems [{gets}]"
    return _action_text(request, schemas, _API[type(request)])


def _strip_key(item: Mapping[str, Any], key: Mapping[str, Any] | None) -> dict[str, Any]:
    """``item`` without the key attributes it shares with ``key`` (already shown)."""
    if not key:
        return dict(item)
    return {a: v for a, v in item.items() if a not in key}


def _item_answer(item: Mapping[str, Any] | None, key: Mapping[str, Any] | None) -> str:
    return "no item" if item is None else value_text(_strip_key(item, key))


def _written_key(request: Request | None,
                 schemas: Mapping[str, TableSchema] | None) -> Mapping[str, Any] | None:
    """The key of a single-item write's item (a PutItem's needs its schema)."""
    if isinstance(request, Update | Delete):
        return request.key
    if isinstance(request, Put):
        schema = (schemas or {}).get(request.table)
        if schema is not None and all(a in request.item for a in schema.key_attributes):
            return {a: request.item[a] for a in schema.key_attributes}
    return None


def answer_text(request: Request | None, outcome: Any,
                schemas: Mapping[str, TableSchema] | None = None) -> str:
    """What ``request`` was answered, in words: for a read the item without its key
    attributes (``{v: "v2"}``) or ``no item``; for a write ``ok`` (with the returned
    attributes without the key: ``ok, ALL_OLD {v: "v1"}``, a PutItem's key needing
    ``schemas``); for TransactGetItems one entry per get; for a definite error its code
    (``ConditionalCheckFailed``; ``TransactionCanceled [None, ConditionalCheckFailed]``
    with the reason of each action); ``indeterminate`` for an unknown outcome (``None``
    or anything that is neither a Response nor has a ``code``)."""
    code = getattr(outcome, "code", None)
    if isinstance(code, str):
        reasons = getattr(outcome, "reasons", ())
        shown = [getattr(r, "code", r) for r in reasons or ()]
        return code + (f" [{', '.join(str(r) for r in shown)}]" if shown else "")
    if not isinstance(outcome, Response):
        return INDETERMINATE
    if isinstance(request, TransactGet):
        return "[" + ", ".join(_item_answer(i, g.key) for i, g in zip(
            outcome.items, request.gets, strict=False)) + "]"
    if isinstance(request, Get):
        return _item_answer(outcome.item, request.key)
    if outcome.items:
        return "[" + ", ".join(_item_answer(i, None) for i in outcome.items) + "]"
    returns = getattr(request, "return_values", "NONE")
    if outcome.item is None:
        return "ok"
    return f"ok, {returns} {_item_answer(outcome.item, _written_key(request, schemas))}"


def operation_text(request: Request, outcome: Any, *,
                   schemas: Mapping[str, TableSchema] | None = None) -> str:
    """``request`` and its answer: ``PutItem k0 {v: "v2"} -> ok``, ``GetItem k0
    (strong) -> {v: "v2"}``, ``UpdateItem k1 SET v = "v2" if v = "v1" ->
    ConditionalCheckFailed``, ``... -> indeterminate`` (see :func:`request_text` and
    :func:`answer_text`)."""
    return f"{request_text(request, schemas)} -> {answer_text(request, outcome, schemas)}"


def request_keys(request: Request, schemas: Mapping[str, TableSchema] | None = None
                 ) -> tuple[str, ...]:
    """The keys ``request`` names, in words (:func:`item_key_text`), in request order,
    each once; a PutItem's key needs its table's schema (else it is left out)."""
    actions: Sequence[Any]
    if isinstance(request, TransactWrite):
        actions = request.actions
    elif isinstance(request, TransactGet):
        actions = request.gets
    else:
        actions = (request,)
    out: list[str] = []
    for action in actions:
        key: Mapping[str, Any]
        if isinstance(action, Put):
            schema = (schemas or {}).get(action.table)
            if schema is None or any(a not in action.item for a in schema.key_attributes):
                continue
            key = {a: action.item[a] for a in schema.key_attributes}
        else:
            key = action.key
        text = item_key_text(action.table, key)
        if text not in out:
            out.append(text)
    return tuple(out)

