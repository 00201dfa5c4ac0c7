"""The HTML reports as text: self-contained, one timeline row per client, anomalies
highlighted, cycles drawn, every value escaped, and a 1000-operation timeline of a sane
size. (tests/reports/test_html_browser.py opens them in a browser.)"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

from replicheck.histories.history import History, Operation
from replicheck.histories.verdict import Anomaly, Stats, Verdict
from replicheck.properties.outcomes import Cell, PropertyRun, StoreOutcome, SuiteOutcome
from replicheck.reports.graphs import cycle_edges
from replicheck.reports.html import render_check_html, render_html

DATA = Path(__file__).parent / "data"


def _fixtures() -> ModuleType:
    name = "replicheck_report_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DATA / "fixtures.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class _Page(HTMLParser):
    """The elements of a page: tag, attributes and the timeline each lies in."""

    VOID = frozenset({"meta", "link", "br", "wbr", "img", "hr", "input"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str], str | None]] = []
        self.stack: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        inside = self.stack[-1][1] if self.stack else None
        if "timeline" in attributes.get("class", "").split():
            inside = attributes.get("id", "?")
        self.elements.append((tag, attributes, inside))
        if tag not in self.VOID:
            self.stack.append((tag, inside))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        inside = self.stack[-1][1] if self.stack else None
        self.elements.append((tag, {k: v or "" for k, v in attrs}, inside))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def rows(self) -> dict[str, list[str]]:
        """Per timeline id, the data-process values of its rows."""
        out: dict[str, list[str]] = {}
        for _tag, attrs, inside in self.elements:
            if inside is not None and "data-process" in attrs:
                out.setdefault(inside, []).append(attrs["data-process"])
        return out

    def with_class(self, name: str) -> list[dict[str, str]]:
        return [a for _t, a, _i in self.elements if name in a.get("class", "").split()]


def _assert_self_contained(text: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", text, re.I)
    assert "<script" not in text.lower()
    assert '<link rel="stylesheet"' not in text


def test_verify_report_is_self_contained_with_one_row_per_client() -> None:
    outcome = _fixtures().GOLDEN_OUTCOME
    text = render_html(outcome)
    _assert_self_contained(text)
    page = _Page(text)
    examples = [c for s in outcome.stores for c in (*s.violations, *s.observations)]
    rows = page.rows()
    assert len(rows) == len(examples) == 2
    for shown, example in zip(rows.values(), examples, strict=True):
        assert sorted(shown) == sorted({str(op.process) for op in example.history.operations})
    assert text.count('<td class="st-violated"') == 1
    assert ("replicheck replay replay/dynamodb-concurrent-histories-under-faults-"
            "linearizable-strong-reads.json") in text
    assert "@reproduce_failure('6.100.0'" in text


def test_anomaly_operations_are_highlighted() -> None:
    page = _Page(render_html(_fixtures().GOLDEN_OUTCOME))
    highlighted = sorted(a["data-op"] for a in page.with_class("anomaly") if "data-op" in a)
    assert highlighted == ["0", "1", "4"]  # op 4 of the stale read; ops 0, 1 of the G1c
    not_highlighted = [a["data-op"] for a in page.with_class("op")
                       if "anomaly" not in a["class"].split()]
    assert sorted(not_highlighted) == ["0", "1", "2", "2", "3"]


def test_indeterminate_operation_runs_to_the_end() -> None:
    history = _fixtures().STALE_READ_HISTORY
    text = render_check_html(history, _fixtures().STALE_READ_VERDICT)
    bars = re.findall(r'<g class="op ([a-z ]+)" id="tl1-op(\d)" data-op="\d">'
                      r'<title>[^<]*</title>(?:<rect class="halo"[^>]*/>)?'
                      r'<rect class="bar" x="([\d.]+)" y="[\d.]+" '
                      r'width="([\d.]+)"', text)
    ends = {int(op): (cls, float(x) + float(w)) for cls, op, x, w in bars}
    assert len(ends) == 5
    assert ends[3][0] == "info"
    assert ends[3][1] == max(end for _cls, end in ends.values())
    assert ends[3][1] > ends[4][1]  # beyond the last completion


def test_values_are_escaped() -> None:
    evil = "<script>alert(1)</script>"
    history = History((
        Operation(0, 0, "put", evil, evil, None, "ok", call=0, ret=1),
        Operation(1, 1, "get", evil, None, evil, "ok", call=2, ret=3),
    ))
    verdict = Verdict(False, "kv", ("linearizable",), (Anomaly(
        "not-linearizable", (1,), f"read {evil}", {"cycle": [
            {"from": 0, "to": 1, "kind": "wr", "key": evil},
            {"from": 1, "to": 0, "kind": "rw", "key": evil}]}),),
        notes=(evil,))
    example = dataclasses.replace(_fixtures().STALE_READ, history=history, verdict=verdict,
                                  explanation=evil, steps=(evil,), reproduce=evil)
    store = StoreOutcome(f"pkg:{evil}", evil, (), (PropertyRun(
        "concurrent-histories-under-faults", "failed", reason=evil,
        counterexample=example),), (Cell("convergence", "violated", True, {"violated": 1},
                                         evil),))
    for text in (render_html(SuiteOutcome(evil, (store,), started=evil)),
                 render_check_html(history, verdict, source=evil)):
        assert "<script" not in text
        assert "&lt;script&gt;" in text
        page = _Page(text)
        assert any(evil in chunk for chunk in page.text)  # shown as text


def test_cycle_graph_draws_each_operation_and_labelled_edge() -> None:
    fixtures = _fixtures()
    page = _Page(render_html(fixtures.GOLDEN_OUTCOME))
    nodes = [a["data-op"] for a in page.with_class("node")]
    assert nodes == ["0", "1"]
    assert [a["data-kind"] for a in page.with_class("edge")] == ["wr", "wr"]
    (anomaly,) = fixtures.G1C_VERDICT.anomalies
    assert [(e.src, e.dst, e.label) for e in cycle_edges(anomaly)] == [
        (0, 1, "wr x"), (1, 0, "wr y")]


def test_cycle_of_plain_operation_ids_is_a_closed_walk() -> None:
    anomaly = Anomaly("causal", (3, 5, 7), "a causal cycle", {"cycle": [3, 5, 7]})
    assert [(e.src, e.dst) for e in cycle_edges(anomaly)] == [(3, 5), (5, 7), (7, 3)]
    assert cycle_edges(Anomaly("not-linearizable", (1,), "x", {"key": "a"})) == ()


def test_valid_check_has_no_highlight_and_no_graph() -> None:
    history = _fixtures().STALE_READ_HISTORY
    verdict = Verdict(True, "kv", ("linearizable",), witness=(0, 1, 2, 4),
                      stats=Stats(operations=5))
    text = render_check_html(history, verdict, source="h.jsonl")
    _assert_self_contained(text)
    page = _Page(text)
    assert page.with_class("anomaly") == []
    assert page.with_class("cycle-graph") == []
    assert sorted(next(iter(page.rows().values()))) == ["0", "1", "2", "3"]


def test_empty_history_says_so() -> None:
    text = render_check_html(History(()), Verdict(True, "kv"))
    assert "The history holds no client operations." in text


def test_thousand_operations_stay_a_sane_size() -> None:
    fixtures = _fixtures()
    history = fixtures.long_history(1000)
    text = render_check_html(history, fixtures.long_verdict(history), source="long")
    _assert_self_contained(text)
    page = _Page(text)
    (rows,) = page.rows().values()
    processes = {str(op.process) for op in history.operations}
    assert sorted(rows) == sorted(processes)
    labels = {a["data-label"] for _t, a, _i in page.elements if "data-label" in a}
    assert labels == processes
    (bars,) = [a for _t, a, _i in page.elements if "bars" in a.get("class", "").split()]
    assert int(bars["width"]) <= 8000
    assert int(bars["height"]) <= 30 + 22 * len(processes)
    assert len(page.with_class("op")) == 1000
    assert sorted(a["data-op"] for a in page.with_class("anomaly")) == [
        "10", "20", "30", "500", "501"]
    assert len(text) < 1_500_000
