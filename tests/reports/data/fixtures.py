"""Values the report tests render.

:data:`GOLDEN_OUTCOME` is a hand-written SuiteOutcome for the golden tests
(CONTRACTS.md section 8). Two stores. ``dynamodb`` claims linearizable strong reads and the property
``concurrent-histories-under-faults`` failed on it: a five-operation history where a
strong read returns a value already overwritten (not linearizable), with a replayable
schedule and a reproduce blob. ``examples.kv:make_store`` (threaded, no schedule)
skips ``sequential-model-conformance``, passes the other property, and shows an
observation on an unclaimed guarantee: a G1c cycle of two list-append transactions
that read each other's appends. Every value is fixed here; nothing is generated.

:func:`hostile_outcome` (with :func:`hostile_history` and :func:`hostile_verdict`)
builds an outcome whose every string from a store or a history is chosen by the
caller, for the escaping tests.

:func:`long_history` builds a large history from a fixed seed (for the timeline's
scale tests, never for golden files) and :func:`long_verdict` a verdict naming some
of its operations.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from replicheck.histories.history import History, HistoryError, Operation, Record, pair
from replicheck.histories.verdict import Anomaly, Stats, Verdict
from replicheck.models.guarantees import GUARANTEES, MECHANISM_PROMISES
from replicheck.properties.outcomes import (
    Cell,
    Counterexample,
    PropertyRun,
    StoreOutcome,
    SuiteOutcome,
    cell_status,
)

ALL = GUARANTEES + MECHANISM_PROMISES


def _cells(claims: tuple[str, ...], counts: dict[str, dict[str, int]],
           reasons: dict[str, str]) -> tuple[Cell, ...]:
    return tuple(Cell(g, cell_status(counts.get(g, {})), g in claims, counts.get(g, {}),
                      reasons.get(g, "")) for g in ALL)


STALE_READ_HISTORY = History((
    Operation(0, 0, "put", "a", 1, None, "ok", call=0, ret=1),
    Operation(1, 1, "put", "a", 2, None, "ok", call=2, ret=4),
    Operation(2, 2, "get", "a", {"consistent": True}, 2, "ok", call=3, ret=5),
    Operation(3, 3, "put", "a", 3, None, "info", call=6, ret=None),
    Operation(4, 0, "get", "a", {"consistent": True}, 1, "ok", call=7, ret=8),
))

STALE_READ_VERDICT = Verdict(
    valid=False,
    model="kv",
    consistency=("linearizable",),
    anomalies=(Anomaly(
        "not-linearizable", (4,),
        "key 'a': after put 'a' = 1 (op 0), put 'a' = 2 (op 1) and get 'a' -> 2 (op 2), "
        "get 'a' -> 1 (op 4) cannot be placed: the state there is 2 or 3.",
        {"key": "'a'", "prefix_length": 3}),),
    ruled_out=frozenset({"linearizable"}),
    still_possible=frozenset(),
    counterexample={"key": "'a'", "prefix": [0, 1, 2], "blocked": [4]},
    stats=Stats(operations=5, seconds=0.0012, states=17),
    notes=("1 indeterminate operations may take effect at any time after their "
           "invocation",),
)

STALE_READ = Counterexample(
    property="concurrent-histories-under-faults",
    guarantee="linearizable-strong-reads",
    explanation="A strongly consistent read returned 1 after a read had already "
                "returned the newer value 2.",
    steps=(
        "client 0: put a = 1 (ok)",
        "client 1: put a = 2, delivered to the leader of a",
        "client 2: strong get a -> 2 (ok)",
        "partition the leader of a from the other replicas",
        "client 3: put a = 3 (timed out: indeterminate)",
        "client 0: strong get a -> 1 at the old leader (ok)",
    ),
    decisions=6,
    history=STALE_READ_HISTORY,
    verdict=STALE_READ_VERDICT,
    schedule={"schema": 1, "store": "dynamodb", "seed": 0, "decisions": []},
    reproduce="@reproduce_failure('6.100.0', b'AXicY2BkYGBgBAAADgAD')",
)

G1C_HISTORY = History((
    Operation(0, 0, "txn", None, [["append", "x", 1], ["r", "y", None]],
              [["append", "x", 1], ["r", "y", [1]]], "ok", call=0, ret=2),
    Operation(1, 1, "txn", None, [["append", "y", 1], ["r", "x", None]],
              [["append", "y", 1], ["r", "x", [1]]], "ok", call=1, ret=3),
    Operation(2, 0, "txn", None, [["r", "x", None]], [["r", "x", [1]]], "ok", call=4, ret=5),
))

G1C_VERDICT = Verdict(
    valid=False,
    model="list-append",
    consistency=("serializable",),
    anomalies=(Anomaly(
        "G1c", (0, 1),
        "Let T0 = op 0 and T1 = op 1. T1 read x = [1], the append of T0 (wr), and T0 "
        "read y = [1], the append of T1 (wr): each saw the other's write, a cycle of "
        "write-read dependencies (G1c).",
        {"cycle": [
            {"from": 0, "to": 1, "kind": "wr", "key": "x", "from_value": 1, "to_value": [1]},
            {"from": 1, "to": 0, "kind": "wr", "key": "y", "from_value": 1, "to_value": [1]},
        ], "scc_size": 2}),),
    ruled_out=frozenset({"read-committed", "read-atomic", "repeatable-read",
                         "snapshot-isolation", "serializable", "strict-serializable"}),
    still_possible=frozenset({"read-uncommitted"}),
    counterexample={"type": "G1c", "ops": [0, 1]},
    stats=Stats(operations=3, seconds=0.0031, states=4),
)

G1C = Counterexample(
    property="concurrent-histories-under-faults",
    guarantee="serializable-transactions",
    explanation="Two transactions each read the other's append: no serial order "
                "explains them (observed, not claimed).",
    steps=(
        "client 0: transaction [append x 1, read y] (ok, read y = [1])",
        "client 1: transaction [append y 1, read x] (ok, read x = [1])",
        "client 0: transaction [read x] (ok, read x = [1])",
    ),
    decisions=None,
    history=G1C_HISTORY,
    verdict=G1C_VERDICT,
)

DYNAMODB_CLAIMS = ("linearizable-strong-reads", "linearizable-conditional-writes",
                   "serializable-transactions", "atomic-transactions", "read-your-writes",
                   "monotonic-reads", "convergence", "stream-exactly-once",
                   "stream-item-order")

DYNAMODB = StoreOutcome(
    target="dynamodb",
    name="dynamodb (leader mode)",
    claims=DYNAMODB_CLAIMS,
    properties=(
        PropertyRun("sequential-model-conformance", "passed",
                    ("linearizable-strong-reads", "linearizable-conditional-writes",
                     "serializable-transactions", "atomic-transactions"),
                    examples=100, seconds=3.214),
        PropertyRun("concurrent-histories-under-faults", "failed",
                    ("linearizable-strong-reads", "read-your-writes", "convergence"),
                    reason="linearizable-strong-reads violated: a strong read returned a "
                           "stale value",
                    examples=48, seconds=4.75, counterexample=STALE_READ),
    ),
    cells=_cells(DYNAMODB_CLAIMS, {
        "linearizable-strong-reads": {"holds": 147, "violated": 1},
        "linearizable-conditional-writes": {"holds": 148},
        "serializable-transactions": {"holds": 140, "not-applicable": 8},
        "atomic-transactions": {"holds": 140, "not-applicable": 8},
        "read-your-writes": {"holds": 48},
        "monotonic-reads": {"holds": 48},
        "convergence": {"holds": 46, "unknown": 2},
        "stream-exactly-once": {"holds": 12, "not-applicable": 36},
        "stream-item-order": {"holds": 12, "not-applicable": 36},
    }, {
        "vector-clock-order": "dynamodb lacks the capability versions",
        "merkle-root-iff-equal": "dynamodb lacks the capability anti-entropy",
        "convergence": "the convergence checker reached its time limit on 2 examples",
    }),
)

KV_CLAIMS = ("read-your-writes", "convergence", "anti-entropy-exact")

KV = StoreOutcome(
    target="examples.kv:make_store",
    name="kv-example",
    claims=KV_CLAIMS,
    properties=(
        PropertyRun("sequential-model-conformance", "skipped",
                    ("linearizable-strong-reads", "linearizable-conditional-writes",
                     "serializable-transactions", "atomic-transactions"),
                    reason="not applicable: kv-example claims none of "
                           "linearizable-strong-reads, linearizable-conditional-writes, "
                           "serializable-transactions, atomic-transactions"),
        PropertyRun("concurrent-histories-under-faults", "passed",
                    ("read-your-writes", "convergence", "serializable-transactions"),
                    examples=31, seconds=2.5),
    ),
    cells=_cells(KV_CLAIMS, {
        "serializable-transactions": {"holds": 30, "observed": 1},
        "read-your-writes": {"holds": 31},
        "monotonic-reads": {"holds": 31},
        "convergence": {"holds": 31},
        "vector-clock-order": {"holds": 31},
        "anti-entropy-exact": {"holds": 31},
    }, {}),
    observations=(G1C,),
)

GOLDEN_OUTCOME = SuiteOutcome(profile="ci", stores=(DYNAMODB, KV), seconds=12.5,
                              started="2025-01-02T03:04:05Z")
"""The outcome the golden files render."""


def long_history(operations: int = 1000, clients: int = 8, seed: int = 7) -> History:
    """``operations`` get/put operations of ``clients`` concurrent clients on five keys,
    interleaved by a seeded random choice: mostly ok, some fail, about 1% indeterminate
    (the client goes on as a fresh process, as in Jepsen); the last few never complete."""
    rng = random.Random(seed)
    records: list[Record] = []
    active = list(range(clients))
    pending: dict[int, Record] = {}
    fresh = clients
    invoked = 0
    while invoked < operations or len(pending) > 3:
        process = rng.choice(active)
        index = len(records)
        if process in pending:
            call = pending.pop(process)
            roll = rng.random()
            if roll < 0.01:
                records.append(Record(process, "info", call.f, None, call.key, index,
                                      error="timed-out"))
                active[active.index(process)] = fresh
                fresh += 1
            elif roll < 0.1:
                records.append(Record(process, "fail", call.f, call.value, call.key, index,
                                      error="condition-failed"))
            else:
                value = rng.randrange(100) if call.f == "get" else call.value
                records.append(Record(process, "ok", call.f, value, call.key, index))
        elif invoked < operations:
            f = rng.choice(("get", "put"))
            record = Record(process, "invoke", f, None if f == "get" else rng.randrange(100),
                            f"k{rng.randrange(5)}", index)
            pending[process] = record
            records.append(record)
            invoked += 1
    records.append(Record("nemesis", "info", "partition", "majorities-ring", None,
                          len(records) // 2))
    return pair(records, source="long-history")


def long_verdict(history: History) -> Verdict:
    """A verdict on ``history`` naming operations 500 and 501 as not linearizable and
    operations 10, 20 and 30 as a G2-item cycle (a made-up verdict: the renderers'
    input, not a checker's finding)."""
    return Verdict(
        valid=False, model="kv", consistency=("linearizable",),
        anomalies=(
            Anomaly("not-linearizable", (500, 501), "op 500 cannot be placed.", {}),
            Anomaly("G2-item", (10, 20, 30), "a cycle with two rw edges.", {"cycle": [
                {"from": 10, "to": 20, "kind": "rw", "key": "k1"},
                {"from": 20, "to": 30, "kind": "ww", "key": "k2"},
                {"from": 30, "to": 10, "kind": "rw", "key": "k3"},
            ]}),
        ),
        ruled_out=frozenset({"linearizable"}),
        stats=Stats(operations=len(history.operations), seconds=1.0, states=1000),
    )


# In the hostile builders ``w(i)`` is the string of slot i: 0 store target, 1 descriptor
# name, 2 and 3 guarantee names (claimed, observed), 4 and 33 property names, 5 property
# reason, 6 cell reason, 7 explanation, 8 step, 9 model, 10 consistency, 11 anomaly type,
# 12 its explanation, 13 note, 14 ruled out, 15 still possible, 16 and 17 processes, 18
# and 27 functions, 19 key, 20 input, 21 output, 22 error, 23 reproduce, 24 profile, 25
# start time, 26 a cycle's key, 28 to 30 a fault's process, function and value, 31 and
# 32 a skipped record's message and file name (also the checked file's name).

def hostile_history(w: Callable[[int], str]) -> History:
    """Three operations, a fault and a skipped record whose strings are ``w(16)`` to
    ``w(32)`` (the slots listed above)."""
    return History(
        (Operation(0, w(16), w(18), w(19), w(20), None, "ok", call=0, ret=1),
         Operation(1, w(17), w(18), w(19), None, w(21), "ok", call=2, ret=4,
                   error=w(22)),
         Operation(2, w(16), w(27), w(19), w(20), None, "info", call=3, ret=None)),
        faults=(Record(w(28), "info", w(29), w(30), index=5),),
        skipped=(HistoryError(w(31), source=w(32), line=3),))


def hostile_verdict(w: Callable[[int], str]) -> Verdict:
    """A verdict with one cycle anomaly whose strings are ``w(9)`` to ``w(15)`` and
    ``w(26)``."""
    cycle = [{"from": 0, "to": 1, "kind": "wr", "key": w(26)},
             {"from": 1, "to": 0, "kind": "rw", "key": w(26)}]
    return Verdict(False, w(9), (w(10),),
                   (Anomaly(w(11), (0, 1), w(12), {"cycle": cycle}),),
                   ruled_out=frozenset({w(14)}), still_possible=frozenset({w(15)}),
                   notes=(w(13),), stats=Stats(operations=3))


def hostile_outcome(w: Callable[[int], str]) -> SuiteOutcome:
    """One store with a violation and an observation, every string ``w(slot)``."""
    example = Counterexample(w(4), w(2), w(7), steps=(w(8), w(8)), decisions=2,
                             history=hostile_history(w), verdict=hostile_verdict(w),
                             schedule={"schema": 1}, reproduce=w(23))
    observation = Counterexample(w(4), w(3), w(7), steps=(w(8),),
                                 history=hostile_history(w), verdict=hostile_verdict(w))
    store = StoreOutcome(
        w(0), w(1), (w(2),),
        (PropertyRun(w(4), "failed", (w(2),), w(5), examples=1, counterexample=example),
         PropertyRun(w(33), "skipped", (w(3),), w(5))),
        (Cell(w(2), "violated", True, {"violated": 1}, w(6)),
         Cell(w(3), "observed", False, {"observed": 1}, w(6))),
        observations=(observation,))
    return SuiteOutcome(w(24), (store,), seconds=1.0, started=w(25))
