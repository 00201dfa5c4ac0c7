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
    ``"holds"``, ``"violated"`` or ``"unknown"``: the overall result.
``exit_status``
    the exit status of ``replicheck verify`` (0, 1 or 3), and ``exit_meaning`` what it
    means in words.
``columns``
    the guarantee IDs of the matrix, in report order (GUARANTEES then
    MECHANISM_PROMISES); ``columns_left_out`` those not applicable for every store
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
        ``observed``, ``unknown``, ``not-applicable``), ``claimed`` (boolean),
        ``counts`` (examples per judgement status; absent statuses are 0),
        ``examples`` (examples that judged it, not-applicable excluded), ``reason``
        and ``text`` (the cell as the Markdown and HTML reports write it).
    ``properties``
        one object per property run: ``name``, ``status`` (``passed``, ``failed``,
        ``skipped``, ``error``), ``guarantees`` (IDs it checks), ``reason`` (why
        skipped, or the failure's first line), ``examples``, ``seconds`` and
        ``counterexample`` (a counterexample object when it failed, else null).
    ``violations``
        the counterexamples of the failed properties (the same objects as under
        ``properties``), and ``observations`` the counterexamples of the anomalies seen
        on guarantees the store does not claim.

A counterexample object: ``property``, ``guarantee``, ``explanation``, ``steps`` (the
example's steps in words, in order), ``decisions`` (one scheduler decision = one step
for a schedulable store, one client operation or fault = one step for a threaded one;
null when not counted), ``history`` (null, or a list of operations, each ``id``,
``process``, ``f``, ``key``, ``input``, ``output``, ``status`` (``ok``, ``fail``,
``info``), ``call`` and ``ret`` (record indexes; ``ret`` null when it never
completed), ``call_time``, ``ret_time``, ``error``), ``verdict`` (null, or the
checker's Verdict exactly as ``replicheck check --json`` prints it, with its own
``schema``), ``replay`` (the replayable schedule's file relative to the report
directory, ``replay/<store>-<property>-<guarantee>.json``, run with ``replicheck replay FILE``;
null when the store is not schedulable) and ``reproduce`` (Hypothesis's
``@reproduce_failure(...)`` decorator, or null).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from replicheck.histories.history import History, Operation
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
