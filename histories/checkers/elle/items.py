"""Elle-style checking of DynamoDB item transactions (model ``item``).

:func:`check_item_transactions` judges a history of item requests (the format of
``replicheck.histories.items``: ``get-strong``, ``get-eventual``, ``put``, ``update``,
``delete``, ``transact-write``, ``transact-get``) against transactional consistency
models, with the dependency graph, cycle search, anomaly classes and verdict rules of
the list-append and rw-register checkers (``replicheck.histories.checkers.elle``).

Transactions
    Every operation is a transaction over *items*, an item being a table and a primary
    key (compared by DynamoDB equality of the key attributes, so ``1`` and ``1.0`` are
    one key). An ``ok`` get or transact-get reads its items; a put, update or delete
    writes its item; a transact-write writes the items of its put/update/delete
    actions, and reads the items whose version it recorded (below: typically its
    condition checks; a check whose version is not recorded read one of the item's
    versions, each is judged). A put, update or delete returning ``ALL_OLD`` also reads
    its item (the old item it returned: one of the item's versions holding it, each
    judged, the one right before the write's own first). Otherwise the version a
    write's condition or update expression saw gives no edge (it is the version right
    before the write's own) and is not checked here: condition outcomes and update
    results are the item model's (linearizability's) business.

Metadata read (``Operation.meta``; the reference leader store records exactly this)
    - ``put``/``update``/``delete``: ``version``, the item version it created (an int,
      or a list compared lexicographically); an ``update`` may give ``item``, the item
      after the write (else ``ALL_NEW`` return values show it); ``reads``, optionally,
      as a transact-write's below (the version its condition or update expression read,
      when it is not the one right before its own).
    - ``get-*``: ``version``, the version read (``null``: the item was never written).
    - ``transact-write``: ``writes``, ``[{"table", "key", "version", "item", "delete"},
      ...]``, one per write action (``key`` the key values in schema order, or an
      object of key attributes); ``reads``, optionally, ``[{"table", "key",
      "version"}, ...]``: the versions its condition checks (or other actions) read;
      ``replayed: true`` marks an answer replayed from an earlier request with the same
      client token (it wrote nothing itself).
    - ``transact-get``: ``reads``, one ``{"table", "key", "version"}`` per get (by
      position when ``table``/``key`` are left out).

    Items are assumed absent before the history begins. A version written by two
    different transactions of the same client token and request (an idempotent retry
    answered with the same ``writes``) belongs to the earliest of them.

Versions
    With recorded versions the version order of an item is exact: ``ww`` edges link the
    writers of consecutive recorded versions, ``wr`` edges the writer of a version to
    its readers, ``rw`` edges a reader of a version to the writer of the next recorded
    version (the initial state precedes every version). An indeterminate (``info``)
    write has no recorded version; it may have made a version nobody is known to have
    written that was read (when it wrote the item read, or an item the history does not
    show); it then committed. When several such writes could have made it, or one write
    several versions, each way is judged (``ItemInference.choices``), and so is each
    place among the item's recorded versions of a committed indeterminate write whose
    version was not read. The verdict holds over every way: valid when one way is, a
    model ruled out only when every way rules it out. Indeterminate writes nobody saw
    are taken not to have happened (as Elle does: the history is valid when some
    outcome of them is).

    Without recorded versions the checker falls back to values, assuming (as Elle's
    rw-register does) that the values written to an item are unique: a version is
    named by the item's full value (a put's item, a delete's absence, an update's item
    when shown), and a read without a version names the write of the value it returned
    when exactly one write of the item wrote it (the absent item names the initial
    state when the item is never deleted). What values give of the order, as for
    rw-register: the initial state first, and a transaction's write after the version
    it read of the same item (an old item returned). A value written twice, a read
    nobody explains, a write whose value is unknown, a condition check whose version is
    not recorded: their edges are left out, never guessed, and ``notes`` say so.

Anomalies found besides cycles
    - ``G1a``: a read of a version no committed or indeterminate write can have
      produced, whose value only a failed write wrote.
    - ``garbage-read``: a read of a recorded version no write of the history can have
      made (nor a failed one), or of a version holding another item than its writer
      made (or than another read of it returned), or, without a recorded version, of
      an item that no write holds when the history shows every write's item (the
      reader's own writes aside). No interpretation explains it: every model rules it
      out.
    - ``cyclic-versions``: two committed transactions claim the same version of one
      item (the item's versions are then no strict order of its writes: each is at or
      before the other), or the version pairs values give form a cycle. The item's
      ``ww``/``rw`` edges are then left out.
    - ``lost-update``: two committed transactions read the same version of an item and
      both wrote it.
    - ``future-read``: a transaction read the version of an item it wrote itself.
    Intermediate reads (``G1b``) cannot happen: a transaction writes an item at most
    once. A read of a version nobody explains, without a failed write to blame, is a
    note when a write's item is not shown (that write may have made it).

Verdict
    As for the other Elle checkers: valid (True) when no anomaly found is forbidden by
    one of the models asked for and, for a serial model (serializable and above), a
    serial order is shown; False when one is forbidden; ``"unknown"`` when the time
    limit ran out first, or a serial model was asked for and no serial order could be
    shown. The witness is a topological order of the dependency graph (with process and
    real-time edges when the models need them) over the committed transactions and the
    indeterminate ones seen to commit, in completion order where the graph leaves the
    order open. When the history is *complete* (every read's version known, every
    committed write's version recorded, nothing contradictory) an acyclic graph proves
    it: every read sees the version it recorded. Otherwise the order must also replay
    through the item model (``models.items.operations.apply``, items absent at first,
    the ``tables`` record giving the key schemas): every transaction applies and
    answers what it answered. When that order does not replay, every order the edges
    allow is tried (indeterminate transactions nobody saw placed anywhere or never),
    within the time limit: one that replays is the witness; when none does, no serial
    order explains the history, reported as ``G2`` (or ``G2-process`` /
    ``G2-realtime`` when only those edges make it impossible). ``"unknown"`` is left
    for the time limit, and for a history without the ``tables`` record (nothing to
    replay against).

Modules
    This module decodes and infers (:func:`infer_items`), searches for cycles
    (:func:`analyze_items`) and judges every way of fixing the open versions
    (:func:`check_item_transactions`). The parts: ``item_values`` (item ids, value
    markers, how values and versions are shown), ``item_decode`` (operations into reads
    and writes with versions), ``item_inference`` (what inference learns, as data),
    ``item_versions`` (each write's version and the version each read saw),
    ``item_order`` (version orders and dependency edges), ``item_explain`` (anomaly
    explanations), ``item_witness`` (serial order and replay) and ``item_verdict`` (the
    verdict on one way).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from replicheck.histories.checkers.elle.checker import DEFAULT_CONSISTENCY, search_cycles
from replicheck.histories.checkers.elle.graph import DependencyGraph, SearchTimeout, check_deadline
from replicheck.histories.checkers.elle.item_decode import (
    ItemRead,
    ItemWrite,
    decode_operations,
    decode_requests,
)
from replicheck.histories.checkers.elle.item_explain import (
    explain_item_cycle,
    explain_item_finding,
    explain_item_step,
)
from replicheck.histories.checkers.elle.item_inference import CORE, ItemAnalysis, ItemInference
from replicheck.histories.checkers.elle.item_order import add_edges
from replicheck.histories.checkers.elle.item_values import MISSING, ItemId
from replicheck.histories.checkers.elle.item_verdict import ITEM_MODEL, judge_one
from replicheck.histories.checkers.elle.item_versions import (
    ItemWork,
    mark_members,
    merge_retries,
    resolve,
)
from replicheck.histories.checkers.elle.txn import READ, RW_REGISTER, WRITE, Txn
from replicheck.histories.history import FAIL, OK, History
from replicheck.histories.verdict import Verdict
from replicheck.histories.windows import history_windows, span_of
from replicheck.models import lattice
from replicheck.models.items.requests import Request

__all__ = [
    "ITEM_MODEL",
    "ItemAnalysis",
    "ItemId",
    "ItemInference",
    "analyze_items",
    "check_item_transactions",
    "explain_item_cycle",
    "explain_item_finding",
    "explain_item_step",
    "infer_items",
]


def infer_items(history: History, *, deadline: float | None = None,
                choice: Mapping[Any, int] | None = None,
                requests: Sequence[Request] | None = None) -> ItemInference:
    """Decode an item history and infer its items' version orders, the non-cycle
    anomalies and the data edges (see the module docstring). ``choice`` picks, for an
    open choice of ``ItemInference.choices``, which candidate made the version (by
    position; the first when not given). Raises
    :class:`HistoryError` naming the operation and what was expected for a request,
    response or metadata the format does not allow, and ``SearchTimeout`` past
    ``deadline`` (a ``time.monotonic`` instant). ``requests``: the history's requests
    already decoded (``item_decode.decode_requests``), to infer again cheaply."""
    decoded = decode_operations(history, requests)
    requests, keys, declared, ops = decoded.requests, decoded.keys, decoded.declared, decoded.ops
    check_deadline(deadline)

    txns: list[Txn] = []
    for o in ops:
        mops = tuple((WRITE, keys.labels[w.item], _recorded(w.version)) for w in o.writes) \
            + tuple((READ, keys.labels[r.item], _recorded(r.version)) for r in o.reads)
        op = o.op
        txns.append(Txn(o.tid, op.id, op.process, op.status, mops, op.call,
                        op.ret if op.status == OK else None))
    # The graph only stores the workload name; edges and explanations are the item's.
    graph = DependencyGraph(txns, RW_REGISTER)
    inf = ItemInference(graph.txns, graph, keys.labels, requests=tuple(requests),
                        responses=tuple(o.response for o in ops),
                        failures=tuple(_failure(o.op, o.request) for o in ops),
                        schemas=keys.schemas,
                        schemas_declared=declared,
                        failed_returns=tuple(o.op.ret if o.op.status == FAIL else None
                                             for o in ops))
    inf.choice = dict(choice or {})
    windows = history_windows(history)
    if windows is not None and windows.idempotency_token is not None:
        inf.token_window = windows.idempotency_token
        inf.spans = tuple(span_of(o.op) for o in ops)
    merge_retries(ops, inf)

    writes: dict[ItemId, list[ItemWrite]] = {}
    reads: dict[ItemId, list[ItemRead]] = {}
    for o in ops:
        for w in o.writes:
            writes.setdefault(w.item, []).append(w)
        if o.op.status == OK:
            for r in o.reads:
                reads.setdefault(r.item, []).append(r)
    works = [ItemWork(item, keys.labels[item], writes.get(item, []), reads.get(item, []))
             for item in sorted(set(writes) | set(reads))]
    for work in works:
        resolve(work, inf, inf.choice)
        check_deadline(deadline)
    mark_members(works, inf)
    for work in works:
        add_edges(work, inf)
        check_deadline(deadline)
    for o in ops:
        if not graph.member[o.tid]:
            continue
        inf.writes[o.tid] = [(w.item, w.vid) for w in o.writes]
        inf.reads[o.tid] = [(r.item, r.vid) for r in o.reads if r.resolved]
    return inf


def _failure(op: Any, request: Any) -> Any:
    """The failure a ``fail`` operation recorded (None for any other, or when its value
    does not say)."""
    from replicheck.histories.history import FAIL, HistoryError
    from replicheck.histories.items import failure_of

    if op.status != FAIL:
        return None
    try:
        return failure_of(op, request)
    except HistoryError:
        return None


def _recorded(v: Any) -> Any:
    return None if v is MISSING else v


def analyze_items(history: History, *, deadline: float | None = None,
                  choice: Mapping[Any, int] | None = None,
                  replay_items: bool = False,
                  requests: Sequence[Request] | None = None) -> ItemAnalysis:
    """Infer (with ``choice``, as :func:`infer_items`) and search an item history. Past
    ``deadline`` (a ``time.monotonic`` instant) it stops and returns what it found,
    ``timed_out`` set. With ``replay_items`` (and the tables' key schemas declared), a
    serial order must replay through the item model even when the recorded versions
    alone would prove it (the history is then not taken as ``complete``). Raises
    :class:`HistoryError` for a malformed history."""
    inference = infer_items(history, deadline=None, choice=choice, requests=requests)
    if replay_items and inference.schemas_declared and inference.complete:
        inference.complete = False
        inference.notes.append(
            "every serial order is replayed through the item model (conditions, update "
            "expressions and client tokens), not only over the recorded versions")
    analysis = ItemAnalysis(inference)
    graph = inference.graph
    try:
        check_deadline(deadline)
        analysis.components, acyclic = search_cycles(graph, deadline, analysis.stats,
                                                     analysis.cycles)
        if acyclic is not None:
            analysis.order = acyclic
    except SearchTimeout:
        analysis.timed_out = True
    return analysis


def check_item_transactions(history: History, *,
                            consistency: Sequence[str] = DEFAULT_CONSISTENCY,
                            timeout: float | None = None,
                            replay_items: bool = False) -> Verdict:
    """Judge an item history (DynamoDB-shaped requests, module docstring) as
    transactions against the consistency models named in ``consistency`` (lattice
    names), with model ``"item"``.

    Valid (True) when no anomaly found is forbidden by those models and, for serial
    models, a serial order is shown (the witness, operation ids); False when one is
    forbidden (every anomaly found is reported, forbidden or not, each explained with
    the items and versions involved); ``"unknown"`` when ``timeout`` seconds (None or
    0: no limit) ran out first, or when a serial model was asked for and no serial
    order could be shown. With ``replay_items``, a serial order is shown only when it
    replays through the item model (every condition, update expression and client
    token as the item model has them), even when every version is recorded: recorded
    versions say which version each read saw, not what a write's condition or update
    expression saw. Raises :class:`HistoryError` for a malformed history and
    ``ValueError``/``TypeError`` for unknown model names."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _judge(history, consistency, timeout, replay_items)
    finally:
        if paused:
            gc.enable()


def _judge(history: History, consistency: Sequence[str], timeout: float | None,
           replay_items: bool = False) -> Verdict:
    """Judge every way the history leaves open which indeterminate write made a
    version read (``ItemInference.choices``): valid when one way is, False when every
    way is invalid; a model is ruled out only when every way rules it out, and listed as
    still possible only when a way proves it."""
    started = time.perf_counter()
    models = lattice.check_models(consistency)
    deadline = time.monotonic() + timeout if timeout else None
    requests = decode_requests(history)  # once: each way of fixing versions reuses them
    first = analyze_items(history, deadline=deadline, replay_items=replay_items,
                          requests=requests)
    if first.inference.choices:
        # Fewer edges and findings than any way of fixing the open versions: what it
        # forbids, every way forbids.
        core = judge_one(history, consistency, models, analyze_items(
            history, deadline=deadline, choice={CORE: 1}, replay_items=replay_items,
            requests=requests),
            deadline, timeout, started)
        if core.valid is False:
            return replace(core, still_possible=frozenset(), notes=(
                *core.notes, "the history leaves versions open; these anomalies hold "
                "whichever way they are fixed"), stats=replace(
                    core.stats, seconds=time.perf_counter() - started))
    verdicts: list[Verdict] = []
    timed_out = cut_short = False
    ways = 0
    stack: list[dict[Any, int]] = [{}]
    while stack:  # depth first over the open choices, each fixed in turn
        choice = stack.pop()
        try:
            if choice:
                check_deadline(deadline)
        except SearchTimeout:
            timed_out = True
            break
        analysis = analyze_items(history, deadline=deadline, choice=choice,
                                 replay_items=replay_items, requests=requests) \
            if choice else first
        inf = analysis.inference
        open_choice = next(((key, n) for key, n in inf.choices if key not in choice), None)
        if open_choice is not None:
            key, n = open_choice
            stack.extend({**choice, key: i} for i in reversed(range(n)))
            continue
        ways += 1
        if inf.clash:
            continue  # one write cannot make two versions
        verdicts.append(judge_one(history, consistency, models, analysis, deadline, timeout,
                                   started))
        if verdicts[-1].valid is True and stack:
            cut_short = True  # the models asked for hold; the other ways are not needed
            break
    if not verdicts:  # the time limit ran out at once
        verdicts.append(judge_one(history, consistency, models, first, deadline,
                                   timeout, started))
    chosen = next((v for v in verdicts if v.valid is True), None)
    if chosen is None:
        chosen = next((v for v in verdicts if v.valid == "unknown"), verdicts[0])
    # A model is ruled out only when every way was judged and rules it out.
    ruled = frozenset() if cut_short or timed_out else frozenset.intersection(
        *(v.ruled_out for v in verdicts))
    proved = frozenset().union(*(v.still_possible for v in verdicts if v.valid is True))
    notes = list(chosen.notes)
    if ways > 1 or cut_short:
        notes.append(f"the history leaves versions open; {ways} way(s) of fixing them were "
                     "judged" + ("" if cut_short or timed_out
                                 else ", and the verdict holds over all of them"))
    valid = chosen.valid
    if timed_out and valid is not True:
        valid = "unknown"
        notes.append("the time limit ran out before every way was judged")
    return replace(chosen, valid=valid, ruled_out=ruled, still_possible=proved - ruled,
                   notes=tuple(notes), stats=replace(
                       chosen.stats, seconds=time.perf_counter() - started))
