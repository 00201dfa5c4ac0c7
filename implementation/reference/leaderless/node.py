"""A node of a leaderless (Dynamo paper) cluster: coordinator and replica in one.

Coordinator role. A node that receives a client ``request`` for a key it replicates
coordinates it (for a key it does not replicate it forwards the request to the key's
first replica), once: it logs durably each (client, request id) it takes, and a copy
of a request delivered again (a duplicate on the wire) is ignored. Every operation
has a deadline (``coordinator_timeout``); one that has not gathered its quorum by
then answers ``Indeterminate`` — a write may still have been stored on some
replicas.

- *Reads* (``Get``) merge the replies of ``r`` replicas (the coordinator's own state
  counts as one) and answer the merged state's item. With read repair, the
  coordinator keeps collecting until every replica answered (or the deadline) and
  sends the merged state to each replica that answered with something older or
  different (``repair``, no acknowledgement: asynchronous).
- *Writes* are stored locally first (durably), then sent to the other replicas;
  the client is answered after ``w`` acknowledgements (the local store counts). A
  plain ``Put`` is a blind write: under DVV its context is empty, so it becomes a
  sibling of every version already stored (Riak's semantics for a put without a
  causal context). Everything that needs the old item — a condition, an update
  expression, return values other than ``NONE``, and every DVV delete — first
  reads ``r`` replicas, evaluates the request with the item-store model on the
  merged item (``replicheck.models.items.operations.apply`` on a one-item view),
  and then writes the result with the read's causal context, superseding what it
  read. That read and write are NOT atomic: two conditional writes can both succeed.
  Its answer's metadata carries ``read``: the version metadata of the merged state
  it read (a read's, see ``versions``), so that a history shows what it was based on.
- *Sloppy quorum*: ``sloppy_after`` seconds into a phase, a write sends a copy to
  one fallback node (beyond the preference list, in ring order) for each replica
  that has not acknowledged, with a hint naming that replica; a read that lacks
  ``r`` replies asks the fallbacks too, which answer from their hinted data (an
  empty answer counts toward ``r``: a sloppy read can miss every recent write).

Replica role. A replica merges every state it receives into its own (``write``,
``repair``, ``handoff``, anti-entropy) and durably logs the result before
acknowledging. A fallback keeps hinted states apart from its own data, and every
``handoff_period`` seconds offers each to its intended owner; once the owner
acknowledges a hinted state, the fallback drops it (unless a newer hinted write for
the key arrived meanwhile).

LWW timestamps are the coordinator's own, skewed clock in microseconds, made
strictly increasing per node (never reused, even across crashes): a node whose clock
runs ahead makes its writes win over later ones — the weakness of last writer wins.

Crash and restart: everything but the durable log is lost on a crash (operations in
progress, syncs, the in-memory copy of the storage and hints); restart rebuilds the
storage, the hints and the timestamp high-water mark from the log and re-arms the
handoff timer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from replicheck.implementation.reference.base import Reply
from replicheck.implementation.reference.leaderless.antientropy import SyncEngine
from replicheck.implementation.reference.leaderless.config import Cluster
from replicheck.implementation.reference.leaderless.storage import (
    HintKey,
    KeyTuple,
    ReplicaStorage,
    replay,
)
from replicheck.implementation.reference.leaderless.validation import check_item_size
from replicheck.implementation.reference.leaderless.versions import State, frozen
from replicheck.implementation.reference.sim import Endpoint, Message, Timer
from replicheck.models.clocks import VectorClock
from replicheck.models.items.errors import Indeterminate, StoreError
from replicheck.models.items.operations import Database, apply, key_tuple
from replicheck.models.items.requests import Delete, Get, Put, Request, Response, Update
from replicheck.models.items.values import normalize_item
from replicheck.models.merkle import encode_key

OpId = tuple[int, int]
"""An operation's id at its coordinator: (incarnation, sequence number)."""


@dataclass
class Operation:
    """A client request being coordinated (volatile)."""

    id: OpId
    client: str
    rid: int
    request: Request
    table: str
    key: KeyTuple
    owners: tuple[str, ...]
    fallbacks: tuple[str, ...]
    context: VectorClock | None
    phase: str = "read"
    answered: bool = False
    replies: dict[str, State | None] = field(default_factory=dict)
    fallback_reads: bool = False
    acks: set[str] = field(default_factory=set)
    covered: set[str] = field(default_factory=set)
    hinted_to: dict[str, str] = field(default_factory=dict)
    write_state: State | None = None
    response: Response | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    timers: list[Timer] = field(default_factory=list)


def key_of(cluster: Cluster, request: Request) -> tuple[str, KeyTuple]:
    """The (table, key tuple) a single-item request addresses (ValidationError for a
    bad key)."""
    if isinstance(request, Put):
        schema = cluster.schema(request.table)
        return request.table, key_tuple(schema, normalize_item(request.item), what="Item",
                                         exact=False)
    if isinstance(request, Get | Update | Delete):
        return request.table, key_tuple(cluster.schema(request.table), request.key,
                                        what="Key")
    raise TypeError(f"not a single-item request: {type(request).__name__}")


def needs_read(cluster: Cluster, request: Request, context: VectorClock | None) -> bool:
    """True when the coordinator must read the old item before writing (see the
    module docstring)."""
    if isinstance(request, Get | Update):
        return True
    assert isinstance(request, Put | Delete)
    if request.condition is not None or request.return_values != "NONE":
        return True
    return (isinstance(request, Delete) and cluster.resolver.siblings_allowed
            and context is None)


def hint_order(hint: HintKey) -> tuple[str, str, bytes]:
    """A process-independent order of hinted keys."""
    owner, table, key = hint
    return owner, table, encode_key(key)


class LeaderlessNode(Endpoint):
    """One node: coordinator of the requests it receives, replica of its ring ranges,
    fallback holder of hints, and a party to anti-entropy syncs."""

    def __init__(self, id: str, cluster: Cluster) -> None:
        super().__init__(id)
        self.cluster = cluster
        self.storage = ReplicaStorage(cluster)
        self.hints: dict[HintKey, State] = {}
        self.ops: dict[OpId, Operation] = {}
        self.sync = SyncEngine(self)
        self.incarnation = 0
        self.sequence = 0
        self.last_timestamp: int | None = None
        self.taken: set[tuple[str, int]] = set()
        self.handoff_timer: Timer | None = None
        self.stats: dict[str, int] = {
            "coordinated": 0, "read_repairs": 0, "hinted_writes": 0, "handoffs": 0,
            "hints_dropped": 0}

    # -- storage, durably -----------------------------------------------------------------

    def absorb(self, table: str, key: KeyTuple, state: State) -> bool:
        """Merge ``state`` into this node's own state of ``key``, logging the result
        durably; True when it changed anything."""
        merged = self.storage.absorb(table, key, state)
        if merged is None:
            return False
        self.log(("store", table, key, merged))
        return True

    def absorb_hint(self, owner: str, table: str, key: KeyTuple, state: State) -> None:
        """Merge ``state`` into the hinted state held for ``owner``, durably, and make
        sure a handoff is scheduled."""
        hint = (owner, table, key)
        merged = self.cluster.resolver.merge(self.hints.get(hint), state)
        assert merged is not None
        if merged != self.hints.get(hint):
            self.hints[hint] = merged
            self.log(("hint", owner, table, key, merged))
        self._arm_handoff()

    def local_view(self, table: str, key: KeyTuple) -> State | None:
        """What this node can answer for ``key``: its own state merged with every
        hinted state it holds for the key."""
        state = self.storage.get(table, key)
        for (_owner, t, k), hinted in self.hints.items():
            if t == table and k == key:
                state = self.cluster.resolver.merge(state, hinted)
        return state

    # -- handlers ----------------------------------------------------------------------

    def on_message(self, message: Message) -> None:
        kind = message.kind
        body = message.body
        if kind == "request":
            rid, request, *rest = body
            self._coordinate(message.src, rid, request, rest[0] if rest else None)
        elif kind == "forward":
            client, rid, request, context = body
            self._coordinate(client, rid, request, context)
        elif kind == "write":
            op_id, table, key, state, hint_for = body
            if hint_for is None:
                self.absorb(table, key, state)
            else:
                self.stats["hinted_writes"] += 1
                self.absorb_hint(hint_for, table, key, state)
            self.send(message.src, "write-ack", (op_id, self.id, hint_for))
        elif kind == "write-ack":
            op_id, node, hint_for = body
            op = self.ops.get(op_id)
            if op is not None and op.phase == "write":
                op.acks.add(node)
                op.covered.add(hint_for or node)
                self._check_write(op)
        elif kind == "read":
            op_id, table, key = body
            self.send(message.src, "read-reply", (op_id, self.id, self.local_view(table, key)))
        elif kind == "read-reply":
            op_id, node, state = body
            op = self.ops.get(op_id)
            if op is not None and op.phase in ("read", "repair"):
                op.replies[node] = state
                self._check_read(op)
        elif kind == "repair":
            table, key, state = body
            self.absorb(table, key, state)
        elif kind == "handoff":
            owner, table, key, state = body
            self.absorb(table, key, state)
            self.send(message.src, "handoff-ack", (owner, table, key, state))
        elif kind == "handoff-ack":
            owner, table, key, state = body
            hint = (owner, table, key)
            if hint in self.hints and self.hints[hint] == state:
                del self.hints[hint]
                self.log(("unhint", owner, table, key))
                self.stats["hints_dropped"] += 1
                if not self.hints and self.handoff_timer is not None:
                    self.cancel_timer(self.handoff_timer)
                    self.handoff_timer = None
        else:
            self.sync.on_message(message)

    def on_timer(self, timer: Timer) -> None:
        name = timer.name
        if name == "handoff":
            self.handoff_timer = None
            for hint in sorted(self.hints, key=hint_order):
                owner, table, key = hint
                self.stats["handoffs"] += 1
                self.send(owner, "handoff", (owner, table, key, self.hints[hint]))
            self._arm_handoff()
            return
        if name in ("sloppy", "deadline"):
            op = self.ops.get(timer.payload)
            if op is None:
                return
            if name == "deadline":
                self._deadline(op)
            else:
                self._sloppy(op)
            return
        self.sync.on_timer(timer)

    def on_crash(self) -> None:
        self.ops.clear()
        self.sync.reset()
        self.storage = ReplicaStorage(self.cluster)
        self.hints = {}
        self.handoff_timer = None
        self.last_timestamp = None
        self.taken = set()

    def recover(self) -> None:
        recovered = replay(self.cluster, self.durable)
        self.storage = recovered.storage
        self.hints = recovered.hints
        self.last_timestamp = recovered.last_timestamp
        self.taken = recovered.taken
        self.incarnation = recovered.incarnation + 1
        self.log(("boot", self.incarnation))
        self._arm_handoff()

    # -- coordination ------------------------------------------------------------------

    def _coordinate(self, client: str, rid: int, request: Request,
                    context: VectorClock | None) -> None:
        cluster = self.cluster
        try:
            table, key = key_of(cluster, request)
        except StoreError as error:
            self.send(client, "reply", Reply(rid, error=error))
            return
        owners = cluster.ring.preference_list(key)
        if self.id not in owners:
            self.send(owners[0], "forward", (client, rid, request, context))
            return
        if (client, rid) in self.taken:
            return  # a copy of a request already taken: it is applied once
        self.taken.add((client, rid))
        self.log(("taken", client, rid))
        self.sequence += 1
        self.stats["coordinated"] += 1
        op = Operation((self.incarnation, self.sequence), client, rid, request, table, key,
                       owners, cluster.ring.fallbacks(key), context)
        self.ops[op.id] = op
        op.timers.append(self.set_timer(cluster.config.coordinator_timeout, "deadline", op.id))
        if needs_read(cluster, request, context):
            self._start_read(op)
        else:
            assert isinstance(request, Put | Delete)
            item = normalize_item(request.item) if isinstance(request, Put) else None
            self._start_write(op, frozen(item), context or VectorClock(), Response())

    def _answer(self, op: Operation, *, response: Response | None = None,
                error: StoreError | None = None, meta: dict[str, Any] | None = None) -> None:
        if op.answered:
            return
        op.answered = True
        self.send(op.client, "reply", Reply(op.rid, response, error, meta))

    def _finish(self, op: Operation) -> None:
        for timer in op.timers:
            self.cancel_timer(timer)
        self.ops.pop(op.id, None)

    # -- reads --------------------------------------------------------------------------

    def _start_read(self, op: Operation) -> None:
        config = self.cluster.config
        op.phase = "read"
        op.replies[self.id] = self.local_view(op.table, op.key)
        wants_all = config.r > 1 or (config.read_repair and isinstance(op.request, Get))
        if wants_all:
            for owner in op.owners:
                if owner != self.id:
                    self.send(owner, "read", (op.id, op.table, op.key))
        self._check_read(op)
        if op.id in self.ops and op.phase == "read" and config.sloppy_quorum:
            op.timers.append(self.set_timer(config.sloppy_after, "sloppy", op.id))

    def _check_read(self, op: Operation) -> None:
        config = self.cluster.config
        resolver = self.cluster.resolver
        if op.phase == "read" and len(op.replies) >= config.r:
            merged = resolver.merge_all(op.replies[n] for n in sorted(op.replies))
            if isinstance(op.request, Get):
                try:
                    _, response = apply(self._view(op, merged), op.request, self.now())
                except StoreError as error:
                    self._answer(op, error=error)
                    self._finish(op)
                    return
                self._answer(op, response=response, meta=resolver.read_meta(merged))
                op.phase = "repair"
            else:
                self._read_modify_write(op, merged)
                return
        if op.phase == "repair":
            if not self.cluster.config.read_repair:
                self._finish(op)
            elif all(owner in op.replies for owner in op.owners):
                self._read_repair(op)
                self._finish(op)

    def _view(self, op: Operation, merged: State | None) -> Database:
        schema = self.cluster.schema(op.table)
        old = self.cluster.resolver.chosen(merged)
        return Database({op.table: schema}, {op.table: {} if old is None else {op.key: old}})

    def _read_repair(self, op: Operation) -> None:
        resolver = self.cluster.resolver
        merged = resolver.merge_all(op.replies[n] for n in sorted(op.replies))
        if merged is None:
            return
        for node in op.owners:
            if node not in op.replies or op.replies[node] == merged:
                continue
            self.stats["read_repairs"] += 1
            if node == self.id:
                self.absorb(op.table, op.key, merged)
            else:
                self.send(node, "repair", (op.table, op.key, merged))

    def _read_modify_write(self, op: Operation, merged: State | None) -> None:
        try:
            db, response = apply(self._view(op, merged), op.request, self.now())
            new = db.tables[op.table].get(op.key)
            if new is not None:
                check_item_size(new)
        except StoreError as error:
            self._answer(op, error=error)
            self._finish(op)
            return
        context = op.context if op.context is not None else self.cluster.resolver.context(
            merged)
        self._start_write(op, frozen(new), context, response,
                          read=self.cluster.resolver.read_meta(merged))

    # -- writes -------------------------------------------------------------------------

    def timestamp(self) -> int:
        """A fresh last-writer-wins timestamp: this node's clock in microseconds,
        above every timestamp it gave out before (durably remembered)."""
        stamp = round(self.now() * 1_000_000)
        if self.last_timestamp is not None and stamp <= self.last_timestamp:
            stamp = self.last_timestamp + 1
        self.last_timestamp = stamp
        self.log(("ts", stamp))
        return stamp

    def _start_write(self, op: Operation, value: Any, context: VectorClock,
                     response: Response, read: dict[str, Any] | None = None) -> None:
        """Store ``value`` locally and send it to the other replicas; ``read`` is the
        version metadata of what a read-modify-write read first (the answer's
        ``meta["read"]``)."""
        config = self.cluster.config
        resolver = self.cluster.resolver
        op.phase = "write"
        op.response = response
        timestamp = self.timestamp() if not resolver.siblings_allowed else 0
        state, meta = resolver.write(self.storage.get(op.table, op.key), context, self.id,
                                     value, timestamp)
        self.absorb(op.table, op.key, state)
        op.write_state = state
        op.meta = meta if read is None else {**meta, "read": read}
        op.acks.add(self.id)
        op.covered.add(self.id)
        for owner in op.owners:
            if owner != self.id:
                self.send(owner, "write", (op.id, op.table, op.key, state, None))
        self._check_write(op)
        if op.id in self.ops and config.sloppy_quorum:
            op.timers.append(self.set_timer(config.sloppy_after, "sloppy", op.id))

    def _check_write(self, op: Operation) -> None:
        if len(op.acks) >= self.cluster.config.w:
            self._answer(op, response=op.response, meta=op.meta)
        if all(owner in op.covered for owner in op.owners):
            self._finish(op)

    # -- timers -------------------------------------------------------------------------

    def _sloppy(self, op: Operation) -> None:
        if op.phase == "write":
            missing = [o for o in op.owners if o not in op.covered]
            spare = [f for f in op.fallbacks if f not in op.hinted_to]
            for owner, fallback in zip(missing, spare, strict=False):
                op.hinted_to[fallback] = owner
                self.send(fallback, "write", (op.id, op.table, op.key, op.write_state, owner))
        elif op.phase == "read" and not op.fallback_reads:
            op.fallback_reads = True
            for fallback in op.fallbacks:
                self.send(fallback, "read", (op.id, op.table, op.key))

    def _deadline(self, op: Operation) -> None:
        if not op.answered:
            what = "write" if op.phase == "write" else "read"
            self._answer(op, error=Indeterminate(
                f"{self.id} gathered no {what} quorum for {op.key!r} within "
                f"{self.cluster.config.coordinator_timeout} s"))
        if op.phase == "repair" and self.cluster.config.read_repair:
            self._read_repair(op)
        self._finish(op)

    def _arm_handoff(self) -> None:
        if self.hints and self.handoff_timer is None:
            self.handoff_timer = self.set_timer(self.cluster.config.handoff_period, "handoff")
