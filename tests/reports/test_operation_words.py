"""One label per client and operations in DynamoDB's words, from the recorder to the
reports: the recorder names the client of each invocation, a client that continues
after an indeterminate answer is the same client under a new process (``c0/2``), and
the Markdown history table, the timeline (row labels, bar labels, hover text) and the
HTML history table all say the same words, with the ``key`` column filled."""

from __future__ import annotations

import threading
from html.parser import HTMLParser
from typing import Any

import pytest

from replicheck.histories.history import History
from replicheck.histories.verdict import Anomaly, Verdict
from replicheck.histories.wording import process_label
from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.errors import ConditionalCheckFailed, Indeterminate
from replicheck.models.items.requests import (
    ConditionCheck,
    Get,
    Put,
    Request,
    TransactWrite,
    Update,
)
from replicheck.properties.outcomes import Counterexample, PropertyRun, StoreOutcome, SuiteOutcome
from replicheck.properties.recording import RecordingStore
from replicheck.reports.html import render_html
from replicheck.reports.markdown import render_markdown
from replicheck.reports.naming import Words
from replicheck.reports.timeline import timeline_html


class _Flaky:
    """A MemoryStore whose third request times out after applying."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.calls = 0

    @property
    def descriptor(self) -> Any:
        return self.inner.descriptor

    def execute(self, request: Request) -> Any:
        self.calls += 1
        response = self.inner.execute(request)
        if self.calls == 3:
            raise Indeterminate("timed out")
        return response


def _history() -> History:
    rec = RecordingStore(_Flaky())
    rec.execute(Put("items", {"pk": "k0", "v": "v1"}), "c0")
    with pytest.raises(ConditionalCheckFailed):
        rec.execute(Put("items", {"pk": "k0", "v": "v2"}, "attribute_not_exists(pk)"), "c1")
    with pytest.raises(Indeterminate):
        rec.execute(Update("items", {"pk": "k0"}, "SET v = :v", "v = :old",
                           values={":v": "v3", ":old": "v1"}), "c0")
    rec.execute(Get("items", {"pk": "k0"}, consistent=True), "c0")
    rec.execute(TransactWrite((Put("items", {"pk": "k1", "v": "x"}),
                               ConditionCheck("items", {"pk": "k0"}, "attribute_exists(pk)"))),
                "c1")
    return rec.history()


WORDS = [
    ("c0", "k0", 'PutItem k0 {v: "v1"}', "ok"),
    ("c1", "k0", 'PutItem k0 {v: "v2"} if attribute_not_exists(pk)', "ConditionalCheckFailed"),
    ("c0", "k0", 'UpdateItem k0 SET v = "v3" if v = "v1"', "indeterminate"),
    ("c0/2", "k0", "GetItem k0 (strong)", '{v: "v3"}'),
    ("c1", "k1, k0", 'TransactWriteItems [Put k1 {v: "x"}, ConditionCheck k0 if '
     "attribute_exists(pk)]", "ok"),
]


def test_the_recorder_names_clients_and_a_fresh_process_is_the_same_client() -> None:
    history = _history()
    ops = history.operations
    assert ops[2].process != ops[3].process  # Jepsen's rule: a new process after info
    words = Words(history)
    assert [(words.client(op), words.key(op), words.request(op), words.answer(op))
            for op in ops] == WORDS
    assert process_label(ops[0]) == "c0"


def _outcome(history: History) -> SuiteOutcome:
    verdict = Verdict(False, "item", ("linearizable",),
                      (Anomaly("not-linearizable", (3,), "stale", {}),))
    example = Counterexample("p", "linearizable-strong-reads", "x", history=history,
                             verdict=verdict, steps=("c0 submits GetItem k0 (strong)",))
    store = StoreOutcome("s", "s", (), (PropertyRun("p", "failed", counterexample=example),))
    return SuiteOutcome("ci", (store,))


def test_the_markdown_history_table_says_the_same_words() -> None:
    text = render_markdown(_outcome(_history()))
    header = next(line for line in text.splitlines() if line.startswith("| op "))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "op", "client", "key", "operation", "answer", "status", "records", "anomaly"]
    rows = [line for line in text.splitlines() if line.startswith("| ") and
            line[2].isdigit()]
    assert len(rows) == len(WORDS)
    for row, (client, key, request, answer) in zip(rows, WORDS, strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1:5] == [client, key, request, answer]


class _Text(HTMLParser):
    """The text of each element kind the timeline and the table hold."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.titles: list[str] = []
        self.labels: list[str] = []
        self.cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(tag)
        if tag == "td":
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if not self.stack:
            return
        if self.stack[-1] == "title":
            self.titles.append(data)
        elif self.stack[-1] == "text" and "svg" in self.stack:
            self.labels.append(data)
        elif "td" in self.stack:
            self.cells[-1] += data


def test_the_timeline_labels_rows_by_client_and_bars_by_the_operation() -> None:
    history = _history()
    page = _Text()
    page.feed(timeline_html(history, {3: ["not-linearizable"]}))
    for client in ("c0", "c0/2", "c1"):
        assert client in page.labels
    assert not any(label.startswith("process") for label in page.labels)
    for client, _, request, answer in WORDS:
        assert any(t.startswith("op ") and f"· {client}\n{request}\n-> {answer}\n" in t
                   for t in page.titles), (client, request)


def test_the_html_report_has_the_history_table() -> None:
    page = _Text()
    page.feed(render_html(_outcome(_history())))
    for client, key, request, answer in WORDS:
        assert [client, key, request, answer] in [page.cells[i:i + 4]
                                                  for i in range(len(page.cells))]


def test_a_teardown_is_one_line() -> None:
    """The concurrency property's teardown (or a shrunk schedule's epilogue) as one step: deliveries
    and drops counted, anti-entropy of every pair one phrase, observations last."""
    from replicheck.properties.schedule import describe_teardown

    nodes = ("n1", "n2", "n3")
    steps: list[dict[str, Any]] = [{"decide": {"drop": 7}}, {"decide": {"drop": 9}},
                                   {"heal": {}}, {"restart": "n2"}, {"run": {}},
                                   *({"decide": {"deliver": i}} for i in range(20, 37)),
                                   {"settle": {}},
                                   *({"anti_entropy": [a, b, "items"]}
                                     for i, a in enumerate(nodes) for b in nodes[i + 1:]),
                                   {"observe": "replicas"}, {"observe": "hints"}]
    assert describe_teardown(steps) == (
        "then: drop 2 messages, heal, restart n2, run until nothing is in flight, "
        "deliver 17 messages, settle, anti-entropy on every pair, observe replicas, hints")
    assert describe_teardown([{"heal": {}}, {"settle": {}},
                              {"anti_entropy": ["n1", "n2", "items"]}]) == (
        "then: heal, settle, anti-entropy on every pair")
    assert describe_teardown([{"anti_entropy": ["n1", "n2", "items"]},
                              {"anti_entropy": ["n2", "n3", "items"]}]) == (
        "then: anti-entropy n1 <-> n2, n2 <-> n3")


class _Blocking(MemoryStore):
    """Puts of the value ``stuck`` wait until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def execute(self, request: Request) -> Any:
        if isinstance(request, Put) and request.item.get("v") == "stuck":
            self.release.wait(10)
        return super().execute(request)


def test_threaded_steps_and_history_name_a_fresh_process_alike() -> None:
    """A threaded client whose call got no answer continues as ``c0/2`` in the steps
    and in the history's labels alike."""
    from replicheck.properties.threaded import threaded_machine

    stores: list[_Blocking] = []

    def factory() -> _Blocking:
        stores.append(_Blocking())
        return stores[-1]

    machine: Any = threaded_machine(factory, batch_timeout=0.2)()
    machine.enqueue("c0", Put("items", {"pk": "k0", "v": "stuck"}))
    machine.enqueue("c1", Put("items", {"pk": "k1", "v": "v1"}))
    machine.run_batch()
    machine.enqueue("c0", Get("items", {"pk": "k1"}, consistent=True))
    stores[-1].release.set()
    machine.run_batch()
    steps = [s.strip() for s in machine.steps]
    assert 'c0: PutItem k0 {v: "stuck"} -> no answer within 0.2 s: recorded as ' \
        "indeterminate" in steps
    assert any(s.startswith('c1: PutItem k1 {v: "v1"} -> ok (') for s in steps)
    assert any(s.startswith('c0/2: GetItem k1 (strong) -> {v: "v1"} (') for s in steps), steps
    history = machine.history()
    words = Words(history)
    assert sorted((words.client(op), words.request(op), words.answer(op))
                  for op in history.operations) == [
        ("c0", 'PutItem k0 {v: "stuck"}', "indeterminate"),
        ("c0/2", "GetItem k1 (strong)", '{v: "v1"}'),
        ("c1", 'PutItem k1 {v: "v1"}', "ok")]
    machine.teardown()


def test_machine_steps_name_a_fresh_process_as_the_history_does() -> None:
    """The concurrency property's steps: a client's submissions are its operations in order, so the
    one after an indeterminate answer reads ``c0/2 submits ...``; after a burst (which
    may stop early) the client's later steps keep its plain name."""
    from replicheck.histories.history import Operation
    from replicheck.histories.wording import client_meta
    from replicheck.properties.verdicts import label_clients

    def op(i: int, client: str, incarnation: int, status: str = "ok") -> Operation:
        return Operation(i, i, "put", None, None, None, status, call=2 * i,  # type: ignore[arg-type]
                         ret=2 * i + 1, meta=client_meta(client, incarnation))

    history = History((op(0, "c0", 1, "info"), op(1, "c1", 1), op(2, "c0", 2),
                       op(3, "c1", 1), op(4, "c1", 1)))
    steps: list[dict[str, Any]] = [
        {"submit": {"client": "c0"}}, {"submit": {"client": "c1"}},
        {"decide": {"deliver": 3}}, {"submit": {"client": "c0"}},
        {"burst": {"client": "c1", "count": 2}}, {"submit": {"client": "c1"}}]
    words = ("c0 submits A", "c1 submits B", "deliver message 3", "c0 submits C",
             "c1 puts {pk: \"k\"} 2 time(s) in a row", "c1 submits D")
    assert label_clients(words, steps, history) == (
        "c0 submits A", "c1 submits B", "deliver message 3", "c0/2 submits C",
        "c1 puts {pk: \"k\"} 2 time(s) in a row", "c1 submits D")
