"""Histories: the records clients wrote, and the operations they pair into.

A :class:`Record` is one line of a history in the Jepsen style: a process invoked a
function (``invoke``) or completed its pending invocation (``ok``, ``fail``,
``info``). :func:`pair` turns records into :class:`Operation` values — one per
invocation, with its completion — and checks the pairing: a completion without an
invocation, a completion indexed before its invocation, a completion naming another
key than its invocation, or a second invocation while one is in flight, is a
:class:`HistoryError` naming the source and line.

Semantics (CONTRACTS.md section 5):

- ``ok``: the operation took effect, between its invocation and its completion.
- ``fail``: it definitely did not take effect. In replicheck's own convention (JSON
  lines, :data:`REPLICHECK`) a ``fail`` whose ``error`` is ``condition-failed`` is also
  an observation that its condition evaluated false (:attr:`Operation.condition_failed`);
  in Jepsen's (EDN and Jepsen logs, :data:`JEPSEN`) every ``fail`` is only "did not take
  effect", whatever its error. :func:`pair` stamps each operation with the convention
  its reader named, so no checker can mistake one for the other.
- ``info`` (or no completion at all): indeterminate — it may take effect at any time
  after its invocation, or never. The process never continues; a client that goes
  on does so under a fresh process id.
- Records of a non-integer process (Jepsen's ``:nemesis``) are faults: kept for
  reports, ignored by checkers.
- Observation records (``type`` ``observe``: replica snapshots with Merkle roots,
  stream records) are not operations; they are kept in order for the convergence and
  stream checkers.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, Literal

from replicheck.models.equality import same_value, value_key

INVOKE: Final = "invoke"
OK: Final = "ok"
FAIL: Final = "fail"
INFO: Final = "info"
OBSERVE: Final = "observe"
RECORD_TYPES: Final = (INVOKE, OK, FAIL, INFO, OBSERVE)

Status = Literal["ok", "fail", "info"]

Convention = Literal["replicheck", "jepsen"]
"""Which meaning a history's ``fail`` has: ``"replicheck"`` (JSON lines: a ``fail`` with
``"error": "condition-failed"`` observed a false condition) or ``"jepsen"`` (EDN and
Jepsen logs: every ``fail`` definitely did not take effect and observed nothing)."""
REPLICHECK: Final = "replicheck"
JEPSEN: Final = "jepsen"

CONDITION_FAILED: Final = "condition-failed"
"""The ``error`` of a ``fail`` that is an observation (a compare that failed), in
replicheck's convention."""


def is_condition_failed(error: Any) -> bool:
    """True when an operation's ``error`` names a false condition (``"condition-failed"``,
    also written ``":condition-failed"``). Whether such a ``fail`` is an observation
    depends on the history's convention: ask :attr:`Operation.condition_failed`."""
    return error is not None and str(error).lstrip(":") == CONDITION_FAILED

MAX_NESTING: Final = 100
"""How deep the values of a history may nest collections (lists, maps, sets; in EDN
also tags): the readers refuse a record nested deeper (its own map counts as one
level). Checkers, reports and writers recurse over values (``value_key``,
``to_json``, ``edn_value``), each level costing a few Python frames: 100 levels leave
most of Python's default recursion limit (1000 frames) to their callers, while real
histories nest a handful of levels (a list-append transaction ``[[:append :x [1 2]]]``
inside its record is four)."""


@dataclass(frozen=True)
class Record:
    """One event of a history.

    ``process`` is an int for a client, anything else (e.g. ``"nemesis"``) for a
    fault injector. ``index`` is the record's position in real-time order (readers and
    the recorder set it; records built by hand must too, or they all tie); ``time`` an
    optional monotonic timestamp in nanoseconds. ``error`` names why a ``fail`` or
    ``info`` happened (e.g. ``"condition-failed"``, ``"timed-out"``). ``meta`` carries
    store metadata (e.g. vector clocks of reads and writes). ``line`` is where the
    record came from in its source, for error messages."""

    process: Hashable
    type: str
    f: str
    value: Any = None
    key: Hashable | None = None
    index: int = 0
    time: int | None = None
    error: Any = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = field(default=None, compare=False)

    @property
    def is_client(self) -> bool:
        """True for a client's record (integer process), False for a fault's."""
        return isinstance(self.process, int) and not isinstance(self.process, bool)


@dataclass(frozen=True)
class Operation:
    """One invocation and its completion.

    ``id`` is the operation's identity: its invocation index, the number of client
    invocations before it in the history as read (0, 1, 2, ... in record order;
    completions, faults and observations are not counted). :func:`pair` assigns it
    once; a filtered or transformed history keeps it, so a checker run on a part of a
    history names the same operations as the whole history does (ids are not
    positions in ``History.operations``: look an operation up with
    :meth:`History.operation`). ``call`` and ``ret`` are the
    record indexes of the invocation and the completion (``ret`` is ``None`` when the
    operation never completed). ``input`` is the invocation's value, ``output`` the
    completion's (``None`` for an operation that never completed). ``status`` is
    ``"ok"``, ``"fail"`` or ``"info"`` (a missing completion counts as ``info``).
    ``convention`` is the meaning of ``fail`` in the history it was read from
    (:data:`Convention`); ``line`` and ``ret_line`` are the lines of the invocation and
    the completion, when read from a file."""

    id: int
    process: Hashable
    f: str
    key: Hashable | None
    input: Any
    output: Any
    status: Status
    call: int
    ret: int | None
    call_time: int | None = None
    ret_time: int | None = None
    error: Any = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = field(default=None, compare=False)
    convention: Convention = field(default=REPLICHECK, compare=False)
    ret_line: int | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        """The operation took effect."""
        return self.status == OK

    @property
    def failed(self) -> bool:
        """The operation definitely did not take effect."""
        return self.status == FAIL

    @property
    def condition_failed(self) -> bool:
        """The operation failed observing that its condition evaluated false (a CAS
        compare, a ConditionalCheckFailed): a ``fail`` with ``error``
        ``condition-failed`` in replicheck's convention. Never in Jepsen's, where a
        ``fail`` only did not take effect (CONTRACTS.md section 5)."""
        return (self.status == FAIL and self.convention == REPLICHECK
                and is_condition_failed(self.error))

    @property
    def indeterminate(self) -> bool:
        """The operation may or may not have taken effect."""
        return self.status == INFO

    @property
    def value(self) -> Any:
        """The value that describes the operation best: the completion's for ``ok``,
        the invocation's otherwise."""
        return self.output if self.status == OK else self.input


class HistoryError(ValueError):
    """A malformed history: says where (source, line) and what was expected."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None
                 ) -> None:
        self.message = message
        self.source = source
        self.line = line
        where = ":".join(str(p) for p in (source, line) if p is not None)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class History:
    """A paired history: client operations in invocation order, fault records, and
    observation records, plus the problems skipped when read leniently."""

    operations: tuple[Operation, ...]
    faults: tuple[Record, ...] = ()
    observations: tuple[Record, ...] = ()
    skipped: tuple[HistoryError, ...] = ()
    source: str | None = None
    convention: Convention = REPLICHECK

    def __len__(self) -> int:
        return len(self.operations)

    @cached_property
    def _by_id(self) -> dict[int, Operation]:
        return {op.id: op for op in self.operations}

    def operation(self, op_id: int) -> Operation:
        """The operation whose ``id`` is ``op_id``. Ids are identities kept by every
        filter, not positions in :attr:`operations`; KeyError when no operation of
        this history has that id."""
        return self._by_id[op_id]

    def by_key(self) -> tuple[tuple[Hashable, tuple[Operation, ...]], ...]:
        """Operations grouped by their key as ``(key, operations)`` pairs, in order of
        each key's first operation, each group in invocation order. Keys are grouped by
        decoded type and value (``value_key``: ``1``, ``1.0`` and ``true`` are three
        keys, which a Python dict would merge), each under its first spelling."""
        groups: dict[Hashable, tuple[Hashable, list[Operation]]] = {}
        for op in self.operations:
            groups.setdefault(value_key(op.key), (op.key, []))[1].append(op)
        return tuple((k, tuple(v)) for k, v in groups.values())

    @property
    def functions(self) -> frozenset[str]:
        """The function names the operations use."""
        return frozenset(op.f for op in self.operations)


def pair(records: Iterable[Record], *, source: str | None = None, lenient: bool = False,
         convention: Convention = REPLICHECK) -> History:
    """Pair invocations with completions, in the reader's ``convention`` for ``fail``
    (stamped on the history and on each operation).

    Raises :class:`HistoryError` for a completion without an invocation, an
    invocation while the process has one in flight, an unknown record type, a
    completion whose function or key (by ``same_value``; a completion without a key
    takes its invocation's) differs from its invocation's, or one whose index
    precedes its invocation's; with ``lenient`` the offending record is skipped (its
    invocation stays pending, hence indeterminate) and the error kept in
    ``History.skipped``."""
    pending: dict[Hashable, tuple[int, Record]] = {}
    built: list[dict[str, Any] | None] = []
    faults: list[Record] = []
    observations: list[Record] = []
    skipped: list[HistoryError] = []

    def problem(message: str, record: Record) -> None:
        error = HistoryError(message, source=source, line=record.line)
        if not lenient:
            raise error
        skipped.append(error)

    for position, record in enumerate(records):
        if record.type == OBSERVE:
            observations.append(record)
            continue
        if not record.is_client:
            faults.append(record)
            continue
        if record.type not in RECORD_TYPES:
            problem(f"unknown record type {record.type!r}; expected one of "
                    f"{', '.join(RECORD_TYPES)}", record)
            continue
        index = record.index if record.index is not None else position
        if record.type == INVOKE:
            if record.process in pending:
                _, first = pending[record.process]
                at = f" (invoked at line {first.line})" if first.line is not None else ""
                problem(f"process {record.process} invokes {record.f!r} while its "
                        f"{first.f!r} is still in flight{at}; expected a completion "
                        "(ok, fail or info) first", record)
                continue
            pending[record.process] = (len(built), record)
            built.append({
                "process": record.process, "f": record.f, "key": record.key,
                "input": record.value, "output": None, "status": INFO, "call": index,
                "ret": None, "call_time": record.time, "meta": dict(record.meta),
                "line": record.line, "convention": convention,
            })
            continue
        if record.process not in pending:
            problem(f"process {record.process} completes {record.f!r} ({record.type}) "
                    "without an invocation in flight; expected an invoke first", record)
            continue
        slot, invocation = pending[record.process]
        if record.f != invocation.f:
            problem(f"process {record.process} completes {record.f!r} but invoked "
                    f"{invocation.f!r}; expected the same function", record)
            continue
        invoked_key = built[slot]["key"]  # type: ignore[index]
        if record.key is not None and invoked_key is not None and not same_value(
                record.key, invoked_key):
            problem(f"process {record.process} completes {record.f!r} on key "
                    f"{record.key!r} but invoked it on key {invoked_key!r}; expected the "
                    "same key (or none)", record)
            continue
        call = built[slot]["call"]  # type: ignore[index]
        if index < call:
            problem(f"process {record.process} completes {record.f!r} ({record.type}) at "
                    f"index {index}, before its invocation at index {call}; expected a "
                    "completion after its invocation", record)
            continue
        del pending[record.process]
        entry = built[slot]
        assert entry is not None
        entry.update(status=record.type, ret=index, ret_time=record.time,
                     output=record.value, error=record.error, ret_line=record.line)
        if record.key is not None and entry["key"] is None:
            entry["key"] = record.key
        entry["meta"] = {**entry["meta"], **record.meta}
    operations = tuple(
        Operation(id=i, **entry) for i, entry in enumerate(e for e in built if e is not None)
    )
    return History(operations, tuple(faults), tuple(observations), tuple(skipped), source,
                   convention)


def ops_by_id(history: History, ids: Sequence[int]) -> tuple[Operation, ...]:
    """The operations with the given ids (identities, not positions), in the given
    order; KeyError for an id no operation of ``history`` has."""
    return tuple(history.operation(i) for i in ids)
