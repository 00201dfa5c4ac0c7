"""The deterministic simulation every reference cluster runs on.

Nodes and clients are endpoints that exchange :class:`Message` values through one
:class:`Simulation`. Nothing happens by itself: every step is a :data:`Decision` that
the caller takes with :meth:`Simulation.decide` — deliver a message, drop it,
duplicate it, or fire a timer — and faults are explicit calls (partition, heal,
crash, restart, clock skew). There are no threads, no wall clock and no hidden
randomness, so the same decisions always give the same outcome.

Time is the simulation's global clock, in seconds. It moves when a timer fires (to
that timer's deadline), when a message is delivered (to at least its send time plus
``latency``, 0 by default) and when :meth:`Simulation.advance` is called. A node reads
its own clock, ``global time + skew``; timers are set in global time (a node's
timeouts measure elapsed time, which skew does not change).

A crashed node loses everything but what it wrote to its durable log; on restart it
is rebuilt from that log (:meth:`Endpoint.recover`). Messages to a crashed node are
lost when delivered; its timers are cancelled.

Decisions are listed by :meth:`Simulation.decisions` in a canonical order (messages
by id, then timers by deadline and id), and :meth:`Simulation.run` takes them by a
fixed, fair policy (oldest message first, else the earliest timer) — what
``execute()`` uses — or by a seeded choice for randomized schedules.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from replicheck.implementation.store import Decision, Deliver, Drop, Duplicate, Fire

__all__ = ["Decision", "Deliver", "Drop", "Duplicate", "Endpoint", "Fire", "Message",
           "Simulation", "Timer"]


@dataclass(frozen=True)
class Message:
    """A message in flight: unique ``id`` (in send order), ``src`` and ``dst``
    endpoint ids, a ``kind`` naming the protocol step and an immutable ``body``."""

    id: int
    src: str
    dst: str
    kind: str
    body: Any
    sent_at: float


@dataclass(frozen=True)
class Timer:
    """A timer set by endpoint ``owner``: fires ``name`` with ``payload`` at global
    time ``deadline``."""

    id: int
    owner: str
    name: str
    payload: Any
    deadline: float




class Endpoint:
    """A participant: a node or a client. Subclasses override the handlers.

    ``durable`` is the endpoint's durable log: what it appends there survives a
    crash; everything else is volatile."""

    def __init__(self, id: str) -> None:
        self.id = id
        self.sim: Simulation | None = None
        self.durable: list[Any] = []

    # -- called by subclasses -----------------------------------------------------------

    def send(self, dst: str, kind: str, body: Any = None) -> Message:
        """Put a message to ``dst`` in flight."""
        assert self.sim is not None, "endpoint is not attached to a simulation"
        return self.sim.send(self.id, dst, kind, body)

    def set_timer(self, after: float, name: str, payload: Any = None) -> Timer:
        """Fire ``name`` after ``after`` seconds of elapsed time."""
        assert self.sim is not None
        return self.sim.set_timer(self.id, after, name, payload)

    def cancel_timer(self, timer: Timer) -> None:
        """Forget a timer that has not fired."""
        assert self.sim is not None
        self.sim.cancel_timer(timer.id)

    def now(self) -> float:
        """This endpoint's clock: global time plus its skew."""
        assert self.sim is not None
        return self.sim.local_time(self.id)

    def log(self, entry: Any) -> None:
        """Append ``entry`` to the durable log (survives crashes)."""
        self.durable.append(entry)

    # -- handlers -----------------------------------------------------------------------

    def on_message(self, message: Message) -> None:
        """Handle a delivered message."""

    def on_timer(self, timer: Timer) -> None:
        """Handle a fired timer."""

    def on_crash(self) -> None:
        """Lose volatile state (called when the endpoint crashes)."""

    def recover(self) -> None:
        """Rebuild volatile state from ``self.durable`` (called on restart)."""


@dataclass
class Simulation:
    """The network, the timers, the clocks and the fault state of one cluster."""

    now: float = 0.0
    latency: float = 0.0
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    in_flight: dict[int, Message] = field(default_factory=dict)
    timers: dict[int, Timer] = field(default_factory=dict)
    skew: dict[str, float] = field(default_factory=dict)
    crashed: set[str] = field(default_factory=set)
    paused: set[str] = field(default_factory=set)
    groups: tuple[frozenset[str], ...] = ()
    next_id: int = 0
    trace: list[str] = field(default_factory=list)
    tracing: bool = False
    stats: dict[str, int] = field(default_factory=lambda: {
        "delivered": 0, "dropped": 0, "duplicated": 0, "fired": 0, "sent": 0})
    _reach: dict[tuple[str, str], bool] = field(default_factory=dict, repr=False,
                                                 compare=False)
    _reach_groups: tuple[frozenset[str], ...] = field(default=(), repr=False, compare=False)

    # -- membership ---------------------------------------------------------------------

    def attach(self, endpoint: Endpoint) -> Endpoint:
        """Add an endpoint (a node or a client) to the simulation."""
        if endpoint.id in self.endpoints:
            raise ValueError(f"endpoint {endpoint.id!r} is already attached")
        endpoint.sim = self
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _note(self, text: str) -> None:
        if self.tracing:
            self.trace.append(f"{self.now:.3f} {text}")

    # -- messages and timers ------------------------------------------------------------

    def send(self, src: str, dst: str, kind: str, body: Any) -> Message:
        """Put a message in flight (from a crashed endpoint: nothing is sent)."""
        message = Message(self._id(), src, dst, kind, body, self.now)
        if src in self.crashed:
            return message
        self.in_flight[message.id] = message
        self.stats["sent"] += 1
        return message

    def set_timer(self, owner: str, after: float, name: str, payload: Any) -> Timer:
        """Schedule a timer ``after`` seconds from now."""
        timer = Timer(self._id(), owner, name, payload, self.now + max(0.0, after))
        self.timers[timer.id] = timer
        return timer

    def cancel_timer(self, timer_id: int) -> None:
        """Forget a timer (no effect if it already fired)."""
        self.timers.pop(timer_id, None)

    def reachable(self, a: str, b: str) -> bool:
        """True when the network lets ``a`` talk to ``b`` (no partition between)."""
        if not self.groups or a == b:
            return True
        if self._reach_groups is not self.groups:  # remembered for these groups only
            self._reach, self._reach_groups = {}, self.groups
        found = self._reach.get((a, b))
        if found is None:
            found = any(a in g and b in g for g in self.groups) or not (
                any(a in g for g in self.groups) and any(b in g for g in self.groups))
            self._reach[(a, b)] = found
        return found

    def deliverable(self, message: Message) -> bool:
        """True when ``message`` may be delivered now: its ends can reach each other
        and its destination is not paused."""
        return message.dst not in self.paused and self.reachable(message.src, message.dst)

    def firable(self, timer: Timer) -> bool:
        """True when ``timer`` may fire now (its owner is not paused)."""
        return timer.owner not in self.paused

    def cut_off(self) -> tuple[int, ...]:
        """The ids of the messages in flight that the partition keeps from their
        destination, in flight order (a partition drops packets: a heal does not
        deliver them, so whoever heals drops these first)."""
        return tuple(m.id for m in self.in_flight.values() if not self.reachable(m.src, m.dst))

    def local_time(self, endpoint: str) -> float:
        """Endpoint ``endpoint``'s clock."""
        return self.now + self.skew.get(endpoint, 0.0)

    # -- decisions ----------------------------------------------------------------------

    def decisions(self) -> tuple[Decision, ...]:
        """What may happen next, canonically ordered: deliveries (messages whose ends
        can reach each other), drops and duplications of any message in flight, then
        timer firings by deadline."""
        deliver = [Deliver(m.id) for m in self.in_flight.values() if self.deliverable(m)]
        drop = [Drop(i) for i in self.in_flight]
        dup = [Duplicate(i) for i in self.in_flight]
        fire = [Fire(t.id) for t in sorted(self.timers.values(),
                                           key=lambda t: (t.deadline, t.id))
                if self.firable(t)]
        return (*deliver, *drop, *dup, *fire)

    def decide(self, decision: Decision) -> None:
        """Take one decision; ValueError if it is not available now."""
        if isinstance(decision, Deliver):
            message = self.in_flight.get(decision.message)
            if message is None or not self.deliverable(message):
                raise ValueError(f"cannot deliver message {decision.message}")
            del self.in_flight[message.id]
            self.now = max(self.now, message.sent_at + self.latency)
            self.stats["delivered"] += 1
            if message.dst in self.crashed or message.dst not in self.endpoints:
                self._note(f"lost {message.kind} {message.src}->{message.dst} (crashed)")
                return
            self._note(f"deliver {message.kind} {message.src}->{message.dst}")
            self.endpoints[message.dst].on_message(message)
        elif isinstance(decision, Drop):
            if self.in_flight.pop(decision.message, None) is None:
                raise ValueError(f"cannot drop message {decision.message}")
            self.stats["dropped"] += 1
            self._note(f"drop message {decision.message}")
        elif isinstance(decision, Duplicate):
            message = self.in_flight.get(decision.message)
            if message is None:
                raise ValueError(f"cannot duplicate message {decision.message}")
            copy = Message(self._id(), message.src, message.dst, message.kind, message.body,
                           message.sent_at)
            self.in_flight[copy.id] = copy
            self.stats["duplicated"] += 1
        elif isinstance(decision, Fire):
            timer = self.timers.get(decision.timer)
            if timer is None or not self.firable(timer):
                raise ValueError(f"cannot fire timer {decision.timer}")
            del self.timers[timer.id]
            self.now = max(self.now, timer.deadline)
            self.stats["fired"] += 1
            if timer.owner in self.crashed:
                return
            self._note(f"fire {timer.name} at {timer.owner}")
            self.endpoints[timer.owner].on_timer(timer)
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"not a decision: {decision!r}")

    def default_decision(self) -> Decision | None:
        """The fair policy: the oldest deliverable message, else the earliest timer,
        else nothing (the simulation is quiet)."""
        for message in self.in_flight.values():
            if self.deliverable(message):
                return Deliver(message.id)
        timers = [t for t in self.timers.values() if self.firable(t)]
        if timers:
            return Fire(min(timers, key=lambda t: (t.deadline, t.id)).id)
        return None

    def run(self, until: Callable[[], bool], *, max_steps: int = 100_000,
            rng: random.Random | None = None) -> int:
        """Take decisions until ``until()`` holds or nothing is left; returns the
        number taken. With ``rng``, each step is a seeded choice among deliveries
        and the earliest timer (no drops or duplicates); else the fair policy."""
        steps = 0
        while not until() and steps < max_steps:
            decision: Decision | None
            if rng is None:
                decision = self.default_decision()
            else:
                options: list[Decision] = [Deliver(m.id) for m in self.in_flight.values()
                                           if self.deliverable(m)]
                timers = [t for t in self.timers.values() if self.firable(t)]
                if timers:
                    options.append(Fire(min(timers, key=lambda t: (t.deadline, t.id)).id))
                decision = rng.choice(options) if options else None
            if decision is None:
                break
            self.decide(decision)
            steps += 1
        return steps

    def quiesce(self, *, max_steps: int = 100_000) -> int:
        """Deliver every deliverable message (fair policy, no timers); returns the
        number of deliveries."""
        steps = 0
        while steps < max_steps:
            message = next((m for m in self.in_flight.values() if self.deliverable(m)), None)
            if message is None:
                break
            self.decide(Deliver(message.id))
            steps += 1
        return steps

    def advance(self, seconds: float) -> None:
        """Move global time forward by ``seconds`` without firing timers (they fire
        when decided, at or after their deadline)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.now += seconds

    # -- faults -------------------------------------------------------------------------

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Split the network: two endpoints reach each other when some group holds
        both (groups may overlap: a ring, a bridge; reachability is then not
        transitive); endpoints in no group (clients) reach everyone."""
        self.groups = tuple(frozenset(g) for g in groups)
        self._note(f"partition {[sorted(g) for g in self.groups]}")

    def heal(self) -> None:
        """Remove every partition."""
        self.groups = ()
        self._note("heal")

    def crash(self, endpoint: str) -> None:
        """Crash an endpoint: volatile state lost, its timers cancelled."""
        if endpoint not in self.endpoints:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        if endpoint in self.crashed:
            return
        self.crashed.add(endpoint)
        for timer_id in [t.id for t in self.timers.values() if t.owner == endpoint]:
            del self.timers[timer_id]
        self.endpoints[endpoint].on_crash()
        self._note(f"crash {endpoint}")

    def restart(self, endpoint: str) -> None:
        """Restart a crashed endpoint from its durable log."""
        if endpoint not in self.crashed:
            return
        self.crashed.discard(endpoint)
        self.endpoints[endpoint].recover()
        self._note(f"restart {endpoint}")

    def pause(self, endpoint: str) -> None:
        """Freeze an endpoint: it keeps its state, nothing is delivered to it and its
        timers do not fire until :meth:`resume` (its messages wait in flight)."""
        if endpoint not in self.endpoints:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        self.paused.add(endpoint)
        self._note(f"pause {endpoint}")

    def resume(self, endpoint: str) -> None:
        """Unfreeze a paused endpoint."""
        if endpoint in self.paused:
            self.paused.discard(endpoint)
            self._note(f"resume {endpoint}")

    def skew_clock(self, endpoint: str, seconds: float) -> None:
        """Set endpoint's clock offset from global time."""
        self.skew[endpoint] = seconds
