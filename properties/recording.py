"""Wrapping a Store with the history recorder (CONTRACTS.md section 5).

:class:`RecordingStore` stands between the suite and a store and records, for every
request, one ``invoke`` and one completion in a shared
:class:`~replicheck.histories.recorder.Recorder`:

- ``f`` is the request kind (``request_kind``), the invocation's value
  ``request_to_json(request)``, the completion's type, value and error
  ``completion_fields(outcome)`` (``ok`` with the response; ``fail`` with
  ``"condition-failed"`` for a false condition; ``info`` with ``"indeterminate"``);
- the completion's ``meta`` is the store's metadata of the answer (a schedulable
  store's ``handle.meta``: versions, ``changed``, a transaction's ``writes``);
- each client name has one process id at a time; an indeterminate completion
  retires it and the client's next request runs under a fresh id (Jepsen's rule).

Schedulable stores are driven through :meth:`RecordingStore.submit` and
:meth:`RecordingStore.decide` (completions are recorded as decisions complete
handles); any store can be driven synchronously through
:meth:`RecordingStore.execute`, which is safe to call from several threads.
"""

from __future__ import annotations

import threading
from typing import Any

from replicheck.histories.history import History, pair
from replicheck.histories.items import completion_fields, request_to_json, tables_to_json
from replicheck.histories.recorder import Recorder
from replicheck.histories.wording import client_meta
from replicheck.implementation.store import Handle, Schedulable, Store
from replicheck.models.items.errors import StoreError
from replicheck.models.items.requests import Request, Response, request_kind

__all__ = ["RecordingStore"]


def _plain_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The handle's metadata the history keeps (everything but routing details)."""
    return {k: v for k, v in meta.items() if k != "coordinator"}


class RecordingStore:
    """A store whose every request is recorded in :attr:`recorder`.

    ``history()`` is the item history of everything recorded so far (with the
    ``tables`` observation the item model needs). The wrapped store is
    :attr:`store`; faults and observations go to it directly."""

    def __init__(self, store: Store, recorder: Recorder | None = None) -> None:
        self.store = store
        self.recorder = recorder or Recorder()
        self.recorder.observe("tables", tables_to_json(store.descriptor.tables))
        self._processes: dict[str, int] = {}
        self._incarnations: dict[str, int] = {}
        self._pending: list[tuple[int, Handle]] = []
        self._lock = threading.Lock()

    # -- processes ------------------------------------------------------------------------

    def process_of(self, client: str) -> int:
        """The process id ``client``'s next request runs under."""
        with self._lock:
            process = self._processes.get(client)
            if process is None:
                process = self.recorder.new_process()
                self._processes[client] = process
            return process

    def _retire(self, client: str, fresh: int) -> None:
        with self._lock:
            self._processes[client] = fresh
            self._incarnations[client] = self._incarnations.get(client, 1) + 1

    def client_meta(self, client: str) -> dict[str, Any]:
        """The invocation ``meta`` naming ``client`` (and which of its processes runs),
        from which reports label the operation (``histories.wording.process_label``)."""
        return client_meta(client, self._incarnations.get(client, 1))

    # -- schedulable ----------------------------------------------------------------------

    @property
    def schedulable(self) -> Schedulable:
        """The wrapped store as a Schedulable (TypeError when it is not one)."""
        if not isinstance(self.store, Schedulable):
            raise TypeError(f"{self.store.descriptor.name} is not schedulable")
        return self.store

    def submit(self, client: str, request: Request) -> Handle:
        """Record the invocation and submit ``request`` for ``client``; its completion
        is recorded when a decision (or the submission itself) completes the handle."""
        process = self.process_of(client)
        self.recorder.invoke(process, request_kind(request), request_to_json(request),
                             meta=self.client_meta(client))
        handle = self.schedulable.submit(client, request)
        self._pending.append((process, handle))
        self.collect()
        return handle

    def submit_at(self, client: str, request: Request, node: str) -> Handle:
        """Record the invocation and send ``request`` for ``client`` straight to
        ``node`` of a simulated store (a client choosing its coordinator, or routing
        on a stale table); through the wrapped store's own ``submit_at`` when it has
        one (a schedule recorder records it)."""
        from replicheck.properties.schedule import submit_at

        process = self.process_of(client)
        self.recorder.invoke(process, request_kind(request), request_to_json(request),
                             meta=self.client_meta(client))
        own = getattr(self.store, "submit_at", None)
        handle: Handle = (own(client, request, node) if callable(own)
                          else submit_at(self.store, client, request, node))
        self._pending.append((process, handle))
        self.collect()
        return handle

    def decisions(self) -> tuple[Any, ...]:
        """The wrapped store's available decisions."""
        return self.schedulable.decisions()

    def decide(self, decision: Any) -> None:
        """Take ``decision`` and record every completion it caused."""
        self.schedulable.decide(decision)
        self.collect()

    def pending(self) -> tuple[Handle, ...]:
        """The submitted handles not completed yet, in submission order."""
        return tuple(h for _, h in self._pending)

    def collect(self) -> int:
        """Record the completion of every submitted handle that is done (in submission
        order); returns how many were recorded."""
        done = [(p, h) for p, h in self._pending if h.done]
        if not done:
            return 0
        self._pending = [(p, h) for p, h in self._pending if not h.done]
        for process, handle in done:
            outcome: Response | StoreError | None
            if handle.status == "ok":
                outcome = handle.response if handle.response is not None else Response()
            else:
                outcome = handle.error
                if handle.status == "indeterminate" and outcome is not None \
                        and outcome.definite:
                    outcome = None
            self._complete(handle.client, process, request_kind(handle.request), outcome,
                           _plain_meta(handle.meta))
        return len(done)

    def abandon(self) -> None:
        """Record every handle still pending as indeterminate (the client gave up)."""
        for process, handle in self._pending:
            self._complete(handle.client, process, request_kind(handle.request), None,
                           _plain_meta(handle.meta))
        self._pending = []

    def _complete(self, client: str, process: int, f: str,
                  outcome: Response | StoreError | None, meta: dict[str, Any]) -> None:
        type_, value, error = completion_fields(outcome)
        if type_ == "ok":
            self.recorder.ok(process, f, value, meta=meta)
        elif type_ == "fail":
            self.recorder.fail(process, f, value, error=error, meta=meta)
        else:
            fresh = self.recorder.info(process, f, value, error=error, meta=meta)
            self._retire(client, fresh)

    # -- synchronous ----------------------------------------------------------------------

    def execute(self, request: Request, client: str = "client-0") -> Response:
        """Run ``request`` through the wrapped store's ``execute`` and record it: the
        response (``ok``), a definite error (``fail``) or anything else (``info``;
        the exception is re-raised and ``client`` continues under a fresh process)."""
        process = self.process_of(client)
        f = request_kind(request)
        self.recorder.invoke(process, f, request_to_json(request), meta=self.client_meta(client))
        try:
            response = self.store.execute(request)
        except StoreError as error:
            self._complete(client, process, f, error, {})
            raise
        except Exception:
            self._complete(client, process, f, None, {})
            raise
        self._complete(client, process, f, response, {})
        return response

    # -- reading --------------------------------------------------------------------------

    def observe(self, f: str, value: Any) -> None:
        """Record an observation (a replica snapshot, a stream) in the history."""
        self.recorder.observe(f, value)

    def history(self) -> History:
        """Everything recorded so far, paired into operations (one still pending is
        indeterminate)."""
        return pair(self.recorder.records())

    def in_flight(self) -> int:
        """How many submitted operations have not completed."""
        return len(self._pending)

