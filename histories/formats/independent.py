"""``jepsen.independent`` histories: ``[k v]`` tuples split into key and value.

Jepsen's independent workloads run one small history per key at once and write each
client value as a ``[k v]`` tuple. :func:`split_independent` turns such records into
keyed records; the rule of when a history "looks independent" is specified in
:mod:`replicheck.histories.formats.edn`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from replicheck.histories.formats.edn_values import show_edn
from replicheck.histories.history import FAIL, INFO, INVOKE, OBSERVE, OK, HistoryError, Record

__all__ = ["split_independent"]


def _is_tuple(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2 and not isinstance(value[0], bool)
            and isinstance(value[0], int | str))


def _looks_independent(records: list[Record]) -> bool:
    """Every client invocation holds a tuple (and not only ``cas``, whose ``[old new]``
    looks the same). Completions do not decide: an ``ok`` that does not answer for its
    invocation's key is an error of the split, not a sign that the whole history holds
    plain pairs (judged unsplit, an independent history's keys would all be one
    register, and its verdict wrong)."""
    functions: set[str] = set()
    invocations = 0
    for r in records:
        if r.type == OBSERVE or not r.is_client:
            continue
        if r.key is not None:
            return False
        if r.type == INVOKE:
            if not _is_tuple(r.value):
                return False
            functions.add(r.f)
            invocations += 1
    return invocations > 0 and not functions <= {"cas"}


def split_independent(records: list[Record], independent: bool | None, *,
                      source: str | None = None, lenient: bool = False,
                      errors: list[HistoryError] | None = None) -> list[Record]:
    """``records`` with ``jepsen.independent`` ``[k v]`` tuples split into key and value.

    ``independent``: True splits (every client invocation must hold a tuple), False
    returns ``records`` unchanged, None splits when the history looks independent (the
    rule is in the module docstring). Faults and observations are never touched. A
    malformed tuple is a :class:`HistoryError`; with ``lenient`` the record is dropped
    and the error appended to ``errors``."""
    if independent is False or (independent is None and not _looks_independent(records)):
        return records
    out: list[Record] = []
    keys: dict[Hashable, Any] = {}
    for r in records:
        if r.type == OBSERVE or not r.is_client:
            out.append(r)
            continue
        value = r.value
        problem: str | None = None
        if r.type == INVOKE:
            if _is_tuple(value):
                keys[r.process] = value[0]
                out.append(_with_key(r, value[0], value[1]))
                continue
            problem = (f"the value {show_edn(value)} of {r.f!r} is not a [key value] tuple; "
                       "expected jepsen.independent tuples in every client invocation")
        elif r.type in (OK, FAIL, INFO):
            key = keys.pop(r.process, None)
            if key is None:
                out.append(r)  # a completion without invocation: pair() reports it
                continue
            if _is_tuple(value) and value[0] == key:
                out.append(_with_key(r, key, value[1]))
                continue
            if not isinstance(value, list) or r.type != OK:
                out.append(_with_key(r, key, value))
                continue
            problem = (f"the value {show_edn(value)} of {r.f!r} ({r.type}) is not a tuple "
                       f"for the invoked key {show_edn(key)}; expected [{show_edn(key)} value]")
        else:
            out.append(r)
            continue
        error = HistoryError(problem, source=source, line=r.line)
        if not lenient:
            raise error
        if errors is not None:
            errors.append(error)
    return out


def _with_key(r: Record, key: Any, value: Any) -> Record:
    return Record(process=r.process, type=r.type, f=r.f, value=value, key=key, index=r.index,
                  time=r.time, error=r.error, meta=r.meta, line=r.line)
