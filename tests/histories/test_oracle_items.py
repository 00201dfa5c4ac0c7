"""The item checkers agree with brute-force oracles (tests/oracles/items.py) on small
random item histories and on targeted edits of them.

For every (item, consistency) pair ``check`` accepts, linearizable and the eight
transactional models, ``replicheck.histories.judge.check`` and the oracle agree on
``valid`` for each history, and the checker's ``ruled_out`` / ``still_possible`` never
contradict the oracle. Strict serializability implies linearizability: the recorded
versions alone do not show condition outcomes and update results right, so an item
history is strictly serializable when its versions are and it is linearizable too (the
oracle decides both). Counts follow the replicheck profile: 200 generated and 200
edited histories under ``quick`` and ``ci``, 5,000 of each under ``thorough``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import pytest

from replicheck.histories.history import History
from replicheck.histories.items import completion_record, invoke_record, tables_record
from replicheck.histories.judge import check
from replicheck.models.items.requests import Get, Put, Response
from replicheck.properties.plugin import active_profile
from tests.oracles.generate_items import SCHEMA, TABLE, Generated, edit, generate
from tests.oracles.items import EIGHT, linearizable, transactional

PAIRS = ("linearizable", *EIGHT)


@dataclass(frozen=True)
class Case:
    """A history, how it was made, and the oracle's verdict per model."""

    generated: Generated
    history: History
    oracle: dict[str, bool]


def _judged(g: Generated) -> Case:
    h = g.history()
    verdicts = {**transactional(h), "linearizable": linearizable(h)}
    verdicts["strict-serializable"] = (verdicts["strict-serializable"]
                                       and verdicts["linearizable"])
    return Case(g, h, verdicts)


def _count(config: pytest.Config) -> int:
    return 5000 if active_profile(config) == "thorough" else 200


@pytest.fixture(scope="module")
def generated(pytestconfig: pytest.Config) -> list[Case]:
    return [_judged(generate(seed)) for seed in range(_count(pytestconfig))]


@pytest.fixture(scope="module")
def edited(pytestconfig: pytest.Config) -> list[Case]:
    cases: list[Case] = []
    seed = 0
    while len(cases) < _count(pytestconfig):
        g = edit(seed)
        seed += 1
        if g is not None:
            cases.append(_judged(g))
    return cases


def _agree(cases: list[Case], model: str) -> None:
    for case in cases:
        verdict = check(case.history, "item", [model], timeout=60)
        want = case.oracle
        assert verdict.valid == want[model], (case.generated.how, model, verdict.notes)
        wrong_out = sorted(m for m in verdict.ruled_out if m in PAIRS and want[m])
        assert not wrong_out, (case.generated.how, model, "ruled out", wrong_out)
        wrong_in = sorted(m for m in verdict.still_possible if m in PAIRS and not want[m])
        assert not wrong_in, (case.generated.how, model, "still possible", wrong_in)


@pytest.mark.parametrize("model", PAIRS)
def test_checker_agrees_with_the_oracle_on_generated_histories(
        model: str, generated: list[Case]) -> None:
    _agree(generated, model)


@pytest.mark.parametrize("model", PAIRS)
def test_checker_agrees_with_the_oracle_on_edited_histories(
        model: str, edited: list[Case]) -> None:
    _agree(edited, model)


def test_at_least_a_third_of_edited_histories_are_invalid(edited: list[Case]) -> None:
    invalid = sum(1 for c in edited if not c.oracle["strict-serializable"])
    assert invalid * 3 >= len(edited), (invalid, len(edited))
    # Every kind of edit is drawn.
    kinds = Counter(c.generated.how.split(": ")[1] for c in edited)
    assert set(kinds) == {"swap-read", "drop-write", "reorder", "renumber"}, kinds


def test_generated_histories_cover_the_format(generated: list[Case]) -> None:
    """Every request kind, every outcome, and both verdicts of each pair occur."""
    seen = Counter((op.f, op.status) for c in generated for op in c.history.operations)
    for f in ("get-strong", "get-eventual", "put", "update", "delete", "transact-write",
              "transact-get"):
        assert seen[(f, "ok")], f
        assert seen[(f, "info")], f
    for f in ("put", "update", "delete", "transact-write"):
        assert seen[(f, "fail")], f
    assert any(op.error == "condition-failed" for c in generated
               for op in c.history.operations)
    for model in ("linearizable", "strict-serializable", "strong-session-serializable"):
        assert {c.oracle[model] for c in generated} == {True, False}, model


def test_an_n_written_with_another_precision_is_the_same_number() -> None:
    """DynamoDB compares N numerically: a read of 1.0 where 1 was written is no edit at
    all to the verdicts; a read of "1" (a string) is."""
    put = Put(TABLE, {"pk": "a", "v": 1})
    get = Get(TABLE, {"pk": "a"}, consistent=True)

    def reading(wire: dict[str, str]) -> History:
        records = [tables_record([SCHEMA], index=0), invoke_record(0, put, index=1),
                   replace(completion_record(0, put, Response(), index=2),
                           meta={"version": 1}),
                   invoke_record(1, get, index=3),
                   replace(completion_record(1, get, Response(), index=4),
                           value={"item": {"pk": {"S": "a"}, "v": wire}},
                           meta={"version": 1})]
        return Generated(tuple(records), "by hand").history()

    same, string = reading({"N": "1.0"}), reading({"S": "1"})
    for model in ("linearizable", "serializable"):
        assert check(same, "item", [model]).valid is True
        assert check(string, "item", [model]).valid is False
    assert linearizable(same) and not linearizable(string)
    assert transactional(same)["serializable"] and not transactional(string)["serializable"]
