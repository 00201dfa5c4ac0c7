"""Item-store histories: DynamoDB-shaped requests and their outcomes as history records.

Specification
=============

An item history is an ordinary history (JSON lines, ``histories/formats/jsonl.py``)
whose operations are requests of ``replicheck.models.items.requests``. It is judged
with ``replicheck check --model item`` (inferred when every function is an item kind).

The tables
----------

The history holds one observation record naming the tables and their key schemas
(without it the item model cannot tell an item's key from its other attributes)::

    {"process": "observer", "type": "observe", "f": "tables",
     "value": [{"name": "items", "partition_key": "pk", "sort_key": "sk"}]}

``sort_key`` may be left out or ``null``. When several are present the last counts.

Operations
----------

``f`` is the request kind (``request_kind``): ``get-strong``, ``get-eventual``,
``put``, ``update``, ``delete``, ``transact-write``, ``transact-get``. ``key`` is not
used (the items an operation touches come from its request).

Attribute values are DynamoDB's wire JSON everywhere (``values.to_wire``), so types
survive: ``{"S": "a"}``, ``{"N": "1.5"}``, ``{"B": "<base64>"}``, ``{"BOOL": true}``,
``{"NULL": true}``, ``{"L": [...]}``, ``{"M": {...}}``, ``{"SS": [...]}``,
``{"NS": ["1", "2"]}``, ``{"BS": [...]}``. An item or a key is an object of attribute
name -> wire value.

The invocation's ``value`` is the request, an object with these fields (a field at its
default may be left out; any other field is an error):

``get-strong`` / ``get-eventual``
    ``table`` (string), ``key`` (item), ``consistent`` (boolean; must agree with ``f``;
    default: what ``f`` says), ``projection`` (string), ``names`` (object ``"#n"`` ->
    attribute name).
``put``
    ``table``, ``item``, ``condition`` (string), ``names``, ``values`` (object
    ``":v"`` -> wire value), ``return_values`` (``"NONE"``, ``"ALL_OLD"``,
    ``"UPDATED_OLD"``, ``"ALL_NEW"``, ``"UPDATED_NEW"``; default ``"NONE"``),
    ``return_old_on_condition_failure`` (boolean, default false).
``update``
    ``table``, ``key``, ``update`` (the update expression), ``condition``, ``names``,
    ``values``, ``return_values``, ``return_old_on_condition_failure``.
``delete``
    ``table``, ``key``, ``condition``, ``names``, ``values``, ``return_values``,
    ``return_old_on_condition_failure``.
``transact-write``
    ``actions``: an array of one-key objects ``{"put": {...}}``, ``{"update": {...}}``,
    ``{"delete": {...}}`` or ``{"condition_check": {...}}``, each holding that action's
    fields as above (a condition check: ``table``, ``key``, ``condition`` (required),
    ``names``, ``values``, ``return_old_on_condition_failure``); ``token`` (the client
    request token, a string).
``transact-get``
    ``gets``: an array of get objects (``table``, ``key``, ``projection``, ``names``,
    ``consistent``).

Example::

    {"process": 0, "type": "invoke", "f": "update",
     "value": {"table": "items", "key": {"pk": {"S": "a"}}, "update": "SET n = n + :d",
               "condition": "attribute_exists(pk)", "values": {":d": {"N": "1"}},
               "return_values": "ALL_NEW"}}

Outcomes
--------

``ok``
    The request took effect. ``value`` is the response: ``{"item": <item or null>}``
    (for a get the item read, ``null`` when absent; for a write the attributes
    ``return_values`` asked for, ``null`` for none), ``{"items": [<item or null>, ...]}``
    for a ``transact-get`` (one entry per get, in request order). ``null`` (or ``{}``)
    means nothing was returned: an absent item, or a write returning nothing.
``fail`` with ``"error": "condition-failed"``
    A condition evaluated false (CONTRACTS.md section 5): nothing applied, *and* an
    observation the item model checks (at some point between invocation and
    completion the condition was false). ``value`` says which failure:
    ``{"code": "ConditionalCheckFailed"}`` for a put, update or delete (the default
    when ``value`` is ``null``), optionally with ``"item"``: the old item returned on
    failure (kept, not checked); or ``{"code": "TransactionCanceled", "reasons":
    [...]}`` for a ``transact-write`` cancelled because conditions failed, one reason
    per action in request order: ``"None"`` or ``"ConditionalCheckFailed"`` (a reason
    may also be an object ``{"code": ..., "message": ..., "item": ...}``). The model
    checks the reason codes exactly. Writers here use this form only when every reason
    is ``"None"`` or ``"ConditionalCheckFailed"``.
``fail`` with any other ``error``
    A definite error: nothing applied, nothing else is claimed, and the checker leaves
    the operation out. ``error`` is the error code (``"ValidationError"``,
    ``"TransactionConflict"``, ``"TransactionCanceled"`` (a cancellation with other
    reasons, e.g. a conflict), ``"IdempotentParameterMismatch"``, ``"Throttled"``);
    ``value`` is ``{"code": ..., "message": ..., "reasons": [...]}`` (all optional).
    A ``fail`` with no error at all means the same.
``info``
    Indeterminate (``Indeterminate``, a timeout, no answer): the request may take
    effect at any time after its invocation, or never; the process never continues.
    ``error`` is ``"indeterminate"`` (any value is allowed); ``value`` is ``null`` or
    ``{"code": "Indeterminate", "message": ...}``.

Recorded versions
-----------------

A completion may carry store metadata (``meta``) naming the item versions it read
and wrote; the transactional models of ``--model item`` are judged on them
(``histories/checkers/elle/items.py`` lists every field): a put, update or delete
records ``version`` (the version it made: an int such as the leader's log index, or a
list compared lexicographically) and an update may record ``item`` (the item it
made); a get records ``version`` (the version read, ``null`` for the initial, absent
state); a transact-write records ``writes`` (one ``{"table", "key", "version", "item",
"delete"}`` per write action) and may record ``reads`` (the versions its condition
checks saw; a check it does not list read a version the recording leaves open); a
transact-get records ``reads`` (one per get). Only ``ok`` completions record
versions. A recorded version names its writer: a read of a version no write
of the history can have made (no ``ok`` write recorded it, and no indeterminate or
failed write of that item can have made the item read), or holding another item than
its writer made, is explained by no interpretation and rules out every
transactional model (``garbage-read``). Which indeterminate write made a version read
that no ``ok`` write recorded, where a committed indeterminate write without a
recorded version falls among an item's versions, and which version an unrecorded
condition check saw, are left open by the recording: every possibility is judged
(the most plausible first; a history valid one way is valid; past the time limit the
verdict is "unknown").

How the checker reads it: gets and transact-gets never change the state (an
indeterminate read constrains nothing and is dropped); eventually consistent gets are
judged like strong ones (linearizability is a claim about every read in the history;
leave eventual reads out to check only the strong-read claim).

Malformed input (a missing or unknown field, a bad wire value, a reason list of the
wrong length) is a :class:`~replicheck.histories.history.HistoryError` naming the
field at fault, e.g. ``value.actions[1].update.values[":d"]``, and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

from replicheck.histories.checkers.adapters import CONDITION_FAILED, is_condition_failed
from replicheck.histories.history import (
    FAIL,
    INFO,
    INVOKE,
    OBSERVE,
    OK,
    History,
    HistoryError,
    Operation,
    Record,
)
from replicheck.models.items.errors import (
    ConditionalCheckFailed,
    StoreError,
    TransactionCanceled,
    ValidationError,
)
from replicheck.models.items.requests import (
    RETURN_VALUES,
    ConditionCheck,
    Delete,
    Get,
    Item,
    Put,
    Request,
    Response,
    TableSchema,
    TransactGet,
    TransactWrite,
    Update,
    WriteAction,
    request_kind,
)
from replicheck.models.items.validation import request_fault
from replicheck.models.items.values import from_wire, to_wire
from replicheck.models.specs.items import Failure

__all__ = [
    "CONDITION_FAILED",
    "INDETERMINATE",
    "KINDS",
    "READ_KINDS",
    "TABLES",
    "Outcome",
    "changes_nothing",
    "check_requests",
    "completion_fields",
    "completion_record",
    "declared_schemas",
    "describe_touched",
    "failure_from_json",
    "failure_of",
    "failure_to_json",
    "invoke_record",
    "operation_records",
    "outcome_from_operation",
    "request_from_json",
    "request_of",
    "request_to_json",
    "response_from_json",
    "response_of",
    "response_to_json",
    "schemas_from_json",
    "tables_record",
    "tables_to_json",
]

KINDS: Final = frozenset(
    {"get-strong", "get-eventual", "put", "update", "delete", "transact-write",
     "transact-get"}
)
"""The functions of an item history: the request kinds of ``request_kind``."""

READ_KINDS: Final = frozenset({"get-strong", "get-eventual", "transact-get"})
"""The kinds that never change the item store."""

TABLES: Final = "tables"
"""The ``f`` of the observation record that declares the tables."""

INDETERMINATE: Final = "indeterminate"
"""The ``error`` written on an ``info`` completion."""

CONDITION_REASONS: Final = frozenset({"None", "ConditionalCheckFailed"})
"""Cancellation reasons that make a cancelled transaction a condition observation."""

Outcome = Response | Failure | StoreError | None
"""What a request ended with, as a writer accepts it: a response; a definite error
(a :class:`Failure` or a :class:`StoreError`); or ``None`` / ``Indeterminate`` for an
unknown outcome."""

_ANY_GET: Final = ("table", "key", "consistent", "projection", "names")
_CONDITIONAL: Final = ("condition", "names", "values", "return_values",
                       "return_old_on_condition_failure")
_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "get": _ANY_GET,
    "put": ("table", "item", *_CONDITIONAL),
    "update": ("table", "key", "update", *_CONDITIONAL),
    "delete": ("table", "key", *_CONDITIONAL),
    "condition_check": ("table", "key", "condition", "names", "values",
                        "return_old_on_condition_failure"),
    "transact-write": ("actions", "token"),
    "transact-get": ("gets",),
}
_ACTIONS: Final = ("put", "update", "delete", "condition_check")
_RESPONSE_FIELDS: Final = ("item", "items")
_FAILURE_FIELDS: Final = ("code", "message", "reasons", "item")
_REASON_FIELDS: Final = ("code", "message", "item")
_TABLE_FIELDS: Final = ("name", "partition_key", "sort_key")
_T = TypeVar("_T")


# ---------------------------------------------------------------------------- errors


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(path: str, problem: str) -> HistoryError:
    return HistoryError(f"field {path}: {problem}")


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _member(path: str, name: str) -> str:
    return f"{path}.{name}" if name.isidentifier() else f"{path}[{json.dumps(name)}]"


# ---------------------------------------------------------------------------- writing


def _wire(value: Any, path: str) -> dict[str, Any]:
    try:
        return to_wire(value)
    except (ValidationError, TypeError, ValueError) as error:
        raise HistoryError(f"cannot write {path} = {value!r} as a DynamoDB attribute "
                           f"value: {error}") from None


def _wire_item(item: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {name: _wire(value, _member(path, name)) for name, value in item.items()}


def _put_common(out: dict[str, Any], action: Put | Update | Delete | ConditionCheck,
                path: str) -> None:
    if action.condition is not None:
        out["condition"] = action.condition
    if action.names is not None:
        out["names"] = dict(action.names)
    if action.values is not None:
        out["values"] = _wire_item(action.values, f"{path}.values")
    if getattr(action, "return_values", "NONE") != "NONE":
        out["return_values"] = action.return_values  # type: ignore[union-attr]
    if action.return_old_on_condition_failure:
        out["return_old_on_condition_failure"] = True


def _get_to_json(get: Get, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {"table": get.table, "key": _wire_item(get.key, f"{path}.key"),
                           "consistent": get.consistent}
    if get.projection is not None:
        out["projection"] = get.projection
    if get.names is not None:
        out["names"] = dict(get.names)
    return out


def _action_to_json(action: WriteAction, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {"table": action.table}
    if isinstance(action, Put):
        out["item"] = _wire_item(action.item, f"{path}.item")
    else:
        out["key"] = _wire_item(action.key, f"{path}.key")
    if isinstance(action, Update):
        out["update"] = action.update
    _put_common(out, action, path)
    return out


def request_to_json(request: Request) -> dict[str, Any]:
    """The request as the JSON object of the module docstring (attribute values in
    DynamoDB's wire JSON; fields at their defaults left out, except a get's
    ``consistent``). ``request_from_json(request_to_json(r), request_kind(r))`` equals
    ``r`` for every request whose values are canonical (``values.normalize``).

    Raises :class:`HistoryError` naming the field that holds a value DynamoDB has no
    type for (a float, an empty set)."""
    if isinstance(request, Get):
        return _get_to_json(request, "value")
    if isinstance(request, Put | Update | Delete):
        return _action_to_json(request, "value")
    if isinstance(request, TransactWrite):
        actions = []
        for i, action in enumerate(request.actions):
            name = "condition_check" if isinstance(action, ConditionCheck) else \
                type(action).__name__.lower()
            path = f"{_index('value.actions', i)}.{name}"
            actions.append({name: _action_to_json(action, path)})
        out: dict[str, Any] = {"actions": actions}
        if request.token is not None:
            out["token"] = request.token
        return out
    if isinstance(request, TransactGet):
        return {"gets": [_get_to_json(g, _index("value.gets", i))
                         for i, g in enumerate(request.gets)]}
    raise HistoryError(f"cannot write a {type(request).__name__} as an item request; "
                       "expected Get, Put, Update, Delete, TransactWrite or TransactGet")


def response_to_json(response: Response) -> dict[str, Any]:
    """The response as JSON: ``{"items": [...]}`` when it holds a transact-get's items
    (plus ``"item"`` if that is set too), else ``{"item": <item or null>}``."""
    out: dict[str, Any] = {}
    if response.item is not None or not response.items:
        out["item"] = None if response.item is None else _wire_item(response.item,
                                                                    "value.item")
    if response.items:
        out["items"] = [None if item is None else _wire_item(item, _index("value.items", i))
                        for i, item in enumerate(response.items)]
    return out


def _as_failure(error: Failure | StoreError) -> Failure:
    return error if isinstance(error, Failure) else Failure.of(error)


def failure_to_json(error: Failure | StoreError) -> dict[str, Any]:
    """A definite error as the ``value`` of its ``fail`` record: ``code``, the
    cancellation ``reasons`` (codes, or objects when a reason carries an old item),
    the error's ``message`` and the old ``item`` returned on condition failure, when
    there are any."""
    failure = _as_failure(error)
    out: dict[str, Any] = {"code": failure.code}
    if isinstance(error, TransactionCanceled):
        reasons: list[Any] = []
        for i, reason in enumerate(error.reasons):
            if reason.item is None:
                reasons.append(reason.code)
            else:
                reasons.append({"code": reason.code, "item": _wire_item(
                    reason.item, f"{_index('value.reasons', i)}.item")})
        out["reasons"] = reasons
    elif failure.reasons:
        out["reasons"] = list(failure.reasons)
    if isinstance(error, StoreError) and str(error):
        out["message"] = str(error)
    if isinstance(error, ConditionalCheckFailed) and error.item is not None:
        out["item"] = _wire_item(error.item, "value.item")
    return out


def _is_observation(failure: Failure) -> bool:
    if failure.code == "ConditionalCheckFailed":
        return True
    return (failure.code == "TransactionCanceled" and bool(failure.reasons)
            and set(failure.reasons) <= CONDITION_REASONS
            and "ConditionalCheckFailed" in failure.reasons)


def completion_fields(outcome: Outcome) -> tuple[str, Any, Any]:
    """The ``(type, value, error)`` of the completion record for ``outcome`` (see the
    module docstring): ``ok`` with the response; ``fail`` with ``condition-failed`` for
    a failed condition (a ConditionalCheckFailed, or a transaction cancelled with
    reasons ``None``/``ConditionalCheckFailed`` only); ``fail`` with the error code for
    any other definite error; ``info`` with ``indeterminate`` for ``None`` or an
    indeterminate error."""
    if isinstance(outcome, Response):
        return OK, response_to_json(outcome), None
    if outcome is None:
        return INFO, None, INDETERMINATE
    if isinstance(outcome, StoreError) and not outcome.definite:
        return INFO, {"code": outcome.code, "message": str(outcome)}, INDETERMINATE
    failure = _as_failure(outcome)
    error = CONDITION_FAILED if _is_observation(failure) else failure.code
    return FAIL, failure_to_json(outcome), error


def invoke_record(process: int, request: Request, *, index: int,
                  time: int | None = None) -> Record:
    """The invocation record of ``request`` by ``process`` at position ``index``."""
    return Record(process, INVOKE, request_kind(request), request_to_json(request),
                  index=index, time=time)


def completion_record(process: int, request: Request, outcome: Outcome, *, index: int,
                      time: int | None = None) -> Record:
    """The completion record of ``request`` by ``process`` ending with ``outcome``
    (see :func:`completion_fields`), at position ``index``."""
    type_, value, error = completion_fields(outcome)
    return Record(process, type_, request_kind(request), value, index=index, time=time,
                  error=error)


def operation_records(process: int, request: Request, outcome: Outcome, *,
                      index: int = 0) -> list[Record]:
    """The invocation and completion records of one operation that ran alone, at
    positions ``index`` and ``index + 1``: what a store wrapper appends for a call
    that returned (``Response``), raised a definite error, or an indeterminate one
    (``Indeterminate`` or ``None``; the process must not be used again then)."""
    return [invoke_record(process, request, index=index),
            completion_record(process, request, outcome, index=index + 1)]


def tables_to_json(schemas: Iterable[TableSchema]) -> list[dict[str, Any]]:
    """The tables as the ``value`` of the ``tables`` record."""
    return [{"name": s.name, "partition_key": s.partition_key, "sort_key": s.sort_key}
            for s in schemas]


def tables_record(schemas: Iterable[TableSchema], *, index: int = 0,
                  process: str = "observer") -> Record:
    """The observation record declaring the tables, which ``judge.spec_for("item", ...)``
    reads to build the item-store specification."""
    return Record(process, OBSERVE, TABLES, tables_to_json(schemas), index=index)


# ---------------------------------------------------------------------------- reading


def _object(obj: Any, path: str, allowed: Sequence[str], what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise _bad(path, f"is {_show(obj)}; expected {what}")
    for name in obj:
        if name not in allowed:
            raise _bad(_member(path, str(name)),
                       f"unknown field; expected only {', '.join(allowed)}")
    return obj


def _required(obj: Mapping[str, Any], path: str, name: str) -> Any:
    if obj.get(name) is None:
        raise _bad(_member(path, name), "is missing")
    return obj[name]


def _string(obj: Mapping[str, Any], path: str, name: str, *, required: bool = False
            ) -> str | None:
    value = _required(obj, path, name) if required else obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(_member(path, name), f"is {_show(value)}; expected a string")
    return value


def _boolean(obj: Mapping[str, Any], path: str, name: str) -> bool | None:
    value = obj.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise _bad(_member(path, name), f"is {_show(value)}; expected true or false")


def _table(obj: Mapping[str, Any], path: str) -> str:
    table = _string(obj, path, "table", required=True)
    assert table is not None
    if not table:
        raise _bad(_member(path, "table"), "is empty; expected a table name")
    return table


def _wire_value(wire: Any, path: str) -> Any:
    if not isinstance(wire, Mapping):
        raise _bad(path, f"is {_show(wire)}; expected a DynamoDB wire value such as "
                   '{"S": "a"} or {"N": "1"}')
    try:
        return from_wire(wire, what=None)
    except ValidationError as error:
        raise _bad(path, f"{error.message}; expected a DynamoDB wire value such as "
                   '{"S": "a"} or {"N": "1"}') from None


def _item(obj: Mapping[str, Any], path: str, name: str, *, required: bool = True
          ) -> Item | None:
    value = _required(obj, path, name) if required else obj.get(name)
    if value is None:
        return None
    return _item_value(value, _member(path, name))


def _item_value(value: Any, path: str) -> Item:
    if not isinstance(value, Mapping):
        raise _bad(path, f"is {_show(value)}; expected an object of attribute name -> "
                   'wire value, e.g. {"pk": {"S": "a"}}')
    out: Item = {}
    for name, wire in value.items():
        if not isinstance(name, str) or not name:
            raise _bad(path, f"has attribute name {_show(name)}; expected a non-empty string")
        out[name] = _wire_value(wire, _member(path, name))
    return out


def _names(obj: Mapping[str, Any], path: str) -> dict[str, str] | None:
    value = obj.get("names")
    if value is None:
        return None
    where = _member(path, "names")
    if not isinstance(value, Mapping):
        raise _bad(where, f'is {_show(value)}; expected an object such as {{"#n": "name"}}')
    for placeholder, name in value.items():
        if not isinstance(name, str):
            raise _bad(_member(where, str(placeholder)),
                       f"is {_show(name)}; expected an attribute name (a string)")
    return dict(value)


def _values(obj: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    value = obj.get("values")
    if value is None:
        return None
    where = _member(path, "values")
    if not isinstance(value, Mapping):
        raise _bad(where, f'is {_show(value)}; expected an object such as '
                   '{":v": {"N": "1"}}')
    return {str(k): _wire_value(v, _member(where, str(k))) for k, v in value.items()}


def _return_values(obj: Mapping[str, Any], path: str) -> Any:
    value = obj.get("return_values")
    if value is None:
        return "NONE"
    if value not in RETURN_VALUES:
        raise _bad(_member(path, "return_values"),
                   f"is {_show(value)}; expected one of {', '.join(RETURN_VALUES)}")
    return value


def _get_from_json(obj: Any, path: str, consistent: bool | None) -> Get:
    fields = _object(obj, path, _FIELDS["get"], "a get object")
    said = _boolean(fields, path, "consistent")
    if consistent is not None and said is not None and said != consistent:
        kind = "get-strong" if consistent else "get-eventual"
        raise _bad(_member(path, "consistent"),
                   f"is {_show(said)} but the operation is {kind}; expected "
                   f"{_show(consistent)} or no such field")
    key = _item(fields, path, "key")
    assert key is not None
    return Get(_table(fields, path), key,
               consistent=bool(said if said is not None else consistent),
               projection=_string(fields, path, "projection"), names=_names(fields, path))


def _action_from_json(kind: str, obj: Any, path: str) -> WriteAction:
    fields = _object(obj, path, _FIELDS[kind], f"a {kind} object")
    table = _table(fields, path)
    names = _names(fields, path)
    values = _values(fields, path)
    condition = _string(fields, path, "condition", required=kind == "condition_check")
    old = bool(_boolean(fields, path, "return_old_on_condition_failure"))
    if kind == "put":
        item = _item(fields, path, "item")
        assert item is not None
        return Put(table, item, condition, names, values, _return_values(fields, path), old)
    key = _item(fields, path, "key")
    assert key is not None
    if kind == "update":
        update = _string(fields, path, "update", required=True)
        assert update is not None
        return Update(table, key, update, condition, names, values,
                      _return_values(fields, path), old)
    if kind == "delete":
        return Delete(table, key, condition, names, values, _return_values(fields, path),
                      old)
    assert condition is not None
    return ConditionCheck(table, key, condition, names, values, old)


def _list(obj: Mapping[str, Any], path: str, name: str, what: str) -> list[Any]:
    value = _required(obj, path, name)
    if not isinstance(value, list | tuple):
        raise _bad(_member(path, name), f"is {_show(value)}; expected an array of {what}")
    return list(value)


def _infer_kind(obj: Any) -> str:
    if isinstance(obj, Mapping):
        for field, kind in (("gets", "transact-get"), ("actions", "transact-write"),
                            ("item", "put"), ("update", "update")):
            if field in obj:
                return kind
        if "consistent" in obj or "projection" in obj:
            return "get-strong" if obj.get("consistent") is True else "get-eventual"
        if any(name in obj for name in _CONDITIONAL if name != "names"):
            return "delete"
    raise _bad("value", f"is {_show(obj)}; cannot tell the request kind (a get and a delete "
               "look alike); expected the kind as well")


def request_from_json(obj: Any, kind: str | None = None, *, path: str = "value") -> Request:
    """The request a JSON object stands for (module docstring). ``kind`` is the
    operation's ``f``; without it the kind is told from the fields where it can be
    (``gets``, ``actions``, ``item``, ``update``; ``consistent`` or ``projection``: a
    get; ``condition``, ``values`` or a return option: a delete).

    Raises :class:`HistoryError` naming the field at fault (``path`` prefixes it) and
    what was expected: an unknown kind, a missing, unknown or ill-typed field, a value
    that is not DynamoDB wire JSON."""
    if kind is None:
        kind = _infer_kind(obj)
    if kind in ("get-strong", "get-eventual"):
        return _get_from_json(obj, path, kind == "get-strong")
    if kind in ("put", "update", "delete"):
        action = _action_from_json(kind, obj, path)
        assert not isinstance(action, ConditionCheck)
        return action
    if kind == "transact-write":
        fields = _object(obj, path, _FIELDS[kind], 'an object {"actions": [...]}')
        actions: list[WriteAction] = []
        for i, entry in enumerate(_list(fields, path, "actions", "actions")):
            where = _index(_member(path, "actions"), i)
            if not isinstance(entry, Mapping) or len(entry) != 1:
                raise _bad(where, f"is {_show(entry)}; expected one of "
                           + ", ".join(f'{{"{a}": {{...}}}}' for a in _ACTIONS))
            ((name, body),) = entry.items()
            if name not in _ACTIONS:
                raise _bad(where, f"is a {_show(name)} action; expected one of "
                           f"{', '.join(_ACTIONS)}")
            actions.append(_action_from_json(name, body, _member(where, name)))
        return TransactWrite(tuple(actions), _string(fields, path, "token"))
    if kind == "transact-get":
        fields = _object(obj, path, _FIELDS[kind], 'an object {"gets": [...]}')
        gets = _list(fields, path, "gets", "get objects")
        return TransactGet(tuple(_get_from_json(g, _index(_member(path, "gets"), i), None)
                                 for i, g in enumerate(gets)))
    raise HistoryError(f"unknown item request kind {kind!r}; expected one of "
                       f"{', '.join(sorted(KINDS))}")


def response_from_json(obj: Any, request: Request | None = None, *,
                       path: str = "value") -> Response:
    """The response a JSON object stands for (``null`` or ``{}``: nothing returned).
    Given the ``request``, its shape is checked too: a transact-get answers one
    ``items`` entry per get; other requests answer no ``items``.

    Raises :class:`HistoryError` naming the field at fault."""
    if obj is None:
        obj = {}
    fields = _object(obj, path, _RESPONSE_FIELDS,
                     'a response {"item": ...} or {"items": [...]}')
    item = _item(fields, path, "item", required=False)
    items: tuple[Item | None, ...] = ()
    if fields.get("items") is not None:
        raw = _list(fields, path, "items", "items or nulls")
        items = tuple(None if v is None else _item_value(v, _index(_member(path, "items"), i))
                      for i, v in enumerate(raw))
    if isinstance(request, TransactGet):
        if len(items) != len(request.gets):
            raise _bad(_member(path, "items"),
                       f"has {len(items)} entries; expected one per get "
                       f"({len(request.gets)}), null for an absent item")
    elif request is not None and items:
        raise _bad(_member(path, "items"),
                   f"is set but the request is {request_kind(request)}; expected only "
                   '"item"')
    return Response(item=item, items=items)


def _reason_code(reason: Any, path: str) -> str:
    if isinstance(reason, str) and reason:
        return reason
    fields = _object(reason, path, _REASON_FIELDS,
                     'a reason code such as "ConditionalCheckFailed" or {"code": ...}')
    if fields.get("item") is not None:
        _item_value(fields["item"], _member(path, "item"))
    code = _string(fields, path, "code", required=True)
    assert code is not None
    return code


def failure_from_json(obj: Any, error: Any = None, request: Request | None = None, *,
                      path: str = "value") -> Failure:
    """The :class:`Failure` of a ``fail`` record from its ``value`` and ``error``.

    The code is ``value.code``; else, for ``condition-failed``, ``TransactionCanceled``
    when reasons are given and ``ConditionalCheckFailed`` otherwise; else the
    ``error`` itself (a string), else ``"Failed"``. Given the ``request``: a
    transact-write's condition failure must carry one reason per action, and a
    condition failure of a get is malformed (gets have no condition).

    Raises :class:`HistoryError` naming the field at fault."""
    fields = _object({} if obj is None else obj, path, _FAILURE_FIELDS,
                     'a failure {"code": ..., "reasons": [...]}')
    reasons: tuple[str, ...] = ()
    if fields.get("reasons") is not None:
        raw = _list(fields, path, "reasons", "reason codes")
        reasons = tuple(_reason_code(r, _index(_member(path, "reasons"), i))
                        for i, r in enumerate(raw))
    if fields.get("item") is not None:
        _item_value(fields["item"], _member(path, "item"))
    _string(fields, path, "message")
    code = _string(fields, path, "code")
    observed = is_condition_failed(error)
    if code is None:
        if observed:
            code = "TransactionCanceled" if reasons else "ConditionalCheckFailed"
        else:
            code = error if isinstance(error, str) and error else "Failed"
    if observed and request is not None:
        kind = request_kind(request)
        if kind in READ_KINDS:
            raise HistoryError(f"a {kind} failed with {CONDITION_FAILED!r}, but reads have "
                               "no condition; expected ok, info or another fail")
        if isinstance(request, TransactWrite) and (
                code != "TransactionCanceled" or len(reasons) != len(request.actions)):
            raise _bad(_member(path, "reasons"),
                       f"is {_show(list(reasons))} for a {code} transact-write with "
                       f"{len(request.actions)} actions; expected "
                       '{"code": "TransactionCanceled", "reasons": [...]} with one '
                       "reason per action, in request order")
    return Failure(code, reasons)


def schemas_from_json(value: Any, *, path: str = "tables") -> tuple[TableSchema, ...]:
    """The table schemas of a ``tables`` record's value (a list of ``{"name",
    "partition_key", "sort_key"}``). Raises :class:`HistoryError` naming the field."""
    if not isinstance(value, list | tuple):
        raise _bad(path, f'is {_show(value)}; expected an array of {{"name": ..., '
                   '"partition_key": ..., "sort_key": ...}')
    schemas = []
    for i, entry in enumerate(value):
        where = _index(path, i)
        fields = _object(entry, where, _TABLE_FIELDS, "a table schema object")
        name = _string(fields, where, "name", required=True)
        partition = _string(fields, where, "partition_key", required=True)
        assert name is not None and partition is not None
        schemas.append(TableSchema(name, partition, _string(fields, where, "sort_key")))
    return tuple(schemas)


# ---------------------------------------------------------------------------- operations


def _at(op: Operation) -> str:
    where = f"operation {op.id} ({op.f}"
    return where + (f", line {op.line})" if op.line is not None else ")")


def _in(op: Operation, decode: Callable[[], _T]) -> _T:
    try:
        return decode()
    except HistoryError as error:
        raise HistoryError(f"{_at(op)}: {error.message}") from None


_DECODED: dict[tuple[int, int], tuple[Operation, object, Request | HistoryError]] = {}
"""What :func:`request_of` answered, by the identities of the operation and the schemas
(each entry keeps both, so an identity is never reused while its entry lives): every
guarantee decodes and validates the same operations again."""

_DECODED_MOST: Final = 1 << 16
"""The most answers :data:`_DECODED` keeps (then it starts afresh)."""


def request_of(op: Operation, schemas: Mapping[str, TableSchema] | None = None) -> Request:
    """:func:`decode_request`, remembered per operation and schemas (an operation is
    frozen; decoding is a pure function of it and the schemas)."""
    key = (id(op), id(schemas))
    found = _DECODED.get(key)
    if found is None or found[0] is not op or found[1] is not schemas:
        try:
            answer: Request | HistoryError = decode_request(op, schemas)
        except HistoryError as error:
            answer = error
        if len(_DECODED) >= _DECODED_MOST:
            _DECODED.clear()  # atomic, unlike evicting one entry while others decode
        found = _DECODED[key] = (op, schemas, answer)
    answer = found[2]
    if isinstance(answer, HistoryError):
        raise HistoryError(answer.message, source=answer.source, line=answer.line) from None
    return answer


def decode_request(op: Operation, schemas: Mapping[str, TableSchema] | None = None
                   ) -> Request:
    """The request of an item operation: its invocation's value decoded with ``f`` as
    the kind (a request object is taken as it is, if its kind is ``f``). Raises
    :class:`HistoryError` naming the operation, its line and the field at fault, also
    for a request DynamoDB refuses whatever the items hold recorded as accepted (``ok``,
    or a failed condition): an expression that does not parse or exceeds a limit, and,
    with the tables' ``schemas`` (by name), an unknown table, a key that is not the
    table's, an update of a key attribute, a transaction of more than 100 actions or
    of two on one item (``validation.request_fault``). No order of the history explains
    it: the history is malformed rather than invalid."""
    value = op.input
    if isinstance(value, Get | Put | Update | Delete | TransactWrite | TransactGet):
        if request_kind(value) != op.f:
            raise HistoryError(f"{_at(op)}: the request is a {request_kind(value)}; "
                               f"expected a {op.f}")
        request: Request = value
    else:
        request = _in(op, lambda: request_from_json(value, op.f))
    if op.status == OK or op.condition_failed:
        fault = request_fault(schemas, request)
        if fault is not None:
            field, error = fault
            place = f"field value.{field}" if field else "the request"
            raise HistoryError(
                f"{_at(op)}: {place}: {error.message.rstrip(';')}; expected a request DynamoDB "
                f"accepts (a request it refuses cannot end {op.status})")
    return request


def declared_schemas(history: History) -> dict[str, TableSchema] | None:
    """The tables' key schemas the history's last ``tables`` observation record
    declares, by name; None when it has none. Raises :class:`HistoryError` naming the
    record's line for a malformed one."""
    tables = [r for r in history.observations if r.f == TABLES]
    if not tables:
        return None
    try:
        return {s.name: s for s in schemas_from_json(tables[-1].value)}
    except HistoryError as error:
        raise HistoryError(error.message, line=tables[-1].line) from None


def check_requests(history: History) -> None:
    """Raise :class:`HistoryError` for the first operation of an item history whose
    request is malformed, or one DynamoDB refuses whatever the items hold recorded as
    accepted (:func:`request_of` with the declared tables)."""
    schemas = declared_schemas(history)
    for op in history.operations:
        request_of(op, schemas)


def response_of(op: Operation, request: Request | None = None) -> Response:
    """The response an ``ok`` item operation observed (a Response object is taken as it
    is). Raises :class:`HistoryError` naming the operation and the field at fault."""
    if isinstance(op.output, Response):
        return op.output
    request = request_of(op) if request is None else request
    return _in(op, lambda: response_from_json(op.output, request))


def failure_of(op: Operation, request: Request | None = None) -> Failure:
    """The failure a ``fail`` item operation observed (a Failure or StoreError object
    is taken as it is). Raises :class:`HistoryError` naming the operation."""
    if isinstance(op.output, Failure | StoreError):
        return _as_failure(op.output)
    request = request_of(op) if request is None else request
    return _in(op, lambda: failure_from_json(op.output, op.error, request))


def outcome_from_operation(op: Operation) -> Response | Failure | None:
    """What an item operation ended with: the :class:`Response` of an ``ok``, the
    :class:`Failure` of a ``fail`` (see :func:`failure_from_json`), ``None`` for an
    indeterminate one (``info`` or never completed). Raises :class:`HistoryError` for
    a malformed request or outcome, naming the operation and the field."""
    request = request_of(op)
    if op.status == OK:
        return response_of(op, request)
    if op.status == FAIL:
        return failure_of(op, request)
    return None


def changes_nothing(kind: str, result: Any) -> bool:
    """True when an operation of ``kind`` observing ``result`` leaves every item-store
    state unchanged: reads always, and any request that ended in a definite error."""
    return kind in READ_KINDS or isinstance(result, Failure | StoreError)


# ---------------------------------------------------------------------------- display


def describe_touched(state: Any, request: Request) -> str:
    """The items ``request`` touches as they are in the item-store ``state`` (a
    ``models.items.operations.Database``), for explanations, in the words of
    ``models.items.wording``: e.g. ``a holds {n: 1}``; ``b is absent``."""
    from replicheck.models.items.operations import touched

    try:
        targets = sorted(touched(state, request), key=repr)
    except ValidationError as error:
        return f"the request is invalid there ({error.message})"
    from replicheck.models.items.wording import item_key_text, value_text

    parts = []
    for table, key in targets:
        schema = state.schemas[table]
        named = dict(zip(schema.key_attributes, key, strict=True))
        shown_key = item_key_text(table, named)
        item = state.tables[table].get(key)
        rest = None if item is None else {a: v for a, v in item.items() if a not in named}
        parts.append(f"{shown_key} is absent" if rest is None
                     else f"{shown_key} holds {value_text(rest)}")
    return "; ".join(parts)
