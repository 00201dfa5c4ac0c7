"""z3 proofs of the Merkle-tree laws that anti-entropy relies on.

The model: two complete trees A and B of the same fan-out and depth, whose buckets
(leaves) hold arbitrary contents (integers standing for a bucket's canonical
entries). A bucket's hash is ``HL(content)`` and an inner node's hash is
``H(child_0, ..., child_{k-1})``, where ``HL`` and ``H`` are uninterpreted functions
into an uninterpreted sort of hash values. The ideal hash is injective: for every
application ``t = H(c_0, ..., c_{k-1})`` in the formula we assert ``inv_p(t) = c_p``
for each argument position ``p`` (and ``invL(HL(x)) = x``). These ground instances
are implied by injectivity, so an "unsat" answer proves the law for every injective
hash; and any model of them extends to a fully injective hash over an infinite set
of hash values, so a "sat" answer is a genuine counterexample.

The laws, for every fan-out and depth in the stated bounds:

- ``root-iff-buckets-equal``: ``root(A) = root(B)`` exactly when every bucket of A
  equals the bucket of B at the same position.
- ``diff-exact``: the top-down diff reports a bucket exactly when its contents
  differ, where it reports a bucket iff the hashes of every ancestor (root included)
  differ and the bucket's own hashes differ, i.e. it descends only into differing
  subtrees.

How hashes and the diff are encoded is a parameter (:class:`MerkleEncoding`), so a
deliberately broken encoding can be shown refuted: :data:`NON_INJECTIVE_HASH`,
:data:`ROOT_IGNORES_LAST_CHILD`, :data:`DIFF_STOPS_EARLY`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import z3

from replicheck.models.proofs.result import ProofResult

ROOT_LAW: Final = (
    "Merkle roots are equal exactly when all buckets are equal (injective hash, same shape)"
)
"""The law proved by :func:`prove_root_iff_buckets_equal`."""

DIFF_LAW: Final = (
    "the top-down Merkle diff reports exactly the buckets whose contents differ "
    "(injective hash, same shape)"
)
"""The law proved by :func:`prove_diff_exact`."""

DEFAULT_DEPTHS: Final = (1, 2, 3, 4)
"""The depths every proof covers unless told otherwise."""

_TIMEOUT_MS: Final = 30_000


class HashModel:
    """The z3 hash functions of one proof: ``leaf(content)`` and ``node(children)``.

    Every application is recorded; when ``injective`` is True, :meth:`axioms` returns
    the inverse-function equations that make the hash injective on every recorded
    application; otherwise it returns none (a plain uninterpreted function, which may
    collide).
    """

    def __init__(self, injective: bool) -> None:
        self.injective = injective
        self.sort = z3.DeclareSort("MerkleHash")
        self._leaf_fn = z3.Function("HL", z3.IntSort(), self.sort)
        self._leaf_inverse = z3.Function("HL_inv", self.sort, z3.IntSort())
        self._node_fns: dict[int, Any] = {}
        self._node_inverses: dict[int, list[Any]] = {}
        self._applications: dict[int, tuple[Any, Any, tuple[Any, ...]]] = {}

    def leaf(self, content: z3.ArithRef) -> z3.ExprRef:
        """The hash of a bucket with this content."""
        term = self._leaf_fn(content)
        self._applications[term.get_id()] = (term, None, (content,))
        return term

    def node(self, children: Sequence[z3.ExprRef]) -> z3.ExprRef:
        """The hash of an inner node with these child hashes (any number >= 1)."""
        arity = len(children)
        if arity < 1:
            raise ValueError("an inner node hashes at least one child")
        if arity not in self._node_fns:
            self._node_fns[arity] = z3.Function(f"H{arity}", *([self.sort] * (arity + 1)))
            self._node_inverses[arity] = [
                z3.Function(f"H{arity}_inv{p}", self.sort, self.sort) for p in range(arity)
            ]
        term = self._node_fns[arity](*children)
        self._applications[term.get_id()] = (term, arity, tuple(children))
        return term

    def axioms(self) -> list[z3.BoolRef]:
        """The injectivity equations for every application made so far (none when the
        hash is not injective)."""
        if not self.injective:
            return []
        equations = []
        for term, arity, arguments in self._applications.values():
            if arity is None:
                equations.append(self._leaf_inverse(term) == arguments[0])
            else:
                inverses = self._node_inverses[arity]
                equations.extend(inverses[p](term) == arg for p, arg in enumerate(arguments))
        return equations


NodeCombiner = Callable[[HashModel, int, tuple[Any, ...]], Any]
"""How an inner node's hash is made: ``(hashes, level, child hashes) -> node hash``
(level 0 is the root)."""

DiffRule = Callable[[Sequence[Any], Any], Any]
"""When the diff reports a bucket: ``(ancestors_differ, bucket_differs) -> z3 Bool``,
where ``ancestors_differ`` holds one z3 Bool per ancestor, root first."""


def hash_all_children(hashes: HashModel, level: int, children: tuple[Any, ...]) -> Any:
    """The correct combiner: a node's hash is the hash of all its children, in order."""
    return hashes.node(children)


def report_when_path_differs(ancestors_differ: Sequence[Any], bucket_differs: Any) -> Any:
    """The correct diff rule: report a bucket iff every ancestor differs and the
    bucket itself differs."""
    return z3.And(*ancestors_differ, bucket_differs)


@dataclass(frozen=True)
class MerkleEncoding:
    """How a proof encodes hashing, tree shape and the diff decision in z3.

    ``injective_hash`` asserts injectivity of the hash on every application;
    ``combine`` makes an inner node's hash from its children; ``report`` decides
    whether the diff reports a bucket. :data:`CORRECT` is the encoding of
    ``replicheck.models.merkle``; other values let tests show broken variants refuted.
    """

    name: str
    injective_hash: bool = True
    combine: NodeCombiner = hash_all_children
    report: DiffRule = report_when_path_differs


def _root_ignores_last_child(hashes: HashModel, level: int, children: tuple[Any, ...]) -> Any:
    return hashes.node(children[:-1] if level == 0 else children)


def _report_without_bucket_check(ancestors_differ: Sequence[Any], bucket_differs: Any) -> Any:
    return z3.And(*ancestors_differ)


CORRECT: Final = MerkleEncoding("correct")
"""Injective hash over all children; the diff compares every node on the path."""

NON_INJECTIVE_HASH: Final = MerkleEncoding("hash not injective", injective_hash=False)
"""Broken: the hash is a plain uninterpreted function, so it may collide."""

ROOT_IGNORES_LAST_CHILD: Final = MerkleEncoding(
    "root ignores its last child", combine=_root_ignores_last_child
)
"""Broken: the root's hash leaves out its last child."""

DIFF_STOPS_EARLY: Final = MerkleEncoding(
    "diff stops one level early", report=_report_without_bucket_check
)
"""Broken: the diff reports every bucket under a differing parent without comparing
the buckets' own hashes."""


@dataclass(frozen=True)
class _Trees:
    fanout: int
    depth: int
    buckets_a: tuple[Any, ...]
    buckets_b: tuple[Any, ...]
    levels_a: tuple[tuple[Any, ...], ...]
    levels_b: tuple[tuple[Any, ...], ...]
    reported: tuple[Any, ...]
    axioms: tuple[Any, ...]


def _build(fanout: int, depth: int, encoding: MerkleEncoding) -> _Trees:
    hashes = HashModel(encoding.injective_hash)
    count = fanout**depth
    buckets_a = tuple(z3.Int(f"a{i}") for i in range(count))
    buckets_b = tuple(z3.Int(f"b{i}") for i in range(count))

    def levels(buckets: tuple[Any, ...]) -> tuple[tuple[Any, ...], ...]:
        current = tuple(hashes.leaf(content) for content in buckets)
        result = [current]
        for level in range(depth - 1, -1, -1):
            current = tuple(
                encoding.combine(hashes, level, current[j * fanout : (j + 1) * fanout])
                for j in range(len(current) // fanout)
            )
            result.append(current)
        result.reverse()
        return tuple(result)

    levels_a, levels_b = levels(buckets_a), levels(buckets_b)
    reported = []
    for leaf in range(count):
        ancestors = [
            levels_a[level][leaf // fanout ** (depth - level)]
            != levels_b[level][leaf // fanout ** (depth - level)]
            for level in range(depth)
        ]
        bucket_differs = levels_a[depth][leaf] != levels_b[depth][leaf]
        reported.append(encoding.report(ancestors, bucket_differs))
    return _Trees(
        fanout,
        depth,
        buckets_a,
        buckets_b,
        levels_a,
        levels_b,
        tuple(reported),
        tuple(hashes.axioms()),
    )


def _root_law(trees: _Trees) -> Any:
    all_equal = z3.And(*(a == b for a, b in zip(trees.buckets_a, trees.buckets_b, strict=True)))
    return (trees.levels_a[0][0] == trees.levels_b[0][0]) == all_equal


def _diff_law(trees: _Trees) -> Any:
    return z3.And(
        *(
            reported == (a != b)
            for reported, a, b in zip(trees.reported, trees.buckets_a, trees.buckets_b, strict=True)
        )
    )


def _render(trees: _Trees, model: Any) -> str:
    def value(term: Any) -> str:
        return str(model.eval(term, model_completion=True))

    def truth(term: Any) -> bool:
        return bool(z3.is_true(model.eval(term, model_completion=True)))

    a = [value(x) for x in trees.buckets_a]
    b = [value(x) for x in trees.buckets_b]
    roots_equal = truth(trees.levels_a[0][0] == trees.levels_b[0][0])
    differing = [i for i in range(len(a)) if a[i] != b[i]]
    reported = [i for i, r in enumerate(trees.reported) if truth(r)]
    return (
        f"fan-out {trees.fanout}, depth {trees.depth}: buckets of A = [{', '.join(a)}], "
        f"buckets of B = [{', '.join(b)}]; roots equal: {roots_equal}; "
        f"differing buckets: {differing}; buckets the diff reports: {reported}"
    )


def _prove(
    law: str,
    statement: Callable[[_Trees], Any],
    fanout: int,
    depths: Iterable[int],
    encoding: MerkleEncoding,
) -> ProofResult:
    if isinstance(fanout, bool) or not isinstance(fanout, int) or fanout < 2:
        raise ValueError(f"fan-out must be an int >= 2, got {fanout!r}")
    depth_list = tuple(depths)
    if not depth_list or any(
        isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in depth_list
    ):
        raise ValueError(f"depths must be ints >= 1, got {depth_list!r}")
    started = time.perf_counter()
    details: list[str] = []
    status = "unsat"
    counterexample: str | None = None
    for depth in depth_list:
        depth_started = time.perf_counter()
        trees = _build(fanout, depth, encoding)
        solver = z3.Solver()
        solver.set(timeout=_TIMEOUT_MS)
        solver.add(*trees.axioms)
        solver.add(z3.Not(statement(trees)))
        answer = str(solver.check())
        details.append(
            f"depth {depth} ({fanout**depth} buckets): {answer} "
            f"in {time.perf_counter() - depth_started:.3f} s"
        )
        if answer == "sat":
            status = "sat"
            counterexample = _render(trees, solver.model())
            break
        if answer != "unsat":
            status = "unknown"
    bounds = (
        f"complete trees of fan-out {fanout}, depths {', '.join(map(str, depth_list))}; "
        f"encoding: {encoding.name}"
    )
    return ProofResult(
        law=law,
        proved=status == "unsat",
        status=status,
        bounds=bounds,
        counterexample=counterexample,
        seconds=time.perf_counter() - started,
        details=tuple(details),
    )


def prove_root_iff_buckets_equal(
    fanout: int = 2,
    depths: Iterable[int] = DEFAULT_DEPTHS,
    encoding: MerkleEncoding = CORRECT,
) -> ProofResult:
    """Whether, for every depth in ``depths``, two complete trees of this fan-out have
    equal roots exactly when all their buckets are equal, under ``encoding``.

    Proved ("unsat") for :data:`CORRECT`; a "sat" result carries the two trees' buckets
    as the counterexample. ``ValueError`` for fan-out < 2 or a depth < 1.
    """
    return _prove(ROOT_LAW, _root_law, fanout, depths, encoding)


def prove_diff_exact(
    fanout: int = 2,
    depths: Iterable[int] = DEFAULT_DEPTHS,
    encoding: MerkleEncoding = CORRECT,
) -> ProofResult:
    """Whether, for every depth in ``depths``, the top-down diff of two complete trees
    of this fan-out reports exactly the buckets whose contents differ, under
    ``encoding``.

    Proved ("unsat") for :data:`CORRECT`; a "sat" result carries the buckets, the
    differing ones and the reported ones as the counterexample. ``ValueError`` for
    fan-out < 2 or a depth < 1.
    """
    return _prove(DIFF_LAW, _diff_law, fanout, depths, encoding)


def all_merkle_proofs() -> list[ProofResult]:
    """The Merkle laws under the correct encoding, for fan-outs 2 and 3 and depths 1
    to 4: one result per law and fan-out."""
    return [
        prove(fanout)
        for prove in (prove_root_iff_buckets_equal, prove_diff_exact)
        for fanout in (2, 3)
    ]
