"""The JSON report of ``replicheck verify``: one object with everything the suite found.

:func:`suite_to_json` turns a :class:`~replicheck.properties.outcomes.SuiteOutcome`
into plain JSON data (dicts, lists, strings, numbers, booleans, null); it formats
values and never reruns a checker. The same outcome always gives the same object.

Schema (``"schema": 1``)
------------------------

The top-level object:

``schema``
    integer, :data:`JSON_SCHEMA_VERSION`; it changes only when a key below changes
    meaning or goes away (new keys may appear without a change).
``profile``
    the Hypothesis profile the suite ran under (``quick``, ``ci``, ``thorough``).
``started``
    when the run started, ISO 8601 UTC (``""`` when unknown).
``seconds``
    the run's wall time, rounded to milliseconds.
``result``
    ``"holds"``, ``"violated"``, or for exit status 3 what left a claim undecided:
    ``"unknown"`` (a checker's time limit), ``"unchecked"`` (no example judged it) or
    ``"unknown and unchecked"``: the overall result.
``exit_status``
    the exit status of ``replicheck verify`` (0, 1 or 3: 3 when nothing is violated but
    a claimed guarantee is ``unknown`` or ``unchecked``), and ``exit_meaning`` what it
    means in words.
``columns``
    the guarantee IDs of the matrix, in report order (GUARANTEES then
    MECHANISM_PROMISES, then the anomaly columns ``lost-update`` and ``stale-read``,
    never claimed); ``columns_left_out`` those not applicable for every store
    (their cells are still listed under each store).
``stores``
    one object per store checked, in run order:

    ``target``
        the store as given to ``--store`` (a preset, ``mutant:NAME``,
        ``package.module:factory``); ``name`` its descriptor name.
    ``claims``
        the guarantee IDs the store claims.
    ``cells``
        an object keyed by guarantee ID: ``status`` (``holds``, ``violated``,
        ``observed``, ``unknown``, ``unchecked``, ``not-applicable``), ``claimed``
        (boolean), ``counts`` (examples per judgement status; absent statuses are 0),
        ``examples`` (examples that judged it, not-applicable excluded), ``reason``,
        ``checker`` (the checker that decided it, in words, e.g. ``"Elle item
        checker: serializable"`` or ``"item linearizability (WGL)"``; several joined
        by ``"; "`` when several properties judged it; ``""`` when none did) and
        ``text`` (the cell as the Markdown and HTML reports write it).
        ``unchecked`` is a claimed guarantee no example judged (``examples`` is 0):
        ``reason`` says why (the capability the store lacks without which no property
        can check it, the properties skipped and why, or that no example held
        anything it speaks about); it is never ``holds``, and it makes the exit
        status 3. ``not-applicable`` is only ever an unclaimed guarantee.
    ``properties``
        one object per property run: ``name``, ``status`` (``passed``, ``failed``,
        ``skipped``, ``error``: ``error`` also when the store broke the contract, i.e.
        answered with the wrong type, raised outside its typed errors, or a call did
        not return within ``--call-timeout``), ``guarantees`` (IDs it checks),
        ``reason`` (why skipped, or the failure's first line: for ``error``, one line
        naming the call and what it returned or raised), ``examples``, ``seconds``
        (the property's own wall time) and
        ``counterexample`` (a counterexample object when it failed, else null).
    ``violations``
        the counterexamples of the failed properties (the same objects as under
        ``properties``), and ``observations`` the counterexamples of the anomalies seen
        on guarantees the store does not claim.

Operation ids
-------------

An operation's ``id`` is its invocation index: the number of client invocation
records before it in the history as read (0 for the first ``invoke`` of an integer
process, 1 for the next, ...; completions, fault records such as Jepsen's
``:nemesis`` and ``observe`` records are not counted, nor is a record the reader
skipped, as ``--lenient`` skips a broken one). It is assigned when invocations are
paired with their completions and never changes: a checker that sees part of a
history (the reads a claim covers, the single-item operations, the functions a model
knows) names the same operations as the whole history. Every ``ops`` of an anomaly,
every ``witness``, the operation numbers inside an anomaly's ``data`` or a
``counterexample`` (a cycle step's ``from`` and ``to``, an operation's ``id``), and
the ``id`` of each operation under ``history`` here is such an id; the HTML reports
mark exactly the bars of those ids (``data-op`` on each bar of a timeline). The
record an operation came from is found by its ``call``: the invocation record's
index (in JSON lines the ``index`` field, by default the record's position among the
file's records, 0 first, blank and ``#`` lines not counted; in EDN Jepsen's
``:index``, by default the position; in a Jepsen log the position of the operation
line among the log's operation lines). ``replicheck check --json`` adds both to each
anomaly (see :func:`check_to_json`): ``records``, the ``call`` of each of its
``ops`` (in the same order), and ``lines``, the line of the file each invocation
record starts on (1 first; null when not read from a file).

A counterexample object: ``property``, ``guarantee``, ``explanation``, ``steps`` (the
example's steps in words, in order), ``decisions`` (one scheduler decision = one step
for a schedulable store, one client operation or fault = one step for a threaded one;
null when not counted), ``history`` (null, or a list of operations, each ``id``,
``process``, ``f``, ``key``, ``input``, ``output``, ``status`` (``ok``, ``fail``,
``info``), ``call`` and ``ret`` (record indexes; ``ret`` null when it never
completed), ``call_time``, ``ret_time``, ``error``), ``verdict`` (null, or the
checker's Verdict as ``replicheck check --json`` prints it, with its own ``schema``,
without ``records`` and ``lines``: ``history`` gives each operation's ``call``),
``replay`` (the replayable schedule's file relative to the report directory,
``replay/<store>-<property>-<guarantee>.json``, run with ``replicheck replay FILE``;
null when the store is not schedulable) and ``reproduce`` (Hypothesis's
``@reproduce_failure(...)`` decorator, or null).

A verdict's anomalies (here and in ``replicheck check --json``) are objects ``type``,
``ops`` (operation ids), ``explanation`` and, when the checker gives structure, ``data``.
A ``not-linearizable`` anomaly's ``data`` (written by
``histories/checkers/partial_linearization.py``; operation ids are the operations'
own):

``key``
    the key (its ``repr``) of the part of the history that fails, null without keys;
    ``key_text`` the key as the explanation names it.
``prefix``
    a maximal partial linearization: the longest linearizable prefix the search
    reached, extended while any operation can come next; a list of objects ``op``,
    ``operation`` (in the model's words, e.g. ``read -> 1``), ``process``, ``client``
    (who invoked it, in words) and ``state`` (the state after it). ``prefix_length``
    counts them; ``initial_state`` is the state before the first.
``unplaceable``
    the operation that cannot be placed after the prefix: ``op``, ``operation``,
    ``process``, ``client``, ``state`` (the state the prefix leaves, in words) and
    ``doomed`` (true: nothing left could make it possible before it returns; false: it
    must come next and the model refuses it). Its id is ``ops[0]``.
``pending``
    the other operations that must take effect and could come next, all refused
    (``op``, ``operation``, ``process``, ``client``); their ids follow in ``ops``.
``explaining_writes``
    (when the model knows what could produce the observation: registers, kv) each
    operation that could have produced what ``unplaceable`` observed: ``op``,
    ``operation``, ``process``, ``client`` and ``reason``: ``began-after`` (``at``: its
    invocation record, ``ended``: the observation's completion record),
    ``overwritten`` (``by``, ``by_operation``: an overwrite that began after it ended
    and ended before the observation began), ``in-prefix`` (``position``, 1-based, and
    ``changed_by``: the first later prefix operation after which the state differs,
    or null), ``must-follow`` (``after``: an operation not in the prefix that ended
    before it began) or ``refused`` (the model does not allow it after the prefix).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from replicheck.histories.history import History, Operation
from replicheck.histories.verdict import Verdict
from replicheck.models.equality import Char, Keyword, Symbol
from replicheck.properties.outcomes import (
    Cell,
    Counterexample,
    PropertyRun,
    StoreOutcome,
    SuiteOutcome,
)
from replicheck.reports.escaping import text_of
from replicheck.reports.naming import (
    EXIT_MEANINGS,
    cell_text,
    matrix_columns,
    overall_result,
    replay_file_name,
)

__all__ = [
    "JSON_SCHEMA_VERSION",
    "VALUE_DEPTH",
    "check_to_json",
    "counterexample_to_json",
    "format_value",
    "history_to_json",
    "jsonable",
    "replay_file_name",
    "suite_to_json",
]

JSON_SCHEMA_VERSION: Final = 1
"""The version of the report's JSON shape (the module docstring documents it)."""

VALUE_DEPTH: Final = 100
"""How many levels of a value's nesting :func:`format_value` shows."""


def suite_to_json(outcome: SuiteOutcome) -> dict[str, Any]:
    """The whole outcome as the JSON object the module docstring documents."""
    shown, dropped = matrix_columns(outcome)
    return {
        "schema": JSON_SCHEMA_VERSION,
        "profile": outcome.profile,
        "started": outcome.started,
        "seconds": round(outcome.seconds, 3),
        "result": overall_result(outcome),
        "exit_status": outcome.exit_status,
        "exit_meaning": EXIT_MEANINGS.get(outcome.exit_status, ""),
        "columns": list(shown),
        "columns_left_out": list(dropped),
        "stores": [_store(s) for s in outcome.stores],
    }


def _store(store: StoreOutcome) -> dict[str, Any]:
    return {
        "target": store.target,
        "name": store.name,
        "claims": list(store.claims),
        "cells": {c.guarantee: _cell(c) for c in store.cells},
        "properties": [_property(store.target, p) for p in store.properties],
        "violations": [counterexample_to_json(c, store.target) for c in store.violations],
        "observations": [counterexample_to_json(c, store.target)
                         for c in store.observations],
    }


def _cell(cell: Cell) -> dict[str, Any]:
    return {
        "status": cell.status,
        "claimed": cell.claimed,
        "counts": {k: cell.counts[k] for k in sorted(cell.counts)},
        "examples": cell.examples,
        "reason": cell.reason,
        "checker": cell.checker,
        "text": cell_text(cell),
    }


def _property(target: str, run: PropertyRun) -> dict[str, Any]:
    return {
        "name": run.name,
        "status": run.status,
        "guarantees": list(run.guarantees),
        "reason": run.reason,
        "examples": run.examples,
        "seconds": round(run.seconds, 3),
        "counterexample": (None if run.counterexample is None
                           else counterexample_to_json(run.counterexample, target)),
    }


def counterexample_to_json(example: Counterexample, store_target: str) -> dict[str, Any]:
    """One counterexample of the store ``store_target`` as the JSON object the module
    docstring documents."""
    return {
        "property": example.property,
        "guarantee": example.guarantee,
        "explanation": example.explanation,
        "steps": list(example.steps),
        "decisions": example.decisions,
        "history": None if example.history is None else history_to_json(example.history),
        "verdict": None if example.verdict is None else example.verdict.to_json(),
        "replay": (None if example.schedule is None
                   else replay_file_name(store_target, example.property, example.guarantee)),
        "reproduce": example.reproduce,
    }


def check_to_json(verdict: Verdict, history: History | None) -> dict[str, Any]:
    """The verdict as ``replicheck check --json`` prints it: ``Verdict.to_json()``,
    with each anomaly (those of ``parts`` too) given ``records`` and ``lines``: the
    invocation record index (``call``) and the line of each of its ``ops`` in
    ``history``, the history as read (null for an id it lacks, and for the line of a
    history not read from a file). The module docstring's "Operation ids" says what
    the numbers are."""
    out = verdict.to_json()
    if history is not None:
        _locate(out, verdict, history)
    return out


def _locate(out: dict[str, Any], verdict: Verdict, history: History) -> None:
    for shown, anomaly in zip(out["anomalies"], verdict.anomalies, strict=True):
        found = [_find(history, i) for i in anomaly.ops]
        shown["records"] = [None if op is None else op.call for op in found]
        shown["lines"] = [None if op is None else op.line for op in found]
    for name, part in verdict.parts.items():
        _locate(out["parts"][name], part, history)


def _find(history: History, op_id: int) -> Operation | None:
    try:
        return history.operation(op_id)
    except KeyError:
        return None


def history_to_json(history: History) -> list[dict[str, Any]]:
    """The history's operations as JSON objects, in invocation order."""
    return [_operation(op) for op in history.operations]


def _operation(op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "process": jsonable(op.process),
        "f": op.f,
        "key": jsonable(op.key),
        "input": jsonable(op.input),
        "output": jsonable(op.output),
        "status": op.status,
        "call": op.call,
        "ret": op.ret,
        "call_time": op.call_time,
        "ret_time": op.ret_time,
        "error": jsonable(op.error),
    }


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: tuples become lists, sets sorted lists, mapping keys
    strings, values with ``to_json`` their JSON, dataclasses objects, anything else
    its ``str``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=repr)
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "__dataclass_fields__"):
        return {k: jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    return str(value)


def format_value(value: Any) -> str:
    """A value as compact JSON text for a report cell: ``null``, ``true``, numbers,
    JSON strings, ``[a, b]``, ``{"k": v}`` (sets as lists sorted by their text, values
    with ``to_json`` as their JSON, dataclasses as objects, anything else as the JSON
    string of its ``str``). Three things keep it total for any value a history holds,
    and readable: an EDN keyword is ``:name`` (not the string ``"name"``), what is
    nested deeper than :data:`VALUE_DEPTH` levels is ``…``, and an integer too long
    for Python to write in decimal is ``<integer of N bits>``."""
    out: list[str] = []
    _format(value, VALUE_DEPTH, out)
    return "".join(out)


def _format(value: Any, depth: int, out: list[str]) -> None:
    if depth < 0:
        out.append("…")
    elif value is None or isinstance(value, bool | float):
        out.append(json.dumps(value))
    elif isinstance(value, int):
        out.append(text_of(value))
    elif isinstance(value, Keyword | Symbol | Char):
        out.append(repr(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Mapping):
        _join(out, "{", "}", [(json.dumps(text_of(k), ensure_ascii=False) + ": ", v)
                              for k, v in value.items()], depth)
    elif isinstance(value, list | tuple):
        _join(out, "[", "]", [("", v) for v in value], depth)
    elif isinstance(value, set | frozenset):
        out.append("[" + ", ".join(sorted(_formatted(v, depth - 1) for v in value))
                   + "]")
    elif hasattr(value, "to_json"):
        _format(value.to_json(), depth - 1, out)
    elif hasattr(value, "__dataclass_fields__"):
        _format({k: getattr(value, k) for k in value.__dataclass_fields__}, depth, out)
    else:
        out.append(json.dumps(text_of(value), ensure_ascii=False))


def _formatted(value: Any, depth: int) -> str:
    """The text of a value with ``depth`` more levels to show."""
    out: list[str] = []
    _format(value, depth, out)
    return "".join(out)


def _join(out: list[str], start: str, end: str, items: list[tuple[str, Any]],
          depth: int) -> None:
    out.append(start)
    for i, (prefix, item) in enumerate(items):
        out.append(", " + prefix if i else prefix)
        _format(item, depth - 1, out)
    out.append(end)
