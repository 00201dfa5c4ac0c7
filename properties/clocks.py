"""The clock property, ``vector-clocks-and-siblings``: dotted version vectors and siblings under
any schedule.

:func:`clocks_machine` drives a store with the ``versions`` capability (its replicas
keep each key as siblings with dots and a causal context, and a client writes with
the context it read): clients read a key (remembering the context the read
answered), write it blind or with their last context, each request sent to a
replica of the key of Hypothesis's choice; every scheduler decision, partitions,
crashes, restarts and anti-entropy syncs are rules too. After EVERY rule, for every
replica and key (``vector-clock-order``):

- the replica's causal context never goes backwards: each entry of the new context
  is at least the old one (a context only grows by joining);
- a sibling (a dot) a replica held leaves it only when some write's context covered
  that dot (it was superseded), never silently: concurrent writes stay siblings
  until a write that saw both;
- no replica holds a sibling next to another whose write's context covered it (a
  write with a context supersedes every sibling it saw).

Teardown heals, restarts, settles, runs an anti-entropy round and judges
``vector-clock-order`` on the acknowledged writes' dots and contexts against the
final snapshot with :func:`~replicheck.properties.guarantees.judge_guarantee`.
:func:`hypothesis.target` steers generation towards many siblings and replicas that
disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from replicheck.histories.items import request_from_json
from replicheck.implementation.store import (
    AntiEntropy,
    Capability,
    DirectRouting,
    Drop,
    MessageControl,
    PreferenceLists,
    ReplicaSnapshots,
    Settling,
    Store,
    Topology,
)
from replicheck.models.items.requests import Get, Put, TransactWrite, request_kind
from replicheck.models.items.values import key_text
from replicheck.models.items.wording import request_text
from replicheck.properties import strategies
from replicheck.properties.driving import CLIENTS
from replicheck.properties.guarantees import (
    OBSERVED,
    READ_KINDS,
    VIOLATED,
    Judgement,
    judge_guarantee,
)
from replicheck.properties.mechanisms import shared_ranges, sync_session
from replicheck.properties.scheduled import Setup, probe, scheduled_machine
from replicheck.properties.suite import require_surface

__all__ = ["CLOCKS_PROPERTY", "clock_problems", "clocks_machine", "foreign_keys"]

CLOCKS_PROPERTY: Final = "vector-clocks-and-siblings"
"""The suite property this module checks."""


Dot = tuple[str, int]


def _dots(entry: Any) -> set[Dot]:
    if not isinstance(entry, Mapping):
        return set()
    return {(str(s["dot"][0]), int(s["dot"][1])) for s in entry.get("siblings", ())
            if isinstance(s, Mapping) and s.get("dot") is not None}


def _clock(entry: Any) -> dict[str, int]:
    if not isinstance(entry, Mapping):
        return {}
    return {str(k): int(v) for k, v in (entry.get("clock") or {}).items()}


def _covers(clock: Mapping[str, int], dot: Dot) -> bool:
    return clock.get(dot[0], 0) >= dot[1]


def clock_problems(node: str, key: str, before: Any, after: Any,
                   superseded: Mapping[str, int]) -> list[str]:
    """What is wrong with replica ``node``'s entry for ``key`` going from ``before`` to
    ``after`` (entries in the ``{"siblings": [{"dot", "clock", ...}], "clock": {...}}``
    form; ``None`` when it held nothing), given ``superseded``, the join of the
    contexts of every write sent for the key: a context entry that went down, a
    sibling that left without any write's context covering its dot, a sibling held
    next to one whose write's context covered it. Empty when nothing is."""
    problems = []
    old, new = _clock(before), _clock(after)
    lower = sorted(r for r, c in old.items() if new.get(r, 0) < c)
    if lower:
        problems.append(
            f"{node}'s causal context for key {key} went backwards: {json.dumps(old)} -> "
            f"{json.dumps(new)} (entries {', '.join(lower)} decreased): a replica's "
            "version vector only grows")
    for dot in sorted(_dots(before) - _dots(after)):
        if not _covers(superseded, dot):
            problems.append(
                f"{node} dropped the sibling {dot[0]}:{dot[1]} of key {key}, which no "
                "write's context covered (no write saw it): a concurrent write was lost "
                "instead of kept as a sibling")
    if isinstance(after, Mapping):
        siblings = [s for s in after.get("siblings", ()) if isinstance(s, Mapping)]
        for sibling in siblings:
            seen = {str(k): int(v) for k, v in (sibling.get("clock") or {}).items()}
            for other in siblings:
                dot = (str(other["dot"][0]), int(other["dot"][1]))
                if other is not sibling and _covers(seen, dot):
                    problems.append(
                        f"{node} holds for key {key} the sibling {dot[0]}:{dot[1]} next to "
                        f"{sibling['dot'][0]}:{sibling['dot'][1]}, whose write's context "
                        f"{json.dumps(seen)} saw it: a write must supersede every sibling "
                        "it saw")
    return problems


def foreign_keys(steps: Sequence[Mapping[str, Any]], pk: str) -> set[str] | None:
    """The keys written by the submissions among ``steps`` (schedule steps) whose
    causal context the property does not know: every write except its own puts sent
    with a context (recorded with ``context``), such as an update a coordinator
    applies with its own context, or the writes of a fault-search rule. None when
    some such write's keys cannot be told."""
    keys: set[str] = set()
    for step in steps:
        ((kind, body),) = step.items()
        if kind == "burst" and isinstance(body, Mapping):
            request = request_from_json(body["request"], "put")
        elif kind == "submit" and isinstance(body, Mapping) and "context" not in body:
            request = request_from_json(body["request"], body.get("kind"))
        else:
            continue
        if request_kind(request) in READ_KINDS:
            continue
        actions = request.actions if isinstance(request, TransactWrite) else (request,)
        for action in actions:
            item = action.item if isinstance(action, Put) else getattr(action, "key", None)
            if not isinstance(item, Mapping) or pk not in item:
                return None
            keys.add(str(item[pk]))
    return keys


def _seen_all(before: Any, superseded: Mapping[str, int]) -> dict[str, int]:
    """``superseded`` joined with every dot ``before`` holds: what a write of unknown
    context may have seen (it may supersede any sibling held)."""
    joined = dict(superseded)
    for replica, counter in _dots(before):
        joined[replica] = max(joined.get(replica, 0), counter)
    return joined


def clocks_machine(factory: Callable[[], Store], target: str | None = None, seed: int = 0,
                   *, search: bool = False) -> type[RuleBasedStateMachine]:
    """The clock property's machine for the store ``factory`` builds (schedulable, with
    ``versions`` and replica introspection; see the module docstring); ``target`` and
    ``seed`` name the store. Fails with
    :class:`~replicheck.properties.examples.GuaranteeViolation` when a replica's clock
    goes backwards, a concurrent write is dropped, or a superseded sibling is kept.
    With ``search``, it draws every fault-search rule class too."""
    setup = probe(CLOCKS_PROPERTY, factory, target, seed, lambda store: require_surface(
        store, CLOCKS_PROPERTY, MessageControl, Settling, Topology, PreferenceLists,
        ReplicaSnapshots, DirectRouting), search=search)
    table, pk, nodes = setup.table, setup.pk, setup.nodes
    anti_entropy = setup.descriptor.has(Capability.ANTI_ENTROPY) and setup.offers(
        AntiEntropy)
    snapshots = setup.surface.snapshots

    bases = (_client_rules(setup), _replica_rules(setup, anti_entropy),
             scheduled_machine(setup, rules=("partition",)))

    class Clocks(*bases):  # type: ignore[misc]
        """Reads, writes with and without contexts, faults: version vectors only grow,
        concurrent writes stay siblings until a write saw them."""

        def __init__(self) -> None:
            super().__init__()
            self.contexts: dict[tuple[str, str], dict[str, int]] = {}
            self.superseded: dict[str, dict[str, int]] = {}
            self.held: dict[tuple[str, str], Any] = {}
            self.most_siblings = 0
            self.foreign: set[str] | None = set()
            self.scanned = 0

        def judge(self) -> None:
            self.settle_healed()
            self.clocks_only_grow()
            for key in strategies.KEYS:  # a read of each key: read repair where they differ
                self.complete_call("final", Get(table, {pk: key}), _replica(self, key, 0))
            if not self.settled() or not snapshots:
                return
            before = self.raw.replicas_observation(table)
            held = before.get("replicas", {})
            every = {k for entries in held.values() for k in entries}
            self.aim(float(self.most_siblings), "siblings of one key at one replica")
            self.aim(float(sum(1 for k in every if len({json.dumps(e.get(k), sort_keys=True)
                                                     for e in held.values()}) > 1)),
                  "keys whose replicas disagree after settling")
            if anti_entropy:
                for i, a in enumerate(nodes):
                    for b in nodes[i + 1:]:
                        if shared_ranges(self.raw, table, a, b):
                            sync_session(self.raw, table, a, b)
            self.clocks_only_grow()
            self.rec.observe("replicas", self.raw.replicas_observation(
                table, quiescent=True, anti_entropy=anti_entropy))
            history = self.rec.history()
            self.verdicts.take(judge_guarantee("vector-clock-order", history,
                                               setup.descriptor), history)

    Clocks.__name__ = Clocks.__qualname__ = "Clocks"
    return Clocks


def _replica(machine: Any, key: str, index: int) -> str:
    """Replica number ``index`` of ``key`` (the store has preference lists)."""
    node = machine.replica(key, index)
    assert node is not None
    return str(node)


def _client_rules(setup: Setup) -> type:
    """The clock property's clients: reads that keep the causal context they answered,
    writes with that context or blind, concurrent blind writes, read-modify-writes."""
    table, pk = setup.table, setup.pk
    keys = strategies.keys()

    class Clients:
        @rule(client=st.sampled_from(CLIENTS), key=keys, index=st.integers(0, 2))
        def read(self: Any, client: str, key: str, index: int) -> None:
            """A read coordinated by one replica of the key, run until it completes;
            the client keeps the causal context it answered."""
            self.rules_run += 1
            if self.busy(client):
                return
            node = _replica(self, key, index)
            handle, taken = self.complete_call(client, Get(table, {pk: key}), node)
            if handle.status == "ok" and isinstance(handle.meta.get("clock"), Mapping):
                self.contexts[(client, key)] = {str(k): int(v)
                                                for k, v in handle.meta["clock"].items()}
                shown = f"context {json.dumps(self.contexts[(client, key)])}, " \
                        f"{len(handle.meta.get('siblings', ()))} sibling(s)"
            else:
                shown = handle.status or "in flight"
            self.log_step(lambda: f"{client} sends {request_text(Get(table, {pk: key}))} to "
                          f"{node}: {shown}", taken)

        @rule(client=st.sampled_from(CLIENTS), key=keys, index=st.integers(0, 2),
              value=strategies.unique_values(), with_context=st.booleans(),
              wait=st.booleans())
        def write(self: Any, client: str, key: str, index: int, value: str,
                  with_context: bool, wait: bool) -> None:
            """A put coordinated by one replica of the key: with the context the client
            last read for the key (it supersedes what that read saw), else blind (a
            sibling of everything held); run until it completes when ``wait``."""
            self.rules_run += 1
            if self.busy(client):
                return
            node = _replica(self, key, index)
            context = self.contexts.get((client, key)) if with_context else None
            if context is not None:
                joined = self.superseded.setdefault(key, {})
                for replica, counter in context.items():
                    joined[replica] = max(joined.get(replica, 0), counter)
            put = Put(table, {pk: key, "v": value})
            handle = self.rec.submit_at(client, put, node,
                                        context=context if context is not None else {})
            self.handles[client] = handle
            taken = self.finish(handle) if wait else 0
            how = f"with context {json.dumps(context)}" if context is not None else "blind"
            done = f": {handle.status}" if wait else ""
            self.log_step(lambda: f"{client} sends {request_text(put)} to {node} "
                          f"{how}{done}", taken)

        @rule(key=keys, offset=st.integers(0, 2))
        def race(self: Any, key: str, offset: int) -> None:
            """Every idle client sends a blind put of the key to a different replica at
            the same instant (concurrent writes: siblings)."""
            self.rules_run += 1
            sent = []
            for i, client in enumerate(CLIENTS):
                if self.busy(client):
                    continue
                node = _replica(self, key, offset + i)
                value = f"{client}-{len(self.log.steps)}"
                self.handles[client] = self.rec.submit_at(
                    client, Put(table, {pk: key, "v": value}), node, context={})
                sent.append(f"{client} at {node}")
            self.log_step(lambda: f"concurrent blind PutItem {key}: "
                          f"{', '.join(sent) or 'none'}")

        @rule(client=st.sampled_from(CLIENTS), key=keys, read_at=st.integers(0, 2),
              write_at=st.integers(0, 2), value=strategies.unique_values())
        def update(self: Any, client: str, key: str, read_at: int, write_at: int,
                   value: str) -> None:
            """A read-modify-write: read the key at one replica, then put it with the
            context read at another (it supersedes every sibling the read saw)."""
            self.read(client, key, read_at)
            if (client, key) in self.contexts:
                self.write(client, key, write_at, value, True, True)

    return Clients


def _replica_rules(setup: Setup, anti_entropy: bool) -> type:
    """The clock property's replica rules: message loss at one replica, anti-entropy
    between two, and the check of every replica's entries after each step."""
    table, nodes = setup.table, setup.nodes
    claimed = any(c.guarantee == "vector-clock-order" for c in setup.descriptor.claims)
    snapshots = setup.surface.snapshots
    keys = strategies.keys()

    class Replicas:
        @rule(key=keys, index=st.integers(0, 2))
        def lose(self: Any, key: str, index: int) -> None:
            """Every message in flight to one replica of the key is lost (a burst of
            packet loss at that node)."""
            self.rules_run += 1
            node = _replica(self, key, index)
            lost = [m.id for m in self.raw.messages_in_flight() if m.dst == node]
            for message in lost:
                self.rec.decide(Drop(message))
            self.log_step(lambda: f"{len(lost)} message(s) to {node} lost", len(lost))

        @precondition(lambda self: anti_entropy)
        @rule(key=keys, first=st.integers(0, 2), second=st.integers(1, 2))
        def sync(self: Any, key: str, first: int, second: int) -> None:
            """Deliver every message in flight, then one anti-entropy session between
            two replicas of a key that are up and can reach each other."""
            self.rules_run += 1
            a, b = _replica(self, key, first), _replica(self, key, first + second)
            if a == b or {a, b} & self.crashed or not self.raw.reachable(a, b):
                return
            delivered = self.raw.quiesce()
            self.rec.collect()
            session = sync_session(self.raw, table, a, b)
            self.rec.collect()
            self.log_step(lambda: f"deliver every message ({delivered}), then anti-entropy "
                          f"{a} -> {b} (repaired {session['repaired']})", delivered + 1)

        @invariant()
        def clocks_only_grow(self: Any) -> None:
            """Every replica's context only grows, a sibling leaves only when a write
            saw it, and no superseded sibling is held. A key written with a context
            the property does not know (:func:`foreign_keys`) may lose any sibling."""
            problems: list[str] = []
            if self.foreign is not None:
                found = foreign_keys(self.raw.steps[self.scanned:], setup.pk)
                self.foreign = None if found is None else self.foreign | found
            self.scanned = len(self.raw.steps)
            for node in nodes:
                entries = {key_text(k): v
                           for k, v in self.raw.replica_versions(node, table).items()}
                for text in sorted(set(entries) | {k for n, k in self.held if n == node}):
                    before, after = self.held.get((node, text)), entries.get(text)
                    if after == before:
                        continue
                    key = str(json.loads(text) if text.startswith('"') else text)
                    superseded = self.superseded.get(key, {})
                    if self.foreign is None or key in self.foreign:
                        superseded = _seen_all(before, superseded)
                    problems += clock_problems(node, text, before, after, superseded)
                    self.held[(node, text)] = after
                    if isinstance(after, Mapping):
                        self.most_siblings = max(self.most_siblings,
                                                 len(after.get("siblings", ())))
            if not problems:
                return
            shown = "; ".join(problems[:3]) + (
                f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
            judgement = Judgement("vector-clock-order", VIOLATED if claimed else OBSERVED,
                                  claimed, reason=f"replica states after the last step: "
                                                  f"{shown}",
                                  checker="replica version-vector growth check")
            if snapshots:
                self.rec.observe("replicas", self.raw.replicas_observation(table))
            self.verdicts.take(judgement, self.rec.history())

    return Replicas
