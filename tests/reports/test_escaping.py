"""Each escaping function of replicheck.reports.escaping, in its context: rendered by a
real CommonMark renderer (markdown-it-py, raw HTML enabled, GitHub's tables) or parsed
by html.parser, any text comes back as exactly itself (made visible), inside exactly
the element the context puts it in."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from replicheck.reports.escaping import (
    html_attr,
    html_pre,
    html_text,
    md_cell,
    md_code,
    md_code_block,
    md_heading,
    md_strong,
    md_text,
    terminal_line,
    visible,
)

_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


class _Tree(HTMLParser):
    """Start tags (with their attributes) and text of an HTML fragment."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.append(dict(attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.tags.append("!--")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _collapsed(text: str) -> str:
    return " ".join(text.split())


HOSTILE = ["x`y", "``a``", "`", " ` ", "<script>alert(1)</script>", "[a](javascript:x)",
           "[a]: javascript:x", "# h", "## h ##", "#", "> q", "- i", "1. i", "12) i",
           "---", "===", "```", "~~~", "a|b", "\\|", "\\", "&amp;", "&", "*a* _b_",
           "__init__", "a\nb\r\nc", "\x00", "\x1b[0m", "\udc80", "\U0001f600", "<!--",
           "]]>", "\"'", "   ", "  a  ", "a  b", "\t"]
TEXTS = st.text(st.characters(exclude_categories=[]))
"""Any text, lone surrogates included."""


# --- visible and the terminal -------------------------------------------------------

def test_visible_writes_what_cannot_be_encoded_or_seen_as_escapes() -> None:
    assert visible("a\x00b\x1b[0m\x7f\x85\udc80\ud83d\u202e\t\n\r") == (
        "a\\x00b\\x1b[0m\\x7f\\x85\\udc80\\ud83d\\u202e\t\n\r")
    assert visible("é 😀 \U00010348 ordinary") == "é 😀 \U00010348 ordinary"


@given(TEXTS)
def test_visible_always_encodes(text: str) -> None:
    visible(text).encode("utf-8")


def test_terminal_line_is_one_line() -> None:
    assert terminal_line("a\nb\r\x1b[2Jc") == "a\\nb\\r\\x1b[2Jc"


# --- Markdown -----------------------------------------------------------------------

def _paragraph(markdown: str) -> _Tree:
    """The rendered Markdown (without the newline after its last element)."""
    return _Tree(_MD.render(markdown).rstrip("\n"))


@pytest.mark.parametrize("text", HOSTILE)
def test_md_code_shows_exactly_the_text(text: str) -> None:
    _assert_code_span(text)


@given(TEXTS)
def test_md_code_shows_any_text(text: str) -> None:
    _assert_code_span(text)


def _assert_code_span(text: str) -> None:
    tree = _paragraph(f"see {md_code(text)} here")
    assert tree.tags == ["p", "code"]
    expected = re.sub("\r\n|\r|\n", " ", visible(text)) or " "
    assert tree.text == ["see ", expected, " here"]


def test_md_code_fence_outruns_the_longest_backtick_run() -> None:
    assert md_code("a") == "`a`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("a``b`") == "``` a``b` ```"
    assert md_code("") == "` `"


@pytest.mark.parametrize("text", HOSTILE)
def test_md_text_shows_exactly_the_text(text: str) -> None:
    _assert_text(text)


@given(TEXTS)
def test_md_text_shows_any_text(text: str) -> None:
    _assert_text(text)


def _assert_text(text: str) -> None:
    shown = _collapsed(visible(text))
    inline = md_text(text)
    assert "\n" not in inline
    for markdown, expected, tags in ((inline, shown, ["p"]),
                                     (f"a {inline} b", f"a {shown} b", ["p"]),
                                     (f"1. {inline}", shown, ["ol", "li"]),
                                     (f"- {inline}", shown, ["ul", "li"])):
        tree = _paragraph(markdown)
        assert _collapsed("".join(tree.text)) == _collapsed(expected), markdown
        if not expected and tags == ["p"]:
            tags = []  # an empty paragraph is no paragraph
        assert tree.tags == tags, (markdown, tree.tags)


def test_md_text_leaves_ordinary_text_readable() -> None:
    assert md_text("key 'a': put a = 1 -> 2 (op 0), attribute_not_exists(x) [1]") == (
        "key 'a': put a = 1 -> 2 (op 0), attribute_not_exists(x) [1]")
    assert md_text("-1") == "-1"


@given(TEXTS)
def test_md_strong_emphasises_any_text(text: str) -> None:
    strong = md_strong(text)
    tree = _paragraph(f"- {strong} (operations 1): x")
    shown = _collapsed(visible(text))
    if not shown:
        assert strong == ""
        return
    assert tree.tags == ["ul", "li", "strong"]
    assert tree.text[1] == shown or _collapsed(tree.text[1]) == shown


@given(st.lists(TEXTS, min_size=1, max_size=3))
def test_md_cell_keeps_cells_apart(texts: list[str]) -> None:
    cells = [md_cell(md_text(t)) for t in texts] + [md_cell(md_code(t)) for t in texts]
    header = "|" + "|".join(f" h{i} " for i in range(len(cells))) + "|"
    rule = "|" + "|".join("---" for _ in cells) + "|"
    row = "| " + " | ".join(cells) + " |"
    html = _MD.render(f"{header}\n{rule}\n{row}\n")
    tree = _Tree(html)
    assert tree.tags.count("td") == len(cells)
    assert set(tree.tags) <= {"table", "thead", "tbody", "tr", "th", "td", "code"}
    bodies = re.findall(r"<td>(.*?)</td>", html, re.S)
    for body, text in zip(bodies, [*texts, *texts], strict=True):
        assert _collapsed("".join(_Tree(body).text)) == _collapsed(visible(text))


@pytest.mark.parametrize("text", ["ends with #", "#", "a ##  ", "x#"])
def test_md_heading_keeps_trailing_hashes(text: str) -> None:
    tree = _paragraph(md_heading(2, md_text(text)))
    assert tree.tags == ["h2"]
    assert tree.text == [_collapsed(text)]


@given(TEXTS)
def test_md_heading_holds_any_code_span(text: str) -> None:
    tree = _paragraph(md_heading(3, f"Store {md_code(text)}"))
    assert tree.tags == ["h3", "code"]


@given(TEXTS)
def test_md_code_block_holds_any_text(text: str) -> None:
    markdown = "\n".join(md_code_block(text, "python")) + "\n\nafter\n"
    tree = _Tree(_MD.render(markdown))
    assert tree.tags == ["pre", "code", "p"]
    lines = re.split("\r\n|\r|\n", visible(text))
    assert tree.text[0] == "\n".join(lines) + "\n"


# --- HTML ---------------------------------------------------------------------------

@given(TEXTS)
def test_html_text_and_attr_hold_any_text(text: str) -> None:
    page = (f'<p title="{html_attr(text)}" data-x="{html_attr(text)}">{html_text(text)}'
            f"</p><pre>{html_pre(text)}</pre><svg><title>{html_text(text)}</title></svg>")
    tree = _Tree(page)
    assert tree.tags == ["p", "pre", "svg", "title"]
    assert tree.attrs[0] == {"title": visible(text), "data-x": visible(text)}
    pre = "\n" + visible(text)
    assert tree.text == [t for t in (visible(text), pre, visible(text)) if t]


@pytest.mark.parametrize("text", HOSTILE)
def test_html_text_escapes_markup(text: str) -> None:
    assert "<" not in html_text(text) and "&" not in html_text(text).replace("&amp;", "") \
        .replace("&lt;", "").replace("&gt;", "")
    assert '"' not in html_attr(text) and "'" not in html_attr(text)
