"""Targeted edits of transactional histories: a valid history, changed in one place,
is often invalid, in a way close to the line between the two.

:func:`edit` applies one edit of :data:`EDITS`, chosen with the given
:class:`random.Random`, to the records of a history (list-append or rw-register):

- ``swap-read``: an ``ok`` read returns another value (rw-register: another value
  written to the key, nil, or one nobody wrote; list-append: a list with an element
  dropped, added, or two elements swapped);
- ``drop-write``: a write micro-operation disappears (from invocation and completion);
- ``reorder-completions``: two completions trade places in real time;
- ``ok-to-info`` / ``ok-to-fail``: an ``ok`` completion becomes indeterminate / failed;
- ``duplicate-value``: rw-register, a write takes the value of another write to its key;
  list-append, a read repeats one of its elements.

An edit that does not apply to the history (no read to change, ...) returns None.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from random import Random
from typing import Any, Final

from replicheck.histories.history import History, HistoryError, Record

from .generate_txn import NOBODY, from_records, records_of

EDITS: Final = ("swap-read", "drop-write", "reorder-completions", "ok-to-info", "ok-to-fail",
                "duplicate-value")
WEIGHTS: Final = (4, 2, 1, 1, 1, 2)
"""How often :func:`edit` picks each edit when none is named: the weakening edits
(``ok-to-info``, reordering) rarely break a history, so they are picked less."""

Records = list[Record]


def _with_value(r: Record, value: Any) -> Record:
    return Record(r.process, r.type, r.f, value, index=r.index)


def _invocation_of(records: Records, i: int) -> int:
    return max(j for j in range(i) if records[j].process == records[i].process
               and records[j].type == "invoke")


def _written(records: Records) -> dict[Hashable, list[Any]]:
    out: dict[Hashable, list[Any]] = {}
    for r in records:
        if r.type == "invoke":
            for f, k, v in r.value:
                if f != "r":
                    out.setdefault(k, []).append(v)
    return out


def _swap_read(rnd: Random, records: Records, workload: str) -> Records | None:
    spots = [(i, j) for i, r in enumerate(records) if r.type == "ok"
             for j, m in enumerate(r.value) if m[0] == "r"]
    if not spots:
        return None
    i, j = rnd.choice(spots)
    f, k, old = records[i].value[j]
    written = _written(records).get(k, [])
    if workload == "rw-register":
        choices = [v for v in [None, *written] if v != old or type(v) is not type(old)]
        new: Any = rnd.choice(choices) if choices and rnd.random() < 0.9 else NOBODY
    else:
        new = list(old or [])
        absent = [v for v in written if v not in new]
        roll = rnd.random()
        if roll < 0.35 and new:
            new.pop(rnd.randrange(len(new)))
        elif roll < 0.7 and absent:
            new.insert(rnd.randint(0, len(new)), rnd.choice(absent))
        elif len(new) >= 2:
            a = rnd.randrange(len(new) - 1)
            new[a], new[a + 1] = new[a + 1], new[a]
        else:
            new.append(NOBODY)
    value = [list(m) for m in records[i].value]
    value[j] = [f, k, new]
    out = list(records)
    out[i] = _with_value(records[i], value)
    return out


def _drop_write(rnd: Random, records: Records, workload: str) -> Records | None:
    spots = [(i, j) for i, r in enumerate(records) if r.type == "invoke"
             for j, m in enumerate(r.value) if m[0] != "r"]
    if not spots:
        return None
    i, j = rnd.choice(spots)
    ends = [c for c in range(i + 1, len(records)) if records[c].process == records[i].process]
    end = ends[0] if ends else None
    out = list(records)
    for at in (i, end):
        if at is not None:
            out[at] = _with_value(records[at], [m for q, m in enumerate(records[at].value)
                                                if q != j])
    if not out[i].value:
        out = [r for q, r in enumerate(out) if q not in (i, end)]
    return out


def _reorder(rnd: Random, records: Records, workload: str) -> Records | None:
    ends = [i for i, r in enumerate(records) if r.type != "invoke"]
    pairs = [(a, b) for a in ends for b in ends
             if a < b and records[a].process != records[b].process
             and _invocation_of(records, b) < a]
    if not pairs:
        return None
    a, b = rnd.choice(pairs)
    out = list(records)
    out[a], out[b] = records[b], records[a]
    return out


def _to(status: str) -> Callable[[Random, Records, str], Records | None]:
    def change(rnd: Random, records: Records, workload: str) -> Records | None:
        oks = [i for i, r in enumerate(records) if r.type == "ok"]
        if not oks:
            return None
        i = rnd.choice(oks)
        invoked = records[_invocation_of(records, i)]
        out = list(records)
        out[i] = Record(invoked.process, status, invoked.f, invoked.value, index=i)
        return out
    return change


def _duplicate(rnd: Random, records: Records, workload: str) -> Records | None:
    if workload == "list-append":
        spots = [(i, j) for i, r in enumerate(records) if r.type == "ok"
                 for j, m in enumerate(r.value) if m[0] == "r" and m[2]]
        if not spots:
            return None
        i, j = rnd.choice(spots)
        value = [list(m) for m in records[i].value]
        elements = list(value[j][2])
        elements.insert(rnd.randint(0, len(elements)), rnd.choice(elements))
        value[j][2] = elements
        out = list(records)
        out[i] = _with_value(records[i], value)
        return out
    written = _written(records)
    spots = [(i, j) for i, r in enumerate(records) if r.type == "invoke"
             for j, m in enumerate(r.value) if m[0] == "w" and len(written[m[1]]) > 1]
    if not spots:
        return None
    i, j = rnd.choice(spots)
    k, old = records[i].value[j][1], records[i].value[j][2]
    others = [v for v in written[k] if v != old]
    if not others:
        return None
    new = rnd.choice(others)
    out = list(records)
    for at in [i, *[c for c in range(i + 1, len(records))
                    if records[c].process == records[i].process][:1]]:
        value = [list(m) for m in records[at].value]
        value[j][2] = new
        out[at] = _with_value(records[at], value)
    return out


_APPLY: Final[dict[str, Callable[[Random, Records, str], Records | None]]] = {
    "swap-read": _swap_read,
    "drop-write": _drop_write,
    "reorder-completions": _reorder,
    "ok-to-info": _to("info"),
    "ok-to-fail": _to("fail"),
    "duplicate-value": _duplicate,
}


def edit(rnd: Random, history: History, workload: str, which: str | None = None
         ) -> tuple[History, str] | None:
    """``history`` with one edit and its name: ``which``, or else one picked by
    :data:`WEIGHTS` among those that apply. None when no (or not ``which``) edit
    applies."""
    names = [which] if which else rnd.choices(EDITS, WEIGHTS, k=2 * len(EDITS))
    records = records_of(history)
    for name in names:
        changed = _APPLY[name](rnd, records, workload)
        if not changed:
            continue
        try:
            return from_records(changed), name
        except HistoryError:
            continue
    return None
