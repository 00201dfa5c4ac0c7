"""The HTML reports in a real browser: Debian's chromium, headless, through selenium.

Each page loads without a SEVERE console entry, shows one timeline row per client
process, and renders to a non-empty screenshot (saved under pytest's tmp path, or in
$REPLICHECK_SCREENSHOTS when set). Pages (and report.md rendered by markdown-it-py)
of stores and histories whose strings try to run a script run none. Without chromium
and chromedriver the tests skip, except under CI (the ``CI`` environment variable),
where they must run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from markdown_it import MarkdownIt

from replicheck.reports.html import render_check_html, render_html
from replicheck.reports.markdown import render_markdown

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


def _browser_paths() -> tuple[str | None, str | None]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return chromium, driver


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium, driver_path = _browser_paths()
    missing = [n for n, p in (("chromium", chromium), ("chromedriver", driver_path)) if not p]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package")
    if missing:
        what = ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but this is missing: {what} (.ci/run installs chromium, "
                        "chromium-driver and the dev extra's selenium)")
        pytest.skip(f"{what} not installed (apt-get install chromium chromium-driver; "
                    "pip install selenium); under CI this test runs")
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    assert chromium is not None and driver_path is not None
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot_dir(tmp_path: Path) -> Path:
    chosen = os.environ.get("REPLICHECK_SCREENSHOTS")
    out = Path(chosen) if chosen else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    return out


def _open(browser: Any, page: Path) -> list[dict[str, Any]]:
    browser.get_log("browser")  # drop entries of earlier pages
    browser.get(page.resolve().as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    return list(browser.get_log("browser"))


def _full_screenshot(browser: Any, path: Path) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(max(int(height) + 40, 600), 8000))
    browser.save_screenshot(str(path))
    browser.set_window_size(1400, 1000)


def _rows_per_timeline(browser: Any) -> list[list[str]]:
    script = ("return Array.from(document.querySelectorAll('.timeline')).map(t => "
              "Array.from(t.querySelectorAll('g[data-process]')).map("
              "g => g.getAttribute('data-process')))")
    return [list(rows) for rows in browser.execute_script(script)]


def test_golden_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    outcome = _fixtures().GOLDEN_OUTCOME
    page = tmp_path / "report.html"
    page.write_text(render_html(outcome), encoding="utf-8")
    log = _open(browser, page)
    assert [e for e in log if e.get("level") == "SEVERE"] == []
    examples = [c for s in outcome.stores for c in (*s.violations, *s.observations)
                if c.history is not None]
    rows = _rows_per_timeline(browser)
    assert len(rows) == len(examples)
    for shown, example in zip(rows, examples, strict=True):
        expected = sorted({str(op.process) for op in example.history.operations})
        assert sorted(shown) == expected
    highlighted = browser.execute_script(
        "return Array.from(document.querySelectorAll('.timeline g.op.anomaly'))"
        ".map(g => g.getAttribute('data-op'))")
    assert sorted(highlighted) == ["0", "1", "4"]
    assert browser.execute_script(
        "return document.querySelectorAll('svg.cycle-graph g.node').length") == 2
    shot = _screenshot_dir(tmp_path) / "golden-report.png"
    _full_screenshot(browser, shot)
    assert shot.stat().st_size > 1000


def test_thousand_operation_check_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    fixtures = _fixtures()
    history = fixtures.long_history(1000)
    page = tmp_path / "check.html"
    page.write_text(render_check_html(history, fixtures.long_verdict(history),
                                      source="long-history.jsonl"), encoding="utf-8")
    log = _open(browser, page)
    assert [e for e in log if e.get("level") == "SEVERE"] == []
    (rows,) = _rows_per_timeline(browser)
    assert sorted(rows) == sorted({str(op.process) for op in history.operations})
    bars = browser.execute_script("return document.querySelectorAll('g.op').length")
    assert bars == len(history.operations) == 1000
    # the page itself never scrolls sideways: the timeline scrolls in its own box
    page_width, scroll_width, box_width = browser.execute_script(
        "const s = document.querySelector('.timeline .scroll');"
        "return [document.documentElement.scrollWidth, s.scrollWidth, s.clientWidth]")
    assert page_width <= 1400
    assert scroll_width > box_width
    shot = _screenshot_dir(tmp_path) / "thousand-operations.png"
    _full_screenshot(browser, shot)
    assert shot.stat().st_size > 1000
    # an anomaly's operation number links to its bar: following it scrolls the timeline
    scrolled = "return document.querySelector('.timeline .scroll').scrollLeft"
    assert browser.execute_script(scrolled) == 0
    browser.find_element("css selector", 'a[href="#tl1-op500"]').click()
    assert browser.execute_script(scrolled) > 0


PAYLOADS = (
    "x`<img src=x onerror=\"window.ran=(window.ran||0)+1\">`y",
    "</title></code><script>window.ran=(window.ran||0)+1</script>",
    "\"><svg onload=\"window.ran=(window.ran||0)+1\">",
    "'><img src=x onerror='window.ran=(window.ran||0)+1'>",
    "<!--<img src=x onerror=\"window.ran=(window.ran||0)+1\">-->",
    "]]><iframe srcdoc=\"<script>parent.ran=(parent.ran||0)+1</script>\"></iframe>",
    "\udc80<style>body{display:none}</style>",
)


def test_hostile_strings_run_no_script_in_chromium(browser: Any, tmp_path: Path) -> None:
    """The strings of a store and a history that try to run a script (the symptom:
    a descriptor name with a backtick ran one in report.md rendered by a CommonMark
    renderer) run none, in the verify page, the check page and report.md."""
    fixtures = _fixtures()

    def word(i: int) -> str:
        return PAYLOADS[i % len(PAYLOADS)]

    outcome = fixtures.hostile_outcome(word)
    markdown = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    pages = {
        "verify.html": render_html(outcome),
        "check.html": render_check_html(fixtures.hostile_history(word),
                                        fixtures.hostile_verdict(word), source=word(32)),
        "report-md.html": ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
                           "<title>report.md</title></head><body>"
                           + markdown.render(render_markdown(outcome)) + "</body></html>"),
    }
    for name, text in pages.items():
        page = tmp_path / name
        page.write_text(text, encoding="utf-8")
        _open(browser, page)
        ran = browser.execute_script(
            "return [window.ran || 0, document.scripts.length, "
            "document.querySelectorAll('iframe, img, [onload], [onerror]').length, "
            "getComputedStyle(document.body).display]")
        assert ran == [0, 0, 0, "block"], name
        assert "window.ran" in browser.execute_script("return document.body.innerText"), name
