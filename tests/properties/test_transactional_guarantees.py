"""The transactional guarantees are judged by the Elle item checker, not by
linearizability: ``serializable-transactions`` as ``serializable`` (G0 ... G2 with
their cycles), ``atomic-transactions`` as ``read-atomic`` with fractured reads; each
judgement, cell and report names the checker that decided it.

The histories are written as the reference leader store records them (versions in
``meta``; a global table's versions are ``[timestamp, region]`` stamps)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from replicheck.histories.history import History
from replicheck.histories.items import request_of, response_of
from replicheck.implementation.reference.leader import global_tables
from replicheck.implementation.reference.leader.store import LEADER_CAPABILITIES
from replicheck.implementation.store import Claim, Descriptor
from replicheck.models.items.errors import StoreError
from replicheck.models.items.operations import apply, empty
from replicheck.models.items.requests import (
    ConditionCheck,
    Delete,
    Get,
    Put,
    Response,
    TableSchema,
    TransactWrite,
    Update,
)
from replicheck.properties.driving import fair_step
from replicheck.properties.guarantees import (
    HOLDS,
    LINEARIZABILITY_CHECKER,
    OBSERVED,
    READ_ATOMIC_CHECKER,
    SERIALIZABLE_CHECKER,
    VIOLATED,
    Judgement,
    judge_guarantee,
)
from replicheck.properties.outcomes import (
    Cell,
    Counterexample,
    PropertyRun,
    StoreOutcome,
    SuiteOutcome,
)
from replicheck.properties.recording import RecordingStore
from replicheck.properties.transactions import FRACTURED_READ, transactional_view
from replicheck.reports.html import render_html
from replicheck.reports.json_report import suite_to_json
from replicheck.reports.markdown import render_markdown
from tests.histories.test_elle_items import Builder, fractured_read, got, item, put, tg, tw

T = "items"
SCHEMA = TableSchema(T, "pk")
WRITES = frozenset({"put", "update", "delete", "conditional-write"})
TXNS = frozenset({"transact-write", "transact-get"})

CLAIMS = Descriptor("claims-everything", LEADER_CAPABILITIES, claims=(
    Claim("linearizable-conditional-writes", WRITES),
    Claim("serializable-transactions", TXNS),
    Claim("atomic-transactions", TXNS)), tables=(SCHEMA,))
NOTHING = Descriptor("claims-nothing", LEADER_CAPABILITIES, tables=(SCHEMA,))


def judge(guarantee: str, history: History, descriptor: Descriptor = CLAIMS) -> Judgement:
    return judge_guarantee(guarantee, history, descriptor, timeout=20.0)


def types(judgement: Judgement) -> list[str]:
    assert judgement.verdict is not None
    return [a.type for a in judgement.verdict.anomalies]


def increment(k: str) -> Update:
    return Update(T, {"pk": k}, "SET n = if_not_exists(n, :zero) + :one",
                  values={":zero": Decimal(0), ":one": Decimal(1)})


def wrote(k: str, version: Any, written: dict[str, Any] | None) -> dict[str, Any]:
    return {"table": T, "key": [k], "version": version, "item": written,
            "delete": written is None}


# -- a stale conditional write is no transactional anomaly ---------------------------------


def stale_conditional_put() -> History:
    """Region r1 puts x; afterwards region r2, not yet replicated to, creates x "if
    absent" with an older stamp; a transaction then reads r1's item. No linearization
    (the create began after the put completed), and yet a serial order: the create,
    the put, the read."""
    b = Builder()
    b.ok(0, put("x", 1), meta={"version": [5, "r1"]})
    b.ok(1, Put(T, {"pk": "x", "v": 2}, "attribute_not_exists(pk)"),
         meta={"version": [3, "r2"]})
    b.ok(2, tg("x"), got(item("x", 1)),
         {"reads": [{"table": T, "key": ["x"], "version": [5, "r1"]}]})
    return b.history()


def test_a_stale_conditional_write_violates_linearizability_not_the_transactions() -> None:
    history = stale_conditional_put()
    linearizable = judge("linearizable-conditional-writes", history)
    assert linearizable.status == VIOLATED
    assert linearizable.checker == LINEARIZABILITY_CHECKER
    serializable = judge("serializable-transactions", history)
    assert serializable.status == HOLDS, serializable.explanation()
    assert serializable.checker == SERIALIZABLE_CHECKER
    assert serializable.verdict is not None and serializable.verdict.witness is not None
    atomic = judge("atomic-transactions", history)
    assert atomic.status == HOLDS, atomic.explanation()
    assert atomic.checker == READ_ATOMIC_CHECKER


# -- real transactional anomalies, with their names and cycles -----------------------------


def lost_increment() -> History:
    """Two transactions increment x at once and both commit from the absent item: the
    second version holds 1, not 2."""
    b = Builder()
    b.invoke(0, tw(increment("x")))
    b.invoke(1, tw(increment("x")))
    one = {"pk": "x", "n": Decimal(1)}
    b.complete(0, Response(), {"writes": [wrote("x", [4, "r1"], one)]})
    b.complete(1, Response(), {"writes": [wrote("x", [6, "r2"], one)]})
    b.ok(2, tg("x"), got(one), {"reads": [{"table": T, "key": ["x"], "version": [6, "r2"]}]})
    return b.history()


def test_a_lost_update_among_transactions_is_a_G_single_cycle_not_an_atomicity_failure(
        ) -> None:
    serializable = judge("serializable-transactions", lost_increment())
    assert serializable.status == VIOLATED
    assert types(serializable) == ["G-single", "lost-update"]
    assert serializable.verdict is not None
    assert serializable.verdict.anomalies[1].ops == (0, 1)
    cycle = serializable.verdict.anomalies[0].data["cycle"]
    assert {(e["from"], e["to"], e["kind"]) for e in cycle} == {(1, 0, "rw"), (0, 1, "ww")}
    assert any("inferred from the recorded versions" in n for n in serializable.verdict.notes)
    assert judge("atomic-transactions", lost_increment()).status == HOLDS


def test_the_version_an_update_read_is_the_latest_that_explains_the_item_it_wrote() -> None:
    view = transactional_view(lost_increment())
    assert view.operations[0].meta["reads"] == [
        {"table": T, "key": ["x"], "version": None, "inferred": "previous"}]
    assert view.operations[1].meta["reads"] == [
        {"table": T, "key": ["x"], "version": None, "inferred": "older"}]
    assert view.operations[2].meta == lost_increment().operations[2].meta  # a read: as is


def increment_after_indeterminate_recreation() -> History:
    """x is incremented twice (n = 1, then 2), then put without n; a delete and an ADD
    of n (making n = 1 again) are indeterminate; then an increment makes n = 2. It may
    have read the item the ADD made, a version the history does not show, so no older
    recorded version is inferred: a serial order explains it all."""
    one, two = {"pk": "x", "n": Decimal(1)}, {"pk": "x", "n": Decimal(2)}
    b = Builder()
    b.ok(0, increment("x"), meta={"version": 1, "item": one})
    b.ok(0, increment("x"), meta={"version": 2, "item": two})
    b.ok(0, put("x", 5), meta={"version": 3})
    b.invoke(1, Delete(T, {"pk": "x"})).complete(1, None)
    b.invoke(2, Update(T, {"pk": "x"}, "ADD n :one", values={":one": Decimal(1)}))
    b.complete(2, None)
    b.ok(3, increment("x"), meta={"version": 6, "item": two})
    return b.history()


def test_no_older_version_is_inferred_where_an_unrecorded_write_may_explain_it() -> None:
    history = increment_after_indeterminate_recreation()
    assert "reads" not in transactional_view(history).operations[-1].meta
    # the same history without the indeterminate writes: the increment read version 1
    b = Builder()
    for op in history.operations:
        if op.status == "ok":
            b.ok(op.process, request_of(op), response_of(op, request_of(op)), op.meta)
    bare = transactional_view(b.history()).operations[-1].meta["reads"]
    assert bare == [{"table": T, "key": ["x"], "version": 1, "inferred": "older"}]


def circular_information_flow() -> History:
    """Each transaction's condition check read the other's write (G1c)."""
    b = Builder()
    b.invoke(0, tw(put("x", 1), ConditionCheck(T, {"pk": "y"}, "attribute_exists(pk)")))
    b.invoke(1, tw(put("y", 1), ConditionCheck(T, {"pk": "x"}, "attribute_exists(pk)")))
    b.complete(0, Response(), {"writes": [wrote("x", 1, item("x", 1))],
                               "reads": [{"table": T, "key": ["y"], "version": 2}]})
    b.complete(1, Response(), {"writes": [wrote("y", 2, item("y", 1))],
                               "reads": [{"table": T, "key": ["x"], "version": 1}]})
    return b.history()


def test_circular_information_flow_violates_both_transactional_guarantees() -> None:
    for guarantee in ("serializable-transactions", "atomic-transactions"):
        judgement = judge(guarantee, circular_information_flow())
        assert judgement.status == VIOLATED, guarantee
        assert types(judgement) == ["G1c"], guarantee


def write_skew() -> History:
    """Each transaction checks that the other's item is absent and creates its own."""
    b = Builder()
    b.invoke(0, tw(put("x", 1), ConditionCheck(T, {"pk": "y"}, "attribute_not_exists(pk)")))
    b.invoke(1, tw(put("y", 1), ConditionCheck(T, {"pk": "x"}, "attribute_not_exists(pk)")))
    b.complete(0, Response(), {"writes": [wrote("x", 1, item("x", 1))],
                               "reads": [{"table": T, "key": ["y"], "version": None}]})
    b.complete(1, Response(), {"writes": [wrote("y", 2, item("y", 1))],
                               "reads": [{"table": T, "key": ["x"], "version": None}]})
    return b.history()


def test_write_skew_is_G2_item_for_serializability_and_allowed_by_read_atomicity() -> None:
    serializable = judge("serializable-transactions", write_skew())
    assert serializable.status == VIOLATED
    assert types(serializable) == ["G2-item"]
    assert judge("atomic-transactions", write_skew()).status == HOLDS


def test_a_fractured_read_violates_atomic_transactions_with_its_two_dependencies() -> None:
    atomic = judge("atomic-transactions", fractured_read())
    assert atomic.status == VIOLATED
    assert types(atomic) == [FRACTURED_READ]
    assert atomic.verdict is not None
    anomaly = atomic.verdict.anomalies[0]
    assert anomaly.ops == (2, 1)
    assert "saw part of T1's writes" in anomaly.explanation
    assert [(e["from"], e["to"], e["kind"]) for e in anomaly.data["cycle"]] == [
        (1, 2, "wr"), (2, 1, "rw")]
    assert "read-atomic" in atomic.verdict.ruled_out
    assert types(judge("serializable-transactions", fractured_read())) == ["G-single"]


def test_an_unclaimed_transactional_anomaly_is_observed() -> None:
    judgement = judge("serializable-transactions", lost_increment(), NOTHING)
    assert judgement.status == OBSERVED and not judgement.claimed
    assert judgement.checker == SERIALIZABLE_CHECKER


def test_anomalies_of_single_item_requests_alone_are_not_the_transactions_business() -> None:
    """A lost update of two single-item increments (each answering its new item) is
    a cycle of single-item requests only: a transaction elsewhere does not make it a
    violation of the transactional guarantees."""
    b = Builder()
    one = {"pk": "x", "n": Decimal(1)}
    b.invoke(0, replace(increment("x"), return_values="ALL_NEW"))
    b.invoke(1, replace(increment("x"), return_values="ALL_NEW"))
    b.complete(0, Response(item=one), {"version": 1})
    b.complete(1, Response(item=one), {"version": 2})
    b.ok(2, tw(put("y", 1)), meta={"writes": [wrote("y", 3, item("y", 1))]})
    history = b.history()
    assert transactional_view(history).operations[1].meta["reads"][0]["version"] is None
    judgement = judge("serializable-transactions", history)
    assert judgement.status == HOLDS, judgement.explanation()
    assert "single-item requests only" in judgement.reason


# -- the reports name the checker and draw the cycle ---------------------------------------


def _outcome() -> SuiteOutcome:
    judgement = judge("serializable-transactions", lost_increment(), NOTHING)
    example = Counterexample("concurrent-histories-under-faults", judgement.guarantee,
                             judgement.explanation(), ("step",), 1, lost_increment(),
                             judgement.verdict)
    cells = (Cell("serializable-transactions", "observed", False, {"observed": 1, "holds": 3},
                  checker=judgement.checker),
             Cell("linearizable-strong-reads", "holds", True, {"holds": 4},
                  checker=LINEARIZABILITY_CHECKER))
    store = StoreOutcome("global-tables", "global-tables", ("linearizable-strong-reads",),
                         (PropertyRun("concurrent-histories-under-faults", "passed", (), "", 4),),
                         cells, (example,))
    return SuiteOutcome("quick", (store,))


def test_the_reports_name_each_cells_checker_and_draw_the_transactional_cycle() -> None:
    outcome = _outcome()
    html = render_html(outcome)
    assert f'<div class="checker">{SERIALIZABLE_CHECKER}</div>' in html
    observation = html[html.index("Observation: "):]
    assert '<svg class="cycle-graph"' in observation
    assert 'aria-label="G-single cycle of 2 operations"' in observation
    markdown = render_markdown(outcome)
    assert f"| serializable-transactions | observed (1 of 4) | {SERIALIZABLE_CHECKER}" in markdown
    assert "because T1 read items/pk=x in its initial (absent) state and T0 wrote" in markdown
    cells = suite_to_json(outcome)["stores"][0]["cells"]
    assert cells["serializable-transactions"]["checker"] == SERIALIZABLE_CHECKER
    assert cells["linearizable-strong-reads"]["checker"] == LINEARIZABILITY_CHECKER
    json.dumps(suite_to_json(outcome))


# -- global tables: transactions in two regions ---------------------------------------------


def _run(rec: RecordingStore, client: str, request: Any) -> None:
    handle = rec.submit(client, request)
    while not handle.done:
        assert fair_step(rec)


def test_global_tables_lose_a_transactional_update_across_regions_as_a_G_single_cycle(
        ) -> None:
    """Two regions, cut off from each other, each commit a transaction incrementing
    one counter; after healing, last writer wins keeps one increment. The Elle item
    checker sees the lost update among transactions (global tables claim no
    serializability: an observation), with its cycle drawn in the report."""
    store = global_tables()
    rec = RecordingStore(store)
    store.partition([store.region_nodes("r1"), store.region_nodes("r2")])
    _run(rec, "r1:a", TransactWrite((increment("counter"), put("a", 1))))
    _run(rec, "r2:b", TransactWrite((increment("counter"), put("b", 1))))
    store.heal()
    assert store.settle()
    _run(rec, "r1:a", tg("counter"))
    history = rec.history()
    judgement = judge_guarantee("serializable-transactions", history, store.descriptor)
    assert judgement.status == OBSERVED, judgement.explanation()
    assert judgement.checker == SERIALIZABLE_CHECKER
    assert "G-single" in types(judgement) and "lost-update" in types(judgement)
    assert judge_guarantee("atomic-transactions", history, store.descriptor).status == HOLDS
    example = Counterexample("concurrent-histories-under-faults", judgement.guarantee,
                             judgement.explanation(), ("step",), 1, history,
                             judgement.verdict)
    outcome = SuiteOutcome("quick", (StoreOutcome(
        "global-tables", store.descriptor.name, (), (), (Cell(
            "serializable-transactions", OBSERVED, False, {OBSERVED: 1},
            checker=judgement.checker),), (example,)),))
    html = render_html(outcome)
    assert 'aria-label="G-single cycle of 2 operations"' in html


def retried(replayed: bool) -> History:
    """A transaction incrementing x, then its retry with the same client token."""
    b = Builder()
    b.ok(0, tw(increment("x"), token="t-1"),
         meta={"writes": [wrote("x", 1, {"pk": "x", "n": Decimal(1)})]})
    if replayed:
        b.ok(0, tw(increment("x"), token="t-1"),
             meta={"writes": [wrote("x", 1, {"pk": "x", "n": Decimal(1)})],
                   "replayed": True})
    else:
        b.ok(0, tw(increment("x"), token="t-1"),
             meta={"writes": [wrote("x", 2, {"pk": "x", "n": Decimal(2)})]})
    return b.history()


def test_a_transaction_applied_twice_under_one_client_token_is_no_serial_history() -> None:
    twice = judge("serializable-transactions", retried(replayed=False))
    assert twice.status == VIOLATED
    assert types(twice) == ["duplicate-elements"]
    assert twice.verdict is not None and twice.verdict.anomalies[0].ops == (0, 1)
    once = judge("serializable-transactions", retried(replayed=True))
    assert once.status == HOLDS, once.explanation()


def test_the_leader_stores_answer_to_an_update_records_the_item_it_made() -> None:
    """Without it no checker knows what an update left, so an update that overwrote a
    version it never read (a lost update) would go unseen."""
    store = global_tables()
    rec = RecordingStore(store)
    _run(rec, "r1:a", increment("x"))
    _run(rec, "r1:a", increment("x"))
    ops = rec.history().operations
    assert [op.meta["item"] for op in ops] == [{"pk": "x", "n": Decimal(1)},
                                               {"pk": "x", "n": Decimal(2)}]


def test_the_cycle_graphs_labels_fit_inside_the_drawing() -> None:
    """Each edge label (up to 24 characters of 12 px monospace, about 7.3 px each)
    lies within the SVG's width, whichever way it is anchored."""
    import re

    from replicheck.reports.graphs import cycle_graph_svg

    judgement = judge("serializable-transactions", lost_increment())
    assert judgement.verdict is not None
    for anomaly in judgement.verdict.anomalies[:1]:
        svg = cycle_graph_svg(anomaly)
        assert svg is not None
        width = float(re.search(r'width="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
        for x, anchor, label in re.findall(
                r'<text x="([\d.-]+)" y="[\d.-]+" fill="[^"]+" text-anchor="(\w+)">([^<]*)<',
                svg):
            extent = 7.3 * len(label)
            left = {"start": 0.0, "middle": extent / 2, "end": extent}[anchor]
            assert float(x) - left >= 0 and float(x) - left + extent <= width, label


# -- an oracle: a history one serial execution produced is never judged violated ----------


@st.composite
def serial_execution(draw: st.DrawFn) -> History:
    """3-9 requests on items x (mostly) and y run one at a time through the item model, each
    recorded as the leader stores record them (a version per applied write, an
    update's item, a transaction's writes, a read's version): puts of fresh values,
    ADD and if_not_exists increments, deletes, puts only if absent, transactions of
    increments and puts, strong reads. A write ends ok, fails as the model answers,
    or is indeterminate: applied or not (drawn), nothing recorded. Serializable by
    construction, strictly so: every request took effect inside its own span."""
    rng = draw(st.randoms(use_true_random=False))
    db = empty(SCHEMA)
    versions: dict[str, int] = {}
    counter = 0
    fresh = iter(range(1, 100))
    b = Builder()
    for p in range(rng.randint(3, 9)):
        k = "x" if rng.random() < 0.75 else "y"  # mostly one item: its versions pile up
        kind = rng.choice(["put", "add", "increment", "delete", "create", "txn", "get"])
        request: Any
        if kind == "put":
            request = put(k, next(fresh))
        elif kind == "add":
            request = Update(T, {"pk": k}, "ADD n :one", values={":one": Decimal(1)})
        elif kind == "increment":
            request = increment(k)
        elif kind == "delete":
            request = Delete(T, {"pk": k})
        elif kind == "create":
            request = Put(T, {"pk": k, "v": next(fresh)}, "attribute_not_exists(pk)")
        elif kind == "txn":
            other = "y" if k == "x" else "x"
            request = tw(increment(k), put(other, next(fresh)))
        else:
            request = Get(T, {"pk": k}, consistent=True)
        if kind == "get":
            _, response = apply(db, request)
            b.ok(p, request, response, {"version": versions.get(k)})
            continue
        try:
            after, response = apply(db, request)
        except StoreError as error:
            b.invoke(p, request).complete(p, error)
            continue
        indeterminate = rng.random() < 0.4
        if indeterminate and rng.random() < 0.5:
            b.invoke(p, request).complete(p, None)  # never applied
            continue
        db = after
        counter += 1
        touched = [a.item["pk"] if isinstance(a, Put) else a.key["pk"]
                   for a in (request.actions if isinstance(request, TransactWrite)
                             else (request,))]
        for key in touched:
            versions[key] = counter
        if indeterminate:
            b.invoke(p, request).complete(p, None)  # applied, the answer lost
            continue
        held = {key: db.tables[T].get((key,)) for key in touched}
        if isinstance(request, TransactWrite):
            meta: dict[str, Any] = {"writes": [wrote(key, counter, held[key] and dict(held[key]))
                                               for key in touched]}
        elif isinstance(request, Update):
            meta = {"version": counter, "item": dict(held[touched[0]] or {})}
        else:
            meta = {"version": counter}
        b.ok(p, request, response, meta)
    return b.history()


@settings(max_examples=1000, deadline=None)
@given(serial_execution())
def test_a_history_one_serial_execution_produced_is_never_judged_violated(
        history: History) -> None:
    """The family of violations the checkers could invent from what they infer (an
    update's read, which indeterminate write made a version, where a failure fits):
    on a history a serial execution produced, each transactional guarantee holds, or
    does not apply without a transaction."""
    has_txn = any(op.f == "transact-write" for op in history.operations)
    for guarantee in ("serializable-transactions", "atomic-transactions"):
        judged = judge(guarantee, history)
        assert judged.status == (HOLDS if has_txn else "not-applicable"), (
            guarantee, judged.explanation())
