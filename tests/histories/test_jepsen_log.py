"""Jepsen text logs: operation lines with tabs or spaces, log noise, Jepsen's meaning of
fail and info, faults, independent tuples, and broken operation lines."""

from __future__ import annotations

import pytest

from replicheck.histories.formats import loads, read_records
from replicheck.histories.formats.jepsen_log import read_jepsen_log
from replicheck.histories.history import HistoryError

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
