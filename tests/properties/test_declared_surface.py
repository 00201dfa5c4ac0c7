"""Nothing in properties/ touches a store beyond the surface implementation/store.py
declares: every store is wrapped in a proxy that records each attribute read, then
every property runs on every preset, on a caught mutant and on the threaded example
(a small example budget), the shrinker minimizes a counterexample and replay replays
every schedule file written; every name read must be a member of a declared
protocol (:func:`~replicheck.implementation.store.surface_names`)."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from replicheck.implementation.presets import PRESETS
from replicheck.implementation.store import surface_names
from replicheck.properties import engine
from replicheck.properties import replay as replay_module
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.profiles import settings_for
from replicheck.properties.replay import replay
from replicheck.properties.schedule import counterexample_schedule, load
from replicheck.properties.shrink import minimize_counterexample
from replicheck.properties.suite import PROPERTIES

EXAMPLES = 8
MUTANT = "mutant:concurrent-clocks-ordered"
"""A mutant a property catches within a few examples (its failure path runs too)."""
THREADED = "replicheck.properties.plugging_in:make_store"
TARGETS = (*PRESETS, MUTANT, THREADED)


class Reads:
    """A store seen through a proxy that adds the name of every attribute read (and
    ``set NAME`` for every attribute written) to ``seen``. A fork or a deep copy is
    watched too."""

    def __init__(self, store: Any, seen: set[str]) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_seen", seen)
        object.__setattr__(self, "_lock", threading.Lock())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        with self._lock:
            self._seen.add(name)
        value = getattr(self._store, name)
        if name == "fork":
            return lambda: Reads(value(), self._seen)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        with self._lock:
            self._seen.add(f"set {name}")
        setattr(self._store, name, value)

    def __deepcopy__(self, memo: dict[int, Any]) -> Reads:
        return Reads(copy.deepcopy(self._store, memo), self._seen)


def _small(profile: str, max_examples: int | None) -> settings:
    return settings(settings_for("ci"), max_examples=EXAMPLES,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate))


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every store the engine, the shrinker and replay build is watched."""
    names: set[str] = set()
    factory_of, build = engine.store_factory, replay_module.build_store

    def watched_factory(target: str, seed: int = 0) -> Any:
        inner = factory_of(target, seed)
        return lambda: Reads(inner(), names)

    monkeypatch.setattr(engine, "store_factory", watched_factory)
    monkeypatch.setattr(replay_module, "build_store",
                        lambda target, seed=0: Reads(build(target, seed), names))
    monkeypatch.setattr(engine, "_settings_for", _small)
    return names


def test_the_proxy_records_what_is_read() -> None:
    names: set[str] = set()
    from replicheck.implementation.presets import preset

    store = Reads(preset("dynamo-lww"), names)
    assert store.descriptor.name == "dynamo-lww"
    assert not hasattr(store, "no_such_member")
    store.fork().sim  # noqa: B018 - an undeclared read through a fork is seen too
    assert names == {"descriptor", "no_such_member", "fork", "sim"}
    assert names - surface_names() == {"no_such_member", "sim"}


def test_properties_shrinker_and_replay_use_only_the_declared_surface(
        seen: set[str], tmp_path: Path) -> None:
    ran: set[str] = set()
    shrunk = replayed = 0
    for target in TARGETS:
        failures = tmp_path / target.replace(":", "-")
        outcome = engine.verify_store(target, profile="ci", failure_dir=failures,
                                      minimize=False)
        ran |= {p.name for p in outcome.properties if p.status != "skipped"}
        examples: list[Counterexample] = [*outcome.violations, *outcome.observations]
        scheduled = [cx for cx in examples if cx.schedule is not None]
        if scheduled:  # the shrinker, then replay of what it kept
            small = minimize_counterexample(scheduled[0], target, seconds=3.0, max_replays=8)
            shrunk += 1
            schedule = counterexample_schedule(small)
            assert schedule is not None
            replay(schedule)
            replayed += 1
        for path in sorted(failures.glob("*.json")):
            replay(load(path))
            replayed += 1
    assert ran == {p.name for p in PROPERTIES}
    assert shrunk >= 2 and replayed >= shrunk
    assert {"messages_in_flight", "settle", "replica_versions", "execute"} <= seen
    assert sorted(seen - surface_names()) == []
