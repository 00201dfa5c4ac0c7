"""In Chromium, a failed linearizability check's page shows its partial linearization:
every bar's label (input and output) is drawn whole within its bar, and each
linearization point sits on its operation's bar, in prefix order. Same browser and skip
rules as test_html_browser.py (Debian's chromium and chromium-driver through selenium;
skipped without them, except under CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from replicheck.reports.html import render_check_html
from tests.reports.test_html_browser import _full_screenshot, _open, _screenshot_dir, browser
from tests.reports.test_report_linearization import _history, _verdict

__all__ = ["browser"]  # the fixture, shared with test_html_browser.py

LABELS = ("return Array.from(document.querySelectorAll('.timeline g.op')).map(g => {"
          "const bar = g.querySelector('rect.bar').getBoundingClientRect();"
          "const text = g.querySelector('text.label');"
          "if (!text) return [g.getAttribute('data-op'), null];"
          "const box = text.getBoundingClientRect();"
          "return [g.getAttribute('data-op'), text.textContent,"
          " box.left >= bar.left && box.right <= bar.right && box.width > 0]})")
POINTS = ("return Array.from(document.querySelectorAll('.timeline circle.lin-point')).map(c => {"
          "const op = c.getAttribute('data-op');"
          "const bar = document.querySelector('.timeline g.op[data-op=\"' + op + '\"] rect.bar')"
          ".getBoundingClientRect();"
          "const p = c.getBoundingClientRect(); const x = (p.left + p.right) / 2;"
          "return [Number(op), x, x >= bar.left && x <= bar.right]})")


def test_labels_and_linearization_points_in_chromium(browser: Any, tmp_path: Path) -> None:
    history = _history()
    verdict = _verdict(history)
    page = tmp_path / "check.html"
    page.write_text(render_check_html(history, verdict, source="stale.jsonl"),
                    encoding="utf-8")
    log = _open(browser, page)
    assert [e for e in log if e.get("level") == "SEVERE"] == []
    labels = browser.execute_script(LABELS)
    assert len(labels) == len(history.operations)
    for op, text, inside in labels:
        assert text is not None and "…" not in text, (op, text)
        assert inside, (op, text)  # drawn whole within its bar
    prefix = [e["op"] for e in verdict.anomalies[0].data["prefix"]]
    points = browser.execute_script(POINTS)
    assert [op for op, _x, _inside in points] == prefix
    assert all(inside for _op, _x, inside in points)
    xs = [x for _op, x, _inside in points]
    assert xs == sorted(xs)
    shot = _screenshot_dir(tmp_path) / "partial-linearization.png"
    _full_screenshot(browser, shot)
    assert shot.stat().st_size > 1000
