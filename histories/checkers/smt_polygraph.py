"""One component decided without z3 when every read has a single possible writer: its
polygraph (``elle.polygraph``), a guess from real time for the choices it leaves, and z3
on the residual choices only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from replicheck.histories.checkers.smt_encoding import Solved, run_solver
from replicheck.histories.checkers.smt_problem import (
    INITIAL,
    Level,
    LimitReached,
    Problem,
    _check_time,
)


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
