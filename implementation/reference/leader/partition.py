"""One replica of one partition: a Raft replication group member that also serves
the partition's requests when it leads.

Replication (Raft)
    Each replica has a durable ``term`` (epoch), ``voted_for`` and log. A leader
    appends entries in its term and sends them to the followers; an entry is committed
    once a majority holds it durably, and every replica applies committed entries in
    log order. Followers reject entries from stale terms; a replica grants its vote
    only to a candidate whose log is at least as up to date as its own, so a new
    leader holds every committed entry and no acknowledged write is ever lost. A new
    leader first appends a no-op entry of its term (so it can commit what earlier
    leaders left uncommitted). Election timeouts are drawn deterministically from the
    node, the partition and a counter.

Serving (at the leader)
    The leader keeps a *speculative* state (every entry of its log applied) next to
    the committed one. A write is evaluated with the item-store model on the
    speculative state, appended with its effects, and answered once committed, so
    conditions, update expressions and return values are atomic in log order. Every
    definite answer to a write request, including a failed condition, is itself a
    logged entry naming the request, so a duplicated request is never applied after
    its answer went out. A strongly consistent read is computed on the speculative
    state and answered only when (a) everything it reflects is committed and (b) a
    majority of the group acknowledged this leader in a heartbeat round started
    after the read arrived. No clock is trusted: a deposed leader that still
    believes it leads can never collect that majority, so it never answers.
    Eventually consistent reads are answered by any replica from its committed state,
    possibly stale.

Items locked by a transaction in flight (see ``transactions``) make single-item
writes fail with TransactionConflict; strong reads of them wait until the lock goes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from replicheck.implementation.reference.base import Reply
from replicheck.implementation.reference.leader.config import ClusterConfig, KeyRef
from replicheck.implementation.reference.leader.geo import GeoShipper
from replicheck.implementation.reference.leader.messages import (
    KINDS,
    AppendEntries,
    AppendReply,
    LeaderNotice,
    Op,
    Redirect,
    VoteReply,
    VoteRequest,
)
from replicheck.implementation.reference.leader.state import (
    Entry,
    PartitionState,
    Stamp,
    make_effect,
)
from replicheck.implementation.reference.leader.transactions import Coordinator, Participant
from replicheck.implementation.reference.leader.validation import check_item_size, ref_of
from replicheck.implementation.reference.sim import Timer
from replicheck.models.items.errors import StoreError, TransactionConflict
from replicheck.models.items.operations import apply
from replicheck.models.items.requests import (
    Delete,
    Get,
    Put,
    Response,
    TransactWrite,
    Update,
)

if TYPE_CHECKING:
    from replicheck.implementation.reference.leader.node import NodeEndpoint

FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"


class PartitionReplica:
    """A member of partition ``partition``'s replication group, hosted by ``node``.

    Promises: a committed entry is never lost or changed; replicas apply the same
    committed entries in the same order; this replica answers a client only with
    outcomes that are committed (writes) or confirmed current (strong reads)."""

    def __init__(self, node: NodeEndpoint, partition: int, config: ClusterConfig) -> None:
        self.node = node
        self.id = node.id
        self.pid = partition
        self.config = config
        self.peers = config.placement[partition]
        self.others = tuple(p for p in self.peers if p != node.id)
        self.majority = len(self.peers) // 2 + 1
        self.schemas = config.schema_map
        # durable
        self.term = 0
        self.voted_for: str | None = None
        self.log: list[Entry] = []
        # volatile
        self.commit = 0
        self.applied = PartitionState(self.schemas)
        self.role = FOLLOWER
        self.leader_hint: str | None = None
        self.last_heard = self.now
        self.election_timer: Timer | None = None
        self.election_count = 0
        self.election_timeout = config.timing.election_max
        self.votes: set[str] = set()
        # leader only
        self.spec: PartitionState | None = None
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.acked_round: dict[str, int] = {}
        self.last_ack: dict[str, float] = {}
        self.round = 0
        self.leader_since = 0.0
        self.commit_waiters: dict[int, list[Callable[[], None]]] = {}
        self.confirm_waiters: list[tuple[int, int, Callable[[], None]]] = []
        self.lock_waiters: list[tuple[tuple[KeyRef, ...], Callable[[], None]]] = []
        self.heartbeat_timer: Timer | None = None
        self.coordinator = Coordinator(self)
        self.participant = Participant(self)
        self.geo = GeoShipper(self) if config.geo else None

    # -- plumbing -------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The simulation's global time (elapsed-time measurements only)."""
        assert self.node.sim is not None
        return self.node.sim.now

    @property
    def last_index(self) -> int:
        """The index of the last log entry (0: empty log)."""
        return len(self.log)

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index`` (0 before the first entry)."""
        return self.log[index - 1].term if index > 0 else 0

    @property
    def is_leader(self) -> bool:
        """True while this replica believes it leads its partition."""
        return self.role == LEADER

    def send(self, dst: str, body: Any) -> None:
        """Send a protocol message (its kind follows from its type)."""
        self.node.send(dst, KINDS[type(body)], body)

    def set_timer(self, after: float, name: str, *payload: Any) -> Timer:
        """A timer of this replica (the node hands it back by partition)."""
        return self.node.set_timer(after, name, (self.pid, *payload))

    def reply(self, op: Op, response: Response | None = None, error: StoreError | None = None,
              meta: dict[str, Any] | None = None) -> None:
        """Answer the client of ``op``."""
        self.node.send(op.client, "reply", Reply(op.rid, response, error, meta))

    def _persist_meta(self) -> None:
        self.node.log(("meta", self.pid, self.term, self.voted_for))

    def _persist_log(self, start: int) -> None:
        self.node.log(("log", self.pid, start, tuple(self.log[start - 1:])))

    def stamp_for(self, ref: KeyRef) -> Stamp | None:
        """The last-writer-wins stamp of a new local write of ``ref`` (global tables):
        this node's clock in microseconds, raised above the item's current stamp so a
        local write always supersedes what the region holds. ``None`` without
        cross-region replication."""
        if self.geo is None:
            return None
        assert self.spec is not None
        ts = int(self.node.now() * 1_000_000)
        current = self.spec.stamps.get(ref)
        if current is not None and ts <= current[0]:
            ts = current[0] + 1
        return (ts, self.config.region)

    def version_meta(self, index: int | None, stamp: Stamp | None) -> Any:
        """The version a client's history records: the item's log index, or its
        last-writer-wins stamp ``[timestamp, region]`` in global tables."""
        if self.geo is not None:
            return None if stamp is None else [stamp[0], stamp[1]]
        return index

    # -- lifecycle ------------------------------------------------------------------------

    def restore(self, term: int, voted_for: str | None, log: list[Entry], commit: int) -> None:
        """Load durable state (after a restart) and apply the known-committed prefix."""
        self.term, self.voted_for, self.log = term, voted_for, log
        self.commit = min(commit, len(log))
        self.applied = PartitionState(self.schemas)
        for entry in self.log[:self.commit]:
            self.applied.apply(entry)
        self.last_heard = self.now
        self._arm_election()

    def bootstrap(self, leader: str) -> None:
        """Start in term 1 with ``leader`` leading (the cluster's initial placement)."""
        self.term, self.voted_for = 1, leader
        self._persist_meta()
        self.leader_hint = leader
        if leader == self.id:
            self._become_leader(initial=True)
        else:
            self.last_heard = self.now
            self._arm_election()

    # -- elections ------------------------------------------------------------------------

    def _arm_election(self, *, fresh: bool = True) -> None:
        if self.election_timer is not None:
            self.node.cancel_timer(self.election_timer)
        if fresh:
            self.election_timeout = self.config.election_timeout(
                self.id, self.pid, self.election_count)
            self.election_count += 1
        after = max(0.0, self.last_heard + self.election_timeout - self.now)
        self.election_timer = self.set_timer(after, "election")

    def _on_election_timer(self) -> None:
        self.election_timer = None
        if self.role == LEADER:
            return
        if self.now - self.last_heard >= self.election_timeout - 1e-9:
            self._start_election()
        else:
            self._arm_election(fresh=False)

    def _start_election(self) -> None:
        self.term += 1
        self.role = CANDIDATE
        self.voted_for = self.id
        self._persist_meta()
        self.votes = {self.id}
        self.leader_hint = None
        self.last_heard = self.now
        self._arm_election()
        if len(self.votes) >= self.majority:
            self._become_leader()
            return
        last = self.last_index
        for peer in self.others:
            self.send(peer, VoteRequest(self.pid, self.term, self.id, last, self.term_at(last)))

    def on_vote_request(self, m: VoteRequest) -> None:
        """Grant a vote at most once per term, only to an up-to-date candidate."""
        if m.term > self.term:
            self._become_follower(m.term)
        last = self.last_index
        up_to_date = (m.last_term, m.last_index) >= (self.term_at(last), last)
        granted = (m.term == self.term and self.voted_for in (None, m.candidate)
                   and up_to_date and self.role != LEADER)
        if granted:
            if self.voted_for is None:
                self.voted_for = m.candidate
                self._persist_meta()
            self.last_heard = self.now
            self._arm_election(fresh=False)
        self.send(m.candidate, VoteReply(self.pid, self.term, self.id, granted))

    def on_vote_reply(self, m: VoteReply) -> None:
        """Count votes; a majority makes this candidate the leader of its term."""
        if m.term > self.term:
            self._become_follower(m.term)
            return
        if self.role != CANDIDATE or m.term != self.term or not m.granted:
            return
        self.votes.add(m.voter)
        if len(self.votes) >= self.majority:
            self._become_leader()

    def _become_follower(self, term: int) -> None:
        if term > self.term:
            self.term = term
            self.voted_for = None
            self._persist_meta()
        if self.role == LEADER:
            self._drop_leadership()
        self.role = FOLLOWER
        if self.election_timer is None:
            self.last_heard = self.now
            self._arm_election()

    def _drop_leadership(self) -> None:
        """Forget everything only a leader holds; clients waiting on it time out."""
        self.spec = None
        if self.heartbeat_timer is not None:
            self.node.cancel_timer(self.heartbeat_timer)
            self.heartbeat_timer = None
        self.commit_waiters.clear()
        self.confirm_waiters.clear()
        self.lock_waiters.clear()
        self.coordinator.reset()
        if self.geo is not None:
            self.geo.reset()

    def _become_leader(self, *, initial: bool = False) -> None:
        self.role = LEADER
        self.leader_hint = self.id
        if self.election_timer is not None:
            self.node.cancel_timer(self.election_timer)
            self.election_timer = None
        spec = self.applied.copy()
        for entry in self.log[self.commit:]:
            spec.apply(entry)
        self.spec = spec
        last = self.last_index
        self.next_index = {f: last + 1 for f in self.others}
        self.match_index = dict.fromkeys(self.others, 0)
        self.acked_round = dict.fromkeys(self.others, 0)
        self.last_ack = dict.fromkeys(self.others, self.now)
        self.round = 0
        self.leader_since = self.now
        self.commit_waiters.clear()
        self.confirm_waiters.clear()
        self.lock_waiters.clear()
        if not initial:  # the router knows the initial placement
            self.node.send(self.config.router, "leader",
                           LeaderNotice(self.pid, self.term, self.id))
            self.append("noop")
        self.heartbeat_timer = self.set_timer(self.config.timing.heartbeat, "heartbeat",
                                              self.term)
        for txid in list(spec.prepared):
            self.participant.watch(txid)
        if self.geo is not None:
            self.geo.reset()

    # -- replication ----------------------------------------------------------------------

    def append(self, kind: str, **fields: Any) -> Entry:
        """Append an entry of this leader's term, apply it to the speculative state
        and send it to the followers."""
        assert self.role == LEADER and self.spec is not None
        entry = Entry(self.term, self.last_index + 1, kind, self.now, **fields)
        self.log.append(entry)
        self.node.log(("log", self.pid, entry.index, (entry,)))
        released = self.spec.apply(entry)
        self._broadcast()
        if self.majority == 1:
            self._advance_leader_commit()
        if released:
            self._wake_lock_waiters()
        return entry

    def _broadcast(self) -> None:
        for follower in self.others:
            self._send_append(follower)

    def _send_append(self, follower: str) -> None:
        nxt = self.next_index[follower]
        prev = nxt - 1
        entries = tuple(self.log[prev:prev + self.config.timing.batch])
        self.send(follower, AppendEntries(self.pid, self.term, self.id, prev,
                                          self.term_at(prev), entries, self.commit,
                                          self.round))
        self.next_index[follower] = prev + len(entries) + 1

    def on_append(self, m: AppendEntries) -> None:
        """Follower side of AppendEntries: reject stale terms, check the previous
        entry matches, drop a conflicting suffix (never a committed entry), append,
        and learn the commit index."""
        if m.term < self.term:
            self.send(m.leader, AppendReply(self.pid, self.term, self.id, False, 0, m.round,
                                            m.term))
            return
        if m.term > self.term or self.role != FOLLOWER:
            self._become_follower(m.term)
        self.leader_hint = m.leader
        self.last_heard = self.now
        if self.election_timer is None:
            self._arm_election()
        if m.prev_index > self.last_index:
            self.send(m.leader, AppendReply(self.pid, self.term, self.id, False,
                                            self.last_index, m.round, m.term))
            return
        if m.prev_index > 0 and self.term_at(m.prev_index) != m.prev_term:
            conflicting = self.term_at(m.prev_index)
            hint = m.prev_index - 1
            while hint > self.commit and self.term_at(hint) == conflicting:
                hint -= 1
            self.send(m.leader, AppendReply(self.pid, self.term, self.id, False, hint,
                                            m.round, m.term))
            return
        first_new: int | None = None
        for entry in m.entries:
            if entry.index <= self.last_index:
                if self.term_at(entry.index) == entry.term:
                    continue
                assert entry.index > self.commit, "a committed entry would be overwritten"
                del self.log[entry.index - 1:]
            self.log.append(entry)
            if first_new is None:
                first_new = entry.index
        if first_new is not None:
            self._persist_log(first_new)
        match = m.prev_index + len(m.entries)
        target = min(m.commit, match)
        if target > self.commit:
            self._advance_commit(target)
        self.send(m.leader, AppendReply(self.pid, self.term, self.id, True, match, m.round,
                                        m.term))

    def on_append_reply(self, m: AppendReply) -> None:
        """Leader side: track what each follower holds and which confirmation round
        it acknowledged; commit what a majority holds. Only a reply to a request of
        this leader's current term counts."""
        if m.term > self.term:
            self._become_follower(m.term)
            return
        if self.role != LEADER or m.term != self.term or m.request_term != self.term:
            return
        follower = m.follower
        self.last_ack[follower] = self.now
        if m.round > self.acked_round[follower]:
            self.acked_round[follower] = m.round
        if m.success:
            if m.match > self.match_index[follower]:
                self.match_index[follower] = m.match
            if self.next_index[follower] <= self.match_index[follower]:
                self.next_index[follower] = self.match_index[follower] + 1
            self._advance_leader_commit()
            if self.role == LEADER and self.next_index[follower] <= self.last_index:
                self._send_append(follower)
        else:
            self.next_index[follower] = max(self.match_index[follower] + 1, m.match + 1)
            self._send_append(follower)
        self._check_confirms()

    def _advance_leader_commit(self) -> None:
        for n in range(self.last_index, self.commit, -1):
            if self.term_at(n) != self.term:
                break
            holders = 1 + sum(1 for f in self.others if self.match_index[f] >= n)
            if holders >= self.majority:
                self._advance_commit(n)
                return

    def _advance_commit(self, target: int) -> None:
        target = min(target, self.last_index)
        if target <= self.commit:
            return
        old = self.commit
        for entry in self.log[old:target]:
            self.applied.apply(entry)
        self.commit = target
        self.node.log(("commit", self.pid, target))
        if self.role != LEADER:
            return
        callbacks: list[Callable[[], None]] = []
        for index in range(old + 1, target + 1):
            callbacks.extend(self.commit_waiters.pop(index, ()))
        for callback in callbacks:
            callback()
        self._check_confirms()
        if self.geo is not None and self.role == LEADER:
            self.geo.pump()

    def on_commit(self, index: int, callback: Callable[[], None]) -> None:
        """Run ``callback`` once entry ``index`` (of this leadership) is committed;
        never, if this replica stops leading first."""
        if index <= self.commit:
            callback()
        else:
            self.commit_waiters.setdefault(index, []).append(callback)

    # -- leadership confirmation and locks ------------------------------------------------

    def confirm(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once everything in the speculative state now is committed
        and a majority acknowledged this leader in a round started now (the
        read-index protocol); never, if this replica stops leading first."""
        self.round += 1
        self.confirm_waiters.append((self.last_index, self.round, callback))
        if self.majority == 1:
            self._check_confirms()
        else:
            self._broadcast()

    def _confirmed_round(self) -> int:
        needed = self.majority - 1
        if needed <= 0:
            return self.round
        rounds = sorted((self.acked_round[f] for f in self.others), reverse=True)
        return rounds[needed - 1]

    def _check_confirms(self) -> None:
        if self.role != LEADER or not self.confirm_waiters:
            return
        confirmed = self._confirmed_round()
        ready = [w for w in self.confirm_waiters if w[0] <= self.commit and w[1] <= confirmed]
        if not ready:
            return
        self.confirm_waiters = [w for w in self.confirm_waiters
                                if not (w[0] <= self.commit and w[1] <= confirmed)]
        for _, _, callback in ready:
            callback()

    def when_unlocked(self, refs: tuple[KeyRef, ...], callback: Callable[[], None]) -> None:
        """Run ``callback`` as soon as none of ``refs`` is locked by a transaction in
        the speculative state (at once if none is)."""
        assert self.spec is not None
        if any(ref in self.spec.locks for ref in refs):
            self.lock_waiters.append((refs, callback))
        else:
            callback()

    def _wake_lock_waiters(self) -> None:
        waiting, self.lock_waiters = self.lock_waiters, []
        for refs, callback in waiting:
            if self.role != LEADER:
                return
            self.when_unlocked(refs, callback)

    # -- timers ---------------------------------------------------------------------------

    def on_timer(self, name: str, payload: tuple[Any, ...]) -> None:
        """A timer of this replica fired."""
        if name == "election":
            self._on_election_timer()
            return
        if self.role != LEADER or not payload or payload[0] != self.term:
            return
        if name == "heartbeat":
            self._on_heartbeat()
        elif name == "in-doubt":
            self.participant.on_in_doubt(payload[1])
        elif name.startswith("geo") and self.geo is not None:
            self.geo.pump(force=True)
        else:
            self.coordinator.on_timer(name, payload[1])

    def _on_heartbeat(self) -> None:
        timing = self.config.timing
        alive = 1 + sum(1 for f in self.others
                        if self.now - self.last_ack[f] < timing.election_max)
        if (alive < self.majority and self.now - self.leader_since > timing.election_max):
            # Check-quorum: a leader cut off from a majority steps down (availability
            # only; safety never depends on it).
            self.role = FOLLOWER
            self.leader_hint = None
            self._drop_leadership()
            self.last_heard = self.now
            self._arm_election()
            return
        self._broadcast()
        if self.geo is not None:
            self.geo.pump()
        self.heartbeat_timer = self.set_timer(timing.heartbeat, "heartbeat", self.term)

    # -- client requests ------------------------------------------------------------------

    def on_op(self, op: Op) -> None:
        """Serve a client request, or hand it back to the router when this replica
        cannot (not the leader)."""
        request = op.request
        if isinstance(request, Get) and not request.consistent:
            self._eventual_read(op)
            return
        if self.role != LEADER:
            self.node.send(self.config.router, "redirect", Redirect(op, self.leader_hint,
                                                                     self.pid))
            return
        if isinstance(request, Get):
            ref = ref_of(self.schemas, request)
            self.when_unlocked((ref,), lambda: self._strong_read(op, ref))
        elif isinstance(request, Put | Update | Delete):
            self._single_write(op)
        elif isinstance(request, TransactWrite):
            self.coordinator.transact_write(op)
        else:
            self.coordinator.transact_get(op)

    def _eventual_read(self, op: Op) -> None:
        request = op.request
        assert isinstance(request, Get)
        ref = ref_of(self.schemas, request)
        state = self.applied
        meta = {"version": self.version_meta(state.versions.get(ref), state.stamps.get(ref)),
                "replica": self.id}
        try:
            _, response = apply(state.database([ref]), request)
        except StoreError as error:
            self.reply(op, error=error)
            return
        self.reply(op, response, meta=meta)

    def _strong_read(self, op: Op, ref: KeyRef) -> None:
        if self.role != LEADER:
            return
        assert self.spec is not None
        request = op.request
        meta = {"version": self.version_meta(self.spec.versions.get(ref),
                                             self.spec.stamps.get(ref))}
        try:
            _, response = apply(self.spec.database([ref]), request)
        except StoreError as error:
            failure = error
            self.confirm(lambda: self.reply(op, error=failure))
            return
        self.confirm(lambda: self.reply(op, response, meta=meta))

    def answer_logged(self, op: Op, response: Response | None = None,
                      error: StoreError | None = None, meta: dict[str, Any] | None = None
                      ) -> None:
        """Answer a write request with an outcome that changes nothing, once an entry
        recording that the request was answered is committed."""
        entry = self.append("write", request=(op.client, op.rid))
        self.on_commit(entry.index, lambda: self.reply(op, response, error, meta))

    def _single_write(self, op: Op) -> None:
        assert self.spec is not None
        request = op.request
        assert isinstance(request, Put | Update | Delete)
        rid = (op.client, op.rid)
        if rid in self.spec.answered:
            return  # a duplicate of a request already taken
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
        entry = self.append("write", effects=(effect,), request=rid)
        meta = {"version": self.version_meta(entry.index, effect.stamp),
                "changed": effect.changed}
        if isinstance(request, Update):
            meta["item"] = new  # what the update expression made: the version's item
        self.on_commit(entry.index, lambda: self.reply(op, response, meta=meta))
