"""The example adapter keeps the contract, runs the properties the guide says it runs,
and passes them; the guide's adapter code runs as printed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.store import check_store
from replicheck.models.items.requests import Get, Put
from replicheck.properties.examples import collecting
from replicheck.properties.plugging_in import ExampleStore, make_store
from replicheck.properties.suite import PROPERTIES, property_named

TARGET = "replicheck.properties.plugging_in:make_store"
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugging-in.md"


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    stateful_step_count=20, print_blob=False,
                    suppress_health_check=list(HealthCheck))


def test_the_example_keeps_the_contract() -> None:
    assert check_store(make_store()) == []


def test_the_example_runs_conformance_and_threads_but_not_scheduling() -> None:
    descriptor = make_store().descriptor
    reasons = {p.name: p.skip_reason(descriptor) for p in PROPERTIES}
    assert reasons["sequential-model-conformance"] is None
    assert reasons["concurrent-histories-on-threads"] is None
    assert reasons["concurrent-histories-under-faults"] == (
        "not applicable: example lacks the capability deterministic-scheduling")


@pytest.mark.parametrize("name", ["sequential-model-conformance",
                                  "concurrent-histories-on-threads"])
def test_the_example_passes(name: str) -> None:
    machine: Any = property_named(name).build(make_store, TARGET)
    with collecting() as reports:
        run_state_machine_as_test(machine, settings=_settings(10))
    if name == "concurrent-histories-on-threads":
        assert reports and all(
            r.statuses["linearizable-strong-reads"] == "holds" for r in reports)


@pytest.mark.parametrize("self_cleaning", [False, True])
def test_the_suite_deletes_the_examples_items_before_close(self_cleaning: bool) -> None:
    seen_at_close: list[Any] = []

    class Watched(ExampleStore):
        cleans_up = self_cleaning

        def close(self) -> None:
            seen_at_close.append(self.execute(Get("items", {"pk": "k0"})).item)
            super().close()

    machine: Any = property_named("concurrent-histories-on-threads").build(Watched, None)()
    machine.enqueue("c0", Put("items", {"pk": "k0", "v": "v1"}))
    machine.teardown()
    assert seen_at_close[-1] == ({"pk": "k0", "v": "v1"} if self_cleaning else None)


def test_the_guides_adapter_runs_as_printed() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    adapter = next(b for b in blocks if "class ExampleStore" in b)
    namespace: dict[str, Any] = {}
    exec(compile(adapter, str(GUIDE), "exec"), namespace)
    factory = namespace["make_store"]
    assert check_store(factory()) == []
    assert [(c.guarantee, c.operations) for c in factory().descriptor.claims] == [
        (c.guarantee, c.operations) for c in make_store().descriptor.claims]
    run_state_machine_as_test(property_named("concurrent-histories-on-threads").build(
        factory, None), settings=_settings(5))
