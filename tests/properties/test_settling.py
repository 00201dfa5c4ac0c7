"""The settling capability: after the teardown healed, restarted and resumed
everything, a store whose settle() says it did not come to rest breaks the contract
(never a verdict on what it holds then); one that comes to rest, or does not say,
is judged."""

from __future__ import annotations

from typing import Any

import pytest

from replicheck.implementation.presets import preset
from replicheck.models.items.requests import Put
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.engine import run_property, store_factory
from replicheck.properties.profiles import settings_for
from replicheck.properties.recording import DidNotSettle
from replicheck.properties.suite import property_named


def never_quiet() -> Any:
    """``dynamodb`` whose cluster never counts itself quiet: every settle() runs its
    whole horizon and answers False."""
    store = preset("dynamodb")
    cls = store.cluster.__class__

    class NeverQuiet(cls):  # type: ignore[misc, valid-type]
        def quiet(self) -> bool:
            return False  # THE BUG

    store.cluster.__class__ = NeverQuiet
    return store


def test_a_store_that_never_comes_to_rest_breaks_the_settling_contract() -> None:
    m = concurrency_machine(never_quiet, target=f"{__name__}:never_quiet")()
    m.run_request("c0", Put("items", {"pk": "k0", "v": "x"}))
    with pytest.raises(DidNotSettle, match="did not come to rest"):
        m.teardown()


def test_the_property_run_ends_in_an_error_not_a_verdict() -> None:
    from hypothesis import settings

    chosen = settings(settings_for("ci"), max_examples=10)
    result = run_property(property_named("concurrent-histories-under-faults"),
                          never_quiet, f"{__name__}:never_quiet", chosen, minimize=False)
    assert result.run.status == "error"
    assert "did not come to rest" in result.run.reason


@pytest.mark.parametrize("name", ["dynamodb", "global-tables", "dynamo-lww"])
def test_stores_that_come_to_rest_or_do_not_say_are_judged(name: str) -> None:
    store = store_factory(name)()
    assert store.settle() is not False  # True (leader presets) or a count (leaderless)
    m = concurrency_machine(lambda: preset(name), target=name)()
    m.run_request("c0", Put("items", {"pk": "k0", "v": "x"}))
    m.teardown()
