"""Every string is escaped once: a report of a recorded item history whose keys and
values hold ``<``, ``>``, ``&``, quotes and text that looks like a character reference
(``&lt;``) shows, as a browser shows it (the HTML parsed by html.parser; the Markdown
rendered by markdown-it, then parsed), exactly the words the report meant: the steps
(``anti-entropy n1 <-> n2``), the explanation, each history table cell and each
timeline hover text. Text escaped twice would show ``&lt;->`` or ``&amp;lt;``."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt

from replicheck.histories.history import History
from replicheck.histories.verdict import Anomaly, Verdict
from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.requests import Get, Put, Update
from replicheck.properties.outcomes import Counterexample, PropertyRun, StoreOutcome, SuiteOutcome
from replicheck.properties.recording import RecordingStore
from replicheck.properties.schedule import describe_step
from replicheck.reports.html import render_html
from replicheck.reports.markdown import render_markdown
from replicheck.reports.naming import Words
from replicheck.reports.timeline import describe_operation

NASTY_KEY = 'k<0> & "q" \'s\' &lt;'
NASTY_VALUE = 'a < b && c > "d" \'e\' &amp; <->'


def _history() -> History:
    rec = RecordingStore(MemoryStore())
    rec.execute(Put("items", {"pk": NASTY_KEY, "v": NASTY_VALUE}), "c<1>&")
    rec.execute(Update("items", {"pk": NASTY_KEY}, "SET #w = :v", "#w <> :v",
                       names={"#w": "w<&>"}, values={":v": NASTY_VALUE}), "c0")
    rec.execute(Get("items", {"pk": NASTY_KEY}, consistent=True), "c0")
    return rec.history()


STEPS = (describe_step({"anti_entropy": ["n1", "n2", "items"]}),
         f'c0 submits PutItem "{NASTY_KEY}" & <b>bold</b> &amp; &#60;')
EXPLANATION = f"On key {NASTY_KEY}: {NASTY_VALUE} 'x' \"y\" &lt;-> &#x3C;"


def _outcome(history: History) -> SuiteOutcome:
    verdict = Verdict(False, "item", ("linearizable",),
                      (Anomaly("not-linearizable", (2,), EXPLANATION, {}),))
    example = Counterexample("p", "linearizable-strong-reads", EXPLANATION, steps=STEPS,
                             history=history, verdict=verdict)
    store = StoreOutcome("s", "s", (), (PropertyRun("p", "failed", counterexample=example),))
    return SuiteOutcome("ci", (store,))


class _Visible(HTMLParser):
    """What a browser shows: the text of each list item, paragraph and table cell,
    and each hover text (``<title>`` in the body and ``title`` attributes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.blocks: list[str] = []
        self.titles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(tag)
        if tag in ("li", "p", "td", "title"):
            self.blocks.append("")
        self.titles += [v for k, v in attrs if k == "title" and v is not None]

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop() != tag:
            pass
        if tag == "title" and self.blocks:
            self.titles.append(self.blocks.pop())

    def handle_data(self, data: str) -> None:
        if self.blocks and any(t in self.stack for t in ("li", "p", "td", "title")):
            self.blocks[-1] += data


def _visible(html: str) -> _Visible:
    page = _Visible()
    page.feed(html)
    page.close()
    return page


def _expected(history: History) -> list[str]:
    words = Words(history)
    cells = []
    for op in history.operations:
        cells += [words.client(op), words.key(op), words.request(op), words.answer(op)]
    return cells


def test_the_html_report_shows_every_string_as_itself() -> None:
    history = _history()
    page = _visible(render_html(_outcome(history)))
    for step in STEPS:
        assert step in page.blocks
    assert EXPLANATION in page.blocks
    for cell in _expected(history):
        assert cell in page.blocks, cell
    assert NASTY_KEY in " ".join(page.blocks)
    for op in history.operations:
        hover = describe_operation(op, Words(history).schemas)
        assert any(t.startswith(hover) for t in page.titles), hover


def test_the_markdown_report_renders_every_string_as_itself() -> None:
    history = _history()
    source = render_markdown(_outcome(history))
    # the source is read raw too: a backslash escape, not an HTML character reference
    assert "1. anti-entropy n1 \\<-> n2 on items\n" in source
    assert re.search(r"(?<!\\)&lt;", source) is None  # only the text's own, escaped
    rendered = MarkdownIt("commonmark", {"html": True}).enable(["table"]).render(source)
    page = _visible(rendered)
    for step in STEPS:
        assert step in page.blocks
    assert EXPLANATION in page.blocks
    for cell in _expected(history):
        assert cell in page.blocks, cell
