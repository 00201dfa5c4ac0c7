"""Judging the transactional guarantees with the Elle-style item checker.

:func:`judge_transactional` decides ``serializable-transactions`` and
``atomic-transactions`` on an item history (already restricted to the reads the claim
covers) as :mod:`replicheck.properties.guarantees` describes:

- ``serializable-transactions``: :func:`~replicheck.histories.checkers.elle.items.
  check_item_transactions` for ``serializable``, every serial order replayed through
  the item model (``replay_items``), so a condition, an update expression or a client
  token that no serial order explains is found (as ``G2`` when no cycle shows it);
- ``atomic-transactions``: the same checker for ``read-atomic`` (G1a, and what
  read-atomic implies: G0, G1c, garbage reads), plus :func:`fractured_reads`.

Both judge the whole history, each single-item request a one-operation transaction,
but count only anomalies that involve a transaction: a cycle of single-item requests
alone is the business of the single-item guarantees (linearizability, lost updates).

:func:`transactional_view` adds to the history what the store's recorded versions and
items prove about the version an update read (``meta["reads"]``), so that a lost
update among transactions is a dependency cycle with its edges (drawn in the report)
rather than only "no serial order".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from replicheck.histories.checkers.elle.graph import KIND_NAMES, RW, WR
from replicheck.histories.checkers.elle.item_inference import CORE, ItemInference
from replicheck.histories.checkers.elle.item_values import Vid, describe_vid, show_version
from replicheck.histories.history import FAIL, OK, History, Operation
from replicheck.histories.verdict import Anomaly
from replicheck.models import lattice
from replicheck.models.items.errors import StoreError, ValidationError
from replicheck.models.items.operations import Database, apply, empty
from replicheck.models.items.requests import (
    Delete,
    Get,
    Put,
    TableSchema,
    TransactGet,
    TransactWrite,
    Update,
)
from replicheck.models.items.values import freeze_item, normalize_item
from replicheck.properties.guarantees import (
    HOLDS,
    NOT_APPLICABLE,
    OBSERVED,
    READ_ATOMIC_CHECKER,
    SERIALIZABLE_CHECKER,
    TRANSACTION_KINDS,
    UNKNOWN,
    VIOLATED,
    Judgement,
)

__all__ = [
    "DUPLICATE",
    "FRACTURED_READ",
    "duplicate_applications",
    "fractured_reads",
    "judge_transactional",
    "transactional_view",
]

FRACTURED_READ: Final = "fractured-read"
"""The anomaly name of a read that saw part of a transaction's writes but not all
(Bailis et al., "Scalable Atomic Visibility with RAMP Transactions")."""

_MODEL: Final = {"serializable-transactions": "serializable",
                 "atomic-transactions": "read-atomic"}

_ItemKey = tuple[str, Any]


def judge_transactional(guarantee: str, history: History, claimed: bool, timeout: float
                        ) -> Judgement:
    """``serializable-transactions`` or ``atomic-transactions`` on ``history`` (the
    item history restricted to the claim's reads): ``not-applicable`` without a
    transaction; ``violated`` (``observed`` when not ``claimed``) for an anomaly the
    model forbids that involves a transaction; ``unknown`` when the checker's
    ``timeout`` (seconds) ran out first; else ``holds``."""
    from replicheck.histories.checkers.elle.items import analyze_items, check_item_transactions

    checker = SERIALIZABLE_CHECKER if guarantee == "serializable-transactions" \
        else READ_ATOMIC_CHECKER
    if not any(op.f in TRANSACTION_KINDS for op in history.operations):
        return Judgement(guarantee, NOT_APPLICABLE, claimed,
                         reason="no transactions in the history", checker=checker)
    view = transactional_view(history)
    model = _MODEL[guarantee]
    serial = model == "serializable"
    twice = duplicate_applications(view) if serial else ()
    # A transaction applied twice needs no search for a serial order to refute: the
    # versions alone are judged then (cheaply), with it.
    verdict = check_item_transactions(view, consistency=(model,), timeout=timeout or None,
                                      replay_items=serial and not twice)
    if twice:
        verdict = replace(verdict, valid=False, anomalies=verdict.anomalies + twice,
                          ruled_out=verdict.ruled_out | frozenset(lattice.TRANSACTIONAL),
                          still_possible=frozenset(), witness=None,
                          counterexample=verdict.counterexample or twice[0].to_json())
    if not serial:
        analysis = analyze_items(view)
        if analysis.inference.choices:
            analysis = analyze_items(view, choice={CORE: 1})
        found = fractured_reads(analysis.inference)
        if found:
            weaker = frozenset(m for m in lattice.TRANSACTIONAL
                               if lattice.implies(m, "read-atomic"))
            verdict = replace(verdict, valid=False, anomalies=verdict.anomalies + found,
                              ruled_out=verdict.ruled_out | weaker,
                              still_possible=verdict.still_possible - weaker,
                              witness=None,
                              counterexample=verdict.counterexample or found[0].to_json())
    forbidden = frozenset().union(lattice.forbidden_by(model), {"garbage-read", FRACTURED_READ})
    transactions = {op.id for op in view.operations if op.f in TRANSACTION_KINDS}
    relevant = tuple(a for a in verdict.anomalies
                     if _forbidden(a.type, forbidden) and transactions & set(a.ops))
    reason = f"Elle item checker for {model}"
    if verdict.valid is False and not relevant:
        reason += ("; the anomalies found involve single-item requests only (judged by "
                   "the single-item guarantees)")
        verdict = replace(verdict, valid=True)
    notes = _inferred_notes(history, view)
    if notes:
        verdict = replace(verdict, notes=(*notes, *verdict.notes))
    if verdict.valid is True:
        allowed = tuple(f"{a.type} (operations {list(a.ops)}) is allowed by {model}"
                        for a in verdict.anomalies)
        return Judgement(guarantee, HOLDS, claimed, replace(
            verdict, anomalies=(), notes=(*verdict.notes, *allowed)), reason, checker)
    if verdict.valid is False:
        return Judgement(guarantee, VIOLATED if claimed else OBSERVED, claimed,
                         replace(verdict, anomalies=relevant), reason, checker)
    return Judgement(guarantee, UNKNOWN, claimed, verdict,
                     f"{reason}: the checker's time limit ({timeout} s) ran out", checker)


def _inferred_notes(history: History, view: History) -> tuple[str, ...]:
    """A note per read :func:`transactional_view` added, saying how it is known."""
    schemas = _schemas(history)
    notes = []
    for before, after in zip(history.operations, view.operations, strict=True):
        added = list(after.meta.get("reads") or ())[len(before.meta.get("reads") or ()):]
        for entry in added:
            if entry.get("inferred") != "older":
                continue
            version = ("the initial (absent) state" if entry["version"] is None
                       else f"version {show_version(entry['version'])}")
            schema = schemas[entry["table"]]
            label = entry["table"] + "/" + ",".join(
                f"{a}={v}" for a, v in zip(schema.key_attributes, entry["key"], strict=False))
            notes.append(
                f"T{after.id} wrote {label} what its condition and update expression give "
                f"from {version}, not from the version right before its own: it read "
                f"{version} (inferred from the recorded versions and items)")
    return tuple(notes)


def _forbidden(kind: str, forbidden: frozenset[str]) -> bool:
    if kind in forbidden:
        return True
    try:
        return bool(lattice.implied_anomalies([kind]) & forbidden)
    except ValueError:  # a name the lattice does not know
        return False


# -- what an update read ----------------------------------------------------------------


def transactional_view(history: History) -> History:
    """``history`` with ``meta["reads"]`` added to each ``ok`` transact-write (and
    single write) whose update, or conditional put or delete, provably read a version
    older than the one right before its own: the store recorded, for the item, the
    versions and the items they hold (writes' ``meta["writes"]`` / ``meta["item"]``,
    reads' ``meta["version"]`` with the item returned), and the version right before
    its own fails its condition or does not give the item it wrote, while that older
    version does (the latest such). The version it read was then overwritten before it
    wrote: a lost update. Nothing is added where the versions or items needed are not
    recorded, or where the version right before its own explains the write; and no
    older version is inferred where a write of the item whose version is not recorded
    (indeterminate, or acknowledged without one) may have taken effect before it
    wrote: that write's version, which the history does not show, may be what it read
    (an ``ADD`` on an item deleted and re-created reads an equal item)."""
    schemas = _schemas(history)
    if not schemas:
        return history
    contents = _contents(history, schemas)
    unrecorded = _unrecorded_writes(history, schemas)
    out: list[Operation] = []
    changed = False
    for op in history.operations:
        added = _implied_reads(op, schemas, contents, unrecorded) if op.status == OK else []
        if added:
            changed = True
            reads = list(op.meta.get("reads") or ()) + added
            op = replace(op, meta={**op.meta, "reads": reads})
        out.append(op)
    return replace(history, operations=tuple(out)) if changed else history


def _schemas(history: History) -> dict[str, TableSchema]:
    """The tables' key schemas the history declares, by name (none: empty)."""
    from replicheck.histories.items import declared_schemas

    return declared_schemas(history) or {}


def _version(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _frozen(item: Mapping[str, Any] | None) -> Any:
    return None if item is None else freeze_item(normalize_item(item, what=None))


def _item_key(schema: TableSchema, source: Mapping[str, Any] | Sequence[Any]) -> _ItemKey:
    if isinstance(source, Mapping):
        values = [source.get(a) for a in schema.key_attributes]
    else:
        values = list(source)
    return schema.name, _frozen(dict(zip(schema.key_attributes, values, strict=False)))


_UNKNOWN: Final = object()


def _contents(history: History, schemas: Mapping[str, TableSchema]
              ) -> dict[_ItemKey, dict[Any, Any]]:
    """Per item, each recorded version and the item it holds (``None`` absent,
    ``_UNKNOWN`` when no record shows it)."""
    from replicheck.histories.items import request_of, response_of

    out: dict[_ItemKey, dict[Any, Any]] = {}

    def see(key: _ItemKey, version: Any, item: Any) -> None:
        if version is None:
            return
        held = out.setdefault(key, {})
        if held.get(_version(version), _UNKNOWN) is _UNKNOWN:
            held[_version(version)] = item

    for op in history.operations:
        if op.status != OK:
            continue
        try:
            request = request_of(op)
        except Exception:
            continue
        if isinstance(request, TransactWrite):
            if op.meta.get("replayed"):
                continue
            for entry in op.meta.get("writes") or ():
                schema = schemas.get(entry.get("table"))
                if schema is None:
                    continue
                item = None if entry.get("delete") else (
                    _frozen(entry["item"]) if "item" in entry else _UNKNOWN)
                see(_item_key(schema, entry.get("key") or ()), entry.get("version"), item)
            continue
        if isinstance(request, TransactGet):
            entries = [e for e in op.meta.get("reads") or () if isinstance(e, Mapping)]
            keyed: dict[_ItemKey, Any] = {}
            for entry in entries:
                schema = schemas.get(str(entry.get("table")))
                if schema is not None and "key" in entry:
                    keyed[_item_key(schema, entry["key"])] = entry.get("version")
            response = response_of(op, request)
            for i, get in enumerate(request.gets):
                schema = schemas.get(get.table)
                if schema is None or get.projection:
                    continue
                key = _item_key(schema, get.key)
                if key in keyed:
                    version = keyed[key]
                elif len(entries) == len(request.gets) and "table" not in entries[i]:
                    version = entries[i].get("version")  # positional
                else:
                    continue
                got = response.items[i] if i < len(response.items) else None
                see(key, version, _frozen(got))
            continue
        table = getattr(request, "table", None)
        schema = schemas.get(table) if isinstance(table, str) else None
        if schema is None or "version" not in op.meta:
            continue
        if isinstance(request, Get):
            if not request.projection:
                see(_item_key(schema, request.key), op.meta["version"],
                    _frozen(response_of(op, request).item))
        elif isinstance(request, Put):
            see(_item_key(schema, request.item), op.meta["version"], _frozen(request.item))
        elif isinstance(request, Update):
            see(_item_key(schema, request.key), op.meta["version"], _written_by_update(
                op, request))
        else:
            see(_item_key(schema, request.key), op.meta["version"], None)
    return out


def _written_by_update(op: Operation, request: Update) -> Any:
    from replicheck.histories.items import response_of

    if op.meta.get("item") is not None:
        return _frozen(op.meta["item"])
    if request.return_values == "ALL_NEW":
        return _frozen(response_of(op, request).item)
    return _UNKNOWN


def _unrecorded_writes(history: History, schemas: Mapping[str, TableSchema]
                       ) -> dict[_ItemKey, list[Operation]]:
    """Per item, the writes of it that may have taken effect with a version the history
    does not show: indeterminate ones, and acknowledged ones that recorded no version
    of it."""
    from replicheck.histories.items import request_of

    out: dict[_ItemKey, list[Operation]] = {}
    for op in history.operations:
        if op.status == FAIL:
            continue
        try:
            request = request_of(op)
        except Exception:
            continue
        if isinstance(request, TransactWrite):
            recorded = {(e.get("table"), str(list(e.get("key") or ())))
                        for e in op.meta.get("writes") or () if "version" in e}
            actions: Sequence[Any] = [a for a in request.actions
                                      if isinstance(a, Put | Update | Delete)]
        elif isinstance(request, Put | Update | Delete):
            recorded = set()
            actions = [request] if op.status != OK or "version" not in op.meta else []
        else:
            continue
        for action in actions:
            schema = schemas.get(action.table)
            if schema is None:
                continue
            entry_key = [_key_of(action).get(a) for a in schema.key_attributes]
            if op.status == OK and (action.table, str(entry_key)) in recorded:
                continue
            out.setdefault(_item_key(schema, _key_of(action)), []).append(op)
    return out


def _implied_reads(op: Operation, schemas: Mapping[str, TableSchema],
                   contents: Mapping[_ItemKey, Mapping[Any, Any]],
                   unrecorded: Mapping[_ItemKey, Sequence[Operation]]
                   ) -> list[dict[str, Any]]:
    from replicheck.histories.items import request_of

    try:
        request = request_of(op)
    except Exception:
        return []
    updates: list[tuple[_Reading, Any, Any]] = []  # (action, own version, item written)
    if isinstance(request, TransactWrite) and not op.meta.get("replayed"):
        recorded: dict[_ItemKey, Mapping[str, Any]] = {}
        for entry in op.meta.get("writes") or ():
            schema = schemas.get(entry.get("table"))
            if schema is not None and "version" in entry:
                recorded[_item_key(schema, entry.get("key") or ())] = entry
        for action in request.actions:
            schema = schemas.get(action.table)
            if _reads(action) and schema is not None:
                assert isinstance(action, Put | Update | Delete)
                entry = recorded.get(_item_key(schema, _key_of(action)))
                if entry is not None and ("item" in entry or entry.get("delete")):
                    written = None if entry.get("delete") else _frozen(entry["item"])
                    updates.append((action, entry["version"], written))
    elif isinstance(request, Put | Update | Delete) and _reads(request) \
            and "version" in op.meta:
        written = (_written_by_update(op, request) if isinstance(request, Update)
                   else _frozen(request.item) if isinstance(request, Put) else None)
        if written is not _UNKNOWN:
            updates.append((request, op.meta["version"], written))
    already = {(r.get("table"), str(r.get("key"))) for r in op.meta.get("reads") or ()
               if isinstance(r, Mapping)}
    out = []
    for action, own, written in updates:
        schema = schemas[action.table]
        key = _item_key(schema, _key_of(action))
        entry_key = [_key_of(action).get(a) for a in schema.key_attributes]
        if (action.table, str(entry_key)) in already:
            continue
        found = _read_version(action, schema, _version(own), written, contents.get(key, {}))
        if found is not None and found[1] and any(
                w.id != op.id and (op.ret is None or w.call < op.ret)
                for w in unrecorded.get(key, ())):
            found = None  # a version the history does not show may be what it read
        if found is not None:
            read, older = found
            out.append({"table": action.table, "key": entry_key,
                        "version": list(read) if isinstance(read, tuple) else read,
                        "inferred": "older" if older else "previous"})
    return out


_Reading = Put | Update | Delete


def _reads(action: object) -> bool:
    """Whether the write ``action`` depends on the version it replaces: an update
    (its expression), or a put or delete with a condition."""
    return isinstance(action, Update) or (isinstance(action, Put | Delete)
                                          and action.condition is not None)


def _key_of(action: _Reading) -> Mapping[str, Any]:
    return action.item if isinstance(action, Put) else action.key


def _read_version(action: _Reading, schema: TableSchema, own: Any, written: Any,
                  versions: Mapping[Any, Any]) -> tuple[Any, bool] | None:
    """The version ``action`` read (``None``: the initial, absent state) and whether it
    is older than the one right before its own version ``own``: the latest version
    up to that one on which its condition holds and which gives the item it wrote.
    None when the items needed are not recorded or no version explains the write."""
    try:
        earlier = sorted((v for v in versions if v < own), reverse=True)
    except TypeError:  # versions of mixed shapes: no order to go by
        return None
    candidates = [*earlier, None]
    for i, version in enumerate(candidates):
        held = None if version is None else versions[version]
        if held is _UNKNOWN:
            return None
        if _gives(action, schema, held, written):
            return version, i > 0
    return None


def _gives(action: _Reading, schema: TableSchema, held: Any, written: Any) -> bool:
    """Whether ``action`` applied to the item ``held`` (frozen, or None) succeeds (its
    condition holds) and leaves the item ``written``."""
    from replicheck.models.items.values import thaw_item

    try:
        db: Database = empty(schema)
        if held is not None:
            db, _ = apply(db, Put(schema.name, thaw_item(held)))
        db, _ = apply(db, replace(action, return_values="NONE"))
        key = {a: _key_of(action)[a] for a in schema.key_attributes}
        _, answer = apply(db, Get(schema.name, key, consistent=True))
    except (StoreError, ValidationError):
        return False
    return bool(_frozen(answer.item) == written)


# -- one transaction applied twice ------------------------------------------------------


DUPLICATE: Final = "duplicate-elements"
"""Elle's name for one write applied more than once (here: one transaction, by its
client request token, committed twice)."""


def duplicate_applications(history: History) -> tuple[Anomaly, ...]:
    """Each ``ok`` transact-write that repeats an earlier ``ok`` one (the same client
    request token and the same request) and yet wrote versions of its own, other than
    the earlier one's: the item model (DynamoDB's idempotency) makes such a retry a
    no-op answering as the first did, so the one transaction was applied twice (Elle's
    ``duplicate-elements``). A retry whose answer says it replayed the first
    (``meta["replayed"]``) or repeats its very writes is no duplicate. Where the
    history carries the store's token window (:mod:`replicheck.histories.windows`),
    a retry is judged against the last application of its request, and only when
    the token was surely still remembered (``token_fate``): past the window the
    store rightly applies it anew."""
    from replicheck.histories.items import request_of
    from replicheck.histories.windows import history_windows, span_of
    from replicheck.models.items.operations import REMEMBERED, fingerprint, token_fate

    windows = history_windows(history)
    window = None if windows is None else windows.idempotency_token
    last: dict[tuple[str, Any], Operation] = {}
    found: list[Anomaly] = []
    for op in history.operations:
        if op.status != OK or op.f != "transact-write" or op.meta.get("replayed"):
            continue
        try:
            request = request_of(op)
        except Exception:
            continue
        writes = op.meta.get("writes") or ()
        if not isinstance(request, TransactWrite) or request.token is None or not writes:
            continue
        key = (request.token, fingerprint(request))
        earlier = last.setdefault(key, op)
        if earlier is op or _versions(earlier) == _versions(op):
            continue
        if window is not None:
            first, retry = span_of(earlier), span_of(op)
            if first is not None and retry is not None \
                    and token_fate(first, retry, window) != REMEMBERED:
                last[key] = op  # may have been forgotten: applied anew
                continue
        found.append(Anomaly(DUPLICATE, (earlier.id, op.id), (
            f"T{op.id} repeats T{earlier.id} (the same request with client token "
            f"{request.token!r}) and both committed writing versions of their own: the one "
            "transaction was applied twice, where a retry must answer as the first did "
            "and write nothing (duplicate application)"), {"token": request.token}))
    return tuple(found)


def _versions(op: Operation) -> list[tuple[str, str]]:
    return sorted((str(w.get("table")), str((w.get("key"), w.get("version"))))
                  for w in op.meta.get("writes") or () if isinstance(w, Mapping))


# -- fractured reads --------------------------------------------------------------------


def fractured_reads(inf: ItemInference) -> tuple[Anomaly, ...]:
    """Every read that saw part of a committed transaction's writes but not all: a
    transaction R read item x at the version transaction W wrote, and item y, which W
    also wrote, at a version older than W's in y's (recorded, total) version order, or
    in its initial state. Each is an anomaly ``fractured-read`` over R and W whose
    ``data["cycle"]`` holds its two dependencies (W -wr-> R on x, R -rw-> W on y)."""
    txns = inf.txns
    member = inf.graph.member
    writer: dict[tuple[Any, Vid], int] = {}
    for tid, writes in inf.writes.items():
        for item, vid in writes:
            if vid is not None:
                writer.setdefault((item, vid), tid)
    found: list[Anomaly] = []
    seen: set[tuple[int, int]] = set()
    for r, reads in sorted(inf.reads.items()):
        if not member[r] or txns[r].status != OK or len(reads) < 2:
            continue
        read_at = dict(reads)
        for x, vx in reads:
            w = writer.get((x, vx))
            if w is None or w == r or not member[w] or txns[w].status != OK \
                    or (r, w) in seen:
                continue
            for y, vw in inf.writes.get(w, ()):
                if y == x or y not in read_at:
                    continue
                vr = read_at[y]
                if _older(inf, y, vr, vw):
                    seen.add((r, w))
                    found.append(_fractured(inf, r, w, x, vx, y, vr, vw))
                    break
    return tuple(found)


def _older(inf: ItemInference, item: Any, a: Vid, b: Vid) -> bool:
    """Whether version ``a`` of ``item`` comes strictly before ``b`` in its known total
    version order (the initial state ``None`` before every version)."""
    if a == b or b is None:
        return False
    order = inf.versions.get(item)
    if order is None or not order.total:
        return False
    chain = list(order.versions)
    if not (isinstance(b, tuple) and b[0] == "v" and b[1] in chain):
        return False
    if a is None:
        return True
    if not (isinstance(a, tuple) and a[0] == "v" and a[1] in chain):
        return False
    return chain.index(a[1]) < chain.index(b[1])


def _fractured(inf: ItemInference, r: int, w: int, x: Any, vx: Vid, y: Any, vr: Vid,
               vw: Vid) -> Anomaly:
    from replicheck.histories.checkers.elle.explain import name
    from replicheck.histories.checkers.elle.item_values import vid_json

    txns = inf.txns
    tr, tw = txns[r], txns[w]
    lx, ly = inf.labels.get(x, repr(x)), inf.labels.get(y, repr(y))
    explanation = (
        f"{name(tr)} read {describe_vid(vx, txns)} of {lx}, which {name(tw)} wrote, but "
        f"{describe_vid(vr, txns)} of {ly}, older than {describe_vid(vw, txns)} that "
        f"{name(tw)} wrote in the same transaction: it saw part of {name(tw)}'s writes "
        f"and not the rest (fractured read; read atomicity forbids it)")
    cycle = [
        {"from": tw.op, "to": tr.op, "kind": KIND_NAMES[WR], "item": lx,
         "from_version": vid_json(vx), "to_version": vid_json(vx)},
        {"from": tr.op, "to": tw.op, "kind": KIND_NAMES[RW], "item": ly,
         "from_version": vid_json(vr), "to_version": vid_json(vw)},
    ]
    return Anomaly(FRACTURED_READ, (tr.op, tw.op), explanation,
                   {"cycle": cycle, "read": lx, "missed": ly})
