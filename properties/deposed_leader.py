"""The deposed-leader read: a strong read sent to a leader that was replaced while
it was frozen.

A leader may answer a strong read only after it has made sure it still leads: a
majority acknowledged it in a round started after the read arrived (the read-index
protocol), or a lease it holds has not run out. A leader that skips the check (counts
its own acknowledgement, takes any reply as fresh, trusts a lease past its end)
answers from a state the cluster has moved past, while everything else looks
healthy. Jepsen's classic stale-read schedule shows it: the leader pauses (a long
garbage collection, a stopped process), the others elect a new leader and commit a
write, the old leader wakes up and answers a read before it learns it was deposed.
Random schedules rarely line that up: the old leader must get the read, and a reply
from a follower it sent before it froze, before any message of the new term.

:func:`deposed_leader_read` runs that schedule on the store under test once per
example of the concurrency property, after its teardown completed every operation
and before the history is judged; every step goes through the machine's recording
(each a step of the replayable schedule), and the put and the read are ordinary
operations of the history, judged by ``linearizable-strong-reads`` like every other:

1. a put of the key through the store's routing (so the leader holds a committed
   value of its own), then fair decisions until a message from another replica of
   the key's partition to its leader is in flight (a reply the leader will take as
   recent);
2. the leader pauses; fair decisions until another replica leads the partition;
3. a put of a new value straight to the new leader, run to its answer;
4. a strong read sent straight to the old leader (it waits in flight), then the old
   leader resumes and gets, before anything else, the read, then every message sent
   to it before it paused, oldest first;
5. fair decisions until the read is answered.

A correct leader does not confirm its leadership with those old replies, so it never
answers the read with the first value: it steps down when a message of the new term
arrives (the read is redirected, or fails). Every loop is bounded
(:data:`MAX_DECISIONS`, :data:`ELECTION_SECONDS`); when a step cannot happen (no
leader, no idle client, no new leader elected in time) the schedule stops there and
the history is judged as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from replicheck.implementation.store import Deliver
from replicheck.models.items.requests import Get, Put
from replicheck.properties.schedule import fair_decision
from replicheck.properties.search.driver import Surface

__all__ = ["ELECTION_SECONDS", "KEY", "MAX_DECISIONS", "VALUES", "can_depose",
           "deposed_leader_read"]

KEY: Final = "k0"
"""The key whose partition's leader is deposed (the first of the suite's key pool)."""

VALUES: Final = ("deposed-1", "deposed-2")
"""The values the two puts write: no value the workload draws (``v1``, ``v2``, ...)
looks like them, so a read identifies its write."""

MAX_DECISIONS: Final = 5_000
"""The most decisions any one step of the schedule takes."""

ELECTION_SECONDS: Final = 10.0
"""The most simulated seconds any one step waits (an election, a request)."""

WRITER: Final = "c0"
"""The first client tried for the puts (any idle one will do)."""

READER: Final = "c1"
"""The first client tried for the read (any idle one will do: the writer's session
would judge the read as read-your-writes first)."""


def can_depose(surface: Surface, claims_strong_reads: bool) -> bool:
    """Whether the schedule can run on a store with ``surface``: leaders, pause,
    direct routing, message control and a clock, at least three nodes, and strong
    reads it claims linearizable (``claims_strong_reads``)."""
    return (claims_strong_reads and surface.strong and surface.leaders and surface.faults
            and surface.direct and surface.messages and surface.timed
            and len(surface.nodes) >= 3)


def deposed_leader_read(driver: Any, key: str = KEY) -> bool:
    """Run the schedule of the module docstring on ``driver`` (a scheduled machine:
    ``raw``, ``rec``, ``surface``, ``idle``, ``handles``, ``paused``) for ``key``;
    whether it got as far as the read's answer. Leaves no node paused."""
    surface: Surface = driver.surface
    table, pk = surface.table, surface.pk
    raw, rec = driver.raw, driver.rec
    partition = raw.partition_of(table, {pk: key})

    def run(done: Callable[[], bool]) -> bool:
        """Fair decisions until ``done()``; False when the bounds ran out first."""
        end = raw.now() + ELECTION_SECONDS
        for _ in range(MAX_DECISIONS):
            if done():
                return True
            decision = fair_decision(rec)
            if decision is None or raw.now() >= end:
                return False
            rec.decide(decision)
        return done()

    def submit(request: Any, node: str | None, wanted: str = WRITER) -> Any:
        client = driver.idle(wanted)
        if client is None:
            return None
        handle = rec.submit(client, request) if node is None else \
            rec.submit_at(client, request, node)
        driver.handles[client] = handle
        return handle

    if not run(lambda: raw.leader_of(partition) is not None):
        return False
    first = submit(Put(table, {pk: key, "v": VALUES[0]}), None)
    if first is None or not run(lambda: first.done):
        return False
    old = raw.leader_of(partition)
    if old is None:
        return False
    peers = set(raw.partition_replicas(partition)) - {old}
    if not run(lambda: any(m.src in peers and m.dst == old
                           for m in raw.messages_in_flight())):
        return False
    raw.pause(old)
    driver.paused.add(old)
    try:
        held = sorted(m.id for m in raw.messages_in_flight() if m.dst == old)
        if not run(lambda: raw.leader_of(partition) not in (old, None)):
            return False
        new = raw.leader_of(partition)
        second = submit(Put(table, {pk: key, "v": VALUES[1]}), new)
        if second is None or not run(lambda: second.done):
            return False
        before = {m.id for m in raw.messages_in_flight()}
        read = submit(Get(table, {pk: key}, consistent=True), old, READER)
        if read is None:
            return False
        sent = sorted(m.id for m in raw.messages_in_flight()
                      if m.id not in before and m.dst == old)
    finally:
        raw.resume(old)
        driver.paused.discard(old)
    for message in (*sent, *held):
        if any(m.id == message for m in raw.messages_in_flight()):
            rec.decide(Deliver(message))
    return run(lambda: read.done)
