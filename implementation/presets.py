"""Named configurations of the reference store, and how a store target is resolved.

The presets are a fixed list (CONTRACTS.md section 3): ``dynamodb`` (leader mode, the
default), ``dynamo-lww``, ``dynamo-quorum`` and ``global-tables``. A *target* is a
preset name or ``package.module:factory`` naming a zero-argument callable that
returns a fresh store.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Final

from replicheck.implementation.store import Store

PRESETS: Final = ("dynamodb", "dynamo-lww", "dynamo-quorum", "global-tables")
"""Every preset name, the default first."""

DEFAULT_PRESET: Final = "dynamodb"

_FACTORIES: Final = {
    "dynamodb": ("replicheck.implementation.reference.leader", "dynamodb"),
    "dynamo-lww": ("replicheck.implementation.reference.leaderless", "dynamo_lww"),
    "dynamo-quorum": ("replicheck.implementation.reference.leaderless", "dynamo_quorum"),
    "global-tables": ("replicheck.implementation.reference.leader", "global_tables"),
}


class UnknownStore(ValueError):
    """A target that names no preset and no importable factory. The message is one
    line: what was looked up, what was found, and the presets."""


def preset(name: str, seed: int = 0) -> Any:
    """A fresh reference store of preset ``name``; UnknownStore lists the presets."""
    if name not in _FACTORIES:
        raise UnknownStore(f"unknown store preset {name!r}; presets: {', '.join(PRESETS)}")
    module, attribute = _FACTORIES[name]
    factory = getattr(importlib.import_module(module), attribute)
    return factory(seed=seed)


def resolve_target(target: str | None) -> Callable[[], Store]:
    """The zero-argument factory a target names: a preset, or
    ``package.module:factory``. Raises UnknownStore with one line saying what was
    looked up and what was found."""
    name = target or DEFAULT_PRESET
    if name in _FACTORIES:
        return lambda: preset(name)
    known = f"presets: {', '.join(PRESETS)}"
    if ":" not in name:
        raise UnknownStore(f"store {name!r} is neither a preset nor package.module:factory; "
                           f"{known}")
    module_name, _, attribute = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # any import failure is the user's to see
        raise UnknownStore(f"store {name!r}: cannot import {module_name!r} "
                           f"({type(error).__name__}: {error}); {known}") from None
    factory = getattr(module, attribute, None)
    if factory is None:
        raise UnknownStore(f"store {name!r}: module {module_name!r} has no attribute "
                           f"{attribute!r}; {known}")
    if not callable(factory):
        raise UnknownStore(f"store {name!r}: {attribute!r} is a "
                           f"{type(factory).__name__}, not a callable factory; {known}")
    return factory  # type: ignore[no-any-return]
