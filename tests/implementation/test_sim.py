"""The simulation core: explicit decisions, faults, timeouts, determinism."""

from __future__ import annotations

import pytest

from replicheck.implementation.memory import DEFAULT_TABLE
from replicheck.implementation.reference.base import Reply, SimulatedStore
from replicheck.implementation.reference.sim import (
    Deliver,
    Drop,
    Duplicate,
    Endpoint,
    Fire,
    Message,
    Simulation,
)
from replicheck.implementation.store import Capability, Descriptor
from replicheck.models.items.errors import Indeterminate, ValidationError
from replicheck.models.items.operations import apply, empty
from replicheck.models.items.requests import Get, Put, Request, Response


class Recorder(Endpoint):
    def __init__(self, id: str) -> None:
        super().__init__(id)
        self.seen: list[str] = []

    def on_message(self, message: Message) -> None:
        self.seen.append(message.body)

    def recover(self) -> None:
        self.seen = list(self.durable)


def test_nothing_happens_without_a_decision() -> None:
    sim = Simulation()
    a, b = sim.attach(Recorder("a")), sim.attach(Recorder("b"))
    m = a.send("b", "note", "hello")
    assert b.seen == []  # type: ignore[attr-defined]
    assert sim.decisions() == (Deliver(m.id), Drop(m.id), Duplicate(m.id))
    sim.decide(Duplicate(m.id))
    for d in [d for d in sim.decisions() if isinstance(d, Deliver)]:
        sim.decide(d)
    assert b.seen == ["hello", "hello"]  # type: ignore[attr-defined]


def test_partition_blocks_delivery_until_healed() -> None:
    sim = Simulation()
    sim.attach(Recorder("a"))
    b = sim.attach(Recorder("b"))
    sim.partition([{"a"}, {"b"}])
    m = sim.send("a", "b", "note", "x")
    assert Deliver(m.id) not in sim.decisions()
    with pytest.raises(ValueError, match="cannot deliver"):
        sim.decide(Deliver(m.id))
    sim.heal()
    sim.decide(Deliver(m.id))
    assert b.seen == ["x"]  # type: ignore[attr-defined]


def test_crash_loses_volatile_state_and_restart_replays_the_log() -> None:
    sim = Simulation()
    sim.attach(Recorder("a"))
    b = sim.attach(Recorder("b"))
    b.log("durable")
    b.seen.append("volatile")  # type: ignore[attr-defined]
    sim.crash("b")
    m = sim.send("a", "b", "note", "lost")
    sim.decide(Deliver(m.id))
    sim.restart("b")
    assert b.seen == ["durable"]  # type: ignore[attr-defined]


def test_timers_fire_in_deadline_order_and_move_time() -> None:
    sim = Simulation()
    fired: list[str] = []

    class Alarm(Endpoint):
        def on_timer(self, timer):  # type: ignore[no-untyped-def]
            fired.append(timer.name)

    alarm = sim.attach(Alarm("x"))
    late = alarm.set_timer(5.0, "late")
    alarm.set_timer(1.0, "early")
    sim.skew_clock("x", 100.0)
    assert [d for d in sim.decisions() if isinstance(d, Fire)][-1] == Fire(late.id)
    sim.run(lambda: False)
    assert fired == ["early", "late"]
    assert sim.now == 5.0
    assert alarm.now() == 105.0


class EchoStore(SimulatedStore):
    """A one-node store answering by the item model, to exercise the client path."""

    def __init__(self) -> None:
        super().__init__()
        class Node(Endpoint):
            def __init__(self) -> None:
                super().__init__("n1")
                self.db = empty(DEFAULT_TABLE)

            def on_message(self, message: Message) -> None:
                rid, request = message.body
                self.db, response = apply(self.db, request)
                self.send(message.src, "reply", Reply(rid, response))

        self.sim.attach(Node())
        self.nodes = ("n1",)
        self._descriptor = Descriptor("echo", frozenset({Capability.FAULTS}),
                                      tables=(DEFAULT_TABLE,))

    def coordinator(self, client: str, request: Request) -> str:
        return "n1"


def test_execute_runs_until_the_reply() -> None:
    store = EchoStore()
    store.execute(Put("items", {"pk": "a", "v": 1}))
    assert store.execute(Get("items", {"pk": "a"})).item == {"pk": "a", "v": 1}


def test_a_partitioned_coordinator_gives_indeterminate() -> None:
    store = EchoStore()
    store.client("client-0")
    store.partition([{"n1"}, {"client-0"}])
    with pytest.raises(Indeterminate):
        store.execute(Get("items", {"pk": "a"}))


def test_bad_table_completes_at_once_with_validation_error() -> None:
    store = EchoStore()
    handle = store.submit("c", Get("nope", {"pk": "a"}))
    assert handle.status == "error"
    assert isinstance(handle.error, ValidationError)
    assert store.sim.in_flight == {}


def test_concurrent_submissions_interleave_by_decision() -> None:
    store = EchoStore()
    h1 = store.submit("c1", Put("items", {"pk": "a", "v": 1}))
    h2 = store.submit("c2", Put("items", {"pk": "a", "v": 2}))
    # deliver c2's request first, then c1's: the last writer is c1
    requests = sorted(m.id for m in store.sim.in_flight.values() if m.kind == "request")
    store.decide(Deliver(requests[1]))
    store.decide(Deliver(requests[0]))
    store.sim.quiesce()
    assert h1.status == h2.status == "ok"
    assert store.execute(Get("items", {"pk": "a"})) == Response(item={"pk": "a", "v": 1})


def test_reachability_follows_every_change_of_the_partition() -> None:
    """Reachability is remembered per pair for the current groups only."""
    sim = Simulation()
    assert sim.reachable("a", "b")
    sim.partition([["a"], ["b", "c"]])
    assert not sim.reachable("a", "b") and sim.reachable("b", "c")
    assert sim.reachable("a", "z")  # in no group: not cut off
    sim.partition([["a", "b"], ["c"]])
    assert sim.reachable("a", "b") and not sim.reachable("b", "c")
    sim.groups = (frozenset({"a"}), frozenset({"b"}))  # set directly
    assert not sim.reachable("a", "b")
    sim.heal()
    assert sim.reachable("a", "b") and sim.reachable("b", "c")
