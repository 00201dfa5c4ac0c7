"""What a ``not-linearizable`` verdict explains is true, checked against the independent
oracle (``tests/oracles/linearizable.py``) on small random non-linearizable ``register``,
``cas-register`` and ``kv`` histories (``tests/oracles/generate_single.py``).

For each failing key, the anomaly's ``data`` (``histories/checkers/partial_linearization.py``)
promises:

- the prefix replays through the sequential object: each operation's observation is
  allowed where the prefix places it;
- it respects real time: an operation that completed before another was invoked comes
  first, and is in the prefix whenever the other is;
- it is maximal: no operation of the key that the checker places (all but plain failures
  and indeterminate reads) and that may come next in real time is allowed after it;
- the operation that cannot be placed took effect, is not in the prefix, and is refused
  after it; when not ``doomed`` it is the one left that completes first; the other
  pending operations are refused too;
- the operations that could have produced what it observed are all listed (reads: every
  write of the value read and cas to it; kv gets: every put of a prefix of the string),
  and each reason given holds.

The same holds for a history checked whole (not split by key), where the prefix
interleaves the keys.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from replicheck.histories.checkers import linearizable, wgl
from replicheck.histories.checkers.linearizable import check_linearizable
from replicheck.histories.checkers.partial_linearization import SHOWN_PREFIX
from replicheck.histories.history import History, Operation
from replicheck.histories.judge import check, spec_for
from replicheck.histories.verdict import Anomaly
from replicheck.models.equality import same_value, value_key
from replicheck.properties.plugin import active_profile

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the oracles live in tests/, which is not installed
    sys.path.insert(0, str(ROOT))

from tests.oracles.generate_single import edited_history, random_history  # noqa: E402
from tests.oracles.linearizable import Event, apply, events, refuses  # noqa: E402

MODELS = ("register", "cas-register", "kv")
EXAMPLES = {"quick": 100, "ci": 100, "thorough": 2000}
"""Non-linearizable histories per model under each profile."""

READS = frozenset({"read", "get"})


def _settings(n: int) -> settings:
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def _explains(value: Any, model: str, e: Event) -> bool:
    """Whether ``e`` could install what a read of ``value`` saw."""
    op = e.op
    if model == "kv":
        seen = "" if value is None else value
        return op.f == "put" and isinstance(seen, str) and isinstance(op.input, str) \
            and seen.startswith(op.input)
    if op.f == "write":
        return same_value(op.input, value)
    if op.f == "cas" and e.outcome != "compare-failed":
        return same_value(op.input[1], value)
    return False


def assert_account_holds(history: History, model: str, anomaly: Anomaly, *,
                         whole: bool = False) -> None:
    """The account's promises (module docstring) hold for ``anomaly``, of the key of its
    unplaceable operation or, ``whole``, of the history checked without splitting (each
    key's object then starts empty and holds its own state)."""
    data = anomaly.data
    u_data = data["unplaceable"]
    assert u_data is not None
    by_id: dict[int, Operation] = {op.id: op for op in history.operations}
    u_op = by_id[u_data["op"]]
    key = value_key(u_op.key)
    ev = {e.op.id: e for e in events([op for op in history.operations
                                      if whole or value_key(op.key) == key], model)}
    prefix = [e["op"] for e in data["prefix"]]
    assert data["prefix_length"] == len(prefix) and len(set(prefix)) == len(prefix)
    assert set(prefix) <= set(ev), "only operations of the part that may take effect"
    # replays through the objects
    states: dict[Any, Any] = {}

    def holding(e: Event) -> Any:
        return states.get(value_key(e.op.key))

    for i in prefix:
        assert not refuses(model, holding(ev[i]), ev[i]), (i, states, prefix)
        states[value_key(ev[i].op.key)] = apply(model, holding(ev[i]), ev[i])
    placed = set(prefix)
    # respects real time, and is closed under it
    for pos, b in enumerate(prefix):
        for a in prefix[pos + 1:]:
            assert not (ev[a].must and ev[a].end < ev[b].start), (a, b, prefix)
        for a, e in ev.items():
            if e.must and e.end < ev[b].start:
                assert a in placed, (a, b, prefix)

    def may_come_next(e: Event) -> bool:
        return all(a in placed for a, p in ev.items() if p.must and p.end < e.start)

    # maximal
    for i, e in ev.items():
        if i in placed or (e.op.f in READS and not e.must):
            continue  # indeterminate reads constrain nothing: the checker drops them
        if may_come_next(e):
            assert refuses(model, holding(e), e), (i, states, prefix)
    # the operation that cannot be placed
    u = ev[u_op.id]
    assert u.must and u.op.id not in placed and refuses(model, holding(u), u)
    assert anomaly.ops[0] == u.op.id
    if not u_data["doomed"]:
        assert may_come_next(u)
        assert u.end == min(e.end for i, e in ev.items() if e.must and i not in placed)
    for other in data["pending"]:
        p = ev[other["op"]]
        assert p.must and p.op.id not in placed and may_come_next(p)
        assert refuses(model, holding(p), p)
    assert list(anomaly.ops) == [u.op.id, *(o["op"] for o in data["pending"])]
    # the operations that could have produced what it observed
    writes = data.get("explaining_writes")
    if u.op.f in READS and (model != "kv" or u.op.output is None or type(u.op.output) is str):
        assert writes is not None
        expected = {i for i, e in ev.items() if i != u.op.id and value_key(e.op.key) == key
                    and _explains(u.op.output, model, e)}
        assert {w["op"] for w in writes} == expected, (writes, expected)
    for w in writes or ():
        x = ev[w["op"]]
        reason = w["reason"]
        if reason == "began-after":
            assert x.start > u.end
        elif reason == "overwritten":
            by = ev[w["by"]]
            assert by.must and x.end < by.start and by.end < u.start
            assert value_key(by.op.key) == key
            if u.op.f in READS:
                assert not _explains(u.op.output, model, by)
        elif reason == "in-prefix":
            assert prefix[w["position"] - 1] == x.op.id
            if w["changed_by"] is not None:
                assert w["changed_by"] in prefix[w["position"]:]
        elif reason == "must-follow":
            before = ev[w["after"]]
            assert before.must and before.op.id not in placed and before.end < x.start
        else:
            assert reason == "refused", w
            assert x.op.id not in placed and refuses(model, holding(x), x)
    assert anomaly.explanation.count(" → ") == min(len(prefix), SHOWN_PREFIX)


def _judge_failing(history: History, model: str) -> list[Anomaly]:
    verdict = check(history, model, timeout=60)
    assume(verdict.valid is False)
    # the linearizability failures (the stale reads check names beside them carry no
    # partial linearization)
    anomalies = [a for a in verdict.anomalies if a.type == "not-linearizable"]
    assert anomalies and all(a.type in ("not-linearizable", "stale-read", "lost-update")
                             for a in verdict.anomalies)
    return anomalies


def _search_without_pruning(steps: Any, spec: Any, *, reach: Any = None) -> Any:
    return wgl.searching(steps, spec, reach=None)


@pytest.mark.parametrize("pruning", [True, False], ids=["pruned", "unpruned"])
@pytest.mark.parametrize("model", MODELS)
def test_the_reported_partial_linearization_is_true_and_maximal(
        model: str, pruning: bool, pytestconfig: pytest.Config,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Pruned: the search's reachability knowledge finds most failures ahead of time
    (``doomed``); unpruned (the search run without it, the explanation still using it):
    every failure is found where the prefix gets stuck."""
    n = EXAMPLES[active_profile(pytestconfig)]
    seen = {"doomed": 0, "stuck": 0}
    if not pruning:
        monkeypatch.setattr(linearizable, "searching", _search_without_pruning)

    @_settings(n)
    @given(st.one_of(random_history(model),
                     edited_history(model).map(lambda edited: edited.history)))
    def holds(history: History) -> None:
        for anomaly in _judge_failing(history, model):
            assert_account_holds(history, model, anomaly)
            seen["doomed" if anomaly.data["unplaceable"]["doomed"] else "stuck"] += 1

    holds()
    if pruning:
        assert seen["doomed"], seen
    else:
        assert seen["stuck"] and not seen["doomed"], seen


@pytest.mark.parametrize("model", MODELS)
def test_the_partial_linearization_of_a_history_checked_whole_is_true_and_maximal(
        model: str, pytestconfig: pytest.Config) -> None:
    """Checked without splitting by key, the prefix interleaves the keys; each key's
    object replays its operations, and no operation of any key extends it."""
    n = EXAMPLES[active_profile(pytestconfig)] // 2
    keys = {"one": 0, "several": 0}

    @_settings(n)
    @given(random_history(model))
    def holds(history: History) -> None:
        verdict = check_linearizable(history, spec_for(model, history), model=model,
                                     split=False, timeout=60)
        assume(verdict.valid is False)
        (anomaly,) = verdict.anomalies
        assert_account_holds(history, model, anomaly, whole=True)
        shown = {value_key(op.key) for op in history.operations
                 if op.id in {e["op"] for e in anomaly.data["prefix"]}}
        keys["several" if len(shown) > 1 else "one"] += 1

    holds()
    assert keys["several"], keys  # prefixes that interleave keys are exercised
