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

from replicheck.implementation.store import Handle, Store
from replicheck.models.items.requests import (
    Put,
    Request,
    Response,
    TableSchema,
    TransactWrite,
)
from replicheck.models.items.wording import answer_text, request_text
from replicheck.properties import strategies
from replicheck.properties.driving import CLIENTS, MAX_SETTLE_DECISIONS, fair_step
from replicheck.properties.guarantees import judge_guarantee
from replicheck.properties.mechanisms import stream_observation
from replicheck.properties.scheduled import Setup, probe, scheduled_machine

__all__ = ["STREAMS_PROPERTY", "streams_machine"]

STREAMS_PROPERTY: Final = "stream-exactly-once-in-order"
"""The suite property this module checks."""


def streams_machine(factory: Callable[[], Store], target: str | None = None, seed: int = 0,
                    *, search: bool = False) -> type[RuleBasedStateMachine]:
    """The stream property's machine for the schedulable, streaming store ``factory``
    builds (see the module docstring); ``target`` and ``seed`` name the store. Fails
    with :class:`~replicheck.properties.examples.GuaranteeViolation` when the stream
    misses, repeats, invents or reorders a record the store claims it would not. With
    ``search``, it draws every fault-search rule class too."""
    setup = probe(STREAMS_PROPERTY, factory, target, seed, search=search)

    bases = (_write_rules(setup), _failover_rules(setup), scheduled_machine(setup, rules=()))

    class Streams(*bases):  # type: ignore[misc]
        """Writes, transactions, retries and failovers: every acknowledged write once
        in the stream, in order per item."""

        def __init__(self) -> None:
            super().__init__()
            self.tokens = 0
            self.failovers = 0

        def judge(self) -> None:
            if not self.settled():
                return
            observation = stream_observation(self.raw, setup.table)
            per_item: dict[str, int] = {}
            for record in observation["records"]:
                shown = repr(record["key"])
                per_item[shown] = per_item.get(shown, 0) + 1
            self.aim(float(max(per_item.values(), default=0)), "stream records of one item")
            self.aim(float(self.failovers), "leader failovers")
            self.rec.observe("stream", observation)
            history = self.rec.history()
            self.verdicts.take_all([judge_guarantee(g, history, setup.descriptor) for g in (
                "stream-item-order", "stream-exactly-once")], history)

    Streams.__name__ = Streams.__qualname__ = "Streams"
    return Streams


def _write_rules(setup: Setup) -> type:
    """The stream property's workload: writes (maybe conditional) and transactions run
    to completion or submitted to race, token retries, and bursts on one item."""
    table, pk = setup.table, setup.pk
    schemas = {t.name: t for t in setup.descriptor.tables}
    transactions = setup.surface.transactions
    writes = st.one_of(strategies.puts(table, pk), strategies.updates(table, pk),
                       strategies.deletes(table, pk),
                       *([strategies.transact_writes(table, pk)] if transactions else []))

    class Writes:
        @rule(client=st.sampled_from(CLIENTS), request=writes)
        def call(self: Any, client: str, request: Request) -> None:
            """A write (maybe conditional) or a transaction, run until it completes."""
            self.rules_run += 1
            idle = self.idle(client)
            if idle is None:
                return
            handle, taken = self.complete_call(idle, request)
            self.log_step(lambda: f"{idle} runs {_show(request, schemas)}: "
                          f"{_outcome(handle)}", taken)

        @rule(client=st.sampled_from(CLIENTS), request=writes)
        def submit(self: Any, client: str, request: Request) -> None:
            """A write submitted without waiting (it races the others)."""
            self.rules_run += 1
            idle = self.idle(client)
            if idle is None:
                return
            self.handles[idle] = self.rec.submit(idle, request)
            self.log_step(lambda: f"{idle} submits {_show(request, schemas)}")

        @precondition(lambda self: transactions)
        @rule(client=st.sampled_from(CLIENTS), request=strategies.transact_writes(table, pk),
              retries=st.integers(1, 2))
        def idempotent(self: Any, client: str, request: TransactWrite, retries: int) -> None:
            """A transaction with a ClientRequestToken, sent again with the same token
            after it completed (the retry must not write a second time)."""
            self.rules_run += 1
            idle = self.idle(client)
            if idle is None:
                return
            self.tokens += 1
            tokened = replace(request, token=f"token-{self.tokens}")
            outcomes, total = [], 0
            for _ in range(1 + retries):
                handle, taken = self.complete_call(idle, tokened)
                outcomes.append(_outcome(handle))
                total += taken
                if not handle.done:
                    break
            self.log_step(lambda: f"{idle} runs {_show(tokened, schemas)} {len(outcomes)} "
                          f"time(s) with token-{self.tokens}: {', '.join(outcomes)}", total)

        @rule(key=strategies.keys(), count=st.integers(2, 12),
              client=st.sampled_from(CLIENTS))
        def burst(self: Any, key: str, count: int, client: str) -> None:
            """One client writes one item several times in a row."""
            self.rules_run += 1
            idle = self.idle(client)
            if idle is None:
                return
            total, done = 0, 0
            for i in range(count):
                handle, taken = self.complete_call(idle, Put(table, {pk: key, "v": f"b{i}"}))
                total += taken
                if not handle.done:
                    break
                done += 1
            self.log_step(lambda: f"{idle} puts {key} {done} time(s) in a row", total)

    return Writes


def _failover_rules(setup: Setup) -> type:
    """The stream property's faults: crash or isolate the leader of a key's partition
    (a failover follows), and let simulated time pass."""
    table, pk, nodes = setup.table, setup.pk, setup.nodes
    leaders = setup.faults and setup.surface.leaders
    timed = setup.surface.timed

    def leader_of(machine: Any, key: str) -> str | None:
        partition = machine.raw.partition_of(table, {pk: key})
        return machine.raw.leader_of(partition)  # type: ignore[no-any-return]

    class Failover:
        @precondition(lambda self: leaders)
        @rule(key=strategies.keys())
        def crash_leader(self: Any, key: str) -> None:
            """Crash the leader of a key's partition (a failover follows)."""
            self.rules_run += 1
            leader = leader_of(self, key)
            if leader is None or not self.crash_node(leader):
                return
            self.failovers += 1
            self.log_step(lambda: f"crash {leader}, the leader of {key}'s partition")

        @precondition(lambda self: leaders)
        @rule(key=strategies.keys())
        def isolate_leader(self: Any, key: str) -> None:
            """Cut the leader of a key's partition off from every other node."""
            self.rules_run += 1
            leader = leader_of(self, key)
            if leader is None:
                return
            self.raw.partition([[leader], [n for n in nodes if n != leader]])
            self.failovers += 1
            self.log_step(lambda: f"isolate {leader}, the leader of {key}'s partition")

        @precondition(lambda self: timed)
        @rule(seconds=st.sampled_from((0.5, 1.0, 3.0)))
        def wait(self: Any, seconds: float) -> None:
            """Let simulated time pass under the fair policy (elections, retries)."""
            self.rules_run += 1
            end = self.raw.now() + seconds
            taken = 0
            while self.raw.now() < end and taken < MAX_SETTLE_DECISIONS \
                    and fair_step(self.rec):
                taken += 1
            self.log_step(lambda: f"wait {seconds} s ({taken} fair decision(s))", taken)

    return Failover


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
