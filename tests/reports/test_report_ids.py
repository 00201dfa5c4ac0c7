"""Reports point at the operations the checker named: ``check --json`` ``ops`` are
invocation indices of the file as read (with each invocation's record index and line),
``check --html`` and the verify reports highlight exactly those operations, and the
count beside a timeline says how many of its operations were checked."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from replicheck.histories.history import History
from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.requests import Get, Put
from replicheck.properties.guarantees import judge_guarantee
from replicheck.properties.outcomes import Counterexample, StoreOutcome, SuiteOutcome
from replicheck.properties.recording import RecordingStore
from replicheck.reports.cli import main
from replicheck.reports.html import render_html
from replicheck.reports.json_report import suite_to_json
from replicheck.reports.markdown import render_markdown

# A register history with an operation of a function the model does not know first:
# ``--lenient`` drops it. Invocations: 0 frob, 1 write 1, 2 cas 1->2, 3 read -> 1 (stale).
LENIENT_HISTORY = "# a comment line\n" + "\n".join(json.dumps(r) for r in [
    {"process": 5, "type": "invoke", "f": "frob", "value": 1},
    {"process": 5, "type": "ok", "f": "frob", "value": 1},
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 1, "type": "invoke", "f": "cas", "value": [1, 2]},
    {"process": 1, "type": "ok", "f": "cas", "value": [1, 2]},
    {"process": 0, "type": "invoke", "f": "read", "value": None},
    {"process": 0, "type": "ok", "f": "read", "value": 1},
]) + "\n"

# Each bar of a timeline: its classes and its operation id.
BAR = re.compile(r'<g class="(op [^"]*)" id="[^"]*" data-op="(\d+)">')


def highlighted(page: str) -> list[int]:
    """The ids of the bars a page marks as named by an anomaly."""
    return sorted(int(op) for cls, op in BAR.findall(page) if "anomaly" in cls.split())


def check_lenient(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                  ) -> tuple[dict[str, object], str]:
    history = tmp_path / "h.jsonl"
    history.write_text(LENIENT_HISTORY)
    page = tmp_path / "h.html"
    status = main(["check", str(history), "--model", "cas-register", "--lenient", "--json",
                   "--html", str(page)])
    assert status == 1
    return json.loads(capsys.readouterr().out), page.read_text()


def test_check_json_names_invocation_indices_of_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, _ = check_lenient(tmp_path, capsys)
    anomalies = report["anomalies"]
    assert [a["type"] for a in anomalies] == ["not-linearizable", "stale-read"]  # type: ignore[attr-defined]
    anomaly = anomalies[0]  # type: ignore[index]
    assert 3 in anomaly["ops"]  # the stale read: the file's fourth invocation
    assert "frob" not in anomaly["explanation"]
    # a register without keys: one object, named by no key
    assert anomaly["explanation"].startswith("No order of the operations is allowed")
    assert anomalies[1]["ops"] == [1, 2, 3]  # type: ignore[index]
    # each op's invocation record (its index among the records) and line in the file
    where = {0: (0, 2), 1: (2, 4), 2: (4, 6), 3: (6, 8)}
    assert anomaly["records"] == [where[i][0] for i in anomaly["ops"]]
    assert anomaly["lines"] == [where[i][1] for i in anomaly["ops"]]


def test_check_html_highlights_the_operations_the_json_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, page = check_lenient(tmp_path, capsys)
    named = sorted({i for a in report["anomalies"] for i in a["ops"]})  # type: ignore[attr-defined]
    assert highlighted(page) == named
    # the page draws the history as read, and says how much of it was checked
    assert sorted(int(op) for _, op in BAR.findall(page)) == [0, 1, 2, 3]
    assert "3 of 4 operations checked" in page


def stale_after_an_eventual_read() -> tuple[History, MemoryStore]:
    """op 0: an eventual read; op 1: a put; op 2: a strong read that misses the put."""
    store = MemoryStore()
    rec = RecordingStore(store)
    rec.execute(Get("items", {"pk": "k0"}, consistent=False), "c0")
    rec.execute(Put("items", {"pk": "k0", "v": "v1"}), "c0")
    rec.execute(Get("items", {"pk": "k0"}, consistent=True), "c0")
    history = rec.history()
    ops = list(history.operations)
    ops[2] = replace(ops[2], output=ops[0].output)
    return replace(history, operations=tuple(ops)), store


def observed_outcome() -> SuiteOutcome:
    """A verify outcome whose observations are judged on part of the history: strong
    reads only (linearizability) and the single-item view (read-your-writes)."""
    history, store = stale_after_an_eventual_read()
    unclaimed = replace(store.descriptor, claims=())
    examples = []
    for guarantee in ("linearizable-strong-reads", "read-your-writes"):
        judgement = judge_guarantee(guarantee, history, unclaimed)
        assert judgement.status == "observed"
        examples.append(Counterexample("concurrent-histories", guarantee,
                                       judgement.explanation(), steps=("a step",),
                                       history=history, verdict=judgement.verdict))
    store_outcome = StoreOutcome("memory", "memory", (), observations=tuple(examples))
    return SuiteOutcome("ci", (store_outcome,), seconds=1.0)


def test_verify_reports_highlight_the_operations_the_json_names() -> None:
    outcome = observed_outcome()
    report = suite_to_json(outcome)
    named = [sorted({i for a in o["verdict"]["anomalies"] for i in a["ops"]})
             for o in report["stores"][0]["observations"]]
    # the strong read (op 2) cannot be placed, and is stale after the put (op 1)
    assert named == [[1, 2], [1, 2]]
    page = render_html(outcome)
    timelines = page.split('<div class="timeline" id=')[1:]
    assert [highlighted(t) for t in timelines] == named
    assert page.count("2 of 3 operations checked") >= 2
    markdown = render_markdown(outcome)
    assert "History (2 of 3 operations checked;" in markdown
