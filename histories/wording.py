"""A history's operations and clients in words, for every report and explanation.

- :func:`process_label`: one label per client: ``c1`` (the name the client ran under,
  which the recorder keeps in the invocation's ``meta``), ``c1/2`` for that client's
  second process (a client continues under a fresh process after an indeterminate
  answer, CONTRACTS.md section 5: the same client, a new process), and ``process 3``
  for a history that names no clients (a file, a Jepsen log).
- :func:`operation_words`: an item operation in DynamoDB's words with its answer
  (:mod:`replicheck.models.items.wording`): ``PutItem k0 {v: "v2"} -> ok``; any other
  operation as ``f key value -> output``.
- :func:`operation_keys`: the keys an operation names, for a history table's ``key``
  column.

Text is plain and unescaped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from replicheck.histories.history import FAIL, OK, History, HistoryError, Operation
from replicheck.models.items.requests import Request, TableSchema
from replicheck.models.items.wording import (
    INDETERMINATE,
    answer_text,
    item_key_text,
    request_keys,
    request_text,
)

__all__ = [
    "CLIENT",
    "CLIENT_PROCESS",
    "answer_words",
    "client_label",
    "client_meta",
    "history_schemas",
    "key_label",
    "operation_keys",
    "operation_words",
    "plain_value",
    "process_label",
    "request_words",
]

CLIENT: Final = "client"
"""The invocation ``meta`` field naming the client that invoked the operation."""

CLIENT_PROCESS: Final = "client_process"
"""The invocation ``meta`` field counting the client's processes (2 for the process it
continued under after its first indeterminate answer); absent for its first."""


WORDS: Final = "words"
"""The ``meta`` key under which a derived view's operation (a single-item view of a
DynamoDB item history) keeps its original operation in words
(:func:`operation_words`), for the explanations of checkers that see only the view."""


def client_meta(client: str, incarnation: int = 1) -> dict[str, Any]:
    """The invocation ``meta`` a recorder adds so that reports can name the client:
    ``{"client": client}``, with ``"client_process": n`` from its second process on."""
    return {CLIENT: client} if incarnation <= 1 else {CLIENT: client,
                                                      CLIENT_PROCESS: incarnation}


def client_label(client: str, incarnation: int = 1) -> str:
    """How reports name the ``incarnation``-th process of ``client``: ``c1``, then
    ``c1/2``, ``c1/3`` ..."""
    return client if incarnation <= 1 else f"{client}/{incarnation}"


def process_label(op: Operation) -> str:
    """Who invoked ``op``: ``c1``, ``c1/2`` (the client's second process) or, in a
    history that names no clients, ``process 3``."""
    client = op.meta.get(CLIENT) if isinstance(op.meta, Mapping) else None
    if not isinstance(client, str) or not client:
        return f"process {_text(op.process)}"
    count = op.meta.get(CLIENT_PROCESS)
    return client_label(client, count if isinstance(count, int) else 1)


def _text(value: Any) -> str:
    """``str(value)``, or ``<integer of N bits>`` for an integer too long for it."""
    try:
        return str(value)
    except ValueError:
        return f"<integer of {value.bit_length()} bits>" if isinstance(value, int) \
            else f"<{type(value).__name__}>"


def history_schemas(history: History) -> dict[str, TableSchema] | None:
    """The tables the history declares (its ``tables`` observation), or None (none, or
    a malformed one: words never fail)."""
    from replicheck.histories.items import declared_schemas

    try:
        return declared_schemas(history)
    except HistoryError:
        return None


def plain_value(value: Any) -> str:
    """A non-item value in words: JSON for what JSON can write, else ``str``; never
    raises (a value no writer can write in full is named by its type)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        try:
            return _text(value)
        except RecursionError:
            return f"<{type(value).__name__}>"


def _is_item_key(key: Any) -> bool:
    """A key of the item-store specification: ``(table, key values)``."""
    return (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str)
            and isinstance(key[1], tuple))


def key_label(keys: Sequence[Any]) -> str:
    """How an explanation names the keys of one independent part of a history: item
    keys in words (``k0``; ``k0, k1`` for several), any other key as its ``repr``
    (``'y'``; a tuple of them for several)."""
    if keys and all(_is_item_key(k) for k in keys):
        return ", ".join(sorted(item_key_text(k[0], {str(i): v for i, v in enumerate(k[1])})
                                for k in keys))
    return repr(keys[0]) if len(keys) == 1 else repr(tuple(sorted(keys, key=repr)))


def _request(op: Operation) -> Request | None:
    """The item request of ``op``, or None when it is no (well-formed) item operation."""
    from replicheck.histories.items import request_of

    if op.f not in _ITEM_KINDS:
        return None
    try:
        return request_of(op)
    except (HistoryError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


_ITEM_KINDS: Final = frozenset({"get-strong", "get-eventual", "put", "update", "delete",
                                "transact-write", "transact-get"})


def _outcome(op: Operation, request: Request) -> Any:
    from replicheck.histories.items import failure_of, response_of

    try:
        if op.status == OK and op.ret is not None:
            return response_of(op, request)
        if op.status == FAIL:
            return failure_of(op, request)
    except (HistoryError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    return None


def request_words(op: Operation, schemas: Mapping[str, TableSchema] | None = None, *,
                  show: Callable[[Any], str] = plain_value) -> str:
    """What ``op`` asked: an item operation as DynamoDB names it (``GetItem k0
    (strong)``, ``PutItem k0 {v: "v2"} if attribute_not_exists(pk)``), anything else as
    ``f key value`` (each value written by ``show``)."""
    request = _request(op)
    if request is not None:
        return request_text(request, schemas)
    text = op.f + ("" if op.key is None else f" {show(op.key)}")
    return text + ("" if op.input is None else f" {show(op.input)}")


def answer_words(op: Operation, schemas: Mapping[str, TableSchema] | None = None, *,
                 show: Callable[[Any], str] = plain_value) -> str:
    """What ``op`` was answered: for an item operation ``{v: "v2"}``, ``no item``,
    ``ok``, ``ConditionalCheckFailed``; for any other its output (``fail`` and its
    error when it failed; each written by ``show``); ``indeterminate`` for one that
    never completed or completed ``info``."""
    if op.ret is None or op.status not in (OK, FAIL):
        return INDETERMINATE
    request = _request(op)
    if request is not None:
        return answer_text(request, _outcome(op, request), schemas)
    if op.status == FAIL:
        return "fail" + ("" if op.error is None else f" ({show(op.error)})")
    return show(op.output)


def operation_words(op: Operation, schemas: Mapping[str, TableSchema] | None = None, *,
                    show: Callable[[Any], str] = plain_value) -> str:
    """``op`` and its answer: ``GetItem k0 (strong) -> {v: "v2"}``, ``PutItem k0 {v:
    "v2"} -> indeterminate``, ``read "x" null -> 1`` (:func:`request_words`,
    :func:`answer_words`)."""
    return (f"{request_words(op, schemas, show=show)} -> "
            f"{answer_words(op, schemas, show=show)}")


def operation_keys(op: Operation, schemas: Mapping[str, TableSchema] | None = None, *,
                   show: Callable[[Any], str] = plain_value) -> str:
    """The keys ``op`` names, comma-separated (``k0, k1``): its ``key`` field, else the
    item keys its request names; empty when it names none."""
    if op.key is not None:
        return op.key if isinstance(op.key, str) else show(op.key)
    request = _request(op)
    return "" if request is None else ", ".join(request_keys(request, schemas))
