"""Every version a replica holds was produced by a client write.

The lost-write rule lets a version "at least as new" as an acknowledged write
supersede it. That is only sound when the superseding version is itself real: a
version no client write produced (a hint replayed with a fresh timestamp, a merge
that invents a clock) supersedes anything and hides a lost write. So, in a
``replicas`` snapshot, :func:`unwritten_versions` checks each entry against the
writes of the item history that did not definitely fail (``ok`` or ``info``):

- a last-writer-wins entry (``{"value", "version"}``) and each dotted sibling
  (``{"value", "dot"}``) carries the version (the dot) an ``ok`` write answered
  with; or else it is explained by a write whose version the history does not know
  (an ``info`` write, a write answered without version metadata, a transaction
  without ``writes`` versions) of the same key, and of the same value when that
  write's value is known; one such write explains one distinct version, never two;
- a dotted entry's causal context (``clock``) covers only dots that writes of the
  key produced: every dot up to the contexts the replicas hold (and every sibling's
  dot) is a known write's dot, or one of the key's writes of unknown version
  accounts for it, one write per dot (a merge of real versions never goes beyond the
  dots it merges; a dot counter counts the writes its node coordinated on the key);
- a dotted sibling carries its write's context, and a known write's dot that an
  entry's context covers but that entry does not hold was seen by some write's
  context (only a write that saw a version supersedes it; any write of the key of
  unknown context excuses this).

Entries are matched to writes by key text (:func:`key_text` of the key tuple) and by
canonical value (DynamoDB JSON decoded first). A key with a transaction or update of
unknown value takes that write as explaining any value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from replicheck.histories.checkers.sessions import canonical
from replicheck.histories.history import FAIL, History, Operation
from replicheck.models.items.values import item_from_wire, key_text

__all__ = ["KeyWrites", "unwritten_versions", "writes_by_key"]

ANY_VALUE = "*"
"""The value of a write whose written value is unknown (it explains any value)."""


@dataclass
class KeyWrites:
    """What the non-failed writes of one key produced: the versions and dots ``ok``
    writes answered with, the value each known dot wrote, and the values of the
    writes whose version is unknown (:data:`ANY_VALUE` when the value is unknown
    too)."""

    versions: set[str] = field(default_factory=set)
    dots: dict[tuple[str, int], str] = field(default_factory=dict)
    contexts: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


def _value_text(item: Any) -> str:
    return canonical(None if item is None else dict(item))


def _wire_value_text(value: Any) -> str:
    if value is None:
        return canonical(None)
    try:
        return canonical(dict(item_from_wire(value, what=None)))
    except Exception:
        return canonical(value)


def _dot(raw: Any) -> tuple[str, int] | None:
    if isinstance(raw, list | tuple) and len(raw) == 2:
        try:
            return str(raw[0]), int(raw[1])
        except (TypeError, ValueError):
            return None
    return None


def _clock(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return {str(k): int(v) for k, v in raw.items() if int(v) > 0}
    except (TypeError, ValueError):
        return None


def _dropped_unseen(key: str, node: str, entry: Mapping[str, Any], known: KeyWrites
                    ) -> list[str]:
    """The problems of a dotted ``entry``: a sibling carrying another context than
    its write's, a known write's dot its context covers, not held, that no write's
    context covered (only a write that saw a version supersedes it)."""
    problems = []
    held: set[tuple[str, int]] = set()
    for sibling in entry.get("siblings") or ():
        if not isinstance(sibling, Mapping):
            continue
        dot = _dot(sibling.get("dot"))
        if dot is None:
            continue
        held.add(dot)
        wanted, carried = known.contexts.get(dot), _clock(sibling.get("clock"))
        if wanted is not None and carried is not None and carried != wanted:
            problems.append(f"key {key}: {node} holds the sibling {dot[0]}:{dot[1]} with "
                            f"context {canonical(carried)}, its write's was "
                            f"{canonical(wanted)} (a clock invented by a merge)")
    clock = _clock(entry.get("clock")) or {}
    if known.unknown:
        return problems  # a write of unknown context may have seen any version
    for dot in sorted(known.dots):
        if dot in held or clock.get(dot[0], 0) < dot[1]:
            continue
        if not any(c.get(dot[0], 0) >= dot[1] for c in known.contexts.values()):
            problems.append(f"key {key}: {node}'s causal context {canonical(clock)} covers "
                            f"the write {dot[0]}:{dot[1]}, which it does not hold and no "
                            "write's context saw (a clock invented by a merge hides it)")
    return problems


def writes_by_key(history: History, table: str) -> dict[str, KeyWrites]:
    """The :class:`KeyWrites` of every key of ``table`` (by key text) that a write
    of ``history`` not definitely failed addresses."""
    from replicheck.histories.items import request_of, schemas_from_json
    from replicheck.models.items.requests import (
        ConditionCheck,
        Delete,
        Put,
        TransactWrite,
        Update,
    )

    schemas = {}
    for record in history.observations:
        if record.f == "tables":
            schemas = {s.name: s for s in schemas_from_json(record.value)}
    schema = schemas.get(table)
    out: dict[str, KeyWrites] = {}
    if schema is None:
        return out

    def key_of(action: Any) -> str:
        source = action.item if isinstance(action, Put) else action.key
        return key_text(tuple(source.get(a) for a in schema.key_attributes))

    def written(action: Any) -> str:
        if isinstance(action, Put):
            return _value_text(action.item)
        if isinstance(action, Delete):
            return _value_text(None)
        return ANY_VALUE

    for op in history.operations:
        if op.status == FAIL or op.f in ("get-strong", "get-eventual", "transact-get"):
            continue
        try:
            request = request_of(op)
        except Exception:
            continue
        if isinstance(request, TransactWrite):
            _transaction(op, request, table, key_of, written, out, ConditionCheck)
            continue
        if not isinstance(request, Put | Update | Delete) or request.table != table:
            continue
        _single(op, key_of(request), written(request), out.setdefault(key_of(request),
                                                                      KeyWrites()))
    return out


def _single(op: Operation, key: str, value: str, writes: KeyWrites) -> None:
    if op.status == "ok" and op.meta.get("dot") is not None and _dot(op.meta["dot"]):
        dot = _dot(op.meta["dot"])
        assert dot is not None
        item = op.meta.get("item")
        writes.dots[dot] = value if item is None else _value_text(item)
        context = _clock(op.meta.get("clock"))
        if context is not None:
            writes.contexts[dot] = context
    elif op.status == "ok" and op.meta.get("version") is not None:
        writes.versions.add(canonical(op.meta["version"]))
    else:
        writes.unknown.append(value)


def _transaction(op: Operation, request: Any, table: str, key_of: Any, written: Any,
                 out: dict[str, KeyWrites], condition_check: type) -> None:
    known = op.meta.get("writes") if op.status == "ok" else None
    if isinstance(known, list):
        for entry in known:
            if isinstance(entry, Mapping) and entry.get("table") == table:
                writes = out.setdefault(key_text(tuple(entry.get("key") or ())), KeyWrites())
                if entry.get("version") is not None:
                    writes.versions.add(canonical(entry["version"]))
                else:
                    writes.unknown.append(ANY_VALUE)
        return
    for action in request.actions:
        if isinstance(action, condition_check) or action.table != table:
            continue
        out.setdefault(key_of(action), KeyWrites()).unknown.append(written(action))


def _explain(unexplained: list[tuple[str, str]], writes: KeyWrites) -> list[str]:
    """The distinct versions (name, value) that no write of unknown version can
    explain, one write per version: exact values first, then writes of any value."""
    left = Counter(writes.unknown)
    missing = []
    for name, value in unexplained:
        if left[value] > 0:
            left[value] -= 1
        else:
            missing.append((name, value))
    still = []
    for name, _ in missing:
        if left[ANY_VALUE] > 0:
            left[ANY_VALUE] -= 1
        else:
            still.append(name)
    return still


def unwritten_versions(snapshot: Mapping[str, Any], writes: Mapping[str, KeyWrites]
                       ) -> list[str]:
    """What ``snapshot`` (a ``replicas`` observation) holds that no write produced, as
    explanations (module docstring); empty when every version is a write's."""
    problems: list[str] = []
    replicas = snapshot.get("replicas") or {}
    keys = sorted({k for held in replicas.values() if isinstance(held, Mapping) for k in held})
    for key in keys:
        known = writes.get(key, KeyWrites())
        unexplained: dict[str, tuple[str, str]] = {}
        holders: dict[str, list[str]] = {}
        highest: dict[str, int] = {}
        sibling_dots: set[tuple[str, int]] = set()
        for node, held in sorted(replicas.items()):
            entry = held.get(key) if isinstance(held, Mapping) else None
            if not isinstance(entry, Mapping):
                continue
            for name, value in _entry_versions(entry, known):
                unexplained.setdefault(name, (name, value))
                holders.setdefault(name, []).append(node)
            for sibling in entry.get("siblings") or ():
                dot = _dot(sibling.get("dot")) if isinstance(sibling, Mapping) else None
                if dot is not None:
                    sibling_dots.add(dot)
            if isinstance(entry.get("siblings"), list):
                problems.extend(_dropped_unseen(key, node, entry, known))
            clock = entry.get("clock")
            if isinstance(clock, Mapping):
                for replica, counter in clock.items():
                    try:
                        highest[str(replica)] = max(highest.get(str(replica), 0), int(counter))
                    except (TypeError, ValueError):
                        continue
        for name in _explain(list(unexplained.values()), known):
            problems.append(
                f"key {key}: {', '.join(holders[name])} hold(s) {name}, which no write "
                "that did not fail produced")
        invented = sorted(({(replica, c) for replica, top in highest.items()
                           for c in range(1, top + 1)} | sibling_dots) - set(known.dots))
        if len(invented) > len(known.unknown):
            shown = ", ".join(f"{r}:{c}" for r, c in invented[:4])
            problems.append(
                f"key {key}: the replicas' versions and causal contexts cover dot(s) "
                f"{shown}{' and more' if len(invented) > 4 else ''} that no write of the "
                f"key produced ({len(invented)} unknown dot(s), {len(known.unknown)} "
                "write(s) of unknown version to account for them): a clock invented by "
                "a merge")
    return problems


def _entry_versions(entry: Mapping[str, Any], known: KeyWrites) -> list[tuple[str, str]]:
    """The versions of ``entry`` no ``ok`` write answered with: (name, value text)."""
    out = []
    if isinstance(entry.get("siblings"), list):
        for sibling in entry["siblings"]:
            if not isinstance(sibling, Mapping):
                continue
            dot = _dot(sibling.get("dot"))
            value = _wire_value_text(sibling.get("value"))
            if dot is None or dot not in known.dots:
                out.append((f"the sibling dot {dot[0]}:{dot[1]}" if dot else
                            "a sibling without dot", value))
        return out
    version = entry.get("version")
    if version is not None and canonical(version) not in known.versions:
        out.append((f"the version {canonical(version)}", _wire_value_text(entry.get("value"))))
    return out
