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

- ``linearizable-strong-reads``, ``linearizable-conditional-writes``,
  ``serializable-transactions``, ``atomic-transactions``: linearizability of the item
  history (``judge.spec_for("item", ...)``) restricted to the reads the claim covers:
  a read kind (``get-strong``, ``get-eventual``, ``transact-get``) not named in the
  claim's operations is dropped; writes and transactions are always kept (they
  change the state). Transactions are operations of the item model, so the same
  check covers their serializability and atomicity.
- ``read-your-writes``, ``monotonic-reads``: the sessions checker on the history's
  single-item operations (reads of the claimed kinds), with the store's version
  metadata (``meta["version"]``); without versions, reads are matched to writes by
  value.
- ``convergence``: the convergence checker on the last ``replicas`` observation.
- ``stream-exactly-once``, ``stream-item-order``: the stream checker on the last
  ``stream`` observation.

Other guarantees are ``not-applicable`` here (they are checked by their own
properties).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from replicheck.histories.history import FAIL, OK, History, Operation
from replicheck.histories.verdict import Verdict
from replicheck.implementation.store import Descriptor
from replicheck.models.guarantees import check_guarantee

__all__ = [
    "HOLDS",
    "NOT_APPLICABLE",
    "OBSERVED",
    "UNKNOWN",
    "VIOLATED",
    "Judgement",
    "item_session_history",
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
SESSION_FAMILY: Final = frozenset({"read-your-writes", "monotonic-reads"})
STREAM_FAMILY: Final = frozenset({"stream-exactly-once", "stream-item-order"})
READ_KINDS: Final = frozenset({"get-strong", "get-eventual", "transact-get"})
TRANSACTION_KINDS: Final = frozenset({"transact-write", "transact-get"})

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
    ``claimed`` it, the checker's ``verdict`` (None when nothing was checked) and a
    one-line ``reason``."""

    guarantee: str
    status: str
    claimed: bool
    verdict: Verdict | None = None
    reason: str = ""

    @property
    def failed(self) -> bool:
        """True when a claimed guarantee was violated."""
        return self.status == VIOLATED

    def explanation(self) -> str:
        """The reason and every anomaly's explanation, for an assertion message."""
        lines = [f"{self.guarantee}: {self.status}" + (f" ({self.reason})" if self.reason
                                                       else "")]
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
    operation kept), operations renumbered in order."""
    kept = [op for op in history.operations if op.f not in READ_KINDS or op.f in reads]
    return replace(history, operations=tuple(replace(op, id=i) for i, op in enumerate(kept)))


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

    if guarantee in ("serializable-transactions", "atomic-transactions") and not any(
            op.f in TRANSACTION_KINDS for op in history.operations):
        return Judgement(guarantee, NOT_APPLICABLE, claimed,
                         reason="no transactions in the history")
    restricted = restrict_reads(history, reads)
    if not restricted.operations:
        return Judgement(guarantee, NOT_APPLICABLE, claimed, reason="no operations")
    verdict = check_linearizable(restricted, spec_for("item", history), model="item",
                                 timeout=timeout)
    shown = ", ".join(sorted(reads)) or "no reads"
    return _from_verdict(guarantee, claimed, verdict, f"item linearizability with {shown}")


# -- single-item view for the session, convergence and stream checkers --------------------


def item_session_history(history: History, reads: frozenset[str]) -> History:
    """The single-item view of an item history: reads of the kinds in ``reads`` as
    ``get`` (output: the item read, or None), puts/updates/deletes as themselves,
    each with ``key`` the item's key tuple and ``meta`` carrying ``table``, the
    store's ``version`` and, where known, the ``item`` written (``applied`` false
    for an ok write the store says changed nothing). Transactions keep their
    ``meta["writes"]``; other operations are dropped."""
    from replicheck.histories.items import request_of, response_of
    from replicheck.models.items.requests import Delete, Get, Put, Update

    out: list[Operation] = []
    tables = {}
    for record in history.observations:
        if record.f == "tables":
            from replicheck.histories.items import schemas_from_json

            tables = {s.name: s for s in schemas_from_json(record.value)}
    for op in history.operations:
        if op.f == "transact-write":
            if "writes" in op.meta:
                out.append(replace(op, id=len(out)))
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
        meta: dict[str, Any] = {"table": request.table}
        if "version" in op.meta:
            meta["version"] = op.meta["version"]
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
        out.append(Operation(id=len(out), process=op.process, f=f, key=key, input=value,
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
    return _from_verdict("convergence", claimed, verdict, "last quiescent replica snapshot")


def _streams(guarantee: str, history: History, claimed: bool) -> Judgement:
    from replicheck.histories.checkers.streams import check_streams

    if not _observed(history, "stream"):
        return Judgement(guarantee, NOT_APPLICABLE, claimed,
                         reason="no stream observation (needs stream)")
    view = item_session_history(history, frozenset())
    verdict = check_streams(view)
    relevant = tuple(a for a in verdict.anomalies
                     if guarantee in a.data.get("guarantees", (guarantee,)))
    if verdict.valid is False and not relevant:
        verdict = replace(verdict, anomalies=(), valid=True)
    else:
        verdict = replace(verdict, anomalies=relevant)
    return _from_verdict(guarantee, claimed, verdict, "last stream observation")


def judge_guarantee(guarantee: str, history: History, descriptor: Descriptor, *,
                    timeout: float = 30.0) -> Judgement:
    """Check ``guarantee`` on ``history`` as the module docstring says: ``violated``
    only for a guarantee the store claims; an unclaimed one found broken is
    ``observed``. ValueError for an unknown guarantee ID."""
    check_guarantee(guarantee)
    kinds = _claimed_kinds(descriptor, guarantee)
    claimed = kinds is not None
    if guarantee in LINEARIZABILITY_FAMILY or guarantee in SESSION_FAMILY:
        reads = (kinds & READ_KINDS) if kinds is not None else _DEFAULT_READS[guarantee]
        if guarantee in LINEARIZABILITY_FAMILY:
            return _linearizability(guarantee, history, frozenset(reads), claimed, timeout)
        return _sessions(guarantee, history, frozenset(reads), claimed)
    if guarantee == "convergence":
        return _convergence(history, claimed)
    if guarantee in STREAM_FAMILY:
        return _streams(guarantee, history, claimed)
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
