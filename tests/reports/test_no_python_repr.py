"""No Python repr where a reader looks: :func:`forbidden` lists what must never show
(``=None``, ``object at 0x``, ``Name(`` for any class ``Name`` of
models/items/requests.py, a dict's repr). test_verify_every_preset.py greps a verify
report of every preset and of a mutant's shrunk violation for them; here, the
model-conformance mismatch (a store of one's own answering wrongly) is checked on the
machine's own counterexample, which Hypothesis would otherwise spend long shrinking."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.requests import Get, Request, Response
from replicheck.properties.conformance import conformance_machine
from replicheck.properties.examples import GuaranteeViolation

MUTANT = "mutant:stale-condition-check"
"""A mutant ``verify`` catches in a few examples (a stale condition check: two
conditional puts both acknowledged): its shrunk violation is grepped too."""

REQUESTS = Path(__file__).parents[2] / "models" / "items" / "requests.py"


class _Forgetful(MemoryStore):
    """Answers every strongly consistent read with no item: a broken store."""

    def execute(self, request: Request) -> Any:
        if isinstance(request, Get) and request.consistent:
            super().execute(request)
            return Response()
        return super().execute(request)


def forbidden() -> list[str]:
    """What a report must never show: Python's repr of a value or of a request."""
    names = re.findall(r"^class (\w+)", REQUESTS.read_text(encoding="utf-8"), re.M)
    assert {"Get", "Put", "Update", "Delete", "ConditionCheck", "TransactWrite",
            "TransactGet", "Response", "TableSchema"} <= set(names)
    # and no dict repr of a request's JSON form ({'actions': [{'put': ...)
    return ["=None", "object at 0x", "{'", *(f"{name}(" for name in names)]


def test_a_conformance_mismatch_reads_in_dynamodb_words() -> None:
    """The sequential-model-conformance property's explanation and steps (a store
    that answers differently from the model) name the request and both answers."""
    machine = conformance_machine(_Forgetful)
    with pytest.raises(GuaranteeViolation) as caught:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=50, derandomize=True, database=None, deadline=None,
            stateful_step_count=20, print_blob=False,
            phases=(Phase.explicit, Phase.reuse, Phase.generate),
            suppress_health_check=list(HealthCheck)))
    cx = caught.value.counterexample
    assert cx is not None
    text = "\n".join((str(caught.value), cx.explanation, *cx.steps))
    for pattern in forbidden():
        assert pattern not in text, (pattern, text)
    assert re.search(r"answered GetItem \S+ \(strong\) with no item; the sequential "
                     r"model answers \{", cx.explanation), cx.explanation
    assert all(step.startswith("c0 sends ") for step in cx.steps[:-1])
