"""Jepsen EDN histories: reading and writing.

Reading accepts what Jepsen and the tools around it write:

- one operation map per line (Jepsen's ``history.edn``, porcupine's kv corpus:
  ``{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}``), or a
  top-level vector (or list) of maps, with each map on its line or pretty-printed over
  several lines; ``;`` comments and commas are whitespace; a record literal such as
  ``#jepsen.history.Op{...}`` reads as its map.
- fields: ``:process`` (an integer for a client; anything else, e.g. ``:nemesis``, is a
  fault), ``:type`` (``:invoke`` ``:ok`` ``:fail`` ``:info`` or ``:observe``), ``:f``
  (required for clients; a fault's defaults to ``""``), ``:value``, and optionally
  ``:key``, ``:index`` (defaults to the record's position), ``:time`` (nanoseconds),
  ``:error`` and ``:meta`` (a map). Any other field (e.g. Jepsen's ``:node``) is kept in
  the record's ``meta`` under its name.
- values become Python values that keep their EDN type: keywords ->
  :class:`~replicheck.models.equality.Keyword` (a ``str`` holding the name without the
  colon, equal only to a keyword: ``:a`` is not ``"a"``), strings -> ``str``, symbols
  -> :class:`~replicheck.models.equality.Symbol` (``sym`` is not ``"sym"``), vectors
  and lists -> ``list``, maps -> ``dict``, sets -> ``frozenset``, ``nil`` -> ``None``,
  characters -> :class:`~replicheck.models.equality.Char` (``\\a`` is not ``"a"``),
  ``1.5M`` -> ``Decimal``, ``3N`` ->
  ``int``, ``1/2`` -> ``Fraction``, ``#inst`` -> ``datetime``, ``#uuid`` -> ``UUID``.
  Map keys and set elements that are vectors become tuples (hashable). A ``:key`` that
  is a vector becomes a tuple; one that is a keyword stays a ``Keyword``.
- the structural fields are plain strings whether written as keywords or strings:
  ``:process`` (a fault's name), ``:type``, ``:f``, an ``:error`` that is a keyword,
  and the field names themselves. A micro-operation's function (``:append`` in
  ``[:append :x 1]``) is a ``Keyword`` in the value; checkers compare it by name.
- any layout: one map per line, several maps on a line, maps spread over several
  lines (pretty-printed, as Knossos' and Jepsen's own data files are), or a mixture.
- limits (:mod:`replicheck.histories.formats.limits`): a record nests collections and
  tags at most :data:`~replicheck.histories.history.MAX_NESTING` deep (its own map
  counts as one), integers have at most ``sys.get_int_max_str_digits()`` digits, and
  strings hold no lone surrogate; anything else is an error naming the line.

Jepsen keeps its meaning: ``:fail`` definitely did not happen, and its ``:error`` (e.g.
``:timed-out``) is kept as a plain string (``"timed-out"``).

``jepsen.independent`` histories write each client value as a ``[k v]`` tuple. With
``independent=True`` every client invocation's value must be such a tuple and is split
into ``key`` ``k`` and ``value`` ``v``; a completion whose value is a tuple with the
same ``k`` is split too, and one whose value is not a tuple (an ``:info`` with
``:timed-out``) keeps its value and gets its invocation's key. With
``independent=False`` nothing is split. With ``independent=None`` (the default) the
history is split when it looks independent: no record has an explicit ``:key``, every
client invocation's value is a 2-element vector whose first element is a number or a
string, and the functions are not only ``:cas`` (a history of ``:cas [old new]`` alone
would look the same; pass ``independent=True`` to split one). Once split, an ``:ok``
completion whose value is not a tuple with its invocation's key is an error naming the
line (``lenient``: skipped and noted), never a reason to judge the history unsplit.

Forms are read by :mod:`replicheck.histories.formats.edn_values` (a parser for the
common shape, with fast paths for lines of flat maps, and the ``edn_format`` library for
the rest); this module finds the forms in the history's layout and makes records of
them. Errors are :class:`HistoryError` with the source and the line.

Writing (:func:`dumps_edn`): one map per line, Jepsen style, in the field order
``:process :type :f :key :value :index :time :error :meta`` (``:key``, ``:time``,
``:error`` and ``:meta`` only when set, ``:index`` only when it differs from the
record's position). ``:type``, ``:f``, a string process and a string error are written
as keywords when they are valid keyword names; every other string is written as a
string, and a :class:`~replicheck.models.equality.Keyword` as a keyword. ``Decimal`` is
written as ``1.5M``, sets as ``#{...}``, tuples as vectors; ``bytes`` cannot be written
as EDN.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from replicheck.histories.formats.edn_values import (
    CLOSERS,
    EdnSyntaxError,
    FastPathMiss,
    FormReader,
    edn_string,
    edn_value,
    fast_maps,
    hashable,
    keyword_or_empty,
    parse_edn_value,
    read_form,
    show_edn,
    skip_discarded,
)
from replicheck.histories.formats.independent import split_independent
from replicheck.histories.formats.limits import may_hold_surrogates, refuse_lone_surrogates
from replicheck.histories.history import RECORD_TYPES, HistoryError, Record
from replicheck.models.equality import Char, Keyword, Symbol

__all__ = [
    "EdnSyntaxError",
    "dumps_edn",
    "edn_value",
    "parse_edn_value",
    "read_edn",
    "read_form",
    "record_from_map",
    "split_independent",
]

_EXPECT_RECORD: Final = "expected an operation map like {:process 0, :type :invoke, :f :read}"


# ---------------------------------------------------------------------------------------
# Records


_MISSING: Final = object()
_TYPE_SET: Final = frozenset(RECORD_TYPES)
_KEY_TYPES: Final = frozenset((str, Keyword, Symbol, Char, int, float, tuple, frozenset))
_FIELD_SET: Final = frozenset(
    ("process", "type", "f", "key", "value", "index", "time", "error", "meta"))




def _plain_name(value: Any) -> Any:
    """A keyword as the plain string of its name (structural fields); anything else
    as it is."""
    return str.__str__(value) if type(value) is Keyword else value


def _field_names(m: dict[Any, Any], line: int | None, source: str | None) -> dict[Any, Any]:
    """``m`` with its keyword keys as plain strings (the record's field names)."""
    out = {_plain_name(k): v for k, v in m.items()}
    if len(out) < len(m):
        names = [str(k) for k in m]
        twice = next(n for n in names if names.count(n) > 1)
        raise HistoryError(f"field :{twice} given twice (as a keyword and as a string); "
                           f"{_EXPECT_RECORD}", source=source, line=line)
    return out


def record_from_map(m: Any, position: int, line: int | None, source: str | None
                    ) -> Record:
    """A :class:`Record` from a decoded EDN operation map: field names, ``:process``,
    ``:type``, ``:f`` and a keyword ``:error`` become plain strings; values keep their
    keywords.

    Raises :class:`HistoryError` naming the field and what was expected."""
    if type(m) is not dict:
        kind = "a vector" if isinstance(m, list) else show_edn(m)
        raise HistoryError(f"{_EXPECT_RECORD}, got {kind}", source=source, line=line)
    if not all(type(k) is str for k in m):
        m = _field_names(m, line, source)
    get = m.get
    process = _plain_name(get("process", _MISSING))
    type_ = _plain_name(get("type", _MISSING))
    f = _plain_name(get("f", _MISSING))
    key = get("key")
    index = get("index", position)
    time = get("time")
    if (type(process) is not int or type(f) is not str or type(index) is not int or index < 0
            or type(type_) is not str or type_ not in _TYPE_SET
            or not (key is None or type(key) in _KEY_TYPES)
            or not (time is None or type(time) is int) or "meta" in m):
        process, f, key = _check_fields(m, process, type_, f, key, index, time, line, source)
    meta: dict[str, Any] = {}
    if not m.keys() <= _FIELD_SET or "meta" in m:
        meta.update((str(k), v) for k, v in m.get("meta", {}).items())
        meta.update((str(k), v) for k, v in m.items() if k not in _FIELD_SET)
    return Record(process=process, type=type_, f=f, value=get("value"), key=key,
                  index=index, time=time, error=_plain_name(get("error")), meta=meta,
                  line=line)


def _check_fields(m: dict[Any, Any], process: Any, type_: Any, f: Any, key: Any, index: Any,
                  time: Any, line: int | None, source: str | None) -> tuple[Any, str, Any]:
    """The slow path of :func:`record_from_map`: every check with its message, and the
    process, function and key as the record holds them."""

    def bad(message: str) -> HistoryError:
        return HistoryError(message, source=source, line=line)

    for name, value in (("process", process), ("type", type_)):
        if value is _MISSING:
            raise bad(f"missing field :{name}; {_EXPECT_RECORD}")
    if isinstance(process, bool) or not isinstance(process, int | str):
        raise bad(f"field :process is {show_edn(process)}; expected an integer (a client) or a "
                  "keyword like :nemesis (a fault)")
    if not isinstance(type_, str) or type_ not in _TYPE_SET:
        raise bad(f"field :type is {show_edn(type_)}; expected one of "
                  + ", ".join(f":{t}" for t in RECORD_TYPES))
    is_client = isinstance(process, int)
    if f is _MISSING or (f is None and not is_client):
        if is_client:
            raise bad(f"missing field :f; {_EXPECT_RECORD}")
        f = ""
    elif not isinstance(f, str):
        raise bad(f"field :f is {show_edn(f)}; expected a keyword like :read")
    if isinstance(key, list):
        try:
            key = hashable(key)
        except EdnSyntaxError:
            raise bad(f"field :key is {show_edn(key)}; expected a string, a number or a vector "
                      "of them") from None
    elif isinstance(key, dict):
        raise bad(f"field :key is {show_edn(key)}; expected a string, a number or a vector")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise bad(f"field :index is {show_edn(index)}; expected a non-negative integer")
    if time is not None and (isinstance(time, bool) or not isinstance(time, int)):
        raise bad(f"field :time is {show_edn(time)}; expected an integer (nanoseconds) or nil")
    if "meta" in m and not isinstance(m["meta"], dict):
        raise bad(f"field :meta is {show_edn(m['meta'])}; expected a map")
    return process, str(f), key


def read_edn(text: str, *, source: str | None = None, lenient: bool = False,
             errors: list[HistoryError] | None = None, independent: bool | None = None
             ) -> list[Record]:
    """The records of an EDN history (see the module docstring for the accepted shapes
    and layouts).

    Raises :class:`HistoryError` (source, line, what was expected) for broken EDN or a
    malformed operation. With ``lenient`` a malformed form is skipped and its error
    appended to ``errors``; nothing is raised. The lines a broken form ran over (up to
    where its reader gave up: the end of the text for an unclosed bracket) keep only the
    maps complete on one line, and reading goes on at the next line that starts a map.
    ``independent`` as described in the module docstring."""
    if text.startswith("\ufeff"):
        text = text[1:]
    problems: list[HistoryError] = errors if errors is not None else []
    maps: list[tuple[Any, int]] = []
    _read_forms(text, maps, problems, source, lenient)
    surrogates = may_hold_surrogates(text)
    records: list[Record] = []
    for m, line in maps:
        try:
            if surrogates:
                refuse_lone_surrogates(m, source, line)
            records.append(record_from_map(m, len(records), line, source))
        except HistoryError as error:
            if not lenient:
                raise
            problems.append(error)
    return split_independent(records, independent, source=source, lenient=lenient,
                             errors=problems)



_RESUME: Final = re.compile(r"\n[ \t\r,]*(?=[{#\])])")
"""Where lenient reading goes on after a broken form: the next line that starts a map
(or a record literal, or closes the history's vector)."""


def _line_maps(piece: str, wrapper: _Wrapper) -> list[Any]:
    """The maps complete on one line of a region a broken form ran over (the broken
    form's error stands for the rest of the line); a closing bracket of the history's
    vector closes it."""
    try:
        return fast_maps(piece)
    except FastPathMiss:
        pass
    reader = FormReader(piece)
    maps: list[Any] = []
    pos = reader.skip(0)
    try:
        while pos < len(piece):
            if piece[pos] in ")]}":
                wrapper.closed = wrapper.closed or piece[pos] == wrapper.closer
                pos = reader.skip(pos + 1)
                continue
            value, pos = read_form(piece, pos)
            if type(value) is dict:
                maps.append(value)
            pos = reader.skip(pos)
    except EdnSyntaxError:
        pass
    return maps


class _Wrapper:
    """Whether the history is a top-level vector (or list), and whether it closed."""

    __slots__ = ("closed", "closer", "line")

    def __init__(self) -> None:
        self.closer: str | None = None
        self.closed = False
        self.line = 0


def _read_forms(text: str, out: list[tuple[Any, int]], problems: list[HistoryError],
                source: str | None, lenient: bool) -> None:
    """Read the top-level forms of ``text`` into ``out`` with the line each starts on,
    whatever the layout: a line of complete flat maps takes the fast path, anything
    else (a form spread over lines, unusual syntax) the full reader."""
    reader = FormReader(text)
    wrapper = _Wrapper()
    size = len(text)
    line, counted = 1, 0
    tried_fast = 0  # the last line the fast path was tried on: once a line at most
    pos = reader.skip(0)
    if pos < size and text[pos] in "[(":
        wrapper.closer = CLOSERS[text[pos]]
        line += text.count("\n", 0, pos)
        counted = pos
        wrapper.line = line
        pos = reader.skip(pos + 1)
    while pos < size:
        line += text.count("\n", counted, pos)
        counted = start = pos
        c = text[pos]
        try:
            if wrapper.closed:
                raise EdnSyntaxError(f"unexpected text after the closing {wrapper.closer!r}; "
                                     "expected the end of the history", pos)
            if text.startswith("#_", pos):  # a discarded form: nothing to read
                pos = skip_discarded(text, pos)
                continue
            if c in ")]}":
                if c != wrapper.closer:
                    raise EdnSyntaxError(f"unexpected {c!r}; {_EXPECT_RECORD}", pos)
                wrapper.closed = True
                pos = reader.skip(pos + 1)
                continue
            if tried_fast != line:
                tried_fast = line
                end = text.find("\n", pos)
                end = size if end < 0 else end
                try:
                    out.extend((m, line) for m in fast_maps(text[pos:end]))
                    pos = reader.skip(end)
                    continue
                except FastPathMiss:
                    pass
            value, pos = read_form(text, pos)
            out.append((value, line))
            pos = reader.skip(pos)
        except EdnSyntaxError as error:
            message = error.message
            if not message.startswith("broken EDN"):
                message = f"broken EDN: {message}"
            problem = HistoryError(message, source=source,
                                   line=line + text.count("\n", start, max(start, error.pos)))
            if not lenient:
                raise problem from None
            problems.append(problem)
            # The lines the broken form ran over are read one by one (only maps complete
            # on one line are kept), so that no later form reads them again: reading
            # stays linear in the size of the text however many forms are broken.
            first_line_end = text.find("\n", start)
            reached = text.find("\n", error.reached)
            region_end = size if reached < 0 else reached
            if first_line_end >= 0 and first_line_end < region_end:
                number = line + 1
                for piece in text[first_line_end + 1:region_end].split("\n"):
                    out.extend((m, number) for m in _line_maps(piece, wrapper))
                    number += 1
            resume = _RESUME.search(text, max(start, region_end - 1))
            if resume is None:
                break
            pos = resume.end()
    if wrapper.closer is not None and not wrapper.closed:
        problem = HistoryError(f"broken EDN: the history's opening bracket is never closed; "
                               f"expected {wrapper.closer!r} at the end",
                               source=source, line=wrapper.line)
        if not lenient:
            raise problem
        problems.append(problem)


# ---------------------------------------------------------------------------------------
# Writing


def _name(value: Any) -> str:
    if isinstance(value, str):
        return keyword_or_empty(value) or edn_string(value)
    return edn_value(value)


def dumps_edn(records: Iterable[Record]) -> str:
    """The records as an EDN history, one Jepsen-style map per line (format in the
    module docstring); :func:`read_edn` reads it back to equal records (apart from
    ``line``; tuples come back as lists)."""
    out: list[str] = []
    for position, r in enumerate(records):
        parts = [f":process {_name(r.process)}", f":type {_name(r.type)}",
                 f":f {_name(r.f)}"]
        if r.key is not None:
            parts.append(f":key {edn_value(r.key)}")
        parts.append(f":value {edn_value(r.value)}")
        if r.index != position:
            parts.append(f":index {r.index}")
        if r.time is not None:
            parts.append(f":time {r.time}")
        if r.error is not None:
            parts.append(f":error {_name(r.error)}")
        if r.meta:
            meta = ", ".join(f"{_name(k)} {edn_value(v)}" for k, v in r.meta.items())
            parts.append(f":meta {{{meta}}}")
        out.append("{" + ", ".join(parts) + "}\n")
    return "".join(out)
