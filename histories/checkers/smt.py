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

Steps, each apart: :func:`build` and :func:`components` (``smt_problem``: candidates
per read, the findings no solver is needed for, transactions that constrain each
other), :func:`solve` (``smt_encoding``: one component at one level, through
:func:`run_solver`, the one place z3 is called), :func:`without_solver`
(``smt_polygraph``: a component whose reads each have one possible writer), the
:class:`Decision` and the anomalies naming refuted models (``smt_decision``), and here
:func:`decide` (all eight models, strongest first, what one decision implies for the
others taken from the lattice) and the verdict. A component reaching the time or memory
limit leaves its models undecided ("unknown", with the reason); never a guess.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Final

from replicheck.histories.checkers.smt_decision import _RANK, _name_failures
from replicheck.histories.checkers.smt_decision import Decision as Decision
from replicheck.histories.checkers.smt_encoding import Solved as Solved
from replicheck.histories.checkers.smt_encoding import run_solver as run_solver
from replicheck.histories.checkers.smt_encoding import solve as solve
from replicheck.histories.checkers.smt_polygraph import _guess as _guess
from replicheck.histories.checkers.smt_polygraph import _residual as _residual
from replicheck.histories.checkers.smt_polygraph import without_solver as without_solver
from replicheck.histories.checkers.smt_problem import CHECKABLE as CHECKABLE
from replicheck.histories.checkers.smt_problem import INITIAL as INITIAL
from replicheck.histories.checkers.smt_problem import LEVELS as LEVELS
from replicheck.histories.checkers.smt_problem import Level as Level
from replicheck.histories.checkers.smt_problem import LimitReached as LimitReached
from replicheck.histories.checkers.smt_problem import Problem as Problem
from replicheck.histories.checkers.smt_problem import Read as Read
from replicheck.histories.checkers.smt_problem import _check_time
from replicheck.histories.checkers.smt_problem import build as build
from replicheck.histories.checkers.smt_problem import components as components
from replicheck.histories.history import History
from replicheck.histories.verdict import Anomaly, Stats, Validity, Verdict
from replicheck.models import lattice

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
