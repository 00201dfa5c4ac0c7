"""What one example of a property concludes: its judgements, the report it hands on,
the violation it raises, the observations it makes, and where a failing example's
schedule file goes.

:class:`StepLog` (the plain-words steps of an example and its decision count),
:class:`Verdicts` (the judgements of one example: the report, the violation raised
with its :class:`~replicheck.properties.outcomes.Counterexample`),
:data:`OBSERVATIONS` (anomalies a store does not claim to prevent, seen in this
process), :func:`judge_unclaimed` and :func:`unclaimed_judgements` (judging what a
store does not claim), :func:`label_clients` (a counterexample's steps with each
client named as the history labels it) and :func:`failure_path`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any, Final

from replicheck.histories.history import History, Operation, pair
from replicheck.histories.items import tables_to_json
from replicheck.histories.recorder import Recorder
from replicheck.implementation.store import Descriptor
from replicheck.properties.examples import ExampleReport, GuaranteeViolation, report_example
from replicheck.properties.guarantees import (
    OBSERVED,
    READ_KINDS,
    VIOLATED,
    Judgement,
    judge_anomalies,
    judge_anomaly,
    judge_guarantee,
)
from replicheck.properties.outcomes import Counterexample

__all__ = [
    "FAILURE_DIR_ENV",
    "OBSERVATIONS",
    "UNCLAIMED_TIMEOUT",
    "Observation",
    "StepLog",
    "Verdicts",
    "all_reads",
    "failure_path",
    "failures_to",
    "judge_unclaimed",
    "label_clients",
    "note_observation",
    "snapshot_history",
    "specificity",
    "unclaimed_judgements",
]

FAILURE_DIR_ENV: Final = "REPLICHECK_FAILURE_DIR"
"""Environment variable: the folder failing examples' schedule files go to."""

UNCLAIMED_TIMEOUT: Final = 5.0
"""The checker time limit, in seconds, of a guarantee the store does not claim."""


@contextlib.contextmanager
def failures_to(folder: str | Path | None) -> Iterator[None]:
    """Within the block, properties write failing schedules to ``folder`` (through
    :data:`FAILURE_DIR_ENV`, restored after); unchanged when None."""
    if folder is None:
        yield
        return
    before = os.environ.get(FAILURE_DIR_ENV)
    os.environ[FAILURE_DIR_ENV] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FAILURE_DIR_ENV, None)
        else:
            os.environ[FAILURE_DIR_ENV] = before


def failure_path(target: str) -> Path:
    """Where a failing example's schedule is written: ``$REPLICHECK_FAILURE_DIR``
    (else the current directory) / ``replicheck-failure-<target>-<hash>.json``; the
    same file for the same target, so the last failing example (the minimal one
    Hypothesis replays) is what it holds."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", target).strip("-")[:40] or "store"
    digest = hashlib.sha256(target.encode()).hexdigest()[:8]
    folder = Path(os.environ.get(FAILURE_DIR_ENV) or ".")
    return folder / f"replicheck-failure-{slug}-{digest}.json"


@dataclass(frozen=True)
class Observation:
    """An anomaly a store does not claim to prevent, seen in one example: the store,
    the guarantee it bears on, and the checker's explanation."""

    store: str
    guarantee: str
    explanation: str


OBSERVATIONS: list[Observation] = []
"""Every observation made in this process, in order (the plugin prints them)."""


def note_observation(store: str, judgement: Judgement, label: str | None = None) -> None:
    """Add ``judgement`` (an anomaly ``store`` does not claim to prevent; ``label``
    instead of its guarantee when given) to :data:`OBSERVATIONS`, once."""
    observation = Observation(store, label or judgement.guarantee, judgement.explanation())
    if observation not in OBSERVATIONS:
        OBSERVATIONS.append(observation)


_SPECIFICITY: Final = (
    "linearizable-conditional-writes", "atomic-transactions", "serializable-transactions",
    "stream-exactly-once", "stream-item-order", "vector-clock-order",
    "read-repair-repairs", "hinted-handoff-delivers", "merkle-root-iff-equal",
    "anti-entropy-exact", "read-your-writes", "monotonic-reads",
    "linearizable-strong-reads", "convergence")


def specificity(guarantee: str) -> int:
    """Where ``guarantee`` comes in the order failures are reported: the narrowest
    check first (a mechanism before the convergence it serves)."""
    return _SPECIFICITY.index(guarantee) if guarantee in _SPECIFICITY else len(_SPECIFICITY)


def all_reads(descriptor: Descriptor, guarantee: str = "linearizable-strong-reads"
              ) -> Descriptor:
    """``descriptor`` as if it claimed ``guarantee`` for every read kind (to judge
    what the store does not promise: an anomaly there is an observation)."""
    from replicheck.implementation.store import Claim

    return dc_replace(descriptor, claims=(Claim(guarantee, READ_KINDS),))


def judge_unclaimed(label: str, history: History, descriptor: Descriptor) -> Judgement:
    """Judge what the store does not claim: ``label`` is a guarantee ID (the
    linearizability of every read kind and the session guarantees on every read
    kind; the rest as the store's own checks would) or a weakness the store states
    (``stale-read`` and the like: the linearizability of every read). An anomaly
    found is ``observed``. An anomaly column (``lost-update``, ``stale-read``) is
    judged by its own detector (:func:`judge_anomaly`)."""
    from replicheck.models.guarantees import ALL_GUARANTEES, ANOMALY_COLUMNS

    if label in ANOMALY_COLUMNS:
        return judge_anomaly(label, history, timeout=UNCLAIMED_TIMEOUT)
    guarantee = label if label in ALL_GUARANTEES else "linearizable-strong-reads"
    if guarantee in ("linearizable-strong-reads", "read-your-writes", "monotonic-reads"):
        found = judge_guarantee(guarantee, history, all_reads(descriptor, guarantee),
                                timeout=UNCLAIMED_TIMEOUT)
    else:
        found = judge_guarantee(guarantee, history, descriptor, timeout=UNCLAIMED_TIMEOUT)
    status = OBSERVED if found.status in (VIOLATED, OBSERVED) else found.status
    return dc_replace(found, guarantee=label, status=status, claimed=False)


def unclaimed_judgements(history: History, descriptor: Descriptor) -> list[Judgement]:
    """Every guarantee the store does not claim that the history says something
    about, judged as an observation: the linearizability of every read and the
    session guarantees on every read kind, the rest as the store's checks would;
    then each anomaly column (:func:`judge_anomalies`), whatever the claims."""
    from replicheck.models.guarantees import GUARANTEES, MECHANISM_PROMISES

    claimed = {c.guarantee for c in descriptor.claims}
    out = []
    for guarantee in GUARANTEES + MECHANISM_PROMISES:
        if guarantee in claimed:
            continue
        out.append(judge_unclaimed(guarantee, history, descriptor))
    return out + judge_anomalies(history, timeout=UNCLAIMED_TIMEOUT)


def snapshot_history(descriptor: Descriptor, observations: list[tuple[str, Any]]) -> History:
    """A history of no operation holding the store's tables and ``observations``
    (``(f, value)`` pairs): what a checker needs to judge one snapshot alone."""
    recorder = Recorder()
    recorder.observe("tables", tables_to_json(descriptor.tables))
    for f, value in observations:
        recorder.observe(f, value)
    return pair(recorder.records())


def label_clients(words: tuple[str, ...], steps: list[dict[str, Any]], history: History
                  ) -> tuple[str, ...]:
    """The described ``steps`` with each submission's client named as the history
    labels its operation (``c0/2`` once ``c0`` continued under a fresh process after
    an indeterminate answer): a client's submissions are its operations, in order."""
    from replicheck.histories.wording import CLIENT, process_label

    ops: dict[str, list[Operation]] = {}
    for op in sorted(history.operations, key=lambda o: o.call):
        client = op.meta.get(CLIENT)
        if isinstance(client, str):
            ops.setdefault(client, []).append(op)
    taken: dict[str, int | None] = {}
    out = list(words)
    for i, step in enumerate(steps):
        ((kind, body),) = step.items()
        client = body.get("client") if isinstance(body, dict) else None
        if kind not in ("submit", "burst") or not isinstance(client, str):
            continue
        at = taken.get(client, 0)
        if kind == "burst" or at is None:
            taken[client] = None  # a burst may stop early: its count says nothing
            continue
        taken[client] = at + 1
        mine = ops.get(client, [])
        if at < len(mine) and out[i].startswith(f"{client} "):
            out[i] = process_label(mine[at]) + out[i][len(client):]
    return tuple(out)


@dataclass
class StepLog:
    """The steps of one example in plain words and its decision count (one scheduler
    decision = one step; a rule that takes no decision counts one)."""

    steps: list[str] = field(default_factory=list)
    decisions: int = 0

    def add(self, text: str, decisions: int = 1) -> None:
        """Record one rule, in plain words, and the decisions it took."""
        self.steps.append(text)
        self.decisions += max(1, decisions)


_FOCUS: ContextVar[frozenset[str] | None] = ContextVar("replicheck_focus", default=None)


@contextlib.contextmanager
def focused_on(guarantees: Iterable[str]) -> Iterator[None]:
    """Within the block, an example fails only when one of ``guarantees`` is violated
    (with every guarantee it violated named); a violation of another guarantee is kept
    as the example's status and the search goes on. For asking whether the search
    finds a violation of one guarantee (a seeded bug's) when the bug shows other
    symptoms too."""
    token = _FOCUS.set(frozenset(guarantees))
    try:
        yield
    finally:
        _FOCUS.reset(token)


STATUS_ORDER: Final = ("not-applicable", "holds", "unknown", "observed", "violated")
"""Judgement statuses from the least to the most telling: of two judgements of one
guarantee in one example, the later in this order is the example's."""


@dataclass
class Verdicts:
    """The judgements of one example of ``property``: :meth:`take` keeps each, raises
    :class:`GuaranteeViolation` for a claimed one violated, and keeps an observed one
    as an observation; :meth:`report` hands the example's report on (once).

    ``build`` builds the example as the counterexample of a judgement (by default
    from ``log``); ``note`` adds to a violation's message (where its schedule was
    written) given the guarantee that failed first; ``list_steps`` puts the steps in
    the message; ``classes`` names the rule classes that acted (for the report)."""

    property: str
    log: StepLog
    statuses: dict[str, str] = field(default_factory=dict)
    observations: dict[str, Counterexample] = field(default_factory=dict)
    checkers: dict[str, str] = field(default_factory=dict)
    failed: bool = False
    reported: bool = False
    build: Callable[[Judgement, History | None], Counterexample] | None = None
    note: Callable[[str], str] | None = None
    list_steps: bool = True
    classes: Callable[[], frozenset[str]] | None = None

    def counterexample(self, judgement: Judgement, history: History | None
                       ) -> Counterexample:
        """The example as a counterexample of ``judgement``."""
        if self.build is not None:
            return self.build(judgement, history)
        return Counterexample(self.property, judgement.guarantee, judgement.explanation(),
                              tuple(self.log.steps), self.log.decisions, history,
                              judgement.verdict)

    def take(self, judgement: Judgement, history: History | None) -> None:
        """Keep ``judgement``; raise for a claimed guarantee violated."""
        self.take_all([judgement], history)

    def take_all(self, judgements: list[Judgement], history: History | None,
                 first: Callable[[Judgement], int] | None = None) -> None:
        """Keep every judgement (the worst status seen per guarantee wins); when claimed
        guarantees are violated, raise :class:`GuaranteeViolation` for the first of
        them (the list's order, or ``first``'s: the narrowest check first), with
        every one's explanation; within :func:`focused_on`, only when one of them is
        among its guarantees."""
        for judgement in judgements:
            before = self.statuses.get(judgement.guarantee)
            if before is None or STATUS_ORDER.index(judgement.status) > STATUS_ORDER.index(
                    before):
                self.statuses[judgement.guarantee] = judgement.status
            if judgement.checker:
                self.checkers.setdefault(judgement.guarantee, judgement.checker)
            if judgement.status == OBSERVED and judgement.guarantee not in self.observations:
                self.observations[judgement.guarantee] = self.counterexample(judgement,
                                                                             history)
        failed = [j for j in judgements if j.status == VIOLATED]
        focus = _FOCUS.get()
        if not failed or (focus is not None
                          and not any(j.guarantee in focus for j in failed)):
            return
        if first is not None:
            failed.sort(key=first)
        self.failed = True
        self.report()
        counterexample = self.counterexample(failed[0], history)
        raise GuaranteeViolation(self.message(failed, counterexample),
                                 tuple(j.guarantee for j in failed), counterexample)

    def message(self, failed: list[Judgement], counterexample: Counterexample) -> str:
        """The failure message of the claimed guarantees ``failed``."""
        explained = "\n".join(j.explanation() for j in failed)
        if self.list_steps:
            text = (f"{self.property}: claimed guarantee violated after "
                    f"{len(self.log.steps)} step(s):\n{explained}\nsteps:\n"
                    + "\n".join(f"  {i + 1}. {s}" for i, s in enumerate(self.log.steps)))
        else:
            text = "claimed guarantee violated:\n" + explained
        return text + (self.note(failed[0].guarantee) if self.note is not None else "")

    def report(self) -> None:
        """Hand this example's :class:`ExampleReport` to the listeners (once)."""
        if not self.reported:
            self.reported = True
            acted = self.classes() if self.classes is not None else frozenset()
            report_example(ExampleReport(self.property, dict(self.statuses),
                                         dict(self.observations), dict(self.checkers),
                                         acted))
