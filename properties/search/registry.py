"""Every rule class of the fault search, and a scheduled machine that has them all.

A rule-class module of this package (:data:`RULE_MODULES`) exports ``CLASSES`` (the
kebab-case names of its classes) and ``NAME_rules(surface)`` (its mixin of rules,
``NAME`` the module's name). :func:`all_classes` names every class, the machine's
own coarse classes (:data:`~replicheck.properties.search.swarm.CLASSES`) first;
:func:`search_machine` mixes the swarm, every module's rules and the depth steering
into a scheduled machine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Final

from replicheck.properties.search import swarm
from replicheck.properties.search.driver import Surface

__all__ = ["RULE_MODULES", "all_classes", "applies", "rule_mixins", "rule_modules",
           "search_machine"]

RULE_MODULES: Final[tuple[str, ...]] = ("nemesis", "messages", "timing", "retries", "layout")
"""The rule-class modules of :mod:`replicheck.properties.search`, by name."""

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


def applies(name: str, surface: Surface) -> bool:
    """Whether rule class ``name`` has a rule that can act on a store with
    ``surface``: the machine's own classes by swarm.APPLIES; a module's by its
    ``applies(name, surface)`` when it has one, else always."""
    if name in swarm.APPLIES:
        return swarm.APPLIES[name](surface)
    for module in rule_modules():
        if name in module.CLASSES:
            check: Callable[[str, Surface], bool] | None = getattr(module, "applies", None)
            return True if check is None else bool(check(name, surface))
    raise KeyError(f"no rule class {name!r}; known: {', '.join(all_classes())}")


def rule_mixins(surface: Surface) -> tuple[type, ...]:
    """Each present rule module's mixin for ``surface`` (``NAME_rules(surface)``)."""
    mixins = []
    for module in rule_modules():
        short = module.__name__.rsplit(".", 1)[-1]
        mixins.append(getattr(module, f"{short}_rules")(surface))
    return tuple(mixins)


def search_machine(base: type, surface: Surface) -> type:
    """``base`` (a scheduled machine offering the Driver, for a store with
    ``surface``) with the swarm over :func:`all_classes` first, every rule module's
    mixin, and :class:`~replicheck.properties.search.swarm.DepthSteering`; named as
    ``base``."""
    bases = (swarm.swarm_rules(all_classes()), *rule_mixins(surface), swarm.DepthSteering,
             base)
    made = type(base.__name__, bases, {"__qualname__": base.__qualname__,
                                        "__module__": base.__module__})
    return made
