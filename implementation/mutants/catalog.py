"""The catalog of mutants: reference-store presets with one named bug each.

Every mutant keeps its preset's descriptor (it claims what it breaks); the suite is
expected to catch it through the guarantee it names. ``factory(seed)`` builds a fresh
mutant store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from replicheck.implementation.mutants import leader, leaderless
from replicheck.implementation.presets import PRESETS
from replicheck.models.guarantees import check_guarantee

_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Mutant:
    """One mutant: its kebab-case ``name``, the ``preset`` it mutates, the ``bug`` (what
    is wrong and the real-world mistake it imitates), the ``guarantee`` ID it breaks,
    and ``factory``: seed -> a fresh store with the bug."""

    name: str
    preset: str
    bug: str
    guarantee: str
    factory: Callable[[int], Any]

    def __post_init__(self) -> None:
        if not _KEBAB.match(self.name):
            raise ValueError(f"mutant name {self.name!r} is not kebab-case")
        if self.preset not in PRESETS:
            raise ValueError(f"mutant {self.name!r}: unknown preset {self.preset!r}")
        check_guarantee(self.guarantee)

    def build(self, seed: int = 0) -> Any:
        """A fresh store with the bug."""
        return self.factory(seed)


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "stale-condition-check", "dynamodb",
        "The partition leader evaluates a write's condition against its committed "
        "state instead of the tail of its log, so a conditional write arriving while an "
        "earlier write is still replicating checks a stale item: two "
        "attribute_not_exists puts can both succeed. The classic check-then-act race of "
        "a read-modify-write that is not serialized with in-flight writes (Jepsen's "
        "lost CAS updates, e.g. in early etcd and Consul).",
        "linearizable-conditional-writes", leader.stale_condition_check),
    Mutant(
        "strong-read-any-replica", "dynamodb",
        "A strongly consistent read is answered by whichever replica receives it, from "
        "its applied state, without confirming leadership through a read-index round: "
        "a deposed or lagging replica returns stale data. Jepsen's stale-read findings "
        "for etcd/Consul reads served without a quorum round.",
        "linearizable-strong-reads", leader.strong_read_any_replica),
    Mutant(
        "ack-before-quorum", "dynamodb",
        "The leader acknowledges a write as soon as it is in its own log, before a "
        "majority holds it; when that leader is cut off, the new leader never saw the "
        "write and the acknowledged write is lost on failover (MongoDB w:1 rollbacks, "
        "Jepsen 2013).",
        "linearizable-strong-reads", leader.ack_before_quorum),
    Mutant(
        "election-ignores-log", "dynamodb",
        "A replica grants its vote without Raft's up-to-date-log check, and a follower "
        "takes the new leader's log as the truth: a replica that missed the last "
        "committed write can win the election and overwrite it everywhere, so after "
        "failover an acknowledged write is lost. The election-restriction bug of Raft "
        "implementations that vote on term alone (Jepsen's lost writes after "
        "leader changes in early etcd, RethinkDB and Redis-Raft).",
        "linearizable-strong-reads", leader.election_ignores_log),
    Mutant(
        "txn-partial-apply", "dynamodb",
        "A single-partition transaction whose later action fails its condition is "
        "cancelled, but the actions before it stay applied: no rollback. The classic "
        "non-atomic batch (multi-item writes applied one by one).",
        "atomic-transactions", leader.txn_partial_apply),
    Mutant(
        "txn-ignores-locks", "dynamodb",
        "A participant prepares a transaction without checking the locks of another "
        "transaction in flight, so two concurrent read-modify-write transactions both "
        "commit from the same old value: a lost update. The no-lock-check 2PC bug "
        "(Jepsen's G2/lost-update findings in transactional stores).",
        "serializable-transactions", leader.txn_ignores_locks),
    Mutant(
        "token-applies-twice", "dynamodb",
        "A ClientRequestToken is honoured only while its first transaction is in "
        "flight; a retry after the commit runs the transaction again. A retry cache "
        "cleared on completion: the double-charge of a non-idempotent retry.",
        "serializable-transactions", leader.token_applies_twice),
    Mutant(
        "stream-string-sequence-order", "dynamodb",
        "The change stream orders records by sequence number compared as strings, so "
        "an item's record 10 comes before its record 9. DynamoDB sequence numbers are "
        "strings; sorting them lexicographically is a well-known consumer bug.",
        "stream-item-order", leader.stream_string_sequence_order),
    Mutant(
        "stream-duplicate-on-failover", "dynamodb",
        "When a partition changes leader, the stream reader resumes from its last "
        "checkpoint inclusive and emits the partition's last record a second time: "
        "at-least-once redelivery on retry passed off as exactly-once.",
        "stream-exactly-once", leader.stream_duplicate_on_failover),
    Mutant(
        "stream-duplicate-on-retry", "dynamodb",
        "A retry the leader answers without applying it again (a duplicated delivery "
        "of a put, a transaction retried with its ClientRequestToken) is still "
        "appended to the change log, so the stream emits the write's records a second "
        "time: the table is idempotent but its change feed is not, like a Kafka "
        "producer without idempotence whose retry after a lost ack appends the "
        "message again.",
        "stream-exactly-once", leader.stream_duplicate_on_retry),
    Mutant(
        "lww-tie-keeps-local", "dynamo-lww",
        "Last writer wins compares timestamps only; on a tie each replica keeps the "
        "version it already holds instead of breaking the tie by node id, so replicas "
        "that took concurrent writes in the same microsecond never converge, even "
        "after anti-entropy (the Cassandra equal-timestamp tie-break problem).",
        "convergence", leaderless.lww_tie_keeps_local),
    Mutant(
        "concurrent-clocks-ordered", "dynamo-quorum",
        "The version-vector comparison skips entries missing from one side, so two "
        "concurrent clocks ({a:1} and {b:1}) are judged ordered and a merge discards "
        "one concurrent write instead of keeping both as siblings (silent lost "
        "updates, as in Riak with allow_mult=false).",
        "vector-clock-order", leaderless.concurrent_clocks_ordered),
    Mutant(
        "vv-merge-drops-entries", "dynamo-quorum",
        "Merging version vectors keeps only the entries of nodes that still hold a "
        "sibling (over-eager pruning, like Riak's vector-clock pruning): the context "
        "forgets superseded writes, so a stale replica resurrects a value that a "
        "later write already replaced.",
        "vector-clock-order", leaderless.vv_merge_drops_entries),
    Mutant(
        "read-repair-drops-sibling", "dynamo-quorum",
        "Read repair writes back the single resolved value the client was answered "
        "with (carrying the full causal context) instead of the merged siblings, so "
        "the repaired replica deletes the concurrent siblings it held.",
        "read-repair-repairs", leaderless.read_repair_drops_sibling),
    Mutant(
        "hint-never-delivered", "dynamo-quorum",
        "The fallback's handoff task believes the owner is still down and never sends "
        "its hints: a write taken by a sloppy quorum never reaches its real replica "
        "(a failure detector that never marks a node up again).",
        "hinted-handoff-delivers", leaderless.hint_never_delivered),
    Mutant(
        "merkle-root-ignores-child", "dynamo-lww",
        "The Merkle root hashes every child of the root but the last, so two replicas "
        "that differ only in the last quarter of a range report equal roots and "
        "anti-entropy never repairs them (an off-by-one in the tree build).",
        "merkle-root-iff-equal", leaderless.merkle_root_ignores_child),
    Mutant(
        "anti-entropy-skips-last-range", "dynamo-lww",
        "An anti-entropy session compares every shared key range but the last (an "
        "off-by-one over the ranges), so differences there are never repaired.",
        "anti-entropy-exact", leaderless.anti_entropy_skips_last_range),
)
"""Every mutant, in priority order."""


def mutant(name: str) -> Mutant:
    """The mutant called ``name``; KeyError listing the names."""
    for found in MUTANTS:
        if found.name == name:
            return found
    raise KeyError(f"unknown mutant {name!r}; mutants: {', '.join(m.name for m in MUTANTS)}")
