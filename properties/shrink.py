"""Shrinking a failing schedule to the few steps that matter.

Hypothesis shrinks the *rules* of a failing example; one rule of the concurrency
machine can stand for dozens of scheduler decisions (a ``call`` runs the fair policy
until its operation completes). :func:`minimize_counterexample` shrinks at the level
of the recorded schedule (:mod:`replicheck.properties.schedule`), where one scheduler
decision is one step, by replaying candidates with :func:`replicheck.properties.replay.replay`.

How
    The counterexample's schedule is split into its first ``decisions`` steps (what
    the example did) and the rest (the machine's teardown). Every candidate is the
    kept steps followed by a *canonical epilogue*, what the scheduled properties'
    teardown does after any example: when the store injects faults, drop every message the
    partition left in flight (a partition drops packets, it does not queue them:
    delivered after the heal they would change the run) and heal; restart every node
    the kept steps left crashed and resume every node they left paused,
    ``{"run": {}}`` (fair decisions until every operation completed), then the
    teardown's mechanism steps (``settle``, ``anti_entropy``, ``observe``) in their
    order, and the ``observe`` steps the claims need and the store can show
    (replicas for ``convergence``, the stream for the stream guarantees). The messages
    to drop are the candidate's own, found when it is run to point its decisions
    (below). A candidate *fails* when its replay judges the counterexample's
    guarantee violated (for a guarantee or stated weakness the store does not claim,
    an observation: when the anomaly is observed again); a replay the store refuses
    (a ScheduleError) or that crashes does not fail.

    Decision ids shift when steps go (the simulation numbers messages and timers in
    the order they are made), so each recorded decision is first given a signature
    from one run of the original steps: the message's source, destination and kind
    (the timer's owner and name) and its rank among those alike in flight. Before a
    candidate is replayed it is run once to point each decision at its signature's
    counterpart there; a decision without one makes the candidate not fail.

    1. The whole schedule with the canonical epilogue must fail. Where it does not
       but the recorded schedule (the machine's own teardown) does, every candidate
       ends with the recorded teardown instead, its decisions pointed like the kept
       steps' (a teardown decision without a counterpart makes the candidate not
       fail). When neither fails the counterexample is returned unchanged.
    2. Each maximal block of consecutive ``decide`` steps is tried as one
       ``{"run": {}}`` step (the fair policy instead of the recorded decisions).
    3. Delta debugging (ddmin, Zeller and Hildebrandt 2002) over the kept steps:
       remove chunks, then smaller chunks, down to single steps, keeping every
       removal after which the candidate still fails.
    4. Each ``burst`` step's count is bisected down to the smallest that still
       fails, and blocks of decisions left behind are tried as ``run`` steps again.

    The work is bounded by a time budget and a replay count; the best schedule
    found so far is returned when either runs out. A candidate whose replay takes
    much longer than the original's (e.g. a ``settle`` that can no longer quiet the
    cluster) is abandoned and counts as not failing. It never raises.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any, Final

from replicheck.implementation.store import MessageControl
from replicheck.models.items.requests import TableSchema
from replicheck.properties.outcomes import Counterexample

__all__ = [
    "DEFAULT_MAX_REPLAYS",
    "DEFAULT_SECONDS",
    "SMALL_ENOUGH",
    "canonical_epilogue",
    "ddmin",
    "minimize_counterexample",
]

DEFAULT_SECONDS: Final = 60.0
"""The default time budget of one :func:`minimize_counterexample` call."""

SMALL_ENOUGH: Final = 10
"""A schedule-shrunk counterexample of at most this many steps is kept as it is; the
engine and ``replicheck mutants`` also try a longer one from Hypothesis' shrunk
example (the smaller wins)."""

DEFAULT_MAX_REPLAYS: Final = 3000
"""The default cap on the replays one :func:`minimize_counterexample` call runs."""

_MECHANISM_STEPS: Final = ("settle", "anti_entropy", "observe")
"""Teardown step kinds the canonical epilogue keeps (in their order)."""

SLOW_REPLAY_FACTOR: Final = 5.0
"""A candidate's replay is abandoned (counted as not failing) after this many times
the unshrunk schedule's replay time ..."""

SLOW_REPLAY_FLOOR: Final = 2.0
"""... or this many seconds, whichever is longer (in the main thread only, where a
timer signal can interrupt it)."""

Step = dict[str, Any]

Kept = list[tuple[int | None, Step]]
"""Candidate steps, each with its index in the original schedule (None: a step the
shrinker made, e.g. a ``run`` in place of a block of decisions)."""


def _steps(kept: Kept) -> list[Step]:
    return [step for _, step in kept]


class _TooSlow(Exception):
    """A candidate's replay ran past its time limit."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with :class:`_TooSlow` after ``seconds`` (a real-time timer
    signal; no limit outside the main thread or where there is no SIGALRM)."""
    if (seconds <= 0 or threading.current_thread() is not threading.main_thread()
            or not hasattr(signal, "setitimer")):
        if seconds <= 0:
            raise _TooSlow
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        # an exception raised in a garbage-collector callback is printed and dropped:
        # fire again shortly until one lands in the replay itself (disarmed below)
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _kind(step: Mapping[str, Any]) -> str:
    return next(iter(step))


def canonical_epilogue(kept: Sequence[Mapping[str, Any]], teardown: Sequence[Mapping[str, Any]],
                       *, faults: bool, observations: Sequence[str] = (),
                       cut_off: Sequence[int] = ()) -> list[Step]:
    """The steps that end a candidate made of the ``kept`` steps, as the scheduled
    properties' teardown ends an example: with ``faults``, a drop of every message of
    ``cut_off`` (the ids of the messages the partition keeps from their destination
    once ``kept`` ran, :func:`cut_off_messages`) then heal; a restart of every node
    ``kept`` left crashed and a resume of every node it left paused, ``{"run": {}}``,
    the ``settle``/``anti_entropy``/``observe`` steps of the original ``teardown`` in
    order, and the ``observations`` the claims need
    (:func:`~replicheck.properties.schedule.claimed_observations`) still missing."""
    crashed: list[str] = []
    paused: list[str] = []
    for step in kept:
        kind = _kind(step)
        if kind == "crash" and step[kind] not in crashed:
            crashed.append(step[kind])
        elif kind == "restart" and step[kind] in crashed:
            crashed.remove(step[kind])
        elif kind == "pause" and step[kind] not in paused:
            paused.append(step[kind])
        elif kind == "resume" and step[kind] in paused:
            paused.remove(step[kind])
    out: list[Step] = [{"decide": {"drop": i}} for i in cut_off] + [{"heal": {}}] \
        if faults else []
    out += [{"restart": node} for node in crashed]
    out += [{"resume": node} for node in paused]
    out.append({"run": {}})
    out += [dict(s) for s in teardown if _kind(s) in _MECHANISM_STEPS]
    observed = {s["observe"] for s in out if _kind(s) == "observe"}
    out += [{"observe": kind} for kind in observations if kind not in observed]
    return out


def cut_off_messages(store: Any) -> tuple[int, ...]:
    """The ids of the messages in flight in ``store`` (:class:`MessageControl`) that
    the partition keeps from their destination, in the store's order: what a scheduled
    property drops before it heals (``driving.heal_dropping``); none for a store
    without message control."""
    return tuple(store.cut_off()) if isinstance(store, MessageControl) else ()


@dataclass(frozen=True)
class _Resolved:
    """A candidate ready to replay: its kept steps with their decisions pointed at
    this run's messages and timers, and the epilogue that ends it."""

    kept: Kept
    epilogue: tuple[Step, ...]


def ddmin(items: Sequence[Any], fails: Callable[[list[Any]], bool]) -> list[Any]:
    """A 1-minimal subsequence of ``items`` (order kept) on which ``fails`` is true,
    assuming it is true on ``items``: no single element can be removed from the
    result without ``fails`` turning false (unless ``fails`` gave up, e.g. out of
    budget, which counts as false)."""
    current = list(items)
    granularity = 2
    while len(current) >= 2:
        size = math.ceil(len(current) / granularity)
        chunks = [current[i:i + size] for i in range(0, len(current), size)]
        reduced = False
        if granularity > 2:  # with two chunks, a chunk is the other's complement
            for chunk in chunks:
                if fails(chunk):
                    current, granularity, reduced = chunk, 2, True
                    break
        if not reduced:
            for i in range(len(chunks)):
                complement = [x for j, c in enumerate(chunks) if j != i for x in c]
                if fails(complement):
                    current, granularity, reduced = complement, max(granularity - 1, 2), True
                    break
        if not reduced:
            if granularity >= len(current):
                break
            granularity = min(len(current), granularity * 2)
    if len(current) == 1 and fails([]):
        return []
    return current


@dataclass
class _Oracle:
    """Replays candidates (with their epilogue) and remembers the answers."""

    target: str
    seed: int
    guarantee: str
    teardown: tuple[Step, ...]
    faults: bool
    claims: frozenset[str]
    observations: tuple[str, ...]
    deadline: float
    max_replays: int
    replays: int = 0
    slowest: float | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    descriptor: Any = None
    signatures: dict[int, tuple[Any, ...]] | None = None
    concrete: dict[str, _Resolved | None] = field(default_factory=dict)
    recorded: Kept | None = None
    """The recorded teardown (with its original indices) that ends every candidate
    instead of the canonical epilogue; None: the canonical epilogue."""

    def schedule(self, resolved: _Resolved) -> Any:
        """The schedule a resolved candidate replays: its kept steps, its epilogue."""
        from replicheck.properties.schedule import Schedule

        return Schedule(self.target, self.seed,
                        (*_steps(resolved.kept), *resolved.epilogue))

    def _limit(self) -> float:
        remaining = self.deadline - time.monotonic()
        if self.slowest is None:
            return remaining
        return min(remaining, max(SLOW_REPLAY_FLOOR, SLOW_REPLAY_FACTOR * self.slowest))

    def _key(self, kept: Kept) -> str:
        return json.dumps([_steps(kept), self.recorded is not None], sort_keys=True,
                          default=repr)

    def resolve(self, kept: Kept) -> _Resolved | None:
        """``kept`` with each recorded decision pointed at the message or timer that
        plays its part in this candidate (:func:`_signature`), and its epilogue (the
        canonical one, dropping what the partition cut off in this candidate; or the
        recorded teardown, pointed likewise); None when a decision has no
        counterpart or a step is refused."""
        key = self._key(kept)
        if key not in self.concrete:
            tail: Kept = self.recorded or []
            try:
                with _time_limit(self._limit()):
                    run = _resolved(self.target, self.seed, [*kept, *tail],
                                    self.signatures or {})
            except Exception:  # refused, crashed, too slow
                run = None
            found: _Resolved | None = None
            if run is not None:
                steps, cut_off = run
                if self.recorded is not None:
                    found = _Resolved(steps[:len(kept)], tuple(_steps(steps[len(kept):])))
                else:
                    found = _Resolved(steps, tuple(canonical_epilogue(
                        _steps(steps), self.teardown, faults=self.faults,
                        observations=self.observations, cut_off=cut_off)))
            self.concrete[key] = found
        return self.concrete[key]

    def run(self, kept: Kept) -> Any:
        """The replay of ``kept`` with its decisions resolved and its epilogue (None:
        refused, crashed, out of budget)."""
        if self.replays >= self.max_replays or time.monotonic() >= self.deadline:
            resolved = self.concrete.get(self._key(kept))
            if resolved is None:
                return None
            return self.cache.get(json.dumps(self.schedule(resolved).steps, sort_keys=True,
                                             default=repr))
        resolved = self.resolve(kept)
        if resolved is None:
            return None
        schedule = self.schedule(resolved)
        key = json.dumps(schedule.steps, sort_keys=True, default=repr)
        if key in self.cache:
            return self.cache[key]
        from replicheck.properties.replay import replay

        self.replays += 1
        limit = self._limit()
        started = time.monotonic()
        try:
            with _time_limit(limit):
                result: Any = replay(schedule, timeout=max(limit, 0.1))
        except Exception:  # a refused step (ScheduleError), the store crashed, too slow
            result = None
        if self.slowest is None:  # the unshrunk schedule's replay sets the pace
            self.slowest = time.monotonic() - started
        self.cache[key] = result
        return result

    def fails(self, kept: Kept) -> bool:
        result = self.run(kept)
        return result is not None and self.violated(result) is not None

    def end_with_recorded_teardown(self, before: Kept, steps: Sequence[Step]) -> bool:
        """Switch to ending every candidate with the recorded teardown (``steps``
        from ``len(before)`` on), its decisions pointed like the kept steps'; True
        when ``before`` then fails (else the canonical epilogue stays)."""
        tail: Kept = [(i, steps[i]) for i in range(len(before), len(steps))]
        previous = (self.recorded, self.signatures)
        self.recorded = tail
        try:
            with _time_limit((self.deadline - time.monotonic()) / 2):
                self.signatures = _signatures(self.target, self.seed, [*before, *tail])
        except Exception:  # decisions then keep their recorded ids
            self.signatures = None
        if self.fails(before):
            return True
        self.recorded, self.signatures = previous
        return False

    def violated(self, result: Any) -> Any:
        """The replay's judgement that the counterexample's guarantee is violated;
        for a guarantee (or weakness) the store does not claim, that the anomaly is
        observed again. None when neither."""
        from replicheck.properties.guarantees import OBSERVED, VIOLATED

        found = next((j for j in result.judgements
                      if j.guarantee == self.guarantee and j.status == VIOLATED), None)
        if found is None and self.descriptor is not None \
                and self.guarantee not in self.claims:
            from replicheck.properties.verdicts import judge_unclaimed

            seen = judge_unclaimed(self.guarantee, result.history, self.descriptor)
            return seen if seen.status == OBSERVED else None
        return found


def _signature(store: MessageControl, decision: Mapping[str, int]
               ) -> tuple[Any, ...] | None:
    """What a decision acts on, in terms that survive the removal of other steps:
    the message's (source, destination, kind) or the timer's (owner, name), and its
    rank among those alike now in flight (by id). None when it names nothing."""
    ((name, ident),) = decision.items()
    if name == "fire":
        timers = store.pending_timers()
        timer = next((t for t in timers if t.id == ident), None)
        if timer is None:
            return None
        alike = sorted(t.id for t in timers if (t.owner, t.name) == (timer.owner, timer.name))
        return (name, timer.owner, timer.name, alike.index(ident))
    messages = store.messages_in_flight()
    message = next((m for m in messages if m.id == ident), None)
    if message is None:
        return None
    alike = sorted(m.id for m in messages
                   if (m.src, m.dst, m.kind) == (message.src, message.dst, message.kind))
    return (name, message.src, message.dst, message.kind, alike.index(ident))


def _counterpart(store: MessageControl, signature: tuple[Any, ...]
                 ) -> dict[str, int] | None:
    """The decision of the same kind on what plays ``signature``'s part now."""
    name = signature[0]
    if name == "fire":
        alike = sorted(t.id for t in store.pending_timers()
                       if (t.owner, t.name) == signature[1:3])
    else:
        alike = sorted(m.id for m in store.messages_in_flight()
                       if (m.src, m.dst, m.kind) == signature[1:4])
    rank = signature[-1]
    return {name: alike[rank]} if rank < len(alike) else None


def _stepping(target: str, seed: int, kept: Kept,
              visit: Callable[[int | None, Step, Any], Step | None]
              ) -> tuple[Kept, tuple[int, ...]] | None:
    """Run ``kept`` on a fresh store, each step as ``visit(index, step, store)``
    rewrites it (None: give up); the steps run and the messages the partition then
    cuts off (:func:`cut_off_messages`), or None. A store without message control
    (:class:`MessageControl`) has nothing to point or cut off: ``kept`` as it is,
    not run."""
    from replicheck.properties.replay import StepRunner, build_store

    store: Any = build_store(target, seed)
    try:
        runner = StepRunner(store)
        if not isinstance(store, MessageControl):
            return list(kept), ()
        out: Kept = []
        for index, step in kept:
            chosen = visit(index, step, store)
            if chosen is None:
                return None
            ((kind, body),) = chosen.items()
            runner.step(kind, body)
            out.append((index, chosen))
        return out, cut_off_messages(store)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()


def _signatures(target: str, seed: int, kept: Kept) -> dict[int, tuple[Any, ...]] | None:
    """The signature of every decision of ``kept`` (by original index), from one run
    of it (none when the store has no simulation to look into); None when that run
    fails."""
    found: dict[int, tuple[Any, ...]] = {}

    def visit(index: int | None, step: Step, store: Any) -> Step | None:
        if index is not None and _kind(step) == "decide":
            signature = _signature(store, step["decide"])
            if signature is None:
                return None
            found[index] = signature
        return step

    return found if _stepping(target, seed, kept, visit) is not None else None


def _resolved(target: str, seed: int, kept: Kept, signatures: dict[int, tuple[Any, ...]]
              ) -> tuple[Kept, tuple[int, ...]] | None:
    """``kept`` with each decision rewritten to its signature's counterpart, and the
    messages the partition cuts off at its end (:func:`_stepping`)."""
    def visit(index: int | None, step: Step, store: Any) -> Step | None:
        if index is not None and _kind(step) == "decide" and index in signatures:
            counterpart = _counterpart(store, signatures[index])
            return None if counterpart is None else {"decide": counterpart}
        return step

    return _stepping(target, seed, kept, visit)


def _coalesce(kept: Kept, oracle: _Oracle) -> Kept:
    """Each maximal block of ``decide`` steps replaced by one ``run`` step where the
    candidate still fails."""
    i = 0
    while i < len(kept):
        if _kind(kept[i][1]) != "decide":
            i += 1
            continue
        j = i
        while j < len(kept) and _kind(kept[j][1]) == "decide":
            j += 1
        candidate: Kept = [*kept[:i], (None, {"run": {}}), *kept[j:]]
        if j - i > 1 and oracle.fails(candidate):
            kept = candidate
        i += 1
    return kept


def _smaller_bursts(kept: Kept, oracle: _Oracle) -> Kept:
    """Each ``burst`` step with the smallest count, found by bisection, at which the
    candidate still fails (only counts that failed are kept)."""
    for i, (index, step) in enumerate(kept):
        if _kind(step) != "burst":
            continue
        body = step["burst"]
        low, high = 1, int(body["count"])  # the count ``high`` fails
        while low < high:
            middle = (low + high) // 2
            candidate: Kept = [*kept[:i], (index, {"burst": {**body, "count": middle}}),
                               *kept[i + 1:]]
            if oracle.fails(candidate):
                high = middle
            else:
                low = middle + 1
        kept = [*kept[:i], (index, {"burst": {**body, "count": high}}), *kept[i + 1:]]
    return kept


def minimize_counterexample(cx: Counterexample, target: str, seed: int = 0, *,
                            seconds: float = DEFAULT_SECONDS,
                            max_replays: int = DEFAULT_MAX_REPLAYS) -> Counterexample:
    """``cx`` with its schedule shrunk (module docstring), replayed on ``target``
    (a preset, ``mutant:NAME`` or ``package.module:factory``, built with ``seed``):
    the shrunk schedule, its ``steps`` in plain words (the kept steps, in the
    counterexample's own words where it had them, then the epilogue as one line,
    ``then: heal, settle, ...``), ``decisions`` = the number of kept steps,
    and the replay's history, verdict and explanation. ``cx`` unchanged when it has
    no schedule or when its schedule with the canonical epilogue does not reproduce
    the violation. At most ``seconds`` of work and ``max_replays`` replays (then the
    best found so far). A threaded counterexample (with ``batches``, no schedule) is
    shrunk by :func:`replicheck.properties.threaded_shrink.minimize_threaded` on
    stores ``target`` builds instead. Never raises."""
    try:
        if cx.schedule is None and cx.batches is not None:
            from replicheck.properties.engine import store_factory
            from replicheck.properties.threaded_shrink import minimize_threaded

            return minimize_threaded(cx, store_factory(target, seed), target,
                                     seconds=seconds)
        return _minimize(cx, target, seed, seconds, max_replays)
    except Exception:  # shrinking is a courtesy: never mask the failure it shrinks
        return cx


def _minimize(cx: Counterexample, target: str, seed: int, seconds: float,
              max_replays: int) -> Counterexample:
    if cx.schedule is None:
        return cx
    from replicheck.implementation.store import Capability
    from replicheck.properties.replay import build_store
    from replicheck.properties.schedule import (
        check_step,
        claimed_observations,
        describe_teardown,
    )

    raw_steps = cx.schedule.get("steps") or ()
    steps = [check_step(s) for s in raw_steps]
    count = len(steps) if cx.decisions is None else max(0, min(cx.decisions, len(steps)))
    before: Kept = list(enumerate(steps[:count]))
    teardown = tuple(steps[count:])
    store: Any = build_store(target, seed)
    try:
        descriptor = store.descriptor
        observations = claimed_observations(store)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
    oracle = _Oracle(target, seed, cx.guarantee, teardown,
                     descriptor.has(Capability.FAULTS),
                     frozenset(str(c.guarantee) for c in descriptor.claims), observations,
                     time.monotonic() + seconds, max_replays, descriptor=descriptor)
    try:
        with _time_limit(seconds / 2):
            oracle.signatures = _signatures(target, seed, before)
    except Exception:  # decisions then keep their recorded ids
        oracle.signatures = None
    if not oracle.fails(before) and not oracle.end_with_recorded_teardown(before, steps):
        return cx
    kept = _coalesce(before, oracle)
    kept = ddmin(kept, oracle.fails)
    kept = _smaller_bursts(kept, oracle)
    kept = _coalesce(kept, oracle)  # blocks ddmin left behind
    result = oracle.run(kept)
    if result is None or oracle.violated(result) is None:  # cannot happen: kept fails
        kept, result = before, oracle.run(before)
        if result is None:
            return cx
    judgement = oracle.violated(result)
    resolved = oracle.resolve(kept)
    if resolved is None:  # cannot happen: kept was replayed
        return cx
    kept = resolved.kept
    schedule = oracle.schedule(resolved)
    from replicheck.properties.verdicts import label_clients

    # each submission's client named as the shrunk history labels it (c0/2 only
    # where c0's fresh process survived the shrinking)
    schemas = {t.name: t for t in descriptor.tables}
    words = (*label_clients(tuple(_words(cx, index, step, steps, schemas)
                                  for index, step in kept),
                            [step for _, step in kept], result.history),
             describe_teardown(resolved.epilogue))
    return dc_replace(cx, explanation=judgement.explanation(), steps=words,
                      decisions=len(kept), history=result.history,
                      verdict=judgement.verdict,
                      schedule=dc_replace(schedule, guarantee=cx.guarantee).to_json())


def _words(cx: Counterexample, index: int | None, step: Step,
           original: Sequence[Step], schemas: Mapping[str, TableSchema]) -> str:
    """The step in plain words: the counterexample's own words for its step
    ``index`` (they name what a decision acted on; a decision pointed at another id
    keeps that part), else the step described afresh (in the words of the store's
    tables, ``schemas``). A submission is always described afresh, naming its client
    as the schedule does (``c0``): its label in the shrunk history (``c0/2``) is for
    :func:`~replicheck.properties.verdicts.label_clients` to give."""
    from replicheck.properties.schedule import describe_step

    fresh = describe_step(step, None, schemas)
    if _kind(step) in ("submit", "burst"):
        return fresh
    if index is None or cx.decisions is None or len(cx.steps) < cx.decisions \
            or index >= len(cx.steps) or index >= len(original):
        return fresh
    words = cx.steps[index]
    if step == original[index]:
        return words
    plain = describe_step(original[index], None, schemas)
    if _kind(step) == "decide" and words.startswith(plain + " "):
        return describe_step(step, words[len(plain) + 1:], schemas)
    return fresh
