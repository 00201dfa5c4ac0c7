"""replicheck's shipped properties: ``pytest --pyargs replicheck.properties --store T``.

One test per property of :data:`replicheck.properties.suite.PROPERTIES` (the list
``replicheck verify`` runs too), named ``test_<property>`` with dashes as
underscores, marked with the guarantees it checks (CONTRACTS.md section 7), and run
by the same engine (:func:`replicheck.properties.engine.run_property`). The store comes
from the plugin's ``store_factory`` fixture (``--store``), called once per Hypothesis
example; the examples follow the chosen replicheck profile (capped by
``REPLICHECK_MAX_EXAMPLES``). A property that does not apply to the store is skipped
with the reason; anomalies the store does not claim to prevent are listed in the
"replicheck observations" summary (and recorded as ``observation:<guarantee>`` test
properties), never failed. A failing property fails its test with the violation's
message, which ends with the ``replicheck replay`` command of its schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings

from replicheck.implementation.store import check_store
from replicheck.properties.suite import PROPERTIES, Property


def test_store_keeps_the_contract(store: Any) -> None:
    """The store implements the protocol of every capability it declares and claims
    nothing it lacks the capability for."""
    assert check_store(store) == []


def _run(prop: Property, factory: Callable[[], Any], target: str, chosen: settings,
         record_property: Callable[[str, object], None], call_timeout: float = 30.0
         ) -> None:
    """Run ``prop`` through the engine: skip when it does not apply, record its
    observations, re-raise what failed it."""
    from replicheck.properties.engine import describe_store, run_property

    descriptor = describe_store(factory)
    reason = prop.skip_reason(descriptor)
    if reason is not None:
        pytest.skip(reason)
    result = run_property(prop, factory, target, chosen, descriptor=descriptor,
                          call_timeout=call_timeout)
    if result.run.status == "skipped":  # the machine cannot drive this store
        pytest.skip(result.run.reason)
    from replicheck.properties.machines import OBSERVATIONS, Observation

    for guarantee, example in result.observations.items():
        record_property(f"observation:{guarantee}", example.explanation)
        noted = Observation(descriptor.name, guarantee, example.explanation)
        if noted not in OBSERVATIONS:  # the plugin's summary lists them
            OBSERVATIONS.append(noted)
    if result.exception is not None:
        raise result.exception


def _test_of(prop: Property) -> Callable[..., None]:
    def test(store_factory: Callable[[], Any], replicheck_settings: settings,
             pytestconfig: pytest.Config,
             record_property: Callable[[str, object], None]) -> None:
        from replicheck.properties.plugin import call_timeout, store_target

        _run(prop, store_factory, store_target(pytestconfig), replicheck_settings,
             record_property, call_timeout(pytestconfig))

    name = "test_" + prop.name.replace("-", "_")
    test.__name__ = test.__qualname__ = name
    test.__doc__ = prop.title + "."
    marked: Callable[..., None] = test
    for guarantee in reversed(prop.guarantees):
        marked = getattr(pytest.mark, guarantee.replace("-", "_"))(marked)
    return marked


for _prop in PROPERTIES:
    globals()["test_" + _prop.name.replace("-", "_")] = _test_of(_prop)
del _prop
