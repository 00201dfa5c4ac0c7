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

The contract, checked at the boundary (CONTRACTS.md section 2)
    Every answer the suite takes from a store passes :func:`checked_response`: a
    ``Response`` whose ``item`` is an item or None and whose ``items`` are a tuple
    (one entry per get of a TransactGet). :func:`call_execute` is the one way the
    suite calls ``execute``: a typed error of the family (``StoreError``) is an
    answer; anything else the call returns or raises (a string, a ``KeyError``,
    ``SystemExit(0)``, a ``KeyboardInterrupt`` the store raised on a thread of the
    suite) is a :class:`ContractBreach`, one line naming the call and what came
    back. :class:`GuardedStore` wraps a store so that every method the suite calls
    goes through :func:`guarded` (``execute`` through :func:`call_execute`);
    :func:`guarded_factory` builds guarded stores and says in one line
    (:class:`BadStore`) when a factory raises or returns something that is not a
    store.

Call timeout
    While a :class:`CallWatch` is active (:func:`watching`), every guarded call is
    registered in it with its start time; whoever runs the property (the engine,
    on a worker thread it can abandon) asks :meth:`CallWatch.overdue` for a call
    running longer than the watch's timeout and ends the property with a
    :class:`CallTimedOut` naming it. A call that returns after its property was
    given up raises :class:`Abandoned`, which unwinds the thread that made it.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, TypeVar

from replicheck.histories.history import History, pair
from replicheck.histories.items import completion_fields, request_to_json, tables_to_json
from replicheck.histories.recorder import Recorder
from replicheck.histories.windows import WINDOWS, windows_to_json
from replicheck.histories.wording import client_meta
from replicheck.implementation.store import Descriptor, Handle, Schedulable, Store, TimeControl
from replicheck.models.items.errors import StoreError
from replicheck.models.items.requests import Request, Response, TransactGet, request_kind

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "Abandoned",
    "BadStore",
    "CallTimedOut",
    "CallWatch",
    "ContractBreach",
    "GuardedStore",
    "RecordingStore",
    "call_execute",
    "checked_response",
    "current_watch",
    "guarded",
    "guarded_factory",
    "not_a_store",
    "request_text",
    "store_clock",
    "watching",
]

DEFAULT_CALL_TIMEOUT: Final = 30.0
"""Seconds a store call may take before its property ends as an error."""

_T = TypeVar("_T")
_SHOWN: Final = 80


class ContractBreach(BaseException):
    """The store broke the contract in one call: ``line`` (one line) names the call
    and what it returned or raised. A BaseException, so that no ``except Exception``
    of a machine takes it for an answer, and Hypothesis stops at once instead of
    shrinking a store that does not keep the contract."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class CallTimedOut(ContractBreach):
    """A store call did not return within the call timeout."""


class BadStore(ContractBreach):
    """A factory raised, or returned something that is not a store."""


class DidNotSettle(ContractBreach):
    """A store's ``settle()`` said it did not come to rest although the network was
    healed and every node restarted and resumed (the ``settling`` capability): what
    it holds then is no end state to judge convergence on."""


class Abandoned(BaseException):
    """Raised in a thread whose store call returned after its property was given up
    (another call timed out): it unwinds that thread, which nobody waits for."""


def _brief(value: Any) -> str:
    """``value`` in at most about :data:`_SHOWN` characters (its repr)."""
    try:
        text = repr(value)
    except Exception as error:  # a value whose repr raises is shown by its type
        text = f"<{type(value).__name__} whose repr raised {type(error).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _a(value: Any) -> str:
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def request_text(request: Request) -> str:
    """``request`` briefly, in DynamoDB's words (``GetItem k0 (strong)``), at most
    about :data:`_SHOWN` characters; anything that is not a request by its repr."""
    from replicheck.models.items.wording import request_text as words

    try:
        text = words(request)
    except Exception:  # not a request the suite could have drawn
        return _brief(request)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _raised(error: BaseException) -> str:
    message = " ".join(str(error).split())
    if isinstance(error, KeyError) and error.args:
        message = _brief(error.args[0])
    if len(message) > _SHOWN:
        message = message[:_SHOWN - 3] + "..."
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class CallWatch:
    """The store calls in progress and when each began, against ``timeout`` seconds
    (see the module docstring). Safe to use from several threads."""

    def __init__(self, timeout: float = DEFAULT_CALL_TIMEOUT) -> None:
        self.timeout = timeout
        self.abandoned = False
        # single dict operations and copies are atomic in CPython: no lock on the
        # path of every store call
        self._calls: dict[int, tuple[float, Callable[[], str]]] = {}
        self._tokens = itertools.count()

    def enter(self, text: Callable[[], str]) -> int:
        """Register a call (``text`` names it when asked); its token."""
        token = next(self._tokens)
        self._calls[token] = (time.monotonic(), text)
        return token

    def leave(self, token: int) -> None:
        """The call ``token`` returned or raised."""
        self._calls.pop(token, None)

    def overdue(self) -> str | None:
        """The oldest call running longer than the timeout, named; None when none."""
        calls = sorted(self._calls.copy().values(), key=lambda c: c[0])
        if calls and time.monotonic() - calls[0][0] >= self.timeout:
            return calls[0][1]()
        return None

    def wait_hint(self) -> float:
        """Seconds until the oldest call in progress would be overdue (at most 0.5)."""
        oldest = min((c[0] for c in self._calls.copy().values()), default=None)
        if oldest is None:
            return 0.5
        return max(0.01, min(0.5, oldest + self.timeout - time.monotonic()))


_WATCHES: list[CallWatch] = []


@contextlib.contextmanager
def watching(watch: CallWatch) -> Iterator[CallWatch]:
    """Within the block, guarded calls (from any thread) register in ``watch``."""
    _WATCHES.append(watch)
    try:
        yield watch
    finally:
        _WATCHES.remove(watch)


def current_watch() -> CallWatch | None:
    """The innermost active watch, if any."""
    return _WATCHES[-1] if _WATCHES else None


def guarded(text: Callable[[], str], run: Callable[[], _T], *, strict: bool = False) -> _T:
    """``run()``, one store call (``text()`` names it), registered in the active watch.
    A BaseException that is no Exception (``SystemExit``; a ``KeyboardInterrupt``
    raised anywhere but on the main thread, where it is the user's Ctrl-C) becomes a
    :class:`ContractBreach`; with ``strict``, so does every exception but a typed
    error of the family (``StoreError``)."""
    watch = current_watch()
    token = None if watch is None else watch.enter(text)
    try:
        return run()
    except (StoreError, ContractBreach, Abandoned):
        raise
    except KeyboardInterrupt as error:
        if threading.current_thread() is threading.main_thread():
            raise
        raise ContractBreach(f"{text()} raised {_raised(error)}") from None
    except Exception as error:
        if strict:
            raise ContractBreach(f"{text()} raised {_raised(error)}, which is not one of "
                                 "the contract's typed errors") from None
        raise
    except BaseException as error:
        raise ContractBreach(f"{text()} raised {_raised(error)}") from None
    finally:
        if watch is not None:
            watch.leave(token)  # type: ignore[arg-type]
            if watch.abandoned:
                raise Abandoned


def checked_response(request: Request, answer: object, call: str = "") -> Response:
    """``answer`` when it is the answer the contract says ``request`` gets (a Response
    whose ``item`` is an item or None and whose ``items`` are a tuple of items or
    None, one per get of a TransactGet); else a :class:`ContractBreach` naming
    ``call`` (default: ``execute(<request>)``) and what it returned."""
    def breach(what: str) -> ContractBreach:
        said = call or f"execute({request_text(request)})"
        return ContractBreach(f"{said} returned {what}, where the contract says a "
                              "Response or one of its typed errors")

    if not isinstance(answer, Response):
        return _raise(breach(f"{_brief(answer)} ({_a(answer)})"))
    if answer.item is not None and not isinstance(answer.item, Mapping):
        return _raise(breach(f"a Response whose item is {_brief(answer.item)} "
                             f"({_a(answer.item)})"))
    if not isinstance(answer.items, tuple) or any(
            i is not None and not isinstance(i, Mapping) for i in answer.items):
        return _raise(breach(f"a Response whose items are {_brief(answer.items)}"))
    if isinstance(request, TransactGet) and len(answer.items) != len(request.gets):
        return _raise(breach(f"{len(answer.items)} items for a TransactGet of "
                             f"{len(request.gets)} gets"))
    return answer


def _raise(breach: ContractBreach) -> Response:
    raise breach


def call_execute(store: Any, request: Request) -> Response:
    """``store.execute(request)`` as the contract allows: the checked Response, or the
    typed error it raised; anything else is a :class:`ContractBreach`."""
    inner = store.wrapped if isinstance(store, GuardedStore) else store

    def text() -> str:
        return f"execute({request_text(request)})"

    answer = guarded(text, lambda: inner.execute(request), strict=True)
    return checked_response(request, answer)


class GuardedStore:
    """``store`` with every method the suite calls through :func:`guarded` (and
    ``execute`` through :func:`call_execute`); other attributes are the store's."""

    def __init__(self, store: Any) -> None:
        object.__setattr__(self, "wrapped", store)

    @property
    def descriptor(self) -> Descriptor:
        """The wrapped store's descriptor."""
        return self.wrapped.descriptor  # type: ignore[no-any-return]

    def execute(self, request: Request) -> Response:
        """:func:`call_execute` on the wrapped store."""
        return call_execute(self.wrapped, request)

    def __getattr__(self, name: str) -> Any:
        if name == "wrapped" or name.startswith("__"):  # a copy being made, a protocol
            raise AttributeError(name)
        value = getattr(self.wrapped, name)
        if not callable(value) or isinstance(value, type):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            def text() -> str:
                shown = ", ".join([*(_brief(a) for a in args),
                                   *(f"{k}={_brief(v)}" for k, v in kwargs.items())])
                return f"{name}({shown})"

            return guarded(text, lambda: value(*args, **kwargs))

        if getattr(value, "__self__", None) is self.wrapped:  # a method: kept
            object.__setattr__(self, name, call)
        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.wrapped, name, value)

    def __copy__(self) -> GuardedStore:
        return GuardedStore(copy.copy(self.wrapped))

    def __deepcopy__(self, memo: dict[int, Any]) -> GuardedStore:
        # the kept method wrappers call the original: a copy guards its own store
        return GuardedStore(copy.deepcopy(self.wrapped, memo))

    def __repr__(self) -> str:
        return f"GuardedStore({self.wrapped!r})"


def not_a_store(made: object) -> str | None:
    """Why ``made`` is not a store (no ``descriptor`` that is a Descriptor, no
    callable ``execute``), or None when it is one."""
    if not callable(getattr(made, "execute", None)):
        return "it has no execute()"
    try:
        descriptor = made.descriptor  # type: ignore[attr-defined]
    except AttributeError:
        return "it has no descriptor"
    except Exception as error:
        return f"its descriptor raised {_raised(error)}"
    if not isinstance(descriptor, Descriptor):
        return f"its descriptor is {_brief(descriptor)} ({_a(descriptor)}), not a Descriptor"
    return None


def guarded_factory(factory: Callable[[], Any], target: str) -> Callable[[], GuardedStore]:
    """A factory calling ``factory`` (the store ``target``) through :func:`guarded` and
    wrapping what it builds in a :class:`GuardedStore`; :class:`BadStore` (one line
    naming ``target``) when ``factory`` raises or returns something that is not a
    store. Guarding a guarded factory returns it."""
    if getattr(factory, "guarded_target", None) is not None:
        return factory

    def text() -> str:
        return f"the factory of {target!r}"

    def build() -> GuardedStore:
        try:
            made = guarded(text, factory)
        except (CallTimedOut, BadStore):
            raise
        except ContractBreach as breach:  # SystemExit and the like
            raise BadStore(f"store {target!r}: {breach.line}") from None
        except Exception as error:
            raise BadStore(f"store {target!r}: the factory raised {_raised(error)}") from None
        if isinstance(made, GuardedStore):
            return made
        problem = not_a_store(made)
        if problem is not None:
            raise BadStore(f"store {target!r}: the factory returned {_brief(made)} "
                           f"({_a(made)}), not a store: {problem}")
        return GuardedStore(made)

    build.guarded_target = target  # type: ignore[attr-defined]
    return build


def _plain_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The handle's metadata the history keeps (everything but routing details)."""
    return {k: v for k, v in meta.items() if k != "coordinator"}


def store_clock(store: TimeControl) -> Callable[[], int]:
    """A recorder clock reading ``store``'s own time, in nanoseconds."""
    return lambda: round(store.now() * 1_000_000_000)


class RecordingStore:
    """A store whose every request is recorded in :attr:`recorder`.

    ``history()`` is the item history of everything recorded so far (with the
    ``tables`` observation the item model needs). The wrapped store is
    :attr:`store`; faults and observations go to it directly. With ``store_time``
    (by default: when no recorder is given and the store has time control) the
    records carry the store's own time (:func:`store_clock`; a given recorder must
    use it) and a ``windows`` observation declares the store's windows
    (:mod:`replicheck.histories.windows`), so that checkers judge them."""

    def __init__(self, store: Store, recorder: Recorder | None = None, *,
                 store_time: bool | None = None) -> None:
        self.store = store
        if store_time is None:
            store_time = recorder is None and isinstance(store, TimeControl)
        if recorder is None and store_time:
            recorder = Recorder(clock=store_clock(store))  # type: ignore[arg-type]
        self.recorder = recorder or Recorder()
        self.recorder.observe("tables", tables_to_json(store.descriptor.tables))
        if store_time:
            self.recorder.observe(WINDOWS, windows_to_json(store.descriptor.windows.named()))
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
                outcome = Response() if handle.response is None else checked_response(
                    handle.request, handle.response,
                    f"the handle of {request_text(handle.request)}")
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
        the exception is re-raised and ``client`` continues under a fresh process).
        The store's answer is checked (:func:`call_execute`): anything the contract
        does not allow is a :class:`ContractBreach`."""
        process = self.process_of(client)
        f = request_kind(request)
        self.recorder.invoke(process, f, request_to_json(request), meta=self.client_meta(client))
        try:
            response = call_execute(self.store, request)
        except StoreError as error:
            self._complete(client, process, f, error, {})
            raise
        except BaseException:
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

