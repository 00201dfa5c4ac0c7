"""The pieces of benchmarks/bench_mutation_score.py (the benchmark itself never runs here):
the seeded sample, the restore of a mutated file, the scratch copy being what a worker
imports, the per-mutant timeout, the score arithmetic and resuming a session."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_mutation_score.py"


def _load() -> ModuleType:
    # registered in sys.modules only while it loads (dataclasses look it up): its string
    # literals must not join the ones Hypothesis draws text from in later tests
    name = "_bench_mutation_score"
    spec = importlib.util.spec_from_file_location(name, BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


bench = _load()

SOURCE_A = textwrap.dedent("""\
    from __future__ import annotations


    def total(xs: list[int] | None) -> int | None:
        if xs is None:
            return None
        n = 0
        for x in xs:
            n = n + x * 2
        return n
    """)
SOURCE_B = "def same(a, b):\n    return a == b and a > 0\n"


def _tree(root: Path) -> Path:
    """A tiny implementation/ folder with two modules under reference/."""
    (root / "reference" / "inner").mkdir(parents=True)
    (root / "reference" / "a.py").write_text(SOURCE_A)
    (root / "reference" / "inner" / "b.py").write_text(SOURCE_B)
    (root / "store.py").write_text("X = 1 + 1\n")  # outside reference/: never mutated
    return root


def test_population_leaves_out_annotations_and_other_folders(tmp_path: Path) -> None:
    every = bench.population(_tree(tmp_path / "impl"))
    assert {m.module for m in every} == {"reference/a.py", "reference/inner/b.py"}
    on_annotated_line = [m for m in every if m.module == "reference/a.py" and m.start[0] == 4]
    assert on_annotated_line == []  # `list[int] | None` and `int | None` only
    assert any(m.operator == "core/ReplaceBinaryOperator_Add_Sub" for m in every)
    assert len({m.id for m in every}) == len(every)


def test_the_sample_is_seeded_and_stable(tmp_path: Path) -> None:
    every = bench.population(_tree(tmp_path / "impl"))
    assert len(every) > 20
    first = bench.sample(every, 8, seed=3)
    assert len(first) == 8 and set(first) <= set(every)
    assert bench.sample(list(reversed(every)), 8, seed=3) == first  # order does not matter
    assert len({tuple(bench.sample(every, 8, seed=s)) for s in range(5)}) > 1
    assert bench.sample(every, 10_000, seed=0) == sorted(every)
    # the same in another process, under another hash seed
    code = textwrap.dedent(f"""\
        import importlib.util, pathlib, sys
        spec = importlib.util.spec_from_file_location("b", {str(BENCH)!r})
        b = importlib.util.module_from_spec(spec); sys.modules["b"] = b
        spec.loader.exec_module(b)
        every = b.population(pathlib.Path({str(tmp_path / "impl")!r}))
        print("\\n".join(m.id for m in b.sample(every, 8, seed=3)))
        """)
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}, timeout=60,
                           check=True)
    assert other.stdout.split() == [m.id for m in first]


def test_a_mutation_changes_the_code_where_it_says(tmp_path: Path) -> None:
    every = bench.population(_tree(tmp_path / "impl"))
    add = next(m for m in every if m.operator == "core/ReplaceBinaryOperator_Add_Sub")
    after = bench.mutated_source(SOURCE_A, add)
    assert after is not None and "n = n - x * 2" in after
    assert bench.changed_line(bench.diff_of(SOURCE_A, after, add.module)) == \
        "n = n + x * 2 -> n = n - x * 2"


def test_applied_restores_the_file_on_an_exception(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(SOURCE_B)
    for raised in (RuntimeError("crash"), KeyboardInterrupt()):
        with pytest.raises(type(raised)), bench.applied(path, "MUTATED = True\n"):
            assert path.read_text() == "MUTATED = True\n"
            raise raised
        assert path.read_text() == SOURCE_B


def test_sigterm_restores_the_mutated_file(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(SOURCE_B)
    code = textwrap.dedent(f"""\
        import importlib.util, pathlib, sys, time
        spec = importlib.util.spec_from_file_location("b", {str(BENCH)!r})
        b = importlib.util.module_from_spec(spec); sys.modules["b"] = b
        spec.loader.exec_module(b)
        with b.interrupts_raise(), b.applied(pathlib.Path({str(path)!r}), "MUTATED = 1\\n"):
            print("applied", flush=True)
            time.sleep(60)
        """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "applied"
        assert path.read_text() == "MUTATED = 1\n"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert path.read_text() == SOURCE_B


def test_sync_undoes_a_mutation_left_behind(tmp_path: Path) -> None:
    source = _tree(tmp_path / "impl")
    scratch = tmp_path / "out" / "scratch" / "replicheck" / "implementation"
    assert bench.sync_scratch(source, scratch) == 3
    (scratch / "reference" / "a.py").write_text("MUTATED = 1\n")  # a process killed -9
    (scratch / "reference" / "__pycache__").mkdir()
    (scratch / "reference" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"stale")
    (scratch / "stray.py").write_text("")
    assert bench.sync_scratch(source, scratch) == 1
    assert (scratch / "reference" / "a.py").read_text() == SOURCE_A
    assert not (scratch / "stray.py").exists()
    assert not (scratch / "reference" / "__pycache__").exists()


def test_the_worker_imports_the_scratch_copy(tmp_path: Path) -> None:
    out = tmp_path / "out"
    package = bench.scratch_package(out)
    bench.sync_scratch(bench.SOURCE, package)
    found = subprocess.run(
        [sys.executable, "-c",
         "import replicheck.implementation.reference.sim as m; print(m.__file__)"],
        env=bench.worker_env(out), capture_output=True, text=True, timeout=60, check=True)
    assert Path(found.stdout.strip()) == package / "reference" / "sim.py"


def test_run_worker_verdicts_and_timeout() -> None:
    said = json.dumps({"verdict": "killed-guarantee", "preset": "dynamodb",
                       "prop": "p", "reason": "convergence: x", "seconds": 1.0})
    found = bench.run_worker([sys.executable, "-c", f"print('noise'); print({said!r})"],
                             os.environ, 60)
    assert (found.verdict, found.preset, found.prop) == ("killed-guarantee", "dynamodb", "p")
    died = bench.run_worker([sys.executable, "-c", "import os; os._exit(7)"], os.environ, 60)
    assert died.verdict == "killed-contract" and "exit 7" in died.reason
    slow = bench.run_worker([sys.executable, "-c", "import time; time.sleep(60)"],
                            os.environ, 0.5)
    assert slow.verdict == "timed-out" and slow.seconds < 30
    with pytest.raises(bench.HarnessError):
        bench.run_worker([sys.executable, "-c", 'print(\'{"verdict": "harness-error", '
                          '"reason": "imported the working tree"}\')'], os.environ, 60)


def _outcome(verdict: str, n: int) -> object:
    mutation = bench.Mutation("reference/a.py", "core/AddNot", n, (n, 0), (n, 1))
    return bench.Outcome(mutation, bench.Verdict(verdict), "")


def test_the_score_leaves_out_equivalent_and_timed_out_mutants() -> None:
    found = [_outcome("killed-guarantee", 1), _outcome("killed-guarantee", 2),
             _outcome("killed-guarantee", 3), _outcome("killed-contract", 4),
             _outcome("survived", 5), _outcome("survived", 6), _outcome("timed-out", 7)]
    equivalent = {"reference/a.py:5:core/AddNot#5": {"equivalent": "why"},
                  "reference/a.py:6:core/AddNot#6": {"gap": "which rule"}}
    t = bench.tally(found, equivalent)
    assert (t.killed_guarantee, t.killed_contract, t.survived, t.timed_out, t.equivalent) \
        == (3, 1, 2, 1, 1)
    assert t.score == pytest.approx(4 / 5)
    assert bench.tally(found, {}).score == pytest.approx(4 / 6)
    assert bench.tally([_outcome("timed-out", 1)], {}).score is None
    text = bench.report(found, equivalent, pending=2)
    assert "4/5 = 80.0%" in text and "1 timed out" in text and "2 not yet run" in text
    assert "which rule" in text


def test_an_interrupted_session_resumes_with_the_rest(tmp_path: Path) -> None:
    source = _tree(tmp_path / "impl")
    out = tmp_path / "out"
    package = bench.scratch_package(out)
    bench.sync_scratch(source, package)
    chosen = bench.sample(bench.population(package), 5, seed=1)
    meta = {"seed": 1, "sample": 5}
    judged: list[str] = []

    def judge(presets: object) -> object:
        texts = {p: (package / p).read_text() for p in ("reference/a.py",
                                                        "reference/inner/b.py")}
        mutated = [p for p, text in texts.items()
                   if text != (source / p).read_text()]
        assert len(mutated) == 1  # exactly the mutant's file is mutated while judged
        judged.append(mutated[0])
        if len(judged) == 3:
            raise KeyboardInterrupt
        return bench.Verdict("survived" if len(judged) % 2 else "killed-guarantee")

    db = bench.open_session(out, chosen, meta)
    with pytest.raises(KeyboardInterrupt):
        bench.run_session(db, [(package, judge)], progress=lambda line: None)
    assert db.num_results == 2
    assert bench.sync_scratch(source, package) == 0  # the third mutant was put back
    db.close()

    again = bench.open_session(out, [], meta)  # the work items come from the database
    assert again.num_work_items == 5 and again.num_results == 2
    assert bench.run_session(again, [(package, judge)], progress=lambda line: None) == 3
    assert len(judged) == 6 and again.num_results == 5
    ids = sorted(o.mutation.id for o in bench.outcomes(again))
    assert ids == sorted(m.id for m in chosen)
    assert bench.run_session(again, [(package, judge)], progress=lambda line: None) == 0
    again.close()
    with pytest.raises(ValueError, match="seed: 1 then, 2 now"):
        bench.open_session(out, chosen, {"seed": 2, "sample": 5})


def test_the_worker_judges_the_mutated_copy(tmp_path: Path) -> None:
    """The worker (the suite under ci on the copy) lets the unmutated copy pass, kills
    a catalog bug written into the source by a guarantee, and a module that no longer
    imports by a contract error; the copy is left as it was."""
    out = tmp_path / "out"
    package = bench.scratch_package(out)
    bench.sync_scratch(bench.SOURCE, package)

    def judge_with(examples: int | None) -> Callable[[object], Any]:
        def judge(presets: object) -> Any:
            command = bench.worker_command(out, ["dynamo-lww"], examples, 30.0)
            return bench.run_worker(command, bench.worker_env(out), 300)
        return judge

    kept = judge_with(2)(["dynamo-lww"])
    assert kept.verdict == "survived", kept
    killed = bench.judge_mutant(package, bench.KNOWN_KILLED[0],
                                bench.edit(package, *bench.KNOWN_KILLED), judge_with(None))
    assert (killed.verdict, killed.preset) == ("killed-guarantee", "dynamo-lww"), killed
    assert killed.reason.startswith("anti-entropy-exact")
    ring = "reference/leaderless/ring.py"
    broken = (package / ring).read_text() + "\nraise RuntimeError('mutated at import')\n"
    crashed = bench.judge_mutant(package, ring, broken, judge_with(2))
    assert crashed.verdict == "killed-contract" and "mutated at import" in crashed.reason
    assert bench.sync_scratch(bench.SOURCE, package) == 0


def test_lanes_judge_side_by_side_on_their_own_copies(tmp_path: Path) -> None:
    """Two lanes judge at once, each mutant in its own lane's copy only (the other
    copy untouched meanwhile), every mutant once; an error in one lane stops the
    session with both copies restored and nothing recorded for the failed mutant."""
    import threading
    import time

    source = _tree(tmp_path / "impl")
    out = tmp_path / "out"
    packages = [bench.scratch_package(out, lane) for lane in (0, 1)]
    assert packages[0] != packages[1]
    for package in packages:
        bench.sync_scratch(source, package)
    chosen = bench.sample(bench.population(packages[0]), 6, seed=3)
    both_busy = threading.Barrier(2, timeout=10)
    seen: list[tuple[int, int]] = []

    def judge_for(lane: int, fail_at: int | None = None) -> Callable[[object], object]:
        def judge(presets: object) -> object:
            mutated = [sum((p / m).read_text() != (source / m).read_text()
                           for m in ("reference/a.py", "reference/inner/b.py"))
                       for p in packages]
            seen.append((lane, len(seen)))
            assert mutated[lane] == 1  # its own copy holds exactly this mutant
            if len(seen) <= 2:
                both_busy.wait()  # the first two mutants are judged at the same time
            if fail_at is not None and len(seen) >= fail_at:
                raise RuntimeError("lane failed")
            time.sleep(0.01)
            return bench.Verdict("killed-guarantee")
        return judge

    db = bench.open_session(out, chosen, {"seed": 3, "sample": 6})
    lanes = [(packages[0], judge_for(0)), (packages[1], judge_for(1))]
    assert bench.run_session(db, lanes, limit=4, progress=lambda line: None) == 4
    assert {lane for lane, _ in seen} == {0, 1} and db.num_results == 4
    assert all(bench.sync_scratch(source, p) == 0 for p in packages)

    lanes = [(packages[0], judge_for(0, fail_at=5)), (packages[1], judge_for(1, fail_at=5))]
    seen.clear()
    seen.extend([(9, 0)] * 4)  # past the barrier: the next call fails
    with pytest.raises(RuntimeError, match="lane failed"):
        bench.run_session(db, lanes, progress=lambda line: None)
    assert db.num_results == 4  # both lanes failed: nothing more recorded
    assert all(bench.sync_scratch(source, p) == 0 for p in packages)
    db.close()


def test_survivors_of_a_session_are_what_a_second_run_judges(tmp_path: Path) -> None:
    source = _tree(tmp_path / "impl")
    out = tmp_path / "out"
    package = bench.scratch_package(out)
    bench.sync_scratch(source, package)
    chosen = bench.sample(bench.population(package), 5, seed=2)
    verdicts = iter(["survived", "killed-guarantee", "survived", "killed-contract",
                     "timed-out"])

    def judge(presets: object) -> object:
        return bench.Verdict(next(verdicts))

    db = bench.open_session(out, chosen, {"seed": 2, "sample": 5})
    bench.run_session(db, [(package, judge)], progress=lambda line: None)
    alive = sorted(o.mutation for o in bench.outcomes(db) if o.verdict.verdict == "survived")
    db.close()
    assert len(alive) == 2 and bench.survivors_of(out) == alive
    (out / "session.json").write_text(json.dumps({"seed": 2, "sample": 5, "source": "abc"}))
    assert bench.survivors_of(out, "abc") == alive
    with pytest.raises(ValueError, match="other sources"):
        bench.survivors_of(out, "def")  # other sources: other mutations under those ids
    with pytest.raises(ValueError, match="no session"):
        bench.survivors_of(tmp_path / "nowhere")
