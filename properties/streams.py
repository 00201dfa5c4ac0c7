"""The stream property, ``stream-exactly-once-in-order``: a store's change stream under concurrent
writes, failed writes, transactions, idempotent retries and leader failover.

:func:`streams_machine` drives a schedulable store with a change stream: puts,
updates and deletes (conditional ones among them, so some fail), transactions (some
cancelled), transactions retried with the same ClientRequestToken after they
completed, bursts of writes to one item (an item's records then cross sequence
numbers of different lengths), concurrent submissions, every scheduler decision,
crashes of the leader of a key's partition (failover), partitions that isolate it,
and time passing. Teardown heals, restarts every node, settles, observes the
table's stream and judges ``stream-exactly-once`` (every acknowledged write exactly
once, with its old and new images; nothing from a failed or cancelled write) and
``stream-item-order`` (an item's records in its modification order) with
:func:`~replicheck.properties.guarantees.judge_guarantee` (the stream checker of
:mod:`replicheck.histories.checkers.streams`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from replicheck.implementation.store import (
    Capability,
    Handle,
    Leadership,
    Store,
    TimeControl,
)
from replicheck.models.items.requests import (
    Put,
    Request,
    Response,
    TableSchema,
    TransactWrite,
)
from replicheck.models.items.wording import answer_text, request_text
from replicheck.properties import strategies
from replicheck.properties.driving import (
    CLIENTS,
    MAX_CALL_DECISIONS,
    MAX_SETTLE_DECISIONS,
    DrivenRecording,
    close_store,
    fair_step,
    idle_client,
    probe_store,
    steer,
)
from replicheck.properties.guarantees import judge_guarantee
from replicheck.properties.mechanisms import stream_observation
from replicheck.properties.scheduled import scheduled_machine
from replicheck.properties.verdicts import StepLog, Verdicts

__all__ = ["STREAMS_PROPERTY", "streams_machine"]

STREAMS_PROPERTY: Final = "stream-exactly-once-in-order"
"""The suite property this module checks."""


def streams_machine(factory: Callable[[], Store], target: str | None = None
                    ) -> type[RuleBasedStateMachine]:
    """The machine for the schedulable, streaming store ``factory`` builds (see the module
    docstring); ``target`` names the store (unused here). Fails with
    :class:`~replicheck.properties.examples.GuaranteeViolation` when the stream misses,
    repeats, invents or reorders a record the store claims it would not."""
    descriptor, nodes, probe = probe_store(factory)
    try:
        table = descriptor.tables[0].name
        pk = descriptor.tables[0].partition_key
        schemas = {t.name: t for t in descriptor.tables}
        faults = descriptor.has(Capability.FAULTS) and bool(nodes)
        transactions = descriptor.has(Capability.TRANSACTIONS)
        leaders = isinstance(probe, Leadership)
        timed = isinstance(probe, TimeControl)
    finally:
        close_store(probe)
    writes = st.one_of(strategies.puts(table, pk), strategies.updates(table, pk),
                       strategies.deletes(table, pk),
                       *([strategies.transact_writes(table, pk)] if transactions else []))
    node_names = nodes or ("none",)

    class Streams(scheduled_machine(node_names, faults)):  # type: ignore[misc]
        """Writes, transactions, retries and failovers: every acknowledged write once
        in the stream, in order per item."""

        def __init__(self) -> None:
            super().__init__()
            self.raw: Any = factory()
            self.rec = DrivenRecording(self.raw)
            self.log = StepLog()
            self.verdicts = Verdicts(STREAMS_PROPERTY, self.log)
            self.handles: dict[str, Handle] = {}
            self.crashed: set[str] = set()
            self.tokens = 0
            self.failovers = 0
            self.rules_run = 0

        def _idle(self, client: str) -> str | None:
            return idle_client(CLIENTS, self.handles, client)

        def _call(self, client: str, request: Request) -> tuple[Handle, int]:
            handle = self.rec.submit(client, request)
            self.handles[client] = handle
            taken = 0
            while not handle.done and taken < MAX_CALL_DECISIONS and fair_step(self.rec):
                taken += 1
            return handle, taken

        def _leader(self, key: str) -> str | None:
            partition = self.raw.partition_of(table, {pk: key})
            return self.raw.leader_of(partition)  # type: ignore[no-any-return]

        @rule(client=st.sampled_from(CLIENTS), request=writes)
        def call(self, client: str, request: Request) -> None:
            """A write (maybe conditional) or a transaction, run until it completes."""
            idle = self._idle(client)
            if idle is None:
                return
            handle, taken = self._call(idle, request)
            self._step(f"{idle} runs {_show(request, schemas)}: "
                       f"{_outcome(handle)}", taken)

        @rule(client=st.sampled_from(CLIENTS), request=writes)
        def submit(self, client: str, request: Request) -> None:
            """A write submitted without waiting (it races the others)."""
            idle = self._idle(client)
            if idle is None:
                return
            self.handles[idle] = self.rec.submit(idle, request)
            self._step(f"{idle} submits {_show(request, schemas)}")

        @precondition(lambda self: transactions)
        @rule(client=st.sampled_from(CLIENTS), request=strategies.transact_writes(table, pk),
              retries=st.integers(1, 2))
        def idempotent(self, client: str, request: TransactWrite, retries: int) -> None:
            """A transaction with a ClientRequestToken, sent again with the same token
            after it completed (the retry must not write a second time)."""
            idle = self._idle(client)
            if idle is None:
                return
            self.tokens += 1
            tokened = replace(request, token=f"token-{self.tokens}")
            outcomes, total = [], 0
            for _ in range(1 + retries):
                handle, taken = self._call(idle, tokened)
                outcomes.append(_outcome(handle))
                total += taken
                if not handle.done:
                    break
            self._step(f"{idle} runs {_show(tokened, schemas)} {len(outcomes)} time(s) "
                       f"with token-{self.tokens}: {', '.join(outcomes)}", total)

        @rule(key=strategies.keys(), count=st.integers(2, 12),
              client=st.sampled_from(CLIENTS))
        def burst(self, key: str, count: int, client: str) -> None:
            """One client writes one item several times in a row."""
            idle = self._idle(client)
            if idle is None:
                return
            total, done = 0, 0
            for i in range(count):
                handle, taken = self._call(idle, Put(table, {pk: key, "v": f"b{i}"}))
                total += taken
                if not handle.done:
                    break
                done += 1
            self._step(f"{idle} puts {key} {done} time(s) in a row", total)

        @precondition(lambda self: faults and leaders)
        @rule(key=strategies.keys())
        def crash_leader(self, key: str) -> None:
            """Crash the leader of a key's partition (a failover follows)."""
            leader = self._leader(key)
            if leader is None or self.crashed:
                return
            self.raw.crash(leader)
            self.crashed.add(leader)
            self.failovers += 1
            self._step(f"crash {leader}, the leader of {key}'s partition")

        @precondition(lambda self: faults and leaders)
        @rule(key=strategies.keys())
        def isolate_leader(self, key: str) -> None:
            """Cut the leader of a key's partition off from every other node."""
            leader = self._leader(key)
            if leader is None:
                return
            self.raw.partition([[leader], [n for n in nodes if n != leader]])
            self.failovers += 1
            self._step(f"isolate {leader}, the leader of {key}'s partition")

        @precondition(lambda self: timed)
        @rule(seconds=st.sampled_from((0.5, 1.0, 3.0)))
        def wait(self, seconds: float) -> None:
            """Let simulated time pass under the fair policy (elections, retries)."""
            end = self.raw.now() + seconds
            taken = 0
            while self.raw.now() < end and taken < MAX_SETTLE_DECISIONS \
                    and fair_step(self.rec):
                taken += 1
            self._step(f"wait {seconds} s ({taken} fair decision(s))", taken)

        def _finish(self) -> None:
            if not self._quiet():
                return
            observation = stream_observation(self.raw, table)
            records = observation["records"]
            per_item: dict[str, int] = {}
            for record in records:
                shown = repr(record["key"])
                per_item[shown] = per_item.get(shown, 0) + 1
            steer(float(max(per_item.values(), default=0)), "stream records of one item")
            steer(float(self.failovers), "leader failovers")
            self.rec.observe("stream", observation)
            history = self.rec.history()
            self.verdicts.take_all([judge_guarantee(g, history, descriptor) for g in (
                "stream-item-order", "stream-exactly-once")], history)

    Streams.__name__ = Streams.__qualname__ = "Streams"
    return Streams


def _show(request: Request, schemas: Mapping[str, TableSchema]) -> str:
    """A request in DynamoDB's words (``PutItem k0 {v: "v1"} if ...``)."""
    return request_text(request, schemas)


def _outcome(handle: Handle) -> str:
    """What the call was answered, in DynamoDB's words (``ok``, ``{v: "v1"}``,
    ``ConditionalCheckFailed``), or ``still in flight``."""
    if not handle.done:
        return "still in flight"
    if handle.status == "ok":
        return answer_text(handle.request, handle.response or Response())
    if handle.status == "indeterminate":
        return "indeterminate"
    return answer_text(handle.request, handle.error)
