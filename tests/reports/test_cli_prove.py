"""`replicheck prove`: runs every model proof, prints them, exits by the outcome."""

from __future__ import annotations

import json

import pytest

from replicheck.models.proofs import catalog
from replicheck.models.proofs.result import ProofResult
from replicheck.reports.cli import main


@pytest.mark.proof
def test_prove_proves_every_law(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["schema"] == 1
    groups = {p["group"] for p in report["proofs"]}
    assert groups == {"clocks", "merkle"}
    assert all(p["proved"] and p["status"] == "unsat" for p in report["proofs"])


def _fake(results: list[ProofResult]):  # type: ignore[no-untyped-def]
    return lambda: [("fake", lambda: results)]


def test_a_refuted_law_exits_1_and_shows_the_counterexample(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(catalog, "proof_groups", _fake([
        ProofResult("merge is idempotent", False, "sat", counterexample="a = [1], b = [0]"),
        ProofResult("order is reflexive", True, "unsat"),
    ]))
    assert main(["prove", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "REFUTED: merge is idempotent" in out
    assert "a = [1], b = [0]" in out
    assert "1 proved, 1 refuted, 0 unknown" in out


def test_an_undecided_law_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "proof_groups", _fake([ProofResult("hard", False, "unknown")]))
    assert main(["prove", "--quiet"]) == 3


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
