"""Every other guarantee a catalog mutant's entry says its bug breaks (``Mutant.also``)
is shown broken by a replayed schedule on the mutant, and holding on its preset: the
catalog test accepts a failing example that shows one of them first, and only these."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from replicheck.implementation.mutants import MUTANTS, mutant
from replicheck.properties.replay import replay
from replicheck.properties.schedule import load

TOMBSTONE_HANDOFF: list[dict[str, Any]] = [
    # a put of k0 acknowledged; n2 cut off and n1 crashed; a delete of k0 coordinated
    # by n5 leaves hinted tombstones with fallbacks; a copy of the cluster recovered
    # hands them off: the owners purge the tombstones as soon as they store them
    {
        "submit": {
            "client": "c2",
            "kind": "get-eventual",
            "node": "n3",
            "request": {"consistent": False, "key": {"pk": {"S": "k2"}}, "table": "items"},
        }
    },
    {"decide": {"deliver": 1}},
    {"decide": {"deliver": 4}},
    {
        "submit": {
            "client": "c2",
            "kind": "update",
            "node": "n3",
            "request": {
                "condition": "attribute_not_exists(n) OR n < :limit",
                "key": {"pk": {"S": "k1"}},
                "return_values": "ALL_OLD",
                "table": "items",
                "update": "SET v = :v",
                "values": {":limit": {"N": "1"}, ":v": {"S": "v1"}},
            },
        }
    },
    {"decide": {"deliver": 5}},
    {"decide": {"deliver": 8}},
    {"decide": {"deliver": 9}},
    {"decide": {"deliver": 10}},
    {
        "submit": {
            "client": "c0",
            "kind": "get-eventual",
            "node": "n5",
            "request": {"consistent": False, "key": {"pk": {"S": "k0"}}, "table": "items"},
        }
    },
    {
        "submit": {
            "client": "c2",
            "kind": "put",
            "request": {
                "condition": "attribute_not_exists(n) OR n < :limit",
                "item": {"pk": {"S": "k0"}, "v": {"S": "v2"}},
                "return_values": "ALL_OLD",
                "table": "items",
                "values": {":limit": {"N": "0"}},
            },
        }
    },
    {"decide": {"deliver": 14}},
    {"decide": {"deliver": 16}},
    {"decide": {"deliver": 19}},
    {"decide": {"drop": 21}},
    {"partition": [["n2"], ["n1", "n3", "n4", "n5"]]},
    {"crash": "n1"},
    {
        "submit": {
            "client": "c0",
            "kind": "delete",
            "node": "n5",
            "request": {
                "condition": "attribute_not_exists(v) OR v <> :expected",
                "key": {"pk": {"S": "k0"}},
                "table": "items",
                "values": {":expected": {"S": "v1"}},
            },
        }
    },
    {"decide": {"deliver": 25}},
    {"run_for": 0.495},
    {"decide": {"fire": 36}},
    {"decide": {"fire": 39}},
    {"observe": "handoff"},
]

SCENARIOS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("tombstone-purged-at-once", "hinted-handoff-delivers"): TOMBSTONE_HANDOFF,
}
"""A schedule per (mutant, guarantee of its ``also``)."""


def test_every_other_guarantee_a_mutant_names_has_a_scenario() -> None:
    named = {(m.name, g) for m in MUTANTS for g in m.also}
    assert named == set(SCENARIOS)


def _judged(target: str, steps: list[dict[str, Any]], guarantee: str, tmp_path: Path) -> str:
    path = tmp_path / f"{target.replace(':', '-')}.json"
    path.write_text(
        json.dumps(
            {"schema": 1, "seed": 0, "target": target, "guarantee": guarantee, "steps": steps}
        )
    )
    result = replay(load(path))
    return {j.guarantee: j.status for j in result.judgements}[guarantee]


@pytest.mark.parametrize(("name", "guarantee"), list(SCENARIOS))
def test_the_scenario_breaks_the_other_guarantee_on_the_mutant_only(
    name: str, guarantee: str, tmp_path: Path
) -> None:
    entry = mutant(name)
    assert guarantee in entry.also
    steps = SCENARIOS[(name, guarantee)]
    assert _judged(f"mutant:{name}", steps, guarantee, tmp_path) == "violated"
    assert _judged(entry.preset, steps, guarantee, tmp_path) == "holds"
