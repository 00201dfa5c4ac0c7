"""Message faults aimed at one message (properties/search/messages.py): each rule
really holds, duplicates or delays the message it chose, its steps replay, and the
concurrency machine with these rules catches a coordinator that applies a
duplicated request twice, which the machine without them misses."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.presets import preset
from replicheck.implementation.reference.base import ClientEndpoint
from replicheck.implementation.reference.leader.node import NodeEndpoint
from replicheck.implementation.reference.leader.partition import PartitionReplica
from replicheck.implementation.store import Deliver, Drop, Duplicate, MessageInfo, Store
from replicheck.models.items.errors import Throttled
from replicheck.models.items.requests import Get, Put, Update
from replicheck.properties import concurrency
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.replay import replay
from replicheck.properties.schedule import load
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.search.messages import (
    CLASSES,
    DUPLICATE_REQUEST,
    HOLD_MESSAGE,
    LATE_REPLY,
    choose_message,
    fair_except,
    message_rules,
    touched_key,
)
from replicheck.properties.verdicts import failures_to

T = "items"


def increment(key: str) -> Update:
    return Update(T, {"pk": key}, "SET n = if_not_exists(n, :zero) + :one",
                  values={":zero": Decimal(0), ":one": Decimal(1)})


# -- a coordinator that does not deduplicate a request delivered twice --------------------


class _ForgetfulReplica(PartitionReplica):
    """A partition leader that forgets it already took a request: a copy of the
    request delivered again is applied again (a retransmitted write applied twice)."""

    def _single_write(self, op: Any) -> None:
        assert self.spec is not None
        self.spec.answered.discard((op.client, op.rid))  # THE BUG
        super()._single_write(op)


class _ForgetfulNode(NodeEndpoint):
    def recover(self) -> None:
        super().recover()
        for replica in self.replicas.values():
            replica.__class__ = _ForgetfulReplica


def forgetful() -> Any:
    """``dynamodb`` whose partition leaders apply a duplicated request twice."""
    store = preset("dynamodb")
    for node in store.cluster.nodes.values():
        node.__class__ = _ForgetfulNode
        for replica in node.replicas.values():
            replica.__class__ = _ForgetfulReplica
    return store


class _HastyClient(ClientEndpoint):
    """A client library that reports a timeout as a refusal (a definite error),
    though the request may have been applied: a write taken after its client gave
    up is recorded as one that failed."""

    def on_timer(self, timer: Any) -> None:
        entry = self.pending.pop(timer.payload, None)
        if entry is not None:
            handle, _ = entry
            handle.status, handle.error = "error", Throttled("no reply in time")  # THE BUG


def hasty() -> Any:
    """``dynamodb`` whose clients take a timeout for a refusal."""
    store = preset("dynamodb")
    make = store.client

    def client(name: str) -> Any:
        endpoint = make(name)
        endpoint.__class__ = _HastyClient
        return endpoint

    store.client = client
    return store


def dynamodb() -> Any:
    return preset("dynamodb")


def machine(factory: Callable[[], Store], target: str) -> Any:
    """A concurrency machine for ``factory`` with the message rules, built by hand."""
    base = concurrency_machine(factory, target=target)
    return type("T", (message_rules(probe_surface(factory())), base), {})()


class Taken:
    """One decision a machine took: the message it acted on (None for a timer),
    each client's status after it, and the simulated time after it."""

    def __init__(self, decision: Any, message: MessageInfo | None,
                 statuses: dict[str, str], now: float) -> None:
        self.decision, self.message, self.statuses = decision, message, statuses
        self.now = now


def spy(m: Any) -> list[Taken]:
    """Every decision ``m`` takes from now on (:class:`Taken`)."""
    taken: list[Taken] = []
    decide = m.rec.decide

    def recorded(decision: Any) -> None:
        wanted = getattr(decision, "message", None)
        message = next((x for x in m.raw.messages_in_flight() if x.id == wanted), None)
        decide(decision)
        taken.append(Taken(decision, message, {c: h.status for c, h in m.handles.items()},
                           m.raw.now()))

    m.rec.decide = recorded
    return taken


def delivered(taken: list[Taken]) -> list[MessageInfo]:
    return [t.message for t in taken
            if isinstance(t.decision, Deliver) and t.message is not None]


def reads(m: Any) -> list[Any]:
    return [op.output["item"] for op in m.rec.history().operations
            if op.f.startswith("get")]


# -- choosing the message ----------------------------------------------------------------


def test_a_protocol_message_is_chosen_by_kind_then_index() -> None:
    msgs = [MessageInfo(1, "c0", "router", "request", 0.0),
            MessageInfo(2, "n2", "n4", "append", 0.0),
            MessageInfo(3, "n2", "n3", "append", 0.0),
            MessageInfo(4, "n3", "n2", "append-reply", 0.0)]
    nodes = {"n1", "n2", "n3", "n4", "n5"}
    pick = choose_message
    assert pick(msgs, nodes, protocol=True, kind_index=0, index=0) == msgs[2]
    assert pick(msgs, nodes, protocol=True, kind_index=0, index=1) == msgs[1]
    assert pick(msgs, nodes, protocol=True, kind_index=1, index=7) == msgs[3]
    assert pick(msgs, nodes, protocol=True, kind_index=2, index=0) == msgs[2]
    assert pick(msgs, nodes, protocol=False, kind_index=2, index=0) == msgs[0]
    assert pick(msgs[:1], nodes, protocol=True, kind_index=5, index=5) == msgs[0]
    assert pick([], nodes, protocol=True, kind_index=0, index=0) is None


def test_the_item_a_request_touched() -> None:
    assert touched_key(increment("k1"), "pk") == "k1"
    assert touched_key(Put(T, {"pk": "k2", "v": "x"}), "pk") == "k2"
    assert touched_key(Get(T, {"pk": "k0"}), "pk") == "k0"


def test_every_class_is_named_once() -> None:
    assert CLASSES == (HOLD_MESSAGE, DUPLICATE_REQUEST, LATE_REPLY)


# -- each fault really happens -------------------------------------------------------------


def test_fair_except_delivers_everything_but_the_held_message() -> None:
    m = machine(dynamodb, "dynamodb")
    m.handles["c0"] = m.rec.submit("c0", increment("k0"))
    m.fair(2)  # the request reached its leader: its appends are in flight
    held = next(x for x in m.raw.messages_in_flight() if x.kind == "append")
    taken = spy(m)
    assert fair_except(m, {held.id}, 80) == 80
    assert held.id in {x.id for x in m.raw.messages_in_flight()}
    ids = [x.id for x in delivered(taken)]
    assert held.id not in ids
    assert sum(1 for i in ids if i > held.id) >= 20  # newer ones overtook it
    assert m.handles["c0"].status == "ok"
    m.teardown()


@pytest.mark.parametrize("ending", ["deliver", "duplicate", "drop"])
def test_hold_message_holds_one_message_then_ends_it(ending: str) -> None:
    m = machine(dynamodb, "dynamodb")
    taken = spy(m)
    m.hold_message("c0", increment("k0"), 2, 1, 0, 0, 60, ending, 10)
    assert m.marked == {HOLD_MESSAGE}
    decisions = [t.decision for t in taken]
    if ending == "duplicate":
        (at,) = [i for i, d in enumerate(decisions) if isinstance(d, Duplicate)]
        held = taken[at].message
        assert held is not None and decisions[at + 1] == Deliver(held.id)
        copy = taken[-1]
        assert isinstance(copy.decision, Deliver) and copy.decision.message > held.id
        assert copy.message is not None and copy.message.kind == held.kind
        assert len(delivered(taken[at + 2:-1])) >= 3  # the copy came later still
    else:
        at = len(taken) - 1
        held = taken[at].message
        assert held is not None
        ended = Drop if ending == "drop" else Deliver
        assert decisions[-1] == ended(held.id)
        assert decisions.count(Deliver(held.id)) == (ending == "deliver")
    assert held.src in m.surface.nodes and held.dst in m.surface.nodes  # a protocol one
    overtaken = [x for x in delivered(taken[:at]) if x.id > held.id]
    assert len(overtaken) >= 10  # it was delivered after 10 messages sent later
    m.teardown()  # the reference store keeps every claim


def test_a_duplicated_request_reaches_its_coordinator_twice_and_once_late() -> None:
    m = machine(dynamodb, "dynamodb")
    taken = spy(m)
    m.duplicate_request("c0", increment("k0"), True, 5)
    assert m.marked == {DUPLICATE_REQUEST}
    (duplicated,) = [t.message for t in taken if isinstance(t.decision, Duplicate)]
    assert duplicated is not None and duplicated.src == "c0"
    arrivals = [i for i, t in enumerate(taken) if isinstance(t.decision, Deliver)
                and t.message is not None and t.message.src == "c0"]
    assert len(arrivals) == 3  # the request twice, then the read of its item
    first, second, _ = arrivals
    assert taken[first].statuses["c0"] == "pending"
    assert taken[second - 1].statuses["c0"] == "ok"  # the copy came after the answer
    assert reads(m) == [{"n": {"N": "1"}, "pk": {"S": "k0"}}]  # applied once
    m.teardown()


def test_a_coordinator_that_does_not_deduplicate_applies_the_copy_again() -> None:
    for late in (False, True):
        m = machine(forgetful, f"{__name__}:forgetful")
        m.duplicate_request("c0", increment("k0"), late, 0)
        assert reads(m) == [{"n": {"N": "2"}, "pk": {"S": "k0"}}]  # one increment, twice
        stream = [r for r in m.raw.stream_records(T) if r.key == ("k0",)]
        assert len(stream) == 2  # two records for one request
        m.raw.close()
    m = machine(dynamodb, "dynamodb")
    m.duplicate_request("c0", increment("k0"), False, 0)
    assert [r.key for r in m.raw.stream_records(T)] == [("k0",)]
    m.teardown()


def test_a_late_reply_arrives_after_the_client_timed_out() -> None:
    m = machine(dynamodb, "dynamodb")
    taken = spy(m)
    m.late_reply("c1", increment("k1"), 3)
    assert m.marked == {LATE_REPLY}
    ops = m.rec.history().operations
    assert [(op.f, op.status) for op in ops] == [("update", "info"), ("get-strong", "ok")]
    timed_out = next(i for i, t in enumerate(taken) if t.statuses["c1"] == "indeterminate")
    late, _read = [x for x in delivered(taken) if x.dst == "c1"]
    assert late in delivered(taken[timed_out + 1:])  # once the client had given up
    assert late.sent_at < taken[timed_out].now  # sent before the client timed out
    assert reads(m) == [{"n": {"N": "1"}, "pk": {"S": "k1"}}]  # the write was applied
    m.teardown()


def test_a_late_reply_shows_a_client_that_takes_a_timeout_for_a_refusal(tmp_path: Path
                                                                        ) -> None:
    m = machine(hasty, f"{__name__}:hasty")
    m.late_reply("c1", increment("k1"), 3)
    ops = m.rec.history().operations
    assert [(op.f, op.status) for op in ops] == [("update", "fail"), ("get-strong", "ok")]
    assert reads(m) == [{"n": {"N": "1"}, "pk": {"S": "k1"}}]  # the "failed" write
    with failures_to(tmp_path), pytest.raises(GuaranteeViolation,
                                              match="linearizable-strong-reads"):
        m.teardown()
    (written,) = tmp_path.iterdir()  # the failing schedule, which replays
    assert replay(load(written)).exit_status == 1


def test_a_leaderless_store_takes_the_faults_too() -> None:
    m = machine(lambda: preset("dynamo-lww"), "dynamo-lww")
    m.hold_message("c0", increment("k0"), 2, 1, 0, 0, 40, "duplicate", 5)
    m.late_reply("c1", increment("k1"), 0)
    assert m.marked == {HOLD_MESSAGE, LATE_REPLY}
    m.teardown()


# -- replay ------------------------------------------------------------------------------------


def _ops(history: Any) -> list[tuple[Any, ...]]:
    return [(op.f, op.status, op.input, op.output) for op in history.operations]


@pytest.mark.parametrize("target", ["dynamodb", "dynamo-quorum", f"{__name__}:forgetful"])
def test_a_schedule_with_these_faults_replays_the_same_history(target: str) -> None:
    factory = forgetful if target.endswith(":forgetful") else (lambda: preset(target))
    m = machine(factory, target)
    m.hold_message("c0", increment("k0"), 2, 1, 0, 0, 60, "duplicate", 10)
    m.duplicate_request("c1", increment("k1"), True, 5)
    m.late_reply("c2", increment("k2"), 3)
    kinds = [next(iter(s["decide"])) for s in m.raw.steps if "decide" in s]
    assert "duplicate" in kinds and "fire" in kinds
    result = replay(m.raw.schedule())
    assert _ops(result.history) == _ops(m.rec.history())
    m.raw.close()


# -- a small search ----------------------------------------------------------------------------


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    stateful_step_count=20, print_blob=False,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def test_the_search_catches_a_duplicate_apply_only_with_these_rules(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the epilogues off (the redelivery epilogue catches it on its own key,
    tests/properties/test_redelivery.py), the machine misses it; with the rules, a
    workload's request shows it."""
    monkeypatch.setattr(concurrency, "EPILOGUE_EVERY", 10 ** 9)
    base = concurrency_machine(forgetful)
    run_state_machine_as_test(base, settings=_settings(15))  # missed without them
    with_rules = type("T", (message_rules(probe_surface(forgetful())), base), {})
    with pytest.raises(AssertionError, match=r"linearizable[\s\S]*On key k\d"):
        run_state_machine_as_test(with_rules, settings=_settings(15))


@pytest.mark.parametrize("name", ["dynamodb", "dynamo-quorum"])
def test_the_reference_keeps_its_claims_under_these_rules(name: str) -> None:
    def factory() -> Any:
        return preset(name)

    acted: list[set[str]] = []
    run_state_machine_as_test(_noting(factory, acted), settings=_settings(10))
    assert set().union(*acted) == set(CLASSES)  # each class acted in some example


def _noting(factory: Callable[[], Store], acted: list[set[str]],
            enabled: Callable[[str], bool] = lambda name: True) -> Any:
    """The concurrency machine of ``factory`` with the message rules, enabling the
    classes ``enabled`` says, noting in ``acted`` the classes each example marked."""
    base = concurrency_machine(factory)
    mixin = message_rules(probe_surface(factory()))

    class Noting(mixin, base):  # type: ignore[misc, valid-type]
        def swarm_on(self, name: str) -> bool:
            return enabled(name)

        def teardown(self) -> None:
            acted.append(set(self.marked))
            super().teardown()

    return Noting


def test_a_class_swarm_testing_leaves_out_never_acts() -> None:
    acted: list[set[str]] = []
    machine = _noting(dynamodb, acted, lambda name: name not in CLASSES)
    run_state_machine_as_test(machine, settings=_settings(5))
    assert len(acted) >= 5 and not set().union(*acted) & set(CLASSES)
