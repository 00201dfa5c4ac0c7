"""The scheduled-machine framework: the one base every scheduled property builds on.

A scheduled property drives a store with ``deterministic-scheduling`` through
Hypothesis rules that choose every scheduler decision and fault. :func:`probe` looks
at the store once (:class:`Setup`: its descriptor, nodes, table and the
:class:`~replicheck.properties.search.driver.Surface` the fault search sees);
:func:`scheduled_machine` builds the base class of the property's machine, a
:class:`Scheduled`, which gives every property the same things:

- the store wrapped in a :class:`~replicheck.properties.schedule.ScheduleRecorder`
  (``raw``: every call through it is a schedule step) and the history recording over
  it (``rec``, a :class:`~replicheck.properties.driving.DrivenRecording`);
- the :class:`~replicheck.properties.search.driver.Driver` surface the fault-search
  rule classes of :mod:`replicheck.properties.search` act through (``surface``,
  ``handles``, ``crashed``, ``paused``, ``swarm_on``, ``mark``, ``idle``,
  ``run_request``, ``replica``, ``fair``, ``bring_back``);
- the common rules: any scheduler decision, a few fair ones, and, with faults,
  partition, heal, crash, restart and clock skew (each property names the optional
  ones it draws, so its search stays its own);
- the teardown skeleton: heal, restart and resume every node, complete every
  operation in flight, then the property's own judging (:meth:`Scheduled.judge`);
- taking verdicts (:class:`~replicheck.properties.verdicts.Verdicts`), the
  counterexample with its steps in plain words (the property's own step log, or
  the recorded schedule described), and, for a property whose verdicts
  ``replicheck replay`` reproduces, the failing example's schedule file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from replicheck.histories.history import History
from replicheck.implementation.store import (
    SURFACE,
    AntiEntropy,
    Capability,
    Descriptor,
    Handle,
    Introspectable,
    Store,
)
from replicheck.models.items.requests import Request
from replicheck.properties.driving import (
    CLIENTS,
    MAX_CALL_DECISIONS,
    MAX_SETTLE_DECISIONS,
    DrivenRecording,
    close_store,
    describe_decision,
    fair_step,
    heal_dropping,
    idle_client,
    probe_store,
    steer,
)
from replicheck.properties.guarantees import Judgement
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.schedule import (
    ScheduleRecorder,
    completed_schedule,
    describe_teardown,
    write_schedule_on_failure,
)
from replicheck.properties.search import plan, registry, swarm
from replicheck.properties.search.driver import Surface, probe_surface
from replicheck.properties.verdicts import (
    StepLog,
    Verdicts,
    failure_path,
    label_clients,
)

__all__ = ["OPTIONAL_RULES", "Scheduled", "Setup", "probe", "scheduled_machine"]

SKEWS: Final = (-2.0, -0.5, 0.5, 2.0)
"""The clock skews, in seconds, the ``skew`` rule chooses from."""


@dataclass(frozen=True)
class Setup:
    """What a scheduled property knows of its store before any example: the property's
    ``name``, the factory (one fresh store per example), the ``target`` and ``seed`` that
    name the store in schedule files, and what a probe saw (``descriptor``, ``nodes``,
    the first table and its partition key, the fault-search ``surface``)."""

    name: str
    factory: Callable[[], Store]
    target: str | None
    seed: int
    descriptor: Descriptor
    nodes: tuple[str, ...]
    surface: Surface
    protocols: frozenset[type] = frozenset()
    """The protocols of :mod:`replicheck.implementation.store` the store offers."""
    search: bool = False
    """Whether the property's machine draws the fault search: every rule class of
    :mod:`replicheck.properties.search` (:func:`~replicheck.properties.search.
    registry.rule_mixins`), gated by a swarm, with depth steering."""

    def offers(self, protocol: type) -> bool:
        """Whether the store implements ``protocol``."""
        return protocol in self.protocols

    @property
    def table(self) -> str:
        """The table every request goes to (the store's first)."""
        return self.descriptor.tables[0].name

    @property
    def pk(self) -> str:
        """That table's partition-key attribute."""
        return self.descriptor.tables[0].partition_key

    @property
    def faults(self) -> bool:
        """Whether the store takes injected faults (the ``faults`` capability and some
        nodes to inject them at)."""
        return self.descriptor.has(Capability.FAULTS) and bool(self.nodes)

    @property
    def node_names(self) -> tuple[str, ...]:
        """The nodes a fault rule chooses from (a placeholder when there are none: the
        rules are then never enabled, but their strategies must be built)."""
        return self.nodes or ("none",)


def probe(name: str, factory: Callable[[], Store], target: str | None = None, seed: int = 0,
          check: Callable[[Any], None] | None = None, *, search: bool = False) -> Setup:
    """The :class:`Setup` of property ``name`` for the store ``factory`` builds (one
    store built, looked at and closed; ``check``, when given, may refuse it first,
    e.g. with :class:`~replicheck.properties.suite.NotApplicable`); with ``search``,
    the property draws the fault search (:attr:`Setup.search`)."""
    descriptor, nodes, store = probe_store(factory)
    try:
        if check is not None:
            check(store)
        surface = probe_surface(store)
        protocols = frozenset(p for p in _PROTOCOLS if isinstance(store, p))
    finally:
        close_store(store)
    return Setup(name, factory, target, seed, descriptor, nodes, surface, protocols,
                 search)


_PROTOCOLS: Final = (*{p for group in SURFACE.values() for p in group}, AntiEntropy,
                     Introspectable)


class Scheduled(RuleBasedStateMachine):
    """The base of every scheduled property's machine (module docstring).

    A property's machine subclasses the class :func:`scheduled_machine` builds, adds
    its own rules (and invariants), and defines :meth:`judge`, the checks after the
    teardown skeleton. Class attributes: ``setup`` (set by
    :func:`scheduled_machine`); ``logged`` (True: the property logs each rule in
    plain words with :meth:`log_step`, and its counterexamples show that log; False: they
    show the recorded schedule, one decision per step); ``replayable`` (the
    property's verdicts are what ``replicheck replay`` reproduces from its schedule:
    its counterexamples carry the schedule and a failing example writes it to
    :func:`~replicheck.properties.verdicts.failure_path`); ``driver_clients`` (the
    clients :meth:`idle` chooses among)."""

    setup: ClassVar[Setup]
    steers: bool = True
    """Whether this example steers the search (``hypothesis.target``): a swarm turns
    it off in the examples it swarms."""
    logged: ClassVar[bool] = True
    replayable: ClassVar[bool] = False
    driver_clients: ClassVar[tuple[str, ...]] = CLIENTS

    def __init__(self) -> None:
        super().__init__()
        setup = self.setup
        self.base: Any = setup.factory()
        self.raw: Any = ScheduleRecorder(self.base, setup.target or "<factory>", setup.seed)
        self.rec = DrivenRecording(self.raw)
        self.surface = setup.surface
        self.handles: dict[str, Any] = {}
        self.crashed: set[str] = set()
        self.paused: set[str] = set()
        self.marked: set[str] = set()
        self.rules_run = 0
        self.teardown_at: int | None = None
        self.log = StepLog()
        self.logged_upto = 0
        self.verdicts = Verdicts(setup.name, self.log, build=self.counterexample,
                                 note=self.failure_note, list_steps=self.logged,
                                 classes=lambda: frozenset(self.marked))

    # -- the Driver surface of the fault-search rule classes ----------------------------

    def swarm_on(self, name: str) -> bool:
        """Whether rule class ``name`` is enabled in this example."""
        return True

    def mark(self, name: str) -> None:
        """Note that rule class ``name`` acted in this example (and log it:
        :meth:`log_marked`)."""
        self.marked.add(name)
        self.log_marked(name)

    def log_marked(self, name: str) -> None:
        """In a property that logs its steps, log what rule class ``name`` did since
        the last step logged, when it recorded any schedule step: those steps summed
        up (``nemesis-split: partition ..., deliver 3 messages``)."""
        if not self.logged:
            return
        taken = [s for s in self.raw.steps[self.logged_upto:] if "observe" not in s]
        if not taken:
            return
        summary = describe_teardown(taken).removeprefix("then: ")
        self.log.add(f"{name}: {summary}", sum(1 for s in taken if "decide" in s))
        self.logged_upto = len(self.raw.steps)

    def idle(self, wanted: str) -> str | None:
        """A client with nothing in flight, from ``wanted`` on; None when all busy."""
        return idle_client(self.driver_clients, self.handles, wanted)

    def run_request(self, client: str, request: Request, node: str | None = None
                    ) -> Handle:
        """Submit ``request`` for ``client`` (straight to ``node`` when given) and run
        the fair policy until it completes (at most
        :data:`~replicheck.properties.driving.MAX_CALL_DECISIONS` decisions)."""
        return self.complete_call(client, request, node)[0]

    def replica(self, key: str, index: int) -> str | None:
        """Replica number ``index`` of ``key`` (0: the leader in leader mode, the first
        of the preference list in leaderless mode), if the store says."""
        table, pk = self.setup.table, self.setup.pk
        if self.surface.leaders:
            partition = self.raw.partition_of(table, {pk: key})
            leader = self.raw.leader_of(partition)
            replicas = [leader] if leader is not None else []
            replicas += [n for n in self.raw.partition_replicas(partition)
                         if n not in replicas]
            return replicas[index % len(replicas)] if replicas else None
        if self.surface.owners:
            found = tuple(self.raw.preference_list(table, {pk: key}))
            return found[index % len(found)] if found else None
        return None

    def fair(self, steps: int) -> int:
        """Up to ``steps`` fair decisions; how many were taken."""
        taken = 0
        while taken < steps and fair_step(self.rec):
            taken += 1
        return taken

    # -- driving helpers ------------------------------------------------------------------

    def busy(self, client: str) -> bool:
        """Whether ``client`` has a request in flight."""
        handle = self.handles.get(client)
        return handle is not None and not handle.done

    def finish(self, handle: Handle) -> int:
        """Fair decisions until ``handle`` completes (at most MAX_CALL_DECISIONS); how
        many were taken."""
        taken = 0
        while not handle.done and taken < MAX_CALL_DECISIONS and fair_step(self.rec):
            taken += 1
        return taken

    def complete_call(self, client: str, request: Request, node: str | None = None
                      ) -> tuple[Handle, int]:
        """Submit ``request`` for ``client`` (to ``node`` when given), keep its handle,
        and run it to completion (:meth:`finish`); the handle and the decisions
        taken."""
        handle = (self.rec.submit(client, request) if node is None
                  else self.rec.submit_at(client, request, node))
        self.handles[client] = handle
        return handle, self.finish(handle)

    def aim(self, value: float, label: str) -> None:
        """Steer the search towards higher ``value`` of ``label``
        (:func:`~replicheck.properties.driving.steer`), when this example steers."""
        if self.steers:
            steer(value, label)

    def log_step(self, text: Callable[[], str], decisions: int = 1) -> None:
        """Log one rule that acted, in plain words (``text`` is called only when the
        property logs its steps), and the decisions it took."""
        if self.logged:
            self.log.add(text(), decisions)
            self.logged_upto = len(self.raw.steps)

    # -- the common rules ---------------------------------------------------------------

    @rule(index=st.integers(0, 255))
    def decide(self, index: int) -> None:
        """One scheduler decision of any kind (deliver, drop, duplicate, fire)."""
        self.rules_run += 1
        decisions = self.rec.decisions()
        if decisions:
            decision = decisions[index % len(decisions)]
            text = describe_decision(self.raw, decision) if self.logged else ""
            self.rec.decide(decision)
            self.log_step(lambda: text)

    @rule(steps=st.integers(1, 20))
    def run_fair(self, steps: int) -> None:
        """Up to ``steps`` fair decisions (oldest delivery, else earliest timer)."""
        self.rules_run += 1
        taken = self.fair(steps)
        self.log_step(lambda: f"{taken} fair decision(s)", taken)

    @precondition(lambda self: self.setup.faults)
    @rule()
    def heal(self) -> None:
        """Heal the network (the messages a partition cut off are lost)."""
        self.rules_run += 1
        lost = heal_dropping(self.raw, self.rec)
        self.log_step(lambda: f"heal ({lost} cut-off message(s) lost)")

    @precondition(lambda self: self.setup.faults)
    @rule()
    def restart(self) -> None:
        """Restart every crashed node."""
        self.rules_run += 1
        down = sorted(self.crashed)
        for node in down:
            self.raw.restart(node)
        self.crashed.clear()
        self.log_step(lambda: f"restart {', '.join(down) or 'nothing'}")

    def crash_node(self, node: str) -> bool:
        """Crash ``node`` unless a node is down or paused already (one at a time keeps a
        majority, and every quorum, possible); whether it crashed."""
        if self.crashed or self.paused:
            return False
        self.raw.crash(node)
        self.crashed.add(node)
        return True

    # -- teardown -------------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if not self.verdicts.failed:
                self.teardown_at = len(self.raw.steps)
                self.recover()
                self.complete()
                self.judge()
        finally:
            close_store(self.raw)
            self.verdicts.report()

    def recover(self) -> None:
        """With faults: heal (the messages cut off are lost), restart every crashed
        node and resume every paused one."""
        if not self.setup.faults:
            return
        heal_dropping(self.raw, self.rec)
        self.bring_back()

    def bring_back(self) -> None:
        """Restart every crashed node and resume every paused one."""
        for node in sorted(self.crashed):
            self.raw.restart(node)
        for node in sorted(self.paused):
            self.raw.resume(node)
        self.crashed.clear()
        self.paused.clear()

    def complete(self) -> None:
        """Fair decisions until no operation is in flight (at most
        MAX_SETTLE_DECISIONS)."""
        taken = 0
        while self.rec.in_flight() and taken < MAX_SETTLE_DECISIONS and fair_step(self.rec):
            taken += 1

    def settle_healed(self) -> None:
        """Settle the store after the teardown healed the network, restarted and
        resumed every node: a store whose ``settle()`` answers False (it did not come
        to rest within its own horizon) breaks the ``settling`` capability
        (:class:`~replicheck.properties.recording.DidNotSettle`)."""
        if self.raw.settle() is False:
            from replicheck.properties.recording import DidNotSettle

            raise DidNotSettle(
                f"settle() answered False: {self.setup.descriptor.name} did not come to "
                "rest within its own horizon after the network healed and every node "
                "restarted and resumed")

    def settled(self) -> bool:
        """Settle the store (when it can), record the last completions and close the
        history; whether it holds any operation."""
        if self.surface.settling:
            self.settle_healed()
        self.rec.collect()
        self.rec.abandon()
        return bool(self.rec.history().operations)

    def judge(self) -> None:
        """The property's own checks after the teardown skeleton."""
        raise NotImplementedError

    # -- verdicts -------------------------------------------------------------------------

    def counterexample(self, judgement: Judgement, history: History | None
                       ) -> Counterexample:
        """This example as the counterexample of ``judgement``: the property's logged
        steps, or the recorded steps before teardown in plain words (one decision =
        one step) then the teardown as one line (``then: heal, settle, ...``); with
        the replayable schedule when the property is replayable."""
        setup = self.setup
        schedule = (completed_schedule(self.raw)
                    if self.replayable and setup.target is not None else None)
        json = None if schedule is None else schedule.to_json()
        if self.logged:
            return Counterexample(setup.name, judgement.guarantee,
                                  judgement.explanation(), tuple(self.log.steps),
                                  self.log.decisions, history, judgement.verdict,
                                  schedule=json)
        cut = len(self.raw.steps) if self.teardown_at is None else self.teardown_at
        steps = self.raw.described(0, cut)
        if history is not None:
            steps = label_clients(steps, self.raw.steps[:cut], history)
        if len(self.raw.steps) > cut:
            steps += (describe_teardown(self.raw.steps[cut:]),)
        return Counterexample(setup.name, judgement.guarantee, judgement.explanation(),
                              steps=steps, decisions=cut, history=history,
                              verdict=judgement.verdict, schedule=json)

    def failure_note(self, guarantee: str) -> str:
        """Write the failing example's schedule (a replayable property with a target)
        and say where, with the replay command; else nothing."""
        target = self.setup.target
        if not self.replayable or target is None:
            return ""
        written = write_schedule_on_failure(self.raw, failure_path(target), guarantee)
        if written is None:
            return ""
        return (f"\n\nschedule written to {written}\n"
                f"replay it with: replicheck replay {written}")


class _LoggedMarks:
    """Put before the swarm (whose ``mark`` replaces the base's): a rule class that
    marks itself is logged too (:meth:`Scheduled.log_marked`)."""

    def mark(self: Any, name: str) -> None:
        super().mark(name)  # type: ignore[misc]
        self.log_marked(name)


OPTIONAL_RULES: Final = ("partition", "skew")
"""The common fault rules a property may leave out of its search."""


def scheduled_machine(setup: Setup, rules: tuple[str, ...] = OPTIONAL_RULES
                      ) -> type[Scheduled]:
    """The base class of a scheduled property's machine for ``setup``: a
    :class:`Scheduled` with the common rules, crash among them (its nodes are the
    store's), the optional fault ``rules`` named (of :data:`OPTIONAL_RULES`), and, with
    ``setup.search``, the fault search: the swarm over every rule class
    (:func:`~replicheck.properties.search.swarm.swarm_rules`, first: it gates the
    machine's own rules by class too), each class's turn
    (:class:`~replicheck.properties.search.plan.Turns`), every rule class built for the
    store's surface, and the depth steering."""
    node_names = setup.node_names
    nodes = setup.nodes
    mixins: list[type] = []
    if setup.search:
        mixins += [_LoggedMarks, swarm.swarm_rules(registry.all_classes()), plan.Turns,
                   *registry.rule_mixins(setup.surface), swarm.DepthSteering]

    class Crash:
        @precondition(lambda self: self.setup.faults)
        @rule(node=st.sampled_from(node_names))
        def crash(self: Any, node: str) -> None:
            """Crash ``node`` (one node down at a time)."""
            self.rules_run += 1
            if self.crash_node(node):
                self.log_step(lambda: f"crash {node}")

    mixins.append(Crash)
    if "partition" in rules:
        class Partition:
            @precondition(lambda self: self.setup.faults)
            @rule(side=st.sets(st.sampled_from(node_names), min_size=1))
            def partition(self: Any, side: set[str]) -> None:
                """Split the nodes in two: ``side`` and the rest."""
                self.rules_run += 1
                other = [n for n in nodes if n not in side]
                self.raw.partition([sorted(side), other] if other else [sorted(side)])
                self.log_step(lambda: f"partition {sorted(side)} from {other}")

        mixins.append(Partition)
    if "skew" in rules:
        class Skew:
            @precondition(lambda self: self.setup.faults)
            @rule(node=st.sampled_from(node_names), seconds=st.sampled_from(SKEWS))
            def skew(self: Any, node: str, seconds: float) -> None:
                """Move one node's clock by ``seconds``."""
                self.rules_run += 1
                self.raw.skew_clock(node, seconds)
                self.log_step(lambda: f"skew {node}'s clock by {seconds:+} s")

        mixins.append(Skew)
    machine = type("Scheduled", (*mixins, Scheduled), {"setup": setup})
    return machine
