"""Decoding item operations into the reads and writes they made, with their versions.

Each operation of an item history becomes an :class:`ItemOp`: its decoded request and
response, the :class:`ItemRead` s and :class:`ItemWrite` s it made (the item, the version
recorded in its metadata or :data:`MISSING`, the item value or a marker), and whether
it is a replayed transact-write. :class:`Keys` names items from requests and metadata
with the tables' key schemas. A request, response or metadata entry the format does not
allow is a :class:`HistoryError` naming the operation and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from replicheck.histories.checkers.elle.item_values import (
    ABSENT,
    MISSING,
    PRESENT,
    UNKNOWN,
    ItemId,
    Vid,
)
from replicheck.histories.history import OK, History, HistoryError, Operation
from replicheck.histories.items import (
    KINDS,
    TABLES,
    declared_schemas,
    request_of,
    response_of,
    schemas_from_json,
)
from replicheck.models.items.errors import ValidationError
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
from replicheck.models.items.values import (
    Frozen,
    freeze,
    freeze_item,
    normalize,
    normalize_item,
    number_to_wire,
    thaw,
)


@dataclass
class ItemWrite:
    """A write of one item: by transaction ``tid``, the version it recorded, the item
    it wrote, and, once resolved, its version id."""

    tid: int
    item: ItemId
    version: Any      # recorded version, or MISSING
    value: Any        # frozen item, ABSENT or UNKNOWN
    status: str
    call: int
    vid: Vid = None


@dataclass
class ItemRead:
    """A read of one item: by transaction ``tid``, the version it recorded, the item
    it returned, and, once resolved, the version id it saw."""

    tid: int
    item: ItemId
    version: Any      # recorded version, None (initial), or MISSING
    value: Any        # frozen item, ABSENT or UNKNOWN
    what: str         # "get", "check" (a transact-write's read) or "old" (ALL_OLD)
    ret: int | None
    vid: Vid = None
    resolved: bool = False
    position: Any = MISSING  # a recorded version whose place is known, writer or not


@dataclass
class ItemOp:
    """One operation decoded: its request, response (``None`` unless ``ok``), and the
    reads and writes it made."""

    tid: int
    op: Operation
    request: Request
    response: Response | None
    reads: list[ItemRead] = field(default_factory=list)
    writes: list[ItemWrite] = field(default_factory=list)
    replayed: bool = False

    def read(self, item: ItemId, version: Any, value: Any, what: str) -> None:
        """Add a read of ``item`` (an ok operation's: it has returned)."""
        ret = self.op.ret if self.op.status == OK else None
        self.reads.append(ItemRead(self.tid, item, version, value, what, ret))

    def write(self, item: ItemId, version: Any, value: Any) -> None:
        """Add a write of ``item``."""
        self.writes.append(ItemWrite(self.tid, item, version, value, self.op.status,
                                     self.op.call))


def _at(op: Operation) -> str:
    where = f"operation {op.id} ({op.f}"
    return where + (f", line {op.line})" if op.line is not None else ")")


def _bad(op: Operation, what: str) -> HistoryError:
    return HistoryError(f"{_at(op)}: {what}", line=op.line)


def _frozen(op: Operation, value: Any, what: str) -> Frozen:
    try:
        return freeze(normalize(value, what=None))
    except (ValidationError, TypeError, ValueError) as error:
        raise _bad(op, f"{what} is {value!r}; expected a DynamoDB attribute value "
                       f"({error})") from None


def _frozen_item(op: Operation, item: Any, what: str) -> Any:
    if item is None:
        return ABSENT
    if not isinstance(item, Mapping):
        raise _bad(op, f"{what} is {item!r}; expected an item (attribute name -> value) "
                       "or null")
    try:
        return freeze_item(normalize_item(item, what=None))
    except (ValidationError, TypeError, ValueError) as error:
        raise _bad(op, f"{what} is not an item ({error})") from None


class Keys:
    """Items from requests and from metadata, with the tables' key schemas (declared
    by the ``tables`` record, else told from the exact keys requests use)."""

    def __init__(self, declared: Mapping[str, TableSchema], guessed: Mapping[str, set[str]]
                 ) -> None:
        self.schemas: dict[str, TableSchema] = dict(declared)
        self.names: dict[str, tuple[str, ...] | None] = {}
        for table, schema in declared.items():
            self.names[table] = schema.key_attributes
        for table, names in guessed.items():
            if table in self.names:
                continue
            if len(names) == 1:
                (only,) = names
                self.schemas[table] = TableSchema(table, only)
                self.names[table] = (only,)
            else:
                self.names[table] = None
        self.labels: dict[ItemId, str] = {}

    def _names(self, op: Operation, table: str) -> tuple[str, ...]:
        names = self.names.get(table)
        if names is None:
            raise _bad(op, f"the key schema of table {table!r} is unknown; expected a "
                           f'"{TABLES}" observation record naming its partition (and sort) '
                           "key")
        return names

    def _make(self, table: str, pairs: dict[str, Frozen], order: Sequence[str]) -> ItemId:
        item: ItemId = (table, tuple(sorted(pairs.items())))
        if item not in self.labels:
            shown = ",".join(f"{n}={_show_frozen(pairs[n])}" for n in order)
            self.labels[item] = f"{table}/{shown}"
        return item

    def of_request(self, op: Operation, table: str, mapping: Mapping[str, Any], exact: bool
                   ) -> ItemId:
        """The item a request names: its ``Key`` (``exact``) or a put's ``Item``."""
        if exact and table not in self.schemas:
            names: Sequence[str] = sorted(mapping)
        else:
            names = self._names(op, table)
        pairs: dict[str, Frozen] = {}
        for n in names:
            if n not in mapping:
                raise _bad(op, f"the key of table {table!r} needs attribute {n!r}; "
                               f"got {sorted(mapping)}")
            pairs[n] = _frozen(op, mapping[n], f"key attribute {n!r}")
        if exact and set(mapping) != set(names):
            raise _bad(op, f"the key {sorted(mapping)} of table {table!r} does not match "
                           f"its key attributes {list(names)}")
        return self._make(table, pairs, names)

    def of_meta(self, op: Operation, entry: Any, where: str) -> ItemId:
        """The item a metadata entry ``{"table", "key", ...}`` names."""
        if not isinstance(entry, Mapping) or not isinstance(entry.get("table"), str):
            raise _bad(op, f'{where} is {entry!r}; expected an object {{"table": ..., '
                           '"key": ..., "version": ...}')
        table = entry["table"]
        key = entry.get("key")
        if isinstance(key, Mapping):
            return self.of_request(op, table, key, True)
        values = list(key) if isinstance(key, list | tuple) else [key]
        names = self._names(op, table)
        if len(values) != len(names):
            raise _bad(op, f"{where}.key is {key!r}; expected the values of {list(names)} "
                           "in that order")
        pairs = {n: _frozen(op, v, f"{where}.key") for n, v in zip(names, values, strict=True)}
        return self._make(table, pairs, names)


def _show_frozen(value: Frozen) -> str:
    native = thaw(value)
    if isinstance(native, Decimal):
        return number_to_wire(native)
    if isinstance(native, str):
        return native
    return repr(native)


def _version(op: Operation, value: Any, where: str, *, read: bool) -> Any:
    """A recorded version in comparable form: an int, or a tuple of ints and strings;
    ``None`` (never written) for a read's ``null``, MISSING for a write's."""
    if value is None:
        return None if read else MISSING
    if isinstance(value, bool):
        raise _bad(op, f"{where} is {value!r}; expected an int or a list")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, list | tuple):
        parts: list[Any] = []
        for part in value:
            if isinstance(part, bool) or not isinstance(part, int | str | Decimal):
                raise _bad(op, f"{where} is {value!r}; expected a list of ints and strings")
            parts.append(int(part) if isinstance(part, Decimal) else part)
        return tuple(parts)
    raise _bad(op, f"{where} is {value!r}; expected an int (a sequence number) or a list "
                   "compared lexicographically")


def _schemas(history: History, requests: Sequence[Request]) -> tuple[Keys, bool]:
    declared: dict[str, TableSchema] = {}
    tables = [r for r in history.observations if r.f == TABLES]
    if tables:
        try:
            declared = {s.name: s for s in schemas_from_json(tables[-1].value)}
        except HistoryError as error:
            raise HistoryError(error.message, line=tables[-1].line) from None
    guessed: dict[str, set[str]] = {}

    def see(table: str, key: Mapping[str, Any]) -> None:
        guessed.setdefault(table, set()).update(key)

    for request in requests:
        if isinstance(request, Get | Update | Delete):
            see(request.table, request.key)
        elif isinstance(request, TransactGet):
            for g in request.gets:
                see(g.table, g.key)
        elif isinstance(request, TransactWrite):
            for a in request.actions:
                if not isinstance(a, Put):
                    see(a.table, a.key)
    return Keys(declared, guessed), bool(tables)


def _meta_list(op: Operation, name: str) -> list[Any] | None:
    value = op.meta.get(name)
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise _bad(op, f'meta "{name}" is {value!r}; expected a list of objects')
    return list(value)


def _decode(tid: int, op: Operation, request: Request, keys: Keys) -> ItemOp:
    """The reads and writes one operation made, with the versions its metadata
    recorded."""
    if op.status == OK:
        try:
            response: Response | None = response_of(op, request)
        except HistoryError as error:
            raise HistoryError(error.message, line=op.line) from None
    else:
        response = None
    out = ItemOp(tid, op, request, response)
    ok = op.status == OK
    if isinstance(request, Get):
        if ok:
            _decode_get(out, request, keys)
    elif isinstance(request, TransactGet):
        if ok:
            _decode_transact_get(out, request, keys)
    elif isinstance(request, Put | Update | Delete):
        _decode_write(out, request, keys)
    elif isinstance(request, TransactWrite):
        _decode_transact_write(out, request, keys)
    return out


def _decode_get(out: ItemOp, request: Get, keys: Keys) -> None:
    op, response, meta = out.op, out.response, out.op.meta
    assert response is not None
    item = keys.of_request(op, request.table, request.key, True)
    version = (_version(op, meta["version"], 'meta "version"', read=True)
               if "version" in meta else MISSING)
    value = (ABSENT if response.item is None else UNKNOWN if request.projection
             else _frozen_item(op, response.item, "the item read"))
    out.read(item, version, value, "get")


def _decode_transact_get(out: ItemOp, request: TransactGet, keys: Keys) -> None:
    op, response = out.op, out.response
    assert response is not None
    entries = _meta_list(op, "reads")
    items = [keys.of_request(op, g.table, g.key, True) for g in request.gets]
    versions: dict[ItemId, Any] = {}
    if entries is not None:
        positional = all(isinstance(e, Mapping) and "table" not in e for e in entries)
        if positional and len(entries) != len(items):
            raise _bad(op, f'meta "reads" has {len(entries)} entries; expected one '
                           f"per get ({len(items)})")
        for i, entry in enumerate(entries):
            where = f'meta "reads"[{i}]'
            it = items[i] if positional else keys.of_meta(op, entry, where)
            if not isinstance(entry, Mapping) or "version" not in entry:
                raise _bad(op, f'{where} is {entry!r}; expected a "version"')
            versions[it] = _version(op, entry["version"], where + ".version",
                                    read=True)
    for i, (g, it) in enumerate(zip(request.gets, items, strict=True)):
        got = response.items[i] if i < len(response.items) else None
        value = (ABSENT if got is None else UNKNOWN if g.projection
                 else _frozen_item(op, got, f"item {i} read"))
        out.read(it, versions.get(it, MISSING), value, "get")


def _decode_write(out: ItemOp, request: Put | Update | Delete, keys: Keys) -> None:
    op, response, meta = out.op, out.response, out.op.meta
    ok = op.status == OK
    if isinstance(request, Put):
        item = keys.of_request(op, request.table, request.item, False)
        value = _frozen_item(op, request.item, "the item put")
    else:
        item = keys.of_request(op, request.table, request.key, True)
        if isinstance(request, Delete):
            value = ABSENT
        elif meta.get("item") is not None:
            value = _frozen_item(op, meta["item"], 'meta "item"')
        elif ok and request.return_values == "ALL_NEW" and response is not None \
                and response.item is not None:
            value = _frozen_item(op, response.item, "the item returned (ALL_NEW)")
        else:
            value = PRESENT
    version = _version(op, meta.get("version"), 'meta "version"', read=False)
    if ok and request.return_values == "ALL_OLD":
        assert response is not None
        out.read(item, MISSING, _frozen_item(op, response.item, "the old item returned"),
                 "old")
    if ok:
        _decode_meta_reads(out, keys)
    out.write(item, version, value)


def _decode_meta_reads(out: ItemOp, keys: Keys) -> None:
    """The reads ``meta["reads"]`` records (``[{"table", "key", "version"}, ...]``: the
    versions a write's condition or update expression read), each of an item not read
    otherwise."""
    op = out.op
    seen = {r.item for r in out.reads}
    for i, entry in enumerate(_meta_list(op, "reads") or ()):
        where = f'meta "reads"[{i}]'
        it = keys.of_meta(op, entry, where)
        if not isinstance(entry, Mapping) or "version" not in entry:
            raise _bad(op, f'{where} is {entry!r}; expected a "version"')
        if it not in seen:
            seen.add(it)
            out.read(it, _version(op, entry["version"], where + ".version", read=True),
                     UNKNOWN, "check")


def _decode_transact_write(out: ItemOp, request: TransactWrite, keys: Keys) -> None:
    op, meta = out.op, out.op.meta
    out.replayed = bool(meta.get("replayed"))
    recorded: dict[ItemId, tuple[Any, Any]] = {}
    entries = _meta_list(op, "writes")
    for i, entry in enumerate(entries or ()):
        where = f'meta "writes"[{i}]'
        it = keys.of_meta(op, entry, where)
        version = _version(op, entry.get("version"), where + ".version", read=False)
        if entry.get("delete"):
            value = ABSENT
        elif "item" in entry:
            value = _frozen_item(op, entry["item"], where + ".item")
        else:
            value = UNKNOWN
        recorded[it] = (version, value)
    written: set[ItemId] = set()
    for action in request.actions:
        if isinstance(action, ConditionCheck):
            continue
        if isinstance(action, Put):
            it = keys.of_request(op, action.table, action.item, False)
            value = _frozen_item(op, action.item, "an item put")
        else:
            it = keys.of_request(op, action.table, action.key, True)
            value = ABSENT if isinstance(action, Delete) else UNKNOWN
        written.add(it)
        version, shown = recorded.get(it, (MISSING, UNKNOWN))
        if value is UNKNOWN:
            value = PRESENT if shown is UNKNOWN else shown
        if not out.replayed:
            out.write(it, version, value)
    extra = set(recorded) - written
    if extra:
        label = keys.labels[next(iter(sorted(extra)))]
        raise _bad(op, f'meta "writes" names {label}, which no put, update or delete '
                       "action of the transaction writes")
    if op.status == OK:
        _decode_meta_reads(out, keys)
        seen = {r.item for r in out.reads}
        for action in request.actions:
            if isinstance(action, ConditionCheck):
                it = keys.of_request(op, action.table, action.key, True)
                if it not in seen:
                    out.read(it, MISSING, UNKNOWN, "check")


@dataclass(frozen=True)
class Decoded:
    """A history's operations decoded: their requests (in invocation order), the keys
    naming their items, whether a ``tables`` record declared the key schemas, and one
    :class:`ItemOp` per operation."""

    requests: list[Request]
    keys: Keys
    declared: bool
    ops: list[ItemOp]


def decode_requests(history: History) -> list[Request]:
    """The request of every operation of an item history, in order (what
    :func:`decode_operations` starts from: decode them once to infer several times).
    Raises :class:`HistoryError` naming the operation and what was expected."""
    requests: list[Request] = []
    schemas = declared_schemas(history)
    for op in history.operations:
        if op.f not in KINDS:
            raise _bad(op, f"function {op.f!r}; expected an item request kind "
                           f"({', '.join(sorted(KINDS))})")
        try:
            requests.append(request_of(op, schemas))
        except HistoryError as error:
            raise HistoryError(error.message, line=op.line) from None
    return requests


def decode_operations(history: History, requests: Sequence[Request] | None = None
                      ) -> Decoded:
    """Decode every operation of an item history (its ``requests`` from
    :func:`decode_requests` when given). Raises :class:`HistoryError` naming the
    operation and what was expected for a request, response or metadata the format
    does not allow."""
    operations = history.operations
    requests = decode_requests(history) if requests is None else list(requests)
    keys, declared = _schemas(history, requests)
    ops = [_decode(i, op, requests[i], keys) for i, op in enumerate(operations)]
    return Decoded(requests, keys, declared, ops)
