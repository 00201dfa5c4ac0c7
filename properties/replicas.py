"""Machine 3, ``convergence-after-anti-entropy``, and the driving pieces machines 3 to 5
share.

:func:`replicas_machine` drives a schedulable store with writes (blind puts and
deletes, some sent straight to one replica of the key so that two coordinators take
writes at the same instant), every scheduler decision (deliver, drop, duplicate,
fire), partitions, crashes, restarts, clock skew and, for stores with Merkle
anti-entropy, syncs between two replicas. After EVERY rule, when the store reports
Merkle roots, an invariant judges ``merkle-root-iff-equal`` on a snapshot of every
replica (two replicas of a range report equal roots exactly when they hold equal
entries there). Teardown heals, restarts every node, settles and, with
anti-entropy, runs sync rounds between every pair of nodes until a round finds
nothing to repair (each session observed: the keys that differed, the keys the store
says it repaired, and both replicas' entries read right after it); then
``convergence`` (every replica of every key holds the same entry and no acknowledged
write is lost) and ``anti-entropy-exact`` are judged on the recorded history by
:func:`~replicheck.properties.guarantees.judge_guarantee`. Leader-mode presets have
no Merkle trees: convergence after settling only.

The shared pieces: :class:`DrivenRecording` (a recording store that can also send a
request to a chosen node, and a put with a causal context), :class:`StepLog` (the
plain-words steps of an example and its decision count), :func:`fair_step`,
:func:`heal_dropping`, :func:`describe_decision`, :func:`steer`, and
:class:`Verdicts` (judgements of one example: the report, the violation raised with
its :class:`~replicheck.properties.outcomes.Counterexample`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from replicheck.histories.history import History, pair
from replicheck.histories.items import request_to_json, tables_to_json
from replicheck.histories.recorder import Recorder
from replicheck.implementation.store import (
    AntiEntropy,
    Capability,
    Deliver,
    Descriptor,
    DirectRouting,
    Drop,
    Duplicate,
    Fire,
    Handle,
    Introspectable,
    Leadership,
    MessageControl,
    PreferenceLists,
    RangeSnapshots,
    ReplicaSnapshots,
    Settling,
    Store,
    Topology,
)
from replicheck.models.items.errors import StoreError
from replicheck.models.items.requests import Delete, Put, Request, request_kind
from replicheck.models.items.values import key_text
from replicheck.models.items.wording import request_text
from replicheck.properties import strategies
from replicheck.properties.examples import ExampleReport, GuaranteeViolation, report_example
from replicheck.properties.guarantees import OBSERVED, VIOLATED, Judgement, judge_guarantee
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.recording import RecordingStore
from replicheck.properties.schedule import fair_decision
from replicheck.properties.suite import require_surface

__all__ = [
    "CONVERGENCE_PROPERTY",
    "REPLICA_KEYS",
    "DrivenRecording",
    "StepLog",
    "Verdicts",
    "describe_decision",
    "fair_step",
    "heal_dropping",
    "idle_client",
    "probe_store",
    "replicas_machine",
    "steer",
]

CONVERGENCE_PROPERTY: Final = "convergence-after-anti-entropy"
"""The property name of machine 3."""

REPLICA_KEYS: Final = ("k0", "k1", "k2", "k3", "k4", "k5")
"""Machine 3's keys: more than the usual three, so that some fall in every part of
the ring's ranges (a Merkle tree's last subtree included)."""

CLIENTS: Final = ("c0", "c1", "c2")
MAX_CALL_DECISIONS: Final = 500
"""The most fair decisions a rule takes to complete one operation."""
MAX_SETTLE_DECISIONS: Final = 20_000
"""The most fair decisions teardown takes to complete the operations in flight."""
MAX_SYNC_ROUNDS: Final = 3
"""The most anti-entropy rounds teardown runs (a correct store is quiet after one)."""


# -- shared by machines 3 to 5 ---------------------------------------------------------------


def probe_store(factory: Callable[[], Store]) -> tuple[Descriptor, tuple[str, ...], Any]:
    """The descriptor and node ids of a store ``factory`` builds, and the store itself
    (the caller closes it) so that its methods can be looked for."""
    store: Any = factory()
    return store.descriptor, node_ids(store), store


def node_ids(store: object) -> tuple[str, ...]:
    """The store's node ids (:class:`Topology`), else its replicas
    (:class:`Introspectable`), else none."""
    if isinstance(store, Topology):
        return tuple(store.nodes)
    if isinstance(store, Introspectable):
        return tuple(store.replicas())
    return ()


def close(store: object) -> None:
    """``store.close()`` when the store has one."""
    closer = getattr(store, "close", None)
    if callable(closer):
        closer()


def describe_decision(store: Any, decision: Any) -> str:
    """A scheduler decision in plain words (the message or timer it acts on when the
    store's simulation still knows it)."""
    control = store if isinstance(store, MessageControl) else None
    kind = type(decision).__name__.lower()
    if isinstance(decision, Fire):
        timer = next((t for t in control.pending_timers() if t.id == decision.timer),
                     None) if control is not None else None
        if timer is not None:
            return f"fire timer {timer.name} at {timer.owner}"
        return f"fire timer {decision.timer}"
    if isinstance(decision, Deliver | Drop | Duplicate):
        message = next((m for m in control.messages_in_flight() if m.id == decision.message),
                       None) if control is not None else None
        if message is not None:
            return f"{kind} message {message.id} ({message.kind} {message.src}->{message.dst})"
        return f"{kind} message {decision.message}"
    return repr(decision)


def fair_step(recording: RecordingStore) -> bool:
    """Take one fair decision (the oldest delivery, else the earliest timer:
    :func:`~replicheck.properties.schedule.fair_decision`); False when the store offers
    neither."""
    decision = fair_decision(recording)
    if decision is None:
        return False
    recording.decide(decision)
    return True


def heal_dropping(store: Any, recording: RecordingStore) -> int:
    """Heal the network; the messages a partition had cut off are lost first (a
    partition drops packets, it does not queue them). Returns how many were lost."""
    lost = store.cut_off() if isinstance(store, MessageControl) else ()
    for message in lost:
        recording.decide(Drop(message))
    store.heal()
    return len(lost)


def steer(value: float, label: str) -> None:
    """``hypothesis.target(value, label)`` inside a test; nothing when a machine runs
    by hand."""
    import hypothesis
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        hypothesis.target(value, label=label)


class DrivenRecording(RecordingStore):
    """A recording store that can also send a request straight to one node (a client
    choosing its coordinator) and a put with a causal context (stores with
    ``versions``); both are recorded like :meth:`submit`."""

    def decide(self, decision: Any) -> None:
        """Take ``decision`` and record every completion it caused."""
        store: Any = self.store
        store.decide(decision)
        self.collect()

    def submit_at(self, client: str, request: Request, node: str,
                  context: Mapping[str, int] | None = None) -> Handle:
        """Record the invocation and send ``request`` for ``client`` to ``node``; with
        ``context`` (a put only) the put supersedes exactly what the context covers."""
        store = self.store
        assert isinstance(store, DirectRouting)
        process = self.process_of(client)
        self.recorder.invoke(process, request_kind(request), request_to_json(request))
        handle = store.submit_at(client, request, node, context)
        self._pending.append((process, handle))
        self.collect()
        return handle


@dataclass
class StepLog:
    """The steps of one example in plain words and its decision count (one scheduler
    decision = one step; a rule that takes no decision counts one)."""

    steps: list[str] = field(default_factory=list)
    decisions: int = 0

    def add(self, text: str, decisions: int = 1) -> None:
        """Record one rule, in plain words, and the decisions it took."""
        self.steps.append(text)
        self.decisions += max(1, decisions)


@dataclass
class Verdicts:
    """The judgements of one example of ``property``: :meth:`take` keeps each, raises
    :class:`GuaranteeViolation` for a claimed one violated, and keeps an observed one
    as an observation; :meth:`report` hands the example's report on (once)."""

    property: str
    log: StepLog
    statuses: dict[str, str] = field(default_factory=dict)
    observations: dict[str, Counterexample] = field(default_factory=dict)
    checkers: dict[str, str] = field(default_factory=dict)
    failed: bool = False
    reported: bool = False

    def counterexample(self, judgement: Judgement, history: History | None
                       ) -> Counterexample:
        """The example as a counterexample of ``judgement``."""
        return Counterexample(self.property, judgement.guarantee, judgement.explanation(),
                              tuple(self.log.steps), self.log.decisions, history,
                              judgement.verdict)

    def take(self, judgement: Judgement, history: History | None) -> None:
        """Keep ``judgement``; raise for a claimed guarantee violated."""
        self.take_all([judgement], history)

    def take_all(self, judgements: list[Judgement], history: History | None) -> None:
        """Keep every judgement (the worst status seen per guarantee wins); when claimed
        guarantees are violated, raise :class:`GuaranteeViolation` for the first of
        them (the list's order: the narrowest check first), with every one's
        explanation."""
        order = ("not-applicable", "holds", "unknown", "observed", "violated")
        for judgement in judgements:
            before = self.statuses.get(judgement.guarantee)
            if before is None or order.index(judgement.status) > order.index(before):
                self.statuses[judgement.guarantee] = judgement.status
            if judgement.checker:
                self.checkers.setdefault(judgement.guarantee, judgement.checker)
            if judgement.status == OBSERVED and judgement.guarantee not in self.observations:
                self.observations[judgement.guarantee] = self.counterexample(judgement,
                                                                             history)
        failed = [j for j in judgements if j.status == VIOLATED]
        if not failed:
            return
        self.failed = True
        self.report()
        raise GuaranteeViolation(
            f"{self.property}: claimed guarantee violated after {len(self.log.steps)} "
            "step(s):\n" + "\n".join(j.explanation() for j in failed) + "\nsteps:\n"
            + "\n".join(f"  {i + 1}. {s}" for i, s in enumerate(self.log.steps)),
            tuple(j.guarantee for j in failed), self.counterexample(failed[0], history))

    def report(self) -> None:
        """Hand this example's :class:`ExampleReport` to the listeners (once)."""
        if not self.reported:
            self.reported = True
            report_example(ExampleReport(self.property, dict(self.statuses),
                                         dict(self.observations), dict(self.checkers)))


def snapshot_history(descriptor: Descriptor, observations: list[tuple[str, Any]]) -> History:
    """A history of no operation holding the store's tables and ``observations``
    (``(f, value)`` pairs): what a checker needs to judge one snapshot alone."""
    recorder = Recorder()
    recorder.observe("tables", tables_to_json(descriptor.tables))
    for f, value in observations:
        recorder.observe(f, value)
    return pair(recorder.records())


# -- machine 3 ----------------------------------------------------------------------------------


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def leader_replicas_observation(store: Any, table: str) -> dict[str, Any]:
    """Every replica of ``table`` of a store without Merkle trees, in the form the
    convergence checker reads: each node's items with their versions, and, when the
    store says which partition holds a key (``partition_of``, ``partition_replicas``),
    one range per partition with its keys and replicas (else every node replicates
    every key)."""
    schema = store.descriptor.table(table)
    partitioned = isinstance(store, Leadership)
    replicas: dict[str, dict[str, Any]] = {}
    ranges: dict[str, dict[str, Any]] = {}
    for node in store.replicas():
        held: dict[str, Any] = {}
        for key, (item, version) in store.replica_versions(node, table).items():
            text = key_text(key)
            held[text] = {"value": item, "version": version}
            if partitioned:
                partition = store.partition_of(
                    table, dict(zip(schema.key_attributes, key, strict=True)))
                entry = ranges.setdefault(f"p{partition}", {
                    "keys": [], "replicas": list(store.partition_replicas(partition))})
                if text not in entry["keys"]:
                    entry["keys"].append(text)
        replicas[node] = held
    observation: dict[str, Any] = {"table": table, "quiescent": True, "replicas": replicas}
    if partitioned:
        observation["ranges"] = ranges
    return observation


def sync_session(store: Any, table: str, a: str, b: str) -> dict[str, Any]:
    """One anti-entropy session between ``a`` and ``b``, as an ``anti-entropy``
    observation: the keys of their shared ranges whose entries differed before it,
    the keys the store says it repaired in a session that finished (shown, never
    judged), whether it finished, and ``after``: both replicas' entries of their
    shared ranges read right after the session (by node, then key text), what
    ``anti-entropy-exact`` is judged on. Ranges are the store's key-range layout
    (:class:`Topology`)."""
    shared = shared_ranges(store, table, a, b)

    def held(node: str) -> dict[str, str]:
        return {key_text(k): _canon(v) for k, v in store.replica_versions(node, table).items()
                if store.range_of(table, k) in shared}

    first, second = held(a), held(b)
    differing = sorted(k for k in set(first) | set(second) if first.get(k) != second.get(k))
    repaired: list[str] = []
    try:
        stats = store.anti_entropy(a, b, table)
        ok, reason = True, ""
        repaired = sorted(key_text(k) for k in stats.repaired_keys)
    except StoreError as error:
        ok, reason = False, str(error)
    after = {node: {key_text(k): v for k, v in store.replica_versions(node, table).items()
                    if store.range_of(table, k) in shared} for node in (a, b)}
    return {"table": table, "initiator": a, "peer": b, "ok": ok, "reason": reason,
            "differing": differing, "repaired": repaired, "after": after}


def shared_ranges(store: Topology, table: str, a: str, b: str) -> frozenset[str]:
    """The names of the key ranges of ``table`` that both ``a`` and ``b`` replicate."""
    return frozenset(r.name for r in store.key_ranges(table)
                     if a in r.replicas and b in r.replicas)


def idle_client(clients: tuple[str, ...], handles: Mapping[str, Handle], wanted: str
                ) -> str | None:
    """The first of ``clients``, from ``wanted`` on (round the end), with no request
    in flight (no handle in ``handles``, or a completed one); None when all are
    busy."""
    start = clients.index(wanted)
    for i in range(len(clients)):
        candidate = clients[(start + i) % len(clients)]
        handle = handles.get(candidate)
        if handle is None or handle.done:
            return candidate
    return None


def scheduled_machine(node_names: tuple[str, ...], faults: bool
                      ) -> type[RuleBasedStateMachine]:
    """The rules and teardown machines 3 to 5 share, for a schedulable store on the
    nodes ``node_names`` (faults injected only when ``faults``): any scheduler
    decision, a few fair ones, heal, crash (one node down at a time keeps every
    quorum possible) and restart, each logged as a step. A subclass sets ``raw``,
    ``rec``, ``log``, ``verdicts``, ``crashed`` and ``rules_run`` in ``__init__`` and
    defines ``_finish`` (the checks after the example, skipped once one failed)."""

    class Scheduled(RuleBasedStateMachine):
        raw: Any
        rec: DrivenRecording
        log: StepLog
        verdicts: Verdicts
        crashed: set[str]
        rules_run: int

        def _step(self, text: str, decisions: int = 1) -> None:
            self.rules_run += 1
            self.log.add(text, decisions)

        @rule(index=st.integers(0, 255))
        def decide(self, index: int) -> None:
            """One scheduler decision of any kind (deliver, drop, duplicate, fire)."""
            decisions = self.rec.decisions()
            if decisions:
                decision = decisions[index % len(decisions)]
                text = describe_decision(self.raw, decision)
                self.rec.decide(decision)
                self._step(text)

        @rule(steps=st.integers(1, 20))
        def run_fair(self, steps: int) -> None:
            """Up to ``steps`` fair decisions (oldest delivery, else earliest timer)."""
            taken = 0
            while taken < steps and fair_step(self.rec):
                taken += 1
            self._step(f"{taken} fair decision(s)", taken)

        @precondition(lambda self: faults)
        @rule()
        def heal(self) -> None:
            lost = heal_dropping(self.raw, self.rec)
            self._step(f"heal ({lost} cut-off message(s) lost)")

        @precondition(lambda self: faults)
        @rule(node=st.sampled_from(node_names))
        def crash(self, node: str) -> None:
            if self.crashed:
                return  # one node down at a time keeps every quorum possible
            self.raw.crash(node)
            self.crashed.add(node)
            self._step(f"crash {node}")

        @precondition(lambda self: faults)
        @rule()
        def restart(self) -> None:
            for node in sorted(self.crashed):
                self.raw.restart(node)
            self._step(f"restart {', '.join(sorted(self.crashed)) or 'nothing'}")
            self.crashed.clear()

        def teardown(self) -> None:
            try:
                if not self.verdicts.failed:
                    self._finish()
            finally:
                close(self.raw)
                self.verdicts.report()

        def _finish(self) -> None:
            raise NotImplementedError

        def _quiet(self) -> bool:
            """Heal, restart every crashed node, complete every operation in flight,
            settle and close the history; whether it holds any operation."""
            if faults:
                heal_dropping(self.raw, self.rec)
                for node in sorted(self.crashed):
                    self.raw.restart(node)
            taken = 0
            while self.rec.in_flight() and taken < MAX_SETTLE_DECISIONS and fair_step(self.rec):
                taken += 1
            if isinstance(self.raw, Settling):
                self.raw.settle()
            self.rec.collect()
            self.rec.abandon()
            return bool(self.rec.history().operations)

    return Scheduled


def replicas_machine(factory: Callable[[], Store], target: str | None = None
                     ) -> type[RuleBasedStateMachine]:
    """Machine 3 for the schedulable store ``factory`` builds (see the module
    docstring); ``target`` names the store (unused here, kept for
    :class:`~replicheck.properties.suite.Property`). Fails with
    :class:`GuaranteeViolation` when ``merkle-root-iff-equal`` breaks at any step, or
    ``convergence`` / ``anti-entropy-exact`` after healing and anti-entropy."""
    descriptor, nodes, probe = probe_store(factory)
    try:
        require_surface(probe, CONVERGENCE_PROPERTY, MessageControl, Settling, Topology,
                        (RangeSnapshots, ReplicaSnapshots))
        table = descriptor.tables[0].name
        pk = descriptor.tables[0].partition_key
        faults = descriptor.has(Capability.FAULTS) and bool(nodes)
        direct = bool(nodes) and isinstance(probe, DirectRouting)
        owners = isinstance(probe, PreferenceLists)
        snapshots = isinstance(probe, RangeSnapshots)
        merkle = snapshots and descriptor.has(Capability.ANTI_ENTROPY)
        anti_entropy = merkle and isinstance(probe, AntiEntropy) and owners
        leader_view = isinstance(probe, ReplicaSnapshots) and not snapshots
    finally:
        close(probe)
    node_names = nodes or ("none",)
    keys = strategies.keys(REPLICA_KEYS)

    class Replicas(scheduled_machine(node_names, faults)):  # type: ignore[misc]
        """Any schedule of writes and faults, then heal and anti-entropy: replicas
        converge; Merkle roots equal exactly when contents are, at every step."""

        def __init__(self) -> None:
            super().__init__()
            self.raw: Any = factory()
            self.rec = DrivenRecording(self.raw)
            self.log = StepLog()
            self.verdicts = Verdicts(CONVERGENCE_PROPERTY, self.log)
            self.handles: dict[str, Handle] = {}
            self.crashed: set[str] = set()
            self.last_snapshot = ""
            self.rules_run = 0

        def _idle(self, client: str) -> str | None:
            return idle_client(CLIENTS, self.handles, client)

        def _replica(self, key: str, index: int) -> str | None:
            found = tuple(self.raw.preference_list(table, {pk: key})) if owners else ()
            return found[index % len(found)] if found else None

        @rule(client=st.sampled_from(CLIENTS), key=keys, value=strategies.unique_values(),
              delete=st.booleans())
        def write(self, client: str, key: str, value: str, delete: bool) -> None:
            """A blind put (or a delete) submitted through the store's routing."""
            idle = self._idle(client)
            if idle is None:
                return
            request: Request = (Delete(table, {pk: key}) if delete
                                else Put(table, {pk: key, "v": value}))
            self.handles[idle] = self.rec.submit(idle, request)
            self._step(f"{idle} submits {request_text(request)}")

        @precondition(lambda self: direct and owners)
        @rule(key=keys, index=st.integers(0, 2), value=strategies.unique_values())
        def write_at(self, key: str, index: int, value: str) -> None:
            """A blind put sent straight to one replica of its key (two of these in a
            row are taken by two coordinators at the same instant)."""
            client = self._idle(CLIENTS[index % len(CLIENTS)])
            node = self._replica(key, index)
            if client is None or node is None:
                return
            put = Put(table, {pk: key, "v": value})
            self.handles[client] = self.rec.submit_at(client, put, node)
            self._step(f"{client} sends {request_text(put)} to {node}")

        @precondition(lambda self: direct and owners and faults)
        @rule(key=keys, index=st.integers(0, 2), value=strategies.unique_values())
        def write_then_crash(self, key: str, index: int, value: str) -> None:
            """A put sent to one replica of its key, which stores it and crashes before
            any of its messages leave (they are lost): only that replica holds the
            write until anti-entropy spreads it."""
            client = self._idle(CLIENTS[index % len(CLIENTS)])
            node = self._replica(key, index)
            if client is None or node is None or self.crashed:
                return
            put = Put(table, {pk: key, "v": value})
            handle = self.rec.submit_at(client, put, node)
            self.handles[client] = handle
            sent = [m for m in self.raw.messages_in_flight()
                    if m.src == client and m.dst == node]
            if not sent or not self.raw.reachable(client, node):
                self._step(f"{client} sends {request_text(put)} to {node}")
                return
            self.rec.decide(Deliver(sent[-1].id))
            lost = [m.id for m in self.raw.messages_in_flight() if m.src == node]
            for message in lost:
                self.rec.decide(Drop(message))
            self.raw.crash(node)
            self.crashed.add(node)
            self._step(f"{client} sends {request_text(put)} to {node}, which stores it and "
                       f"crashes ({len(lost)} message(s) lost)", 2 + len(lost))

        @precondition(lambda self: faults)
        @rule(side=st.sets(st.sampled_from(node_names), min_size=1))
        def partition(self, side: set[str]) -> None:
            other = [n for n in nodes if n not in side]
            self.raw.partition([sorted(side), other] if other else [sorted(side)])
            self._step(f"partition {sorted(side)} from {other}")

        @precondition(lambda self: faults)
        @rule(node=st.sampled_from(node_names), seconds=st.sampled_from((-2.0, -0.5, 0.5, 2.0)))
        def skew(self, node: str, seconds: float) -> None:
            self.raw.skew_clock(node, seconds)
            self._step(f"skew {node}'s clock by {seconds:+} s")

        @precondition(lambda self: anti_entropy)
        @rule(key=keys, first=st.integers(0, 2), second=st.integers(1, 2))
        def sync(self, key: str, first: int, second: int) -> None:
            """Deliver every message in flight, then one anti-entropy session between
            two replicas of a key that are up and can reach each other."""
            a, b = self._replica(key, first), self._replica(key, first + second)
            if a is None or b is None or a == b or {a, b} & self.crashed \
                    or not self.raw.reachable(a, b):
                return
            delivered = self.raw.quiesce()
            self.rec.collect()
            session = sync_session(self.raw, table, a, b)
            self.rec.collect()
            self.rec.observe("anti-entropy", session)
            self._step(f"deliver every message ({delivered}), then anti-entropy {a} -> {b} "
                       f"(differing {session['differing']}, repaired {session['repaired']})",
                       delivered + 1)

        @precondition(lambda self: merkle)
        @invariant()
        def merkle_roots_iff_equal(self) -> None:
            """Two replicas of a range report equal Merkle roots exactly when they
            hold equal entries there, at every step."""
            snapshot = self.raw.replicas_observation(table)
            canon = _canon(snapshot)
            if canon == self.last_snapshot:
                return
            self.last_snapshot = canon
            alone = snapshot_history(descriptor, [("replicas", snapshot)])
            judgement = judge_guarantee("merkle-root-iff-equal", alone, descriptor)
            if judgement.status in (VIOLATED, OBSERVED):
                self.rec.observe("replicas", snapshot)
                self.verdicts.take(judgement, self.rec.history())
            else:
                self.verdicts.take(judgement, None)

        def _finish(self) -> None:
            if not self._quiet():
                return
            if snapshots:
                self._anti_entropy_rounds()
                final = self.raw.replicas_observation(table, quiescent=True,
                                                      anti_entropy=anti_entropy)
            elif leader_view:
                final = leader_replicas_observation(self.raw, table)
            else:
                return
            replicas = final.get("replicas", {})
            every = {k for held in replicas.values() for k in held}
            steer(float(sum(1 for k in every if len({_canon(h.get(k)) for h in
                                                     replicas.values()}) > 1)),
                  "keys still differing before the last snapshot")
            self.rec.observe("replicas", final)
            history = self.rec.history()
            wanted = (["merkle-root-iff-equal"] if merkle else []) + (
                ["anti-entropy-exact"] if anti_entropy else []) + ["convergence"]
            self.verdicts.take_all([judge_guarantee(g, history, descriptor) for g in wanted],
                                   history)

        def _anti_entropy_rounds(self) -> None:
            if not anti_entropy:
                return
            pairs = [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:]
                     if shared_ranges(self.raw, table, a, b)]
            differing_first = 0
            for round_ in range(MAX_SYNC_ROUNDS):
                differing = 0
                for a, b in pairs:
                    session = sync_session(self.raw, table, a, b)
                    self.rec.observe("anti-entropy", session)
                    differing += len(session["differing"])
                if round_ == 0:
                    differing_first = differing
                if differing == 0:
                    break
            steer(float(differing_first), "keys anti-entropy found differing")

    Replicas.__name__ = Replicas.__qualname__ = "Replicas"
    return Replicas
