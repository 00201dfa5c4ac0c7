"""A request delivered again after its coordinator restarted: applied once.

A coordinator must recognise a copy of a request it already took (a retransmission,
a duplicate on the wire, a client library's resend) and not apply it again. Keeping
that memory in volatile state only is a classic bug: after a crash and restart the
coordinator has forgotten what it took, and a copy arriving then is a new request
to it. Counters show it (a retried increment counted twice: what Cassandra's
counters and many hand-rolled retry layers have done). Random schedules rarely line
it up: the copy must be held until the answer came, then the coordinator must
restart, then the copy must arrive.

:func:`redelivery_epilogue` runs that schedule once per example of the concurrency
property where the epilogues run (about one in three), after the teardown completed
every operation, on a store with message control and faults, through the machine's
recording (every step replays), as the ``duplicate-request`` fault of the search
makes it (:func:`~replicheck.properties.search.messages.redeliver`):

1. an increment of :data:`KEY` (a key of its own) is submitted and duplicated on
   the wire; the copy is held until the increment was answered;
2. the node the copy is addressed to (else the key's leader or first replica)
   crashes and restarts; then the copy is delivered;
3. after the store's declared ``failover`` window (a restarted leader's partition
   elects again), the key is read (strongly where the store can).

The increment and the reads are ordinary operations of the history, and the
replicas observed afterwards hold the key: a store that applies the copy again is
caught by the linearizable reads (a strong read of 2 after one increment) and by
the counters rule of convergence (:mod:`replicheck.properties.applied_once`). When
a step cannot happen (no idle client, a node already down) the schedule stops there.
"""

from __future__ import annotations

from typing import Any, Final

from replicheck.properties.search.driver import Surface
from replicheck.properties.search.messages import read_back, redeliver
from replicheck.properties.strategies import increment

__all__ = ["CLIENT", "KEY", "can_redeliver", "redelivery_epilogue"]

KEY: Final = "redelivered"
"""The key the epilogue increments (none of the workload's keys)."""

CLIENT: Final = "c0"
"""The first client tried (any idle one will do)."""


def can_redeliver(surface: Surface) -> bool:
    """Whether the schedule can run on a store with ``surface``: it duplicates and
    holds messages, and crashes and restarts a node."""
    return surface.messages and surface.faults


def redelivery_epilogue(machine: Any) -> None:
    """Run the schedule of the module docstring on ``machine`` (a scheduled machine
    offering the fault-search Driver), when :func:`can_redeliver`."""
    surface: Surface = machine.surface
    if not can_redeliver(surface):
        return
    request = increment(surface.table, surface.pk, KEY)
    if not redeliver(machine, surface, CLIENT, request, late=True, gap=0, restart=True):
        return
    failover = machine.setup.descriptor.windows.failover
    if failover is not None:
        machine.raw.run_for(float(failover))
        read_back(machine, surface, CLIENT, request)
