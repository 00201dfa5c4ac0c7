"""Rerunning a schedule: ``replicheck replay FILE`` (CONTRACTS.md section 6).

:func:`replay` builds a fresh store from the schedule's target
(:func:`build_store`: a preset with the seed, ``mutant:NAME``, or
``package.module:factory``), performs every step in order through a
:class:`~replicheck.properties.recording.RecordingStore` (which records the history),
records every operation still in flight as indeterminate, and judges every guarantee
the store claims with :func:`replicheck.properties.guarantees.judge_claims`; when the
schedule names a guarantee the store does not claim (a file written for an
observation), that one too, as an observation
(:func:`replicheck.properties.verdicts.judge_unclaimed`), so replaying an observation
shows it (it never changes the exit status).

Deterministic: the recorder's clock is the simulation's global clock (nanoseconds;
a step counter for a store without one), so replaying a schedule twice, in any
process, gives byte-identical history JSON (:attr:`ReplayResult.history_jsonl`).

A step the store refuses (a decision not available now, an unknown node) is a
:class:`~replicheck.properties.schedule.ScheduleError` naming the step index; a store
error of a mechanism step (an anti-entropy sync that could not finish) is part of the
run and is not.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from replicheck.histories.formats.jsonl import dumps_jsonl
from replicheck.histories.history import History
from replicheck.histories.items import request_from_json
from replicheck.histories.recorder import Recorder
from replicheck.implementation.store import (
    AntiEntropy,
    FaultInjectable,
    Forkable,
    HintSnapshots,
    Introspectable,
    Leadership,
    MessageControl,
    PreferenceLists,
    RangeSnapshots,
    ReplicaSnapshots,
    Schedulable,
    Settling,
    Store,
    Streaming,
    TimeControl,
    Topology,
)
from replicheck.models.items.errors import StoreError
from replicheck.models.items.requests import Put
from replicheck.properties.guarantees import UNKNOWN, VIOLATED, Judgement, judge_claims
from replicheck.properties.recording import RecordingStore
from replicheck.properties.schedule import (
    Schedule,
    ScheduleError,
    check_step,
    decision_from_json,
    run_burst,
)

__all__ = ["MUTANT_PREFIX", "OBSERVATIONS_NEED", "ReplayResult", "StepRunner", "build_store",
           "can_observe", "exit_status", "replay"]

MUTANT_PREFIX: Final = "mutant:"
"""A target ``mutant:NAME`` names a mutant of the catalog."""


RUN_STEPS: Final = 10_000
"""The most fair decisions a ``run`` step takes by default."""


def build_store(target: str, seed: int = 0) -> Store:
    """A fresh store for ``target``: a preset (built with ``seed``), ``mutant:NAME``
    (built with ``seed``) or ``package.module:factory`` (called with no argument).
    UnknownStore (a ValueError) with one line when the target names nothing."""
    from replicheck.implementation.presets import PRESETS, UnknownStore, preset, resolve_target

    if target.startswith(MUTANT_PREFIX):
        from replicheck.implementation.mutants import mutant

        try:
            found = mutant(target[len(MUTANT_PREFIX):])
        except KeyError as error:
            raise UnknownStore(str(error.args[0])) from None
        store: Store = found.build(seed)
        return store
    if target in PRESETS:
        made: Store = preset(target, seed)
        return made
    factory = resolve_target(target)
    try:
        built: Store = factory()
    except Exception as error:  # the user's factory: say what it raised, in one line
        raise UnknownStore(f"store {target!r}: the factory raised "
                           f"{type(error).__name__}: {error}") from None
    return built


@dataclass(frozen=True)
class ReplayResult:
    """What a replay gave: the store's name, the recorded ``history`` (and its
    ``records``), and one :class:`Judgement` per claimed guarantee."""

    schedule: Schedule
    store: str
    history: History
    records: tuple[Any, ...]
    judgements: tuple[Judgement, ...]

    @property
    def recorded(self) -> Judgement | None:
        """The judgement of the guarantee the schedule names (its ``guarantee``: the
        violation or observation the file was written for), None when it names none."""
        return next((j for j in self.judgements if j.guarantee == self.schedule.guarantee),
                    None)

    @property
    def history_jsonl(self) -> str:
        """The history in replicheck's JSON-lines format."""
        return dumps_jsonl(self.records)

    @property
    def exit_status(self) -> int:
        """0 every claimed guarantee holds, 1 one is violated, 3 else one unknown."""
        return exit_status(self.judgements)


def exit_status(judgements: tuple[Judgement, ...] | list[Judgement]) -> int:
    """1 when a claimed guarantee is violated, else 3 when one is unknown, else 0."""
    if any(j.status == VIOLATED for j in judgements):
        return 1
    if any(j.status == UNKNOWN and j.claimed for j in judgements):
        return 3
    return 0


def _clock(store: Any) -> Callable[[], int]:
    if isinstance(store, TimeControl):
        return lambda: round(store.now() * 1_000_000_000)
    counter = [0]

    def tick() -> int:
        counter[0] += 1
        return counter[0]

    return tick


OBSERVATIONS_NEED: Final = {
    "replicas": "RangeSnapshots (replicas_observation), or ReplicaSnapshots "
                "(replica_versions) and Introspectable (replicas)",
    "snapshot": "RangeSnapshots (replicas_observation)",
    "stream": "Streaming (stream_records)",
    "hints": "HintSnapshots (hinted, pending_hints)",
    "handoff": "HintSnapshots, Topology, Forkable, Settling and FaultInjectable",
    "read-repair": "Forkable, PreferenceLists, Topology and ReplicaSnapshots",
    "sync-twins": "Forkable, AntiEntropy, Topology and ReplicaSnapshots",
    "availability": "Forkable, Schedulable, FaultInjectable, TimeControl, Topology and "
                    "Leadership with a failover window, or PreferenceLists",
}
"""What a store must offer for replay to record each observation: protocols of
:mod:`replicheck.implementation.store`."""

_OBSERVATION_PROTOCOLS: Final[Mapping[str, tuple[tuple[type, ...], ...]]] = {
    "replicas": ((RangeSnapshots,), (ReplicaSnapshots, Introspectable)),
    "snapshot": ((RangeSnapshots,),),
    "stream": ((Streaming,),),
    "hints": ((HintSnapshots,),),
    "handoff": ((HintSnapshots, Topology, Forkable, Settling, FaultInjectable),),
    "read-repair": ((Forkable, PreferenceLists, Topology, ReplicaSnapshots),),
    "sync-twins": ((Forkable, AntiEntropy, Topology, ReplicaSnapshots),),
    "availability": ((Forkable, Schedulable, FaultInjectable, TimeControl, Leadership,
                      Topology),
                     (Forkable, Schedulable, FaultInjectable, TimeControl, PreferenceLists,
                      Topology)),
}
""":data:`OBSERVATIONS_NEED` as protocols: any one of the alternatives, all of its
protocols."""


def can_observe(store: Any, kind: str) -> bool:
    """Whether replay can record the observation ``kind`` (an ``observe`` step) on
    ``store`` (:data:`OBSERVATIONS_NEED`): the rule replay follows, which the
    schedule writers that add observations of their own (the claims' observations of
    :func:`~replicheck.properties.schedule.claimed_observations`, the shrinker's
    epilogue) ask first, so that no file ends with an observation replay cannot
    take."""
    return any(all(isinstance(store, protocol) for protocol in alternative)
               for alternative in _OBSERVATION_PROTOCOLS.get(kind, ()))


def replicas_observation(store: Any, table: str, *, anti_entropy: bool) -> dict[str, Any] | None:
    """A quiescent snapshot of every replica of ``table`` in the convergence checker's
    form (a ring store's own, with Merkle roots; else
    :func:`~replicheck.properties.mechanisms.leader_replicas_observation`, as the
    machines take it), or None when the store cannot show its replicas' versions."""
    if isinstance(store, RangeSnapshots):
        return dict(store.replicas_observation(table, quiescent=True,
                                               anti_entropy=anti_entropy))
    if not can_observe(store, "replicas"):
        return None
    from replicheck.properties.mechanisms import leader_replicas_observation

    return leader_replicas_observation(store, table)


def stream_observation(store: Any, table: str) -> dict[str, Any] | None:
    """The change stream of ``table`` in the stream checker's form (None without one)."""
    if not can_observe(store, "stream"):
        return None
    records = [{"table": r.table, "event": r.event, "key": list(r.key),
                "sequence": r.sequence, "old_image": r.old_image, "new_image": r.new_image}
               for r in store.stream_records(table)]
    return {"table": table, "records": records, "complete": True}


class StepRunner:
    """Runs schedule steps one at a time on ``store`` (a schedulable store, freshly
    built), recording the history in :attr:`rec` as :func:`replay` does; for tools
    that step through a schedule and look at the store between steps (the
    schedule shrinker)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.rec = RecordingStore(store, Recorder(clock=_clock(store)),
                                  store_time=isinstance(store, TimeControl))
        self.table = store.descriptor.tables[0].name if store.descriptor.tables else None
        self.anti_entropy = False
        self.hinted: list[dict[str, Any]] = []
        self.down: set[str] = set()
        self.paused: set[str] = set()
        """The nodes crashed and paused now (a ``handoff`` observation recovers them on
        its copy)."""
        self.handoff_twin: dict[str, Any] | None = None
        """The hinted states the fallbacks held right before the last settle step (what
        the machines read before settling, for the ``hints`` observation)."""

    def step(self, kind: str, body: Any) -> None:
        """Run one step (its kind and body, as :func:`check_step` gives them);
        ValueError, TypeError or KeyError when the store refuses it."""
        store, rec = self.store, self.rec
        if kind == "submit":
            request = request_from_json(body["request"], body.get("kind"),
                                        path="submit.request")
            if body.get("node"):
                if not (isinstance(store, Topology) and body["node"] in store.nodes):
                    raise ValueError(f"{store.descriptor.name} has no node {body['node']!r}")
                rec.submit_at(body["client"], request, body["node"])
            else:
                rec.submit(body["client"], request)
        elif kind == "decide":
            rec.decide(decision_from_json(body))
        elif kind == "partition":
            store.partition(body)
        elif kind == "heal":
            store.heal()
        elif kind == "crash":
            store.crash(body)
            self.down.add(body)
        elif kind == "restart":
            store.restart(body)
            self.down.discard(body)
        elif kind == "pause":
            store.pause(body)
            self.paused.add(body)
        elif kind == "resume":
            store.resume(body)
            self.paused.discard(body)
        elif kind == "skew":
            store.skew_clock(body[0], float(body[1]))
        elif kind in ("advance", "run_for"):
            if not isinstance(store, TimeControl):
                raise ValueError(f"{store.descriptor.name} has no simulated clock to "
                                 f"{kind.replace('_', ' ')} (TimeControl)")
            if kind == "advance":
                store.advance(float(body))
            else:
                store.run_for(float(body))
        elif kind == "anti_entropy":
            self.anti_entropy = True
            if _ranged(store):  # what the session differed on and repaired
                from replicheck.properties.mechanisms import sync_session

                rec.observe("anti-entropy", sync_session(store, body[2], body[0], body[1]))
            else:
                with contextlib.suppress(StoreError):  # a sync that could not finish
                    store.anti_entropy(*body)  # is part of the run
        elif kind == "settle":
            if not isinstance(store, Settling):
                raise ValueError(f"{store.descriptor.name} has no settle() (Settling)")
            if self.table is not None:
                from replicheck.properties.mechanisms import handoff_twin, hinted_states

                self.hinted = hinted_states(store, self.table)
                self.handoff_twin = handoff_twin(store, self.table)
            store.settle(**body)
        elif kind == "run":
            if not isinstance(store, MessageControl):
                raise ValueError(f"{store.descriptor.name} has no fair policy to run "
                                 "(MessageControl)")
            for _ in range(int(body.get("steps", RUN_STEPS))):
                if not rec.in_flight():
                    break
                decision = store.default_decision()
                if decision is None:
                    break
                rec.decide(decision)
        elif kind == "burst":
            request = request_from_json(body["request"], "put", path="burst.request")
            assert isinstance(request, Put)
            run_burst(rec, body["client"], request, int(body["count"]))
        elif kind == "observe":
            if self.table is None:
                raise ValueError(f"{store.descriptor.name} serves no table to observe")
            self.observe(body, self.table)
        else:  # check_step lets no other kind through
            raise ValueError(f"unknown step kind {kind!r}")
        rec.collect()

    def observe(self, kind: str, table: str) -> None:
        """Record the observation ``kind`` of ``table``."""
        _observe(self, kind, table)


def _ranged(store: Any) -> bool:
    """Whether both replicas of an anti-entropy session can be read over their shared
    key ranges (:func:`~replicheck.properties.mechanisms.sync_session`)."""
    return isinstance(store, Topology) and isinstance(store, ReplicaSnapshots)


def _observe(runner: StepRunner, kind: str, table: str) -> None:
    """Record the observation ``kind`` (see the schedule format) of ``table``."""
    from replicheck.properties import mechanisms

    store, rec = runner.store, runner.rec
    name = store.descriptor.name
    if kind in OBSERVATIONS_NEED and not can_observe(store, kind):
        raise ValueError(f"{name} cannot show its {kind}: that needs "
                         f"{OBSERVATIONS_NEED[kind]}")
    if kind == "replicas":
        value = replicas_observation(store, table, anti_entropy=runner.anti_entropy)
    elif kind == "stream":
        value = stream_observation(store, table)
    elif kind == "snapshot":
        value = store.replicas_observation(table)
    elif kind == "hints":
        value = mechanisms.hints_observation(store, table, runner.hinted)
        if runner.handoff_twin is not None:  # the copy settled apart, before this one
            rec.observe("hints", runner.handoff_twin)
    elif kind == "handoff":
        twin = mechanisms.handoff_probe(store, table, runner.down, runner.paused)
        if twin is not None:
            rec.observe("hints", twin)
        return
    elif kind == "read-repair":
        pk = store.descriptor.table(table).partition_key
        for probe in mechanisms.read_repair_probes(store, table, pk):
            rec.observe("read-repair", probe)
        return
    elif kind == "sync-twins":
        for session in mechanisms.twin_sync_observations(store, table, tuple(store.nodes)):
            rec.observe("anti-entropy", session)
        return
    elif kind == "availability":
        from replicheck.properties.liveness import availability_observation
        from replicheck.properties.strategies import KEYS

        pk = store.descriptor.table(table).partition_key
        value = availability_observation(store, table, pk, KEYS)
    else:  # check_step lets no other kind through
        raise ValueError(f"unknown observation {kind!r}")
    if value is None:
        raise ValueError(f"{name} cannot show its {kind}")
    # a snapshot is a replicas observation taken mid-run (not quiescent): recorded as
    # the machines record it, where the convergence checker reads it
    rec.observe("replicas" if kind == "snapshot" else kind, value)


def replay(schedule: Schedule, *, timeout: float = 30.0) -> ReplayResult:
    """Rebuild the store, run every step, judge every claimed guarantee (module
    docstring). ScheduleError names a step the store refused; UnknownStore a target
    that names nothing."""
    from replicheck.implementation.store import Schedulable

    store: Any = build_store(schedule.target, schedule.seed)
    try:
        descriptor = store.descriptor
        if not isinstance(store, Schedulable):
            raise ScheduleError(f"target {schedule.target!r} ({descriptor.name}) is "
                                "not schedulable: a schedule needs the "
                                "deterministic-scheduling capability")
        runner = StepRunner(store)
        for i, step in enumerate(schedule.steps):
            try:
                ((kind, body),) = check_step(step).items()
                runner.step(kind, body)
            except (ValueError, TypeError, KeyError) as error:
                shown = json.dumps(step, default=repr)
                shown = shown if len(shown) <= 80 else shown[:77] + "..."
                raise ScheduleError(f"{shown}: {error}", step=i) from None
        runner.rec.collect()
        runner.rec.abandon()
        records = runner.rec.recorder.records()
        history = runner.rec.history()
        judgements = tuple(judge_claims(history, descriptor, timeout=timeout))
        if schedule.guarantee is not None and all(
                j.guarantee != schedule.guarantee for j in judgements):
            from replicheck.properties.verdicts import judge_unclaimed

            # an observation: the anomaly the file was written for, judged and shown
            judgements += (judge_unclaimed(schedule.guarantee, history, descriptor),)
        return ReplayResult(schedule, descriptor.name, history, records, judgements)
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()
