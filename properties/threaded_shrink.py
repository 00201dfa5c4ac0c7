"""Shrinking a threaded counterexample to fewer batches and operations.

A store without deterministic scheduling is driven by client threads
(:mod:`replicheck.properties.threaded`): a failing example is a list of *batches*,
each client's requests run on its own thread, the batches one after another. Its
counterexample keeps them (``Counterexample.batches``) and counts its steps in
operations (one client operation = one step, CONTRACTS.md section 6).

:func:`minimize_threaded` reruns smaller candidates on fresh stores
(:func:`replicheck.properties.threaded.rerun`) and keeps a candidate when the failure
recurs: its guarantee violated again (for a guarantee the store does not claim, the
anomaly observed again). Threads choose the interleaving afresh on every run, so a
candidate is rerun up to ``attempts`` times and fails when any run does; one that
never fails in that many runs is dropped (a bounded search: the result is a smaller
example that failed, not a proof that nothing smaller fails).

How
    1. The whole example must fail again (else the counterexample comes back
       unchanged).
    2. Delta debugging (:func:`replicheck.properties.shrink.ddmin`) over whole
       batches, then over single operations (a batch left with none goes).
    3. The counterexample returned is the last failing run of the smallest
       candidate: its steps, history, verdict and explanation, ``batches`` and
       ``decisions`` = its number of operations.

The work is bounded by a time budget and a cap on runs; the best candidate found so
far is returned when either runs out. It never raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any, Final

from replicheck.implementation.store import Store
from replicheck.properties.outcomes import Counterexample

__all__ = ["ATTEMPTS", "DEFAULT_MAX_RUNS", "DEFAULT_SECONDS", "minimize_threaded"]

ATTEMPTS: Final = 5
"""How many times a candidate is rerun before it counts as not failing."""

DEFAULT_SECONDS: Final = 30.0
"""The default time budget of one :func:`minimize_threaded` call."""

DEFAULT_MAX_RUNS: Final = 1000
"""The default cap on the reruns of one :func:`minimize_threaded` call."""

Batch = Mapping[str, tuple[Any, ...]]

Operation = tuple[int, str, int, Any]
"""One operation of the example: its batch index, client, place in the client's
queue, and request."""


def _batches(operations: Sequence[Operation]) -> tuple[Batch, ...]:
    """The batches that run ``operations`` (order kept; empty batches gone)."""
    grouped: dict[int, dict[str, list[Any]]] = {}
    for batch, client, _, request in operations:
        grouped.setdefault(batch, {}).setdefault(client, []).append(request)
    return tuple({c: tuple(q) for c, q in grouped[b].items()} for b in sorted(grouped))


def _operations(batches: Sequence[Batch]) -> list[Operation]:
    return [(b, client, i, request) for b, batch in enumerate(batches)
            for client, queue in batch.items() for i, request in enumerate(queue)]


@dataclass
class _Oracle:
    """Reruns candidates and remembers the failing runs."""

    factory: Callable[[], Store]
    target: str | None
    guarantee: str
    attempts: int
    deadline: float
    max_runs: int
    batch_timeout: float
    runs: int = 0
    found: dict[str, tuple[Any, ...] | None] = field(default_factory=dict)

    def run(self, operations: Sequence[Operation]) -> tuple[Any, ...] | None:
        """A failing run of the candidate (history, steps, judgement), or None when
        none of up to ``attempts`` runs failed (or the budget ran out)."""
        key = repr([(b, c, i) for b, c, i, _ in operations])
        if key in self.found:
            return self.found[key]
        from replicheck.properties.guarantees import OBSERVED, VIOLATED
        from replicheck.properties.threaded import rerun

        batches = _batches(operations)
        failing: tuple[Any, ...] | None = None
        for _ in range(self.attempts):
            if self.runs >= self.max_runs or time.monotonic() >= self.deadline:
                return None  # out of budget: not remembered, not failing
            self.runs += 1
            try:
                history, steps, judgements = rerun(self.factory, batches, self.target,
                                                   batch_timeout=self.batch_timeout)
            except Exception:  # the store broke on this candidate: not this failure
                continue
            judged = next((j for j in judgements if j.guarantee == self.guarantee
                           and j.status in (VIOLATED, OBSERVED)), None)
            if judged is not None:
                failing = (history, steps, judged, batches)
                break
        self.found[key] = failing
        return failing

    def fails(self, operations: Sequence[Operation]) -> bool:
        return bool(operations) and self.run(operations) is not None


def minimize_threaded(cx: Counterexample, factory: Callable[[], Store],
                      target: str | None = None, *, attempts: int = ATTEMPTS,
                      seconds: float = DEFAULT_SECONDS, max_runs: int = DEFAULT_MAX_RUNS,
                      batch_timeout: float | None = None) -> Counterexample:
    """``cx`` (a threaded counterexample, with ``batches``) shrunk as the module
    docstring says, rerun on stores of ``factory`` (``target`` names it in messages):
    fewer batches and operations, still failing; ``cx`` unchanged when it has no
    batches or its example did not fail again in ``attempts`` runs. At most
    ``seconds`` of work and ``max_runs`` runs. Never raises."""
    try:
        return _minimize(cx, factory, target, attempts, seconds, max_runs, batch_timeout)
    except Exception:  # shrinking is a courtesy: never mask the failure it shrinks
        return cx


def _minimize(cx: Counterexample, factory: Callable[[], Store], target: str | None,
              attempts: int, seconds: float, max_runs: int, batch_timeout: float | None
              ) -> Counterexample:
    from replicheck.properties.shrink import ddmin
    from replicheck.properties.threaded import BATCH_TIMEOUT, operations

    if not cx.batches:
        return cx
    oracle = _Oracle(factory, target, cx.guarantee, attempts, time.monotonic() + seconds,
                     max_runs, BATCH_TIMEOUT if batch_timeout is None else batch_timeout)
    everything = _operations(cx.batches)
    if not oracle.fails(everything):
        return cx
    by_batch = sorted({op[0] for op in everything})
    kept_batches = ddmin(by_batch, lambda chosen: oracle.fails(
        [op for op in everything if op[0] in chosen]))
    kept = ddmin([op for op in everything if op[0] in kept_batches], oracle.fails)
    failing = oracle.run(kept)
    if failing is None:  # cannot happen: kept failed, and its run is remembered
        return cx
    history, steps, judged, batches = failing
    return dc_replace(cx, explanation=judged.explanation(), steps=steps,
                      decisions=operations(batches), history=history,
                      verdict=judged.verdict, batches=batches)
