"""Jepsen EDN: the shapes Jepsen writes, value conversion, the library fallback,
jepsen.independent tuples, every malformed case, lenient mode, writing and round trips."""

from __future__ import annotations

import datetime
import math
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.formats import dumps_edn, loads, read_records
from replicheck.histories.formats.edn import (
    EdnSyntaxError,
    edn_value,
    parse_edn_value,
    read_edn,
    read_form,
)
from replicheck.histories.formats.edn_values import FastPathMiss, fast_maps
from replicheck.histories.history import MAX_NESTING, RECORD_TYPES, HistoryError, Record
from replicheck.models.equality import Char, Symbol
from replicheck.models.equality import Keyword as K

KV = """\
{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}
{:process 1, :type :invoke, :f :get, :key "4", :value nil}
{:process 0, :type :ok, :f :append, :key "4", :value "x 0 1 y"}
{:process 1, :type :ok, :f :get, :key "4", :value "x 0 1 y"}
"""


def shape(records: list[Record]) -> list[tuple[Any, ...]]:
    return [(r.process, r.type, r.f, r.key, r.value, r.index, r.line) for r in records]


def test_reads_one_map_per_line_with_explicit_keys() -> None:
    assert shape(read_edn(KV)) == [
        (0, "invoke", "append", "4", "x 0 1 y", 0, 1), (1, "invoke", "get", "4", None, 1, 2),
        (0, "ok", "append", "4", "x 0 1 y", 2, 3), (1, "ok", "get", "4", "x 0 1 y", 3, 4),
    ]
    h = loads(KV)
    assert [(o.f, o.key, o.output) for o in h.operations] == [
        ("append", "4", "x 0 1 y"), ("get", "4", "x 0 1 y")]


@pytest.mark.parametrize("text", [
    # a vector, one map per line, comments and a closing bracket on the last map
    "; a register\n[{:process 0, :type :invoke, :f :read, :value nil}\n"
    " {:process 0, :type :ok, :f :read, :value 3} ; read 3\n\n"
    " {:process :nemesis, :type :info, :f :start, :value nil}]\n",
    # the brackets on lines of their own, no commas
    "[\n{:process 0 :type :invoke :f :read :value nil}\n\n{:process 0 :type :ok :f :read "
    ":value 3}\n{:process :nemesis :type :info :f :start :value nil}\n]\n",
    # the whole vector on the first line, maps not separated
    "[{:process 0, :type :invoke, :f :read, :value nil}{:process 0, :type :ok, :f :read, "
    ":value 3}\n\n\n{:process :nemesis, :type :info, :f :start, :value nil}]",
])
def test_vectors_of_maps_keep_the_line_of_each_map(text: str) -> None:
    records = read_edn(text, source="h.edn")
    assert [(r.process, r.type, r.value) for r in records] == [
        (0, "invoke", None), (0, "ok", 3), ("nemesis", "info", None)]
    assert [r.line for r in records][2] in (4, 5)
    h = loads(text)
    assert len(h) == 1 and [f.f for f in h.faults] == ["start"]


def test_pretty_printed_maps_over_several_lines() -> None:
    text = ("[{:process 0,\n  :type :invoke,\n  :f :txn,\n  :value [[:append 1 2]\n"
            "           [:r 1 nil]]}\n {:process 0,\n  :type :ok,\n  :f :txn,\n"
            "  :value [[:append 1 2] [:r 1 [2]]]}]\n")
    records = read_edn(text)
    assert [(r.type, r.value, r.line) for r in records] == [
        ("invoke", [[K("append"), 1, 2], [K("r"), 1, None]], 1),
        ("ok", [[K("append"), 1, 2], [K("r"), 1, [2]]], 6),
    ]


def test_jepsen_fields_extra_fields_and_meta() -> None:
    text = ('{:index 4, :time 1200, :type :info, :process 3, :f :write, :value 2, '
            ':error :timed-out, :node "n1", :meta {:clock {"n1" 2}}}\n')
    (record,) = read_edn(text)
    assert (record.index, record.time, record.error) == (4, 1200, "timed-out")
    assert record.meta == {"clock": {"n1": 2}, "node": "n1"}


def test_values_become_python_values_that_keep_their_edn_type() -> None:
    text = ('{:process 0, :type :ok, :f :read, :value {:kw :a/b, :vec [1 -2.5 "s"], '
            ':list (1 2), :set #{1 2}, :nil nil, :t true, [1 2] :tuple-key, :inf ##-Inf}}')
    (record,) = read_edn(text)
    assert record.value == {K("kw"): K("a/b"), K("vec"): [1, -2.5, "s"], K("list"): [1, 2],
                            K("set"): frozenset({1, 2}), K("nil"): None, K("t"): True,
                            (1, 2): K("tuple-key"), K("inf"): -math.inf}


def test_unusual_syntax_is_read_by_the_library() -> None:
    text = ('{:process 0, :type :ok, :f :read, :value [1.5M 3N 1/2 \\c sym '
            '#inst "2020-01-01T00:00:00Z" #_ :gone ^{:m 1} [2]]}\n'
            '{:process 0, :type :invoke, :f :read, :value nil}\n')
    first, second = read_edn(text)
    assert first.value == [Decimal("1.5"), 3, Fraction(1, 2), Char("c"), Symbol("sym"),
                           datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC), [2]]
    assert (second.line, second.value) == (2, None)


def test_a_record_literal_reads_as_its_map() -> None:
    text = "#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 0, :f :read, " \
           ":value nil}\n"
    assert detect_and_read(text)[0].time == 5


def detect_and_read(text: str) -> list[Record]:
    return read_records(text)  # format detected


# ------------------------------------------------------------------------------------
# jepsen.independent

INDEPENDENT = """\
{:process 0, :type :invoke, :f :write, :value [7 1]}
{:process 1, :type :invoke, :f :read, :value [8 nil]}
{:process 0, :type :ok, :f :write, :value [7 1]}
{:process 1, :type :ok, :f :read, :value [8 5]}
{:process 2, :type :invoke, :f :cas, :value [7 [1 2]]}
{:process 2, :type :info, :f :cas, :value :timed-out}
{:process :nemesis, :type :info, :f :start, :value [1 2]}
"""


def test_independent_tuples_are_split_when_the_history_looks_independent() -> None:
    records = read_edn(INDEPENDENT)
    assert [(r.key, r.value) for r in records] == [
        (7, 1), (8, None), (7, 1), (8, 5), (7, [1, 2]), (7, K("timed-out")), (None, [1, 2])]
    h = loads(INDEPENDENT, "edn")
    assert [(k, [o.f for o in ops]) for k, ops in h.by_key()] == [
        (7, ["write", "cas"]), (8, ["read"])]


def test_independent_false_keeps_the_tuples() -> None:
    records = read_edn(INDEPENDENT, independent=False)
    assert records[0].key is None and records[0].value == [7, 1]


def test_a_plain_history_with_pair_values_is_not_split() -> None:
    plain = ("{:process 0, :type :invoke, :f :cas, :value [3 4]}\n"
             "{:process 0, :type :fail, :f :cas, :value [3 4]}\n"
             "{:process 1, :type :invoke, :f :read, :value nil}\n")
    assert [r.key for r in read_edn(plain)] == [None, None, None]
    cas_only = plain.rsplit("\n", 2)[0] + "\n"
    assert [r.key for r in read_edn(cas_only)] == [None, None]
    assert [(r.key, r.value) for r in read_edn(cas_only, independent=True)] == [(3, 4), (3, 4)]


def test_independent_true_needs_a_tuple_in_every_invocation() -> None:
    text = "{:process 0, :type :invoke, :f :read, :value nil}\n"
    with pytest.raises(HistoryError) as info:
        read_edn(text, source="h.edn", independent=True)
    assert str(info.value) == ("h.edn:1: the value nil of 'read' is not a [key value] tuple; "
                               "expected jepsen.independent tuples in every client invocation")
    errors: list[HistoryError] = []
    assert read_edn(text, independent=True, lenient=True, errors=errors) == []
    assert len(errors) == 1


def test_an_ok_tuple_for_another_key_is_an_error() -> None:
    text = ("{:process 0, :type :invoke, :f :read, :value [1 nil]}\n"
            "{:process 0, :type :ok, :f :read, :value [2 5]}\n")
    with pytest.raises(HistoryError) as info:
        read_edn(text, source="h.edn", independent=True)
    assert str(info.value) == ("h.edn:2: the value [2 5] of 'read' (ok) is not a tuple for the "
                               "invoked key 1; expected [1 value]")


# ------------------------------------------------------------------------------------
# Malformed input

MALFORMED = [
    ('{:process 0, :type :invoke, :f :read, :value nil',
     "h.edn:1: broken EDN: unclosed map; expected '}'"),
    ('{:process 0, :type :invoke, :f :read, :value "abc}',
     "h.edn:1: broken EDN: unterminated string; expected a closing '\"'"),
    ("{:process 0, :type :invoke, :f :read, :value}",
     "h.edn:1: broken EDN: a map needs an even number of forms (key value pairs)"),
    ("{:process 0, :type :invoke, :f :read, :value [1 2)}",
     "h.edn:1: broken EDN: unexpected ')'; expected ']' to close the vector"),
    ("{:process 0} {:process 1}}",
     "h.edn:1: broken EDN: unexpected '}'; expected an operation map like {:process 0, "
     ":type :invoke, :f :read}"),
    ("(1 2)\n", "h.edn:1: expected an operation map like {:process 0, :type :invoke, :f :read}, "
     "got 1"),
    ("[[:process 0]]\n", "h.edn:1: expected an operation map like {:process 0, :type :invoke, "
     ":f :read}, got a vector"),
    ("{:process 0, :f :read, :value nil}",
     "h.edn:1: missing field :type; expected an operation map like {:process 0, :type "
     ":invoke, :f :read}"),
    ("{:process 0, :type :invoke, :value nil}",
     "h.edn:1: missing field :f; expected an operation map like {:process 0, :type :invoke, "
     ":f :read}"),
    ("{:process 1.5, :type :invoke, :f :read}",
     "h.edn:1: field :process is 1.5; expected an integer (a client) or a keyword like "
     ":nemesis (a fault)"),
    ("{:process 0, :type :done, :f :read}",
     "h.edn:1: field :type is \"done\"; expected one of :invoke, :ok, :fail, :info, :observe"),
    ("{:process 0, :type :invoke, :f 3}",
     "h.edn:1: field :f is 3; expected a keyword like :read"),
    ("{:process 0, :type :invoke, :f :read, :key {:a 1}}",
     "h.edn:1: field :key is {:a 1}; expected a string, a number or a vector"),
    ("{:process 0, :type :invoke, :f :read, :index -2}",
     "h.edn:1: field :index is -2; expected a non-negative integer"),
    ("{:process 0, :type :invoke, :f :read, :time 1.5}",
     "h.edn:1: field :time is 1.5; expected an integer (nanoseconds) or nil"),
    ("{:process 0, :type :invoke, :f :read, :meta [1]}",
     "h.edn:1: field :meta is [1]; expected a map"),
    ("{:process 0, :type :invoke, :f :read, :value #foo/bar 1}",
     "h.edn:1: broken EDN (Don't know how to handle tag ImmutableDict(foo/bar))"),
    ("[{:process 0, :type :invoke, :f :read}\n",
     "h.edn:1: broken EDN: the history's opening bracket is never closed; expected ']' at "
     "the end"),
    ("[{:process 0, :type :invoke, :f :read}]\n{:process 0, :type :ok, :f :read}\n",
     "h.edn:2: broken EDN: unexpected text after the closing ']'; expected the end of the "
     "history"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_edn_names_source_line_and_expectation(text: str, message: str) -> None:
    with pytest.raises(HistoryError) as info:
        read_records(text, "edn", source="h.edn")
    assert str(info.value) == message


def test_a_broken_pretty_printed_history_names_the_line_of_the_problem() -> None:
    text = "[{:process 0,\n  :type :invoke,\n  :f :read\n  :value [1 2}]\n"
    with pytest.raises(HistoryError) as info:
        read_edn(text, source="h.edn")
    assert str(info.value) == ("h.edn:4: broken EDN: unexpected '}'; expected ']' to close the "
                               "vector")


def test_lenient_skips_broken_lines_and_malformed_maps() -> None:
    text = ("{:process 0, :type :invoke, :f :read, :value nil}\n"
            "{:process 0, :type :ok, :f :read, :value [1\n"
            "{:process 0, :type :ok, :f :read, :value 1}\n"
            "{:process 1, :type :begin, :f :read}\n")
    errors: list[HistoryError] = []
    records = read_edn(text, lenient=True, errors=errors)
    assert [(r.type, r.line, r.index) for r in records] == [("invoke", 1, 0), ("ok", 3, 1)]
    assert [e.line for e in errors] == [2, 4]
    h = loads(text, "edn", lenient=True)
    assert [o.output for o in h.operations] == [1]
    assert [e.line for e in h.skipped] == [2, 4]


def test_parse_edn_value_wants_exactly_one_form() -> None:
    assert parse_edn_value(" [1 :a] ") == [1, K("a")]
    with pytest.raises(EdnSyntaxError, match="more text after it"):
        parse_edn_value("1 2")
    with pytest.raises(EdnSyntaxError, match="found the end of the text"):
        parse_edn_value("  ; only a comment")


# ------------------------------------------------------------------------------------
# Writing and round trips


def test_writes_one_jepsen_style_map_per_line() -> None:
    records = [
        Record(0, "invoke", "cas", [1, 2], key="k1", index=0),
        Record(0, "fail", "cas", [1, 2], key="k1", index=1, time=9, error="condition-failed"),
        Record("nemesis", "info", "start-partition", {"n1": ["n2"]}, index=7,
               meta={"why": "test"}),
        Record(1, "ok", "read", {"s": frozenset({2, 1}), "d": Decimal("1.5"), "q": 'say "hi"\n'},
               index=8),
    ]
    assert dumps_edn(records) == (
        '{:process 0, :type :invoke, :f :cas, :key "k1", :value [1 2]}\n'
        '{:process 0, :type :fail, :f :cas, :key "k1", :value [1 2], :time 9, '
        ':error :condition-failed}\n'
        '{:process :nemesis, :type :info, :f :start-partition, :value {"n1" ["n2"]}, '
        ':index 7, :meta {:why "test"}}\n'
        '{:process 1, :type :ok, :f :read, :value {"s" #{1 2}, "d" 1.5M, "q" "say \\"hi\\"\\n"},'
        ' :index 8}\n'
    )


def test_writing_bytes_as_edn_is_refused() -> None:
    with pytest.raises(HistoryError, match="cannot write a value of type bytes as EDN"):
        dumps_edn([Record(0, "ok", "read", b"x")])


keyword_names = st.from_regex(r"[a-z][a-z0-9?!*-]{0,6}", fullmatch=True)
atoms = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
         | st.text(max_size=8) | keyword_names.map(K))
hashables = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                         lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=4)
edn_values = st.recursive(
    atoms | st.frozensets(hashables, max_size=3),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=5) | st.integers() | hashables, inner, max_size=3),
    max_leaves=8)
names = st.sampled_from(["read", "write", "cas", "start-partition", "x y", "nil", "", "é"])


@st.composite
def record_lists(draw: st.DrawFn) -> list[Record]:
    out = []
    for position in range(draw(st.integers(0, 6))):
        out.append(Record(
            process=draw(st.integers(-3, 5) | st.sampled_from(["nemesis", "observer", "a b"])),
            type=draw(st.sampled_from(RECORD_TYPES)),
            f=draw(names),
            value=draw(edn_values),
            key=draw(st.none() | hashables),
            index=draw(st.just(position) | st.integers(0, 100)),
            time=draw(st.none() | st.integers(-5, 2**63)),
            # a keyword error reads back as its name, a plain string (a structural field)
            error=draw(st.none() | names | edn_values.filter(lambda v: type(v) is not K)),
            meta=draw(st.dictionaries(names, edn_values, max_size=2)),
        ))
    return out


@given(record_lists())
def test_records_round_trip_through_edn(records: list[Record]) -> None:
    text = dumps_edn(records)
    again = read_records(text, "edn", independent=False)
    assert [replace(r, line=None) for r in again] == records
    assert dumps_edn(again) == text


@given(edn_values | st.decimals(allow_nan=False, allow_infinity=False))
def test_the_fast_reader_and_the_library_agree(value: Any) -> None:
    text = edn_value(value)
    assert parse_edn_value(text) == value
    # a character literal sends the whole form to edn_format
    library = parse_edn_value(f"[\\c {text}]")
    assert library == [Char("c"), value]


def test_lenient_in_a_pretty_printed_history_goes_on_at_the_next_map() -> None:
    text = ("[{:process 0,\n  :type :invoke, :f :read, :value nil}\n"
            " {:process 0,\n  :type :ok, :f :read, :value [1}\n"
            " {:process 1,\n  :type :invoke, :f :read, :value nil}]\n")
    errors: list[HistoryError] = []
    records = read_edn(text, lenient=True, errors=errors)
    assert [(r.process, r.type, r.line) for r in records] == [(0, "invoke", 1), (1, "invoke", 5)]
    assert [(e.line, e.message) for e in errors] == [
        (4, "broken EDN: unexpected '}'; expected ']' to close the vector")]


@given(st.dictionaries(keyword_names, edn_values, max_size=5), st.sampled_from([", ", " ", ",\t"]))
def test_the_line_fast_paths_agree_with_the_full_reader(fields: dict[str, Any], sep: str) -> None:
    line = "{" + sep.join(f":{k} {edn_value(v)}" for k, v in fields.items()) + "}"
    try:
        fast = fast_maps(line)
    except FastPathMiss:
        fast = None
    keyworded = {K(k): v for k, v in fields.items()}
    assert read_form(line)[0] == keyworded
    if fast is not None:
        assert fast == [keyworded]


# ------------------------------------------------------------------------------------
# Limits: nothing a later stage cannot recurse over, print, hash or encode


def edn_line(value_text: str, extra: str = "") -> str:
    return f"{{:process 0, :type :invoke, :f :write, :value {value_text}{extra}}}\n"


NESTED = [
    ("vectors", lambda n: "[" * n + "]" * n),
    ("maps", lambda n: "{:a " * n + "1" + "}" * n),
    ("sets", lambda n: "#{" * n + "}" * n),
    ("lists and vectors", lambda n: "([" * (n // 2) + "])" * (n // 2)),
    ("a chain of tags", lambda n: "#a " * n + "1"),
    ("tags and discards", lambda n: "#_ " * n + "1 2"),
    ("metadata", lambda n: "^:m " * n + "[]"),
]


@pytest.mark.parametrize("depth", [MAX_NESTING + 2, 5000])
@pytest.mark.parametrize(("what", "nest"), NESTED, ids=[w for w, _ in NESTED])
def test_nesting_past_the_limit_is_an_error_naming_the_line(what: str, nest: Any,
                                                            depth: int) -> None:
    text = edn_line("1") + edn_line(nest(depth))
    with pytest.raises(HistoryError) as info:
        read_edn(text, source="deep.edn")
    assert str(info.value) == (f"deep.edn:2: broken EDN: collections nested more than "
                               f"{MAX_NESTING} deep; expected values nested at most "
                               f"{MAX_NESTING} deep")


def test_nesting_past_the_limit_in_a_map_spread_over_lines() -> None:
    text = "[{:process 0,\n :type :invoke,\n :f :write,\n :value " + "[" * 500 + "\n" \
        + "]" * 500 + "}]\n"
    with pytest.raises(HistoryError, match=r"^h.edn:4: broken EDN: collections nested"):
        read_edn(text, source="h.edn")


def test_values_nested_up_to_the_limit_read() -> None:
    depth = MAX_NESTING - 1  # the record's map is the first level
    (record,) = read_edn(edn_line("[" * depth + "]" * depth))
    assert str(record.value).count("[") == depth


@pytest.mark.parametrize("number", ["7" * 5000, "-" + "7" * 5000, "7" * 5000 + "N"])
def test_an_integer_past_pythons_digit_limit_is_an_error(number: str) -> None:
    for text in (edn_line(number), edn_line("1", f", :index {number}"),
                 edn_line(f"[{number} \\c]")):
        with pytest.raises(HistoryError) as info:
            read_edn(text, source="big.edn")
        assert str(info.value).startswith("big.edn:1: broken EDN: ")
        assert "digits" in str(info.value)


@pytest.mark.parametrize("number", ["1e9999999999999999999M", "-1.5e-9999999999999999999M"])
def test_a_decimal_exponent_out_of_range_is_an_error(number: str) -> None:
    for value in (number, f"[{number} \\c]"):
        with pytest.raises(HistoryError, match=r"^d.edn:1: broken EDN: the decimal .* is out "
                                               r"of range; expected an exponent within"):
            read_edn(edn_line(value), source="d.edn")


@pytest.mark.parametrize("string", ['"\\ud800"', '"x\\uDC00"', "\\uD800"])
def test_a_lone_surrogate_is_an_error_naming_the_line(string: str) -> None:
    text = edn_line("1") + edn_line(f"[{string}]")
    with pytest.raises(HistoryError) as info:
        read_edn(text, source="s.edn")
    assert str(info.value).startswith("s.edn:2: a string holds a lone surrogate")


# ------------------------------------------------------------------------------------
# Layouts: one map per line, maps over several lines, and both in one file

SINGLE = "{:process 0, :type :invoke, :f :write, :value 1}"
SPREAD = "{:process 0,\n :type :ok,\n :f :write,\n :value 1}"
SPREAD_2 = "{:type :invoke, :f :read,\n :process 1, :value nil}"
SINGLE_2 = "{:process 1, :type :ok, :f :read, :value 1}"

LAYOUTS = {
    "single then spread": f"{SINGLE}\n{SPREAD}\n{SPREAD_2}\n{SINGLE_2}\n",
    "spread then single": f"{SPREAD_2}\n{SINGLE}\n{SPREAD}\n{SINGLE_2}\n".replace(
        ":type :invoke, :f :read,", ":type :invoke, :f :read,"),
    "a vector, single first": f"[{SINGLE}\n {SPREAD}\n {SPREAD_2}\n {SINGLE_2}]\n",
    "a vector on its own lines": f"[\n{SINGLE}\n{SPREAD}\n\n{SPREAD_2}\n{SINGLE_2}\n]\n",
    "two maps on a line, one spread": f"{SINGLE} {SPREAD}\n{SPREAD_2} {SINGLE_2}\n",
    "comments between": f"; history\n{SINGLE} ; first\n{SPREAD}\n; more\n{SPREAD_2}\n"
                        f"{SINGLE_2}\n",
    "record literals": f"#jepsen.history.Op{SINGLE}\n#jepsen.history.Op{SPREAD}\n"
                       f"{SPREAD_2}\n{SINGLE_2}\n",
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_maps_spread_over_lines_mixed_with_one_map_per_line(layout: str) -> None:
    text = LAYOUTS[layout]
    records = read_edn(text)
    got = sorted((r.process, r.type, r.f, r.value) for r in records)
    assert got == [(0, "invoke", "write", 1), (0, "ok", "write", 1),
                   (1, "invoke", "read", None), (1, "ok", "read", 1)]
    for r in records:  # each record on the line its map starts on
        assert text.split("\n")[r.line - 1].count("{") >= 1
    assert len(loads(text, "edn")) == 2


def test_knossos_style_file_mixing_layouts_keeps_lines() -> None:
    text = ("[{:process 0, :type :invoke, :f :cas, :value [1 2]}\n"
            " {:process 1,\n  :type :invoke,\n  :f :read,\n  :value nil}\n"
            " {:process 0, :type :fail, :f :cas, :value [1 2]}\n"
            " {:process 1, :type :ok, :f :read, :value nil}]\n")
    records = read_edn(text, source="k.edn")
    assert [(r.process, r.type, r.line) for r in records] == [
        (0, "invoke", 1), (1, "invoke", 2), (0, "fail", 6), (1, "ok", 7)]


def test_a_broken_map_in_a_mixed_file_names_its_line() -> None:
    text = f"{SINGLE}\n{{:process 1,\n :type :ok,\n :value [1}}\n{SINGLE_2}\n"
    with pytest.raises(HistoryError, match=r"^h.edn:4: broken EDN: unexpected '}'"):
        read_edn(text, source="h.edn")
    errors: list[HistoryError] = []
    records = read_edn(text, lenient=True, errors=errors)
    assert [(r.process, r.line) for r in records] == [(0, 1), (1, 5)]
    assert [e.line for e in errors] == [4]


# ------------------------------------------------------------------------------------
# Keywords keep their type inside values


def test_a_keyword_value_is_not_a_string_value() -> None:
    text = ('{:process 0, :type :invoke, :f :write, :key :x, :value :a}\n'
            '{:process 0, :type :ok, :f :write, :key :x, :value :a}\n'
            '{:process 1, :type :invoke, :f :read, :key "x", :value nil}\n'
            '{:process 1, :type :ok, :f :read, :key "x", :value "a"}\n')
    first, _, _, last = read_edn(text)
    assert type(first.value) is K and first.value == K("a") and first.value != "a"
    assert type(last.value) is str and last.value == "a" and last.value != first.value
    assert type(first.key) is K and first.key != last.key


def test_structural_fields_are_plain_strings() -> None:
    text = ('{:process :nemesis, :type :info, :f :start, :value :all, :error :timed-out}\n'
            '{"process" 0, "type" "invoke", :f "read", :value nil}\n')
    fault, client = read_edn(text)
    for value in (fault.process, fault.type, fault.f, fault.error, client.type, client.f):
        assert type(value) is str
    assert (fault.process, fault.error, fault.value) == ("nemesis", "timed-out", K("all"))
    assert client.process == 0


def test_a_field_given_as_a_keyword_and_a_string_is_an_error() -> None:
    with pytest.raises(HistoryError, match="field :value given twice"):
        read_edn('{:process 0, :type :invoke, :f :read, :value 1, "value" 2}\n')


def test_keywords_are_written_as_keywords_and_read_back() -> None:
    record = Record(0, "invoke", "txn", [[K("append"), K("x"), 1], ["r", "x", None]],
                    key=K("k"))
    text = dumps_edn([record])
    assert ':value [[:append :x 1] ["r" "x" nil]]' in text and ":key :k" in text
    (again,) = read_records(text, "edn", independent=False)
    assert again.value == record.value and again.key == K("k")
    assert type(again.value[1][0]) is str


def test_a_keyword_name_edn_cannot_hold_is_refused_when_written() -> None:
    with pytest.raises(HistoryError, match="cannot write the keyword name 'a b'"):
        dumps_edn([Record(0, "invoke", "read", K("a b"))])


@pytest.mark.parametrize(("value", "message"), [
    ("[:a/b/c]", "broken EDN: :a/b/c is not a keyword"),
    ("[::a \\x]", "broken EDN: ::a is not a keyword"),
    (":", "broken EDN: : is not a keyword"),
])
def test_a_keyword_edn_does_not_allow_is_an_error_not_a_misread(value: str, message: str
                                                                 ) -> None:
    with pytest.raises(HistoryError) as info:
        read_edn(edn_line(value), source="k.edn")
    assert str(info.value).startswith(f"k.edn:1: {message}; expected : then letters")


def test_a_key_holding_a_map_is_an_error() -> None:
    with pytest.raises(HistoryError) as info:
        read_edn("{:process 0, :type :invoke, :f :read, :key [{:a 1}]}\n", source="k.edn")
    assert str(info.value) == ("k.edn:1: field :key is [{:a 1}]; expected a string, a number or "
                               "a vector of them")


def test_lenient_keeps_the_one_line_maps_a_broken_form_ran_over() -> None:
    text = (f"{SINGLE}\n{{:process 1, :type :invoke, :f :read, :value [1\n{SINGLE_2}\n"
            f"{SINGLE.replace(':invoke', ':ok')}\n")
    errors: list[HistoryError] = []
    records = read_edn(text, lenient=True, errors=errors)
    assert [(r.process, r.type, r.line) for r in records] == [
        (0, "invoke", 1), (1, "ok", 3), (0, "ok", 4)]
    assert [(e.line, e.message) for e in errors] == [
        (2, "broken EDN: unclosed vector; expected ']'")]


@pytest.mark.parametrize("text", [
    # a discarded map on its own line, in the middle of a line, at the end
    "{:type :invoke, :f :write, :value 1, :process 0}\n"
    "#_{:type :ok, :f :write, :value 2, :process 0}\n"
    "{:type :ok, :f :write, :value 1, :process 0}\n",
    "{:type :invoke, :f :write, :value 1, :process 0} #_ {:type :info, :f :write, "
    ":process 0} {:type :ok, :f :write, :value 1, :process 0} #_ 3\n",
    # in a vector or a list, first, last, and a chain discarding two forms
    "[#_{:type :ok, :f :write, :value 2, :process 0}\n"
    "{:type :invoke, :f :write, :value 1, :process 0}\n"
    "#_ #_ {:type :info, :f :write, :process 0} {:type :fail, :f :write, :process 0}\n"
    "{:type :ok, :f :write, :value 1, :process 0} #_{:type :ok}]\n",
    "({:type :invoke, :f :write, :value 1, :process 0}\n#_{:type :ok, :f :write, :value 2,\n"
    " :process 0} ; a comment }\n {:type :ok, :f :write, :value 1, :process 0})\n",
])
def test_discarded_forms_read_as_nothing_wherever_they_are(text: str) -> None:
    """EDN's ``#_ x`` reads as nothing (a discarded map at the top level was an
    IndexError traceback, a history opening with one was not recognised as EDN)."""
    h = loads(text)
    assert [(o.f, o.status, o.value) for o in h.operations] == [("write", "ok", 1)]


def test_a_chain_of_discards_past_the_nesting_limit_is_an_error_naming_the_line() -> None:
    text = ("{:type :invoke, :f :write, :value 1, :process 0}\n"
            + "#_ " * (MAX_NESTING + 5) + "1\n")
    with pytest.raises(HistoryError, match="nested") as info:
        loads(text, format="edn")
    assert info.value.line == 2


@pytest.mark.parametrize("value", ["#{1 true}", "#{1 1.0 2}", "#{[1] [true]}", "{1 :a true :b}",
                                   "{1 :a 1.0 :b}", "[#{0 0.0}]",
                                   # read by the library: the same check
                                   "#{1 true \\a}", "#{1 true ^:m [1]}", "{1 \\a true :b}"])
def test_a_set_or_map_python_would_merge_is_an_error_not_a_smaller_value(value: str) -> None:
    """1, 1.0 and true are distinct EDN values but one set element (or map key) in
    Python: such a collection read as a smaller one gave wrong verdicts."""
    text = ("{:type :invoke, :f :write, :value 1, :process 0}\n"
            f"{{:type :ok, :f :write, :value {value}, :process 0}}\n")
    with pytest.raises(HistoryError, match="one in Python") as info:
        read_records(text, format="edn")
    assert info.value.line == 2


def test_sets_and_maps_of_distinct_values_still_read() -> None:
    text = '{:type :invoke, :f :write, :value [#{1 "1" :1 2.5} {1 :a "1" :b}], :process 0}\n'
    (record,) = read_records(text, format="edn")
    assert record.value == [frozenset({1, "1", K("1"), 2.5}), {1: K("a"), "1": K("b")}]
    text = "{:type :invoke, :f :write, :value #{1 #_ true \\a}, :process 0}\n"
    (record,) = read_records(text, format="edn")
    assert record.value == frozenset({1, Char("a")})


def test_one_completion_that_is_not_a_tuple_does_not_unsplit_an_independent_history() -> None:
    """An independent history with one ``:ok`` answering ``nil`` for its key was judged
    unsplit (every key one register of [k v] values): a violation invented between
    keys :a and :b. Now it is split; the bare ``nil`` is the key's value."""
    text = ("{:type :invoke, :f :write, :value [:a 1], :process 0}\n"
            "{:type :ok, :f :write, :value [:a 1], :process 0}\n"
            "{:type :invoke, :f :write, :value [:b 2], :process 0}\n"
            "{:type :ok, :f :write, :value [:b 2], :process 0}\n"
            "{:type :invoke, :f :read, :value [:a nil], :process 1}\n"
            "{:type :ok, :f :read, :value [:a 1], :process 1}\n"
            "{:type :invoke, :f :read, :value [:c nil], :process 1}\n"
            "{:type :ok, :f :read, :value nil, :process 1}\n")
    records = read_edn(text)
    assert [(r.key, r.value) for r in records][-4:] == [
        (K("a"), None), (K("a"), 1), (K("c"), None), (K("c"), None)]


def test_an_ok_tuple_for_another_key_is_an_error_without_asking_for_the_split() -> None:
    text = ("{:process 0, :type :invoke, :f :write, :value [:a 1]}\n"
            "{:process 0, :type :ok, :f :write, :value [:a 1]}\n"
            "{:process 1, :type :invoke, :f :read, :value [:a nil]}\n"
            "{:process 1, :type :ok, :f :read, :value [:b 1]}\n")
    with pytest.raises(HistoryError) as info:
        read_edn(text, source="h.edn")
    assert info.value.line == 4 and "not a tuple for the invoked key :a" in str(info.value)
