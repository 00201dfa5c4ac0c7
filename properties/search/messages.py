"""Message faults aimed at one message: hold it back while everything else flows.

The scheduled machines' own rules take one decision at a time (any delivery, drop,
duplication or timer) or run the fair policy; none of them keeps one chosen message
back while the rest of the cluster moves on, so a message that arrives after dozens
of newer ones (a stale replication batch, a vote from an old term, an ack for a write
long answered) is rare. The classes here aim at one message:

``hold-message``
    choose one message in flight (by kind, then by index among that kind's
    messages; protocol messages between nodes are favoured over a client's request
    and reply), take fair decisions for every other message and timer for a drawn
    number of steps, then deliver it late, deliver it twice (a copy delivered later
    still) or drop it;
``duplicate-request``
    a client's request is duplicated on the wire, so its coordinator receives it
    twice: the copy arrives right behind the original, or late, after the first
    copy's answer reached the client (and, when drawn, after the coordinator
    crashed and restarted: only what it kept durably tells it the copy is no new
    request); then a read of the item it touched;
``late-reply``
    the coordinator's reply to a client is held until the client's timeout fired
    (the client saw an indeterminate answer), then delivered; then a read of the
    item the request touched.

Every decision goes through the machine's recording (``self.rec.decide``), so each
is a step of the example's replayable schedule. A client's request and reply are
recognised by their ends alone (a message from the client endpoint, a message to
it), whatever kind the store names them, so any store with ``message-control``
(:class:`~replicheck.implementation.store.MessageControl`) is driven the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from replicheck.implementation.store import Deliver, Drop, Duplicate, Fire, MessageInfo
from replicheck.models.items.requests import (
    Get,
    Put,
    Request,
    TransactWrite,
    WriteAction,
)
from replicheck.properties import strategies
from replicheck.properties.schedule import fair_decision
from replicheck.properties.search.driver import Surface

__all__ = [
    "CLASSES",
    "CLIENTS",
    "DUPLICATE_REQUEST",
    "ENDINGS",
    "GAP_STEPS",
    "HOLD_MESSAGE",
    "HOLD_STEPS",
    "LATE_REPLY",
    "TIMEOUT_DECISIONS",
    "choose_message",
    "fair_except",
    "message_rules",
    "touched_key",
]

HOLD_MESSAGE: Final = "hold-message"
DUPLICATE_REQUEST: Final = "duplicate-request"
LATE_REPLY: Final = "late-reply"

CLASSES: Final[tuple[str, ...]] = (HOLD_MESSAGE, DUPLICATE_REQUEST, LATE_REPLY)
"""The rule classes of this module."""

CLIENTS: Final = ("c0", "c1", "c2")
"""The clients these rules submit for (the scheduled machines' clients)."""

ENDINGS: Final = ("deliver", "duplicate", "drop")
"""How a held message ends: delivered late, delivered twice (the copy later still),
or lost."""

HOLD_STEPS: Final = 200
"""The most fair decisions taken for the other messages and timers while one message
is held (``hold-message``)."""

GAP_STEPS: Final = 20
"""The most fair decisions taken between a message's two deliveries (a duplicate's
copy held after the original arrived), or after a client's operation completed and
before its late request copy or reply arrives."""

TIMEOUT_DECISIONS: Final = 5_000
"""The most fair decisions taken while a reply (or a request's copy) is held,
waiting for the client's operation to complete (its reply arriving, or its
timeout firing)."""

RUN_DECISIONS: Final = 500
"""The most fair decisions taken to run a request to completion, or until its
coordinator's reply is in flight (``late-reply``)."""


def fair_except(driver: Any, held: Collection[int], steps: int,
                done: Callable[[], bool] | None = None) -> int:
    """Up to ``steps`` fair decisions on the machine ``driver`` (a
    :class:`~replicheck.properties.search.driver.Driver`), never delivering a
    message of ``held``: the oldest deliverable message not held, else the earliest
    timer. Stops early when ``done()`` holds or nothing but the held messages can
    happen. Every decision is taken through ``driver.rec`` (a schedule step).
    Returns how many were taken."""
    taken = 0
    while taken < steps and not (done is not None and done()):
        decision = fair_decision(driver.rec)
        if isinstance(decision, Deliver) and decision.message in held:
            decision = next((d for d in driver.rec.decisions()
                             if (isinstance(d, Deliver) and d.message not in held)
                             or isinstance(d, Fire)), None)
        if decision is None:
            break
        driver.rec.decide(decision)
        taken += 1
    return taken


def choose_message(messages: Sequence[MessageInfo], nodes: Collection[str], *,
                   protocol: bool, kind_index: int, index: int) -> MessageInfo | None:
    """One message of ``messages`` (the deliverable ones in flight): with
    ``protocol``, among those between two of ``nodes`` when there are any, else
    among all; the kind number ``kind_index`` (modulo, kinds sorted by name, so a
    rare kind is as likely as a common one), then that kind's message number
    ``index`` (modulo, ordered by source, destination and age). None when
    ``messages`` is empty."""
    between = [m for m in messages if m.src in nodes and m.dst in nodes]
    pool = between if protocol and between else list(messages)
    if not pool:
        return None
    kinds = sorted({m.kind for m in pool})
    kind = kinds[kind_index % len(kinds)]
    of_kind = sorted((m for m in pool if m.kind == kind), key=lambda m: (m.src, m.dst, m.id))
    return of_kind[index % len(of_kind)]


def touched_key(request: Request | WriteAction, pk: str) -> object | None:
    """The partition-key value of the item ``request`` touches (a transaction's
    first action's); None when it names none."""
    if isinstance(request, TransactWrite):
        return touched_key(request.actions[0], pk) if request.actions else None
    if isinstance(request, Put):
        return request.item.get(pk)
    key = getattr(request, "key", None)
    return key.get(pk) if isinstance(key, Mapping) else None


def _writes(surface: Surface) -> st.SearchStrategy[Request]:
    """The writes a duplicated or late request carries: increments (a second apply
    shows in the count) as often as every other single-item write, and
    transactions when the store has them."""
    table, pk = surface.table, surface.pk
    increments = strategies.keys().map(lambda key: strategies.increment(table, pk, key))
    others: st.SearchStrategy[Request] = st.one_of(
        strategies.puts(table, pk), strategies.updates(table, pk),
        strategies.deletes(table, pk))
    if surface.transactions:
        others = st.one_of(others, strategies.transact_writes(table, pk))
    return st.one_of(increments, others)


def in_flight(driver: Any) -> tuple[MessageInfo, ...]:
    """The messages in flight on ``driver``'s store."""
    return tuple(driver.raw.messages_in_flight())


def newest(driver: Any, wanted: Callable[[MessageInfo], bool]) -> MessageInfo | None:
    """The newest message in flight that is ``wanted``; None when there is none."""
    found = [m for m in in_flight(driver) if wanted(m)]
    chosen: MessageInfo | None = max(found, key=lambda m: m.id, default=None)
    return chosen


def deliver(driver: Any, message: int) -> bool:
    """Deliver ``message`` if it can be delivered now (not cut off by a partition, its
    destination not paused); whether it was."""
    if Deliver(message) not in driver.rec.decisions():
        return False
    driver.rec.decide(Deliver(message))
    return True


def duplicate(driver: Any, message: MessageInfo) -> MessageInfo | None:
    """Put a copy of ``message`` in flight; the copy."""
    before = {m.id for m in in_flight(driver)}
    driver.rec.decide(Duplicate(message.id))
    return newest(driver, lambda m: m.id not in before and (m.src, m.dst, m.kind)
                  == (message.src, message.dst, message.kind))


def run_to_answer(driver: Any, handle: Any, limit: int = RUN_DECISIONS) -> None:
    """Fair decisions until ``handle``'s operation completed (at most ``limit``)."""
    taken = 0
    while not handle.done and taken < limit and driver.fair(1):
        taken += 1


def read_back(driver: Any, surface: Surface, client: str, request: Request) -> None:
    """Read the item ``request`` touched (strongly where the store can), run to its
    answer."""
    key = touched_key(request, surface.pk)
    reader = driver.idle(client)
    if key is None or reader is None:
        return
    driver.run_request(reader, Get(surface.table, {surface.pk: key},
                                   consistent=surface.strong))


def restart_coordinator(driver: Any, surface: Surface, copy: MessageInfo,
                        request: Request) -> bool:
    """Crash and restart the node that takes ``copy`` (its destination when that is
    a node, else the touched item's leader or first replica), unless a node is down
    or paused already: a copy arriving afterwards meets a coordinator that knows only
    what it kept durably. Whether it restarted one."""
    key = touched_key(request, surface.pk)
    node = copy.dst if copy.dst in surface.nodes else (
        None if key is None else driver.replica(key, 0))
    if node is None or driver.crashed or driver.paused:
        return False
    driver.raw.crash(node)
    driver.raw.restart(node)
    return True


def redeliver(driver: Any, surface: Surface, client: str, request: Request, *,
              late: bool, gap: int, restart: bool) -> bool:
    """The ``duplicate-request`` fault on the machine ``driver``: submit ``request``
    for ``client`` (when idle), duplicate it on the wire; the copy follows the
    original under the fair policy, or (``late``) is held until the client's
    operation completed and ``gap`` fair decisions more, and (``restart``, on a
    store with faults) the request's coordinator crashes and restarts
    (:func:`restart_coordinator`) before the copy arrives; then the operation runs
    to its answer and the item it touched is read. Whether the request was sent
    and duplicated."""
    idle = driver.idle(client)
    if idle is None:
        return False
    before = {m.id for m in in_flight(driver)}
    handle = driver.rec.submit(idle, request)
    driver.handles[idle] = handle
    sent = newest(driver, lambda m: m.src == idle and m.id not in before)
    if sent is None:
        return False  # refused before anything was sent
    copy = duplicate(driver, sent)
    if copy is None:
        return False
    if late:
        fair_except(driver, {copy.id}, TIMEOUT_DECISIONS, lambda: handle.done)
        fair_except(driver, {copy.id}, gap)
        if restart and surface.faults:
            restart_coordinator(driver, surface, copy, request)
        deliver(driver, copy.id)
    run_to_answer(driver, handle)
    read_back(driver, surface, idle, request)
    return True


def message_rules(surface: Surface) -> type:
    """The rules of :data:`CLASSES` for a store with ``surface`` (they act only on
    a store with ``message-control``)."""
    table, pk = surface.table, surface.pk
    nodes = frozenset(surface.nodes)
    messages = surface.messages
    requests = strategies.requests(table, pk, transactions=surface.transactions)
    writes = _writes(surface)

    class MessageFaults:
        """Faults aimed at one message (module docstring)."""

        # -- hold-message ------------------------------------------------------------

        @precondition(lambda self: self.swarm_on(HOLD_MESSAGE) and messages)
        @rule(client=st.sampled_from(CLIENTS), request=requests,
              lead=st.integers(0, 8), protocol=st.integers(0, 3),
              kind_index=st.integers(0, 255), index=st.integers(0, 255),
              hold=st.integers(1, HOLD_STEPS), ending=st.sampled_from(ENDINGS),
              gap=st.integers(0, GAP_STEPS))
        def hold_message(self: Any, client: str, request: Request, lead: int,
                         protocol: int, kind_index: int, index: int, hold: int,
                         ending: str, gap: int) -> None:
            """Submit ``request`` (when ``client`` or another is idle: the traffic
            to hold a message of), take ``lead`` fair decisions, choose one
            deliverable message (a protocol message three times in four), hold it
            for ``hold`` fair decisions of everything else, then end it as
            ``ending`` says (a duplicate's copy is held ``gap`` decisions more)."""
            idle = self.idle(client)
            if idle is not None:
                self.handles[idle] = self.rec.submit(idle, request)
            self.fair(lead)
            cut = set(self.raw.cut_off())
            deliverable = [m for m in in_flight(self)
                           if m.id not in cut and m.dst not in self.paused]
            chosen = choose_message(deliverable, nodes, protocol=protocol > 0,
                                    kind_index=kind_index, index=index)
            if chosen is None:
                return
            fair_except(self, {chosen.id}, hold)
            if ending == "drop":
                self.rec.decide(Drop(chosen.id))
            elif ending == "deliver":
                deliver(self, chosen.id)
            else:
                copy = duplicate(self, chosen)
                deliver(self, chosen.id)
                if copy is not None:
                    fair_except(self, {copy.id}, gap)
                    deliver(self, copy.id)
            self.mark(HOLD_MESSAGE)

        # -- duplicate-request ---------------------------------------------------------

        @precondition(lambda self: self.swarm_on(DUPLICATE_REQUEST) and messages)
        @rule(client=st.sampled_from(CLIENTS), request=writes, late=st.booleans(),
              gap=st.integers(0, GAP_STEPS), restart=st.booleans())
        def duplicate_request(self: Any, client: str, request: Request, late: bool,
                              gap: int, restart: bool = False) -> None:
            """Duplicate ``request`` on the wire (:func:`redeliver`)."""
            if redeliver(self, surface, client, request, late=late, gap=gap,
                         restart=restart):
                self.mark(DUPLICATE_REQUEST)

        # -- late-reply ----------------------------------------------------------------

        @precondition(lambda self: self.swarm_on(LATE_REPLY) and messages)
        @rule(client=st.sampled_from(CLIENTS), request=writes, gap=st.integers(0, GAP_STEPS))
        def late_reply(self: Any, client: str, request: Request, gap: int) -> None:
            """Submit ``request``; once its coordinator's reply is in flight, hold
            it until the client's timeout fired (the client saw an indeterminate
            answer) and ``gap`` fair decisions more, then deliver it; then read
            the item the request touched."""
            idle = self.idle(client)
            if idle is None:
                return
            before = {m.id for m in in_flight(self)}
            handle = self.rec.submit(idle, request)
            self.handles[idle] = handle

            def answer(m: MessageInfo) -> bool:
                return m.dst == idle and m.id not in before

            reply = newest(self, answer)
            taken = 0
            while reply is None and not handle.done and taken < RUN_DECISIONS \
                    and self.fair(1):
                taken += 1
                reply = newest(self, answer)
            if reply is None:
                return  # answered at once (bad input), or never answered in time
            fair_except(self, {reply.id}, TIMEOUT_DECISIONS, lambda: handle.done)
            fair_except(self, {reply.id}, gap)
            deliver(self, reply.id)
            read_back(self, surface, idle, request)
            self.mark(LATE_REPLY)

    return MessageFaults

