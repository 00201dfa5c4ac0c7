"""Single-object models (register, cas-register, kv) split by key and compare values by
decoded type and value (``replicheck.models.equality``), through ``judge.check`` and the
command line, on JSON lines, EDN and Jepsen logs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from replicheck.histories.history import History, Record, pair
from replicheck.histories.judge import check
from replicheck.models.equality import Keyword, same_value, value_key
from replicheck.reports.cli import main

NAN = float("nan")
REGISTERS = ("register", "cas-register")


def hist(*rows: tuple[Any, ...]) -> History:
    """Rows ``(process, type, f, value[, key[, error]])`` in real-time order."""
    records = []
    for index, (process, type_, f, value, *rest) in enumerate(rows):
        key = rest[0] if rest else None
        error = rest[1] if len(rest) > 1 else None
        records.append(Record(process, type_, f, value, key=key, error=error, index=index))
    return pair(records)


def write_then_read(written: Any, read: Any, *, wkey: Any = None, rkey: Any = None,
                    f: tuple[str, str] = ("write", "read")) -> History:
    w, r = f
    return hist((0, "invoke", w, written, wkey), (0, "ok", w, written, wkey),
                (1, "invoke", r, None, rkey), (1, "ok", r, read, rkey))


# ---------------------------------------------------------------------------------------
# Keys: each key is its own register


@pytest.mark.parametrize("model", REGISTERS)
def test_a_read_of_another_key_does_not_see_a_write(model: str) -> None:
    v = check(write_then_read(1, 1, wkey="a", rkey="b"), model)
    assert v.valid is False
    assert set(v.parts) == {"'a'", "'b'"}
    assert v.parts["'a'"].valid is True and v.parts["'b'"].valid is False
    (anomaly,) = v.anomalies
    assert anomaly.ops == (1,)
    assert "key 'b' holds None" in anomaly.explanation
    assert check(write_then_read(1, None, wkey="a", rkey="b"), model).valid is True


@pytest.mark.parametrize("model", REGISTERS)
def test_keys_compare_by_decoded_type_and_value(model: str) -> None:
    assert check(write_then_read(1, 1, wkey=1, rkey=True), model).valid is False
    assert check(write_then_read(1, 1, wkey=1, rkey=1.0), model).valid is False
    assert check(write_then_read(1, 1, wkey=1, rkey=1), model).valid is True


@pytest.mark.parametrize("model", REGISTERS)
def test_operations_without_a_key_form_one_register_without_parts(model: str) -> None:
    v = check(write_then_read(1, 1), model)
    assert v.valid is True and v.parts == {}
    v = check(write_then_read(1, 2), model)
    assert v.valid is False and v.parts == {}
    assert v.counterexample["key"] is None
    assert "read -> 2 by process 1" in v.anomalies[0].explanation


@pytest.mark.parametrize("model", REGISTERS)
def test_keyless_operations_are_a_register_apart_from_keyed_ones(model: str) -> None:
    v = check(write_then_read(1, 1, wkey="a", rkey=None), model)
    assert v.valid is False and set(v.parts) == {"'a'", "None"}


def test_cas_of_another_key_does_not_see_a_write() -> None:
    h = hist((0, "invoke", "write", 1, "a"), (0, "ok", "write", 1, "a"),
             (1, "invoke", "cas", [1, 2], "b"), (1, "ok", "cas", [1, 2], "b"))
    assert check(h, "cas-register").valid is False
    h = hist((0, "invoke", "write", 1, "a"), (0, "ok", "write", 1, "a"),
             (1, "invoke", "cas", [1, 2], "b"),
             (1, "fail", "cas", [1, 2], "b", "condition-failed"))
    assert check(h, "cas-register").valid is True


# ---------------------------------------------------------------------------------------
# Values: by decoded type and value


@pytest.mark.parametrize("model", REGISTERS)
@pytest.mark.parametrize(("written", "read"), [
    (1, True), (True, 1), (0, False), (1, 1.0), (1.0, 1), ("a", Keyword("a")),
    (Keyword("a"), "a"), ([1], [True]), ([1, 2], [1.0, 2]), (None, False), (None, ""),
])
def test_a_read_matches_only_the_same_value(model: str, written: Any, read: Any) -> None:
    v = check(write_then_read(written, read), model)
    assert v.valid is False
    assert f"read -> {read!r} by" in v.anomalies[0].explanation  # the value as it was read


@pytest.mark.parametrize("model", REGISTERS)
@pytest.mark.parametrize("value", [NAN, [NAN], True, 1, 1.0, Keyword("a"), "a", [1, "a"]])
def test_a_read_matches_the_same_value(model: str, value: Any) -> None:
    assert check(write_then_read(value, value), model).valid is True


@pytest.mark.parametrize("model", REGISTERS)
def test_states_holding_true_and_1_are_different_states(model: str) -> None:
    # write true, write 1, read 1: if the search took the state 1 for the state true
    # (Python hashes them alike), the read of 1 would be refused.
    h = hist((0, "invoke", "write", True), (0, "ok", "write", True),
             (0, "invoke", "write", 1), (0, "ok", "write", 1),
             (1, "invoke", "read", None), (1, "ok", "read", 1))
    assert check(h, model).valid is True


@pytest.mark.parametrize("model", REGISTERS)
def test_concurrent_writes_of_true_and_1_are_different_operations(model: str) -> None:
    # Concurrent writes of 1 and true, then a read of 1: valid only with true first.
    # Operations taken as identical would be tried in one order only.
    h = hist((0, "invoke", "write", 1), (1, "invoke", "write", True),
             (0, "ok", "write", 1), (1, "ok", "write", True),
             (2, "invoke", "read", None), (2, "ok", "read", 1))
    assert check(h, model).valid is True
    h = hist((0, "invoke", "write", True), (1, "invoke", "write", 1),
             (0, "ok", "write", True), (1, "ok", "write", 1),
             (2, "invoke", "read", None), (2, "ok", "read", True))
    assert check(h, model).valid is True


def test_cas_compares_old_by_decoded_type_and_value() -> None:
    def cas_after_write(written: Any, old: Any, *, failed: bool) -> History:
        end = (1, "fail", "cas", [old, 9], None, "condition-failed") if failed else \
            (1, "ok", "cas", [old, 9])
        return hist((0, "invoke", "write", written), (0, "ok", "write", written),
                    (1, "invoke", "cas", [old, 9]), end)

    for written, old in [(1, True), (True, 1), (1, 1.0), ("a", Keyword("a"))]:
        assert check(cas_after_write(written, old, failed=False), "cas-register").valid \
            is False
        assert check(cas_after_write(written, old, failed=True), "cas-register").valid \
            is True
    assert check(cas_after_write(NAN, NAN, failed=False), "cas-register").valid is True
    assert check(cas_after_write(NAN, NAN, failed=True), "cas-register").valid is False


def test_kv_gets_and_keys_compare_by_decoded_type_and_value() -> None:
    def put_get(put: str, got: Any, pkey: Any = "k", gkey: Any = "k") -> History:
        return write_then_read(put, got, wkey=pkey, rkey=gkey, f=("put", "get"))

    assert check(put_get("x", "x"), "kv").valid is True
    assert check(put_get("x", Keyword("x")), "kv").valid is False
    assert check(put_get("x", ["x"]), "kv").valid is False
    assert check(put_get("1", 1), "kv").valid is False
    assert check(put_get("x", "x", 1, True), "kv").valid is False
    assert check(put_get("x", "", 1, True), "kv").valid is True
    v = check(put_get("x", "x", 1, 1.0), "kv")
    assert v.valid is False and set(v.parts) == {"1", "1.0"}


# ---------------------------------------------------------------------------------------
# End to end: the command line on EDN and Jepsen logs of jepsen.independent tuples


EDN_OTHER_KEY = """\
{:process 0, :type :invoke, :f :write, :value ["a" 1]}
{:process 0, :type :ok, :f :write, :value ["a" 1]}
{:process 1, :type :invoke, :f :read, :value ["b" nil]}
{:process 1, :type :ok, :f :read, :value ["b" 1]}
"""

EDN_TWO_KEYS_VALID = """\
{:process 0, :type :invoke, :f :write, :value ["a" 1]}
{:process 0, :type :ok, :f :write, :value ["a" 1]}
{:process 1, :type :invoke, :f :read, :value ["a" nil]}
{:process 1, :type :ok, :f :read, :value ["a" 1]}
{:process 1, :type :invoke, :f :read, :value ["b" nil]}
{:process 1, :type :ok, :f :read, :value ["b" nil]}
"""

EDN_TRUE_IS_NOT_1 = """\
{:process 0, :type :invoke, :f :write, :value ["a" 1]}
{:process 0, :type :ok, :f :write, :value ["a" 1]}
{:process 1, :type :invoke, :f :read, :value ["a" nil]}
{:process 1, :type :ok, :f :read, :value ["a" true]}
"""


def as_log(edn: str) -> str:
    """The same history as Jepsen log lines (process, type, f, value)."""
    import re

    out = []
    for line in edn.splitlines():
        m = re.fullmatch(r"\{:process (\d+), :type (:\w+), :f (:\w+), :value (.*)\}", line)
        assert m, line
        out.append("INFO  jepsen.util - " + "\t".join(m.groups()))
    return "\n".join(out) + "\n"


def run_cli(tmp_path: Path, name: str, text: str, model: str,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    path = tmp_path / name
    path.write_text(text)
    capsys.readouterr()
    status = main(["check", str(path), "--model", model, "--json"])
    return status, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("model", REGISTERS)
@pytest.mark.parametrize("suffix", ["edn", "log"])
def test_cli_splits_independent_tuples_by_key(tmp_path: Path, model: str, suffix: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    def text(edn: str) -> str:
        return edn if suffix == "edn" else as_log(edn)

    status, out = run_cli(tmp_path, f"other.{suffix}", text(EDN_OTHER_KEY), model, capsys)
    assert status == 1 and out["valid"] is False
    assert {k: p["valid"] for k, p in out["parts"].items()} == {"'a'": True, "'b'": False}
    status, out = run_cli(tmp_path, f"two.{suffix}", text(EDN_TWO_KEYS_VALID), model,
                          capsys)
    assert status == 0 and out["valid"] is True
    assert {k: p["valid"] for k, p in out["parts"].items()} == {"'a'": True, "'b'": True}
    status, out = run_cli(tmp_path, f"bool.{suffix}", text(EDN_TRUE_IS_NOT_1), model, capsys)
    assert status == 1 and out["valid"] is False


# ---------------------------------------------------------------------------------------
# Only a cas has a condition


@pytest.mark.parametrize("f", ["read", "write"])
def test_a_condition_failed_read_or_write_is_an_error_naming_the_operation(
        f: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before, the failed write was placed as if it had taken effect, and the failed
    # read as an observation that the register held false.
    value = 1 if f == "write" else None
    h = hist((0, "invoke", f, value), (0, "fail", f, value, None, "condition-failed"),
             (1, "invoke", "read", None), (1, "ok", "read", 1 if f == "write" else False))
    with pytest.raises(ValueError, match=rf"operation 0 \({f}\).*only a cas has a condition"):
        check(h, "cas-register")
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in [
        {"process": 0, "type": "invoke", "f": f, "value": value},
        {"process": 0, "type": "fail", "f": f, "value": value, "error": "condition-failed"},
    ]) + "\n")
    capsys.readouterr()
    assert main(["check", str(path), "--model", "cas-register"]) == 2
    err = capsys.readouterr().err
    assert "h.jsonl" in err and f"operation 0 ({f}, line 1)" in err


@pytest.mark.parametrize("suffix", ["edn", "log"])
def test_cli_splits_tuples_with_keyword_keys(tmp_path: Path, suffix: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    edn = EDN_OTHER_KEY.replace('["a" ', "[:a ").replace('["b" ', "[:b ")
    status, out = run_cli(tmp_path, f"kw.{suffix}", edn if suffix == "edn" else as_log(edn),
                          "cas-register", capsys)
    assert status == 1 and len(out["parts"]) == 2
    assert sorted(p["valid"] for p in out["parts"].values()) == [False, True]


@pytest.mark.parametrize("value", [[1], Keyword("x"), 1, None])
def test_a_kv_put_or_append_of_a_non_string_is_an_error_naming_the_operation(
        value: Any) -> None:
    for f in ("put", "append"):
        h = hist((0, "invoke", f, value, "k"), (0, "ok", f, value, "k"))
        with pytest.raises(ValueError, match=rf"operation 0 \({f}\): field value is"):
            check(h, "kv")


@pytest.mark.parametrize("value", [5, [1], [1, 2, 3], "ab", None])
def test_a_cas_without_a_pair_is_an_error_naming_the_operation(value: Any) -> None:
    h = hist((0, "invoke", "cas", value), (0, "ok", "cas", value))
    with pytest.raises(ValueError, match=r"operation 0 \(cas\): field value is .*"
                                         r"expected a pair \[old new\]"):
        check(h, "cas-register")


# ---------------------------------------------------------------------------------------
# EDN symbols and characters, NaN, and grouping by key


@pytest.mark.parametrize(("written", "read"), [
    ("sym", '"sym"'), ('"sym"', "sym"), ("sym", ":sym"), ("\\a", '"a"'), ('"a"', "\\a"),
    ("\\a", "a"),
])
def test_an_edn_symbol_or_character_is_not_a_string(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, read: str) -> None:
    """Read from EDN, a symbol ``sym`` and a character ``\\a`` are values of their own
    types: a read of the string "sym" does not see a write of the symbol ``sym``."""
    path = tmp_path / "h.edn"
    path.write_text(
        f"{{:process 0, :type :invoke, :f :write, :value {written}}}\n"
        f"{{:process 0, :type :ok, :f :write, :value {written}}}\n"
        "{:process 1, :type :invoke, :f :read, :value nil}\n"
        f"{{:process 1, :type :ok, :f :read, :value {read}}}\n")
    assert main(["check", str(path), "--model", "register"]) == 1
    capsys.readouterr()


@pytest.mark.parametrize("value", ["sym", "\\a", "\\newline", "foo/bar"])
def test_an_edn_symbol_or_character_matches_itself_and_round_trips(
        value: str) -> None:
    from replicheck.histories.formats import loads
    from replicheck.histories.formats.edn_values import edn_value, parse_edn_value
    from replicheck.histories.formats.jsonl import from_json, to_json

    read = parse_edn_value(value)
    assert not isinstance(read, Keyword) and type(read) is not str
    assert edn_value(read) == value
    assert same_value(from_json(json.dumps(to_json(read))), read)
    text = (f"{{:process 0, :type :invoke, :f :write, :value {value}}}\n"
            f"{{:process 0, :type :ok, :f :write, :value {value}}}\n"
            "{:process 1, :type :invoke, :f :read, :value nil}\n"
            f"{{:process 1, :type :ok, :f :read, :value {value}}}\n")
    assert check(loads(text, "edn"), "register").valid is True


@pytest.mark.parametrize(("a", "b"), [
    (Decimal("NaN"), Decimal("-NaN")), (float("nan"), -float("nan")),
    (Decimal("NaN"), Decimal("NaN5")),
])
def test_nan_is_nan_whatever_its_sign(a: Any, b: Any) -> None:
    assert same_value(a, b) and value_key(a) == value_key(b)
    assert check(write_then_read(a, b), "register").valid is True


def test_a_signalling_nan_and_a_quiet_one_stay_apart() -> None:
    assert not same_value(Decimal("sNaN"), Decimal("NaN"))


def test_by_key_groups_keys_by_decoded_type_and_value() -> None:
    h = hist((0, "invoke", "write", 1, 1), (0, "ok", "write", 1, 1),
             (1, "invoke", "write", 2, True), (1, "ok", "write", 2, True),
             (2, "invoke", "write", 3, 1.0), (2, "ok", "write", 3, 1.0),
             (3, "invoke", "read", None, 1), (3, "ok", "read", 1, 1))
    groups = h.by_key()
    assert [(type(k), [o.id for o in ops]) for k, ops in groups] == [
        (int, [0, 3]), (bool, [1]), (float, [2])]


# ---------------------------------------------------------------------------------------
# A write completes with the value it was invoked with


@pytest.mark.parametrize(("model", "f", "invoked", "completed"), [
    ("register", "write", 1, 2), ("cas-register", "write", 1, 2),
    ("register", "write", 1, True), ("kv", "put", "a", "b"), ("kv", "append", "a", "ab"),
])
def test_a_write_that_completes_with_another_value_is_an_error_naming_the_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str, f: str,
        invoked: Any, completed: Any) -> None:
    """invoke write 1, ok write 2: what was written is unknown; it was silently taken
    to be 1."""
    rows = [{"process": 0, "type": "invoke", "f": f, "key": "k", "value": invoked},
            {"process": 0, "type": "ok", "f": f, "key": "k", "value": completed}]
    path = tmp_path / "echo.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["check", str(path), "--model", model]) == 2
    err = capsys.readouterr().err
    assert "echo.jsonl" in err and "line 2" in err and repr(completed) in err, err


@pytest.mark.parametrize("completed", [1, None])
def test_a_write_that_completes_with_its_value_or_none_is_fine(completed: Any) -> None:
    h = hist((0, "invoke", "write", 1), (0, "ok", "write", completed),
             (1, "invoke", "read", None), (1, "ok", "read", 1))
    assert check(h, "register").valid is True
