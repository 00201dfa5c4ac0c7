"""Every version a replica holds was produced by a client write.

The lost-write rule lets a version "at least as new" as an acknowledged write
supersede it. That is only sound when the superseding version is itself real: a
version no client write produced (the value of a write that failed, a value mixed
into another write's version, a merge that invents a causal context) supersedes
anything and hides a lost write. So, in a
``replicas`` snapshot, :func:`unwritten_versions` checks each entry against the
writes of the item history that did not definitely fail (``ok`` or ``info``):

- a last-writer-wins entry (``{"value", "version"}``) and each dotted sibling
  (``{"value", "dot"}``) carrying the version (the dot) an ``ok`` write answered
  with holds that write's value;
- any other version holds the value of some write of the key that did not fail (a
  write whose answer was lost, or a request the network delivered twice: the
  reference stores coordinate a duplicated request again, under a new version, so
  one write may produce several versions and this rule cannot count them);
- a dotted sibling carries its write's context, and a known write's dot that an
  entry's context covers but that entry does not hold was seen by some write's
  context (only a write that saw a version supersedes it; any write of the key of
  unknown context excuses this).

Entries are matched to writes by key text (:func:`key_text` of the key tuple) and by
canonical value (DynamoDB JSON decoded first). A key with a transaction or update of
unknown value takes that write as explaining any value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from replicheck.histories.checkers.sessions import canonical
from replicheck.histories.history import FAIL, History, Operation
from replicheck.models.items.values import item_from_wire, key_text

__all__ = [
    "KeyWrites",
    "restamped_handoffs",
    "unwritten_versions",
    "version_names",
    "writes_by_key",
]

ANY_VALUE = "*"
"""The value of a write whose written value is unknown (it explains any value)."""


@dataclass
class KeyWrites:
    """What the non-failed writes of one key produced: the versions and dots ``ok``
    writes answered with (each with the value it wrote), the contexts of the dotted
    ones, the values of the writes whose version is unknown, and the values of every
    write (:data:`ANY_VALUE` for a value that is not known), and the values of the
    writes that may read the item before they write (an update, a transaction, a
    condition or returned values, a delete), whose coordination can stall between
    its read and its write."""

    versions: dict[str, str] = field(default_factory=dict)
    dots: dict[tuple[str, int], str] = field(default_factory=dict)
    contexts: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    values: set[str] = field(default_factory=set)
    reads_first: set[str] = field(default_factory=set)


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
    from replicheck.histories.items import declared_schemas, request_of
    from replicheck.models.items.requests import (
        ConditionCheck,
        Delete,
        Put,
        TransactWrite,
        Update,
    )

    schemas = declared_schemas(history) or {}
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
        writes = out.setdefault(key_of(request), KeyWrites())
        _single(op, key_of(request), written(request), writes)
        if not isinstance(request, Put) or request.condition is not None \
                or request.return_values != "NONE":
            writes.reads_first.add(written(request))
    return out


def _single(op: Operation, key: str, value: str, writes: KeyWrites) -> None:
    if "item" in op.meta:
        value = _value_text(op.meta["item"])
    writes.values.add(value)
    if op.status == "ok" and op.meta.get("dot") is not None and _dot(op.meta["dot"]):
        dot = _dot(op.meta["dot"])
        assert dot is not None
        writes.dots[dot] = value
        context = _clock(op.meta.get("clock"))
        if context is not None:
            writes.contexts[dot] = context
    elif op.status == "ok" and op.meta.get("version") is not None:
        writes.versions[canonical(op.meta["version"])] = value
    else:
        writes.unknown.append(value)


def _transaction(op: Operation, request: Any, table: str, key_of: Any, written: Any,
                 out: dict[str, KeyWrites], condition_check: type) -> None:
    known = op.meta.get("writes") if op.status == "ok" else None
    if isinstance(known, list):
        for entry in known:
            if isinstance(entry, Mapping) and entry.get("table") == table:
                writes = out.setdefault(key_text(tuple(entry.get("key") or ())), KeyWrites())
                value = (_value_text(None) if entry.get("delete") is True
                         else _value_text(entry["item"]) if "item" in entry else ANY_VALUE)
                writes.values.add(value)
                writes.reads_first.add(value)
                if entry.get("version") is not None:
                    writes.versions[canonical(entry["version"])] = value
                else:
                    writes.unknown.append(value)
        return
    for action in request.actions:
        if isinstance(action, condition_check) or action.table != table:
            continue
        writes = out.setdefault(key_of(action), KeyWrites())
        writes.unknown.append(written(action))
        writes.values.add(written(action))
        writes.reads_first.add(written(action))


def unwritten_versions(snapshot: Mapping[str, Any], writes: Mapping[str, KeyWrites]
                       ) -> list[str]:
    """What ``snapshot`` (a ``replicas`` observation) holds that no write produced, as
    explanations (module docstring); empty when every version is a write's."""
    problems: list[str] = []
    replicas = snapshot.get("replicas") or {}
    keys = sorted({k for held in replicas.values() if isinstance(held, Mapping) for k in held})
    for key in keys:
        known = writes.get(key, KeyWrites())
        holders: dict[str, list[str]] = {}
        for node, held in sorted(replicas.items()):
            entry = held.get(key) if isinstance(held, Mapping) else None
            if not isinstance(entry, Mapping):
                continue
            for name in _entry_versions(entry, known):
                holders.setdefault(name, []).append(node)
            if isinstance(entry.get("siblings"), list):
                problems.extend(_dropped_unseen(key, node, entry, known))
        problems.extend(f"key {key}: {', '.join(nodes)} hold(s) {name}"
                        for name, nodes in holders.items())
    return problems


def _entry_versions(entry: Mapping[str, Any], known: KeyWrites) -> list[str]:
    """What ``entry`` holds that no write that did not fail produced, in words."""
    out = []
    found: list[tuple[str, Any, str]] = []
    if isinstance(entry.get("siblings"), list):
        for sibling in entry["siblings"]:
            if isinstance(sibling, Mapping):
                dot = _dot(sibling.get("dot"))
                name = f"the sibling {dot[0]}:{dot[1]}" if dot else "a sibling without dot"
                found.append((name, known.dots.get(dot) if dot else None,
                              _wire_value_text(sibling.get("value"))))
    elif entry.get("version") is not None:
        version = canonical(entry["version"])
        found.append((f"the version {version}", known.versions.get(version),
                      _wire_value_text(entry.get("value"))))
    for name, written, value in found:
        if written is not None and written not in (value, ANY_VALUE):
            out.append(f"{name} with value {value}, but the write that produced it wrote "
                       f"{written} (a value mixed into another write's version)")
        elif written is None and value not in known.values and ANY_VALUE not in known.values:
            out.append(f"{name} with value {value}, which no write of the key that did not "
                       "fail wrote")
    return out


def restamped_handoffs(observation: Mapping[str, Any], writes: Mapping[str, KeyWrites]
                       ) -> list[str]:
    """What the owners of a ``hints`` observation with ``versions`` (taken on a copy
    of the store where every message was delivered before settling,
    :func:`~replicheck.properties.mechanisms.handoff_twin`) hold after settling that
    nobody held before: settling fires timers and delivers what they send, which
    moves versions between replicas and never makes one. So a version of a hinted
    key that an owner holds afterwards was held by some replica or fallback before,
    or holds the value of a write whose coordination may still have been running (a
    write of unknown version, or one that reads the item before it writes and may
    have stalled between the two); any other is a version nobody wrote (a hint
    restamped when handed off), as explanations. Empty when the observation has no
    ``versions``."""
    before = observation.get("versions")
    owners = observation.get("owners")
    if not isinstance(before, Mapping) or not isinstance(owners, Mapping):
        return []
    problems = []
    for owner, held in sorted(owners.items()):
        if not isinstance(held, Mapping):
            continue
        for key, entry in sorted(held.items()):
            known = set(before.get(key) or ())
            if not isinstance(entry, Mapping) or key not in before:
                continue
            excused = writes.get(key, KeyWrites())
            running = set(excused.unknown) | excused.reads_first
            for name, value in _named_versions(entry):
                if name in known or ANY_VALUE in running or value in running:
                    continue
                problems.append(
                    f"key {key}: after settling, {owner} holds {name[name.index(':') + 1:]} "
                    f"with value {value}, which no replica or fallback held before settling "
                    "and no write still coordinating could have made (a hinted write "
                    "handed off under a new version)")
    return problems


def version_names(entry: Any) -> set[str]:
    """The versions a replica or hinted ``entry`` holds, each named as text: a
    last-writer-wins version (``version:`` and its canonical JSON) or each dotted
    sibling's dot (``dot:node:n``); empty for no entry."""
    if not isinstance(entry, Mapping):
        return set()
    return {name for name, _ in _named_versions(entry)}


def _named_versions(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Each version ``entry`` holds (named as :func:`version_names` names it), with
    its value's canonical text."""
    if isinstance(entry.get("siblings"), list):
        return [(f"dot:{s['dot'][0]}:{s['dot'][1]}", _wire_value_text(s.get("value")))
                for s in entry["siblings"]
                if isinstance(s, Mapping) and isinstance(s.get("dot"), list | tuple)
                and len(s["dot"]) == 2]
    if entry.get("version") is not None:
        return [("version:" + canonical(entry["version"]),
                 _wire_value_text(entry.get("value")))]
    return []
