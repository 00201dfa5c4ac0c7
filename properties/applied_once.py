"""Every request is applied at most once: the counters a store holds add up.

A copy of a request delivered again (a duplicate on the wire, a retry the store
sends itself, a copy a restarted coordinator no longer recognises) must not be
applied again. Most writes hide a second application (a put applied twice holds the
same value), but an increment shows it: a counter that one increment took to 2.

For a numeric attribute of one item, every write of that item is one of

- an **assignment** of a number, or of no value (a put, a delete, ``SET n = :v``,
  ``REMOVE n``): the counter starts again from what it assigns;
- an **increment** by a constant ``c`` (``ADD n :c``, ``SET n = n + :c``,
  ``SET n = if_not_exists(n, :z) + :c``): it adds ``c`` to the value it was applied
  to (to ``:z`` or ``0`` when there was none);
- **untouched** (it writes other attributes only);
- **unknown** (anything else: a SET reading another attribute, a nested path):
  then nothing is judged for that item and attribute.

Each version of the item descends from one assignment (or from no item at all)
through increments, each applied at most once. So every value of the attribute that
a replica holds or a client read is ``base + sum(S)``: ``base`` the number an
assignment wrote (or the starting value an increment gives an absent attribute, less
its step), ``S`` a set of distinct increments that did not definitely fail (``ok``
or ``info``: a definitely failed write was not applied). A value outside that set
was produced by a request applied twice (or by a failed write applied, or by
arithmetic no request asked for): :func:`reapplied_values` names each.

Classification is by the item model itself (:func:`effect_on`): the write's update
expression is applied to probe items, after checking syntactically that whatever it
writes to the attribute reads no other attribute. Conditions only decide whether a
write applies at all, which the set ``S`` already allows; every doubt (too many
distinct sums, an unknown write) judges nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any, Final

from replicheck.histories.history import FAIL, OK, History
from replicheck.models.items.requests import (
    Delete,
    Put,
    Request,
    TableSchema,
    TransactWrite,
    Update,
)
from replicheck.models.items.values import item_from_wire, key_text

__all__ = [
    "Effect",
    "effect_on",
    "reachable",
    "reapplied_values",
]

MAX_SUMS: Final = 4096
"""The most distinct partial sums kept per item; past it nothing is judged."""

PRECISION: Final = 1000
"""The digits every sum and difference here is computed with: exact for DynamoDB
numbers (38 significant digits, exponents -130 to 125) and their sums, as the item
model computes them."""

_PROBES: Final = (Decimal(1000003), Decimal(7000019))
"""Two counter values an update is applied to (a step is the same on both)."""


@dataclass(frozen=True)
class Effect:
    """What one write does to one attribute: ``kind`` is ``assign`` (``value`` the
    number written, or None for no value or a value that is not a number),
    ``add`` (``value`` the step; ``start`` what it gives an absent attribute, None
    when it fails on one), ``none`` (the attribute is not written) or ``unknown``."""

    kind: str
    value: Decimal | None = None
    start: Decimal | None = None


UNKNOWN: Final = Effect("unknown")
UNTOUCHED: Final = Effect("none")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return Decimal(value)


def _paths_read(node: Any) -> Iterator[Any]:
    """Every document path a SET value reads (``if_not_exists``'s path included)."""
    from replicheck.models.items.expressions.nodes import (
        Arithmetic,
        IfNotExists,
        ListAppend,
        Path,
    )

    if isinstance(node, Path):
        yield node
    elif isinstance(node, IfNotExists):
        yield node.path
        yield from _paths_read(node.default)
    elif isinstance(node, ListAppend):
        yield from _paths_read(node.first)
        yield from _paths_read(node.second)
    elif isinstance(node, Arithmetic):
        yield from _paths_read(node.left)
        yield from _paths_read(node.right)


def _update_effect(request: Update, attribute: str) -> Effect:
    from replicheck.models.items.expressions import apply_update
    from replicheck.models.items.expressions.nodes import SetAction
    from replicheck.models.items.expressions.parser import parse_update
    from replicheck.models.items.expressions.paths import resolve_path

    try:
        parsed = parse_update(request.update)
        names = dict(request.names or {})
        touching = [a for a in parsed.actions
                    if resolve_path(a.path, names)[0] == attribute]
        if not touching:
            return UNTOUCHED
        for action in touching:
            if len(action.path.elements) != 1:
                return UNKNOWN  # a nested path under the attribute
            if isinstance(action, SetAction) and any(
                    resolve_path(p, names) != (attribute,) for p in _paths_read(action.value)):
                return UNKNOWN  # the value written depends on another attribute
    except Exception:
        return UNKNOWN

    def after(value: Decimal | None) -> tuple[bool, Any]:
        item = {} if value is None else {attribute: value}
        try:
            return True, apply_update(parsed, item, request.names, request.values).get(
                attribute)
        except Exception:
            return False, None

    results = [after(v) for v in _PROBES]
    if not all(ok for ok, _ in results):
        return UNKNOWN
    written = [_number(v) for _, v in results]
    applied, from_absent = after(None)
    start = _number(from_absent) if applied else None
    low, high = written
    if low is None and high is None:
        same = results[0][1] == results[1][1] and (not applied or from_absent == results[0][1])
        return Effect("assign") if same else UNKNOWN  # a value that is not a number
    if low is not None and high is not None:
        with localcontext() as exact:
            exact.prec = PRECISION
            step = low - _PROBES[0]
            if step == high - _PROBES[1] and (not applied or start is not None):
                return Effect("add", step, start)
        if low == high and applied and start == low:
            return Effect("assign", low)
    return UNKNOWN


def effect_on(request: Put | Update | Delete, attribute: str) -> Effect:
    """What ``request`` (one write, of any item) does to ``attribute`` (module
    docstring)."""
    if isinstance(request, Put):
        return Effect("assign", _number(request.item.get(attribute)))
    if isinstance(request, Delete):
        return Effect("assign")
    return _update_effect(request, attribute)


def reachable(value: Decimal, effects: Iterable[Effect]) -> bool | None:
    """Whether ``value`` is ``base + sum(S)`` for the writes ``effects`` of one item
    (each applied at most once; module docstring); None when that is not judged (an
    unknown write, no base at all, too many sums)."""
    with localcontext() as exact:
        exact.prec = PRECISION
        return _reachable(value, effects)


def _reachable(value: Decimal, effects: Iterable[Effect]) -> bool | None:
    bases: set[Decimal] = set()
    steps: list[Decimal] = []
    for effect in effects:
        if effect.kind == "unknown":
            return None
        if effect.kind == "assign" and effect.value is not None:
            bases.add(effect.value)
        elif effect.kind == "add":
            assert effect.value is not None
            steps.append(effect.value)
            if effect.start is not None:
                bases.add(effect.start - effect.value)
    if not bases:
        return None
    sums = {Decimal(0)}
    for step in steps:
        sums |= {s + step for s in sums}
        if len(sums) > MAX_SUMS:
            return None
    return any(value - base in sums for base in bases)


# -- judging a history -------------------------------------------------------------------


def _writes(history: History, schema: TableSchema) -> dict[str, list[Put | Update | Delete]]:
    """The single-item writes of ``schema``'s table (transactions' actions included)
    that did not definitely fail, by key text."""
    from replicheck.histories.items import request_of

    out: dict[str, list[Put | Update | Delete]] = {}

    def add(write: Put | Update | Delete) -> None:
        if write.table != schema.name:
            return
        source = write.item if isinstance(write, Put) else write.key
        text = key_text(tuple(source.get(a) for a in schema.key_attributes))
        out.setdefault(text, []).append(write)

    for op in history.operations:
        if op.status == FAIL:
            continue
        try:
            request: Request = request_of(op)
        except Exception:
            continue
        if isinstance(request, Put | Update | Delete):
            add(request)
        elif isinstance(request, TransactWrite):
            for action in request.actions:
                if isinstance(action, Put | Update | Delete):
                    add(action)
    return out


def _seen_items(history: History, schema: TableSchema) -> Iterator[tuple[str, str, Any]]:
    """Every item a replica held or a client read, as (key text, where, item): the
    versions of every ``replicas`` observation of the table, and the items of ``ok``
    answers that carry the key."""
    for record in history.observations:
        value = record.value
        if record.f != "replicas" or not isinstance(value, Mapping) \
                or value.get("table") != schema.name:
            continue
        for node, held in sorted((value.get("replicas") or {}).items()):
            if not isinstance(held, Mapping):
                continue
            for key, entry in held.items():
                if not isinstance(entry, Mapping):
                    continue
                wires = ([s.get("value") for s in entry["siblings"] if isinstance(s, Mapping)]
                         if isinstance(entry.get("siblings"), list) else [entry.get("value")])
                for wire in wires:
                    yield str(key), f"{node} holds", wire
    for op in history.operations:
        if op.status != OK or not isinstance(op.output, Mapping):
            continue
        for wire in _answered_items(op, schema.name):
            item = _item_of(wire)
            if item is None or not all(a in item for a in schema.key_attributes):
                continue  # not an item, or no key (UPDATED_NEW)
            text = key_text(tuple(item[a] for a in schema.key_attributes))
            yield text, f"operation {op.id} ({op.f}) read", wire


def _answered_items(op: Any, table: str) -> list[Any]:
    """The items ``op``'s answer returned from ``table``: a read's item, a write's
    returned values, each of a TransactGetItems' items whose get names ``table``."""
    from replicheck.histories.items import request_of
    from replicheck.models.items.requests import Get, TransactGet

    try:
        request = request_of(op)
    except Exception:
        return []
    out = []
    if isinstance(request, Get | Put | Update | Delete) and request.table == table:
        out.append(op.output.get("item"))
    if isinstance(request, TransactGet):
        for get, item in zip(request.gets, op.output.get("items") or (), strict=False):
            if get.table == table:
                out.append(item)
    return out


def _item_of(value: Any) -> dict[str, Any] | None:
    """The item ``value`` holds: DynamoDB JSON, or an item of plain values (as a
    leader store's replica snapshot holds them); None for anything else."""
    if not isinstance(value, Mapping):
        return None
    try:
        return dict(item_from_wire(value, what=None))
    except Exception:
        return dict(value) if all(isinstance(k, str) for k in value) else None


def reapplied_values(history: History, schema: TableSchema) -> list[str]:
    """Each numeric attribute value that a replica of ``schema``'s table held, or a
    client read, that no set of distinct writes of its item that did not definitely
    fail produces (module docstring), in words; empty when every counter adds up."""
    writes = _writes(history, schema)
    key_attributes = set(schema.key_attributes)
    problems: list[str] = []
    judged: dict[tuple[str, str, Decimal], bool | None] = {}
    effects: dict[tuple[str, str], list[Effect]] = {}
    for key, where, wire in _seen_items(history, schema):
        item = _item_of(wire)
        if key not in writes or item is None:
            continue
        for attribute, raw in sorted(item.items()):
            value = _number(raw)
            if value is None or attribute in key_attributes:
                continue
            found = (key, attribute, value)
            if found not in judged:
                if (key, attribute) not in effects:  # each write classified once
                    effects[(key, attribute)] = [effect_on(w, attribute) for w in writes[key]]
                judged[found] = reachable(value, effects[(key, attribute)])
                if judged[found] is False:
                    problems.append(
                        f"key {key}: {where} {attribute} = {value}, which no set of its "
                        f"writes that did not fail, each applied once, produces (a request "
                        f"applied twice)")
    return problems
