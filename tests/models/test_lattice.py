"""Tests of the consistency-model lattice: known facts and the partial-order laws."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models import lattice as L

SERIALIZABLE_FAMILY = {"serializable", "strict-serializable", "strong-session-serializable"}


# ---------------------------------------------------------------------------------------
# names


def test_names_are_the_contract_names() -> None:
    assert {
        "linearizable", "sequential", "causal", "PRAM", "read-your-writes",
        "monotonic-reads", "monotonic-writes", "writes-follow-reads", "eventual",
        "read-uncommitted", "read-committed", "read-atomic", "repeatable-read",
        "snapshot-isolation", "serializable", "strict-serializable",
        "strong-session-serializable",
    } == L.MODELS  # fmt: skip
    # G-nonadjacent (Elle's name) is beyond the contract's list: snapshot isolation
    # forbids it, so a checker must be able to say so.
    for base in ("G0", "G1c", "G-single", "G-nonadjacent", "G2-item", "G2"):
        assert {base, f"{base}-process", f"{base}-realtime"} <= L.ANOMALIES
    for name in ("G1a", "G1b", "lost-update", "internal", "dirty-update",
                 "duplicate-elements", "incompatible-order", "future-read",
                 "cyclic-versions", "garbage-read", "stale-read",
                 "not-linearizable"):  # fmt: skip
        assert name in L.ANOMALIES
    assert len(L.ANOMALIES) == 18 + 12


def test_data_only_uses_known_names() -> None:
    for a, bs in L.IMPLIES.items():
        assert {a} | bs <= L.MODELS
    for m, anomalies in L.FORBIDS.items():
        assert m in L.MODELS
        assert anomalies <= L.ANOMALIES
    for a, bs in L.ANOMALY_IMPLIES.items():
        assert {a} | bs <= L.ANOMALIES


def test_unknown_names_raise_listing_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'serialisable'.*linearizable.*serializable"):
        L.implies("serialisable", "serializable")
    with pytest.raises(ValueError, match="unknown model 'snapshot'"):
        L.weaker("snapshot")
    with pytest.raises(ValueError, match=r"unknown anomaly 'G3'.*G-single.*lost-update"):
        L.ruled_out(["G0", "G3"])
    with pytest.raises(ValueError, match="unknown model"):
        L.ruled_out([], ["ACID"])
    with pytest.raises(ValueError, match="unknown model"):
        L.strongest(["serializable", "PL-3"])
    with pytest.raises(TypeError, match="string"):
        L.ruled_out("G0")


# ---------------------------------------------------------------------------------------
# partial-order laws

MODEL_LIST = sorted(L.MODELS)


def test_implies_is_reflexive() -> None:
    for m in MODEL_LIST:
        assert L.implies(m, m)


def test_implies_is_antisymmetric() -> None:
    for a, b in itertools.permutations(MODEL_LIST, 2):
        assert not (L.implies(a, b) and L.implies(b, a)), (a, b)


def test_implies_is_transitive() -> None:
    for a, b, c in itertools.product(MODEL_LIST, repeat=3):
        if L.implies(a, b) and L.implies(b, c):
            assert L.implies(a, c), (a, b, c)


def test_direct_edges_are_a_transitive_reduction() -> None:
    for a, bs in L.IMPLIES.items():
        for b in bs:
            others = bs - {b}
            assert not any(L.implies(o, b) for o in others), (a, b)


def test_stronger_and_weaker_agree_with_implies() -> None:
    for a, b in itertools.product(MODEL_LIST, repeat=2):
        strictly = a != b and L.implies(a, b)
        assert (a in L.stronger(b)) == strictly
        assert (b in L.weaker(a)) == strictly


def test_forbidden_by_is_monotone() -> None:
    for a, b in itertools.product(MODEL_LIST, repeat=2):
        if L.implies(a, b):
            assert L.forbidden_by(b) <= L.forbidden_by(a), (a, b)


def test_forbidden_by_includes_direct_and_implying_anomalies() -> None:
    for m, direct in L.FORBIDS.items():
        assert direct <= L.forbidden_by(m)
    for m in MODEL_LIST:
        for a in L.ANOMALIES:
            if L.implied_anomalies([a]) & L.forbidden_by(m):
                assert a in L.forbidden_by(m), (m, a)


def test_anomaly_implications_are_acyclic() -> None:
    for a in L.ANOMALIES:
        for b in L.implied_anomalies([a]) - {a}:
            assert a not in L.implied_anomalies([b]), (a, b)


@given(st.sets(st.sampled_from(sorted(L.ANOMALIES)), max_size=4))
def test_ruled_out_and_still_possible_partition_the_models(anomalies: set[str]) -> None:
    out = L.ruled_out(anomalies)
    possible = L.still_possible(anomalies)
    assert out | possible == L.MODELS
    assert not out & possible
    for m in out:
        assert L.stronger(m) <= out  # closed upwards
    for m in possible:
        assert L.weaker(m) <= possible  # closed downwards
        assert not L.forbidden_by(m) & set(anomalies)
    # more anomalies never rule out fewer models
    for a in anomalies:
        assert L.ruled_out({a}) <= out


@given(st.sets(st.sampled_from(MODEL_LIST)))
def test_strongest_and_weakest_are_antichains_covering_the_set(models: set[str]) -> None:
    top = L.strongest(models)
    bottom = L.weakest(models)
    assert top <= models and bottom <= models
    assert bool(top) == bool(models) == bool(bottom)
    for a, b in itertools.permutations(top, 2):
        assert not L.implies(a, b)
    for a, b in itertools.permutations(bottom, 2):
        assert not L.implies(a, b)
    for m in models:
        assert any(L.implies(t, m) for t in top)
        assert any(L.implies(m, w) for w in bottom)


def test_by_strength_puts_stronger_first() -> None:
    order = L.by_strength(L.MODELS)
    assert sorted(order) == MODEL_LIST
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            assert not (a != b and L.implies(b, a)), (a, b)


# ---------------------------------------------------------------------------------------
# the lattice's shape


def test_chains_from_elle() -> None:
    chain = ["linearizable", "sequential", "causal", "PRAM"]
    for a, b in itertools.pairwise(chain):
        assert L.implies(a, b)
    for session in ("read-your-writes", "monotonic-reads", "monotonic-writes"):
        assert L.implies("PRAM", session)
    assert L.implies("causal", "writes-follow-reads")
    assert not L.implies("PRAM", "writes-follow-reads")
    assert L.implies("strict-serializable", "strong-session-serializable")
    assert L.implies("strong-session-serializable", "serializable")
    assert L.implies("strict-serializable", "linearizable")
    assert not L.implies("serializable", "linearizable")
    assert L.implies("serializable", "repeatable-read")
    assert L.implies("serializable", "snapshot-isolation")
    assert L.implies("snapshot-isolation", "read-atomic")
    assert L.implies("read-atomic", "read-committed")
    assert L.implies("repeatable-read", "read-committed")
    assert L.implies("read-committed", "read-uncommitted")
    assert not L.implies("read-uncommitted", "read-committed")


def test_snapshot_isolation_and_repeatable_read_are_incomparable() -> None:
    assert not L.implies("snapshot-isolation", "repeatable-read")
    assert not L.implies("repeatable-read", "snapshot-isolation")
    assert not L.implies("repeatable-read", "read-atomic")
    assert L.strongest({"snapshot-isolation", "repeatable-read"}) == {
        "snapshot-isolation",
        "repeatable-read",
    }


def test_strongest_and_weakest_examples() -> None:
    assert L.strongest({"strict-serializable", "serializable"}) == {"strict-serializable"}
    assert L.weakest({"strict-serializable", "serializable"}) == {"serializable"}
    assert L.weakest({"serializable", "read-committed", "linearizable", "causal"}) == {
        "read-committed",
        "causal",
    }
    assert L.strongest(set()) == frozenset()


# ---------------------------------------------------------------------------------------
# known facts: what each anomaly rules out


def test_write_skew_rules_out_serializability_not_snapshot_isolation() -> None:
    out = L.ruled_out({"G2-item"})
    assert {"repeatable-read"} | SERIALIZABLE_FAMILY <= out
    assert "snapshot-isolation" not in out
    assert "read-atomic" not in out and "read-committed" not in out
    assert L.weakest(out) == {"repeatable-read"}


def test_read_skew_rules_out_snapshot_isolation_and_repeatable_read() -> None:
    out = L.ruled_out({"G-single"})
    assert {"snapshot-isolation", "repeatable-read"} | SERIALIZABLE_FAMILY <= out
    assert "read-committed" not in out and "read-atomic" not in out
    assert L.weakest(out) == {"snapshot-isolation", "repeatable-read"}


def test_g2_rules_out_serializable_not_repeatable_read_or_si() -> None:
    out = L.ruled_out({"G2"})
    assert out == SERIALIZABLE_FAMILY


def test_g1c_rules_out_read_committed_and_above_not_read_uncommitted() -> None:
    out = L.ruled_out({"G1c"})
    assert L.stronger("read-committed") | {"read-committed"} == out
    assert "read-uncommitted" not in out
    for m in ("repeatable-read", "snapshot-isolation", "serializable", "read-atomic"):
        assert m in out
    assert L.ruled_out({"G1a"}) == out == L.ruled_out({"G1b"})


def test_g0_rules_out_read_uncommitted_and_above() -> None:
    out = L.ruled_out({"G0"})
    assert out == L.stronger("read-uncommitted") | {"read-uncommitted"}
    assert not out & {"linearizable", "causal", "eventual"}


def test_lost_update_rules_out_snapshot_isolation_and_serializable() -> None:
    out = L.ruled_out({"lost-update"})
    assert {"snapshot-isolation", "repeatable-read"} | SERIALIZABLE_FAMILY <= out
    assert "read-committed" not in out


def test_realtime_variants_rule_out_only_strict_serializable() -> None:
    for base in L.CYCLE_ANOMALIES:
        out = L.ruled_out({f"{base}-realtime"})
        assert out == {"strict-serializable"}, base
        assert "serializable" not in out


def test_process_variants_rule_out_strong_session_not_serializable() -> None:
    for base in L.CYCLE_ANOMALIES:
        out = L.ruled_out({f"{base}-process"})
        assert out == {"strong-session-serializable", "strict-serializable"}, base


def test_stale_read_rules_out_linearizable_not_sequential() -> None:
    for anomaly in ("stale-read", "not-linearizable"):
        out = L.ruled_out({anomaly})
        assert out == {"linearizable", "strict-serializable"}
        assert "sequential" not in out
        assert "serializable" not in out


def test_internal_and_future_reads() -> None:
    assert L.ruled_out({"internal"}) == {"read-atomic", "snapshot-isolation"} | SERIALIZABLE_FAMILY
    assert "repeatable-read" not in L.ruled_out({"internal"})
    # A future read is a self-loop, which read committed and repeatable read allow
    # (docs: txn-models); read atomic and every model above it forbid it.
    assert L.ruled_out({"future-read"}) == {"read-atomic", "snapshot-isolation"} | \
        SERIALIZABLE_FAMILY



def test_transactional_models_weakest_first() -> None:
    assert len(set(L.TRANSACTIONAL)) == 8 and set(L.TRANSACTIONAL) <= L.MODELS
    for i, m in enumerate(L.TRANSACTIONAL):
        assert not any(L.implies(m, later) for later in L.TRANSACTIONAL[i + 1:])


def test_dirty_reads_and_version_anomalies() -> None:
    assert L.ruled_out({"dirty-update"}) == L.ruled_out({"G1a"})
    for anomaly in ("duplicate-elements", "cyclic-versions"):
        assert L.ruled_out({anomaly}) == L.ruled_out({"G0"})
    # Reads no interpretation explains rule out every transactional model.
    for anomaly in ("incompatible-order", "garbage-read"):
        assert L.ruled_out({anomaly}) >= set(L.TRANSACTIONAL)


def test_nothing_observed_rules_out_nothing() -> None:
    assert L.ruled_out(()) == frozenset()
    assert L.still_possible(()) == L.MODELS


def test_failed_models_rule_out_the_models_implying_them() -> None:
    out = L.ruled_out((), ["eventual"])
    assert out == {"eventual", "linearizable", "strict-serializable"}
    assert L.still_possible((), ["causal"]) == L.MODELS - {
        "causal", "sequential", "linearizable", "strict-serializable",
    }  # fmt: skip


def test_forbidden_by_examples() -> None:
    assert L.forbidden_by("read-uncommitted") == {
        "G0", "duplicate-elements", "cyclic-versions", "incompatible-order", "garbage-read",
    }  # fmt: skip
    assert "G2-item" not in L.forbidden_by("snapshot-isolation")
    assert {"G-single", "lost-update", "G1c", "G0", "internal"} <= L.forbidden_by(
        "snapshot-isolation"
    )
    assert L.forbidden_by("strict-serializable") >= {
        "G2-realtime", "G-single-realtime", "G2-item-process", "stale-read",
    }  # fmt: skip
    assert L.forbidden_by("eventual") == frozenset()
    assert L.forbidden_by("causal") == frozenset()


def test_implied_anomalies() -> None:
    assert L.implied_anomalies({"lost-update"}) >= {
        "G2-item", "G2", "G2-process", "G2-realtime",
    }  # fmt: skip
    assert "G1c" in L.implied_anomalies({"G0"})
    assert "G0" not in L.implied_anomalies({"G1c"})
    assert L.implied_anomalies(()) == frozenset()
