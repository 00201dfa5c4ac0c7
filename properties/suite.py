"""The suite's properties: one stateful machine each, with what it checks and needs.

:data:`PROPERTIES` is the single list both front ends run: the pytest tests of
:mod:`replicheck.properties.test_suite` (one test per property) and ``replicheck
verify`` (through :mod:`replicheck.properties.engine`). A :class:`Property` names its
machine builder (a store factory in, a ``RuleBasedStateMachine`` class out), the
guarantees its checks bear on, and :meth:`Property.skip_reason`, which says why it
does not apply to a store (a missing capability, nothing claimed that it checks), or
None when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from hypothesis.stateful import RuleBasedStateMachine

from replicheck.implementation.store import Descriptor, protocol_members

__all__ = ["FAULT_SEARCH", "PROPERTIES", "STEPS", "NotApplicable", "Property",
           "property_named", "require_surface"]

STEPS: Final = 30
"""The most rules one example of a property runs."""

FAULT_SEARCH: Final = False
"""Whether the suite's scheduled properties draw the fault search (every rule class of
:mod:`replicheck.properties.search`, gated by the swarm; see
:func:`~replicheck.properties.scheduled.scheduled_machine` and
:func:`~replicheck.properties.search.swarm.swarm_rules`, whose plain examples are the
properties without it). Off for now: with it on, every catalog mutant is still caught
under ``ci``, but Hypothesis spends more than five minutes shrinking some failing
examples (strong-read-any-replica's, of the concurrency property), which a user of
``verify`` or the pytest plugin waits for."""

MachineBuilder = Callable[[Callable[[], Any], str | None, int], type[RuleBasedStateMachine]]
"""Builds a property's machine from a store factory, the store's target (a preset
name, ``mutant:NAME`` or ``package.module:factory``; None when unknown) and the seed
the factory builds it with: target and seed name the store in replayable schedules."""


class NotApplicable(Exception):
    """Raised by a machine builder that cannot drive the store it was given (it
    lacks a method the machine needs beyond its capabilities' protocols); the message
    is one line starting with "not applicable". The property is then skipped with it."""


def require_surface(store: Any, property_name: str, *needed: type | tuple[type, ...]) -> None:
    """NotApplicable unless ``store`` implements every ``needed`` protocol of the
    declared surface (:mod:`replicheck.implementation.store`; a tuple: any one of
    them), naming each missing protocol with its members and the property that
    needs it."""
    missing = []
    for need in needed:
        protocols = need if isinstance(need, tuple) else (need,)
        if not any(isinstance(store, protocol) for protocol in protocols):
            missing.append(" or ".join(
                f"{p.__name__} ({', '.join(protocol_members(p))})" for p in protocols))
    if missing:
        raise NotApplicable(
            f"not applicable: {store.descriptor.name} lacks {'; '.join(missing)}, which "
            f"{property_name} drives and observes the store's replicas through")


@dataclass(frozen=True)
class Property:
    """One property of the suite.

    ``name`` is its kebab-case ID (used in reports and test ids), ``title`` one line
    for people, ``guarantees`` the guarantee IDs its checks bear on, ``requires`` the
    capabilities a store must declare, ``needs_claim`` (when set) the guarantees of
    which the store must claim at least one, ``excludes`` capabilities that make it
    not apply (a threaded variant of a schedulable property), ``builder`` the
    machine builder (factory, target, seed; see :meth:`build`), and ``extra`` any
    further applicability test."""

    name: str
    title: str
    guarantees: tuple[str, ...]
    builder: MachineBuilder
    requires: tuple[str, ...] = ()
    needs_claim: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    extra: Callable[[Descriptor], str | None] | None = field(default=None, compare=False)

    def build(self, factory: Callable[[], Any], target: str | None, seed: int = 0
              ) -> type[RuleBasedStateMachine]:
        """The property's machine for the store ``factory`` builds; ``target`` and
        ``seed`` (the seed the factory builds the store with) are written into the
        schedules of its failures so that they replay on the same store."""
        return self.builder(factory, target, seed)

    def skip_reason(self, descriptor: Descriptor) -> str | None:
        """Why this property does not apply to the store ``descriptor`` describes
        (one line starting with "not applicable"), or None when it runs."""
        missing = [c for c in self.requires if not descriptor.has(c)]
        if missing:
            plural = "y" if len(missing) == 1 else "ies"
            return (f"not applicable: {descriptor.name} lacks the capabilit{plural} "
                    f"{', '.join(missing)}")
        present = [c for c in self.excludes if descriptor.has(c)]
        if present:
            return (f"not applicable: {descriptor.name} has {', '.join(present)} "
                    "(another property covers it)")
        if self.needs_claim:
            claimed = {str(c.guarantee) for c in descriptor.claims}
            if not claimed & set(self.needs_claim):
                return (f"not applicable: {descriptor.name} claims none of "
                        f"{', '.join(self.needs_claim)}")
        if self.extra is not None:
            return self.extra(descriptor)
        return None


def _conformance(factory: Callable[[], Any], target: str | None, seed: int
                 ) -> type[RuleBasedStateMachine]:
    from replicheck.properties.conformance import conformance_machine

    return conformance_machine(factory, target=target, seed=seed)


def _concurrency(factory: Callable[[], Any], target: str | None, seed: int
                 ) -> type[RuleBasedStateMachine]:
    from replicheck.properties.concurrency import concurrency_machine

    return concurrency_machine(factory, max_steps=STEPS, target=target, seed=seed,
                               search=FAULT_SEARCH)


def _conformance_applies(descriptor: Descriptor) -> str | None:
    from replicheck.properties.conformance import compared_kinds

    if not compared_kinds(descriptor):
        return f"not applicable: {descriptor.name} claims no linearizable operations"
    return None


def _threaded(factory: Callable[[], Any], target: str | None, seed: int
              ) -> type[RuleBasedStateMachine]:
    from replicheck.properties.threaded import threaded_machine

    return threaded_machine(factory, target)


def _replicas(factory: Callable[[], Any], target: str | None, seed: int
              ) -> type[RuleBasedStateMachine]:
    from replicheck.properties.replicas import replicas_machine

    return replicas_machine(factory, target, seed, search=FAULT_SEARCH)


def _streams(factory: Callable[[], Any], target: str | None, seed: int
             ) -> type[RuleBasedStateMachine]:
    from replicheck.properties.streams import streams_machine

    return streams_machine(factory, target, seed, search=FAULT_SEARCH)


def _clocks(factory: Callable[[], Any], target: str | None, seed: int
            ) -> type[RuleBasedStateMachine]:
    from replicheck.properties.clocks import clocks_machine

    return clocks_machine(factory, target, seed, search=FAULT_SEARCH)


PROPERTIES: tuple[Property, ...] = (
    Property(
        "sequential-model-conformance",
        "One client: every answer to a claimed operation kind equals the item model's",
        ("linearizable-strong-reads", "linearizable-conditional-writes",
         "serializable-transactions", "atomic-transactions"),
        _conformance, extra=_conformance_applies),
    Property(
        "concurrent-histories-under-faults",
        "Concurrent clients, every scheduling decision and fault chosen: every claimed "
        "guarantee holds on the recorded history",
        ("linearizable-strong-reads", "linearizable-conditional-writes",
         "serializable-transactions", "atomic-transactions", "read-your-writes",
         "monotonic-reads", "convergence", "stream-exactly-once", "stream-item-order",
         "vector-clock-order", "merkle-root-iff-equal", "hinted-handoff-delivers",
         "read-repair-repairs", "anti-entropy-exact", "majority-availability"),
        _concurrency, requires=("deterministic-scheduling",)),
    Property(
        "concurrent-histories-on-threads",
        "Client threads run requests at once against a store without deterministic "
        "scheduling: every claimed guarantee holds on the history recorded with real time",
        ("linearizable-strong-reads", "linearizable-conditional-writes",
         "serializable-transactions", "atomic-transactions", "read-your-writes",
         "monotonic-reads", "convergence"),
        _threaded, excludes=("deterministic-scheduling",),
        needs_claim=("linearizable-strong-reads", "linearizable-conditional-writes",
                     "serializable-transactions", "atomic-transactions",
                     "read-your-writes", "monotonic-reads", "convergence")),
    Property(
        "convergence-after-anti-entropy",
        "Any schedule of writes and faults, then heal, settle and anti-entropy: every "
        "replica holds the same; Merkle roots equal exactly when contents are, at every step",
        ("convergence", "merkle-root-iff-equal", "anti-entropy-exact"),
        _replicas, requires=("deterministic-scheduling", "replica-introspection"),
        needs_claim=("convergence", "merkle-root-iff-equal", "anti-entropy-exact")),
    Property(
        "stream-exactly-once-in-order",
        "Writes, failed writes, transactions, token retries and leader failover: every "
        "acknowledged write once in the change stream, in order per item, nothing else",
        ("stream-exactly-once", "stream-item-order"),
        _streams, requires=("deterministic-scheduling", "stream"),
        needs_claim=("stream-exactly-once", "stream-item-order")),
    Property(
        "vector-clocks-and-siblings",
        "Reads and writes with causal contexts under faults: a replica's version vector "
        "only grows, and concurrent writes stay siblings until a write saw them",
        ("vector-clock-order",),
        _clocks, requires=("deterministic-scheduling", "versions", "replica-introspection"),
        needs_claim=("vector-clock-order",)),
)
"""Every property, in the order they run and are reported."""


def property_named(name: str) -> Property:
    """The property called ``name``; KeyError naming the known ones."""
    for prop in PROPERTIES:
        if prop.name == name:
            return prop
    raise KeyError(f"no property {name!r}; known: {', '.join(p.name for p in PROPERTIES)}")
