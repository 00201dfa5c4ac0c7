"""The guide's schedulable store of one's own (docs/plugging-in.md): it imports nothing
from the reference store, keeps the contract, runs every scheduled property it
enables without a skip and passes them; its one-line bug is caught."""

from __future__ import annotations

import ast
import inspect

import pytest
from hypothesis import Phase, settings

from replicheck.implementation.store import check_store, missing_surface
from replicheck.properties import engine, schedulable_example
from replicheck.properties.profiles import settings_for
from replicheck.properties.schedulable_example import make_buggy_store, make_store
from replicheck.properties.suite import PROPERTIES, property_named

TARGET = "replicheck.properties.schedulable_example:make_store"
GENERATE = (Phase.explicit, Phase.reuse, Phase.generate)
"""No Hypothesis shrinking: the examples are small, and a failure's size is not tested."""
SCHEDULED = ("concurrent-histories-under-faults", "convergence-after-anti-entropy")


def test_the_example_imports_nothing_from_the_reference_store() -> None:
    tree = ast.parse(inspect.getsource(schedulable_example))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert imported and not [m for m in imported if "reference" in m or m.endswith(".sim")]


def test_the_example_keeps_the_contract_and_offers_the_surface() -> None:
    store = make_store()
    assert check_store(store) == []
    assert missing_surface(store) == []


def test_every_property_the_example_enables_runs_and_passes(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    def small(profile: str, max_examples: int | None) -> settings:
        return settings(settings_for("ci"), max_examples=8, phases=GENERATE)

    monkeypatch.setattr(engine, "_settings_for", small)
    outcome = engine.verify_store(TARGET, profile="ci", failure_dir=str(tmp_path))
    enabled = {p.name for p in PROPERTIES if p.skip_reason(make_store().descriptor) is None}
    assert set(SCHEDULED) <= enabled
    runs = {p.name: p for p in outcome.properties}
    for name in enabled:
        assert runs[name].status == "passed", (name, runs[name].reason)
        assert runs[name].examples > 0
    assert {c.guarantee: c.status for c in outcome.cells if c.claimed} == {
        "linearizable-strong-reads": "holds", "linearizable-conditional-writes": "holds",
        "convergence": "holds"}


def test_the_examples_one_line_bug_is_caught_as_a_stale_strong_read(tmp_path: object) -> None:
    prop = property_named("concurrent-histories-under-faults")
    result = engine.run_property(prop, make_buggy_store, TARGET.replace("make_store",
                                                                        "make_buggy_store"),
                                 settings(settings_for("ci"), phases=GENERATE), minimize=False,
                                 failure_dir=str(tmp_path))
    assert result.run.status == "failed"
    assert result.run.counterexample is not None
    assert result.run.counterexample.guarantee == "linearizable-strong-reads"
