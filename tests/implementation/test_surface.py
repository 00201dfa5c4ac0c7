"""The declared driving and observation surface: protocols of plain values, the
reference presets offering them, the windows, pause and resume, and check_store
naming what a schedulable store lacks."""

from __future__ import annotations

import re

import pytest

from replicheck.implementation.presets import PRESETS, preset
from replicheck.implementation.reference.sim import Endpoint, Message, Simulation, Timer
from replicheck.implementation.store import (
    _PROTOCOL_OF,
    DISABLES,
    OPTIONAL_SURFACE,
    SURFACE,
    Capability,
    Deliver,
    Descriptor,
    Fire,
    Handle,
    KeyRange,
    MessageInfo,
    TimerInfo,
    Windows,
    check_store,
    missing_surface,
    protocol_members,
    surface_names,
)
from replicheck.models.items.requests import Put, Request, Response, TableSchema

PROTOCOLS = sorted({p for group in SURFACE.values() for p in group}
                   | set(_PROTOCOL_OF.values()), key=lambda p: p.__name__)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_no_surface_member_is_typed_any_or_names_the_reference_store(protocol: type) -> None:
    for name in protocol_members(protocol):
        member = getattr(protocol, name)
        target = member.fget if isinstance(member, property) else member
        for where, annotation in target.__annotations__.items():
            text = str(annotation)
            assert not re.search(r"\bAny\b", text), f"{protocol.__name__}.{name} {where}: {text}"
            assert "reference" not in text and not re.search(r"\bsim\b", text), (
                f"{protocol.__name__}.{name} {where}: {text}")


def test_every_surface_protocol_says_what_lacking_it_disables() -> None:
    assert {p.__name__ for group in SURFACE.values() for p in group} == set(DISABLES)
    assert "sim" not in surface_names()


@pytest.mark.parametrize("name", PRESETS)
def test_presets_offer_the_surface_and_declare_it(name: str) -> None:
    store = preset(name)
    assert check_store(store) == []
    assert missing_surface(store) == []
    for capability in set(SURFACE) - OPTIONAL_SURFACE:
        assert store.descriptor.has(capability)
    table = store.descriptor.tables[0].name
    ranges = store.key_ranges(table)
    assert ranges and all(isinstance(r, KeyRange) for r in ranges)
    assert {r.name for r in ranges} >= {store.range_of(table, ("k0",))}
    assert set().union(*(r.replicas for r in ranges)) <= set(store.nodes)


def test_presets_name_their_windows() -> None:
    windows = preset("dynamodb").descriptor.windows
    assert windows == Windows(idempotency_token=600.0, stream_retention=86400.0,
                              failover=windows.failover)
    assert windows.failover == pytest.approx(2.4)  # four of the longest election timeouts
    assert preset("dynamo-lww").descriptor.windows.hint_timer == 0.5
    assert preset("dynamo-lww").descriptor.windows.declared() == (0.5,)
    with pytest.raises(ValueError, match="hint_timer"):
        Windows(hint_timer=0.0)


def test_messages_and_timers_are_plain_values_matching_the_decisions() -> None:
    store = preset("dynamodb")
    handle = store.submit("c0", Put("items", {"pk": "k0", "v": "x"}))
    messages = store.messages_in_flight()
    timers = store.pending_timers()
    assert messages and all(isinstance(m, MessageInfo) for m in messages)
    assert timers and all(isinstance(t, TimerInfo) for t in timers)
    assert store.default_decision() == Deliver(messages[0].id)
    decisions = set(store.decisions())
    assert {Deliver(m.id) for m in messages} <= decisions
    assert {Fire(t.id) for t in timers} <= decisions
    start = store.now()
    store.run_for(0.5)
    assert store.now() >= start + 0.5
    assert handle.done


class _Recorder(Endpoint):
    def __init__(self, id: str) -> None:
        super().__init__(id)
        self.seen: list[str] = []

    def on_message(self, message: Message) -> None:
        self.seen.append(message.body)

    def on_timer(self, timer: Timer) -> None:
        self.seen.append(f"timer {timer.name}")


def test_a_paused_endpoint_keeps_its_messages_and_timers_waiting_until_resumed() -> None:
    sim = Simulation()
    sim.attach(_Recorder("a"))
    b = sim.attach(_Recorder("b"))
    m = sim.send("a", "b", "note", "x")
    t = b.set_timer(1.0, "tick")
    sim.pause("b")
    assert Deliver(m.id) not in sim.decisions() and Fire(t.id) not in sim.decisions()
    assert sim.default_decision() is None
    with pytest.raises(ValueError, match="cannot deliver"):
        sim.decide(Deliver(m.id))
    with pytest.raises(ValueError, match="cannot fire"):
        sim.decide(Fire(t.id))
    assert sim.cut_off() == ()  # paused is not partitioned: a heal drops nothing
    sim.resume("b")
    sim.run(lambda: False)
    assert b.seen == ["x", "timer tick"]  # type: ignore[attr-defined]


class _HalfSchedulable:
    """Declares deterministic scheduling and offers only submit/decisions/decide."""

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor("half", frozenset({Capability.DETERMINISTIC_SCHEDULING}),
                          tables=(TableSchema("items", "pk"),))

    def execute(self, request: Request) -> Response:
        raise NotImplementedError

    def submit(self, client: str, request: Request) -> Handle:
        return Handle(client, request)

    def decisions(self) -> tuple[Deliver, ...]:
        return ()

    def decide(self, decision: Deliver) -> None:
        raise ValueError(decision)


def test_check_store_names_each_protocol_a_schedulable_store_lacks_and_what_it_disables() -> None:
    problems = check_store(_HalfSchedulable())
    lacking = sorted(re.search(r"lacks (\w+)", p).group(1) for p in problems)  # type: ignore[union-attr]
    assert lacking == ["FaultInjectable", "MessageControl", "ReplicaSnapshots", "Settling",
                       "TimeControl", "Topology"]
    settling = next(p for p in problems if "lacks Settling" in p)
    assert settling.startswith("half lacks Settling (quiesce, settle), which disables ")
    assert "convergence-after-anti-entropy" in settling
    every = missing_surface(_HalfSchedulable(), refinements=True)
    assert len(every) == len(DISABLES) - 1  # all but Schedulable itself
