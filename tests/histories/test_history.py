"""Pairing records into operations, and the Verdict's JSON shape."""

from __future__ import annotations

import json

import pytest

from replicheck.histories.formats import dumps_edn, dumps_jsonl, loads
from replicheck.histories.history import HistoryError, Record, pair
from replicheck.histories.verdict import Anomaly, Stats, Verdict, combine_validity, exit_status


def R(process: object, type_: str, f: str, value: object = None, line: int | None = None,
      **kw: object) -> Record:
    return Record(process, type_, f, value, line=line, **kw)  # type: ignore[arg-type]


def records(*rows: Record) -> list[Record]:
    return [Record(**{**r.__dict__, "index": i}) for i, r in enumerate(rows)]


def test_pairs_invocations_with_completions_in_invocation_order() -> None:
    h = pair(records(
        R(0, "invoke", "write", 1),
        R(1, "invoke", "read"),
        R(1, "ok", "read", 1),
        R(0, "ok", "write", 1),
        R(2, "invoke", "cas", [1, 2]),
        R(2, "fail", "cas", [1, 2], error="condition-failed"),
        R(3, "invoke", "write", 5),
        R(3, "info", "write", 5, error="timed-out"),
        R(4, "invoke", "read"),
    ))
    assert [(o.id, o.process, o.f, o.status) for o in h.operations] == [
        (0, 0, "write", "ok"), (1, 1, "read", "ok"), (2, 2, "cas", "fail"),
        (3, 3, "write", "info"), (4, 4, "read", "info"),
    ]
    write, read, cas, timeout, pending = h.operations
    assert (write.call, write.ret) == (0, 3)
    assert (read.input, read.output, read.value) == (None, 1, 1)
    assert cas.failed and cas.error == "condition-failed"
    assert timeout.indeterminate and timeout.value == 5
    assert pending.ret is None and pending.indeterminate


def test_faults_and_observations_are_kept_apart() -> None:
    h = pair(records(
        R("nemesis", "info", "start-partition", "majority"),
        R(0, "invoke", "read"),
        R(0, "ok", "read", None),
        R(0, "observe", "replicas", {"n1": {}}),
    ))
    assert len(h) == 1
    assert [r.f for r in h.faults] == ["start-partition"]
    assert [r.f for r in h.observations] == ["replicas"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([R(0, "ok", "read", 1, line=7)], "h.jsonl:7: process 0 completes 'read' (ok) without "
         "an invocation in flight; expected an invoke first"),
        ([R(0, "invoke", "read", line=1), R(0, "invoke", "write", 2, line=2)],
         "h.jsonl:2: process 0 invokes 'write' while its 'read' is still in flight (invoked "
         "at line 1); expected a completion (ok, fail or info) first"),
        ([R(0, "invoke", "read", line=1), R(0, "ok", "write", line=2)],
         "h.jsonl:2: process 0 completes 'write' but invoked 'read'; expected the same "
         "function"),
        ([Record(0, "invoke", "read", key="a", line=1),
          Record(0, "ok", "read", 1, key="b", line=2)],
         "h.jsonl:2: process 0 completes 'read' on key 'b' but invoked it on key 'a'; "
         "expected the same key (or none)"),
        ([Record(0, "invoke", "read", key=1, line=1),
          Record(0, "ok", "read", 1, key=True, line=2)],
         "h.jsonl:2: process 0 completes 'read' on key True but invoked it on key 1; "
         "expected the same key (or none)"),
        ([R(0, "done", "read", line=3)], "h.jsonl:3: unknown record type 'done'; expected "
         "one of invoke, ok, fail, info, observe"),
    ],
)
def test_malformed_pairings_name_source_line_and_expectation(
    rows: list[Record], message: str
) -> None:
    with pytest.raises(HistoryError) as info:
        pair(rows, source="h.jsonl")
    assert str(info.value) == message


def test_lenient_pairing_skips_and_reports() -> None:
    h = pair([R(0, "ok", "read", 1, line=1), R(1, "invoke", "read", line=2),
              R(1, "ok", "read", 3, line=3)], source="x", lenient=True)
    assert len(h) == 1
    assert [e.line for e in h.skipped] == [1]


def test_empty_history_pairs_to_nothing() -> None:
    assert len(pair([])) == 0


def test_verdict_json_has_the_contract_keys() -> None:
    v = Verdict(False, "cas-register", ("linearizable",),
                anomalies=(Anomaly("not-linearizable", (3, 4), "read 2 after write 3"),),
                ruled_out=frozenset({"linearizable"}), counterexample={"prefix": (0, 1)},
                stats=Stats(operations=5, seconds=0.25))
    out = json.loads(json.dumps(v.to_json()))
    assert set(out) >= {"schema", "valid", "model", "consistency", "anomalies", "ruled_out",
                        "still_possible", "witness", "counterexample", "stats"}
    assert out["valid"] is False
    assert out["anomalies"] == [{"type": "not-linearizable", "ops": [3, 4],
                                 "explanation": "read 2 after write 3"}]
    assert out["stats"]["operations"] == 5
    assert out["counterexample"] == {"prefix": [0, 1]}


@pytest.mark.parametrize(
    ("values", "combined", "status"),
    [([], True, 0), ([True, True], True, 0), ([True, "unknown"], "unknown", 3),
     (["unknown", False, True], False, 1)],
)
def test_combining_parts_and_exit_status(values: list, combined: object, status: int) -> None:
    assert combine_validity(values) == combined
    assert exit_status(combine_validity(values)) == status


def test_a_completion_indexed_before_its_invocation_is_an_error() -> None:
    rows = [R(0, "invoke", "write", 1, line=1, index=5), R(1, "invoke", "read", line=2, index=6),
            R(0, "ok", "write", 1, line=3, index=2), R(1, "ok", "read", 1, line=4, index=7)]
    with pytest.raises(HistoryError) as info:
        pair(rows, source="h.jsonl")
    assert str(info.value) == ("h.jsonl:3: process 0 completes 'write' (ok) at index 2, before "
                               "its invocation at index 5; expected a completion after its "
                               "invocation")
    h = pair(rows, source="h.jsonl", lenient=True)
    assert [(o.process, o.status, o.ret) for o in h.operations] == [(0, "info", None),
                                                                     (1, "ok", 7)]
    assert [e.line for e in h.skipped] == [3]


@pytest.mark.parametrize("text", [
    '{"process": 0, "type": "invoke", "f": "write", "value": 1, "index": 9}\n'
    '{"process": 0, "type": "ok", "f": "write", "value": 1, "index": 3}\n',
    "{:process 0, :type :invoke, :f :write, :value 1, :index 9}\n"
    "{:process 0, :type :ok, :f :write, :value 1, :index 3}\n",
])
def test_every_format_refuses_a_completion_before_its_invocation(text: str) -> None:
    with pytest.raises(HistoryError, match=r"^h:2: .* at index 3, before its invocation"):
        loads(text, source="h")


@pytest.mark.parametrize("index", [10**9, 10**30])
@pytest.mark.parametrize("fmt", ["jsonl", "edn"])
def test_huge_indexes_pair_exactly(index: int, fmt: str) -> None:
    rows = [Record(0, "invoke", "write", 1, index=index),
            Record(1, "invoke", "read", index=index + 1),
            Record(0, "ok", "write", 1, index=index + 10**6),
            Record(1, "ok", "read", 1, index=index + 2)]
    text = dumps_jsonl(rows) if fmt == "jsonl" else dumps_edn(rows)
    h = loads(text, fmt)
    assert [(o.call, o.ret) for o in h.operations] == [(index, index + 10**6),
                                                       (index + 1, index + 2)]
