"""The guarantee vocabulary (CONTRACTS.md section 4).

A guarantee ID names one promise a store can claim. The same IDs are the pytest
markers (with underscores for dashes), the report's columns and the JSON keys.
Mechanism promises are claimed by stores that declare the mechanism.
"""

from __future__ import annotations

from typing import Final

GUARANTEES: Final[tuple[str, ...]] = (
    "linearizable-strong-reads",
    "linearizable-conditional-writes",
    "serializable-transactions",
    "atomic-transactions",
    "read-your-writes",
    "monotonic-reads",
    "convergence",
    "stream-exactly-once",
    "stream-item-order",
    "vector-clock-order",
    "merkle-root-iff-equal",
)
"""Guarantees about what clients observe and what replicas hold, in report order."""

MECHANISM_PROMISES: Final[tuple[str, ...]] = (
    "hinted-handoff-delivers",
    "read-repair-repairs",
    "anti-entropy-exact",
    "majority-availability",
    "sloppy-quorum-availability",
)
"""Promises about a replication mechanism, checked when a store declares it
(``majority-availability``: while a majority of a partition's replicas is up and
connected, every request on it is answered once the store's ``failover`` window has
passed; ``sloppy-quorum-availability``: while every owner of a key but one is down and
enough other nodes are up to stand in, every request on the key is answered; both
also promise the simplest case: with every node up and connected, every request is
answered)."""

ANOMALY_COLUMNS: Final[tuple[str, ...]] = (
    "lost-update",
    "stale-read",
)
"""Anomalies (Elle's names, CONTRACTS.md section 4) the suite looks for on single items
whatever a store claims, each a column of the claims-versus-observed matrix after the
guarantees: observed with its example, or never seen. Not guarantee IDs: no store
claims them."""

ALL_GUARANTEES: Final[frozenset[str]] = frozenset(GUARANTEES + MECHANISM_PROMISES)
"""Every guarantee ID."""


def marker_name(guarantee: str) -> str:
    """The pytest marker of a guarantee: its ID with underscores for dashes."""
    check_guarantee(guarantee)
    return guarantee.replace("-", "_")


def check_guarantee(guarantee: str) -> str:
    """Return ``guarantee`` if it is a known ID, else raise ValueError naming the known."""
    if guarantee not in ALL_GUARANTEES:
        known = ", ".join(GUARANTEES + MECHANISM_PROMISES)
        raise ValueError(f"unknown guarantee {guarantee!r}; known: {known}")
    return guarantee
