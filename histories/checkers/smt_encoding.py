"""The z3 encoding of one component of an SMT problem at one model's level (see
``smt``'s docstring for what each level asks), and :func:`run_solver`, the one place a
z3 check runs."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from replicheck.histories.checkers.smt_problem import (
    INITIAL,
    Level,
    Problem,
    Read,
    _check_time,
)


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
