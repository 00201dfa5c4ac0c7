"""Resolving store targets: presets and package.module:factory."""

from __future__ import annotations

import pytest

from replicheck.implementation.memory import MemoryStore
from replicheck.implementation.presets import PRESETS, UnknownStore, preset, resolve_target


def test_factory_target_resolves_to_the_callable() -> None:
    factory = resolve_target("replicheck.implementation.memory:MemoryStore")
    assert factory is MemoryStore


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("cassandra", "store 'cassandra' is neither a preset nor package.module:factory; "
         "presets: dynamodb, dynamo-lww, dynamo-quorum, global-tables"),
        ("no_such_module_xyz:make", "store 'no_such_module_xyz:make': cannot import "
         "'no_such_module_xyz' (ModuleNotFoundError: No module named 'no_such_module_xyz'); "
         "presets: dynamodb, dynamo-lww, dynamo-quorum, global-tables"),
        ("replicheck.implementation.memory:nothing", "store "
         "'replicheck.implementation.memory:nothing': module "
         "'replicheck.implementation.memory' has no attribute 'nothing'; presets: dynamodb, "
         "dynamo-lww, dynamo-quorum, global-tables"),
        ("replicheck.implementation.memory:DEFAULT_TABLE", "store "
         "'replicheck.implementation.memory:DEFAULT_TABLE': 'DEFAULT_TABLE' is a TableSchema, "
         "not a callable factory; presets: dynamodb, dynamo-lww, dynamo-quorum, global-tables"),
    ],
)
def test_bad_targets_get_one_line_naming_what_was_found(target: str, message: str) -> None:
    with pytest.raises(UnknownStore) as info:
        resolve_target(target)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(UnknownStore, match="presets: dynamodb, dynamo-lww"):
        preset("riak")
    assert PRESETS[0] == "dynamodb"
