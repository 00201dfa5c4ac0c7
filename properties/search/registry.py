"""Every rule class of the fault search, and a scheduled machine that has them all.

A rule-class module of this package (:data:`RULE_MODULES`) exports ``CLASSES`` (the
kebab-case names of its classes) and a function of the surface giving its mixin of
rules. :func:`all_classes` names every class, the machine's
own coarse classes (:data:`~replicheck.properties.search.swarm.CLASSES`) first;
:func:`search_machine` mixes the swarm, every module's rules and the depth steering
into a scheduled machine; :func:`class_shares` runs it under the ``ci`` profile and
says in what share of the examples each class acted.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, Final

from replicheck.properties.search import plan, swarm
from replicheck.properties.search.driver import Surface

__all__ = ["MINIMUM_SHARE", "RULE_MODULES", "all_classes", "class_shares", "rule_mixins",
           "rule_modules", "search_machine"]

MINIMUM_SHARE: Final = 0.10
"""The share of a ``ci`` run's examples each rule class should act in (issue 13)."""

RULE_MODULES: Final[Mapping[str, str]] = {
    "nemesis": "nemesis_rules", "messages": "message_rules", "timing": "timing_rules",
    "retries": "retry_rules", "layout": "layout_rules"}
"""The rule-class modules of :mod:`replicheck.properties.search`, by name, each with
the name of its function of the surface that gives its mixin."""

PACKAGE: Final = "replicheck.properties.search"


def rule_modules() -> tuple[ModuleType, ...]:
    """The modules of :data:`RULE_MODULES` that are present, in that order."""
    found = []
    for name in RULE_MODULES:
        qualified = f"{PACKAGE}.{name}"
        try:
            found.append(importlib.import_module(qualified))
        except ModuleNotFoundError as error:
            if error.name != qualified:
                raise  # the module is there but something it imports is not
    return tuple(found)


def all_classes() -> tuple[str, ...]:
    """Every rule class: the scheduled machine's own (swarm.CLASSES), then each rule
    module's ``CLASSES``. ValueError when two modules name the same class."""
    names = list(swarm.CLASSES)
    for module in rule_modules():
        for name in module.CLASSES:
            if name in names:
                raise ValueError(f"rule class {name!r} of {module.__name__} is named twice")
            names.append(name)
    return tuple(names)


def rule_mixins(surface: Surface) -> tuple[type, ...]:
    """Each present rule module's mixin for ``surface``."""
    mixins = []
    for module in rule_modules():
        short = module.__name__.rsplit(".", 1)[-1]
        mixins.append(getattr(module, RULE_MODULES[short])(surface))
    return tuple(mixins)


def search_machine(base: type, surface: Surface) -> type:
    """``base`` (a scheduled machine offering the Driver, for a store with
    ``surface``) with the swarm over :func:`all_classes` first, the classes' turns
    (:class:`~replicheck.properties.search.plan.Turns`), every rule module's mixin,
    and :class:`~replicheck.properties.search.swarm.DepthSteering`; named as ``base``."""
    bases = (swarm.swarm_rules(all_classes()), plan.Turns, *rule_mixins(surface),
             swarm.DepthSteering, base)
    made = type(base.__name__, bases, {"__qualname__": base.__qualname__,
                                        "__module__": base.__module__})
    return made


def class_shares(factory: Callable[[], Any], target: str, *, examples: int, steps: int,
                 failure_dir: str | None = None) -> tuple[int, dict[str, float]]:
    """Run the concurrency property with the whole fault search
    (:func:`search_machine`) on the store ``factory`` builds, under the ``ci``
    profile with at most ``examples`` examples of at most ``steps`` rules; the
    number of examples reported and, for each rule class that applies to the store
    (:func:`~replicheck.properties.search.swarm.applicable_classes`), the share of
    them in which it acted."""
    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test

    from replicheck.properties.concurrency import concurrency_machine
    from replicheck.properties.driving import close_store
    from replicheck.properties.examples import collecting
    from replicheck.properties.profiles import settings_for, source_independent
    from replicheck.properties.search.driver import probe_surface
    from replicheck.properties.verdicts import failures_to

    probe = factory()
    try:
        surface = probe_surface(probe)
    finally:
        close_store(probe)
    machine = search_machine(concurrency_machine(factory, max_steps=steps, target=target),
                             surface)
    fresh = machine()
    try:
        applicable = swarm.applicable_classes(fresh)
    finally:
        fresh.teardown()
    chosen = settings(settings_for("ci"), max_examples=examples, stateful_step_count=steps)
    with collecting() as reports, source_independent(), failures_to(failure_dir):
        run_state_machine_as_test(machine, settings=chosen)
    counts = swarm.class_counts(reports)
    total = max(len(reports), 1)
    return len(reports), {c: counts.get(c, 0) / total for c in all_classes() if c in applicable}
