"""Brute-force oracles for item histories (``histories/items.py``), written from the
definitions and independently of ``histories/checkers/`` and ``models/lattice.py``.

:func:`linearizable`
    Jepsen's meaning of the outcomes: ``ok`` took effect, with the response recorded;
    ``fail`` with ``"error": "condition-failed"`` took effect as an observation (the
    item model must give that very failure at its point: nothing applied); any other
    ``fail`` never happened; ``info`` (or no completion) took effect at some point after
    its invocation, or never. Valid iff some order of the operations that took effect,
    consistent with real time (an operation that completed before another was invoked
    comes first), steps the item specification (``models/specs/items.py``) giving every
    recorded outcome. Exhaustive search over those orders (memoized on the set done and
    the state reached, which only merges equal futures).

:func:`serial`
    For histories without recorded versions: whether some serial order of the
    transactions (``ok`` ones, and ``info`` ones or not; ``fail`` ones aborted), with no
    other constraint, in each process's order, or in real-time order, steps the item
    specification giving every ``ok`` response: serializable, strong session
    serializable and strict serializable straight from their definitions.

:func:`transactional`
    The eight transactional models of ``txn-models.md`` on the versions the store
    recorded (``histories/items.py``, "Recorded versions"). A transaction is an ``ok``
    or ``info`` operation (``fail``: aborted, whatever its error). It writes the items
    of its put/update/delete actions and reads what its metadata says it read: a get's
    ``version``, a transact-get's ``reads``, a transact-write's ``reads`` (its condition
    checks; a check not listed there read a version the history does not show). An
    interpretation fixes:

    1. which ``info`` transactions committed;
    2. which version each condition check whose version the transact-write did not
       record read (the initial state, any committed version, or an aborted one: a
       check reads its item, the recording leaves which version open);
    3. which write made each version number that was read but that no ``ok`` write
       recorded: an ``info`` write of that item (committed: the version takes that
       number's place in the item's order; not committed: an aborted version), or a
       ``fail`` write (aborted); one write makes at most one version;
    4. where each committed ``info`` write that made no read version goes in its item's
       version order (anywhere).

    ``ok`` writes take the places their recorded numbers give. A read of ``null`` read
    the initial (absent) state. A read is explained when the version it names exists in
    the interpretation and holds the item it returned (when both are known: an update's
    item is known from ``meta.item``, ``ALL_NEW`` or a transaction's ``writes``, and is
    otherwise some item, never an absence; DynamoDB equality, so ``1`` and ``1.0`` are
    one number). An interpretation with a read it
    does not explain, or two committed writes of one number on one item, is no
    interpretation (so is one where two reads of one version return different items).
    Then Adya's graph over the committed transactions (``ww``: consecutive
    versions; ``wr``: writer to reader; ``rw``: reader of a version (or of the initial
    state) to the writer of the next version; ``process`` and ``realtime`` edges as
    ``txn-models.md`` defines them) and the phenomena: G0, G1a (a committed read of an
    aborted version), G1c, future-read (a read of one's own write, a wr self-loop, so
    also G1c), G-single/G-nonadjacent (a simple cycle, edge kinds chosen per step, with
    rw steps none adjacent), G2 (a cycle with an rw edge), and the same cycles with
    process or realtime edges. A model holds iff some interpretation shows none of the
    phenomena it forbids. A write returning its old item (``ALL_OLD``) read, before
    writing, some version holding that item (any other than its own: the
    interpretation picks it, as for an unrecorded check). (Intermediate reads and
    internal anomalies cannot happen: a request touches an item once, and no recorded
    read names an item its transaction writes; :func:`transactions` refuses a history
    where one does, and old attributes (``UPDATED_OLD``).)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations, pairwise, permutations, product
from typing import Any

import networkx as nx

from replicheck.histories.history import FAIL, INFO, OK, History, Operation
from replicheck.histories.items import failure_of, request_of, response_of
from replicheck.models.items.requests import (
    ConditionCheck,
    Delete,
    Get,
    Put,
    Request,
    TransactGet,
    TransactWrite,
    Update,
)
from replicheck.models.items.values import freeze, freeze_item, normalize, normalize_item
from replicheck.models.specs.base import UNKNOWN, Input
from replicheck.models.specs.items import item_store

EIGHT = ("read-uncommitted", "read-committed", "read-atomic", "repeatable-read",
         "snapshot-isolation", "serializable", "strong-session-serializable",
         "strict-serializable")
"""The transactional models, weakest first."""

__all__ = ["EIGHT", "OutOfScope", "linearizable", "serial", "transactional", "transactions"]


class OutOfScope(ValueError):
    """A history outside what the oracle decides (see the module docstring)."""


# ---------------------------------------------------------------------------- linearizable


def _schemas(history: History) -> Any:
    from replicheck.histories.items import schemas_from_json

    tables = [r.value for r in history.observations if r.f == "tables"]
    return schemas_from_json(tables[-1])


def linearizable(history: History) -> bool:
    """Whether the item history is linearizable (module docstring)."""
    return _some_order(history, before=_real_time, failures_observed=True)


def serial(history: History, order: str, *, failures_observed: bool = False) -> bool:
    """Whether some serial order of the item history's transactions replays through the
    item specification giving every ``ok`` response: ``ok`` ones all in it, ``info``
    ones in it or not, ``fail`` ones never (aborted, whatever the error), except, with
    ``failures_observed``, a ``condition-failed`` one: it is in the order as an
    observation, answered there with that very failure. ``order`` is
    what the serial order respects besides: ``"none"`` (serializable), ``"process"``
    (each process's transactions in their order: strong session serializable) or
    ``"realtime"`` (one that completed before another was invoked comes first: strict
    serializable). From the definitions, for histories without recorded versions."""
    before = {"none": _no_order, "process": _process_order, "realtime": _real_time}[order]
    return _some_order(history, before=before, failures_observed=failures_observed)


def _no_order(a: Operation, b: Operation) -> bool:
    return False


def _process_order(a: Operation, b: Operation) -> bool:
    return a.process == b.process and a.call < b.call


def _real_time(a: Operation, b: Operation) -> bool:
    return a.ret is not None and a.ret < b.call


def _some_order(history: History, *, before: Any, failures_observed: bool) -> bool:
    """Whether some order of the operations that took effect, where ``before(a, b)``
    puts a required ``a`` before ``b``, steps the item specification giving every
    recorded outcome (``failures_observed``: a ``condition-failed`` fail is one)."""
    spec = item_store(*_schemas(history))
    ops: list[tuple[Operation, Input, Any, bool]] = []  # op, input, result, required
    for op in history.operations:
        request = request_of(op)
        if op.status == OK:
            ops.append((op, Input(op.f, None, request), response_of(op, request), True))
        elif op.status == FAIL:
            if failures_observed and op.error == "condition-failed":
                ops.append((op, Input(op.f, None, request), failure_of(op, request), True))
        else:
            ops.append((op, Input(op.f, None, request), UNKNOWN, False))
    n = len(ops)
    first = [[j for j in range(n) if ops[j][3] and before(ops[j][0], ops[i][0])]
             for i in range(n)]
    required = frozenset(i for i in range(n) if ops[i][3])
    seen: set[tuple[frozenset[int], Any]] = set()

    def search(done: frozenset[int], state: Any) -> bool:
        if required <= done:
            return True
        if (done, state) in seen:
            return False
        seen.add((done, state))
        for i in range(n):
            if i in done or any(j not in done for j in first[i]):
                continue
            _, inp, result, _ = ops[i]
            for after in spec.step(state, inp, result):
                if search(done | {i}, after):
                    return True
        return False

    return search(frozenset(), spec.init())


# ---------------------------------------------------------------------------- transactions


ABSENT = ("absent",)
"""The value of an absent item."""
UNSHOWN = ("unshown",)
"""A value the history does not show."""
PRESENT = ("present",)
"""An item the history does not show, but an item: what an update makes."""
OPEN = ("open",)
"""The version of a read the history does not record (a condition check's)."""


@dataclass
class Write:
    """A write of one item by one transaction: the version number recorded (or None)
    and the item written (frozen), ABSENT or UNSHOWN."""

    txn: int
    item: Any
    version: Any
    value: Any


@dataclass
class Read:
    """A read by a committed transaction: the item, the version number it names (None:
    the initial state) and the item it returned (frozen), ABSENT or UNSHOWN."""

    txn: int
    item: Any
    version: Any
    value: Any


@dataclass
class Txn:
    """One operation as a transaction."""

    index: int
    process: Any
    status: str
    call: int
    ret: int | None
    writes: list[Write] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)


def _value(item: Mapping[str, Any] | None) -> Any:
    return ABSENT if item is None else freeze_item(normalize_item(item, what=None))


def _key_of(mapping: Mapping[str, Any]) -> Any:
    return freeze(normalize(mapping["pk"], what=None))


def _meta_key(entry: Mapping[str, Any]) -> Any:
    key = entry["key"]
    if isinstance(key, Mapping):
        return _key_of(key)
    (only,) = key if isinstance(key, list | tuple) else (key,)
    return freeze(normalize(only, what=None))


def _writes(request: Request) -> list[tuple[Any, Any, bool]]:
    """(item, value, is an update) of each write action."""
    actions: Sequence[Any] = request.actions if isinstance(request, TransactWrite) else (
        (request,) if isinstance(request, Put | Update | Delete) else ())
    out = []
    for a in actions:
        if isinstance(a, Put):
            out.append((_key_of(a.item), _value(a.item), False))
        elif isinstance(a, Delete):
            out.append((_key_of(a.key), ABSENT, False))
        elif isinstance(a, Update):
            out.append((_key_of(a.key), PRESENT, True))
        elif not isinstance(a, ConditionCheck):  # pragma: no cover
            raise OutOfScope(f"unknown action {a!r}")
    return out


def _txn(op: Operation) -> Txn:
    request = request_of(op)
    t = Txn(op.id, op.process, op.status, op.call, op.ret if op.status == OK else None)
    meta = op.meta if op.status == OK else {}
    response = response_of(op, request) if op.status == OK else None
    recorded: dict[Any, tuple[Any, Any]] = {}
    if isinstance(request, TransactWrite) and op.status == OK:
        for entry in meta["writes"]:
            value = ABSENT if entry.get("delete") else (
                _value(entry["item"]) if "item" in entry else UNSHOWN)
            recorded[_meta_key(entry)] = (entry["version"], value)
    for item, value, update in _writes(request):
        version = None
        if op.status == OK:
            if isinstance(request, TransactWrite):
                version, shown = recorded[item]
                value = shown if value is PRESENT and shown is not UNSHOWN else value
            else:
                version = meta["version"]
                if update and meta.get("item") is not None:
                    value = _value(meta["item"])
                elif update and request.return_values == "ALL_NEW" \
                        and response is not None and response.item is not None:
                    value = _value(response.item)
        t.writes.append(Write(t.index, item, version, value))
    if op.status == OK:
        assert response is not None
        if isinstance(request, Get):
            if request.projection is not None:
                raise OutOfScope("projections")
            t.reads.append(Read(t.index, _key_of(request.key), meta["version"],
                                _value(response.item)))
        elif isinstance(request, TransactGet):
            entries = meta["reads"]
            for i, g in enumerate(request.gets):
                entry = entries[i] if "table" not in entries[i] else next(
                    e for e in entries if _meta_key(e) == _key_of(g.key))
                t.reads.append(Read(t.index, _key_of(g.key), entry["version"],
                                    _value(response.items[i])))
        elif isinstance(request, TransactWrite):
            for entry in meta.get("reads", ()):
                t.reads.append(Read(t.index, _meta_key(entry), entry["version"], UNSHOWN))
            recorded_reads = {r.item for r in t.reads}
            for a in request.actions:  # a check whose version is not recorded read one
                if isinstance(a, ConditionCheck) and _key_of(a.key) not in recorded_reads:
                    t.reads.append(Read(t.index, _key_of(a.key), OPEN, UNSHOWN))
        if getattr(request, "return_values", "NONE") == "ALL_OLD":
            # The item as it was before the write: a read of a version not recorded.
            assert isinstance(request, Put | Update | Delete)
            t.reads.append(Read(t.index, t.writes[0].item, OPEN, _value(response.item)))
        elif getattr(request, "return_values", "NONE") == "UPDATED_OLD":
            raise OutOfScope("old attributes returned")
    if {r.item for r in t.reads if r.version is not OPEN} & {w.item for w in t.writes}:
        raise OutOfScope("a transaction reading an item it writes")
    return t


def transactions(history: History) -> list[Txn]:
    """The history's operations as transactions (module docstring)."""
    return [_txn(op) for op in history.operations]


# One interpretation: the committed transactions, each item's version order (writes, in
# order), the writer of each aborted version read, and each read's source.
@dataclass
class _World:
    committed: frozenset[int]
    order: dict[Any, list[Write]]
    source: dict[int, tuple[str, Write | None]]  # id(read) -> ("committed"|"aborted"|"init", w)


def _compatible(a: Any, b: Any) -> bool:
    if a is UNSHOWN or b is UNSHOWN:
        return True
    if a is PRESENT or b is PRESENT:  # an update's item: some item, never an absence
        return a is not ABSENT and b is not ABSENT
    return bool(a == b)


def _item_choices(item: Any, txns: Sequence[Txn], committed: frozenset[int],
                  reads: Sequence[Read]) -> Iterator[tuple[list[Write], dict[Any, Write]]]:
    """Every (version order, writer of each unrecorded number read) of one item."""
    writes = [w for t in txns for w in t.writes if w.item == item]
    ok = [w for w in writes if txns[w.txn].status == OK]
    numbers = [w.version for w in ok]
    if len(set(numbers)) != len(numbers):
        return  # two committed writes of one version: no version order
    others = [w for w in writes if txns[w.txn].status != OK]
    unclaimed = sorted({r.version for r in reads if r.version is not None
                        and r.version is not OPEN} - set(numbers))
    for sources in product(*[others for _ in unclaimed]):  # none: a read unexplained
        chosen = list(sources)
        if len({id(s) for s in chosen}) != len(chosen):
            continue
        made = dict(zip(unclaimed, sources, strict=True))
        placed = sorted([(w.version, w) for w in ok]
                        + [(v, s) for v, s in made.items() if s.txn in committed],
                        key=lambda p: p[0])
        fixed = [w for _, w in placed]
        free = [w for w in others if w.txn in committed and all(w is not s for s in chosen)]
        for order in _interleavings(fixed, free):
            yield order, made


def _interleavings(fixed: list[Write], free: list[Write]) -> Iterator[list[Write]]:
    n = len(fixed) + len(free)
    for slots in combinations(range(n), len(free)):
        for perm in permutations(free):
            out: list[Write] = []
            it_fixed, it_free = iter(fixed), iter(perm)
            for i in range(n):
                out.append(next(it_free) if i in slots else next(it_fixed))
            yield out


def _worlds(txns: Sequence[Txn]) -> Iterator[_World]:
    infos = [t.index for t in txns if t.status == INFO]
    oks = frozenset(t.index for t in txns if t.status == OK)
    items = sorted({w.item for t in txns for w in t.writes}
                   | {r.item for t in txns for r in t.reads}, key=repr)
    for k in range(len(infos) + 1):
        for chosen in combinations(infos, k):
            committed = oks | frozenset(chosen)
            reads = [r for t in txns if t.index in committed for r in t.reads]
            per_item = [list(_item_choices(item, txns, committed,
                                           [r for r in reads if r.item == item]))
                        for item in items]
            for combo in product(*per_item):
                order = {item: o for item, (o, _) in zip(items, combo, strict=True)}
                made = {(item, v): w for item, (_, m) in zip(items, combo, strict=True)
                        for v, w in m.items()}
                source = _sources([r for r in reads if r.version is not OPEN], order, made,
                                  committed)
                if source is None:
                    continue
                unrecorded = [r for r in reads if r.version is OPEN]
                for picks in product(*[_open_sources(r, txns, order, committed)
                                       for r in unrecorded]):
                    yield _World(committed, order, {
                        **source, **{id(r): p for r, p in zip(unrecorded, picks, strict=True)}})


def _open_sources(r: Read, txns: Sequence[Txn], order: Mapping[Any, list[Write]],
                  committed: frozenset[int]) -> list[tuple[str, Write | None]]:
    """Every version a read whose version is not recorded may have read: the initial
    state, a committed version, or an aborted one."""
    options: list[tuple[str, Write | None]] = [
        ("init", None),
        *(("committed", w) for w in order[r.item] if w.txn != r.txn),
        *(("aborted", w) for t in txns for w in t.writes
          if w.item == r.item and w.txn not in committed and w.txn != r.txn)]
    return [(how, w) for how, w in options
            if _compatible(r.value, ABSENT if w is None else w.value)]


def _sources(reads: Sequence[Read], order: Mapping[Any, list[Write]],
             made: Mapping[tuple[Any, Any], Write], committed: frozenset[int]
             ) -> dict[int, tuple[str, Write | None]] | None:
    source: dict[int, tuple[str, Write | None]] = {}
    held: dict[int, Any] = {}  # id(write) -> the item its version was read holding
    for r in reads:
        if r.version is None:
            if not _compatible(r.value, ABSENT):
                return None
            source[id(r)] = ("init", None)
            continue
        w = next((w for w in order[r.item] if w.version == r.version
                  and w.txn in committed), None)
        if w is None:
            w = made.get((r.item, r.version))
        if w is None or not _compatible(r.value, w.value):
            return None
        # One version holds one item.
        if r.value is not UNSHOWN and held.setdefault(id(w), r.value) != r.value:
            return None
        placed = any(x is w for x in order[r.item])
        source[id(r)] = ("committed" if placed else "aborted", w)
    return source


@dataclass(frozen=True)
class _Shown:
    """The phenomena one interpretation shows."""

    g0: bool
    g1a: bool
    g1c: bool
    future: bool
    cycle: bool
    si: bool          # G-single or G-nonadjacent
    process: bool
    realtime: bool


def _phenomena(txns: Sequence[Txn], world: _World) -> _Shown:
    edges: dict[tuple[int, int], set[str]] = {}

    def add(a: int, b: int, kind: str) -> None:
        if a != b:
            edges.setdefault((a, b), set()).add(kind)

    future = g1a = False
    for order in world.order.values():
        for a, b in pairwise(order):
            add(a.txn, b.txn, "ww")
    for t in txns:
        if t.index not in world.committed:
            continue
        for r in t.reads:
            how, w = world.source[id(r)]
            if how == "aborted":
                g1a = True
                continue
            if w is not None and w.txn == t.index:
                future = True
            if w is not None:
                add(w.txn, t.index, "wr")
            order = world.order[r.item]
            at = -1 if w is None else next(i for i, x in enumerate(order) if x is w)
            if at + 1 < len(order):
                add(t.index, order[at + 1].txn, "rw")
    committed = [t for t in txns if t.index in world.committed]
    for a in committed:
        for b in committed:
            if a.ret is not None and a.ret < b.call:
                add(a.index, b.index, "realtime")
                if a.process == b.process:
                    add(a.index, b.index, "process")

    def cyclic(kinds: set[str]) -> bool:
        g: nx.DiGraph[int] = nx.DiGraph()
        g.add_edges_from(e for e, ks in edges.items() if ks & kinds)
        return not nx.is_directed_acyclic_graph(g)

    data = {"ww", "wr", "rw"}
    g: nx.DiGraph[int] = nx.DiGraph()
    g.add_edges_from(e for e, ks in edges.items() if ks & data)
    si = False
    for cycle in nx.simple_cycles(g):
        steps = list(zip(cycle, [*cycle[1:], cycle[0]], strict=True))
        for kinds in product(*[sorted(edges[s] & data) for s in steps]):
            rw = [k == "rw" for k in kinds]
            if any(rw) and not any(rw[i] and rw[i - 1] for i in range(len(rw))):
                si = True
                break
        if si:
            break
    return _Shown(
        g0=cyclic({"ww"}), g1a=g1a, g1c=cyclic({"ww", "wr"}) or future, future=future,
        cycle=cyclic(data) or future, si=si,
        process=cyclic(data | {"process"}) or future,
        realtime=cyclic(data | {"realtime"}) or future)


def _allows(model: str, s: _Shown) -> bool:
    rc = not (s.g0 or s.g1a or s.g1c)
    serial = rc and not (s.future or s.cycle)
    return {
        "read-uncommitted": not s.g0,
        "read-committed": rc,
        "read-atomic": rc and not s.future,
        "repeatable-read": rc and not s.cycle,
        "snapshot-isolation": rc and not (s.future or s.si),
        "serializable": serial,
        "strong-session-serializable": serial and not s.process,
        "strict-serializable": serial and not s.realtime,
    }[model]


def transactional(history: History) -> dict[str, bool]:
    """For each of the eight models, whether the item history satisfies it (module
    docstring). Raises :class:`OutOfScope` for what the oracle does not decide."""
    txns = transactions(history)
    verdict = dict.fromkeys(EIGHT, False)
    for world in _worlds(txns):
        shown = _phenomena(txns, world)
        for m in EIGHT:
            verdict[m] = verdict[m] or _allows(m, shown)
        if all(verdict.values()):
            break
    return verdict
