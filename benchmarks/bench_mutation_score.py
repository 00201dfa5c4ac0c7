"""Mutation score of the suite over the reference store, with cosmic-ray's mutation operators.

Hand-picked mutants (``implementation/mutants/``) measure what their author thought of;
this measures the suite on bugs nobody chose. Every mutation cosmic-ray's operators
(``cosmic-ray`` 8.7, the ``mutation`` extra) can make in ``implementation/reference/``
is listed, mutations inside type annotations left out (with ``from __future__ import
annotations`` they are never evaluated: equivalent by construction); a seeded sample of
them is drawn, and each sampled mutant is judged as ``replicheck verify --profile ci``
judges a store:

- the mutation is applied to a scratch copy of ``implementation/`` under ``--out``
  (the working tree is never written); a fresh Python process imports replicheck with
  that copy first on its path (it checks that the mutated copy is what it imported)
  and runs the suite's properties under the ``ci`` profile, without shrinking, on
  every preset the mutated module is part of (:func:`presets_for`), stopping at the
  first kill;
- **killed-guarantee**: a property failed with a guarantee violation;
  **killed-contract**: the store broke the contract (raised, returned garbage, a call
  that did not return, a factory that failed, a module that no longer imports: the
  ``error`` status of ``verify``); **survived**: every property passed on every
  affected preset; **timed-out**: the process ran past ``--timeout`` seconds (killed,
  counted apart, and left out of the score).

The session (the sample and every result) is cosmic-ray's own work database,
``OUT/session.sqlite`` (``cr-report OUT/session.sqlite`` reads it too): a run that is
interrupted (Ctrl-C, SIGTERM, a crash, the machine going down) resumes where it
stopped when started again with the same ``--out``; the mutated scratch file is put
back on every exit, and the whole scratch copy is re-synchronised with the source at
every start.

The score is killed / (killed + survived), over non-equivalent mutants: a survivor
that the triage file (``--triage``, default ``benchmarks/mutation_triage.json``)
judges equivalent is left out. Every survivor is listed for triage: ``{"ID":
{"equivalent": "why no request or fault sequence tells it apart"}}`` or ``{"ID":
{"gap": "the rule or checker that would find it"}}``.

    .venv/bin/pip install -e '.[mutation]'
    nice -n 19 .venv/bin/python benchmarks/bench_mutation_score.py --out mutation-run \\
        [--sample 150] [--seed 0] [--timeout 900] [--jobs 1] [--limit N] [--check] [--report]

``--check`` first shows the harness judges right: a catalog bug ported to the
source (``anti-entropy-skips-last-range``) must be killed, and a no-op edit must
survive. ``--limit N`` stops after N more mutants (the run resumes later);
``--report`` only prints the tables of what is done. Never run in CI: a mutant
costs up to a few minutes (one ``ci`` run of the suite per affected preset).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "implementation"
"""The package folder copied into the scratch tree (``replicheck.implementation``)."""
MUTATED = "reference"
"""The folder under :data:`SOURCE` whose modules are mutated."""
DEFAULT_TRIAGE = REPO / "benchmarks" / "mutation_triage.json"

VERDICTS = ("killed-guarantee", "killed-contract", "survived", "timed-out")
LEADER = ("dynamodb", "global-tables")
LEADERLESS = ("dynamo-lww", "dynamo-quorum")
EVERY_PRESET = ("dynamodb", "dynamo-lww", "dynamo-quorum", "global-tables")


# -- the mutants ----------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Mutation:
    """One mutation: cosmic-ray's ``operator`` applied at its ``occurrence`` (counted
    in the module, as cosmic-ray counts) in ``module`` (a path under
    :data:`SOURCE`, with ``/``), at ``start``..``end`` (line, column)."""

    module: str
    operator: str
    occurrence: int
    start: tuple[int, int]
    end: tuple[int, int]

    @property
    def id(self) -> str:
        """Stable name: module, line, operator and occurrence."""
        return f"{self.module}:{self.start[0]}:{self.operator}#{self.occurrence}"


def presets_for(module: str) -> tuple[str, ...]:
    """The presets whose stores run the code of ``module`` (a path under
    implementation/): a leader-mode module the two leader presets (the global
    tables module only its own), a leaderless module the two leaderless presets,
    the shared simulation every preset."""
    parts = module.split("/")
    if len(parts) > 2 and parts[1] == "leader":
        return ("global-tables",) if parts[2] == "global_tables.py" else LEADER
    if len(parts) > 2 and parts[1] == "leaderless":
        return LEADERLESS
    return EVERY_PRESET


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where ``source``'s type annotations are (start, end as (line, column))."""
    import ast

    spans = []
    for node in ast.walk(ast.parse(source)):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for ann in found:
            if ann is not None and ann.end_lineno is not None and ann.end_col_offset is not None:
                spans.append(((ann.lineno, ann.col_offset), (ann.end_lineno, ann.end_col_offset)))
    return spans


def module_mutations(path: Path, module: str) -> list[Mutation]:
    """Every mutation cosmic-ray's argument-free operators make in the file ``path``
    (named ``module``), in cosmic-ray's order, those inside annotations left out
    (their occurrence numbers are kept: they name cosmic-ray's positions)."""
    from cosmic_ray.ast import ast_nodes, get_ast
    from cosmic_ray.plugins import get_operator, operator_names

    source = path.read_text(encoding="utf-8")
    nodes = list(ast_nodes(get_ast(source)))
    spans = _annotation_spans(source)
    found = []
    for name in sorted(operator_names()):
        operator_class = get_operator(name)
        if operator_class.arguments():  # needs a configuration: not used
            continue
        operator = operator_class()
        positions = [p for node in nodes for p in operator.mutation_positions(node)]
        for occurrence, (start, end) in enumerate(positions):
            if any(a <= tuple(start) and tuple(end) <= b for a, b in spans):
                continue
            found.append(Mutation(module, name, occurrence, tuple(start), tuple(end)))
    return found


def population(root: Path) -> list[Mutation]:
    """Every mutation of the modules under ``root/MUTATED`` (``root`` is an
    implementation/ folder), sorted."""
    found: list[Mutation] = []
    for path in sorted((root / MUTATED).rglob("*.py")):
        found += module_mutations(path, path.relative_to(root).as_posix())
    return sorted(found)


def sample(mutations: Sequence[Mutation], size: int, seed: int) -> list[Mutation]:
    """``size`` of ``mutations`` (all when fewer) drawn with ``random.Random(seed)``
    from their sorted order: the same sample for the same sources, seed and size,
    whatever order they came in; sorted."""
    ordered = sorted(mutations)
    chosen = random.Random(seed).sample(ordered, min(size, len(ordered)))
    return sorted(chosen)


def mutated_source(source: str, mutation: Mutation) -> str | None:
    """``source`` with ``mutation`` applied by cosmic-ray, or None when it applies
    nowhere."""
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    result: str | None = mutate_code(source, get_operator(mutation.operator)(),
                                     mutation.occurrence)
    return result


def diff_of(before: str, after: str, module: str) -> str:
    """The unified diff (one line of context) of a mutation."""
    return "\n".join(difflib.unified_diff(before.splitlines(), after.splitlines(),
                                          f"a/{module}", f"b/{module}", n=1, lineterm=""))


def changed_line(diff: str) -> str:
    """The mutated line as the diff shows it (``- old -> + new``, stripped)."""
    old = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-")
           and not ln.startswith("---")]
    new = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+")
           and not ln.startswith("+++")]
    return f"{' / '.join(old)} -> {' / '.join(new) or '(removed)'}"


# -- the scratch copy and applying a mutation -----------------------------------------------


def scratch_root(out: Path, lane: int = 0) -> Path:
    """What goes first on the path of lane ``lane``'s workers: ``out/scratch`` for the
    first lane, ``out/scratch-K`` for lane K."""
    return out / ("scratch" if lane == 0 else f"scratch-{lane}")


def scratch_package(out: Path, lane: int = 0) -> Path:
    """Lane ``lane``'s scratch copy of implementation/ under ``out``."""
    return scratch_root(out, lane) / "replicheck" / "implementation"


def sync_scratch(source: Path, target: Path) -> int:
    """Make ``target`` a copy of ``source``'s Python files and ``py.typed``
    (``__pycache__`` left out, stale files removed); the number of files (re)written.
    Run at every start, it also undoes a mutation left by a process that was killed
    outright."""
    written = 0
    wanted = {p.relative_to(source) for p in source.rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".typed")}
    for rel in sorted(wanted):
        src, dst = source / rel, target / rel
        data = src.read_bytes()
        if not dst.exists() or dst.read_bytes() != data:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
            written += 1
    for path in sorted(target.rglob("*"), reverse=True):
        rel = path.relative_to(target)
        if path.is_file() and rel not in wanted:
            path.unlink()
        elif path.is_dir() and (path.name == "__pycache__" or not any(path.iterdir())):
            for inner in path.rglob("*"):
                if inner.is_file():
                    inner.unlink()
            with contextlib.suppress(OSError):
                path.rmdir()
    return written


@contextlib.contextmanager
def applied(path: Path, text: str) -> Iterator[None]:
    """``path`` holds ``text`` within the block; its original bytes are put back on
    every exit (return, exception, KeyboardInterrupt, SystemExit)."""
    original = path.read_bytes()
    try:
        path.write_text(text, encoding="utf-8")
        yield
    finally:
        path.write_bytes(original)


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within the block SIGTERM (and SIGHUP) raise KeyboardInterrupt, as Ctrl-C does,
    so that every ``finally`` (the restore of :func:`applied`) runs."""
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# -- judging one mutant ---------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What the suite made of one mutant: ``verdict`` (one of :data:`VERDICTS`), the
    ``preset`` and property (``prop``) that killed it, the ``reason`` (one line), the
    ``seconds`` it took."""

    verdict: str
    preset: str | None = None
    prop: str | None = None
    reason: str = ""
    seconds: float = 0.0

    @property
    def killed(self) -> bool:
        return self.verdict.startswith("killed")


WORKER = r'''
import builtins, json, sys, time
root, presets, examples, call_timeout = sys.argv[1:5]
presets = presets.split(",")
began = time.perf_counter()
def say(verdict, preset=None, prop=None, reason=""):
    print(json.dumps({"verdict": verdict, "preset": preset, "prop": prop,
                      "reason": reason[:300], "seconds": round(time.perf_counter() - began, 2)}))
    sys.stdout.flush()
import replicheck.implementation as package
if not package.__path__[0].startswith(root):
    say("harness-error", reason=f"imported {package.__path__[0]}, not the copy under {root}")
    sys.exit(3)
class CosmicRayTestingException(Exception):
    """What cosmic-ray's ExceptionReplacer puts in an except clause: never raised."""
builtins.CosmicRayTestingException = CosmicRayTestingException
def mutated_frame(error):
    import traceback
    mutated = root + "/replicheck/implementation/reference/"
    return any(f.filename.startswith(mutated) for f in traceback.extract_tb(error.__traceback__))
try:  # the suite's API must load without the mutated modules: else the harness is broken
    from hypothesis import Phase, settings
    from replicheck.properties.engine import check_target, run_property, store_factory
    from replicheck.properties.profiles import import_every_module, settings_for
    from replicheck.properties.suite import PROPERTIES
except Exception as error:
    if not mutated_frame(error):
        say("harness-error", reason=f"the suite's API: {type(error).__name__}: {error}")
        sys.exit(3)
    say("killed-contract", reason=f"{type(error).__name__}: {error}".splitlines()[0])
    sys.exit(0)
def judge():
    import_every_module()
    chosen = settings(settings_for("ci"), phases=(Phase.explicit, Phase.reuse, Phase.generate))
    if examples != "-":
        chosen = settings(chosen, max_examples=min(int(examples), chosen.max_examples))
    for preset in presets:
        where[:] = [preset, None]
        descriptor = check_target(preset, call_timeout=float(call_timeout))
        for p in PROPERTIES:
            where[1] = p.name
            result = run_property(p, store_factory(preset), preset, chosen,
                                  descriptor=descriptor, minimize=False,
                                  call_timeout=float(call_timeout))
            if result.run.status == "failed":
                cx = result.run.counterexample
                named = "" if cx is None else f"{cx.guarantee}: "
                return ("killed-guarantee", preset, p.name, named + result.run.reason)
            if result.run.status == "error":
                return ("killed-contract", preset, p.name, result.run.reason)
    return ("survived", None, None, "")
where = [None, None]
try:
    found = judge()
except BaseException as crash:  # the mutated store cannot even be imported or built
    found = ("killed-contract", *where, f"{type(crash).__name__}: {crash}".splitlines()[0])
say(*found)
'''
"""The worker process: run with ``python -c`` (so that no harness module's string
literals join the ones Hypothesis draws text from: the search is ``verify``'s)."""


def worker_command(out: Path, presets: Sequence[str], max_examples: int | None,
                   call_timeout: float, lane: int = 0) -> list[str]:
    """The command judging lane ``lane``'s mutated scratch copy under ``out`` on
    ``presets``."""
    return [sys.executable, "-c", WORKER, str(scratch_root(out, lane)), ",".join(presets),
            "-" if max_examples is None else str(max_examples), str(call_timeout)]


def worker_env(out: Path, lane: int = 0) -> dict[str, str]:
    """The worker's environment: lane ``lane``'s scratch copy first on the path, no
    bytecode written (a mutation and its restore can fall in one second), failure
    files under ``out``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(scratch_root(out, lane))] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["REPLICHECK_FAILURE_DIR"] = str(out / "failures")
    return env


class HarnessError(RuntimeError):
    """The harness cannot judge (the mutated copy was not what got imported)."""


def run_worker(command: Sequence[str], env: Mapping[str, str], timeout: float) -> Verdict:
    """Run ``command`` (its own process group) for at most ``timeout`` seconds: its
    last JSON line is the verdict; past the timeout the group is killed (timed-out);
    a process that dies without a verdict was killed by the mutated store
    (killed-contract). On any interruption the group is killed before re-raising."""
    began = time.perf_counter()
    with _RUNNING_LOCK:  # started and registered at once: an interruption sees it
        if _STOPPING.is_set():
            raise KeyboardInterrupt("the session is stopping")
        proc = subprocess.Popen(list(command), env=dict(env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        _RUNNING.add(proc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return Verdict("timed-out", reason=f"no verdict within {timeout:g} s",
                       seconds=round(time.perf_counter() - began, 2))
    except BaseException:
        _kill(proc)
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    seconds = round(time.perf_counter() - began, 2)
    for line in reversed(stdout.decode(errors="replace").splitlines()):
        if line.startswith("{"):
            found = json.loads(line)
            if found["verdict"] == "harness-error":
                raise HarnessError(found["reason"])
            return Verdict(found["verdict"], found.get("preset"), found.get("prop"),
                           found.get("reason", ""), seconds)
    last = next((ln for ln in reversed(stderr.decode(errors="replace").splitlines())
                 if ln.strip()), "")
    return Verdict("killed-contract", reason=f"the process died (exit {proc.returncode}): "
                   f"{last[:200]}", seconds=seconds)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()
"""Set on an interruption: no worker starts any more."""


def _kill_running() -> None:
    """Kill every worker's process group still running, and let none start (the
    threads waiting on them then restore their files)."""
    with _RUNNING_LOCK:
        _STOPPING.set()
        running = list(_RUNNING)
    for proc in running:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)


Judge = Callable[[Sequence[str]], Verdict]
"""Runs the suite on the (already mutated) scratch copy for the given presets."""


def judge_mutant(package: Path, module: str, text: str, judge: Judge) -> Verdict:
    """Apply ``text`` to ``module`` of the scratch ``package``, judge it on the
    presets the module is part of, restore the file (on every exit)."""
    with applied(package / module, text):
        return judge(presets_for(module))


# -- the session: cosmic-ray's work database ------------------------------------------------


def open_session(out: Path, chosen: Sequence[Mutation], meta: Mapping[str, Any]) -> Any:
    """The work database ``out/session.sqlite``: created with ``chosen`` as its work
    items (``meta`` written beside it, ``session.json``), or reopened when it exists
    and was made with the same ``meta`` (else ValueError saying what differs)."""
    from cosmic_ray.work_db import WorkDB
    from cosmic_ray.work_item import MutationSpec, WorkItem

    out.mkdir(parents=True, exist_ok=True)
    meta_path, db_path = out / "session.json", out / "session.sqlite"
    if db_path.exists() and meta_path.exists():
        before = json.loads(meta_path.read_text())
        differ = {k: (before.get(k), v) for k, v in meta.items() if before.get(k) != v}
        if differ:
            said = ", ".join(f"{k}: {a} then, {b} now" for k, (a, b) in differ.items())
            raise ValueError(f"{out} holds a session made with other settings ({said}); "
                             "use another --out")
        return WorkDB(str(db_path), WorkDB.Mode.open)
    db_path.unlink(missing_ok=True)
    db = WorkDB(str(db_path), WorkDB.Mode.create)
    db.add_work_items(WorkItem.single(m.id, MutationSpec(
        module_path=m.module, operator_name=m.operator, occurrence=m.occurrence,
        start_pos=m.start, end_pos=m.end, operator_args={})) for m in chosen)
    meta_path.write_text(json.dumps(dict(meta), indent=1))
    return db


def survivors_of(out: Path, source: str | None = None) -> list[Mutation]:
    """The mutants the session under ``out`` judged ``survived`` (ValueError when
    there is no session there, or, given the ``source`` digest of today's
    ``implementation/reference/``, when the session was made from other sources: its
    mutation ids would name other mutations)."""
    from cosmic_ray.work_db import WorkDB

    path = out / "session.sqlite"
    if not path.exists():
        raise ValueError(f"no session under {out}")
    made = json.loads((out / "session.json").read_text()).get("source") if (
        out / "session.json").exists() else None
    if source is not None and made != source:
        raise ValueError(f"the session under {out} was made from other sources "
                         f"({made}, today {source}): its mutants are not today's")
    db = WorkDB(str(path), WorkDB.Mode.open)
    try:
        return sorted(o.mutation for o in outcomes(db) if o.verdict.verdict == "survived")
    finally:
        db.close()


def mutation_of(item: Any) -> Mutation:
    """The :class:`Mutation` a cosmic-ray work item holds."""
    spec = item.mutations[0]
    return Mutation(str(spec.module_path), spec.operator_name, spec.occurrence,
                    tuple(spec.start_pos), tuple(spec.end_pos))


def record(db: Any, mutation: Mutation, verdict: Verdict, diff: str) -> None:
    """Store ``verdict`` as the work item's result (killed -> cosmic-ray's killed,
    timed-out -> an abnormal worker; the verdict itself as JSON in ``output``)."""
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    if verdict.verdict == "timed-out":
        result = WorkResult(WorkerOutcome.ABNORMAL, json.dumps(asdict(verdict)), None, diff)
    else:
        result = WorkResult(WorkerOutcome.NORMAL, json.dumps(asdict(verdict)),
                            TestOutcome.KILLED if verdict.killed else TestOutcome.SURVIVED,
                            diff)
    db.set_result(mutation.id, result)


def run_order(mutation: Mutation) -> str:
    """The key mutants are judged in: a hash of the id, so that the modules are
    mixed and a run stopped early is still a fair sample (and the order is fixed)."""
    return hashlib.sha256(mutation.id.encode()).hexdigest()


Lane = tuple[Path, Judge]
"""One place mutants are judged: a scratch package and the judge that runs the suite
on it. Lanes run side by side, each with its own copy, so their mutations never mix."""


def judge_one(package: Path, mutation: Mutation, judge: Judge) -> tuple[Verdict, str]:
    """``mutation`` applied to the scratch ``package``, judged, restored: the verdict
    and the mutation's diff."""
    before = (package / mutation.module).read_text(encoding="utf-8")
    after = mutated_source(before, mutation)
    if after is None:  # cosmic-ray found nothing to mutate there: sources changed
        return Verdict("killed-contract", reason="the mutation no longer applies"), ""
    return (judge_mutant(package, mutation.module, after, judge),
            diff_of(before, after, mutation.module))


def run_session(db: Any, lanes: Sequence[Lane], *, limit: int | None = None,
                progress: Callable[[str], None] = print) -> int:
    """Judge the session's pending mutants (at most ``limit``, in :func:`run_order`)
    on ``lanes``, one mutant per lane at a time; every verdict stored as soon as it is
    known, by this thread alone. On an interruption (or an error) every running worker
    is killed and every lane's file restored before it propagates, and no further
    mutant starts. The number judged."""
    _STOPPING.clear()
    pending = deque(sorted((mutation_of(item) for item in db.pending_work_items),
                           key=run_order)[:limit])
    total = db.num_work_items
    free = list(reversed(lanes))
    running: dict[Future[tuple[Verdict, str]], tuple[Mutation, Lane]] = {}
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, len(lanes))) as pool:
        try:
            while pending or running:
                while pending and free:
                    lane, mutation = free.pop(), pending.popleft()
                    running[pool.submit(judge_one, lane[0], mutation, lane[1])] = \
                        (mutation, lane)
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: run_order(running[f][0])):
                    mutation, lane = running.pop(future)
                    free.append(lane)
                    verdict, diff = future.result()
                    record(db, mutation, verdict, diff)
                    done += 1
                    where = f" ({verdict.preset}/{verdict.prop})" if verdict.preset else ""
                    progress(f"  [{db.num_results}/{total}] {verdict.verdict:16} "
                             f"{mutation.id}{where} {verdict.seconds:.0f} s  "
                             f"{changed_line(diff)[:80]}")
        except BaseException:
            _kill_running()
            raise
    return done


# -- the score ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One judged mutant: its mutation, verdict and diff."""

    mutation: Mutation
    verdict: Verdict
    diff: str


def outcomes(db: Any) -> list[Outcome]:
    """Every judged mutant of the session, sorted by id."""
    found = []
    for item, result in db.completed_work_items:
        data = json.loads(result.output)
        found.append(Outcome(mutation_of(item), Verdict(**data), result.diff or ""))
    return sorted(found, key=lambda o: o.mutation.id)


@dataclass(frozen=True)
class Tally:
    """Counts of one module (or all): killed by a guarantee, by a contract error,
    survived, timed out; ``equivalent`` survivors (from the triage)."""

    killed_guarantee: int = 0
    killed_contract: int = 0
    survived: int = 0
    timed_out: int = 0
    equivalent: int = 0

    @property
    def killed(self) -> int:
        return self.killed_guarantee + self.killed_contract

    @property
    def score(self) -> float | None:
        """killed / (killed + non-equivalent survivors); timed-out left out; None
        when nothing counts."""
        counted = self.killed + self.survived - self.equivalent
        return None if counted <= 0 else self.killed / counted


def tally(found: Iterable[Outcome], triage: Mapping[str, Mapping[str, str]]) -> Tally:
    """The counts of ``found``; survivors judged equivalent in ``triage`` counted in
    ``equivalent`` (and still in ``survived``)."""
    counts = {v: 0 for v in VERDICTS}
    equivalent = 0
    for outcome in found:
        counts[outcome.verdict.verdict] += 1
        if outcome.verdict.verdict == "survived" and \
                "equivalent" in triage.get(outcome.mutation.id, {}):
            equivalent += 1
    return Tally(counts["killed-guarantee"], counts["killed-contract"], counts["survived"],
                 counts["timed-out"], equivalent)


def load_triage(path: Path | None) -> dict[str, dict[str, str]]:
    """The triage file's judgements (``{}`` when there is none)."""
    if path is None or not path.exists():
        return {}
    data: dict[str, dict[str, str]] = json.loads(path.read_text())
    return data


def report(found: Sequence[Outcome], triage: Mapping[str, Mapping[str, str]],
           pending: int) -> str:
    """The per-module table, the score and the survivors table."""
    from tabulate import tabulate

    modules = sorted({o.mutation.module for o in found})
    rows = []
    for module in [*modules, None]:
        part = [o for o in found if module is None or o.mutation.module == module]
        t = tally(part, triage)
        score = "-" if t.score is None else f"{100 * t.score:.0f}%"
        rows.append((module or "all", len(part), t.killed_guarantee, t.killed_contract,
                     t.survived, t.equivalent, t.timed_out, score))
    lines = [tabulate(rows, headers=["module", "mutants", "killed (guarantee)",
                                     "killed (contract)", "survived", "equivalent",
                                     "timed out", "score"])]
    whole = tally(found, triage)
    if whole.score is not None:
        lines.append(f"\nscore over non-equivalent mutants: {whole.killed}/"
                     f"{whole.killed + whole.survived - whole.equivalent} = "
                     f"{100 * whole.score:.1f}% ({whole.timed_out} timed out, left out; "
                     f"{pending} not yet run)")
    survivors = [o for o in found if o.verdict.verdict == "survived"]
    if survivors:
        table = []
        for o in survivors:
            judged = triage.get(o.mutation.id, {})
            kind = next(iter(judged), "untriaged")
            table.append((o.mutation.id, changed_line(o.diff)[:70], kind,
                          judged.get(kind, "")[:90]))
        lines.append("\nsurvivors:\n" + tabulate(table, headers=["mutant", "change", "triage",
                                                                 "why"]))
    timed = [o for o in found if o.verdict.verdict == "timed-out"]
    if timed:
        lines.append("\ntimed out:\n" + "\n".join(
            f"  {o.mutation.id}: {changed_line(o.diff)[:80]}" for o in timed))
    return "\n".join(lines)


# -- the checks of the harness itself -------------------------------------------------------

KNOWN_KILLED = (
    "reference/leaderless/antientropy.py",
    "        session.round += 1\n        session.asked = nodes\n",
    "        if session.round == 0 and len(nodes) > 1:\n"
    "            nodes = nodes[:-1]  # anti-entropy-skips-last-range\n"
    "        session.round += 1\n        session.asked = nodes\n",
)
"""The catalog's ``anti-entropy-skips-last-range`` as a source edit (module, old, new)."""

NO_OP = ("reference/leaderless/antientropy.py", "\n", "\n# a comment changes nothing\n")
"""An edit no request can tell apart (module, old, new: the first newline)."""


def edit(package: Path, module: str, old: str, new: str) -> str:
    """``module``'s text with the first ``old`` replaced by ``new`` (ValueError when
    ``old`` is not there)."""
    text = (package / module).read_text(encoding="utf-8")
    if old not in text:
        raise ValueError(f"{module} no longer holds the text the check edits")
    return text.replace(old, new, 1)


def check_harness(package: Path, judge: Judge) -> bool:
    """The known-killed edit is killed and the no-op edit survives (printed)."""
    killed = judge_mutant(package, KNOWN_KILLED[0], edit(package, *KNOWN_KILLED), judge)
    print(f"  known bug (anti-entropy-skips-last-range as a source edit): {killed.verdict}"
          f" ({killed.preset}/{killed.prop}: {killed.reason[:100]}) in "
          f"{killed.seconds:.0f} s", flush=True)
    kept = judge_mutant(package, NO_OP[0], edit(package, *NO_OP), judge)
    print(f"  no-op edit (a comment): {kept.verdict} in {kept.seconds:.0f} s", flush=True)
    return killed.verdict == "killed-guarantee" and kept.verdict == "survived"


# -- the command ----------------------------------------------------------------------------


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted((root / MUTATED).rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, required=True,
                        help="the session folder (created; a run resumes from it)")
    parser.add_argument("--sample", type=int, default=150, help="mutants drawn (150)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (0)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds one mutant may take (900)")
    parser.add_argument("--call-timeout", type=float, default=30.0,
                        help="seconds one store call may take (30, as verify)")
    parser.add_argument("--max-examples", type=int, default=None,
                        help="cap the ci profile's examples per property (a quicker, "
                             "weaker run: not the score)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="mutants judged side by side, each lane on its own scratch "
                             "copy (1; at most one per core, or timings stretch)")
    parser.add_argument("--limit", type=int, default=None,
                        help="judge at most N more mutants, then report")
    parser.add_argument("--survivors-of", type=Path, default=None,
                        help="judge again only the mutants another session's run left "
                             "alive (its --out) and the triage does not call equivalent, "
                             "with the suite as it is now")
    parser.add_argument("--check", action="store_true",
                        help="first check a known bug is killed and a no-op survives")
    parser.add_argument("--report", action="store_true", help="only report what is done")
    parser.add_argument("--triage", type=Path, default=DEFAULT_TRIAGE)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    packages = [scratch_package(out, lane) for lane in range(args.jobs)]
    package = packages[0]
    meta = {"tool": "cosmic-ray " + _version("cosmic-ray"), "seed": args.seed,
            "sample": args.sample, "source": _digest(SOURCE),
            "max_examples": args.max_examples}
    if args.survivors_of is not None:
        meta["survivors_of"] = str(args.survivors_of.resolve())
    with interrupts_raise():
        out.mkdir(parents=True, exist_ok=True)
        for each in packages:
            restored = sync_scratch(SOURCE, each)
            print(f"scratch copy {each} ({restored} files written)", flush=True)
        started = time.perf_counter()
        if (out / "session.sqlite").exists() and (out / "session.json").exists():
            chosen: list[Mutation] = []
        elif args.survivors_of is not None:
            try:
                alive = survivors_of(args.survivors_of.resolve(), meta["source"])
            except ValueError as error:
                print(error, file=sys.stderr)
                return 2
            triage = load_triage(args.triage)
            chosen = [m for m in alive if "equivalent" not in triage.get(m.id, {})]
            print(f"{len(chosen)} survivors of {args.survivors_of} to judge again "
                  f"({len(alive) - len(chosen)} triaged equivalent left out)", flush=True)
        else:
            every = population(package)
            chosen = sample(every, args.sample, args.seed)
            print(f"{len(every)} mutations in {MUTATED}/ (annotations left out), "
                  f"{len(chosen)} drawn with seed {args.seed} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
        try:
            db = open_session(out, chosen, meta)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2

        def judge_on(lane: int) -> Judge:
            def judge(presets: Sequence[str]) -> Verdict:
                return run_worker(worker_command(out, presets, args.max_examples,
                                                 args.call_timeout, lane),
                                  worker_env(out, lane), args.timeout)
            return judge

        judge = judge_on(0)
        lanes = [(each, judge_on(lane)) for lane, each in enumerate(packages)]

        try:
            if args.check and not args.report:
                print("checking the harness:", flush=True)
                if not check_harness(package, judge):
                    print("the harness misjudged a known case: no score", file=sys.stderr)
                    return 1
            if not args.report:
                print(f"judging ({db.num_results}/{db.num_work_items} done before):",
                      flush=True)
                run_session(db, lanes, limit=args.limit,
                            progress=lambda line: print(line, flush=True))
        except HarnessError as error:
            print(f"harness error: {error}", file=sys.stderr)
            return 4
        except KeyboardInterrupt:
            print(f"interrupted: {db.num_results}/{db.num_work_items} judged, the scratch "
                  f"copy restored; run again with --out {args.out} to resume",
                  file=sys.stderr)
            return 130
        finally:
            for each in packages:
                sync_scratch(SOURCE, each)
        found = outcomes(db)
        print()
        print(report(found, load_triage(args.triage), db.num_work_items - len(found)))
        seconds = [o.verdict.seconds for o in found]
        if seconds:
            print(f"\n{len(found)} mutants judged, {sum(seconds):.0f} s of workers, "
                  f"median {sorted(seconds)[len(seconds) // 2]:.0f} s a mutant")
    return 0


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    sys.exit(main())
