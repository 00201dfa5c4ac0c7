"""Transactions across partitions: two-phase commit over replicated logs.

TransactWriteItems
    The coordinator is the leader of the *home* partition: the partition of the
    ClientRequestToken when there is one (so every retry of a token meets the same
    coordinator), else of the first action's item. When every action's item lives in
    the home partition, the transaction is one log entry there, evaluated atomically
    with the item-store model. Otherwise:

    1. *Prepare.* The coordinator sends each participant partition its actions. The
       participant's leader evaluates them with the model on its speculative state;
       an action whose item is locked by another transaction in flight gets the reason
       ``TransactionConflict``. If all hold, it appends a ``prepare`` entry carrying
       the effects and locking every item, and votes yes once that entry is
       committed; otherwise it votes no with its reasons (after confirming its
       leadership, like a strong read).
    2. *Decide.* With every vote yes the coordinator appends a ``decide commit``
       entry to the home partition's log; once committed the outcome is durable: the
       first decision for a transaction id in that log wins. A no vote, or a vote
       missing after ``vote_timeout``, makes it append ``decide abort``.
    3. *Complete.* The decision goes to the participants, whose leaders append
       ``commit`` (apply the prepared effects, release the locks) or ``abort``. The
       client gets its answer after the decision is committed: ok once every
       participant acknowledged its commit entry (or after ``commit_ack_wait``, the
       locks still guarding the items meanwhile), TransactionCanceled with the
       reasons in request order, or nothing (the client times out: Indeterminate)
       when votes went missing.

    A participant left prepared (the coordinator crashed or lost its leadership)
    asks the home partition for the outcome every ``in_doubt`` seconds; the home
    partition answers from its committed decisions, and its leader appends ``decide
    abort`` for a transaction nobody is coordinating any more. Since both phases
    live in replicated logs, the outcome survives any crash and is never applied
    partially. Items stay locked from prepare to commit, every transaction holds all
    its locks before any is released (strict two-phase locking), single-item writes
    to locked items fail with TransactionConflict and strong reads of them wait: the
    transactions are serializable with each other and with single-item operations.

    ClientRequestToken: the home partition remembers a committed transaction's token
    with the request's fingerprint and the global time it committed. Within ten
    minutes of the simulation's global clock, the same token with the same request
    answers ok without applying anything again, with a different request
    IdempotentParameterMismatch; a retry arriving while the first is still in flight
    waits for its outcome.

TransactGetItems
    Coordinated by the leader of the first get's partition. One partition: read every
    item at one confirmed point of its log (waiting while a transaction holds any of
    them). Several: read every partition (each a confirmed snapshot, waiting out
    locks), then read again; if no item's version changed in between, each item held
    the value read throughout, so all of them held it together at the instant the
    last first-round read was taken: an atomic snapshot. Otherwise try again (three
    times at most), then cancel with TransactionConflict for the items that kept
    changing.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from replicheck.implementation.reference.leader.config import KeyRef
from replicheck.implementation.reference.leader.messages import (
    CommitAck,
    Decision,
    Op,
    Prepare,
    ReadReply,
    ReadRequest,
    StatusQuery,
    TxnVote,
)
from replicheck.implementation.reference.leader.state import Effect, make_effect
from replicheck.implementation.reference.leader.validation import MAX_ITEM_BYTES, item_size, ref_of
from replicheck.models.items.errors import (
    CancellationReason,
    IdempotentParameterMismatch,
    StoreError,
    TransactionCanceled,
)
from replicheck.models.items.operations import apply, fingerprint
from replicheck.models.items.requests import (
    ConditionCheck,
    Get,
    Item,
    Response,
    TransactGet,
    TransactWrite,
    WriteAction,
)

if TYPE_CHECKING:
    from replicheck.implementation.reference.leader.partition import PartitionReplica

NONE_REASON = CancellationReason("None")
CONFLICT_REASON = CancellationReason("TransactionConflict",
                                     "Transaction is ongoing for the item")
MAX_GET_ATTEMPTS = 3


def _mismatch(token: str) -> IdempotentParameterMismatch:
    return IdempotentParameterMismatch(
        f"ClientRequestToken {token!r} was used for a different request")


def group_by_partition(replica: PartitionReplica, actions: tuple[Any, ...]
                       ) -> dict[int, tuple[tuple[int, Any], ...]]:
    """The actions (with their request positions) of each partition, partitions in
    order of first appearance."""
    groups: dict[int, list[tuple[int, Any]]] = {}
    for position, action in enumerate(actions):
        table, key = ref_of(replica.schemas, action)
        groups.setdefault(replica.config.partition_of(table, key), []).append(
            (position, action))
    return {p: tuple(group) for p, group in groups.items()}


def evaluate(replica: PartitionReplica, actions: tuple[tuple[int, WriteAction], ...]
             ) -> tuple[dict[int, CancellationReason], list[Effect]]:
    """Evaluate transaction actions on the leader's speculative state with the item
    model: a reason per request position (``None`` reasons when fine), and, when all
    are fine, the effects of the writing actions."""
    spec = replica.spec
    assert spec is not None
    refs = [ref_of(replica.schemas, action) for _, action in actions]
    database = spec.database(refs)
    reasons: dict[int, CancellationReason] = {}
    next_database = None
    try:
        next_database, _ = apply(database, TransactWrite(tuple(a for _, a in actions)),
                                 replica.now)
    except TransactionCanceled as error:
        for (position, _), reason in zip(actions, error.reasons, strict=True):
            reasons[position] = reason
    except StoreError as error:
        for position, _ in actions:
            reasons[position] = CancellationReason("ValidationError", str(error))
    for (position, _), ref in zip(actions, refs, strict=True):
        if ref in spec.locks:
            reasons[position] = CONFLICT_REASON
    effects: list[Effect] = []
    if next_database is not None and not any(not r.ok for r in reasons.values()):
        for (position, action), (table, key) in zip(actions, refs, strict=True):
            reasons.setdefault(position, NONE_REASON)
            if isinstance(action, ConditionCheck):
                continue
            new = next_database.tables[table].get(key)
            if new is not None and item_size(new) > MAX_ITEM_BYTES:
                reasons[position] = CancellationReason(
                    "ValidationError", "Item size has exceeded the maximum allowed size")
                continue
            old = database.tables[table].get(key)
            effects.append(make_effect(table, key, old, new, replica.stamp_for((table, key))))
    for position, _ in actions:
        reasons.setdefault(position, NONE_REASON)
    return reasons, effects


def writes_meta(replica: PartitionReplica, request: TransactWrite,
                written: dict[KeyRef, tuple[int, Effect]]) -> list[dict[str, Any]]:
    """``meta["writes"]`` of a committed transaction: one object per writing action,
    in request order, with the item version it created."""
    out = []
    for action in request.actions:
        if isinstance(action, ConditionCheck):
            continue
        ref = ref_of(replica.schemas, action)
        index, effect = written[ref]
        out.append({"table": ref[0], "key": list(ref[1]),
                    "version": replica.version_meta(index, effect.stamp),
                    "item": effect.new, "delete": effect.new is None,
                    "changed": effect.changed})
    return out


@dataclass
class _WriteTxn:
    txid: str
    term: int
    op: Op
    request: TransactWrite
    fingerprint: Hashable
    groups: dict[int, tuple[tuple[int, Any], ...]]
    waiters: list[Op]
    phase: str = "voting"
    votes: dict[int, TxnVote] = field(default_factory=dict)
    acks: dict[int, CommitAck] = field(default_factory=dict)


@dataclass
class _GetTxn:
    gid: str
    op: Op
    request: TransactGet
    groups: dict[int, tuple[tuple[int, Any], ...]]
    tag: int = 1
    attempt: int = 1
    first: dict[int, ReadReply] | None = None
    current: dict[int, ReadReply] = field(default_factory=dict)


class Coordinator:
    """The transaction coordinator role of a partition leader (volatile: a new
    leader starts with none in flight; their participants resolve through the
    durable decisions)."""

    def __init__(self, replica: PartitionReplica) -> None:
        self.replica = replica
        self.writes: dict[str, _WriteTxn] = {}
        self.by_token: dict[str, str] = {}
        self.by_request: dict[tuple[str, int], str] = {}
        self.gets: dict[str, _GetTxn] = {}
        self.counter = 0

    def reset(self) -> None:
        """Forget every transaction in flight (leadership lost)."""
        self.writes.clear()
        self.by_token.clear()
        self.by_request.clear()
        self.gets.clear()

    def _new_id(self, prefix: str) -> str:
        self.counter += 1
        r = self.replica
        return f"{prefix}:{r.config.region}:{r.pid}:{r.term}:{self.counter}"

    def _send_all(self, partition: int, body: Any) -> None:
        for node in self.replica.config.placement[partition]:
            self.replica.send(node, body)

    # -- TransactWriteItems -----------------------------------------------------------------

    def transact_write(self, op: Op) -> None:
        """Start (or join, or answer from its token) a write transaction."""
        r = self.replica
        spec = r.spec
        assert spec is not None
        request = op.request
        assert isinstance(request, TransactWrite)
        rid = (op.client, op.rid)
        if rid in spec.answered or rid in self.by_request:
            return  # a duplicate of a request already taken
        print_ = fingerprint(request)
        token = request.token
        if token is not None:
            running = self.by_token.get(token)
            if running is not None:
                txn = self.writes[running]
                if txn.fingerprint == print_:
                    txn.waiters.append(op)
                    self.by_request[rid] = running
                else:
                    r.answer_logged(op, error=_mismatch(token))
                return
            record = spec.tokens.get(token)
            if record is not None and record.live(r.now):
                if record.fingerprint == print_:
                    r.answer_logged(op, Response(), meta={"replayed": True})
                else:
                    r.answer_logged(op, error=_mismatch(token))
                return
        groups = group_by_partition(r, request.actions)
        if list(groups) == [r.pid]:
            self._one_shot(op, request, print_, groups[r.pid])
            return
        txid = self._new_id("t")
        txn = _WriteTxn(txid, r.term, op, request, print_, groups, [op])
        self.writes[txid] = txn
        self.by_request[rid] = txid
        if token is not None:
            self.by_token[token] = txid
        self._send_prepares(txn)
        timing = r.config.timing
        r.set_timer(timing.prepare_retry, "txn-retry", r.term, txid)
        r.set_timer(timing.vote_timeout, "txn-timeout", r.term, txid)

    def _one_shot(self, op: Op, request: TransactWrite, print_: Hashable,
                  actions: tuple[tuple[int, WriteAction], ...]) -> None:
        r = self.replica
        reasons, effects = evaluate(r, actions)
        if any(not reason.ok for reason in reasons.values()):
            ordered = tuple(reasons[i] for i in range(len(request.actions)))
            r.answer_logged(op, error=TransactionCanceled(ordered))
            return
        token = request.token
        entry = r.append("write", effects=tuple(effects), request=(op.client, op.rid),
                         token=token, fingerprint=print_ if token is not None else None)
        written = {e.ref: (entry.index, e) for e in effects}
        meta = {"writes": writes_meta(r, request, written)}
        r.on_commit(entry.index, lambda: r.reply(op, Response(), meta=meta))

    def _send_prepares(self, txn: _WriteTxn) -> None:
        r = self.replica
        for partition, actions in txn.groups.items():
            if partition not in txn.votes:
                self._send_all(partition, Prepare(partition, txn.txid, r.pid, actions))

    def _send_decisions(self, txn: _WriteTxn, outcome: str) -> None:
        for partition in txn.groups:
            if partition not in txn.acks:
                self._send_all(partition, Decision(partition, txn.txid, outcome))

    def on_vote(self, m: TxnVote) -> None:
        """A participant's vote; the last one decides."""
        txn = self.writes.get(m.txid)
        if txn is None or txn.phase != "voting" or m.voter in txn.votes:
            return
        txn.votes[m.voter] = m
        if len(txn.votes) == len(txn.groups):
            self._decide(txn)

    def _decide(self, txn: _WriteTxn) -> None:
        r = self.replica
        rid = (txn.op.client, txn.op.rid)
        if all(vote.ok for vote in txn.votes.values()):
            txn.phase = "deciding"
            entry = r.append("decide", txid=txn.txid, outcome="commit", request=rid,
                             token=txn.request.token,
                             fingerprint=txn.fingerprint if txn.request.token else None)
            r.on_commit(entry.index, lambda: self._decided(txn))
            return
        reasons = [NONE_REASON] * len(txn.request.actions)
        for vote in txn.votes.values():
            for position, reason in vote.reasons:
                reasons[position] = reason
        self._abort(txn, error=TransactionCanceled(tuple(reasons)))

    def _abort(self, txn: _WriteTxn, error: StoreError | None) -> None:
        """Decide abort durably, tell the participants, and (with ``error``) answer
        the clients once the decision is committed."""
        r = self.replica
        txn.phase = "done"
        entry = r.append("decide", txid=txn.txid, outcome="abort",
                         request=(txn.op.client, txn.op.rid))
        self._send_decisions(txn, "abort")
        self._forget(txn)
        if error is not None:
            r.on_commit(entry.index, lambda: self._answer(txn, None, error, None))

    def _decided(self, txn: _WriteTxn) -> None:
        r = self.replica
        if r.applied.decisions.get(txn.txid) != "commit" or txn.phase != "deciding":
            return
        txn.phase = "committing"
        self._send_decisions(txn, "commit")
        r.set_timer(r.config.timing.commit_ack_wait, "txn-ack-wait", r.term, txn.txid)

    def on_commit_ack(self, m: CommitAck) -> None:
        """A participant committed its part; with every part committed, answer ok."""
        txn = self.writes.get(m.txid)
        if txn is None or txn.phase != "committing" or m.voter in txn.acks:
            return
        txn.acks[m.voter] = m
        if len(txn.acks) == len(txn.groups):
            written = {e.ref: (ack.index, e) for ack in txn.acks.values() for e in ack.effects}
            self._complete(txn, {"writes": writes_meta(self.replica, txn.request, written)})

    def _complete(self, txn: _WriteTxn, meta: dict[str, Any]) -> None:
        txn.phase = "done"
        self._forget(txn)
        self._answer(txn, Response(), None, meta)

    def _answer(self, txn: _WriteTxn, response: Response | None, error: StoreError | None,
                meta: dict[str, Any] | None) -> None:
        r = self.replica
        r.reply(txn.op, response, error, meta)
        for op in txn.waiters[1:]:
            if r.is_leader:
                r.answer_logged(op, response, error, meta)

    def _forget(self, txn: _WriteTxn) -> None:
        self.writes.pop(txn.txid, None)
        if txn.request.token is not None and self.by_token.get(txn.request.token) == txn.txid:
            del self.by_token[txn.request.token]
        for op in txn.waiters:
            self.by_request.pop((op.client, op.rid), None)

    def on_timer(self, name: str, ident: str) -> None:
        """Coordinator timers: resend, give up on votes, stop waiting for acks."""
        r = self.replica
        timing = r.config.timing
        if name == "txn-retry":
            txn = self.writes.get(ident)
            if txn is None:
                return
            if txn.phase == "voting":
                self._send_prepares(txn)
            elif txn.phase == "committing":
                self._send_decisions(txn, "commit")
            r.set_timer(timing.prepare_retry, "txn-retry", r.term, ident)
        elif name == "txn-timeout":
            txn = self.writes.get(ident)
            if txn is not None and txn.phase == "voting":
                self._abort(txn, None)  # the clients time out: Indeterminate
        elif name == "txn-ack-wait":
            txn = self.writes.get(ident)
            if txn is not None and txn.phase == "committing":
                self._complete(txn, {})
        elif name == "get-retry":
            get = self.gets.get(ident)
            if get is not None:
                self._send_reads(get)
                r.set_timer(timing.prepare_retry, "get-retry", r.term, ident)

    def on_status(self, m: StatusQuery, src: str) -> None:
        """A participant in doubt asks for an outcome: answer a committed decision;
        as leader, decide abort for a transaction nobody coordinates any more."""
        r = self.replica
        outcome = r.applied.decisions.get(m.txid)
        if outcome is not None:
            r.send(src, Decision(m.asker, m.txid, outcome))
            return
        if not r.is_leader or m.txid in self.writes:
            return
        assert r.spec is not None
        if m.txid in r.spec.decisions:
            return  # decided, not yet committed: the participant asks again
        entry = r.append("decide", txid=m.txid, outcome="abort")

        def tell() -> None:
            r.send(src, Decision(m.asker, m.txid, r.applied.decisions[m.txid]))

        r.on_commit(entry.index, tell)

    # -- TransactGetItems -------------------------------------------------------------------

    def transact_get(self, op: Op) -> None:
        """Start an atomic multi-item read."""
        r = self.replica
        request = op.request
        assert isinstance(request, TransactGet)
        groups = group_by_partition(r, request.gets)
        if list(groups) == [r.pid]:
            refs = tuple(ref_of(r.schemas, g) for g in request.gets)
            r.when_unlocked(refs, lambda: self._local_get(op, request, refs))
            return
        gid = self._new_id("g")
        get = _GetTxn(gid, op, request, groups)
        self.gets[gid] = get
        self._send_reads(get)
        r.set_timer(r.config.timing.prepare_retry, "get-retry", r.term, gid)

    def _local_get(self, op: Op, request: TransactGet, refs: tuple[KeyRef, ...]) -> None:
        r = self.replica
        if not r.is_leader:
            return
        assert r.spec is not None
        versions = [r.version_meta(r.spec.versions.get(ref), r.spec.stamps.get(ref))
                    for ref in refs]
        try:
            _, response = apply(r.spec.database(refs), request)
        except StoreError as error:
            failure = error
            r.confirm(lambda: r.reply(op, error=failure))
            return
        meta = {"reads": [{"table": t, "key": list(k), "version": v}
                          for (t, k), v in zip(refs, versions, strict=True)]}
        r.confirm(lambda: r.reply(op, response, meta=meta))

    def _send_reads(self, get: _GetTxn) -> None:
        r = self.replica
        for partition, gets in get.groups.items():
            if partition not in get.current:
                self._send_all(partition, ReadRequest(partition, get.gid, get.tag, r.pid, gets))

    def on_read_reply(self, m: ReadReply) -> None:
        """One partition's confirmed snapshot; with all of them, validate or answer."""
        get = self.gets.get(m.gid)
        if get is None or m.tag != get.tag or m.reader in get.current:
            return
        get.current[m.reader] = m
        if len(get.current) < len(get.groups):
            return
        if get.first is None:
            self._next_round(get)
            return
        before = {pos: v for reply in get.first.values() for pos, v in reply.versions}
        after = {pos: v for reply in get.current.values() for pos, v in reply.versions}
        changed = sorted(pos for pos in after if after[pos] != before.get(pos))
        if not changed:
            self._finish_get(get)
            return
        get.attempt += 1
        if get.attempt > MAX_GET_ATTEMPTS:
            del self.gets[get.gid]
            reasons = tuple(CONFLICT_REASON if i in changed else NONE_REASON
                            for i in range(len(get.request.gets)))
            self.replica.reply(get.op, error=TransactionCanceled(reasons))
            return
        self._next_round(get)

    def _next_round(self, get: _GetTxn) -> None:
        get.first = get.current
        get.current = {}
        get.tag += 1
        self._send_reads(get)

    def _finish_get(self, get: _GetTxn) -> None:
        r = self.replica
        del self.gets[get.gid]
        items: dict[int, Item | None] = {}
        versions: dict[int, Any] = {}
        for reply in get.current.values():
            items.update(reply.items)
            versions.update(reply.reported)
        n = len(get.request.gets)
        refs = [ref_of(r.schemas, g) for g in get.request.gets]
        meta = {"reads": [{"table": refs[i][0], "key": list(refs[i][1]),
                           "version": versions[i]} for i in range(n)]}
        r.reply(get.op, Response(items=tuple(items[i] for i in range(n))), meta=meta)


class Participant:
    """The participant role of a partition leader: prepare, commit, abort, ask when
    in doubt, and serve transactional reads."""

    def __init__(self, replica: PartitionReplica) -> None:
        self.replica = replica

    def on_prepare(self, m: Prepare, src: str) -> None:
        """Lock and check this partition's actions; vote once durable (or no)."""
        r = self.replica
        if not r.is_leader:
            return
        spec = r.spec
        assert spec is not None
        if m.txid in spec.finished:
            return
        if m.txid in spec.prepared:
            entry = spec.prepared[m.txid]
            r.on_commit(entry.index, lambda: r.send(src, TxnVote(m.home, m.txid, r.pid, True)))
            return
        reasons, effects = evaluate(r, m.actions)
        if any(not reason.ok for reason in reasons.values()):
            listed = tuple(sorted(reasons.items()))
            r.confirm(lambda: r.send(src, TxnVote(m.home, m.txid, r.pid, False, listed)))
            return
        locks = tuple(ref_of(r.schemas, action) for _, action in m.actions)
        entry = r.append("prepare", effects=tuple(effects), txid=m.txid, home=m.home,
                         locks=locks)
        r.on_commit(entry.index, lambda: r.send(src, TxnVote(m.home, m.txid, r.pid, True)))
        self.watch(m.txid)

    def watch(self, txid: str) -> None:
        """Ask for ``txid``'s outcome if it is still prepared ``in_doubt`` seconds on."""
        r = self.replica
        r.set_timer(r.config.timing.in_doubt, "in-doubt", r.term, txid)

    def on_in_doubt(self, txid: str) -> None:
        """Still prepared: ask the home partition, and keep watching."""
        r = self.replica
        assert r.spec is not None
        prepared = r.spec.prepared.get(txid)
        if prepared is None:
            return
        assert prepared.home is not None
        for node in r.config.placement[prepared.home]:
            r.send(node, StatusQuery(prepared.home, txid, r.pid))
        self.watch(txid)

    def on_decision(self, m: Decision, src: str) -> None:
        """Apply a decision: commit the prepared effects or release the locks."""
        r = self.replica
        if not r.is_leader:
            return
        spec = r.spec
        assert spec is not None
        if m.outcome == "commit":
            prepared = spec.prepared.get(m.txid)
            if prepared is not None:
                entry = r.append("commit", txid=m.txid, effects=prepared.effects,
                                 home=prepared.home)
                index = entry.index
            elif m.txid in spec.finished and r.log[spec.finished[m.txid] - 1].kind == "commit":
                index = spec.finished[m.txid]
                prepared = r.log[index - 1]
            else:
                return
            assert prepared.home is not None
            ack = CommitAck(prepared.home, m.txid, r.pid, index, prepared.effects)
            r.on_commit(index, lambda: r.send(src, ack))
        elif m.txid not in spec.finished:
            r.append("abort", txid=m.txid)

    def on_read(self, m: ReadRequest, src: str) -> None:
        """Read these items at one confirmed point, once no transaction locks them."""
        r = self.replica
        if not r.is_leader:
            return
        refs = tuple(ref_of(r.schemas, get) for _, get in m.gets)
        r.when_unlocked(refs, lambda: self._read(m, src, refs))

    def _read(self, m: ReadRequest, src: str, refs: tuple[KeyRef, ...]) -> None:
        r = self.replica
        if not r.is_leader:
            return
        spec = r.spec
        assert spec is not None
        gets: tuple[Get, ...] = tuple(get for _, get in m.gets)
        try:
            _, response = apply(spec.database(refs), TransactGet(gets))
        except StoreError:
            return
        positions = [pos for pos, _ in m.gets]
        items = tuple(zip(positions, response.items, strict=True))
        versions = tuple((pos, spec.versions.get(ref))
                         for pos, ref in zip(positions, refs, strict=True))
        reported = tuple((pos, r.version_meta(spec.versions.get(ref), spec.stamps.get(ref)))
                         for pos, ref in zip(positions, refs, strict=True))
        reply = ReadReply(m.home, m.gid, m.tag, r.pid, items, versions, reported)
        r.confirm(lambda: r.send(src, reply))
