"""The consistency-model lattice and the anomalies each model forbids, as data.

Names are exactly those of CONTRACTS.md section 4 (Jepsen Elle's names). The data is
Elle's ``elle.consistency-model`` graph (jepsen-io/elle, src/elle/consistency_model.clj)
restricted to the models and anomalies named here: where Elle reaches one of our
models from another through models we do not name (cursor stability, monotonic atomic
view, parallel snapshot isolation, prefix, ...), the path becomes one direct edge here,
and each comment cites the sources Elle gives for the path. Three kinds of fact:

- ``IMPLIES``: model ``a`` directly implies model ``b`` (every history ``a`` allows,
  ``b`` allows). ``implies`` is its reflexive-transitive closure, a partial order.
- ``FORBIDS``: the anomalies a model forbids beyond what the models it implies forbid.
- ``ANOMALY_IMPLIES``: anomaly ``x`` implies anomaly ``y`` (a history exhibiting ``x``
  exhibits ``y`` too; e.g. a lost update is a G2-item cycle).

A model forbids an anomaly when it, or a model it implies, forbids directly an anomaly
that the first one implies. An anomaly rules out every model that forbids it.

Every function validates its names: an unknown one raises ``ValueError`` listing the
known names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

# ---------------------------------------------------------------------------------------
# Names

MODELS: Final[frozenset[str]] = frozenset(
    {
        "linearizable",
        "sequential",
        "causal",
        "PRAM",
        "read-your-writes",
        "monotonic-reads",
        "monotonic-writes",
        "writes-follow-reads",
        "eventual",
        "read-uncommitted",
        "read-committed",
        "read-atomic",
        "repeatable-read",
        "snapshot-isolation",
        "serializable",
        "strict-serializable",
        "strong-session-serializable",
    }
)
"""Every consistency model the lattice knows, by its contract name."""

TRANSACTIONAL: Final[tuple[str, ...]] = (
    "read-uncommitted", "read-committed", "read-atomic", "repeatable-read",
    "snapshot-isolation", "serializable", "strong-session-serializable",
    "strict-serializable",
)
"""The transactional models: those the list-append and rw-register checkers decide
(weakest first)."""

CYCLE_ANOMALIES: Final[tuple[str, ...]] = (
    "G0", "G1c", "G-single", "G-nonadjacent", "G2-item", "G2")
"""The dependency-cycle anomalies that also come in ``-process`` and ``-realtime``
variants (the cycle uses process-order or real-time edges besides ww/wr/rw)."""

ANOMALIES: Final[frozenset[str]] = frozenset(
    {
        "G0",
        "G1a",
        "G1b",
        "G1c",
        "G-single",
        "G-nonadjacent",
        "G2-item",
        "G2",
        "lost-update",
        "internal",
        "dirty-update",
        "duplicate-elements",
        "incompatible-order",
        "future-read",
        "cyclic-versions",
        "garbage-read",
        "stale-read",
        "not-linearizable",
    }
    | {f"{a}-{kind}" for a in CYCLE_ANOMALIES for kind in ("process", "realtime")}
)
"""Every anomaly the lattice knows, by its contract name."""


def _frozen(edges: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType({k: frozenset(v) for k, v in edges.items()})


# ---------------------------------------------------------------------------------------
# Models: direct implications (a transitive reduction; tests check it is one)

IMPLIES: Final[Mapping[str, frozenset[str]]] = _frozen(
    {
        # Elle: strict-serializable -> serializable (Bailis), linearizable (Bailis),
        # snapshot-isolation (Adya), strong-session-serializable (Daudjee). Serializable
        # and snapshot isolation follow through strong-session-serializable.
        "strict-serializable": {"strong-session-serializable", "linearizable"},
        # Elle: strong-session-serializable -> serializable (Daudjee).
        "strong-session-serializable": {"serializable"},
        # Elle: serializable (PL-3) -> repeatable-read (Adya, SQL), snapshot-isolation
        # (Bailis, Cerone). Repeatable read and snapshot isolation stay incomparable:
        # write skew separates them one way, internal/future reads the other.
        "serializable": {"repeatable-read", "snapshot-isolation"},
        # Elle: snapshot-isolation -> prefix -> causal-cerone -> read-atomic (Cerone) and
        # snapshot-isolation -> parallel-snapshot-isolation -> ROLA -> read-atomic.
        "snapshot-isolation": {"read-atomic"},
        # Elle: read-atomic -> monotonic-atomic-view (Cerone) -> read-committed (Bailis).
        "read-atomic": {"read-committed"},
        # Elle: repeatable-read -> cursor-stability (Adya) -> read-committed (Bailis), and
        # repeatable-read -> monotonic-atomic-view (Bailis) -> read-committed.
        "repeatable-read": {"read-committed"},
        # Elle: read-committed -> read-uncommitted (SQL; Adya's PL-2 -> PL-1).
        "read-committed": {"read-uncommitted"},
        # Elle (Bailis, "Highly Available Transactions", fig. 2):
        # linearizable -> sequential -> causal -> {writes-follow-reads, PRAM},
        # PRAM -> {monotonic-reads, monotonic-writes, read-your-writes}.
        # UNSURE: Elle has no `eventual`. We place it under linearizable only: a
        # linearizable store's reads after the last write all return it, so replicas
        # converge (Viotti & Vukolić order strong models above eventual consistency).
        # Sequential and causal alone do not promise convergence (a reader may stay on
        # an old prefix forever), so they do not imply it.
        "linearizable": {"sequential", "eventual"},
        "sequential": {"causal"},
        "causal": {"writes-follow-reads", "PRAM"},
        "PRAM": {"monotonic-reads", "monotonic-writes", "read-your-writes"},
    }
)
"""Direct implications between models: ``IMPLIES[a]`` holds the models ``a`` directly
implies. Models without an entry imply only themselves."""


# ---------------------------------------------------------------------------------------
# Models: anomalies forbidden directly (beyond those of the models implied)

FORBIDS: Final[Mapping[str, frozenset[str]]] = _frozen(
    {
        # Elle: PL-1 forbids G0 (Adya), and duplicate-elements and cyclic-versions (Elle:
        # a version order is total; no Adya history has these). Reads no interpretation
        # explains (incompatible orders of one key, a value nobody wrote: garbage-read)
        # fit no Adya history either, so every model forbids them (docs: txn-models,
        # "Reads that no interpretation can explain").
        "read-uncommitted": {"G0", "duplicate-elements", "cyclic-versions",
                             "incompatible-order", "garbage-read"},
        # Elle: PL-2 forbids G1 = G1a + G1b + G1c (Adya).
        "read-committed": {"G1a", "G1b", "G1c"},
        # Elle: read-atomic forbids internal, G1a and future-read (Cerone, incomplete).
        "read-atomic": {"internal", "G1a", "future-read"},
        # Elle: PL-2.99 forbids G1 and G2-item (Adya) and lost-update (Bailis).
        "repeatable-read": {"G1a", "G1b", "G1c", "G2-item", "lost-update"},
        # Elle: snapshot-isolation forbids internal (Cerone), G1 and G-SI (Adya) and
        # G-nonadjacent (Cerone-SI; Elle: G-single implies G-SIb and G-nonadjacent).
        # Lost update: Elle reaches it through parallel-snapshot-isolation -> ROLA (Liu,
        # Ölveczky et al.) and consistent view -> cursor stability (Adya); it is also
        # Berenson et al.'s P4, which snapshot isolation prevents.
        "snapshot-isolation": {"internal", "G1a", "G1b", "G1c", "G-single", "G-nonadjacent",
                               "lost-update"},
        # Elle: PL-3 forbids G1 and G2 (Adya), and internal (Cerone).
        "serializable": {"internal", "G1a", "G1b", "G1c", "G2"},
        # Elle: strong-session-serializable forbids G1-process and G2-process (Daudjee).
        # G1-process is G1c-process here (G1a and G1b have no process variant).
        "strong-session-serializable": {"G1c-process", "G2-process"},
        # Elle: strict-serializable (PL-SS) forbids G1, G1c-realtime, G2-realtime (Adya).
        "strict-serializable": {"G1a", "G1b", "G1c", "G1c-realtime", "G2-realtime"},
        # Single objects: a read that misses a write completed before it began, or any
        # history with no linearization, is what linearizability forbids (Herlihy & Wing).
        "linearizable": {"stale-read", "not-linearizable"},
    }
)
"""Anomalies each model forbids directly; models without an entry forbid none directly
(session guarantees, causal, sequential and eventual are judged by their own checkers,
not by the anomalies named here)."""


# ---------------------------------------------------------------------------------------
# Anomalies: implications (Elle's ``implied-anomalies``, restricted to our names)

ANOMALY_IMPLIES: Final[Mapping[str, frozenset[str]]] = _frozen(
    {
        # Adya: a G0 cycle (ww edges only) is a G1c cycle. Trivially, a cycle is also a
        # cycle once process edges are allowed, and process order is included in real
        # time (processes are single-threaded), so X -> X-process -> X-realtime.
        "G0": {"G1c", "G0-process"},
        "G0-process": {"G1c-process", "G0-realtime"},
        "G0-realtime": {"G1c-realtime"},
        "G1c": {"G1c-process"},
        "G1c-process": {"G1c-realtime"},
        # Elle's G-single on items (one rw edge, on an item) is a G-nonadjacent-item
        # cycle, hence G2-item (Adya; Elle's G-single-item).
        # Elle: G-single is the one-edge case of G-nonadjacent (anti-dependency edges never
        # adjacent), which is a G2-item cycle (Cerone & Gotsman's SI characterisation).
        "G-single": {"G-nonadjacent", "G-single-process"},
        "G-single-process": {"G-nonadjacent-process", "G-single-realtime"},
        "G-single-realtime": {"G-nonadjacent-realtime"},
        "G-nonadjacent": {"G2-item", "G-nonadjacent-process"},
        "G-nonadjacent-process": {"G2-item-process", "G-nonadjacent-realtime"},
        "G-nonadjacent-realtime": {"G2-item-realtime"},
        # Adya: G2-item is a special case of G2.
        "G2-item": {"G2", "G2-item-process"},
        "G2-item-process": {"G2-process", "G2-item-realtime"},
        "G2-item-realtime": {"G2-realtime"},
        "G2": {"G2-process"},
        "G2-process": {"G2-realtime"},
        # Elle: lost update is a special case of write skew and, being on one item,
        # of G2-item (Bailis; Hermitage).
        "lost-update": {"G2-item"},
        # Elle: incompatible orders of two committed reads imply a dirty read; a dirty
        # update is treated as a dirty read. (Elle also makes a future read a trivial
        # G1c cycle; here it is a self-loop, which Adya's G1c does not include: read
        # committed and repeatable read allow it, read atomic and above forbid it
        # (docs: txn-models, "Models").)
        "incompatible-order": {"G1a"},
        "dirty-update": {"G1a"},
        # A stale read is one way for a single-object history to be non-linearizable.
        "stale-read": {"not-linearizable"},
    }
)
"""Direct implications between anomalies: a history showing ``x`` also shows every
anomaly in ``ANOMALY_IMPLIES[x]``."""


# ---------------------------------------------------------------------------------------
# Validation


def _known(kind: str, known: frozenset[str], names: Iterable[str]) -> frozenset[str]:
    if isinstance(names, str):
        raise TypeError(f"expected a collection of {kind} names, got the string {names!r}")
    given = frozenset(names)
    unknown = sorted(given - known)
    if unknown:
        raise ValueError(
            f"unknown {kind} {', '.join(map(repr, unknown))}; "
            f"known {kind}s are: {', '.join(sorted(known))}"
        )
    return given


def check_models(models: Iterable[str]) -> frozenset[str]:
    """The given model names as a frozenset.

    Raises ``ValueError`` naming the unknown ones and listing the known models, and
    ``TypeError`` for a bare string (a likely slip for a one-element collection)."""
    return _known("model", MODELS, models)


def check_anomalies(anomalies: Iterable[str]) -> frozenset[str]:
    """The given anomaly names as a frozenset.

    Raises ``ValueError`` naming the unknown ones and listing the known anomalies, and
    ``TypeError`` for a bare string."""
    return _known("anomaly", ANOMALIES, anomalies)


def _check_model(model: str) -> str:
    check_models((model,))
    return model


# ---------------------------------------------------------------------------------------
# Closures, computed once


def _reach(edges: Mapping[str, frozenset[str]], start: str) -> frozenset[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in edges.get(todo.pop(), frozenset()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return frozenset(seen)


_DOWN: Final = MappingProxyType({m: _reach(IMPLIES, m) for m in MODELS})
_UP: Final = MappingProxyType({m: frozenset(n for n in MODELS if m in _DOWN[n]) for m in MODELS})
_ANOMALY_DOWN: Final = MappingProxyType({a: _reach(ANOMALY_IMPLIES, a) for a in ANOMALIES})
_ANOMALY_UP: Final = MappingProxyType(
    {a: frozenset(b for b in ANOMALIES if a in _ANOMALY_DOWN[b]) for a in ANOMALIES}
)
_FORBIDDEN: Final = MappingProxyType(
    {
        m: frozenset(
            a
            for n in _DOWN[m]
            for direct in FORBIDS.get(n, frozenset())
            for a in _ANOMALY_UP[direct]
        )
        for m in MODELS
    }
)
_DEPTH: Final = MappingProxyType({m: len(_UP[m]) for m in MODELS})


# ---------------------------------------------------------------------------------------
# Queries


def implies(a: str, b: str) -> bool:
    """True when model ``a`` implies model ``b``: every history ``a`` allows, ``b``
    allows. Reflexive and transitive; ``a`` and ``b`` both imply each other only when
    equal."""
    _check_model(a)
    _check_model(b)
    return b in _DOWN[a]


def stronger(model: str) -> frozenset[str]:
    """The models strictly stronger than ``model`` (those implying it, itself excluded)."""
    return _UP[_check_model(model)] - {model}


def weaker(model: str) -> frozenset[str]:
    """The models strictly weaker than ``model`` (those it implies, itself excluded)."""
    return _DOWN[_check_model(model)] - {model}


def implied_anomalies(anomalies: Iterable[str]) -> frozenset[str]:
    """The given anomalies and every anomaly they imply (a history showing a lost update
    shows G2-item and G2 as well)."""
    return frozenset(b for a in check_anomalies(anomalies) for b in _ANOMALY_DOWN[a])


def forbidden_by(model: str) -> frozenset[str]:
    """Every anomaly that cannot appear in a history ``model`` allows: what the model
    and every model it implies forbid directly, and every anomaly implying one of those.

    Monotone: if ``a`` implies ``b`` then ``forbidden_by(b) <= forbidden_by(a)``."""
    return _FORBIDDEN[_check_model(model)]


def ruled_out(anomalies: Iterable[str], models: Iterable[str] = ()) -> frozenset[str]:
    """The models a history cannot satisfy when it shows ``anomalies``: every model that
    forbids one of them. ``models`` are models already known not to hold (e.g.
    ``eventual`` after a convergence failure); they and every model implying one of
    them are included too.

    The result is closed upwards: a model implying a ruled-out model is ruled out."""
    shown = check_anomalies(anomalies)
    failed = check_models(models)
    out = {m for m in MODELS if shown & _FORBIDDEN[m]}
    out.update(n for m in failed for n in _UP[m])
    return frozenset(out)


def still_possible(anomalies: Iterable[str], models: Iterable[str] = ()) -> frozenset[str]:
    """The models not ruled out by ``anomalies`` (and by ``models`` known not to hold):
    the complement of ``ruled_out`` in ``MODELS``. Closed downwards."""
    return MODELS - ruled_out(anomalies, models)


def strongest(models: Iterable[str]) -> frozenset[str]:
    """The maximal elements of ``models`` under ``implies``: those no other given model
    strictly implies. Empty only for an empty input."""
    given = check_models(models)
    return frozenset(m for m in given if not (given & (_UP[m] - {m})))


def weakest(models: Iterable[str]) -> frozenset[str]:
    """The minimal elements of ``models`` under ``implies``: those that strictly imply no
    other given model. Empty only for an empty input."""
    given = check_models(models)
    return frozenset(m for m in given if not (given & (_DOWN[m] - {m})))


def by_strength(models: Iterable[str]) -> tuple[str, ...]:
    """The given models, each after every model that implies it (strongest first), ties
    broken by name: a stable order for reports."""
    return tuple(sorted(check_models(models), key=lambda m: (_DEPTH[m], m)))
