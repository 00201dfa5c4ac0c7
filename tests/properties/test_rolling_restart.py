"""The rolling-restart probe (properties/rolling_restart.py): every preset comes to
rest after a long log and every node restarted in turn; a global-tables region whose
shipping never resumes after a leader change once the other region applied more than
one batch (the mutation survivor leader/geo.py:103) does not, and the concurrency
property reports it as a broken settling contract."""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from replicheck.implementation.presets import preset
from replicheck.implementation.reference.leader import geo
from replicheck.models.items.requests import Put
from replicheck.properties.concurrency import EPILOGUE_EVERY, concurrency_machine
from replicheck.properties.recording import DidNotSettle
from replicheck.properties.rolling_restart import LONG_LOG, can_roll, rolling_restart_probe


@pytest.mark.parametrize("name", ["dynamodb", "global-tables", "dynamo-lww", "dynamo-quorum"])
def test_every_preset_comes_to_rest_after_a_rolling_restart(name: str) -> None:
    store = preset(name)
    assert can_roll(store)
    assert rolling_restart_probe(store, "items", "pk") is None
    assert store.replica_versions(store.nodes[0], "items") == {}  # the store is untouched


@pytest.fixture
def shipping_stuck_after_failover() -> Iterator[None]:
    """GeoShipper.on_ship acks an already appended shipment only when it reaches past
    what was applied: after a leader change the new source leader ships from index 1
    again, the first batch is never acknowledged and shipping stops there."""
    original = geo.GeoShipper.on_ship
    source = textwrap.dedent(inspect.getsource(original))
    assert "if m.to_index <= done:" in source
    namespace = dict(vars(geo))
    exec(source.replace("if m.to_index <= done:", "if m.to_index >= done:", 1), namespace)
    geo.GeoShipper.on_ship = namespace["on_ship"]  # type: ignore[method-assign]
    try:
        yield
    finally:
        geo.GeoShipper.on_ship = original  # type: ignore[method-assign]


def test_shipping_that_stops_after_a_leader_change_does_not_come_to_rest(
        shipping_stuck_after_failover: None) -> None:
    problem = rolling_restart_probe(preset("global-tables"), "items", "pk")
    assert problem is not None and f"after {LONG_LOG} puts" in problem
    assert "settle() answered False" in problem


def test_the_concurrency_property_reports_it_as_a_broken_contract(
        shipping_stuck_after_failover: None) -> None:
    m: Any = concurrency_machine(lambda: preset("global-tables"), target="global-tables")()
    for i in range(EPILOGUE_EVERY):  # the epilogues run when the count is a multiple
        m.run_request("c0", Put("items", {"pk": f"k{i}", "v": f"x{i}"}))
    with pytest.raises(DidNotSettle, match="rolling restart"):
        m.teardown()
