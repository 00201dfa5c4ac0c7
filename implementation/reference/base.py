"""What every simulated cluster shares: clients as state machines, the synchronous
``execute``, the schedulable interface, and fault injection.

A :class:`SimulatedStore` owns one :class:`~replicheck.implementation.reference.sim.Simulation`
with its nodes (added by the subclass) and a set of :class:`ClientEndpoint` clients.
A request travels as a ``request`` message from the client to the coordinator the
subclass picks; the coordinator answers with a ``reply`` message; a client that hears
nothing within ``client_timeout`` seconds of simulated time completes the operation
as indeterminate.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Mapping
from typing import Any, Self

from replicheck.implementation.reference.sim import (
    Decision,
    Endpoint,
    Message,
    Simulation,
    Timer,
)
from replicheck.implementation.store import (
    Descriptor,
    Handle,
    KeyRange,
    MessageInfo,
    TimerInfo,
)
from replicheck.models.items.errors import Indeterminate, StoreError, ValidationError
from replicheck.models.items.requests import Request, Response, TransactGet, TransactWrite

CLIENT_TIMEOUT = 1.0
"""Seconds of simulated time a client waits for a reply before giving up."""


class Reply:
    """The body of a ``reply`` message: the request id and either a response or a
    definite error."""

    __slots__ = ("error", "meta", "request_id", "response")

    def __init__(self, request_id: int, response: Response | None = None,
                 error: StoreError | None = None, meta: dict[str, Any] | None = None) -> None:
        self.request_id = request_id
        self.response = response
        self.error = error
        self.meta = meta or {}


class ClientEndpoint(Endpoint):
    """A client: sends each request to a coordinator and completes its handle when
    the reply arrives, or as indeterminate when its timer fires first."""

    def __init__(self, id: str, timeout: float = CLIENT_TIMEOUT) -> None:
        super().__init__(id)
        self.timeout = timeout
        self.pending: dict[int, tuple[Handle, Timer]] = {}
        self.next_request = 0

    def submit(self, handle: Handle, coordinator: str) -> None:
        """Send ``handle.request`` to ``coordinator``."""
        self.next_request += 1
        rid = self.next_request
        self.send(coordinator, "request", (rid, handle.request))
        timer = self.set_timer(self.timeout, "timeout", rid)
        self.pending[rid] = (handle, timer)
        handle.meta["coordinator"] = coordinator

    def on_message(self, message: Message) -> None:
        if message.kind != "reply":
            return
        reply: Reply = message.body
        entry = self.pending.pop(reply.request_id, None)
        if entry is None:
            return  # a late or duplicated reply: the operation already completed
        handle, timer = entry
        self.cancel_timer(timer)
        handle.meta.update(reply.meta)
        if reply.error is not None:
            handle.error = reply.error
            handle.status = "error" if reply.error.definite else "indeterminate"
        else:
            handle.response = reply.response
            handle.status = "ok"

    def on_timer(self, timer: Timer) -> None:
        entry = self.pending.pop(timer.payload, None)
        if entry is None:
            return
        handle, _ = entry
        handle.status = "indeterminate"
        handle.error = Indeterminate(
            f"no reply from {handle.meta.get('coordinator')} within {self.timeout} s")

    def on_crash(self) -> None:
        self.pending.clear()


class SimulatedStore:
    """Base of the reference stores. Subclasses attach their nodes to ``self.sim``,
    set ``self._descriptor``, and implement :meth:`coordinator`."""

    def __init__(self, *, seed: int = 0, client_timeout: float = CLIENT_TIMEOUT) -> None:
        self.sim = Simulation()
        self.seed = seed
        self.client_timeout = client_timeout
        self.clients: dict[str, ClientEndpoint] = {}
        self.nodes: tuple[str, ...] = ()
        self._descriptor: Descriptor | None = None

    # -- the subclass's part ------------------------------------------------------------

    def coordinator(self, client: str, request: Request) -> str:
        """The endpoint ``client`` sends ``request`` to."""
        raise NotImplementedError

    # -- Store ----------------------------------------------------------------------------

    @property
    def descriptor(self) -> Descriptor:
        """What this cluster can do and promises."""
        assert self._descriptor is not None
        return self._descriptor

    def client(self, name: str) -> ClientEndpoint:
        """The client endpoint ``name``, attached on first use."""
        found = self.clients.get(name)
        if found is None:
            found = ClientEndpoint(name, self.client_timeout)
            self.sim.attach(found)
            self.clients[name] = found
        return found

    def validate(self, request: Request) -> None:
        """Reject bad input before anything travels (ValidationError); subclasses
        extend it. The default checks the table exists."""
        if isinstance(request, TransactWrite):
            tables = [a.table for a in request.actions]
        elif isinstance(request, TransactGet):
            tables = [g.table for g in request.gets]
        else:
            tables = [request.table]
        for table in tables:
            self.descriptor.table(table)

    def submit(self, client: str, request: Request) -> Handle:
        """Start ``request`` for ``client``; it completes as decisions are taken.
        Bad input completes at once with a ValidationError, nothing sent."""
        handle = Handle(client, request)
        try:
            self.validate(request)
        except ValidationError as error:
            handle.status, handle.error = "error", error
            return handle
        endpoint = self.client(client)
        endpoint.submit(handle, self.coordinator(client, request))
        return handle

    def decisions(self) -> tuple[Decision, ...]:
        """What may happen next (see ``Simulation.decisions``)."""
        return self.sim.decisions()

    def decide(self, decision: Decision) -> None:
        """Take one decision."""
        self.sim.decide(decision)

    def submit_at(self, client: str, request: Request, node: str,
                  context: Mapping[str, int] | None = None) -> Handle:
        """Start ``request`` for ``client`` with ``node`` as its coordinator (direct
        routing); bad input completes at once with a ValidationError, nothing sent.
        A causal ``context`` is refused (ValidationError) unless the subclass keeps
        versions."""
        self._known(node)
        handle = Handle(client, request)
        try:
            if context is not None:
                raise ValidationError(f"{self.descriptor.name} takes no causal context",
                                      what="Context")
            self.validate(request)
        except ValidationError as error:
            handle.status, handle.error = "error", error
            return handle
        self.client(client).submit(handle, node)
        return handle

    def run_until_done(self, handle: Handle, *, rng: random.Random | None = None) -> None:
        """Take decisions (fair policy, or seeded with ``rng``) until ``handle``
        completes."""
        self.sim.run(lambda: handle.done, rng=rng)
        if not handle.done:  # nothing left to happen: the client's timer was lost
            handle.status = "indeterminate"
            handle.error = Indeterminate("the simulation went quiet before a reply")

    def execute(self, request: Request) -> Response:
        """Run ``request`` to completion on the default client and answer as the
        Store contract says (a response, or one typed error)."""
        handle = self.submit("client-0", request)
        self.run_until_done(handle)
        if handle.status == "ok":
            assert handle.response is not None
            return handle.response
        assert handle.error is not None
        raise handle.error

    def close(self) -> None:
        """Nothing to release: the simulation lives in memory."""

    def fork(self) -> Self:
        """An independent copy of the whole cluster (simulation, nodes, clients)."""
        return copy.deepcopy(self)

    # -- topology (the subclass adds the key-range layout) ------------------------------

    def key_ranges(self, table: str) -> tuple[KeyRange, ...]:
        """Every key range of ``table`` with its replicas (the subclass's layout)."""
        raise NotImplementedError

    def range_of(self, table: str, key: tuple[Any, ...]) -> str:
        """The name of the range of ``table`` holding key tuple ``key``."""
        raise NotImplementedError

    # -- time and message control ---------------------------------------------------------

    def now(self) -> float:
        """Global simulated time, in seconds."""
        return self.sim.now

    def advance(self, seconds: float) -> None:
        """Move global time forward without firing timers (ValueError when negative)."""
        self.sim.advance(seconds)

    def run_for(self, seconds: float, *, max_steps: int = 1_000_000) -> int:
        """Take fair decisions until ``seconds`` of simulated time have passed (or
        nothing is left to do); the number taken."""
        end = self.sim.now + seconds
        return self.sim.run(lambda: self.sim.now >= end, max_steps=max_steps)

    def quiesce(self) -> int:
        """Deliver every deliverable message (fair policy, no timers); the number
        delivered."""
        return self.sim.quiesce()

    def messages_in_flight(self) -> tuple[MessageInfo, ...]:
        """Every message in flight, oldest first, as plain values."""
        return tuple(MessageInfo(m.id, m.src, m.dst, m.kind, m.sent_at)
                     for m in self.sim.in_flight.values())

    def pending_timers(self) -> tuple[TimerInfo, ...]:
        """Every pending timer, by deadline then id, as plain values."""
        return tuple(TimerInfo(t.id, t.owner, t.name, t.deadline)
                     for t in sorted(self.sim.timers.values(), key=lambda t: (t.deadline, t.id)))

    def reachable(self, a: str, b: str) -> bool:
        """True when no partition stands between ``a`` and ``b``."""
        return self.sim.reachable(a, b)

    def cut_off(self) -> tuple[int, ...]:
        """The messages in flight a partition keeps from their destination."""
        return self.sim.cut_off()

    def default_decision(self) -> Decision | None:
        """The fair policy's next decision (None when the simulation is quiet)."""
        return self.sim.default_decision()

    # -- faults ---------------------------------------------------------------------------

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Split the nodes into groups that cannot reach each other."""
        self.sim.partition(groups)

    def heal(self) -> None:
        """Remove every partition."""
        self.sim.heal()

    def crash(self, node: str) -> None:
        """Crash ``node``."""
        self._known(node)
        self.sim.crash(node)

    def restart(self, node: str) -> None:
        """Restart ``node`` from its durable log."""
        self._known(node)
        self.sim.restart(node)

    def skew_clock(self, node: str, seconds: float) -> None:
        """Offset ``node``'s clock."""
        self._known(node)
        self.sim.skew_clock(node, seconds)

    def pause(self, node: str) -> None:
        """Freeze ``node``: it keeps its state; nothing reaches it, no timer of its fires."""
        self._known(node)
        self.sim.pause(node)

    def resume(self, node: str) -> None:
        """Unfreeze a paused ``node``."""
        self._known(node)
        self.sim.resume(node)

    def _known(self, node: str) -> None:
        if node not in self.nodes:
            raise ValueError(f"unknown node {node!r}; nodes: {', '.join(self.nodes)}")
