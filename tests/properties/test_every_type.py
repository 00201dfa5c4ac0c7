"""The epilogue of every concurrency example: items of every DynamoDB type, written and
read through the store's routing, judged with the rest of the history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.presets import PRESETS, preset
from replicheck.implementation.reference.leader import config as leader_config
from replicheck.implementation.reference.leaderless import versions
from replicheck.implementation.store import Capability
from replicheck.models.items.operations import apply, empty
from replicheck.models.items.requests import Put
from replicheck.models.items.values import item_from_wire
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.every_type import TYPED_KEYS, every_type_epilogue, typed_requests
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.guarantees import VIOLATED, judge_claims


def started(name: str) -> Any:
    machine = concurrency_machine(lambda: preset(name), target=name)()
    machine.start()
    return machine


def test_the_requests_cover_every_type_and_key_type() -> None:
    requests = typed_requests("items", "pk", strong=True)
    assert {type(k) for k in TYPED_KEYS} == {str, bytes, Decimal}
    item = requests[0].item  # type: ignore[union-attr]
    kinds = {type(v).__name__ for v in item.values()}
    assert {"str", "Decimal", "bytes", "bool", "NoneType", "list", "dict", "frozenset"} <= kinds
    assert sum(isinstance(r, Put) for r in requests) == len(TYPED_KEYS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_answers_them_as_the_item_model_does(name: str) -> None:
    machine = started(name)
    assert every_type_epilogue(machine) == len(TYPED_KEYS) * 2 + 1
    operations = machine.rec.history().operations
    assert all(op.status == "ok" for op in operations)
    strong = machine.setup.descriptor.has(Capability.STRONG_READS)
    database = empty(*machine.setup.descriptor.tables)
    compared = 0
    for request, op in zip(typed_requests("items", "pk", strong), operations, strict=True):
        database, expected = apply(database, request)
        if op.f == "get-eventual":
            continue  # may be stale: judged by the claims below, not compared
        got = op.output["item"]
        assert (None if got is None else item_from_wire(got)) == expected.item, op.f
        compared += 1
    assert compared == (len(operations) if strong else len(TYPED_KEYS) + 1)
    judged = judge_claims(machine.rec.history(), machine.setup.descriptor)
    assert not [j for j in judged if j.status == VIOLATED], [j.explanation() for j in judged]


def _list_encoded_as_map(monkeypatch: pytest.MonkeyPatch) -> None:
    canonical = versions._canonical

    def wrong(frozen_value: Any) -> Any:
        if frozen_value[0] < "M" and frozen_value[0] not in ("BS",):
            return (frozen_value[0], tuple((k, canonical(v)) for k, v in frozen_value[1]))
        return canonical(frozen_value)

    monkeypatch.setattr(versions, "_canonical", wrong)


def test_a_leaderless_store_mishandling_a_type_fails_the_property(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _list_encoded_as_map(monkeypatch)
    machine = concurrency_machine(lambda: preset("dynamo-lww"), target="dynamo-lww")
    with pytest.raises(Exception) as raised:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=10, derandomize=True, database=None, deadline=None,
            stateful_step_count=5, print_blob=False, phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck)))
    assert not isinstance(raised.value, GuaranteeViolation)  # the store raised: a contract error


def test_a_leader_store_placing_binary_keys_wrongly_fails_the_property(
        monkeypatch: pytest.MonkeyPatch) -> None:
    part = leader_config._key_part

    def wrong(value: Any) -> bytes:
        if isinstance(value, bytes):
            return b"B" / value.hex()  # type: ignore[operator]
        return part(value)

    monkeypatch.setattr(leader_config, "_key_part", wrong)
    machine = concurrency_machine(lambda: preset("dynamodb"), target="dynamodb")
    with pytest.raises(TypeError):
        run_state_machine_as_test(machine, settings=settings(
            max_examples=10, derandomize=True, database=None, deadline=None,
            stateful_step_count=5, print_blob=False, phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck)))
