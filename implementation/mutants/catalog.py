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

from replicheck.implementation.mutants import (
    changefeed,
    leader,
    leaderless,
    repair,
    resolution,
)
from replicheck.implementation.presets import PRESETS
from replicheck.models.guarantees import check_guarantee

_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Mutant:
    """One mutant: its kebab-case ``name``, the ``preset`` it mutates, the ``bug`` (what
    is wrong and the real-world mistake it imitates), the ``guarantee`` ID it breaks,
    and ``factory``: seed -> a fresh store with the bug. ``also`` names the other
    guarantees the bug breaks on its way (a failing example may show one of them
    before ``guarantee``); each is shown broken by a replayed scenario of the tests."""

    name: str
    preset: str
    bug: str
    guarantee: str
    factory: Callable[[int], Any]
    also: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _KEBAB.match(self.name):
            raise ValueError(f"mutant name {self.name!r} is not kebab-case")
        if self.preset not in PRESETS:
            raise ValueError(f"mutant {self.name!r}: unknown preset {self.preset!r}")
        check_guarantee(self.guarantee)
        for other in self.also:
            check_guarantee(other)

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
        "read-index-without-quorum", "dynamodb",
        "The leader runs the read-index round for a strong read but counts the round as "
        "confirmed by any follower's reply, even one sent before the read arrived: a "
        "leader that was paused while the others elected a new leader answers from its "
        "old state before it learns it was deposed. The stale reads Jepsen found in "
        "2014 in etcd and Consul, whose leaders answered 'consistent' reads without "
        "making sure a majority still followed them.",
        "linearizable-strong-reads", leader.read_index_without_quorum),
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
    Mutant(
        "anti-entropy-ignores-pull", "dynamo-lww",
        "An anti-entropy session sends the initiator's versions of the differing keys "
        "to the peer but drops the peer's answer: the repair runs one way, so the "
        "initiator stays behind on every key where the peer was newer while the session "
        "reports those keys repaired. Cassandra offers one-way repair only as an "
        "explicit choice (nodetool repair --pull); taken by accident it is the "
        "half-done exchange that only reading both replicas after the session shows.",
        "anti-entropy-exact", repair.anti_entropy_ignores_pull),
    Mutant(
        "anti-entropy-misses-peer-only-keys", "dynamo-lww",
        "An anti-entropy session finds the differing keys of a bucket by walking its own "
        "entries and looking each up among the peer's, never the other way round, so a "
        "key the peer holds and the initiator lacks (a write the initiator missed) is "
        "never repaired from that side while the session reports success. A one-sided "
        "set difference is the classic slip of a hand-written diff: a Merkle exchange "
        "must take a key missing on either side of a differing bucket as differing.",
        "anti-entropy-exact", repair.anti_entropy_misses_peer_only_keys),
    Mutant(
        "merkle-tree-misses-overwrites", "dynamo-lww",
        "Each replica updates its Merkle trees incrementally, but only when a key first "
        "appears: overwriting a key leaves its leaf hash as it was, so replicas holding "
        "different versions of a key report equal hashes and anti-entropy never "
        "compares them. Hash trees drifting from the data they summarize is why Riak's "
        "active anti-entropy expires and rebuilds its trees from the data periodically "
        "(anti_entropy.tree.expiry).",
        "merkle-root-iff-equal", repair.merkle_tree_misses_overwrites),
    Mutant(
        "hint-sent-to-first-replica", "dynamo-lww",
        "A fallback hands each hint to the first replica of its key instead of the "
        "replica it was written for; that node acknowledges, the hint is dropped, and "
        "the replica that missed the write never receives it. Hints reaching the wrong "
        "node is why Cassandra (from 3.0) files hints per target host id.",
        "hinted-handoff-delivers", repair.hint_sent_to_first_replica),
    Mutant(
        "hint-replayed-with-fresh-timestamp", "dynamo-lww",
        "A fallback hands a hinted write off under a fresh timestamp of its own instead "
        "of the one the write was given, so a hint replayed after a newer write to the "
        "key overwrites it under last writer wins: the newer, acknowledged write is "
        "lost. Cassandra stores a hint as the original mutation with its cell "
        "timestamps, and Riak hands an object off with its vector clock, so that a late "
        "replay loses to what came after; re-issuing a queued write as a new write "
        "(as client-side retry queues and outboxes that re-send through the normal "
        "write path do) gives it a timestamp it never had.",
        "hinted-handoff-delivers", repair.hint_replayed_with_fresh_timestamp),
    Mutant(
        "read-repair-sends-coordinator-state", "dynamo-quorum",
        "Read repair sends the coordinating replica's own version to the replicas that "
        "answered differently instead of the merge of all the replies, and never repairs "
        "the coordinator itself: a read coordinated by a stale replica pushes nothing "
        "useful and the stale replica stays stale. Dynamo's read repair (DeCandia et "
        "al., 2007), Riak's and Cassandra's reconcile the replies first and write the "
        "reconciled version back to every replica that returned something older, the "
        "coordinator included; a repair path built from the local read instead of the "
        "reconciled result only works while the coordinator happens to be up to date.",
        "read-repair-repairs", repair.read_repair_sends_coordinator_state),
    Mutant(
        "tombstone-purged-at-once", "dynamo-lww",
        "A replica drops a delete's tombstone as soon as it stores it (a grace period "
        "of zero), so a replica that missed the delete later pushes the old item back "
        "through anti-entropy and the deleted item comes back. Cassandra's "
        "gc_grace_seconds exists for this (tombstones purged before repair spread them "
        "resurrect deleted data), and Riak's default delete_mode reaps tombstones after "
        "3 s with the same risk when a replica was down. A hinted delete handed to "
        "its owner is purged there too, so the owner never holds what the hint held.",
        "convergence", repair.tombstone_purged_at_once,
        also=("hinted-handoff-delivers",)),
    Mutant(
        "lww-compares-timestamps-as-text", "dynamo-lww",
        "Last writer wins compares write timestamps as decimal text, so a stamp of "
        "99999 microseconds beats one of 100000: whenever the clock crosses a power of "
        "ten an older write wins and the newer, acknowledged one is lost on every "
        "replica alike. Numbers compared as strings is the bug of consumers that sort "
        "DynamoDB Streams sequence numbers lexicographically; a version that travels as "
        "text must be parsed before it is compared.",
        "convergence", resolution.lww_compares_timestamps_as_text),
    Mutant(
        "dvv-merge-restamps-sibling-contexts", "dynamo-quorum",
        "Merging two replicas' states gives every sibling the merged object's causal "
        "context in place of the context its own write carried, so each sibling claims "
        "to have seen the others: the versions the replicas report were written by "
        "nobody. Riak before 2.0 kept one vector clock per object for all its siblings; "
        "per-sibling (dotted) contexts are what tell which write each value came from, "
        "and this merge throws them away.",
        "vector-clock-order", resolution.dvv_merge_restamps_sibling_contexts),
    Mutant(
        "stream-emits-prepared-transactions", "dynamodb",
        "The change stream emits a cross-partition transaction's changes when a "
        "participant prepares them instead of when it commits them, so a transaction "
        "cancelled after some participants prepared still appears in the stream. "
        "Change-data-capture readers of a redo log must buffer a transaction until its "
        "commit and drop it on rollback (Debezium's Oracle LogMiner connector does); "
        "emitting at prepare publishes writes that never happened.",
        "stream-exactly-once", changefeed.stream_emits_prepared_transactions),
    Mutant(
        "stream-emits-unchanged-writes", "dynamodb",
        "The stream emits a record for every write in the log, also one that left its "
        "item as it was (a put of the same item, a delete of an absent one). DynamoDB "
        "documents that a PutItem or UpdateItem that changes nothing writes no stream "
        "record; a consumer fed such records acts on changes that did not happen.",
        "stream-exactly-once", changefeed.stream_emits_unchanged_writes),
    Mutant(
        "stream-reorders-on-failover", "dynamodb",
        "After a partition changes leader, the stream emits the new leader's first "
        "change before the old leader's last one, so two records of one item can trade "
        "places. DynamoDB Streams and Kinesis consumers must drain a parent shard "
        "before reading its children (the Kinesis Client Library enforces it); reading "
        "the child first reorders an item's changes.",
        "stream-item-order", changefeed.stream_reorders_on_failover),
    Mutant(
        "stream-skips-record-after-failover", "dynamodb",
        "When a partition changes leader, the stream reader resumes one record past its "
        "checkpoint and never emits the new leader's first change: at-most-once "
        "delivery where exactly-once is promised. The mirror image of "
        "stream-duplicate-on-failover. A Kafka consumer's committed offset names the "
        "next record to read, not the last one read: confusing the two by one repeats a "
        "record on resume, erring the other way loses one, as here.",
        "stream-exactly-once", changefeed.stream_skips_record_after_failover),
    Mutant(
        "stream-old-image-from-committed-state", "dynamodb",
        "The leader takes a write's old image from its committed state instead of the "
        "tail of its log, so while an earlier write of the item is still replicating "
        "the record's old image is the version before that one and the item's records "
        "no longer chain. The stale-snapshot read of stale-condition-check, in the "
        "change record: a before image computed from a lagging snapshot, as "
        "change-data-capture pipelines that look the old row up separately from the log "
        "do.",
        "stream-exactly-once", changefeed.stream_old_image_from_committed_state),
    Mutant(
        "requests-forgotten-on-restart", "dynamo-lww",
        "A coordinator remembers the requests it took in memory only: after a crash and "
        "restart, a copy of one of them (a retransmission, a duplicate on the wire) is a "
        "new request to it and is applied again, so a retried increment counts twice. "
        "Deduplication state that does not survive a restart or failover is why "
        "MongoDB's retryable writes persist their session records and why Kafka's "
        "idempotent producer keeps its sequence numbers in the replicated log.",
        "convergence", leaderless.requests_forgotten_on_restart),
    Mutant(
        "hint-forgotten-when-sent", "dynamo-lww",
        "A fallback deletes each hint as soon as it sends it, not when the owner "
        "acknowledges it: a handoff message lost on the way loses the write for its "
        "owner. A hint must be kept until its delivery is acknowledged (Cassandra's hint "
        "dispatcher deletes hints only once the replica confirmed them); deleting on "
        "send turns one lost message into a lost acknowledged write.",
        "hinted-handoff-delivers", leaderless.hint_forgotten_when_sent),
    Mutant(
        "repair-waits-for-every-replica", "dynamo-quorum",
        "The coordinator of a read never gives up waiting for the key's last replica: "
        "with one replica down, the read is answered by the others but the stale one "
        "that answered is never repaired (nor does the coordinator ever time out). "
        "Read repair that runs only after every replica replied is read repair that "
        "stops exactly when replicas diverge, while one is down.",
        "read-repair-repairs", leaderless.repair_waits_for_every_replica),
)
"""Every mutant, in priority order."""


def mutant(name: str) -> Mutant:
    """The mutant called ``name``; KeyError listing the names."""
    for found in MUTANTS:
        if found.name == name:
            return found
    raise KeyError(f"unknown mutant {name!r}; mutants: {', '.join(m.name for m in MUTANTS)}")
