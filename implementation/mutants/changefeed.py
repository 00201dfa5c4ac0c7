"""Mutants of the leader-mode (``dynamodb``) change stream: records of a write that
never happened, records out of their item's order, images of the wrong version.
Each is caught only by explaining every record by exactly one write that did not
fail, in its item's order, with the right images (the strict stream rule), never by
the store's own account of its log. A mutant keeps the preset's descriptor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from replicheck.implementation.mutants.leader import _Bug, _install
from replicheck.implementation.reference.leader.messages import Op
from replicheck.implementation.reference.leader.partition import PartitionReplica
from replicheck.implementation.reference.leader.state import Entry, make_effect
from replicheck.implementation.reference.leader.store import LeaderStore, dynamodb
from replicheck.implementation.reference.leader.stream import stream_records
from replicheck.implementation.reference.leader.validation import check_item_size, ref_of
from replicheck.implementation.store import StreamRecord
from replicheck.models.items.errors import StoreError, TransactionConflict
from replicheck.models.items.operations import apply
from replicheck.models.items.requests import Delete, Put, Update

__all__ = [
    "stream_emits_prepared_transactions",
    "stream_emits_unchanged_writes",
    "stream_old_image_from_committed_state",
    "stream_reorders_on_failover",
    "stream_skips_record_after_failover",
]


class _LogViewStore(LeaderStore):
    """A store whose stream reader sees each partition's committed log through
    :meth:`view` (the bug); the same checks and errors as the reference."""

    def view(self, log: list[Entry]) -> list[Entry]:  # pragma: no cover - overridden
        return log

    def stream_records(self, table: str) -> tuple[StreamRecord, ...]:
        super().stream_records(table)  # the same checks and errors
        view = self.config.stream_view(table)
        assert view is not None
        logs: Mapping[int, list[Entry]] = {
            p: self.view(self.cluster.committed_log(p)) for p in range(self.config.partitions)}
        return stream_records(logs, table, view, self.sim.now)


# -- records of transactions that did not commit --------------------------------------------


class _PrepareEmittingStore(_LogViewStore):
    """Emits a cross-partition transaction's changes when a participant prepares
    them, not when it commits them."""

    def view(self, log: list[Entry]) -> list[Entry]:
        out = []
        for entry in log:
            if entry.kind == "prepare":
                # THE BUG: the prepared effects read as a write: an aborted
                # transaction's changes are emitted too
                out.append(dataclasses.replace(entry, kind="write"))
            elif entry.kind == "commit":
                out.append(dataclasses.replace(entry, effects=()))
            else:
                out.append(entry)
        return out


def stream_emits_prepared_transactions(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose stream emits transactions' changes at prepare time."""
    store = dynamodb(seed)
    store.__class__ = _PrepareEmittingStore
    return store


# -- records of writes that changed nothing ------------------------------------------------


class _UnchangedEmittingStore(_LogViewStore):
    """Emits a record for every write the log holds, also one that left its item as
    it was (a put of the same item, a delete of an absent one)."""

    def view(self, log: list[Entry]) -> list[Entry]:
        # THE BUG: every effect is taken as a change
        return [dataclasses.replace(entry, effects=tuple(
                    dataclasses.replace(e, changed=True) for e in entry.effects))
                if entry.kind == "write" else entry for entry in log]


def stream_emits_unchanged_writes(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose stream emits a record for a write that changed nothing."""
    store = dynamodb(seed)
    store.__class__ = _UnchangedEmittingStore
    return store


# -- order under leader changes -------------------------------------------------------------


def _changes(entry: Entry) -> bool:
    return entry.kind in ("write", "commit") and any(e.changed for e in entry.effects)


class _FailoverReorderingStore(_LogViewStore):
    """Reads a new leader's first change before the old leader's last one."""

    def view(self, log: list[Entry]) -> list[Entry]:
        out = list(log)
        for i, entry in enumerate(log):
            if entry.kind != "noop":
                continue
            before = next((j for j in range(i - 1, -1, -1) if _changes(out[j])), None)
            after = next((j for j in range(i + 1, len(out)) if _changes(out[j])), None)
            if before is None or after is None:
                continue
            # THE BUG: the new term's reader starts before the old term's is drained: the
            # two records trade places in the stream
            old, new = out[before], out[after]
            out[before] = dataclasses.replace(old, time=new.time)
            out[after] = dataclasses.replace(new, time=old.time)
        return out


def stream_reorders_on_failover(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose stream puts a new leader's first record before the old
    leader's last."""
    store = dynamodb(seed)
    store.__class__ = _FailoverReorderingStore
    return store


class _FailoverSkippingStore(_LogViewStore):
    """Resumes a partition's stream after a leader change one record too far."""

    def view(self, log: list[Entry]) -> list[Entry]:
        out: list[Entry] = []
        skip = False
        for entry in log:
            if entry.kind == "noop" and out:
                skip = True
            elif skip and _changes(entry):
                skip = False
                continue  # THE BUG: the checkpoint is taken as the next record's start
            out.append(entry)
        return out


def stream_skips_record_after_failover(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose stream loses a new leader's first record."""
    store = dynamodb(seed)
    store.__class__ = _FailoverSkippingStore
    return store


# -- images ---------------------------------------------------------------------------------


class _CommittedOldImageReplica(PartitionReplica):
    """Takes a write's old image from the committed state, not from the log's tail."""

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
        database = self.spec.database([ref])
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
        # THE BUG: the before image is read from the committed state, which misses a
        # write to the item still being replicated
        effect = dataclasses.replace(effect, old=self.applied.item(ref))
        entry = self.append("write", effects=(effect,), request=rid)
        meta = {"version": self.version_meta(entry.index, effect.stamp),
                "changed": effect.changed}
        if isinstance(request, Update):
            meta["item"] = new
        self.on_commit(entry.index, lambda: self.reply(op, response, meta=meta))


def stream_old_image_from_committed_state(seed: int = 0) -> LeaderStore:
    """``dynamodb`` whose stream records' old images miss in-flight writes."""
    return _install(dynamodb(seed), _Bug(replica=_CommittedOldImageReplica))
