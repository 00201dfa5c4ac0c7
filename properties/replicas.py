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
    Drop,
    MessageControl,
    RangeSnapshots,
    ReplicaSnapshots,
    Settling,
    Store,
    Topology,
)
from replicheck.models.items.requests import Delete, Put, Request
from replicheck.models.items.wording import request_text
from replicheck.properties import strategies
from replicheck.properties.driving import CLIENTS
from replicheck.properties.guarantees import OBSERVED, VIOLATED, judge_guarantee
from replicheck.properties.mechanisms import (
    canon,
    leader_replicas_observation,
    shared_ranges,
    sync_session,
)
from replicheck.properties.scheduled import Setup, probe, scheduled_machine
from replicheck.properties.suite import require_surface
from replicheck.properties.verdicts import snapshot_history

__all__ = ["CONVERGENCE_PROPERTY", "REPLICA_KEYS", "replicas_machine"]

CONVERGENCE_PROPERTY: Final = "convergence-after-anti-entropy"
"""The suite property this module checks."""

REPLICA_KEYS: Final = ("k0", "k1", "k2", "k3", "k4", "k5")
"""The replica property's keys: more than the usual three, so that some fall in
every part of the ring's ranges (a Merkle tree's last subtree included)."""

MAX_SYNC_ROUNDS: Final = 3
"""The most anti-entropy rounds teardown runs (a correct store is quiet after one)."""


def replicas_machine(factory: Callable[[], Store], target: str | None = None, seed: int = 0,
                     *, search: bool = False) -> type[RuleBasedStateMachine]:
    """The replica property's machine for the schedulable store ``factory`` builds (see
    the module docstring); ``target`` and ``seed`` name the store. Fails with
    :class:`GuaranteeViolation` when ``merkle-root-iff-equal`` breaks at any step, or
    ``convergence`` / ``anti-entropy-exact`` after healing and anti-entropy. With
    ``search``, it draws every fault-search rule class too."""
    setup = probe(CONVERGENCE_PROPERTY, factory, target, seed, lambda store: require_surface(
        store, CONVERGENCE_PROPERTY, MessageControl, Settling, Topology,
        (RangeSnapshots, ReplicaSnapshots)), search=search)
    surface = setup.surface
    merkle = surface.snapshots and setup.descriptor.has(Capability.ANTI_ENTROPY)
    anti_entropy = merkle and setup.offers(AntiEntropy) and surface.owners
    leader_view = setup.offers(ReplicaSnapshots) and not surface.snapshots

    bases = (_write_rules(setup), _replica_checks(setup, merkle, anti_entropy),
             scheduled_machine(setup))

    class Replicas(*bases):  # type: ignore[misc]
        """Any schedule of writes and faults, then heal and anti-entropy: replicas
        converge; Merkle roots equal exactly when contents are, at every step."""

        def __init__(self) -> None:
            super().__init__()
            self.last_snapshot = ""

        def judge(self) -> None:
            if not self.settled():
                return
            table = setup.table
            if surface.snapshots:
                self.anti_entropy_rounds(anti_entropy)
                final = self.raw.replicas_observation(table, quiescent=True,
                                                      anti_entropy=anti_entropy)
            elif leader_view:
                final = leader_replicas_observation(self.raw, table)
            else:
                return
            replicas = final.get("replicas", {})
            every = {k for held in replicas.values() for k in held}
            self.aim(float(sum(1 for k in every if len({canon(h.get(k)) for h in
                                                     replicas.values()}) > 1)),
                  "keys still differing before the last snapshot")
            self.rec.observe("replicas", final)
            history = self.rec.history()
            wanted = (["merkle-root-iff-equal"] if merkle else []) + (
                ["anti-entropy-exact"] if anti_entropy else []) + ["convergence"]
            self.verdicts.take_all([judge_guarantee(g, history, setup.descriptor)
                                    for g in wanted], history)

    Replicas.__name__ = Replicas.__qualname__ = "Replicas"
    return Replicas


def _write_rules(setup: Setup) -> type:
    """The replica property's writes: blind puts and deletes through the store's
    routing, puts sent straight to one replica of their key, and a put whose replica
    crashes before any of its messages leave."""
    table, pk = setup.table, setup.pk
    direct, owners, faults = setup.surface.direct, setup.surface.owners, setup.faults
    keys = strategies.keys(REPLICA_KEYS)

    class Writes:
        @rule(client=st.sampled_from(CLIENTS), key=keys, value=strategies.unique_values(),
              delete=st.booleans())
        def write(self: Any, client: str, key: str, value: str, delete: bool) -> None:
            """A blind put (or a delete) submitted through the store's routing."""
            self.rules_run += 1
            idle = self.idle(client)
            if idle is None:
                return
            request: Request = (Delete(table, {pk: key}) if delete
                                else Put(table, {pk: key, "v": value}))
            self.handles[idle] = self.rec.submit(idle, request)
            self.log_step(lambda: f"{idle} submits {request_text(request)}")

        @precondition(lambda self: direct and owners)
        @rule(key=keys, index=st.integers(0, 2), value=strategies.unique_values())
        def write_at(self: Any, key: str, index: int, value: str) -> None:
            """A blind put sent straight to one replica of its key (two of these in a
            row are taken by two coordinators at the same instant)."""
            self.rules_run += 1
            client = self.idle(CLIENTS[index % len(CLIENTS)])
            node = self.replica(key, index)
            if client is None or node is None:
                return
            put = Put(table, {pk: key, "v": value})
            self.handles[client] = self.rec.submit_at(client, put, node)
            self.log_step(lambda: f"{client} sends {request_text(put)} to {node}")

        @precondition(lambda self: direct and owners and faults)
        @rule(key=keys, index=st.integers(0, 2), value=strategies.unique_values())
        def write_then_crash(self: Any, key: str, index: int, value: str) -> None:
            """A put sent to one replica of its key, which stores it and crashes before
            any of its messages leave (they are lost): only that replica holds the
            write until anti-entropy spreads it."""
            self.rules_run += 1
            client = self.idle(CLIENTS[index % len(CLIENTS)])
            node = self.replica(key, index)
            if client is None or node is None or self.crashed:
                return
            put = Put(table, {pk: key, "v": value})
            self.handles[client] = self.rec.submit_at(client, put, node)
            sent = [m for m in self.raw.messages_in_flight()
                    if m.src == client and m.dst == node]
            if not sent or not self.raw.reachable(client, node):
                self.log_step(lambda: f"{client} sends {request_text(put)} to {node}")
                return
            self.rec.decide(Deliver(sent[-1].id))
            lost = [m.id for m in self.raw.messages_in_flight() if m.src == node]
            for message in lost:
                self.rec.decide(Drop(message))
            self.crash_node(node)
            self.log_step(lambda: f"{client} sends {request_text(put)} to {node}, which "
                          f"stores it and crashes ({len(lost)} message(s) lost)",
                          2 + len(lost))

    return Writes


def _replica_checks(setup: Setup, merkle: bool, anti_entropy: bool) -> type:
    """The replica property's anti-entropy: a sync rule, the Merkle-root invariant
    checked at every step, and teardown's sync rounds."""
    table, descriptor = setup.table, setup.descriptor
    nodes = setup.nodes
    keys = strategies.keys(REPLICA_KEYS)

    class Checks:
        @precondition(lambda self: anti_entropy)
        @rule(key=keys, first=st.integers(0, 2), second=st.integers(1, 2))
        def sync(self: Any, key: str, first: int, second: int) -> None:
            """Deliver every message in flight, then one anti-entropy session between
            two replicas of a key that are up and can reach each other."""
            self.rules_run += 1
            a, b = self.replica(key, first), self.replica(key, first + second)
            if a is None or b is None or a == b or {a, b} & self.crashed \
                    or not self.raw.reachable(a, b):
                return
            delivered = self.raw.quiesce()
            self.rec.collect()
            session = sync_session(self.raw, table, a, b)
            self.rec.collect()
            self.rec.observe("anti-entropy", session)
            self.log_step(lambda: f"deliver every message ({delivered}), then anti-entropy "
                          f"{a} -> {b} (differing {session['differing']}, repaired "
                          f"{session['repaired']})", delivered + 1)

        @precondition(lambda self: merkle)
        @invariant()
        def merkle_roots_iff_equal(self: Any) -> None:
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

        def anti_entropy_rounds(self: Any, enabled: bool) -> None:
            """Sync rounds between every pair of nodes sharing a range, until one
            finds nothing differing (at most MAX_SYNC_ROUNDS)."""
            if not enabled:
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
            self.aim(float(differing_first), "keys anti-entropy found differing")

    return Checks
