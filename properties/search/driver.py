"""What a fault-search rule may touch: the store's probed surface and the machine.

A rule class (a mixin of Hypothesis rules, one module of this package each) is
built by a function of a :class:`Surface` (what the store under test offers, probed
once per property) and runs inside a scheduled machine that satisfies
:class:`Driver`. A rule touches the store only through the machine's ``raw`` (a
:class:`~replicheck.properties.schedule.ScheduleRecorder`, so every call is a
replayable schedule step) and the machine's recording (``rec``), and only through
the protocols of :mod:`replicheck.implementation.store`.

Every rule of a class starts with ``self.swarm_on(NAME)`` in its precondition (swarm
testing: an example enables a random subset of the classes) and calls
``self.mark(NAME)`` when it did something, so a run can count which classes each
example exercised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from replicheck.implementation.store import (
    AntiEntropy,
    Capability,
    DirectRouting,
    FaultInjectable,
    Forkable,
    Leadership,
    MessageControl,
    PreferenceLists,
    RangeSnapshots,
    Settling,
    Store,
    TimeControl,
    Topology,
    Windows,
)
from replicheck.models.items.requests import Request

__all__ = ["Driver", "Surface", "probe_surface"]


@dataclass(frozen=True)
class Surface:
    """What a schedulable store offers the fault search, as plain values: its nodes,
    the table and partition-key attribute the workload uses, which protocols and
    capabilities it has, and its declared time windows."""

    nodes: tuple[str, ...]
    table: str
    pk: str
    transactions: bool = False
    strong: bool = False
    faults: bool = False
    """FaultInjectable and the faults capability (partition, crash, skew, pause)."""
    leaders: bool = False
    owners: bool = False
    topology: bool = False
    timed: bool = False
    messages: bool = False
    direct: bool = False
    anti_entropy: bool = False
    snapshots: bool = False
    forkable: bool = False
    settling: bool = False
    windows: Windows = field(default_factory=Windows)


def probe_surface(store: Store) -> Surface:
    """The :class:`Surface` of ``store`` (not closed here)."""
    descriptor = store.descriptor
    table = descriptor.tables[0]
    nodes = tuple(store.nodes) if isinstance(store, Topology) else ()
    return Surface(
        nodes=nodes, table=table.name, pk=table.key_attributes[0],
        transactions=descriptor.has(Capability.TRANSACTIONS),
        strong=descriptor.has(Capability.STRONG_READS),
        faults=descriptor.has(Capability.FAULTS) and isinstance(store, FaultInjectable)
        and bool(nodes),
        leaders=isinstance(store, Leadership), owners=isinstance(store, PreferenceLists),
        topology=isinstance(store, Topology), timed=isinstance(store, TimeControl),
        messages=isinstance(store, MessageControl),
        direct=bool(nodes) and isinstance(store, DirectRouting),
        anti_entropy=descriptor.has(Capability.ANTI_ENTROPY)
        and isinstance(store, AntiEntropy) and bool(nodes),
        snapshots=isinstance(store, RangeSnapshots), forkable=isinstance(store, Forkable),
        settling=isinstance(store, Settling), windows=descriptor.windows)


class Driver(Protocol):
    """What a scheduled machine offers its rule classes.

    ``raw``: the store under test wrapped in a ScheduleRecorder (every fault, decision
    and submission made through it is a schedule step); ``rec``: the history
    recording over ``raw`` (``submit``, ``submit_at``, ``decide``, ``collect``,
    ``in_flight``, ``decisions``); ``handles``: each client's last handle;
    ``crashed`` and ``paused``: the nodes down or frozen now (at most one node is
    crashed or paused at a time, so a majority stays up)."""

    surface: Surface
    raw: Any
    rec: Any
    handles: dict[str, Any]
    crashed: set[str]
    paused: set[str]

    def swarm_on(self, name: str) -> bool:
        """Whether rule class ``name`` is enabled in this example."""
        ...

    def mark(self, name: str) -> None:
        """Note that rule class ``name`` acted in this example."""
        ...

    def idle(self, wanted: str) -> str | None:
        """A client with nothing in flight, from ``wanted`` on; None when all busy."""
        ...

    def run_request(self, client: str, request: Request, node: str | None = None) -> Any:
        """Submit ``request`` for ``client`` (straight to ``node`` when given) and
        take fair decisions until it completes (bounded); its handle."""
        ...

    def replica(self, key: str, index: int) -> str | None:
        """Replica number ``index`` of ``key`` (0: its leader, or the first of its
        preference list), if the store says."""
        ...

    def fair(self, steps: int) -> int:
        """Up to ``steps`` fair decisions; how many were taken."""
        ...

    def bring_back(self) -> None:
        """Restart every crashed node and resume every paused one."""
        ...


RuleClass = Callable[[Surface], type]
"""A rule class: a function of the surface giving a mixin of Hypothesis rules."""
