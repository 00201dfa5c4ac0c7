"""Which format a history is in, and reading a history in any format.

:func:`detect` decides by content, from the first line that is neither blank nor a
comment (``#`` or ``;``):

- ``{`` followed by ``"`` (a JSON object): ``jsonl``;
- ``{:``, ``[{`` (but not ``[{"``, a JSON array), ``[`` followed by a keyword, a
  discarded form ``#_`` or ending the line, ``(`` followed by ``{`` or ``#_``, or an EDN
  record literal
  ``#name.Space{``: ``edn``;
- a line containing ``jepsen.util``, or shaped ``PROCESS :type :f ...`` (an integer or
  keyword, then ``:invoke``/``:ok``/``:fail``/``:info``): ``jepsen-log``. Jepsen logs
  often open with other log lines, so when the first line decides nothing, the first 200
  lines are searched for an operation line.

Text with nothing but blank lines and comments is ``jsonl`` (an empty history is valid:
0 operations). Anything else is a :class:`HistoryError` naming the choices.

:func:`read_records`, :func:`loads` and :func:`load` read a history in a named or
detected format (``FORMATS``). The lenient mode's skipped errors: :func:`read_records`
appends them to the ``errors`` list it is given (a caller that passes none loses them);
:func:`loads` and :func:`load` put them, with the pairing's, in ``History.skipped``
ordered by line.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from typing import Final

from replicheck.histories.formats.edn import read_edn
from replicheck.histories.formats.independent import split_independent
from replicheck.histories.formats.jepsen_log import read_jepsen_log
from replicheck.histories.formats.jsonl import read_jsonl
from replicheck.histories.history import (
    JEPSEN,
    REPLICHECK,
    Convention,
    History,
    HistoryError,
    Record,
    pair,
)

__all__ = ["FORMATS", "detect", "load", "loads", "read_records"]

FORMATS: Final = ("jsonl", "edn", "jepsen-log")
"""The history formats replicheck reads, by the names ``--format`` takes."""

_JSON_OBJECT: Final = re.compile(r'\{\s*(?:"|\}\s*$)')
_EDN_START: Final = re.compile(
    r'(?:\{\s*:|\[\s*(?:\{(?!\s*")|:|\]|#_|$)|\(\s*(?:\{|#_)|#[A-Za-z_][\w.-]*\.[A-Z]\w*\{)')
_LOG_OP: Final = re.compile(r"(?:-?[0-9]+|:[^\s:]+)[ \t]+:(?:invoke|ok|fail|info)(?:[ \t]|$)")
_SCAN_LINES: Final = 200
_SCAN_CHARS: Final = 1 << 16
_CHOICES: Final = ("expected one of: jsonl (one JSON object per line), edn (Jepsen EDN maps), "
                   "jepsen-log (Jepsen log lines such as 'INFO  jepsen.util - 3 :invoke :read "
                   "nil'); name the format explicitly")


def detect(text: str) -> str:
    """The format of ``text``: ``"jsonl"``, ``"edn"`` or ``"jepsen-log"`` (rules in the
    module docstring). Raises :class:`HistoryError` naming the choices when the content
    fits none."""
    lines = text[:_SCAN_CHARS].lstrip("\ufeff").split("\n", _SCAN_LINES)[:_SCAN_LINES]
    first: str | None = None
    number = 0
    for number, line in enumerate(lines, 1):  # noqa: B007 - the line is named in errors
        stripped = line.strip()
        if stripped and stripped[0] not in "#;":
            first = stripped
            break
        if stripped.startswith("#") and _EDN_START.match(stripped):
            first = stripped
            break
    if first is None:
        return "jsonl"
    if _JSON_OBJECT.match(first):
        return "jsonl"
    if _EDN_START.match(first):
        return "edn"
    for line in lines:
        stripped = line.strip()
        if "jepsen.util" in stripped or _LOG_OP.match(stripped):
            return "jepsen-log"
    shown = first if len(first) <= 60 else first[:57] + "..."
    raise HistoryError(f"cannot tell the history's format from its first line {shown!r}; "
                       + _CHOICES, line=number)


CONVENTIONS: Final[dict[str, Convention]] = {
    "jsonl": REPLICHECK, "edn": JEPSEN, "jepsen-log": JEPSEN}
"""The meaning of ``fail`` in each format (CONTRACTS.md section 5): Jepsen input keeps
Jepsen's, where a ``fail`` never observed a false condition."""


def _format_of(text: str, format: str | None, source: str | None) -> str:
    try:
        return detect(text) if format is None else format
    except HistoryError as error:
        raise HistoryError(error.message, source=source, line=error.line) from None


def read_records(text: str, format: str | None = None, *, source: str | None = None,
                 lenient: bool = False, errors: list[HistoryError] | None = None,
                 independent: bool | None = None) -> list[Record]:
    """The records of ``text`` in ``format`` (one of ``FORMATS``; detected from the
    content when None), in order.

    Raises :class:`HistoryError` naming ``source``, the line and what was expected. With
    ``lenient`` a malformed line is skipped instead, and its error appended to
    ``errors`` when a list is given; what is still raised then is text that is no
    history at all: a format that cannot be detected, or a non-empty Jepsen log
    without a single operation line. ``independent``
    splits ``jepsen.independent`` ``[k v]`` values into key and value: True always,
    False never, None (default) when an EDN or Jepsen-log history looks independent (see
    :mod:`replicheck.histories.formats.edn`; JSON lines carry an explicit ``key`` and are
    split only with True)."""
    name = _format_of(text, format, source)
    if name == "jsonl":
        records = read_jsonl(text, source=source, lenient=lenient, errors=errors)
        if independent:
            records = split_independent(records, True, source=source, lenient=lenient,
                                        errors=errors)
        return records
    if name == "edn":
        return read_edn(text, source=source, lenient=lenient, errors=errors,
                        independent=independent)
    if name == "jepsen-log":
        return read_jepsen_log(text, source=source, lenient=lenient, errors=errors,
                               independent=independent)
    raise HistoryError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}",
                       source=source)


def loads(text: str, format: str | None = None, *, source: str | None = None,
          lenient: bool = False, independent: bool | None = None) -> History:
    """The paired history of ``text``: :func:`read_records` then
    :func:`~replicheck.histories.history.pair` in the format's convention for ``fail``
    (:data:`CONVENTIONS`). With ``lenient`` the errors of skipped lines and records are
    in ``History.skipped``, ordered by line; text of which every record was skipped is
    no history at all (a HistoryError naming the first problem), never an empty one."""
    problems: list[HistoryError] = []
    name = _format_of(text, format, source)
    records = read_records(text, name, source=source, lenient=lenient, errors=problems,
                           independent=independent)
    if not records and problems:
        first = problems[0]
        raise HistoryError(f"no record could be read ({len(problems)} skipped); the first: "
                           f"{first.message}", source=source, line=first.line)
    history = pair(records, source=source, lenient=lenient, convention=CONVENTIONS[name])
    if not problems:
        return history
    skipped = sorted((*problems, *history.skipped),
                     key=lambda e: (e.line is None, e.line or 0))
    return replace(history, skipped=tuple(skipped))


def load(path: str | os.PathLike[str], format: str | None = None, *, lenient: bool = False,
         independent: bool | None = None) -> History:
    """The paired history in the file at ``path`` (UTF-8), read as :func:`loads` does
    with the path as the source. A missing or unreadable file raises ``OSError``
    (``FileNotFoundError``, ...); text that is not UTF-8 is a :class:`HistoryError`."""
    source = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise HistoryError(f"not UTF-8 text (byte {error.start}: {error.reason}); expected a "
                           "UTF-8 history", source=source, line=line) from None
    return loads(text, format, source=source, lenient=lenient, independent=independent)
