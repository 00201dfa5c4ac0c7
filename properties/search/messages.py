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
    copy's answer reached the client; then a read of the item it touched;
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
from decimal import Decimal
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from replicheck.implementation.store import Deliver, Drop, Duplicate, Fire, MessageInfo
from replicheck.models.items.requests import (
    Get,
    Put,
    Request,
    TransactWrite,
    Update,
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


def _increment(table: str, pk: str, key: str) -> Update:
    """Add one to the item's ``n`` (created at 1): applied twice, it shows."""
    return Update(table, {pk: key}, "SET n = if_not_exists(n, :zero) + :one",
                  values={":zero": Decimal(0), ":one": Decimal(1)})


def _writes(surface: Surface) -> st.SearchStrategy[Request]:
    """The writes a duplicated or late request carries: increments (a second apply
    shows in the count) as often as every other single-item write, and
    transactions when the store has them."""
    table, pk = surface.table, surface.pk
    increments = strategies.keys().map(lambda key: _increment(table, pk, key))
    others: st.SearchStrategy[Request] = st.one_of(
        strategies.puts(table, pk), strategies.updates(table, pk),
        strategies.deletes(table, pk))
    if surface.transactions:
        others = st.one_of(others, strategies.transact_writes(table, pk))
    return st.one_of(increments, others)


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

        # -- helpers (this mixin's own; they use only the Driver surface) -----------

        def _deliverable(self: Any, message: int) -> bool:
            return Deliver(message) in self.rec.decisions()

        def _in_flight(self: Any) -> tuple[MessageInfo, ...]:
            return tuple(self.raw.messages_in_flight())

        def _newest(self: Any, wanted: Callable[[MessageInfo], bool]) -> MessageInfo | None:
            found = [m for m in self._in_flight() if wanted(m)]
            newest: MessageInfo | None = max(found, key=lambda m: m.id, default=None)
            return newest

        def _deliver(self: Any, message: int) -> bool:
            if not self._deliverable(message):
                return False  # cut off by a partition (a heal drops it) or paused
            self.rec.decide(Deliver(message))
            return True

        def _duplicate(self: Any, message: MessageInfo) -> MessageInfo | None:
            """Put a copy of ``message`` in flight; the copy."""
            before = {m.id for m in self._in_flight()}
            self.rec.decide(Duplicate(message.id))
            copy: MessageInfo | None = self._newest(
                lambda m: m.id not in before and (m.src, m.dst, m.kind)
                == (message.src, message.dst, message.kind))
            return copy

        def _read_back(self: Any, client: str, request: Request) -> None:
            """Read the item ``request`` touched (strongly where the store can)."""
            key = touched_key(request, pk)
            reader = self.idle(client)
            if key is None or reader is None:
                return
            self.run_request(reader, Get(table, {pk: key}, consistent=surface.strong))

        def _run(self: Any, handle: Any, limit: int = RUN_DECISIONS) -> None:
            taken = 0
            while not handle.done and taken < limit and self.fair(1):
                taken += 1

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
            deliverable = [m for m in self._in_flight()
                           if m.id not in cut and m.dst not in self.paused]
            chosen = choose_message(deliverable, nodes, protocol=protocol > 0,
                                    kind_index=kind_index, index=index)
            if chosen is None:
                return
            fair_except(self, {chosen.id}, hold)
            if ending == "drop":
                self.rec.decide(Drop(chosen.id))
            elif ending == "deliver":
                self._deliver(chosen.id)
            else:
                copy = self._duplicate(chosen)
                self._deliver(chosen.id)
                if copy is not None:
                    fair_except(self, {copy.id}, gap)
                    self._deliver(copy.id)
            self.mark(HOLD_MESSAGE)

        # -- duplicate-request ---------------------------------------------------------

        @precondition(lambda self: self.swarm_on(DUPLICATE_REQUEST) and messages)
        @rule(client=st.sampled_from(CLIENTS), request=writes, late=st.booleans(),
              gap=st.integers(0, GAP_STEPS))
        def duplicate_request(self: Any, client: str, request: Request, late: bool,
                              gap: int) -> None:
            """Submit ``request``, duplicate it on the wire; the copy follows the
            original under the fair policy, or (``late``) is held until the
            client's operation completed and ``gap`` fair decisions more; then
            the operation runs to completion and the item it touched is read."""
            idle = self.idle(client)
            if idle is None:
                return
            before = {m.id for m in self._in_flight()}
            handle = self.rec.submit(idle, request)
            self.handles[idle] = handle
            sent = self._newest(lambda m: m.src == idle and m.id not in before)
            if sent is None:
                return  # refused before anything was sent
            copy = self._duplicate(sent)
            if copy is None:
                return
            if late:
                fair_except(self, {copy.id}, TIMEOUT_DECISIONS, lambda: handle.done)
                fair_except(self, {copy.id}, gap)
                self._deliver(copy.id)
            self._run(handle)
            self._read_back(idle, request)
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
            before = {m.id for m in self._in_flight()}
            handle = self.rec.submit(idle, request)
            self.handles[idle] = handle

            def answer(m: MessageInfo) -> bool:
                return m.dst == idle and m.id not in before

            reply = self._newest(answer)
            taken = 0
            while reply is None and not handle.done and taken < RUN_DECISIONS \
                    and self.fair(1):
                taken += 1
                reply = self._newest(answer)
            if reply is None:
                return  # answered at once (bad input), or never answered in time
            fair_except(self, {reply.id}, TIMEOUT_DECISIONS, lambda: handle.done)
            fair_except(self, {reply.id}, gap)
            self._deliver(reply.id)
            self._read_back(idle, request)
            self.mark(LATE_REPLY)

    return MessageFaults

