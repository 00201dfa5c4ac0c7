"""The linearizability checker of ``register``, ``cas-register`` and ``kv`` agrees with
an independent brute-force oracle (``tests/oracles/linearizable.py``, written from the
definitions) on small random histories and on histories derived from valid ones by
targeted edits (``tests/oracles/generate_single.py``).

How many histories: ``EXAMPLES`` per model and family under the active replicheck
profile (200 random and 200 edited under ``ci``, 5,000 each under ``thorough``). The
verdict's ``ruled_out`` and ``still_possible`` must not contradict the oracle either.
Histories on which the two ever disagreed are kept below as explicit examples.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from replicheck.histories.checkers.linearizable import check_linearizable
from replicheck.histories.history import History, Record, pair
from replicheck.histories.judge import check, spec_for
from replicheck.histories.verdict import Verdict
from replicheck.models import lattice
from replicheck.models.equality import Keyword
from replicheck.properties.plugin import active_profile

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the oracles live in tests/, which is not installed
    sys.path.insert(0, str(ROOT))

from tests.oracles.generate_single import (  # noqa: E402
    Edited,
    edited_history,
    random_history,
)
from tests.oracles.linearizable import (  # noqa: E402
    NotMeaningful,
    is_linearization,
    linearizable,
)

MODELS = ("register", "cas-register", "kv")
EXAMPLES = {"quick": 200, "ci": 200, "thorough": 5000}
"""Histories per model and family (random, edited) under each profile."""

LINEARIZABLE = "linearizable"
HOLDS_IF_VALID = frozenset({LINEARIZABLE}) | lattice.weaker(LINEARIZABLE)
"""What a linearizable single-object history satisfies: linearizable and every model it
implies."""
BROKEN_IF_INVALID = frozenset({LINEARIZABLE}) | lattice.stronger(LINEARIZABLE)
"""What a history that is not linearizable violates: linearizable and every model that
implies it."""

NAN = float("nan")


def judged(history: History, model: str) -> Verdict:
    return check(history, model, timeout=60)


def assert_agrees(history: History, model: str) -> bool:
    """The checker's verdict is the oracle's, its witness is a linearization by the
    oracle's definition, and its model sets do not contradict the oracle; the search
    over the whole history, not split by key, agrees too. Returns the oracle's
    answer."""
    expected = linearizable(history, model)
    verdict = judged(history, model)
    assert verdict.valid is expected, (expected, verdict.anomalies, history.operations)
    whole = check_linearizable(history, spec_for(model, history), model=model, split=False,
                               timeout=60)
    assert whole.valid is expected, ("unsplit", expected, whole.anomalies)
    if expected:
        assert verdict.witness is not None
        assert is_linearization(history, model, verdict.witness), verdict.witness
        assert LINEARIZABLE in verdict.still_possible
        assert not verdict.ruled_out & HOLDS_IF_VALID
    else:
        assert LINEARIZABLE in verdict.ruled_out
        assert verdict.ruled_out <= BROKEN_IF_INVALID
        # nothing was shown to hold: a model the checker did not decide is not "possible"
        assert not verdict.still_possible
    return expected


def examples(config: pytest.Config) -> int:
    return EXAMPLES[active_profile(config)]


def agreement_settings(n: int) -> settings:
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.mark.parametrize("model", MODELS)
def test_checker_agrees_with_the_oracle_on_random_histories(
        model: str, pytestconfig: pytest.Config) -> None:
    n = examples(pytestconfig)
    seen = {True: 0, False: 0}

    @agreement_settings(n)
    @given(random_history(model))
    def agree(history: History) -> None:
        seen[assert_agrees(history, model)] += 1

    agree()
    assert seen[True] + seen[False] >= n
    assert seen[True] and seen[False]  # both verdicts are exercised


@pytest.mark.parametrize("model", MODELS)
def test_checker_agrees_with_the_oracle_on_edited_valid_histories(
        model: str, pytestconfig: pytest.Config) -> None:
    n = examples(pytestconfig)
    seen = {True: 0, False: 0}
    edits: dict[str | None, int] = {}

    @agreement_settings(n)
    @given(edited_history(model))
    def agree(edited: Edited) -> None:
        seen[assert_agrees(edited.history, model)] += 1
        edits[edited.edit] = edits.get(edited.edit, 0) + 1

    agree()
    assert seen[True] + seen[False] >= n
    assert seen[False] >= (seen[True] + seen[False]) / 3, (seen, edits)
    assert set(edits) >= {"swap-read-value", "drop-write", "reorder-completions",
                          "change-type", "move-key"}


# ---------------------------------------------------------------------------------------
# The oracle itself, on textbook cases


def hist(*rows: tuple[Any, ...]) -> History:
    """Rows ``(process, type, f, value[, key[, error]])`` in real-time order."""
    records = []
    for index, (process, type_, f, value, *rest) in enumerate(rows):
        key = rest[0] if rest else None
        error = rest[1] if len(rest) > 1 else None
        records.append(Record(process, type_, f, value, key=key, error=error, index=index))
    return pair(records)


def test_oracle_textbook_register_cases() -> None:
    # a read overlapping a write may see either value; after it, only the new one
    concurrent = hist((0, "invoke", "write", 1), (1, "invoke", "read", None),
                      (1, "ok", "read", None), (0, "ok", "write", 1))
    assert linearizable(concurrent, "register")
    stale = hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
                 (1, "invoke", "read", None), (1, "ok", "read", None))
    assert not linearizable(stale, "register")
    # two reads in real-time order cannot see the new value then the old one
    flicker = hist((0, "invoke", "write", 1), (1, "invoke", "read", None),
                   (1, "ok", "read", 1), (2, "invoke", "read", None),
                   (2, "ok", "read", None), (0, "ok", "write", 1))
    assert not linearizable(flicker, "register")


def test_oracle_recognises_linearizations() -> None:
    h = hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (1, "invoke", "write", 2), (2, "invoke", "read", None),
             (2, "ok", "read", 2), (3, "invoke", "write", 3), (3, "fail", "write", 3))
    assert is_linearization(h, "register", [0, 1, 2])
    assert not is_linearization(h, "register", [1, 0, 2])  # 0 ended before 1 began
    assert not is_linearization(h, "register", [0, 2])  # the read needs the write of 2
    assert not is_linearization(h, "register", [0, 1])  # the ok read is left out
    assert not is_linearization(h, "register", [0, 1, 3, 2])  # 3 never took effect
    assert not is_linearization(h, "register", [0, 1, 2, 2])


def test_oracle_meaning_of_fail_and_info() -> None:
    failed = hist((0, "invoke", "write", 1), (0, "fail", "write", 1),
                  (1, "invoke", "read", None), (1, "ok", "read", 1))
    assert not linearizable(failed, "register")
    timed_out = hist((0, "invoke", "write", 1), (0, "info", "write", 1),
                     (1, "invoke", "read", None), (1, "ok", "read", None),
                     (1, "invoke", "read", None), (1, "ok", "read", 1))
    assert linearizable(timed_out, "register")  # it took effect late
    # ... but once seen it stays: it takes effect once
    seen_then_gone = hist((0, "invoke", "write", 1), (0, "info", "write", 1),
                          (1, "invoke", "read", None), (1, "ok", "read", 1),
                          (1, "invoke", "read", None), (1, "ok", "read", None))
    assert not linearizable(seen_then_gone, "register")
    never_completed = hist((0, "invoke", "write", 1), (1, "invoke", "read", None),
                           (1, "ok", "read", 1))
    assert linearizable(never_completed, "register")


def test_oracle_cas_outcomes() -> None:
    compare_failed = hist((0, "invoke", "write", 1), (0, "ok", "write", 1),
                          (1, "invoke", "cas", [2, 3]),
                          (1, "fail", "cas", [2, 3], None, "condition-failed"))
    assert linearizable(compare_failed, "cas-register")
    wrongly_failed = hist((0, "invoke", "write", 2), (0, "ok", "write", 2),
                          (1, "invoke", "cas", [2, 3]),
                          (1, "fail", "cas", [2, 3], None, "condition-failed"))
    assert not linearizable(wrongly_failed, "cas-register")
    plain_fail = hist((0, "invoke", "write", 2), (0, "ok", "write", 2),
                      (1, "invoke", "cas", [2, 3]), (1, "fail", "cas", [2, 3], None, "timeout"),
                      (1, "invoke", "read", None), (1, "ok", "read", 2))
    assert linearizable(plain_fail, "cas-register")
    ok_false = hist((0, "invoke", "write", 2), (0, "ok", "write", 2),
                    (1, "invoke", "cas", [2, 3]), (1, "ok", "cas", False))
    assert not linearizable(ok_false, "cas-register")  # the compare did hold
    with pytest.raises(NotMeaningful):
        linearizable(hist((0, "invoke", "write", 2),
                          (0, "fail", "write", 2, None, "condition-failed")), "cas-register")


def test_oracle_keys_and_values() -> None:
    other_key = hist((0, "invoke", "write", 1, "a"), (0, "ok", "write", 1, "a"),
                     (1, "invoke", "read", None, "b"), (1, "ok", "read", 1, "b"))
    assert not linearizable(other_key, "register")
    for written, read in [(1, True), (1, 1.0), ("a", Keyword("a"))]:
        h = hist((0, "invoke", "write", written), (0, "ok", "write", written),
                 (1, "invoke", "read", None), (1, "ok", "read", read))
        assert not linearizable(h, "register")
    h = hist((0, "invoke", "write", NAN), (0, "ok", "write", NAN),
             (1, "invoke", "read", None), (1, "ok", "read", NAN))
    assert linearizable(h, "register")
    kv = hist((0, "invoke", "append", "x", "k"), (0, "ok", "append", "x", "k"),
              (1, "invoke", "append", "y", "k"), (1, "ok", "append", "y", "k"),
              (2, "invoke", "get", None, "k"), (2, "ok", "get", "yx", "k"))
    assert not linearizable(kv, "kv")


# ---------------------------------------------------------------------------------------
# Histories on which checker and oracle disagreed (the checker was wrong), kept


def regression(model: str, *rows: tuple[Any, ...]) -> tuple[str, History]:
    return model, hist(*rows)


REGRESSIONS = [
    # Concurrent writes of NaN then a read of NaN: NaN is NaN (the checker compared
    # with Python's ==, where nan != nan, and found no order).
    regression("register",
               (0, "invoke", "write", NAN, True), (1, "invoke", "write", NAN, True),
               (1, "ok", "write", NAN, True), (0, "ok", "write", NAN, True),
               (2, "invoke", "read", None, True), (2, "ok", "read", NAN, True)),
    # A read of true after a write of 1 (Python's True == 1 let it through).
    regression("cas-register",
               (0, "invoke", "write", 1, "x"), (0, "ok", "write", 1, "x"),
               (1, "invoke", "read", None, "x"), (1, "ok", "read", True, "x")),
    # A read of key :x returning what was written to key "x" (a keyword is not a string).
    regression("register",
               (0, "invoke", "write", 0, "x"), (0, "ok", "write", 0, "x"),
               (1, "invoke", "read", None, Keyword("x")), (1, "ok", "read", 0, Keyword("x"))),
    # A get of key true returning what was put to key 1 (the keys are different).
    regression("kv",
               (0, "invoke", "put", "x", 1), (0, "ok", "put", "x", 1),
               (1, "invoke", "get", None, True), (1, "ok", "get", "x", True)),
]


@pytest.mark.parametrize(("model", "history"), REGRESSIONS)
def test_past_disagreements(model: str, history: History) -> None:
    assert_agrees(history, model)
