"""Elle-style checking of DynamoDB item transactions (model ``item``).

:func:`check_item_transactions` judges a history of item requests (the format of
``replicheck.histories.items``: ``get-strong``, ``get-eventual``, ``put``, ``update``,
``delete``, ``transact-write``, ``transact-get``) against transactional consistency
models, with the dependency graph, cycle search, anomaly classes and verdict rules of
the list-append and rw-register checkers (``replicheck.histories.checkers.elle``).

Transactions
    Every operation is a transaction over *items*, an item being a table and a primary
    key (compared by DynamoDB equality of the key attributes, so ``1`` and ``1.0`` are
    one key). An ``ok`` get or transact-get reads its items; a put, update or delete
    writes its item; a transact-write writes the items of its put/update/delete
    actions, and reads the items whose version it recorded (below: typically its
    condition checks; a check whose version is not recorded read one of the item's
    versions, each is judged). A put, update or delete returning ``ALL_OLD`` also reads
    its item (the old item it returned: one of the item's versions holding it, each
    judged, the one right before the write's own first). Otherwise the version a
    write's condition or update expression saw gives no edge (it is the version right
    before the write's own) and is not checked here: condition outcomes and update
    results are the item model's (linearizability's) business.

Metadata read (``Operation.meta``; the reference leader store records exactly this)
    - ``put``/``update``/``delete``: ``version``, the item version it created (an int,
      or a list compared lexicographically); an ``update`` may give ``item``, the item
      after the write (else ``ALL_NEW`` return values show it).
    - ``get-*``: ``version``, the version read (``null``: the item was never written).
    - ``transact-write``: ``writes``, ``[{"table", "key", "version", "item", "delete"},
      ...]``, one per write action (``key`` the key values in schema order, or an
      object of key attributes); ``reads``, optionally, ``[{"table", "key",
      "version"}, ...]``: the versions its condition checks (or other actions) read;
      ``replayed: true`` marks an answer replayed from an earlier request with the same
      client token (it wrote nothing itself).
    - ``transact-get``: ``reads``, one ``{"table", "key", "version"}`` per get (by
      position when ``table``/``key`` are left out).

    Items are assumed absent before the history begins. A version written by two
    different transactions of the same client token and request (an idempotent retry
    answered with the same ``writes``) belongs to the earliest of them.

Versions
    With recorded versions the version order of an item is exact: ``ww`` edges link the
    writers of consecutive recorded versions, ``wr`` edges the writer of a version to
    its readers, ``rw`` edges a reader of a version to the writer of the next recorded
    version (the initial state precedes every version). An indeterminate (``info``)
    write has no recorded version; it may have made a version nobody is known to have
    written that was read (when it wrote the item read, or an item the history does not
    show); it then committed. When several such writes could have made it, or one write
    several versions, each way is judged (``ItemInference.choices``), and so is each
    place among the item's recorded versions of a committed indeterminate write whose
    version was not read. The verdict holds over every way: valid when one way is, a
    model ruled out only when every way rules it out. Indeterminate writes nobody saw
    are taken not to have happened (as Elle does: the history is valid when some
    outcome of them is).

    Without recorded versions the checker falls back to values, assuming (as Elle's
    rw-register does) that the values written to an item are unique: a version is
    named by the item's full value (a put's item, a delete's absence, an update's item
    when shown), and a read without a version names the write of the value it returned
    when exactly one write of the item wrote it (the absent item names the initial
    state when the item is never deleted). What values give of the order, as for
    rw-register: the initial state first, and a transaction's write after the version
    it read of the same item (an old item returned). A value written twice, a read
    nobody explains, a write whose value is unknown, a condition check whose version is
    not recorded: their edges are left out, never guessed, and ``notes`` say so.

Anomalies found besides cycles
    - ``G1a``: a read of a version no committed or indeterminate write can have
      produced, whose value only a failed write wrote.
    - ``garbage-read``: a read of a recorded version no write of the history can have
      made (nor a failed one), or of a version holding another item than its writer
      made (or than another read of it returned), or, without a recorded version, of
      an item that no write holds when the history shows every write's item (the
      reader's own writes aside). No interpretation explains it: every model rules it
      out.
    - ``cyclic-versions``: two committed transactions claim the same version of one
      item (the item's versions are then no strict order of its writes: each is at or
      before the other), or the version pairs values give form a cycle. The item's
      ``ww``/``rw`` edges are then left out.
    - ``lost-update``: two committed transactions read the same version of an item and
      both wrote it.
    - ``future-read``: a transaction read the version of an item it wrote itself.
    Intermediate reads (``G1b``) cannot happen: a transaction writes an item at most
    once. A read of a version nobody explains, without a failed write to blame, is a
    note when a write's item is not shown (that write may have made it).

Verdict
    As for the other Elle checkers: valid (True) when no anomaly found is forbidden by
    one of the models asked for and, for a serial model (serializable and above), a
    serial order is shown; False when one is forbidden; ``"unknown"`` when the time
    limit ran out first, or a serial model was asked for and no serial order could be
    shown. The witness is a topological order of the dependency graph (with process and
    real-time edges when the models need them) over the committed transactions and the
    indeterminate ones seen to commit, in completion order where the graph leaves the
    order open. When the history is *complete* (every read's version known, every
    committed write's version recorded, nothing contradictory) an acyclic graph proves
    it: every read sees the version it recorded. Otherwise the order must also replay
    through the item model (``models.items.operations.apply``, items absent at first,
    the ``tables`` record giving the key schemas): every transaction applies and
    answers what it answered. A history that does not replay so is ``"unknown"`` for a
    serial model, never valid on a guess.
"""

from __future__ import annotations

import gc
import heapq
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Any, Final, cast

import networkx as nx

from replicheck.histories.checkers.elle.anomalies import CycleAnomaly
from replicheck.histories.checkers.elle.checker import (
    DEFAULT_CONSISTENCY,
    list_anomalies,
    search_cycles,
)
from replicheck.histories.checkers.elle.explain import _CYCLE_TEXT, _NEEDS, explain_step, name
from replicheck.histories.checkers.elle.graph import (
    DATA,
    KIND_NAMES,
    PROCESS,
    REALTIME,
    RW,
    WR,
    WW,
    DependencyGraph,
    SearchStats,
    SearchTimeout,
    Step,
    check_deadline,
)
from replicheck.histories.checkers.elle.inference import Finding, VersionOrder
from replicheck.histories.checkers.elle.txn import READ, RW_REGISTER, WRITE, Txn
from replicheck.histories.history import FAIL, INFO, OK, History, HistoryError, Operation
from replicheck.histories.items import KINDS, TABLES, request_of, response_of, schemas_from_json
from replicheck.histories.verdict import Anomaly, Stats, Verdict
from replicheck.models import lattice
from replicheck.models.items.errors import StoreError, ValidationError
from replicheck.models.items.operations import apply, empty, fingerprint
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

__all__ = [
    "ITEM_MODEL",
    "ItemAnalysis",
    "ItemId",
    "ItemInference",
    "analyze_items",
    "check_item_transactions",
    "explain_item_cycle",
    "explain_item_finding",
    "explain_item_step",
    "infer_items",
]

ITEM_MODEL: Final = "item"
"""The ``model`` of the verdicts :func:`check_item_transactions` gives."""

ItemId = tuple[str, tuple[tuple[str, Frozen], ...]]
"""An item: its table and its key attributes ``(name, frozen value)``, sorted by name."""


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


ABSENT: Final[Any] = _Marker("absent")
"""The value of an absent item (never written, or deleted)."""
UNKNOWN: Final[Any] = _Marker("unknown")
"""A value the history does not show."""
PRESENT: Final[Any] = _Marker("present")
"""An item the history does not show, but an item (what an update makes: never
absent)."""
MISSING: Final[Any] = _Marker("missing")
"""A version the history did not record."""

# Version ids: ``None`` (the initial state), ``("v", recorded version)``, ``("=", value)``
# (a version known by its value) or ``("T", txn index)`` (known by its writer only).
Vid = tuple[str, Any] | None



# ---------------------------------------------------------------------------- data


@dataclass
class _Write:
    tid: int
    item: ItemId
    version: Any      # recorded version, or MISSING
    value: Any        # frozen item, ABSENT or UNKNOWN
    status: str
    call: int
    vid: Vid = None


@dataclass
class _Read:
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
class _Op:
    tid: int
    op: Operation
    request: Request
    response: Response | None
    reads: list[_Read] = field(default_factory=list)
    writes: list[_Write] = field(default_factory=list)
    replayed: bool = False


@dataclass
class ItemInference:
    """What inference learns from an item history, as data: the transactions (one per
    operation, in invocation order; ``Txn.mops`` lists ``("r"|"w", item label,
    recorded version)``, ``None`` when none was recorded), the dependency graph, each
    item's label (``items/pk=a``) and version order (``VersionOrder``: the recorded
    versions in order, ``total``, when every committed write of the item recorded one;
    else the known pairs), the anomalies found without cycle search, notes on what
    could not be inferred, the open ``choices`` (a recorded version read that several
    indeterminate writes may have made: ``((item, version), number of candidates)``),
    whether the ``choice`` given made one write two versions (``clash``), and whether
    the history is ``complete`` (every read's
    version known, every committed write's version recorded, nothing contradictory:
    then an acyclic graph is a proof). Also, per transaction, its decoded request and
    response (``None`` unless ``ok``); the tables' key schemas (declared by the
    ``tables`` record, or told from the keys requests use); and, per member, the
    ``(item, version id)`` pairs it read (those known) and wrote, a version id being
    ``None`` (the initial state), ``("v", recorded version)``, ``("=", frozen item)``
    or ``("T", writer's index)``."""

    txns: tuple[Txn, ...]
    graph: DependencyGraph
    labels: dict[ItemId, str] = field(default_factory=dict)
    versions: dict[ItemId, VersionOrder] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    requests: tuple[Request, ...] = ()
    responses: tuple[Response | None, ...] = ()
    schemas: dict[str, TableSchema] = field(default_factory=dict)
    schemas_declared: bool = False
    reads: dict[int, list[tuple[ItemId, Vid]]] = field(default_factory=dict)
    writes: dict[int, list[tuple[ItemId, Vid]]] = field(default_factory=dict)
    choices: list[tuple[tuple[ItemId, Any], int]] = field(default_factory=list)
    clash: bool = False
    choice: Mapping[Any, int] = field(default_factory=dict)


@dataclass
class ItemAnalysis:
    """An item history's inference, the non-trivial strongly connected components of
    its dependency graph, the cycle anomalies found in them, a topological order of the
    whole graph when it is acyclic, work done, and whether the time limit cut the
    analysis short."""

    inference: ItemInference
    components: list[list[int]] = field(default_factory=list)
    cycles: list[CycleAnomaly] = field(default_factory=list)
    order: list[int] | None = None
    stats: SearchStats = field(default_factory=SearchStats)
    timed_out: bool = False


# ---------------------------------------------------------------------------- keys


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


class _Keys:
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


def _recorded(v: Any) -> Any:
    return None if v is MISSING else v


def _show_version(v: Any) -> str:
    if isinstance(v, tuple):
        return "[" + ", ".join(repr(p) if isinstance(p, str) else str(p) for p in v) + "]"
    return str(v)


# ---------------------------------------------------------------------------- decoding


def _schemas(history: History, requests: Sequence[Request]) -> tuple[_Keys, bool]:
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
    return _Keys(declared, guessed), bool(tables)


def _meta_list(op: Operation, name: str) -> list[Any] | None:
    value = op.meta.get(name)
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise _bad(op, f'meta "{name}" is {value!r}; expected a list of objects')
    return list(value)


def _decode(tid: int, op: Operation, request: Request, keys: _Keys) -> _Op:
    if op.status == OK:
        try:
            response: Response | None = response_of(op, request)
        except HistoryError as error:
            raise HistoryError(error.message, line=op.line) from None
    else:
        response = None
    out = _Op(tid, op, request, response)
    ok = op.status == OK
    ret = op.ret if ok else None
    meta = op.meta

    def read(item: ItemId, version: Any, value: Any, what: str) -> None:
        out.reads.append(_Read(tid, item, version, value, what, ret))

    def write(item: ItemId, version: Any, value: Any) -> None:
        out.writes.append(_Write(tid, item, version, value, op.status, op.call))

    if isinstance(request, Get):
        if ok:
            assert response is not None
            item = keys.of_request(op, request.table, request.key, True)
            version = (_version(op, meta["version"], 'meta "version"', read=True)
                       if "version" in meta else MISSING)
            value = (ABSENT if response.item is None else UNKNOWN if request.projection
                     else _frozen_item(op, response.item, "the item read"))
            read(item, version, value, "get")
    elif isinstance(request, TransactGet):
        if ok:
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
                read(it, versions.get(it, MISSING), value, "get")
    elif isinstance(request, Put | Update | Delete):
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
            read(item, MISSING, _frozen_item(op, response.item, "the old item returned"),
                 "old")
        write(item, version, value)
    elif isinstance(request, TransactWrite):
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
                write(it, version, value)
        extra = set(recorded) - written
        if extra:
            label = keys.labels[next(iter(sorted(extra)))]
            raise _bad(op, f'meta "writes" names {label}, which no put, update or delete '
                           "action of the transaction writes")
        if ok:
            for i, entry in enumerate(_meta_list(op, "reads") or ()):
                where = f'meta "reads"[{i}]'
                it = keys.of_meta(op, entry, where)
                if "version" not in entry:
                    raise _bad(op, f'{where} is {entry!r}; expected a "version"')
                read(it, _version(op, entry["version"], where + ".version", read=True),
                     UNKNOWN, "check")
            seen = {r.item for r in out.reads}
            for action in request.actions:
                if isinstance(action, ConditionCheck):
                    it = keys.of_request(op, action.table, action.key, True)
                    if it not in seen:
                        read(it, MISSING, UNKNOWN, "check")
    return out


# ---------------------------------------------------------------------------- inference


def infer_items(history: History, *, deadline: float | None = None,
                choice: Mapping[Any, int] | None = None) -> ItemInference:
    """Decode an item history and infer its items' version orders, the non-cycle
    anomalies and the data edges (see the module docstring). ``choice`` picks, for an
    open choice of ``ItemInference.choices``, which candidate made the version (by
    position; the first when not given). Raises
    :class:`HistoryError` naming the operation and what was expected for a request,
    response or metadata the format does not allow, and ``SearchTimeout`` past
    ``deadline`` (a ``time.monotonic`` instant)."""
    operations = history.operations
    requests: list[Request] = []
    for op in operations:
        if op.f not in KINDS:
            raise _bad(op, f"function {op.f!r}; expected an item request kind "
                           f"({', '.join(sorted(KINDS))})")
        try:
            requests.append(request_of(op))
        except HistoryError as error:
            raise HistoryError(error.message, line=op.line) from None
    keys, declared = _schemas(history, requests)
    ops = [_decode(i, op, requests[i], keys) for i, op in enumerate(operations)]
    check_deadline(deadline)

    txns: list[Txn] = []
    for o in ops:
        mops = tuple((WRITE, keys.labels[w.item], _recorded(w.version)) for w in o.writes) \
            + tuple((READ, keys.labels[r.item], _recorded(r.version)) for r in o.reads)
        op = o.op
        txns.append(Txn(o.tid, op.id, op.process, op.status, mops, op.call,
                        op.ret if op.status == OK else None))
    # The graph only stores the workload name; edges and explanations are the item's.
    graph = DependencyGraph(txns, RW_REGISTER)
    inf = ItemInference(graph.txns, graph, keys.labels, requests=tuple(requests),
                        responses=tuple(o.response for o in ops), schemas=keys.schemas,
                        schemas_declared=declared)
    inf.choice = dict(choice or {})
    _merge_retries(ops, inf)

    writes: dict[ItemId, list[_Write]] = {}
    reads: dict[ItemId, list[_Read]] = {}
    for o in ops:
        for w in o.writes:
            writes.setdefault(w.item, []).append(w)
        if o.op.status == OK:
            for r in o.reads:
                reads.setdefault(r.item, []).append(r)
    works = [_Work(item, keys.labels[item], writes.get(item, []), reads.get(item, []))
             for item in sorted(set(writes) | set(reads))]
    for work in works:
        _resolve(work, inf, inf.choice)
        check_deadline(deadline)
    _members(works, inf)
    for work in works:
        _edges(work, inf)
        check_deadline(deadline)
    for o in ops:
        if not graph.member[o.tid]:
            continue
        inf.writes[o.tid] = [(w.item, w.vid) for w in o.writes]
        inf.reads[o.tid] = [(r.item, r.vid) for r in o.reads if r.resolved]
    return inf


def _merge_retries(ops: Sequence[_Op], inf: ItemInference) -> None:
    """An ok transact-write answering with the very writes an earlier one with the same
    token and request answered is the same transaction, retried: it writes nothing
    itself."""
    seen: dict[tuple[str, Hashable, tuple[tuple[ItemId, Any], ...]], int] = {}
    for o in ops:
        request = o.request
        if o.op.status != OK or not isinstance(request, TransactWrite) or not o.writes:
            continue
        if request.token is None or any(w.version is MISSING for w in o.writes):
            continue
        claim = tuple(sorted((w.item, w.version) for w in o.writes))
        key = (request.token, fingerprint(request), claim)
        first = seen.setdefault(key, o.tid)
        if first != o.tid:
            o.writes = []
            inf.notes.append(f"T{o.op.id} answered with the writes of T{ops[first].op.id} "
                             f"(same client token {request.token!r}): one transaction, "
                             f"counted as T{ops[first].op.id}'s")


@dataclass
class _Work:
    """One item's writes and reads while its versions are worked out."""

    item: ItemId
    label: str
    writes: list[_Write]
    reads: list[_Read]
    live: list[_Write] = field(default_factory=list)
    failed: list[_Write] = field(default_factory=list)
    writer: dict[Any, _Write] = field(default_factory=dict)
    ordered: bool = True
    unrecorded: list[_Read] = field(default_factory=list)


def _resolve(work: _Work, inf: ItemInference, choice: Mapping[Any, int]) -> None:
    """Name the version of every write and find the version every read saw, where the
    history shows it; findings and notes for what contradicts or cannot be told."""
    item, label, writes, reads = work.item, work.label, work.writes, work.reads
    txns = inf.txns
    findings = inf.findings

    def note(text: str, *, incomplete: bool = True) -> None:
        inf.notes.append(f"{label}: {text}")
        if incomplete:
            inf.complete = False

    live = work.live = [w for w in writes if w.status != FAIL]  # may have taken effect
    failed = work.failed = [w for w in writes if w.status == FAIL]

    # Recorded versions: duplicates, and the writer of each.
    claims: dict[Any, list[_Write]] = {}
    for w in live:
        if w.version is not MISSING:
            claims.setdefault(w.version, []).append(w)
    writer = work.writer
    spoilt: set[Any] = set()
    for v, ws in claims.items():
        oks = [w for w in ws if w.status == OK]
        if len(oks) > 1:
            tids = tuple(sorted({w.tid for w in oks}))
            findings.append(Finding("cyclic-versions", tids, item,
                                    {"item": label, "version": v, "duplicate": True}))
            note(f"version {_show_version(v)} is claimed by several committed transactions; "
                 "their writes of it give no ww or rw edges")
            spoilt.add(v)
            for w in ws:
                w.version = MISSING
                w.vid = ("T", w.tid)
        elif len(ws) > 1:
            keep = oks[0] if oks else None
            note(f"version {_show_version(v)} is claimed by "
                 f"{', '.join(name(txns[w.tid]) for w in ws)}, of which "
                 f"{'one committed' if keep else 'none completed'}; the indeterminate "
                 "claims are ignored", incomplete=False)
            for w in ws:
                if w is not keep:
                    w.version = MISSING
                    w.vid = ("T", w.tid)
            if keep is None:
                spoilt.add(v)
            else:
                writer[v] = keep
        else:
            writer[v] = ws[0]
    try:
        sorted([*writer, *(r.version for r in reads
                           if r.version is not MISSING and r.version is not None)])
    except TypeError:
        work.ordered = False
        note("its recorded versions cannot be compared with each other (ints and lists "
             "mixed); they identify writes but give no order")

    values_known = all(not _unshown(w.value) for w in live)
    by_value: dict[Any, list[_Write]] = {}
    for w in live:
        if not _unshown(w.value):
            by_value.setdefault(w.value, []).append(w)
    deleted = ABSENT in by_value

    # Each read: by its recorded version, else by its value.
    unknown: dict[Any, list[_Read]] = {}
    garbage: list[tuple[_Read, Any, bool]] = []
    pending_old: list[_Read] = []
    for r in reads:
        if r.version is not MISSING:
            v = r.version
            if v is None:
                r.vid, r.resolved = None, True
            elif v in spoilt:
                note(f"{name(txns[r.tid])} read version {_show_version(v)}, which several "
                     "transactions claim; the read gives no edges")
            elif v in writer:
                r.vid, r.resolved, r.position = ("v", v), True, v
            else:
                unknown.setdefault(v, []).append(r)
            continue
        if r.value is UNKNOWN:
            if r.what == "check":
                work.unrecorded.append(r)  # its version is chosen once the order is known
            else:
                note(f"{name(txns[r.tid])} read it without a recorded version or a full "
                     "item (projection); the read gives no edges")
            continue
        if r.what == "old" and all(w.version is not MISSING for w in live
                                   if w.status == OK):
            pending_old.append(r)  # decided once indeterminate writes have versions
            continue
        if r.value is ABSENT and not deleted:
            r.vid, r.resolved = None, True
            continue
        if r.value is ABSENT:
            why = "it is deleted in the history, so its absence names no one version"
        elif not values_known:
            why = "some write of it has a value the history does not show"
        else:
            cands = [w for w in by_value.get(r.value, []) if w.tid != r.tid]
            if len(cands) == 1:
                w = cands[0]
                r.resolved = True
                if w.version is not MISSING:
                    r.vid, r.position = ("v", w.version), w.version
                else:
                    r.vid = _value_vid(w, by_value)
                continue
            if not cands:
                garbage.append((r, r.value, False))
                continue
            why = (f"{len(cands)} writes of it wrote that value "
                   f"({', '.join(name(txns[w.tid]) for w in cands)})")
        what = "returned the old item" if r.what == "old" else "read it"
        # An old item returned by a write only confirms what the write read atomically.
        note(f"{name(txns[r.tid])} {what} without a recorded version and the value cannot "
             f"tell which write it saw: {why}; no edges", incomplete=r.what != "old")

    # Versions read that no write is known to have made: an unversioned write may have.
    if unknown:
        spare = [w for w in live if w.version is MISSING and w.vid is None]
        cands_of: dict[Any, list[_Write]] = {}
        for v, rs in unknown.items():
            vals = {r.value for r in rs if r.value is not UNKNOWN}
            if len(vals) > 1:
                cands_of[v] = []
                continue
            seen_value = next(iter(vals)) if vals else UNKNOWN
            readers = {r.tid for r in rs}
            # A write that may have made the value read (whenever it was invoked: a
            # model without real time lets a read see a write invoked after it).
            cands_of[v] = [w for w in spare
                           if w.tid not in readers and _fits(w.value, seen_value)]
        _most_plausible_first(cands_of, unknown, work, txns)
        wanted: dict[int, int] = {}
        for cs in cands_of.values():
            for w in cs:
                wanted[id(w)] = wanted.get(id(w), 0) + 1
        for v in sorted(unknown, key=_show_version):
            rs = unknown[v]
            cs = cands_of[v]
            vals = {r.value for r in rs if r.value is not UNKNOWN}
            who = ", ".join(name(txns[r.tid]) for r in rs)
            if len(cs) > 1 or (cs and wanted[id(cs[0])] > 1):
                # Several writes may have made it, or one write several versions: an
                # open choice, decided by ``choice`` (judging tries each). The last
                # option: none of them (the reads are then unexplained).
                inf.choices.append(((item, v), len(cs) + 1))
                if _CORE in choice:
                    for r in rs:
                        r.position = v  # its place in the order is known, its writer not
                    continue
                picked = choice.get((item, v), 0)
                if picked < len(cs):
                    w = cs[picked]
                    if w.version is not MISSING:
                        inf.clash = True  # picked for another version already
                    w.version = v
                    writer[v] = w
                    for r in rs:
                        r.vid, r.resolved, r.position = ("v", v), True, v
                    continue
                cs = []
            if len(cs) == 1 and wanted[id(cs[0])] == 1:
                w = cs[0]
                if w.version is not MISSING:
                    inf.clash = True  # picked for another version already
                w.version = v
                writer[v] = w
                for r in rs:
                    r.vid, r.resolved, r.position = ("v", v), True, v
                continue
            for r in rs:
                r.position = v  # its place in the order is known, its writer not
            if len(vals) > 1:
                # One version holds one item: a read of it is unexplained.
                findings.append(Finding(GARBAGE_READ, (rs[-1].tid,), item, {
                    "item": label, "version": v, "read": _thaw_value(rs[-1].value)}))
                note(f"version {_show_version(v)} was read with different items (by {who}); "
                     "its reads give no wr edges")
            elif cs:
                note(f"version {_show_version(v)} (read by {who}) may have been written by "
                     f"any of {', '.join(name(txns[w.tid]) for w in cs)}; its reads give no "
                     "wr edges")
            else:
                garbage.append((rs[0], next(iter(vals)) if vals else UNKNOWN, True))

    # Old items returned: among the recorded versions, once they are known; an
    # indeterminate write of no known version that may have made it would need a place
    # of its own, so then the read is only a note.
    for r in pending_old:
        if any(w.status == INFO and w.version is MISSING and w.tid != r.tid
               and _fits(w.value, r.value) for w in live):
            note(f"{name(txns[r.tid])} returned the old item without a recorded version, "
                 "and an indeterminate write may have made it; no edges", incomplete=False)
        else:
            work.unrecorded.append(r)

    # Reads nothing in the history explains: aborted reads, garbage reads, or notes.
    for r, value, recorded in garbage:
        culprits = [w for w in failed if _fits(w.value, value) and w.tid != r.tid]
        # A write of unknown value may have made a version known only by its value.
        possible = [] if recorded else [w for w in live
                                         if _unshown(w.value) and w.tid != r.tid]
        if culprits and not possible and (recorded or value is not ABSENT):
            findings.append(Finding("G1a", (r.tid, culprits[0].tid), item, {
                "item": label, "version": None if r.version is MISSING else r.version,
                "read": _thaw_value(value)}))
            inf.complete = False
            for other in reads:
                if other.version is not MISSING and other.version == r.version:
                    other.position = MISSING  # an aborted version has no place
        elif recorded:
            # A recorded version no write of the history can have made: no
            # interpretation explains the read.
            findings.append(Finding(GARBAGE_READ, (r.tid,), item, {
                "item": label, "version": r.version, "read": _thaw_value(value)}))
            inf.complete = False
            for other in reads:
                if other.version is not MISSING and other.version == r.version:
                    other.position = MISSING
        elif not culprits and not possible and not any(
                w.tid == r.tid and _fits(w.value, value) for w in writes):
            # Every write's item is shown and none (committed, indeterminate or failed,
            # the reader's own aside) holds this one: no interpretation explains it.
            findings.append(Finding(GARBAGE_READ, (r.tid,), item, {
                "item": label, "version": None, "read": _thaw_value(value),
                "unrecorded": True}))
            inf.complete = False
        else:
            shown = ("a version" if r.version is MISSING
                     else f"version {_show_version(r.version)}")
            note(f"{name(txns[r.tid])} read {shown} holding {_show_value(value)}, which no "
                 "write in the history is known to have produced; no edges")

    for w in writes:
        if w.vid is None:
            w.vid = ("v", w.version) if w.version is not MISSING else _value_vid(w, by_value)


def _members(works: Iterable[_Work], inf: ItemInference) -> None:
    """Indeterminate transactions whose writes another transaction read committed."""
    member = inf.graph.member
    for work in works:
        observed: dict[Vid, set[int]] = {}
        for r in work.reads:
            if r.resolved and r.vid is not None:
                observed.setdefault(r.vid, set()).add(r.tid)
        for w in work.live:
            if w.status == INFO and observed.get(w.vid, set()) - {w.tid}:
                member[w.tid] = True


def _edges(work: _Work, inf: ItemInference) -> None:
    """The item's known version order and its ww, wr and rw edges; cycles in the
    known order, lost updates and future reads, and reads whose data contradicts the
    versions."""
    item, label, writes, reads, live = work.item, work.label, work.writes, work.reads, \
        work.live
    txns = inf.txns
    member = inf.graph.member
    add = inf.graph.add
    findings = inf.findings

    def note(text: str) -> None:
        inf.notes.append(f"{label}: {text}")
        inf.complete = False

    _place_unversioned(work, inf)
    made: dict[Vid, int] = {}
    for w in live:
        if member[w.tid]:
            made[w.vid] = w.tid
            if w.version is MISSING:
                inf.complete = False
    writer = work.writer
    chain = sorted(v for v in writer if member[writer[v].tid]) if work.ordered else []
    in_chain = {("v", v) for v in chain}
    _choose_unrecorded(work, inf, chain)

    # Pairs (earlier, later) beyond the recorded order: every version follows the
    # initial state, and a transaction's write follows the version it read.
    pairs: dict[tuple[Vid, Vid], int] = {}
    for w in live:
        if member[w.tid] and w.vid not in in_chain:
            pairs.setdefault((None, w.vid), w.tid)
    mine = {w.tid: w for w in writes}
    lost: dict[Vid, list[int]] = {}
    for r in reads:
        own = mine.get(r.tid)
        if not r.resolved or own is None:
            continue
        if r.vid == own.vid and r.vid is not None:
            findings.append(Finding("future-read", (r.tid,), item, {
                "item": label, "version": _vid_json(r.vid)}))
            continue
        lost.setdefault(r.vid, []).append(r.tid)
        if own.vid in in_chain and (r.vid is None or r.vid in in_chain):
            continue  # the recorded order already says it
        pairs.setdefault((r.vid, own.vid), r.tid)
    has_pred = {b for a, b in pairs if a is not None}
    pairs = {(a, b): t for (a, b), t in pairs.items() if a is not None or b not in has_pred}

    cyclic = False
    later = [(a, b) for a, b in pairs if a is not None]
    if later:
        vg: nx.DiGraph[Any] = nx.DiGraph()
        vg.add_edges_from(later)
        vg.add_edges_from((("v", a), ("v", b)) for a, b in pairwise(chain))
        for comp in nx.strongly_connected_components(vg):
            if len(comp) < 2:
                continue
            cyclic = True
            cycle = _vid_cycle(vg, comp)
            by: list[int | None] = []
            for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
                by.append(pairs.get((a, b)))
            findings.append(Finding(
                "cyclic-versions", tuple(t for t in by if t is not None), item,
                {"item": label, "versions": [_vid_json(v) for v in cycle],
                 "by": [None if t is None else txns[t].op for t in by]}))
    if cyclic:
        note("its version order has a cycle; it gives no ww or rw edges")

    for r in reads:
        if r.resolved and r.vid is not None:
            wt = made.get(r.vid)
            if wt is not None and wt != r.tid:
                add(wt, r.tid, WR, item, r.vid, r.vid)
    if not cyclic:
        for a, b in pairwise(chain):
            add(writer[a].tid, writer[b].tid, WW, item, ("v", a), ("v", b))
        if chain:
            for r in reads:
                if r.resolved and r.vid is None:
                    p: Any = None
                elif r.position is not MISSING:
                    p = r.position
                else:
                    continue
                nxt = _next_after(chain, p)
                if nxt is not None:
                    add(r.tid, writer[nxt].tid, RW, item, None if p is None else ("v", p),
                        ("v", nxt))
        readers: dict[Vid, list[int]] = {}
        for r in reads:
            if r.resolved:
                readers.setdefault(r.vid, []).append(r.tid)
        for a, b in pairs:
            wb = made[b]
            if a is not None and a in made:
                add(made[a], wb, WW, item, a, b)
            for rt in readers.get(a, ()):
                add(rt, wb, RW, item, a, b)

    for v, tids in lost.items():
        if len(tids) > 1 and all(txns[t].status == OK for t in tids):
            findings.append(Finding("lost-update", tuple(tids), item, {
                "item": label, "version": _vid_json(v)}))

    for r in reads:
        if not r.resolved or r.value is UNKNOWN:
            continue
        expected = ABSENT if r.vid is None else next(
            (w.value for w in live if w.vid == r.vid), UNKNOWN)
        if not _fits(expected, r.value):
            note(f"{name(txns[r.tid])} read {_describe_vid(r.vid, txns)} holding "
                 f"{_show_value(r.value)}, but that version holds {_show_value(expected)}")
            if r.version is not MISSING:  # the recorded version names its writer
                findings.append(Finding(GARBAGE_READ, (r.tid,), item, {
                    "item": label, "version": _vid_json(r.vid),
                    "read": _thaw_value(r.value)}))
    seen: dict[Vid, list[_Read]] = {}
    for r in reads:
        if r.resolved and r.value is not UNKNOWN and r.version is not MISSING:
            seen.setdefault(r.vid, []).append(r)
    for vid, rs in seen.items():
        odd = [r for r in rs if r.value != rs[0].value]
        shown = ABSENT if vid is None else next(
            (w.value for w in live if w.vid == vid), UNKNOWN)
        if odd and _unshown(shown):  # one version holds one item, whoever wrote it
            findings.append(Finding(GARBAGE_READ, (odd[0].tid,), item, {
                "item": label, "version": _vid_json(vid), "read": _thaw_value(odd[0].value)}))
            note(f"{_describe_vid(vid, txns)} was read holding {_show_value(rs[0].value)} by "
                 f"{name(txns[rs[0].tid])} and {_show_value(odd[0].value)} by "
                 f"{name(txns[odd[0].tid])}")

    if work.ordered and all(w.version is not MISSING for w in live if member[w.tid]):
        inf.versions[item] = VersionOrder(item, tuple(chain), total=True)
    else:
        inf.versions[item] = VersionOrder(
            item, tuple(_vid_json(b) for b in made), total=False,
            known=tuple((_vid_json(a), _vid_json(b)) for a, b in pairs))


def _most_plausible_first(cands_of: Mapping[Any, list[_Write]],
                          unknown: Mapping[Any, list[_Read]], work: _Work,
                          txns: Sequence[Txn]) -> None:
    """Order each version's candidate writers, the first tried first: those invoked
    before the version was seen (by a read of it, or by a write of a later recorded
    version completing), latest invoked first; then the others."""
    for v, cs in cands_of.items():
        ends = [r.ret for r in unknown[v] if r.ret is not None]
        if work.ordered:
            try:
                later = [u for u in work.writer if u > v]
            except TypeError:
                later = []
            ends += [ret for u in later if (ret := txns[work.writer[u].tid].ret) is not None]
        bound = min(ends, default=None)
        cs.sort(key=lambda w: (bound is not None and w.call > bound, -w.call))


def _place_unversioned(work: _Work, inf: ItemInference) -> None:
    """Give each committed write without a recorded version (an indeterminate write seen
    to commit through another item) a place in the item's recorded integer versions: an
    open choice of slot and rank among such writes, decided by ``inf.choice``."""
    member = inf.graph.member
    if _CORE in inf.choice:
        return
    free = [w for w in work.live if member[w.tid] and w.version is MISSING]
    recorded = [v for v, w in work.writer.items() if member[w.tid]]
    if not free or not work.ordered or any(w.status != INFO for w in free) \
            or any(r.version is MISSING for r in work.reads) \
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in recorded):
        return  # nothing to order, or versions known by value (left as they are)
    chain = sorted(recorded)
    taken: set[Fraction] = set()
    for w in free:
        key = (work.item, ("unversioned", w.tid))
        if (len(chain) + 1) * len(free) > 1:
            inf.choices.append((key, (len(chain) + 1) * len(free)))
        slot, rank = divmod(inf.choice.get(key, 0), len(free))
        base = chain[slot - 1] if slot else (chain[0] - 1 if chain else 0)
        version = Fraction(base) + Fraction(rank + 1, len(free) + 1)
        if version in taken:
            inf.clash = True
        taken.add(version)
        w.version, w.vid = version, ("v", version)
        work.writer[version] = w


def _choose_unrecorded(work: _Work, inf: ItemInference, chain: Sequence[Any]) -> None:
    """The version each read without a recorded version read (a condition check's,
    or the old item a write returned): an open choice (``inf.choice``) among the
    initial state, the item's committed versions and, when a write of it did not
    commit, an aborted version (G1a), each holding an item that fits the one read.
    The most plausible first: for an old item, the version right before the write's
    own; else the latest version written by a transaction invoked before the read
    completed. None fits: a garbage read. Left unresolved, with a note, when the
    item's order is not known."""
    member = inf.graph.member
    txns = inf.txns
    exact = work.ordered and all(w.version is not MISSING for w in work.live
                                 if member[w.tid])
    for r in work.unrecorded:
        if _CORE in inf.choice:
            continue
        if not exact:
            what = "returned the old item" if r.what == "old" else "checked a condition"
            inf.notes.append(f"{work.label}: {name(txns[r.tid])} {what} on it without "
                             "recording the version it saw; the read gives no edges")
            inf.complete = r.what == "old" and inf.complete
            continue
        done = txns[r.tid].ret
        mine = [v for v in chain if work.writer[v].tid != r.tid
                and _fits(work.writer[v].value, r.value)]
        own = next((w.version for w in work.writes if w.tid == r.tid), MISSING)
        likely = [v for v in reversed(mine) if (own is not MISSING and v < own)
                  or (own is MISSING and (done is None
                                          or txns[work.writer[v].tid].call < done))]
        options: list[Any] = [*likely[:1], *([None] if _fits(ABSENT, r.value) else []),
                              *(v for v in reversed(mine) if v not in likely[:1])]
        aborted = [w for w in work.writes if not member[w.tid] and w.tid != r.tid
                   and _fits(w.value, r.value)]
        if aborted:
            options.append(MISSING)
        if not options:
            inf.findings.append(Finding(GARBAGE_READ, (r.tid,), work.item, {
                "item": work.label, "version": None, "read": _thaw_value(r.value),
                "unrecorded": True}))
            continue
        key = (work.item, (r.what, r.tid))
        if len(options) > 1:
            inf.choices.append((key, len(options)))
        picked = options[inf.choice.get(key, 0)]
        if picked is MISSING:
            inf.findings.append(Finding("G1a", (r.tid, aborted[0].tid), work.item, {
                "item": work.label, "version": None, "read": _thaw_value(r.value),
                "check": r.what == "check"}))
        elif picked is None:
            r.vid, r.resolved = None, True
        else:
            r.vid, r.resolved, r.position = ("v", picked), True, picked


def _unshown(value: Any) -> bool:
    """Whether the history does not show the item (UNKNOWN or PRESENT)."""
    return value is UNKNOWN or value is PRESENT


def _fits(a: Any, b: Any) -> bool:
    """Whether two item values may be one (either may be unknown; an item not shown
    is not an absence)."""
    if a is UNKNOWN or b is UNKNOWN:
        return True
    if a is PRESENT or b is PRESENT:
        return a is not ABSENT and b is not ABSENT
    return bool(a == b)


def _value_vid(w: _Write, by_value: Mapping[Any, list[_Write]]) -> Vid:
    if not _unshown(w.value) and w.value is not ABSENT and len(by_value.get(w.value, [])) == 1:
        return ("=", w.value)
    return ("T", w.tid)


def _next_after(chain: Sequence[Any], p: Any) -> Any:
    if p is None:
        return chain[0]
    for v in chain:
        if v > p:
            return v
    return None


def _vid_cycle(vg: nx.DiGraph[Any], comp: set[Any]) -> list[Any]:
    sub = vg.subgraph(comp)
    best: list[Any] | None = None
    for start in sorted(comp, key=repr):
        for pred in sub.predecessors(start):
            path: list[Any] = nx.shortest_path(sub, start, pred)
            if best is None or len(path) < len(best):
                best = path
    assert best is not None
    return best


# ---------------------------------------------------------------------------- showing


def _thaw_value(value: Any) -> Any:
    if value is ABSENT or _unshown(value):
        return None
    return {n: thaw(v) for n, v in value}


def _show_native(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Decimal | int):
        return number_to_wire(value)
    if isinstance(value, list):
        return "[" + ", ".join(_show_native(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_show_native(v)}" for k, v in sorted(value.items())) \
            + "}"
    if isinstance(value, frozenset | set):
        return "<<" + ", ".join(sorted(_show_native(v) for v in value)) + ">>"
    return repr(value)


def _show_value(value: Any) -> str:
    if value is ABSENT:
        return "nothing (absent)"
    if value is UNKNOWN:
        return "an unknown value"
    if value is PRESENT:
        return "an item the history does not show"
    return _show_native({n: thaw(v) for n, v in value})


def _vid_json(vid: Vid) -> Any:
    """A version id as JSON-able data: the recorded version, ``None`` for the initial
    state, ``{"value": item}`` or ``{"written_by": txn index}``."""
    if vid is None:
        return None
    tag, payload = vid
    if tag == "v":
        return list(payload) if isinstance(payload, tuple) else payload
    if tag == "=":
        return {"value": _thaw_value(payload)}
    return {"written_by": payload}


def _describe_vid(vid: Vid, txns: Sequence[Txn]) -> str:
    if vid is None:
        return "the initial (absent) state"
    tag, payload = vid
    if tag == "v":
        return f"version {_show_version(payload)}"
    if tag == "=":
        return f"the version {_show_value(payload)}"
    return f"the version {name(txns[payload])} wrote"


def explain_item_step(step: Step, txns: Sequence[Txn], labels: Mapping[ItemId, str]) -> str:
    """Why ``step.src`` precedes ``step.dst`` in an item history, naming the item and
    the versions: one clause ending with the edge kind, e.g. ``T3 < T5 because T5 read
    version 4 of items/pk=a that T3 wrote (wr)``."""
    if step.kind in (PROCESS, REALTIME):
        return explain_step(step, txns, RW_REGISTER)
    a, b = name(txns[step.src]), name(txns[step.dst])
    item = labels.get(cast(Any, step.key), repr(step.key))
    v1, v2 = _describe_vid(step.value, txns), _describe_vid(step.value2, txns)
    if step.kind == WW:
        why = (f"{a} wrote {v1} of {item} and {b} wrote {v2}, which comes later in the "
               "item's version order")
    elif step.kind == WR:
        why = f"{b} read {v2} of {item} that {a} wrote"
    elif step.value is None:
        why = (f"{a} read {item} in its initial (absent) state and {b} wrote {v2}, a later "
               "version")
    else:
        why = (f"{a} read {v1} of {item} and {b} wrote {v2}, which comes later in the "
               "item's version order")
    return f"{a} < {b} because {why} ({KIND_NAMES[step.kind]})"


def explain_item_cycle(cycle: CycleAnomaly, txns: Sequence[Txn],
                       labels: Mapping[ItemId, str]) -> str:
    """The explanation of a dependency cycle of an item history: every edge, then its
    class (as :func:`~replicheck.histories.checkers.elle.explain.explain_cycle`)."""
    clauses = [explain_item_step(s, txns, labels) for s in cycle.steps]
    suffix = next((x for x in _NEEDS if cycle.type.endswith(x)), "")
    base = cycle.type.removesuffix(suffix)
    rw = sum(1 for s in cycle.steps if s.kind == RW)
    desc, label = _CYCLE_TEXT[base]
    return (f"{'; '.join(clauses)}. Together, {desc.format(rw=rw)}{_NEEDS.get(suffix, '')} "
            f"({cycle.type}, {label}).")


def explain_item_finding(finding: Finding, txns: Sequence[Txn]) -> str:
    """The explanation of an anomaly of an item history found by inference."""
    d = finding.details
    ts = [name(txns[i]) for i in finding.txns]
    item = d.get("item", repr(finding.key))
    t = finding.type
    if t == "G1a" and d.get("check"):
        return (f"{ts[0]} checked a condition on {item} without recording the version it "
                f"saw; the versions it may have seen are those of committed writes, which "
                f"fail here, or the one {ts[1]} made, which never committed (G1a, aborted "
                "read).")
    if t == "G1a":
        which = "" if d["version"] is None else f" (version {_show_version(d['version'])})"
        return (f"{ts[0]} read {item} = {_show_native(d['read'])}{which}, which only {ts[1]} "
                "wrote, and it failed: it read a write that never committed (G1a, aborted "
                "read).")
    if t == "cyclic-versions" and d.get("duplicate"):
        who = ", ".join(ts[:-1]) + " and " + ts[-1]
        return (f"{who} all committed and claim to have created version "
                f"{_show_version(d['version'])} of {item}: no order of the item's writes "
                "gives each its own place, each is at or before the other (cyclic "
                "versions).")
    if t == "cyclic-versions":
        vs = d["versions"]
        parts = []
        for a, b, by in zip(vs, [*vs[1:], vs[0]], d["by"], strict=True):
            because = f" ({'T' + str(by) if by is not None else 'recorded'})"
            parts.append(f"{_show_json_version(a)} < {_show_json_version(b)}{because}")
        return (f"the versions of {item} must be ordered {'; '.join(parts)}: a cycle in the "
                "version order (cyclic versions).")
    if t == "lost-update":
        who = ", ".join(ts[:-1]) + " and " + ts[-1]
        every = "both" if len(ts) == 2 else "all"
        return (f"{who} {every} read {_show_json_version(d['version'])} of {item} and then "
                f"wrote it, and {every} committed: all but one of their updates was lost "
                "(lost update).")
    if t == "garbage-read" and d.get("unrecorded"):
        return (f"{ts[0]} read {item} holding {_show_native(d['read'])} without a recorded "
                "version, and no version of the history holds that item (garbage read).")
    if t == "garbage-read":
        which = ("the initial (absent) state" if d["version"] is None
                 else _show_json_version(d["version"]))
        return (f"{ts[0]} read {which} of {item} holding {_show_native(d['read'])}, which no "
                "write of the history can have made: no order of the writes explains the "
                "read (garbage read).")
    if t == "future-read":
        return (f"{ts[0]} read {_show_json_version(d['version'])} of {item}, the version it "
                "writes itself: it read its own future write (future read).")
    raise ValueError(f"no explanation for anomaly type {t!r}")  # pragma: no cover


def _show_json_version(v: Any) -> str:
    if v is None:
        return "the initial (absent) state"
    if isinstance(v, dict):
        if "value" in v:
            return "the version " + _show_native(v["value"])
        return f"the version T{v['written_by']} wrote"
    return f"version {_show_version(tuple(v) if isinstance(v, list) else v)}"


# ---------------------------------------------------------------------------- judging


def analyze_items(history: History, *, deadline: float | None = None,
                  choice: Mapping[Any, int] | None = None) -> ItemAnalysis:
    """Infer (with ``choice``, as :func:`infer_items`) and search an item history. Past
    ``deadline`` (a ``time.monotonic`` instant) it stops and returns what it found,
    ``timed_out`` set. Raises :class:`HistoryError` for a malformed history."""
    inference = infer_items(history, deadline=None, choice=choice)
    analysis = ItemAnalysis(inference)
    graph = inference.graph
    try:
        check_deadline(deadline)
        analysis.components, acyclic = search_cycles(graph, deadline, analysis.stats,
                                                     analysis.cycles)
        if acyclic is not None:
            analysis.order = acyclic
    except SearchTimeout:
        analysis.timed_out = True
    return analysis


def check_item_transactions(history: History, *,
                            consistency: Sequence[str] = DEFAULT_CONSISTENCY,
                            timeout: float | None = None) -> Verdict:
    """Judge an item history (DynamoDB-shaped requests, module docstring) as
    transactions against the consistency models named in ``consistency`` (lattice
    names), with model ``"item"``.

    Valid (True) when no anomaly found is forbidden by those models and, for serial
    models, a serial order is shown (the witness, operation ids); False when one is
    forbidden (every anomaly found is reported, forbidden or not, each explained with
    the items and versions involved); ``"unknown"`` when ``timeout`` seconds (None or
    0: no limit) ran out first, or when a serial model was asked for and no serial
    order could be shown. Raises :class:`HistoryError` for a malformed history and
    ``ValueError``/``TypeError`` for unknown model names."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _judge(history, consistency, timeout)
    finally:
        if paused:
            gc.enable()


TRANSACTIONAL: Final = frozenset({
    "read-uncommitted", "read-committed", "read-atomic", "repeatable-read",
    "snapshot-isolation", "serializable", "strong-session-serializable",
    "strict-serializable"})
"""The models this checker decides (docs: txn-models)."""

_CORE: Final = ("core",)
"""In a ``choice``: leave every open choice undecided (the reads it concerns give only
the edges every way gives): the anomalies found then hold in every way."""

GARBAGE_READ: Final = "garbage-read"
"""A read no interpretation of the history explains (a recorded version no write can
have made, or holding another item than its writer wrote): every model forbids it."""


def _judge(history: History, consistency: Sequence[str], timeout: float | None) -> Verdict:
    """Judge every way the history leaves open which indeterminate write made a
    version read (``ItemInference.choices``): valid when one way is, False when every
    way is invalid; a model is ruled out only when every way rules it out, and listed as
    still possible only when a way proves it."""
    started = time.perf_counter()
    models = lattice.check_models(consistency)
    deadline = time.monotonic() + timeout if timeout else None
    first = analyze_items(history, deadline=deadline)
    if first.inference.choices:
        # Fewer edges and findings than any way of fixing the open versions: what it
        # forbids, every way forbids.
        core = _judge_one(history, consistency, models, analyze_items(
            history, deadline=deadline, choice={_CORE: 1}), deadline, timeout, started)
        if core.valid is False:
            return replace(core, still_possible=frozenset(), notes=(
                *core.notes, "the history leaves versions open; these anomalies hold "
                "whichever way they are fixed"), stats=replace(
                    core.stats, seconds=time.perf_counter() - started))
    verdicts: list[Verdict] = []
    timed_out = cut_short = False
    ways = 0
    stack: list[dict[Any, int]] = [{}]
    while stack:  # depth first over the open choices, each fixed in turn
        choice = stack.pop()
        try:
            if choice:
                check_deadline(deadline)
        except SearchTimeout:
            timed_out = True
            break
        analysis = analyze_items(history, deadline=deadline, choice=choice) if choice \
            else first
        inf = analysis.inference
        open_choice = next(((key, n) for key, n in inf.choices if key not in choice), None)
        if open_choice is not None:
            key, n = open_choice
            stack.extend({**choice, key: i} for i in reversed(range(n)))
            continue
        ways += 1
        if inf.clash:
            continue  # one write cannot make two versions
        verdicts.append(_judge_one(history, consistency, models, analysis, deadline, timeout,
                                   started))
        if verdicts[-1].valid is True and stack:
            cut_short = True  # the models asked for hold; the other ways are not needed
            break
    if not verdicts:  # the time limit ran out at once
        verdicts.append(_judge_one(history, consistency, models, first, deadline,
                                   timeout, started))
    chosen = next((v for v in verdicts if v.valid is True), None)
    if chosen is None:
        chosen = next((v for v in verdicts if v.valid == "unknown"), verdicts[0])
    # A model is ruled out only when every way was judged and rules it out.
    ruled = frozenset() if cut_short or timed_out else frozenset.intersection(
        *(v.ruled_out for v in verdicts))
    proved = frozenset().union(*(v.still_possible for v in verdicts if v.valid is True))
    notes = list(chosen.notes)
    if ways > 1 or cut_short:
        notes.append(f"the history leaves versions open; {ways} way(s) of fixing them were "
                     "judged" + ("" if cut_short or timed_out
                                 else ", and the verdict holds over all of them"))
    valid = chosen.valid
    if timed_out and valid is not True:
        valid = "unknown"
        notes.append("the time limit ran out before every way was judged")
    return replace(chosen, valid=valid, ruled_out=ruled, still_possible=proved - ruled,
                   notes=tuple(notes), stats=replace(
                       chosen.stats, seconds=time.perf_counter() - started))


def _judge_one(history: History, consistency: Sequence[str], models: frozenset[str],
               analysis: ItemAnalysis, deadline: float | None, timeout: float | None,
               started: float) -> Verdict:
    forbidden: frozenset[str] = frozenset().union(
        *(lattice.forbidden_by(m) for m in models), {GARBAGE_READ})
    serial = any(lattice.implies(m, "serializable") for m in models)
    inf = analysis.inference
    txns = inf.txns
    notes = list(inf.notes)

    def render(a: CycleAnomaly | Finding) -> tuple[Anomaly, dict[str, Any]]:
        return _cycle_anomaly(a, inf) if isinstance(a, CycleAnomaly) else _finding_anomaly(a, inf)

    listed, types, bad, valid = list_anomalies(
        [*analysis.cycles, *inf.findings], txns, render, forbidden,
        timed_out=analysis.timed_out, timeout=timeout, notes=notes)

    witness: tuple[int, ...] | None = None
    if valid is True:
        order = _serial_order(analysis, forbidden, deadline)
        problem: str | None
        if order is None:
            problem = ("the dependency graph has cycles the models asked for allow, so "
                       "there is no serial order")
        else:
            problem = _replay(inf, order)
            if problem is not None and not inf.complete:
                # Real-time order is one more guess at the versions the history leaves
                # open; any topological order is a serial order the models allow.
                alternative = _serial_order(analysis, frozenset({"G0-realtime"}), deadline)
                if alternative is not None and alternative != order \
                        and _replay(inf, alternative) is None:
                    order, problem = alternative, None
        if problem is None and order is not None:
            witness = tuple(txns[i].op for i in order)
            if inf.complete:
                notes.append("witness: a topological order of the dependency graph; every "
                             "read sees the version it recorded")
            else:
                notes.append("witness: a topological order of the dependency graph that "
                             "replays through the item model")
        else:
            notes.append(f"no witness: {problem}")
            if serial:
                valid = "unknown"
                notes.append("the history does not show every version order and read this "
                             "checker needs (see the notes above), so an acyclic graph does "
                             "not prove a serial order by itself")
    if valid is not False and not inf.complete and not serial:
        notes.append("anomalies were looked for in the part of the version orders the "
                     "history shows")

    counterexample = None
    if bad:
        cycles_first = sorted(bad, key=lambda ac: (ac[1].get("cycle") is None,
                                                  len(ac[0].ops)))
        counterexample = cycles_first[0][1]

    return Verdict(
        valid=valid,
        model=ITEM_MODEL,
        consistency=tuple(consistency),
        anomalies=tuple(a for a, _ in listed),
        ruled_out=_ruled_out(types),
        still_possible=_proved(models, valid) - _ruled_out(types),
        witness=witness,
        counterexample=counterexample,
        stats=Stats(operations=len(history.operations),
                    seconds=time.perf_counter() - started,
                    states=analysis.stats.states),
        notes=tuple(notes),
    )


def _ruled_out(types: Iterable[str]) -> frozenset[str]:
    """The transactional models the anomalies found rule out: those the lattice says,
    and every one for a garbage read (no interpretation explains it)."""
    found = set(types)
    if GARBAGE_READ in found:
        return TRANSACTIONAL
    return lattice.ruled_out(found) & TRANSACTIONAL


def _proved(models: frozenset[str], valid: Any) -> frozenset[str]:
    """The transactional models a verdict proves: those asked for and those they imply,
    when it is valid; none otherwise."""
    if valid is not True:
        return frozenset()
    return frozenset(n for m in models for n in {m, *lattice.weaker(m)}) & TRANSACTIONAL


def _step_json(step: Step, inf: ItemInference) -> dict[str, Any]:
    txns = inf.txns
    return {"from": txns[step.src].op, "to": txns[step.dst].op,
            "kind": KIND_NAMES[step.kind],
            "item": inf.labels.get(cast(Any, step.key)) if step.kind & DATA else None,
            "from_version": _vid_json(step.value) if step.kind & DATA else step.value,
            "to_version": _vid_json(step.value2) if step.kind & DATA else step.value2}


def _cycle_anomaly(cycle: CycleAnomaly, inf: ItemInference) -> tuple[Anomaly, dict[str, Any]]:
    txns = inf.txns
    ops = tuple(txns[i].op for i in cycle.txns)
    steps = [_step_json(s, inf) for s in cycle.steps]
    data: dict[str, Any] = {"cycle": steps, "scc_size": cycle.scc_size}
    if cycle.type.startswith("G2"):
        data["rw_adjacent"] = cycle.rw_adjacent
    anomaly = Anomaly(cycle.type, ops, explain_item_cycle(cycle, txns, inf.labels), data)
    return anomaly, {"type": cycle.type, "ops": list(ops), "cycle": steps}


def _finding_anomaly(finding: Finding, inf: ItemInference) -> tuple[Anomaly, dict[str, Any]]:
    txns = inf.txns
    ops = tuple(txns[i].op for i in finding.txns)
    data: dict[str, Any] = {k: v for k, v in finding.details.items() if k != "duplicate"}
    if isinstance(data.get("version"), tuple):
        data["version"] = list(data["version"])
    anomaly = Anomaly(finding.type, ops, explain_item_finding(finding, txns), data)
    return anomaly, {"type": finding.type, "ops": list(ops), **data}


def _serial_order(analysis: ItemAnalysis, forbidden: frozenset[str], deadline: float | None
                  ) -> list[int] | None:
    """A topological order of the members over the edge kinds the models need, or None
    when those edges form a cycle. Where the edges leave the order open, transactions
    come in the order they completed (indeterminate ones last), then were invoked: the
    order most likely to replay what the history leaves unrecorded."""
    kinds = DATA
    if any(a.endswith("-process") for a in forbidden):
        kinds |= PROCESS
    if any(a.endswith("-realtime") for a in forbidden):
        kinds |= REALTIME
    graph = analysis.inference.graph
    txns = graph.txns
    n = len(txns)
    succ = graph.adjacency(kinds)
    indegree = [0] * len(succ)
    for nbrs in succ:
        for v in nbrs:
            indegree[v] += 1
    unfinished = max((t.call for t in txns), default=0) + 1

    def key(v: int) -> tuple[int, int, int]:
        if v >= n:
            return (-1, -1, v)  # a real-time barrier: pass through at once
        t = txns[v]
        return (unfinished if t.ret is None else t.ret, t.call, v)

    heap = [key(v) for v in range(len(succ)) if not indegree[v]]
    heapq.heapify(heap)
    order: list[int] = []
    done = 0
    while heap:
        v = heapq.heappop(heap)[2]
        done += 1
        if v < n and graph.member[v]:
            order.append(v)
        for w in succ[v]:
            indegree[w] -= 1
            if not indegree[w]:
                heapq.heappush(heap, key(w))
        if not done & 0xFFFF:
            try:
                check_deadline(deadline)
            except SearchTimeout:
                return None
    return order if done == len(succ) else None


def _replay(inf: ItemInference, order: Sequence[int]) -> str | None:
    """Why ``order`` is no serial order of the history (None when it is one): over
    versions, and through the item model when the history is not complete."""
    problem = _replay_versions(inf, order)
    if problem is None and not inf.complete:
        problem = _replay_items(inf, order)
    return problem


def _replay_versions(inf: ItemInference, order: Iterable[int]) -> str | None:
    """Run ``order`` over versions: every resolved read must see the version it read
    (the last one written before it in the order), or a description of the first that
    does not."""
    current: dict[ItemId, Vid] = {}
    txns = inf.txns
    for i in order:
        for item, vid in inf.reads.get(i, ()):
            if current.get(item) != vid:
                return (f"in the serial order found, {name(txns[i])} would read "
                        f"{_describe_vid(current.get(item), txns)} of {inf.labels[item]}, not "
                        f"{_describe_vid(vid, txns)}")
        for item, vid in inf.writes.get(i, ()):
            current[item] = vid
    return None


def _replay_items(inf: ItemInference, order: Iterable[int]) -> str | None:
    """Run ``order`` through the item model (items absent at first): every transaction
    must apply and answer what it answered; a description of the first that does not,
    or None."""
    if not inf.schemas_declared:
        return ("it cannot be replayed through the item model without the tables' key "
                f'schemas (a "{TABLES}" observation record)')
    try:
        db = empty(*inf.schemas.values())
    except ValidationError as error:  # pragma: no cover - schemas_from_json checks names
        return f"the tables are invalid ({error.message})"
    txns = inf.txns
    for i in order:
        request = inf.requests[i]
        try:
            db, answer = apply(db, request)
        except StoreError as error:
            return (f"in the serial order found, {name(txns[i])} would fail with "
                    f"{error.code}")
        recorded = inf.responses[i]
        if recorded is None:
            continue
        if isinstance(request, Get | TransactGet | Put | Update | Delete) and not (
                _same_item(answer.item, recorded.item)
                and len(answer.items) == len(recorded.items)
                and all(_same_item(a, b) for a, b in zip(answer.items, recorded.items,
                                                         strict=True))):
            return (f"in the serial order found, {name(txns[i])} would answer "
                    f"{_show_response(answer)}, not {_show_response(recorded)}")
    return None


def _same_item(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    try:
        return freeze_item(normalize_item(a, what=None)) == freeze_item(
            normalize_item(b, what=None))
    except (ValidationError, TypeError, ValueError):  # pragma: no cover - decoded values
        return False


def _show_response(response: Response) -> str:
    if response.items:
        return "[" + ", ".join("nothing" if i is None else _show_native(dict(i))
                               for i in response.items) + "]"
    return "nothing" if response.item is None else _show_native(dict(response.item))
