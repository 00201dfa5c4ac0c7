"""A small simulated store of your own, made schedulable (docs/plugging-in.md, section
"Making your own simulated store schedulable").

:class:`PrimaryCopyStore` is three nodes: ``n1`` applies every request in arrival
order (a request sent to another node is forwarded to it: clients send reads to
the nodes in turn) and answers; every :data:`RESEND` seconds it sends ``n2`` and
``n3`` the log entries they have not acknowledged (asynchronous replication in
batches). Nothing moves by itself: messages and
timers wait for a decision, which is what makes every interleaving and fault
reachable by the suite's scheduled properties. It imports nothing from
``implementation/reference/``: it implements the protocols of
``implementation/store.py`` directly.

``make_store()`` is the store; ``make_buggy_store()`` the same store with one line
changed (a node other than the primary answers strong reads from its own copy),
which the suite catches as a ``linearizable-strong-reads`` violation.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Self

from replicheck.implementation.store import (
    Capability,
    Claim,
    Decision,
    Deliver,
    Descriptor,
    Drop,
    Duplicate,
    Fire,
    Handle,
    KeyRange,
    MessageInfo,
    TimerInfo,
)
from replicheck.models.items.errors import Indeterminate, StoreError
from replicheck.models.items.operations import apply, empty
from replicheck.models.items.requests import (
    Delete,
    Get,
    Item,
    Put,
    Request,
    Response,
    TableSchema,
    Update,
)
from replicheck.models.items.validation import key_tuple

__all__ = ["PrimaryCopyStore", "make_buggy_store", "make_store"]

TABLE: Final = TableSchema("items", "pk")
NODES: Final = ("n1", "n2", "n3")
PRIMARY: Final = "n1"
RESEND: Final = 0.2
"""Seconds between the primary's batches of unacknowledged log entries."""
CLIENT_TIMEOUT: Final = 1.0
"""Seconds a client waits for an answer before the operation is indeterminate."""
WRITES: Final = frozenset({"put", "update", "delete", "conditional-write"})


@dataclass
class _Message:
    id: int
    src: str
    dst: str
    kind: str
    body: Any
    sent_at: float


@dataclass
class _Timer:
    id: int
    owner: str
    name: str
    deadline: float
    payload: Any = None


@dataclass
class _Node:
    """A node's durable state: its copy of every item with the log index of the write
    that produced it, and (the primary) its log and what each backup acknowledged."""

    items: dict[tuple[Any, ...], tuple[Item | None, int]] = field(default_factory=dict)
    applied: int = 0
    log: list[tuple[tuple[Any, ...], Item | None]] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)
    answered: dict[int, Any] = field(default_factory=dict)


class PrimaryCopyStore:
    """The example store (module docstring). ``stale_reads`` is the one-line bug."""

    def __init__(self, *, stale_reads: bool = False) -> None:
        self.stale_reads = stale_reads
        self.nodes: tuple[str, ...] = NODES
        self.db = empty(TABLE)
        self.state = {n: _Node() for n in NODES}
        self.state[PRIMARY].acked = {n: 0 for n in NODES if n != PRIMARY}
        self.clock = 0.0
        self.next_id = 0
        self.in_flight: dict[int, _Message] = {}
        self.timers: dict[int, _Timer] = {}
        self.crashed: set[str] = set()
        self.paused: set[str] = set()
        self.groups: tuple[frozenset[str], ...] = ()
        self.handles: dict[int, Handle] = {}
        self.reads = 0

    # -- Store ------------------------------------------------------------------------------

    @property
    def descriptor(self) -> Descriptor:
        """Linearizable strong reads and writes; replicas converge."""
        return Descriptor(
            "primary-copy", frozenset({
                Capability.STRONG_READS, Capability.REPLICA_INTROSPECTION, Capability.FAULTS,
                Capability.DETERMINISTIC_SCHEDULING, Capability.TOPOLOGY,
                Capability.SETTLING, Capability.REPLICA_SNAPSHOTS, Capability.TIME_CONTROL,
                Capability.MESSAGE_CONTROL}),
            (Claim("linearizable-strong-reads", frozenset({"get-strong"}) | WRITES),
             Claim("linearizable-conditional-writes", WRITES),
             Claim("convergence", frozenset({"replicas"}))),
            frozenset({"stale-read"}), (TABLE,), "one primary applies, two backups copy")

    def execute(self, request: Request) -> Response:
        """Submit on ``client-0`` and take fair decisions until it completes."""
        handle = self.submit("client-0", request)
        while not handle.done:
            decision = self.default_decision()
            if decision is None:
                raise Indeterminate("the store went quiet before a reply")
            self.decide(decision)
        if handle.error is not None:
            raise handle.error
        assert handle.response is not None
        return handle.response

    # -- Schedulable and DirectRouting ------------------------------------------------------

    def submit(self, client: str, request: Request) -> Handle:
        """Send a write to the primary, a read to the nodes in turn (a backup forwards
        it to the primary)."""
        self.reads += isinstance(request, Get)
        node = NODES[self.reads % len(NODES)] if isinstance(request, Get) else PRIMARY
        return self.submit_at(client, request, node)

    def submit_at(self, client: str, request: Request, node: str,
                  context: Mapping[str, int] | None = None) -> Handle:
        """Send ``request`` to ``node`` (a backup forwards it to the primary)."""
        handle = Handle(client, request)
        if context is not None:
            from replicheck.models.items.errors import ValidationError

            handle.status, handle.error = "error", ValidationError(
                "no causal contexts here", what="Context")
            return handle
        rid = self._id()
        self.handles[rid] = handle
        self._send(client, node, "request", (rid, client, request))
        self._timer(client, CLIENT_TIMEOUT, "timeout", rid)
        return handle

    def decisions(self) -> tuple[Decision, ...]:
        """Deliveries, drops, duplications, then timers by deadline."""
        deliver = [Deliver(m.id) for m in self.in_flight.values() if self._deliverable(m)]
        return (*deliver, *(Drop(i) for i in self.in_flight),
                *(Duplicate(i) for i in self.in_flight),
                *(Fire(t.id) for t in sorted(self.timers.values(),
                                             key=lambda t: (t.deadline, t.id))
                  if t.owner not in self.paused))

    def decide(self, decision: Decision) -> None:
        """Take one decision (ValueError when it is not available)."""
        if decision not in self.decisions():
            raise ValueError(f"not available: {decision}")
        if isinstance(decision, Drop):
            del self.in_flight[decision.message]
        elif isinstance(decision, Duplicate):
            m = self.in_flight[decision.message]
            self._send(m.src, m.dst, m.kind, m.body, m.sent_at)
        elif isinstance(decision, Deliver):
            m = self.in_flight.pop(decision.message)
            if m.dst not in self.crashed:
                self._receive(m)
        else:
            t = self.timers.pop(decision.timer)
            self.clock = max(self.clock, t.deadline)
            self._fire(t)

    # -- the protocol -----------------------------------------------------------------------

    def _receive(self, m: _Message) -> None:
        if m.kind == "request":
            rid, client, request = m.body
            if m.dst != PRIMARY and not (self.stale_reads and _strong_read(request)):
                self._send(m.dst, PRIMARY, "request", m.body)
            else:  # a duplicated request is answered again, not applied again
                answered = self.state[m.dst].answered
                if rid not in answered:
                    answered[rid] = self._answer(m.dst, request)
                self._send(m.dst, client, "reply", (rid, *answered[rid]))
        elif m.kind == "reply":
            rid, response, error, meta = m.body
            handle = self.handles.pop(rid, None)
            if handle is not None and not handle.done:
                handle.response, handle.error = response, error
                handle.status = "ok" if error is None else "error"
                handle.meta.update(meta)
        elif m.kind == "append":
            self._append(m.dst, *m.body)
        elif m.kind == "ack":
            acked = self.state[PRIMARY].acked
            acked[m.src] = max(acked[m.src], m.body)

    def _answer(self, node: str, request: Request
                ) -> tuple[Response | None, StoreError | None, dict[str, Any]]:
        if node != PRIMARY:  # the stale-read bug: a backup's own copy
            key = key_tuple(TABLE, request.key, what="Key")  # type: ignore[union-attr]
            item, version = self.state[node].items.get(key, (None, 0))
            return Response(item=item), None, {"version": version}
        try:
            db, response = apply(self.db, request)
        except StoreError as error:
            return None, error, {}
        if not isinstance(request, Put | Update | Delete):
            return response, None, {}
        key = key_tuple(TABLE, request.item if isinstance(request, Put) else request.key,
                        what="Key", exact=False)
        self.db = db
        primary = self.state[PRIMARY]
        primary.log.append((key, db.item(TABLE.name, dict(zip(TABLE.key_attributes, key,
                                                              strict=True)))))
        index = len(primary.log)
        primary.items[key] = (primary.log[-1][1], index)
        primary.applied = index
        self._arm()  # replicated in batches, when the timer fires
        return response, None, {"version": index}

    def _replicate(self) -> None:
        primary = self.state[PRIMARY]
        for backup, acked in sorted(primary.acked.items()):
            for index in range(acked + 1, len(primary.log) + 1):
                self._send(PRIMARY, backup, "append", (index, *primary.log[index - 1]))
        self._arm()

    def _arm(self) -> None:
        """Set the replication timer while a backup lacks part of the log."""
        primary = self.state[PRIMARY]
        if any(a < len(primary.log) for a in primary.acked.values()) and not any(
                t.owner == PRIMARY for t in self.timers.values()):
            self._timer(PRIMARY, RESEND, "resend")

    def _append(self, node: str, index: int, key: tuple[Any, ...], item: Item | None) -> None:
        state = self.state[node]
        if index == state.applied + 1:
            state.items[key] = (item, index)
            state.applied = index
        self._send(node, PRIMARY, "ack", state.applied)

    def _fire(self, t: _Timer) -> None:
        if t.name == "timeout":
            handle = self.handles.pop(t.payload, None)
            if handle is not None and not handle.done:
                handle.status = "indeterminate"
                handle.error = Indeterminate(f"no reply within {CLIENT_TIMEOUT} s")
        elif t.name == "resend" and t.owner not in self.crashed:
            self._replicate()

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _send(self, src: str, dst: str, kind: str, body: Any, at: float | None = None) -> None:
        if src in self.crashed:
            return
        m = _Message(self._id(), src, dst, kind, body, self.clock if at is None else at)
        self.in_flight[m.id] = m

    def _timer(self, owner: str, after: float, name: str, payload: Any = None) -> None:
        t = _Timer(self._id(), owner, name, self.clock + after, payload)
        self.timers[t.id] = t

    def _deliverable(self, m: _Message) -> bool:
        return m.dst not in self.paused and self.reachable(m.src, m.dst)

    # -- Topology ---------------------------------------------------------------------------

    def key_ranges(self, table: str) -> tuple[KeyRange, ...]:
        """One range, every node a replica, ``n1`` leading."""
        return (KeyRange("p0", NODES, self.leader_of(0)),)

    def range_of(self, table: str, key: tuple[object, ...]) -> str:
        """Every key is in the one range."""
        return "p0"

    def partition_of(self, table: str, key: Mapping[str, object]) -> int:
        """One partition, 0."""
        return 0

    def partition_replicas(self, partition: int) -> tuple[str, ...]:
        """Every node."""
        return NODES

    def leader_of(self, partition: int) -> str | None:
        """The primary, while it is up."""
        return None if PRIMARY in self.crashed else PRIMARY

    def preference_list(self, table: str, key: Mapping[str, object]) -> tuple[str, ...]:
        """Every node, the primary first."""
        return NODES

    # -- Introspectable and ReplicaSnapshots ------------------------------------------------

    def replicas(self) -> tuple[str, ...]:
        """The nodes."""
        return NODES

    def replica_items(self, replica: str, table: str) -> Mapping[tuple[Any, ...], Item]:
        """The items ``replica`` holds."""
        return {k: item for k, (item, _) in self.state[replica].items.items()
                if item is not None}

    def replica_versions(self, node: str, table: str
                         ) -> Mapping[tuple[Any, ...], tuple[Item | None, int]]:
        """Each key ``node`` holds: (item or None for a deletion, log index)."""
        return dict(self.state[node].items)

    # -- Settling and TimeControl -----------------------------------------------------------

    def settle(self, *, seconds: float = 10.0) -> bool:
        """Fair steps until every backup acknowledged the whole log (or ``seconds``
        passed); True when it did."""
        self.run_for(seconds, until=self._replicated)
        return self._replicated()

    def quiesce(self) -> int:
        """Deliver every deliverable message; how many."""
        taken = 0
        while (m := next((m for m in self.in_flight.values() if self._deliverable(m)), None)):
            self.decide(Deliver(m.id))
            taken += 1
        return taken

    def now(self) -> float:
        """Simulated time, in seconds."""
        return self.clock

    def advance(self, seconds: float) -> None:
        """Move time forward (timers still wait for a decision)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.clock += seconds

    def run_for(self, seconds: float, *, until: Any = None) -> int:
        """Fair steps for ``seconds`` of simulated time; how many."""
        end, taken = self.clock + seconds, 0
        while self.clock < end and not (until is not None and until()):
            decision = self.default_decision()
            if decision is None:
                break
            self.decide(decision)
            taken += 1
        return taken

    def _replicated(self) -> bool:
        primary = self.state[PRIMARY]
        return all(self.state[n].applied == len(primary.log) for n in NODES)

    # -- MessageControl ---------------------------------------------------------------------

    def messages_in_flight(self) -> tuple[MessageInfo, ...]:
        """The messages in flight, oldest first."""
        return tuple(MessageInfo(m.id, m.src, m.dst, m.kind, m.sent_at)
                     for m in self.in_flight.values())

    def pending_timers(self) -> tuple[TimerInfo, ...]:
        """The pending timers, by deadline."""
        return tuple(TimerInfo(t.id, t.owner, t.name, t.deadline)
                     for t in sorted(self.timers.values(), key=lambda t: (t.deadline, t.id)))

    def reachable(self, a: str, b: str) -> bool:
        """No partition between ``a`` and ``b`` (clients are in no group)."""
        if not self.groups or a == b:
            return True
        ga = [g for g in self.groups if a in g]
        gb = [g for g in self.groups if b in g]
        return not ga or not gb or ga[0] is gb[0]

    def cut_off(self) -> tuple[int, ...]:
        """The messages a partition keeps from their destination."""
        return tuple(m.id for m in self.in_flight.values() if not self.reachable(m.src, m.dst))

    def default_decision(self) -> Decision | None:
        """The oldest deliverable message, else the earliest timer."""
        for m in self.in_flight.values():
            if self._deliverable(m):
                return Deliver(m.id)
        timers = [t for t in self.timers.values() if t.owner not in self.paused]
        return Fire(min(timers, key=lambda t: (t.deadline, t.id)).id) if timers else None

    # -- FaultInjectable --------------------------------------------------------------------

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Cut the network between the groups."""
        self.groups = tuple(frozenset(g) for g in groups)

    def heal(self) -> None:
        """Remove every partition."""
        self.groups = ()

    def crash(self, node: str) -> None:
        """Stop ``node`` (its state is durable; its timers are lost)."""
        self.crashed.add(node)
        self.timers = {i: t for i, t in self.timers.items() if t.owner != node}

    def restart(self, node: str) -> None:
        """Start ``node`` again; the primary resumes replicating."""
        self.crashed.discard(node)
        if node == PRIMARY:
            self._replicate()

    def pause(self, node: str) -> None:
        """Freeze ``node``."""
        self.paused.add(node)

    def resume(self, node: str) -> None:
        """Unfreeze ``node``."""
        self.paused.discard(node)

    def skew_clock(self, node: str, seconds: float) -> None:
        """Nothing here reads a node's clock: skew changes nothing."""

    def fork(self) -> Self:
        """An independent copy."""
        return copy.deepcopy(self)

    def close(self) -> None:
        """Nothing to release."""


def _strong_read(request: Request) -> bool:
    return isinstance(request, Get) and request.consistent


def make_store() -> PrimaryCopyStore:
    """The example store."""
    return PrimaryCopyStore()


def make_buggy_store() -> PrimaryCopyStore:
    """The example with its one-line bug: backups answer strong reads themselves."""
    return PrimaryCopyStore(stale_reads=True)
