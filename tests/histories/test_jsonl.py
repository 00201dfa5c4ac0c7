"""JSON lines: reading, the value tags, every malformed case, lenient mode, writing and
round trips."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.histories.formats import dumps_jsonl, loads, read_records
from replicheck.histories.formats.jsonl import read_jsonl
from replicheck.histories.history import MAX_NESTING, RECORD_TYPES, HistoryError, Record
from replicheck.models.equality import Keyword as K


def unlined(records: list[Record]) -> list[Record]:
    return [replace(r, line=None) for r in records]


SNIPPET = """\
# a register, one client and a nemesis
{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1, "time": 10}

{"process": "nemesis", "type": "info", "f": "start-partition", "value": ["n1"]}
{"process": 0, "type": "ok", "f": "write", "key": "x", "value": 1, "time": 25, "meta": {"clock": {"n1": 3}}}
{"process": 1, "type": "invoke", "f": "cas", "key": "x", "value": [2, 3]}
{"process": 1, "type": "fail", "f": "cas", "key": "x", "value": [2, 3], "error": "condition-failed"}
{"process": "observer", "type": "observe", "f": "replicas", "value": {"n1": {"x": 1}}}
"""  # noqa: E501


def test_reads_fields_defaults_and_line_numbers() -> None:
    records = read_records(SNIPPET, "jsonl", source="h.jsonl")
    assert [(r.process, r.type, r.f, r.index, r.line) for r in records] == [
        (0, "invoke", "write", 0, 2), ("nemesis", "info", "start-partition", 1, 4),
        (0, "ok", "write", 2, 5), (1, "invoke", "cas", 3, 6), (1, "fail", "cas", 4, 7),
        ("observer", "observe", "replicas", 5, 8),
    ]
    invoke, fault, ok, _, failed, _ = records
    assert (invoke.key, invoke.value, invoke.time, invoke.meta, invoke.error) == (
        "x", 1, 10, {}, None)
    assert fault.value == ["n1"] and not fault.is_client
    assert ok.meta == {"clock": {"n1": 3}}
    assert failed.error == "condition-failed"


def test_loads_pairs_and_keeps_condition_failed_as_an_observed_fail() -> None:
    h = loads(SNIPPET, source="h.jsonl")
    assert h.source == "h.jsonl"
    assert [(o.f, o.status, o.key) for o in h.operations] == [
        ("write", "ok", "x"), ("cas", "fail", "x")]
    write, cas = h.operations
    assert (write.call, write.ret, write.call_time, write.ret_time) == (0, 2, 10, 25)
    assert cas.failed and cas.error == "condition-failed" and cas.input == [2, 3]
    assert [r.f for r in h.faults] == ["start-partition"]
    assert [r.f for r in h.observations] == ["replicas"]


def test_explicit_index_overrides_line_order_and_crlf_and_bom_are_accepted() -> None:
    text = ('\ufeff{"process": 0, "type": "invoke", "f": "read", "index": 7}\r\n'
            '{"process": 0, "type": "ok", "f": "read", "value": null, "index": 9}\r\n')
    records = read_jsonl(text)
    assert [(r.index, r.line) for r in records] == [(7, 1), (9, 2)]


def test_tagged_values_decode_and_untagged_lookalikes_stay_objects() -> None:
    line = ('{"process": 0, "type": "ok", "f": "get", "key": ["t", 1], "value": '
            '{"n": {"$decimal": "1.50"}, "b": {"$bytes": "aGk="}, "ss": {"$set": ["a", "b"]},'
            ' "m": {"$map": [[1, "one"], [[2, 3], "pair"]]}, "wire": {"N": "1"}, '
            '"other": {"$x": 1}}}')
    (record,) = read_jsonl(line)
    assert record.key == ("t", 1)
    v = record.value
    assert v["n"] == Decimal("1.50") and str(v["n"]) == "1.50"
    assert v["b"] == b"hi"
    assert v["ss"] == frozenset({"a", "b"})
    assert v["m"] == {1: "one", (2, 3): "pair"}
    assert v["wire"] == {"N": "1"} and v["other"] == {"$x": 1}


def test_writes_jepsen_like_lines_with_only_the_fields_that_are_set() -> None:
    records = [
        Record(0, "invoke", "write", 1, key="x", index=0),
        Record(0, "info", "write", 1, key="x", index=1, time=5, error="timed-out"),
        Record(1, "ok", "read", {"a": Decimal("2"), "s": {1}, 3: b"\x00"}, index=5,
               meta={"clock": {"n1": 1}}),
    ]
    assert dumps_jsonl(records) == (
        '{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1}\n'
        '{"process": 0, "type": "info", "f": "write", "key": "x", "value": 1, "time": 5, '
        '"error": "timed-out"}\n'
        '{"process": 1, "type": "ok", "f": "read", "value": {"$map": [["a", {"$decimal": "2"}],'
        ' ["s", {"$set": [1]}], [3, {"$bytes": "AA=="}]]}, "index": 5, '
        '"meta": {"clock": {"n1": 1}}}\n'
    )
    assert dumps_jsonl([]) == ""


def test_a_reserved_one_key_dict_is_escaped_so_it_reads_back_as_a_dict() -> None:
    record = Record(0, "ok", "read", {"$set": [1, 2]}, index=0)
    text = dumps_jsonl([record])
    assert '"$map"' in text
    assert read_jsonl(text)[0].value == {"$set": [1, 2]}


def test_writing_a_value_json_cannot_hold_names_its_type() -> None:
    with pytest.raises(HistoryError, match="cannot write a value of type object as JSON"):
        dumps_jsonl([Record(0, "ok", "read", object())])


MALFORMED = [
    ('{"process": 0, "type": "invoke", "f": "read",}',
     "h.jsonl:1: not valid JSON (Expecting property name enclosed in double quotes at column "
     '46); expected one JSON object per line'),
    ("[0, 1]", 'h.jsonl:1: expected a JSON object with "process", "type" and "f", got an array'),
    ('{"process": 0, "f": "read"}',
     'h.jsonl:1: missing field "type"; expected an object with "process", "type" and "f"'),
    ('{"type": "invoke", "f": "read"}',
     'h.jsonl:1: missing field "process"; expected an object with "process", "type" and "f"'),
    ('{"process": 0, "type": "invoke", "f": "read", "vaule": 1}',
     'h.jsonl:1: unknown field "vaule"; expected only "process", "type", "f", "key", "value", '
     '"index", "time", "error", "meta"'),
    ('{"process": 1.5, "type": "invoke", "f": "read"}',
     'h.jsonl:1: field "process" is 1.5; expected an integer (a client) or a string (a fault, '
     'e.g. "nemesis")'),
    ('{"process": true, "type": "invoke", "f": "read"}',
     'h.jsonl:1: field "process" is true; expected an integer (a client) or a string (a fault, '
     'e.g. "nemesis")'),
    ('{"process": 0, "type": 3, "f": "read"}',
     'h.jsonl:1: field "type" is 3; expected one of "invoke", "ok", "fail", "info", "observe"'),
    ('{"process": 0, "type": "done", "f": "read"}',
     'h.jsonl:1: field "type" is "done"; expected one of "invoke", "ok", "fail", "info", '
     '"observe"'),
    ('{"process": 0, "type": "invoke", "f": ["read"]}',
     'h.jsonl:1: field "f" is ["read"]; expected a string such as "read"'),
    ('{"process": 0, "type": "invoke", "f": "read", "key": {"a": 1}}',
     'h.jsonl:1: field "key" is {"a": 1}; expected a string, a number or an array'),
    ('{"process": 0, "type": "invoke", "f": "read", "key": [{"a": 1}]}',
     'h.jsonl:1: field "key" is [{"a": 1}]; expected a string, a number or an array of them'),
    ('{"process": 0, "type": "invoke", "f": "read", "index": -1}',
     'h.jsonl:1: field "index" is -1; expected a non-negative integer'),
    ('{"process": 0, "type": "invoke", "f": "read", "time": "noon"}',
     'h.jsonl:1: field "time" is "noon"; expected an integer (nanoseconds) or null'),
    ('{"process": 0, "type": "invoke", "f": "read", "meta": [1]}',
     'h.jsonl:1: field "meta" is [1]; expected a JSON object'),
    ('{"process": 0, "type": "invoke", "f": "read", "value": {"$decimal": 1.5}}',
     'h.jsonl:1: a tagged value {"$decimal": ...} holds 1.5; expected a decimal number (its '
     'exponent within ±999999999999999999), an infinity or a quiet NaN as a string (a '
     'signalling NaN cannot be compared)'),
    ('{"process": 0, "type": "invoke", "f": "read", "value": {"$bytes": "%%"}}',
     'h.jsonl:1: a tagged value {"$bytes": ...} holds "%%"; expected a base-64 string'),
    ('{"process": 0, "type": "invoke", "f": "read", "value": {"$map": [[1]]}}',
     'h.jsonl:1: a tagged value {"$map": ...} holds [[1]]; expected an array of [key, value] '
     "pairs"),
]


@pytest.mark.parametrize(("line", "message"), MALFORMED)
def test_malformed_lines_name_source_line_and_expectation(line: str, message: str) -> None:
    with pytest.raises(HistoryError) as info:
        read_records(line, "jsonl", source="h.jsonl")
    assert str(info.value) == message
    assert (info.value.source, info.value.line) == ("h.jsonl", 1)


def test_the_error_names_the_line_of_the_file_not_the_record() -> None:
    text = '# header\n\n{"process": 0, "type": "invoke", "f": "read"}\n{"process": 0}\n'
    with pytest.raises(HistoryError) as info:
        read_records(text, "jsonl", source="h.jsonl")
    assert info.value.line == 4


def test_completion_without_invocation_is_reported_by_pairing() -> None:
    text = '{"process": 0, "type": "ok", "f": "read", "value": 1}\n'
    with pytest.raises(HistoryError) as info:
        loads(text, source="h.jsonl")
    assert str(info.value) == ("h.jsonl:1: process 0 completes 'read' (ok) without an "
                               "invocation in flight; expected an invoke first")


LENIENT = """\
{"process": 0, "type": "invoke", "f": "read"}
{"process": 0, "type": "ok", "f": "read", "value": 1
{"process": 0, "type": "ok", "f": "read", "value": 2}
{"process": 1, "type": "ok", "f": "write", "value": 3}
{"process": 2, "type": "sent", "f": "write", "value": 3}
{"process": 3, "type": "invoke", "f": "write", "value": 4}
"""


def test_lenient_skips_malformed_lines_and_keeps_their_errors() -> None:
    errors: list[HistoryError] = []
    records = read_records(LENIENT, "jsonl", source="h", lenient=True, errors=errors)
    assert [r.line for r in records] == [1, 3, 4, 6]
    assert [r.index for r in records] == [0, 1, 2, 3]
    assert [(e.line, e.message.split(" ")[0]) for e in errors] == [(2, "not"), (5, "field")]
    assert read_records(LENIENT, "jsonl", lenient=True) == records  # errors dropped


def test_lenient_loads_gathers_reading_and_pairing_errors_in_line_order() -> None:
    h = loads(LENIENT, source="h", lenient=True)
    assert [(o.f, o.status, o.output) for o in h.operations] == [
        ("read", "ok", 2), ("write", "info", None)]
    assert [e.line for e in h.skipped] == [2, 4, 5]
    assert "without an invocation in flight" in h.skipped[1].message


def test_empty_text_is_an_empty_history() -> None:
    for text in ("", "\n\n", "# nothing yet\n"):
        h = loads(text, "jsonl")
        assert len(h) == 0 and h.faults == () and h.skipped == ()


# ------------------------------------------------------------------------------------
# Round trips

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(
    allow_nan=False)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
hashables = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=4)
tagged = (st.decimals(allow_nan=False, allow_infinity=False) | st.binary(max_size=6)
          | st.frozensets(hashables, max_size=3)
          | st.dictionaries(st.integers() | st.tuples(st.integers()), st.integers(), max_size=2)
          | st.sampled_from(["$set", "$map", "$bytes", "$decimal"]).map(lambda t: {t: 1}))
values = st.recursive(scalars | tagged, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


@st.composite
def record_lists(draw: st.DrawFn, value: st.SearchStrategy[Any] = values) -> list[Record]:
    out = []
    for position in range(draw(st.integers(0, 6))):
        out.append(Record(
            process=draw(st.integers(0, 5) | st.sampled_from(["nemesis", "observer", "a b"])),
            type=draw(st.sampled_from(RECORD_TYPES)),
            f=draw(st.sampled_from(["read", "write", "cas", "txn", "x y", "nil", ""])),
            value=draw(value),
            key=draw(st.none() | hashables),
            index=draw(st.just(position) | st.integers(0, 100)),
            time=draw(st.none() | st.integers(0, 2**63)),
            error=draw(st.none() | st.sampled_from(["timed-out", "condition-failed"])
                       | json_values),
            meta=draw(st.dictionaries(st.text(max_size=5), value, max_size=2)),
        ))
    return out


@given(record_lists())
def test_records_round_trip_through_json_lines(records: list[Record]) -> None:
    text = dumps_jsonl(records)
    again = read_records(text, "jsonl")
    assert unlined(again) == records
    assert dumps_jsonl(again) == text


# ------------------------------------------------------------------------------------
# Limits: nothing a later stage cannot recurse over, print, hash or encode


def value_line(value_text: str, **fields: object) -> str:
    extra = "".join(f', "{k}": {v}' for k, v in fields.items())
    return f'{{"process": 0, "type": "invoke", "f": "write", "value": {value_text}{extra}}}\n'


@pytest.mark.parametrize("depth", [MAX_NESTING, MAX_NESTING + 300, 5000, 100_000])
def test_values_nested_past_the_limit_are_an_error_naming_the_line(depth: int) -> None:
    text = "# deep\n" + value_line("[" * depth + "]" * depth)
    with pytest.raises(HistoryError) as info:
        loads(text, "jsonl", source="deep.jsonl")
    assert str(info.value) == (f"deep.jsonl:2: collections nested more than {MAX_NESTING} "
                               f"deep; expected values nested at most {MAX_NESTING} deep")


def test_values_nested_up_to_the_limit_read() -> None:
    depth = MAX_NESTING - 1  # the record's object is the first level
    (record,) = read_records(value_line("[" * depth + "]" * depth), "jsonl")
    value, levels = record.value, 0
    while value:
        value, levels = value[0], levels + 1
    assert levels == depth - 1 and value == []


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    (record,) = read_records(value_line(json.dumps("[" * 5000)), "jsonl")
    assert record.value == "[" * 5000


def test_nested_tagged_sets_past_the_limit_are_an_error() -> None:
    depth = 3000
    with pytest.raises(HistoryError, match="nested more than"):
        read_records(value_line('{"$set": [' * depth + "]}" * depth), "jsonl")


def test_an_integer_past_pythons_digit_limit_is_an_error() -> None:
    digits = sys.get_int_max_str_digits() + 1
    with pytest.raises(HistoryError) as info:
        read_records(value_line("7" * digits), "jsonl", source="big.jsonl")
    assert str(info.value) == (f"big.jsonl:1: an integer of {digits} digits; expected at most "
                               f"{sys.get_int_max_str_digits()} digits (Python's limit for "
                               "converting integers to and from text)")


@pytest.mark.parametrize("string", ['"\\ud800"', '"a\\uDFFFb"', '"\\ude00\\ud83d"'])
def test_a_lone_surrogate_is_an_error_naming_the_line(string: str) -> None:
    text = value_line("1") + value_line(f'{{"k": [{string}]}}')
    with pytest.raises(HistoryError) as info:
        loads(text, "jsonl", source="s.jsonl")
    assert str(info.value).startswith("s.jsonl:2: a string holds a lone surrogate")
    with pytest.raises(HistoryError, match="lone surrogate"):
        read_records(value_line("1", key=string), "jsonl")


def test_a_surrogate_pair_is_one_character() -> None:
    (record,) = read_records(value_line('"\\ud83d\\ude00"'), "jsonl")
    assert record.value == "\U0001F600"


def test_a_signalling_nan_decimal_is_an_error_and_a_quiet_one_reads() -> None:
    with pytest.raises(HistoryError) as info:
        read_records(value_line('{"$decimal": "sNaN"}'), "jsonl", source="n.jsonl")
    assert "n.jsonl:1:" in str(info.value) and "signalling NaN" in str(info.value)
    (record,) = read_records(value_line('{"$decimal": "NaN"}'), "jsonl")
    assert record.value.is_qnan()
    hash(record.value)


def test_a_decimal_exponent_out_of_range_is_an_error() -> None:
    with pytest.raises(HistoryError, match=r"^e.jsonl:1: .*its exponent within"):
        read_records(value_line('{"$decimal": "1e9999999999999999999"}'), "jsonl",
                     source="e.jsonl")


def test_keywords_are_tagged_values() -> None:
    record = Record(0, "invoke", "write", [K("a"), "a", {K("k"): K("v")}])
    text = dumps_jsonl([record])
    assert '{"$keyword": "a"}' in text
    (again,) = read_records(text, "jsonl")
    assert again.value == record.value
    assert type(again.value[0]) is K and type(again.value[1]) is str


@pytest.mark.parametrize("index", [10**9, 10**30])
def test_huge_indexes_read_exactly(index: int) -> None:
    text = value_line("1", index=index) + value_line("2", index=index + 5).replace(
        '"invoke"', '"ok"').replace('"value": 2', '"value": 1')
    (op,) = loads(text, "jsonl").operations
    assert (op.call, op.ret, op.ok) == (index, index + 5, True)


@pytest.mark.parametrize("value", [
    {"$set": [1, True]}, {"$set": [1, 1.0]}, {"$set": [[1], [True], 2]},
    {"$map": [[1, "a"], [True, "b"]]}, {"$map": [[0, "a"], [0.0, "b"]]},
])
def test_a_set_or_map_python_would_merge_is_an_error_not_a_smaller_value(value: Any) -> None:
    """1, 1.0 and true are three values (``same_value``) but one set element in Python:
    a set read as ``frozenset({1})`` made a read of ``{"$set": [true, 1]}`` differ from
    the write of ``{"$set": [1, true]}`` (a violation invented) and a read of
    ``{"$set": [1]}`` match a write of ``{"$set": [1, 1.0]}`` (one missed)."""
    text = json.dumps({"process": 0, "type": "invoke", "f": "write", "value": value}) + "\n"
    with pytest.raises(HistoryError, match="stay apart in Python") as info:
        read_jsonl(text, source="h.jsonl")
    assert info.value.line == 1


def test_sets_and_maps_of_distinct_python_values_still_read() -> None:
    text = json.dumps({"process": 0, "type": "invoke", "f": "write",
                       "value": [{"$set": [1, "1", 2.5, None]}, {"$map": [[1, "a"], ["1", "b"]]}]})
    (record,) = read_jsonl(text + "\n")
    assert record.value == [frozenset({1, "1", 2.5, None}), {1: "a", "1": "b"}]
