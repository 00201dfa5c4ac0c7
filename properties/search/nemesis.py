"""The Jepsen nemesis catalogue as fault-search rule classes.

Four classes (:data:`CLASSES`), each a rule of the mixin :func:`nemesis_rules` gives:

``leader-partition``
    Cut the current leader of a key's partition (a leaderless store: the first of
    the key's preference list) off from every other node; with ``wait``, then let
    time pass until the others elect a new leader (a leader store with a clock).
``split``
    A partition of a Jepsen shape over a random order of the nodes: ``majority``
    (a random minority cut off from the majority), ``ring`` (each node talks only to
    its two neighbours: every node sees a majority, no two see the same one) or
    ``bridge`` (two halves that cannot talk, joined by one node that talks to both).
    Ring and bridge are overlapping groups: :meth:`FaultInjectable.partition` lets
    two nodes talk when some group holds both, a reachability that is not
    transitive.
``leader-churn``
    Two or three rounds, in one rule, of: a write the current leader appends but
    cannot replicate (the messages it has in flight are lost with it), the leader
    crashed or paused, a second write while the others elect a new leader, the old
    leader restarted or resumed. Minority logs diverge and an old leader comes back
    with entries nobody else has: what Raft's Figure 8 needs.
``commit-crash``
    A cross-partition TransactWrite whose coordinator is paused, cut off (from every
    node, or from its own partition's other replicas only) or crashed while its
    commit is under way (a message of the commit protocol in flight, then a few more
    fair decisions), left so a while, brought back, the transaction run to its
    answer, and every item it touched read. It applies where a coordinator can be
    named: a store that declares leaders or preference lists (or records the
    coordinator on the answer).

Every fault heals inside its rule except a partition (the machine's teardown heals
it): at most one node is crashed or paused at a time, and the machine's
``crashed``/``paused`` sets say which while it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from replicheck.implementation.store import Drop, Handle
from replicheck.models.items.requests import Get, Put, TransactWrite
from replicheck.properties import strategies
from replicheck.properties.driving import heal_dropping
from replicheck.properties.search.driver import Surface

if TYPE_CHECKING:
    from replicheck.properties.search.driver import Driver

    _Base = Driver
else:
    _Base = object

__all__ = ["CLASSES", "COMMIT_FAULTS", "MAX_DECISIONS", "SHAPES", "STAGES", "nemesis_rules",
           "split_groups"]

CLASSES: Final[tuple[str, ...]] = ("leader-partition", "split", "leader-churn",
                                   "commit-crash")
"""The rule classes of this module."""

SHAPES: Final[tuple[str, ...]] = ("majority", "ring", "bridge")
"""The partition shapes of ``split``."""

STAGES: Final[tuple[str, ...]] = ("prepare", "txn-vote", "decision")
"""The message kinds of a two-phase commit ``commit-crash`` waits for before the
crash: participants asked to prepare, a participant's vote on its way, the outcome
on its way to the participants (the reference store's kinds; with a store whose
kinds differ the rule faults the coordinator once its wait runs out, if the
transaction is still pending)."""

COMMIT_FAULTS: Final[tuple[str, ...]] = ("pause", "isolate", "orphan", "crash")
"""What ``commit-crash`` does to the coordinator: freeze it, cut it off from every
other node, cut it off from the other replicas of its own partition only (it still
reaches the participants and the clients: its decision cannot commit, its messages
to the participants flow), or crash it."""

MAX_DECISIONS: Final = 3000
"""The most fair decisions one wait of a nemesis rule takes."""

ELECTION_SECONDS: Final = 3.0
"""How long (simulated seconds) a nemesis rule waits at most for a new leader."""

CLIENT: Final = "c0"
"""The client a nemesis rule's writes start looking for an idle client from."""


def split_groups(shape: str, order: tuple[str, ...]) -> list[list[str]]:
    """The groups of partition ``shape`` (:data:`SHAPES`) over the nodes in ``order``:
    ``majority``: the first ``(n - 1) // 2`` nodes apart from the rest; ``ring``: each
    node with each of its neighbours in ``order`` (round the end); ``bridge``: the
    first node in both halves of the others."""
    n = len(order)
    if shape == "majority":
        cut = max(1, (n - 1) // 2)
        return [list(order[:cut]), list(order[cut:])]
    if shape == "ring":
        return [[order[i], order[(i + 1) % n]] for i in range(n)] if n > 2 else [list(order)]
    if shape == "bridge":
        bridge, rest = order[0], order[1:]
        half = max(1, len(rest) // 2)
        return [[bridge, *rest[:half]], [bridge, *rest[half:]]]
    raise ValueError(f"unknown split shape {shape!r}; expected one of {', '.join(SHAPES)}")


def nemesis_rules(surface: Surface) -> type:
    """The nemesis mixin for a store with ``surface`` (rules whose store lacks what
    they need are never enabled)."""
    nodes = surface.nodes
    table, pk = surface.table, surface.pk
    faults = surface.faults and len(nodes) >= 3
    aimed = faults and (surface.leaders or surface.owners)
    values = strategies.unique_values()

    class Nemesis(_Base):
        """The Jepsen nemesis catalogue (module docstring)."""

        # -- helpers --------------------------------------------------------------------

        def _nemesis_run(self, done: Callable[[], bool], seconds: float = ELECTION_SECONDS
                         ) -> None:
            """Fair decisions until ``done()``, ``seconds`` of simulated time passed (a
            store with a clock) or :data:`MAX_DECISIONS` were taken."""
            end = self.raw.now() + seconds if surface.timed else None
            for _ in range(MAX_DECISIONS):
                if done() or (end is not None and self.raw.now() >= end):
                    return
                if not self.fair(1):
                    return

        def _nemesis_leader(self, key: str) -> str | None:
            """The key's leader now (leaderless: the first of its preference list)."""
            if surface.leaders:
                leader: str | None = self.raw.leader_of(self._nemesis_partition(key))
                return leader
            return self.replica(key, 0)

        def _nemesis_partition(self, key: str) -> int:
            partition: int = self.raw.partition_of(table, {pk: key})
            return partition

        def _nemesis_lose(self, node: str) -> None:
            """Every message in flight from ``node`` is lost."""
            if surface.messages:
                for message in self.raw.messages_in_flight():
                    if message.src == node:
                        self.rec.decide(Drop(message.id))

        def _nemesis_write(self, key: str, value: str, node: str | None) -> Handle | None:
            """Submit a put of ``key`` (straight to ``node`` when given and the store
            lets clients choose); its handle, or None when every client is busy."""
            client = self.idle(CLIENT)
            if client is None:
                return None
            put = Put(table, {pk: key, "v": value})
            handle: Handle
            if node is not None and surface.direct:
                handle = self.rec.submit_at(client, put, node)
            else:
                handle = self.rec.submit(client, put)
            self.handles[client] = handle
            return handle

        def _nemesis_stop(self, node: str, how: str) -> None:
            if how == "crash":
                self.raw.crash(node)
                self.crashed.add(node)
            else:
                self.raw.pause(node)
                self.paused.add(node)

        def _nemesis_start(self, node: str, how: str) -> None:
            if how == "crash":
                self.raw.restart(node)
                self.crashed.discard(node)
            else:
                self.raw.resume(node)
                self.paused.discard(node)

        # -- leader-partition -----------------------------------------------------------

        @precondition(lambda self: aimed and self.swarm_on("leader-partition"))
        @rule(key=strategies.keys(), wait=st.booleans())
        def nemesis_leader_partition(self, key: str, wait: bool) -> None:
            """Cut the key's leader off from every other node (then, with ``wait``,
            let time pass until the others elect a new one). With no leader now, the
            fair policy runs until there is one (an election's time at most)."""
            leader = self._nemesis_leader(key)
            if leader is None and surface.leaders and surface.timed:
                self._nemesis_run(lambda: self._nemesis_leader(key) is not None)
                leader = self._nemesis_leader(key)
            if leader is None:
                return
            self.raw.partition([[leader], [n for n in nodes if n != leader]])
            self.mark("leader-partition")
            if wait and surface.leaders and surface.timed:
                partition = self._nemesis_partition(key)
                self._nemesis_run(lambda: self.raw.leader_of(partition) not in (leader, None))

        # -- split ----------------------------------------------------------------------

        @precondition(lambda self: faults and self.swarm_on("split"))
        @rule(shape=st.sampled_from(SHAPES), order=st.permutations(nodes))
        def nemesis_split(self, shape: str, order: list[str]) -> None:
            """A majority/minority, ring or bridge partition of the nodes."""
            self.raw.partition(split_groups(shape, tuple(order)))
            self.mark("split")

        # -- leader-churn ---------------------------------------------------------------

        @precondition(lambda self: aimed and self.swarm_on("leader-churn"))
        @rule(key=strategies.keys(), how=st.sampled_from(("crash", "pause")),
              rounds=st.integers(2, 3), written=st.lists(values, min_size=6, max_size=6))
        def nemesis_leader_churn(self, key: str, how: str, rounds: int,
                                 written: list[str]) -> None:
            """Kill (crash, restart) or pause (resume) the key's leader ``rounds``
            times, each time right after it appended a write it could not
            replicate, with a write while it is down (nodes down before come back
            first: one node down at a time)."""
            self.bring_back()
            for round_ in range(rounds):
                if not self._nemesis_churn_round(key, how, written[2 * round_],
                                                 written[2 * round_ + 1]):
                    return

        def _nemesis_churn_round(self, key: str, how: str, first_value: str,
                                 second_value: str) -> bool:
            """One round of leader churn; False when it could not start (no leader,
            every client busy)."""
            leader = self._nemesis_leader(key)
            if leader is None:
                return False
            sent = max((m.id for m in self.raw.messages_in_flight()), default=-1) \
                if surface.messages else -1
            first = self._nemesis_write(key, first_value, leader)
            if first is None:
                return False
            # until the leader sends what the write made it send (its replication)
            self._nemesis_run(lambda: first.done or any(
                m.src == leader and m.dst in nodes and m.id > sent
                for m in self.raw.messages_in_flight()), seconds=1.0)
            self._nemesis_lose(leader)
            self._nemesis_stop(leader, how)
            self.mark("leader-churn")
            if surface.leaders:
                partition = self._nemesis_partition(key)
                self._nemesis_run(lambda: self.raw.leader_of(partition) not in (leader, None))
            second = self._nemesis_write(key, second_value, None)
            if second is not None:
                self._nemesis_run(lambda: second.done)
            self._nemesis_start(leader, how)
            return True

        # -- commit-crash ---------------------------------------------------------------

        @precondition(lambda self: aimed and surface.transactions and surface.messages
                      and self.swarm_on("commit-crash"))
        @rule(order=st.permutations(strategies.KEYS), size=st.integers(2, len(strategies.KEYS)),
              written=st.lists(values, min_size=len(strategies.KEYS),
                               max_size=len(strategies.KEYS)),
              stage=st.sampled_from(STAGES), extra=st.integers(0, 8),
              how=st.sampled_from(COMMIT_FAULTS),
              down=st.sampled_from((0.3, 1.0, 2.0)))
        def nemesis_commit_crash(self, order: list[str], size: int, written: list[str],
                                 stage: str, extra: int, how: str, down: float) -> None:
            """Fault ``how`` (:data:`COMMIT_FAULTS`) on a transaction's coordinator
            during its commit (once a message of kind ``stage`` is in flight, and
            ``extra`` fair decisions later), healed ``down`` seconds later; then run
            the transaction to its answer and read every item it touched (nodes
            down before come back first: one node down at a time)."""
            self.bring_back()
            client = self.idle(CLIENT)
            if client is None:
                return
            keys = order[:size]
            txn = TransactWrite(tuple(Put(table, {pk: k, "v": v})
                                      for k, v in zip(keys, written, strict=False)))
            handle = self.rec.submit(client, txn)
            self.handles[client] = handle
            self._nemesis_run(lambda: handle.done or any(
                m.kind == stage for m in self.raw.messages_in_flight()), seconds=2.0)
            self._nemesis_fair_while_pending(handle, extra)
            coordinator = self._nemesis_coordinator(handle, keys[0])
            if handle.done or coordinator is None:
                return
            cut = self._nemesis_cut(how, coordinator, keys[0])
            if cut is not None:
                self.raw.partition([cut, [n for n in nodes if n not in cut]])
            else:
                self._nemesis_stop(coordinator, how)
            self.mark("commit-crash")
            self._nemesis_run(lambda: False, seconds=down)
            if cut is not None:
                heal_dropping(self.raw, self.rec)
            else:
                self._nemesis_start(coordinator, how)
            self._nemesis_run(lambda: handle.done)
            for key in keys:
                reader = self.idle(CLIENT)
                if reader is None:
                    return
                self.run_request(reader, Get(table, {pk: key}, consistent=surface.strong))

        def _nemesis_cut(self, how: str, coordinator: str, home_key: str
                         ) -> list[str] | None:
            """The nodes fault ``how`` cuts off from the rest (None: a crash or
            pause): the coordinator (``isolate``), or the other replicas of its
            partition (``orphan``; a leaderless store: the coordinator)."""
            if how == "isolate" or (how == "orphan" and not surface.leaders):
                return [coordinator]
            if how == "orphan":
                replicas = self.raw.partition_replicas(self._nemesis_partition(home_key))
                return [n for n in replicas if n != coordinator] or [coordinator]
            return None

        def _nemesis_fair_while_pending(self, handle: Handle, steps: int) -> None:
            """Up to ``steps`` fair decisions while ``handle`` is pending."""
            for _ in range(steps):
                if handle.done or not self.fair(1):
                    return

        def _nemesis_coordinator(self, handle: Handle, first_key: str) -> str | None:
            """The node coordinating ``handle``'s transaction: the handle's recorded
            coordinator when it is a node, else the leader of the first action's
            partition (a leaderless store: its first replica)."""
            recorded = handle.meta.get("coordinator")
            if isinstance(recorded, str) and recorded in nodes:
                return recorded
            return self._nemesis_leader(first_key)

    Nemesis.__name__ = Nemesis.__qualname__ = "Nemesis"
    return Nemesis
