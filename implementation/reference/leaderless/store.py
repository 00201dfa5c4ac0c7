"""The leaderless (Dynamo paper) reference store: the facade over a simulated ring.

:class:`LeaderlessStore` is a :class:`~replicheck.implementation.reference.base.SimulatedStore`
whose nodes are :class:`~replicheck.implementation.reference.leaderless.node.LeaderlessNode`
endpoints on one deterministic simulation. It implements the Store contract and the
protocols of the capabilities it declares: ``replica-introspection``,
``anti-entropy``, ``faults``, ``deterministic-scheduling``, and ``versions`` when
conflicts are resolved with dotted version vectors.

Which node a client talks to (:meth:`LeaderlessStore.coordinator`): the first replica
of the key's preference list that is not crashed (the first replica when all are) —
a partition-aware client library with a failure detector that notices crashes but
not partitions. So a key is coordinated by one node while it is up, by the next
replica while it is down, and every coordinator is a replica of its key.

``Get(consistent=True)`` is accepted and served exactly like an eventually
consistent read (a read of ``r`` replicas): a leaderless quorum is not linearizable,
and the store claims no strong reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from replicheck.implementation.memory import DEFAULT_TABLE
from replicheck.implementation.reference.base import CLIENT_TIMEOUT, ClientEndpoint, SimulatedStore
from replicheck.implementation.reference.leaderless.antientropy import SyncResult
from replicheck.implementation.reference.leaderless.config import Cluster, LeaderlessConfig
from replicheck.implementation.reference.leaderless.node import LeaderlessNode, key_of
from replicheck.implementation.reference.leaderless.ring import Ring
from replicheck.implementation.reference.leaderless.storage import (
    KeyTuple,
    ReplicaStorage,
    replay,
)
from replicheck.implementation.reference.leaderless.validation import (
    check_item_size,
    check_request,
)
from replicheck.implementation.reference.leaderless.versions import State, frozen
from replicheck.implementation.reference.sim import Decision, Deliver, Simulation
from replicheck.implementation.store import (
    Capability,
    Claim,
    Descriptor,
    Handle,
    KeyRange,
    SyncStats,
    Windows,
)
from replicheck.models.clocks import VectorClock
from replicheck.models.items.errors import Indeterminate, ValidationError
from replicheck.models.items.operations import Database, apply, key_tuple
from replicheck.models.items.requests import (
    Get,
    Item,
    Put,
    Request,
    Response,
    TableSchema,
)
from replicheck.models.items.values import item_from_wire, key_text, normalize_item

_READS = frozenset({"get-strong", "get-eventual"})
_WRITES = frozenset({"put", "update", "delete", "conditional-write"})
_REPLICAS = frozenset({"replicas"})

WEAKNESSES: frozenset[str] = frozenset({
    "stale-read", "not-linearizable", "lost-update", "read-your-writes",
    "monotonic-reads", "monotonic-writes", "writes-follow-reads"})
"""What no leaderless preset prevents: sloppy quorums and failures let a read miss an
acknowledged write (stale reads, no session guarantees), conditional writes and
updates are a read then a write (two can both succeed: lost updates), and nothing is
linearizable."""


def describe(name: str, config: LeaderlessConfig,
             tables: tuple[TableSchema, ...]) -> Descriptor:
    """The descriptor of a leaderless cluster: capabilities and only the claims that
    its configuration makes true (see the module docstring of the package)."""
    capabilities = {Capability.REPLICA_INTROSPECTION, Capability.ANTI_ENTROPY,
                    Capability.FAULTS, Capability.DETERMINISTIC_SCHEDULING,
                    Capability.TOPOLOGY, Capability.SETTLING, Capability.REPLICA_SNAPSHOTS,
                    Capability.TIME_CONTROL, Capability.MESSAGE_CONTROL}
    claims = [
        Claim("convergence", _REPLICAS,
              "after healing, restarting every node, settling (hints handed off) and one "
              "anti-entropy sync between every pair of nodes, all replicas of each key "
              "hold the same state and no acknowledged write is lost"),
        Claim("merkle-root-iff-equal", _REPLICAS,
              "one BLAKE2b-256 Merkle tree per table and ring range over the replica's "
              "versioned states: equal roots exactly when equal states"),
        Claim("anti-entropy-exact", _REPLICAS,
              "a sync that no write races leaves both replicas equal on every range "
              "they share, repairing exactly the keys on which they differed"),
    ]
    if config.sloppy_quorum:
        capabilities_note = "sloppy quorum with hinted handoff"
        claims.append(Claim(
            "hinted-handoff-delivers", _REPLICAS | _WRITES,
            "a fallback offers every hinted write to its owner every "
            f"{config.handoff_period} s until the owner acknowledges it, then drops its "
            "copy: once the owner is up and reachable, every hint is delivered"))
        claims.append(Claim(
            "sloppy-quorum-availability", _READS | _WRITES,
            f"a coordinator lacking w (r) answers from a key's owners after "
            f"{config.sloppy_after} s asks the next nodes of the ring instead: with "
            "every owner of a key but one down and enough other nodes up, every request "
            f"on the key is answered within {config.coordinator_timeout} s"))
    else:
        capabilities_note = "strict quorum (no fallbacks)"
    if config.read_repair:
        claims.append(Claim(
            "read-repair-repairs", _READS,
            "after a read, every replica that answered with an older or different "
            "state is sent the merged state, and holds it once that message arrives"))
    if config.resolution == "dvv":
        capabilities.add(Capability.VERSIONS)
        claims.append(Claim(
            "vector-clock-order", _READS | _WRITES,
            "dotted version vectors: a write supersedes exactly the versions its "
            "context covers; concurrent writes are all kept as siblings"))
        resolution = "dotted version vectors with siblings"
    else:
        resolution = ("last writer wins on (coordinator's skewed clock, node id): "
                      "clock skew can make an older write win")
    notes = (f"leaderless (Dynamo paper): {config.nodes} nodes x {config.vnodes} virtual "
             f"nodes, N={config.n} R={config.r} W={config.w}, {resolution}, "
             f"{capabilities_note}, read repair {'on' if config.read_repair else 'off'}, "
             "Merkle anti-entropy per ring range. Conditional writes and updates read "
             "then write (not atomic); no transactions; consistent reads are quorum "
             "reads, not linearizable.")
    windows = Windows(hint_timer=config.handoff_period if config.sloppy_quorum else None)
    return Descriptor(name, frozenset(capabilities), tuple(claims), WEAKNESSES, tables,
                      notes, windows)


NETWORK_LATENCY = 0.001
"""Seconds of simulated time one message takes (see :class:`LatencySimulation`)."""


class LatencySimulation(Simulation):
    """The simulation with a network latency: delivering a message moves the global
    clock to at least its send time plus ``latency``, so time passes as messages
    travel (nodes' clocks, and so last-writer-wins timestamps, advance with the
    protocol instead of standing still between timer firings). Nothing else changes:
    decisions, their order and faults are the core's."""

    def __init__(self, latency: float = NETWORK_LATENCY) -> None:
        super().__init__()
        self.latency = latency

    def decide(self, decision: Decision) -> None:
        """Take one decision; a delivery first moves time to its arrival."""
        if isinstance(decision, Deliver):
            message = self.in_flight.get(decision.message)
            if message is not None and self.deliverable(message):
                self.now = max(self.now, message.sent_at + self.latency)
        super().decide(decision)


class LeaderlessClient(ClientEndpoint):
    """A client that can also send a put with a causal context."""

    def submit_with_context(self, handle: Handle, coordinator: str,
                            context: VectorClock) -> None:
        """Send ``handle.request`` with ``context`` to ``coordinator``."""
        self.next_request += 1
        rid = self.next_request
        self.send(coordinator, "request", (rid, handle.request, context))
        timer = self.set_timer(self.timeout, "timeout", rid)
        self.pending[rid] = (handle, timer)
        handle.meta["coordinator"] = coordinator


class LeaderlessStore(SimulatedStore):
    """A leaderless cluster of ``config.nodes`` nodes (``n1``, ``n2``, ...) serving
    ``tables``; ``seed`` places the virtual nodes on the ring. The same seed,
    submissions and decisions always give the same outcomes."""

    def __init__(self, config: LeaderlessConfig | None = None, *, name: str = "dynamo",
                 tables: Iterable[TableSchema] = (DEFAULT_TABLE,), seed: int = 0,
                 client_timeout: float = CLIENT_TIMEOUT) -> None:
        super().__init__(seed=seed, client_timeout=client_timeout)
        self.sim = LatencySimulation()
        self.config = config or LeaderlessConfig()
        schemas = tuple(tables)
        if len({t.name for t in schemas}) != len(schemas):
            raise ValueError(f"duplicate table names in {[t.name for t in schemas]}")
        self.nodes = tuple(f"n{i + 1}" for i in range(self.config.nodes))
        ring = Ring(self.nodes, vnodes=self.config.vnodes, n=self.config.n, seed=seed)
        self.cluster = Cluster(self.config, ring, {t.name: t for t in schemas})
        self.node_endpoints: dict[str, LeaderlessNode] = {}
        for node_id in self.nodes:
            node = LeaderlessNode(node_id, self.cluster)
            self.sim.attach(node)
            self.node_endpoints[node_id] = node
        self._descriptor = describe(name, self.config, schemas)
        self.last_sync: SyncResult | None = None

    @property
    def ring(self) -> Ring:
        """The cluster's ring."""
        return self.cluster.ring

    # -- routing and validation -------------------------------------------------------------

    def client(self, name: str) -> ClientEndpoint:
        """The client endpoint ``name`` (a :class:`LeaderlessClient`), attached on first
        use."""
        found = self.clients.get(name)
        if found is None:
            found = LeaderlessClient(name, self.client_timeout)
            self.sim.attach(found)
            self.clients[name] = found
        return found

    def coordinator(self, client: str, request: Request) -> str:
        """The first replica of the request's key that is not crashed (the first
        replica when every one is)."""
        _, key = key_of(self.cluster, request)
        owners = self.ring.preference_list(key)
        return next((o for o in owners if o not in self.sim.crashed), owners[0])

    def validate(self, request: Request) -> None:
        """DynamoDB's validation (keys, values, expressions, placeholders, return
        values, the 400 KB item limit) and the refusal of transactions: a
        ValidationError here means nothing was sent and no replica changed."""
        check_request(self.cluster.schema, request, self.descriptor.name)

    # -- versions ---------------------------------------------------------------------------

    def _require_versions(self) -> None:
        if not self.cluster.resolver.siblings_allowed:
            raise ValidationError(
                f"the {self.descriptor.name} preset resolves conflicts by last writer wins "
                "and exposes no versions (no 'versions' capability)", what="Context")

    def submit_with_context(self, client: str, request: Put,
                            context: VectorClock | Mapping[str, int] | None) -> Handle:
        """Start a put that supersedes exactly the versions ``context`` (a context
        from :meth:`get_versions` or a read's ``meta["clock"]``) covers; it completes
        as decisions are taken. Bad input completes at once with a ValidationError."""
        handle = Handle(client, request)
        try:
            self._require_versions()
            if not isinstance(request, Put):
                raise ValidationError("only a Put carries a causal context", what="Request")
            self.validate(request)
            clock = _clock(context)
        except ValidationError as error:
            handle.status, handle.error = "error", error
            return handle
        endpoint = self.client(client)
        assert isinstance(endpoint, LeaderlessClient)
        endpoint.submit_with_context(handle, self.coordinator(client, request), clock)
        return handle

    def submit_at(self, client: str, request: Request, node: str,
                  context: Mapping[str, int] | None = None) -> Handle:
        """Start ``request`` for ``client`` coordinated by ``node``; with ``context``
        (a put) the put carries that causal context and supersedes exactly what it
        covers (an empty one: nothing). Bad input completes at once with a
        ValidationError, nothing sent."""
        if context is None:
            return super().submit_at(client, request, node)
        self._known(node)
        handle = Handle(client, request)
        try:
            self.validate(request)
        except ValidationError as error:
            handle.status, handle.error = "error", error
            return handle
        endpoint = self.client(client)
        assert isinstance(endpoint, LeaderlessClient)
        endpoint.submit_with_context(handle, node, _clock(context))
        return handle

    def get_versions(self, request: Get) -> tuple[tuple[Item | None, ...], Any]:
        """Every sibling of the item (``None`` for a deletion kept as a sibling) as a
        read of ``r`` replicas saw them, in dot order, and the causal context to pass
        to :meth:`put_with_context` (a :class:`~replicheck.models.clocks.VectorClock`)."""
        self._require_versions()
        handle = self.submit("client-0", request)
        self.run_until_done(handle)
        if handle.status != "ok":
            assert handle.error is not None
            raise handle.error
        table, key = key_of(self.cluster, request)
        schema = self.cluster.schema(table)
        siblings: list[Item | None] = []
        for sibling in handle.meta["siblings"]:
            if sibling["value"] is None:
                siblings.append(None)
                continue
            view = Database({table: schema}, {table: {key: item_from_wire(sibling["value"])}})
            siblings.append(apply(view, request)[1].item)
        return tuple(siblings), VectorClock(handle.meta["clock"])

    def put_with_context(self, request: Put, context: Any) -> Response:
        """A put that supersedes exactly the versions ``context`` has seen; answers as
        ``execute`` does."""
        handle = self.submit_with_context("client-0", request, context)
        if not handle.done:
            self.run_until_done(handle)
        if handle.status == "ok":
            assert handle.response is not None
            return handle.response
        assert handle.error is not None
        raise handle.error

    # -- introspection ----------------------------------------------------------------------

    def replicas(self) -> tuple[str, ...]:
        """The node ids."""
        return self.nodes

    def _storage(self, node: str) -> ReplicaStorage:
        self._known(node)
        endpoint = self.node_endpoints[node]
        if node in self.sim.crashed:
            return replay(self.cluster, endpoint.durable).storage
        return endpoint.storage

    def replica_states(self, node: str, table: str) -> Mapping[KeyTuple, State]:
        """The raw versioned states ``node`` holds as a replica of ``table`` (for a
        crashed node: what it will hold after restart)."""
        self.cluster.schema(table)
        return dict(self._storage(node).states(table))

    def replica_items(self, node: str, table: str) -> Mapping[tuple[Any, ...], Item]:
        """Every item ``node`` holds for ``table`` as a replica, by key tuple: the item a
        ``Get`` answered by this replica alone would return (the live sibling with the
        greatest dot under DVV); deleted keys are absent."""
        resolver = self.cluster.resolver
        out: dict[tuple[Any, ...], Item] = {}
        for key, state in self.replica_states(node, table).items():
            item = resolver.chosen(state)
            if item is not None:
                out[key] = item
        return out

    def replica_versions(self, node: str, table: str) -> dict[KeyTuple, dict[str, Any]]:
        """Every key ``node`` holds for ``table`` (tombstones included) with its
        versions as JSON: ``{"value": V, "version": [timestamp, node]}`` (LWW) or
        ``{"siblings": [{"value": V, "dot": [node, n]}, ...], "clock": {...}}`` (DVV),
        values as DynamoDB JSON, ``None`` for a deletion."""
        resolver = self.cluster.resolver
        return {key: resolver.entry(state)
                for key, state in self.replica_states(node, table).items()}

    def hinted(self, node: str, table: str) -> dict[tuple[str, KeyTuple], dict[str, Any]]:
        """The hinted states ``node`` holds for other nodes: (owner, key) -> versions
        as in :meth:`replica_versions`."""
        self._known(node)
        self.cluster.schema(table)
        endpoint = self.node_endpoints[node]
        hints = (replay(self.cluster, endpoint.durable).hints if node in self.sim.crashed
                 else endpoint.hints)
        resolver = self.cluster.resolver
        return {(owner, key): resolver.entry(state)
                for (owner, t, key), state in hints.items() if t == table}

    def pending_hints(self) -> int:
        """How many hinted states the running nodes still hold."""
        return sum(len(self.node_endpoints[n].hints) for n in self.nodes
                   if n not in self.sim.crashed)

    def ranges(self) -> dict[str, dict[str, Any]]:
        """Every ring range: ``{name: {"lo": int, "hi": int, "replicas": [node, ...]}}``
        (the form the convergence checker reads)."""
        return {p.name: {"lo": p.lo, "hi": p.hi, "replicas": list(p.preference[: self.config.n])}
                for p in self.ring.partitions}

    def replicas_observation(self, table: str, *, quiescent: bool = False,
                             anti_entropy: bool = False) -> dict[str, Any]:
        """A snapshot of every replica of ``table`` in the form the convergence
        checker reads (the value of an ``observe`` record with ``f == "replicas"``):
        each node's entries (:meth:`replica_versions`) by key text, its Merkle roots
        (hex), and every ring range with its replicas and the keys held in it. A key's
        text is :func:`key_text`. ``quiescent`` and ``anti_entropy`` say what the
        caller did before taking it (healed and settled; ran a full sync round)."""
        self.cluster.schema(table)
        replicas: dict[str, dict[str, Any]] = {}
        keys_by_range: dict[str, set[str]] = {p.name: set() for p in self.ring.partitions}
        for node in self.nodes:
            held = {}
            for key, entry in self.replica_versions(node, table).items():
                text = key_text(key)
                held[text] = entry
                keys_by_range[self.ring.partition_of(key).name].add(text)
            replicas[node] = dict(sorted(held.items()))
        return {
            "table": table,
            "quiescent": quiescent,
            "anti_entropy": anti_entropy,
            "replicas": replicas,
            "roots": {n: {r: h.hex() for r, h in self.merkle_roots(n, table).items()}
                      for n in self.nodes},
            "ranges": {p.name: {"keys": sorted(keys_by_range[p.name]),
                                "replicas": list(p.preference[: self.config.n])}
                       for p in self.ring.partitions},
        }

    def key_ranges(self, table: str) -> tuple[KeyRange, ...]:
        """Every ring range in token order, with its ``n`` replicas (no leader)."""
        self.cluster.schema(table)
        return tuple(KeyRange(p.name, p.preference[: self.config.n])
                     for p in self.ring.partitions)

    def range_of(self, table: str, key: tuple[Any, ...]) -> str:
        """The name of the ring range holding key tuple ``key``."""
        self.cluster.schema(table)
        return self.ring.partition_of(tuple(key)).name

    def preference_list(self, table: str, key: Mapping[str, Any]) -> tuple[str, ...]:
        """The replicas of the item with primary key ``key`` in ``table``, in order."""
        return self.ring.preference_list(key_tuple(self.cluster.schema(table), key,
                                                   what="Key"))

    # -- anti-entropy ---------------------------------------------------------------------

    def merkle_roots(self, replica: str, table: str) -> Mapping[str, bytes]:
        """The replica's Merkle root of every ring range it replicates, by range name."""
        self.cluster.schema(table)
        storage = self._storage(replica)
        return {name: storage.tree(table, name).root for name in self.ring.ranges_of(replica)}

    def anti_entropy(self, a: str, b: str, table: str) -> SyncStats:
        """A Merkle sync initiated by ``a`` with ``b`` over every range of ``table``
        both replicate, run through the simulation (fair policy) until it finishes;
        it repairs exactly the differing keys on both sides. ``Indeterminate`` when it
        cannot finish (a crashed node, a partition, lost messages): some keys may have
        been repaired. :attr:`last_sync` keeps the full counters."""
        self._known(a)
        self._known(b)
        self.cluster.schema(table)
        if a == b:
            raise ValueError(f"anti-entropy needs two different replicas, got {a!r} twice")
        if a in self.sim.crashed:
            raise Indeterminate(f"anti-entropy: {a} is crashed")
        engine = self.node_endpoints[a].sync
        sid = engine.start(b, table)
        self.sim.run(lambda: sid in engine.results)
        result = engine.results.pop(sid, None)
        if result is None:
            raise Indeterminate(f"anti-entropy between {a} and {b}: the simulation went quiet")
        self.last_sync = result
        if not result.ok:
            raise Indeterminate(f"anti-entropy between {a} and {b} did not finish: "
                                f"{result.reason}")
        return SyncStats(result.hashes_compared, result.bytes_exchanged, result.keys_repaired,
                         tuple(result.repaired_keys))

    def anti_entropy_round(self, table: str) -> list[SyncStats]:
        """One sync between every pair of nodes (``a`` before ``b`` in node order)."""
        return [self.anti_entropy(a, b, table)
                for i, a in enumerate(self.nodes) for b in self.nodes[i + 1:]]

    # -- running ----------------------------------------------------------------------------

    def settle(self, seconds: float = 5.0, *, max_steps: int = 1_000_000) -> int:
        """Take fair decisions until nothing is left to do or ``seconds`` of simulated
        time have passed, then deliver every deliverable message; returns the number of
        decisions. After healing and restarting every node, this completes every
        operation in flight and hands off every hint."""
        horizon = self.sim.now + seconds
        steps = self.sim.run(lambda: self.sim.now >= horizon, max_steps=max_steps)
        return steps + self.sim.quiesce(max_steps=max_steps)

    def bulk_load(self, table: str, items: Iterable[Mapping[str, Any]], *,
                  nodes: Iterable[str] | None = None) -> int:
        """An operator's bulk load that bypasses the protocol (for tests and
        benchmarks): each item becomes a blind write coordinated by the first of its
        replicas among ``nodes`` (default: every node) and is stored, durably, at
        each of its replicas among ``nodes``. Returns the number of items loaded (an
        item none of whose replicas is in ``nodes`` is skipped). ValueError for a
        crashed target; ValidationError for a bad item."""
        schema = self.cluster.schema(table)
        targets = set(self.nodes if nodes is None else nodes)
        for node in sorted(targets):
            self._known(node)
            if node in self.sim.crashed:
                raise ValueError(f"cannot bulk load into crashed node {node!r}")
        resolver = self.cluster.resolver
        pending: dict[str, dict[KeyTuple, State]] = {n: {} for n in self.nodes}
        loaded = 0
        for raw in items:
            item = normalize_item(raw)
            check_item_size(item)
            key = key_tuple(schema, item, what="Item", exact=False)
            owners = [o for o in self.ring.preference_list(key) if o in targets]
            if not owners:
                continue
            coordinator = self.node_endpoints[owners[0]]
            local = pending[coordinator.id].get(key) or coordinator.storage.get(table, key)
            stamp = 0 if resolver.siblings_allowed else coordinator.timestamp()
            state, _ = resolver.write(local, VectorClock(), coordinator.id, frozen(item), stamp)
            for owner in owners:
                current = pending[owner].get(key) or self.node_endpoints[owner].storage.get(
                    table, key)
                merged = resolver.merge(current, state)
                assert merged is not None
                pending[owner][key] = merged
            loaded += 1
        for node_id, rows in pending.items():
            if not rows:
                continue
            endpoint = self.node_endpoints[node_id]
            endpoint.storage.load(table, rows.items())
            for key, state in rows.items():
                endpoint.log(("store", table, key, state))
        return loaded


def _clock(context: VectorClock | Mapping[str, int] | None) -> VectorClock:
    if context is None:
        return VectorClock()
    if isinstance(context, VectorClock):
        return context
    if isinstance(context, Mapping):
        try:
            return VectorClock(context)
        except (TypeError, ValueError) as error:
            raise ValidationError(f"not a causal context: {error}", what="Context") from None
    raise ValidationError(f"not a causal context: {context!r}", what="Context")
