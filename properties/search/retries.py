"""Retried requests: idempotency tokens reused, and retries after indeterminate answers.

Two rule classes (section 2 of the fault search):

``token-reuse``
    A TransactWrite carrying a ClientRequestToken, run to completion, then the same
    token again: with another body (DynamoDB answers IdempotentParameterMismatch and
    applies nothing), with the same body (a retry: applied once, answered as the
    first), or the two sent at once by two clients (the second meets the first in
    flight), or with another body once time has jumped just past the store's token
    window (the store forgot the token: the second body applies). Then a read of
    every item either body touches.

``retry-indeterminate``
    A request whose answer is made indeterminate (its client's timeout fires while
    the request is still on the wire, the reply to the client is dropped, or the
    key's leader or first replica is cut off from every other node until the client
    gives up), then retried by the same client (a tokened transaction with the same
    token, a single-item write as the same request), then a read (strongly
    consistent where the store offers it) of every item the request touches.

Nothing is judged here: the machine's teardown judges the history (the item
checkers replay transactions through the item model, client tokens included, so an
answer no token semantics allows is a violation there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from replicheck.implementation.store import Drop, Fire, Handle
from replicheck.models.items.requests import Get, Put, Request, TransactWrite
from replicheck.properties import strategies
from replicheck.properties.driving import CLIENTS, heal_dropping
from replicheck.properties.search.driver import Driver, Surface

__all__ = [
    "CAUSES",
    "CLASSES",
    "PAST_WINDOW",
    "RETRY_INDETERMINATE",
    "SHAPES",
    "TOKEN_REUSE",
    "cause_indeterminate",
    "retry_rules",
    "touched_keys",
]

TOKEN_REUSE: Final = "token-reuse"
RETRY_INDETERMINATE: Final = "retry-indeterminate"
CLASSES: Final[tuple[str, ...]] = (TOKEN_REUSE, RETRY_INDETERMINATE)
"""The rule classes of this module."""

SHAPES: Final[tuple[str, ...]] = ("other-body", "same-body", "overlapping", "after-window")
"""How ``token-reuse`` sends the token the second time: another body after the first
completed, the same body after it completed, another body while the first is
still in flight (from a second client), or another body after time jumped just past
the token window (:data:`PAST_WINDOW`; only for a store with time control that
declares one: the checkers judge a token against the declared window)."""

PAST_WINDOW: Final = 1.01
"""An ``after-window`` reuse comes this many token windows after the first use
completed."""

CAUSES: Final[tuple[str, ...]] = ("timeout", "drop-reply", "cut-off")
"""How ``retry-indeterminate`` makes an answer indeterminate: the client's timeout
fires at once (the request still on the wire, so it may apply after the client gave
up), the reply to the client is dropped, or the key's first replica (its leader) is
cut off from every other node until the client gives up."""

MAX_WAIT_DECISIONS: Final = 500
"""The most fair decisions a rule takes waiting for one event (a reply on the wire, a
request's completion)."""


def touched_keys(request: Request, pk: str) -> tuple[str, ...]:
    """The partition-key values of the items ``request`` reads or writes, in its
    order, each once."""
    actions: tuple[Any, ...] = request.actions if isinstance(request, TransactWrite) \
        else (request,)
    keys: list[str] = []
    for action in actions:
        source = action.item if isinstance(action, Put) else action.key
        key = str(source[pk])
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def _fair_until(driver: Driver, done: Callable[[], bool]) -> bool:
    """Fair decisions until ``done()`` (bounded); whether it came true."""
    for _ in range(MAX_WAIT_DECISIONS):
        if done():
            return True
        if driver.fair(1) == 0:
            break
    return done()


def cause_indeterminate(driver: Driver, client: str, request: Request, cause: str) -> Handle:
    """Submit ``request`` for ``client`` through the machine's recording and make its
    answer indeterminate by ``cause`` (one of :data:`CAUSES`); the handle (its status
    says whether the answer really was indeterminate: a store may still answer
    definitely, e.g. a leader that kept a quorum). The network is healed after a
    cut-off (the messages it kept back are lost)."""
    surface: Surface = driver.surface
    handle: Handle = driver.rec.submit(client, request)
    driver.handles[client] = handle
    if cause == "timeout":
        timer = next((t for t in driver.raw.pending_timers()
                      if t.owner == client and t.name == "timeout"), None)
        if timer is not None and not handle.done:
            driver.rec.decide(Fire(timer.id))
    elif cause == "drop-reply":
        def reply() -> bool:
            return handle.done or any(m.dst == client for m in driver.raw.messages_in_flight())

        if _fair_until(driver, reply) and not handle.done:
            for message in driver.raw.messages_in_flight():
                if message.dst == client:
                    driver.rec.decide(Drop(message.id))
    elif cause == "cut-off":
        node = driver.replica(touched_keys(request, surface.pk)[0], 0)
        if node is not None:
            driver.raw.partition([[node], [n for n in surface.nodes if n != node]])
            _fair_until(driver, lambda: handle.done)
            heal_dropping(driver.raw, driver.rec)
    _fair_until(driver, lambda: handle.done)
    return handle


def _read_back(driver: Driver, client: str, keys: tuple[str, ...]) -> None:
    """Read every key of ``keys`` (strongly consistent where offered), each run until
    it completes (stopping at one that does not: a client waits for its answer)."""
    surface: Surface = driver.surface
    for key in keys:
        if not driver.run_request(client, Get(surface.table, {surface.pk: key},
                                              consistent=surface.strong)).done:
            return


def _plain_writes(table: str, pk: str) -> st.SearchStrategy[Request]:
    """A single-item write (put, update or delete) as the workload draws them."""
    return st.one_of(strategies.puts(table, pk), strategies.updates(table, pk),
                     strategies.deletes(table, pk))


def retry_rules(surface: Surface) -> type:
    """The ``token-reuse`` and ``retry-indeterminate`` rules for a store with
    ``surface`` (a mixin of a scheduled machine offering the
    :class:`~replicheck.properties.search.driver.Driver` surface). ``token-reuse``
    needs transactions; ``retry-indeterminate`` needs message control (or faults and
    a known replica of each key, for a cut-off) and retries single-item writes on any
    such store, tokened transactions where the store has them."""
    table, pk = surface.table, surface.pk
    transactions = strategies.transact_writes(table, pk)
    cut = surface.faults and (surface.leaders or surface.owners)
    causes = tuple(c for c in CAUSES if (cut if c == "cut-off" else surface.messages))
    retried: st.SearchStrategy[Request] = _plain_writes(table, pk)
    if surface.transactions:
        retried = st.one_of(retried, transactions)
    token_window = surface.windows.idempotency_token if surface.timed else None
    shapes = SHAPES if token_window is not None else SHAPES[:-1]

    class RetryRules:
        """Requests retried: a token reused, a retry after an indeterminate answer."""

        @precondition(lambda self: surface.transactions and self.swarm_on(TOKEN_REUSE))
        @rule(plan=st.tuples(st.sampled_from(CLIENTS), transactions, strategies.keys(),
                             strategies.unique_values(), st.sampled_from(shapes)))
        def token_reuse(self: Driver, plan: tuple[str, TransactWrite, str, str, str]) -> None:
            """A tokened TransactWrite, then its token again (:data:`SHAPES`; the
            other body puts a fresh ``value`` on ``key``, a request no earlier one
            equals), then a read of every item either touches. The arguments come as
            one ``plan`` (client, first body, key, value, shape)."""
            wanted, first, key, value, shape = plan
            client = self.idle(wanted)
            if client is None:
                return
            token = f"token-{value}"
            tokened = replace(first, token=token)
            again = tokened if shape == "same-body" else TransactWrite(
                (Put(table, {pk: key, "v": value}),), token=token)
            if shape == "overlapping":
                self.handles[client] = self.rec.submit(client, tokened)
                other = self.idle(wanted)
                if other is None:
                    return
                self.handles[other] = self.rec.submit(other, again)
                handles = (self.handles[client], self.handles[other])
                if not _fair_until(self, lambda: all(h.done for h in handles)):
                    return
            else:
                if not self.run_request(client, tokened).done:
                    return
                if shape == "after-window" and token_window is not None:
                    self.raw.advance(token_window * PAST_WINDOW)
                if not self.run_request(client, again).done:
                    return
            self.mark(TOKEN_REUSE)
            keys = touched_keys(tokened, pk)
            _read_back(self, client, keys + tuple(
                k for k in touched_keys(again, pk) if k not in keys))

        @precondition(lambda self: bool(causes) and self.swarm_on(RETRY_INDETERMINATE))
        @rule(wanted=st.sampled_from(CLIENTS), request=retried,
              cause=st.sampled_from(causes or CAUSES), token=strategies.unique_values())
        def retry_indeterminate(self: Driver, wanted: str, request: Request, cause: str,
                                token: str) -> None:
            """A write made indeterminate (:data:`CAUSES`), retried as the same
            request (a transaction under the same token), then a read of every item
            it touches."""
            client = self.idle(wanted)
            if client is None:
                return
            if isinstance(request, TransactWrite):
                request = replace(request, token=f"token-{token}")
            handle = cause_indeterminate(self, client, request, cause)
            if handle.status != "indeterminate":
                return
            self.mark(RETRY_INDETERMINATE)
            if not self.run_request(client, request).done:
                return
            _read_back(self, client, touched_keys(request, pk))

    return RetryRules

