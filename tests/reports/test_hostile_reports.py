"""Reports of stores and histories whose strings are hostile: every string that comes
from a store or a history (descriptor names, targets, property and guarantee names,
keys, values, explanations, process and function names, notes, error messages, file
names) stays text, in the Markdown report (rendered by a real CommonMark renderer,
markdown-it-py, with raw HTML enabled) and in the HTML pages (parsed by html.parser).

The oracle is a twin: the same outcome with every hostile string replaced by a plain
token (ranked like the strings, so every sort keeps its order). Whatever the strings,
the rendered page must have exactly the twin's elements and attributes, and show each
string as its text.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from replicheck.histories.history import History, HistoryError, Operation
from replicheck.histories.verdict import Anomaly, Verdict
from replicheck.models.guarantees import GUARANTEES, MECHANISM_PROMISES
from replicheck.properties.outcomes import (
    Counterexample,
    PropertyRun,
    StoreOutcome,
    SuiteOutcome,
)
from replicheck.reports.html import render_check_html, render_html
from replicheck.reports.json_report import format_value
from replicheck.reports.markdown import render_markdown
from replicheck.reports.text import render_verdict

HOSTILE: tuple[str, ...] = (
    "x`<img src=x onerror=alert(1)>`y",
    "`` <script>alert(1)</script> ``",
    "</script><script>alert(1)</script>",
    "<!-- comment",
    "a --> b",
    "[click](javascript:alert(1))",
    "[x]: javascript:alert(1)",
    "[x]",
    "<javascript:alert(1)>",
    "<https://example.com>",
    "![img](x.png)",
    "# heading",
    "## heading ##",
    "ends with #",
    "> quote",
    "- item",
    "+ item",
    "1. item",
    "2) item",
    "---",
    "===",
    "```",
    "~~~ fence",
    "a | b || c",
    "a \\| b",
    "trailing \\",
    "&amp; &#60; &#x3C; & &lt",
    "*em* _em_ **strong** ~~del~~ __x__",
    "line\nbreak\r\nthree\rfour",
    "tab\there",
    "nul\x00x",
    "esc \x1b[31mred\x1b[0m",
    "lone \udc80 surrogate \ud800",
    "non-BMP \U0001f600 \U00010348",
    "]]> <![CDATA[ x ]]>",
    "\"double' 'single\"",
    "<div onclick=\"alert(1)\">x</div>",
    "<svg onload=alert(1)>",
    "<style>*{}</style>",
    "&",
    "\u202eevil\u202c bidi",
    "   spaced   out   ",
    "<?php ?>",
    "<!DOCTYPE x>",
    *(f"line{c}break" for c in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
)
"""The hostile strings; the last ones hold each character a renderer or a table writer
(tabulate splits a cell with ``str.splitlines``) may read as a line break."""

_KNOWN = frozenset(GUARANTEES + MECHANISM_PROMISES) | {"wr", "rw", "ww", "process",
                                                       "realtime"}


def _visible_text(text: str) -> str:
    """What a reader must see of ``text``, spaces collapsed: controls and lone
    surrogates as their Python escapes."""
    shown = "".join(f"\\x{ord(c):02x}" if (ord(c) < 0x20 and c not in "\t\n\r")
                    or 0x7F <= ord(c) <= 0x9F
                    else f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF
                    or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069
                    else c for c in text)
    return " ".join(shown.split())


class _Structure(HTMLParser):
    """A page's markup: its elements, attribute names, comments and declarations in
    order, and its text (character references decoded) and attribute values."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, ...]] = []
        self.text: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.feed(text)
        self.close()

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> tuple[str, ...]:
        for name, value in attrs:
            self.attributes.append((tag, name, value or ""))
        return tuple(name for name, _ in attrs)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, *self._attrs(tag, attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("startend", tag, *self._attrs(tag, attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_comment(self, data: str) -> None:
        self.events.append(("comment", data))

    def handle_decl(self, decl: str) -> None:
        self.events.append(("decl", decl))

    def handle_pi(self, data: str) -> None:
        self.events.append(("pi", data))

    def unknown_decl(self, data: str) -> None:
        self.events.append(("unknown-decl", data))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def shown(self) -> str:
        """All text and attribute values, spaces collapsed."""
        return " ".join(" ".join([*self.text, *(v for _t, _n, v in self.attributes)])
                        .split())


def _assert_inert(page: _Structure) -> None:
    """No script, no event-handler attribute, no ``javascript:`` link."""
    assert not any(kind in ("start", "startend") and tag == "script"
                   for kind, tag, *_ in page.events)
    for _tag, name, value in page.attributes:
        assert not name.startswith("on"), (name, value)
        if name in ("href", "src", "xlink:href", "action", "formaction"):
            assert not value.strip().lower().startswith("javascript:"), value


def _ranked(strings: Sequence[str]) -> Callable[[str], str]:
    """A plain token per string, in the strings' order."""
    order = {s: f"t{rank:03d}" for rank, s in enumerate(sorted(set(strings)))}
    return order.__getitem__


SLOTS = 34

_VALUES = frozenset({19, 20, 21, 22, 30})
"""The slots of values, which the reports show as JSON (format_value)."""

_MARKDOWN_SHOWS = frozenset(range(28)) - {6, 22, 26}
"""The slots report.md shows (not a cell's reason, an operation's error, the cycle's data,
faults or skipped records)."""

_VERIFY_PAGE_SHOWS = frozenset(range(30)) - {28} | {30, 33}
_CHECK_PAGE_SHOWS = frozenset(range(9, 33)) - {23, 24, 25, 28}


def _slots(strings: Sequence[str]) -> Callable[[int], str]:
    return lambda i: strings[i % len(strings)]


def _twins(strings: Sequence[str]) -> tuple[Callable[[int], str], Callable[[int], str]]:
    token = _ranked(strings)
    hostile = _slots(strings)
    return hostile, (lambda i: token(hostile(i)))


def _fixtures() -> ModuleType:
    name = "replicheck_report_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parent / "data" / "fixtures.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _suite(w: Callable[[int], str]) -> SuiteOutcome:
    return _fixtures().hostile_outcome(w)


def _history(w: Callable[[int], str]) -> History:
    return _fixtures().hostile_history(w)


def _verdict(w: Callable[[int], str]) -> Verdict:
    return _fixtures().hostile_verdict(w)


# --- Markdown ---------------------------------------------------------------------

_COMMONMARK = MarkdownIt("commonmark", {"html": True})
_GITHUB = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _assert_shown(shown: str, w: Callable[[int], str], slots: frozenset[int]) -> None:
    """Each slot's string (a value's as JSON) is in ``shown`` as text."""
    for i in sorted(slots):
        expected = format_value(w(i)) if i in _VALUES else w(i)
        assert _visible_text(expected) in shown, (i, w(i))


def _check_markdown(strings: Sequence[str]) -> None:
    hostile, twin = _twins(strings)
    text = render_markdown(_suite(hostile))
    text.encode("utf-8")  # no lone surrogate left to fail a write
    twin_text = render_markdown(_suite(twin))
    for renderer in (_COMMONMARK, _GITHUB):
        page = _Structure(renderer.render(text))
        _assert_inert(page)
        assert page.events == _Structure(renderer.render(twin_text)).events
    _assert_shown(_Structure(_GITHUB.render(text)).shown(), hostile,
                  _MARKDOWN_SHOWS | {33})


@pytest.mark.parametrize("hostile", HOSTILE)
def test_markdown_report_keeps_a_hostile_string_text(hostile: str) -> None:
    _check_markdown([hostile])


def test_markdown_report_keeps_many_hostile_strings_text() -> None:
    _check_markdown(HOSTILE)
    _check_markdown(HOSTILE[SLOTS:] + HOSTILE[:SLOTS])


def test_descriptor_name_with_backticks_cannot_break_its_code_span() -> None:
    """The store's target in ``## Store `...` ``: a backtick in it used to close the
    span and let raw HTML through."""
    name = "x`<img src=x onerror=alert(1)>`"
    page = _Structure(_COMMONMARK.render(render_markdown(_suite(lambda i: name))))
    assert all(event[1] != "img" for event in page.events)
    assert name in page.shown()


_TEXT = st.text(st.characters(exclude_categories=[]), min_size=1, max_size=20).filter(
    lambda s: bool(_visible_text(s)) and s not in _KNOWN)


@given(st.lists(_TEXT, min_size=1, max_size=6, unique=True))
@example(["0\u2028"])
@example(["\u2029x"])
@example(["a\x85", "b\x0b\x0c", "\x1c\x1d\x1e"])
def test_markdown_report_keeps_any_strings_text(strings: list[str]) -> None:
    _check_markdown(strings)


# --- HTML -------------------------------------------------------------------------

def _check_html(strings: Sequence[str]) -> None:
    hostile, twin = _twins(strings)
    pages = (
        (render_html(_suite(hostile)), render_html(_suite(twin)), _VERIFY_PAGE_SHOWS),
        (render_check_html(_history(hostile), _verdict(hostile), source=hostile(32)),
         render_check_html(_history(twin), _verdict(twin), source=twin(32)),
         _CHECK_PAGE_SHOWS),
    )
    for text, twin_text, slots in pages:
        text.encode("utf-8")
        page = _Structure(text)
        _assert_inert(page)
        assert page.events == _Structure(twin_text).events
        _assert_shown(page.shown(), hostile, slots)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_html_pages_keep_a_hostile_string_text(hostile: str) -> None:
    _check_html([hostile])


def test_html_pages_keep_many_hostile_strings_text() -> None:
    _check_html(HOSTILE)
    _check_html(HOSTILE[SLOTS:] + HOSTILE[:SLOTS])


@given(st.lists(_TEXT, min_size=1, max_size=6, unique=True))
def test_html_pages_keep_any_strings_text(strings: list[str]) -> None:
    _check_html(strings)


# --- text -------------------------------------------------------------------------

@pytest.mark.parametrize("hostile", ["esc \x1b[2J\x1b[31mred", "two\nlines\rback",
                                     "lone \udc80", "\u202eevil"])
def test_terminal_verdict_keeps_each_string_on_its_line(hostile: str) -> None:
    verdict = _verdict(lambda i: hostile)
    text = render_verdict(verdict, source=hostile,
                          skipped=(HistoryError(hostile, line=2),))
    text.encode("utf-8")
    assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F
                   or 0xD800 <= ord(c) <= 0xDFFF or c == "\u202e" for c in text)
    lines = text.split("\n")
    unchanged = render_verdict(_verdict(lambda i: "x"), source="x",
                               skipped=(HistoryError("x", line=2),)).split("\n")
    assert len(lines) == len(unchanged)


def test_reports_show_values_no_renderer_can_write_in_full() -> None:
    """A process or value past Python's int-to-text limit, and a value nested past
    its recursion limit, are shown abbreviated; no renderer raises."""
    huge = 10 ** 5000
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    history = History((Operation(0, huge, "put", huge, deep, None, "ok", call=0, ret=1),
                       Operation(1, 1, "get", huge, None, deep, "ok", call=2, ret=3)))
    verdict = Verdict(False, "kv", ("linearizable",),
                      (Anomaly("not-linearizable", (1,), "stale", {"key": huge}),))
    example = Counterexample("p", "linearizable-strong-reads", "x", history=history,
                             verdict=verdict)
    store = StoreOutcome("s", "s", (), (PropertyRun("p", "failed", counterexample=example),))
    bits = f"&lt;integer of {huge.bit_length()} bits&gt;"
    for page in (render_check_html(history, verdict), render_html(SuiteOutcome("ci", (store,)))):
        assert bits in page and "…" in page
        assert _Structure(page).events  # parses
    text = render_markdown(SuiteOutcome("ci", (store,)))
    assert f"\\<integer of {huge.bit_length()} bits>" in text and "…" in text
