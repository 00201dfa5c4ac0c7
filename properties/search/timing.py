"""Clock faults and jumps of time past the store's declared windows.

Two rule classes (:data:`CLASSES`):

``clock-skew``
    A node's clock is set off global time at any moment, forwards or backwards:
    to an offset drawn from :data:`SKEWS` (up to half a minute either way), back
    below its current offset by :data:`BACKWARDS` (a clock that jumps back, as NTP
    stepping a clock does), right after the node was cut off from every other node,
    several nodes each to its own offset, and a backwards jump followed at once by a
    write the node coordinates (so the write is stamped by the clock that went
    back). :meth:`~replicheck.implementation.store.FaultInjectable.skew_clock` sets
    an offset; the offset a node has now is read back from the schedule recorded so
    far (:func:`current_skew`), which holds every skew made through the recorder.

``window-jump``
    Global time jumps just past or just before one of the windows the store
    declares (:class:`~replicheck.implementation.store.Windows`: idempotency
    tokens, stream retention, leases, hint timers), by a recorded ``advance`` step
    (time moves and nothing runs: every timer due meanwhile fires late) or by the
    store's own ``run_for`` (a recorded ``run_for`` step; a long window is crossed
    as an ``advance`` to shortly before the target and a ``run_for`` over the rest,
    so that timers fire on time around the window's edge; when the store runs out of
    things to do first, the rest is an ``advance``), then a few fair steps let
    the overdue timers fire. A second rule runs a transaction with a client request
    token that adds one to an item, jumps to just inside the token window (counted
    from the transaction's invocation), retries it with the same token and reads
    the item: a store that forgot the token early applies the retry twice.

A third rule runs the same transaction, jumps to just past the token window and
retries it: the store must apply it anew (it forgot the token), and the item is
read. Jumps may also go just past the stream retention window (counted from the
run's start, so the first records age out at once).

Both are sound because the history declares the store's windows in the store's own
time (:mod:`replicheck.histories.windows`): the item checkers find a token surely
remembered, surely forgotten or either from when the two requests could have taken
effect (``models.items.operations.token_fate``), and the stream checker lets a
record be absent only when its write was invoked at least the retention window
before the stream was read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from replicheck.implementation.store import Windows
from replicheck.models.items.requests import Get, Put, TransactWrite, Update
from replicheck.properties import strategies
from replicheck.properties.search.driver import Surface

__all__ = ["BACKWARDS", "CLASSES", "NEAR", "RUN_FOR_LIMIT", "SKEWS", "TOKEN_PREFIX",
           "current_skew", "jump_plan", "jump_seconds", "timing_rules"]

CLASSES: Final[tuple[str, ...]] = ("clock-skew", "window-jump")
"""The rule classes of this module."""

SKEWS: Final[tuple[float, ...]] = (-30.0, -5.0, -0.5, 0.5, 5.0, 30.0)
"""Clock offsets a node may be set to, in seconds (negative: behind global time)."""

BACKWARDS: Final[tuple[float, ...]] = (0.5, 5.0, 30.0)
"""How far, in seconds, a clock may jump back below its current offset."""

NEAR: Final = 0.01
""""Just past" a window of ``w`` seconds is ``w * (1 + NEAR)``, "just before" is
``w * (1 - NEAR)``: close to the edge, with room for the few seconds a retry takes
to reach its leader after a jump (elections, router retries)."""

RUN_FOR_LIMIT: Final = 2.0
"""The most simulated seconds a jump spends in the store's own ``run_for`` (fair steps
cost real time: a leader-mode cluster takes hundreds of decisions per second)."""

AFTER_JUMP: Final = 50
"""The most fair decisions taken right after a jump (the overdue timers fire)."""

TOKEN_PREFIX: Final = "window-token-"
"""The client request tokens of this module's transactions (no other rule's)."""


def current_skew(steps: Sequence[Mapping[str, Any]], node: str) -> float:
    """``node``'s clock offset after the recorded ``steps``: its last ``skew`` step's,
    0.0 when it was never skewed."""
    for step in reversed(steps):
        body = step.get("skew")
        if isinstance(body, list) and body and body[0] == node:
            return float(body[1])
    return 0.0


def jump_seconds(window: float, past: bool) -> float:
    """How far to jump to land just past (``past``) or just before ``window``."""
    return window * (1 + NEAR) if past else window * (1 - NEAR)


def jump_plan(seconds: float, fair: bool) -> tuple[float, float]:
    """A jump of ``seconds`` as (``advance`` seconds, ``run_for`` seconds): all of it
    an ``advance`` unless ``fair``; else the last :data:`RUN_FOR_LIMIT` seconds (or
    all of a shorter jump) in the store's own ``run_for``."""
    if not fair:
        return seconds, 0.0
    run = min(seconds, RUN_FOR_LIMIT)
    return seconds - run, run


def _declared(windows: Windows) -> tuple[str, ...]:
    """The declared windows a jump may go just past or just before."""
    return tuple(name for name, value in windows.named() if value is not None)


def timing_rules(surface: Surface) -> type:
    """The ``clock-skew`` and ``window-jump`` rules for a store with ``surface``."""
    nodes = surface.nodes or ("none",)
    skewable = surface.faults and bool(surface.nodes)
    placed = skewable and (surface.leaders or surface.owners)
    windows = surface.windows
    named = dict(windows.named())
    before_names = _declared(windows)
    jumpable = surface.timed and bool(before_names)
    token_window = windows.idempotency_token
    tokens = surface.timed and surface.transactions and token_window is not None
    table, pk = surface.table, surface.pk

    class Timing:
        """Clock faults and jumps past the store's windows (module docstring)."""

        timing_origin: float | None = None
        timing_tokens: int = 0

        # -- clock-skew ------------------------------------------------------------------

        def _skew(self: Any, node: str, seconds: float) -> None:
            self.raw.skew_clock(node, seconds)
            self.mark("clock-skew")

        @precondition(lambda self: self.swarm_on("clock-skew") and skewable)
        @rule(node=st.sampled_from(nodes), seconds=st.sampled_from(SKEWS))
        def clock_set(self: Any, node: str, seconds: float) -> None:
            """Set one node's clock ``seconds`` off global time."""
            self._skew(node, seconds)

        @precondition(lambda self: self.swarm_on("clock-skew") and skewable)
        @rule(node=st.sampled_from(nodes), back=st.sampled_from(BACKWARDS))
        def clock_back(self: Any, node: str, back: float) -> None:
            """One node's clock jumps ``back`` seconds below where it is now."""
            self._skew(node, current_skew(self.raw.steps, node) - back)

        @precondition(lambda self: self.swarm_on("clock-skew") and skewable)
        @rule(offsets=st.lists(st.sampled_from(SKEWS), min_size=len(nodes),
                               max_size=len(nodes)))
        def clock_each(self: Any, offsets: list[float]) -> None:
            """Every node's clock set off by its own offset at once."""
            for node, seconds in zip(nodes, offsets, strict=True):
                self.raw.skew_clock(node, seconds)
            self.mark("clock-skew")

        @precondition(lambda self: self.swarm_on("clock-skew") and placed)
        @rule(key=strategies.keys(), index=st.integers(0, 2),
              seconds=st.sampled_from(SKEWS))
        def clock_isolated(self: Any, key: str, index: int, seconds: float) -> None:
            """Cut one replica of a key (its leader, for index 0 in leader mode) off
            from every other node, then set its clock off."""
            node = self.replica(key, index)
            if node is None:
                return
            self.raw.partition([[node], [n for n in surface.nodes if n != node]])
            self._skew(node, seconds)

        @precondition(lambda self: self.swarm_on("clock-skew") and placed
                      and surface.direct)
        @rule(client=st.sampled_from(("c0", "c1", "c2")), key=strategies.keys(),
              index=st.integers(0, 2), back=st.sampled_from(BACKWARDS),
              value=strategies.unique_values())
        def clock_back_then_write(self: Any, client: str, key: str, index: int,
                                  back: float, value: str) -> None:
            """A replica of a key (not down) has its clock jump back, then coordinates
            a put of the key at once (run until it completes)."""
            node = self.replica(key, index)
            idle = self.idle(client)
            if node is None or idle is None or node in self.crashed | self.paused:
                return
            self._skew(node, current_skew(self.raw.steps, node) - back)
            self.run_request(idle, Put(table, {pk: key, "v": value}), node)

        # -- window-jump -----------------------------------------------------------------

        @initialize()
        def timing_start(self: Any) -> None:
            """Note where global time starts (the stream retention horizon's origin)."""
            self.timing_origin = self.raw.now() if surface.timed else 0.0

        def _jump(self: Any, seconds: float, fair: bool) -> None:
            """Global time moves ``seconds`` forward (:func:`jump_plan`); what a
            ``run_for`` left (a quiet store stops early) is an ``advance``."""
            target = self.raw.now() + seconds
            advance, run = jump_plan(seconds, fair)
            if advance > 0:
                self.raw.advance(advance)
            if run > 0:
                self.raw.run_for(run)
                rest = target - self.raw.now()
                if rest > 0:
                    self.raw.advance(rest)
            self.rec.collect()
            self.mark("window-jump")

        @precondition(lambda self: self.swarm_on("window-jump") and jumpable)
        @rule(window=st.sampled_from(before_names or ("none",)), past=st.booleans(),
              fair=st.booleans(), steps=st.integers(0, AFTER_JUMP))
        def window_jump(self: Any, window: str, past: bool, fair: bool, steps: int) -> None:
            """Time jumps just past (``past``) or just before a declared window, by
            ``advance`` or (``fair``) through the store's own ``run_for``; then
            ``steps`` fair decisions (overdue timers fire). The stream retention
            window is counted from the run's start."""
            value = named.get(window)
            if value is None:
                return
            if window == "stream_retention":
                origin = self.timing_origin if self.timing_origin is not None else 0.0
                seconds = origin + jump_seconds(value, past) - self.raw.now()
            else:
                seconds = jump_seconds(value, past)
            if seconds <= 0:
                return
            self._jump(seconds, fair)
            self.fair(steps)

        def _token_retry(self: Any, client: str, key: str, fair: bool, past: bool) -> None:
            """A tokened increment of ``key``, time jumping to just past (``past``) or
            just inside the token window counted from its invocation, the same
            transaction again, and a read of the item."""
            assert token_window is not None
            idle = self.idle(client)
            if idle is None:
                return
            self.timing_tokens += 1
            increment = Update(table, {pk: key}, "SET n = if_not_exists(n, :zero) + :one",
                               values={":zero": Decimal(0), ":one": Decimal(1)})
            request = TransactWrite((increment,), token=f"{TOKEN_PREFIX}{self.timing_tokens}")
            invoked = self.raw.now()
            if not self.run_request(idle, request).done:
                return
            seconds = invoked + jump_seconds(token_window, past) - self.raw.now()
            if seconds <= 0:
                return
            self._jump(seconds, fair)
            if self.run_request(idle, request).done:
                self.run_request(idle, Get(table, {pk: key}, consistent=surface.strong))

        @precondition(lambda self: self.swarm_on("window-jump") and tokens)
        @rule(client=st.sampled_from(("c0", "c1", "c2")), key=strategies.keys(),
              fair=st.booleans())
        def token_within_window(self: Any, client: str, key: str, fair: bool) -> None:
            """A transaction with a client request token adds one to an item; time
            jumps to just inside the token window counted from its invocation; the
            same transaction is retried with the same token (it must not apply
            again), and the item is read (strongly where the store offers it)."""
            self._token_retry(client, key, fair, False)

        @precondition(lambda self: self.swarm_on("window-jump") and tokens)
        @rule(client=st.sampled_from(("c0", "c1", "c2")), key=strategies.keys(),
              fair=st.booleans())
        def token_after_window(self: Any, client: str, key: str, fair: bool) -> None:
            """As :meth:`token_within_window`, but time jumps to just past the token
            window: the store has forgotten the token and applies the retry anew."""
            self._token_retry(client, key, fair, True)

    return Timing
