"""Jepsen text logs: operation lines with tabs or spaces, log noise, Jepsen's meaning of
fail and info, faults, independent tuples, and broken operation lines."""

from __future__ import annotations

import pytest

from replicheck.histories.formats import loads, read_records
from replicheck.histories.formats.jepsen_log import read_jepsen_log
from replicheck.histories.history import HistoryError
from replicheck.models.equality import Keyword as K

TABS = (
    "2017-06-28 17:22:31,476{GMT}\tINFO\t[jepsen worker 0] jepsen.util - Setting up\n"
    "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 1\t:invoke\t:cas\t[3 0]\n"
    "INFO  jepsen.util - 0\t:ok\t:read\t3\n"
    "INFO  jepsen.util - 1\t:fail\t:cas\t[3 0]\n"
    "INFO  jepsen.util - 2\t:invoke\t:write\t4\n"
    "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
    "INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n"
    "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n"
    "WARN  jepsen.core - something unrelated happened\n"
    "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 5\t:invoke\t:write\t1\n"
    "INFO  jepsen.util - 0\t:ok\t:read\tnil\n"
)


def test_reads_operation_lines_and_skips_noise() -> None:
    records = read_jepsen_log(TABS, source="etcd.log")
    assert [(r.process, r.type, r.f, r.value, r.error, r.index, r.line) for r in records] == [
        (0, "invoke", "read", None, None, 0, 2),
        (1, "invoke", "cas", [3, 0], None, 1, 3),
        (0, "ok", "read", 3, None, 2, 4),
        (1, "fail", "cas", [3, 0], None, 3, 5),
        (2, "invoke", "write", 4, None, 4, 6),
        ("nemesis", "info", "start", None, None, 5, 7),
        (2, "info", "write", None, "timed-out", 6, 8),
        (0, "invoke", "read", None, None, 7, 9),
        (0, "fail", "read", None, "timed-out", 8, 10),
        (0, "invoke", "read", None, None, 9, 12),
        (5, "invoke", "write", 1, None, 10, 13),
        (0, "ok", "read", None, None, 11, 14),
    ]


def test_jepsen_meaning_of_fail_and_info_is_kept() -> None:
    h = loads(TABS, "jepsen-log")
    assert [(o.process, o.f, o.status, o.error) for o in h.operations] == [
        (0, "read", "ok", None), (1, "cas", "fail", None), (2, "write", "info", "timed-out"),
        (0, "read", "fail", "timed-out"), (0, "read", "ok", None), (5, "write", "info", None),
    ]
    timed_out_write = h.operations[2]
    assert timed_out_write.value == 4  # the invocation's value: it may have been written
    pending = h.operations[5]
    assert pending.ret is None and pending.indeterminate
    assert [f.f for f in h.faults] == ["start"]


def test_fields_separated_by_runs_of_spaces() -> None:
    text = ("INFO  jepsen.util - 1   :invoke :write  3\n"
            "INFO  jepsen.util - 4   :invoke :cas    [1 2]\n"
            "INFO  jepsen.util - 4   :ok     :cas    [1 2]\n"
            "INFO  jepsen.util - 1   :info   :write  :timed-out\n")
    records = read_jepsen_log(text)
    assert [(r.process, r.type, r.f, r.value, r.error) for r in records] == [
        (1, "invoke", "write", 3, None), (4, "invoke", "cas", [1, 2], None),
        (4, "ok", "cas", [1, 2], None), (1, "info", "write", None, "timed-out")]


def test_a_trailing_error_field_is_kept_and_the_value_too() -> None:
    text = ('3\t:invoke\t:cas\t[1 2]\n'
            '3\t:info\t:cas\t[1 2]\t:timed-out\n'
            '4\t:invoke\t:read\tnil\n'
            '4\t:fail\t:read\tnil\tindeterminate: Read timed out\n'
            '5\t:invoke\t:write\t"a b"\n'
            '5\t:fail\t:write\t"a b"\t"refused"\n')
    records = read_jepsen_log(text)
    assert [(r.value, r.error) for r in records] == [
        ([1, 2], None), ([1, 2], "timed-out"), (None, None),
        (None, "indeterminate: Read timed out"), ("a b", None), ("a b", "refused")]


def test_independent_tuples_in_a_log() -> None:
    text = ("INFO jepsen.util - 0\t:invoke\t:read\t[5 nil]\n"
            "INFO jepsen.util - 0\t:ok\t:read\t[5 2]\n"
            "INFO jepsen.util - 1\t:invoke\t:write\t[6 1]\n"
            "INFO jepsen.util - 1\t:info\t:write\t:timed-out\n")
    h = loads(text)
    assert [(o.key, o.f, o.input, o.output, o.status, o.error) for o in h.operations] == [
        (5, "read", None, 2, "ok", None), (6, "write", 1, None, "info", "timed-out")]


BROKEN = [
    ("INFO  jepsen.util - x\t:invoke\t:read\tnil",
     "etcd.log:1: process 'x' is neither an integer (a client) nor a keyword such as :nemesis "
     "(a fault); expected PROCESS TYPE F VALUE, e.g. 3 :invoke :cas [3 0]"),
    ("INFO  jepsen.util - 3\t:invoke",
     "etcd.log:1: missing the function after :invoke; expected PROCESS TYPE F VALUE, e.g. 3 "
     ":invoke :cas [3 0]"),
    ("INFO  jepsen.util - 3\t:invoke\t[3 0]",
     "etcd.log:1: function '[3' is not a keyword such as :read; expected PROCESS TYPE F VALUE, "
     "e.g. 3 :invoke :cas [3 0]"),
    ("INFO  jepsen.util - 3\t:invoke\t:cas",
     "etcd.log:1: missing the value after :invoke :cas (nil when there is none); expected "
     "PROCESS TYPE F VALUE, e.g. 3 :invoke :cas [3 0]"),
    ("INFO  jepsen.util - 3\t:invoke\t:cas\t[3 0",
     "etcd.log:1: broken value after :invoke :cas: unclosed vector; expected ']'"),
    ("INFO  jepsen.util - 3\t:invoke\t:cas\t#foo/bar 1",
     "etcd.log:1: broken value after :invoke :cas: broken EDN (Don't know how to handle tag "
     "ImmutableDict(foo/bar))"),
]


@pytest.mark.parametrize(("line", "message"), BROKEN)
def test_a_broken_operation_line_names_the_line(line: str, message: str) -> None:
    with pytest.raises(HistoryError) as info:
        read_records(line, "jepsen-log", source="etcd.log")
    assert str(info.value) == message


def test_lenient_skips_broken_operation_lines() -> None:
    text = ("INFO  jepsen.util - 3\t:invoke\t:write\t1\n"
            "INFO  jepsen.util - 3\t:ok\t:write\t[1\n"
            "INFO  jepsen.util - 3\t:ok\t:write\t1\n")
    errors: list[HistoryError] = []
    records = read_records(text, "jepsen-log", lenient=True, errors=errors)
    assert [(r.type, r.line) for r in records] == [("invoke", 1), ("ok", 3)]
    assert [e.line for e in errors] == [2]
    assert loads(text, lenient=True).operations[0].ok


def test_lines_that_only_mention_a_type_are_noise() -> None:
    text = ("INFO jepsen.util - Running test with :ok results\n"
            "INFO jepsen.core - 3 :invoke is what the core calls it\n"
            "   \n"
            "3 :ok :read 1\n")
    records = read_jepsen_log(text)
    assert [(r.process, r.type, r.f, r.value, r.line) for r in records] == [
        (3, "ok", "read", 1, 4)]


# ------------------------------------------------------------------------------------
# What is an operation line, and a log with none


@pytest.mark.parametrize(("line", "message"), [
    ("INFO  jepsen.util - 3\t:okk\t:write\t1",
     "log:2: type :okk is not one of :invoke, :ok, :fail, :info; expected PROCESS TYPE F "
     "VALUE, e.g. 3 :invoke :cas [3 0]"),
    ("3 :invok :read nil",
     "log:2: type :invok is not one of :invoke, :ok, :fail, :info; expected PROCESS TYPE F "
     "VALUE, e.g. 3 :invoke :cas [3 0]"),
    ("INFO  jepsen.util - :nemesis\t:start\tnil",
     "log:2: type :start is not one of :invoke, :ok, :fail, :info; expected PROCESS TYPE F "
     "VALUE, e.g. 3 :invoke :cas [3 0]"),
    ("INFO  jepsen.util - 3\t:ok\t:write",
     "log:2: missing the value after :ok :write (nil when there is none); expected PROCESS "
     "TYPE F VALUE, e.g. 3 :invoke :cas [3 0]"),
])
def test_a_broken_line_with_a_process_and_a_keyword_is_an_error(line: str, message: str
                                                                 ) -> None:
    text = f"INFO  jepsen.util - 3\t:invoke\t:write\t1\n{line}\n"
    with pytest.raises(HistoryError) as info:
        loads(text, "jepsen-log", source="log")
    assert str(info.value) == message
    h = loads(text, "jepsen-log", source="log", lenient=True)
    assert [(e.line, e.message) for e in h.skipped] == [(2, message.removeprefix("log:2: "))]
    assert [o.status for o in h.operations] == ["info"]


@pytest.mark.parametrize("text", [
    '{"process": 0, "type": "invoke", "f": "read", "value": null}\n',
    "|",
    "some text\nmore text\n",
    "\n\n  \n;; an EDN comment\n",
    "INFO jepsen.core - Run complete\n",
])
def test_a_non_empty_log_without_operation_lines_is_an_error(text: str) -> None:
    for lenient in (False, True):
        with pytest.raises(HistoryError) as info:
            loads(text, "jepsen-log", source="x.log", lenient=lenient)
        assert str(info.value).startswith("x.log:")
        assert "no operation line in this log" in str(info.value)
    first = next(i for i, line in enumerate(text.split("\n"), 1) if line.strip())
    assert info.value.line == first


@pytest.mark.parametrize("text", ["", "\n", "  \n\n", "# a comment\n\n# another\n"])
def test_a_log_of_blank_and_comment_lines_is_an_empty_history(text: str) -> None:
    h = loads(text, "jepsen-log")
    assert len(h) == 0 and h.skipped == ()


@pytest.mark.parametrize("number", ["7" * 5000, "-" + "7" * 5000])
def test_an_integer_past_pythons_digit_limit_is_an_error(number: str) -> None:
    for line in (f"INFO  jepsen.util - {number}\t:invoke\t:write\t1",
                 f"INFO  jepsen.util - 3\t:invoke\t:write\t{number}",
                 f"INFO  jepsen.util - 3\t:invoke\t:write\t[1 {number}]"):
        with pytest.raises(HistoryError) as info:
            read_records(f"\n{line}\n", "jepsen-log", source="big.log")
        assert str(info.value).startswith("big.log:2: ") and "5000 digits" in str(info.value)


def test_values_nested_past_the_limit_and_surrogates_are_errors() -> None:
    for value in ("[" * 5000 + "]" * 5000, "#a " * 5000 + "1", '["\\ud800"]'):
        with pytest.raises(HistoryError) as info:
            read_records(f"INFO  jepsen.util - 3\t:invoke\t:write\t{value}\n", "jepsen-log",
                         source="v.log")
        assert str(info.value).startswith("v.log:1: ")


def test_keywords_in_values_stay_keywords_and_errors_are_strings() -> None:
    text = ("INFO  jepsen.util - 3\t:invoke\t:write\t:a\n"
            "INFO  jepsen.util - 3\t:info\t:write\t:timed-out\n"
            "INFO  jepsen.util - 4\t:invoke\t:write\t[:k \"a\"]\n"
            "INFO  jepsen.util - 4\t:fail\t:write\t[:k \"a\"]\t:no-leader\n")
    records = read_records(text, "jepsen-log", independent=False)
    assert type(records[0].value) is K and records[0].value != "a"
    assert (records[1].value, records[1].error, type(records[1].error)) == (
        None, "timed-out", str)
    assert records[2].value == [K("k"), "a"] and records[2].value != ["k", "a"]
    assert type(records[3].error) is str and records[3].error == "no-leader"


def test_crlf_line_ends_do_not_hide_a_broken_operation_line() -> None:
    text = ("INFO  jepsen.util - 3\t:invoke\t:read\tnil\r\n"
            "INFO  jepsen.util - 3\t:ok\t:read\t3\r\n"
            "INFO  jepsen.util - 4\t:invoke\r\n")
    with pytest.raises(HistoryError, match=r"^l:3: missing the function after :invoke"):
        loads(text, "jepsen-log", source="l")
