"""The recorder's core: clients report what they invoked and what they saw, and the
recorder keeps it as a history (CONTRACTS.md section 5).

A :class:`Recorder` is shared by every client thread. It hands out process ids, appends
one :class:`~replicheck.histories.history.Record` per event in the order the events
reach it (that order is the history's real-time order: ``index``), and stamps each with
a monotonic clock read under the same lock, so times never decrease along the history.

Jepsen's rules hold: a process has at most one operation in flight; ``ok`` means it took
effect, ``fail`` that it definitely did not, ``info`` that it may or may not have, at
any time after its invocation. After ``info`` the process is retired and the client
continues under the fresh process id :meth:`Recorder.info` returns. A client that breaks
these rules (invoking while in flight, completing what it never invoked, using a retired
process) gets a :class:`~replicheck.histories.history.HistoryError` at once, and nothing
is recorded for that call.

:meth:`Recorder.operation` wraps one call in a ``with`` block and records its outcome
from how the block ends; the caller says which exception types are definite failures
(this module knows nothing of any store).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from replicheck.histories.history import (
    FAIL,
    INFO,
    INVOKE,
    OBSERVE,
    OK,
    History,
    HistoryError,
    Record,
    Status,
    pair,
)

__all__ = ["Call", "Recorder"]

_UNSET: Final[Any] = object()


class Call:
    """One operation in flight inside :meth:`Recorder.operation`.

    Set ``result`` (or call :meth:`ok`) with what the operation returned; call
    :meth:`fail` or :meth:`info` to record that outcome explicitly; add store metadata
    of the response to ``meta``. After the block, ``status`` is the recorded outcome and
    ``next_process`` the process id the client must use next (a fresh one after
    ``info``)."""

    def __init__(self, process: int, f: str, value: Any, key: Hashable | None) -> None:
        self.process = process
        self.f = f
        self.value = value
        self.key = key
        self.result: Any = _UNSET
        self.meta: dict[str, Any] = {}
        self.status: Status | None = None
        self.error: Any = None
        self.next_process = process
        self._outcome: tuple[Status, Any] | None = None

    def ok(self, result: Any = _UNSET) -> None:
        """Record ``ok`` with ``result`` (the invocation's value when not given)."""
        if result is not _UNSET:
            self.result = result
        self._outcome = (OK, None)

    def fail(self, error: Any = None) -> None:
        """Record ``fail``: the operation definitely did not take effect."""
        self._outcome = (FAIL, error)

    def info(self, error: Any = None) -> None:
        """Record ``info``: the outcome is unknown."""
        self._outcome = (INFO, error)


class Recorder:
    """A thread-safe, append-only history under construction.

    ``clock`` returns nanoseconds from a monotonic source (``time.monotonic_ns`` unless
    a test injects another)."""

    def __init__(self, *, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._next_process = 0
        self._in_flight: dict[int, Record] = {}
        self._retired: set[int] = set()

    # -- processes --------------------------------------------------------------------

    def new_process(self) -> int:
        """A process id no record has used and no other call has handed out."""
        with self._lock:
            return self._fresh()

    def _fresh(self) -> int:
        process = self._next_process
        self._next_process += 1
        return process

    # -- client events ----------------------------------------------------------------

    def invoke(self, process: int, f: str, value: Any = None, *, key: Hashable | None = None,
               meta: Mapping[str, Any] | None = None) -> int:
        """Record that ``process`` invoked ``f`` with ``value`` (on ``key``); returns the
        record's index. Raises :class:`HistoryError` when the process has an operation
        in flight, was retired, or is not an integer."""
        if isinstance(process, bool) or not isinstance(process, int):
            raise HistoryError(f"process {process!r} is not an integer; expected a client "
                               "process id (use fault() for a nemesis)")
        with self._lock:
            if process in self._retired:
                raise HistoryError(f"process {process} was retired after an info; expected "
                                   "the fresh process id that info() returned")
            if process in self._in_flight:
                raise HistoryError(f"process {process} invokes {f!r} while its "
                                   f"{self._in_flight[process].f!r} is in flight; expected "
                                   "ok, fail or info first")
            if process >= self._next_process:
                self._next_process = process + 1
            record = self._append(process, INVOKE, f, value, key, None, meta)
            self._in_flight[process] = record
            return record.index

    def ok(self, process: int, f: str, value: Any = None, *, key: Hashable | None = None,
           meta: Mapping[str, Any] | None = None) -> int:
        """Record that the operation in flight on ``process`` took effect, returning
        ``value``; returns the record's index."""
        with self._lock:
            return self._complete(process, OK, f, value, None, key, meta).index

    def fail(self, process: int, f: str, value: Any = None, *, error: Any = None,
             key: Hashable | None = None, meta: Mapping[str, Any] | None = None) -> int:
        """Record that the operation in flight on ``process`` definitely did not take
        effect (``error`` says why; ``"condition-failed"`` for a condition that was
        false); returns the record's index. The process may invoke again."""
        with self._lock:
            return self._complete(process, FAIL, f, value, error, key, meta).index

    def info(self, process: int, f: str, value: Any = None, *, error: Any = None,
             key: Hashable | None = None, meta: Mapping[str, Any] | None = None) -> int:
        """Record that the outcome of the operation in flight on ``process`` is unknown
        (it may take effect at any time, or never). Retires ``process`` and returns the
        fresh process id the client must use from now on."""
        with self._lock:
            self._complete(process, INFO, f, value, error, key, meta)
            self._retired.add(process)
            return self._fresh()

    def _complete(self, process: int, type_: str, f: str, value: Any, error: Any,
                  key: Hashable | None, meta: Mapping[str, Any] | None) -> Record:
        invocation = self._in_flight.get(process)
        if invocation is None:
            raise HistoryError(f"process {process!r} completes {f!r} ({type_}) without an "
                               "invocation in flight; expected invoke first")
        if invocation.f != f:
            raise HistoryError(f"process {process} completes {f!r} but invoked "
                               f"{invocation.f!r}; expected the same function")
        del self._in_flight[process]
        return self._append(process, type_, f, value, invocation.key if key is None else key,
                            error, meta)

    # -- other records ----------------------------------------------------------------

    def observe(self, f: str, value: Any = None, *, key: Hashable | None = None,
                meta: Mapping[str, Any] | None = None, process: Hashable = "observer") -> int:
        """Record an observation (a replica snapshot, a stream record): not an operation,
        kept in order for the convergence and stream checkers. Returns its index."""
        with self._lock:
            return self._append(process, OBSERVE, f, value, key, None, meta).index

    def fault(self, f: str, value: Any = None, *, process: Hashable = "nemesis",
              type: str = INFO, meta: Mapping[str, Any] | None = None) -> int:
        """Record a fault event (a partition, a crash, a heal) of a non-client process:
        kept for reports, ignored by checkers. Returns its index."""
        if isinstance(process, int) and not isinstance(process, bool):
            raise HistoryError(f"fault process {process!r} is an integer; expected a "
                               "non-integer such as 'nemesis' (integers are clients)")
        if type not in (INVOKE, OK, FAIL, INFO):
            raise HistoryError(f"fault type {type!r}; expected invoke, ok, fail or info")
        with self._lock:
            return self._append(process, type, f, value, None, None, meta).index

    def _append(self, process: Hashable, type_: str, f: str, value: Any,
                key: Hashable | None, error: Any, meta: Mapping[str, Any] | None) -> Record:
        record = Record(process=process, type=type_, f=f, value=value, key=key,
                        index=len(self._records), time=self._clock(), error=error,
                        meta=dict(meta) if meta else {})
        self._records.append(record)
        return record

    # -- reading ----------------------------------------------------------------------

    def records(self) -> tuple[Record, ...]:
        """Every record so far, in order (a snapshot: later events do not change it)."""
        with self._lock:
            return tuple(self._records)

    def in_flight(self) -> dict[int, str]:
        """The processes with an operation in flight, and its function."""
        with self._lock:
            return {p: r.f for p, r in self._in_flight.items()}

    def history(self) -> History:
        """The records so far, paired into operations (an operation still in flight
        counts as indeterminate)."""
        return pair(self.records())

    # -- one operation as a block -----------------------------------------------------

    @contextmanager
    def operation(self, process: int, f: str, value: Any = None, *,
                  key: Hashable | None = None, meta: Mapping[str, Any] | None = None,
                  definite: Mapping[type[BaseException], Any]
                  | Iterable[type[BaseException]] = ()) -> Iterator[Call]:
        """Record the invocation, run the block, record its outcome:

        - an outcome set explicitly on the :class:`Call` (``ok``/``fail``/``info``) wins;
        - the block ends normally: ``ok`` with ``call.result`` (the invocation's value
          when no result was set, as for a write);
        - it raises one of the ``definite`` exception types: ``fail``, with the error the
          mapping gives for that type (or the exception's class name when ``definite``
          is a plain collection of types);
        - it raises anything else (a timeout, an unavailable store, a bug): ``info``
          with the exception's class name as the error, and the process is retired
          (``call.next_process`` is the fresh one).

        Exceptions are always re-raised after recording."""
        names: dict[type[BaseException], Any] = (
            dict(definite) if isinstance(definite, Mapping)
            else {t: t.__name__ for t in definite})
        self.invoke(process, f, value, key=key, meta=meta)
        call = Call(process, f, value, key)
        try:
            yield call
        except BaseException as exc:
            status, error = _outcome_of(call, exc, names)
            self._finish(call, status, error)
            raise
        else:
            status, error = call._outcome or (OK, None)
            self._finish(call, status, error)

    def _finish(self, call: Call, status: Status, error: Any) -> None:
        meta = call.meta or None
        call.status, call.error = status, error
        if status == OK:
            result = call.value if call.result is _UNSET else call.result
            self.ok(call.process, call.f, result, meta=meta)
        elif status == FAIL:
            self.fail(call.process, call.f, call.value, error=error, meta=meta)
        else:
            call.next_process = self.info(call.process, call.f, call.value, error=error,
                                          meta=meta)


def _outcome_of(call: Call, exc: BaseException, names: Mapping[type[BaseException], Any]
                ) -> tuple[Status, Any]:
    if call._outcome is not None:
        return call._outcome
    for kind, name in names.items():
        if isinstance(exc, kind):
            return FAIL, name
    return INFO, type(exc).__name__
