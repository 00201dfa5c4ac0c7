"""The availability promise: a partition with a majority up and connected answers.

Every safety guarantee accepts an indeterminate answer (a client that timed out), so a
store that stops answering passes them all: a read-index round that waits for every
follower instead of a majority, a router whose redirects never count their attempts,
a coordinator that waits for every participant's acknowledgement. The mechanism
promise ``majority-availability`` (a claim, :mod:`replicheck.models.guarantees`)
says what such a store breaks: **while a majority of a partition's replicas is up and
connected, every request on that partition is answered**, within the store's own
client timeout, once the store's declared ``failover`` window
(:class:`~replicheck.implementation.store.Windows`) has passed since the rest was
cut off.

The probe (:func:`availability_observation`), taken at the end of the concurrency
property (after its teardown healed, restarted and settled), runs on copies of the
store (:class:`~replicheck.implementation.store.Forkable`), so the example itself is
unchanged. For each partition holding a key of the suite's key pool, on a fresh copy:

1. the partition's first replica (its first leader, the replica a router falls back
   on) is cut off from every other node (clients and the store's own front ends
   still reach it: only nodes are grouped);
2. the store runs for ``failover`` seconds of simulated time
   (:meth:`~replicheck.implementation.store.TimeControl.run_for`);
3. for each key of the partition: a strong read (where the store offers strong
   reads) and a put, each sent through the store's own routing and, when the store
   routes direct requests (:class:`~replicheck.implementation.store.DirectRouting`),
   also straight to a node that holds no replica of the partition (the store must
   route it on), every probe by its own client;
4. the fair policy runs until every probe completes.

For a store with transactions and message control, one more probe: a transaction
putting a key of partition ``home`` (its first action, so ``home`` coordinates it)
and a key of another partition whose replicas outside ``home`` are a majority of
its own. On copies of the store, right after a message from a replica of ``home``
to one of those replicas is delivered, they are cut off (the latest such moment
first) until the transaction completes; the network then heals, the store settles
and a strong read of the ``home`` key says whether the transaction took effect. A
transaction that took effect was decided while its coordinator's partition was
whole: it must have been answered ``ok`` (a store that answers only once every
participant acknowledged never answers while a participant is cut off).

The ``availability`` observation records, per probe, the partition, the node cut
off, the key, the request, where it was sent, and how it completed (and per
transaction probe, the nodes cut off, after which message, its answer and whether
it took effect), and, in ``whole_cluster``, every kind of request sent together to
the whole cluster (:mod:`replicheck.properties.whole_cluster`). It is judged
(:func:`judge_availability`) from the answers alone:
every probe answered ``ok``, or with a definite error (an answer, e.g. a failed
condition), and every probed transaction that took effect answered ``ok``; an
indeterminate answer (no reply within the client's timeout) breaks the promise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from replicheck.histories.history import History
from replicheck.implementation.store import (
    Capability,
    DirectRouting,
    FaultInjectable,
    Forkable,
    Leadership,
    MessageControl,
    Schedulable,
    Settling,
    TimeControl,
    Topology,
)
from replicheck.models.items.requests import Get, Put, Request, TransactWrite
from replicheck.properties.guarantees import NOT_APPLICABLE, Judgement

__all__ = [
    "CHECKER",
    "OBSERVATION",
    "PROMISE",
    "availability_observation",
    "can_probe",
    "can_probe_partitions",
    "judge_availability",
    "probe_outcomes",
    "record_availability",
    "run_until",
]

PROMISE: Final = "majority-availability"
"""The mechanism promise this module checks."""

OBSERVATION: Final = "availability"
"""The observation (and ``observe`` schedule step) the probe records."""

CHECKER: Final = "requests answered with one replica of each partition cut off"
"""What decides the promise (a report cell names it)."""

MAX_DECISIONS: Final = 50_000
"""The most fair decisions the probe takes for its requests to complete (the store's
client timeout ends each well before)."""

MAX_SECONDS: Final = 10.0
"""The most simulated time the probe runs for its requests to complete (the store's
client timeout ends each well before; a request still pending then was not
answered)."""

MAX_TXN_DECISIONS: Final = 2_000
"""The most fair decisions the transaction probe follows its transaction for."""

MAX_TXN_CUTS: Final = 3
"""The most moments (the latest first) the transaction probe cuts the participant
off at."""

TXN_CLIENT: Final = "availability-txn"
"""The client of the transaction probe."""


def can_probe(store: Any) -> bool:
    """Whether a probe of the ``availability`` observation can run on ``store``: the
    partition probes (:func:`can_probe_partitions`) or those with a key's owners down
    (:func:`~replicheck.properties.sloppy_quorum.can_probe_owners`)."""
    from replicheck.properties.sloppy_quorum import can_probe_owners

    return can_probe_partitions(store) or can_probe_owners(store)


def can_probe_partitions(store: Any) -> bool:
    """Whether the partition probes can run on ``store``: forkable, schedulable, with
    faults, time control, a partition layout (:class:`Leadership`) and nodes, and a
    declared ``failover`` window."""
    declared = store.descriptor.windows.failover is not None
    return (declared and isinstance(store, Forkable) and isinstance(store, Schedulable)
            and isinstance(store, FaultInjectable) and isinstance(store, TimeControl)
            and isinstance(store, Leadership) and isinstance(store, Topology))


def availability_observation(store: Any, table: str, pk: str, keys: Sequence[str]
                             ) -> dict[str, Any] | None:
    """The ``availability`` observation of ``store`` (module docstring) for the items
    of ``table`` whose partition key ``pk`` is one of ``keys``, with the probes of a
    key's owners down (``owners_down``:
    :func:`~replicheck.properties.sloppy_quorum.owners_down_probes`) on a store with
    preference lists; None when the store cannot be probed (:func:`can_probe`).
    ``store`` itself is left as it was."""
    from replicheck.properties.sloppy_quorum import FIELD, can_probe_owners, owners_down_probes
    from replicheck.properties.whole_cluster import FIELD as WHOLE
    from replicheck.properties.whole_cluster import whole_cluster_probes

    if not can_probe_partitions(store):
        if not can_probe_owners(store):
            return None
        return {"table": table, FIELD: owners_down_probes(store, table, pk, keys),
                WHOLE: whole_cluster_probes(store, table, pk, keys)}
    failover = float(store.descriptor.windows.failover)
    strong = store.descriptor.has(Capability.STRONG_READS)
    nodes = tuple(store.nodes)
    by_partition: dict[int, list[str]] = {}
    for key in keys:
        by_partition.setdefault(int(store.partition_of(table, {pk: key})), []).append(key)
    probes: list[dict[str, Any]] = []
    for partition, held in sorted(by_partition.items()):
        replicas = tuple(store.partition_replicas(partition))
        if len(replicas) < 3:
            continue  # one replica cut off leaves no majority of one or two
        probes += _probe_partition(store.fork(), table, pk, partition, replicas, held,
                                   nodes, failover, strong)
    transactions: list[dict[str, Any]] = []
    if store.descriptor.has(Capability.TRANSACTIONS) and isinstance(store, MessageControl):
        transactions = _probe_transaction(store, table, pk, by_partition, nodes)
    return {"table": table, "failover": failover, "probes": probes,
            "transactions": transactions, WHOLE: whole_cluster_probes(store, table, pk, keys)}


def _probe_partition(twin: Any, table: str, pk: str, partition: int,
                     replicas: tuple[str, ...], keys: Sequence[str],
                     nodes: tuple[str, ...], failover: float, strong: bool
                     ) -> list[dict[str, Any]]:
    """Steps 1 to 4 of the module docstring on ``twin``, for one partition."""
    cut = replicas[0]
    twin.partition([[cut], [n for n in nodes if n != cut]])
    twin.run_for(failover)
    strangers = [n for n in nodes if n not in replicas]
    direct = isinstance(twin, DirectRouting) and bool(strangers)
    sent: list[tuple[dict[str, Any], Any]] = []
    for key in keys:
        requests: list[tuple[str, Request]] = []
        if strong:
            requests.append(("strong read", Get(table, {pk: key}, consistent=True)))
        requests.append(("put", Put(table, {pk: key, "v": f"available-{key}"})))
        for name, request in requests:
            client = f"availability-{len(sent)}"
            entry = {"partition": partition, "cut": cut, "majority": list(replicas[1:]),
                     "key": key, "request": name, "via": "routing"}
            sent.append((entry, twin.submit(client, request)))
            if direct:
                client = f"availability-{len(sent)}"
                entry = {**entry, "via": strangers[0]}
                sent.append((entry, twin.submit_at(client, request, strangers[0])))
    start = twin.now()
    taken = 0
    while taken < MAX_DECISIONS and not all(h.done for _, h in sent) \
            and twin.now() - start <= MAX_SECONDS:
        decision = _fair(twin)
        if decision is None:
            break
        twin.decide(decision)
        taken += 1
        for entry, handle in sent:
            if handle.done and "seconds" not in entry:
                entry["seconds"] = round(twin.now() - start, 6)
    return probe_outcomes(sent)


def probe_outcomes(sent: Sequence[tuple[dict[str, Any], Any]]) -> list[dict[str, Any]]:
    """Each probe's entry with how its request completed: ``status`` (``ok``,
    ``error``, or ``indeterminate`` for one not answered) and the error's ``code``."""
    out = []
    for entry, handle in sent:
        error = getattr(handle.error, "code", None) if handle.error is not None else None
        status = handle.status if handle.done else "indeterminate"
        out.append({**entry, "status": status, "error": error})
    return out


def _pair(store: Any, by_partition: dict[int, list[str]]
          ) -> tuple[int, int, tuple[str, ...]] | None:
    """Two partitions holding keys, ``home`` and ``other``, such that the replicas of
    ``other`` that ``home`` does not share are a majority of ``other``'s: cutting them
    off leaves ``home`` whole and ``other`` without a majority."""
    for home in sorted(by_partition):
        mine = set(store.partition_replicas(home))
        for other in sorted(by_partition):
            theirs = tuple(store.partition_replicas(other))
            alone = tuple(n for n in theirs if n not in mine)
            if other != home and len(alone) > len(theirs) // 2:
                return home, other, alone
    return None


def _probe_transaction(store: Any, table: str, pk: str, by_partition: dict[int, list[str]],
                       nodes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The transaction probe (module docstring): a TransactWrite putting a key of
    ``home`` (its first action: the partition that coordinates it) and a key of
    ``other``; on a copy, right after a message from a replica of ``home`` to a
    replica of ``other`` that ``home`` lacks is delivered, those replicas are cut off
    until the transaction completes; then the network heals, the store settles and a
    strong read says whether the transaction took effect. One copy per such
    message, the latest first, until one shows the transaction took effect."""
    pair = _pair(store, by_partition)
    if pair is None:
        return []
    home, other, alone = pair
    key, partner = by_partition[home][0], by_partition[other][0]
    value = f"committed-{key}-{partner}"
    request = TransactWrite((Put(table, {pk: key, "v": value}),
                             Put(table, {pk: partner, "v": value})))
    senders = set(store.partition_replicas(home))
    twin = store.fork()
    handle = twin.submit(TXN_CLIENT, request)
    cuts: list[tuple[int, str]] = []
    for step in range(MAX_TXN_DECISIONS):
        decision = _fair(twin)
        if handle.done or decision is None:
            break
        message = next((m for m in twin.messages_in_flight()
                        if m.id == getattr(decision, "message", None)), None)
        twin.decide(decision)
        if message is not None and message.dst in alone and message.src in senders:
            cuts.append((step + 1, f"{message.kind} {message.src} -> {message.dst}"))
    entry = {"home": home, "participant": other, "cut": list(alone), "key": key,
             "partner": partner}
    out = []
    for taken, after in list(reversed(cuts))[:MAX_TXN_CUTS]:  # the latest: likeliest to commit
        out.append({**entry, "after": after, **_cut_after(
            store.fork(), request, taken, alone, nodes, table, pk, key, value)})
        if out[-1]["committed"]:
            break  # one transaction that took effect with a participant cut off is enough
    return out


def _cut_after(twin: Any, request: TransactWrite, taken: int, alone: tuple[str, ...],
               nodes: tuple[str, ...], table: str, pk: str, key: str, value: str
               ) -> dict[str, Any]:
    """On ``twin``: submit ``request``, take ``taken`` fair decisions, cut ``alone``
    off (each node by itself), run until the transaction completes; then heal,
    settle, and read ``key`` strongly: whether it holds ``value``."""
    handle = twin.submit(TXN_CLIENT, request)
    run_until(twin, lambda: False, taken)
    twin.partition([[n] for n in alone] + [[n for n in nodes if n not in alone]])
    run_until(twin, lambda: bool(handle.done))
    status = handle.status if handle.done else "indeterminate"
    twin.heal()
    if isinstance(twin, Settling):
        twin.settle()
    read = twin.submit("availability-check", Get(table, {pk: key}, consistent=True))
    run_until(twin, lambda: bool(read.done))
    if read.status != "ok" or read.response is None:
        return {"status": status, "committed": None}
    item = read.response.item
    return {"status": status, "committed": bool(item and item.get("v") == value)}


def run_until(twin: Any, until: Any, most: int = MAX_DECISIONS) -> None:
    """Fair decisions on ``twin`` until ``until()`` holds, ``most`` were taken,
    :data:`MAX_SECONDS` of simulated time passed, or nothing is left to decide."""
    end = twin.now() + MAX_SECONDS
    for _ in range(most):
        if until() or twin.now() > end:
            return
        decision = _fair(twin)
        if decision is None:
            return
        twin.decide(decision)


def _fair(store: Any) -> Any:
    from replicheck.properties.schedule import fair_decision

    return fair_decision(store)


def record_availability(store: Any, recording: Any, steps: list[dict[str, Any]] | None,
                        table: str, pk: str) -> None:
    """When ``store`` claims :data:`PROMISE` or ``sloppy-quorum-availability`` and can
    be probed: take the
    ``availability`` observation of ``store`` (the store under the machine's
    recorders) for the suite's key pool and record it in ``recording`` (a
    RecordingStore), with an ``observe availability`` step appended to ``steps`` (the
    schedule recorder's, so that replay takes it too)."""
    from replicheck.properties.sloppy_quorum import PROMISE as SLOPPY
    from replicheck.properties.strategies import KEYS

    claims = store.descriptor.claims_guarantee
    if not (claims(PROMISE) or claims(SLOPPY)) or not can_probe(store):
        return
    observation = availability_observation(store, table, pk, KEYS)
    if observation is None:
        return
    if steps is not None:
        steps.append({"observe": OBSERVATION})
    recording.observe(OBSERVATION, observation)


def judge_availability(history: History, claimed: bool) -> Judgement:
    """``majority-availability`` on ``history``'s ``availability`` observations: holds
    when every probe was answered (``ok`` or a definite error) and every probed
    transaction that took effect was answered ``ok``; violated (observed when not
    ``claimed``) for each that was not; not applicable without an observation."""
    from replicheck.properties.guarantees import _verdict_judgement
    from replicheck.properties.whole_cluster import unanswered_whole, whole_probes

    seen = [r.value for r in history.observations
            if r.f == OBSERVATION and isinstance(r.value, dict) and "failover" in r.value]
    probes = [p for o in seen for p in o.get("probes", ()) if isinstance(p, dict)]
    txns = [t for o in seen for t in o.get("transactions", ()) if isinstance(t, dict)]
    whole = whole_probes(seen)
    if not probes and not txns and not whole:
        return Judgement(PROMISE, NOT_APPLICABLE, claimed,
                         reason="no availability probe was observed", checker=CHECKER)
    failover = seen[-1].get("failover")
    problems = [_unanswered(p, failover) for p in probes
                if p.get("status") not in ("ok", "error")]
    problems += [_committed_unanswered(t) for t in txns
                 if t.get("committed") is True and t.get("status") != "ok"]
    problems += unanswered_whole(whole)
    judgement = _verdict_judgement(
        PROMISE, claimed, problems,
        f"{len(probes)} request(s) on partitions with one replica cut off, "
        f"{len(txns)} transaction(s) with a participant cut off during its commit, "
        f"{len(whole)} request(s) sent together to the whole cluster")
    return Judgement(judgement.guarantee, judgement.status, claimed,
                     reason=judgement.reason, checker=CHECKER)


def _unanswered(probe: dict[str, Any], failover: Any) -> str:
    via = ("through the store's routing" if probe.get("via") == "routing"
           else f"straight to {probe.get('via')} (no replica of the partition)")
    majority = ", ".join(str(n) for n in probe.get("majority", ()))
    return (f"with {probe.get('cut')} cut off from partition {probe.get('partition')}'s "
            f"other replicas ({majority}: a majority, up and connected) for {failover} s, "
            f"a {probe.get('request')} of key {probe.get('key')} sent {via} was never "
            f"answered ({probe.get('status')}: no reply within the client's timeout)")


def _committed_unanswered(txn: dict[str, Any]) -> str:
    cut = ", ".join(str(n) for n in txn.get("cut", ()))
    return (f"a transaction putting key {txn.get('key')} (partition {txn.get('home')}, its "
            f"coordinator, every replica connected) and key {txn.get('partner')} "
            f"(partition {txn.get('participant')}) took effect (its put is read after "
            f"healing), but with {cut} cut off right after {txn.get('after')} it was "
            f"never answered ok ({txn.get('status')})")
