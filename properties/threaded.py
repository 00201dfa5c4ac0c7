"""Concurrent histories on real threads, for stores without deterministic scheduling.

A store that cannot let Hypothesis decide every message (a real service: DynamoDB,
etcd, your own server) is driven the way Jepsen drives one: several client threads
call its synchronous ``execute`` at once, and the recorder stamps every invocation
just before the call and every completion just after it with a monotonic clock. The
history's real-time order is the order those stamps were taken in.

How Hypothesis rules map to threads (:func:`threaded_machine`)
    ``enqueue`` appends a drawn request (:mod:`replicheck.properties.strategies`) to
    one client's queue (clients :data:`CLIENTS`; a queue holds at most
    :data:`MAX_QUEUE` requests: a full queue first runs the batch). ``run_batch``
    starts one thread per client with a non-empty queue; the threads wait at a
    barrier, so they start together, and each runs its queue in order. The rule
    returns when every thread is done, or after :data:`BATCH_TIMEOUT` seconds: an
    operation still in flight then is recorded as indeterminate (``info``, error
    ``"indeterminate"``) and its thread is abandoned. Teardown runs what is still
    queued, judges the history and cleans up.

    While a call watch is active (:func:`replicheck.properties.recording.watching`:
    the engine runs the property with one), the batch waits for every thread and the
    call timeout governs instead: a call that does not return within it ends the
    property as an error naming the call.

Recording
    As :class:`~replicheck.properties.recording.RecordingStore` does: a response is
    ``ok``, a definite error ``fail`` (a false condition with ``"condition-failed"``),
    ``Indeterminate`` ``info``, after which the client continues under a fresh
    process id. Every call goes through
    :func:`~replicheck.properties.recording.call_execute`: an answer the contract
    does not allow (a string, an exception outside the error family, ``SystemExit``)
    is recorded as ``info`` and its
    :class:`~replicheck.properties.recording.ContractBreach` re-raised when the batch
    is over (the store broke the contract: an error, not a verdict). Nothing a client
    thread meets escapes it (no thread tracebacks).

Judging (teardown)
    Every guarantee of :data:`GUARANTEES` is judged on the history with
    :func:`~replicheck.properties.guarantees.judge_guarantee`; a store declaring
    ``replica-introspection`` is first given up to :data:`SETTLE_SECONDS` for its
    replicas to agree and then observed (for ``convergence``). One
    :class:`~replicheck.properties.examples.ExampleReport` per example goes to
    :func:`~replicheck.properties.examples.report_example`; a claimed guarantee
    violated raises :class:`~replicheck.properties.examples.GuaranteeViolation`
    with a :class:`~replicheck.properties.outcomes.Counterexample` whose steps are
    the batches and their operations in invocation order.

Not replayable
    Threads, not Hypothesis, chose the interleaving, so a failing example may pass
    when replayed (Hypothesis then reports it as flaky). The failure message
    therefore carries the recorded history itself, as JSON lines that
    ``replicheck check`` judges again, instead of a schedule. The counterexample
    keeps its batches (``batches``) and counts its steps in operations; the threaded
    shrinker (:mod:`replicheck.properties.threaded_shrink`) reruns smaller ones
    (:func:`rerun`).

Cleanup
    After judging, the suite deletes every item the example may have written, then
    calls ``close()`` (:mod:`replicheck.properties.namespaces` has the rule and the
    ``cleans_up`` opt-out).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from replicheck.histories.history import History, pair
from replicheck.histories.items import completion_fields, request_to_json, tables_to_json
from replicheck.histories.recorder import Recorder
from replicheck.histories.wording import client_label, client_meta
from replicheck.implementation.store import Capability, Descriptor, Introspectable, Store
from replicheck.models.items.errors import StoreError
from replicheck.models.items.requests import (
    Get,
    Put,
    Request,
    TableSchema,
    request_kind,
)
from replicheck.models.items.values import key_text
from replicheck.models.items.wording import answer_text, request_text
from replicheck.properties import strategies
from replicheck.properties.examples import ExampleReport, GuaranteeViolation, report_example
from replicheck.properties.guarantees import (
    OBSERVED,
    VIOLATED,
    Judgement,
    judge_anomalies,
    judge_guarantee,
)
from replicheck.properties.namespaces import (
    CleanupError,
    ItemKey,
    clean_up,
    cleans_up,
    namespace_of,
    request_table,
    written_keys,
)
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.recording import ContractBreach, call_execute, current_watch

__all__ = [
    "BATCH_TIMEOUT",
    "CLIENTS",
    "GUARANTEES",
    "MAX_QUEUE",
    "PROPERTY",
    "SETTLE_SECONDS",
    "operations",
    "rerun",
    "threaded_machine",
]

PROPERTY: Final = "concurrent-histories-on-threads"
"""The property's ID (:data:`replicheck.properties.suite.PROPERTIES`)."""

GUARANTEES: Final = (
    "linearizable-strong-reads", "linearizable-conditional-writes",
    "serializable-transactions", "atomic-transactions", "read-your-writes",
    "monotonic-reads", "convergence")
"""The guarantees judged on every example's history."""

CLIENTS: Final = ("c0", "c1", "c2")
"""The client threads."""

MAX_QUEUE: Final = 4
"""The most requests one client's queue holds before the batch runs."""

BATCH_TIMEOUT: Final = 10.0
"""Seconds a batch may run; an operation still in flight then is indeterminate."""

SETTLE_SECONDS: Final = 5.0
"""Seconds teardown waits for an introspectable store's replicas to agree."""

_SPECIFICITY: Final = (
    "linearizable-conditional-writes", "atomic-transactions", "serializable-transactions",
    "read-your-writes", "monotonic-reads", "linearizable-strong-reads", "convergence")


@dataclass
class _Batch:
    """One run of the queued requests: what is in flight per client, what completed
    (client, request, outcome word, invoke and completion times in ns)."""

    abandoned: bool = False
    in_flight: dict[str, tuple[int, Request, int]] = field(default_factory=dict)
    log: list[tuple[str, Request, str, int, int | None]] = field(default_factory=list)
    crashes: list[BaseException] = field(default_factory=list)


def _requests(descriptor: Descriptor) -> st.SearchStrategy[Request]:
    schema = descriptor.tables[0]
    drawn = strategies.requests(schema.name, schema.partition_key,
                                transactions=descriptor.has(Capability.TRANSACTIONS))
    if descriptor.has(Capability.STRONG_READS):
        return drawn
    return drawn.map(_eventual)


def _eventual(request: Request) -> Request:
    """``request`` with every read eventually consistent (a store without
    ``strong-reads``)."""
    if isinstance(request, Get):
        return dc_replace(request, consistent=False)
    return request


def _probe(factory: Callable[[], Store]) -> Descriptor:
    made = factory()
    try:
        return made.descriptor
    finally:
        _close(made)


def _close(store: object) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()


def describe(request: Request, schemas: Mapping[str, TableSchema] | None = None) -> str:
    """One request in DynamoDB's words (``PutItem k0 {v: "v3"} if
    attribute_not_exists(pk)``; ``models.items.wording.request_text``; ``schemas``, by
    table name, let a PutItem show its key apart)."""
    return request_text(request, schemas)


_SESSION: Final = frozenset({"read-your-writes", "monotonic-reads"})


def _session_view(history: History, descriptor: Descriptor) -> History:
    """``history`` without the single-item operations on items that a transaction
    wrote without reporting its writes (``meta["writes"]``, which a store driven
    through ``execute`` does not give): the session checkers see single-item
    operations only, so a read after such a transaction would be judged against
    writes it superseded. The linearizability checks see the whole history."""
    from replicheck.histories.items import request_of

    blind: set[ItemKey] = set()
    for op in history.operations:
        if op.f == "transact-write" and op.status != "fail" and "writes" not in op.meta:
            blind.update(written_keys([request_of(op)], descriptor))
    if not blind:
        return history
    kept: list[Any] = []
    for op in history.operations:
        if op.f in ("get-strong", "get-eventual", "put", "update", "delete"):
            request = request_of(op)
            source = request.item if isinstance(request, Put) else getattr(request, "key", {})
            if set(written_keys([Put(request_table(request), source)], descriptor)) & blind:
                continue
        kept.append(op)  # its id kept: anomalies name operations of the whole history
    return dc_replace(history, operations=tuple(kept))


def replicas_observation(store: Introspectable, table: str, *,
                         settle: float = SETTLE_SECONDS,
                         pause: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """What every replica of ``store`` holds for ``table`` (a ``replicas`` observation
    of :mod:`replicheck.histories.checkers.convergence`, entries without versions),
    taken once the replicas agree or ``settle`` seconds have passed (``quiescent``:
    no client operation in flight; the store had that long to converge)."""
    deadline = time.monotonic() + settle
    while True:
        held = {node: {key_text(k): {"value": dict(item)}
                       for k, item in store.replica_items(node, table).items()}
                for node in store.replicas()}
        distinct = {json.dumps(v, sort_keys=True, default=str) for v in held.values()}
        if len(distinct) <= 1 or time.monotonic() >= deadline:
            return {"table": table, "quiescent": True, "replicas": held}
        pause(0.05)


def threaded_machine(factory: Callable[[], Store], target: str | None = None, *,
                     batch_timeout: float = BATCH_TIMEOUT
                     ) -> type[RuleBasedStateMachine]:
    """The machine of the property ``concurrent-histories-on-threads`` for the store
    ``factory`` builds (called once per example; the module docstring says what
    each example does). ``target`` names the store in failure messages. Fails with
    GuaranteeViolation when a claimed guarantee is violated, with CleanupError when
    the items the example wrote could not be deleted."""
    descriptor = _probe(factory)
    schemas = {t.name: t for t in descriptor.tables}
    table = descriptor.tables[0].name
    requests = _requests(descriptor)
    shown_target = target or descriptor.name

    class Threaded(RuleBasedStateMachine):
        """Client threads run queued requests at once; every claimed guarantee holds
        on the history recorded with real time."""

        def __init__(self) -> None:
            super().__init__()
            self.store = factory()
            self.recorder = Recorder()
            self.recorder.observe("tables", tables_to_json(self.store.descriptor.tables))
            self.processes = {c: self.recorder.new_process() for c in CLIENTS}
            self.incarnations = dict.fromkeys(CLIENTS, 1)
            self.queues: dict[str, list[Request]] = {c: [] for c in CLIENTS}
            self.steps: list[str] = []
            self.batches = 0
            self.plan: list[dict[str, tuple[Request, ...]]] = []  # for the shrinker
            self.lock = threading.Lock()

        @rule(client=st.sampled_from(CLIENTS), request=requests)
        def enqueue(self, client: str, request: Request) -> None:
            """Queue ``request`` for ``client`` (a full queue runs the batch first)."""
            if len(self.queues[client]) >= MAX_QUEUE:
                self._run_batch()
            self.queues[client].append(request)

        @precondition(lambda self: any(self.queues.values()))
        @rule()
        def run_batch(self) -> None:
            """Every client with queued requests runs them, all threads at once."""
            self._run_batch()

        # -- threads ----------------------------------------------------------------

        def _run_batch(self) -> None:
            queued = {c: q for c, q in self.queues.items() if q}
            self.queues = {c: [] for c in CLIENTS}
            if not queued:
                return
            self.batches += 1
            self.plan.append({c: tuple(q) for c, q in queued.items()})
            batch = _Batch()
            barrier = threading.Barrier(len(queued))
            threads = [threading.Thread(target=self._client, args=(c, q, barrier, batch),
                                        name=f"replicheck-{c}", daemon=True)
                       for c, q in queued.items()]
            start = time.monotonic()
            for thread in threads:
                thread.start()
            watched = current_watch() is not None  # the call timeout governs
            for thread in threads:
                thread.join(None if watched else
                            max(0.0, start + batch_timeout - time.monotonic()))
            timed_out: list[tuple[str, Request, int]] = []
            with self.lock:
                batch.abandoned = True
                for client, (process, request, invoked) in sorted(batch.in_flight.items()):
                    timed_out.append((client_label(client, self.incarnations[client]),
                                      request, invoked))
                    self.incarnations[client] += 1
                    self.processes[client] = self.recorder.info(
                        process, request_kind(request), None, error="indeterminate")
                batch.in_flight.clear()
                log = sorted(batch.log, key=lambda entry: entry[3])
            self.steps.append(f"batch {self.batches}: {', '.join(queued)} start together"
                              if len(queued) > 1 else
                              f"batch {self.batches}: {', '.join(queued)} runs alone")
            origin = min((entry[3] for entry in log), default=0)
            for client, request, outcome, invoked, completed in log:
                span = (f"{(invoked - origin) / 1e6:.3f}-{(completed - origin) / 1e6:.3f} ms"
                        if completed is not None else "")
                self.steps.append(f"  {client}: {describe(request, schemas)} -> {outcome} "
                                  f"({span})")
            for client, request, _ in timed_out:
                self.steps.append(f"  {client}: {describe(request, schemas)} -> no answer "
                                  f"within {batch_timeout:g} s: recorded as indeterminate")
            if batch.crashes:
                raise next((c for c in batch.crashes if isinstance(c, ContractBreach)),
                           batch.crashes[0])

        def _client(self, client: str, queue: list[Request], barrier: threading.Barrier,
                    batch: _Batch) -> None:
            try:
                self._run_queue(client, queue, barrier, batch)
            except BaseException as error:  # kept for the batch's end, never a traceback
                batch.crashes.append(error)

        def _run_queue(self, client: str, queue: list[Request],
                       barrier: threading.Barrier, batch: _Batch) -> None:
            # a broken barrier (a slow start) runs anyway: the recorded times stay true
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=batch_timeout)
            for request in queue:
                kind = request_kind(request)
                with self.lock:
                    if batch.abandoned:
                        return
                    process = self.processes[client]
                    label = client_label(client, self.incarnations[client])
                    self.recorder.invoke(process, kind, request_to_json(request),
                                         meta=client_meta(client, self.incarnations[client]))
                    invoked = time.monotonic_ns()
                    batch.in_flight[client] = (process, request, invoked)
                outcome: Any
                try:
                    outcome = call_execute(self.store, request)
                except StoreError as error:
                    outcome = error
                except BaseException as error:  # a broken contract: info, re-raised later
                    outcome = None
                    batch.crashes.append(error)
                with self.lock:
                    if batch.abandoned:
                        return  # already recorded as indeterminate
                    del batch.in_flight[client]
                    type_, value, error_field = completion_fields(outcome)
                    if type_ == "ok":
                        self.recorder.ok(process, kind, value)
                    elif type_ == "fail":
                        self.recorder.fail(process, kind, value, error=error_field)
                    else:
                        self.incarnations[client] += 1
                        self.processes[client] = self.recorder.info(
                            process, kind, value, error=error_field)
                    word = answer_text(request, outcome)
                    batch.log.append((label, request, word, invoked, time.monotonic_ns()))

        # -- teardown ---------------------------------------------------------------

        def history(self) -> History:
            """Everything recorded so far, paired into operations."""
            return pair(self.recorder.records())

        def teardown(self) -> None:
            failure: BaseException | None = None
            try:
                self._run_batch()
                self._judge()
            except BaseException as error:
                failure = error
                raise
            finally:
                self._clean(failure)

        def _clean(self, failure: BaseException | None) -> None:
            try:
                if not cleans_up(self.store):
                    left = clean_up(self.store, written_keys(self.history(),
                                                             self.store.descriptor))
                    if left and failure is None:
                        raise CleanupError(left, namespace_of(self.store))
            finally:
                _close(self.store)

        def judgements(self) -> tuple[History, list[Judgement]]:
            """The history (an introspectable store's replicas observed first) and
            every guarantee of GUARANTEES and every anomaly column judged on it;
            nothing reported."""
            if isinstance(self.store, Introspectable) and descriptor.has(
                    Capability.REPLICA_INTROSPECTION):
                self.recorder.observe("replicas", replicas_observation(self.store, table))
            history = self.history()
            sessions = _session_view(history, descriptor)
            judgements = [judge_guarantee(g, sessions if g in _SESSION else history,
                                          descriptor) for g in GUARANTEES]
            judgements += judge_anomalies(history)  # lost-update, stale-read: observations
            return history, judgements

        def _judge(self) -> None:
            if not self.history().operations:
                return
            history, judgements = self.judgements()
            steps = tuple(self.steps)
            observations = {
                j.guarantee: self._counterexample(j, steps, history)
                for j in judgements if j.status == OBSERVED}
            report_example(ExampleReport(
                property=PROPERTY, statuses={j.guarantee: j.status for j in judgements},
                observations=observations,
                checkers={j.guarantee: j.checker for j in judgements}))
            failed = sorted((j for j in judgements if j.status == VIOLATED),
                            key=lambda j: _SPECIFICITY.index(j.guarantee))
            if failed:
                first = failed[0]
                raise GuaranteeViolation(
                    self._message(failed, steps),
                    tuple(j.guarantee for j in failed),
                    self._counterexample(first, steps, history))

        def _counterexample(self, judgement: Judgement, steps: tuple[str, ...],
                            history: History) -> Counterexample:
            return Counterexample(PROPERTY, judgement.guarantee, judgement.explanation(),
                                  steps=steps, decisions=operations(self.plan),
                                  history=history, verdict=judgement.verdict,
                                  batches=tuple(self.plan))

        def _message(self, failed: list[Judgement], steps: tuple[str, ...]) -> str:
            from replicheck.histories.formats.jsonl import dumps_jsonl

            namespace = namespace_of(self.store)
            where = f" in {namespace}" if namespace else ""
            records = [r for r in self.recorder.records() if r.type != "observe"
                       or r.f == "tables"]
            try:
                recorded = dumps_jsonl(records)
            except ValueError as error:
                recorded = f"(the history could not be written as JSON lines: {error})\n"
            return (
                f"{shown_target}{where}: claimed guarantee violated on a history recorded "
                "with client threads and real time\n"
                + "\n".join(j.explanation() for j in failed)
                + "\nsteps:\n" + "\n".join(f"  {s}" for s in steps)
                + "\nthreads chose the interleaving, so replaying this example may not fail "
                "again (Hypothesis may call it flaky). The recorded history follows as JSON "
                "lines; save it to a file and run `replicheck check FILE` to judge it "
                "again:\n" + recorded)

    Threaded.__name__ = Threaded.__qualname__ = "Threaded"
    return Threaded


def operations(batches: Sequence[Mapping[str, Sequence[Request]]]) -> int:
    """How many client operations ``batches`` run (one operation = one step)."""
    return sum(len(queue) for batch in batches for queue in batch.values())


def rerun(factory: Callable[[], Store], batches: Sequence[Mapping[str, Sequence[Request]]],
          target: str | None = None, *, batch_timeout: float = BATCH_TIMEOUT
          ) -> tuple[History, tuple[str, ...], list[Judgement]]:
    """Run ``batches`` (each: client -> requests) on a fresh store of ``factory`` as
    an example that queued them would (one batch after another, each client's
    requests on its own thread), judge every guarantee (nothing reported) and clean
    up: the history, the steps in words and the judgements. The threads choose the
    interleaving afresh: the outcome may differ from run to run (the shrinker's
    rerun, :mod:`replicheck.properties.threaded_shrink`)."""
    example: Any = threaded_machine(factory, target, batch_timeout=batch_timeout)()
    failure: BaseException | None = None
    try:
        for batch in batches:
            example.queues = {c: list(batch.get(c, ())) for c in CLIENTS}
            example._run_batch()
        history, judgements = example.judgements()
        return history, tuple(example.steps), judgements
    except BaseException as error:
        failure = error
        raise
    finally:
        example._clean(failure)
