"""What deciding the eight models found (:class:`Decision`), and the anomaly naming each
model the solver refuted: the phenomenon separating it from the weaker models that hold,
with the cycle, the transactions or the unsat core that shows it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from replicheck.histories.checkers.smt_encoding import Solved
from replicheck.histories.checkers.smt_problem import CHECKABLE, INITIAL, Problem
from replicheck.histories.verdict import Anomaly
from replicheck.models import lattice


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
