"""The sloppy-quorum promise: with a key's owners down, its requests are still answered.

A Dynamo-style store with a sloppy quorum promises to stay writeable (and readable)
when the replicas that own a key are down: a coordinator that cannot gather ``w``
acknowledgements (``r`` replies) from the key's owners within its sloppy delay asks
the next nodes of the ring (fallbacks) instead, handing them the write with a hint.
Every safety guarantee accepts a client's timeout, so a store whose fallbacks are
never asked (a timer that runs the wrong handler, a read that never turns to the
fallbacks, a deadline that fires first) passes them all. The mechanism promise
``sloppy-quorum-availability`` says what it breaks: **while every owner of a key but
one is down and the ring still has as many live nodes as the key has owners, every
request on the key sent through the store's routing is answered** (``ok`` or a
definite error), within the store's own client timeout. (Not one sent straight to a
node that owns nothing of the key: the reference stores forward it to the key's first
owner whether it is up or not, as a Dynamo node outside the preference list does, so
it waits for that owner's restart.)

The probe (:func:`owners_down_probes`), part of the ``availability`` observation
(:mod:`replicheck.properties.liveness`), is taken at the end of the concurrency
property, after its teardown healed the network and restarted every node; it runs on
copies of the store: for each key of
the suite's key pool whose ring has enough nodes, on a fresh copy, every owner but
the last of the key's preference list crashes; then a read and a put of the key are
sent through the store's own routing, each by its own client; the fair policy runs
until every probe completes (at most :data:`~replicheck.properties.liveness.MAX_SECONDS`
of simulated time). Each probe records the key, its owners, the nodes down, the
request and how it completed;
:func:`judge_sloppy_availability` judges from the answers alone, with the
observation's ``whole_cluster`` probes (every kind of request sent together to the
whole ring: :mod:`replicheck.properties.whole_cluster`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, cast

from replicheck.histories.history import History
from replicheck.implementation.store import (
    Drop,
    FaultInjectable,
    Forkable,
    HintSnapshots,
    MessageControl,
    PreferenceLists,
    ReplicaSnapshots,
    Schedulable,
    TimeControl,
    Topology,
)
from replicheck.models.items.requests import Get, Put, Request
from replicheck.properties.guarantees import NOT_APPLICABLE, Judgement

__all__ = [
    "CHECKER",
    "PROMISE",
    "can_probe_owners",
    "judge_sloppy_availability",
    "owners_down_probes",
]

PROMISE: Final = "sloppy-quorum-availability"
"""The mechanism promise this module checks."""

CHECKER: Final = "requests answered with every owner of the key but one down"
"""What decides the promise (a report cell names it)."""

FIELD: Final = "owners_down"
"""The member of the ``availability`` observation holding these probes."""


def can_probe_owners(store: Any) -> bool:
    """Whether the probe can run on ``store``: forkable, schedulable, with faults, time
    control, nodes and preference lists."""
    return (isinstance(store, Forkable) and isinstance(store, Schedulable)
            and isinstance(store, FaultInjectable) and isinstance(store, TimeControl)
            and isinstance(store, PreferenceLists) and isinstance(store, Topology))


def owners_down_probes(store: Any, table: str, pk: str, keys: Sequence[str]
                       ) -> list[dict[str, Any]]:
    """The probes of the module docstring on copies of ``store`` (left as it was), for
    the items of ``table`` whose partition key ``pk`` is one of ``keys``; none when
    the store cannot be probed."""
    if not can_probe_owners(store):
        return []
    nodes = tuple(store.nodes)
    out: list[dict[str, Any]] = []
    for key in keys:
        owners = tuple(store.preference_list(table, {pk: key}))
        down = owners[:-1]
        if len(owners) < 2 or len(nodes) - len(down) < len(owners):
            continue  # no owner left up, or too few live nodes to stand in
        lossy = not any(HANDOFF_LOSSY in probe for probe in out)
        out += _probe_key(store.fork(), table, pk, key, owners, down, lossy=lossy)
    return out


def _probe_key(twin: Any, table: str, pk: str, key: str, owners: tuple[str, ...],
               down: tuple[str, ...], *, lossy: bool = True) -> list[dict[str, Any]]:
    from replicheck.properties.liveness import probe_outcomes, run_until

    for node in down:
        twin.crash(node)
    requests: list[tuple[str, Request]] = [
        ("read", Get(table, {pk: key})),
        ("put", Put(table, {pk: key, "v": f"sloppy-{key}"})),
    ]
    sent: list[tuple[dict[str, Any], Any]] = []
    for name, request in requests:
        entry = {"key": key, "owners": list(owners), "down": list(down), "request": name}
        sent.append((entry, twin.submit(f"sloppy-{len(sent)}", request)))
    run_until(twin, lambda: all(h.done for _, h in sent))
    out = probe_outcomes(sent)
    put, (_, handle) = out[-1], sent[-1]
    wanted = written_entry(getattr(handle, "meta", None))
    hint_timer = twin.descriptor.windows.hint_timer
    if (put["status"] == "ok" and wanted is not None and hint_timer is not None
            and isinstance(twin, ReplicaSnapshots)):
        lost = cast(Any, twin).fork() if lossy and can_lose(twin) else None
        put[HANDOFF] = {"written": wanted, "owners": _after_handoff(
            twin, table, key, down, float(hint_timer))}
        if lost is not None:
            second = _second_put(lost, table, pk, key, owners)
            dropped = _restart_losing_one(lost, table, down, float(hint_timer))
            if dropped is not None:
                put[HANDOFF_LOSSY] = {"written": wanted, "dropped": dropped,
                                      "owners": _after_handoff(lost, table, key, down,
                                                               float(hint_timer),
                                                               restart=False)}
                if second is not None:
                    other, written = second
                    put[HANDOFF_LOSSY]["also"] = {
                        "key": other, "written": written,
                        "owners": {n: lost.replica_versions(n, table).get((other,))
                                   for n in down}}
    return out


SAME_OWNERS_TRIES: Final = 200
"""The most key names tried for a second key with the probed key's owners."""


def _second_put(twin: Any, table: str, pk: str, key: str, owners: tuple[str, ...]
                ) -> tuple[str, dict[str, Any]] | None:
    """On ``twin`` (the probed key's owners still down), a put of another key with the
    same preference list, run to its answer, so that each fallback holds two hints
    for the same owner: the key and the entry its answer names, or None (no such key
    among :data:`SAME_OWNERS_TRIES` names, or the put was not answered ``ok`` with
    one)."""
    from replicheck.properties.liveness import run_until

    other = next((f"{key}-also-{i}" for i in range(SAME_OWNERS_TRIES)
                  if tuple(twin.preference_list(table, {pk: f"{key}-also-{i}"})) == owners),
                 None)
    if other is None:
        return None
    handle = twin.submit("sloppy-also", Put(table, {pk: other, "v": f"sloppy-{other}"}))
    run_until(twin, lambda: handle.done)
    written = written_entry(getattr(handle, "meta", None))
    return None if handle.status != "ok" or written is None else (other, written)


HANDOFF: Final = "handoff"
"""The member of a put probe holding what its down owners held after hinted handoff
(judged by ``hinted-handoff-delivers``)."""

HANDOFF_LOSSY: Final = "handoff_lossy"
"""The member of the first probed key's put probe holding the same after the first
message a node sent to a restarted owner was lost (the handoff must be offered again),
with ``also`` a second key of the same owners written before the restart."""

HANDOFF_TIMERS: Final = 4
"""How many of the store's declared hint timers (``Windows.hint_timer``) the owners
get, once restarted, to receive a write the fallbacks took for them."""


def written_entry(meta: Any) -> dict[str, Any] | None:
    """The replica entry a write's answer names (its ``meta``): a last-writer-wins
    ``version``, or a dotted sibling (``dot``); None when it names neither."""
    if not isinstance(meta, dict):
        return None
    if meta.get("version") is not None:
        return {"version": meta["version"]}
    if meta.get("dot") is not None:
        return {"siblings": [{"dot": meta["dot"]}]}
    return None


def _restart_losing_one(twin: Any, table: str, down: tuple[str, ...], hint_timer: float
                        ) -> dict[str, Any] | None:
    """Restart the owners that were ``down`` and take fair decisions (for at most
    three hint timers) until a message to one of them from a node that has held hints
    since (any other node, on a store that does not show its hints) is in flight:
    drop it, as a network that loses one message would. What was dropped, or None when no
    such message came."""
    from replicheck.properties.schedule import fair_decision

    for node in down:
        twin.restart(node)
    nodes = tuple(twin.nodes)
    end = twin.now() + 3 * hint_timer
    holders: set[str] = set()
    for _ in range(MAX_LOSS_DECISIONS):
        holders |= ({n for n in nodes if twin.hinted(n, table)}
                    if shows_hints(twin) else set(nodes)) - set(down)
        lost = next((m for m in twin.messages_in_flight()
                     if m.src in holders and m.dst in down), None)
        if lost is not None:
            twin.decide(Drop(lost.id))
            return {"src": lost.src, "dst": lost.dst, "kind": lost.kind}
        decision = fair_decision(twin)
        if decision is None or twin.now() > end:
            return None
        twin.decide(decision)
    return None


def can_lose(store: Any) -> bool:
    """Whether ``store`` lets the probe lose one message (message control)."""
    return isinstance(store, MessageControl)


def shows_hints(store: Any) -> bool:
    """Whether ``store`` shows the hints its nodes hold."""
    return isinstance(store, HintSnapshots)


MAX_LOSS_DECISIONS: Final = 20_000
"""The most fair decisions taken while waiting for the message to lose."""


def _after_handoff(twin: Any, table: str, key: str, down: tuple[str, ...],
                   hint_timer: float, *, restart: bool = True) -> dict[str, Any]:
    """Restart the owners that were ``down`` (unless ``restart`` is off: they are up
    already), let :data:`HANDOFF_TIMERS` hint timers pass (no anti-entropy, no
    settling: hinted handoff alone) and read each one's replica entry for ``key``
    (None: it holds nothing)."""
    for node in down if restart else ():
        twin.restart(node)
    twin.run_for(HANDOFF_TIMERS * hint_timer)
    return {node: twin.replica_versions(node, table).get((key,)) for node in down}


def unhanded_writes(history: History) -> tuple[int, list[str]]:
    """``hinted-handoff-delivers`` on the availability observations' put probes:
    how many puts answered ``ok`` with their owners down were checked after
    handoff, and, for each down owner whose replica does not reflect the put (its
    version or a newer one, its dot held or covered), the problem in words."""
    from replicheck.properties.guarantees import _canon, _reflects_entry
    from replicheck.properties.liveness import OBSERVATION

    checked, problems = 0, []
    for record in history.observations:
        if record.f != OBSERVATION or not isinstance(record.value, dict):
            continue
        for probe in record.value.get(FIELD, ()):
            for member in (HANDOFF, HANDOFF_LOSSY, "also"):
                source = (probe.get(HANDOFF_LOSSY) or {}) if member == "also" else probe
                handoff = source.get(member) if isinstance(source, dict) else None
                if not isinstance(handoff, dict):
                    continue
                checked += 1
                if member == "also":
                    handoff = {**handoff, "dropped": source.get("dropped")}
                lost = handoff.get("dropped")
                how = "" if not isinstance(lost, dict) else (
                    f", the first message from {lost.get('src')} to {lost.get('dst')} "
                    f"({lost.get('kind')}) lost")
                for owner, held in sorted((handoff.get("owners") or {}).items()):
                    if not _reflects_entry(held, handoff.get("written")):
                        problems.append(
                            f"a put of key {handoff.get('key', probe.get('key'))} answered "
                            f"ok while its owners "
                            f"{', '.join(map(str, probe.get('down', ())))} were down "
                            f"({_canon(handoff.get('written'))}) is not held by {owner} "
                            f"{HANDOFF_TIMERS} hint timers after it restarted{how} (it "
                            f"holds {'nothing' if held is None else _canon(held)}): the "
                            "fallbacks did not hand it off")
    return checked, problems


def judge_sloppy_availability(history: History, claimed: bool) -> Judgement:
    """``sloppy-quorum-availability`` on ``history``'s ``availability`` observations:
    holds when every probe with owners down was answered (``ok`` or a definite error);
    violated (observed when not ``claimed``) for each that was not; not applicable
    without such a probe."""
    from replicheck.properties.guarantees import _verdict_judgement
    from replicheck.properties.liveness import OBSERVATION
    from replicheck.properties.whole_cluster import unanswered_whole, whole_probes

    seen = [r.value for r in history.observations
            if r.f == OBSERVATION and isinstance(r.value, dict) and FIELD in r.value]
    probes = [p for o in seen for p in o.get(FIELD, ()) if isinstance(p, dict)]
    whole = whole_probes(seen)
    if not probes and not whole:
        return Judgement(PROMISE, NOT_APPLICABLE, claimed,
                         reason="no probe with a key's owners down was observed",
                         checker=CHECKER)
    problems = [_unanswered(p) for p in probes if p.get("status") not in ("ok", "error")]
    problems += unanswered_whole(whole)
    judgement = _verdict_judgement(
        PROMISE, claimed, problems,
        f"{len(probes)} request(s) on keys with every owner but one down, "
        f"{len(whole)} request(s) sent together to the whole ring")
    return Judgement(judgement.guarantee, judgement.status, claimed,
                     reason=judgement.reason, checker=CHECKER)


def _unanswered(probe: dict[str, Any]) -> str:
    down = ", ".join(str(n) for n in probe.get("down", ()))
    owners = ", ".join(str(n) for n in probe.get("owners", ()))
    return (f"with {down} down (owners of key {probe.get('key')}: {owners}), a "
            f"{probe.get('request')} of the key sent through the store's routing was never "
            "answered "
            f"({probe.get('status')}: no reply within the client's timeout), though "
            "enough nodes were up to stand in for the owners")
