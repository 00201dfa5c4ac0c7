"""The JSON report of ``replicheck verify``: a golden file of a hand-written outcome
(CONTRACTS.md section 8), its documented schema, and the replay file names.

Set REPLICHECK_UPDATE_GOLDEN=1 to rewrite tests/reports/data/golden-report.json after
an intended change (and review the diff).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from replicheck.models.equality import Keyword
from replicheck.reports import json_report
from replicheck.reports.json_report import (
    JSON_SCHEMA_VERSION,
    VALUE_DEPTH,
    format_value,
    suite_to_json,
)
from replicheck.reports.naming import replay_file_name

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden-report.json"


def _fixtures() -> ModuleType:
    name = "replicheck_report_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DATA / "fixtures.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_golden_report() -> None:
    text = json.dumps(suite_to_json(_fixtures().GOLDEN_OUTCOME), indent=2) + "\n"
    if os.environ.get("REPLICHECK_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.is_file(), f"{GOLDEN} is missing: run with REPLICHECK_UPDATE_GOLDEN=1"
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_top_level_carries_schema_result_and_exit_status() -> None:
    report = suite_to_json(_fixtures().GOLDEN_OUTCOME)
    assert report["schema"] == JSON_SCHEMA_VERSION == 1
    assert (report["result"], report["exit_status"]) == ("violated", 1)
    assert [s["target"] for s in report["stores"]] == ["dynamodb", "examples.kv:make_store"]
    assert json.loads(json.dumps(report)) == report


def test_every_verdict_is_its_own_json() -> None:
    outcome = _fixtures().GOLDEN_OUTCOME
    report = suite_to_json(outcome)
    for store, data in zip(outcome.stores, report["stores"], strict=True):
        examples = [*store.violations, *store.observations]
        shown = [*data["violations"], *data["observations"]]
        assert len(examples) == len(shown)
        for example, entry in zip(examples, shown, strict=True):
            assert example.verdict is not None and example.history is not None
            assert entry["verdict"] == example.verdict.to_json()
            assert [op["id"] for op in entry["history"]] == [
                op.id for op in example.history.operations]
    failed = report["stores"][0]["properties"][1]
    assert failed["counterexample"] == report["stores"][0]["violations"][0]
    assert failed["counterexample"]["replay"] == (
        "replay/dynamodb-concurrent-histories-under-faults-linearizable-strong-reads.json")
    assert report["stores"][1]["observations"][0]["replay"] is None


def test_cells_are_keyed_by_guarantee_id() -> None:
    report = suite_to_json(_fixtures().GOLDEN_OUTCOME)
    cell = report["stores"][0]["cells"]["linearizable-strong-reads"]
    assert cell == {"status": "violated", "claimed": True,
                    "counts": {"holds": 147, "violated": 1}, "examples": 148,
                    "reason": "", "checker": "", "text": "violated (1 of 148)"}
    assert report["stores"][1]["cells"]["monotonic-reads"]["claimed"] is False


def test_docstring_documents_every_key() -> None:
    report = suite_to_json(_fixtures().GOLDEN_OUTCOME)
    store = report["stores"][0]
    example = store["violations"][0]
    ours = (set(report) | set(store) | set(store["properties"][0])
            | set(store["cells"]["convergence"]) | set(example)
            | set(example["history"][0]))
    doc = json_report.__doc__ or ""
    documented = set(re.findall(r"``([a-z_]+)``", doc))
    assert ours - documented == set()


@pytest.mark.parametrize(("target", "prop", "expected"), [
    ("dynamodb", "sequential-model-conformance",
     "replay/dynamodb-sequential-model-conformance-convergence.json"),
    ("mutant:lost-update", "concurrent-histories-under-faults",
     "replay/mutant-lost-update-concurrent-histories-under-faults-convergence.json"),
    ("my_pkg.stores:make", "p", "replay/my_pkg.stores-make-p-convergence.json"),
    ("../etc/passwd", "p", "replay/etc-passwd-p-convergence.json"),
])
def test_replay_file_names_are_one_safe_file(target: str, prop: str, expected: str) -> None:
    name = replay_file_name(target, prop, "convergence")
    assert name == expected
    assert name.count("/") == 1 and ".." not in name


def test_format_value_writes_values_as_compact_json() -> None:
    assert format_value({"consistent": True, "v": [1, 2.5, None, 'a"b']}) == (
        '{"consistent": true, "v": [1, 2.5, null, "a\\"b"]}')
    assert format_value(float("nan")) == "NaN"
    assert format_value(frozenset({2, 10, 1})) == "[1, 10, 2]"


def test_format_value_tells_a_keyword_from_a_string() -> None:
    assert format_value([Keyword("a"), "a"]) == '[:a, "a"]'


def test_format_value_is_total_on_deep_nesting_and_long_integers() -> None:
    """A history may hold values nested past Python's recursion limit and integers
    past its int-to-text limit; a report shows them (abbreviated), never raises."""
    deep: list[object] = []
    for _ in range(50_000):
        deep = [deep]
    text = format_value({"v": deep})
    assert text.startswith('{"v": [[[') and "…" in text
    assert text.count("[") == VALUE_DEPTH
    huge = 10 ** 5000
    assert format_value([huge, -huge]) == (f"[<integer of {huge.bit_length()} bits>, "
                                           f"<integer of {huge.bit_length()} bits>]")
    assert format_value({huge: 1}) == f'{{"<integer of {huge.bit_length()} bits>": 1}}'
