"""The scheduled-machine framework: the rules and teardown every scheduled property
shares."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from replicheck.implementation.store import Settling
from replicheck.properties.driving import (
    MAX_SETTLE_DECISIONS,
    DrivenRecording,
    close_store,
    describe_decision,
    fair_step,
    heal_dropping,
)
from replicheck.properties.verdicts import StepLog, Verdicts

__all__ = ["scheduled_machine"]


def scheduled_machine(node_names: tuple[str, ...], faults: bool
                      ) -> type[RuleBasedStateMachine]:
    """The rules and teardown the scheduled properties share, for a schedulable store on the
    nodes ``node_names`` (faults injected only when ``faults``): any scheduler
    decision, a few fair ones, heal, crash (one node down at a time keeps every
    quorum possible) and restart, each logged as a step. A subclass sets ``raw``,
    ``rec``, ``log``, ``verdicts``, ``crashed`` and ``rules_run`` in ``__init__`` and
    defines ``_finish`` (the checks after the example, skipped once one failed)."""

    class Scheduled(RuleBasedStateMachine):
        raw: Any
        rec: DrivenRecording
        log: StepLog
        verdicts: Verdicts
        crashed: set[str]
        rules_run: int

        def _step(self, text: str, decisions: int = 1) -> None:
            self.rules_run += 1
            self.log.add(text, decisions)

        @rule(index=st.integers(0, 255))
        def decide(self, index: int) -> None:
            """One scheduler decision of any kind (deliver, drop, duplicate, fire)."""
            decisions = self.rec.decisions()
            if decisions:
                decision = decisions[index % len(decisions)]
                text = describe_decision(self.raw, decision)
                self.rec.decide(decision)
                self._step(text)

        @rule(steps=st.integers(1, 20))
        def run_fair(self, steps: int) -> None:
            """Up to ``steps`` fair decisions (oldest delivery, else earliest timer)."""
            taken = 0
            while taken < steps and fair_step(self.rec):
                taken += 1
            self._step(f"{taken} fair decision(s)", taken)

        @precondition(lambda self: faults)
        @rule()
        def heal(self) -> None:
            lost = heal_dropping(self.raw, self.rec)
            self._step(f"heal ({lost} cut-off message(s) lost)")

        @precondition(lambda self: faults)
        @rule(node=st.sampled_from(node_names))
        def crash(self, node: str) -> None:
            if self.crashed:
                return  # one node down at a time keeps every quorum possible
            self.raw.crash(node)
            self.crashed.add(node)
            self._step(f"crash {node}")

        @precondition(lambda self: faults)
        @rule()
        def restart(self) -> None:
            for node in sorted(self.crashed):
                self.raw.restart(node)
            self._step(f"restart {', '.join(sorted(self.crashed)) or 'nothing'}")
            self.crashed.clear()

        def teardown(self) -> None:
            try:
                if not self.verdicts.failed:
                    self._finish()
            finally:
                close_store(self.raw)
                self.verdicts.report()

        def _finish(self) -> None:
            raise NotImplementedError

        def _quiet(self) -> bool:
            """Heal, restart every crashed node, complete every operation in flight,
            settle and close the history; whether it holds any operation."""
            if faults:
                heal_dropping(self.raw, self.rec)
                for node in sorted(self.crashed):
                    self.raw.restart(node)
            taken = 0
            while self.rec.in_flight() and taken < MAX_SETTLE_DECISIONS and fair_step(self.rec):
                taken += 1
            if isinstance(self.raw, Settling):
                self.raw.settle()
            self.rec.collect()
            self.rec.abandon()
            return bool(self.rec.history().operations)

    return Scheduled

