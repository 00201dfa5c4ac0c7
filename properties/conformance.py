"""The sequential-model conformance property (any store): one client; each rule sends
a request drawn from :mod:`replicheck.properties.strategies` to the store AND applies
it to the item model (``models.items.operations.apply``), and asserts the same
answer: equal responses, or errors with equal codes (and equal cancellation reasons).
Only the operation kinds the store claims linearizable are compared; a read of
another kind (an eventually consistent read) is sent but not compared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from hypothesis.stateful import RuleBasedStateMachine, rule

from replicheck.implementation.store import (
    Capability,
    Descriptor,
    Introspectable,
    Schedulable,
    Store,
    Topology,
)
from replicheck.models.items.errors import StoreError, TransactionCanceled
from replicheck.models.items.operations import Database, apply, empty
from replicheck.models.items.requests import Request, Response, request_kind
from replicheck.models.items.wording import answer_text, request_text, value_text
from replicheck.properties import strategies
from replicheck.properties.driving import close_store
from replicheck.properties.examples import ExampleReport, GuaranteeViolation, report_example
from replicheck.properties.guarantees import READ_KINDS, VIOLATED
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.own_execute import check_own_execute, own_execute_twin
from replicheck.properties.recording import RecordingStore
from replicheck.properties.schedule import (
    ScheduleRecorder,
    completed_schedule,
    write_schedule_on_failure,
)
from replicheck.properties.verdicts import failure_path

__all__ = ["CONFORMANCE", "compared_kinds", "conformance_machine"]

CONFORMANCE: Final = "sequential-model-conformance"
"""The suite property this module checks."""

CONFORMANCE_CLIENT: Final = "c0"
"""The property's one client."""

CONFORMANCE_CHECKER: Final = "item model conformance (one client)"
"""What decides the property's guarantees: each answer compared with the item model's."""


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
    """The operation kinds whose answers the conformance property compares with the model: those a
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
    """The machine for the store ``factory`` builds (one fresh store per example, closed
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

