"""The stateful machines that probe a store.

:func:`conformance_machine` (machine 1, any store): one client; each rule sends a
request drawn from :mod:`replicheck.properties.strategies` to the store AND applies it
to the item model (``models.items.operations.apply``), and asserts the same answer:
equal responses, or errors with equal codes (and equal cancellation reasons). Only the
operation kinds the store claims linearizable are compared; a read of another kind
(an eventually consistent read) is sent but not compared.

:func:`concurrency_machine` (machine 2, stores with ``deterministic-scheduling``): three
clients submit requests; rules choose every scheduler decision (deliver, drop,
duplicate, fire), partition, heal, crash, restart and skew clocks (with ``faults``),
or run the fair policy a few steps. Teardown heals, restarts every node, runs until
every operation completes, observes replicas and streams when the store can, and
judges every claimed guarantee with :mod:`replicheck.properties.guarantees`: a claimed
guarantee violated fails with the verdict's explanation; an anomaly the store does
not claim to prevent is added to :data:`OBSERVATIONS` (never a failure).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import hypothesis
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from replicheck.histories.history import History, Operation
from replicheck.implementation.store import (
    AntiEntropy,
    Capability,
    Descriptor,
    DirectRouting,
    Drop,
    FaultInjectable,
    Forkable,
    Handle,
    HintSnapshots,
    Introspectable,
    Leadership,
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
from replicheck.models.items.errors import StoreError, TransactionCanceled
from replicheck.models.items.operations import Database, apply, empty
from replicheck.models.items.requests import (
    ConditionCheck,
    Delete,
    Get,
    Put,
    Request,
    Response,
    TransactWrite,
    Update,
    request_kind,
)
from replicheck.models.items.values import key_text
from replicheck.models.items.wording import answer_text, request_text, value_text
from replicheck.properties import strategies
from replicheck.properties.examples import ExampleReport, GuaranteeViolation, report_example
from replicheck.properties.guarantees import (
    OBSERVED,
    READ_KINDS,
    VIOLATED,
    Judgement,
    _merge_entries,
    judge_anomalies,
    judge_anomaly,
    judge_claims,
    judge_guarantee,
)
from replicheck.properties.liveness import record_availability
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.own_execute import check_own_execute, own_execute_twin
from replicheck.properties.recording import RecordingStore
from replicheck.properties.replicas import (
    fair_step,
    heal_dropping,
    idle_client,
    leader_replicas_observation,
    shared_ranges,
    sync_session,
)
from replicheck.properties.schedule import (
    ScheduleRecorder,
    burst_step,
    completed_schedule,
    describe_teardown,
    run_burst,
    write_schedule_on_failure,
)
from replicheck.properties.search.driver import probe_surface

__all__ = [
    "CLIENTS",
    "CONFORMANCE",
    "FAILURE_DIR_ENV",
    "OBSERVATIONS",
    "PROPERTY",
    "GuaranteeViolation",
    "Observation",
    "close_store",
    "concurrency_machine",
    "conformance_machine",
    "failure_path",
    "hinted_states",
    "hints_observation",
    "read_repair_probes",
    "twin_sync_observations",
]

CLIENTS: Final = ("c0", "c1", "c2")
"""The clients of machine 2. Every client is named ``cN`` (machine 1's one client is
``c0``; the threaded machine's are ``c0`` to ``c2``), and reports label operations by
client (``histories.wording.process_label``): ``c1/2`` is client ``c1``'s second
process, the one it continues under after an indeterminate answer."""

CONFORMANCE_CLIENT: Final = "c0"
"""The one client of machine 1."""

RACERS: Final = ("c3", "c4", "c5")
"""The clients of machine 2's ``race`` rule (they submit together, on one key), apart
from :data:`CLIENTS` so that a race never waits for a busy client."""

MAX_CALL_DECISIONS: Final = 500
"""The most fair decisions the ``call`` rule takes to complete its operation."""

MAX_SETTLE_DECISIONS: Final = 20_000
"""The most fair decisions teardown takes to complete the operations in flight."""

PROPERTY: Final = "concurrent-histories-under-faults"
"""The suite property machine 2 is (its counterexamples name it)."""

CONFORMANCE: Final = "sequential-model-conformance"
"""The suite property machine 1 is."""

CONFORMANCE_CHECKER: Final = "item model conformance (one client)"
"""What decides machine 1's guarantees: each answer compared with the item model's."""

FAILURE_DIR_ENV: Final = "REPLICHECK_FAILURE_DIR"
"""Environment variable: the folder failing examples' schedule files go to."""


@contextlib.contextmanager
def failures_to(folder: str | Path | None) -> Iterator[None]:
    """Within the block, machines write failing schedules to ``folder`` (through
    :data:`FAILURE_DIR_ENV`, restored after); unchanged when None."""
    if folder is None:
        yield
        return
    before = os.environ.get(FAILURE_DIR_ENV)
    os.environ[FAILURE_DIR_ENV] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FAILURE_DIR_ENV, None)
        else:
            os.environ[FAILURE_DIR_ENV] = before

UNCLAIMED_TIMEOUT: Final = 5.0
"""The checker time limit, in seconds, of a guarantee the store does not claim."""


@dataclass(frozen=True)
class Observation:
    """An anomaly a store does not claim to prevent, seen in one example: the store,
    the guarantee it bears on, and the checker's explanation."""

    store: str
    guarantee: str
    explanation: str


OBSERVATIONS: list[Observation] = []
"""Every observation made in this process, in order (the plugin prints them)."""


def _observe(store: str, judgement: Judgement, label: str | None = None) -> None:
    observation = Observation(store, label or judgement.guarantee, judgement.explanation())
    if observation not in OBSERVATIONS:
        OBSERVATIONS.append(observation)


def close_store(store: object) -> None:
    """Call ``store.close()`` when the store has one."""
    close = getattr(store, "close", None)
    if callable(close):
        close()


def _probe(factory: Callable[[], Store]) -> tuple[Descriptor, tuple[str, ...]]:
    store = factory()
    try:
        if isinstance(store, Topology):
            nodes = tuple(store.nodes)
        elif isinstance(store, Introspectable):
            nodes = tuple(store.replicas())
        else:
            nodes = ()
        return store.descriptor, nodes
    finally:
        close_store(store)


def _pk(descriptor: Descriptor) -> tuple[str, str]:
    schema = descriptor.tables[0]
    return schema.name, schema.partition_key


def compared_kinds(descriptor: Descriptor) -> frozenset[str]:
    """The operation kinds whose answers machine 1 compares with the model: those a
    linearizability, serializability or atomicity claim covers (writes with any
    such claim)."""
    kinds: set[str] = set()
    for claim in descriptor.claims:
        if claim.guarantee in ("linearizable-strong-reads", "linearizable-conditional-writes",
                               "serializable-transactions", "atomic-transactions"):
            kinds |= claim.operations
    if kinds & {"put", "update", "delete", "conditional-write"}:
        kinds |= {"put", "update", "delete"}
    return frozenset(kinds)


def _outcome(run: Callable[[], Response]) -> tuple[Any, ...]:
    try:
        response = run()
    except TransactionCanceled as error:
        return ("error", error.code, tuple(r.code for r in error.reasons))
    except StoreError as error:
        return ("error", error.code, getattr(error, "item", None))
    return ("ok", response.item, tuple(response.items))


def conformance_machine(factory: Callable[[], Store], *, target: str | None = None,
                        seed: int = 0) -> type[RuleBasedStateMachine]:
    """Machine 1 for the store ``factory`` builds (one fresh store per example, closed
    in teardown, every request recorded in a history). Fails with
    :class:`GuaranteeViolation` when the store's answer to a compared request differs
    from the item model's; its :class:`Counterexample` lists the requests sent and
    the mismatch, with the recorded history (and, for a schedulable store with a
    ``target``, the replayable schedule)."""
    descriptor, _ = _probe(factory)
    table, pk = _pk(descriptor)
    kinds = compared_kinds(descriptor)
    transactions = descriptor.has(Capability.TRANSACTIONS)
    requests = strategies.requests(table, pk, transactions=transactions)

    class Conformance(RuleBasedStateMachine):
        """The store answers as the sequential item model does."""

        def __init__(self) -> None:
            super().__init__()
            made: Any = factory()
            self.raw: Any = made
            if target is not None and isinstance(made, Schedulable):
                self.raw = ScheduleRecorder(self.raw, target, seed)
            self.store = RecordingStore(self.raw)
            self.db: Database = empty(*made.descriptor.tables)
            self.lost = False
            self.rules_run = 0
            self.sent: list[str] = []
            self.compared: set[str] = set()
            self.schemas = {t.name: t for t in made.descriptor.tables}

        @rule(request=requests)
        def send(self, request: Request) -> None:
            self.rules_run += 1
            kind = request_kind(request)
            self.sent.append(f"{CONFORMANCE_CLIENT} sends "
                             f"{request_text(request, self.schemas)}")
            twin = own_execute_twin(self.raw)
            actual = _outcome(lambda: self.store.execute(request, CONFORMANCE_CLIENT))
            if twin is not None:
                check_own_execute(twin, request, actual, _outcome)
            if actual[0] == "error" and actual[1] == "Indeterminate":
                self.lost = True  # the model can no longer know the state
                return
            if self.lost:
                return
            after: list[Database] = []

            def model() -> Response:
                db, response = apply(self.db, request)
                after.append(db)
                return response

            expected = _outcome(model)
            if after:
                self.db = after[0]
            conditional = getattr(request, "condition", None) is not None
            compared = kind in kinds or (conditional and "conditional-write" in kinds)
            if kind in READ_KINDS and not compared:
                return
            if actual != expected:
                self._fail(request, kind, actual, expected, conditional)
            self.compared.add(_conformance_guarantee(descriptor, kind, conditional))

        def _fail(self, request: Request, kind: str, actual: tuple[Any, ...],
                  expected: tuple[Any, ...], conditional: bool) -> None:
            guarantee = _conformance_guarantee(descriptor, kind, conditional)
            explanation = (f"{descriptor.name} answered "
                           f"{request_text(request, self.schemas)} with "
                           f"{_shown_outcome(request, actual)}; the sequential model "
                           f"answers {_shown_outcome(request, expected)}")
            schedule = completed_schedule(self.raw) if target is not None else None
            counterexample = Counterexample(
                CONFORMANCE, guarantee, explanation,
                steps=(*self.sent, f"the store answered {_shown_outcome(request, actual)}; "
                       f"the sequential model answers {_shown_outcome(request, expected)}"),
                decisions=len(self.sent), history=self.store.history(),
                schedule=None if schedule is None else schedule.to_json())
            message = explanation
            if schedule is not None:
                written = write_schedule_on_failure(self.raw, failure_path(target or ""),
                                                    guarantee)
                if written is not None:
                    message += (f"\n\nschedule written to {written}\n"
                                f"replay it with: replicheck replay {written}")
            self.compared.discard(guarantee)
            report_example(ExampleReport(CONFORMANCE, {
                **{g: "holds" for g in self.compared}, guarantee: VIOLATED},
                checkers={g: CONFORMANCE_CHECKER for g in {*self.compared, guarantee}}))
            self.reported = True
            raise GuaranteeViolation(message, (guarantee,), counterexample)

        def teardown(self) -> None:
            if not getattr(self, "reported", False):
                report_example(ExampleReport(
                    CONFORMANCE, {g: "holds" for g in sorted(self.compared)},
                    checkers={g: CONFORMANCE_CHECKER for g in self.compared}))
            close_store(self.raw)

    Conformance.__name__ = Conformance.__qualname__ = "Conformance"
    return Conformance


def label_clients(words: tuple[str, ...], steps: list[dict[str, Any]], history: History
                   ) -> tuple[str, ...]:
    """The described ``steps`` with each submission's client named as the history
    labels its operation (``c0/2`` once ``c0`` continued under a fresh process after
    an indeterminate answer): a client's submissions are its operations, in order."""
    from replicheck.histories.wording import CLIENT, process_label

    ops: dict[str, list[Operation]] = {}
    for op in sorted(history.operations, key=lambda o: o.call):
        client = op.meta.get(CLIENT)
        if isinstance(client, str):
            ops.setdefault(client, []).append(op)
    taken: dict[str, int | None] = {}
    out = list(words)
    for i, step in enumerate(steps):
        ((kind, body),) = step.items()
        client = body.get("client") if isinstance(body, dict) else None
        if kind not in ("submit", "burst") or not isinstance(client, str):
            continue
        at = taken.get(client, 0)
        if kind == "burst" or at is None:
            taken[client] = None  # a burst may stop early: its count says nothing
            continue
        taken[client] = at + 1
        mine = ops.get(client, [])
        if at < len(mine) and out[i].startswith(f"{client} "):
            out[i] = process_label(mine[at]) + out[i][len(client):]
    return tuple(out)


def _shown_outcome(request: Request, outcome: tuple[Any, ...]) -> str:
    """An answer of :func:`_outcome` in DynamoDB's words (``{v: "v2"}``, ``no item``,
    ``ok``, ``ConditionalCheckFailed``, ``TransactionCanceled [None,
    ConditionalCheckFailed]``)."""
    if outcome[0] == "error":
        reasons = outcome[2] if isinstance(outcome[2], tuple) else ()
        text = str(outcome[1]) + (f" [{', '.join(reasons)}]" if reasons else "")
        if isinstance(outcome[2], Mapping):
            text += f" (old item {value_text(outcome[2])})"
        return text
    return answer_text(request, Response(outcome[1], outcome[2]))


def _conformance_guarantee(descriptor: Descriptor, kind: str, conditional: bool) -> str:
    """The claimed guarantee a wrong answer to a ``kind`` request breaks."""
    claimed = [str(c.guarantee) for c in descriptor.claims]
    wanted: tuple[str, ...]
    if kind in ("transact-write", "transact-get"):
        wanted = ("atomic-transactions", "serializable-transactions")
    elif conditional:
        wanted = ("linearizable-conditional-writes",)
    else:
        wanted = ()
    candidates: tuple[str, ...] = (*wanted, "linearizable-strong-reads",
                                   "linearizable-conditional-writes")
    for guarantee in candidates:
        if guarantee in claimed:
            return guarantee
    return claimed[0] if claimed else "linearizable-strong-reads"


def _leader_replicas_observation(store: Any, table: str) -> dict[str, Any] | None:
    """Every replica of a leader-mode store (:func:`leader_replicas_observation`:
    ranges when it says which partition holds a key, else every node replicates every
    key, as a global table's regions do); None when it cannot show its replicas."""
    if not (isinstance(store, ReplicaSnapshots) and isinstance(store, Introspectable)):
        return None
    return leader_replicas_observation(store, table)


def _stream_observation(store: Any, table: str) -> dict[str, Any]:
    records = [{"table": r.table, "event": r.event, "key": list(r.key),
                "sequence": r.sequence, "old_image": r.old_image, "new_image": r.new_image}
               for r in store.stream_records(table)]
    return {"table": table, "records": records, "complete": True}



RACES: Final = ("create", "increment", "put", "txn-increment")
"""The shapes of the ``race`` rule's concurrent requests on one key."""


def _increment(table: str, pk: str, key: str) -> Update:
    """Add one to the item's ``n`` (created at 1)."""
    return Update(table, {pk: key}, "SET n = if_not_exists(n, :zero) + :one",
                  values={":zero": Decimal(0), ":one": Decimal(1)})


def _race_request(kind: str, table: str, pk: str, key: str, value: str, other: str
                  ) -> Request:
    increment = _increment(table, pk, key)
    if kind == "create":
        return Put(table, {pk: key, "v": value}, "attribute_not_exists(" + pk + ")")
    if kind == "increment":
        return increment
    if kind == "txn-increment":
        return TransactWrite((increment, Put(table, {pk: other, "v": value})))
    return Put(table, {pk: key, "v": value})


def _entries(store: Any, table: str, node: str) -> dict[str, Any]:
    return {key_text(k): v for k, v in store.replica_versions(node, table).items()}


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _drop(message_id: int) -> Drop:
    return Drop(message_id)


def _target_divergence(observation: dict[str, Any]) -> None:
    """Steer generation towards replicas that disagree and keys with siblings."""
    replicas = observation.get("replicas", {})
    keys = {k for held in replicas.values() for k in held}
    diverging = sum(1 for k in keys
                    if len({_canon(held.get(k)) for held in replicas.values()}) > 1)
    siblings = max((len(entry.get("siblings", ())) for held in replicas.values()
                    for entry in held.values() if isinstance(entry, dict)), default=0)
    _target(float(diverging), "diverging keys")
    _target(float(siblings), "siblings")


def _target(value: float, label: str) -> None:
    """``hypothesis.target`` inside a test; nothing when a machine runs by hand."""
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        hypothesis.target(value, label=label)


def _read_repair_probe(store: Any, table: str, pk: str, key: str) -> dict[str, Any] | None:
    """On a copy of ``store`` (:class:`Forkable`) with every message delivered: when
    the key's replicas disagree, one read coordinated by its first replica, every
    message delivered again; the replicas' entries before, the merge of what they
    held (computed by the checker's rule, from the entries), and their entries
    after. None when they agree (no stale replica to repair)."""
    owners = tuple(store.preference_list(table, {pk: key}))
    text = key_text((key,))
    twin = store.fork()
    twin.quiesce()
    before = {n: _entries(twin, table, n).get(text) for n in owners}
    if len({_canon(e) for e in before.values()}) <= 1:
        return None
    held = [e for e in before.values() if e is not None]
    merged = _merge_entries(held) if held else None
    read = twin.submit_at("read-repair-probe", Get(table, {pk: key}), owners[0])
    twin.quiesce()
    after = {n: _entries(twin, table, n).get(text) for n in owners}
    return {"table": table, "key": text, "coordinator": owners[0],
            "answered": read.status == "ok", "before": before, "merged": merged,
            "after": after}


def read_repair_probes(store: Any, table: str, pk: str) -> list[dict[str, Any]]:
    """The read-repair probe (on a copy of ``store``) of every key of the suite's key
    space whose replicas disagree, in key order."""
    probes = []
    for key in strategies.KEYS:
        probe = _read_repair_probe(store, table, pk, key)
        if probe is not None:
            probes.append(probe)
    return probes


def twin_sync_observations(store: Any, table: str, nodes: tuple[str, ...]
                           ) -> list[dict[str, Any]]:
    """On a copy of ``store`` where the messages in flight were delivered but no
    timer fired (no retry, no handoff yet): one anti-entropy session between every
    pair of nodes that share a range, each as the ``anti-entropy`` observation."""
    twin = store.fork()
    twin.quiesce()
    return [sync_session(twin, table, a, b)
            for i, a in enumerate(nodes) for b in nodes[i + 1:]
            if shared_ranges(twin, table, a, b)]


def hinted_states(store: Any, table: str) -> list[dict[str, Any]]:
    """Every hinted state the fallbacks of ``store`` hold for ``table``, read from
    their storage: ``{"fallback", "owner", "key" (key text), "entry"}`` each (empty
    when the store cannot show its hints)."""
    if not (isinstance(store, HintSnapshots) and isinstance(store, Topology)):
        return []
    return [{"fallback": node, "owner": owner, "key": key_text(key), "entry": entry}
            for node in store.nodes
            for (owner, key), entry in sorted(store.hinted(node, table).items(), key=repr)]


def hints_observation(store: Any, table: str,
                      before: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``hints`` observation after settling: ``held``, the hinted states the
    fallbacks held before settling (``before``, when the caller read them) and still
    hold now, and ``owners``, each of their owners' entries for those keys now; the
    store's own count of pending hints is kept as ``pending`` (shown, never
    judged)."""
    held = [dict(h) for h in before or ()]
    for hint in hinted_states(store, table):
        if hint not in held:
            held.append(hint)
    owners: dict[str, dict[str, Any]] = {}
    for owner in sorted({h["owner"] for h in held}):
        entries = {key_text(k): v for k, v in store.replica_versions(owner, table).items()}
        owners[owner] = {h["key"]: entries.get(h["key"]) for h in held if h["owner"] == owner}
    pending = store.pending_hints() if isinstance(store, HintSnapshots) else 0
    return {"table": table, "settled": True, "pending": int(pending), "held": held,
            "owners": owners}


def failure_path(target: str) -> Path:
    """Where a failing example's schedule is written: ``$REPLICHECK_FAILURE_DIR``
    (else the current directory) / ``replicheck-failure-<target>-<hash>.json``; the
    same file for the same target, so the last failing example (the minimal one
    Hypothesis replays) is what it holds."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", target).strip("-")[:40] or "store"
    digest = hashlib.sha256(target.encode()).hexdigest()[:8]
    folder = Path(os.environ.get(FAILURE_DIR_ENV) or ".")
    return folder / f"replicheck-failure-{slug}-{digest}.json"


def judge_unclaimed(label: str, history: History, descriptor: Descriptor) -> Judgement:
    """Judge what the store does not claim: ``label`` is a guarantee ID (the
    linearizability of every read kind and the session guarantees on every read
    kind; the rest as the store's own checks would) or a weakness the store states
    (``stale-read`` and the like: the linearizability of every read). An anomaly
    found is ``observed``. An anomaly column (``lost-update``, ``stale-read``) is
    judged by its own detector (:func:`judge_anomaly`)."""
    from replicheck.models.guarantees import ALL_GUARANTEES, ANOMALY_COLUMNS

    if label in ANOMALY_COLUMNS:
        return judge_anomaly(label, history, timeout=UNCLAIMED_TIMEOUT)
    guarantee = label if label in ALL_GUARANTEES else "linearizable-strong-reads"
    if guarantee in ("linearizable-strong-reads", "read-your-writes", "monotonic-reads"):
        found = judge_guarantee(guarantee, history, _all_reads(descriptor, guarantee),
                                timeout=UNCLAIMED_TIMEOUT)
    else:
        found = judge_guarantee(guarantee, history, descriptor, timeout=UNCLAIMED_TIMEOUT)
    status = OBSERVED if found.status in (VIOLATED, OBSERVED) else found.status
    return dc_replace(found, guarantee=label, status=status, claimed=False)


def _unclaimed_judgements(history: History, descriptor: Descriptor) -> list[Judgement]:
    """Every guarantee the store does not claim that the history says something
    about, judged as an observation: the linearizability of every read and the
    session guarantees on every read kind, the rest as the store's checks would;
    then each anomaly column (:func:`judge_anomalies`), whatever the claims."""
    from replicheck.models.guarantees import GUARANTEES, MECHANISM_PROMISES

    claimed = {c.guarantee for c in descriptor.claims}
    out = []
    for guarantee in GUARANTEES + MECHANISM_PROMISES:
        if guarantee in claimed:
            continue
        out.append(judge_unclaimed(guarantee, history, descriptor))
    return out + judge_anomalies(history, timeout=UNCLAIMED_TIMEOUT)


def concurrency_machine(factory: Callable[[], Store], *, max_steps: int = 30,
                        target: str | None = None, seed: int = 0
                        ) -> type[RuleBasedStateMachine]:
    """Machine 2 for the schedulable store ``factory`` builds. Each example runs at
    most ``max_steps`` rules, every call recorded as a schedule step (a
    :class:`~replicheck.properties.schedule.ScheduleRecorder` for ``target`` and
    ``seed``); teardown judges every claimed guarantee (and those it can judge that
    the store does not claim), reports the example (:func:`report_example`), and
    raises :class:`GuaranteeViolation` with the example's :class:`Counterexample`
    when a claimed guarantee is violated. With a ``target``, the counterexample
    carries the replayable schedule, which is also written to a file
    (:func:`failure_path`) that the failure message names with the ``replicheck
    replay`` command."""
    descriptor, nodes = _probe(factory)
    table, pk = _pk(descriptor)
    faults = descriptor.has(Capability.FAULTS) and bool(nodes)
    requests = strategies.requests(table, pk,
                                   transactions=descriptor.has(Capability.TRANSACTIONS))
    node_names = nodes or ("none",)
    transactions = descriptor.has(Capability.TRANSACTIONS)
    strong = descriptor.has(Capability.STRONG_READS)
    probe = factory()
    try:
        direct = bool(nodes) and isinstance(probe, DirectRouting)
        leaders = isinstance(probe, Leadership)
        owners = isinstance(probe, PreferenceLists)
        timed = isinstance(probe, TimeControl)
        anti_entropy = descriptor.has(Capability.ANTI_ENTROPY) and isinstance(
            probe, AntiEntropy) and bool(nodes)
        snapshots = isinstance(probe, RangeSnapshots)
        forkable = isinstance(probe, Forkable)
        surface = probe_surface(probe)
    finally:
        close_store(probe)
    races = tuple(r for r in RACES if transactions or not r.startswith("txn"))
    class Concurrency(RuleBasedStateMachine):
        """Concurrent clients under faults; every claimed guarantee holds."""

        def __init__(self) -> None:
            super().__init__()
            store = factory()
            assert isinstance(store, Schedulable)
            self.base: Any = store
            self.raw: Any = ScheduleRecorder(store, target or "<factory>", seed)
            self.rec = RecordingStore(self.raw)
            self.teardown_at: int | None = None
            self.tokens = 0
            self.handles: dict[str, Any] = {}
            self.crashed: set[str] = set()
            self.steps = 0
            self.peak = 0
            self.rules_run = 0
            self.surface = surface
            self.paused: set[str] = set()
            self.marked: set[str] = set()

        # -- the Driver surface of the fault-search rule classes ---------------------

        def swarm_on(self, name: str) -> bool:
            """Whether rule class ``name`` is enabled in this example."""
            return True

        def mark(self, name: str) -> None:
            """Note that rule class ``name`` acted in this example."""
            self.marked.add(name)

        def idle(self, wanted: str) -> str | None:
            """A client with nothing in flight, from ``wanted`` on."""
            return idle_client(CLIENTS + RACERS, self.handles, wanted)

        def run_request(self, client: str, request: Request, node: str | None = None
                        ) -> Handle:
            """Submit (straight to ``node`` when given) and run the fair policy until
            the operation completes (at most MAX_CALL_DECISIONS decisions)."""
            if node is None:
                return self._call(client, request)
            handle = self.rec.submit_at(client, request, node)
            self.handles[client] = handle
            self.fair_until(handle)
            return handle

        def fair_until(self, handle: Handle) -> None:
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not fair_step(self.rec):
                    break

        def replica(self, key: str, index: int) -> str | None:
            """Replica number ``index`` of ``key``, if the store says."""
            return self._replica(key, index)

        def fair(self, steps: int) -> int:
            """Up to ``steps`` fair decisions; how many were taken."""
            taken = 0
            while taken < steps and fair_step(self.rec):
                taken += 1
            return taken

        @initialize()
        def start(self) -> None:
            self.steps = 0

        def _busy(self, client: str) -> bool:
            handle = self.handles.get(client)
            return handle is not None and not handle.done

        def _idle(self, client: str) -> str | None:
            return idle_client(CLIENTS, self.handles, client)

        @rule(client=st.sampled_from(CLIENTS), request=requests)
        def submit(self, client: str, request: Request) -> None:
            self.rules_run += 1
            idle = self._idle(client)
            if idle is None:
                return
            self.handles[idle] = self.rec.submit(idle, request)
            self.peak = max(self.peak, self.rec.in_flight())

        @rule(client=st.sampled_from(CLIENTS), request=requests)
        def call(self, client: str, request: Request) -> None:
            """Submit, then run the fair policy until this operation completes."""
            self.rules_run += 1
            idle = self._idle(client)
            if idle is None:
                return
            handle = self.rec.submit(idle, request)
            self.handles[idle] = handle
            self.peak = max(self.peak, self.rec.in_flight())
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not fair_step(self.rec):
                    break

        @precondition(lambda self: direct)
        @rule(client=st.sampled_from(CLIENTS), node=st.sampled_from(node_names),
              request=requests)
        def submit_at(self, client: str, node: str, request: Request) -> None:
            """Send a request straight to one node (its own coordinator choice)."""
            self.rules_run += 1
            idle = self._idle(client)
            if idle is None:
                return
            self.handles[idle] = self.rec.submit_at(idle, request, node)
            self.peak = max(self.peak, self.rec.in_flight())

        @rule(kind=st.sampled_from(races), key=strategies.keys(),
              values=st.lists(strategies.unique_values(), min_size=len(RACERS),
                              max_size=len(RACERS)),
              spread=st.booleans(), offset=st.integers(0, 4))
        def race(self, kind: str, key: str, values: list[str], spread: bool,
                 offset: int) -> None:
            """Every idle client submits the same kind of request on one key at once
            (create-if-absent puts, increments, blind puts, transactions that
            increment it), to one coordinator each when ``spread``. Before a race of
            creates, the first idle racer deletes the key (run to completion), so
            that the creates race for an absent item."""
            self.rules_run += 1
            other = next((k for k in strategies.KEYS if k != key and not self._same_home(
                k, key)), next(k for k in strategies.KEYS if k != key))
            first = next((c for c in RACERS if not self._busy(c)), None)
            if kind == "create" and first is not None:
                self._call(first, Delete(table, {pk: key}))
            for i, client in enumerate(RACERS):
                if self._busy(client):
                    continue
                request = _race_request(kind, table, pk, key, values[i], other)
                node = self._replica(key, offset + i) if spread and direct else None
                if node is not None:
                    self.handles[client] = self.rec.submit_at(client, request, node)
                else:
                    self.handles[client] = self.rec.submit(client, request)
            self.peak = max(self.peak, self.rec.in_flight())

        def _same_home(self, a: str, b: str) -> bool:
            if not leaders:
                return False
            return bool(self.raw.partition_of(table, {pk: a})
                        == self.raw.partition_of(table, {pk: b}))

        def _call(self, client: str, request: Request) -> Handle:
            handle = self.rec.submit(client, request)
            self.handles[client] = handle
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not fair_step(self.rec):
                    break
            return handle

        @precondition(lambda self: transactions)
        @rule(client=st.sampled_from(CLIENTS),
              request=st.one_of(strategies.transact_writes(table, pk), strategies.keys().map(
                  lambda key: TransactWrite((_increment(table, pk, key),)))),
              retries=st.integers(1, 2))
        def idempotent(self, client: str, request: TransactWrite, retries: int) -> None:
            """A transaction with a ClientRequestToken, retried with the same token
            after it completed (half the time an increment, which a retry applied
            twice would show)."""
            self.rules_run += 1
            if self._busy(client):
                return
            self.tokens += 1
            tokened = dc_replace(request, token=f"token-{self.tokens}")
            for _ in range(1 + retries):
                if not self._call(client, tokened).done:
                    return

        @precondition(lambda self: transactions)
        @rule(client=st.sampled_from(CLIENTS), key=strategies.keys(),
              value=strategies.unique_values())
        def guarded(self, client: str, key: str, value: str) -> None:
            """A transaction that writes one item only while another item of its
            partition is absent (a write gated on a free slot; cancelled once the
            slot is taken), then a read of the item: a cancelled transaction's
            write must never be seen."""
            self.rules_run += 1
            idle = self._idle(client)
            if idle is None:
                return
            partner = next((k for k in strategies.KEYS if k != key and self._same_home(
                k, key)), next(k for k in strategies.KEYS if k != key))
            gated = TransactWrite((Put(table, {pk: key, "v": value}),
                                   ConditionCheck(table, {pk: partner},
                                                  f"attribute_not_exists({pk})")))
            if self._call(idle, gated).done:
                self._call(idle, Get(table, {pk: key}, consistent=strong))

        @rule(key=strategies.keys(), count=st.integers(1, 12))
        def burst(self, key: str, count: int) -> None:
            """One client writes one key several times in a row, each put run to
            completion (one ``burst`` step of the schedule)."""
            self.rules_run += 1
            client = self._idle(CLIENTS[0])
            if client is None:
                return
            put = Put(table, {pk: key})
            with self.raw.grouped(burst_step(client, put, count)):
                self.handles[client] = run_burst(self.rec, client, put, count)[-1]

        def _heal(self) -> None:
            """Heal the partition; the messages it cut off were lost (a partition
            drops packets, it does not queue them)."""
            heal_dropping(self.raw, self.rec)

        def _replica(self, key: str, index: int) -> str | None:
            """The key's replica number ``index`` (0: the leader in leader mode, the
            first of the preference list in leaderless mode), if known."""
            if leaders:
                partition = self.raw.partition_of(table, {pk: key})
                leader = self.raw.leader_of(partition)
                replicas = [leader] if leader is not None else []
                replicas += [n for n in self.raw.partition_replicas(partition)
                             if n not in replicas]
                return replicas[index % len(replicas)] if replicas else None
            if owners:
                found = tuple(self.raw.preference_list(table, {pk: key}))
                return found[index % len(found)] if found else None
            return None

        @precondition(lambda self: faults and (leaders or owners))
        @rule(key=strategies.keys(), index=st.integers(0, 2))
        def isolate(self, key: str, index: int) -> None:
            """Cut one replica of a key (its leader, for index 0 in leader mode) off
            from every other node."""
            self.rules_run += 1
            node = self._replica(key, index)
            if node is not None:
                self.raw.partition([[node], [n for n in nodes if n != node]])

        @precondition(lambda self: direct and (leaders or owners))
        @rule(client=st.sampled_from(CLIENTS), key=strategies.keys(),
              index=st.integers(0, 2))
        def read_at(self, client: str, key: str, index: int) -> None:
            """A read (strongly consistent where the store offers it) sent straight
            to one replica of the key, run until it completes."""
            self.rules_run += 1
            node = self._replica(key, index)
            if node is None or self._busy(client):
                return
            handle = self.rec.submit_at(client, Get(table, {pk: key}, consistent=strong),
                                        node)
            self.handles[client] = handle
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not fair_step(self.rec):
                    break

        @precondition(lambda self: direct and (leaders or owners))
        @rule(client=st.sampled_from(CLIENTS), index=st.integers(0, 2),
              request=strategies.single_requests(table, pk))
        def call_at(self, client: str, index: int, request: Request) -> None:
            """Send a single-item request straight to one replica of its key (a
            client choosing its coordinator, or routing on a stale leader), and run
            the fair policy until it completes."""
            self.rules_run += 1
            if self._busy(client):
                return
            source = request.item if isinstance(request, Put) else getattr(request, "key", {})
            node = self._replica(str(source.get(pk)), index)
            if node is None:
                return
            if isinstance(request, Get) and strong:
                request = dc_replace(request, consistent=True)
            handle = self.rec.submit_at(client, request, node)
            self.handles[client] = handle
            self.peak = max(self.peak, self.rec.in_flight())
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not fair_step(self.rec):
                    break

        @precondition(lambda self: timed)
        @rule(seconds=st.sampled_from((0.5, 1.0, 3.0)))
        def wait(self, seconds: float) -> None:
            """Let ``seconds`` of simulated time pass under the fair policy."""
            self.rules_run += 1
            end = self.raw.now() + seconds
            for _ in range(MAX_SETTLE_DECISIONS):
                if self.raw.now() >= end or not fair_step(self.rec):
                    break

        @precondition(lambda self: anti_entropy and owners)
        @rule(key=strategies.keys(), first=st.integers(0, 2), second=st.integers(1, 2))
        def sync(self, key: str, first: int, second: int) -> None:
            """Deliver every message in flight, then one anti-entropy session between
            two replicas of a key that can reach each other (observed: the keys that
            differed, the keys it repaired)."""
            self.rules_run += 1
            a, b = self._replica(key, first), self._replica(key, first + second)
            if a is None or b is None or a == b or {a, b} & self.crashed \
                    or not self.raw.reachable(a, b):
                return
            self.raw.quiesce()
            self.rec.collect()
            self.rec.observe("anti-entropy", sync_session(self.raw, table, a, b))
            self.rec.collect()

        @precondition(lambda self: timed and faults)
        @rule(key=strategies.keys(), index=st.integers(0, 2))
        def lose(self, key: str, index: int) -> None:
            """Every message in flight from one replica of a key is lost (a burst of
            packet loss at that node)."""
            self.rules_run += 1
            node = self._replica(key, index)
            lost = [m for m in self.raw.messages_in_flight() if m.src == node]
            for message in lost:
                self.rec.decide(_drop(message.id))

        @precondition(lambda self: snapshots)
        @rule()
        def snapshot(self) -> None:
            """Observe every replica (contents and Merkle roots) now."""
            self.rules_run += 1
            self.rec.observe("replicas", self.raw.replicas_observation(table))

        @rule(index=st.integers(0, 255))
        def decide(self, index: int) -> None:
            self.rules_run += 1
            decisions = self.rec.decisions()
            if decisions:
                self.rec.decide(decisions[index % len(decisions)])

        @rule(steps=st.integers(1, 20))
        def run_fair(self, steps: int) -> None:
            self.rules_run += 1
            for _ in range(steps):
                if not fair_step(self.rec):
                    break

        @precondition(lambda self: faults)
        @rule(side=st.sets(st.sampled_from(node_names), min_size=1))
        def partition(self, side: set[str]) -> None:
            self.rules_run += 1
            assert isinstance(self.raw, FaultInjectable)
            other = [n for n in nodes if n not in side]
            self.raw.partition([sorted(side), other] if other else [sorted(side)])

        @precondition(lambda self: faults)
        @rule()
        def heal(self) -> None:
            self.rules_run += 1
            self._heal()

        @precondition(lambda self: faults)
        @rule(node=st.sampled_from(node_names))
        def crash(self, node: str) -> None:
            self.rules_run += 1
            if node in self.crashed or len(self.crashed) >= 1:
                return  # at most one node down at a time keeps a majority
            self.raw.crash(node)
            self.crashed.add(node)

        @precondition(lambda self: faults)
        @rule()
        def restart(self) -> None:
            self.rules_run += 1
            for node in sorted(self.crashed):
                self.raw.restart(node)
            self.crashed.clear()

        @precondition(lambda self: faults)
        @rule(node=st.sampled_from(node_names),
              seconds=st.sampled_from((-2.0, -0.5, 0.5, 2.0)))
        def skew(self, node: str, seconds: float) -> None:
            self.rules_run += 1
            self.raw.skew_clock(node, seconds)

        def teardown(self) -> None:
            try:
                self._finish()
            finally:
                close_store(self.raw)

        def _finish(self) -> None:
            self.teardown_at = len(self.raw.steps)
            if faults:
                self._heal()
                for node in sorted(self.crashed):
                    self.raw.restart(node)
            taken = 0
            while self.rec.in_flight() and taken < MAX_SETTLE_DECISIONS:
                if not fair_step(self.rec):
                    break
                taken += 1
            self.rec.abandon()
            ops = len(self.rec.history().operations)
            if ops == 0:
                report_example(ExampleReport(PROPERTY))
                return
            _target(float(self.peak), "concurrent operations")
            self._observe_replicas()
            record_availability(self.base, self.rec, self.raw.steps, table, pk)
            history = self.rec.history()
            judgements = judge_claims(history, descriptor)
            judgements += _unclaimed_judgements(history, descriptor)
            for judgement in judgements:
                if judgement.status == OBSERVED:
                    _observe(descriptor.name, judgement)
            seen: dict[str, Counterexample] = {}
            clean = not any(j.status == VIOLATED for j in judgements)
            if clean and "not-linearizable" in descriptor.weaknesses \
                    and descriptor.has(Capability.STRONG_READS) \
                    and descriptor.claims_guarantee("linearizable-strong-reads"):
                # a stated weakness (reads that are not linearizable) is observed only
                # where every claim held: else it is the violation seen again; stale
                # reads and lost updates have their own detectors (judge_anomalies)
                every_read = judge_guarantee("linearizable-strong-reads", history,
                                             _all_reads(descriptor))
                weakness = "not-linearizable"
                if every_read.status in (VIOLATED, OBSERVED):
                    _observe(descriptor.name, every_read, weakness)
                    seen[weakness] = dc_replace(
                        self._counterexample(every_read, history), guarantee=weakness)
            seen.update({j.guarantee: self._counterexample(j, history)
                         for j in judgements if j.status == OBSERVED})
            report_example(ExampleReport(
                PROPERTY, {j.guarantee: j.status for j in judgements}, seen,
                {j.guarantee: j.checker for j in judgements}))
            failed = sorted((j for j in judgements if j.status == VIOLATED),
                            key=lambda j: _specificity(j.guarantee))
            if failed:
                counterexample = self._counterexample(failed[0], history)
                message = "claimed guarantee violated:\n" + "\n".join(
                    j.explanation() for j in failed)
                if target is not None:
                    written = write_schedule_on_failure(self.raw, failure_path(target),
                                                        failed[0].guarantee)
                    if written is not None:
                        message += (f"\n\nschedule written to {written}\n"
                                    f"replay it with: replicheck replay {written}")
                raise GuaranteeViolation(message, tuple(j.guarantee for j in failed),
                                         counterexample)

        def _counterexample(self, judgement: Judgement, history: History
                            ) -> Counterexample:
            """This example as the counterexample of ``judgement``: the steps before
            teardown in plain words (one decision = one step), then the teardown as
            one line (``then: heal, settle, anti-entropy on every pair``)."""
            cut = len(self.raw.steps) if self.teardown_at is None else self.teardown_at
            schedule = completed_schedule(self.raw) if target is not None else None
            steps = label_clients(self.raw.described(0, cut), self.raw.steps[:cut],
                                   history)
            if len(self.raw.steps) > cut:
                steps += (describe_teardown(self.raw.steps[cut:]),)
            return Counterexample(
                PROPERTY, judgement.guarantee, judgement.explanation(),
                steps=steps, decisions=cut, history=history,
                verdict=judgement.verdict,
                schedule=None if schedule is None else schedule.to_json())

        def _observe_replicas(self) -> None:
            claims = {c.guarantee for c in descriptor.claims}
            settle = isinstance(self.base, Settling)
            if snapshots and settle:
                self._observe_leaderless(claims)
                return
            if "convergence" in claims and settle:
                self.raw.settle()
                observation = _leader_replicas_observation(self.base, table)
                if observation is not None:
                    self.raw.steps.append({"observe": "replicas"})
                    self.rec.observe("replicas", observation)
            if claims & {"stream-exactly-once", "stream-item-order"} and isinstance(
                    self.raw, Streaming):
                self.rec.observe("stream", _stream_observation(self.raw, table))

        def _observe_leaderless(self, claims: set[str]) -> None:
            """Observe the mechanisms of a leaderless store: replicas before settling
            (Merkle roots at an arbitrary moment), read repair on a copy of the
            cluster, the hinted states fallbacks hold before settling and their
            owners' entries after, each anti-entropy session of a full round (both
            replicas read after it), and the replicas at the end."""
            before = self.raw.replicas_observation(table)
            self.rec.observe("replicas", before)
            _target_divergence(before)
            if "read-repair-repairs" in claims and forkable and owners:
                self.raw.steps.append({"observe": "read-repair"})
                for probe in read_repair_probes(self.base, table, pk):
                    self.rec.observe("read-repair", probe)
            if anti_entropy and forkable:
                self.raw.steps.append({"observe": "sync-twins"})
                for session in twin_sync_observations(self.base, table, nodes):
                    self.rec.observe("anti-entropy", session)
            hinted = hinted_states(self.base, table)
            self.raw.settle()
            if "hinted-handoff-delivers" in claims and isinstance(self.base, HintSnapshots):
                self.raw.steps.append({"observe": "hints"})
                self.rec.observe("hints", hints_observation(self.base, table, hinted))
            if anti_entropy:
                for i, a in enumerate(nodes):
                    for b in nodes[i + 1:]:
                        self.rec.observe("anti-entropy", sync_session(
                            self.raw, table, a, b))
            self.rec.observe("replicas", self.raw.replicas_observation(
                table, quiescent=True, anti_entropy=anti_entropy))

    Concurrency.__name__ = Concurrency.__qualname__ = "Concurrency"
    return Concurrency


_SPECIFICITY: Final = (
    "linearizable-conditional-writes", "atomic-transactions", "serializable-transactions",
    "stream-exactly-once", "stream-item-order", "vector-clock-order",
    "read-repair-repairs", "hinted-handoff-delivers", "merkle-root-iff-equal",
    "anti-entropy-exact", "read-your-writes", "monotonic-reads",
    "linearizable-strong-reads", "convergence")


def _specificity(guarantee: str) -> int:
    """Where ``guarantee`` comes in the order failures are reported: the narrowest
    check first (a mechanism before the convergence it serves)."""
    return _SPECIFICITY.index(guarantee) if guarantee in _SPECIFICITY else len(_SPECIFICITY)


def _all_reads(descriptor: Descriptor, guarantee: str = "linearizable-strong-reads"
               ) -> Descriptor:
    """``descriptor`` as if it claimed ``guarantee`` for every read kind (to judge
    what the store does not promise: an anomaly there is an observation)."""
    from dataclasses import replace

    from replicheck.implementation.store import Claim

    return replace(descriptor, claims=(Claim(guarantee, READ_KINDS),))
