"""The Store contract: what every store under test implements.

A store is anything with a synchronous, DynamoDB-shaped client entry point
(:meth:`Store.execute`) and a :class:`Descriptor` saying, as data, what it can do
(capabilities) and what it promises (claims). Optional abilities are separate
protocols (:class:`Introspectable`, :class:`AntiEntropy`, :class:`Streaming`,
:class:`FaultInjectable`, :class:`Schedulable`, :class:`Versioned`); a store that
declares a capability implements its protocol, and :func:`check_store` says when
the two disagree.

The driving and observation surface
    What the scheduled properties, the shrinker and replay use of a store beyond
    ``execute`` is declared here and nowhere else, each protocol tied to a
    capability (:data:`SURFACE`): :class:`Topology` (nodes, the key-range layout;
    :class:`Leadership` adds partitions and their leaders, :class:`PreferenceLists`
    the replicas of a key in order), :class:`Settling`, :class:`ReplicaSnapshots`
    (with :class:`RangeSnapshots` and :class:`HintSnapshots`),
    :class:`TimeControl`, :class:`MessageControl` (with :class:`DirectRouting`),
    and :class:`FaultInjectable` (partition, heal, crash, restart, pause, resume,
    clock skew). Their members take and return plain values (the frozen
    dataclasses below, strings, numbers, JSON-shaped mappings): a store built on
    any simulation can offer them. :func:`missing_surface` names every protocol a
    store lacks and the properties (or rules) that disables; :func:`check_store`
    includes it for a store that declares ``deterministic-scheduling``.

The suite runs what a store supports and reports the rest as not applicable, with
the reason.

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
from typing import Any, Final, Protocol, Self, runtime_checkable

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
    "DISABLES",
    "HOUSEKEEPING",
    "OPERATION_KINDS",
    "OPTIONAL_SURFACE",
    "SURFACE",
    "AntiEntropy",
    "CancellationReason",
    "Capability",
    "Claim",
    "Client",
    "Closable",
    "ConditionCheck",
    "ConditionalCheckFailed",
    "Decision",
    "Delete",
    "Deliver",
    "Descriptor",
    "DirectRouting",
    "Drop",
    "Duplicate",
    "FaultInjectable",
    "Fire",
    "Forkable",
    "Get",
    "Handle",
    "HintSnapshots",
    "IdempotentParameterMismatch",
    "Indeterminate",
    "Introspectable",
    "KeyRange",
    "KeyTuple",
    "Leadership",
    "MessageControl",
    "MessageInfo",
    "Namespaced",
    "Observation",
    "PreferenceLists",
    "Put",
    "RangeSnapshots",
    "ReplicaSnapshots",
    "Schedulable",
    "SelfCleaning",
    "Settling",
    "Store",
    "StoreError",
    "StreamRecord",
    "StreamViews",
    "Streaming",
    "SyncStats",
    "TableSchema",
    "Throttled",
    "TimeControl",
    "TimerInfo",
    "Topology",
    "TransactGet",
    "TransactWrite",
    "TransactionCanceled",
    "TransactionConflict",
    "Update",
    "ValidationError",
    "Versioned",
    "Windows",
    "check_store",
    "missing_surface",
    "protocol_members",
    "surface_names",
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
    TOPOLOGY = "topology"
    SETTLING = "settling"
    REPLICA_SNAPSHOTS = "replica-snapshots"
    TIME_CONTROL = "time-control"
    MESSAGE_CONTROL = "message-control"


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
class Windows:
    """The store's time windows, in seconds of simulated time; ``None`` when the store
    has no such window. ``idempotency_token``: how long a transaction's client
    request token is remembered; ``stream_retention``: how long a stream record is
    kept; ``lease``: how long a leader's lease lasts; ``hint_timer``: how often a
    fallback offers its hints to their owner; ``failover``: how long a partition
    that lost a replica (its leader, say) may take, with a majority of its replicas
    up and connected, before it answers every request again (the
    ``majority-availability`` promise). Fault strategies jump time past each."""

    idempotency_token: float | None = None
    stream_retention: float | None = None
    lease: float | None = None
    hint_timer: float | None = None
    failover: float | None = None

    def __post_init__(self) -> None:
        for name, value in self.named():
            if value is not None and not value > 0:
                raise ValueError(f"window {name} must be a positive number of seconds, "
                                 f"not {value!r}")

    def named(self) -> tuple[tuple[str, float | None], ...]:
        """Every window by name, in declaration order (``None``: the store has none)."""
        return (("idempotency_token", self.idempotency_token),
                ("stream_retention", self.stream_retention),
                ("lease", self.lease), ("hint_timer", self.hint_timer),
                ("failover", self.failover))

    def declared(self) -> tuple[float, ...]:
        """The windows the store has, in seconds, ascending."""
        return tuple(sorted(v for _, v in self.named() if v is not None))


@dataclass(frozen=True)
class Descriptor:
    """A store's self-description, as data.

    ``claims`` are what the suite checks and fails on. ``weaknesses`` names the
    anomalies (Elle's names, e.g. ``stale-read``, ``lost-update``) the store does
    not prevent; seeing one is reported as an observation, never a failure.
    ``tables`` are the tables the store serves, with their key schemas; ``windows``
    its time windows (:class:`Windows`)."""

    name: str
    capabilities: frozenset[Capability]
    claims: tuple[Claim, ...] = ()
    weaknesses: frozenset[str] = frozenset()
    tables: tuple[TableSchema, ...] = ()
    notes: str = ""
    windows: Windows = field(default_factory=Windows)

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

    def replica_items(self, replica: str, table: str) -> Mapping[KeyTuple, Item]:
        """Every item replica ``replica`` holds for ``table``, by key tuple."""
        ...


@dataclass(frozen=True)
class SyncStats:
    """What one anti-entropy exchange cost and did; ``repaired_keys`` are the keys the
    store says it repaired (shown in reports, never judged: what a session did is
    judged by reading both replicas after it)."""

    hashes_compared: int
    bytes_exchanged: int
    keys_repaired: int
    repaired_keys: tuple[KeyTuple, ...] = ()


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
    key: KeyTuple
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
        """Cut the network: two nodes talk when some group holds both (groups may
        overlap, e.g. a ring of pairs or two halves sharing a bridge node, so
        reachability need not be transitive); a node in no group talks to all."""
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
        """Offset ``node``'s clock from the global clock (negative: behind; a later
        call replaces the offset, so a clock can jump backwards)."""
        ...

    def pause(self, node: str) -> None:
        """Freeze ``node`` (a stopped process): it keeps every state, receives
        nothing and fires no timer; messages to it wait in flight."""
        ...

    def resume(self, node: str) -> None:
        """Unfreeze a paused ``node``: what waited for it can happen again."""
        ...


@dataclass(frozen=True)
class Deliver:
    """Deliver message ``message`` to its destination."""

    message: int


@dataclass(frozen=True)
class Drop:
    """Lose message ``message``."""

    message: int


@dataclass(frozen=True)
class Duplicate:
    """Put a second copy of message ``message`` in flight."""

    message: int


@dataclass(frozen=True)
class Fire:
    """Fire timer ``timer`` (time moves to its deadline if that is later)."""

    timer: int


Decision = Deliver | Drop | Duplicate | Fire
"""One step of a schedulable store: what :meth:`Schedulable.decisions` lists."""


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

    def decisions(self) -> tuple[Decision, ...]:
        """The steps that may be taken now."""
        ...

    def decide(self, decision: Decision) -> None:
        """Take one of ``decisions()``."""
        ...


@runtime_checkable
class Versioned(Protocol):
    """``versions``: siblings and their causal context are visible to clients."""

    def get_versions(self, request: Get) -> tuple[tuple[Item | None, ...], object]:
        """The sibling values of an item and the opaque context to write back."""
        ...

    def put_with_context(self, request: Put, context: object) -> Response:
        """A put that supersedes exactly the versions ``context`` has seen."""
        ...


# -- the driving and observation surface ----------------------------------------------------

KeyTuple = tuple[object, ...]
"""An item's primary key as a tuple of its key attributes' values, in schema order."""

Observation = Mapping[str, object]
"""A JSON-shaped mapping, in the form the suite's checkers read."""


@dataclass(frozen=True)
class KeyRange:
    """One range of a store's key-range layout: its ``name``, the ``replicas`` that
    hold it in order (the first coordinates, or leads at start), and its ``leader``
    now (``None`` for a leaderless range or one without a live leader)."""

    name: str
    replicas: tuple[str, ...]
    leader: str | None = None


@dataclass(frozen=True)
class MessageInfo:
    """A message in flight: ``id`` (what :class:`Deliver`, :class:`Drop` and
    :class:`Duplicate` name), its ends, its ``kind`` and when it was sent."""

    id: int
    src: str
    dst: str
    kind: str
    sent_at: float


@dataclass(frozen=True)
class TimerInfo:
    """A pending timer: ``id`` (what :class:`Fire` names), the endpoint that owns it,
    its ``name`` and its deadline in simulated seconds."""

    id: int
    owner: str
    name: str
    deadline: float


@runtime_checkable
class Topology(Protocol):
    """``topology``: the nodes and the key-range layout.

    ``nodes`` are the node ids faults name; ``key_ranges(table)`` every range of
    ``table`` with its replicas (and leader), in a fixed order; ``range_of(table,
    key)`` the name of the range holding the key tuple ``key``. Keys in one range
    share replicas (and, for Merkle stores, a tree); strategies pick keys by it."""

    @property
    def nodes(self) -> tuple[str, ...]:
        """The node ids, in a fixed order."""
        ...

    def key_ranges(self, table: str) -> tuple[KeyRange, ...]:
        """Every key range of ``table``, in a fixed order."""
        ...

    def range_of(self, table: str, key: KeyTuple) -> str:
        """The name of the range of ``table`` that holds key tuple ``key``."""
        ...


@runtime_checkable
class Leadership(Protocol):
    """``topology`` of a store with a leader per partition: which partition holds a
    key, its replicas, and its leader now (what leader faults aim at)."""

    def partition_of(self, table: str, key: Mapping[str, object]) -> int:
        """The partition holding the item with primary key ``key``."""
        ...

    def partition_replicas(self, partition: int) -> tuple[str, ...]:
        """The nodes holding ``partition``'s replicas."""
        ...

    def leader_of(self, partition: int) -> str | None:
        """The live node leading ``partition`` now, if any."""
        ...


@runtime_checkable
class PreferenceLists(Protocol):
    """``topology`` of a leaderless store: the replicas of a key, in the order a
    coordinator contacts them."""

    def preference_list(self, table: str, key: Mapping[str, object]) -> tuple[str, ...]:
        """The replicas of the item with primary key ``key`` in ``table``, in order."""
        ...


@runtime_checkable
class Settling(Protocol):
    """``settling``: run the store's own protocol to rest.

    ``settle()`` takes fair steps (timers included) until the store is quiet or its
    horizon passed (``seconds`` of simulated time; the store's own default when
    omitted): after a heal and restarts, operations in flight complete and
    background work (hand-offs, replication) finishes. It returns True when the
    store came to rest, False when its horizon passed first, or anything else (a
    count, None) when it does not say. After the network is healed and every node
    restarted and resumed, a store that answers False has not come to rest: the suite
    reports that as a breach of this capability, never judges what it holds then.
    ``quiesce()`` delivers every deliverable message and fires no timer; it returns
    how many it delivered."""

    def settle(self, *, seconds: float = ...) -> object:
        """Run to rest (see the class docstring)."""
        ...

    def quiesce(self) -> int:
        """Deliver every deliverable message, no timers; the number delivered."""
        ...


@runtime_checkable
class ReplicaSnapshots(Protocol):
    """``replica-snapshots``: each replica's entries with their versions, read
    without changing anything: key tuple -> the store's JSON-shaped entry
    (``(item, version)`` or ``{"value", "version"}`` / ``{"siblings", "clock"}``),
    tombstones included."""

    def replica_versions(self, node: str, table: str) -> Mapping[KeyTuple, object]:
        """Every key ``node`` holds for ``table`` with its versions."""
        ...


@runtime_checkable
class RangeSnapshots(Protocol):
    """``replica-snapshots`` of a store with Merkle ranges: every replica of a table
    at once, with each node's Merkle roots and each range's keys and replicas, in
    the form the convergence and Merkle checkers read (an ``observe`` value with
    ``f == "replicas"``). ``quiescent`` and ``anti_entropy`` record what the caller
    did before (healed and settled; ran a full sync round)."""

    def replicas_observation(self, table: str, *, quiescent: bool = False,
                             anti_entropy: bool = False) -> Observation:
        """A snapshot of every replica of ``table``."""
        ...


@runtime_checkable
class HintSnapshots(Protocol):
    """``replica-snapshots`` of a store with hinted handoff: the hints each fallback
    holds (owner and key tuple -> entry as in :class:`ReplicaSnapshots`) and how
    many the running nodes still hold (shown, never judged)."""

    def hinted(self, node: str, table: str) -> Mapping[tuple[str, KeyTuple], object]:
        """The hinted states ``node`` holds for other nodes."""
        ...

    def pending_hints(self) -> int:
        """How many hinted states the running nodes still hold."""
        ...


@runtime_checkable
class Forkable(Protocol):
    """``replica-snapshots`` by probing: ``fork()`` is an independent copy of the store
    in its current state (replicas, messages in flight, timers, clocks). What is done
    to the copy never reaches the original, so a probe (a read that may repair, an
    anti-entropy session) can be observed without changing the example."""

    def fork(self) -> Self:
        """An independent copy of the store, as it is now."""
        ...


@runtime_checkable
class TimeControl(Protocol):
    """``time-control``: the store's simulated clock. ``now()`` is global time in
    seconds; ``advance(seconds)`` moves it forward without firing timers (they fire
    when decided); ``run_for(seconds)`` takes fair steps until that much time has
    passed, returning how many it took."""

    def now(self) -> float:
        """Global simulated time, in seconds."""
        ...

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (ValueError when negative)."""
        ...

    def run_for(self, seconds: float) -> int:
        """Take fair steps for ``seconds`` of simulated time; the number taken."""
        ...


@runtime_checkable
class MessageControl(Protocol):
    """``message-control``: what :meth:`Schedulable.decisions` acts on, as values.

    The messages in flight and pending timers (ids as the decisions name them),
    whether the network lets one endpoint reach another, the messages a partition
    keeps from their destination (a heal does not deliver them: whoever heals drops
    them first), and the fair policy's next step (the oldest deliverable message,
    else the earliest timer; ``None`` when quiet)."""

    def messages_in_flight(self) -> tuple[MessageInfo, ...]:
        """Every message in flight, oldest first."""
        ...

    def pending_timers(self) -> tuple[TimerInfo, ...]:
        """Every pending timer, by deadline then id."""
        ...

    def reachable(self, a: str, b: str) -> bool:
        """True when no partition stands between endpoints ``a`` and ``b``."""
        ...

    def cut_off(self) -> tuple[int, ...]:
        """The ids of the messages in flight a partition keeps from their destination."""
        ...

    def default_decision(self) -> Decision | None:
        """The fair policy's next decision; None when nothing can happen."""
        ...


@runtime_checkable
class DirectRouting(Protocol):
    """``message-control`` of a store whose clients may pick the coordinator: submit
    ``request`` for ``client`` to ``node`` itself (bad input completes at once with a
    ValidationError, nothing sent). With ``context`` (a store with ``versions``; a
    put only) the put supersedes exactly the versions the causal context covers (an
    empty context: none, a blind write that stays a sibling)."""

    def submit_at(self, client: str, request: Request, node: str,
                  context: Mapping[str, int] | None = None) -> Handle:
        """Start ``request`` for ``client``, coordinated by ``node``."""
        ...


@runtime_checkable
class StreamViews(Protocol):
    """``stream`` of a store whose tables have a view type: which images a table's
    records carry (``KEYS_ONLY``, ``NEW_IMAGE``, ``OLD_IMAGE``,
    ``NEW_AND_OLD_IMAGES``; None for a table without a stream)."""

    def stream_view(self, table: str) -> str | None:
        """The stream view type of ``table``."""
        ...


@runtime_checkable
class Closable(Protocol):
    """Any store may have ``close()``: it releases the store's resources; the suite
    calls it after each example (and after each probe of a factory)."""

    def close(self) -> None:
        """Release the store's resources."""
        ...


@runtime_checkable
class Namespaced(Protocol):
    """Any store may say which namespace it runs in (a table, a key prefix, a
    database), for reports and cleanup messages."""

    @property
    def namespace(self) -> str | None:
        """The namespace, or None."""
        ...


@runtime_checkable
class SelfCleaning(Protocol):
    """Any store may say it removes what the suite wrote itself (``cleans_up`` is
    True); then the suite deletes nothing after an example."""

    @property
    def cleans_up(self) -> bool:
        """True when the store cleans up after itself."""
        ...


HOUSEKEEPING: Final[tuple[type, ...]] = (Closable, Namespaced, SelfCleaning)
"""The protocols any store may offer whatever its capabilities."""


SURFACE: Final[Mapping[Capability, tuple[type, ...]]] = {
    Capability.TOPOLOGY: (Topology, Leadership, PreferenceLists),
    Capability.SETTLING: (Settling,),
    Capability.REPLICA_SNAPSHOTS: (ReplicaSnapshots, RangeSnapshots, HintSnapshots,
                                   Forkable),
    Capability.TIME_CONTROL: (TimeControl,),
    Capability.MESSAGE_CONTROL: (MessageControl, DirectRouting),
    Capability.FAULTS: (FaultInjectable,),
    Capability.DETERMINISTIC_SCHEDULING: (Schedulable,),
    Capability.STREAM: (Streaming, StreamViews),
}
"""The driving and observation protocols of each capability: the first is what a store
declaring the capability must implement; the others refine it (a store offers those
that fit its design: partitions with leaders, or preference lists)."""

DISABLES: Final[Mapping[str, str]] = {
    "Schedulable": "every scheduled property (concurrent-histories-under-faults, "
                   "convergence-after-anti-entropy, stream-exactly-once-in-order, "
                   "vector-clocks-and-siblings)",
    "Topology": "the fault rules of every scheduled property and the key-range-aware "
                "anti-entropy sessions of convergence-after-anti-entropy",
    "Leadership": "the leader faults of concurrent-histories-under-faults and "
                  "stream-exactly-once-in-order, and per-partition convergence ranges",
    "PreferenceLists": "the writes sent to one replica in concurrent-histories-under-faults "
                       "and convergence-after-anti-entropy, and vector-clocks-and-siblings",
    "Settling": "convergence-after-anti-entropy and vector-clocks-and-siblings (judged "
                "after the store settles)",
    "ReplicaSnapshots": "convergence-after-anti-entropy and the convergence judgement of "
                        "concurrent-histories-under-faults",
    "RangeSnapshots": "the merkle-root-iff-equal checks at every step",
    "HintSnapshots": "the hinted-handoff-delivers observation",
    "Forkable": "the read-repair probes and the anti-entropy sessions run on a copy of the "
                "store (read-repair-repairs, anti-entropy-exact before settling)",
    "TimeControl": "the rules that let time pass (concurrent-histories-under-faults, "
                   "stream-exactly-once-in-order) and jumps past the store's windows",
    "MessageControl": "the message faults and healing that drops cut-off messages in "
                      "every scheduled property, and the shrinker's decision rewrites",
    "DirectRouting": "the writes sent to one replica (concurrent-histories-under-faults, "
                     "convergence-after-anti-entropy)",
    "FaultInjectable": "every fault rule of the scheduled properties",
    "Streaming": "stream-exactly-once-in-order",
    "StreamViews": "the image checks of stream-exactly-once-in-order that need the view type",
}
"""What the suite cannot do with a store lacking each surface protocol (by name)."""


def protocol_members(protocol: type) -> tuple[str, ...]:
    """The member names ``protocol`` declares (its methods and properties)."""
    names = getattr(protocol, "__protocol_attrs__", None)
    if names is None:  # Python < 3.12
        from typing import _get_protocol_attrs  # type: ignore[attr-defined]

        names = _get_protocol_attrs(protocol)
    return tuple(sorted(names))


def surface_names() -> frozenset[str]:
    """Every attribute name the suite may use of a store: the members of the Store
    contract, of the housekeeping protocols, of every capability protocol and of
    every surface protocol."""
    names: set[str] = set()
    for protocol in (Store, *HOUSEKEEPING, *_PROTOCOL_OF.values(),
                     *(p for group in SURFACE.values() for p in group)):
        names |= set(protocol_members(protocol))
    return frozenset(names)


OPTIONAL_SURFACE: Final = frozenset({Capability.STREAM})
"""Capabilities whose surface a schedulable store needs only when it declares them."""


def missing_surface(store: object, *, refinements: bool = False) -> list[str]:
    """Every surface protocol ``store`` lacks, one sentence each naming its members and
    what that disables (empty for a store that offers them all). Only the protocol
    each capability requires (the first of its :data:`SURFACE` group), unless
    ``refinements``: then also those that fit one design only (a leaderless store
    has no :class:`Leadership`, a leader store no :class:`PreferenceLists`)."""
    out = []
    seen: set[type] = set()
    declared = store.descriptor.capabilities if isinstance(store, Store) else frozenset()
    for capability, group in SURFACE.items():
        if capability in OPTIONAL_SURFACE and capability not in declared and not refinements:
            continue
        for protocol in group if refinements else group[:1]:
            if protocol in seen or isinstance(store, protocol):
                continue
            seen.add(protocol)
            out.append(f"lacks {protocol.__name__} ({', '.join(protocol_members(protocol))}),"
                       f" which disables {DISABLES[protocol.__name__]}")
    return out


_PROTOCOL_OF: dict[Capability, type] = {
    Capability.REPLICA_INTROSPECTION: Introspectable,
    Capability.ANTI_ENTROPY: AntiEntropy,
    Capability.STREAM: Streaming,
    Capability.FAULTS: FaultInjectable,
    Capability.DETERMINISTIC_SCHEDULING: Schedulable,
    Capability.VERSIONS: Versioned,
    Capability.TOPOLOGY: Topology,
    Capability.SETTLING: Settling,
    Capability.REPLICA_SNAPSHOTS: ReplicaSnapshots,
    Capability.TIME_CONTROL: TimeControl,
    Capability.MESSAGE_CONTROL: MessageControl,
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
    capability it does not declare, and, for a store declaring
    ``deterministic-scheduling``, every driving and observation protocol it lacks
    with what that disables (:func:`missing_surface`): a schedulable store is driven
    through them, and each one missing turns rules or whole properties off."""
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
    if descriptor.has(Capability.DETERMINISTIC_SCHEDULING):
        problems.extend(f"{descriptor.name} {gap}" for gap in missing_surface(store))
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
