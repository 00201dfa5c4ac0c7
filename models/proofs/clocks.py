"""z3 proofs of the laws of vector clocks and last-writer-wins registers.

Each ``prove_*`` function states one law, asserts its negation to z3 and reports the
answer as a ``ProofResult``: "unsat" means the law holds for every input within the
bounds; "sat" means z3 found inputs that break it, given as text in the result's
``counterexample``.

Vector-clock laws are proved for symbolic clocks of every dimension (number of
replicas) from 1 to 8, with unbounded integer counters >= 0. A clock of dimension n
is a list of n z3 integer terms, entry i being replica i's counter (a clock that
lacks a replica has 0 there, as ``VectorClock`` normalises).

The definition under proof is a parameter of each function (an *encoding*: a Python
callable that builds z3 terms), defaulting to the encoding of what
``replicheck.models.clocks`` and ``replicheck.models.lww`` compute. Passing a
different encoding checks that definition instead, which is how the tests show that a
wrong definition (merge as pointwise minimum, order by sum of entries, last-writer-wins
ignoring the replica id in ties) is refuted with a counterexample. Each law is judged
against the reference definitions (``pointwise_le``, ``stamp_less``), never against
the encoding under test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import z3

from replicheck.models.clocks import Ordering
from replicheck.models.proofs.result import ProofResult

DIMENSIONS: Final = range(1, 9)
"""The clock dimensions (numbers of replicas) every vector-clock proof covers."""

SOLVER_TIMEOUT_MS: Final = 20_000
"""The longest z3 may think about one dimension of one law before answering unknown."""

CLOCK_BOUNDS: Final = "clock dimensions 1..8; counters unbounded integers >= 0"
"""The bounds every vector-clock proof states in its result."""

LWW_BOUNDS: Final = (
    "timestamps unbounded integers; replica ids any totally ordered set (as integers);"
    " values of an uninterpreted sort; one value per stamp; None below every write"
)
"""The bounds every last-writer-wins proof states in its result."""

Clock = Sequence[z3.ArithRef]
"""A symbolic vector clock: entry i is replica i's counter."""

OrderEncoding = Callable[[Clock, Clock], z3.BoolRef]
"""Builds the z3 formula "a <= b" for two symbolic clocks."""

MergeEncoding = Callable[[Clock, Clock], Sequence[z3.ArithRef]]
"""Builds the symbolic clock "merge(a, b)" (same dimension as its arguments)."""

CompareEncoding = Callable[[Clock, Clock], z3.ArithRef]
"""Builds the z3 integer "compare(a, b)": one of ``ORDERING_CODES``' values."""

ORDERING_CODES: Final[Mapping[Ordering, int]] = {
    Ordering.BEFORE: 0,
    Ordering.AFTER: 1,
    Ordering.EQUAL: 2,
    Ordering.CONCURRENT: 3,
}
"""The integer that stands for each ``Ordering`` in compare encodings."""


# --------------------------------------------------------------------- encodings


def pointwise_le(a: Clock, b: Clock) -> z3.BoolRef:
    """The vector-clock order: ``a <= b`` iff every entry of ``a`` is ``<=`` b's."""
    return z3.And([x <= y for x, y in zip(a, b, strict=True)])


def pointwise_max(a: Clock, b: Clock) -> list[z3.ArithRef]:
    """Merge as ``replicheck.models.clocks.merge`` computes it: the pointwise maximum."""
    return [z3.If(x >= y, x, y) for x, y in zip(a, b, strict=True)]


def compare_code(a: Clock, b: Clock, order: OrderEncoding = pointwise_le) -> z3.ArithRef:
    """``compare(a, b)`` decided as ``replicheck.models.clocks.compare`` decides it:
    EQUAL if both ``a <= b`` and ``b <= a``, else BEFORE if ``a <= b``, else AFTER if
    ``b <= a``, else CONCURRENT (each as its ``ORDERING_CODES`` integer)."""
    a_le_b = order(a, b)
    b_le_a = order(b, a)
    code = ORDERING_CODES
    return z3.If(
        z3.And(a_le_b, b_le_a),
        z3.IntVal(code[Ordering.EQUAL]),
        z3.If(
            a_le_b,
            z3.IntVal(code[Ordering.BEFORE]),
            z3.If(b_le_a, z3.IntVal(code[Ordering.AFTER]), z3.IntVal(code[Ordering.CONCURRENT])),
        ),
    )


@dataclass(frozen=True)
class Register:
    """A symbolic last-writer-wins register: ``present`` is False for ``None`` (the
    empty register); otherwise it holds ``value`` stamped (``timestamp``, ``replica``),
    the replica id encoded as an integer rank."""

    present: z3.BoolRef
    timestamp: z3.ArithRef
    replica: z3.ArithRef
    value: z3.ExprRef


StampOrderEncoding = Callable[[Register, Register], z3.BoolRef]
"""Builds "a's stamp < b's stamp" for two present registers."""

LWWMergeEncoding = Callable[[Register, Register], Register]
"""Builds the symbolic register "merge(a, b)"."""


def stamp_less(a: Register, b: Register) -> z3.BoolRef:
    """The stamp order of ``replicheck.models.lww``: by timestamp, ties by replica id."""
    return z3.Or(
        a.timestamp < b.timestamp,
        z3.And(a.timestamp == b.timestamp, a.replica < b.replica),
    )


def lww_merge_by(less: StampOrderEncoding) -> LWWMergeEncoding:
    """The last-writer-wins merge that keeps the greater register under ``less``, as
    ``replicheck.models.lww.merge`` does: an empty side yields the other side; else
    ``b`` when ``a < b``, otherwise ``a``."""

    def merge(a: Register, b: Register) -> Register:
        def pick(x: z3.ExprRef, y: z3.ExprRef) -> z3.ExprRef:
            return z3.If(z3.Not(a.present), y, z3.If(z3.Not(b.present), x, z3.If(less(a, b), y, x)))

        return Register(
            present=z3.Or(a.present, b.present),
            timestamp=pick(a.timestamp, b.timestamp),
            replica=pick(a.replica, b.replica),
            value=pick(a.value, b.value),
        )

    return merge


lww_merge: Final = lww_merge_by(stamp_less)
"""The encoding of ``replicheck.models.lww.merge``."""


# ----------------------------------------------------------------------- helpers


def _clock(name: str, n: int) -> list[z3.ArithRef]:
    return [z3.Int(f"{name}{i}") for i in range(n)]


def _non_negative(*clocks: Clock) -> list[z3.BoolRef]:
    return [x >= 0 for clock in clocks for x in clock]


def _same(a: Sequence[z3.ArithRef], b: Sequence[z3.ArithRef]) -> z3.BoolRef:
    return z3.And([x == y for x, y in zip(a, b, strict=True)])


_Shown = tuple[tuple[str, Callable[[z3.ModelRef], str]], ...]


@dataclass(frozen=True)
class _Case:
    """One solver query: the law's negation (with its domain) for one dimension."""

    label: str
    assertions: tuple[z3.BoolRef, ...]
    shown: _Shown


def _show_clock(terms: Clock) -> Callable[[z3.ModelRef], str]:
    def show(model: z3.ModelRef) -> str:
        entries = ", ".join(str(model.eval(t, model_completion=True)) for t in terms)
        return f"({entries})"

    return show


def _show_register(reg: Register) -> Callable[[z3.ModelRef], str]:
    def show(model: z3.ModelRef) -> str:
        if z3.is_false(model.eval(reg.present, model_completion=True)):
            return "None"
        t, r, v = (
            model.eval(x, model_completion=True) for x in (reg.timestamp, reg.replica, reg.value)
        )
        return f"Stamped(value={v}, timestamp={t}, replica=<rank {r}>)"

    return show


def _decide(law: str, bounds: str, cases: Iterable[_Case]) -> ProofResult:
    """Ask z3 each case in turn; the law is proved when every negation is unsat."""
    start = time.perf_counter()
    details: list[str] = []
    unknown = False
    for case in cases:
        solver = z3.Solver()
        solver.set("timeout", SOLVER_TIMEOUT_MS)
        solver.add(*case.assertions)
        answer = solver.check()
        if answer == z3.sat:
            model = solver.model()
            values = " ".join(f"{name}={show(model)}" for name, show in case.shown)
            details.append(f"{case.label}: sat")
            return ProofResult(
                law=law,
                proved=False,
                status="sat",
                bounds=bounds,
                counterexample=f"{case.label}: {values}",
                seconds=time.perf_counter() - start,
                details=tuple(details),
            )
        if answer == z3.unknown:
            unknown = True
            details.append(f"{case.label}: unknown ({solver.reason_unknown()})")
        else:
            details.append(f"{case.label}: unsat")
    return ProofResult(
        law=law,
        proved=not unknown,
        status="unknown" if unknown else "unsat",
        bounds=bounds,
        counterexample=None,
        seconds=time.perf_counter() - start,
        details=tuple(details),
    )


def _clock_law(
    law: str,
    dimensions: Iterable[int],
    names: str,
    negation: Callable[..., z3.BoolRef],
) -> ProofResult:
    """Prove ``law`` for every dimension: ``negation`` receives one symbolic clock per
    letter of ``names`` (all counters >= 0) and returns the law's negation."""

    dims = sorted(set(dimensions))
    if any(n < 1 for n in dims):
        raise ValueError(f"clock dimensions must be >= 1, got {dims}")
    if not dims:
        raise ValueError("no clock dimension to prove the law for")
    if dims == list(DIMENSIONS):
        bounds = CLOCK_BOUNDS
    else:
        shown = ", ".join(str(n) for n in dims)
        bounds = f"clock dimensions {shown}; counters unbounded integers >= 0"

    def cases() -> Iterator[_Case]:
        for n in dims:
            clocks = [_clock(name, n) for name in names]
            yield _Case(
                label=f"dimension {n}",
                assertions=(*_non_negative(*clocks), negation(*clocks)),
                shown=tuple((name, _show_clock(c)) for name, c in zip(names, clocks, strict=True)),
            )

    return _decide(law, bounds, cases())


# ------------------------------------------------------------------ 1. the order


def prove_order_reflexive(
    order: OrderEncoding = pointwise_le, *, dimensions: Iterable[int] = DIMENSIONS
) -> ProofResult:
    """Proves ``a <= a`` for every clock ``a``."""
    return _clock_law(
        "vector-clock order is reflexive", dimensions, "a", lambda a: z3.Not(order(a, a))
    )


def prove_order_antisymmetric(
    order: OrderEncoding = pointwise_le, *, dimensions: Iterable[int] = DIMENSIONS
) -> ProofResult:
    """Proves that ``a <= b`` and ``b <= a`` hold together only when ``a == b``."""
    return _clock_law(
        "vector-clock order is antisymmetric",
        dimensions,
        "ab",
        lambda a, b: z3.And(order(a, b), order(b, a), z3.Not(_same(a, b))),
    )


def prove_order_transitive(
    order: OrderEncoding = pointwise_le, *, dimensions: Iterable[int] = DIMENSIONS
) -> ProofResult:
    """Proves that ``a <= b`` and ``b <= c`` imply ``a <= c``."""
    return _clock_law(
        "vector-clock order is transitive",
        dimensions,
        "abc",
        lambda a, b, c: z3.And(order(a, b), order(b, c), z3.Not(order(a, c))),
    )


# ------------------------------------------------------------------ 2. the merge


def prove_merge_upper_bound(
    merge: MergeEncoding = pointwise_max, *, dimensions: Iterable[int] = DIMENSIONS
) -> ProofResult:
    """Proves ``a <= merge(a, b)`` and ``b <= merge(a, b)`` (in the pointwise order)."""

    def negation(a: Clock, b: Clock) -> z3.BoolRef:
        m = merge(a, b)
        return z3.Not(z3.And(pointwise_le(a, m), pointwise_le(b, m)))

    return _clock_law("vector-clock merge is an upper bound", dimensions, "ab", negation)


def prove_merge_least(
    merge: MergeEncoding = pointwise_max, *, dimensions: Iterable[int] = DIMENSIONS
) -> ProofResult:
    """Proves that ``merge(a, b) <= c`` for every upper bound ``c`` of ``a`` and ``b``."""

    def negation(a: Clock, b: Clock, c: Clock) -> z3.BoolRef:
        return z3.And(pointwise_le(a, c), pointwise_le(b, c), z3.Not(pointwise_le(merge(a, b), c)))

    return _clock_law("vector-clock merge is below every upper bound", dimensions, "abc", negation)


def prove_merge_commutative(
    merge: MergeEncoding = pointwise_max, *, dimensions: Iterable[int] = DIMENSIONS
) -> ProofResult:
    """Proves ``merge(a, b) == merge(b, a)``."""
    return _clock_law(
        "vector-clock merge is commutative",
        dimensions,
        "ab",
        lambda a, b: z3.Not(_same(merge(a, b), merge(b, a))),
    )


def prove_merge_associative(
    merge: MergeEncoding = pointwise_max, *, dimensions: Iterable[int] = DIMENSIONS
) -> ProofResult:
    """Proves ``merge(merge(a, b), c) == merge(a, merge(b, c))``."""
    return _clock_law(
        "vector-clock merge is associative",
        dimensions,
        "abc",
        lambda a, b, c: z3.Not(_same(merge(merge(a, b), c), merge(a, merge(b, c)))),
    )


def prove_merge_idempotent(
    merge: MergeEncoding = pointwise_max, *, dimensions: Iterable[int] = DIMENSIONS
) -> ProofResult:
    """Proves ``merge(a, a) == a``."""
    return _clock_law(
        "vector-clock merge is idempotent",
        dimensions,
        "a",
        lambda a: z3.Not(_same(merge(a, a), a)),
    )


# ---------------------------------------------------------------- 3. the compare


def prove_compare_exactly_one(
    compare: CompareEncoding = compare_code, *, dimensions: Iterable[int] = DIMENSIONS
) -> ProofResult:
    """Proves that ``compare(a, b)`` is always one of the four outcomes (the outcomes'
    codes are distinct, so it is exactly one)."""
    outcomes = sorted(set(ORDERING_CODES.values()))
    return _clock_law(
        "vector-clock compare returns exactly one of BEFORE, AFTER, EQUAL, CONCURRENT",
        dimensions,
        "ab",
        lambda a, b: z3.And([compare(a, b) != code for code in outcomes]),
    )


def prove_compare_matches_order(
    compare: CompareEncoding = compare_code, *, dimensions: Iterable[int] = DIMENSIONS
) -> ProofResult:
    """Proves that ``compare(a, b)`` is BEFORE iff only ``a <= b``, AFTER iff only
    ``b <= a``, EQUAL iff ``a == b``, and CONCURRENT iff neither ``<=`` holds."""

    def negation(a: Clock, b: Clock) -> z3.BoolRef:
        outcome = compare(a, b)
        a_le_b = pointwise_le(a, b)
        b_le_a = pointwise_le(b, a)

        def said(ordering: Ordering) -> z3.BoolRef:
            return outcome == ORDERING_CODES[ordering]

        law = z3.And(
            said(Ordering.BEFORE) == z3.And(a_le_b, z3.Not(b_le_a)),
            said(Ordering.AFTER) == z3.And(b_le_a, z3.Not(a_le_b)),
            said(Ordering.EQUAL) == _same(a, b),
            said(Ordering.CONCURRENT) == z3.And(z3.Not(a_le_b), z3.Not(b_le_a)),
        )
        return z3.Not(law)

    return _clock_law("vector-clock compare agrees with the order", dimensions, "ab", negation)


# -------------------------------------------------------- 4. last writer wins


def _registers(names: str) -> list[Register]:
    value_sort = z3.DeclareSort("Value")
    return [
        Register(
            present=z3.Bool(f"{name}_present"),
            timestamp=z3.Int(f"{name}_timestamp"),
            replica=z3.Int(f"{name}_replica"),
            value=z3.Const(f"{name}_value", value_sort),
        )
        for name in names
    ]


def _same_register(a: Register, b: Register) -> z3.BoolRef:
    return z3.Or(
        z3.And(z3.Not(a.present), z3.Not(b.present)),
        z3.And(
            a.present,
            b.present,
            a.timestamp == b.timestamp,
            a.replica == b.replica,
            a.value == b.value,
        ),
    )


def _one_value_per_stamp(registers: Sequence[Register]) -> list[z3.BoolRef]:
    """Stamps name writes: two present registers with one stamp hold one value."""
    return [
        z3.Implies(
            z3.And(a.present, b.present, a.timestamp == b.timestamp, a.replica == b.replica),
            a.value == b.value,
        )
        for i, a in enumerate(registers)
        for b in registers[i + 1 :]
    ]


def _lww_law(law: str, names: str, negation: Callable[..., z3.BoolRef]) -> ProofResult:
    registers = _registers(names)
    case = _Case(
        label="registers",
        assertions=(*_one_value_per_stamp(registers), negation(*registers)),
        shown=tuple((n, _show_register(r)) for n, r in zip(names, registers, strict=True)),
    )
    return _decide(law, LWW_BOUNDS, [case])


def prove_lww_total_order(less: StampOrderEncoding = stamp_less) -> ProofResult:
    """Proves the stamp order strict and total: never ``a < a``; ``a < b < c`` implies
    ``a < c``; of two different stamps, one is below the other."""

    def negation(a: Register, b: Register, c: Register) -> z3.BoolRef:
        different = z3.Or(a.timestamp != b.timestamp, a.replica != b.replica)
        return z3.Or(
            less(a, a),
            z3.And(less(a, b), less(b, c), z3.Not(less(a, c))),
            z3.And(different, z3.Not(less(a, b)), z3.Not(less(b, a))),
        )

    return _lww_law("last-writer-wins stamps are totally ordered", "abc", negation)


def prove_lww_commutative(merge: LWWMergeEncoding = lww_merge) -> ProofResult:
    """Proves ``merge(a, b) == merge(b, a)`` for registers with unique stamps."""
    return _lww_law(
        "last-writer-wins merge is commutative",
        "ab",
        lambda a, b: z3.Not(_same_register(merge(a, b), merge(b, a))),
    )


def prove_lww_associative(merge: LWWMergeEncoding = lww_merge) -> ProofResult:
    """Proves ``merge(merge(a, b), c) == merge(a, merge(b, c))``."""
    return _lww_law(
        "last-writer-wins merge is associative",
        "abc",
        lambda a, b, c: z3.Not(_same_register(merge(merge(a, b), c), merge(a, merge(b, c)))),
    )


def prove_lww_idempotent(merge: LWWMergeEncoding = lww_merge) -> ProofResult:
    """Proves ``merge(a, a) == a``."""
    return _lww_law(
        "last-writer-wins merge is idempotent",
        "a",
        lambda a: z3.Not(_same_register(merge(a, a), a)),
    )


def prove_lww_picks_greater(merge: LWWMergeEncoding = lww_merge) -> ProofResult:
    """Proves that ``merge(a, b)`` is ``b`` when ``b`` is greater (``a`` empty, or
    ``a``'s stamp below ``b``'s in the (timestamp, replica) order) and ``a`` otherwise."""

    def negation(a: Register, b: Register) -> z3.BoolRef:
        b_greater = z3.And(b.present, z3.Or(z3.Not(a.present), stamp_less(a, b)))
        expected_b = _same_register(merge(a, b), b)
        expected_a = _same_register(merge(a, b), a)
        return z3.Not(z3.If(b_greater, expected_b, expected_a))

    return _lww_law("last-writer-wins merge keeps the greater stamp", "ab", negation)


# ------------------------------------------------------------------------- all


def all_clock_proofs() -> list[ProofResult]:
    """Every law of vector clocks and last-writer-wins registers, proved for the
    definitions replicheck uses, in a fixed order."""
    return [
        prove_order_reflexive(),
        prove_order_antisymmetric(),
        prove_order_transitive(),
        prove_merge_upper_bound(),
        prove_merge_least(),
        prove_merge_commutative(),
        prove_merge_associative(),
        prove_merge_idempotent(),
        prove_compare_exactly_one(),
        prove_compare_matches_order(),
        prove_lww_total_order(),
        prove_lww_commutative(),
        prove_lww_associative(),
        prove_lww_idempotent(),
        prove_lww_picks_greater(),
    ]
