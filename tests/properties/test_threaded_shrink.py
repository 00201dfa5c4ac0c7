"""Threaded counterexamples are shrunk (fewer batches and operations, kept when the
failure recurs) and counted in operations."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.operations import apply
from replicheck.models.items.requests import Get, Put, Request, Response
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.guarantees import VIOLATED, judge_guarantee
from replicheck.properties.outcomes import Counterexample
from replicheck.properties.threaded import PROPERTY, operations, rerun, threaded_machine
from replicheck.properties.threaded_shrink import minimize_threaded


class StaleAfterPut(MemoryStore):
    """A broken store: the first strong get of an item after a put of it answers the
    item as it was before that put."""

    def __init__(self) -> None:
        super().__init__()
        self._stale: dict[Any, Response] = {}

    def execute(self, request: Request) -> Response:
        with self._lock:
            if isinstance(request, Get) and request.consistent:
                stale = self._stale.pop((request.table, request.key["pk"]), None)
                if stale is not None:
                    return stale
            if isinstance(request, Put):
                key = (request.table, request.item["pk"])
                self._stale[key] = apply(self._db, Get(request.table, {"pk": key[1]},
                                                       consistent=True))[1]
            self._db, response = apply(self._db, request)
            return response


def stale_after_put() -> StaleAfterPut:
    return StaleAfterPut()


def _failing_example() -> Counterexample:
    """The first failing example Hypothesis finds (its own shrinking off)."""
    chosen = settings(max_examples=100, derandomize=True, database=None, deadline=None,
                      stateful_step_count=30, print_blob=False,
                      phases=(Phase.explicit, Phase.reuse, Phase.generate),
                      suppress_health_check=list(HealthCheck))
    try:
        run_state_machine_as_test(threaded_machine(stale_after_put), settings=chosen)
    except GuaranteeViolation as violation:
        assert violation.counterexample is not None
        return violation.counterexample
    raise AssertionError("the stale strong read was not caught")


def test_a_threaded_counterexample_counts_operations_and_keeps_its_batches() -> None:
    cx = _failing_example()
    assert cx.batches and cx.schedule is None
    assert cx.decisions == operations(cx.batches)
    assert cx.history is not None and cx.decisions == len(cx.history.operations)
    assert cx.unit == "operations"
    assert sum(1 for s in cx.steps if s.startswith("batch ")) == len(cx.batches)


def test_a_threaded_counterexample_shrinks_to_fewer_operations_that_still_fail() -> None:
    cx = _failing_example()
    shrunk = minimize_threaded(cx, stale_after_put, seconds=30)
    assert shrunk.batches is not None and cx.batches is not None
    assert shrunk.decisions is not None and cx.decisions is not None
    assert shrunk.decisions < cx.decisions
    assert len(shrunk.batches) <= len(cx.batches)
    assert shrunk.decisions == operations(shrunk.batches)
    assert shrunk.history is not None and shrunk.decisions == len(shrunk.history.operations)
    # its recorded history fails, and rerunning its batches fails again
    descriptor = stale_after_put().descriptor
    assert judge_guarantee(shrunk.guarantee, shrunk.history, descriptor).status == VIOLATED
    assert shrunk.verdict is not None and shrunk.verdict.valid is False
    reruns = [rerun(stale_after_put, shrunk.batches)[2] for _ in range(5)]
    assert any(j.guarantee == shrunk.guarantee and j.status == VIOLATED
               for judgements in reruns for j in judgements)
    # a put and a later strong get of its item: nothing smaller shows the bug
    requests = [r for batch in shrunk.batches for queue in batch.values() for r in queue]
    assert any(isinstance(r, Put) for r in requests)
    assert any(isinstance(r, Get) and r.consistent for r in requests)


class Correct(MemoryStore):
    """A correct store: nothing to shrink."""


def test_a_counterexample_that_does_not_fail_again_comes_back_unchanged() -> None:
    cx = _failing_example()
    assert minimize_threaded(cx, Correct, attempts=2, seconds=10) is cx
    unthreaded = Counterexample(PROPERTY, "linearizable-strong-reads", "no batches")
    assert minimize_threaded(unthreaded, stale_after_put) is unthreaded


def test_the_engine_shrinks_a_threaded_failure_and_reports_operations() -> None:
    from replicheck.properties.engine import run_property
    from replicheck.properties.suite import property_named
    from replicheck.reports.markdown import render_markdown

    chosen = settings(max_examples=100, derandomize=True, database=None, deadline=None,
                      print_blob=False, phases=(Phase.explicit, Phase.reuse, Phase.generate),
                      suppress_health_check=list(HealthCheck))
    target = f"{__name__}:stale_after_put"
    result = run_property(property_named(PROPERTY), stale_after_put, target, chosen)
    assert result.run.status == "failed"
    shrunk = result.run.counterexample
    assert shrunk is not None and shrunk.batches is not None
    first = result.exception
    assert isinstance(first, GuaranteeViolation) and first.counterexample is not None
    assert shrunk.decisions is not None and first.counterexample.decisions is not None
    assert shrunk.decisions < first.counterexample.decisions
    notes = "\n".join(getattr(first, "__notes__", ()))
    assert f"shrunk to {shrunk.decisions} operation(s) in {len(shrunk.batches)} batch(es)" \
        in notes
    assert shrunk.steps[-1] in notes
    from replicheck.properties.outcomes import StoreOutcome, SuiteOutcome

    text = render_markdown(SuiteOutcome("ci", (StoreOutcome(
        target, "memory", (), (result.run,)),)))
    assert f"({shrunk.decisions} operations)" in text
    assert "scheduler decisions" not in text
