"""A verify report of every preset, as a reader sees it: one derandomized ``verify`` of
all four presets (profile ci, a small example budget per store) rendered as the
Markdown, HTML and JSON reports, shared by every test here, and one of a mutant whose
shrunk counterexample is a violation.

- No Python repr anywhere in the Markdown and the HTML (``=None``, ``object at 0x``,
  ``Name(`` for every class of models/items/requests.py, a dict's or a list's repr).
- In Chromium: dynamo-lww's ``lost-update`` observation highlights exactly the
  operations its JSON anomaly names, and they are two acknowledged read-modify-writes
  (UpdateItem) of one item and the read of that item after both; global-tables'
  serializable-transactions observation draws its dependency cycle as an SVG graph of
  the operations the JSON anomaly names.
- In every example: the client labels of the steps, the timeline and the history table
  agree, the history table's key column is filled, and no text is escaped twice.

The budgets are what the derandomized ci search needs: dynamo-lww's lost update needs
two increments raced on two coordinators and a settled read, which the search first
reaches within 50 examples; global-tables' transactional anomalies and the others'
observations show within 8. Browser rules as test_html_browser.py (skipped without
Debian's chromium and chromium-driver, except under CI).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from replicheck.implementation.presets import PRESETS
from replicheck.properties.engine import verify, verify_store
from replicheck.properties.outcomes import SuiteOutcome
from replicheck.properties.suite import property_named
from replicheck.reports.html import render_html
from replicheck.reports.json_report import suite_to_json
from replicheck.reports.markdown import render_markdown
from tests.reports.test_html_browser import _open, browser
from tests.reports.test_no_python_repr import MUTANT, forbidden

__all__ = ["browser"]  # the fixture, shared with test_html_browser.py

BUDGETS = {"dynamodb": 8, "dynamo-lww": 50, "dynamo-quorum": 8, "global-tables": 8}
"""Examples per property for each preset (profile ci, derandomized)."""

MUTANT_BUDGET = 20
"""Examples of concurrent-histories-under-faults within which ci catches MUTANT."""


@dataclass(frozen=True)
class Written:
    """One suite outcome as verify writes it: its reports' texts and the HTML file."""

    outcome: SuiteOutcome
    markdown: str
    html: str
    report: dict[str, Any]
    page: Path


def _write(outcome: SuiteOutcome, out: Path) -> Written:
    out.mkdir(parents=True, exist_ok=True)
    written = Written(outcome, render_markdown(outcome), render_html(outcome),
                      suite_to_json(outcome), out / "report.html")
    written.page.write_text(written.html, encoding="utf-8")
    return written


@pytest.fixture(scope="module")
def every_preset(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """``verify`` of every preset, in PRESETS order, as one report."""
    out = tmp_path_factory.mktemp("every-preset")
    began = time.perf_counter()
    stores = tuple(store for target in PRESETS
                   for store in verify([target], profile="ci", max_examples=BUDGETS[target],
                                       failure_dir=out / "failures").stores)
    outcome = SuiteOutcome("ci", stores, time.perf_counter() - began)
    assert [s.target for s in outcome.stores] == list(PRESETS)
    return _write(outcome, out)


@pytest.fixture(scope="module")
def caught_mutant(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The property that catches MUTANT, its violation shrunk, as a report."""
    out = tmp_path_factory.mktemp("mutant")
    store = verify_store(MUTANT, profile="ci", max_examples=MUTANT_BUDGET,
                         failure_dir=out / "failures",
                         properties=[property_named("concurrent-histories-under-faults")])
    return _write(SuiteOutcome("ci", (store,)), out)


def _observation(report: dict[str, Any], target: str, guarantee: str) -> dict[str, Any]:
    (store,) = [s for s in report["stores"] if s["target"] == target]
    found = [o for o in store["observations"] if o["guarantee"] == guarantee]
    assert found, (f"{target} shows no {guarantee} observation; it shows "
                   f"{[o['guarantee'] for o in store['observations']]}")
    return found[0]


# --- no Python repr, no double escaping --------------------------------------------

class _Text(HTMLParser):
    """The text an HTML fragment shows (character references decoded)."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.feed(markup)
        self.close()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def test_the_reports_show_no_python_repr(every_preset: Written,
                                         caught_mutant: Written) -> None:
    assert "### Violation:" in caught_mutant.markdown
    assert "Minimal counterexample" in caught_mutant.markdown
    assert "### Observation:" in every_preset.markdown and "History (" in every_preset.markdown
    patterns = [*forbidden(), "['", ", '"]
    for name, written in (("every preset", every_preset), ("mutant", caught_mutant)):
        for kind, text in (("report.md", written.markdown), ("report.html", written.html)):
            for pattern in patterns:
                at = text.find(pattern)
                assert at < 0, (f"{name} {kind}: {pattern!r} in "
                                f"{text[max(0, at - 160):at + 60]!r}")
    # the operations are in DynamoDB's words, in steps and tables alike
    for written in (every_preset, caught_mutant):
        assert "PutItem " in written.markdown and " submits " in written.markdown


def test_no_text_is_escaped_twice(every_preset: Written, caught_mutant: Written) -> None:
    """What a reader sees (the HTML page's text, report.md rendered by a CommonMark
    renderer) holds no character reference: none was escaped twice."""
    markdown = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    for written in (every_preset, caught_mutant):
        for kind, markup in (("report.html", written.html),
                             ("report.md", markdown.render(written.markdown))):
            shown = "".join(_Text(markup).parts)
            for reference in ("&lt;", "&gt;", "&amp;", "&quot;", "&#"):
                at = shown.find(reference)
                assert at < 0, f"{kind}: {shown[max(0, at - 120):at + 60]!r}"


# --- in Chromium -------------------------------------------------------------------

SECTION = ("return Array.from(document.querySelectorAll('section.example')).find(s => "
           "s.querySelector('h3').textContent === arguments[0])")
HIGHLIGHTED = ("return Array.from(arguments[0].querySelectorAll('.timeline g.op.anomaly'))"
               ".map(g => Number(g.getAttribute('data-op'))).sort((a, b) => a - b)")


def _heading(guarantee: str, prop: str, target: str) -> str:
    return f"Observation: {guarantee} in {prop} on {target}"


def _rows(browser: Any, section: Any) -> dict[int, dict[str, str]]:
    """The history table of ``section``: per operation, its cells by column name."""
    table = browser.execute_script(
        "const t = arguments[0].querySelector('details.history table');"
        "const rows = Array.from(t.querySelectorAll('tr'));"
        "const head = Array.from(rows[0].querySelectorAll('th')).map(c => c.textContent);"
        "return rows.slice(1).map(r => Object.fromEntries(Array.from("
        "r.querySelectorAll('td')).map((c, i) => [head[i], c.textContent])))", section)
    return {int(row["op"]): row for row in table}


def test_dynamo_lww_lost_update_in_chromium(browser: Any, every_preset: Written) -> None:
    observation = _observation(every_preset.report, "dynamo-lww", "lost-update")
    anomalies = observation["verdict"]["anomalies"]
    lost = [a for a in anomalies if a["type"] == "lost-update"]
    assert lost and len(lost) == len(anomalies)
    named = sorted({i for a in anomalies for i in a["ops"]})
    log = _open(browser, every_preset.page)
    assert [e for e in log if e.get("level") == "SEVERE"] == []
    section = browser.execute_script(SECTION, _heading(
        "lost-update", observation["property"], "dynamo-lww"))
    assert section is not None
    assert browser.execute_script(HIGHLIGHTED, section) == named
    rows = _rows(browser, section)
    for anomaly in lost:
        writes, read = anomaly["data"]["writes"], anomaly["data"]["read"]
        assert sorted(anomaly["ops"]) == sorted({*writes, read}) and len(writes) >= 2
        key = rows[read]["key"]
        assert key and rows[read]["operation"].startswith(f"GetItem {key} ")
        assert rows[read]["status"] == "ok"
        for write in writes:  # acknowledged read-modify-writes of the read's item
            assert rows[write]["key"] == key and rows[write]["status"] == "ok"
            # a write that reads before it writes: an update expression built on the
            # item, or a write under a condition on it
            operation = rows[write]["operation"]
            assert re.fullmatch(rf"(UpdateItem {re.escape(key)} (SET|ADD) .*"
                                rf"|(PutItem|DeleteItem|UpdateItem) {re.escape(key)} .* if .*)",
                                operation), operation
            assert rows[write]["anomaly"] == "lost-update"
        # the explanation names the two writes and the read
        text = anomaly["explanation"]
        assert all(f"op {w}" in text for w in writes) and f"Op {read}" in text
    # each highlighted bar is labelled with its operation as the table shows it
    labels = browser.execute_script(
        "return Array.from(arguments[0].querySelectorAll('.timeline g.op.anomaly'))"
        ".map(g => [Number(g.getAttribute('data-op')), "
        "g.querySelector('text.label').textContent])", section)
    for op, label in labels:
        assert label.startswith(rows[op]["operation"]), (op, label)


CYCLE = re.compile(r"(G0|G1c|G-single|G2|G2-item|G-nonadjacent) cycle of (\d+) operations")


def test_global_tables_cycle_graph_in_chromium(browser: Any, every_preset: Written) -> None:
    observation = _observation(every_preset.report, "global-tables",
                               "serializable-transactions")
    cycles = {a["type"]: sorted(a["ops"]) for a in observation["verdict"]["anomalies"]
              if CYCLE.match(f"{a['type']} cycle of 0 operations")}
    assert cycles, observation["verdict"]["anomalies"]
    _open(browser, every_preset.page)
    section = browser.execute_script(SECTION, _heading(
        "serializable-transactions", observation["property"], "global-tables"))
    assert section is not None
    graphs = browser.execute_script(
        "return Array.from(arguments[0].querySelectorAll('svg.cycle-graph')).map(g => {"
        "const box = g.getBoundingClientRect();"
        "return [g.getAttribute('aria-label'), box.width, box.height,"
        " Array.from(g.querySelectorAll('g.node')).map(n => Number(n.getAttribute('data-op')))"
        "  .sort((a, b) => a - b)]})", section)
    assert graphs
    for label, width, height, nodes in graphs:
        match = CYCLE.fullmatch(label)
        assert match is not None, label
        kind, size = match.group(1), int(match.group(2))
        assert width > 0 and height > 0
        assert len(nodes) == size and nodes == cycles[kind]
    # a node's hover text names its operation as the history table does
    rows = _rows(browser, section)
    titles = browser.execute_script(
        "return Array.from(arguments[0].querySelectorAll('svg.cycle-graph g.node')).map("
        "n => [Number(n.getAttribute('data-op')), n.querySelector('title').textContent])",
        section)
    for op, title in titles:
        first, request = title.splitlines()[:2]
        assert first == f"op {op} · {rows[op]['client']}"
        assert request == rows[op]["operation"] or (
            request.endswith("…") and rows[op]["operation"].startswith(request[:-1])), title


@pytest.mark.parametrize("which", ["every_preset", "caught_mutant"])
def test_every_example_labels_clients_alike_and_fills_the_key_column(
        browser: Any, which: str, request: pytest.FixtureRequest) -> None:
    written: Written = request.getfixturevalue(which)
    _open(browser, written.page)
    sections = browser.execute_script(
        "return Array.from(document.querySelectorAll('section.example'))")
    assert len(sections) == sum(len(s["observations"]) + len(s["violations"])
                                for s in written.report["stores"]) > 0
    for section in sections:
        title = browser.execute_script("return arguments[0].querySelector('h3')"
                                       ".textContent", section)
        rows = _rows(browser, section)
        clients = {row["client"] for row in rows.values()}
        timeline = set(browser.execute_script(
            "return Array.from(arguments[0].querySelectorAll('.timeline text[data-label]'))"
            ".map(t => t.textContent)", section))
        assert clients == timeline, title
        steps = browser.execute_script(
            "return Array.from(arguments[0].querySelectorAll('ol.steps li'))"
            ".map(li => li.textContent)", section)
        stepping = {m.group(1) for s in steps if (m := re.match(r"(c\d+(?:/\d+)?) ", s))}
        assert stepping and stepping <= clients, (title, stepping - clients)
        assert all(row["key"] for row in rows.values()), title


def test_the_json_report_lists_what_the_pages_show(every_preset: Written) -> None:
    """The JSON report of the same run names each observation the pages show."""
    shown = re.findall(r"^### Observation: `([^`]+)` in `[^`]+` on `([^`]+)`",
                       every_preset.markdown, re.M)
    listed = [(o["guarantee"], s["target"]) for s in every_preset.report["stores"]
              for o in s["observations"]]
    assert shown == listed
