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
from decimal import Decimal
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from replicheck.histories.history import History
from replicheck.implementation.store import (
    AntiEntropy,
    Capability,
    DirectRouting,
    Drop,
    FaultInjectable,
    Forkable,
    Handle,
    HintSnapshots,
    Leadership,
    PreferenceLists,
    RangeSnapshots,
    Schedulable,
    Settling,
    Store,
    Streaming,
    TimeControl,
)
from replicheck.models.items.requests import (
    ConditionCheck,
    Delete,
    Get,
    Put,
    Request,
    TransactWrite,
    Update,
)
from replicheck.properties import strategies
from replicheck.properties.driving import (
    CLIENTS,
    MAX_CALL_DECISIONS,
    MAX_SETTLE_DECISIONS,
    close_store,
    fair_step,
    heal_dropping,
    idle_client,
    probe_store,
    steer,
)
from replicheck.properties.examples import ExampleReport, GuaranteeViolation, report_example
from replicheck.properties.guarantees import (
    OBSERVED,
    VIOLATED,
    Judgement,
    judge_claims,
    judge_guarantee,
)
from replicheck.properties.liveness import record_availability
from replicheck.properties.mechanisms import (
    canon,
    handoff_twin,
    hinted_states,
    hints_observation,
    read_repair_probes,
    replicas_of_leaders,
    stream_observation,
    sync_session,
    twin_sync_observations,
)
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.recording import RecordingStore
from replicheck.properties.schedule import (
    ScheduleRecorder,
    burst_step,
    completed_schedule,
    describe_teardown,
    run_burst,
    write_schedule_on_failure,
)
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.verdicts import (
    all_reads,
    failure_path,
    label_clients,
    note_observation,
    specificity,
    unclaimed_judgements,
)

__all__ = ["PROPERTY", "RACERS", "concurrency_machine"]

PROPERTY: Final = "concurrent-histories-under-faults"
"""The suite property this module checks (its counterexamples name it)."""

RACERS: Final = ("c3", "c4", "c5")
"""The clients of the ``race`` rule (they submit together, on one key), apart from
:data:`~replicheck.properties.driving.CLIENTS` so that a race never waits for a busy
client."""


RACES: Final = ("create", "increment", "put", "txn-increment")
"""The shapes of the ``race`` rule's concurrent requests on one key."""


def _increment(table: str, pk: str, key: str) -> Update:
    """Add one to the item's ``n`` (created at 1)."""
    return Update(table, {pk: key}, "SET n = if_not_exists(n, :zero) + :one",
                  values={":zero": Decimal(0), ":one": Decimal(1)})


def _race_request(kind: str, table: str, pk: str, key: str, value: str, other: str
                  ) -> Request:
    increment = _increment(table, pk, key)
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
                        target: str | None = None, seed: int = 0
                        ) -> type[RuleBasedStateMachine]:
    """The machine for the schedulable store ``factory`` builds. Each example runs at
    most ``max_steps`` rules, every call recorded as a schedule step (a
    :class:`~replicheck.properties.schedule.ScheduleRecorder` for ``target`` and
    ``seed``); teardown judges every claimed guarantee (and those it can judge that
    the store does not claim), reports the example (:func:`report_example`), and
    raises :class:`GuaranteeViolation` with the example's :class:`Counterexample`
    when a claimed guarantee is violated. With a ``target``, the counterexample
    carries the replayable schedule, which is also written to a file
    (:func:`failure_path`) that the failure message names with the ``replicheck
    replay`` command."""
    descriptor, nodes, probe = probe_store(factory)
    table, pk = descriptor.tables[0].name, descriptor.tables[0].partition_key
    faults = descriptor.has(Capability.FAULTS) and bool(nodes)
    requests = strategies.requests(table, pk,
                                   transactions=descriptor.has(Capability.TRANSACTIONS))
    node_names = nodes or ("none",)
    transactions = descriptor.has(Capability.TRANSACTIONS)
    strong = descriptor.has(Capability.STRONG_READS)
    try:
        direct = bool(nodes) and isinstance(probe, DirectRouting)
        leaders = isinstance(probe, Leadership)
        owners = isinstance(probe, PreferenceLists)
        timed = isinstance(probe, TimeControl)
        anti_entropy = descriptor.has(Capability.ANTI_ENTROPY) and isinstance(
            probe, AntiEntropy) and bool(nodes)
        snapshots = isinstance(probe, RangeSnapshots)
        forkable = isinstance(probe, Forkable)
        surface = probe_surface(probe)
    finally:
        close_store(probe)
    races = tuple(r for r in RACES if transactions or not r.startswith("txn"))

    class Concurrency(RuleBasedStateMachine):
        """Concurrent clients under faults; every claimed guarantee holds."""

        def __init__(self) -> None:
            super().__init__()
            store = factory()
            assert isinstance(store, Schedulable)
            self.base: Any = store
            self.raw: Any = ScheduleRecorder(store, target or "<factory>", seed)
            self.rec = RecordingStore(self.raw)
            self.teardown_at: int | None = None
            self.tokens = 0
            self.handles: dict[str, Any] = {}
            self.crashed: set[str] = set()
            self.steps = 0
            self.peak = 0
            self.rules_run = 0
            self.surface = surface
            self.paused: set[str] = set()
            self.marked: set[str] = set()

        # -- the Driver surface of the fault-search rule classes ---------------------

        def swarm_on(self, name: str) -> bool:
            """Whether rule class ``name`` is enabled in this example."""
            return True

        def mark(self, name: str) -> None:
            """Note that rule class ``name`` acted in this example."""
            self.marked.add(name)

        def idle(self, wanted: str) -> str | None:
            """A client with nothing in flight, from ``wanted`` on."""
            return idle_client(CLIENTS + RACERS, self.handles, wanted)

        def run_request(self, client: str, request: Request, node: str | None = None
                        ) -> Handle:
            """Submit (straight to ``node`` when given) and run the fair policy until
            the operation completes (at most MAX_CALL_DECISIONS decisions)."""
            if node is None:
                return self._call(client, request)
            handle = self.rec.submit_at(client, request, node)
            self.handles[client] = handle
            self.fair_until(handle)
            return handle

        def fair_until(self, handle: Handle) -> None:
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not fair_step(self.rec):
                    break

        def replica(self, key: str, index: int) -> str | None:
            """Replica number ``index`` of ``key``, if the store says."""
            return self._replica(key, index)

        def fair(self, steps: int) -> int:
            """Up to ``steps`` fair decisions; how many were taken."""
            taken = 0
            while taken < steps and fair_step(self.rec):
                taken += 1
            return taken

        @initialize()
        def start(self) -> None:
            self.steps = 0

        def _busy(self, client: str) -> bool:
            handle = self.handles.get(client)
            return handle is not None and not handle.done

        def _idle(self, client: str) -> str | None:
            return idle_client(CLIENTS, self.handles, client)

        @rule(client=st.sampled_from(CLIENTS), request=requests)
        def submit(self, client: str, request: Request) -> None:
            self.rules_run += 1
            idle = self._idle(client)
            if idle is None:
                return
            self.handles[idle] = self.rec.submit(idle, request)
            self.peak = max(self.peak, self.rec.in_flight())

        @rule(client=st.sampled_from(CLIENTS), request=requests)
        def call(self, client: str, request: Request) -> None:
            """Submit, then run the fair policy until this operation completes."""
            self.rules_run += 1
            idle = self._idle(client)
            if idle is None:
                return
            handle = self.rec.submit(idle, request)
            self.handles[idle] = handle
            self.peak = max(self.peak, self.rec.in_flight())
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not fair_step(self.rec):
                    break

        @precondition(lambda self: direct)
        @rule(client=st.sampled_from(CLIENTS), node=st.sampled_from(node_names),
              request=requests)
        def submit_at(self, client: str, node: str, request: Request) -> None:
            """Send a request straight to one node (its own coordinator choice)."""
            self.rules_run += 1
            idle = self._idle(client)
            if idle is None:
                return
            self.handles[idle] = self.rec.submit_at(idle, request, node)
            self.peak = max(self.peak, self.rec.in_flight())

        @rule(kind=st.sampled_from(races), key=strategies.keys(),
              values=st.lists(strategies.unique_values(), min_size=len(RACERS),
                              max_size=len(RACERS)),
              spread=st.booleans(), offset=st.integers(0, 4))
        def race(self, kind: str, key: str, values: list[str], spread: bool,
                 offset: int) -> None:
            """Every idle client submits the same kind of request on one key at once
            (create-if-absent puts, increments, blind puts, transactions that
            increment it), to one coordinator each when ``spread``. Before a race of
            creates, the first idle racer deletes the key (run to completion), so
            that the creates race for an absent item."""
            self.rules_run += 1
            other = next((k for k in strategies.KEYS if k != key and not self._same_home(
                k, key)), next(k for k in strategies.KEYS if k != key))
            first = next((c for c in RACERS if not self._busy(c)), None)
            if kind == "create" and first is not None:
                self._call(first, Delete(table, {pk: key}))
            for i, client in enumerate(RACERS):
                if self._busy(client):
                    continue
                request = _race_request(kind, table, pk, key, values[i], other)
                node = self._replica(key, offset + i) if spread and direct else None
                if node is not None:
                    self.handles[client] = self.rec.submit_at(client, request, node)
                else:
                    self.handles[client] = self.rec.submit(client, request)
            self.peak = max(self.peak, self.rec.in_flight())

        def _same_home(self, a: str, b: str) -> bool:
            if not leaders:
                return False
            return bool(self.raw.partition_of(table, {pk: a})
                        == self.raw.partition_of(table, {pk: b}))

        def _call(self, client: str, request: Request) -> Handle:
            handle = self.rec.submit(client, request)
            self.handles[client] = handle
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not fair_step(self.rec):
                    break
            return handle

        @precondition(lambda self: transactions)
        @rule(client=st.sampled_from(CLIENTS),
              request=st.one_of(strategies.transact_writes(table, pk), strategies.keys().map(
                  lambda key: TransactWrite((_increment(table, pk, key),)))),
              retries=st.integers(1, 2))
        def idempotent(self, client: str, request: TransactWrite, retries: int) -> None:
            """A transaction with a ClientRequestToken, retried with the same token
            after it completed (half the time an increment, which a retry applied
            twice would show)."""
            self.rules_run += 1
            if self._busy(client):
                return
            self.tokens += 1
            tokened = dc_replace(request, token=f"token-{self.tokens}")
            for _ in range(1 + retries):
                if not self._call(client, tokened).done:
                    return

        @precondition(lambda self: transactions)
        @rule(client=st.sampled_from(CLIENTS), key=strategies.keys(),
              value=strategies.unique_values())
        def guarded(self, client: str, key: str, value: str) -> None:
            """A transaction that writes one item only while another item of its
            partition is absent (a write gated on a free slot; cancelled once the
            slot is taken), then a read of the item: a cancelled transaction's
            write must never be seen."""
            self.rules_run += 1
            idle = self._idle(client)
            if idle is None:
                return
            partner = next((k for k in strategies.KEYS if k != key and self._same_home(
                k, key)), next(k for k in strategies.KEYS if k != key))
            gated = TransactWrite((Put(table, {pk: key, "v": value}),
                                   ConditionCheck(table, {pk: partner},
                                                  f"attribute_not_exists({pk})")))
            if self._call(idle, gated).done:
                self._call(idle, Get(table, {pk: key}, consistent=strong))

        @rule(key=strategies.keys(), count=st.integers(1, 12))
        def burst(self, key: str, count: int) -> None:
            """One client writes one key several times in a row, each put run to
            completion (one ``burst`` step of the schedule)."""
            self.rules_run += 1
            client = self._idle(CLIENTS[0])
            if client is None:
                return
            put = Put(table, {pk: key})
            with self.raw.grouped(burst_step(client, put, count)):
                self.handles[client] = run_burst(self.rec, client, put, count)[-1]

        def _heal(self) -> None:
            """Heal the partition; the messages it cut off were lost (a partition
            drops packets, it does not queue them)."""
            heal_dropping(self.raw, self.rec)

        def _replica(self, key: str, index: int) -> str | None:
            """The key's replica number ``index`` (0: the leader in leader mode, the
            first of the preference list in leaderless mode), if known."""
            if leaders:
                partition = self.raw.partition_of(table, {pk: key})
                leader = self.raw.leader_of(partition)
                replicas = [leader] if leader is not None else []
                replicas += [n for n in self.raw.partition_replicas(partition)
                             if n not in replicas]
                return replicas[index % len(replicas)] if replicas else None
            if owners:
                found = tuple(self.raw.preference_list(table, {pk: key}))
                return found[index % len(found)] if found else None
            return None

        @precondition(lambda self: faults and (leaders or owners))
        @rule(key=strategies.keys(), index=st.integers(0, 2))
        def isolate(self, key: str, index: int) -> None:
            """Cut one replica of a key (its leader, for index 0 in leader mode) off
            from every other node."""
            self.rules_run += 1
            node = self._replica(key, index)
            if node is not None:
                self.raw.partition([[node], [n for n in nodes if n != node]])

        @precondition(lambda self: direct and (leaders or owners))
        @rule(client=st.sampled_from(CLIENTS), key=strategies.keys(),
              index=st.integers(0, 2))
        def read_at(self, client: str, key: str, index: int) -> None:
            """A read (strongly consistent where the store offers it) sent straight
            to one replica of the key, run until it completes."""
            self.rules_run += 1
            node = self._replica(key, index)
            if node is None or self._busy(client):
                return
            handle = self.rec.submit_at(client, Get(table, {pk: key}, consistent=strong),
                                        node)
            self.handles[client] = handle
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not fair_step(self.rec):
                    break

        @precondition(lambda self: direct and (leaders or owners))
        @rule(client=st.sampled_from(CLIENTS), index=st.integers(0, 2),
              request=strategies.single_requests(table, pk))
        def call_at(self, client: str, index: int, request: Request) -> None:
            """Send a single-item request straight to one replica of its key (a
            client choosing its coordinator, or routing on a stale leader), and run
            the fair policy until it completes."""
            self.rules_run += 1
            if self._busy(client):
                return
            source = request.item if isinstance(request, Put) else getattr(request, "key", {})
            node = self._replica(str(source.get(pk)), index)
            if node is None:
                return
            if isinstance(request, Get) and strong:
                request = dc_replace(request, consistent=True)
            handle = self.rec.submit_at(client, request, node)
            self.handles[client] = handle
            self.peak = max(self.peak, self.rec.in_flight())
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not fair_step(self.rec):
                    break

        @precondition(lambda self: timed)
        @rule(seconds=st.sampled_from((0.5, 1.0, 3.0)))
        def wait(self, seconds: float) -> None:
            """Let ``seconds`` of simulated time pass under the fair policy."""
            self.rules_run += 1
            end = self.raw.now() + seconds
            for _ in range(MAX_SETTLE_DECISIONS):
                if self.raw.now() >= end or not fair_step(self.rec):
                    break

        @precondition(lambda self: anti_entropy and owners)
        @rule(key=strategies.keys(), first=st.integers(0, 2), second=st.integers(1, 2))
        def sync(self, key: str, first: int, second: int) -> None:
            """Deliver every message in flight, then one anti-entropy session between
            two replicas of a key that can reach each other (observed: the keys that
            differed, the keys it repaired)."""
            self.rules_run += 1
            a, b = self._replica(key, first), self._replica(key, first + second)
            if a is None or b is None or a == b or {a, b} & self.crashed \
                    or not self.raw.reachable(a, b):
                return
            self.raw.quiesce()
            self.rec.collect()
            self.rec.observe("anti-entropy", sync_session(self.raw, table, a, b))
            self.rec.collect()

        @precondition(lambda self: timed and faults)
        @rule(key=strategies.keys(), index=st.integers(0, 2))
        def lose(self, key: str, index: int) -> None:
            """Every message in flight from one replica of a key is lost (a burst of
            packet loss at that node)."""
            self.rules_run += 1
            node = self._replica(key, index)
            lost = [m for m in self.raw.messages_in_flight() if m.src == node]
            for message in lost:
                self.rec.decide(Drop(message.id))

        @precondition(lambda self: snapshots)
        @rule()
        def snapshot(self) -> None:
            """Observe every replica (contents and Merkle roots) now."""
            self.rules_run += 1
            self.rec.observe("replicas", self.raw.replicas_observation(table))

        @rule(index=st.integers(0, 255))
        def decide(self, index: int) -> None:
            self.rules_run += 1
            decisions = self.rec.decisions()
            if decisions:
                self.rec.decide(decisions[index % len(decisions)])

        @rule(steps=st.integers(1, 20))
        def run_fair(self, steps: int) -> None:
            self.rules_run += 1
            for _ in range(steps):
                if not fair_step(self.rec):
                    break

        @precondition(lambda self: faults)
        @rule(side=st.sets(st.sampled_from(node_names), min_size=1))
        def partition(self, side: set[str]) -> None:
            self.rules_run += 1
            assert isinstance(self.raw, FaultInjectable)
            other = [n for n in nodes if n not in side]
            self.raw.partition([sorted(side), other] if other else [sorted(side)])

        @precondition(lambda self: faults)
        @rule()
        def heal(self) -> None:
            self.rules_run += 1
            self._heal()

        @precondition(lambda self: faults)
        @rule(node=st.sampled_from(node_names))
        def crash(self, node: str) -> None:
            self.rules_run += 1
            if node in self.crashed or len(self.crashed) >= 1:
                return  # at most one node down at a time keeps a majority
            self.raw.crash(node)
            self.crashed.add(node)

        @precondition(lambda self: faults)
        @rule()
        def restart(self) -> None:
            self.rules_run += 1
            for node in sorted(self.crashed):
                self.raw.restart(node)
            self.crashed.clear()

        @precondition(lambda self: faults)
        @rule(node=st.sampled_from(node_names),
              seconds=st.sampled_from((-2.0, -0.5, 0.5, 2.0)))
        def skew(self, node: str, seconds: float) -> None:
            self.rules_run += 1
            self.raw.skew_clock(node, seconds)

        def teardown(self) -> None:
            try:
                self._finish()
            finally:
                close_store(self.raw)

        def _finish(self) -> None:
            self.teardown_at = len(self.raw.steps)
            if faults:
                self._heal()
                for node in sorted(self.crashed):
                    self.raw.restart(node)
            taken = 0
            while self.rec.in_flight() and taken < MAX_SETTLE_DECISIONS:
                if not fair_step(self.rec):
                    break
                taken += 1
            self.rec.abandon()
            ops = len(self.rec.history().operations)
            if ops == 0:
                report_example(ExampleReport(PROPERTY, classes=frozenset(self.marked)))
                return
            if getattr(self, "steers", True):  # a swarmed example does not (search.swarm)
                steer(float(self.peak), "concurrent operations")
            self._observe_replicas()
            record_availability(self.base, self.rec, self.raw.steps, table, pk)
            history = self.rec.history()
            judgements = judge_claims(history, descriptor)
            judgements += unclaimed_judgements(history, descriptor)
            for judgement in judgements:
                if judgement.status == OBSERVED:
                    note_observation(descriptor.name, judgement)
            seen: dict[str, Counterexample] = {}
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
                    seen[weakness] = dc_replace(
                        self._counterexample(every_read, history), guarantee=weakness)
            seen.update({j.guarantee: self._counterexample(j, history)
                         for j in judgements if j.status == OBSERVED})
            report_example(ExampleReport(
                PROPERTY, {j.guarantee: j.status for j in judgements}, seen,
                {j.guarantee: j.checker for j in judgements}, frozenset(self.marked)))
            failed = sorted((j for j in judgements if j.status == VIOLATED),
                            key=lambda j: specificity(j.guarantee))
            if failed:
                counterexample = self._counterexample(failed[0], history)
                message = "claimed guarantee violated:\n" + "\n".join(
                    j.explanation() for j in failed)
                if target is not None:
                    written = write_schedule_on_failure(self.raw, failure_path(target),
                                                        failed[0].guarantee)
                    if written is not None:
                        message += (f"\n\nschedule written to {written}\n"
                                    f"replay it with: replicheck replay {written}")
                raise GuaranteeViolation(message, tuple(j.guarantee for j in failed),
                                         counterexample)

        def _counterexample(self, judgement: Judgement, history: History
                            ) -> Counterexample:
            """This example as the counterexample of ``judgement``: the steps before
            teardown in plain words (one decision = one step), then the teardown as
            one line (``then: heal, settle, anti-entropy on every pair``)."""
            cut = len(self.raw.steps) if self.teardown_at is None else self.teardown_at
            schedule = completed_schedule(self.raw) if target is not None else None
            steps = label_clients(self.raw.described(0, cut), self.raw.steps[:cut],
                                   history)
            if len(self.raw.steps) > cut:
                steps += (describe_teardown(self.raw.steps[cut:]),)
            return Counterexample(
                PROPERTY, judgement.guarantee, judgement.explanation(),
                steps=steps, decisions=cut, history=history,
                verdict=judgement.verdict,
                schedule=None if schedule is None else schedule.to_json())

        def _observe_replicas(self) -> None:
            claims = {c.guarantee for c in descriptor.claims}
            settle = isinstance(self.base, Settling)
            if snapshots and settle:
                self._observe_leaderless(claims)
                return
            if "convergence" in claims and settle:
                self.raw.settle()
                observation = replicas_of_leaders(self.base, table)
                if observation is not None:
                    self.raw.steps.append({"observe": "replicas"})
                    self.rec.observe("replicas", observation)
            if claims & {"stream-exactly-once", "stream-item-order"} and isinstance(
                    self.raw, Streaming):
                self.rec.observe("stream", stream_observation(self.raw, table, view=False))

        def _observe_leaderless(self, claims: set[str]) -> None:
            """Observe the mechanisms of a leaderless store: replicas before settling
            (Merkle roots at an arbitrary moment), read repair on a copy of the
            cluster, the hinted states fallbacks hold before settling and their
            owners' entries after, each anti-entropy session of a full round (both
            replicas read after it), and the replicas at the end."""
            before = self.raw.replicas_observation(table)
            self.rec.observe("replicas", before)
            if getattr(self, "steers", True):
                _target_divergence(before)
            if "read-repair-repairs" in claims and forkable and owners:
                self.raw.steps.append({"observe": "read-repair"})
                for probe in read_repair_probes(self.base, table, pk):
                    self.rec.observe("read-repair", probe)
            if anti_entropy and forkable:
                self.raw.steps.append({"observe": "sync-twins"})
                for session in twin_sync_observations(self.base, table, nodes):
                    self.rec.observe("anti-entropy", session)
            hinted = hinted_states(self.base, table)
            twin = (handoff_twin(self.base, table)
                    if "hinted-handoff-delivers" in claims else None)
            self.raw.settle()
            if "hinted-handoff-delivers" in claims and isinstance(self.base, HintSnapshots):
                self.raw.steps.append({"observe": "hints"})
                if twin is not None:
                    self.rec.observe("hints", twin)
                self.rec.observe("hints", hints_observation(self.base, table, hinted))
            if anti_entropy:
                for i, a in enumerate(nodes):
                    for b in nodes[i + 1:]:
                        self.rec.observe("anti-entropy", sync_session(
                            self.raw, table, a, b))
            self.rec.observe("replicas", self.raw.replicas_observation(
                table, quiescent=True, anti_entropy=anti_entropy))

    Concurrency.__name__ = Concurrency.__qualname__ = "Concurrency"
    return Concurrency
