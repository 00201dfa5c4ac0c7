"""The replica property, ``convergence-after-anti-entropy``.

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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from replicheck.implementation.store import (
    AntiEntropy,
    Capability,
    Deliver,
    DirectRouting,
    Drop,
    Handle,
    MessageControl,
    PreferenceLists,
    RangeSnapshots,
    ReplicaSnapshots,
    Settling,
    Store,
    Topology,
)
from replicheck.models.items.requests import Delete, Put, Request
from replicheck.models.items.wording import request_text
from replicheck.properties import strategies
from replicheck.properties.driving import (
    CLIENTS,
    DrivenRecording,
    close_store,
    idle_client,
    probe_store,
    steer,
)
from replicheck.properties.guarantees import OBSERVED, VIOLATED, judge_guarantee
from replicheck.properties.mechanisms import (
    canon,
    leader_replicas_observation,
    shared_ranges,
    sync_session,
)
from replicheck.properties.scheduled import scheduled_machine
from replicheck.properties.suite import require_surface
from replicheck.properties.verdicts import StepLog, Verdicts, snapshot_history

__all__ = ["CONVERGENCE_PROPERTY", "REPLICA_KEYS", "replicas_machine"]

CONVERGENCE_PROPERTY: Final = "convergence-after-anti-entropy"
"""The suite property this module checks."""

REPLICA_KEYS: Final = ("k0", "k1", "k2", "k3", "k4", "k5")
"""The replica property's keys: more than the usual three, so that some fall in
every part of the ring's ranges (a Merkle tree's last subtree included)."""

MAX_SYNC_ROUNDS: Final = 3
"""The most anti-entropy rounds teardown runs (a correct store is quiet after one)."""


def replicas_machine(factory: Callable[[], Store], target: str | None = None
                     ) -> type[RuleBasedStateMachine]:
    """The machine for the schedulable store ``factory`` builds (see the module
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
        close_store(probe)
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
            shown = canon(snapshot)
            if shown == self.last_snapshot:
                return
            self.last_snapshot = shown
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
            steer(float(sum(1 for k in every if len({canon(h.get(k)) for h in
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
