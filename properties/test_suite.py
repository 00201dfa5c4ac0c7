"""replicheck's shipped properties: ``pytest --pyargs replicheck.properties --store T``.

One test per machine, marked with the guarantees it checks (CONTRACTS.md section 7).
The store comes from the plugin's ``store_factory`` fixture (``--store``), called once
per Hypothesis example; the examples follow the chosen replicheck profile (capped by
``REPLICHECK_MAX_EXAMPLES``). A store lacking a capability a test needs is skipped
with the reason; anomalies it does not claim to prevent are listed in the
"replicheck observations" summary, never failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.store import check_store
from replicheck.properties.machines import (
    OBSERVATIONS,
    compared_kinds,
    concurrency_machine,
    conformance_machine,
)
from replicheck.properties.plugin import require

STEPS = 30
"""The most rules one example runs."""


def _descriptor(factory: Callable[[], Any]) -> Any:
    from replicheck.properties.machines import close_store

    made = factory()
    try:
        return made.descriptor
    finally:
        close_store(made)


def _record_observations(record_property: Callable[[str, object], None], before: int
                         ) -> None:
    for observation in OBSERVATIONS[before:]:
        record_property(f"observation:{observation.guarantee}", observation.explanation)


def test_store_keeps_the_contract(store: Any) -> None:
    """The store implements the protocol of every capability it declares and claims
    nothing it lacks the capability for."""
    assert check_store(store) == []


@pytest.mark.linearizable_strong_reads
@pytest.mark.linearizable_conditional_writes
@pytest.mark.serializable_transactions
@pytest.mark.atomic_transactions
def test_sequential_model_conformance(store_factory: Callable[[], Any],
                                      replicheck_settings: settings) -> None:
    """One client: every answer to a claimed operation kind equals the item model's."""
    descriptor = _descriptor(store_factory)
    if not compared_kinds(descriptor):
        pytest.skip(f"not applicable: {descriptor.name} claims no linearizable operations")
    run_state_machine_as_test(conformance_machine(store_factory),
                              settings=settings(replicheck_settings,
                                                stateful_step_count=STEPS))


@pytest.mark.linearizable_strong_reads
@pytest.mark.linearizable_conditional_writes
@pytest.mark.serializable_transactions
@pytest.mark.atomic_transactions
@pytest.mark.read_your_writes
@pytest.mark.monotonic_reads
@pytest.mark.convergence
@pytest.mark.stream_exactly_once
@pytest.mark.stream_item_order
def test_concurrent_histories_under_faults(store_factory: Callable[[], Any],
                                           replicheck_settings: settings,
                                           record_property: Callable[[str, object], None]
                                           ) -> None:
    """Three clients, every scheduling decision and fault chosen by Hypothesis: every
    claimed guarantee holds on the recorded history."""
    descriptor = _descriptor(store_factory)
    require(descriptor, "deterministic-scheduling")
    before = len(OBSERVATIONS)
    try:
        run_state_machine_as_test(concurrency_machine(store_factory, max_steps=STEPS),
                                  settings=settings(replicheck_settings,
                                                    stateful_step_count=STEPS))
    finally:
        _record_observations(record_property, before)
