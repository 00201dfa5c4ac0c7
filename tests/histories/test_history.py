"""Pairing records into operations, and the Verdict's JSON shape."""

from __future__ import annotations

import json

import pytest

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
