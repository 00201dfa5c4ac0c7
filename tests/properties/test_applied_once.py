"""Every request is applied at most once (properties/applied_once.py): each write's
effect on a counter comes from the item model; a value reached by applying any set of
writes once each, in any order, is never flagged (a random oracle); a request applied
twice by a coordinator that does not deduplicate is caught under convergence."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replicheck.implementation.presets import preset
from replicheck.implementation.reference.leaderless.node import LeaderlessNode
from replicheck.models.items.operations import Database, apply
from replicheck.models.items.requests import Delete, Put, TableSchema, Update
from replicheck.properties.applied_once import Effect, effect_on, reachable
from replicheck.properties.concurrency import concurrency_machine
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.search.messages import message_rules
from replicheck.properties.verdicts import failures_to

T = "items"
SCHEMA = TableSchema(T, "pk")


def update(text: str, names: dict[str, str] | None = None, **values: Any) -> Update:
    return Update(T, {"pk": "k"}, text, names=names,
                  values={f":{k}": Decimal(v) if isinstance(v, int) else v
                          for k, v in values.items()} or None)


D = Decimal


@pytest.mark.parametrize(("request_", "effect"), [
    (Put(T, {"pk": "k", "n": D(2)}), Effect("assign", D(2))),
    (Put(T, {"pk": "k", "v": "x"}), Effect("assign")),
    (Put(T, {"pk": "k", "n": "text"}), Effect("assign")),
    (Delete(T, {"pk": "k"}), Effect("assign")),
    (update("ADD n :one", one=1), Effect("add", D(1), D(1))),
    (update("SET v = :v ADD n :one", one=1, v="x"), Effect("add", D(1), D(1))),
    (update("SET n = if_not_exists(n, :zero) + :one", zero=0, one=1),
     Effect("add", D(1), D(1))),
    (update("SET n = if_not_exists(n, :ten) + :two", ten=10, two=2),
     Effect("add", D(2), D(12))),
    (update("SET n = n + :three", three=3), Effect("add", D(3), None)),
    (update("SET n = n - :one", one=1), Effect("add", D(-1), None)),
    (update("SET #c = #c + :one", {"#c": "n"}, one=1), Effect("add", D(1), None)),
    (update("SET n = :five", five=5), Effect("assign", D(5))),
    (update("REMOVE n"), Effect("assign")),
    (update("SET v = :v", v="x"), Effect("none")),
    (update("REMOVE v"), Effect("none")),
    (update("SET n = m + :one", one=1), Effect("unknown")),
    (update("SET n = if_not_exists(m, :one)", one=1), Effect("unknown")),
    (update("SET n.x = :one", one=1), Effect("unknown")),
    (update("SET n = :a + :b", a=1, b=2), Effect("assign", D(3))),
    (update("SET n = n + n"), Effect("unknown")),  # doubles: no constant step
    (update("SET n = :s", s="text"), Effect("assign")),  # not a number: a new start
    (update("SET n = :a - n", a=1), Effect("unknown")),
    (update("ADD n :c", c=frozenset({D(1)})), Effect("unknown")),  # a number set
])
def test_each_writes_effect_on_the_counter(request_: Any, effect: Effect) -> None:
    assert effect_on(request_, "n") == effect


def test_reachable_values_are_a_base_plus_distinct_steps() -> None:
    put2, inc1, inc4 = (Effect("assign", D(2)), Effect("add", D(1), D(1)),
                        Effect("add", D(4), D(4)))
    effects = [put2, inc1, inc4]
    assert all(reachable(D(v), effects) for v in (0, 1, 4, 5, 2, 3, 6, 7))
    assert reachable(D(8), effects) is False  # 4 twice
    assert reachable(D(9), effects) is False
    assert reachable(D(2), [inc1]) is False  # one increment applied twice
    assert reachable(D(1), [inc1, inc1]) and reachable(D(2), [inc1, inc1])
    assert reachable(D(2), [inc1, Effect("unknown")]) is None
    assert reachable(D(5), [Effect("add", D(1), None)]) is None  # no base at all
    many = [Effect("add", D(2) ** i, D(2) ** i) for i in range(13)]
    assert reachable(D(10 ** 6), many) is None  # more sums than it keeps


def test_sums_are_exact_to_the_item_models_precision() -> None:
    """A 31-digit total the item model computes exactly is reachable; Python's
    default 28 digits would have rounded it away."""
    writes = [Put(T, {"pk": "k", "n": D(0)}), update("ADD n :c", c=D("1E+30")),
              update("ADD n :c", c=D(400)), update("ADD n :c", c=D(400))]
    db = Database({T: SCHEMA}, {T: {}})
    for w in writes:
        db, _ = apply(db, w)
    value = db.tables[T][("k",)]["n"]
    assert value == D("1000000000000000000000000000800")
    assert reachable(value, [effect_on(w, "n") for w in writes]) is True
    assert reachable(value + 400, [effect_on(w, "n") for w in writes]) is False


# -- the oracle: applying writes once each never looks like a second application ----------

COUNTER_WRITES = st.one_of(
    st.integers(0, 3).map(lambda n: Put(T, {"pk": "k", "n": D(n)})),
    st.just(Put(T, {"pk": "k", "v": "x"})),
    st.just(Delete(T, {"pk": "k"})),
    st.integers(-2, 5).map(lambda n: update("ADD n :s", s=n)),
    st.integers(1, 3).map(lambda n: update("SET n = if_not_exists(n, :z) + :s", z=0, s=n)),
    st.integers(1, 3).map(lambda n: update("SET n = n + :s", s=n)),
    st.integers(0, 4).map(lambda n: update("SET n = :s", s=n)),
    st.just(update("REMOVE n")),
    st.just(update("SET v = :v", v="y")),
)


@settings(max_examples=300, deadline=None)
@given(writes=st.lists(COUNTER_WRITES, min_size=1, max_size=8), data=st.data())
def test_any_writes_applied_once_each_are_reachable(writes: list[Any], data: Any) -> None:
    """Apply a chosen subset of ``writes``, each once, in a chosen order, with the item
    model (a write the model refuses is left unapplied): every counter value on the
    way is reachable from ``writes``."""
    order = data.draw(st.permutations(range(len(writes))))
    chosen = [i for i in order if data.draw(st.booleans())]
    db = Database({T: SCHEMA}, {T: {}})
    effects = [effect_on(w, "n") for w in writes]
    for i in chosen:
        try:
            db, _ = apply(db, writes[i])
        except Exception:
            continue
        value = (db.tables[T].get(("k",)) or {}).get("n")
        if isinstance(value, Decimal):
            assert reachable(value, effects) is not False, (writes, chosen, value)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.sampled_from([1, 2, 4, 8, 16]), min_size=1, max_size=5,
                      unique=True), twice=st.data())
def test_one_increment_applied_twice_past_every_other_is_caught(steps: list[int],
                                                               twice: Any) -> None:
    """Distinct powers of two from zero, every one applied and one of them again: the
    total exceeds every set of distinct steps."""
    writes = [update("ADD n :s", s=s) for s in steps]
    again = twice.draw(st.sampled_from(writes))
    db = Database({T: SCHEMA}, {T: {}})
    for w in [*writes, again]:
        db, _ = apply(db, w)
    value = db.tables[T][("k",)]["n"]
    assert reachable(value, [effect_on(w, "n") for w in writes]) is False


# -- judged on a store ------------------------------------------------------------------------


class _Forgetful(LeaderlessNode):
    """A coordinator that forgets the requests it took: a copy delivered again is
    coordinated again (a retransmitted increment counted twice)."""

    def _coordinate(self, client: str, rid: int, request: Any, context: Any) -> None:
        self.taken.discard((client, rid))  # THE BUG
        super()._coordinate(client, rid, request, context)


class _Amnesiac(LeaderlessNode):
    """A coordinator that keeps the requests it took in memory only: after a restart
    a copy of one of them is coordinated again (what the durable log replays is
    lost)."""

    def recover(self) -> None:
        super().recover()
        self.taken = set()  # THE BUG


def _machine(name: str, forgetful: bool, bug: type = _Forgetful) -> Any:
    def factory() -> Any:
        store = preset(name)
        if forgetful:
            for node in store.node_endpoints.values():
                node.__class__ = bug
        return store

    base = concurrency_machine(factory, target=f"{__name__}:{name}")
    return type("T", (message_rules(probe_surface(factory())), base), {})()


def _increment(key: str) -> Update:
    return Update(T, {"pk": key}, "SET n = if_not_exists(n, :zero) + :one",
                  values={":zero": D(0), ":one": D(1)})


@pytest.mark.parametrize("name", ["dynamo-lww", "dynamo-quorum"])
def test_a_duplicated_increment_applied_twice_violates_convergence(name: str,
                                                                   tmp_path: Any) -> None:
    m = _machine(name, forgetful=True)
    m.duplicate_request("c0", _increment("k0"), True, 0)  # the copy after the answer
    with failures_to(str(tmp_path)), pytest.raises(GuaranteeViolation) as caught:
        m.teardown()
    text = str(caught.value)
    assert "convergence" in text and "reapplied-write" in text
    assert 'key "k0"' in text and "n = 2" in text


@pytest.mark.parametrize("name", ["dynamo-lww", "dynamo-quorum", "dynamodb"])
def test_a_duplicated_increment_applied_once_holds(name: str) -> None:
    m = _machine(name, forgetful=False)
    m.duplicate_request("c0", _increment("k0"), True, 3)
    m.teardown()  # no violation


@pytest.mark.parametrize("name", ["dynamo-lww", "dynamo-quorum"])
def test_a_copy_after_the_coordinator_restarted_is_applied_once(name: str,
                                                                tmp_path: Any) -> None:
    """The copy is held until the answer came, the coordinator crashes and restarts,
    then the copy arrives: a store that replays the requests it took ignores it; one
    that forgets them across a restart counts the increment twice."""
    m = _machine(name, forgetful=False)
    steps = len(m.raw.steps)
    m.duplicate_request("c0", _increment("k0"), True, 2, True)
    kinds = [next(iter(step)) for step in m.raw.steps[steps:]]
    assert "crash" in kinds and "restart" in kinds
    assert kinds.index("restart") < max(i for i, k in enumerate(kinds) if k == "decide")
    m.teardown()
    m = _machine(name, forgetful=True, bug=_Amnesiac)
    m.duplicate_request("c0", _increment("k0"), True, 2, True)
    with failures_to(str(tmp_path)), pytest.raises(GuaranteeViolation) as caught:
        m.teardown()
    assert "reapplied-write" in str(caught.value) and "n = 2" in str(caught.value)
    m = _machine(name, forgetful=True, bug=_Amnesiac)
    m.duplicate_request("c0", _increment("k0"), True, 2, False)  # no restart: once
    m.teardown()


def _history(*ops: tuple[Any, Any], observations: tuple[tuple[str, Any], ...] = ()) -> Any:
    """A history of ``ops`` (request, answer item or None), each ``ok``, over tables
    ``a`` and ``b`` keyed on ``pk``, then ``observations``."""
    from replicheck.histories.history import pair
    from replicheck.histories.items import request_to_json, response_to_json, tables_to_json
    from replicheck.histories.recorder import Recorder
    from replicheck.models.items.requests import Response, request_kind

    recorder = Recorder()
    recorder.observe("tables", tables_to_json([TableSchema("a", "pk"), TableSchema("b", "pk")]))
    for process, (request, item) in enumerate(ops):
        kind = request_kind(request)
        recorder.invoke(process, kind, request_to_json(request))
        recorder.ok(process, kind, response_to_json(Response(item=item)))
    for f, value in observations:
        recorder.observe(f, value)
    return pair(recorder.records())


def test_a_read_of_another_table_is_not_judged_against_this_ones_writes() -> None:
    from replicheck.models.items.requests import Get
    from replicheck.properties.applied_once import reapplied_values

    history = _history((Put("a", {"pk": "k", "n": D(1)}), None),
                       (Put("b", {"pk": "k", "n": D(5)}), None),
                       (Get("b", {"pk": "k"}, consistent=True), {"pk": "k", "n": D(5)}))
    assert reapplied_values(history, TableSchema("a", "pk")) == []
    assert reapplied_values(history, TableSchema("b", "pk")) == []
    wrong = _history((Put("a", {"pk": "k", "n": D(1)}), None),
                     (Get("a", {"pk": "k"}, consistent=True), {"pk": "k", "n": D(5)}))
    (problem,) = reapplied_values(wrong, TableSchema("a", "pk"))
    assert "read n = 5" in problem


def test_a_leader_stores_plain_replica_items_are_judged() -> None:
    """A leader store's replica snapshot holds items of plain values, not DynamoDB
    JSON: they are judged too."""
    from replicheck.properties.applied_once import reapplied_values

    def snapshot(n: int) -> dict[str, Any]:
        return {"table": "a", "quiescent": True, "replicas": {
            "n1": {'"k"': {"value": {"pk": "k", "n": D(n)}, "version": 7}}}}

    once = Update("a", {"pk": "k"}, "ADD n :one", values={":one": D(1)})
    good = _history((once, None), observations=(("replicas", snapshot(1)),))
    assert reapplied_values(good, TableSchema("a", "pk")) == []
    bad = _history((once, None), observations=(("replicas", snapshot(2)),))
    (problem,) = reapplied_values(bad, TableSchema("a", "pk"))
    assert "n1 holds n = 2" in problem
