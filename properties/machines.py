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

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import hypothesis
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from replicheck.implementation.store import (
    Capability,
    Descriptor,
    FaultInjectable,
    Schedulable,
    Store,
    Streaming,
)
from replicheck.models.items.errors import StoreError, TransactionCanceled
from replicheck.models.items.operations import Database, apply, empty
from replicheck.models.items.requests import Request, Response, request_kind
from replicheck.properties import strategies
from replicheck.properties.guarantees import (
    OBSERVED,
    READ_KINDS,
    VIOLATED,
    Judgement,
    judge_claims,
    judge_guarantee,
)
from replicheck.properties.recording import RecordingStore

__all__ = [
    "CLIENTS",
    "OBSERVATIONS",
    "Observation",
    "close_store",
    "concurrency_machine",
    "conformance_machine",
]

CLIENTS: Final = ("c0", "c1", "c2")
"""The clients of machine 2."""

MAX_CALL_DECISIONS: Final = 500
"""The most fair decisions the ``call`` rule takes to complete its operation."""

MAX_SETTLE_DECISIONS: Final = 20_000
"""The most fair decisions teardown takes to complete the operations in flight."""


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
        nodes = tuple(getattr(store, "nodes", ()) or ())
        if not nodes and hasattr(store, "replicas"):
            nodes = tuple(store.replicas())
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


def conformance_machine(factory: Callable[[], Store]) -> type[RuleBasedStateMachine]:
    """Machine 1 for the store ``factory`` builds (one fresh store per example, closed
    in teardown). Fails when the store's answer to a compared request differs from
    the item model's."""
    descriptor, _ = _probe(factory)
    table, pk = _pk(descriptor)
    kinds = compared_kinds(descriptor)
    transactions = descriptor.has(Capability.TRANSACTIONS)
    requests = strategies.requests(table, pk, transactions=transactions)

    class Conformance(RuleBasedStateMachine):
        """The store answers as the sequential item model does."""

        def __init__(self) -> None:
            super().__init__()
            self.store = factory()
            self.db: Database = empty(*self.store.descriptor.tables)
            self.lost = False

        @rule(request=requests)
        def send(self, request: Request) -> None:
            kind = request_kind(request)
            actual = _outcome(lambda: self.store.execute(request))
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
            assert actual == expected, (
                f"{descriptor.name} answered {kind} {request!r}\n  with   {actual!r}\n"
                f"  model: {expected!r}")

        def teardown(self) -> None:
            close_store(self.store)

    Conformance.__name__ = Conformance.__qualname__ = "Conformance"
    return Conformance


def _fair(recording: RecordingStore) -> bool:
    """Take one fair decision (a delivery, else a timer); False when none is left."""
    decisions = recording.decisions()
    for wanted in ("Deliver", "Fire"):
        for decision in decisions:
            if type(decision).__name__ == wanted:
                recording.decide(decision)
                return True
    return False


def _leader_replicas_observation(store: Any, table: str) -> dict[str, Any] | None:
    if not (hasattr(store, "replica_versions") and hasattr(store, "partition_of")):
        return None
    schema = store.descriptor.table(table)
    replicas: dict[str, dict[str, Any]] = {}
    ranges: dict[str, dict[str, Any]] = {}
    for node in store.nodes:
        held: dict[str, Any] = {}
        for key, (item, version) in store.replica_versions(node, table).items():
            text = _key_text(key)
            held[text] = {"value": item, "version": version}
            partition = store.partition_of(table, dict(zip(schema.key_attributes, key,
                                                           strict=True)))
            entry = ranges.setdefault(f"p{partition}", {
                "keys": [], "replicas": list(store.partition_replicas(partition))})
            if text not in entry["keys"]:
                entry["keys"].append(text)
        replicas[node] = held
    return {"table": table, "quiescent": True, "replicas": replicas, "ranges": ranges}


def _key_text(key: tuple[Any, ...]) -> str:
    parts = [int(v) if isinstance(v, Decimal) and v == v.to_integral_value()
             else str(v) if isinstance(v, Decimal) else v for v in key]
    return json.dumps(parts[0] if len(parts) == 1 else parts)


def _stream_observation(store: Any, table: str) -> dict[str, Any]:
    records = [{"table": r.table, "event": r.event, "key": list(r.key),
                "sequence": r.sequence, "old_image": r.old_image, "new_image": r.new_image}
               for r in store.stream_records(table)]
    return {"table": table, "records": records, "complete": True}


def concurrency_machine(factory: Callable[[], Store], *, max_steps: int = 30
                        ) -> type[RuleBasedStateMachine]:
    """Machine 2 for the schedulable store ``factory`` builds. Each example runs at
    most ``max_steps`` rules; teardown judges every claimed guarantee."""
    descriptor, nodes = _probe(factory)
    table, pk = _pk(descriptor)
    faults = descriptor.has(Capability.FAULTS) and bool(nodes)
    requests = strategies.requests(table, pk,
                                   transactions=descriptor.has(Capability.TRANSACTIONS))
    node_names = nodes or ("none",)

    class Concurrency(RuleBasedStateMachine):
        """Concurrent clients under faults; every claimed guarantee holds."""

        def __init__(self) -> None:
            super().__init__()
            store = factory()
            assert isinstance(store, Schedulable)
            self.raw: Any = store
            self.rec = RecordingStore(store)
            self.handles: dict[str, Any] = {}
            self.crashed: set[str] = set()
            self.steps = 0
            self.peak = 0

        @initialize()
        def start(self) -> None:
            self.steps = 0

        def _busy(self, client: str) -> bool:
            handle = self.handles.get(client)
            return handle is not None and not handle.done

        def _idle(self, client: str) -> str | None:
            start = CLIENTS.index(client)
            for i in range(len(CLIENTS)):
                candidate = CLIENTS[(start + i) % len(CLIENTS)]
                if not self._busy(candidate):
                    return candidate
            return None

        @rule(client=st.sampled_from(CLIENTS), request=requests)
        def submit(self, client: str, request: Request) -> None:
            idle = self._idle(client)
            if idle is None:
                return
            self.handles[idle] = self.rec.submit(idle, request)
            self.peak = max(self.peak, self.rec.in_flight())

        @rule(client=st.sampled_from(CLIENTS), request=requests)
        def call(self, client: str, request: Request) -> None:
            """Submit, then run the fair policy until this operation completes."""
            idle = self._idle(client)
            if idle is None:
                return
            handle = self.rec.submit(idle, request)
            self.handles[idle] = handle
            self.peak = max(self.peak, self.rec.in_flight())
            for _ in range(MAX_CALL_DECISIONS):
                if handle.done or not _fair(self.rec):
                    break

        @rule(index=st.integers(0, 255))
        def decide(self, index: int) -> None:
            decisions = self.rec.decisions()
            if decisions:
                self.rec.decide(decisions[index % len(decisions)])

        @rule(steps=st.integers(1, 20))
        def run_fair(self, steps: int) -> None:
            for _ in range(steps):
                if not _fair(self.rec):
                    break

        @precondition(lambda self: faults)
        @rule(side=st.sets(st.sampled_from(node_names), min_size=1))
        def partition(self, side: set[str]) -> None:
            assert isinstance(self.raw, FaultInjectable)
            other = [n for n in nodes if n not in side]
            self.raw.partition([sorted(side), other] if other else [sorted(side)])

        @precondition(lambda self: faults)
        @rule()
        def heal(self) -> None:
            self.raw.heal()

        @precondition(lambda self: faults)
        @rule(node=st.sampled_from(node_names))
        def crash(self, node: str) -> None:
            if node in self.crashed or len(self.crashed) >= 1:
                return  # at most one node down at a time keeps a majority
            self.raw.crash(node)
            self.crashed.add(node)

        @precondition(lambda self: faults)
        @rule()
        def restart(self) -> None:
            for node in sorted(self.crashed):
                self.raw.restart(node)
            self.crashed.clear()

        @precondition(lambda self: faults)
        @rule(node=st.sampled_from(node_names),
              seconds=st.sampled_from((-2.0, -0.5, 0.5, 2.0)))
        def skew(self, node: str, seconds: float) -> None:
            self.raw.skew_clock(node, seconds)

        def teardown(self) -> None:
            try:
                self._finish()
            finally:
                close_store(self.raw)

        def _finish(self) -> None:
            if faults:
                self.raw.heal()
                for node in sorted(self.crashed):
                    self.raw.restart(node)
            taken = 0
            while self.rec.in_flight() and taken < MAX_SETTLE_DECISIONS:
                if not _fair(self.rec):
                    break
                taken += 1
            self.rec.abandon()
            ops = len(self.rec.history().operations)
            if ops == 0:
                return
            hypothesis.target(float(self.peak), label="concurrent operations")
            self._observe_replicas()
            history = self.rec.history()
            judgements = judge_claims(history, descriptor)
            for judgement in judgements:
                if judgement.status == OBSERVED:
                    _observe(descriptor.name, judgement)
            if descriptor.weaknesses and descriptor.has(Capability.STRONG_READS):
                every_read = judge_guarantee("linearizable-strong-reads", history,
                                             _all_reads(descriptor))
                if every_read.status in (VIOLATED, OBSERVED):
                    for weakness in sorted(descriptor.weaknesses):
                        _observe(descriptor.name, every_read, weakness)
                        break
            failed = [j for j in judgements if j.status == VIOLATED]
            assert not failed, "claimed guarantee violated:\n" + "\n".join(
                j.explanation() for j in failed)

        def _observe_replicas(self) -> None:
            claims = {c.guarantee for c in descriptor.claims}
            settle = getattr(self.raw, "settle", None)
            if "convergence" in claims and callable(settle):
                settle()
                observation: dict[str, Any] | None
                if hasattr(self.raw, "replicas_observation"):
                    anti = descriptor.has(Capability.ANTI_ENTROPY) and hasattr(
                        self.raw, "anti_entropy_round")
                    if anti:
                        self.raw.anti_entropy_round(table)
                    observation = self.raw.replicas_observation(
                        table, quiescent=True, anti_entropy=anti)
                else:
                    observation = _leader_replicas_observation(self.raw, table)
                if observation is not None:
                    self.rec.observe("replicas", observation)
            if claims & {"stream-exactly-once", "stream-item-order"} and isinstance(
                    self.raw, Streaming):
                self.rec.observe("stream", _stream_observation(self.raw, table))

    Concurrency.__name__ = Concurrency.__qualname__ = "Concurrency"
    return Concurrency


def _all_reads(descriptor: Descriptor) -> Descriptor:
    """``descriptor`` as if it claimed linearizability for every read kind (to judge
    what the store does not promise: an anomaly there is an observation)."""
    from dataclasses import replace

    from replicheck.implementation.store import Claim

    return replace(descriptor, claims=(Claim("linearizable-strong-reads", READ_KINDS),))
