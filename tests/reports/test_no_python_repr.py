"""No Python repr in a verify report: ``replicheck verify`` on several presets (with
observations: dynamo-lww's stale reads, global-tables' transactional anomalies) and a
mutant it catches (a violation with its shrunk counterexample), each with a small
example budget; the HTML and the Markdown reports hold counterexamples and no
``=None``, no ``object at 0x`` and no ``Name(`` for any class ``Name`` of
models/items/requests.py (operations read in DynamoDB's words). The model-conformance
mismatch (a store of one's own answering wrongly) is checked on the machine's own
counterexample, which Hypothesis would otherwise spend long shrinking."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.requests import Get, Request, Response
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.machines import conformance_machine
from replicheck.reports.cli import main

MUTANT = "mutant:stale-condition-check"
"""A mutant ``verify`` catches in a few examples (a stale condition check: two
conditional puts both acknowledged)."""

REQUESTS = Path(__file__).parents[2] / "models" / "items" / "requests.py"

class _Forgetful(MemoryStore):
    """Answers every strongly consistent read with no item: a broken store."""

    def execute(self, request: Request) -> Any:
        if isinstance(request, Get) and request.consistent:
            super().execute(request)
            return Response()
        return super().execute(request)


def _forbidden() -> list[str]:
    names = re.findall(r"^class (\w+)", REQUESTS.read_text(encoding="utf-8"), re.M)
    assert {"Get", "Put", "Update", "Delete", "ConditionCheck", "TransactWrite",
            "TransactGet", "Response", "TableSchema"} <= set(names)
    # and no dict repr of a request's JSON form ({'actions': [{'put': ...)
    return ["=None", "object at 0x", "{'", *(f"{name}(" for name in names)]


def _verify(store: str, out: Path) -> tuple[str, str]:
    status = main(["verify", "--store", store, "--profile", "quick", "--out", str(out),
                   "--quiet"])
    assert status in (0, 1), (store, status)
    return ((out / "report.md").read_text(encoding="utf-8"),
            (out / "report.html").read_text(encoding="utf-8"))


def test_verify_reports_show_no_python_repr(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REPLICHECK_MAX_EXAMPLES", "8")
    monkeypatch.setenv("REPLICHECK_FAILURE_DIR", str(tmp_path / "failures"))
    reports = {store: _verify(store, tmp_path / store.replace(":", "-"))
               for store in (MUTANT, "dynamo-lww", "global-tables")}
    # a derandomized search depends on what ran before in the process: where the
    # small budget finds nothing, a larger one finds the violation and the observation
    monkeypatch.setenv("REPLICHECK_MAX_EXAMPLES", "60")
    if "### Violation:" not in reports[MUTANT][0]:
        reports[MUTANT] = _verify(MUTANT, tmp_path / "mutant-again")
    if not any("### Observation:" in md for md, _ in reports.values()):
        reports["dynamo-lww"] = _verify("dynamo-lww", tmp_path / "dynamo-lww-again")
    capsys.readouterr()

    markdown = "\n".join(md for md, _ in reports.values())
    assert "### Observation:" in markdown and "### Violation:" in markdown
    assert "Minimal counterexample" in markdown and "History (" in markdown
    for store, (md, html) in reports.items():
        for kind, text in (("report.md", md), ("report.html", html)):
            for pattern in _forbidden():
                at = text.find(pattern)
                assert at < 0, (f"{store} {kind}: {pattern!r} in "
                                f"{text[max(0, at - 160):at + 60]!r}")
    # the operations are in DynamoDB's words, in steps and tables alike
    assert "PutItem " in markdown and " submits " in markdown


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
    for pattern in _forbidden():
        assert pattern not in text, (pattern, text)
    assert re.search(r"answered GetItem \S+ \(strong\) with no item; the sequential "
                     r"model answers \{", cx.explanation), cx.explanation
    assert all(step.startswith("c0 sends ") for step in cx.steps[:-1])
