"""How each guarantee is checked on a recorded item history.

:func:`judge_guarantee` takes a guarantee ID, the history a
:class:`~replicheck.properties.recording.RecordingStore` recorded (with any replica
and stream observations) and the store's descriptor, and answers a
:class:`Judgement`:

``holds``
    the store claims it and the checker found nothing (or there was nothing the
    claim covers: then ``not-applicable``);
``violated``
    the store claims it and the checker found an anomaly: a failure;
``observed``
    the store does not claim it and the checker found an anomaly: reported, never a
    failure;
``unknown``
    the checker reached its time limit;
``not-applicable``
    the history holds nothing the guarantee speaks about, or the store lacks what
    checking it needs (the reason says which).

Which checker and which operations:

- ``linearizable-strong-reads``, ``linearizable-conditional-writes``: linearizability
  of the item history (``judge.spec_for("item", ...)``, the WGL search) restricted to
  the reads the claim covers: a read kind (``get-strong``, ``get-eventual``,
  ``transact-get``) not named in the claim's operations is dropped; writes and
  transactions are always kept (they change the state).
- ``serializable-transactions``, ``atomic-transactions``: the Elle-style item checker
  (:func:`~replicheck.histories.checkers.elle.items.check_item_transactions`, what
  ``replicheck check --model item --consistency serializable`` runs) on the same
  restricted history, with the versions the store recorded (:func:`transactional_view`).
  The whole history is the transactional history: each single-item request is a
  one-operation transaction. That is what DynamoDB promises ("Isolation levels for
  DynamoDB transactions"): TransactWriteItems and TransactGetItems are serializable
  with respect to each other and to the standard single-item requests (PutItem,
  UpdateItem, DeleteItem, GetItem); only BatchGetItem, BatchWriteItem, Query and Scan
  are weaker, and this suite sends none of them. So a dependency cycle through a
  single-item write and a transaction is a violation of the transactions' claim too.
  Serializability is not linearizability: a serial order need not respect real time,
  so a stale read or a stale conditional update is no anomaly here (it is one of
  ``linearizable-*``).

  The reads judged: those the claim names, and for ``serializable-transactions``
  strongly consistent GetItem and TransactGetItems always (DynamoDB names GetItem
  among the operations serializable with transactions), for ``atomic-transactions``
  every read (what any reader can observe of a transaction: a read-only single-item
  request only adds a ``wr`` edge in and ``rw`` edges out, so a stale eventually
  consistent read closes no G0 or G1c cycle and is no fractured read, while it can
  show a cancelled transaction's write, G1a).

  ``serializable-transactions`` is the checker's ``serializable``: no G0, G1a, G1b,
  G1c, G-single, G2-item (lost updates among them) nor G2 (no serial order of the
  committed operations replays through the item model, every condition, update
  expression and client token included), each cycle given with its edges (the
  report draws it). ``atomic-transactions`` is ``read-atomic``: no G1a (a read of a
  cancelled transaction's write), no G1b (an intermediate version: impossible here,
  a transaction writes an item at most once), no fractured read (a transaction reads
  one item as a committed transaction wrote it and another item that transaction
  wrote at a version older than that transaction's: it saw part of its writes, not
  all), and nothing read-atomic implies (G0, G1c, garbage reads).
- ``read-your-writes``, ``monotonic-reads``: the sessions checker on the history's
  single-item operations (reads of the claimed kinds), with the store's version
  metadata (``meta["version"]``); without versions, reads are matched to writes by
  value.
- ``convergence``: the convergence checker on the last ``replicas`` observation, and
  every version that snapshot holds produced by a write that did not definitely
  fail, or a merge of such versions (:mod:`~replicheck.properties.provenance`): a
  version no write produced would pass the lost-write rule as superseding any
  acknowledged write.
- ``stream-exactly-once``, ``stream-item-order``: the stream checker on the last
  ``stream`` observation.

- ``merkle-root-iff-equal``: the convergence checker's Merkle check on EVERY
  ``replicas`` observation (the concurrency property observes the replicas mid-run,
  before settling and at the end).
- ``anti-entropy-exact``: in every ``anti-entropy`` observation of a finished
  session (one session between two settled replicas), both replicas' entries of
  every key of their shared ranges, read right after it (``after``), are equal
  (sibling order ignored): for a leaderless store, both hold the merge. The keys the
  store reports it repaired are its own bookkeeping: shown, never judged.
- ``hinted-handoff-delivers``: in every ``hints`` observation taken after healing,
  restarting and settling, each hinted state a fallback held (before settling, and
  still after) is reflected in its owner's replica: every dotted sibling held or
  covered by the owner's clock, or a last-writer-wins version at least as new; and in
  one taken on a copy settled apart (with ``versions``), every version of a hinted
  key an owner holds afterwards was held by a replica or fallback before settling or
  written by a write that may still have been coordinating (a hint is handed off as
  it was written, never restamped), and each hinted state a fallback let go of
  (``dropped``) was reflected in its owner's replica at that moment (a fallback drops
  a hint once its owner has it); and, in the ``availability`` observation's probes
  with a key's owners down (:mod:`replicheck.properties.sloppy_quorum`), a put
  answered ``ok`` is reflected in each down owner's replica a few hint timers after
  it restarted, with no anti-entropy in between. The store's own count of pending
  hints is shown, never judged.
- ``read-repair-repairs``: in every ``read-repair`` observation (a read of a key
  whose replicas disagreed, every message delivered; or, with one owner ``down``, a
  read that was answered, timers run for a few seconds after it), each replica
  afterwards holds every sibling of the merge of what the replicas held before (the
  entry of the newest version for last writer wins; with an owner down, of what the
  live ones held). The merge is computed here from the replicas'
  entries (:func:`_merge_entries`), never taken from the store's own merge.
- ``vector-clock-order``: in the last quiescent ``replicas`` observation, for each
  key written with dotted versions (``meta["dot"]``, ``meta["clock"]`` of ``ok``
  writes): every held version and causal context produced by writes
  (:mod:`~replicheck.properties.provenance`), no held sibling is one that an
  acknowledged write's context saw
  (superseded, so never resurrected), and every acknowledged write that no other
  write saw is held as a sibling (a concurrent write is never dropped).
- ``majority-availability``: in every ``availability`` observation (requests sent on
  copies of the store with one replica of a partition cut off, after the store's
  ``failover`` window), every request was answered: ``ok`` or a definite error, never
  indeterminate (:mod:`~replicheck.properties.liveness`).
- ``sloppy-quorum-availability``: in every ``availability`` observation, every request
  sent on a copy of the store with every owner of its key but one down was answered
  (:mod:`~replicheck.properties.sloppy_quorum`).

Other guarantees are ``not-applicable`` here (they are checked by their own
properties).

Every :class:`Judgement` names the checker that decided it (``checker``, e.g.
``"item linearizability (WGL)"``, ``"Elle item checker: serializable"``); the reports
show it in each cell.

The anomaly columns (``models.guarantees.ANOMALY_COLUMNS``), judged whatever the store
claims by :func:`judge_anomaly`: ``lost-update`` and ``stale-read``, the detectors of
``histories/checkers/lost_update.py`` and ``stale_read.py`` on the single-item view
(every read kind); never claimed, so ``observed`` or ``holds`` (not seen). When a
single-item linearizability guarantee is found violated (or observed), the stale reads
among the reads it covers and the lost updates are added to its verdict's anomalies,
naming what went wrong (:func:`with_named_anomalies`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from replicheck.histories.history import FAIL, INFO, OK, History, Operation
from replicheck.histories.verdict import Verdict
from replicheck.histories.wording import CLIENT, CLIENT_PROCESS, WORDS, operation_words
from replicheck.implementation.store import Descriptor
from replicheck.models.guarantees import check_guarantee
from replicheck.models.items.values import key_text

__all__ = [
    "HOLDS",
    "NOT_APPLICABLE",
    "OBSERVED",
    "UNKNOWN",
    "VIOLATED",
    "Judgement",
    "item_session_history",
    "judge_anomalies",
    "judge_anomaly",
    "judge_guarantee",
    "restrict_reads",
]

HOLDS: Final = "holds"
VIOLATED: Final = "violated"
OBSERVED: Final = "observed"
UNKNOWN: Final = "unknown"
NOT_APPLICABLE: Final = "not-applicable"

LINEARIZABILITY_FAMILY: Final = frozenset({
    "linearizable-strong-reads", "linearizable-conditional-writes",
    "serializable-transactions", "atomic-transactions"})
"""The guarantees judged on the item history restricted to the claim's reads (the
transactional two by the Elle item checker, the others by linearizability)."""
TRANSACTIONAL_FAMILY: Final = frozenset({"serializable-transactions", "atomic-transactions"})
LINEARIZABILITY_CHECKER: Final = "item linearizability (WGL)"
SERIALIZABLE_CHECKER: Final = "Elle item checker: serializable"
READ_ATOMIC_CHECKER: Final = "Elle item checker: read-atomic, fractured reads"
CHECKERS: Final[dict[str, str]] = {
    "linearizable-strong-reads": LINEARIZABILITY_CHECKER,
    "linearizable-conditional-writes": LINEARIZABILITY_CHECKER,
    "serializable-transactions": SERIALIZABLE_CHECKER,
    "atomic-transactions": READ_ATOMIC_CHECKER,
    "read-your-writes": "sessions checker",
    "monotonic-reads": "sessions checker",
    "convergence": "convergence checker",
    "stream-exactly-once": "stream checker",
    "stream-item-order": "stream checker",
    "merkle-root-iff-equal": "convergence checker: Merkle roots",
    "anti-entropy-exact": "replicas read after each anti-entropy session",
    "hinted-handoff-delivers": "hinted writes held by their owners",
    "read-repair-repairs": "replicas read after read repair",
    "majority-availability": "requests answered with one replica of each partition cut off",
    "sloppy-quorum-availability": "requests answered with every owner of the key but one "
                                  "down",
    "vector-clock-order": "dotted versions check",
    "lost-update": "lost-update detector",
    "stale-read": "stale-read detector",
}
"""The checker that decides each guarantee judged on client histories (what a
:class:`Judgement` and a report cell name)."""
SESSION_FAMILY: Final = frozenset({"read-your-writes", "monotonic-reads"})
STREAM_FAMILY: Final = frozenset({"stream-exactly-once", "stream-item-order"})
READ_KINDS: Final = frozenset({"get-strong", "get-eventual", "transact-get"})
TRANSACTION_KINDS: Final = frozenset({"transact-write", "transact-get"})

_TRANSACTIONAL_READS: Final = {
    "serializable-transactions": frozenset({"get-strong", "transact-get"}),
    "atomic-transactions": READ_KINDS,
}
"""The reads a transactional guarantee is always judged with, besides those its claim
names (module docstring)."""

_DEFAULT_READS: Final = {
    "linearizable-strong-reads": frozenset({"get-strong", "transact-get"}),
    "linearizable-conditional-writes": frozenset(),
    "serializable-transactions": frozenset({"transact-get"}),
    "atomic-transactions": frozenset({"transact-get"}),
    "read-your-writes": frozenset({"get-strong"}),
    "monotonic-reads": frozenset({"get-strong"}),
}


@dataclass(frozen=True)
class Judgement:
    """The outcome of checking one guarantee on one history: ``status`` (one of
    holds, violated, observed, unknown, not-applicable), whether the store
    ``claimed`` it, the checker's ``verdict`` (None when nothing was checked), a
    one-line ``reason`` and the ``checker`` that decided it (its name in words, as
    :data:`CHECKERS` has it; empty when no checker applies)."""

    guarantee: str
    status: str
    claimed: bool
    verdict: Verdict | None = None
    reason: str = ""
    checker: str = ""

    @property
    def failed(self) -> bool:
        """True when a claimed guarantee was violated."""
        return self.status == VIOLATED

    def explanation(self) -> str:
        """The reason and every anomaly's explanation, for an assertion message."""
        lines = [f"{self.guarantee}: {self.status}" + (f" ({self.reason})" if self.reason
                                                       else "")
                 + (f" [{self.checker}]" if self.checker else "")]
        if self.verdict is not None:
            for anomaly in self.verdict.anomalies:
                lines.append(f"  {anomaly.type} (operations {list(anomaly.ops)}): "
                             f"{anomaly.explanation}")
            lines.extend(f"  note: {n}" for n in self.verdict.notes[:3])
        return "\n".join(lines)


def _claimed_kinds(descriptor: Descriptor, guarantee: str) -> frozenset[str] | None:
    kinds: set[str] = set()
    found = False
    for claim in descriptor.claims:
        if claim.guarantee == guarantee:
            found = True
            kinds |= claim.operations
    return frozenset(kinds) if found else None


def restrict_reads(history: History, reads: frozenset[str]) -> History:
    """``history`` with only the reads whose kind is in ``reads`` (every other
    operation kept), each operation keeping its ``id``: a checker's anomalies on the
    result name the operations of ``history``."""
    kept = tuple(op for op in history.operations if op.f not in READ_KINDS or op.f in reads)
    return replace(history, operations=kept)


def _from_verdict(guarantee: str, claimed: bool, verdict: Verdict, reason: str = ""
                  ) -> Judgement:
    if verdict.valid is True:
        return Judgement(guarantee, HOLDS, claimed, verdict, reason)
    if verdict.valid is False:
        return Judgement(guarantee, VIOLATED if claimed else OBSERVED, claimed, verdict,
                         reason)
    return Judgement(guarantee, UNKNOWN, claimed, verdict, reason or "checker time limit")


def _linearizability(guarantee: str, history: History, reads: frozenset[str],
                     claimed: bool, timeout: float) -> Judgement:
    from replicheck.histories.checkers.linearizable import check_linearizable
    from replicheck.histories.judge import spec_for

    restricted = restrict_reads(history, reads)
    if not restricted.operations:
        return Judgement(guarantee, NOT_APPLICABLE, claimed, reason="no operations")
    verdict = check_linearizable(restricted, spec_for("item", history), model="item",
                                 timeout=timeout)
    shown = ", ".join(sorted(reads)) or "no reads"
    judgement = _from_verdict(guarantee, claimed, verdict,
                              f"item linearizability with {shown}")
    if guarantee in SINGLE_ITEM_LINEARIZABLE:
        judgement = with_named_anomalies(judgement, history, reads, timeout)
    return judgement


# -- named single-item anomalies: lost-update and stale-read -------------------------------

SINGLE_ITEM_LINEARIZABLE: Final = frozenset({"linearizable-strong-reads",
                                            "linearizable-conditional-writes"})
"""The guarantees whose violation a stale read or a lost update explains."""


def _single_item_view(history: History, reads: frozenset[str]) -> History:
    """:func:`item_session_history` with each operation keeping its id in
    ``history`` (matched by its invocation's record index), so that anomalies found
    on the view name the history's operations; each update marked
    ``meta["present"]`` (an UpdateItem never leaves the item absent); each
    transact-write that may have taken effect as one write per item it writes
    (:func:`_transaction_writes`, under the transaction's id; an answer replayed
    for a client token wrote nothing, and the writes of transactions sharing a token
    are indeterminate: which of them wrote is not known); reads with a projection
    left out (part of an item names no version)."""
    ids = {op.call: op.id for op in history.operations}
    projected = {op.call for op in history.operations if op.f in READ_KINDS and (
        (isinstance(op.input, dict) and op.input.get("projection") is not None)
        or getattr(op.input, "projection", None) is not None)}
    view = item_session_history(history, reads)
    ops = [replace(op, id=ids.get(op.call, op.id),
                   meta={**op.meta, "present": True} if op.f == "update" else op.meta)
           for op in view.operations
           if op.f != "transact-write" and op.call not in projected]
    schemas = _schemas(history)
    retried = _retried_tokens(history)
    for op in history.operations:
        if op.f == "transact-write" and op.status != FAIL \
                and op.meta.get("replayed") is not True:
            writes = _transaction_writes(op, schemas)
            if _token(op) in retried:  # which of the retries wrote is not known
                writes = [replace(w, status=INFO) for w in writes]
            ops.extend(writes)
    return replace(view, operations=tuple(sorted(ops, key=lambda op: op.call)))


def _token(op: Operation) -> Any:
    """The client token of a transact-write's request (None without one)."""
    value = op.input
    return value.get("token") if isinstance(value, dict) else getattr(value, "token", None)


def _retried_tokens(history: History) -> set[Any]:
    """The client tokens two or more transact-writes carry: a retry answered from the
    first's outcome wrote nothing itself (DynamoDB's idempotent TransactWriteItems)."""
    seen: set[Any] = set()
    retried: set[Any] = set()
    for op in history.operations:
        token = _token(op) if op.f == "transact-write" else None
        if token is not None:
            (retried if token in seen else seen).add(token)
    return retried


def _schemas(history: History) -> dict[str, Any]:
    """The tables' key schemas the history declares, by name (none: empty)."""
    from replicheck.histories.items import declared_schemas

    return declared_schemas(history) or {}


def _transaction_writes(op: Operation, schemas: dict[str, Any]) -> list[Operation]:
    """The single-item writes of a transact-write that did not fail, at the
    transaction's interval and status: from its answer's ``meta["writes"]`` (item
    after, version, delete, changed) when given, else from its request's actions (a
    put's item, an update of unknown result, a delete). Items of unknown tables are
    left out, and so is every item when the request cannot be read."""
    from replicheck.histories.items import request_of
    from replicheck.models.items.requests import Delete, Put, TransactWrite, Update

    def write(table: str, key: tuple[Any, ...], f: str, meta: dict[str, Any]) -> Operation:
        return Operation(id=op.id, process=op.process, f=f, key=key, input=None,
                         output=None, status=op.status, call=op.call, ret=op.ret,
                         call_time=op.call_time, ret_time=op.ret_time,
                         meta={"table": table, WORDS: operation_words(op, schemas or None),
                               **meta})

    out: list[Operation] = []
    entries = op.meta.get("writes")
    if op.status == OK and isinstance(entries, list | tuple):
        for entry in entries:
            schema = schemas.get(str(entry.get("table"))) if isinstance(entry, dict) else None
            if schema is None:
                continue
            raw = entry.get("key")
            key = (tuple(raw.get(a) for a in schema.key_attributes) if isinstance(raw, dict)
                   else tuple(raw) if isinstance(raw, list | tuple) else (raw,))
            deleted = bool(entry.get("delete"))
            meta: dict[str, Any] = {"present": not deleted}
            if "version" in entry:
                meta["version"] = entry["version"]
            if deleted or "item" in entry:
                meta["item"] = None if deleted else entry["item"]
            if entry.get("changed") is False:
                meta["applied"] = False
            out.append(write(schema.name, key, "delete" if deleted else "put", meta))
        return out
    try:
        request = request_of(op)
    except Exception:  # unreadable: its items are unknown
        return out
    if not isinstance(request, TransactWrite):
        return out
    for action in request.actions:
        if not isinstance(action, Put | Update | Delete) or action.table not in schemas:
            continue
        schema = schemas[action.table]
        source = action.item if isinstance(action, Put) else action.key
        key = tuple(source.get(a) for a in schema.key_attributes)
        if isinstance(action, Put):
            out.append(write(action.table, key, "put", {"item": dict(action.item),
                                                        "present": True}))
        elif isinstance(action, Update):
            out.append(write(action.table, key, "update", {"present": True}))
        else:
            out.append(write(action.table, key, "delete", {"item": None}))
    return out


def _detect(anomaly: str, view: History, timeout: float, *, shown_by_read: bool = False
            ) -> Verdict:
    from replicheck.histories.checkers.lost_update import LOST_UPDATE, check_lost_updates
    from replicheck.histories.checkers.stale_read import check_stale_reads

    if anomaly == LOST_UPDATE:
        return check_lost_updates(view, shown_by_read=shown_by_read)
    return check_stale_reads(view, timeout=timeout)


def _speaks_about(anomaly: str, view: History) -> str | None:
    """Why ``view`` holds nothing the detector of ``anomaly`` judges, or None."""
    if anomaly == "stale-read":
        if not any(op.f == "get" and op.status == OK for op in view.operations):
            return "no acknowledged single-item read"
        return None
    if not any(op.status == OK and ("read" in op.meta or "old" in op.meta)
               for op in view.operations if op.f in ("put", "update", "delete")):
        return ("no acknowledged read-modify-write whose read version the history shows "
                "(the store's meta[\"read\"] or an ALL_OLD answer)")
    return None


def judge_anomaly(anomaly: str, history: History, *, timeout: float = 30.0) -> Judgement:
    """Look for ``anomaly`` (one of
    :data:`~replicheck.models.guarantees.ANOMALY_COLUMNS`: ``lost-update``,
    ``stale-read``) with its detector
    (:mod:`replicheck.histories.checkers.lost_update`,
    :mod:`replicheck.histories.checkers.stale_read`) on the history's single-item
    operations, every read kind included; a lost update counts when a later read
    shows it (one write's version read after all completed; the others are named in
    the reason). Never claimed, so never ``violated``:
    ``observed`` with the anomalies found (their ``ops`` are ``history``'s operation
    ids), ``holds`` when none was seen, ``unknown`` when the search ran out of
    ``timeout`` seconds first, ``not-applicable`` when the history holds nothing the
    detector judges. ValueError for another name."""
    from replicheck.models.guarantees import ANOMALY_COLUMNS

    if anomaly not in ANOMALY_COLUMNS:
        raise ValueError(f"unknown anomaly column {anomaly!r}; known: "
                         f"{', '.join(ANOMALY_COLUMNS)}")
    view = _single_item_view(history, READ_KINDS)
    missing = _speaks_about(anomaly, view)
    if missing is not None:
        return Judgement(anomaly, NOT_APPLICABLE, False, reason=missing,
                         checker=CHECKERS[anomaly])
    verdict = _detect(anomaly, view, timeout, shown_by_read=True)
    reason = f"{anomaly} detector on every single-item read and write"
    if anomaly == "lost-update":
        unshown = len(_detect(anomaly, view, timeout).anomalies) - len(verdict.anomalies)
        reason = "lost updates a later read shows" + (
            f" ({unshown} more that no later read showed)" if unshown else "")
    if verdict.valid is True:
        return Judgement(anomaly, HOLDS, False, verdict, reason,
                         checker=CHECKERS[anomaly])
    if verdict.valid is False:
        return Judgement(anomaly, OBSERVED, False, verdict, reason,
                         checker=CHECKERS[anomaly])
    return Judgement(anomaly, UNKNOWN, False, verdict, reason + " (time limit)",
                     checker=CHECKERS[anomaly])


def judge_anomalies(history: History, *, timeout: float = 30.0) -> list[Judgement]:
    """:func:`judge_anomaly` for each of
    :data:`~replicheck.models.guarantees.ANOMALY_COLUMNS`, in that order."""
    from replicheck.models.guarantees import ANOMALY_COLUMNS

    return [judge_anomaly(a, history, timeout=timeout) for a in ANOMALY_COLUMNS]


def with_named_anomalies(judgement: Judgement, history: History, reads: frozenset[str],
                         timeout: float) -> Judgement:
    """``judgement`` of a single-item linearizability guarantee, with the stale reads
    (among the reads it covers) and the lost updates that the detectors find added
    to its verdict's anomalies when that verdict found the history not linearizable:
    they name what went wrong. Any other judgement is returned as it is (the
    detectors may read the store's version metadata, which linearizability of the
    answers does not, so they never decide the guarantee alone)."""
    verdict = judgement.verdict
    if verdict is None or verdict.valid is not False:
        return judgement
    view = _single_item_view(history, reads)
    found = tuple(a for name in ("stale-read", "lost-update")
                  for a in _detect(name, view, timeout).anomalies
                  if a not in verdict.anomalies)
    if not found:
        return judgement
    return replace(judgement, verdict=replace(verdict, anomalies=verdict.anomalies + found))


# -- single-item view for the session, convergence and stream checkers --------------------


def item_session_history(history: History, reads: frozenset[str]) -> History:
    """The single-item view of an item history: reads of the kinds in ``reads`` as
    ``get`` (output: the item read, or None), puts/updates/deletes as themselves,
    each with ``key`` the item's key tuple and ``meta`` carrying ``table``, the
    store's ``version``, the version metadata a read-modify-write ``read`` (when
    the store records it), the ``old`` item an ok write returned (``ALL_OLD``) and,
    where known, the ``item`` written (``applied`` false for an ok write the store
    says changed nothing). Transactions keep their ``meta["writes"]``; other
    operations are dropped. Every operation keeps its ``id``, so the checkers'
    anomalies name operations of ``history``."""
    from replicheck.histories.items import request_of, response_of
    from replicheck.models.items.requests import Delete, Get, Put, Update

    out: list[Operation] = []
    tables = _schemas(history)
    for op in history.operations:
        if op.f == "transact-write":
            if "writes" in op.meta:
                out.append(op)
            continue
        if op.f in READ_KINDS and op.f not in reads:
            continue
        request = request_of(op)
        if not isinstance(request, Get | Put | Update | Delete):
            continue
        schema = tables.get(request.table)
        if schema is None:
            continue
        source = request.item if isinstance(request, Put) else request.key
        key = tuple(source.get(a) for a in schema.key_attributes)
        meta: dict[str, Any] = {"table": request.table,
                                WORDS: operation_words(op, tables or None)}
        meta.update({k: op.meta[k] for k in (CLIENT, CLIENT_PROCESS) if k in op.meta})
        for name in ("version", "read"):
            if name in op.meta:
                meta[name] = op.meta[name]
        if op.status == OK and not isinstance(request, Get) \
                and request.return_values == "ALL_OLD":
            meta["old"] = response_of(op, request).item
        if op.meta.get("changed") is False:
            meta["changed"] = False
            meta["applied"] = False
        output: Any = None
        if isinstance(request, Get):
            f = "get"
            if op.status == OK:
                output = response_of(op, request).item
        else:
            f = type(request).__name__.lower()
            if isinstance(request, Put):
                meta.setdefault("item", dict(request.item))
            elif isinstance(request, Delete):
                meta.setdefault("item", None)
            elif op.status == OK and request.return_values == "ALL_NEW":
                meta["item"] = response_of(op, request).item
            if op.status == OK:
                output = dict(request.item) if isinstance(request, Put) else None
            if op.status == FAIL:
                output = op.output
        value = dict(request.item) if isinstance(request, Put) else None
        out.append(Operation(id=op.id, process=op.process, f=f, key=key, input=value,
                             output=output, status=op.status, call=op.call, ret=op.ret,
                             call_time=op.call_time, ret_time=op.ret_time, error=op.error,
                             meta=meta))
    return replace(history, operations=tuple(out))


def _sessions(guarantee: str, history: History, reads: frozenset[str], claimed: bool
              ) -> Judgement:
    from replicheck.histories.checkers.sessions import check_sessions

    view = item_session_history(history, reads)
    if not any(op.f == "get" for op in view.operations):
        return Judgement(guarantee, NOT_APPLICABLE, claimed, reason="no reads it covers")
    verdict = check_sessions(view, (guarantee,))
    return _from_verdict(guarantee, claimed, verdict,
                         f"sessions checker on {', '.join(sorted(reads))}")


def _observed(history: History, f: str) -> bool:
    return any(r.f == f for r in history.observations)


def _convergence(history: History, claimed: bool) -> Judgement:
    from replicheck.histories.checkers.convergence import check_convergence

    if not _observed(history, "replicas"):
        return Judgement("convergence", NOT_APPLICABLE, claimed,
                         reason="no replica snapshot (needs replica-introspection)")
    view = item_session_history(history, frozenset())
    verdict = check_convergence(view)
    relevant = tuple(a for a in verdict.anomalies
                     if "convergence" in a.data.get("guarantees", ("convergence",)))
    if verdict.valid is False and not relevant:
        verdict = replace(verdict, valid=True)
    unwritten = tuple(_unwritten_versions(history)) + tuple(_reapplied_values(history))
    if unwritten:
        verdict = replace(verdict, valid=False, anomalies=relevant + unwritten)
    return _from_verdict("convergence", claimed, verdict, "last quiescent replica snapshot")


def _unwritten_versions(history: History) -> list[Any]:
    """An ``unwritten-version`` anomaly for each version the last quiescent replica
    snapshot of each table holds that no client write produced
    (:func:`~replicheck.properties.provenance.unwritten_versions`): it would
    otherwise pass as superseding the acknowledged writes it hides."""
    from replicheck.histories.verdict import Anomaly
    from replicheck.properties.provenance import unwritten_versions, writes_by_key

    finals: dict[str, Any] = {}
    for record in history.observations:
        if record.f == "replicas" and isinstance(record.value, dict) \
                and record.value.get("quiescent"):
            finals[str(record.value.get("table"))] = record.value
    return [Anomaly("unwritten-version", (), problem + " (convergence violated: a version "
                    "that no write produced may hide an acknowledged write)",
                    {"guarantees": ["convergence"], "table": table})
            for table, final in finals.items()
            for problem in unwritten_versions(final, writes_by_key(history, table))]


def _reapplied_values(history: History) -> list[Any]:
    """A ``reapplied-write`` anomaly for each counter value a replica held or a client
    read that no set of its item's writes, each applied once, produces
    (:func:`~replicheck.properties.applied_once.reapplied_values`): a version no
    client write produced."""
    from replicheck.histories.items import declared_schemas
    from replicheck.histories.verdict import Anomaly
    from replicheck.properties.applied_once import reapplied_values

    schemas = declared_schemas(history) or {}
    return [Anomaly("reapplied-write", (), problem + " (convergence violated: a version "
                    "that no write produced)", {"guarantees": ["convergence"],
                                                "table": name})
            for name, schema in sorted(schemas.items())
            for problem in reapplied_values(history, schema)]


def _streams(guarantee: str, history: History, claimed: bool) -> Judgement:
    from replicheck.histories.checkers.streams import check_streams

    if not _observed(history, "stream"):
        return Judgement(guarantee, NOT_APPLICABLE, claimed,
                         reason="no stream observation (needs stream)")
    view = item_session_history(history, frozenset())
    view = replace(view, operations=view.operations + _unversioned_transactions(history))
    verdict = check_streams(view)
    relevant = tuple(a for a in verdict.anomalies
                     if guarantee in a.data.get("guarantees", (guarantee,)))
    if verdict.valid is False and not relevant:
        verdict = replace(verdict, anomalies=(), valid=True)
    else:
        verdict = replace(verdict, anomalies=relevant)
    return _from_verdict(guarantee, claimed, verdict, "last stream observation")


def _unversioned_transactions(history: History) -> tuple[Operation, ...]:
    """Each write transaction that did not definitely fail and carries no ``writes``
    versions (an indeterminate one, typically) as the stream checker reads an
    indeterminate one: its write actions with their table, key and item (a put's
    item, none for a delete, unknown for an update) and no version: each may explain
    one record of its item ("applied or not", never "anything goes"). An answer that
    says it replayed an earlier request (``meta["replayed"]``) writes nothing, and a
    transaction whose token an acknowledged transaction with ``writes`` reuses while
    the store surely still remembers it (:func:`_surely_counted`) is that request,
    already counted."""
    from replicheck.histories.items import request_of
    from replicheck.histories.windows import history_windows
    from replicheck.models.items.requests import ConditionCheck, Delete, Put, TransactWrite

    windows = history_windows(history)
    window = None if windows is None else windows.idempotency_token
    tables = _schemas(history)
    requests = []
    for op in history.operations:
        if op.f != "transact-write" or op.status == FAIL:
            continue
        try:
            request = request_of(op)
        except Exception:
            continue
        if isinstance(request, TransactWrite):
            requests.append((op, request))
    answered: dict[str, list[Operation]] = {}
    for op, request in requests:
        if op.status == OK and "writes" in op.meta and request.token is not None:
            answered.setdefault(request.token, []).append(op)
    out = []
    for op, request in requests:
        if "writes" in op.meta or op.meta.get("replayed") or (
                op.status != OK and request.token is not None
                and _surely_counted(op, answered.get(request.token, ()), window)):
            continue
        writes: list[dict[str, Any]] = []
        for action in request.actions:
            schema = tables.get(action.table)
            if isinstance(action, ConditionCheck) or schema is None:
                continue
            source = action.item if isinstance(action, Put) else action.key
            write: dict[str, Any] = {
                "table": action.table, "delete": isinstance(action, Delete),
                "key": [source.get(a) for a in schema.key_attributes]}
            if isinstance(action, Put):
                write["item"] = dict(action.item)
            writes.append(write)
        out.append(replace(op, status=INFO, meta={**op.meta, "writes": writes}))
    return tuple(out)


def _surely_counted(op: Operation, answered: Sequence[Operation], window: float | None
                    ) -> bool:
    """Whether one of ``answered`` (acknowledged transactions with ``writes`` reusing
    ``op``'s token) surely is ``op``'s request: the store surely still remembered the
    token from the first of the two to the other (``window``, the history's
    idempotency-token window: None for endless, and without operation times the
    window is taken as endless). Past the window a reused token is a new request, and
    ``op`` may have applied on its own."""
    from replicheck.histories.windows import span_of
    from replicheck.models.items.operations import REMEMBERED, token_fate

    for other in answered:
        mine, theirs = span_of(op), span_of(other)
        if window is None or mine is None or theirs is None:
            return True
        first, later = (mine, theirs) if mine.start <= theirs.start else (theirs, mine)
        if token_fate(first, later, window) == REMEMBERED:
            return True
    return False


# -- mechanism promises and clock/Merkle guarantees -----------------------------------------


def _observations(history: History, f: str) -> list[Any]:
    return [r.value for r in history.observations if r.f == f]


def _verdict_judgement(guarantee: str, claimed: bool, problems: list[str], checked: str
                       ) -> Judgement:
    if not problems:
        return Judgement(guarantee, HOLDS, claimed, reason=checked)
    shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)"
                                       if len(problems) > 3 else "")
    return Judgement(guarantee, VIOLATED if claimed else OBSERVED, claimed,
                     reason=f"{checked}: {shown}")


def _merkle(history: History, claimed: bool) -> Judgement:
    from replicheck.histories.checkers.convergence import check_convergence

    guarantee = "merkle-root-iff-equal"
    if not any(r.f == "replicas" and isinstance(r.value, dict) and r.value.get("roots")
               for r in history.observations):
        return Judgement(guarantee, NOT_APPLICABLE, claimed,
                         reason="no replica snapshot with Merkle roots (needs anti-entropy)")
    verdict = check_convergence(item_session_history(history, frozenset()))
    relevant = tuple(a for a in verdict.anomalies
                     if guarantee in a.data.get("guarantees", ()))
    verdict = replace(verdict, anomalies=relevant, valid=not relevant)
    return _from_verdict(guarantee, claimed, verdict, "every replica snapshot")


def _anti_entropy(history: History, claimed: bool) -> Judgement:
    from replicheck.histories.checkers.convergence import SnapshotError, parse_entry

    guarantee = "anti-entropy-exact"
    sessions = [s for s in _observations(history, "anti-entropy")
                if s.get("ok") and isinstance(s.get("after"), dict)]
    if not sessions:
        return Judgement(guarantee, NOT_APPLICABLE, claimed,
                         reason="no completed anti-entropy session observed with the "
                                "replicas' contents after it")

    def shown(entry: Any) -> str:
        if entry is None:
            return "nothing"
        try:
            return parse_entry(entry).canon
        except SnapshotError:
            return _canon(entry)

    problems = []
    for session in sessions:
        a, b = session["initiator"], session["peer"]
        held_a, held_b = session["after"].get(a, {}), session["after"].get(b, {})
        left = sorted(k for k in set(held_a) | set(held_b)
                      if shown(held_a.get(k)) != shown(held_b.get(k)))
        if left:
            first = left[0]
            problems.append(
                f"right after the sync {a} -> {b}, key(s) {', '.join(left)} of their "
                f"shared ranges still differ (key {first}: {a} holds "
                f"{shown(held_a.get(first))}, {b} holds {shown(held_b.get(first))}; the "
                f"store reported repairing {session.get('repaired', [])})")
    return _verdict_judgement(guarantee, claimed, problems,
                              f"both replicas read after {len(sessions)} anti-entropy "
                              "session(s)")


def _handoff(history: History, claimed: bool) -> Judgement:
    from replicheck.properties.sloppy_quorum import unhanded_writes

    guarantee = "hinted-handoff-delivers"
    seen = [h for h in _observations(history, "hints")
            if h.get("settled") and isinstance(h.get("held"), list)]
    held = [(h, hint) for h in seen for hint in h["held"]]
    probed, problems = unhanded_writes(history)
    if not held and not probed:
        return Judgement(guarantee, NOT_APPLICABLE, claimed,
                         reason="no hinted write held by a fallback was observed")
    for observation, hint in held:
        owner = observation.get("owners", {}).get(hint["owner"], {}).get(hint["key"])
        if not _reflects_entry(owner, hint["entry"]):
            problems.append(
                f"the hinted write of key {hint['key']} that {hint['fallback']} held for "
                f"{hint['owner']} ({_canon(hint['entry'])}) is not held by "
                f"{hint['owner']} after heal, restart and settle (it holds "
                f"{'nothing' if owner is None else _canon(owner)})")
    for observation in seen:
        for hint in observation.get("dropped") or ():
            owner = hint.get("owner_entry")
            if not _reflects_entry(owner, hint.get("entry")):
                problems.append(
                    f"{hint['fallback']} let go of the hinted write of key {hint['key']} "
                    f"for {hint['owner']} ({_canon(hint['entry'])}) while {hint['owner']} "
                    f"held {'nothing' if owner is None else _canon(owner)} (a hint "
                    "dropped before its owner had it)")
    problems += _restamped_handoffs(history, seen)
    return _verdict_judgement(guarantee, claimed, problems,
                              f"{len(held)} hinted write(s) against their owners' replicas "
                              f"after settling, {probed} put(s) made with the owners down "
                              "against the owners after hinted handoff alone")


def _restamped_handoffs(history: History, observations: list[dict[str, Any]]) -> list[str]:
    """The versions owners hold after a settling that nobody held before it and no
    write still coordinating made, in every ``hints`` observation with ``versions``
    (:func:`~replicheck.properties.provenance.restamped_handoffs`)."""
    from replicheck.properties.provenance import restamped_handoffs, writes_by_key

    return [problem for observation in observations if "versions" in observation
            for problem in restamped_handoffs(
                observation, writes_by_key(history, str(observation.get("table"))))]


def _reflects_entry(held: Any, wanted: Any) -> bool:
    """Whether the replica entry ``held`` has seen everything the entry ``wanted``
    holds: every dotted sibling of ``wanted`` held or covered by ``held``'s clock, or
    a last-writer-wins version at least ``wanted``'s."""
    if not isinstance(held, dict) or not isinstance(wanted, dict):
        return bool(held == wanted)
    if "siblings" in wanted or "siblings" in held:
        clock = held.get("clock")
        present = _dots(held)
        return all(dot in present or _covers(clock, dot) for dot in _dots(wanted))
    mine, theirs = held.get("version"), wanted.get("version")
    if theirs is None:
        return True
    if mine is None:
        return False
    try:
        return bool(tuple(mine) >= tuple(theirs))
    except TypeError:
        return _canon(mine) == _canon(theirs)


def _dots(entry: Any) -> set[tuple[str, int]]:
    if not isinstance(entry, dict):
        return set()
    return {(str(s["dot"][0]), int(s["dot"][1])) for s in entry.get("siblings", ())
            if isinstance(s, dict) and s.get("dot") is not None}


def _canon(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _read_repair(history: History, claimed: bool) -> Judgement:
    guarantee = "read-repair-repairs"
    probes = [p for p in _observations(history, "read-repair")
              if isinstance(p.get("before"), dict)
              and any(e is not None for e in p["before"].values())
              and (p.get("down") is None or p.get("answered") is True)]
    if not probes:
        return Judgement(guarantee, NOT_APPLICABLE, claimed,
                         reason="no read saw replicas that disagreed")
    problems = []
    for probe in probes:
        merged = _merge_entries([e for e in probe["before"].values() if e is not None])
        wanted = _dots(merged)
        for node, entry in sorted(probe.get("after", {}).items()):
            if "siblings" in merged:
                missing = wanted - _dots(entry)
                if missing:
                    problems.append(
                        f"after a read of key {probe['key']} (coordinated by "
                        f"{probe['coordinator']}) {node} lacks sibling(s) "
                        f"{sorted(missing)} of the merge of what the replicas held")
            elif _canon(entry) != _canon(merged):
                problems.append(f"after a read of key {probe['key']} {node} holds "
                                f"{_canon(entry)}, not the merged {_canon(merged)}")
    return _verdict_judgement(guarantee, claimed, problems,
                              f"{len(probes)} read(s) of disagreeing replicas")


def _merge_entries(entries: list[Any]) -> Any:
    """The merge of replica entries, computed here from what the replicas held (never
    the store's own merge): for dotted versions, every sibling that each other entry
    holds too or whose dot the other entry's clock does not cover, under the join of
    the clocks; for last writer wins, the entry of the greatest version."""
    if any(isinstance(e, dict) and "siblings" in e for e in entries):
        siblings: dict[tuple[str, int], Any] = {}
        clock: dict[str, int] = {}
        for entry in entries:
            for name, counter in (entry.get("clock") or {}).items():
                clock[str(name)] = max(clock.get(str(name), 0), int(counter))
            for sibling in entry.get("siblings", ()):
                dot = (str(sibling["dot"][0]), int(sibling["dot"][1]))
                if all(dot in _dots(other) or not _covers(other.get("clock"), dot)
                       for other in entries if other is not entry):
                    siblings[dot] = sibling
        return {"siblings": [siblings[d] for d in sorted(siblings)], "clock": clock}
    best = entries[0]
    for entry in entries[1:]:
        if not _reflects_entry(best, entry):
            best = entry
    return best


def _covers(clock: Any, dot: tuple[str, int]) -> bool:
    return isinstance(clock, dict) and int(clock.get(dot[0], 0)) >= dot[1]


def _vector_clock_order(history: History, claimed: bool) -> Judgement:
    from replicheck.histories.items import request_of
    from replicheck.models.items.requests import Delete, Put, Update

    guarantee = "vector-clock-order"
    finals = [r.value for r in history.observations
              if r.f == "replicas" and isinstance(r.value, dict) and r.value.get("quiescent")]
    if not finals:
        return Judgement(guarantee, NOT_APPLICABLE, claimed,
                         reason="no quiescent replica snapshot")
    final = finals[-1]
    tables = _schemas(history)
    writes: dict[str, list[tuple[Operation, tuple[str, int], dict[str, Any]]]] = {}
    uncertain: set[str] = set()
    for op in history.operations:
        if op.f in READ_KINDS or op.f in TRANSACTION_KINDS:
            continue
        try:
            request = request_of(op)
        except Exception:
            continue
        if not isinstance(request, Put | Update | Delete) or request.table != final.get(
                "table"):
            continue
        schema = tables.get(request.table)
        if schema is None:
            continue
        source = request.item if isinstance(request, Put) else request.key
        text = key_text(tuple(source.get(a) for a in schema.key_attributes))
        if op.status == OK and "dot" in op.meta and op.meta.get("changed") is not False:
            dot = (str(op.meta["dot"][0]), int(op.meta["dot"][1]))
            writes.setdefault(text, []).append((op, dot, dict(op.meta.get("clock") or {})))
        elif op.status != OK and op.status != FAIL:
            blind = isinstance(request, Put) and request.condition is None
            if not blind:
                uncertain.add(text)  # it may have superseded writes it read
    if not writes:
        return Judgement(guarantee, NOT_APPLICABLE, claimed,
                         reason="no acknowledged write with a dotted version")
    from replicheck.properties.provenance import unwritten_versions, writes_by_key

    problems = unwritten_versions(final, writes_by_key(history, str(final.get("table"))))
    replicas = final.get("replicas", {})
    for text, acknowledged in sorted(writes.items()):
        entries = [held.get(text) for held in replicas.values()]
        held_dots = set().union(*(_dots(e) for e in entries))
        sibling_clocks = [s.get("clock") for e in entries if isinstance(e, dict)
                          for s in e.get("siblings", ()) if isinstance(s, dict)]
        for op, dot, _ in acknowledged:
            seen_by = [other for other, other_dot, clock in acknowledged
                       if other_dot != dot and _covers(clock, dot)]
            if dot in held_dots and seen_by:
                problems.append(
                    f"key {text}: the version {dot[0]}:{dot[1]} (op {op.id}) is held "
                    f"again after op {seen_by[0].id}, whose context saw it, superseded it")
            elif (dot not in held_dots and not seen_by and text not in uncertain
                  and not any(_covers(c, dot) for c in sibling_clocks)):
                problems.append(
                    f"key {text}: the acknowledged write op {op.id} (version "
                    f"{dot[0]}:{dot[1]}) is held by no replica and no write saw it: a "
                    "concurrent write was dropped instead of kept as a sibling")
    return _verdict_judgement(guarantee, claimed, problems,
                              "dotted versions of acknowledged writes in the last "
                              "quiescent snapshot")


def _availability(history: History, claimed: bool) -> Judgement:
    from replicheck.properties.liveness import judge_availability

    return judge_availability(history, claimed)


def _sloppy_availability(history: History, claimed: bool) -> Judgement:
    from replicheck.properties.sloppy_quorum import judge_sloppy_availability

    return judge_sloppy_availability(history, claimed)


_MECHANISMS: Final = {
    "merkle-root-iff-equal": _merkle,
    "anti-entropy-exact": _anti_entropy,
    "hinted-handoff-delivers": _handoff,
    "read-repair-repairs": _read_repair,
    "vector-clock-order": _vector_clock_order,
    "majority-availability": _availability,
    "sloppy-quorum-availability": _sloppy_availability,
}


def judge_guarantee(guarantee: str, history: History, descriptor: Descriptor, *,
                    timeout: float = 30.0) -> Judgement:
    """Check ``guarantee`` on ``history`` as the module docstring says: ``violated``
    only for a guarantee the store claims; an unclaimed one found broken is
    ``observed``. ValueError for an unknown guarantee ID."""
    check_guarantee(guarantee)
    judgement = _judge(guarantee, history, descriptor, timeout)
    if not judgement.checker and guarantee in CHECKERS:
        judgement = replace(judgement, checker=CHECKERS[guarantee])
    return judgement


def _judge(guarantee: str, history: History, descriptor: Descriptor, timeout: float
           ) -> Judgement:
    kinds = _claimed_kinds(descriptor, guarantee)
    claimed = kinds is not None
    if guarantee in TRANSACTIONAL_FAMILY:
        from replicheck.properties.transactions import judge_transactional

        reads = (kinds & READ_KINDS) if kinds is not None else _DEFAULT_READS[guarantee]
        reads = frozenset(reads) | _TRANSACTIONAL_READS[guarantee]
        return judge_transactional(guarantee, restrict_reads(history, reads), claimed,
                                   timeout)
    if guarantee in LINEARIZABILITY_FAMILY or guarantee in SESSION_FAMILY:
        reads = (kinds & READ_KINDS) if kinds is not None else _DEFAULT_READS[guarantee]
        if guarantee in LINEARIZABILITY_FAMILY:
            return _linearizability(guarantee, history, frozenset(reads), claimed, timeout)
        return _sessions(guarantee, history, frozenset(reads), claimed)
    if guarantee == "convergence":
        return _convergence(history, claimed)
    if guarantee in STREAM_FAMILY:
        return _streams(guarantee, history, claimed)
    if guarantee in _MECHANISMS:
        return _MECHANISMS[guarantee](history, claimed)
    return Judgement(guarantee, NOT_APPLICABLE, claimed,
                     reason="checked by its own property, not on client histories")


def judge_claims(history: History, descriptor: Descriptor, *, timeout: float = 30.0
                 ) -> list[Judgement]:
    """:func:`judge_guarantee` for every guarantee the store claims, in claim order
    (each once)."""
    seen: list[str] = []
    for claim in descriptor.claims:
        if claim.guarantee not in seen:
            seen.append(claim.guarantee)
    return [judge_guarantee(g, history, descriptor, timeout=timeout) for g in seen]
