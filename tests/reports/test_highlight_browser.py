"""In Chromium, the highlighted bars are exactly the operations the JSON anomalies list:
in a ``check --html`` page of a history ``--lenient`` filtered, and in a verify report
of counterexamples judged on part of their history (strong reads only, the single-item
view). Same browser and skip rules as test_html_browser.py (Debian's chromium and
chromium-driver through selenium; skipped without them, except under CI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from replicheck.reports.cli import main
from replicheck.reports.html import render_html
from replicheck.reports.json_report import suite_to_json
from tests.reports.test_html_browser import _open, browser
from tests.reports.test_report_ids import LENIENT_HISTORY, observed_outcome

__all__ = ["browser"]  # the fixture, shared with test_html_browser.py

HIGHLIGHTED = ("return Array.from(document.querySelectorAll('.timeline')).map(t => "
               "Array.from(t.querySelectorAll('g.op.anomaly'))"
               ".map(g => Number(g.getAttribute('data-op'))).sort((a, b) => a - b))")
TITLES = ("return Array.from(document.querySelectorAll('.timeline g.op.anomaly'))"
          ".map(g => [Number(g.getAttribute('data-op')), g.querySelector('title').textContent])")


def test_check_page_highlights_the_json_anomalies_in_chromium(
        browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "h.jsonl"
    history.write_text(LENIENT_HISTORY)
    page = tmp_path / "check.html"
    assert main(["check", str(history), "--model", "cas-register", "--lenient", "--json",
                 "--html", str(page)]) == 1
    report = json.loads(capsys.readouterr().out)
    named = sorted({i for a in report["anomalies"] for i in a["ops"]})
    log = _open(browser, page)
    assert [e for e in log if e.get("level") == "SEVERE"] == []
    assert browser.execute_script(HIGHLIGHTED) == [named]
    # each highlighted bar is the operation of that invocation index in the file
    functions = ["frob", "write", "cas", "read"]
    for op, title in browser.execute_script(TITLES):
        assert title.startswith(f"op {op} ")
        assert title.splitlines()[1].startswith(functions[op])
    assert "3 of 4 operations checked" in browser.execute_script(
        "return document.body.innerText")


def test_verify_report_highlights_the_json_anomalies_in_chromium(
        browser: Any, tmp_path: Path) -> None:
    outcome = observed_outcome()
    report = suite_to_json(outcome)
    named = [sorted({i for a in o["verdict"]["anomalies"] for i in a["ops"]})
             for s in report["stores"] for o in (*s["violations"], *s["observations"])]
    page = tmp_path / "report.html"
    page.write_text(render_html(outcome), encoding="utf-8")
    log = _open(browser, page)
    assert [e for e in log if e.get("level") == "SEVERE"] == []
    assert browser.execute_script(HIGHLIGHTED) == named == [[1, 2], [1, 2]]
    # the operation numbers in the anomaly list link to the highlighted bars
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('ul.anomalies a'))"
        ".map(a => a.getAttribute('href'))")
    for href in links:
        target = browser.execute_script(
            "return document.getElementById(arguments[0]).getAttribute('class')", href[1:])
        assert "anomaly" in target.split()
