"""The messages of the leader-mode protocol, as immutable values.

Every message a node receives names the ``partition`` it is for (at that node), so a
node hosting several partition replicas hands it to the right one. Message kinds (the
simulator's ``Message.kind``) are the class names in lower case with dashes; see
:data:`KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from replicheck.implementation.reference.leader.state import Effect, Entry
from replicheck.models.items.errors import CancellationReason
from replicheck.models.items.requests import Get, Item, Request, WriteAction


@dataclass(frozen=True)
class Op:
    """A client request on its way to the replica that answers it: who asked
    (``client``, ``rid``: the reply goes straight to the client), the request, the
    partition it is for, and how many times the router has forwarded it."""

    client: str
    rid: int
    request: Request
    partition: int
    attempt: int = 0


@dataclass(frozen=True)
class Redirect:
    """A replica that cannot serve ``op`` (not the leader) hands it back to the
    router with its best guess of the leader. Nothing was applied."""

    op: Op
    hint: str | None
    partition: int = -1


@dataclass(frozen=True)
class LeaderNotice:
    """A replica became leader of ``partition`` in ``term`` (sent to the router)."""

    partition: int
    term: int
    node: str


@dataclass(frozen=True)
class VoteRequest:
    """Raft RequestVote."""

    partition: int
    term: int
    candidate: str
    last_index: int
    last_term: int


@dataclass(frozen=True)
class VoteReply:
    """Raft RequestVote reply."""

    partition: int
    term: int
    voter: str
    granted: bool


@dataclass(frozen=True)
class AppendEntries:
    """Raft AppendEntries (also the heartbeat). ``round`` numbers the leader's
    leadership-confirmation rounds: a reply echoing round ``r`` proves the follower
    still accepted this leader after the round started."""

    partition: int
    term: int
    leader: str
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int
    round: int


@dataclass(frozen=True)
class AppendReply:
    """Raft AppendEntries reply; ``match`` is the last index known to agree (on
    success) or the follower's hint where to retry from (on failure).
    ``request_term`` is the term of the AppendEntries it answers: a leader takes a
    reply only to a request of its current term, so a reply held back across a
    later election of the same leader never counts for the new term."""

    partition: int
    term: int
    follower: str
    success: bool
    match: int
    round: int
    request_term: int


@dataclass(frozen=True)
class Prepare:
    """Coordinator -> participant partition: lock and check these actions (with
    their positions in the request) of transaction ``txid`` coordinated by
    partition ``home``."""

    partition: int
    txid: str
    home: int
    actions: tuple[tuple[int, WriteAction], ...]


@dataclass(frozen=True)
class TxnVote:
    """Participant -> coordinator: ``ok`` (prepared durably) or not, with the reasons
    of the participant's actions by request position."""

    partition: int
    txid: str
    voter: int
    ok: bool
    reasons: tuple[tuple[int, CancellationReason], ...] = ()


@dataclass(frozen=True)
class Decision:
    """The outcome (``commit`` or ``abort``) of transaction ``txid``, for a participant."""

    partition: int
    txid: str
    outcome: str


@dataclass(frozen=True)
class CommitAck:
    """Participant -> coordinator: the transaction's effects here are committed at
    log ``index`` (their item version)."""

    partition: int
    txid: str
    voter: int
    index: int
    effects: tuple[Effect, ...]


@dataclass(frozen=True)
class StatusQuery:
    """A participant in doubt asks the coordinator partition for ``txid``'s outcome."""

    partition: int
    txid: str
    asker: int


@dataclass(frozen=True)
class ReadRequest:
    """TransactGet coordinator -> participant: read these gets (request positions)
    as one confirmed snapshot; ``tag`` tells the rounds apart."""

    partition: int
    gid: str
    tag: int
    home: int
    gets: tuple[tuple[int, Get], ...]


@dataclass(frozen=True)
class ReadReply:
    """Participant -> TransactGet coordinator: the items, their versions (log
    indexes, compared between rounds) and the versions reported to the client."""

    partition: int
    gid: str
    tag: int
    reader: int
    items: tuple[tuple[int, Item | None], ...]
    versions: tuple[tuple[int, int | None], ...]
    reported: tuple[tuple[int, Any], ...] = ()


@dataclass(frozen=True)
class GeoShip:
    """Global tables: region ``region``'s partition ``source`` ships its committed
    local effects with source log indexes in ``(from_index, to_index]``."""

    partition: int
    region: str
    source: int
    from_index: int
    to_index: int
    effects: tuple[tuple[int, Effect], ...]


@dataclass(frozen=True)
class GeoAck:
    """Global tables: region ``region`` durably holds ``partition``'s shipped writes
    up to source index ``cursor``."""

    partition: int
    region: str
    cursor: int


KINDS: Final[dict[type, str]] = {
    Op: "op",
    Redirect: "redirect",
    LeaderNotice: "leader",
    VoteRequest: "vote-request",
    VoteReply: "vote-reply",
    AppendEntries: "append",
    AppendReply: "append-reply",
    Prepare: "prepare",
    TxnVote: "txn-vote",
    Decision: "decision",
    CommitAck: "commit-ack",
    StatusQuery: "status",
    ReadRequest: "read",
    ReadReply: "read-reply",
    GeoShip: "geo-ship",
    GeoAck: "geo-ack",
}
"""The simulator message kind of each message type."""
