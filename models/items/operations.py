"""The meaning of every item request: a pure function from a database and a request
to the next database and the answer.

``apply(db, request, now)`` is the item-store model: it never mutates ``db``, and
either returns ``(next_db, response)`` or raises one definite error of
``replicheck.models.items.errors`` — in which case nothing was applied (the caller
keeps ``db``). It follows DynamoDB's documented semantics: conditions are evaluated
on the item as it was; a transaction applies all of its actions or none, with one
cancellation reason per action in request order; a client request token replays
the same answer within ten minutes of ``now``.

``apply_within(db, request, when, window)`` is the same model where a history only
bounds when a request took effect (a :class:`Span`, in the store's own seconds) and
the store declares its token window: every outcome the model allows for some instant
of the span (:func:`token_fate` says when a token is surely remembered, surely
forgotten, or either).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from replicheck.models.items.errors import (
    CancellationReason,
    ConditionalCheckFailed,
    IdempotentParameterMismatch,
    StoreError,
    TransactionCanceled,
    ValidationError,
)
from replicheck.models.items.expressions import (
    apply_update,
    evaluate_condition,
    project,
    updated_paths,
)
from replicheck.models.items.requests import (
    IDEMPOTENCY_WINDOW_SECONDS,
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
)
from replicheck.models.items.validation import (
    CheckedWrite,
    KeyTuple,
    check_get,
    check_transact_get,
    check_transaction,
    check_write,
    key_tuple,
    schema_of,
)
from replicheck.models.items.values import freeze, normalize, normalize_item

__all__ = ["EITHER", "FORGOTTEN", "REMEMBERED", "Database", "Fate", "KeyTuple", "Span", "apply",
           "apply_within", "empty", "fingerprint", "key_tuple", "outcome", "token_fate",
           "touched"]


@dataclass(frozen=True)
class Span:
    """When a request took effect, as far as a history shows: at some instant from
    ``start`` to ``end`` seconds of the store's own time (its invocation and its
    completion); ``end`` None when it may have taken effect any time after ``start``
    (an indeterminate answer)."""

    start: float
    end: float | None = None


Fate = Literal["remembered", "forgotten", "either"]
REMEMBERED: Final[Fate] = "remembered"
FORGOTTEN: Final[Fate] = "forgotten"
EITHER: Final[Fate] = "either"


def token_fate(first: Span, retry: Span, window: float) -> Fate:
    """Whether a client request token first applied within ``first`` is still
    remembered when a request reusing it takes effect within ``retry``, the store
    keeping tokens ``window`` seconds. The model remembers a token while the time
    between the two effects is below the window; the effects are somewhere in their
    spans, so the token is surely remembered when ``retry`` ended less than
    ``window`` after ``first`` began, surely forgotten when ``retry`` began at least
    ``window`` after ``first`` ended, and either in between."""
    if retry.end is not None and retry.end - first.start < window:
        return REMEMBERED
    if first.end is not None and retry.start - first.end >= window:
        return FORGOTTEN
    return EITHER



@dataclass(frozen=True)
class _Token:
    fingerprint: Hashable
    response: Response
    time: float
    span: Span | None = None


@dataclass(frozen=True, eq=False)
class Database:
    """The item store's whole state: tables (schema and items by key) and the
    remembered transaction tokens. Treat as immutable; equal and hashable by value,
    so checkers can memoize on it."""

    schemas: Mapping[str, TableSchema]
    tables: Mapping[str, Mapping[KeyTuple, Item]]
    tokens: Mapping[str, _Token] = field(default_factory=dict)

    def _canonical(self) -> Hashable:
        """The value that equality and hashing compare, computed once per database
        (a database is never changed after it is made: every change makes a new one)."""
        cached: Hashable | None = self.__dict__.get("_canonical_form")
        if cached is None:
            cached = (
                tuple(sorted((n, s.partition_key, s.sort_key or "") for n, s in
                             self.schemas.items())),
                frozenset(
                    (name, key, freeze(item))
                    for name, items in self.tables.items()
                    for key, item in items.items()
                ),
                frozenset((t, e.fingerprint, e.span) for t, e in self.tokens.items()),
            )
            object.__setattr__(self, "_canonical_form", cached)
            object.__setattr__(self, "_hash", hash(cached))
        return cached

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Database):
            return NotImplemented
        if self is other:
            return True
        if hash(self) != hash(other):
            return False
        return self._canonical() == other._canonical()

    def __hash__(self) -> int:
        self._canonical()
        value: int = self.__dict__["_hash"]
        return value

    def item(self, table: str, key: Mapping[str, Any]) -> Item | None:
        """The item stored under ``key`` (a copy), or ``None``."""
        schema = _schema(self, table)
        found = self.tables[table].get(key_tuple(schema, key, what="Key"))
        return None if found is None else dict(found)

    def items(self, table: str) -> dict[KeyTuple, Item]:
        """Every item of ``table`` by key tuple (copies)."""
        _schema(self, table)
        return {k: dict(v) for k, v in self.tables[table].items()}


def empty(*schemas: TableSchema) -> Database:
    """A database holding the given tables, all empty."""
    names = [s.name for s in schemas]
    if len(set(names)) != len(names):
        raise ValidationError(f"duplicate table names in {names}", what="TableName")
    return Database({s.name: s for s in schemas}, {s.name: {} for s in schemas})


def _schema(db: Database, table: str) -> TableSchema:
    return schema_of(db.schemas, table)


def _with_item(db: Database, table: str, key: KeyTuple, item: Item | None) -> Database:
    items = dict(db.tables[table])
    if item is None:
        items.pop(key, None)
    else:
        items[key] = item
    tables = dict(db.tables)
    tables[table] = items
    return Database(db.schemas, tables, db.tokens)


@dataclass(frozen=True)
class _Prepared:
    """A write action with its expressions parsed and its key resolved."""

    action: WriteAction
    table: str
    key: KeyTuple
    key_item: Item
    condition: Any
    update: Any


def _prepare(db: Database, action: WriteAction, *, in_transaction: bool = False
             ) -> _Prepared:
    """The static checks (``validation.check_write``), with the key as an item."""
    return _prepared(db, check_write(db.schemas, action, in_transaction=in_transaction))


def _prepared(db: Database, checked: CheckedWrite) -> _Prepared:
    schema = db.schemas[checked.table]
    key_item = dict(zip(schema.key_attributes, checked.key, strict=True))
    return _Prepared(checked.action, checked.table, checked.key, key_item, checked.condition,
                     checked.update)


def _condition_holds(p: _Prepared, old: Item | None) -> bool:
    if p.condition is None:
        return True
    values = {k: normalize(v) for k, v in (p.action.values or {}).items()}
    return evaluate_condition(p.condition, old, p.action.names or {}, values)


def _new_item(db: Database, p: _Prepared, old: Item | None) -> Item | None:
    """The item after the action (``None``: absent); ValidationError if it cannot apply."""
    action = p.action
    if isinstance(action, Put):
        return normalize_item(action.item)
    if isinstance(action, Delete):
        return None
    if isinstance(action, ConditionCheck):
        return old
    names = action.names or {}
    values = {k: normalize(v) for k, v in (action.values or {}).items()}
    schema = db.schemas[p.table]
    touched = updated_paths(p.update, names)
    for attribute in schema.key_attributes:
        if attribute in touched:
            raise ValidationError(
                f"Cannot update attribute {attribute}. This attribute is part of the key",
                what="UpdateExpression",
            )
    if old is not None:
        return apply_update(p.update, old, names, values)
    # A missing item is updated as an empty one (a nested REMOVE is then ignored, as in
    # DynamoDB) and gets its key attributes.
    return {**apply_update(p.update, None, names, values), **p.key_item}


def _returned(action: WriteAction, db: Database, p: _Prepared, old: Item | None,
              new: Item | None) -> Item | None:
    mode = getattr(action, "return_values", "NONE")
    if mode == "NONE":
        return None
    if mode == "ALL_OLD":
        return None if old is None else dict(old)
    if mode == "ALL_NEW":
        return None if new is None else dict(new)
    touched = updated_paths(p.update, action.names or {})
    source = old if mode == "UPDATED_OLD" else new
    if source is None:
        return None
    picked = {a: source[a] for a in sorted(touched) if a in source}
    return picked or None


def _write(db: Database, action: WriteAction) -> tuple[Database, Response]:
    p = _prepare(db, action)
    old = db.tables[p.table].get(p.key)
    if not _condition_holds(p, old):
        raise ConditionalCheckFailed(
            item=old if action.return_old_on_condition_failure else None
        )
    new = _new_item(db, p, old)
    next_db = _with_item(db, p.table, p.key, new)
    return next_db, Response(item=_returned(action, db, p, old, new))


def _get(db: Database, request: Get) -> Item | None:
    table, key, projection = check_get(db.schemas, request)
    item = db.tables[table].get(key)
    if item is None:
        return None
    return dict(item) if projection is None else project(projection, item,
                                                         request.names or {})


def fingerprint(request: TransactWrite) -> Hashable:
    """A value equal for exactly the transaction requests that are the same request
    (used to tell a retry from a different request under one client token)."""

    def mapping(m: Mapping[str, Any] | None) -> Hashable:
        return None if m is None else freeze(dict(m))

    parts = []
    for a in request.actions:
        parts.append((
            type(a).__name__, a.table,
            mapping(a.item if isinstance(a, Put) else a.key),
            getattr(a, "update", None), a.condition, mapping(a.names), mapping(a.values),
            getattr(a, "return_values", None), a.return_old_on_condition_failure,
        ))
    return tuple(parts)


def _transact_write(db: Database, request: TransactWrite, now: float) -> tuple[Database,
                                                                               Response]:
    tokens = {t: e for t, e in db.tokens.items()
              if now - e.time < IDEMPOTENCY_WINDOW_SECONDS}
    print_ = fingerprint(request)
    if request.token is not None and request.token in tokens:
        entry = tokens[request.token]
        if entry.fingerprint != print_:
            raise IdempotentParameterMismatch(
                f"ClientRequestToken {request.token!r} was used for a different request"
            )
        return db, entry.response
    prepared = [_prepared(db, c) for c in check_transaction(db.schemas, request)]
    reasons: list[CancellationReason] = []
    results: list[tuple[_Prepared, Item | None]] = []
    for p in prepared:
        old = db.tables[p.table].get(p.key)
        if not _condition_holds(p, old):
            reasons.append(CancellationReason(
                "ConditionalCheckFailed", "The conditional request failed",
                old if p.action.return_old_on_condition_failure else None))
            continue
        try:
            new = _new_item(db, p, old)
        except ValidationError as error:
            reasons.append(CancellationReason("ValidationError", error.message))
            continue
        reasons.append(CancellationReason("None"))
        results.append((p, new))
    if any(not r.ok for r in reasons):
        raise TransactionCanceled(tuple(reasons))
    next_db = db
    for p, new in results:
        next_db = _with_item(next_db, p.table, p.key, new)
    response = Response()
    if request.token is not None:
        tokens[request.token] = _Token(print_, response, now)
    return Database(next_db.schemas, next_db.tables, tokens), response


def _transact_get(db: Database, request: TransactGet) -> Response:
    check_transact_get(db.schemas, request)
    return Response(items=tuple(_get(db, g) for g in request.gets))


def apply(db: Database, request: Request, now: float = 0.0) -> tuple[Database, Response]:
    """Apply ``request`` to ``db`` at simulated time ``now`` (seconds).

    Returns the next database and the answer, or raises a definite error
    (``ValidationError``, ``ConditionalCheckFailed``, ``TransactionCanceled``,
    ``IdempotentParameterMismatch``); ``db`` itself is never changed."""
    if isinstance(request, Get):
        return db, Response(item=_get(db, request))
    if isinstance(request, Put | Update | Delete):
        return _write(db, request)
    if isinstance(request, TransactWrite):
        return _transact_write(db, request, now)
    if isinstance(request, TransactGet):
        return db, _transact_get(db, request)
    raise ValidationError(f"unknown request type {type(request).__name__}", what="Request")


def apply_within(db: Database, request: Request, when: Span, window: float
                 ) -> tuple[tuple[Database, Response | StoreError], ...]:
    """Every outcome (as :func:`outcome` gives it) the model allows for ``request``
    taking effect at some instant of ``when``, the store keeping client request
    tokens ``window`` seconds: one outcome, but two for a transaction reusing a token
    that may be remembered or forgotten by then (:func:`token_fate`; a token whose
    first use carries no span is remembered). A token a transaction registers
    carries ``when``; the model's own ``now`` plays no part."""
    token = request.token if isinstance(request, TransactWrite) else None
    entry = None if token is None else db.tokens.get(token)
    fate = REMEMBERED if entry is None or entry.span is None else token_fate(
        entry.span, when, window)
    found: list[tuple[Database, Response | StoreError]] = []
    if fate != FORGOTTEN:
        found.append(_spanned(outcome(db, request), token, entry, when))
    if fate != REMEMBERED and token is not None:
        forgot = Database(db.schemas, db.tables,
                          {t: e for t, e in db.tokens.items() if t != token})
        found.append(_spanned(outcome(forgot, request), token, None, when))
    return tuple(found)


def _spanned(result: tuple[Database, Response | StoreError], token: str | None,
             kept: _Token | None, when: Span) -> tuple[Database, Response | StoreError]:
    """``result`` with the token entry the request registered (none was ``kept``)
    carrying ``when``."""
    db, answer = result
    entry = None if token is None else db.tokens.get(token)
    if token is None or entry is None or kept is not None:
        return result
    tokens = dict(db.tokens)
    tokens[token] = _Token(entry.fingerprint, entry.response, entry.time, when)
    return Database(db.schemas, db.tables, tokens), answer


def touched(db: Database, request: Request) -> frozenset[tuple[str, KeyTuple]]:
    """The (table, key) pairs a request reads or writes; ValidationError for a bad key."""
    def one(table: str, mapping: Mapping[str, Any], exact: bool) -> tuple[str, KeyTuple]:
        return table, key_tuple(_schema(db, table), mapping, what="Key", exact=exact)

    if isinstance(request, Put):
        return frozenset({one(request.table, request.item, False)})
    if isinstance(request, Get | Update | Delete):
        return frozenset({one(request.table, request.key, True)})
    if isinstance(request, TransactWrite):
        return frozenset(
            one(a.table, a.item, False) if isinstance(a, Put) else one(a.table, a.key, True)
            for a in request.actions
        )
    return frozenset(one(g.table, g.key, True) for g in request.gets)


def outcome(db: Database, request: Request, now: float = 0.0) -> tuple[Database,
                                                                      Response | StoreError]:
    """Like :func:`apply`, but a definite error is returned (with ``db`` unchanged)
    instead of raised."""
    try:
        return apply(db, request, now)
    except StoreError as error:
        return db, error
