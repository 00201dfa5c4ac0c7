"""Jepsen text logs (``jepsen.log``, porcupine's ``etcd_NNN.log``): reading only.

An operation line is what ``jepsen.util/log-op`` prints, after any logger prefix that
ends in ``jepsen.util - ``::

    INFO  jepsen.util - 3	:invoke	:cas	[3 0]
    INFO  jepsen.util - 3	:info	:cas	:timed-out
    INFO  jepsen.util - :nemesis	:info	:start	"Cut off ..."

that is PROCESS TYPE F VALUE [ERROR], separated by tabs or by runs of spaces. PROCESS is
an integer (a client) or a keyword such as ``:nemesis`` (a fault, kept for reports);
TYPE is ``:invoke``, ``:ok``, ``:fail`` or ``:info``; F a keyword; VALUE an EDN value
(``nil``, ``3``, ``[3 0]``, ...; read as in :mod:`replicheck.histories.formats.edn`);
ERROR, when present, the rest of the line (an EDN keyword or string becomes its text,
anything else is kept as written). On a ``:fail`` or ``:info`` line whose value is a
keyword and that has no error field (``:info :write :timed-out``), the keyword is the
error and the value is ``nil``.

A line is an operation line when, after the prefix (or from its start, when it has
none), its first field is followed by a TYPE keyword, or its first field is a process
(an integer or a keyword) followed by any keyword (``3 :okk :read nil`` is a broken
operation line, not noise). Every other line is log noise and skipped silently; an
operation line that is broken (a bad process, an unknown type, no function, no value
or a value that is not EDN) is a :class:`HistoryError` naming the line, or skipped with
``lenient`` (the error is kept, and the verdict notes it). A log that is not empty
(some line is neither blank nor starts with ``#``) yet has no operation line at all is
not a Jepsen log: a :class:`HistoryError`, even with ``lenient``; a log of blank and
``#`` lines only is an empty history.

Values are read as in :mod:`replicheck.histories.formats.edn`: keywords inside a value
are :class:`~replicheck.models.equality.Keyword` values (``:a`` is not ``"a"``), the
process, type, function and a keyword error are plain strings, and the same limits
hold (nesting, digits, lone surrogates).

Jepsen's meaning is kept: ``:fail`` definitely did not happen (``error`` holds e.g.
``"timed-out"``); ``:info`` is indeterminate; an operation still pending at the end of
the log is indeterminate too (pairing treats a missing completion as ``info``).
Records are indexed in line order; the log carries no usable time.
``jepsen.independent`` ``[k v]`` values are split as described in the EDN module.
"""

from __future__ import annotations

import re
from typing import Any, Final

from replicheck.histories.formats.edn_values import EdnSyntaxError, parse_edn_value, read_form
from replicheck.histories.formats.independent import split_independent
from replicheck.histories.formats.limits import (
    digits_expected,
    may_hold_surrogates,
    refuse_lone_surrogates,
)
from replicheck.histories.history import FAIL, INFO, INVOKE, OK, HistoryError, Record
from replicheck.models.equality import Keyword

__all__ = ["read_jepsen_log"]

_MARKER: Final = re.compile(r"jepsen\.util\s+-\s+")
_HEAD: Final = re.compile(r"[ \t]*(\S+)[ \t]+:(\S+)(?=[ \t\r]|$)")
_TYPES: Final = (INVOKE, OK, FAIL, INFO)
_PROCESS: Final = re.compile(r"-?[0-9]+|:[^\s\[\](){}\"\\;,:]\S*")
_EMPTY: Final = re.compile(r"[ \t\r]*(?:#[^\n]*)?(?:\n[ \t\r]*(?:#[^\n]*)?)*")
_FIELD: Final = re.compile(r"[ \t]+(\S+)")
_PROCESS_INT: Final = re.compile(r"-?[0-9]+")
_NAME: Final = re.compile(r":?([^\s\[\](){}\"\\#^;,0-9:][^\s\[\](){}\"\\;,]*)")
_SHAPE: Final = "expected PROCESS TYPE F VALUE, e.g. 3 :invoke :cas [3 0]"


def read_jepsen_log(text: str, *, source: str | None = None, lenient: bool = False,
                    errors: list[HistoryError] | None = None,
                    independent: bool | None = None) -> list[Record]:
    """The records of the operation lines of a Jepsen log (format in the module
    docstring); other lines are skipped.

    Raises :class:`HistoryError` (source, line, what was expected) for a broken operation
    line; with ``lenient`` the line is skipped and its error appended to ``errors``."""
    records: list[Record] = []
    problems: list[HistoryError] = errors if errors is not None else []
    operation_lines = 0
    surrogates = may_hold_surrogates(text)
    for number, line in enumerate(text.split("\n"), 1):
        marker = _MARKER.search(line)
        head = _HEAD.match(line, marker.end() if marker else 0)
        if head is None or not (head.group(2) in _TYPES or _PROCESS.fullmatch(head.group(1))):
            continue
        operation_lines += 1
        try:
            record = _operation(line, head, len(records), number, source)
            if surrogates:
                refuse_lone_surrogates((record.process, record.f, record.value, record.error),
                                       source, number)
            records.append(record)
        except HistoryError as error:
            if not lenient:
                raise
            problems.append(error)
    if operation_lines == 0 and not _EMPTY.fullmatch(text):
        number = 1 + text.count("\n", 0, _EMPTY.match(text).end())  # type: ignore[union-attr]
        raise HistoryError("no operation line in this log; expected Jepsen operation lines "
                           "such as 'INFO  jepsen.util - 3 :invoke :read nil' (PROCESS TYPE F "
                           "VALUE), or only blank and # lines for an empty history",
                           source=source, line=number)
    return split_independent(records, independent, source=source, lenient=lenient,
                             errors=problems)


def _operation(line: str, head: re.Match[str], position: int, number: int,
               source: str | None) -> Record:
    def bad(message: str) -> HistoryError:
        return HistoryError(message, source=source, line=number)

    process_text, type_ = head.groups()
    process: int | str
    if type_ not in _TYPES:
        raise bad(f"type :{type_} is not one of "
                  + ", ".join(f":{t}" for t in _TYPES) + f"; {_SHAPE}")
    if _PROCESS_INT.fullmatch(process_text):
        try:
            process = int(process_text)
        except ValueError:
            raise bad(f"process: {digits_expected(len(process_text.lstrip('-')))}") from None
    else:
        name = _NAME.fullmatch(process_text)
        if name is None or not process_text.startswith(":"):
            raise bad(f"process {process_text!r} is neither an integer (a client) nor a "
                      f"keyword such as :nemesis (a fault); {_SHAPE}")
        process = name.group(1)
    field = _FIELD.match(line, head.end())
    if field is None:
        raise bad(f"missing the function after :{type_}; {_SHAPE}")
    f_name = _NAME.fullmatch(field.group(1))
    if f_name is None:
        raise bad(f"function {field.group(1)!r} is not a keyword such as :read; {_SHAPE}")
    f = f_name.group(1)
    start = field.end()
    try:
        value, end = read_form(line, start)
    except EdnSyntaxError as error:
        if not line[start:].strip():
            raise bad(f"missing the value after :{type_} :{f} (nil when there is none); "
                      f"{_SHAPE}") from None
        raise bad(f"broken value after :{type_} :{f}: {error.message}") from None
    rest = line[end:].strip()
    error_field: Any = None
    if rest:
        try:
            error_field = parse_edn_value(rest)
        except EdnSyntaxError:
            error_field = rest
    elif type_ in (FAIL, INFO) and type(value) is Keyword:
        error_field, value = value, None
    if type(error_field) is Keyword:
        error_field = error_field.name
    return Record(process=process, type=type_, f=f, value=value, index=position,
                  error=error_field, line=number)

