"""Turns: every rule class gets its turn in (almost) every example.

Hypothesis picks one rule per step among the enabled ones, and makes most of a run's
examples from a few: it mutates earlier examples, and past half its budget climbs
its ``target`` scores from the best one, keeping their opening choices. So a run is
a handful of *families* of examples that do much the same, and a rule class that
the early families happened not to choose acts in almost none of the run (measured
on dynamodb's concurrency property, 100 ``ci`` examples: duplicate-request,
late-reply, hold-message and layout-keys each acted in 1-3% of them).

A *turn* takes that chance away from the rule choice. At the start of an example
the machine draws, for each rule class in a fixed order, the step of its turn and a
call of each of the class's rules (arguments from the rule's own strategies), the
first of them drawn. After every step the :meth:`Turns.take_turns` invariant runs
each turn that is due: the first call whose rule's preconditions hold, as the rule
itself would run (none holds: the turn waits for a later step). A call that ran
without acting (every client busy, no leader to aim at, a restart with nothing down)
makes the turn try again at the next step from the class's next rule, at most
:data:`TURN_TRIES` times. A class the
swarm has off in the example skips its turn, and a plain example (the machine's own
rules alone) takes none, so which turns an example takes is the
swarm's draw: a counterexample sheds the turns of the classes its shrinking switches
off (:func:`~replicheck.properties.search.swarm.swarm_rules`); a class left on keeps
its turn, its arguments shrunk. There is no separate draw of whether a class takes its
turn: Hypothesis's target climbing changes single choices, and one that switched a
turn off while raising another measure would leave that class out of half a run.
Every family of examples then acts on almost every class, and the rule choice still
adds steps of any class anywhere.

A turn's steps are the rule's own (schedule steps through the machine's recording),
so replay and the schedule shrinker see them as any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant

from replicheck.properties.search.swarm import _RULE, PLAIN, rule_classes

__all__ = ["LAST_TURN", "TURN_TRIES", "Turn", "Turns", "class_rules", "turns_for"]

LAST_TURN: Final = 24
"""The latest step a turn is drawn for (a turn not taken by the example's end, its
rule's preconditions never holding, is not taken at all)."""

TURN_TRIES: Final = 3
"""The most times a turn's rule runs without its class acting (every client busy, no
leader to aim at): it tries again at the next steps, then gives up."""

@dataclass(frozen=True)
class Turn:
    """Class ``cls``'s turn: from step ``step`` on, run the first of ``calls`` (a rule
    of the machine, by name, and its arguments) whose preconditions hold; ``tries``,
    how many calls ran without the class acting (each try starts from the next call,
    so a rule that cannot act now, a restart with nothing down, gives way to the
    class's other rules)."""

    cls: str
    step: int
    calls: tuple[tuple[str, Mapping[str, Any]], ...]
    tries: int = 0

    def order(self) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        """The calls in the order this try takes them."""
        start = self.tries % len(self.calls)
        return self.calls[start:] + self.calls[:start]


def class_rules(machine: Any) -> dict[str, tuple[str, ...]]:
    """Per rule class, the names of ``machine``'s rules that act for it: those whose
    preconditions ask the swarm about that one class (``swarm_on``) and all hold on
    ``machine`` as it is now with every class on (call it on a fresh machine, made
    from a swarm mixin: what holds then is what the store's surface allows). A rule
    asking about no class or about several has no class; a class none of whose rules
    can act on this store has none."""
    found: dict[str, list[str]] = {}
    for name, asked in rule_classes(machine).items():
        if len(asked) == 1:
            found.setdefault(next(iter(asked)), []).append(name)
    return {cls: tuple(names) for cls, names in sorted(found.items())}


def turns_for(machine_type: type, rules: Mapping[str, tuple[str, ...]]
              ) -> st.SearchStrategy[tuple[Turn, ...]]:
    """The turns of an example of ``machine_type`` whose classes act through
    ``rules`` (:func:`class_rules`): one per class, in order, at a step up to
    :data:`LAST_TURN`, with a call of each of the class's rules (arguments drawn
    from the rule's strategies), the first of them drawn."""
    def call(rule_name: str) -> st.SearchStrategy[tuple[str, Mapping[str, Any]]]:
        record = getattr(getattr(machine_type, rule_name), _RULE)
        return st.tuples(st.just(rule_name), st.fixed_dictionaries(dict(record.arguments)))

    def turn(name: str, names: tuple[str, ...]) -> st.SearchStrategy[Turn]:
        calls = st.tuples(*(call(rule_name) for rule_name in names))
        rotated = st.tuples(st.integers(0, len(names) - 1), calls).map(
            lambda pair: pair[1][pair[0]:] + pair[1][:pair[0]])
        return st.builds(Turn, st.just(name), st.integers(1, LAST_TURN), rotated)

    return st.tuples(*(turn(name, names) for name, names in rules.items()))


class Turns:
    """Mixin of a scheduled machine with a swarm (put after the swarm's mixin):
    draws each example's turns and takes them (module docstring)."""

    _turns: st.SearchStrategy[tuple[Turn, ...]] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.turns: list[Turn] = []
        self.turn_step = 0

    @initialize(data=st.data())
    def draw_turns(self, data: st.DataObject) -> None:
        """Draw this example's turns (one draw: :func:`turns_for`)."""
        cls = type(self)
        if cls._turns is None:
            cls._turns = turns_for(cls, class_rules(self))
        drawn: tuple[Turn, ...] = data.draw(cls._turns, label="turns")
        self.turns = sorted(drawn, key=lambda t: t.step)

    @invariant()
    def take_turns(self) -> None:
        """Run every turn that is due and whose rule's preconditions hold now."""
        self.turn_step += 1
        waiting = []
        for turn in self.turns:
            left = turn if turn.step > self.turn_step else self._take(turn)
            if left is not None:
                waiting.append(left)
        self.turns = waiting

    def _take(self, turn: Turn) -> Turn | None:
        """Run ``turn``'s first call (in this try's order) whose rule's
        preconditions hold; None when the turn is done (its class acted, is off, or
        it used its tries; a plain example takes no turns), else the turn to try
        again at the next step (none held: the same try)."""
        swarm: Any = self
        if swarm.mode == PLAIN or not swarm.swarm_on(turn.cls):
            return None
        ready = self._ready(turn)
        if ready is None:
            return turn
        function, arguments = ready
        marked: set[str] = self.marked  # type: ignore[attr-defined]
        before = turn.cls in marked
        function(self, **arguments)
        if before or turn.cls in marked or turn.tries + 1 >= TURN_TRIES:
            return None
        return replace(turn, tries=turn.tries + 1)

    def _ready(self, turn: Turn) -> tuple[Any, Mapping[str, Any]] | None:
        """The rule function and arguments of ``turn``'s first call (in this try's
        order) whose preconditions hold now; None when none does."""
        for rule_name, arguments in turn.order():
            record = getattr(getattr(type(self), rule_name), _RULE)
            if all(condition(self) for condition in record.preconditions):
                return record.function, arguments
        return None
