"""Small random item histories, and targeted edits of them, for the item oracles.

:func:`generate` runs a random concurrent execution of 1-7 item requests against the
item model (``models.items.operations.apply``: the store), on 1-3 items of one table,
by 1-3 client processes: each request is invoked, takes effect at one instant of its
own choosing (a strong get reads the state then; an eventual get may read any earlier
state), and completes later, ``ok``, ``fail`` (a failed condition, recorded as the
history format says, or a conflict that applied nothing) or ``info`` (taking effect or
not). Completed requests record their versions as the reference leader store does
(``histories/items.py``, section "Recorded versions"): a global sequence number per
write, ``meta.version`` on single reads and writes, ``meta.writes`` and ``meta.reads``
(the condition checks; left out at random, as the reference store records none) on
transact-writes, ``meta.reads`` on transact-gets. Single writes sometimes return
``ALL_NEW`` or ``ALL_OLD`` items.

:func:`edit` derives a history from a generated one by one targeted change: swap the
value a read returned, drop a write, reorder two completions, or change a number of a
read's value to another type or another precision (DynamoDB compares N numerically,
so ``1`` and ``1.0`` are one number; ``"1"`` is a string).

Everything is a pure function of its seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from replicheck.histories.history import (
    FAIL,
    INFO,
    INVOKE,
    OK,
    History,
    Record,
    pair,
)
from replicheck.histories.items import completion_record, invoke_record, tables_record
from replicheck.models.items.errors import StoreError, TransactionConflict
from replicheck.models.items.operations import Database, apply, empty
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
    WriteAction,
)

TABLE = "t"
SCHEMA = TableSchema(TABLE, "pk")
KEYS = ("a", "b", "c")
NUMBERS = (1, 2, 3)

__all__ = ["EDITS", "Generated", "edit", "generate"]


@dataclass(frozen=True)
class Generated:
    """A generated history's records (the ``tables`` record first) and how it was
    made (``how``: the seed, and the edit when there is one)."""

    records: tuple[Record, ...]
    how: str

    def history(self) -> History:
        """The records paired into a history."""
        return pair(self.records)


# ---------------------------------------------------------------------------- requests


def _key(k: str) -> dict[str, Any]:
    return {"pk": k}


def _condition(rng: random.Random) -> tuple[str | None, dict[str, Any] | None]:
    roll = rng.random()
    if roll < 0.45:
        return None, None
    if roll < 0.6:
        return "attribute_exists(pk)", None
    if roll < 0.75:
        return "attribute_not_exists(pk)", None
    if roll < 0.9:
        return "v = :c", {":c": rng.choice(NUMBERS)}
    return "v < :c", {":c": rng.choice(NUMBERS)}


def _write_action(rng: random.Random, k: str, *, single: bool) -> WriteAction:
    condition, values = _condition(rng)
    roll = rng.random()
    if roll < 0.4:
        return Put(TABLE, {"pk": k, "v": rng.choice(NUMBERS)}, condition, None, values,
                   "ALL_OLD" if single and rng.random() < 0.2 else "NONE")
    if roll < 0.75:
        values = dict(values or {})
        if rng.random() < 0.6:
            values[":v"] = rng.choice(NUMBERS)
            update = "SET v = :v"
        else:
            values[":d"] = 1
            update = "SET v = if_not_exists(v, :z) + :d"
            values[":z"] = 0
        returns = rng.choice(("ALL_NEW", "ALL_OLD")) if single and rng.random() < 0.4 \
            else "NONE"
        return Update(TABLE, _key(k), update, condition, None, values, returns)
    old = "ALL_OLD" if single and rng.random() < 0.2 else "NONE"
    if roll < 0.9 or single:
        return Delete(TABLE, _key(k), condition, None, values, old)
    return ConditionCheck(TABLE, _key(k), condition or "attribute_exists(pk)", None, values)


def _request(rng: random.Random, keys: tuple[str, ...]) -> Request:
    roll = rng.random()
    if roll < 0.25:
        return Get(TABLE, _key(rng.choice(keys)), consistent=rng.random() < 0.6)
    if roll < 0.55:
        action = _write_action(rng, rng.choice(keys), single=True)
        assert not isinstance(action, ConditionCheck)
        return action
    chosen = rng.sample(keys, rng.randint(1, len(keys)))
    if roll < 0.75:
        return TransactGet(tuple(Get(TABLE, _key(k), consistent=True) for k in chosen))
    return TransactWrite(tuple(_write_action(rng, k, single=False) for k in chosen))


# ---------------------------------------------------------------------------- execution


@dataclass
class _Store:
    """The item model as a store that records versions: a sequence number per write."""

    db: Database
    versions: dict[str, int | None]
    counter: int = 0

    def item(self, k: str, db: Database | None = None) -> Any:
        return apply(self.db if db is None else db, Get(TABLE, _key(k), consistent=True))[1].item


@dataclass
class _Pending:
    process: int
    request: Request
    applied: bool = False
    outcome: Response | StoreError | None = None
    meta: dict[str, Any] | None = None


def _written(request: Request) -> list[str]:
    if isinstance(request, Put):
        return [request.item["pk"]]
    if isinstance(request, Update | Delete):
        return [request.key["pk"]]
    if isinstance(request, TransactWrite):
        return [a.item["pk"] if isinstance(a, Put) else a.key["pk"]
                for a in request.actions if not isinstance(a, ConditionCheck)]
    return []


def _take_effect(store: _Store, snapshots: list[tuple[Database, dict[str, int | None]]],
                 p: _Pending, rng: random.Random) -> None:
    request = p.request
    p.applied = True
    if isinstance(request, Get):
        k = request.key["pk"]
        db, versions = store.db, store.versions
        if not request.consistent and rng.random() < 0.5:
            db, versions = rng.choice(snapshots)
        p.outcome = Response(item=store.item(k, db))
        p.meta = {"version": versions.get(k)}
        return
    if isinstance(request, TransactGet):
        keys = [g.key["pk"] for g in request.gets]
        p.outcome = Response(items=tuple(store.item(k) for k in keys))
        if rng.random() < 0.5:
            p.meta = {"reads": [{"version": store.versions.get(k)} for k in keys]}
        else:
            p.meta = {"reads": [{"table": TABLE, "key": [k], "version": store.versions.get(k)}
                                for k in keys]}
        return
    try:
        db, response = apply(store.db, request)
    except StoreError as error:
        p.outcome = error
        return
    checked = [a.key["pk"] for a in getattr(request, "actions", ())
               if isinstance(a, ConditionCheck)]
    reads = [{"table": TABLE, "key": [k], "version": store.versions.get(k)} for k in checked]
    store.counter += 1
    store.db = db
    written = _written(request)
    for k in written:
        store.versions[k] = store.counter
    snapshots.append((store.db, dict(store.versions)))
    p.outcome = response
    if isinstance(request, TransactWrite):
        p.meta = {"writes": [{"table": TABLE, "key": [k], "version": store.counter,
                              "item": store.item(k), "delete": store.item(k) is None}
                             for k in written]}
        if reads and rng.random() < 0.6:  # the reference store records none
            p.meta["reads"] = reads
    else:
        p.meta = {"version": store.counter}
        if isinstance(request, Update) and rng.random() < 0.5:
            p.meta["item"] = store.item(written[0])


def generate(seed: int, *, max_ops: int = 7) -> Generated:
    """A random item history (module docstring) of 1 to ``max_ops`` requests."""
    rng = random.Random(seed)
    keys = KEYS[:rng.randint(1, 3)]
    n_ops = rng.randint(1, max_ops)
    idle = list(range(rng.randint(1, 3)))
    fresh = len(idle)
    store = _Store(empty(SCHEMA), {})
    snapshots: list[tuple[Database, dict[str, int | None]]] = [(store.db, {})]
    records: list[Record] = [tables_record([SCHEMA], index=0)]
    pending: list[_Pending] = []
    invoked = 0

    def emit(record: Record) -> None:
        records.append(replace(record, index=len(records)))

    while invoked < n_ops or pending:
        moves: list[str] = []
        if invoked < n_ops and idle:
            moves += ["invoke"] * 3
        if any(not p.applied for p in pending):
            moves += ["apply"] * 3
        if any(p.applied for p in pending):
            moves += ["complete"] * 3
        if pending:
            moves.append("crash")
        move = rng.choice(moves)
        if move == "invoke":
            process = idle.pop(rng.randrange(len(idle)))
            p = _Pending(process, _request(rng, keys))
            pending.append(p)
            invoked += 1
            emit(invoke_record(process, p.request, index=0))
        elif move == "apply":
            p = rng.choice([q for q in pending if not q.applied])
            _take_effect(store, snapshots, p, rng)
        elif move == "complete":
            p = rng.choice([q for q in pending if q.applied])
            pending.remove(p)
            record = completion_record(p.process, p.request, p.outcome, index=0)
            if record.type == OK and p.meta is not None:
                record = replace(record, meta=p.meta)
            emit(record)
            idle.append(p.process)
        else:
            p = rng.choice(pending)
            pending.remove(p)
            if not p.applied and rng.random() < 0.3 and not isinstance(p.request, Get):
                emit(completion_record(p.process, p.request, TransactionConflict("busy"),
                                       index=0))
                idle.append(p.process)
                continue
            if not p.applied and rng.random() < 0.5:
                _take_effect(store, snapshots, p, rng)
            emit(completion_record(p.process, p.request, None, index=0))
            idle.append(fresh)  # an indeterminate operation ends its process
            fresh += 1
    return Generated(tuple(records), f"generate({seed})")


# ---------------------------------------------------------------------------- edits


def _reads_with_items(records: list[Record]) -> list[int]:
    return [i for i, r in enumerate(records)
            if r.type == OK and r.f in ("get-strong", "get-eventual", "transact-get")]


def _numbers_in(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        if set(value) == {"N"}:
            return [path]
        for k, v in value.items():
            found += _numbers_in(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _numbers_in(v, (*path, i))
    return found


def _replace_at(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replace_at(v, rest, new) if k == head else v) for k, v in value.items()}
    return [(_replace_at(v, rest, new) if i == head else v) for i, v in enumerate(value)]


def _swap_read(records: list[Record], rng: random.Random) -> str | None:
    reads = _reads_with_items(records)
    if not reads:
        return None
    i = rng.choice(reads)
    r = records[i]
    items = list(r.value["items"]) if r.f == "transact-get" else [r.value.get("item")]
    j = rng.randrange(len(items))
    old = items[j]
    # Another value of the same item (or its absence, or its presence).
    start = max(k for k in range(i) if records[k].process == r.process
                and records[k].type == INVOKE)
    request = records[start].value
    key = (request["gets"][j] if r.f == "transact-get" else request)["key"]["pk"]
    choices = [None, *({"pk": key, "v": {"N": str(n)}} for n in NUMBERS)]
    items[j] = rng.choice([c for c in choices if c != old])
    records[i] = replace(r, value={"items": items} if r.f == "transact-get"
                         else {"item": items[0]})
    return f"swap the value read by line {i}"


def _drop_write(records: list[Record], rng: random.Random) -> str | None:
    writes = [i for i, r in enumerate(records)
              if r.type == INVOKE and r.f in ("put", "update", "delete", "transact-write")]
    if not writes:
        return None
    seen = _versions_read(records)
    # Preferably a write whose version somebody read.
    read_from = [i for i in writes if _completion_versions(records, i) & seen]
    i = rng.choice(read_from or writes)
    process = records[i].process
    end = next((j for j in range(i + 1, len(records)) if records[j].process == process), None)
    del records[end if end is not None else i]
    if end is not None:
        del records[i]
    return f"drop the write invoked at line {i}"


def _versions_read(records: list[Record]) -> set[Any]:
    out: set[Any] = set()
    for r in records:
        if r.type == OK and r.f in ("get-strong", "get-eventual"):
            out.add(r.meta.get("version"))
        elif r.type == OK:
            out.update(e.get("version") for e in r.meta.get("reads", ()))
    return out - {None}


def _completion_versions(records: list[Record], i: int) -> set[Any]:
    process = records[i].process
    end = next((r for r in records[i + 1:] if r.process == process), None)
    if end is None or end.type != OK:
        return set()
    if "writes" in end.meta:
        return {e.get("version") for e in end.meta["writes"]}
    return {end.meta.get("version")}


def _reorder(records: list[Record], rng: random.Random) -> str | None:
    done = [i for i, r in enumerate(records) if r.type in (OK, FAIL, INFO)]
    # Two completions of different processes, neither process acting in between: each
    # stays after its own invocation and before its process's next one.
    pairs = [(a, b) for a in done for b in done if a < b
             and records[a].process != records[b].process
             and not any(records[j].process in (records[a].process, records[b].process)
                         for j in range(a + 1, b))]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    records[a], records[b] = records[b], records[a]
    return f"swap the completions at lines {a} and {b}"


def _renumber(records: list[Record], rng: random.Random) -> str | None:
    spots = [(i, path) for i in _reads_with_items(records)
             for path in _numbers_in(records[i].value)]
    if not spots:
        return None
    i, path = rng.choice(spots)
    text = _get_at(records[i].value, path)["N"]
    choice = rng.random()
    if choice < 0.4:
        new: Any = {"N": str(Decimal(text) + 0) + ".0" if "." not in text else text + "0"}
        what = "another precision (the same number)"
    elif choice < 0.7:
        new = {"S": text}
        what = "a string"
    else:
        new = {"N": str(Decimal(text) + rng.choice((1, -1)))}
        what = "another number"
    records[i] = replace(records[i], value=_replace_at(records[i].value, path, new))
    return f"write the number at line {i} as {what}"


def _get_at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


EDITS = {"swap-read": _swap_read, "drop-write": _drop_write, "reorder": _reorder,
         "renumber": _renumber}
"""The targeted edits, by name."""


def edit(seed: int, *, max_ops: int = 7) -> Generated | None:
    """A generated history changed by one targeted edit (module docstring), or None
    when no edit has anything to act on."""
    base = generate(seed, max_ops=max_ops)
    rng = random.Random(seed * 7919 + 1)
    names = sorted(EDITS)
    rng.shuffle(names)
    if rng.random() < 0.4:  # the edit most likely to matter, more often first
        names.remove("swap-read")
        names.insert(0, "swap-read")
    for name in names:  # the first edit that has something to act on
        records = list(base.records)
        what = EDITS[name](records, rng)
        if what is not None:
            fixed = tuple(replace(r, index=i) for i, r in enumerate(records))
            return Generated(fixed, f"edit({seed}): {name}: {what}")
    return None
