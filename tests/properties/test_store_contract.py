"""A store that breaks the contract (CONTRACTS.md section 2) is one line and an error,
for scheduled and threaded properties alike; a store call that never returns ends its
property after the call timeout; a claim no example judged is unchecked."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.requests import Get, Request, Response, TransactGet
from replicheck.properties.engine import StoreContractError, run_property, verify_store
from replicheck.properties.recording import (
    BadStore,
    ContractBreach,
    RecordingStore,
    checked_response,
    guarded_factory,
)
from replicheck.properties.suite import property_named

CONFORMANCE = property_named("sequential-model-conformance")
THREADED = property_named("concurrent-histories-on-threads")


def _settings(examples: int = 3) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    print_blob=False, phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=list(HealthCheck))


class Garbage(MemoryStore):
    """Answers reads with a string."""

    def execute(self, request: Request) -> Response:
        if isinstance(request, Get):
            return "garbage"  # type: ignore[return-value]
        return super().execute(request)


class Exits(MemoryStore):
    """Raises SystemExit(0) on reads."""

    def execute(self, request: Request) -> Response:
        if isinstance(request, Get):
            raise SystemExit(0)
        return super().execute(request)


class Hangs(MemoryStore):
    """Never answers a read."""

    def execute(self, request: Request) -> Response:
        if isinstance(request, Get):
            while True:
                time.sleep(3600)
        return super().execute(request)


def test_checked_response_names_the_call_and_what_came_back() -> None:
    get = Get("items", {"pk": "k0"}, consistent=True)
    ok = Response({"pk": "k0"})
    assert checked_response(get, ok) is ok
    with pytest.raises(ContractBreach, match=r"^execute\(GetItem k0 \(strong\)\) returned 'x' "
                       r"\(a str\), where the contract says a Response"):
        checked_response(get, "x")
    with pytest.raises(ContractBreach, match=r"a Response whose item is 3 \(an int\)"):
        checked_response(get, Response(3))  # type: ignore[arg-type]
    both = TransactGet((get, get))
    with pytest.raises(ContractBreach, match="1 items for a TransactGet of 2 gets"):
        checked_response(both, Response(items=({"pk": "k0"},)))


def test_the_recording_wrapper_records_a_broken_answer_as_indeterminate() -> None:
    recording = RecordingStore(Garbage())
    with pytest.raises(ContractBreach, match="returned 'garbage'"):
        recording.execute(Get("items", {"pk": "k0"}))
    (op,) = recording.history().operations
    assert op.status == "info"


def test_a_guarded_factory_says_in_one_line_what_it_built() -> None:
    def raises() -> Any:
        raise RuntimeError("down")

    with pytest.raises(BadStore, match=r"^store 'mine': the factory raised RuntimeError: "
                       r"down$"):
        guarded_factory(raises, "mine")()
    with pytest.raises(BadStore, match=r"^store 'mine': the factory returned None "
                       r"\(a NoneType\), not a store: it has no execute\(\)$"):
        guarded_factory(lambda: None, "mine")()


@pytest.mark.parametrize("prop", [CONFORMANCE, THREADED], ids=lambda p: p.name)
@pytest.mark.parametrize(("store", "said"), [
    (Garbage, "returned 'garbage' (a str)"), (Exits, "raised SystemExit: 0")])
def test_a_broken_answer_fails_the_property_in_one_line_without_thread_tracebacks(
        monkeypatch: pytest.MonkeyPatch, prop: Any, store: type, said: str) -> None:
    hooked: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", hooked.append)
    result = run_property(prop, store, "mine", _settings())
    assert result.run.status == "error", result.run
    assert result.run.reason.startswith("the store broke the contract: execute(GetItem ")
    assert said in result.run.reason and "\n" not in result.run.reason
    assert isinstance(result.exception, StoreContractError)
    assert hooked == []  # no client thread died with a traceback


@pytest.mark.parametrize("prop", [CONFORMANCE, THREADED], ids=lambda p: p.name)
def test_a_call_that_never_returns_ends_the_property_after_the_call_timeout(
        prop: Any) -> None:
    began = time.monotonic()
    result = run_property(prop, Hangs, "mine", _settings(), call_timeout=0.5)
    assert time.monotonic() - began < 15
    assert result.run.status == "error"
    assert result.run.reason.startswith("the store broke the contract: execute(GetItem ")
    assert result.run.reason.endswith("did not return within 0.5 s")
    # the hung call's thread cannot keep the process alive
    assert all(t.daemon for t in threading.enumerate() if t is not threading.main_thread())


def test_a_claim_without_the_capability_to_check_it_is_unchecked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "claiming_store.py").write_text(CLAIMING, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    outcome = verify_store("claiming_store:store", profile="ci", max_examples=3,
                           properties=(THREADED,))
    cell = outcome.cell("convergence")
    assert cell is not None and cell.status == "unchecked" and cell.claimed
    assert "lacks the capability replica-introspection" in cell.reason
    held = outcome.cell("read-your-writes")
    assert held is not None and held.status == "holds"


CLAIMING = '''
from dataclasses import replace

from replicheck.implementation.memory import MemoryStore
from replicheck.implementation.store import Claim


class ClaimsConvergence(MemoryStore):
    @property
    def descriptor(self):
        made = super().descriptor
        return replace(made, claims=(*made.claims, Claim("convergence")))


def store():
    return ClaimsConvergence()
'''


STORES = '''
import time
from replicheck.implementation.memory import MemoryStore
from replicheck.models.items.requests import Get


class Hangs(MemoryStore):
    def execute(self, request):
        if isinstance(request, Get):
            while True:
                time.sleep(3600)
        return super().execute(request)


def hangs():
    return Hangs()


def raises():
    raise RuntimeError("cannot reach the database")
'''


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "plugin_stores.py").write_text(STORES, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env.update(REPLICHECK_PROFILE="quick", REPLICHECK_MAX_EXAMPLES="2",
               PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path),
                                                        env.get("PYTHONPATH")])))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs",
         "replicheck.properties", *args],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)


def test_the_plugin_says_in_one_line_that_a_factory_raised(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "--store", "plugin_stores:raises")
    assert done.returncode == 4
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "'plugin_stores:raises'" in lines[0]
    assert "the factory raised RuntimeError: cannot reach the database" in lines[0]


def test_the_plugin_bounds_store_calls_with_its_call_timeout(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "--store", "plugin_stores:hangs",
                   "--replicheck-call-timeout", "0.5", "-k", "sequential_model", "-q")
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if "did not return within" in line]
    assert failed, done.stdout
    assert "plugin_stores:hangs: the store broke the contract: execute(GetItem " in failed[0]
    assert failed[0].endswith("did not return within 0.5 s")
    assert "Traceback" not in done.stdout
    bad = _pytest(tmp_path, "--store", "dynamodb", "--replicheck-call-timeout", "0")
    assert bad.returncode == 4
    assert "--replicheck-call-timeout='0'" in bad.stdout + bad.stderr


def test_a_copy_of_a_guarded_store_drives_its_own_store() -> None:
    import copy

    from replicheck.properties.recording import GuardedStore

    class Counting:
        def __init__(self) -> None:
            self.calls = 0

        def count(self) -> int:
            self.calls += 1
            return self.calls

    guarded = GuardedStore(Counting())
    assert guarded.count() == 1  # the method's guard is kept on the proxy now
    twin = copy.deepcopy(guarded)
    assert twin.count() == 2 and guarded.count() == 2
    assert twin.wrapped is not guarded.wrapped
