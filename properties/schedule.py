"""Schedule files: every call made to a schedulable store, in order, as JSON.

A schedule is what ``replicheck replay FILE`` reruns (CONTRACTS.md section 6). The
reference store is a deterministic simulation, so the same target and the same steps
always give the same history.

File format (UTF-8 JSON, one object)::

    {"schema": 1,
     "target": "dynamodb",
     "seed": 0,
     "guarantee": "linearizable-strong-reads",
     "steps": [
       {"submit": {"client": "c0", "kind": "put",
                   "request": {"table": "items", "item": {"pk": {"S": "a"}}}}},
       {"decide": {"deliver": 7}},
       {"partition": [["n1"], ["n2", "n3", "n4", "n5"]]},
       {"heal": {}},
       {"crash": "n1"},
       {"restart": "n1"},
       {"pause": "n2"},
       {"resume": "n2"},
       {"skew": ["n2", 0.5]},
       {"advance": 600.5},
       {"run_for": 2.0},
       {"anti_entropy": ["n1", "n2", "items"]},
       {"settle": {}},
       {"run": {}},
       {"observe": "replicas"}
     ]}

``target``
    a preset name (``dynamodb``, ``dynamo-lww``, ``dynamo-quorum``,
    ``global-tables``), ``mutant:NAME`` (a mutant of
    :mod:`replicheck.implementation.mutants.catalog`, built with ``seed``), or
    ``package.module:factory`` (a zero-argument factory, as ``--store`` takes;
    ``seed`` is then ignored).
``seed``
    an integer, default 0.
``guarantee`` (optional)
    the guarantee (or stated weakness, e.g. ``stale-read``) whose violation or
    observation the file was written for (:func:`counterexample_schedule`); replay
    judges it even when the store does not claim it, and shows it.
``steps``
    each a one-member object:

    - ``submit``: ``client`` (a string), ``request`` (the request as
      :func:`~replicheck.histories.items.request_to_json` writes it) and optionally
      ``kind`` (its ``request_kind``; needed only where the request's fields do not
      tell it, e.g. a get without ``consistent``) and optionally ``node`` (the
      request goes straight to that node as its coordinator, as a client choosing
      its own coordinator or routing on a stale table does);
    - ``decide``: one scheduler decision, ``{"deliver": id}``, ``{"drop": id}``,
      ``{"duplicate": id}`` or ``{"fire": id}`` (message or timer ids, as the
      simulation numbers them);
    - ``partition``: a list of groups of node names (two nodes talk when some group
      holds both; groups may overlap, e.g. a ring or a bridge); ``heal``: ``{}``;
      ``crash``/``restart``: a node name; ``pause``/``resume``: a node name (the
      store's ``pause``: the node keeps its state, receives nothing and fires no
      timer until resumed); ``skew``: ``[node, seconds]``;
    - ``advance``: a positive number of seconds: global time jumps forward that much
      and nothing runs (:meth:`~replicheck.implementation.store.TimeControl.advance`:
      every timer due meanwhile fires late, when decided); ``run_for``: a positive
      number of seconds: the store's own fair steps until that much time has passed
      (:meth:`~replicheck.implementation.store.TimeControl.run_for`; the decisions it
      takes are not listed, the store's determinism replays them);
    - ``anti_entropy``: ``[a, b, table]`` (one Merkle sync);
    - ``settle``: ``{}`` or ``{"seconds": S}`` (the store's ``settle``: fair
      decisions until quiet);
    - ``run``: ``{}`` or ``{"steps": N}``: take fair decisions (the oldest
      deliverable message, else the earliest timer) until every submitted operation
      has completed or N decisions (default 10000) were taken; for hand-written
      schedules (a recorder writes each decision as its own ``decide`` step);
    - ``burst``: ``client``, ``request`` (a put, as for ``submit``) and ``count`` (a
      positive integer): the client puts the request's item ``count`` times in a row,
      the ``i``-th time with attribute ``v`` set to ``"b<i>"``, each put submitted
      once the one before it completed and run to completion under the fair policy
      (:func:`run_burst`; a put still in flight after that stops the burst). One
      step: a single client action, however many decisions its puts take;
    - ``observe``: ``"replicas"`` or ``"stream"``: record a snapshot of every replica
      (taken as quiescent) or of the change stream of the first table, for the
      convergence and stream checkers; ``"snapshot"``: a snapshot of every replica
      taken mid-run (not quiescent: Merkle roots at an arbitrary moment; recorded,
      as the machines record it, as a ``replicas`` observation);
      ``"hints"``: the hinted writes fallbacks still hold (after settling);
      ``"handoff"``: mid-run, the fallbacks' hints handed off on a copy of the cluster
      recovered as a run's end recovers (:func:`~replicheck.properties.mechanisms.
      handoff_probe`; nothing when they hold none);
      ``"read-repair"``: for every key of the suite's key space whose replicas
      disagree, one read on a copy of the cluster with every message delivered
      (before and after); ``"sync-twins"``: one anti-entropy session between every
      pair of nodes on a copy of the cluster whose messages were delivered (the keys
      that differed and those repaired); ``"availability"``: requests on copies of
      the cluster with one replica of each partition cut off
      (:mod:`~replicheck.properties.liveness`). An ``anti_entropy`` step also records
      what that session differed on and repaired.

:func:`load` refuses a malformed file with a :class:`ScheduleError` naming the step
index and what was expected; :func:`dump` writes the canonical form (sorted keys, one
step per line).

Recording a schedule
    :class:`ScheduleRecorder` wraps a schedulable store and appends every call it
    forwards (``submit``, ``decide``, the faults, ``advance``, ``run_for``, ``anti_entropy``,
    ``anti_entropy_round``, ``settle``, ``replicas_observation``, ``stream_records``);
    any other attribute is the wrapped store's. A machine that builds its store as
    ``ScheduleRecorder(factory(), target, seed)`` (and drives everything through it)
    can write the schedule of a failing example with
    :func:`write_schedule_on_failure`::

        try:
            assert not failed, ...
        except AssertionError:
            path = write_schedule_on_failure(self.raw, "replicheck-failure.json")
            raise

    which returns the path written (None when the store is no ScheduleRecorder or
    the file could not be written: it never masks the failure). It adds the
    ``observe`` steps the claims need (replicas for ``convergence``, the stream for
    the stream guarantees) when the recorded steps end without them and replay can
    take them on that store (:func:`claimed_observations`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from replicheck.histories.history import HistoryError
from replicheck.histories.items import request_from_json, request_to_json
from replicheck.implementation.store import (
    Decision,
    Deliver,
    Descriptor,
    Drop,
    Duplicate,
    Fire,
    Handle,
    MessageControl,
    Store,
)
from replicheck.models.items.requests import Put, Request, Response, TableSchema, request_kind

__all__ = [
    "BURST_DECISIONS",
    "SCHEMA",
    "STEP_KINDS",
    "Schedule",
    "ScheduleError",
    "ScheduleRecorder",
    "burst_requests",
    "burst_step",
    "check_step",
    "claimed_observations",
    "completed_schedule",
    "counterexample_schedule",
    "decision_from_json",
    "decision_to_json",
    "describe_request",
    "describe_step",
    "describe_teardown",
    "dump",
    "dumps",
    "fair_decision",
    "load",
    "loads",
    "run_burst",
    "submit_at",
    "submit_step",
    "write_schedule_on_failure",
]

SCHEMA: Final = 1
"""The schedule format's version."""

STEP_KINDS: Final = ("submit", "decide", "partition", "heal", "crash", "restart", "pause",
                     "resume", "skew", "advance", "run_for", "anti_entropy", "settle", "run",
                     "burst", "observe")
"""Every step kind, in the order the module docstring lists them."""

OBSERVATIONS: Final = ("replicas", "stream", "snapshot", "hints", "handoff", "read-repair",
                       "sync-twins", "availability")

_DECISIONS: Final[dict[str, type[Deliver] | type[Drop] | type[Duplicate] | type[Fire]]] = {
    "deliver": Deliver, "drop": Drop, "duplicate": Duplicate, "fire": Fire}


class ScheduleError(ValueError):
    """A malformed schedule (or a step the store refused): says where (the file, the
    step index) and what was expected."""

    def __init__(self, message: str, *, source: str | None = None, step: int | None = None
                 ) -> None:
        self.message = message
        self.source = source
        self.step = step
        where = ": ".join(p for p in (source, None if step is None else f"step {step}")
                          if p is not None)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Schedule:
    """A store target (and seed) and the steps to run on it, each a one-member dict
    in the JSON form of the module docstring."""

    target: str
    seed: int = 0
    steps: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    guarantee: str | None = None
    """What the file was written to show (module docstring); None: the claims only."""

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object."""
        head: dict[str, Any] = {"schema": SCHEMA, "target": self.target, "seed": self.seed}
        if self.guarantee is not None:
            head["guarantee"] = self.guarantee
        return {**head, "steps": [dict(s) for s in self.steps]}


# -- decisions ----------------------------------------------------------------------------


def decision_to_json(decision: Any) -> dict[str, int]:
    """``{"deliver": id}`` etc.; TypeError for a decision of another kind."""
    if isinstance(decision, Deliver | Drop | Duplicate):
        return {type(decision).__name__.lower(): decision.message}
    if isinstance(decision, Fire):
        return {"fire": decision.timer}
    raise TypeError(f"cannot write the decision {decision!r} in a schedule; expected "
                    "Deliver, Drop, Duplicate or Fire")


def decision_from_json(obj: Any) -> Decision:
    """The decision ``{"deliver": id}`` (etc.) stands for; ValueError saying what was
    expected."""
    if not isinstance(obj, Mapping) or len(obj) != 1:
        raise ValueError(f"decide is {_show(obj)}; expected one of "
                         + ", ".join(f'{{"{k}": id}}' for k in _DECISIONS))
    ((name, ident),) = obj.items()
    kind = _DECISIONS.get(name)
    if kind is None:
        raise ValueError(f"decide is a {name!r} decision; expected one of "
                         f"{', '.join(_DECISIONS)}")
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise ValueError(f"decide {name} has id {_show(ident)}; expected an integer")
    return kind(ident)


# -- reading and writing ------------------------------------------------------------------


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} is {_show(value)}; expected a non-empty string")
    return value


def check_step(step: Any) -> dict[str, Any]:
    """``step`` validated (ValueError saying what was expected), as a plain dict."""
    if not isinstance(step, Mapping) or len(step) != 1:
        raise ValueError(f"is {_show(step)}; expected an object with one member, one of "
                         f"{', '.join(STEP_KINDS)}")
    ((kind, body),) = step.items()
    if kind == "submit":
        if not isinstance(body, Mapping) or set(body) - {"client", "request", "kind", "node"} \
                or "client" not in body or "request" not in body:
            raise ValueError(f"submit is {_show(body)}; expected "
                             '{"client": NAME, "request": {...}} (and optionally "kind", '
                             '"node")')
        _string(body["client"], "submit client")
        if "node" in body:
            _string(body["node"], "submit node")
        kind_name = body.get("kind")
        if kind_name is not None:
            _string(kind_name, "submit kind")
        try:
            request_from_json(body["request"], kind_name, path="submit.request")
        except HistoryError as error:
            raise ValueError(str(error)) from None
    elif kind == "decide":
        decision_from_json(body)
    elif kind == "partition":
        if not isinstance(body, list) or not all(
                isinstance(g, list) and all(isinstance(n, str) for n in g) for g in body):
            raise ValueError(f"partition is {_show(body)}; expected a list of groups of "
                             'node names, e.g. [["n1"], ["n2", "n3"]]')
    elif kind == "heal":
        if body != {}:
            raise ValueError(f"heal is {_show(body)}; expected {{}}")
    elif kind in ("crash", "restart", "pause", "resume"):
        _string(body, kind)
    elif kind == "skew":
        if not (isinstance(body, list) and len(body) == 2 and isinstance(body[0], str)
                and isinstance(body[1], int | float) and not isinstance(body[1], bool)):
            raise ValueError(f"skew is {_show(body)}; expected [node, seconds]")
    elif kind in ("advance", "run_for"):
        if not (isinstance(body, int | float) and not isinstance(body, bool) and body > 0
                and math.isfinite(body)):
            raise ValueError(f"{kind} is {_show(body)}; expected a positive number of "
                             "seconds")
    elif kind == "anti_entropy":
        if not (isinstance(body, list) and len(body) == 3
                and all(isinstance(x, str) for x in body)):
            raise ValueError(f"anti_entropy is {_show(body)}; expected [a, b, table]")
    elif kind == "settle":
        if not isinstance(body, Mapping) or set(body) - {"seconds"} or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in body.values()):
            raise ValueError(f"settle is {_show(body)}; expected {{}} or "
                             '{"seconds": S}')
    elif kind == "run":
        steps = body.get("steps", 1) if isinstance(body, Mapping) else None
        if not isinstance(body, Mapping) or set(body) - {"steps"} or not isinstance(
                steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"run is {_show(body)}; expected {{}} or "
                             '{"steps": N} with N a positive integer')
    elif kind == "burst":
        if not isinstance(body, Mapping) or set(body) != {"client", "request", "count"}:
            raise ValueError(f"burst is {_show(body)}; expected "
                             '{"client": NAME, "request": {...}, "count": N}')
        _string(body["client"], "burst client")
        count = body["count"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"burst count is {_show(count)}; expected a positive integer")
        try:
            request = request_from_json(body["request"], "put", path="burst.request")
        except HistoryError as error:
            raise ValueError(str(error)) from None
        if not isinstance(request, Put):
            raise ValueError("burst request is not a put")
    elif kind == "observe":
        if body not in OBSERVATIONS:
            raise ValueError(f"observe is {_show(body)}; expected one of "
                             f"{', '.join(OBSERVATIONS)}")
    else:
        raise ValueError(f"is a {kind!r} step; expected one of {', '.join(STEP_KINDS)}")
    return {kind: body}


def from_json(obj: Any, *, source: str | None = None) -> Schedule:
    """The schedule a JSON object stands for; ScheduleError naming the step index and
    what was expected."""
    if not isinstance(obj, Mapping):
        raise ScheduleError(f"is {_show(obj)}; expected an object with target, seed "
                            "and steps", source=source)
    unknown = sorted(set(obj) - {"schema", "target", "seed", "guarantee", "steps"})
    if unknown:
        raise ScheduleError(f"unknown member(s) {unknown}; expected schema, target, seed, "
                            "guarantee, steps", source=source)
    guarantee = obj.get("guarantee")
    if guarantee is not None and (not isinstance(guarantee, str) or not guarantee):
        raise ScheduleError(f"guarantee is {_show(guarantee)}; expected a guarantee ID",
                            source=source)
    if obj.get("schema", SCHEMA) != SCHEMA:
        raise ScheduleError(f"schema is {_show(obj.get('schema'))}; expected {SCHEMA}",
                            source=source)
    target = obj.get("target")
    if not isinstance(target, str) or not target:
        raise ScheduleError(f"target is {_show(target)}; expected a preset name, "
                            "mutant:NAME or package.module:factory", source=source)
    seed = obj.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ScheduleError(f"seed is {_show(seed)}; expected an integer", source=source)
    steps = obj.get("steps")
    if not isinstance(steps, list):
        raise ScheduleError(f"steps is {_show(steps)}; expected a list of steps",
                            source=source)
    checked = []
    for i, step in enumerate(steps):
        try:
            checked.append(check_step(step))
        except ValueError as error:
            raise ScheduleError(str(error), source=source, step=i) from None
    return Schedule(target, seed, tuple(checked), guarantee)


def counterexample_schedule(cx: Any) -> Schedule | None:
    """The schedule file of the counterexample ``cx`` (a
    :class:`~replicheck.properties.outcomes.Counterexample`): its schedule, naming its
    guarantee, so that replaying an observation judges and shows the observed
    guarantee too; None when it has no schedule. Every writer of counterexample
    files uses this."""
    if cx.schedule is None:
        return None
    return replace(from_json(cx.schedule), guarantee=cx.guarantee)


def loads(text: str, *, source: str | None = None) -> Schedule:
    """Parse a schedule from JSON text (ScheduleError when malformed)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScheduleError(f"not JSON: {error.msg} at line {error.lineno} column "
                            f"{error.colno}", source=source) from None
    return from_json(obj, source=source)


def load(path: str | Path) -> Schedule:
    """Read the schedule file ``path``; ScheduleError when it is missing, not UTF-8,
    not JSON, or a step is malformed (naming the step index and what was expected)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScheduleError("no such schedule file", source=source) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScheduleError(f"cannot read it: {error}", source=source) from None
    return loads(text, source=source)


def dumps(schedule: Schedule) -> str:
    """The canonical JSON text of ``schedule``: one step per line, sorted keys."""
    for i, step in enumerate(schedule.steps):
        try:
            check_step(step)
        except ValueError as error:
            raise ScheduleError(str(error), step=i) from None
    head = json.dumps({k: v for k, v in schedule.to_json().items() if k != "steps"},
                      sort_keys=True)[:-1]
    steps = ",\n".join("  " + json.dumps(s, sort_keys=True, ensure_ascii=False)
                       for s in schedule.steps)
    return f'{head}, "steps": [\n{steps}\n]}}\n' if steps else f'{head}, "steps": []}}\n'


def dump(schedule: Schedule, path: str | Path) -> Path:
    """Write ``schedule`` to ``path`` (canonical form); returns the path."""
    out = Path(path)
    out.write_text(dumps(schedule), encoding="utf-8")
    return out


# -- recording ----------------------------------------------------------------------------


def submit_step(client: str, request: Request) -> dict[str, Any]:
    """The ``submit`` step of ``request`` for ``client``."""
    return {"submit": {"client": client, "kind": request_kind(request),
                       "request": request_to_json(request)}}


BURST_DECISIONS: Final = 500
"""The most fair decisions one put of a burst takes before the burst stops."""


def burst_step(client: str, request: Put, count: int) -> dict[str, Any]:
    """The ``burst`` step: ``client`` puts ``request``'s item ``count`` times."""
    return {"burst": {"client": client, "request": request_to_json(request),
                      "count": count}}


def burst_requests(request: Put, count: int) -> tuple[Put, ...]:
    """The puts of a burst: ``request``'s item with ``v`` = ``"b0"``, ``"b1"``, ..."""
    return tuple(replace(request, item={**request.item, "v": f"b{i}"})
                 for i in range(count))


def fair_decision(store: Any) -> Any:
    """The fair policy's next decision among ``store.decisions()``: the first
    delivery (the oldest deliverable message), else the first timer (the earliest),
    else None. Asked of the simulation's own ``default_decision`` when the store
    (or the store a recording wraps) has one: the same choice, without listing every
    drop and duplication of every message in flight."""
    inner = unwrapped(store)
    if isinstance(inner, MessageControl):
        return inner.default_decision()
    decisions = tuple(store.decisions())
    for wanted in ("Deliver", "Fire"):  # by name: a store may bring its own classes
        for decision in decisions:
            if type(decision).__name__ == wanted:
                return decision
    return None


def unwrapped(store: Any) -> Any:
    """The store under any :class:`~replicheck.properties.recording.RecordingStore`
    and :class:`ScheduleRecorder` wrapping it."""
    from replicheck.properties.recording import RecordingStore

    while isinstance(store, RecordingStore | ScheduleRecorder):
        store = store.store
    return store


def run_burst(recording: Any, client: str, request: Put, count: int) -> tuple[Handle, ...]:
    """Run a burst (module docstring) through ``recording`` (a schedulable store,
    e.g. a :class:`~replicheck.properties.recording.RecordingStore`) under the fair
    policy (:func:`fair_decision`); returns the handles of the puts submitted (only
    the last may still be in flight). The same store state always gives the same
    decisions, so a recorded burst replays exactly."""
    handles: list[Handle] = []
    for put in burst_requests(request, count):
        handle = recording.submit(client, put)
        handles.append(handle)
        for _ in range(BURST_DECISIONS):
            if handle.done:
                break
            decision = fair_decision(recording)
            if decision is None:
                break
            recording.decide(decision)
        if not handle.done:
            break
    return tuple(handles)


class ScheduleRecorder:
    """A schedulable store that appends every call it forwards to :attr:`steps`
    (module docstring); ``schedule()`` is what it recorded so far."""

    def __init__(self, store: Store, target: str, seed: int = 0) -> None:
        from replicheck.implementation.store import Schedulable

        if not isinstance(store, Schedulable):
            raise TypeError(f"{store.descriptor.name} is not schedulable: a schedule "
                            "needs the deterministic-scheduling capability")
        self.store: Any = store
        self.target = target
        self.seed = seed
        self.steps: list[dict[str, Any]] = []
        self.details: dict[int, str] = {}

    def __getattr__(self, name: str) -> Any:
        # only called for attributes this class lacks: the wrapped store's
        return getattr(self.__dict__["store"], name)

    def schedule(self) -> Schedule:
        """The schedule recorded so far."""
        return Schedule(self.target, self.seed, tuple(self.steps))

    def described(self, start: int = 0, stop: int | None = None) -> tuple[str, ...]:
        """The recorded steps ``start:stop`` in plain words (:func:`describe_step`;
        a decision names the message or timer it acted on, as it was when taken)."""
        end = len(self.steps) if stop is None else stop
        schemas = {t.name: t for t in self.descriptor.tables}
        return tuple(describe_step(self.steps[i], self.details.get(i), schemas)
                     for i in range(start, end))

    @property
    def descriptor(self) -> Descriptor:
        """The wrapped store's descriptor."""
        descriptor: Descriptor = self.store.descriptor
        return descriptor

    # -- Schedulable ------------------------------------------------------------------------

    def submit(self, client: str, request: Request) -> Handle:
        """Record and forward a submission."""
        self.steps.append(submit_step(client, request))
        handle: Handle = self.store.submit(client, request)
        return handle

    def submit_at(self, client: str, request: Request, node: str,
                  context: Mapping[str, int] | None = None) -> Handle:
        """Record a submission sent straight to ``node`` as its coordinator, and send
        it (bad input completes the handle at once, nothing sent); a put with a causal
        ``context`` is recorded with it (a step replay does not take: such a schedule
        is recorded, never written)."""
        if context is None:
            return submit_at(self.store, client, request, node, self.steps)
        step = submit_step(client, request)
        step["submit"].update(node=node, context=dict(context))
        self.steps.append(step)
        handle: Handle = self.store.submit_at(client, request, node, context)
        return handle

    @contextmanager
    def grouped(self, step: Mapping[str, Any]) -> Iterator[None]:
        """Record the calls made inside the block as the one ``step`` (e.g. a
        :func:`burst_step`, whose replay makes the same calls)."""
        start = len(self.steps)
        try:
            yield
        finally:
            del self.steps[start:]
            for index in [i for i in self.details if i >= start]:
                del self.details[index]
            self.steps.append(dict(step))

    def decisions(self) -> tuple[Any, ...]:
        """The wrapped store's decisions (nothing recorded)."""
        return tuple(self.store.decisions())

    def decide(self, decision: Any) -> None:
        """Record and forward a decision."""
        detail = _decision_detail(self.store, decision)
        if detail is not None:
            self.details[len(self.steps)] = detail
        self.steps.append({"decide": decision_to_json(decision)})
        self.store.decide(decision)

    def quiesce(self) -> int:
        """Deliver every deliverable message, oldest first (the first delivery the
        store's decisions list), each recorded as its own decision (the store's
        ``quiesce``); returns how many were delivered."""
        taken = 0
        while True:
            delivery = next((d for d in self.store.decisions() if isinstance(d, Deliver)),
                            None)
            if delivery is None:
                return taken
            self.decide(delivery)
            taken += 1

    def execute(self, request: Request) -> Response:
        """Submit on ``client-0`` and take fair decisions (each recorded) until the
        operation completes; answer as the Store contract says."""
        from replicheck.models.items.errors import Indeterminate

        handle = self.submit("client-0", request)
        while not handle.done:
            decision = fair_decision(self.store)
            if decision is None:
                break
            self.decide(decision)
        if handle.status == "ok":
            return handle.response if handle.response is not None else Response()
        if handle.error is not None:
            raise handle.error
        raise Indeterminate("the simulation went quiet before a reply")

    # -- faults and mechanisms --------------------------------------------------------------

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Record and forward a partition."""
        listed = [sorted(g) for g in groups]
        self.steps.append({"partition": listed})
        self.store.partition(listed)

    def heal(self) -> None:
        """Record and forward a heal."""
        self.steps.append({"heal": {}})
        self.store.heal()

    def crash(self, node: str) -> None:
        """Record and forward a crash."""
        self.steps.append({"crash": node})
        self.store.crash(node)

    def restart(self, node: str) -> None:
        """Record and forward a restart."""
        self.steps.append({"restart": node})
        self.store.restart(node)

    def pause(self, node: str) -> None:
        """Record and forward a pause."""
        self.steps.append({"pause": node})
        self.store.pause(node)

    def resume(self, node: str) -> None:
        """Record and forward a resume."""
        self.steps.append({"resume": node})
        self.store.resume(node)

    def skew_clock(self, node: str, seconds: float) -> None:
        """Record and forward a clock skew."""
        self.steps.append({"skew": [node, seconds]})
        self.store.skew_clock(node, seconds)

    def advance(self, seconds: float) -> None:
        """Record and forward a jump of global time (``advance``)."""
        self.steps.append({"advance": seconds})
        self.store.advance(seconds)

    def run_for(self, seconds: float) -> int:
        """Record and forward the store's own fair steps for ``seconds`` of simulated
        time (``run_for``); how many it took."""
        self.steps.append({"run_for": seconds})
        taken: int = self.store.run_for(seconds)
        return taken

    def anti_entropy(self, a: str, b: str, table: str) -> Any:
        """Record and forward one Merkle sync."""
        self.steps.append({"anti_entropy": [a, b, table]})
        return self.store.anti_entropy(a, b, table)

    def anti_entropy_round(self, table: str) -> list[Any]:
        """One sync between every pair of nodes (each recorded as its own step)."""
        nodes = tuple(self.store.nodes)
        return [self.anti_entropy(a, b, table)
                for i, a in enumerate(nodes) for b in nodes[i + 1:]]

    def settle(self, *args: Any, **kwargs: Any) -> Any:
        """Record and forward the store's ``settle`` (a ``seconds`` argument kept)."""
        body: dict[str, Any] = {}
        seconds = kwargs.get("seconds", args[0] if args else None)
        if isinstance(seconds, int | float):
            body["seconds"] = seconds
        self.steps.append({"settle": body})
        return self.store.settle(**body)

    def replicas_observation(self, table: str, **kwargs: Any) -> Any:
        """Forward, and record an ``observe replicas`` step (``observe snapshot``
        when not ``quiescent``)."""
        self.steps.append({"observe": "replicas" if kwargs.get("quiescent") else "snapshot"})
        return self.store.replicas_observation(table, **kwargs)

    def stream_records(self, table: str) -> Any:
        """Forward, and record an ``observe stream`` step."""
        self.steps.append({"observe": "stream"})
        return self.store.stream_records(table)

    def close(self) -> None:
        """Close the wrapped store when it has a ``close``."""
        close = getattr(self.store, "close", None)
        if callable(close):
            close()


def submit_at(store: Any, client: str, request: Request, node: str,
              steps: list[dict[str, Any]] | None = None) -> Handle:
    """Send ``request`` for ``client`` straight to ``node`` of the simulated ``store``
    (validated first: bad input completes the handle at once with the error), and
    append its ``submit`` step (with ``node``) to ``steps`` when given."""

    if steps is not None:
        step = submit_step(client, request)
        step["submit"]["node"] = node
        steps.append(step)
    handle: Handle = store.submit_at(client, request, node)
    return handle


def _decision_detail(store: Any, decision: Any) -> str | None:
    """What ``decision`` acts on, as the store (:class:`MessageControl`) shows it now:
    ``n1 -> n2 (append-entries)`` for a message, ``election at n2`` for a timer."""
    if not isinstance(store, MessageControl):
        return None
    if isinstance(decision, Fire):
        timer = next((t for t in store.pending_timers() if t.id == decision.timer), None)
        return None if timer is None else f"{timer.name} at {timer.owner}"
    if not isinstance(decision, Deliver | Drop | Duplicate):
        return None
    message = next((m for m in store.messages_in_flight() if m.id == decision.message), None)
    return None if message is None else f"{message.src} -> {message.dst} ({message.kind})"


def describe_request(request: Request,
                     schemas: Mapping[str, TableSchema] | None = None) -> str:
    """``request`` in DynamoDB's words (``models.items.wording.request_text``), e.g.
    ``PutItem k0 {v: "x"} if attribute_not_exists(pk)``."""
    from replicheck.models.items.wording import request_text

    return request_text(request, schemas)


def describe_teardown(steps: Sequence[Mapping[str, Any]]) -> str:
    """The steps that end an example (the concurrency property's teardown, a shrunk
    schedule's epilogue) as one line: ``then: heal, settle, anti-entropy on every pair``.
    Deliveries, drops and timer firings are counted (``drop 3 messages``), a
    duplicated message is named, restarts name their nodes, anti-entropy sessions
    that cover every pair of the nodes they name are one phrase, and observations
    come last."""
    words: list[str] = []
    counts: dict[str, int] = {}
    restarts: list[str] = []
    pairs: list[tuple[str, str]] = []
    observed: list[str] = []

    def say(text: str) -> None:
        if text not in words:
            words.append(text)

    for step in steps:
        ((kind, body),) = step.items()
        if kind == "decide" and isinstance(body, Mapping) and len(body) == 1 \
                and next(iter(body)) in ("deliver", "drop", "fire"):
            name = next(iter(body))
            say(name)  # a placeholder, counted below
            counts[name] = counts.get(name, 0) + 1
        elif kind == "restart":
            if not restarts:
                say("restart")
            restarts.append(str(body))
        elif kind == "anti_entropy":
            if not pairs:
                say("anti_entropy")
            pairs.append((str(body[0]), str(body[1])))
        elif kind == "observe":
            if body not in observed:
                observed.append(str(body))
        else:
            say({"heal": "heal", "run": "run until nothing is in flight",
                 "settle": "settle"}.get(kind) or describe_step(step))

    def phrase(word: str) -> str:
        if word in counts:
            n = counts[word]
            noun = "timer" if word == "fire" else "message"
            return f"{word} {n} {noun}{'s' if n != 1 else ''}"
        if word == "restart":
            return "restart " + ", ".join(restarts)
        if word == "anti_entropy":
            nodes = sorted({n for pair in pairs for n in pair})
            every = {frozenset(p) for p in pairs} >= {
                frozenset((a, b)) for i, a in enumerate(nodes) for b in nodes[i + 1:]}
            return "anti-entropy on every pair" if every else "anti-entropy " + ", ".join(
                f"{a} <-> {b}" for a, b in pairs)
        return word

    shown = [phrase(w) for w in words]
    if observed:
        shown.append("observe " + ", ".join(observed))
    return "then: " + (", ".join(shown) or "nothing")


def describe_step(step: Mapping[str, Any], detail: str | None = None,
                  schemas: Mapping[str, TableSchema] | None = None) -> str:
    """One schedule step in plain words, e.g. ``c0 submits PutItem a {v: "x"}``,
    ``deliver message 7 n1 -> n2 (append-entries)`` (``detail`` is what the
    decision acted on, when known), ``partition [n1] | [n2 n3]``, ``crash n2``."""
    ((kind, body),) = step.items()
    if kind == "submit":
        try:
            request = request_from_json(body["request"], body.get("kind"),
                                        path="submit.request")
            shown = describe_request(request, schemas)
        except (HistoryError, KeyError, TypeError, ValueError):
            shown = f"{body.get('kind', 'request')} {json.dumps(body.get('request'))}"
        node = f" to {body['node']}" if body.get("node") else ""
        return f"{body.get('client')} submits {shown}{node}"
    if kind == "decide":
        ((name, ident),) = body.items()
        noun = "timer" if name == "fire" else "message"
        return f"{name} {noun} {ident}" + (f" {detail}" if detail else "")
    if kind == "partition":
        return "partition " + " | ".join("[" + " ".join(g) + "]" for g in body)
    if kind == "heal":
        return "heal the partition"
    if kind in ("crash", "restart"):
        return f"{kind} {body}"
    if kind == "pause":
        return f"pause {body} (frozen: it receives nothing, fires no timer)"
    if kind == "resume":
        return f"resume {body}"
    if kind == "skew":
        return f"skew {body[0]}'s clock by {body[1]:+g} s"
    if kind == "advance":
        return f"time jumps {body:g} s forward (timers due meanwhile fire late)"
    if kind == "run_for":
        return f"run the store for {body:g} s of simulated time"
    if kind == "anti_entropy":
        return f"anti-entropy {body[0]} <-> {body[1]} on {body[2]}"
    if kind == "settle":
        return "settle" + (f" for {body['seconds']:g} s" if "seconds" in body else "")
    if kind == "run":
        return "run the fair policy" + (f" ({body['steps']} decisions)" if "steps" in body
                                        else "")
    if kind == "burst":
        try:
            item = getattr(request_from_json(body["request"], "put", path="burst.request"),
                           "item", body.get("request"))
            from replicheck.models.items.wording import value_text

            shown = value_text(dict(item))
        except (HistoryError, KeyError, TypeError, ValueError, AttributeError):
            shown = json.dumps(body.get("request"))
        count = body.get("count")
        return (f"{body.get('client')} puts {shown} {count} time(s) in a row "
                f"(v = b0 .. b{int(count) - 1 if isinstance(count, int) else '?'}), "
                "each to completion")
    if kind == "observe":
        return f"observe {body}"
    return f"{kind} {json.dumps(body, default=str)}"


def write_schedule_on_failure(store: Any, path: str | Path, guarantee: str | None = None
                              ) -> Path | None:
    """Write the schedule ``store`` (a :class:`ScheduleRecorder`, or a
    RecordingStore wrapping one) recorded to ``path``, adding the ``observe`` steps
    the store's claims need and naming ``guarantee`` (the one that failed); the path
    written, or None (not a recorder, or the file could not be written). Never
    raises: the caller is already failing."""
    try:
        schedule = completed_schedule(store)
        if schedule is None:
            return None
        schedule = replace(schedule, guarantee=guarantee)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return dump(schedule, path)
    except (OSError, ValueError, TypeError):
        return None


def completed_schedule(store: Any) -> Schedule | None:
    """The schedule ``store`` (a :class:`ScheduleRecorder`, or a RecordingStore
    wrapping one) recorded, with the ``observe`` steps the store's claims need added
    when the recorded steps end without them; None when it is no recorder."""
    recorder = store
    if not isinstance(recorder, ScheduleRecorder):
        recorder = getattr(store, "store", None)
    if not isinstance(recorder, ScheduleRecorder):
        return None
    steps = list(recorder.steps)
    tail = {s.get("observe") for s in steps[-2:]}
    steps += [{"observe": kind} for kind in claimed_observations(recorder.store)
              if kind not in tail]
    return Schedule(recorder.target, recorder.seed, tuple(steps))


def claimed_observations(store: Any) -> tuple[str, ...]:
    """The ``observe`` steps that end a schedule of ``store`` (the store itself, not a
    recorder) so that its claims can be judged: ``replicas`` for ``convergence``,
    ``stream`` for the stream guarantees; each only when replay can record it on this
    store (:func:`replicheck.properties.replay.can_observe`): a claim the store gives
    no means to check stays unjudged rather than making the schedule unreplayable."""
    from replicheck.properties.replay import can_observe

    claims = {str(c.guarantee) for c in store.descriptor.claims}
    wanted = []
    if "convergence" in claims:
        wanted.append("replicas")
    if claims & {"stream-exactly-once", "stream-item-order"}:
        wanted.append("stream")
    return tuple(kind for kind in wanted if can_observe(store, kind))
