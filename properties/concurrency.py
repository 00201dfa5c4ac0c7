"""The concurrency property, ``concurrent-histories-under-faults`` (stores with
``deterministic-scheduling``): three clients submit requests; rules choose every
scheduler decision (deliver, drop, duplicate, fire), partition, heal, crash, restart
and skew clocks (with ``faults``), or run the fair policy a few steps. Teardown heals,
restarts every node, runs until every operation completes, observes replicas and
streams when the store can, and judges every claimed guarantee with
:mod:`replicheck.properties.guarantees`: a claimed guarantee violated fails with the
verdict's explanation; an anomaly the store does not claim to prevent is added to
:data:`~replicheck.properties.verdicts.OBSERVATIONS` (never a failure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace as dc_replace
from typing import Any, ClassVar, Final

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from replicheck.implementation.store import (
    Capability,
    Drop,
    HintSnapshots,
    Store,
    Streaming,
)
from replicheck.models.items.requests import (
    ConditionCheck,
    Delete,
    Get,
    Put,
    Request,
    TransactWrite,
)
from replicheck.properties import strategies
from replicheck.properties.deposed_leader import can_depose, deposed_leader_read
from replicheck.properties.driving import (
    CLIENTS,
    MAX_SETTLE_DECISIONS,
    fair_step,
    idle_client,
    steer,
)
from replicheck.properties.every_type import every_type_epilogue
from replicheck.properties.guarantees import (
    OBSERVED,
    VIOLATED,
    judge_claims,
    judge_guarantee,
)
from replicheck.properties.liveness import record_availability
from replicheck.properties.mechanisms import (
    canon,
    handoff_probe,
    handoff_twin,
    hinted_states,
    hints_observation,
    read_repair_probes,
    replicas_of_leaders,
    stream_observation,
    sync_session,
    twin_sync_observations,
)
from replicheck.properties.recording import DidNotSettle
from replicheck.properties.redelivery import redelivery_epilogue
from replicheck.properties.rolling_restart import rolling_restart_probe
from replicheck.properties.schedule import burst_step, run_burst
from replicheck.properties.scheduled import Scheduled, Setup, probe, scheduled_machine
from replicheck.properties.verdicts import (
    all_reads,
    note_observation,
    specificity,
    unclaimed_judgements,
)

__all__ = ["EPILOGUE_EVERY", "PROPERTY", "RACERS", "concurrency_machine"]

PROPERTY: Final = "concurrent-histories-under-faults"
"""The suite property this module checks (its counterexamples name it)."""

RACERS: Final = ("c3", "c4", "c5")
"""The clients of the ``race`` rule (they submit together, on one key), apart from
:data:`~replicheck.properties.driving.CLIENTS` so that a race never waits for a busy
client."""

EPILOGUE_EVERY: Final = 3
"""The epilogues (the deposed-leader read, :mod:`~replicheck.properties.deposed_leader`;
items of every type, :mod:`~replicheck.properties.every_type`; a request delivered
again after its coordinator restarted, :mod:`~replicheck.properties.redelivery`; a
rolling restart after a long log on a copy,
:mod:`~replicheck.properties.rolling_restart`) end an example whose
history holds a multiple of this many operations: about one example in three, chosen
by the example itself, so a failing example replays and shrinks the same. (Judging
their operations in every example made the property about half again as slow.)"""

RACES: Final = ("create", "increment", "put", "txn-increment")
"""The shapes of the ``race`` rule's concurrent requests on one key."""


def _race_request(kind: str, table: str, pk: str, key: str, value: str, other: str
                  ) -> Request:
    increment = strategies.increment(table, pk, key)
    if kind == "create":
        return Put(table, {pk: key, "v": value}, "attribute_not_exists(" + pk + ")")
    if kind == "increment":
        return increment
    if kind == "txn-increment":
        return TransactWrite((increment, Put(table, {pk: other, "v": value})))
    return Put(table, {pk: key, "v": value})



def _target_divergence(observation: dict[str, Any]) -> None:
    """Steer generation towards replicas that disagree and keys with siblings."""
    replicas = observation.get("replicas", {})
    keys = {k for held in replicas.values() for k in held}
    diverging = sum(1 for k in keys
                    if len({canon(held.get(k)) for held in replicas.values()}) > 1)
    siblings = max((len(entry.get("siblings", ())) for held in replicas.values()
                    for entry in held.values() if isinstance(entry, dict)), default=0)
    steer(float(diverging), "diverging keys")
    steer(float(siblings), "siblings")


def concurrency_machine(factory: Callable[[], Store], *, max_steps: int = 30,
                        target: str | None = None, seed: int = 0, search: bool = False
                        ) -> type[RuleBasedStateMachine]:
    """The concurrency property's machine for the schedulable store ``factory`` builds
    (``max_steps``, the most rules an example runs, is the runner's setting). Every
    call is recorded as a schedule step (a
    :class:`~replicheck.properties.schedule.ScheduleRecorder` for ``target`` and
    ``seed``); teardown judges every claimed guarantee (and those it can judge that
    the store does not claim), reports the example, and raises
    :class:`~replicheck.properties.examples.GuaranteeViolation` with the example's
    counterexample when a claimed guarantee is violated. With a ``target``, the
    counterexample carries the replayable schedule, which is also written to a file
    (:func:`~replicheck.properties.verdicts.failure_path`) that the failure message
    names with the ``replicheck replay`` command. With ``search``, it draws every
    fault-search rule class too (:data:`~replicheck.properties.scheduled.SEARCH_RULES`)."""
    setup = probe(PROPERTY, factory, target, seed, search=search)

    bases = (_request_rules(setup), _transaction_rules(setup), _routing_rules(setup),
             _mechanism_rules(setup), ConcurrencyJudging, scheduled_machine(setup))

    class Concurrency(*bases):  # type: ignore[misc]
        """Concurrent clients under faults; every claimed guarantee holds."""

    Concurrency.__name__ = Concurrency.__qualname__ = "Concurrency"
    return Concurrency


def _idle(machine: Any, client: str) -> str | None:
    """One of the property's own clients with nothing in flight, from ``client`` on."""
    return idle_client(CLIENTS, machine.handles, client)


def _request_rules(setup: Setup) -> type:
    """Clients' requests: submitted to race, run to completion, sent to a chosen
    node, raced on one key by every racer, or a burst of puts on one key."""
    table, pk = setup.table, setup.pk
    transactions, direct = setup.surface.transactions, setup.surface.direct
    requests = strategies.requests(table, pk, transactions=transactions)
    races = tuple(r for r in RACES if transactions or not r.startswith("txn"))

    class Requests:
        @initialize()
        def start(self: Any) -> None:
            self.steps = 0

        @rule(client=st.sampled_from(CLIENTS), request=requests)
        def submit(self: Any, client: str, request: Request) -> None:
            self.rules_run += 1
            idle = _idle(self, client)
            if idle is None:
                return
            self.handles[idle] = self.rec.submit(idle, request)
            self.peak = max(self.peak, self.rec.in_flight())

        @rule(client=st.sampled_from(CLIENTS), request=requests)
        def call(self: Any, client: str, request: Request) -> None:
            """Submit, then run the fair policy until this operation completes."""
            self.rules_run += 1
            idle = _idle(self, client)
            if idle is None:
                return
            handle = self.rec.submit(idle, request)
            self.handles[idle] = handle
            self.peak = max(self.peak, self.rec.in_flight())
            self.finish(handle)

        @precondition(lambda self: direct)
        @rule(client=st.sampled_from(CLIENTS), node=st.sampled_from(setup.node_names),
              request=requests)
        def submit_at(self: Any, client: str, node: str, request: Request) -> None:
            """Send a request straight to one node (its own coordinator choice)."""
            self.rules_run += 1
            idle = _idle(self, client)
            if idle is None:
                return
            self.handles[idle] = self.rec.submit_at(idle, request, node)
            self.peak = max(self.peak, self.rec.in_flight())

        @rule(kind=st.sampled_from(races), key=strategies.keys(),
              values=st.lists(strategies.unique_values(), min_size=len(RACERS),
                              max_size=len(RACERS)),
              spread=st.booleans(), offset=st.integers(0, 4))
        def race(self: Any, kind: str, key: str, values: list[str], spread: bool,
                 offset: int) -> None:
            """Every idle client submits the same kind of request on one key at once
            (create-if-absent puts, increments, blind puts, transactions that
            increment it), to one coordinator each when ``spread``. Before a race of
            creates, the first idle racer deletes the key (run to completion), so
            that the creates race for an absent item."""
            self.rules_run += 1
            other = next((k for k in strategies.KEYS if k != key and not self.same_home(
                k, key)), next(k for k in strategies.KEYS if k != key))
            first = next((c for c in RACERS if not self.busy(c)), None)
            if kind == "create" and first is not None:
                self.complete_call(first, Delete(table, {pk: key}))
            for i, client in enumerate(RACERS):
                if self.busy(client):
                    continue
                request = _race_request(kind, table, pk, key, values[i], other)
                node = self.replica(key, offset + i) if spread and direct else None
                if node is not None:
                    self.handles[client] = self.rec.submit_at(client, request, node)
                else:
                    self.handles[client] = self.rec.submit(client, request)
            self.peak = max(self.peak, self.rec.in_flight())

        @rule(key=strategies.keys(), count=st.integers(1, 12))
        def burst(self: Any, key: str, count: int) -> None:
            """One client writes one key several times in a row, each put run to
            completion (one ``burst`` step of the schedule)."""
            self.rules_run += 1
            client = _idle(self, CLIENTS[0])
            if client is None:
                return
            put = Put(table, {pk: key})
            with self.raw.grouped(burst_step(client, put, count)):
                self.handles[client] = run_burst(self.rec, client, put, count)[-1]

    return Requests


def _transaction_rules(setup: Setup) -> type:
    """Transactions: retried with the same token, and gated on a free slot."""
    table, pk = setup.table, setup.pk
    transactions, strong = setup.surface.transactions, setup.surface.strong

    class Transactions:
        @precondition(lambda self: transactions)
        @rule(client=st.sampled_from(CLIENTS),
              request=st.one_of(strategies.transact_writes(table, pk), strategies.keys().map(
                  lambda key: TransactWrite((strategies.increment(table, pk, key),)))),
              retries=st.integers(1, 2))
        def idempotent(self: Any, client: str, request: TransactWrite, retries: int) -> None:
            """A transaction with a ClientRequestToken, retried with the same token
            after it completed (half the time an increment, which a retry applied
            twice would show)."""
            self.rules_run += 1
            if self.busy(client):
                return
            self.tokens += 1
            tokened = dc_replace(request, token=f"token-{self.tokens}")
            for _ in range(1 + retries):
                if not self.complete_call(client, tokened)[0].done:
                    return

        @precondition(lambda self: transactions)
        @rule(client=st.sampled_from(CLIENTS), key=strategies.keys(),
              value=strategies.unique_values())
        def guarded(self: Any, client: str, key: str, value: str) -> None:
            """A transaction that writes one item only while another item of its
            partition is absent (a write gated on a free slot; cancelled once the
            slot is taken), then a read of the item: a cancelled transaction's
            write must never be seen."""
            self.rules_run += 1
            idle = _idle(self, client)
            if idle is None:
                return
            partner = next((k for k in strategies.KEYS if k != key and self.same_home(
                k, key)), next(k for k in strategies.KEYS if k != key))
            gated = TransactWrite((Put(table, {pk: key, "v": value}),
                                   ConditionCheck(table, {pk: partner},
                                                  f"attribute_not_exists({pk})")))
            if self.complete_call(idle, gated)[0].done:
                self.complete_call(idle, Get(table, {pk: key}, consistent=strong))

    return Transactions


def _routing_rules(setup: Setup) -> type:
    """Faults and requests aimed at one replica of a key: isolate it, read from it,
    send it a request as its coordinator."""
    table, pk, nodes = setup.table, setup.pk, setup.nodes
    surface = setup.surface
    located = surface.leaders or surface.owners
    direct, strong = surface.direct, surface.strong

    class Routing:
        @precondition(lambda self: setup.faults and located)
        @rule(key=strategies.keys(), index=st.integers(0, 2))
        def isolate(self: Any, key: str, index: int) -> None:
            """Cut one replica of a key (its leader, for index 0 in leader mode) off
            from every other node."""
            self.rules_run += 1
            node = self.replica(key, index)
            if node is not None:
                self.raw.partition([[node], [n for n in nodes if n != node]])

        @precondition(lambda self: direct and located)
        @rule(client=st.sampled_from(CLIENTS), key=strategies.keys(),
              index=st.integers(0, 2))
        def read_at(self: Any, client: str, key: str, index: int) -> None:
            """A read (strongly consistent where the store offers it) sent straight
            to one replica of the key, run until it completes."""
            self.rules_run += 1
            node = self.replica(key, index)
            if node is None or self.busy(client):
                return
            self.complete_call(client, Get(table, {pk: key}, consistent=strong), node)

        @precondition(lambda self: direct and located)
        @rule(client=st.sampled_from(CLIENTS), index=st.integers(0, 2),
              request=strategies.single_requests(table, pk))
        def call_at(self: Any, client: str, index: int, request: Request) -> None:
            """Send a single-item request straight to one replica of its key (a
            client choosing its coordinator, or routing on a stale leader), and run
            the fair policy until it completes."""
            self.rules_run += 1
            if self.busy(client):
                return
            source = request.item if isinstance(request, Put) else getattr(request, "key", {})
            node = self.replica(str(source.get(pk)), index)
            if node is None:
                return
            if isinstance(request, Get) and strong:
                request = dc_replace(request, consistent=True)
            handle = self.rec.submit_at(client, request, node)
            self.handles[client] = handle
            self.peak = max(self.peak, self.rec.in_flight())
            self.finish(handle)

    return Routing


def _mechanism_rules(setup: Setup) -> type:
    """Time passing, anti-entropy between two replicas, packet loss at one, and a
    snapshot of every replica mid-run."""
    table = setup.table
    surface = setup.surface
    timed, owners, snapshots = surface.timed, surface.owners, surface.snapshots
    anti_entropy = surface.anti_entropy

    class Mechanisms:
        @precondition(lambda self: timed)
        @rule(seconds=st.sampled_from((0.5, 1.0, 3.0)))
        def wait(self: Any, seconds: float) -> None:
            """Let ``seconds`` of simulated time pass under the fair policy."""
            self.rules_run += 1
            end = self.raw.now() + seconds
            for _ in range(MAX_SETTLE_DECISIONS):
                if self.raw.now() >= end or not fair_step(self.rec):
                    break

        @precondition(lambda self: anti_entropy and owners)
        @rule(key=strategies.keys(), first=st.integers(0, 2), second=st.integers(1, 2))
        def sync(self: Any, key: str, first: int, second: int) -> None:
            """Deliver every message in flight, then one anti-entropy session between
            two replicas of a key that can reach each other (observed: the keys that
            differed, the keys it repaired)."""
            self.rules_run += 1
            a, b = self.replica(key, first), self.replica(key, first + second)
            if a is None or b is None or a == b or {a, b} & self.crashed \
                    or not self.raw.reachable(a, b):
                return
            self.raw.quiesce()
            self.rec.collect()
            self.rec.observe("anti-entropy", sync_session(self.raw, table, a, b))
            self.rec.collect()

        @precondition(lambda self: timed and setup.faults)
        @rule(key=strategies.keys(), index=st.integers(0, 2))
        def lose(self: Any, key: str, index: int) -> None:
            """Every message in flight from one replica of a key is lost (a burst of
            packet loss at that node)."""
            self.rules_run += 1
            node = self.replica(key, index)
            lost = [m for m in self.raw.messages_in_flight() if m.src == node]
            for message in lost:
                self.rec.decide(Drop(message.id))

        @precondition(lambda self: snapshots)
        @rule()
        def snapshot(self: Any) -> None:
            """Observe every replica (contents and Merkle roots) now."""
            self.rules_run += 1
            self.rec.observe("replicas", self.raw.replicas_observation(table))

    return Mechanisms


HANDOFF_PROBES: Final = 3
"""The most mid-run hinted-handoff probes one example takes
(:meth:`ConcurrencyJudging.probe_handoff`)."""


class ConcurrencyJudging(Scheduled):
    """The concurrency property's state and its judging after the teardown skeleton:
    every claimed guarantee, and, as observations, what the store does not claim."""

    logged: ClassVar[bool] = False
    replayable: ClassVar[bool] = True
    driver_clients: ClassVar[tuple[str, ...]] = CLIENTS + RACERS

    def __init__(self) -> None:
        super().__init__()
        self.tokens = 0
        self.steps = 0
        self.peak = 0
        self.handoffs_probed: list[frozenset[tuple[str, str, str]]] = []

    @invariant()
    def probe_handoff(self) -> None:
        """Hinted handoff judged mid-run, not only at the end: when the fallbacks hold a
        set of hints not probed yet (at most :data:`HANDOFF_PROBES` per example), a
        copy of the cluster, recovered as the end recovers, hands them off
        (:func:`~replicheck.properties.mechanisms.handoff_probe`) and its ``hints``
        observation is recorded (an ``observe: "handoff"`` step). A hint handed off
        wrongly during the run is gone by the end, where nothing is left to judge;
        the copy sees it while it is held."""
        if (len(self.handoffs_probed) >= HANDOFF_PROBES or not self.surface.forkable
                or not self.setup.offers(HintSnapshots)
                or not self.setup.descriptor.claims_guarantee("hinted-handoff-delivers")):
            return
        held = frozenset((h["fallback"], h["owner"], h["key"])
                         for h in hinted_states(self.base, self.setup.table))
        if not held or held in self.handoffs_probed:
            return
        self.handoffs_probed.append(held)
        twin = handoff_probe(self.base, self.setup.table, self.crashed, self.paused)
        self.raw.steps.append({"observe": "handoff"})
        if twin is not None:
            self.rec.observe("hints", twin)

    def same_home(self, a: str, b: str) -> bool:
        """Whether keys ``a`` and ``b`` share a partition (leader mode only)."""
        if not self.surface.leaders:
            return False
        table, pk = self.setup.table, self.setup.pk
        return bool(self.raw.partition_of(table, {pk: a})
                    == self.raw.partition_of(table, {pk: b}))

    def judge(self) -> None:
        descriptor = self.setup.descriptor
        operations = len(self.rec.history().operations)
        if operations and operations % EPILOGUE_EVERY == 0:
            if can_depose(self.surface,
                          descriptor.claims_guarantee("linearizable-strong-reads")):
                deposed_leader_read(self)
            every_type_epilogue(self)
            redelivery_epilogue(self)
            rolled = rolling_restart_probe(self.base, self.setup.table, self.setup.pk)
            if rolled is not None:
                raise DidNotSettle(rolled)
        self.rec.abandon()
        if not self.rec.history().operations:
            return
        self.aim(float(self.peak), "concurrent operations")
        self.observe_replicas()
        record_availability(self.base, self.rec, self.raw.steps, self.setup.table,
                            self.setup.pk)
        history = self.rec.history()
        judgements = judge_claims(history, descriptor)
        judgements += unclaimed_judgements(history, descriptor)
        for judgement in judgements:
            if judgement.status == OBSERVED:
                note_observation(descriptor.name, judgement)
        clean = not any(j.status == VIOLATED for j in judgements)
        if clean and "not-linearizable" in descriptor.weaknesses \
                and descriptor.has(Capability.STRONG_READS) \
                and descriptor.claims_guarantee("linearizable-strong-reads"):
            # a stated weakness (reads that are not linearizable) is observed only
            # where every claim held: else it is the violation seen again; stale
            # reads and lost updates have their own detectors (judge_anomalies)
            every_read = judge_guarantee("linearizable-strong-reads", history,
                                         all_reads(descriptor))
            weakness = "not-linearizable"
            if every_read.status in (VIOLATED, OBSERVED):
                note_observation(descriptor.name, every_read, weakness)
                self.verdicts.observations[weakness] = dc_replace(
                    self.counterexample(every_read, history), guarantee=weakness)
        self.verdicts.take_all(judgements, history, first=lambda j: specificity(j.guarantee))

    def observe_replicas(self) -> None:
        """Observe what the store's claims are judged on: a leaderless store's
        mechanisms (:meth:`observe_leaderless`), a leader store's replicas after
        settling, the change stream."""
        claims = {c.guarantee for c in self.setup.descriptor.claims}
        table = self.setup.table
        if self.surface.snapshots and self.surface.settling:
            self.observe_leaderless(claims)
            return
        if "convergence" in claims and self.surface.settling:
            self.settle_healed()
            observation = replicas_of_leaders(self.base, table)
            if observation is not None:
                self.raw.steps.append({"observe": "replicas"})
                self.rec.observe("replicas", observation)
        if claims & {"stream-exactly-once", "stream-item-order"} and isinstance(
                self.raw, Streaming):
            self.rec.observe("stream", stream_observation(self.raw, table, view=False))

    def observe_leaderless(self, claims: set[str]) -> None:
        """Observe the mechanisms of a leaderless store: replicas before settling
        (Merkle roots at an arbitrary moment), read repair on a copy of the
        cluster, the hinted states fallbacks hold before settling and their
        owners' entries after, each anti-entropy session of a full round (both
        replicas read after it), and the replicas at the end."""
        table, pk, nodes = self.setup.table, self.setup.pk, self.setup.nodes
        anti_entropy, forkable = self.surface.anti_entropy, self.surface.forkable
        before = self.raw.replicas_observation(table)
        self.rec.observe("replicas", before)
        if self.steers:
            _target_divergence(before)
        if "read-repair-repairs" in claims and forkable and self.surface.owners:
            self.raw.steps.append({"observe": "read-repair"})
            for probe_ in read_repair_probes(self.base, table, pk):
                self.rec.observe("read-repair", probe_)
        if anti_entropy and forkable:
            self.raw.steps.append({"observe": "sync-twins"})
            for session in twin_sync_observations(self.base, table, nodes):
                self.rec.observe("anti-entropy", session)
        hinted = hinted_states(self.base, table)
        twin = (handoff_twin(self.base, table)
                if "hinted-handoff-delivers" in claims else None)
        self.settle_healed()
        if "hinted-handoff-delivers" in claims and self.setup.offers(HintSnapshots):
            self.raw.steps.append({"observe": "hints"})
            if twin is not None:
                self.rec.observe("hints", twin)
            self.rec.observe("hints", hints_observation(self.base, table, hinted))
        if anti_entropy:
            for i, a in enumerate(nodes):
                for b in nodes[i + 1:]:
                    self.rec.observe("anti-entropy", sync_session(self.raw, table, a, b))
        self.rec.observe("replicas", self.raw.replicas_observation(
            table, quiescent=True, anti_entropy=anti_entropy))
