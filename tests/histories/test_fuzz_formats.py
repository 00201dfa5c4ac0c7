"""Fuzzing the history readers: whatever the text, reading it gives a history or a
HistoryError, never another exception, and a history read passes back through its
writer.

Each format gets well-formed histories (generated records, written by the format's
writer or, for Jepsen logs, as ``jepsen.util`` lines) and broken ones (the same texts
mutated: truncated, cut, lines duplicated or swapped, indexes swapped for others up to
10^30, types misspelt, and snippets inserted that once crashed a reader: deep nesting,
chains of tags, integers past Python's digit limit, lone surrogates, signalling NaNs,
odd characters). The crashers found this way are kept as files under
``data/malformed/`` and checked, through ``load`` and ``replicheck check``, at the
bottom of this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.formats import dumps_edn, dumps_jsonl, load, loads, read_records
from replicheck.histories.formats.edn import edn_value
from replicheck.histories.formats.limits import lone_surrogate
from replicheck.histories.history import History, HistoryError, Record
from replicheck.models.equality import Keyword, value_key
from replicheck.reports.cli import main

DATA = Path(__file__).parent / "data" / "malformed"

# ------------------------------------------------------------------------------------
# Well-formed histories

names = st.from_regex(r"[a-z][a-z0-9?!*-]{0,5}", fullmatch=True)
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6))
hashables = st.recursive(st.none() | st.integers() | st.text(max_size=4)
                         | names.map(Keyword),
                         lambda inner: st.lists(inner, max_size=2).map(tuple), max_leaves=3)
json_values = st.recursive(  # with what the writer tags: decimals, bytes, sets, keywords
    scalars | st.decimals() | st.binary(max_size=3) | names.map(Keyword)
    | st.frozensets(hashables, max_size=3),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4) | hashables, inner, max_size=3), max_leaves=8)
edn_values = st.recursive(
    scalars | names.map(Keyword) | st.frozensets(hashables, max_size=3)
    | st.decimals(allow_nan=False, allow_infinity=False) | st.fractions(),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(hashables, inner, max_size=3), max_leaves=8)
FUNCTIONS = ("read", "write", "cas", "txn", "append")


@st.composite
def histories(draw: st.DrawFn, values: st.SearchStrategy[Any], explicit_index: bool
              ) -> list[Record]:
    """Records of a few clients (and now and then a nemesis), each invocation followed
    sooner or later by its completion, with explicit indexes when asked; keyed or not."""
    keys = draw(st.none() | st.just(hashables))
    records: list[Record] = []
    pending: dict[int, str] = {}
    for _ in range(draw(st.integers(0, 8))):
        process = draw(st.integers(0, 3))
        if draw(st.integers(0, 9)) == 0:
            records.append(Record("nemesis", "info", "start", draw(values)))
        elif process in pending:
            records.append(Record(process, draw(st.sampled_from(("ok", "fail", "info"))),
                                  pending.pop(process), draw(values)))
        else:
            pending[process] = draw(st.sampled_from(FUNCTIONS))
            records.append(Record(process, "invoke", pending[process], draw(values)))
    return [Record(r.process, r.type, r.f, r.value, index=10 * i + 3 if explicit_index else i,
                   key=None if keys is None else draw(keys))
            for i, r in enumerate(records)]


def log_text(records: Iterable[Record]) -> str:
    """Records as Jepsen log lines (``jepsen.util/log-op``), with log noise around."""
    lines = ["2017-06-28 17:22:31,476{GMT}\tINFO\t[main] jepsen.core - Running test"]
    for r in records:
        process = r.process if isinstance(r.process, int) else f":{r.process}"
        lines.append(f"INFO  jepsen.util - {process}\t:{r.type}\t:{r.f}\t{edn_value(r.value)}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------
# Mutations

SNIPPETS = [
    "[" * 3000, "]" * 50, "{" * 2000, "(" * 1500, "#{" * 1200, "#a " * 3000, "#_ " * 2000,
    "^:m " * 2000, '{"$set": [' * 1000, '{"$decimal": "sNaN"}', '{"$decimal": 1}',
    '{"$map": [[{}, 1]]}', '{"$set": [{}]}', '{"$bytes": "!"}', '{"$keyword": ""}',
    "7" * 5000, "-" + "7" * 4400, "1e9999999999999999999M",
    '{"$decimal": "1e-9999999999999999999"}', "7" * 4400 + "N", "7" * 4400 + ".5", "1e999999",
    '"\\ud800"', '"\\udfff\\ud800"', "\ud800", "\\uD800", '"\\u00"', "\x00", "\t", "\r",
    "\n", "\ufeff", "\u2028", "é", "|", ";", "#", ":", "::a", ":okk", '"okk"', "nil",
    "##NaN", "##Inf", "sNaNM", "1.5M", "1/0", "1/2", "0x10", "08", "\\c", "\\", '"', ",",
    '#inst "x"', '#inst "2020-01-01T00:00:00Z"', '#uuid "x"', "#{1 1}", "{:a 1 :a 2}",
    "#jepsen.history.Op{", ":process", '"index": -1', ":index -1", '"index": 1e3',
    ":f 3", ":type :begin", '"meta": 1', ":meta 1", ":key {:a 1}", "[" * 99 + "]" * 99,
    ":key [{:a 1}]", '"key": [{"a": 1}]', '"key": {"$map": []}', ":a/b/c", "::a", ":a/",
]


@st.composite
def mutated(draw: st.DrawFn, text: str, fmt: str) -> str:
    """``text`` with 0 to 3 mutations (0: left well-formed)."""
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(("truncate", "insert", "insert", "delete", "lines",
                                     "index", "type", "characters")))
        pos = draw(st.integers(0, len(text)))
        if kind == "truncate":
            text = text[:pos]
        elif kind == "insert":
            text = text[:pos] + draw(st.sampled_from(SNIPPETS)) + text[pos:]
        elif kind == "characters":
            text = text[:pos] + draw(st.text(max_size=4)) + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)):]
        elif kind == "lines":
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if draw(st.booleans()):
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif kind == "index":
            pattern = r'("index": |:index )\d+' if fmt != "jepsen-log" else r"\t\d+\t"
            matches = list(re.finditer(pattern, text))
            if matches:
                m = draw(st.sampled_from(matches))
                number = draw(st.integers(0, 40) | st.sampled_from([10**9, 10**30]))
                new = f"{m.group(1)}{number}" if fmt != "jepsen-log" else f"\t{number}\t"
                text = text[:m.start()] + new + text[m.end():]
        else:
            old = draw(st.sampled_from(('"ok"', ":ok", '"invoke"', ":invoke", ":fail")))
            new = draw(st.sampled_from(('"okk"', ":okk", '"begin"', ":inv", "", ":ok")))
            text = text.replace(old, new, 1)
    return text


# ------------------------------------------------------------------------------------
# The property


def usable(history: History) -> None:
    """What later stages do with values works: equality keys, hashing, printing, UTF-8."""
    for op in history.operations:
        for value in (op.input, op.output, op.error, op.key):
            value_key(value)
            assert lone_surrogate(value) is None
            repr(value).encode("utf-8")
        hash(op.key)
        assert op.ret is None or op.ret >= op.call


def reads_or_refuses(text: str, fmt: str) -> list[Record] | None:
    """Read ``text`` every way the command line can (named or detected format, strict
    or lenient): a history or a HistoryError with a line inside the text; the records
    of the strict read in the named format, or None when refused."""
    lines = text.count("\n") + 1
    for name in (fmt, None):
        for lenient in (False, True):
            try:
                history = loads(text, name, source="fuzz", lenient=lenient)
            except HistoryError as error:
                assert error.source == "fuzz"
                assert error.line is None or 1 <= error.line <= lines
                continue
            usable(history)
            for skipped in history.skipped:
                assert skipped.line is None or 1 <= skipped.line <= lines
    try:
        return read_records(text, fmt, independent=False)
    except HistoryError:
        return None


def passes_back(records: list[Record], write: Callable[[list[Record]], str], fmt: str
                ) -> None:
    """A read history written and read again is written the same (text compared, so
    that NaN counts as itself)."""
    try:
        once = write(records)
    except HistoryError as error:  # a value the writer documents it cannot hold
        assert "cannot write" in str(error)
        return
    once.encode("utf-8")
    again = read_records(once, fmt, independent=False)
    assert write(again) == once
    assert [(r.process, r.type, r.f, r.index) for r in again] == [
        (r.process, r.type, r.f, r.index) for r in records]


@given(st.data(), st.booleans())
def test_json_lines_read_or_refuse(data: st.DataObject, explicit: bool) -> None:
    text = data.draw(histories(json_values, explicit).map(dumps_jsonl)
                     .flatmap(lambda t: mutated(t, "jsonl")))
    records = reads_or_refuses(text, "jsonl")
    if records is not None:
        passes_back(records, dumps_jsonl, "jsonl")


@given(st.data(), st.booleans())
def test_edn_reads_or_refuses(data: st.DataObject, explicit: bool) -> None:
    layout = data.draw(st.sampled_from(("lines", "vector", "spread")))
    text = data.draw(histories(edn_values, explicit).map(lambda r: edn_layout(r, layout))
                     .flatmap(lambda t: mutated(t, "edn")))
    records = reads_or_refuses(text, "edn")
    if records is not None:
        passes_back(records, dumps_edn, "edn")


@given(st.data())
def test_jepsen_logs_read_or_refuse(data: st.DataObject) -> None:
    text = data.draw(histories(edn_values, False).map(log_text)
                     .flatmap(lambda t: mutated(t, "jepsen-log")))
    records = reads_or_refuses(text, "jepsen-log")
    if records is not None:  # a log has no writer: its records pass through EDN
        passes_back(records, dumps_edn, "edn")


def edn_layout(records: list[Record], layout: str) -> str:
    """EDN in one of the layouts other tools write: one map per line, a vector of
    maps, or maps spread over lines (a field per line) mixed with one-line maps."""
    text = dumps_edn(records)
    if layout == "vector":
        return "[" + text.rstrip("\n").replace("\n", "\n ") + "]\n"
    if layout == "spread":
        lines = text.split("\n")
        return "\n".join(line.replace(", :", ",\n :") if i % 2 else line
                         for i, line in enumerate(lines))
    return text


@given(st.binary(max_size=40), st.sampled_from(("jsonl", "edn", "jepsen-log", None)))
def test_any_bytes_load_or_refuse(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                  fmt: str | None) -> None:
    path = tmp_path_factory.mktemp("bytes") / "history"
    path.write_bytes(data)
    try:
        history = load(path, fmt)
    except HistoryError as error:
        assert error.source == str(path)
        return
    usable(history)


# ------------------------------------------------------------------------------------
# Regressions: every crasher found, as a file, through load and `replicheck check`

CRASHERS = [
    # (file, --format, line, what the message says)
    ("deep_array.jsonl", None, 2, "collections nested more than 100 deep"),
    ("deep_tagged_set.jsonl", None, 2, "collections nested more than 100 deep"),
    ("tag_chain.edn", None, 2, "collections nested more than 100 deep"),
    ("deep_vector_over_lines.edn", None, 5, "collections nested more than 100 deep"),
    ("bigint.edn", None, 2, "an integer of 5000 digits"),
    ("bigint_index.edn", None, 1, "an integer of 5000 digits"),
    ("bigint_process.log", None, 1, "an integer of 5000 digits"),
    ("bigint_value.log", None, 2, "an integer of 5000 digits"),
    ("surrogate.jsonl", None, 1, "lone surrogate"),
    ("surrogate.edn", None, 1, "lone surrogate"),
    ("surrogate.log", None, 1, "lone surrogate"),
    ("snan.jsonl", None, 1, "signalling NaN"),
    ("decimal_exponent.edn", None, 2, "the decimal 1e9999999999999999999M is out of range"),
    ("okk.log", None, 2, "type :okk is not one of"),
    ("missing_column.log", None, 2, "missing the value after :ok :write"),
    ("pipe.log", "jepsen-log", 1, "no operation line in this log"),
    ("json_lines.log", "jepsen-log", 1, "no operation line in this log"),
    ("completion_before_invocation.jsonl", None, 2, "before its invocation at index 7"),
    ("completion_before_invocation.edn", None, 2, "before its invocation at index 7"),
]


@pytest.mark.parametrize(("name", "fmt", "line", "says"), CRASHERS,
                         ids=[c[0] for c in CRASHERS])
def test_each_crasher_is_an_error_naming_its_line(name: str, fmt: str | None, line: int,
                                                  says: str) -> None:
    path = DATA / name
    with pytest.raises(HistoryError) as info:
        load(path, fmt)
    assert (info.value.source, info.value.line) == (str(path), line)
    assert says in info.value.message


@pytest.mark.parametrize(("name", "fmt", "line", "says"), CRASHERS,
                         ids=[c[0] for c in CRASHERS])
def test_replicheck_check_exits_2_naming_the_place(
        name: str, fmt: str | None, line: int, says: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    html = tmp_path / "report.html"
    argv = ["check", str(DATA / name), "--html", str(html)]
    assert main([*argv, "--format", fmt] if fmt else argv) == 2
    err = capsys.readouterr().err
    assert f"{DATA / name}:{line}: " in err and says in err
    assert not html.exists()  # no empty report left behind
