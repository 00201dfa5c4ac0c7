"""How a string from a store or a history is written into a report: one function per
context it lands in, so that it is shown as the text it is and never read as markup.

A report's words come from two places: its own templates, and the stores and histories
it describes (descriptor names, targets, property and guarantee names as given, keys,
values, explanations, process and function names, notes, error messages), which may
hold any text at all. Every string of the second kind goes through the function of the
context it lands in, and through no other:

Markdown (CommonMark, with GitHub's tables)
    :func:`md_text` (inline text: a paragraph, a list item, a heading, a table cell),
    :func:`md_code` (a code span), :func:`md_strong` (strong emphasis),
    :func:`md_cell` (a table cell, around the others), :func:`md_heading` (an ATX
    heading line), :func:`md_code_block` (a fenced code block).
HTML
    :func:`html_text` (text content, also of ``<title>`` and of inline SVG elements),
    :func:`html_attr` (a double-quoted attribute value), :func:`html_pre` (the content
    of a ``<pre>``).
Terminal
    :func:`terminal_line` (a part of one line of plain text).

Each first makes the string :func:`visible` (its text, by :func:`text_of`, which also
writes an integer too long for Python's ``str``): a character that cannot be encoded (a
lone surrogate) or that a terminal or parser would act on unseen (C0 and C1 controls
other than tab and line endings, DEL, bidirectional embeddings, overrides and isolates)
is written as its Python escape (``\\x00``, ``\\udc80``, ``\\u202e``), so that no
renderer or writer raises on it and a reader sees it is there. A literal backslash is
left as it is, so the text ``\\x00`` and the character U+0000 look alike.

The reports embed no script, no style sheet and no JSON built from a history: those
contexts have no function here because nothing lands in them.
"""

from __future__ import annotations

import html
import re
from typing import Final

__all__ = [
    "html_attr",
    "html_pre",
    "html_text",
    "md_cell",
    "md_code",
    "md_code_block",
    "md_heading",
    "md_strong",
    "md_text",
    "terminal_line",
    "text_of",
    "visible",
]

_INVISIBLE: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
"""Lone surrogates, controls other than tab, LF and CR, and bidirectional controls."""

_LINE_BREAKS: Final = re.compile("[\r\n]")
_TERMINAL_ESCAPES: Final = {"\r": "\\r", "\n": "\\n"}
_LINE_ENDING: Final = re.compile("\r\n|\r|\n")
"""A CommonMark line ending (what splits a fenced code block into lines)."""

_ANY_LINE_BREAK: Final = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
"""Every character some renderer or tool reads as a line break: CommonMark's line
endings (LF, CR), and the others ``str.splitlines`` splits on (VT, FF, the file, group
and record separators, NEL, U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR), which
table writers such as tabulate split a cell on. A one-line context (a table cell, a
code span, a heading) writes each as a space, as a renderer shows a line ending."""


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text_of(value: object) -> str:
    """``str(value)``, except for an integer too long for Python to write in decimal
    (past ``sys.get_int_max_str_digits()``, where ``str`` raises): ``<integer of N
    bits>``."""
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:
            return f"<integer of {value.bit_length()} bits>"
    return str(value)


def visible(text: object) -> str:
    """The text of ``text`` (:func:`text_of`) with every lone surrogate, control
    character (other than tab, LF and CR) and bidirectional control written as its
    Python escape (``\\x1b``, ``\\udc80``, ``\\u202e``); every other character as it
    is. The result always encodes as UTF-8."""
    return _INVISIBLE.sub(_escape_char, text_of(text))


def terminal_line(text: object) -> str:
    """``text`` as part of one line a terminal shows as it is: :func:`visible`, with
    CR and LF escaped too (``\\r``, ``\\n``), so the text cannot move the cursor,
    change colours, or forge a line of its own."""
    return _LINE_BREAKS.sub(lambda m: _TERMINAL_ESCAPES[m.group()], visible(text))


# --- Markdown ---------------------------------------------------------------------

_MD_INLINE: Final = re.compile(
    r"[\\`*~<]|\](?=[(\[:])|&(?=#?\w+;)|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
"""What inline Markdown (or the HTML it may embed) would read as markup: backslash,
backtick, asterisk, tilde (GitHub's strikethrough), ``<`` (raw HTML and autolinks), a
``]`` that would close a link's text or a link reference definition's label, an ``&``
that starts an entity, and an underscore at a word's edge, each escaped by a backslash
(CommonMark's escape for any ASCII punctuation: ``\\<->`` renders ``<->``, and the
source reads as the text, where an HTML character reference would read ``&lt;->``).
Other brackets, ``>`` (inline) and an underscore inside a word
(``attribute_not_exists``) stay as they are, so that the Markdown source stays
readable."""

_MD_BLOCK_START: Final = re.compile(r"^(?:#{1,6}(?= |$)|>|[-+](?= |$)|[-= ]+$)")
"""A line start that begins a block: an ATX heading, a block quote, a bullet list item,
a thematic break or a setext underline (``*``, ``_``, backtick and ``~`` are escaped
wherever they are, and leading spaces are gone)."""

_MD_ORDERED: Final = re.compile(r"^(\d{1,9})([.)])(?= |$)")
"""An ordered list item's marker at a line start."""


def md_text(text: object) -> str:
    """``text`` as inline Markdown that renders as exactly that text (with runs of
    whitespace as one space): one line, every markup character escaped, and a start
    that would begin a block (``# ``, ``> ``, ``- ``, ``1. ``, ``---``) escaped, so it
    may also start a paragraph or a list item's content. It may stand anywhere inline
    except in a code span or a link destination, when the character after it is not
    ``(``, ``[`` or ``:`` (a ``]`` it ends with could close a link there). ``|`` is
    left for :func:`md_cell`."""
    escaped = _MD_INLINE.sub(lambda m: "\\" + m.group(), visible(text))
    line = " ".join(escaped.split())
    if _MD_BLOCK_START.match(line):
        return "\\" + line
    return _MD_ORDERED.sub(r"\1\\\2", line, count=1)


def md_code(text: object) -> str:
    """``text`` as a CommonMark code span that shows exactly it: fenced by one backtick
    more than its longest run of backticks, padded with a space on each side when it
    starts or ends with a backtick or a space (the renderer strips one of each), its
    line endings as spaces (as a renderer shows them). The empty text is a span of one
    space. In a table cell, put it through :func:`md_cell` too."""
    content = _ANY_LINE_BREAK.sub(" ", visible(text)) or " "
    fence = "`" * (max((len(run) for run in re.findall("`+", content)), default=0) + 1)
    if content.strip(" ") and (content[0] in "` " or content[-1] in "` "):
        content = f" {content} "
    return f"{fence}{content}{fence}"


def md_strong(text: object) -> str:
    """``text`` in strong emphasis (``**...**``, escaped by :func:`md_text`); the empty
    string for an empty text. Put it between whitespace or punctuation."""
    inline = md_text(text)
    return f"**{inline}**" if inline else ""


def md_cell(inline: str) -> str:
    """A GitHub table cell holding ``inline`` (Markdown already escaped for its inline
    context, e.g. by :func:`md_text` or :func:`md_code`): one line, every ``|`` written
    ``\\|``, which a GitHub-flavoured renderer reads as a pipe of the cell's content,
    also inside a code span."""
    return _ANY_LINE_BREAK.sub(" ", inline).replace("|", "\\|")


_MD_CLOSING_HASHES: Final = re.compile(r"(^|[ \t])(#+[ \t]*)$")


def md_heading(level: int, inline: str) -> str:
    """An ATX heading line of ``level`` (1 to 6) holding ``inline`` (Markdown already
    escaped for its inline context): one line, and a run of ``#`` at its end (which
    the renderer would strip as a closing sequence) escaped."""
    line = _ANY_LINE_BREAK.sub(" ", inline)
    line = _MD_CLOSING_HASHES.sub(r"\1\\\2", line)
    return f"{'#' * level} {line}"


def md_code_block(text: object, info: str = "") -> list[str]:
    """``text`` as the lines of a fenced code block (``info`` names the language): the
    fence is one backtick more than the longest run of backticks in ``text`` (at least
    three), so no line of it closes the block."""
    content = visible(text)
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", content)), default=0) + 1)
    return [f"{fence}{info}", *_LINE_ENDING.split(content), fence]


# --- HTML -------------------------------------------------------------------------


def html_text(text: object) -> str:
    """``text`` as HTML text content: :func:`visible`, with ``&``, ``<`` and ``>``
    written as character references. Right for an element's content, for RCDATA
    (``<title>``) and for text inside inline SVG (where ``<![CDATA[`` would be markup:
    its ``<`` is escaped)."""
    return html.escape(visible(text), quote=False)


def html_attr(text: object) -> str:
    """``text`` as the value of a double-quoted HTML attribute: :func:`html_text`
    with both quotes written as character references too."""
    return html.escape(visible(text), quote=True)


def html_pre(text: object) -> str:
    """``text`` as the content of a ``<pre>``: :func:`html_text` after a newline
    (a parser drops the first newline of a ``<pre>``, so a text that starts with one
    keeps it)."""
    return "\n" + html_text(text)
