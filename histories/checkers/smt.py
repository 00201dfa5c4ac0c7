"""Every transactional model decided over every interpretation of a read-write register
history, with z3 where the history leaves the interpretation open.

What "valid under model M" means is the team's agreement (docs: txn-models): M holds
when SOME interpretation shows none of M's forbidden phenomena. An interpretation
fixes which ``info`` transactions committed, a version order per key, and which write
each external read saw (values may repeat, so that is a choice). Nothing here guesses
one of them: each model is asked of z3 as "is there an interpretation in which ...".

The encodings (each exact for its model; ``rank`` is an integer per transaction that
is, or may be, committed; ``alive`` says it committed):

- *read-uncommitted* forbids G0 only. The version orders are free in a register
  history, so a global order of the committed transactions always gives an acyclic
  ``ww``: the model holds iff every read is explained by some write of its value
  (any transaction, aborted or intermediate included) or is a nil read. No solver.
- *read-committed*, *read-atomic*: acyclic ``ww`` ∪ ``wr`` with reads of committed,
  installed versions (no G1a, G1b). A topological order of ``ww`` ∪ ``wr`` is a global
  order whose restriction to each key's writers is that key's version order, so the
  model holds iff some ``rank`` puts every read's chosen writer before its reader.
  Read-committed lets a read see its own transaction's later write (future-read is
  not among its phenomena); read-atomic does not, and forbids ``internal``.
- *repeatable-read*, *serializable*: acyclic ``ww`` ∪ ``wr`` ∪ ``rw``: some ``rank``
  with each read's writer before it and no other committed writer of the key between
  them (a nil read: none before it). Repeatable read allows future reads and internal
  inconsistency; serializability forbids both.
- *strong-session-serializable*, *strict-serializable*: serializable's encoding plus
  process (resp. real-time) order: a transaction that completed (``ok``) before
  another of its process (resp. any other) was invoked ranks before it.
- *snapshot-isolation*: no cycle without two adjacent ``rw`` edges (Cerone and
  Gotsman's characterisation) is equivalent to start and commit points: each committed
  transaction starts before it commits, reads the last version committed before its
  start, and two committed writers of one key never overlap (first committer wins).

Steps, each apart: :func:`build` (candidates per read, the findings no solver is needed
for), :func:`components` (transactions that constrain each other), :func:`solve` (one
component at one level, through :func:`run_solver`, the one place z3 is called), and
:func:`decide` (all eight models, strongest first, what one decision implies for the
others taken from the lattice). A component reaching the time or memory limit leaves
its models undecided ("unknown", with the reason); never a guess.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Final, Literal

from replicheck.histories.checkers.elle.graph import realtime_reduction
from replicheck.histories.checkers.elle.txn import (
    READ,
    RW_REGISTER,
    WRITE,
    Txn,
    transactions,
)
from replicheck.histories.history import History
from replicheck.histories.verdict import Anomaly, Stats, Validity, Verdict
from replicheck.models import lattice
from replicheck.models.equality import value_key

Graph = Literal["wr", "serial", "si"]

INITIAL: Final = -1
"""The pseudo-writer of the initial (nil) state."""

CHECKABLE: Final = lattice.TRANSACTIONAL
"""The consistency models this checker decides: the eight transactional models."""


class LimitReached(Exception):
    """The time or memory limit was reached; ``reason`` names which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Level:
    """One encoding: the dependency ``graph`` that must be acyclic, whether a read may
    see its own transaction's later write (``self_reads``), and the extra order used
    (``None``, ``"process"`` or ``"realtime"``)."""

    graph: Graph
    self_reads: bool
    extra: str | None = None


LEVELS: Final[dict[str, Level]] = {
    "read-committed": Level("wr", True),
    "read-atomic": Level("wr", False),
    "repeatable-read": Level("serial", True),
    "serializable": Level("serial", False),
    "strong-session-serializable": Level("serial", False, "process"),
    "strict-serializable": Level("serial", False, "realtime"),
    "snapshot-isolation": Level("si", False),
}
"""The solver encoding of each model but read-uncommitted (decided without one)."""


@dataclass(frozen=True)
class Read:
    """One external read of a committed transaction: ``txn`` read ``value`` from
    ``key``. ``installed``: the possibly-committed transactions whose installed (last)
    write of the key is the value, ``INITIAL`` for a nil read; ``own``: the reader
    itself writes the value later (a future read, allowed by read-committed and
    repeatable-read); ``dirty``: some other write explains it only as an aborted or
    intermediate version (enough for read-uncommitted)."""

    txn: int
    key: Hashable
    value: Any
    installed: tuple[int, ...]
    own: bool
    dirty: tuple[tuple[str, int], ...]
    shown: Hashable = None


@dataclass
class Problem:
    """What the solver is asked: the transactions that may have committed (``live``,
    by index), the reads, the writers of each key (by ``value_key`` of the key), the
    process and real-time orders, and the findings made without a solver."""

    txns: tuple[Txn, ...]
    live: list[int] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    writers: dict[Hashable, list[int]] = field(default_factory=dict)
    process: list[tuple[int, int]] = field(default_factory=list)
    realtime: list[tuple[int, int]] = field(default_factory=list)
    findings: list[Anomaly] = field(default_factory=list)
    internal: bool = False
    unexplained: bool = False


def _describe(txn: Txn) -> str:
    mops = " ".join(f"{f}({k!r}, {v!r})" for f, k, v in txn.mops)
    return f"T{txn.op} [{mops}]"


def _scan(txn: Txn) -> tuple[list[tuple[Hashable, Hashable, Any]], dict[Hashable, Any],
                             dict[Hashable, list[Any]], str | None]:
    """A transaction's reads of versions ``(value_key(key), key, value)`` (every read
    but one returning the transaction's own last write of the key, which it
    determines), installed writes and all writes (by value_key of key and value), and
    its first internal inconsistency (a read that differs from its own last read or
    write of the key)."""
    reads: list[tuple[Hashable, Hashable, Any]] = []
    current: dict[Hashable, Any] = {}
    last: dict[Hashable, Any] = {}
    every: dict[Hashable, list[Any]] = {}
    problem: str | None = None
    for f, k, v in txn.mops:
        kk = value_key(k)
        vk = value_key(v)
        if f == WRITE:
            current[kk] = (v, vk)
            last[kk] = vk
            every.setdefault(kk, []).append(vk)
        elif f == READ and txn.ok:
            if kk in current and problem is None and current[kk][1] != vk:
                problem = (f"read {v!r} from {k!r} after itself writing or reading "
                           f"{current[kk][0]!r}")
            if last.get(kk, _NOTHING) != vk:
                reads.append((kk, k, v))
            current[kk] = (v, vk)
    return reads, last, every, problem


_NOTHING: Final = object()


def _process_pairs(txns: Sequence[Txn], live: Sequence[int]) -> list[tuple[int, int]]:
    """Process order among ``live``: each completed (ok) transaction before the next
    completed one of its process and before every later indeterminate one (an
    indeterminate transaction never completed, so it ends its process)."""
    by_process: dict[Hashable, list[int]] = {}
    for i in live:
        by_process.setdefault(value_key(txns[i].process), []).append(i)
    out: list[tuple[int, int]] = []
    for members in by_process.values():
        members.sort(key=lambda i: txns[i].call)
        last_ok = -1
        oks: list[int] = []
        for i in members:
            t = txns[i]
            if t.ok:
                if last_ok >= 0 and txns[last_ok].ret < t.call:  # type: ignore[operator]
                    out.append((last_ok, i))
                last_ok = i
                oks.append(i)
            else:
                out.extend((j, i) for j in oks
                           if txns[j].ret < t.call)  # type: ignore[operator]
    return out


def build(history: History, *, deadline: float | None = None) -> Problem:
    """The reads with their candidate writers, the orders, and the findings no solver
    is needed for: ``internal``; ``garbage-read`` (a value no write produced: no
    interpretation explains it); ``G1a``/``G1b`` (a read only an aborted or an
    intermediate write explains)."""
    txns = transactions(history, RW_REGISTER)
    problem = Problem(txns)
    installed: dict[tuple[Hashable, Hashable], list[int]] = {}
    dirty: dict[tuple[Hashable, Hashable], list[tuple[str, int]]] = {}
    externals: list[tuple[int, list[tuple[Hashable, Hashable, Any]]]] = []
    own: list[dict[Hashable, list[Any]]] = []
    for t in txns:
        if not t.tid & 0x3FF:
            _check_time(deadline)
        version_reads, last, every, inconsistent = _scan(t)
        own.append(every)
        if not t.failed:
            problem.live.append(t.tid)
            for kk, vk in last.items():
                installed.setdefault((kk, vk), []).append(t.tid)
                problem.writers.setdefault(kk, []).append(t.tid)
        for kk, vks in every.items():
            for n, vk in enumerate(vks):
                final = n == len(vks) - 1 or vk == last[kk]
                if t.failed:
                    dirty.setdefault((kk, vk), []).append(("aborted", t.tid))
                elif not final:
                    dirty.setdefault((kk, vk), []).append(("intermediate", t.tid))
        if inconsistent is not None:
            problem.internal = True
            problem.findings.append(Anomaly("internal", (t.op,),
                                            f"{_describe(t)} {inconsistent}"))
        if t.ok:
            externals.append((t.tid, version_reads))
    for ti, version_reads in externals:
        _check_time(deadline)
        for kk, k, v in version_reads:
            vk = value_key(v)
            writers = [w for w in installed.get((kk, vk), ()) if w != ti]
            if v is None:
                writers.append(INITIAL)
            mine = vk in own[ti].get(kk, ())
            others = tuple((why, w) for why, w in dirty.get((kk, vk), ()) if w != ti)
            read = Read(ti, kk, v, tuple(writers), mine, others, k)
            problem.reads.append(read)
            _explain(problem, read, k)
    problem.process = _process_pairs(txns, problem.live)
    problem.realtime = realtime_reduction(txns, problem.live)
    return problem


def _explain(problem: Problem, read: Read, key: Hashable) -> None:
    """The findings of one read that no interpretation can avoid."""
    t = problem.txns[read.txn]
    if read.installed:
        return
    if not read.own and not read.dirty:
        problem.unexplained = True
        problem.findings.append(Anomaly(
            "garbage-read", (t.op,),
            f"{_describe(t)} read {read.value!r} from {key!r}, but no transaction wrote "
            f"{read.value!r} to {key!r}: no interpretation explains this read"))
        return
    if read.own:
        problem.findings.append(Anomaly(
            "future-read", (t.op,),
            f"{_describe(t)} read {read.value!r} from {key!r}, which only its own later "
            "write explains"))
        if not read.dirty:
            return
    if read.dirty:
        why, w = read.dirty[0]
        kind = "G1a" if why == "aborted" else "G1b"
        problem.findings.append(Anomaly(
            kind, (t.op, problem.txns[w].op),
            f"{_describe(t)} read {read.value!r} from {key!r}, which only the {why} "
            f"write of T{problem.txns[w].op} wrote"))


def _check_time(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise LimitReached("time limit")


class _Groups:
    """Union-find over transaction indexes."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent.get(x, x)
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def components(problem: Problem, extra: str | None) -> list[list[int]]:
    """Groups of live transactions that constrain each other (writers of one key, a
    read and the writers of its key, and the ``extra`` order's pairs); every model
    holds of the history iff it holds of each group."""
    groups = _Groups()
    for members in problem.writers.values():
        for a, b in pairwise(members):
            groups.union(a, b)
    for r in problem.reads:
        writers = problem.writers.get(r.key)
        if writers:
            groups.union(r.txn, writers[0])
    pairs = (problem.process if extra == "process" else
             problem.realtime if extra == "realtime" else [])
    for a, b in pairs:
        groups.union(a, b)
    out: dict[int, list[int]] = {}
    for i in problem.live:
        out.setdefault(groups.find(i), []).append(i)
    return sorted(out.values(), key=lambda c: c[0])


@dataclass(frozen=True)
class Solved:
    """One component's answer at one level: ``status`` sat / unsat / unknown;
    ``order`` the commit order when sat; ``core`` the labels of an unsat core; the
    ``reason`` when unknown (time limit or memory limit)."""

    status: str
    order: tuple[int, ...] = ()
    core: tuple[str, ...] = ()
    reason: str = ""
    cycle: tuple[int, ...] = ()
    involved: tuple[int, ...] = ()


def run_solver(solver: Any, deadline: float | None) -> tuple[str, str]:
    """Run ``solver`` with the time left before ``deadline``: ``("sat"|"unsat", "")``,
    or ``("unknown", reason)`` when z3 gave up, ran out of time or of memory. The one
    place a z3 check runs (a memory cap for z3, when one is set, belongs here)."""
    import z3

    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            return "unknown", "time limit"
        solver.set("timeout", max(1, int(left * 1000)))
    try:
        answer = solver.check()
    except MemoryError:
        return "unknown", "memory limit"
    except z3.Z3Exception as error:
        text = str(error)
        if "memory" in text.lower():
            return "unknown", "memory limit"
        raise
    if answer == z3.sat:
        return "sat", ""
    if answer == z3.unsat:
        return "unsat", ""
    why = solver.reason_unknown()
    if "memory" in why.lower():
        return "unknown", "memory limit"
    if "timeout" in why.lower() or "canceled" in why.lower() or deadline is not None:
        return "unknown", "time limit"
    return "unknown", f"z3 gave up ({why})"  # pragma: no cover - z3 decides these theories


def solve(problem: Problem, members: Iterable[int], level: Level, *,
          deadline: float | None = None, track: bool = True) -> Solved:
    """Is there an interpretation of the component ``members`` with no phenomenon
    ``level`` forbids (see the module's docstring)? Reads whose candidates lie outside
    the component cannot exist (components keep a key's writers together)."""
    import z3

    inside = set(members)
    txns = problem.txns
    solver = z3.Solver()
    if track:
        solver.set("unsat_core", True)
    commit = {i: z3.Int(f"c{i}") for i in inside}
    start = commit if level.graph != "si" else {i: z3.Int(f"s{i}") for i in inside}
    alive = {i: (z3.BoolVal(True) if txns[i].ok else z3.Bool(f"k{i}")) for i in inside}
    if level.graph == "si":
        for i in inside:
            solver.add(start[i] < commit[i])
    points = list(commit.values()) + ([] if level.graph != "si" else list(start.values()))
    if len(points) > 1:
        solver.add(z3.Distinct(*points))

    def tracked(constraint: Any, label: str) -> None:
        if track:
            solver.assert_and_track(constraint, label)
        else:
            solver.add(constraint)

    pairs = (problem.process if level.extra == "process" else
             problem.realtime if level.extra == "realtime" else [])
    for a, b in pairs:
        if a in inside and b in inside:
            tracked(z3.Implies(z3.And(alive[a], alive[b]), commit[a] < start[b]),
                    f"edge:{a}:{b}:{level.extra}")
    checked = 0
    for n, r in enumerate(problem.reads):
        if r.txn not in inside:
            continue
        checked += 1
        if not checked & 0xFF:
            _check_time(deadline)
        options = _read_options(problem, r, level, inside, commit, start, alive)
        tracked(z3.Or(*options) if options else z3.BoolVal(False), f"read:{n}")
    if level.graph == "si":
        for key, ws in problem.writers.items():
            mine = [w for w in ws if w in inside]
            for x, a in enumerate(mine):
                _check_time(deadline)
                for b in mine[x + 1:]:
                    tracked(z3.Or(z3.Not(alive[a]), z3.Not(alive[b]),
                                  commit[a] < start[b], commit[b] < start[a]),
                            f"ww:{a}:{b}:{key!r}")
    status, reason = run_solver(solver, deadline)
    if status == "sat":
        model = solver.model()
        committed = [i for i in inside if z3.is_true(model.eval(alive[i],
                                                                  model_completion=True))]
        order = sorted(committed,
                       key=lambda i: model.eval(commit[i], model_completion=True).as_long())
        return Solved("sat", tuple(order))
    if status == "unsat":
        core = tuple(sorted(str(c) for c in solver.unsat_core())) if track else ()
        return Solved("unsat", core=core)
    return Solved("unknown", reason=reason)


def _read_options(problem: Problem, r: Read, level: Level, inside: set[int],
                  commit: dict[int, Any], start: dict[int, Any], alive: dict[int, Any]
                  ) -> list[Any]:
    """The ways read ``r`` can be explained at ``level``, as z3 formulas."""
    import z3

    others = [w for w in problem.writers.get(r.key, ()) if w != r.txn and w in inside]
    options: list[Any] = []
    if r.own and level.self_reads:
        return [z3.BoolVal(True)]
    for c in r.installed:
        if c == INITIAL:
            if level.graph == "wr":
                return [z3.BoolVal(True)]
            options.append(z3.And(*[z3.Not(z3.And(alive[o], commit[o] < start[r.txn]))
                                    for o in others]))
            continue
        if c not in inside:  # pragma: no cover - components keep writers together
            continue
        seen = z3.And(alive[c], commit[c] < start[r.txn])
        if level.graph == "wr":
            options.append(seen)
            continue
        latest = [z3.Not(z3.And(alive[o], commit[c] < commit[o], commit[o] < start[r.txn]))
                  for o in others if o != c]
        options.append(z3.And(seen, *latest))
    return options


def _explain_core(problem: Problem, core: Sequence[str]) -> tuple[tuple[int, ...], list[str]]:
    txns = problem.txns
    involved: list[int] = []
    lines: list[str] = []

    def note(i: int) -> None:
        if txns[i].op not in involved:
            involved.append(txns[i].op)

    for label in core:
        kind, _, rest = label.partition(":")
        if kind == "read":
            r = problem.reads[int(rest)]
            note(r.txn)
            names = [("the initial state" if c == INITIAL else f"T{txns[c].op}")
                     for c in r.installed]
            for c in r.installed:
                if c != INITIAL:
                    note(c)
            if r.own:
                names.append(f"T{txns[r.txn].op} itself, later")
            who = ", ".join(names) or "no committed transaction"
            lines.append(f"T{txns[r.txn].op} read {r.value!r} from {r.shown!r}, "
                         f"which only {who} could have written")
        elif kind == "edge":
            a, b, why = rest.split(":", 2)
            note(int(a))
            note(int(b))
            lines.append(f"T{txns[int(a)].op} completed before T{txns[int(b)].op} "
                         f"began ({why})")
        elif kind == "ww":
            a, b, _ = rest.split(":", 2)
            note(int(a))
            note(int(b))
            lines.append(f"T{txns[int(a)].op} and T{txns[int(b)].op} both wrote one key "
                         "and cannot overlap")
    return tuple(involved), lines


_NAMES: Final[dict[str, str]] = {
    # The phenomenon a model's failure shows, given the next weaker encoding holds.
    "read-committed": "G1c",
    "read-atomic": "future-read",
    "repeatable-read": "G2-item",
    "serializable": "future-read",
    "snapshot-isolation": "G-single",
    "strong-session-serializable": "G2-item-process",
    "strict-serializable": "G2-item-realtime",
}


@dataclass
class Decision:
    """What :func:`decide` found: ``holds`` / ``fails`` (model names, closed under the
    lattice's implications among the eight), the models left undecided and why
    (``reasons``), the anomalies, and a commit order witnessing the strongest model
    decided to hold (operation ids)."""

    holds: set[str] = field(default_factory=set)
    fails: set[str] = field(default_factory=set)
    anomalies: list[Anomaly] = field(default_factory=list)
    witness: tuple[int, ...] | None = None
    witness_model: str | None = None
    reasons: list[str] = field(default_factory=list)
    unsat: dict[str, Solved] = field(default_factory=dict)

    def mark(self, model: str, holds: bool) -> None:
        """Record a decision and everything the lattice implies from it."""
        if holds:
            self.holds |= {m for m in CHECKABLE if lattice.implies(model, m)}
        else:
            self.fails |= {m for m in CHECKABLE if lattice.implies(m, model)}

    def open(self) -> list[str]:
        """The models neither decided nor implied, strongest first."""
        return [m for m in lattice.by_strength(CHECKABLE)
                if m not in self.holds and m not in self.fails]


_RANK: Final = {t: i for i, t in enumerate((
    "garbage-read", "G0", "G1a", "G1b", "G1c", "internal", "future-read", "G-single",
    "G-nonadjacent", "G2-item", "G2-item-process", "G2-item-realtime"))}
"""The order anomalies are listed in: the worst, and the most specific, first."""

_ORDER: Final = ("strict-serializable", "strong-session-serializable", "serializable",
                 "repeatable-read", "snapshot-isolation", "read-atomic", "read-committed")


def decide(problem: Problem, *, first: Iterable[str] = (),
           deadline: float | None = None) -> Decision:
    """Decide all eight models over every interpretation of ``problem`` (what the
    lattice implies from each decision is recorded too): strict serializability
    first, then the models in ``first`` (those a verdict is asked for), then the
    others, strongest first.

    A model fails on the findings alone when they forbid it (``garbage-read``: all;
    ``internal``: read-atomic and above); otherwise each component is solved. A limit
    reached leaves the models still open undecided, with the reason in ``reasons``."""
    asked = [m for m in _ORDER if m in set(first)]
    out = Decision(anomalies=list(problem.findings))
    if problem.unexplained:
        out.mark("read-uncommitted", False)
    else:
        out.mark("read-uncommitted", True)
    if problem.internal:
        out.mark("read-atomic", False)
    groups: dict[str | None, list[list[int]]] = {}
    try:
        # Strict serializability first: real time fixes most of the order, so its
        # answer is quick, and when it holds every model does.
        for model in ("strict-serializable", *asked, *_ORDER):
            if model in out.holds or model in out.fails:
                continue
            _check_time(deadline)
            level = LEVELS[model]
            if level.extra not in groups:
                groups[level.extra] = components(problem, level.extra)
            _decide_one(problem, model, level, groups[level.extra], out, deadline)
    except LimitReached as limit:
        out.reasons.append(limit.reason)
    _name_failures(problem, out)
    return out


def _name_failures(problem: Problem, out: Decision) -> None:
    """An anomaly for each model the solver refuted while every model it directly
    implies holds: the phenomenon that separates them (``_NAMES``) is then present in
    every interpretation. Failures implied by a weaker model's are not repeated."""
    for model in lattice.by_strength(out.unsat):
        below = lattice.IMPLIES.get(model, frozenset()) & set(CHECKABLE)
        if not below <= out.holds:
            continue
        answer = out.unsat[model]
        if answer.cycle:
            ops = tuple(problem.txns[i].op for i in answer.cycle)
            out.anomalies.append(Anomaly(
                _NAMES[model], ops,
                f"No {model} interpretation explains these transactions: the values they "
                "read and wrote (each read has one possible writer) force "
                + " -> ".join(f"T{op}" for op in (*ops, ops[0]))
                + f" in every order {model} allows: a cycle.",
                {"cycle": list(ops), "model": model}))
            continue
        if answer.involved:
            ops = tuple(problem.txns[i].op for i in answer.involved)
            out.anomalies.append(Anomaly(
                _NAMES[model], ops,
                f"No {model} interpretation explains these transactions: no order of "
                "them (each read has one possible writer) places every version read "
                f"directly before its reader: {', '.join(f'T{op}' for op in ops)}.",
                {"model": model}))
            continue
        ops, lines = _explain_core(problem, answer.core)
        out.anomalies.append(Anomaly(
            _NAMES[model], ops,
            f"No {model} interpretation explains these transactions: "
            + "; ".join(lines) + ".",
            {"core": list(answer.core), "model": model}))


def without_solver(problem: Problem, members: Sequence[int], level: Level,
                   deadline: float | None) -> Solved | None:
    """The answer for one component when every read in it has a single possible writer
    (unique values), from its polygraph (``elle.polygraph``); None when some read has
    several, or the polygraph leaves choices a topological order does not meet (z3
    decides those). Indeterminate transactions nobody read are taken as aborted:
    removing a transaction nobody read removes edges only."""
    from replicheck.histories.checkers.elle import polygraph

    inside = set(members)
    reads = [r for r in problem.reads
             if r.txn in inside and not (r.own and level.self_reads)]
    read_from: set[int] = set()
    tags: list[int] = []  # the transaction whose read each choice comes from
    prefer: list[int] = []  # the option the history's real time suggests (0 or 1)
    call = [t.call for t in problem.txns]
    for r in reads:
        if len(r.installed) != 1:
            return None
        if r.installed[0] != INITIAL:
            read_from.add(r.installed[0])
    txns = problem.txns
    alive = [i for i in sorted(inside) if txns[i].ok or i in read_from]
    index = {t: n for n, t in enumerate(alive)}
    si = level.graph == "si"
    shift = len(alive) if si else 0
    graph = polygraph.Polygraph(len(alive) + shift)
    known, choices = graph.known, graph.choices
    if si:
        known.extend((n + shift, n) for n in range(len(alive)))  # start before commit
    pairs = (problem.process if level.extra == "process" else
             problem.realtime if level.extra == "realtime" else [])
    known.extend((index[a], index[b] + shift) for a, b in pairs if a in index and b in index)
    for n, r in enumerate(reads):
        if not n & 0x3FF:
            _check_time(deadline)
        w, t = r.installed[0], index[r.txn]
        if w != INITIAL:
            known.append((index[w], t + shift))
        if level.graph == "wr":
            continue
        others = [index[o] for o in problem.writers.get(r.key, ())
                  if o in index and o != r.txn and o != w]
        if w == INITIAL:
            known.extend((t + shift, o) for o in others)
        else:
            choices.extend(((o, index[w]), (t + shift, o)) for o in others)
            tags.extend(r.txn for _ in others)
            prefer.extend(0 if call[alive[o]] < call[w] else 1 for o in others)
    if si:
        for ws in problem.writers.values():
            mine = [index[w] for w in ws if w in index]
            _check_time(deadline)
            for x, a in enumerate(mine):
                for b in mine[x + 1:]:
                    choices.append(((a, b + shift), (b, a + shift)))
                    tags.append(alive[a])
                    prefer.append(0 if call[alive[a]] < call[alive[b]] else 1)
    try:
        outcome = polygraph.solve(graph, deadline)
    except polygraph.Timeout:
        raise LimitReached("time limit") from None
    if outcome.status == "sat":
        return Solved("sat", tuple(alive[v] for v in outcome.order if v < len(alive)))
    if outcome.status == "unsat":
        cycle = tuple(dict.fromkeys(alive[v % len(alive)] for v in outcome.cycle))
        return Solved("unsat", cycle=cycle)
    guess = _guess(graph, outcome, prefer, deadline)
    if guess is not None:
        return Solved("sat", tuple(alive[v] for v in guess if v < len(alive)))
    return _residual(graph, outcome, alive, tags, deadline)


def _guess(graph: Any, outcome: Any, prefer: Sequence[int], deadline: float | None
           ) -> tuple[int, ...] | None:
    """An order meeting every choice when the choices left take the option real time
    suggests (a guess, checked: None when it leads nowhere; never a refutation)."""
    from replicheck.histories.checkers.elle import polygraph

    known = list(outcome.known)
    known.extend(graph.choices[n][prefer[n]] for n in outcome.left)
    attempt = polygraph.Polygraph(graph.size, known, [graph.choices[n] for n in outcome.left])
    try:
        found = polygraph.solve(attempt, deadline)
    except polygraph.Timeout:
        raise LimitReached("time limit") from None
    return found.order if found.status == "sat" else None


def _residual(graph: Any, outcome: Any, alive: Sequence[int], tags: Sequence[int],
              deadline: float | None) -> Solved:
    """z3 on what the polygraph left open: an integer per point, the known edges as
    ``<``, each choice left as a disjunction (ties are harmless: every constraint is a
    strict order between two points, kept by any way of breaking ties)."""
    import z3

    solver = z3.Solver()
    solver.set("unsat_core", True)
    point = [z3.Int(f"p{v}") for v in range(graph.size)]
    for n, (a, b) in enumerate(outcome.known):
        if not n & 0xFFF:
            _check_time(deadline)
        solver.add(point[a] < point[b])
    for which in outcome.left:
        (a, b), (c, d) = graph.choices[which]
        solver.assert_and_track(z3.Or(point[a] < point[b], point[c] < point[d]),
                                f"choice:{which}")
    status, reason = run_solver(solver, deadline)
    if status == "sat":
        model = solver.model()
        rank = [model.eval(p, model_completion=True).as_long() for p in point]
        order = sorted(range(len(alive)), key=lambda v: rank[v])
        return Solved("sat", tuple(alive[v] for v in order))
    if status == "unsat":
        core = [int(str(c).split(":")[1]) for c in solver.unsat_core()]
        involved = tuple(dict.fromkeys(tags[n] for n in core))
        return Solved("unsat", involved=involved)
    return Solved("unknown", reason=reason)


def _decide_one(problem: Problem, model: str, level: Level, groups: list[list[int]],
                out: Decision, deadline: float | None) -> None:
    if any(not r.installed and not (r.own and level.self_reads) for r in problem.reads):
        out.mark(model, False)  # a read it cannot explain: a finding already says which
        return
    order: list[int] = []
    failed: list[tuple[list[int], Solved]] = []
    unknown = ""
    for members in groups:
        _check_time(deadline)
        try:
            answer = (without_solver(problem, members, level, deadline)
                      or solve(problem, members, level, deadline=deadline))
        except MemoryError:
            answer = Solved("unknown", reason="memory limit")
        except Exception as error:  # z3's out of memory while building the constraints
            if type(error).__name__ != "Z3Exception" or "memory" not in str(error).lower():
                raise
            answer = Solved("unknown", reason="memory limit")
        if answer.status == "sat":
            order.extend(answer.order)
        elif answer.status == "unsat":
            failed.append((members, answer))
            break
        else:
            unknown = answer.reason
            break
    if failed:
        out.mark(model, False)
        out.unsat[model] = failed[0][1]
    elif unknown:
        raise LimitReached(unknown)
    else:
        out.mark(model, True)
        if out.witness is None:
            out.witness = tuple(problem.txns[i].op for i in order)
            out.witness_model = model


def verdict_from(decision: Decision, wanted: Sequence[str], *, workload: str,
                 operations: int, seconds: float, anomalies: Sequence[Anomaly] = (),
                 notes: Sequence[str] = ()) -> Verdict:
    """The Verdict for the models ``wanted`` from a decision over the eight: valid
    when all hold, False when one fails, "unknown" (with the limit reached) otherwise.
    ``ruled_out`` and ``still_possible`` are exactly the models decided (with what the
    lattice implies among the eight)."""
    valid: Validity
    if any(m in decision.fails for m in wanted):
        valid = False
    elif all(m in decision.holds for m in wanted):
        valid = True
    else:
        valid = "unknown"
    listed = sorted(list(anomalies) or decision.anomalies,
                    key=lambda a: _RANK.get(a.type, len(_RANK)))
    more = list(notes)
    undecided = decision.open()
    if undecided:
        reason = ", ".join(dict.fromkeys(decision.reasons)) or "not asked"
        more.append(f"undecided ({reason} reached): {', '.join(undecided)}")
    serial = decision.witness_model is not None and lattice.implies(
        decision.witness_model, "serializable")
    witness = decision.witness if valid is True and serial else None
    if valid is True and not serial:
        more.append("no serial order: the models asked for hold, serializability does not")
    bad = [a for a in listed if any(a.type in lattice.forbidden_by(m) for m in wanted)]
    return Verdict(
        valid=valid,
        model=workload,
        consistency=tuple(wanted),
        anomalies=tuple(listed),
        ruled_out=frozenset(decision.fails),
        still_possible=frozenset(decision.holds),
        witness=witness,
        counterexample=[a.to_json() for a in bad] or None if valid is False else None,
        stats=Stats(operations=operations, seconds=seconds),
        notes=tuple(more),
    )


def check_smt(history: History, *, consistency: Sequence[str] = ("serializable",),
              timeout: float | None = None) -> Verdict:
    """Decide whether a read-write-register history is allowed by each model in
    ``consistency`` (of the eight transactional models), over every interpretation.

    Valid only when every requested model holds; the witness is then a serial order of
    the committed transactions when serializability holds. Invalid with anomalies
    naming the transactions involved; "unknown" when the time (``timeout`` seconds) or
    memory limit came first, with a note saying which. All eight models are decided
    (so that ``ruled_out`` and ``still_possible`` are exact)."""
    unknown_models = sorted(set(consistency) - set(CHECKABLE))
    if unknown_models:
        raise ValueError(f"the SMT checker decides {', '.join(sorted(CHECKABLE))}; "
                         f"not {unknown_models}")
    started = time.perf_counter()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        problem = build(history, deadline=deadline)
    except LimitReached as limit:
        return Verdict("unknown", "rw-register", tuple(consistency),
                       stats=Stats(operations=len(history),
                                   seconds=time.perf_counter() - started),
                       notes=(f"undecided ({limit.reason} reached before the solver ran)",))
    decision = decide(problem, first=consistency, deadline=deadline)
    return verdict_from(decision, consistency, workload="rw-register",
                        operations=len(history), seconds=time.perf_counter() - started)
