"""The Store contract: what every store under test implements.

A store is anything with a synchronous, DynamoDB-shaped client entry point
(:meth:`Store.execute`) and a :class:`Descriptor` saying, as data, what it can do
(capabilities) and what it promises (claims). Optional abilities are separate
protocols (:class:`Introspectable`, :class:`AntiEntropy`, :class:`Streaming`,
:class:`FaultInjectable`, :class:`Schedulable`, :class:`Versioned`); a store that
declares a capability implements its protocol, and :func:`check_store` says when
the two disagree. The suite runs what a store supports and reports the rest as not
applicable, with the reason.

Answers and errors
    ``execute(request)`` returns a :class:`~replicheck.models.items.requests.Response`
    or raises exactly one error of the family in
    :mod:`replicheck.models.items.errors`: ``ConditionalCheckFailed``,
    ``TransactionCanceled`` (reasons per action in request order),
    ``TransactionConflict``, ``IdempotentParameterMismatch``, ``ValidationError``,
    ``Throttled`` — all definite, nothing applied — or ``Indeterminate`` (timeout,
    unavailable: may or may not have applied). A store never reports an
    indeterminate outcome as a definite failure.

How three very different stores fit, without special cases
    *The reference simulation* (``implementation/reference``): ``execute`` submits
    the request through the deterministic scheduler and runs the simulation until
    the operation completes; a timeout in simulated time raises ``Indeterminate``.
    It declares every capability, including ``deterministic-scheduling``: the
    lower-level :class:`Schedulable` interface submits an operation, returns a
    :class:`Handle`, and lets the caller (a Hypothesis rule) make every delivery,
    drop, partition, crash and clock decision.

    *DynamoDB through boto3*: each request maps onto one API call with the same
    name and parameters — Get -> GetItem (``ConsistentRead``), Put -> PutItem,
    Update -> UpdateItem, Delete -> DeleteItem (``ConditionExpression``,
    ``ExpressionAttributeNames/Values``, ``ReturnValues``,
    ``ReturnValuesOnConditionCheckFailure``), TransactWrite -> TransactWriteItems
    (``ClientRequestToken``), TransactGet -> TransactGetItems. botocore's error
    codes map one to one (``ConditionalCheckFailedException`` ->
    ``ConditionalCheckFailed``, ``TransactionCanceledException`` with its
    ``CancellationReasons`` -> ``TransactionCanceled``,
    ``ProvisionedThroughputExceededException``/``ThrottlingException`` ->
    ``Throttled``, ``ValidationException`` -> ``ValidationError``); a read timeout,
    a connection error or a 500 after the request was sent -> ``Indeterminate``.
    Capabilities: ``transactions``, ``strong-reads``, ``stream`` (DynamoDB
    Streams). No introspection, faults or scheduling: it is driven by client
    threads timed with a monotonic clock.

    *etcd over its HTTP (gRPC-gateway) API*: a table is a key prefix and an item is
    one etcd key holding the item's wire JSON. Get -> range request
    (``serializable=false`` for a strong read, ``true`` for an eventual one);
    Put/Update/Delete without a condition -> a txn that reads the key and writes
    the new value guarded by ``mod_revision`` equality; with a condition the
    adapter evaluates it with the item-store model on the value read and commits
    the write guarded by that same ``mod_revision`` (a changed revision retries,
    a false condition -> ``ConditionalCheckFailed``); TransactWrite -> one etcd txn
    comparing every item's ``mod_revision``; TransactGet -> one range-per-key txn.
    A gRPC deadline or lost connection after sending -> ``Indeterminate``.
    Capabilities: ``transactions``, ``strong-reads``, ``stream`` (watch), and
    ``faults`` when the adapter manages the cluster's processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol, runtime_checkable

from replicheck.models.guarantees import check_guarantee
from replicheck.models.items.errors import (
    CancellationReason,
    ConditionalCheckFailed,
    IdempotentParameterMismatch,
    Indeterminate,
    StoreError,
    Throttled,
    TransactionCanceled,
    TransactionConflict,
    ValidationError,
)
from replicheck.models.items.requests import (
    ConditionCheck,
    Delete,
    Get,
    Item,
    Put,
    Request,
    Response,
    ReturnValues,
    TableSchema,
    TransactGet,
    TransactWrite,
    Update,
    WriteAction,
)

__all__ = [
    "CLAIM_NEEDS",
    "OPERATION_KINDS",
    "AntiEntropy",
    "CancellationReason",
    "Capability",
    "Claim",
    "Client",
    "ConditionCheck",
    "ConditionalCheckFailed",
    "Delete",
    "Descriptor",
    "FaultInjectable",
    "Get",
    "Handle",
    "IdempotentParameterMismatch",
    "Indeterminate",
    "Introspectable",
    "Put",
    "Schedulable",
    "Store",
    "StoreError",
    "Streaming",
    "TableSchema",
    "Throttled",
    "TransactGet",
    "TransactWrite",
    "TransactionCanceled",
    "TransactionConflict",
    "Update",
    "ValidationError",
    "Versioned",
    "check_store",
]


class Capability(StrEnum):
    """What a store can do beyond the core item operations (CONTRACTS.md section 2)."""

    TRANSACTIONS = "transactions"
    STRONG_READS = "strong-reads"
    VERSIONS = "versions"
    REPLICA_INTROSPECTION = "replica-introspection"
    ANTI_ENTROPY = "anti-entropy"
    STREAM = "stream"
    FAULTS = "faults"
    DETERMINISTIC_SCHEDULING = "deterministic-scheduling"


OPERATION_KINDS: tuple[str, ...] = (
    "get-strong",
    "get-eventual",
    "put",
    "update",
    "delete",
    "conditional-write",
    "transact-write",
    "transact-get",
    "stream",
    "replicas",
)
"""The operation kinds a claim may name (see ``request_kind``); ``conditional-write``
is any put, update or delete carrying a condition, ``replicas`` the replicas' state."""


@dataclass(frozen=True)
class Claim:
    """A promise: ``guarantee`` (a guarantee ID) holds for the operations of the
    given kinds. ``note`` says under which configuration, for reports."""

    guarantee: str
    operations: frozenset[str] = frozenset()
    note: str = ""

    def __post_init__(self) -> None:
        check_guarantee(self.guarantee)
        unknown = sorted(set(self.operations) - set(OPERATION_KINDS))
        if unknown:
            raise ValueError(
                f"claim {self.guarantee!r} names unknown operation kinds {unknown}; "
                f"known: {', '.join(OPERATION_KINDS)}"
            )


@dataclass(frozen=True)
class Descriptor:
    """A store's self-description, as data.

    ``claims`` are what the suite checks and fails on. ``weaknesses`` names the
    anomalies (Elle's names, e.g. ``stale-read``, ``lost-update``) the store does
    not prevent; seeing one is reported as an observation, never a failure.
    ``tables`` are the tables the store serves, with their key schemas."""

    name: str
    capabilities: frozenset[Capability]
    claims: tuple[Claim, ...] = ()
    weaknesses: frozenset[str] = frozenset()
    tables: tuple[TableSchema, ...] = ()
    notes: str = ""

    def claims_guarantee(self, guarantee: str) -> bool:
        """True when some claim promises ``guarantee``."""
        check_guarantee(guarantee)
        return any(c.guarantee == guarantee for c in self.claims)

    def has(self, capability: Capability | str) -> bool:
        """True when the store declares ``capability``."""
        return Capability(capability) in self.capabilities

    def table(self, name: str) -> TableSchema:
        """The schema of table ``name``; ValidationError if the store has no such table."""
        for schema in self.tables:
            if schema.name == name:
                return schema
        raise ValidationError(
            f"Requested resource not found: table {name!r}; tables: "
            f"{', '.join(t.name for t in self.tables) or '(none)'}",
            what="TableName",
        )


@runtime_checkable
class Store(Protocol):
    """The core contract: a description and one synchronous entry point.

    ``execute`` answers one request: a ``Response`` or one typed error (see the
    module docstring). ``close()``, when a store has it, releases its resources;
    the suite calls it after each example."""

    @property
    def descriptor(self) -> Descriptor:
        """What the store can do and promises."""
        ...

    def execute(self, request: Request) -> Response:
        """Answer ``request`` or raise one error of the family."""
        ...


@runtime_checkable
class Introspectable(Protocol):
    """``replica-introspection``: what each replica holds right now."""

    def replicas(self) -> tuple[str, ...]:
        """The replica (node) ids."""
        ...

    def replica_items(self, replica: str, table: str) -> Mapping[tuple[Any, ...], Item]:
        """Every item replica ``replica`` holds for ``table``, by key tuple."""
        ...


@dataclass(frozen=True)
class SyncStats:
    """What one anti-entropy exchange cost and did."""

    hashes_compared: int
    bytes_exchanged: int
    keys_repaired: int


@runtime_checkable
class AntiEntropy(Protocol):
    """``anti-entropy``: Merkle roots per key range, and a sync between replicas."""

    def merkle_roots(self, replica: str, table: str) -> Mapping[str, bytes]:
        """The replica's Merkle root per key range (range name -> root)."""
        ...

    def anti_entropy(self, a: str, b: str, table: str) -> SyncStats:
        """Bring replicas ``a`` and ``b`` into agreement for ``table``."""
        ...


@dataclass(frozen=True)
class StreamRecord:
    """One change-stream record: INSERT, MODIFY or REMOVE of one item, with the
    images its view type includes, and its position in the item's order."""

    table: str
    event: str
    key: tuple[Any, ...]
    sequence: int
    old_image: Item | None = None
    new_image: Item | None = None


@runtime_checkable
class Streaming(Protocol):
    """``stream``: the table's change stream."""

    def stream_records(self, table: str) -> tuple[StreamRecord, ...]:
        """Every record still retained, in stream order."""
        ...


@runtime_checkable
class FaultInjectable(Protocol):
    """``faults``: the failures the suite may inject."""

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Cut the network so only nodes within one group talk."""
        ...

    def heal(self) -> None:
        """Remove every partition."""
        ...

    def crash(self, node: str) -> None:
        """Stop ``node``, losing what it had not durably logged."""
        ...

    def restart(self, node: str) -> None:
        """Start a crashed ``node`` again from its durable log."""
        ...

    def skew_clock(self, node: str, seconds: float) -> None:
        """Offset ``node``'s clock from the global clock."""
        ...


@dataclass
class Handle:
    """An operation submitted to a schedulable store.

    ``status`` is ``"pending"`` until the scheduler completes it, then ``"ok"``,
    ``"error"`` (a definite error in ``error``) or ``"indeterminate"``."""

    client: str
    request: Request
    status: str = "pending"
    response: Response | None = None
    error: StoreError | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """True once the operation has completed, whatever its outcome."""
        return self.status != "pending"


@runtime_checkable
class Schedulable(Protocol):
    """``deterministic-scheduling``: submit operations, then decide every step.

    ``decisions()`` lists what may happen next (deliver a message, fire a timer, ...)
    as hashable values, in a canonical order; ``decide(d)`` makes it happen. The
    same submissions and decisions always give the same outcomes."""

    def submit(self, client: str, request: Request) -> Handle:
        """Start ``request`` for ``client``; it completes as decisions are made."""
        ...

    def decisions(self) -> tuple[Any, ...]:
        """The steps that may be taken now."""
        ...

    def decide(self, decision: Any) -> None:
        """Take one of ``decisions()``."""
        ...


@runtime_checkable
class Versioned(Protocol):
    """``versions``: siblings and their causal context are visible to clients."""

    def get_versions(self, request: Get) -> tuple[tuple[Item | None, ...], Any]:
        """The sibling values of an item and the opaque context to write back."""
        ...

    def put_with_context(self, request: Put, context: Any) -> Response:
        """A put that supersedes exactly the versions ``context`` has seen."""
        ...


_PROTOCOL_OF: dict[Capability, type] = {
    Capability.REPLICA_INTROSPECTION: Introspectable,
    Capability.ANTI_ENTROPY: AntiEntropy,
    Capability.STREAM: Streaming,
    Capability.FAULTS: FaultInjectable,
    Capability.DETERMINISTIC_SCHEDULING: Schedulable,
    Capability.VERSIONS: Versioned,
}


CLAIM_NEEDS: Final[Mapping[str, Capability]] = {
    "linearizable-strong-reads": Capability.STRONG_READS,
    "serializable-transactions": Capability.TRANSACTIONS,
    "atomic-transactions": Capability.TRANSACTIONS,
    "stream-exactly-once": Capability.STREAM,
    "stream-item-order": Capability.STREAM,
    "merkle-root-iff-equal": Capability.ANTI_ENTROPY,
    "anti-entropy-exact": Capability.ANTI_ENTROPY,
    "vector-clock-order": Capability.VERSIONS,
    "convergence": Capability.REPLICA_INTROSPECTION,
}
"""The capability without which the suite cannot check a claimed guarantee."""


def check_store(store: object) -> list[str]:
    """The ways ``store`` breaks the contract, as sentences (empty when it keeps it):
    not a Store, a declared capability whose protocol it lacks, a claim that needs a
    capability it does not declare."""
    if not isinstance(store, Store):
        return [f"{type(store).__name__} is not a Store: it needs descriptor and execute()"]
    problems = []
    descriptor = store.descriptor
    for capability in sorted(descriptor.capabilities):
        protocol = _PROTOCOL_OF.get(capability)
        if protocol is not None and not isinstance(store, protocol):
            problems.append(
                f"{descriptor.name} declares {capability.value!r} but lacks "
                f"{protocol.__name__} methods"
            )
    for claim in descriptor.claims:
        need = CLAIM_NEEDS.get(claim.guarantee)
        if need is not None and need not in descriptor.capabilities:
            problems.append(
                f"{descriptor.name} claims {claim.guarantee!r} without the "
                f"{need.value!r} capability"
            )
    return problems


class Client:
    """DynamoDB-shaped convenience calls over any Store's ``execute``.

    Each method builds one request and returns what DynamoDB's client would:
    the item (or ``None``) for ``get``, the requested attributes for writes."""

    def __init__(self, store: Store, table: str) -> None:
        self.store = store
        self.table = table

    def get(self, key: Mapping[str, Any], *, consistent: bool = False) -> Item | None:
        """GetItem."""
        return self.store.execute(Get(self.table, key, consistent=consistent)).item

    def put(self, item: Mapping[str, Any], *, condition: str | None = None,
            names: Mapping[str, str] | None = None, values: Mapping[str, Any] | None = None,
            return_values: ReturnValues = "NONE") -> Item | None:
        """PutItem."""
        return self.store.execute(
            Put(self.table, item, condition, names, values, return_values)).item

    def update(self, key: Mapping[str, Any], update: str, *, condition: str | None = None,
               names: Mapping[str, str] | None = None, values: Mapping[str, Any] | None = None,
               return_values: ReturnValues = "NONE") -> Item | None:
        """UpdateItem."""
        return self.store.execute(
            Update(self.table, key, update, condition, names, values, return_values)).item

    def delete(self, key: Mapping[str, Any], *, condition: str | None = None,
               names: Mapping[str, str] | None = None, values: Mapping[str, Any] | None = None,
               return_values: ReturnValues = "NONE") -> Item | None:
        """DeleteItem."""
        return self.store.execute(
            Delete(self.table, key, condition, names, values, return_values)).item

    def transact_write(self, actions: Iterable[WriteAction], token: str | None = None) -> None:
        """TransactWriteItems."""
        self.store.execute(TransactWrite(tuple(actions), token))

    def transact_get(self, keys: Iterable[Mapping[str, Any]]) -> tuple[Item | None, ...]:
        """TransactGetItems on this client's table."""
        return self.store.execute(TransactGet(tuple(Get(self.table, k) for k in keys))).items
