"""``replicheck verify`` never says "holds" without evidence, and a store breaking the
contract is one line and an error (CONTRACTS.md section 6): unchecked claims (exit 3),
answers of the wrong type and exceptions outside the typed errors (exit 1),
``--call-timeout`` (exit 1), factories that raise or build no store (exit 2), and the
progress line's per-property time."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from replicheck.reports.cli import main

STORES = '''
import time
from dataclasses import replace

from replicheck.implementation.memory import MemoryStore
from replicheck.implementation.store import Claim
from replicheck.models.items.requests import Get


class ClaimsConvergence(MemoryStore):
    """Claims convergence without replica-introspection: nothing can check it."""

    @property
    def descriptor(self):
        made = super().descriptor
        return replace(made, claims=made.claims + (Claim("convergence"),))


class AnswersGarbage(MemoryStore):
    """Answers every read with a string instead of a Response."""

    def execute(self, request):
        if isinstance(request, Get):
            return "garbage"
        return super().execute(request)


class RaisesKeyError(MemoryStore):
    """Raises an exception outside the contract's typed errors on every read."""

    def execute(self, request):
        if isinstance(request, Get):
            raise KeyError("no such slot")
        return super().execute(request)


class Exits(MemoryStore):
    """Raises SystemExit(0) on every read."""

    def execute(self, request):
        if isinstance(request, Get):
            raise SystemExit(0)
        return super().execute(request)


class Interrupts(MemoryStore):
    """Raises a KeyboardInterrupt of its own on every read."""

    def execute(self, request):
        if isinstance(request, Get):
            raise KeyboardInterrupt
        return super().execute(request)


class Hangs(MemoryStore):
    """Never answers a read."""

    def execute(self, request):
        if isinstance(request, Get):
            while True:
                time.sleep(3600)
        return super().execute(request)


def claims_convergence():
    return ClaimsConvergence()


def answers_garbage():
    return AnswersGarbage()


def raises_key_error():
    return RaisesKeyError()


def exits():
    return Exits()


def interrupts():
    return Interrupts()


def hangs():
    return Hangs()


def factory_raises():
    raise RuntimeError("cannot reach the database")


def factory_returns_a_number():
    return 42


class NoDescriptor:
    def execute(self, request):
        return None


def factory_returns_no_descriptor():
    return NoDescriptor()
'''


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The module of the stores above, importable; its name."""
    (tmp_path / "truth_stores.py").write_text(STORES, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("REPLICHECK_MAX_EXAMPLES", "3")
    return "truth_stores"


def _verify(capsys: pytest.CaptureFixture[str], out: Path, *args: str
            ) -> tuple[int, str, str]:
    status = main(["verify", "--profile", "ci", "--out", str(out), *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_claim_no_property_can_check_is_unchecked_with_the_reason_and_exit_3(
        stores: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    status, stdout, err = _verify(capsys, out, "--store", f"{stores}:claims_convergence")
    assert status == 3, stdout + err
    assert "every claimed guarantee holds" not in stdout
    assert "UNCHECKED convergence" in stdout
    assert re.search(r"unchecked convergence: .*lacks the capability replica-introspection",
                     stdout)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["exit_status"] == 3
    assert "convergence" in report["columns"]
    (store,) = report["stores"]
    cell = store["cells"]["convergence"]
    assert cell["status"] == "unchecked" and cell["claimed"] is True
    assert cell["examples"] == 0 and "replica-introspection" in cell["reason"]
    assert cell["text"] == "unchecked"
    # the claims that were judged still hold
    assert store["cells"]["read-your-writes"]["status"] == "holds"
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| unchecked" in markdown.replace("  ", " ") or "unchecked |" in markdown
    assert "lacks the capability replica-introspection" in markdown
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'class="st-unchecked"' in html
    assert "lacks the capability replica-introspection" in html


def test_every_claim_of_global_tables_is_judged_within_a_few_examples(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """global-tables claims convergence: the concurrent-histories property observes its
    regions' replicas too (it has no partitions to show), so even three examples judge
    it; it was left to the anti-entropy property, whose first examples write nothing."""
    monkeypatch.setenv("REPLICHECK_MAX_EXAMPLES", "3")
    out = tmp_path / "report"
    status, stdout, err = _verify(capsys, out, "--store", "global-tables", "--quiet")
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (store,) = report["stores"]
    for guarantee in store["claims"]:
        assert store["cells"][guarantee]["examples"] > 0, guarantee
    assert status == 0, stdout + err


def _one_error_line(stdout: str, err: str, needle: str) -> None:
    assert "Traceback" not in err and "Exception in thread" not in err, err
    errors = [line for line in stdout.splitlines() if line.startswith("  error in ")]
    assert errors, stdout
    assert all(len(line) < 400 for line in errors)
    assert any(needle in line for line in errors), stdout


@pytest.mark.parametrize(("factory", "needle"), [
    ("answers_garbage", "returned 'garbage' (a str)"),
    ("raises_key_error", "raised KeyError: 'no such slot'"),
    ("exits", "raised SystemExit: 0"),
    ("interrupts", "raised KeyboardInterrupt"),
])
def test_a_store_breaking_the_contract_is_one_line_and_exit_1(
        stores: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        factory: str, needle: str) -> None:
    out = tmp_path / "report"
    status, stdout, err = _verify(capsys, out, "--store", f"{stores}:{factory}")
    assert status == 1, stdout + err
    assert f"{stores}:{factory}: ERROR" in stdout
    _one_error_line(stdout, err, needle)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    runs = {p["name"]: p for p in report["stores"][0]["properties"]}
    # both the one-client property and the client threads see it
    for name in ("sequential-model-conformance", "concurrent-histories-on-threads"):
        assert runs[name]["status"] == "error", runs[name]
        assert needle in runs[name]["reason"]
        assert "broke the contract" in runs[name]["reason"]


def test_a_call_that_never_returns_ends_the_property_naming_the_call(
        stores: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    status, stdout, err = _verify(capsys, out, "--store", f"{stores}:hangs",
                                  "--call-timeout", "0.5")
    assert status == 1, stdout + err
    _one_error_line(stdout, err, "did not return within 0.5 s")
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    runs = {p["name"]: p for p in report["stores"][0]["properties"]}
    for name in ("sequential-model-conformance", "concurrent-histories-on-threads"):
        assert runs[name]["status"] == "error"
        assert re.search(r"execute\(GetItem \S+ \((strong|eventual)\)\) did not return",
                         runs[name]["reason"])
        assert runs[name]["seconds"] < 20


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_call_timeout_must_be_a_finite_positive_number(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify", "--store", "dynamodb", "--out", str(tmp_path),
              f"--call-timeout={value}"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --call-timeout: expected a finite number of seconds > 0" in err


@pytest.mark.parametrize(("factory", "needle"), [
    ("factory_raises", "RuntimeError: cannot reach the database"),
    ("factory_returns_a_number", "returned 42 (an int), not a store"),
    ("factory_returns_no_descriptor", "NoDescriptor"),
])
def test_a_factory_that_raises_or_builds_no_store_is_one_line_and_exit_2(
        stores: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        factory: str, needle: str) -> None:
    status, stdout, err = _verify(capsys, tmp_path / "report",
                                  "--store", f"{stores}:{factory}")
    assert status == 2, stdout + err
    assert stdout == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("replicheck: error:")
    assert f"{stores}:{factory}" in err and needle in err


def test_the_progress_line_shows_each_property_s_own_time(
        stores: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from replicheck.properties import engine
    from replicheck.properties.suite import Property, property_named

    def slow(factory: object, target: str | None, seed: int) -> type:
        import time

        time.sleep(1.5)
        raise RuntimeError("a slow machine that cannot be built")

    monkeypatch.setattr(engine, "PROPERTIES", (
        Property("slow-one", "sleeps", ("convergence",), slow),
        property_named("stream-exactly-once-in-order")))
    status, _stdout, err = _verify(capsys, tmp_path / "report",
                                  "--store", f"{stores}:claims_convergence")
    lines = {line.split()[2]: line for line in err.splitlines()
             if line.startswith("  ") and ":" in line}
    skipped = lines["stream-exactly-once-in-order:"]
    seconds = float(re.search(r"([0-9.]+) s$", skipped).group(1))  # type: ignore[union-attr]
    assert seconds < 1.0, skipped
    assert status == 1


