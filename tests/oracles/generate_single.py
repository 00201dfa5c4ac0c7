"""Small random histories of ``register``, ``cas-register`` and ``kv``, for the oracle
agreement tests: ones recorded from a simulated execution (valid by construction, then
some observations changed at random), and ones derived from valid ones by one targeted
edit (a read's value swapped, a write dropped, two completions reordered, a value's type
changed, an operation moved to another key).

The simulated execution: 2-4 client processes run up to 8 operations on 1-3 keys. At
each step one thing happens: a process invokes an operation, an operation in flight
takes effect (its result is what the object holds then), or an operation completes:
``ok`` if it took effect (a cas whose compare failed: ``fail`` with error
``condition-failed``, or now and then ``ok`` with the value ``false``), ``fail`` if it
did not (it never will), or ``info`` either way (one that has not taken effect may
still do so later, or never; the process is then replaced by a fresh one, as Jepsen
does). Some operations are left without a completion. Values are drawn from small pools
with repetitions and mixed types (ints, booleans, floats with NaN, strings, keywords,
None, lists, a map) for registers, strings for kv; keys mix types too (``1`` and
``True``, ``"x"`` and ``:x`` are different keys).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from hypothesis import strategies as st

from replicheck.histories.history import History, Record, pair
from replicheck.models.equality import Keyword, same_value, value_key

NAN: Final = float("nan")
REGISTER_VALUES: Final[tuple[Any, ...]] = (
    0, 1, True, False, 1.0, NAN, "a", Keyword("a"), None, [1], [True], [1, "a"],
    {"a": 1},
)
KV_VALUES: Final = ("x", "y", "xy", "")
KEYS: Final[tuple[Any, ...]] = ("x", "y", Keyword("x"), 1, True, None)
KV_KEYS: Final[tuple[Any, ...]] = ("x", "y", Keyword("x"), 1, True)

READS: Final = frozenset({"read", "get"})
EDITS: Final = ("swap-read-value", "drop-write", "reorder-completions", "change-type",
                "move-key")


def functions(model: str) -> tuple[str, ...]:
    """The functions of ``model`` the generator uses."""
    return {"register": ("read", "write"), "cas-register": ("read", "write", "cas"),
            "kv": ("get", "put", "append")}[model]


@dataclass
class _Op:
    process: int
    f: str
    key: Any
    argument: Any
    took_effect: bool = False
    compare_held: bool = True
    result: Any = None


@dataclass
class _World:
    model: str
    values: dict[Any, Any] = field(default_factory=dict)
    keys: dict[Any, Any] = field(default_factory=dict)

    def get(self, key: Any) -> Any:
        return self.values.get(value_key(key), "" if self.model == "kv" else None)

    def take_effect(self, op: _Op) -> None:
        k = value_key(key := op.key)
        self.keys[k] = key
        current = self.get(key)
        if op.f in READS:
            op.result = current
        elif op.f in ("write", "put"):
            self.values[k] = op.argument
        elif op.f == "append":
            self.values[k] = current + op.argument
        else:  # cas
            old, new = op.argument
            op.compare_held = same_value(current, old)
            if op.compare_held:
                self.values[k] = new
        op.took_effect = True


def _invocation_value(op: _Op) -> Any:
    if op.f in READS:
        return None
    return list(op.argument) if op.f == "cas" else op.argument


@st.composite
def recorded(draw: st.DrawFn, model: str, min_ops: int = 1) -> list[Record]:
    """The records of one simulated execution of ``model`` (valid by construction), of
    ``min_ops`` to 8 operations."""
    is_kv = model == "kv"
    key_pool = draw(st.lists(st.sampled_from(KV_KEYS if is_kv else KEYS), min_size=1,
                             max_size=3, unique_by=value_key))
    value_pool = draw(st.lists(st.sampled_from(KV_VALUES if is_kv else REGISTER_VALUES),
                               min_size=1, max_size=4))
    remaining = draw(st.integers(min_ops, 8))
    workers = draw(st.integers(2, 4))
    world = _World(model)
    idle = list(range(workers))
    next_process = workers
    in_flight: list[_Op] = []
    floating: list[_Op] = []  # completed info, not yet taken effect: may still do so
    records: list[Record] = []

    def emit(op: _Op, type_: str, value: Any, error: Any = None) -> None:
        records.append(Record(op.process, type_, op.f, value, key=op.key, error=error,
                              index=len(records)))

    while remaining or in_flight:
        choices: list[str] = []
        if remaining and idle:
            choices.append("invoke")
        if any(not op.took_effect for op in in_flight) or floating:
            choices.append("take-effect")
        if in_flight:
            choices.append("complete")
        if not remaining and in_flight:
            choices.append("stop")
        action = draw(st.sampled_from(choices))
        if action == "stop":
            break  # the operations in flight never complete
        if action == "invoke":
            process = idle.pop(draw(st.integers(0, len(idle) - 1)))
            f = draw(st.sampled_from(functions(model)))
            key = draw(st.sampled_from(key_pool))
            argument: Any = None
            if f == "cas":
                argument = (draw(st.sampled_from(value_pool)), draw(st.sampled_from(value_pool)))
            elif f not in READS:
                argument = draw(st.sampled_from(value_pool))
            op = _Op(process, f, key, argument)
            in_flight.append(op)
            emit(op, "invoke", _invocation_value(op))
            remaining -= 1
        elif action == "take-effect":
            waiting = [op for op in in_flight if not op.took_effect] + floating
            op = waiting[draw(st.integers(0, len(waiting) - 1))]
            world.take_effect(op)
            if op in floating:
                floating.remove(op)
        else:
            op = in_flight.pop(draw(st.integers(0, len(in_flight) - 1)))
            # (Hypothesis draws small integers most: 0 is the common case.)
            if not op.took_effect and draw(st.integers(0, 3)) < 3:
                world.take_effect(op)  # most operations take effect just before they end
            indeterminate = draw(st.integers(0, 4)) == 4
            if indeterminate:
                emit(op, "info", _invocation_value(op), "timed-out")
                if not op.took_effect:
                    floating.append(op)
                idle.append(next_process)
                next_process += 1
                continue
            if op.took_effect and op.f == "cas" and not op.compare_held:
                if draw(st.integers(0, 3)) == 3:  # the outcome in the value, the other way
                    emit(op, "ok", False)
                else:
                    emit(op, "fail", _invocation_value(op), "condition-failed")
            elif op.took_effect:
                emit(op, "ok", op.result if op.f in READS else _invocation_value(op))
            else:
                emit(op, "fail", _invocation_value(op), "unavailable")
            idle.append(op.process)
    return records


def history_of(records: list[Record]) -> History:
    """The history of ``records``, indexes renumbered by position."""
    return pair([replace(r, index=i) for i, r in enumerate(records)])


# ---------------------------------------------------------------------------------------
# Random observations


@st.composite
def random_history(draw: st.DrawFn, model: str) -> History:
    """A recorded execution where each read may return another value of the pool (a
    stale, invented or mistyped value) and each cas outcome may be flipped."""
    records = draw(recorded(model))
    pool = KV_VALUES if model == "kv" else REGISTER_VALUES
    out = []
    for r in records:
        if r.f in READS and r.type == "ok" and draw(st.integers(0, 2)) == 0:
            others = [v for v in pool if not same_value(v, r.value)]
            r = replace(r, value=draw(st.sampled_from(others)))
        elif r.f == "cas" and r.type in ("ok", "fail") and draw(st.integers(0, 5)) == 0:
            r = _flip_cas(r)
        out.append(r)
    return history_of(out)


def _flip_cas(r: Record) -> Record:
    if r.type == "ok" and r.value is False:
        return replace(r, value=True)
    if r.type == "ok":
        return replace(r, type="fail", error="condition-failed")
    return replace(r, type="ok", error=None)


# ---------------------------------------------------------------------------------------
# Targeted edits of valid histories


_RETYPED: Final[tuple[tuple[Any, Any], ...]] = (
    (True, 1), (False, 0), (1.0, 1), (None, False), (Keyword("a"), "a"), ([True], [1]),
    ({"a": 1}, {"a": True}),
)


def retype(value: Any) -> Any:
    """``value`` as another decoded type that Python's ``==`` would not tell apart (or
    would, for NaN): ``1`` <-> ``True``, ``1`` <-> ``1.0``, ``"a"`` <-> ``:a``, ..."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    for a, b in _RETYPED:
        if same_value(value, a):
            return b
        if same_value(value, b):
            return a
    if type(value) is str:
        return Keyword(value)
    if isinstance(value, Keyword):
        return value.name
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [retype(v) for v in value] if value else [None]
    return [value]


def _completion(records: list[Record], i: int) -> int | None:
    """The position of the completion of the invocation at ``i``."""
    for j in range(i + 1, len(records)):
        if records[j].process == records[i].process:
            return j
    return None


def _ops(records: list[Record]) -> list[tuple[int, int | None]]:
    return [(i, _completion(records, i)) for i, r in enumerate(records) if r.type == "invoke"]


Edit = Callable[[st.DrawFn, list[Record], str], list[Record] | None]


def _swap_read_value(draw: st.DrawFn, records: list[Record], model: str) -> list[Record] | None:
    reads = [i for i, r in enumerate(records) if r.f in READS and r.type == "ok"]
    if not reads:
        return None
    i = draw(st.sampled_from(reads))
    pool = [v for v in (KV_VALUES if model == "kv" else REGISTER_VALUES)
            if not same_value(v, records[i].value)]
    out = list(records)
    out[i] = replace(records[i], value=draw(st.sampled_from(pool)))
    return out


def _observed(records: list[Record], write: Record) -> bool:
    """Whether an ok read of the write's key returned its value (for kv: a string
    holding the appended or put one)."""
    for r in records:
        if r.f not in READS or r.type != "ok" or value_key(r.key) != value_key(write.key):
            continue
        if write.f in ("write", "cas") and same_value(r.value, write.value):
            return True
        if write.f in ("put", "append") and type(r.value) is str and write.value \
                and write.value in r.value:
            return True
    return False


def _drop_write(draw: st.DrawFn, records: list[Record], _model: str) -> list[Record] | None:
    """Drop an ok write (put, append, cas): one whose value some read returned when
    there is one."""
    writes = [(i, j) for i, j in _ops(records) if records[i].f not in READS
              and j is not None and records[j].type == "ok"]
    seen = [(i, j) for i, j in writes if records[i].f != "cas" and _observed(records, records[i])]
    if not writes:
        return None
    i, j = draw(st.sampled_from(seen or writes))
    return [r for n, r in enumerate(records) if n not in (i, j)]


def _reorder_completions(draw: st.DrawFn, records: list[Record], _model: str
                         ) -> list[Record] | None:
    """Swap the completions at ``a < b`` of two operations: the one completed at ``b``
    was invoked before ``a`` and the process completing at ``a`` does nothing between
    ``a`` and ``b`` (so both stay completions of invocations in flight)."""
    invoked = {j: i for i, j in _ops(records) if j is not None}
    swaps = [(a, b) for a in invoked for b in invoked if a < b and invoked[b] < a
             and all(records[n].process != records[a].process for n in range(a + 1, b))]
    # Those that make a read end before a write it may have seen was invoked first.
    tighter = [(a, b) for a, b in swaps if records[b].f in READS and records[b].type == "ok"
               and any(records[n].type == "invoke" and records[n].f not in READS
                       and value_key(records[n].key) == value_key(records[b].key)
                       for n in range(a + 1, b))]
    if not swaps:
        return None
    a, b = draw(st.sampled_from(tighter or swaps))
    out = list(records)
    out[a], out[b] = records[b], records[a]
    return out


def _change_type(draw: st.DrawFn, records: list[Record], model: str) -> list[Record] | None:
    """Give the value of an ok read (else of an ok write) another decoded type (for kv,
    a get's string becomes a keyword)."""
    ops = [(i, j) for i, j in _ops(records) if j is not None and records[j].type == "ok"
           and (records[i].f in READS or (model != "kv" and records[i].f == "write"))]
    reads = [(i, j) for i, j in ops if records[i].f in READS]
    if not ops:
        return None
    i, j = draw(st.sampled_from(reads or ops))
    out = list(records)
    if records[i].f in READS:
        value = records[j].value
        new = Keyword(value or "x") if model == "kv" else retype(value)
        out[j] = replace(records[j], value=new)
    else:
        new = retype(records[i].value)
        out[i] = replace(records[i], value=new)
        out[j] = replace(records[j], value=new)
    return out


def _move_key(draw: st.DrawFn, records: list[Record], model: str) -> list[Record] | None:
    """Move one operation to another key: a read that saw a written value when there is
    one (it then reads a key that may never have held it), else any operation."""
    ops = _ops(records)
    initial = "" if model == "kv" else None
    observing = [(i, j) for i, j in ops if j is not None and records[i].f in READS
                 and records[j].type == "ok" and not same_value(records[j].value, initial)]
    if not ops:
        return None
    i, j = draw(st.sampled_from(observing or ops))
    pool = [k for k in (KV_KEYS if model == "kv" else KEYS)
            if value_key(k) != value_key(records[i].key)]
    key = draw(st.sampled_from(pool))
    out = list(records)
    out[i] = replace(records[i], key=key)
    if j is not None:
        out[j] = replace(records[j], key=key)
    return out


EDITORS: Final[dict[str, Edit]] = {
    "swap-read-value": _swap_read_value,
    "drop-write": _drop_write,
    "reorder-completions": _reorder_completions,
    "change-type": _change_type,
    "move-key": _move_key,
}


@dataclass(frozen=True)
class Edited:
    """A history derived from a valid one by one edit (``edit``: its name, ``None``
    when no edit applied)."""

    history: History
    edit: str | None


@st.composite
def edited_history(draw: st.DrawFn, model: str) -> Edited:
    """A valid recorded execution with one targeted edit: a drawn one of :data:`EDITS`,
    or when it does not apply (no read to change, ...) the next that does."""
    records = draw(recorded(model, min_ops=3))
    first = draw(st.integers(0, len(EDITS) - 1))
    for name in EDITS[first:] + EDITS[:first]:
        out = EDITORS[name](draw, records, model)
        if out is not None:
            return Edited(history_of(out), name)
    return Edited(history_of(records), None)
