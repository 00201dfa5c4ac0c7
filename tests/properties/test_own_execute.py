"""The conformance property calls the store's own ``execute`` (the Store contract's
synchronous entry point) even where a schedule recorder drives the store, and a
store whose own ``execute`` breaks the contract or answers otherwise than its
submit-and-run does is caught."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.presets import PRESETS, preset
from replicheck.models.items.errors import ConditionalCheckFailed
from replicheck.models.items.requests import Request, Response
from replicheck.properties.conformance import conformance_machine
from replicheck.properties.recording import ContractBreach


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    stateful_step_count=20, print_blob=False,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def _mutant(execute: Any) -> Any:
    """A factory of ``dynamodb`` stores whose own ``execute`` is ``execute`` (a
    test-local subclass: the reference store itself is unchanged)."""
    def factory() -> Any:
        store = preset("dynamodb")
        store.__class__ = type("Mutant", (type(store),), {"execute": execute})
        return store
    return factory


def _inverted_ok(self: Any, request: Request) -> Response:
    """reference/base.py's execute with ``not`` added to its ``ok`` test (the cosmic-ray
    survivor AddNot at base.py:177): every ok answer fails an assertion."""
    handle = self.submit("client-0", request)
    self.run_until_done(handle)
    if not handle.status == "ok":  # noqa: SIM201 (the mutant as cosmic-ray made it)
        assert handle.response is not None
        return handle.response  # type: ignore[no-any-return]
    assert handle.error is not None
    raise handle.error


def _swallows_condition(self: Any, request: Request) -> Response:
    """An execute that answers a false condition as a success."""
    try:
        return type(self).__mro__[1].execute(self, request)  # type: ignore[no-any-return]
    except ConditionalCheckFailed:
        return Response()


@pytest.mark.parametrize("name", PRESETS)
def test_conformance_calls_the_store_own_execute_under_a_schedule(name: str) -> None:
    run_state_machine_as_test(conformance_machine(lambda: preset(name), target=name),
                              settings=_settings(10))


def test_own_execute_crash_is_a_contract_breach() -> None:
    with pytest.raises(ContractBreach, match="AssertionError"):
        run_state_machine_as_test(conformance_machine(_mutant(_inverted_ok),
                                                      target="dynamodb"),
                                  settings=_settings(10))


def test_own_execute_answering_otherwise_is_a_contract_breach() -> None:
    with pytest.raises(ContractBreach, match="does not answer as its submit-and-run"):
        run_state_machine_as_test(conformance_machine(_mutant(_swallows_condition),
                                                      target="dynamodb"),
                                  settings=_settings(30))
