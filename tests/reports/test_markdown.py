"""The Markdown report of ``replicheck verify``: a golden file of a hand-written outcome
(CONTRACTS.md section 8) and the rules of its text.

Set REPLICHECK_UPDATE_GOLDEN=1 to rewrite tests/reports/data/golden-report.md after an
intended change (and review the diff).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import sys
from pathlib import Path
from types import ModuleType

from replicheck.properties.outcomes import Cell, PropertyRun, StoreOutcome, SuiteOutcome
from replicheck.reports.markdown import render_markdown
from replicheck.reports.naming import cell_text, matrix_columns, overall_result

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden-report.md"


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
    text = render_markdown(_fixtures().GOLDEN_OUTCOME)
    if os.environ.get("REPLICHECK_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.is_file(), f"{GOLDEN} is missing: run with REPLICHECK_UPDATE_GOLDEN=1"
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_report_shows_header_matrix_and_every_counterexample() -> None:
    outcome = _fixtures().GOLDEN_OUTCOME
    text = render_markdown(outcome)
    assert "**Result: violated** — exit status 1" in text
    assert "- Profile: `ci`" in text and "2025-01-02T03:04:05Z" in text
    assert "| `dynamodb` " in text and "| `examples.kv:make_store` " in text
    assert "violated (1 of 148)" in text and "holds, not claimed (31)" in text
    assert "observed (1 of 31)" in text and "unknown (2 of 48)" in text
    assert ("Columns left out (not applicable for every store): `merkle-root-iff-equal`, "
            "`hinted-handoff-delivers`, `read-repair-repairs`, `majority-availability`, "
            "`sloppy-quorum-availability`.") in text
    assert "### Violation: `linearizable-strong-reads`" in text
    assert "### Observation: `serializable-transactions`" in text
    assert "6. client 0: strong get a -> 1 at the old leader (ok)" in text
    assert "- **G1c** (operations 0, 1): Let T0" in text
    assert ("`replicheck replay replay/dynamodb-concurrent-histories-under-faults-"
            "linearizable-strong-reads.json`") in text
    assert "@reproduce_failure('6.100.0', b'AXicY2BkYGBgBAAADgAD')" in text
    # the observation's store is threaded: no schedule, so no replay command for it
    assert text.count("replicheck replay ") == 1


def test_same_outcome_same_text() -> None:
    outcome = _fixtures().GOLDEN_OUTCOME
    assert render_markdown(outcome) == render_markdown(outcome)


def _store(cells: tuple[Cell, ...], *runs: PropertyRun) -> StoreOutcome:
    return StoreOutcome("dynamodb", "dynamodb", ("convergence",), runs, cells)


def test_overall_result_follows_the_exit_status() -> None:
    passed = PropertyRun("p", "passed", examples=3)
    holds = _store((Cell("convergence", "holds", True, {"holds": 3}),), passed)
    unknown = _store((Cell("convergence", "unknown", True, {"holds": 2, "unknown": 1}),),
                     passed)
    crashed = _store((Cell("convergence", "holds", True, {"holds": 3}),),
                     PropertyRun("p", "error", reason="adapter raised KeyError"))
    for store, result, status in ((holds, "holds", 0), (unknown, "unknown", 3),
                                  (crashed, "violated", 1)):
        outcome = SuiteOutcome("quick", (store,))
        assert overall_result(outcome) == result
        assert f"**Result: {result}** — exit status {status}:" in render_markdown(outcome)


def test_an_undecided_result_names_what_left_it_undecided() -> None:
    """Exit 3 is ``unchecked`` when only a claim no example judged caused it,
    ``unknown`` when only a checker's time limit did, both when both; in the
    Markdown, the HTML (its badge) and the JSON alike."""
    from replicheck.reports.html import render_html
    from replicheck.reports.json_report import suite_to_json

    passed = PropertyRun("p", "passed", examples=3)
    unchecked = Cell("convergence", "unchecked", True, {},
                     reason="needs replica-introspection")
    unknown = Cell("linearizable-strong-reads", "unknown", True, {"holds": 2, "unknown": 1})
    holds = Cell("linearizable-strong-reads", "holds", True, {"holds": 3})
    # an unclaimed unknown cell is no reason for exit 3
    idle = Cell("stale-read", "unknown", False, {"unknown": 1})
    for cells, result in (((unchecked, holds, idle), "unchecked"),
                          ((Cell("convergence", "holds", True, {"holds": 3}), unknown),
                           "unknown"),
                          ((unchecked, unknown), "unknown and unchecked")):
        outcome = SuiteOutcome("quick", (_store(cells, passed),))
        assert outcome.exit_status == 3
        assert overall_result(outcome) == result
        assert f"**Result: {result}** — exit status 3:" in render_markdown(outcome)
        classes = " ".join(w for w in result.split() if w != "and")
        assert f'<span class="result {classes}">{result}</span>' in render_html(outcome)
        assert suite_to_json(outcome)["result"] == result


def test_cell_texts() -> None:
    assert cell_text(None) == "not applicable"
    assert cell_text(Cell("convergence", "holds", True, {"holds": 48})) == "holds (48)"
    assert (cell_text(Cell("convergence", "holds", False, {"holds": 12}))
            == "holds, not claimed (12)")
    assert (cell_text(Cell("convergence", "violated", True,
                           {"holds": 47, "violated": 1, "not-applicable": 5}))
            == "violated (1 of 48)")
    assert (cell_text(Cell("convergence", "not-applicable", False, {"not-applicable": 9}))
            == "not applicable")


def test_columns_keep_vocabulary_order_and_drop_only_all_not_applicable() -> None:
    outcome = _fixtures().GOLDEN_OUTCOME
    shown, dropped = matrix_columns(outcome)
    assert shown[0] == "linearizable-strong-reads"
    assert "vector-clock-order" in shown  # not applicable for one store only
    assert dropped == ("merkle-root-iff-equal", "hinted-handoff-delivers",
                       "read-repair-repairs", "majority-availability",
                       "sloppy-quorum-availability")


def test_table_cells_stay_one_line_with_pipes_escaped() -> None:
    run = PropertyRun("p", "skipped", reason="not applicable: a | b\nsecond line")
    store = _store((Cell("convergence", "holds", True, {"holds": 1}),), run)
    text = render_markdown(SuiteOutcome("quick", (store,)))
    assert "not applicable: a \\| b second line" in text


def test_long_history_table_is_capped() -> None:
    fixtures = _fixtures()
    history = fixtures.long_history(300)
    violation = dataclasses.replace(fixtures.STALE_READ, history=history,
                                    verdict=fixtures.long_verdict(history))
    run = PropertyRun("concurrent-histories-under-faults", "failed", examples=1,
                      counterexample=violation)
    store = _store((Cell("convergence", "violated", True, {"violated": 1}),), run)
    text = render_markdown(SuiteOutcome("quick", (store,)))
    assert "The first 200 of 300 operations are listed" in text


def test_free_text_is_shown_as_itself_not_as_markup() -> None:
    """A store's words (an explanation, a step, a value) cannot inject HTML, links or
    emphasis into the rendered report; ordinary text stays readable raw."""
    fixtures = _fixtures()
    hostile = "<img src=x onerror=alert(1)> *bold* [link](http://x) a_b -> c"
    violation = dataclasses.replace(fixtures.STALE_READ, explanation=hostile,
                                    steps=(hostile,))
    run = PropertyRun("concurrent-histories-under-faults", "failed", examples=1,
                      counterexample=violation, reason=hostile)
    store = _store((Cell("convergence", "violated", True, {"violated": 1}),), run)
    text = render_markdown(SuiteOutcome("quick", (store,)))
    shown = "\\<img src=x onerror=alert(1)> \\*bold\\* [link\\](http://x) a_b -> c"
    assert re.search(r"(?<!\\)<img", text) is None  # every < of the text escaped
    assert f"\n{shown}\n" in text  # the explanation
    assert f"\n1. {shown}\n" in text  # the step
    assert f"| {shown}" in text  # the property's reason in its table
