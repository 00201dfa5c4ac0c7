"""Observing a store's replication mechanisms from outside: what each replica holds,
what an anti-entropy session did, what read repair and hinted handoff left behind,
and the change stream.

Each function reads the store only through the observation surface of
:mod:`replicheck.implementation.store` (replica snapshots, topology, forks, hint
snapshots, streams) and returns the JSON-shaped observation the checkers of
:mod:`replicheck.properties.guarantees` judge: a mechanism is judged on the replicas'
observed state, never on its own bookkeeping (the store's counts are kept, shown,
never judged).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from replicheck.implementation.store import (
    Drop,
    FaultInjectable,
    Forkable,
    HintSnapshots,
    Introspectable,
    Leadership,
    MessageControl,
    ReplicaSnapshots,
    Schedulable,
    Settling,
    StreamViews,
    TimeControl,
    Topology,
)
from replicheck.models.items.errors import StoreError
from replicheck.models.items.requests import Get
from replicheck.models.items.values import key_text
from replicheck.properties.guarantees import _merge_entries, _reflects_entry
from replicheck.properties.provenance import version_names

__all__ = [
    "canon",
    "handoff_twin",
    "hinted_states",
    "hints_observation",
    "leader_replicas_observation",
    "read_repair_probes",
    "replicas_of_leaders",
    "shared_ranges",
    "stream_observation",
    "sync_session",
    "twin_sync_observations",
]


def canon(value: Any) -> str:
    """``value`` as canonical JSON (sorted keys): equal entries, equal text."""
    return json.dumps(value, sort_keys=True, default=str)


def entries(store: Any, table: str, node: str) -> dict[str, Any]:
    """Replica ``node``'s entries of ``table``, by key text."""
    return {key_text(k): v for k, v in store.replica_versions(node, table).items()}


def leader_replicas_observation(store: Any, table: str) -> dict[str, Any]:
    """Every replica of ``table`` of a store without Merkle trees, in the form the
    convergence checker reads: each node's items with their versions, and, when the
    store says which partition holds a key (``partition_of``, ``partition_replicas``),
    one range per partition with its keys and replicas (else every node replicates
    every key)."""
    schema = store.descriptor.table(table)
    partitioned = isinstance(store, Leadership)
    replicas: dict[str, dict[str, Any]] = {}
    ranges: dict[str, dict[str, Any]] = {}
    for node in store.replicas():
        held: dict[str, Any] = {}
        for key, (item, version) in store.replica_versions(node, table).items():
            text = key_text(key)
            held[text] = {"value": item, "version": version}
            if partitioned:
                partition = store.partition_of(
                    table, dict(zip(schema.key_attributes, key, strict=True)))
                entry = ranges.setdefault(f"p{partition}", {
                    "keys": [], "replicas": list(store.partition_replicas(partition))})
                if text not in entry["keys"]:
                    entry["keys"].append(text)
        replicas[node] = held
    observation: dict[str, Any] = {"table": table, "quiescent": True, "replicas": replicas}
    if partitioned:
        observation["ranges"] = ranges
    return observation


def replicas_of_leaders(store: Any, table: str) -> dict[str, Any] | None:
    """Every replica of a leader-mode store (:func:`leader_replicas_observation`:
    ranges when it says which partition holds a key, else every node replicates every
    key, as a global table's regions do); None when it cannot show its replicas."""
    if not (isinstance(store, ReplicaSnapshots) and isinstance(store, Introspectable)):
        return None
    return leader_replicas_observation(store, table)


def shared_ranges(store: Topology, table: str, a: str, b: str) -> frozenset[str]:
    """The names of the key ranges of ``table`` that both ``a`` and ``b`` replicate."""
    return frozenset(r.name for r in store.key_ranges(table)
                     if a in r.replicas and b in r.replicas)


def sync_session(store: Any, table: str, a: str, b: str) -> dict[str, Any]:
    """One anti-entropy session between ``a`` and ``b``, as an ``anti-entropy``
    observation: the keys of their shared ranges whose entries differed before it,
    the keys the store says it repaired in a session that finished (shown, never
    judged), whether it finished, and ``after``: both replicas' entries of their
    shared ranges read right after the session (by node, then key text), what
    ``anti-entropy-exact`` is judged on. Ranges are the store's key-range layout
    (:class:`Topology`)."""
    shared = shared_ranges(store, table, a, b)

    def held(node: str) -> dict[str, str]:
        return {key_text(k): canon(v) for k, v in store.replica_versions(node, table).items()
                if store.range_of(table, k) in shared}

    first, second = held(a), held(b)
    differing = sorted(k for k in set(first) | set(second) if first.get(k) != second.get(k))
    repaired: list[str] = []
    try:
        stats = store.anti_entropy(a, b, table)
        ok, reason = True, ""
        repaired = sorted(key_text(k) for k in stats.repaired_keys)
    except StoreError as error:
        ok, reason = False, str(error)
    after = {node: {key_text(k): v for k, v in store.replica_versions(node, table).items()
                    if store.range_of(table, k) in shared} for node in (a, b)}
    return {"table": table, "initiator": a, "peer": b, "ok": ok, "reason": reason,
            "differing": differing, "repaired": repaired, "after": after}


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


READ_REPAIR_PROBE_LIMIT = 12
"""The most read-repair probe reads one observation makes (each on its own copy of the
store: a fork is a deep copy): enough for the stale replicas of several disagreeing
keys."""


def _request_key(store: Any, table: str, pk: str, key: tuple[Any, ...]) -> dict[str, Any]:
    """The request key (attribute -> value) of the key tuple ``key``."""
    try:
        attributes = tuple(store.descriptor.table(table).key_attributes)
    except (AttributeError, KeyError):
        attributes = (pk,)
    return dict(zip(attributes, key, strict=False))


def _disagreements(twin: Any, table: str, pk: str) -> list[dict[str, Any]]:
    """Every key of ``table`` some node of ``twin`` holds whose replicas disagree, in
    key order: its request key, owners, the replicas' entries, the merge of what they
    held (the checker's rule) and the replicas that do not hold the merge (stalest
    first: a replica holding nothing, then in preference order)."""
    held: dict[str, tuple[Any, ...]] = {}
    for node in twin.nodes:
        for key in twin.replica_versions(node, table):
            held.setdefault(key_text(key), tuple(key))
    found = []
    for text in sorted(held):
        request_key = _request_key(twin, table, pk, held[text])
        owners = tuple(twin.preference_list(table, request_key))
        before = {n: entries(twin, table, n).get(text) for n in owners}
        if len({canon(e) for e in before.values()}) <= 1:
            continue
        merged = _merge_entries([e for e in before.values() if e is not None])
        stale = [n for n in owners if before[n] is None] + [
            n for n in owners
            if before[n] is not None and not _reflects_entry(before[n], merged)]
        found.append({"key": text, "request_key": request_key, "owners": owners,
                      "before": before, "merged": merged, "stale": stale})
    return found


def _probe_plan(found: list[dict[str, Any]], limit: int) -> list[tuple[dict[str, Any], str]]:
    """Which read to make of which disagreeing key, at most ``limit``: first the
    stalest replica of every key as coordinator (a coordinator holding the merge
    cannot show a repair that forgets it), then each key's other stale replicas, then
    its first replica, in key order within each round."""
    rounds: list[list[tuple[dict[str, Any], str]]] = [[], [], []]
    for disagreement in found:
        stale = disagreement["stale"]
        if stale:
            rounds[0].append((disagreement, stale[0]))
        rounds[1].extend((disagreement, node) for node in stale[1:])
        first = disagreement["owners"][0]
        if first not in stale:
            rounds[2].append((disagreement, first))
    return [probe for row in rounds for probe in row][:limit]


OWNER_DOWN_PROBE_LIMIT = 3
"""The most read-repair probes with an owner down one observation makes (each runs
the store's timers on its own copy: the costlier kind)."""

READ_REPAIR_SECONDS = 5.0
"""The simulated time a read-repair probe with an owner down runs after its read:
every coordinator the suite knows answers, or gives up, and repairs within a client
timeout of a few seconds."""


def read_repair_probes(store: Any, table: str, pk: str,
                       limit: int = READ_REPAIR_PROBE_LIMIT) -> list[dict[str, Any]]:
    """Read repair observed on copies of ``store`` (:class:`Forkable`) with every
    message delivered: for every key any replica holds whose replicas disagree, reads
    coordinated by its replicas (the plan of :func:`_probe_plan`, at most ``limit``),
    each on its own copy, every message delivered again after it. Each is a
    ``read-repair`` observation: the key, the coordinator, whether the read was
    answered, the replicas' entries before, the merge of what they held (computed by
    the checker's rule, from the entries), and their entries after. In key order.
    Then the same with one owner down (:func:`owner_down_probes`)."""
    twin = store.fork()
    twin.quiesce()
    probes = []
    found = _disagreements(twin, table, pk)
    for disagreement, coordinator in sorted(
            _probe_plan(found, limit), key=lambda probe: (probe[0]["key"], probe[1])):
        copy = twin.fork()
        read = copy.submit_at("read-repair-probe", Get(table, disagreement["request_key"]),
                              coordinator)
        copy.quiesce()
        text = disagreement["key"]
        after = {n: entries(copy, table, n).get(text) for n in disagreement["owners"]}
        probes.append({"table": table, "key": text, "coordinator": coordinator,
                       "answered": read.status == "ok", "before": disagreement["before"],
                       "merged": disagreement["merged"], "after": after})
    return probes + owner_down_probes(twin, table, found, OWNER_DOWN_PROBE_LIMIT)


def owner_down_probes(twin: Any, table: str, found: list[dict[str, Any]],
                      limit: int) -> list[dict[str, Any]]:
    """Read repair with one owner of the key down (on a store with faults and time
    control): for each disagreeing key of ``found`` (at most ``limit``), the first
    owner whose crash leaves two live owners that still disagree is crashed on a copy
    of ``twin``, a read is coordinated by the stalest live owner, and the copy runs
    :data:`READ_REPAIR_SECONDS` of simulated time (timers fire: the coordinator gives
    up waiting for the crashed owner and repairs then). The observation holds only
    the live owners: ``before`` what they held (all the read could see), ``after``
    what they hold then, and ``down`` the crashed owner; it is judged only when the
    read was answered (a store may refuse a read it cannot serve with an owner
    down, and then repairs nothing)."""
    controllable = isinstance(twin, FaultInjectable) and isinstance(twin, TimeControl)
    if not controllable:
        return []
    probes: list[dict[str, Any]] = []
    for disagreement in found:
        if len(probes) >= limit:
            break
        owners, before = disagreement["owners"], disagreement["before"]
        for down in owners:
            live = [n for n in owners if n != down]
            seen = {n: before[n] for n in live}
            if len(live) < 2 or len({canon(e) for e in seen.values()}) <= 1:
                continue
            merged = _merge_entries([e for e in seen.values() if e is not None])
            stale = [n for n in live if seen[n] is None or not _reflects_entry(seen[n], merged)]
            coordinator = (stale or live)[0]
            copy = twin.fork()
            copy.crash(down)
            read = copy.submit_at("read-repair-probe",
                                  Get(table, disagreement["request_key"]), coordinator)
            copy.run_for(READ_REPAIR_SECONDS)
            text = disagreement["key"]
            probes.append({"table": table, "key": text, "coordinator": coordinator,
                           "down": down, "answered": read.status == "ok", "before": seen,
                           "merged": merged,
                           "after": {n: entries(copy, table, n).get(text) for n in live}})
            break
    return probes


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
        found = entries(store, table, owner)
        owners[owner] = {h["key"]: found.get(h["key"]) for h in held if h["owner"] == owner}
    pending = store.pending_hints() if isinstance(store, HintSnapshots) else 0
    return {"table": table, "settled": True, "pending": int(pending), "held": held,
            "owners": owners}


def handoff_twin(store: Any, table: str) -> dict[str, Any] | None:
    """Hinted handoff observed on a copy of ``store`` (:class:`Forkable`) where every
    message in flight was delivered first (so every request that reached a
    coordinator has been coordinated): a ``hints`` observation of that copy settled
    (the hinted states its fallbacks held before settling, their owners' entries
    after) with ``versions``: by key text, every version any replica or fallback of
    the copy held for each hinted key before settling (named by
    :func:`~replicheck.properties.provenance.version_names`).
    Settling only fires timers (handoff, retries, repair) and delivers what they
    send, so it moves versions, and a version an owner holds afterwards that nobody
    held before came from a coordination still running, or was invented (a hint
    restamped on its way). None when the store cannot show its hints or fork, or
    the copy's fallbacks hold no hint. When the copy can be stepped, ``dropped``
    records each hinted state its fallback let go of, with its owner's entry read at
    that moment (:func:`_until_handed_off`): a fallback drops a hint once its owner
    has it, so the owner must hold it then, whatever repairs it later."""
    if not (isinstance(store, HintSnapshots) and isinstance(store, Topology)
            and isinstance(store, Forkable) and isinstance(store, Settling)):
        return None
    twin = store.fork()
    twin.quiesce()
    held = hinted_states(twin, table)
    if not held:
        return None
    keys = {h["key"] for h in held}
    versions: dict[str, set[str]] = {key: set() for key in keys}
    for node in twin.nodes:
        for key, entry in entries(twin, table, node).items():
            if key in keys:
                versions[key] |= version_names(entry)
    for hint in held:
        versions[hint["key"]] |= version_names(hint["entry"])
    dropped = _until_handed_off(twin, table, held)
    twin.settle()
    observation = hints_observation(twin, table, held)
    observation["versions"] = {key: sorted(found) for key, found in sorted(versions.items())}
    if dropped is not None:
        observation["dropped"] = dropped
    return observation


def handoff_probe(store: Any, table: str, down: Iterable[str] = (),
                  paused: Iterable[str] = ()) -> dict[str, Any] | None:
    """Hinted handoff observed mid-run: on a copy of ``store`` recovered as a run's end
    recovers (the messages cut off dropped, the network healed, the ``down`` nodes
    restarted and the ``paused`` ones resumed), :func:`handoff_twin`. The store itself
    is untouched. None when it cannot fork or recover, or when :func:`handoff_twin`
    has nothing to show."""
    if not (isinstance(store, Forkable) and isinstance(store, FaultInjectable)):
        return None
    copy = store.fork()
    if isinstance(copy, MessageControl) and isinstance(copy, Schedulable):
        for message in copy.cut_off():
            copy.decide(Drop(message))
    copy.heal()
    for node in sorted(down):
        copy.restart(node)
    for node in sorted(paused):
        copy.resume(node)
    return handoff_twin(copy, table)


HANDOFF_STEPS = 5_000
"""The most fair decisions :func:`_until_handed_off` takes before it stops watching."""


def _until_handed_off(twin: Any, table: str, held: list[dict[str, Any]]
                      ) -> list[dict[str, Any]] | None:
    """Take the fair policy's decisions on ``twin`` (:class:`MessageControl`,
    :class:`Schedulable`) until its fallbacks hold no hint, nothing is left to do or
    :data:`HANDOFF_STEPS` were taken; each time a fallback lets go of a hinted state
    it held, read its owner's entry for the key right then, before anything else
    (anti-entropy, read repair) can bring it there: ``{"fallback", "owner", "key",
    "entry" (the hinted state), "owner_entry"}`` each. None when the store cannot be
    stepped."""
    if not (isinstance(twin, MessageControl) and isinstance(twin, Schedulable)):
        return None
    watched = {(h["fallback"], h["owner"], h["key"]): h["entry"] for h in held}
    dropped: list[dict[str, Any]] = []
    for _ in range(HANDOFF_STEPS):
        if not watched:
            break
        decision = twin.default_decision()
        if decision is None:
            break
        twin.decide(decision)
        now = {(h["fallback"], h["owner"], h["key"]): h["entry"]
               for h in hinted_states(twin, table)}
        for hint in [h for h in watched if h not in now]:
            fallback, owner, key = hint
            dropped.append({"fallback": fallback, "owner": owner, "key": key,
                            "entry": watched.pop(hint),
                            "owner_entry": entries(twin, table, owner).get(key)})
        watched.update((h, e) for h, e in now.items() if h in watched)
    return dropped


def stream_observation(store: Any, table: str, *, view: bool = True) -> dict[str, Any]:
    """The whole retained stream of ``table`` as a ``stream`` observation (the form the
    stream checker reads), with the table's view type when the store tells it and
    ``view`` is asked for."""
    records = [{"table": r.table, "event": r.event, "key": list(r.key),
                "sequence": r.sequence, "old_image": r.old_image, "new_image": r.new_image}
               for r in store.stream_records(table)]
    observation: dict[str, Any] = {"table": table, "records": records, "complete": True}
    if view and isinstance(store, StreamViews):
        found = store.stream_view(table)
        if found is not None:
            observation["view"] = found
    return observation
