"""Swarm testing, the count of which rule classes acted, and steering towards depth.

Swarm testing (Groce, Zhang, Eide, Chen and Regehr, ISSTA 2012): rather than letting
every kind of step compete in every test, each test enables a random subset of the
kinds, so that a rare combination (a partition with no crash to heal it, clock skew
without anti-entropy to hide it) is not drowned out by the rest. Here the kinds are
the *rule classes* of :mod:`replicheck.properties.search` (kebab-case names, each
module's ``CLASSES``) and the coarse classes of a scheduled machine's own rules
(:data:`MACHINE_RULE_CLASSES`). Hypothesis itself turns single rules off at random
(its feature flags, which shrink towards every rule on); the swarm here works one
level up, on whole classes, and shrinks towards classes off: a counterexample keeps
only the fault classes it needs.

:func:`swarm_rules` builds the mixin that draws the subset (one ``@initialize``
rule: half the examples have only the machine's own classes on, a quarter every
class, the others each class on with probability one half, independently) and
implements the Driver's ``swarm_on`` and ``mark``; every rule of the machine it is mixed into whose
name :data:`MACHINE_RULE_CLASSES` lists is gated by its class too, and marks it
when it added a schedule step. The machine reports the classes that acted with each
example (:attr:`~replicheck.properties.examples.ExampleReport.classes`), and
:func:`class_counts` counts, per class, the examples in which it acted.

:class:`DepthSteering` is a mixin that samples, after every rule, measures of how
deep an example went (leader changes, messages in flight, nodes ever isolated) and
hands them to ``hypothesis.target`` at teardown, so that the search leans towards
examples that go deeper. :func:`applicable_classes` says which classes can act on
a machine's store.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from replicheck.properties.driving import steer
from replicheck.properties.examples import ExampleReport
from replicheck.properties.search.driver import Surface
from replicheck.properties.strategies import KEYS

__all__ = [
    "ALWAYS_ON",
    "CLASSES",
    "CLASSES_ACTED",
    "FULL",
    "ISOLATED_NODES",
    "LEADER_CHANGES",
    "MACHINE_RULE_CLASSES",
    "MESSAGES_IN_FLIGHT",
    "MODES",
    "PLAIN",
    "SWARMED",
    "DepthSteering",
    "applicable_classes",
    "class_counts",
    "rule_classes",
    "swarm_rules",
]

WORKLOAD: Final = "workload"
"""The class of the plain client requests: always on (every example has a workload)."""
RACES: Final = "races"
"""The class of concurrent requests on one key (creates, increments, transactions)."""
TRANSACTIONS: Final = "transactions"
"""The class of transactions retried with a token or gated on a free slot."""

MACHINE_RULE_CLASSES: Final[Mapping[str, str]] = {
    # the clients' own requests
    "submit": WORKLOAD, "call": WORKLOAD, "submit_at": WORKLOAD, "call_at": WORKLOAD,
    "read_at": WORKLOAD, "burst": WORKLOAD, "run_fair": WORKLOAD,
    "race": RACES,
    "idempotent": TRANSACTIONS, "guarded": TRANSACTIONS,
    "partition": "partitions", "isolate": "partitions", "heal": "partitions",
    "crash": "crashes", "restart": "crashes",
    "skew": "clocks", "wait": "clocks",
    "sync": "anti-entropy", "snapshot": "anti-entropy",
    "decide": "message-decisions", "lose": "message-decisions",
}
"""The coarse rule class of each rule a scheduled machine defines itself (the
concurrency property's ``submit``, ``partition``, ...), by rule name."""

CLASSES: Final[tuple[str, ...]] = tuple(dict.fromkeys(MACHINE_RULE_CLASSES.values()))
"""The classes of the machine's own rules (:data:`MACHINE_RULE_CLASSES`)."""

ALWAYS_ON: Final[tuple[str, ...]] = (WORKLOAD, RACES, TRANSACTIONS)
"""The classes a swarm never switches off: the clients' workload (plain requests,
races on one key, transactions). The swarm varies the faults and the search's rule
classes; the workload they act on keeps its density. A ``ci`` run's examples are
mostly mutations of a few early ones, so a workload class drawn off early can stay off
for most of the run: with races and transactions switchable, 100 examples missed a
lost update of two concurrent transactions (txn-ignores-locks) and two creates both
succeeding (stale-condition-check), which the suite without the search finds in a few
examples; with them always on, the search finds both within seconds."""

PLAIN: Final = "plain"
SWARMED: Final = "swarmed"
FULL: Final = "full"
MODES: Final[tuple[str, ...]] = (PLAIN, SWARMED, FULL)
"""A swarmed example's modes, in shrinking order (see :func:`swarm_rules`)."""
MODE_DRAWS: Final[tuple[str, ...]] = (PLAIN, PLAIN, SWARMED, FULL)
"""The modes drawn with equal chances: half the examples plain, a quarter swarmed, a
quarter full (see :func:`swarm_rules`)."""

LEADER_CHANGES: Final = "leader changes"
MESSAGES_IN_FLIGHT: Final = "messages in flight"
ISOLATED_NODES: Final = "isolated nodes"
CLASSES_ACTED: Final = "rule classes acted"
"""The ``hypothesis.target`` labels of :class:`DepthSteering` (stable: the example
database keys its best examples by them)."""

_GATED: Final = "_replicheck_swarm_class"
"""Attribute marking a rule function already gated by its class."""

_RULE: Final = "hypothesis_stateful_rule"
"""Where Hypothesis keeps a rule function's record (its arguments, preconditions)."""


def _gate(name: str, function: Any, cls_name: str) -> Any:
    """``function`` (a rule the machine defines itself) as a rule of class
    ``cls_name``: enabled only while the swarm has the class on, and marking the
    class when it added a schedule step to ``self.raw``."""
    record = getattr(function, _RULE)
    original = record.function

    @functools.wraps(original)
    def gated(self: Any, **arguments: Any) -> Any:
        before = len(self.raw.steps)
        result = original(self, **arguments)
        if len(self.raw.steps) != before:
            self.mark(cls_name)
        return result

    for attribute in (_RULE, "hypothesis_stateful_preconditions", "__wrapped__"):
        gated.__dict__.pop(attribute, None)
    decorate: Any = rule(**record.arguments)
    made: Any = decorate(gated)
    for condition in (lambda self: self.swarm_on(cls_name), *record.preconditions):
        made = precondition(condition)(made)
    setattr(made, _GATED, cls_name)
    made.__name__ = name
    return made


def swarm_rules(classes: Iterable[str], *, always: Iterable[str] = ALWAYS_ON,
                machine_rules: Mapping[str, str] = MACHINE_RULE_CLASSES) -> type:
    """The swarm mixin over ``classes`` (every class name a rule of the machine may
    ask about; ``always`` are never switched off). Put it first among a scheduled
    machine's bases: it defines the Driver's ``swarm_on`` and ``mark``.

    Its ``@initialize`` rule ``swarm`` draws, per example, a *mode* (:data:`MODES`)
    and a boolean per class not in ``always``:

    - ``plain``: the machine's own classes (those ``machine_rules`` names) on, the
      search's off: the property as it is without the fault search, so its own races
      keep their density (Hypothesis picks among enabled rules uniformly, and the
      search's rules would otherwise take about half the steps);
    - ``swarmed``: each class not in ``always`` on with probability one half,
      independently, so rare combinations get examples of their own;
    - ``full``: every class on.

    Half the examples are plain, a quarter swarmed and a quarter full
    (:data:`MODE_DRAWS`): the machine's own rules are the search that found the
    catalog's bugs of races and failover, and they keep half the run. Both the mode
    and the switches shrink towards the plain machine and classes off: a
    counterexample keeps the classes it needs. Full examples are a fixed share
    because Hypothesis makes most of a run's examples from a few: it mutates earlier
    examples and, past half its budget, climbs its ``target`` scores from the best
    ones, and both keep an example's opening choices, so a subset drawn at the start
    is shared by most of a run (in a 60-example ``ci`` run, three subsets made three
    quarters of it) and a class left off there hardly runs. Swarmed examples do not
    steer (:attr:`steers`; the :class:`DepthSteering` measures and the machine's
    own), so the climb starts from, and keeps, a full or a plain example, while the
    swarmed examples of the generation phase explore rare combinations.

    ``swarm_on`` of a name outside ``classes`` and ``always`` raises KeyError (a
    rule asking about a class nobody registered). Each rule the machine defines
    itself whose name ``machine_rules`` lists (a subclass's rule of that name
    included, when the class is made) is gated by that class and marks it when it
    added a schedule step to ``self.raw``. ``self.marked`` holds the classes that
    acted in the current example (the machine reports it), ``self.enabled`` those
    on, ``self.mode`` the example's mode. A machine driven by hand (no initialize)
    has every class on (mode ``full``)."""
    every = tuple(dict.fromkeys((*always, *classes)))
    kept = frozenset(always)
    plain = kept | frozenset(machine_rules.values())
    switchable = tuple(c for c in every if c not in kept)
    unknown = sorted(set(machine_rules.values()) - set(every))
    if unknown:
        raise ValueError(f"machine rule classes {', '.join(unknown)} are not among the "
                         f"swarm's classes ({', '.join(every)})")

    class Swarm:
        """Swarm testing over rule classes (see :func:`swarm_rules`)."""

        swarm_classes: tuple[str, ...] = switchable
        swarm_always: frozenset[str] = kept

        def __init_subclass__(cls, **kwargs: Any) -> None:
            super().__init_subclass__(**kwargs)
            for name, cls_name in machine_rules.items():
                function = getattr(cls, name, None)
                if getattr(function, _RULE, None) is None or getattr(function, _GATED, None):
                    continue
                if getattr(function, _RULE).targets:
                    continue
                setattr(cls, name, _gate(name, function, cls_name))

        def __init__(self) -> None:
            super().__init__()
            self.enabled: frozenset[str] = frozenset(every)
            self.mode = FULL
            self.marked: set[str] = set()
            self._asked: set[str] | None = None

        @initialize(mode=st.sampled_from(MODE_DRAWS),
                    switches=st.lists(st.booleans(), min_size=len(switchable),
                                      max_size=len(switchable)))
        def swarm(self, mode: str, switches: list[bool]) -> None:
            """Enable the machine's own classes (``plain``), those whose switch is on
            (``swarmed``) or every class (``full``)."""
            if mode not in MODES:
                raise ValueError(f"swarm mode {mode!r} is not one of {', '.join(MODES)}")
            self.mode = mode
            if mode == PLAIN:
                self.enabled = plain
            elif mode == FULL:
                self.enabled = frozenset(every)
            else:
                self.enabled = kept | {
                    c for c, on in zip(switchable, switches, strict=True) if on}

        @property
        def steers(self) -> bool:
            """Whether this example steers the search: not a swarmed one."""
            return self.mode != SWARMED

        def swarm_on(self, name: str) -> bool:
            """Whether rule class ``name`` is enabled in this example."""
            if name not in every:
                raise KeyError(f"rule class {name!r} is not registered with the swarm "
                               f"(known: {', '.join(every)})")
            if self._asked is not None:
                self._asked.add(name)
            return name in self.enabled

        def mark(self, name: str) -> None:
            """Note that rule class ``name`` acted in this example."""
            self.marked.add(name)

    return Swarm


def rule_classes(machine: Any) -> dict[str, frozenset[str]]:
    """For each rule of ``machine`` (a machine made from a :func:`swarm_rules`
    mixin) whose preconditions all hold on it as it is now with every class on, the
    classes the preconditions ask about (through ``swarm_on``, its own rules' gates
    included), by rule name in name order. On a fresh machine the rest of a
    precondition is what the store's surface allows."""
    found: dict[str, frozenset[str]] = {}
    enabled = machine.enabled
    machine.enabled = frozenset(machine.swarm_always) | frozenset(machine.swarm_classes)
    try:
        for name in sorted(dir(type(machine))):
            record = getattr(getattr(type(machine), name, None), _RULE, None)
            if record is None:
                continue
            asked: set[str] = set()
            machine._asked = asked
            try:
                holds = all([condition(machine) for condition in record.preconditions])
            finally:
                machine._asked = None
            if holds:
                found[name] = frozenset(asked)
    finally:
        machine.enabled = enabled
    return found


def applicable_classes(machine: Any) -> frozenset[str]:
    """The rule classes that can act on ``machine``'s store: those some rule whose
    preconditions hold with every class on asks about (:func:`rule_classes`; on a
    fresh machine, the classes that apply to the store)."""
    return frozenset().union(*rule_classes(machine).values())


class DepthSteering:
    """Mixin of a scheduled machine (a :class:`~replicheck.properties.search.driver.
    Driver`): after every rule it samples how deep the example went, and at
    teardown hands the measures to ``hypothesis.target`` (nothing outside a test,
    nothing in a swarmed example: see :func:`swarm_rules`):
    :data:`LEADER_CHANGES`, how many times a partition's leader became another node
    (Leadership stores: ``leader_of`` over the partitions of the suite's keys);
    :data:`MESSAGES_IN_FLIGHT`, the most messages in flight at once (MessageControl);
    :data:`ISOLATED_NODES`, how many nodes were at some point cut off from every
    other node (MessageControl's ``reachable``); and :data:`CLASSES_ACTED`, how many
    rule classes acted (breadth: Hypothesis climbs its targets from a few examples
    through the second half of a run, and this keeps the climb's examples using
    many classes)."""

    surface: Surface
    raw: Any

    def __init__(self) -> None:
        super().__init__()
        self.leaders_seen: dict[int, str] = {}
        self.leader_changes = 0
        self.peak_messages = 0
        self.isolated: set[str] = set()
        self._partitions: tuple[int, ...] | None = None

    @invariant()
    def sample_depth(self) -> None:
        """Sample leaders, messages in flight and isolated nodes now."""
        surface = self.surface
        if surface.leaders:
            self._sample_leaders()
        if surface.messages:
            self.peak_messages = max(self.peak_messages,
                                     len(self.raw.messages_in_flight()))
            nodes = surface.nodes
            if len(nodes) > 1:
                self.isolated |= {a for a in nodes if a not in self.isolated and not any(
                    self.raw.reachable(a, b) for b in nodes if b != a)}

    def _sample_leaders(self) -> None:
        surface = self.surface
        if self._partitions is None:
            self._partitions = tuple(sorted({
                self.raw.partition_of(surface.table, {surface.pk: key}) for key in KEYS}))
        for partition in self._partitions:
            leader = self.raw.leader_of(partition)
            if leader is None:
                continue
            before = self.leaders_seen.get(partition)
            if before is not None and before != leader:
                self.leader_changes += 1
            self.leaders_seen[partition] = leader

    def teardown(self) -> None:
        """Steer by this example's measures, then the machine's own teardown."""
        surface = self.surface
        if not getattr(self, "steers", True):
            super().teardown()  # type: ignore[misc]
            return
        steer(float(len(getattr(self, "marked", ()))), CLASSES_ACTED)
        if surface.leaders:
            steer(float(self.leader_changes), LEADER_CHANGES)
        if surface.messages:
            steer(float(self.peak_messages), MESSAGES_IN_FLIGHT)
            steer(float(len(self.isolated)), ISOLATED_NODES)
        super().teardown()  # type: ignore[misc]


def class_counts(reports: Iterable[ExampleReport]) -> dict[str, int]:
    """Per rule class, in how many of ``reports`` (examples) it acted."""
    counts: dict[str, int] = {}
    for report in reports:
        for name in report.classes:
            counts[name] = counts.get(name, 0) + 1
    return counts
