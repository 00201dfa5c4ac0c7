"""Mutants of the leader-mode (``dynamodb``) preset: each is the preset with one small,
named bug, installed on the mutant's own instances only (its replicas, coordinators
and participants are switched to a subclass with the bug; the reference classes are
untouched). A mutant keeps the preset's descriptor: it claims exactly what it breaks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import cast

from replicheck.implementation.reference.leader.config import KeyRef
from replicheck.implementation.reference.leader.geo import GeoShipper
from replicheck.implementation.reference.leader.messages import (
    AppendEntries,
    Op,
    Prepare,
    VoteRequest,
)
from replicheck.implementation.reference.leader.node import NodeEndpoint
from replicheck.implementation.reference.leader.partition import PartitionReplica
from replicheck.implementation.reference.leader.state import Entry, PartitionState, make_effect
from replicheck.implementation.reference.leader.store import LeaderStore, dynamodb
from replicheck.implementation.reference.leader.stream import stream_records
from replicheck.implementation.reference.leader.transactions import (
    Coordinator,
    Participant,
    evaluate,
)
from replicheck.implementation.reference.leader.validation import check_item_size, ref_of
from replicheck.implementation.store import StreamRecord
from replicheck.models.items.errors import StoreError, TransactionCanceled, TransactionConflict
from replicheck.models.items.operations import apply, fingerprint
from replicheck.models.items.requests import (
    Delete,
    Get,
    Put,
    Response,
    TransactWrite,
    Update,
    WriteAction,
)

__all__ = [
    "ack_before_quorum",
    "election_ignores_log",
    "stale_condition_check",
    "stream_duplicate_on_failover",
    "stream_duplicate_on_retry",
    "stream_string_sequence_order",
    "strong_read_any_replica",
    "token_applies_twice",
    "txn_ignores_locks",
    "txn_partial_apply",
]


# -- installing a bug on one store's instances ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Bug:
    """The classes a mutant swaps in (``None``: keep the reference class)."""

    replica: type[PartitionReplica] | None = None
    coordinator: type[Coordinator] | None = None
    participant: type[Participant] | None = None
    geo: type[GeoShipper] | None = None


def _swap(node: NodeEndpoint, bug: _Bug) -> None:
    for replica in node.replicas.values():
        if bug.replica is not None:
            replica.__class__ = bug.replica
        if bug.coordinator is not None:
            replica.coordinator.__class__ = bug.coordinator
        if bug.participant is not None:
            replica.participant.__class__ = bug.participant
        if bug.geo is not None and replica.geo is not None:
            replica.geo.__class__ = bug.geo


class _MutantNode(NodeEndpoint):
    """A node whose replicas keep their mutant classes across a restart."""

    mutant_bug: _Bug

    def recover(self) -> None:
        super().recover()
        _swap(self, self.mutant_bug)


def _install(store: LeaderStore, bug: _Bug) -> LeaderStore:
    _install_nodes(store.cluster.nodes.values(), bug)
    return store


def _install_nodes(nodes: Iterable[NodeEndpoint], bug: _Bug) -> None:
    for node in nodes:
        node.__class__ = _MutantNode
        cast(_MutantNode, node).mutant_bug = bug
        _swap(node, bug)


# -- conditional writes ---------------------------------------------------------------------


class _StaleConditionReplica(PartitionReplica):
    """Evaluates a write's condition on the committed state, not on the log's tail."""

    def _single_write(self, op: Op) -> None:
        assert self.spec is not None
        request = op.request
        assert isinstance(request, Put | Update | Delete)
        rid = (op.client, op.rid)
        if rid in self.spec.answered:
            return
        ref = ref_of(self.schemas, request)
        if ref in self.spec.locks:
            self.answer_logged(op, error=TransactionConflict(
                f"Transaction is ongoing for the item {ref[1]!r}"))
            return
        # THE BUG: a conditional write reads the committed (applied) state, which
        # misses writes appended but not yet committed.
        source = self.applied if request.condition is not None else self.spec
        database = source.database([ref])
        try:
            next_database, response = apply(database, request, self.now)
            new = next_database.tables[ref[0]].get(ref[1])
            if new is not None:
                check_item_size(new)
        except StoreError as error:
            self.answer_logged(op, error=error)
            return
        old = database.tables[ref[0]].get(ref[1])
        effect = make_effect(ref[0], ref[1], old, new, self.stamp_for(ref))
        entry = self.append("write", effects=(effect,), request=rid)
        meta = {"version": self.version_meta(entry.index, effect.stamp),
                "changed": effect.changed}
        self.on_commit(entry.index, lambda: self.reply(op, response, meta=meta))


def stale_condition_check(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose leader checks conditions against committed state only."""
    return _install(dynamodb(seed), _Bug(replica=_StaleConditionReplica))


# -- strong reads -----------------------------------------------------------------------------


class _AnyReplicaStrongRead(PartitionReplica):
    """Answers a strongly consistent read at whichever replica receives it."""

    def on_op(self, op: Op) -> None:
        request = op.request
        if isinstance(request, Get) and request.consistent:
            self._eventual_read(op)  # THE BUG: no leadership, no read index
            return
        super().on_op(op)


def strong_read_any_replica(seed: int = 0) -> LeaderStore:
    """``dynamodb`` that serves strong reads from any replica's applied state."""
    return _install(dynamodb(seed), _Bug(replica=_AnyReplicaStrongRead))


class _SelfConfirmingReplica(PartitionReplica):
    """Confirms a read index with its own acknowledgement alone: the round every
    follower must have acknowledged is taken as its latest, so the next reply of any
    follower (even one sent before the read arrived) answers the read."""

    def _confirmed_round(self) -> int:
        return self.round  # THE BUG: no follower's acknowledgement of this round needed


def read_index_without_quorum(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose leader answers a strong read without a majority confirming
    its leadership after the read arrived."""
    return _install(dynamodb(seed), _Bug(replica=_SelfConfirmingReplica))


# -- failover -------------------------------------------------------------------------------


class _EarlyAckReplica(PartitionReplica):
    """Answers a write (its ``write`` entry's commit callback: the client's
    acknowledgement) as soon as the leader logged the entry, before a majority holds
    it. Transaction protocol steps still wait for their entries' commit."""

    def on_commit(self, index: int, callback: Callable[[], None]) -> None:
        if 0 < index <= self.last_index and self.log[index - 1].kind == "write":
            callback()  # THE BUG: acknowledged before the quorum
            return
        super().on_commit(index, callback)


def ack_before_quorum(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose leader acknowledges writes before a majority logged them."""
    return _install(dynamodb(seed), _Bug(replica=_EarlyAckReplica))


class _LogBlindVoter(PartitionReplica):
    """Grants its vote without comparing the candidate's log with its own; as a
    follower it takes the leader's log as the truth, committed entries included."""

    def on_vote_request(self, m: VoteRequest) -> None:
        last = self.last_index
        # THE BUG: the candidate is taken to be as up to date as this replica
        super().on_vote_request(dataclasses.replace(
            m, last_index=max(m.last_index, last),
            last_term=max(m.last_term, self.term_at(last))))

    def on_append(self, m: AppendEntries) -> None:
        if m.term >= self.term:
            for entry in m.entries:
                if (entry.index <= min(self.commit, self.last_index)
                        and self.term_at(entry.index) != entry.term):
                    self._forget_from(entry.index)  # the leader's log wins
                    break
        super().on_append(m)

    def _forget_from(self, index: int) -> None:
        """Uncommit the entries from ``index`` on and rebuild the applied state."""
        self.commit = index - 1
        self.applied = PartitionState(self.schemas)
        for entry in self.log[:self.commit]:
            self.applied.apply(entry)


def election_ignores_log(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose replicas vote for candidates missing committed entries."""
    return _install(dynamodb(seed), _Bug(replica=_LogBlindVoter))


# -- transactions ---------------------------------------------------------------------------


class _PartialCoordinator(Coordinator):
    """Applies a single-partition transaction's actions up to the first failing one."""

    def _one_shot(self, op: Op, request: TransactWrite, print_: Hashable,
                  actions: tuple[tuple[int, WriteAction], ...]) -> None:
        r = self.replica
        reasons, _ = evaluate(r, actions)
        failing = [i for i, (position, _) in enumerate(actions) if not reasons[position].ok]
        if not failing:
            super()._one_shot(op, request, print_, actions)
            return
        ordered = tuple(reasons[i] for i in range(len(request.actions)))
        prefix = actions[:failing[0]]
        _, effects = evaluate(r, prefix) if prefix else ({}, [])
        if not effects:
            r.answer_logged(op, error=TransactionCanceled(ordered))
            return
        # THE BUG: the actions before the failing one stay applied (no rollback).
        entry = r.append("write", effects=tuple(effects), request=(op.client, op.rid))
        r.on_commit(entry.index,
                    lambda: r.reply(op, error=TransactionCanceled(ordered)))


def txn_partial_apply(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose single-partition transactions do not roll back."""
    return _install(dynamodb(seed), _Bug(coordinator=_PartialCoordinator))


class _LockBlindParticipant(Participant):
    """Prepares a transaction without looking at the locks other transactions hold."""

    def on_prepare(self, m: Prepare, src: str) -> None:
        spec = self.replica.spec
        if spec is None:
            return
        held: dict[KeyRef, str] = spec.locks
        spec.locks = {}  # THE BUG: the conflicting prepared transaction is invisible
        try:
            super().on_prepare(m, src)
        finally:
            current = self.replica.spec
            if current is not None:
                held.update(current.locks)
                current.locks = held


def txn_ignores_locks(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose participants prepare over items locked by another
    transaction in flight."""
    return _install(dynamodb(seed), _Bug(participant=_LockBlindParticipant))


class _ForgetfulTokenCoordinator(Coordinator):
    """Honours a client request token only while its first transaction is in flight."""

    def transact_write(self, op: Op) -> None:
        request = op.request
        spec = self.replica.spec
        if (isinstance(request, TransactWrite) and request.token is not None
                and spec is not None and request.token not in self.by_token
                and request.token in spec.tokens):
            # THE BUG: a retry after the commit is taken as a new transaction
            op = dataclasses.replace(op, request=dataclasses.replace(request, token=None))
        super().transact_write(op)


def token_applies_twice(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose idempotency tokens are forgotten once committed."""
    return _install(dynamodb(seed), _Bug(coordinator=_ForgetfulTokenCoordinator))


# -- streams --------------------------------------------------------------------------------


class _StringSequenceStore(LeaderStore):
    """Orders its stream by sequence numbers compared as strings."""

    def stream_records(self, table: str) -> tuple[StreamRecord, ...]:
        records = super().stream_records(table)
        return tuple(sorted(records, key=lambda r: str(r.sequence)))  # THE BUG


def stream_string_sequence_order(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose stream sorts records by their sequence number as text."""
    store = dynamodb(seed)
    store.__class__ = _StringSequenceStore
    return store


def _redelivering(log: list[Entry]) -> list[Entry]:
    """The log as the buggy reader sees it: before each new leader's no-op, the last
    entry that changed an item is read again."""
    out: list[Entry] = []
    last: Entry | None = None
    for entry in log:
        if entry.kind == "noop" and last is not None:
            out.append(last)  # THE BUG: resumes from the checkpoint inclusive
        if entry.effects and any(e.changed for e in entry.effects):
            last = entry
        out.append(entry)
    return out


class _RedeliveringStore(LeaderStore):
    """Re-emits a partition's last record when the partition changes leader."""

    def stream_records(self, table: str) -> tuple[StreamRecord, ...]:
        super().stream_records(table)  # the same checks and errors
        view = self.config.stream_view(table)
        assert view is not None
        logs: Mapping[int, list[Entry]] = {
            p: _redelivering(self.cluster.committed_log(p))
            for p in range(self.config.partitions)}
        return stream_records(logs, table, view, self.sim.now)


def stream_duplicate_on_failover(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose stream repeats a record after a leader change."""
    store = dynamodb(seed)
    store.__class__ = _RedeliveringStore
    return store


# The kind of the log entry the retry-logging mutant appends when it answers a retry
# without applying it again (a kind the reference's state machine ignores).
_RETRY = "retry"


class _RetryLoggingReplica(PartitionReplica):
    """Logs a duplicate delivery of a write it already took as a retry entry."""

    def _single_write(self, op: Op) -> None:
        assert self.spec is not None
        if (op.client, op.rid) in self.spec.answered:
            self.append(_RETRY, request=(op.client, op.rid))  # THE BUG (see the store)
            return
        super()._single_write(op)


class _RetryLoggingCoordinator(Coordinator):
    """Answers a retried transaction (its token already committed) with a retry entry
    naming the token."""

    def transact_write(self, op: Op) -> None:
        r = self.replica
        request = op.request
        spec = r.spec
        rid = (op.client, op.rid)
        if (isinstance(request, TransactWrite) and request.token is not None
                and spec is not None and rid not in spec.answered
                and rid not in self.by_request and request.token not in self.by_token):
            record = spec.tokens.get(request.token)
            if (record is not None and record.live(r.now)
                    and record.fingerprint == fingerprint(request)):
                entry = r.append(_RETRY, request=rid, token=request.token)
                r.on_commit(entry.index,
                            lambda: r.reply(op, Response(), meta={"replayed": True}))
                return
        super().transact_write(op)


def _retried(logs: Mapping[int, list[Entry]]) -> dict[int, list[Entry]]:
    """The logs as the buggy stream reader sees them: each entry a retry answered is
    read once more (the retried write's entry, or every entry that applied the
    retried transaction's token)."""
    out = {p: list(log) for p, log in logs.items()}
    for home, log in logs.items():
        for retry in (e for e in log if e.kind == _RETRY):
            found: list[tuple[int, Entry]]
            if retry.token is None:
                found = [(home, e) for e in log
                         if e.kind == "write" and e.request == retry.request and e.effects]
            else:
                txids = {e.txid for entries in logs.values() for e in entries
                         if e.kind == "decide" and e.token == retry.token
                         and e.outcome == "commit"}
                found = [(p, e) for p, entries in logs.items() for e in entries
                         if (e.kind == "write" and e.token == retry.token)
                         or (e.kind == "commit" and e.txid in txids)]
            for partition, entry in found:
                out[partition].append(entry)  # THE BUG: emitted again
    return out


class _RetryDuplicatingStore(LeaderStore):
    """Re-emits the records of a write or transaction each time a retry of it is
    answered."""

    def stream_records(self, table: str) -> tuple[StreamRecord, ...]:
        super().stream_records(table)  # the same checks and errors
        view = self.config.stream_view(table)
        assert view is not None
        logs = {p: self.cluster.committed_log(p) for p in range(self.config.partitions)}
        return stream_records(_retried(logs), table, view, self.sim.now)


def stream_duplicate_on_retry(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose stream repeats the records of a retried write."""
    store = _install(dynamodb(seed), _Bug(replica=_RetryLoggingReplica,
                                         coordinator=_RetryLoggingCoordinator))
    store.__class__ = _RetryDuplicatingStore
    return store

