"""Mutants of the leaderless presets' conflict resolution: how one key's versions are
compared and merged. Each bug makes replicas agree on versions no write produced, or
on an older write over a newer one: what the provenance rule and the lost-write rule
judge in the replicas' final snapshot. Each installs a buggy resolver on the
mutant's own cluster; a mutant keeps the preset's descriptor.
"""

from __future__ import annotations

from replicheck.implementation.reference.leaderless.presets import dynamo_lww, dynamo_quorum
from replicheck.implementation.reference.leaderless.store import LeaderlessStore
from replicheck.implementation.reference.leaderless.versions import (
    DVVResolver,
    DVVValue,
    LWWResolver,
    Resolver,
    State,
)
from replicheck.models.dvv import DVVSet, Sibling
from replicheck.models.lww import Stamped

__all__ = ["dvv_merge_restamps_sibling_contexts", "lww_compares_timestamps_as_text"]


def _with_resolver(store: LeaderlessStore, resolver: Resolver) -> LeaderlessStore:
    # The cluster is this store's own (frozen) value; only its resolver changes.
    object.__setattr__(store.cluster, "resolver", resolver)
    return store


class _TextStampLWW(LWWResolver):
    """Last writer wins on stamps whose timestamps are compared as decimal text."""

    def merge(self, a: State | None, b: State | None) -> State | None:
        if isinstance(a, Stamped) and isinstance(b, Stamped) and a.stamp != b.stamp:
            # THE BUG: "999999" > "1000000": the timestamps are compared as strings
            return a if (str(a.timestamp), a.replica) > (str(b.timestamp), b.replica) else b
        return super().merge(a, b)


def lww_compares_timestamps_as_text(seed: int = 0) -> LeaderlessStore:
    """``dynamo-lww`` whose last-writer-wins merge compares timestamps as text."""
    return _with_resolver(dynamo_lww(seed), _TextStampLWW())


class _RestampingDVV(DVVResolver):
    """Merges two states, then gives every sibling the merged set's causal context
    in place of the context its own write carried."""

    def merge(self, a: State | None, b: State | None) -> State | None:
        merged = super().merge(a, b)
        if not isinstance(merged, DVVSet) or a is None or b is None:
            return merged
        context = merged.context.entries
        # THE BUG: one context for the whole object, stamped onto each sibling
        siblings = tuple(Sibling(s.dot, (s.value[0], context)) for s in merged.siblings)
        out: DVVSet[DVVValue] = DVVSet(siblings, merged.context)
        return out


def dvv_merge_restamps_sibling_contexts(seed: int = 0) -> LeaderlessStore:
    """``dynamo-quorum`` whose merge overwrites each sibling's causal context."""
    return _with_resolver(dynamo_quorum(seed), _RestampingDVV())
