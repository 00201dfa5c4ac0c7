"""Format detection by content, and the facade's dispatch, load() and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicheck.histories.formats import FORMATS, detect, dumps_edn, load, loads, read_records
from replicheck.histories.history import HistoryError, Record


@pytest.mark.parametrize(("text", "expected"), [
    ('{"process": 0, "type": "invoke", "f": "read"}\n', "jsonl"),
    ('# comment\n\n  { "process": 0 }\n', "jsonl"),
    ("{}\n", "jsonl"),
    ("", "jsonl"),
    ("\n  \n# only comments\n", "jsonl"),
    ("{:process 0, :type :invoke, :f :read}\n", "edn"),
    ("; a comment\n[{:process 0, :type :invoke, :f :read}]\n", "edn"),
    ("[\n{:process 0 :type :invoke :f :read}\n]\n", "edn"),
    ("[:a 1]\n", "edn"),
    ("({:process 0, :type :invoke, :f :read})\n", "edn"),
    ("#jepsen.history.Op{:index 0, :type :invoke, :process 0, :f :read, :value nil}\n", "edn"),
    ("INFO  jepsen.util - 3\t:invoke\t:cas\t[3 0]\n", "jepsen-log"),
    ("3\t:invoke\t:read\tnil\n", "jepsen-log"),
    (":nemesis :info :start nil\n", "jepsen-log"),
    ("2017-06-28 17:22:31 INFO jepsen.core - Running test\n"
     "INFO jepsen.db - Setting up n1\n"
     "INFO  jepsen.util - 3\t:invoke\t:cas\t[3 0]\n", "jepsen-log"),
])
def test_detects_the_format_from_the_first_significant_line(text: str, expected: str) -> None:
    assert detect(text) == expected
    assert expected in FORMATS


@pytest.mark.parametrize("text", ["hello world\n", '[{"process": 0}]\n', "42\n"])
def test_undetectable_text_names_the_choices(text: str) -> None:
    with pytest.raises(HistoryError) as info:
        detect(text)
    first = text.strip()
    assert info.value.message == (
        f"cannot tell the history's format from its first line {first!r}; expected one of: "
        "jsonl (one JSON object per line), edn (Jepsen EDN maps), jepsen-log (Jepsen log "
        "lines such as 'INFO  jepsen.util - 3 :invoke :read nil'); name the format explicitly")
    assert info.value.line == 1


def test_undetectable_text_read_names_the_source_and_the_first_line() -> None:
    with pytest.raises(HistoryError) as info:
        loads("\n# a comment\nhello world\n", source="h.txt")
    assert str(info.value).startswith("h.txt:3: cannot tell the history's format")


def test_an_unknown_format_name_is_an_error_naming_the_formats() -> None:
    with pytest.raises(HistoryError) as info:
        read_records("", "csv", source="h")
    assert str(info.value) == "h: unknown format 'csv'; expected one of jsonl, edn, jepsen-log"


def test_an_explicit_format_overrides_detection() -> None:
    text = "3\t:invoke\t:read\tnil\n"
    with pytest.raises(HistoryError, match="h:1: not valid JSON"):
        read_records(text, "jsonl", source="h")
    assert len(loads(text, "jepsen-log")) == 1


def test_load_reads_a_file_with_its_path_as_the_source(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(dumps_edn([Record(0, "invoke", "read", None, index=0),
                               Record(0, "ok", "read", 2, index=1),
                               Record(1, "ok", "read", 2, index=2)]))
    with pytest.raises(HistoryError) as info:
        load(path)
    assert info.value.source == str(path) and info.value.line == 3
    h = load(path, lenient=True)
    assert (len(h), h.source, [e.line for e in h.skipped]) == (1, str(path), [3])


def test_load_of_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    data = b'{"process": 0, "type": "invoke", "f": "read"}\n{"f": "\xff"}\n'
    path.write_bytes(data)
    offset = data.index(b"\xff")
    with pytest.raises(HistoryError) as info:
        load(path)
    assert str(info.value) == (f"{path}:2: not UTF-8 text (byte {offset}: "
                               "invalid start byte); expected a UTF-8 history")


def test_load_of_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.jsonl")


def test_an_empty_file_is_an_empty_history(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_text("")
    h = load(path)
    assert len(h) == 0 and h.skipped == () and h.source == str(path)


def test_json_lines_split_independent_tuples_only_when_asked() -> None:
    text = ('{"process": 0, "type": "invoke", "f": "write", "value": [4, 1]}\n'
            '{"process": 0, "type": "ok", "f": "write", "value": [4, 1]}\n')
    assert [(r.key, r.value) for r in read_records(text)] == [(None, [4, 1])] * 2
    h = loads(text, independent=True)
    assert [(o.key, o.input, o.output) for o in h.operations] == [(4, 1, 1)]


@pytest.mark.parametrize(("text", "format"), [
    ("INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t1\n",
     "edn"),
    ('{"process": 0, "type": "invoke"}\n{"type": "ok"}\n', "jsonl"),
    ("{:process 0 :type :invoke}\n[1 2 3]\n", "edn"),
])
def test_lenient_reading_that_skips_every_record_is_no_history(text: str,
                                                              format: str) -> None:
    # Read as an empty history, this was "VALID, 0 operations" under --lenient.
    with pytest.raises(HistoryError, match=r"h:1: no record could be read \(\d+ skipped\)"):
        loads(text, format, source="h", lenient=True)
