"""A failed linearizability check's partial linearization in the reports: the HTML
timeline labels every bar with its input and output (text on the bar, not only hover
text) and draws the prefix (a linearization point per operation, within its bar, in
order, joined by a path; the operation that cannot be placed marked); the Markdown and
HTML verdicts number the prefix with the state after each operation."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from replicheck.histories.checkers.linearizable import check_linearizable
from replicheck.histories.checkers.partial_linearization import SHOWN_PREFIX
from replicheck.histories.history import History, Record, pair
from replicheck.histories.verdict import Verdict
from replicheck.models.specs import CAS_REGISTER
from replicheck.reports.cli import main
from replicheck.reports.html import render_check_html, render_html
from replicheck.reports.json_report import format_value
from replicheck.reports.linearization import LISTED, partial_linearization, prefix_markdown
from replicheck.reports.markdown import render_markdown
from replicheck.reports.timeline import timeline_html

DATA = Path(__file__).parent / "data"

ROWS: tuple[tuple[Any, ...], ...] = (
    (0, "invoke", "write", 1), (1, "invoke", "read", None), (0, "ok", "write", 1),
    (0, "invoke", "write", 2), (1, "ok", "read", 1), (0, "ok", "write", 2),
    (2, "invoke", "cas", [2, 3]), (2, "ok", "cas", [2, 3]),
    (4, "invoke", "cas", [7, 8]), (4, "fail", "cas", [7, 8], "condition-failed"),
    (1, "invoke", "read", None), (1, "ok", "read", 2),
    (3, "invoke", "write", 2), (3, "info", "write", 2),
)
"""Process 1 reads 2 after the cas set 3: not linearizable. The prefix is write 1,
read 1, write 2, cas 2 -> 3 (and the failed compare against 7); the read of 2 cannot be
placed; a write of 2 comes too late (indeterminate, invoked after the read ended)."""


def _history() -> History:
    records = []
    for index, (process, type_, f, value, *rest) in enumerate(ROWS):
        records.append(Record(process, type_, f, value, key="x",
                              error=rest[0] if rest else None, index=index))
    return pair(records)


def _verdict(history: History) -> Verdict:
    verdict = check_linearizable(history, CAS_REGISTER, model="cas-register")
    assert verdict.valid is False
    return verdict


class _Svg(HTMLParser):
    """Elements with their attributes, their text, and the operation group (``g.op``)
    each lies in."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict[str, Any]] = []
        self.open: list[dict[str, Any]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        inside = next((e["attrs"]["data-op"] for e in reversed(self.open)
                       if "op" in e["attrs"].get("class", "").split()), None)
        element = {"tag": tag, "attrs": attributes, "text": "", "op": inside}
        self.elements.append(element)
        if tag not in ("meta", "br", "link"):
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop()["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.open:
            self.open[-1]["text"] += data

    def classed(self, name: str, tag: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.elements if name in e["attrs"].get("class", "").split()
                and (tag is None or e["tag"] == tag)]


def test_every_bar_carries_its_input_and_output_as_text() -> None:
    history = _history()
    page = _Svg(render_check_html(history, _verdict(history)))
    labels = {e["op"]: e["text"] for e in page.classed("label", "text")}
    assert set(labels) == {str(op.id) for op in history.operations}
    for op in history.operations:
        text = labels[str(op.id)]
        assert text.startswith(op.f), text
        assert "…" not in text  # a small history's labels fit whole
        if op.input is not None:
            assert format_value(op.input) in text
        if op.status == "info":
            assert text.endswith("→ ?")
        elif op.status == "fail":
            assert text.endswith("→ fail condition-failed")
        elif op.f == "read":
            assert text.endswith(f"→ {format_value(op.output)}")
    read_two = next(op for op in history.operations if op.f == "read" and op.output == 2)
    assert labels[str(read_two.id)] == 'read "x" → 2'


def test_the_partial_linearization_is_drawn_in_order_within_the_bars() -> None:
    history = _history()
    verdict = _verdict(history)
    data = verdict.anomalies[0].data
    prefix = [e["op"] for e in data["prefix"]]
    assert len(prefix) == 5
    page = _Svg(render_check_html(history, verdict))
    bars = {e["op"]: e for e in page.classed("bar", "rect")}
    points = page.classed("lin-point", "circle")
    assert [int(p["attrs"]["data-op"]) for p in points] == prefix
    assert [int(p["attrs"]["data-step"]) for p in points] == list(range(1, len(prefix) + 1))
    xs = [float(p["attrs"]["cx"]) for p in points]
    assert xs == sorted(xs)
    for point, x in zip(points, xs, strict=True):
        bar = bars[point["attrs"]["data-op"]]["attrs"]
        assert float(bar["x"]) <= x <= float(bar["x"]) + float(bar["width"])
        state = data["prefix"][int(point["attrs"]["data-step"]) - 1]["state"]
        assert _title(page, point).endswith(f"state after it: {state}")
    (group,) = page.classed("linearization", "g")
    paths = [e for e in page.elements if e["tag"] == "path" and e["op"] is None
             and re.fullmatch(r"M[\d.,]+( L[\d.,]+)+", e["attrs"].get("d", ""))]
    assert len(paths) == 1 and paths[0]["attrs"]["d"].count("L") == len(prefix) - 1
    stuck = str(data["unplaceable"]["op"])
    assert [e["attrs"]["data-op"] for e in page.classed("unplaceable", "g")] == [stuck]
    assert [e["attrs"]["data-op"] for e in page.classed("unplaceable-mark")] == [stuck]
    assert group["attrs"]["class"] == "linearization"


def _title(page: _Svg, element: dict[str, Any]) -> str:
    """The text of ``element``'s ``title`` (its first child)."""
    following = page.elements[page.elements.index(element) + 1]
    assert following["tag"] == "title"
    return str(following["text"])


def test_no_partial_linearization_is_drawn_without_one() -> None:
    history = _history()
    text = timeline_html(history, {}, ident="t")
    page = _Svg(text)
    assert page.classed("lin-point") == [] and page.classed("linearization") == []
    assert page.classed("unplaceable") == []
    assert len(page.classed("label", "text")) == len(history.operations)


def test_the_prefix_is_a_numbered_list_with_states_in_markdown_and_html() -> None:
    history = _history()
    verdict = _verdict(history)
    anomaly = verdict.anomalies[0]
    data = anomaly.data
    lines = prefix_markdown(anomaly)
    numbered = [line.strip() for line in lines if re.match(r"\s+\d+\. ", line)]
    assert len(numbered) == len(data["prefix"])
    for n, (line, entry) in enumerate(zip(numbered, data["prefix"], strict=True), 1):
        assert line.startswith(f"{n}. op {entry['op']}: ")
        assert line.endswith(f"→ {entry['state']}")
    assert any(f"op {data['unplaceable']['op']}" in line and "Cannot be placed" in line
               for line in lines)
    assert any("began (record 12) after op" in line for line in lines)
    lin = partial_linearization(verdict.anomalies)
    assert lin is not None and list(lin.prefix) == [e["op"] for e in data["prefix"]]
    page = render_check_html(history, verdict)
    items = re.findall(r'<ol class="prefix" start="1">(.*?)</ol>', page)
    assert len(items) == 1 and items[0].count("<li>") == len(data["prefix"])
    # the suite's Markdown and HTML reports list it under the anomaly
    outcome = _golden_with(history, verdict)
    markdown = render_markdown(outcome)
    assert "On key 'x': longest linearizable prefix" in markdown
    for n, entry in enumerate(data["prefix"], 1):
        assert f"{n}. op {entry['op']}: " in markdown
    assert '<ol class="prefix" start="1">' in render_html(outcome)


def test_a_long_prefix_lists_its_last_operations_and_the_data_keeps_all() -> None:
    writes = 260
    records = []
    for n in range(writes):
        records += [Record(0, "invoke", "write", n, key="x", index=2 * n),
                    Record(0, "ok", "write", n, key="x", index=2 * n + 1)]
    records += [Record(1, "invoke", "read", None, key="x", index=2 * writes),
                Record(1, "ok", "read", 3, key="x", index=2 * writes + 1)]
    history = pair(records)
    verdict = _verdict(history)
    anomaly = verdict.anomalies[0]
    assert anomaly.data["prefix_length"] == len(anomaly.data["prefix"]) == writes
    assert anomaly.explanation.count(" → ") == SHOWN_PREFIX
    assert f"steps 1 to {writes - SHOWN_PREFIX} left out here" in anomaly.explanation
    lines = prefix_markdown(anomaly)
    numbered = [line.strip() for line in lines if re.match(r"\s+\d+\. ", line)]
    assert len(numbered) == LISTED
    assert numbered[0].startswith(f"{writes - LISTED + 1}. op {writes - LISTED}: ")
    assert numbered[-1].startswith(f"{writes}. op {writes - 1}: write")
    page = render_check_html(history, verdict)
    (body,) = re.findall(rf'<ol class="prefix" start="{writes - LISTED + 1}">(.*?)</ol>', page)
    assert body.count("<li>") == LISTED
    assert len(_Svg(page).classed("lin-point", "circle")) == writes  # all drawn


def _golden_with(history: History, verdict: Verdict) -> Any:
    fixtures = _fixtures()
    outcome = fixtures.GOLDEN_OUTCOME
    store = outcome.stores[0]
    runs = tuple(dataclasses.replace(run, counterexample=dataclasses.replace(
                     run.counterexample, history=history, verdict=verdict))
                 if run.counterexample is not None else run for run in store.properties)
    store = dataclasses.replace(store, properties=runs)
    return dataclasses.replace(outcome, stores=(store, *outcome.stores[1:]))


def _fixtures() -> ModuleType:
    name = "replicheck_report_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DATA / "fixtures.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_check_json_carries_the_account_in_the_anomaly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = []
    for process, type_, f, value, *rest in ROWS:
        record = {"process": process, "type": type_, "f": f, "key": "x", "value": value}
        if rest:
            record["error"] = rest[0]
        lines.append(json.dumps(record))
    path = tmp_path / "stale.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["check", str(path), "--model", "cas-register", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    (anomaly,) = report["anomalies"]
    data = anomaly["data"]
    assert set(data) >= {"key", "key_text", "prefix", "prefix_length", "initial_state",
                         "unplaceable", "pending", "explaining_writes"}
    assert [e["op"] for e in data["prefix"]] == [0, 1, 2, 3, 4]
    assert [e["state"] for e in data["prefix"]][-1] == "{'x': 3}"
    assert all(set(e) == {"op", "operation", "process", "client", "state"}
               for e in data["prefix"])
    assert data["unplaceable"]["op"] == anomaly["ops"][0] == 5
    assert data["unplaceable"]["doomed"] is True
    assert [(w["op"], w["reason"]) for w in data["explaining_writes"]] == [
        (2, "overwritten"), (6, "began-after")]
    assert data["explaining_writes"][0]["by"] == 3
    assert report["counterexample"]["prefix"] == [0, 1, 2, 3, 4]
