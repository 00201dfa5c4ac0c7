"""Transactions and their micro-operations, read from a history of ``txn`` operations.

Jepsen's transactional workloads record one operation per transaction: ``f`` is
``"txn"`` and the value is a list of micro-operations ``[f, k, v]``:

- list-append: ``["append", k, v]`` appends ``v`` to the list at key ``k``;
  ``["r", k, [...]]`` reads the whole list (``None`` in an invocation: not yet known);
- rw-register: ``["w", k, v]`` sets register ``k`` to ``v``; ``["r", k, v]`` reads it
  (``None``: the initial, unwritten state).

:func:`transactions` turns every operation into a :class:`Txn`: the micro-operations
of the completion for an ``ok`` transaction (it carries the values read), of the
invocation otherwise (a ``fail`` or ``info`` transaction's reads are unknown and kept
as ``None``). A malformed operation is a :class:`HistoryError` naming its line and what
was expected. An ``ok`` list-append read of ``None`` is the empty list (Jepsen reads a
missing key as ``nil``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Final, Literal, NamedTuple

from replicheck.histories.history import FAIL, INFO, OK, History, HistoryError, Operation

TXN: Final = "txn"
"""The function name of a transaction operation."""
APPEND: Final = "append"
"""The micro-operation that appends a value to a list (list-append)."""
WRITE: Final = "w"
"""The micro-operation that writes a register (rw-register)."""
READ: Final = "r"
"""The micro-operation that reads a key (both workloads)."""

Workload = Literal["list-append", "rw-register"]
LIST_APPEND: Final = "list-append"
RW_REGISTER: Final = "rw-register"

WRITE_F: Final[dict[str, str]] = {LIST_APPEND: APPEND, RW_REGISTER: WRITE}
"""The write micro-operation of each workload."""

Mop = tuple[str, Hashable, Any]
"""A micro-operation ``(f, key, value)``."""


class Txn(NamedTuple):
    """One transaction: its position ``tid`` among the history's transactions (the
    node of the dependency graph), the operation id ``op``, its process and status
    (``ok``, ``fail`` or ``info``), its micro-operations, and the record indexes of its
    invocation (``call``) and completion (``ret``, ``None`` when it never completed or
    is ``info``). Reads of a transaction that is not ``ok`` have value ``None``
    (unknown)."""

    tid: int
    op: int
    process: Hashable
    status: str
    mops: tuple[Mop, ...]
    call: int
    ret: int | None

    @property
    def ok(self) -> bool:
        """The transaction committed."""
        return self.status == OK

    @property
    def failed(self) -> bool:
        """The transaction definitely did not commit."""
        return self.status == FAIL

    @property
    def indeterminate(self) -> bool:
        """The transaction may or may not have committed."""
        return self.status == INFO


def _bad(op: Operation, what: str) -> HistoryError:
    return HistoryError(f"operation {op.id} (process {op.process!r}): {what}", line=op.line)


def _mops(op: Operation, value: Any, write_f: str, reads_known: bool, workload: str
          ) -> tuple[Mop, ...]:
    appending = workload == LIST_APPEND
    out: list[Mop] = []
    try:
        for f, k, v in value:
            f = str.__str__(f) if isinstance(f, str) else f  # an EDN :r is read by its name
            if f == READ:
                if not reads_known:
                    v = None
                elif appending and type(v) is not list:
                    v = _read_list(op, len(out), k, v)
            elif f != write_f:
                raise _bad(op, f"micro-operation {len(out)} has function {f!r}; expected "
                               f"{write_f!r} or {READ!r} in a {workload} history")
            hash(k)
            out.append((f, k, v))
    except (TypeError, ValueError) as e:
        if isinstance(e, HistoryError):
            raise
        raise _malformed(op, value) from None
    return tuple(out)


def _read_list(op: Operation, i: int, k: Hashable, v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, list | tuple):
        return list(v)
    raise _bad(op, f"micro-operation {i} reads {v!r} from key {k!r}; expected a list "
                   "(or nil)")


def _malformed(op: Operation, value: Any) -> HistoryError:
    if not isinstance(value, list | tuple):
        return _bad(op, f"a transaction's value must be a list of micro-operations "
                        f"[f, k, v], got {value!r}")
    for i, mop in enumerate(value):
        if not isinstance(mop, list | tuple) or len(mop) != 3:
            return _bad(op, f"micro-operation {i} is {mop!r}; expected [f, k, v]")
        try:
            hash(mop[1])
        except TypeError:
            return _bad(op, f"micro-operation {i} has unhashable key {mop[1]!r}")
    return _bad(op, f"malformed transaction {value!r}")  # pragma: no cover


def transactions(history: History, workload: Workload) -> tuple[Txn, ...]:
    """Every operation of ``history`` as a :class:`Txn`, in invocation order.

    Raises :class:`HistoryError` (with the operation's line) for an operation that is
    not a ``txn``, a value that is not a list of ``[f, k, v]`` micro-operations, a
    micro-operation other than the workload's write and ``r``, or an ``ok``
    transaction without the values it read."""
    if workload not in WRITE_F:
        raise ValueError(f"unknown workload {workload!r}; expected one of "
                         f"{', '.join(WRITE_F)}")
    write_f = WRITE_F[workload]
    out: list[Txn] = []
    for op in history.operations:
        if op.f != TXN:
            raise _bad(op, f"function {op.f!r}; expected {TXN!r} (a transaction) in a "
                           f"{workload} history")
        if op.status == OK:
            value = op.output
            if value is None:
                raise _bad(op, "an ok transaction must complete with its micro-operations "
                               "and the values it read; got nil")
            reads_known = True
        else:
            value = op.input
            reads_known = False
        mops = _mops(op, value, write_f, reads_known, workload)
        ret = op.ret if op.status == OK else None
        out.append(Txn(len(out), op.id, op.process, op.status, mops, op.call, ret))
    return tuple(out)


def ext_reads(mops: Sequence[Mop]) -> dict[Hashable, Any]:
    """The external reads of a transaction: for each key whose first micro-operation
    is a read, the value of that read (what the transaction saw of other
    transactions' writes)."""
    out: dict[Hashable, Any] = {}
    touched: set[Hashable] = set()
    for f, k, v in mops:
        if k in touched:
            continue
        touched.add(k)
        if f == READ:
            out[k] = v
    return out


def ext_writes(mops: Sequence[Mop], write_f: str) -> dict[Hashable, Any]:
    """The external writes of a transaction: for each key it writes, the value of its
    last write to it (the version it installs)."""
    return {k: v for f, k, v in mops if f == write_f}
