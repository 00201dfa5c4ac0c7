"""A brute-force oracle for transactional histories (list-append and rw-register).

It decides, for each of the eight transactional models, whether a history is valid,
straight from the definitions agreed in the project's notes (Adya's dependency graphs,
Elle's names for the phenomena, Jepsen's meaning of ok/fail/info), independently of
replicheck's checkers: it imports nothing from ``histories/checkers/`` nor
``models/lattice.py``.

Definitions implemented
=======================
Transactions: ``ok`` committed, ``fail`` aborted, ``info`` (or no completion) either.
Only an ``ok`` transaction's reads are known; a ``fail`` or ``info`` one's writes are
taken from its invocation.

An *interpretation* fixes (1) which ``info`` transactions committed, (2) per key a
version order of the installed writes of committed transactions (rw-register: a
transaction's last write to a key; list-append: every append, each transaction's
appends to a key in its own order), (3) per read of an ``ok`` transaction that reads a
version (every read but one its own writes determine: see :class:`_Facts`), the
version it read: rw-register, any write of an equal value
(``models.equality.same_value``: installed, intermediate, aborted, the reader's own) or
the initial state for nil; list-append, an injective map of the list's elements
(less the reader's own appends at its end) to appends of that key with equal values,
whose committed elements are, in order, a prefix of the version order.

txn-models.md says "per external read"; reading every read that way is what its own
list of unexplainable reads ("two lists of one key neither a prefix of the other")
needs, and what makes the serial models agree with serial replay
(:mod:`tests.oracles.serial_txn`): with external reads only, ``T: append 1, read
[5, 1]`` and another transaction's ``read [1]`` would pass as serializable.

Phenomena of one interpretation, over committed transactions (edges join two distinct
transactions; a read of the reader's own later write is ``future-read``, not a
self-loop; of its own earlier, overwritten one, the internal anomaly only):

- ``ww``: consecutive installed versions (list-append: consecutive elements of
  different transactions); ``wr``: the writer of the version a read read to the
  reader; ``rw``: the reader to the writer of the next version (a read of the
  initial state: to the first one); ``process`` (an ``ok`` transaction to a later one of
  its process) and ``realtime`` (an ``ok`` transaction to one invoked after it
  completed);
- G0 a ww cycle; G1a a read of a write of an aborted transaction (``fail``, or
  ``info`` taken as aborted); G1b a read of another committed transaction's
  intermediate version (list-append: a list showing some but not all of another
  transaction's appends to the key); G1c a cycle of ww and wr edges; G2-item a cycle
  with an rw edge; G-single a cycle with exactly one rw edge; G-nonadjacent a cycle
  with rw edges no two adjacent; internal and future-read as in Elle;
  G1c/G2-process and G1c/G2-realtime: the same with process/realtime edges.

A model holds iff SOME interpretation shows none of its forbidden phenomena
(:data:`~tests.oracles.txn_graph.FORBIDDEN`; the graphs and phenomena are in
:mod:`tests.oracles.txn_graph`, the interpretations here). Reads that no
interpretation explains (a value nobody wrote, a list no state of the key can be) leave
no interpretation: invalid under all eight.

Pruning (each obviously sound)
==============================
1. An interpretation with G0 is skipped: every model forbids G0.
2. A read explained by an aborted or intermediate version gets no wr/rw edge: G1a and
   G1b are forbidden by every model but read-uncommitted, which looks at ww edges only.
3. Read choices whose phenomena (G1a, G1b, future-read) every still-open model
   other than read-uncommitted forbids are not enumerated; read-uncommitted needs only
   that each read has some explanation.
4. Version orders come from global orders of the committed writers: rw-register, each
   key's installed writes in that order; list-append, the longest read's committed
   elements (an order of which every read's committed elements are a prefix begins with
   the longest of them), then the other appends in blocks per transaction, in that
   order. Every G0-free combination arises so: its ww edges are acyclic, so some global
   order extends them, and a transaction's appends split by another's are a G0.
5. Enumeration stops once every model has a witness; a model with one is not checked
   again; the phenomena of an interpretation are computed lazily, only as far as an
   open model's forbidden set asks.
6. A cycle shape (G-single, G-nonadjacent) is looked for among simple cycles only: a
   closed walk whose rw edges are pairwise non-adjacent splits at a repeated node into
   two closed walks, each either free of rw (a G1c cycle, forbidden alongside) or again
   of that shape.
7. Reads are explained one at a time, and a partial choice is dropped once it shows,
   for every open model, a forbidden phenomenon: adding edges and flags never removes one.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from replicheck.histories.history import History
from replicheck.models.equality import same_value

from .txn_graph import (
    FORBIDDEN,
    FUTURE,
    G0,
    G1A,
    G1B,
    INTERNAL,
    MODELS,
    PROCESS,
    RA,
    RC,
    REALTIME,
    RR,
    RU,
    RW,
    SER,
    SI,
    SS,
    SSS,
    WR,
    WW,
    Interpretation,
    adjacency,
    cyclic,
)

__all__ = ["MODELS", "RA", "RC", "RR", "RU", "SER", "SI", "SS", "SSS", "WORKLOADS", "Judgement",
           "ModelResult", "Txn", "judge", "parse"]

WORKLOADS: Final = ("list-append", "rw-register")


Mop = tuple[str, Hashable, Any]


# ---------------------------------------------------------------------------------------
# The history, read independently of the checkers


@dataclass(frozen=True)
class Txn:
    """One transaction: ``index`` is its node, ``op`` the operation id; ``mops`` are the
    completion's for ``ok`` (reads known), the invocation's otherwise (reads None)."""

    index: int
    op: int
    process: Hashable
    status: str
    mops: tuple[Mop, ...]
    call: int
    ret: int | None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True, eq=False)
class Write:
    """A write (rw-register ``w``, list-append ``append``) of transaction ``txn``:
    ``nth`` of ``total`` writes of that transaction to ``key``."""

    txn: int
    key: Hashable
    value: Any
    nth: int
    total: int
    pos: int

    @property
    def installed(self) -> bool:
        """The transaction's last write to the key (rw-register's installed version)."""
        return self.nth == self.total - 1

    def __repr__(self) -> str:
        return f"T{self.txn}:{self.value!r}"


@dataclass(frozen=True)
class Read:
    """A read of ``key`` by ``ok`` transaction ``txn`` (micro-operation ``pos``) that
    reads a version: ``value`` is what it read of other transactions' writes (see
    :class:`_Facts`)."""

    txn: int
    key: Hashable
    value: Any
    pos: int


class BadHistory(ValueError):
    """A history the oracle cannot take (not a txn history of the workload)."""


def parse(history: History, workload: str) -> tuple[Txn, ...]:
    """The transactions of ``history``, in invocation order."""
    if workload not in WORKLOADS:
        raise BadHistory(f"unknown workload {workload!r}")
    write_f = "append" if workload == "list-append" else "w"
    out: list[Txn] = []
    for op in history.operations:
        if op.f != "txn":
            raise BadHistory(f"operation {op.id}: function {op.f!r}, expected 'txn'")
        ok = op.status == "ok"
        value = op.output if ok else op.input
        mops: list[Mop] = []
        for f, k, v in value:
            if f == "r":
                if not ok:
                    v = None
                elif workload == "list-append":
                    v = [] if v is None else list(v)
            elif f != write_f:
                raise BadHistory(f"operation {op.id}: micro-operation {f!r}")
            mops.append((f, k, v))
        out.append(Txn(len(out), op.id, op.process, op.status, tuple(mops), op.call,
                       op.ret if ok else None))
    return tuple(out)


# ---------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class ModelResult:
    """The oracle's answer for one model: ``valid``, with the interpretation that shows
    it (``witness``) or why not (``reason``)."""

    valid: bool
    witness: Mapping[str, Any] | None = None
    reason: str = ""


@dataclass(frozen=True)
class Judgement:
    """The oracle's answer for every model, plus how many interpretations it examined."""

    results: Mapping[str, ModelResult]
    interpretations: int = 0

    def valid(self, model: str) -> bool:
        return self.results[model].valid

    @property
    def valid_models(self) -> frozenset[str]:
        return frozenset(m for m, r in self.results.items() if r.valid)

    @property
    def invalid_models(self) -> frozenset[str]:
        return frozenset(m for m, r in self.results.items() if not r.valid)



# ---------------------------------------------------------------------------------------
# One interpretation and its phenomena


@dataclass(frozen=True)
class Option:
    """One way to explain an external read: the phenomena it shows by itself (G1a, G1b,
    future-read), the transaction it read from (wr) and the one that overwrote what it
    read (rw), both None when no such edge."""

    flags: frozenset[str]
    wr: int | None
    rw: int | None
    source: str


# ---------------------------------------------------------------------------------------
# The history's fixed facts


class _Facts:
    """What the history fixes before any interpretation: transactions, writes per key,
    the reads that read a version, internal consistency, process and real-time order.

    Which reads read a version: every read of an ``ok`` transaction except what its
    own writes determine. rw-register: a read of k after the transaction wrote k that
    returns its last write is determined; any other read reads a version.
    list-append: a read of k returns the version read followed by the transaction's own
    appends to k so far: when the list ends with those appends they are cut off, and
    the rest is the version read; otherwise (an internal anomaly) the whole list is."""

    def __init__(self, txns: Sequence[Txn], workload: str) -> None:
        self.txns = tuple(txns)
        self.appending = workload == "list-append"
        self.writes: dict[Hashable, list[Write]] = {}
        self.reads: list[Read] = []
        self.raw_reads: list[Read] = []
        self.internal: str | None = None
        write_f = "append" if self.appending else "w"
        for t in self.txns:
            counts: dict[Hashable, int] = {}
            for f, k, _ in t.mops:
                if f == write_f:
                    counts[k] = counts.get(k, 0) + 1
            seen: dict[Hashable, int] = {}
            for i, (f, k, v) in enumerate(t.mops):
                if f == write_f:
                    n = seen.get(k, 0)
                    seen[k] = n + 1
                    self.writes.setdefault(k, []).append(
                        Write(t.index, k, v, n, counts[k], i))
            if t.ok:
                self._reads_of(t, write_f)
        self.keys = sorted(set(self.writes) | {r.key for r in self.reads}, key=repr)

    def _reads_of(self, t: Txn, write_f: str) -> None:
        # state[k]: what a read of k must return given the transaction's own accesses:
        # (known prefix or None, own appends since) for list-append, (value,) for
        # rw-register; own[k]: the transaction's writes of k so far.
        state: dict[Hashable, Any] = {}
        own: dict[Hashable, list[Any]] = {}
        for i, (f, k, v) in enumerate(t.mops):
            if f == write_f:
                own.setdefault(k, []).append(v)
                if self.appending:
                    prefix, since = state.get(k, (None, []))
                    state[k] = (prefix, [*since, v])
                else:
                    state[k] = (v,)
                continue
            self.raw_reads.append(Read(t.index, k, v, i))
            if k in state and self.internal is None and not self._consistent(state[k], v):
                self.internal = (f"T{t.index} (op {t.op}) read {v!r} from {k!r} after "
                                 f"its own accesses left {state[k]!r}")
            mine = own.get(k, [])
            if self.appending:
                cut = bool(mine) and len(v) >= len(mine) and same_value(
                    v[len(v) - len(mine):], mine)
                self.reads.append(Read(t.index, k, v[:len(v) - len(mine)] if cut else v, i))
            elif not (mine and same_value(v, mine[-1])):
                self.reads.append(Read(t.index, k, v, i))
            state[k] = ([*v], []) if self.appending else (v,)

    def _consistent(self, state: Any, v: Any) -> bool:
        if not self.appending:
            return same_value(state[0], v)
        prefix, since = state
        if prefix is not None:
            return same_value([*prefix, *since], v)
        return len(v) >= len(since) and same_value(v[len(v) - len(since):], since)

    # -- explanations of reads -------------------------------------------------------

    def mappings(self, read: Read) -> list[tuple[Write, ...]]:
        """list-append: every injective map of the read's elements to appends of its
        key with equal values."""
        appends = self.writes.get(read.key, [])
        out: list[tuple[Write, ...]] = []

        def extend(i: int, chosen: list[Write]) -> None:
            if i == len(read.value):
                out.append(tuple(chosen))
                return
            for a in appends:
                if same_value(a.value, read.value[i]) and all(a is not c for c in chosen):
                    chosen.append(a)
                    extend(i + 1, chosen)
                    chosen.pop()

        extend(0, [])
        return out

    def unexplained(self) -> str | None:
        """A read (external or internal) that no interpretation can explain."""
        for r in self.raw_reads:
            if self.appending:
                if not self.mappings(r):
                    return f"T{r.txn} read {r.value!r} from {r.key!r}: no state of the key"
            elif r.value is not None and not any(
                    same_value(w.value, r.value) for w in self.writes.get(r.key, [])):
                return f"T{r.txn} read {r.value!r} from {r.key!r}, which nobody wrote"
        return None

    # -- order edges ---------------------------------------------------------------------

    def order_edges(self, committed: frozenset[int]) -> tuple[set[tuple[int, int]],
                                                                set[tuple[int, int]]]:
        """(process edges, realtime edges) among committed transactions."""
        process: set[tuple[int, int]] = set()
        realtime: set[tuple[int, int]] = set()
        for a in self.txns:
            if not a.ok or a.ret is None:
                continue
            for b in self.txns:
                if b.index in committed and b.index != a.index and a.ret < b.call:
                    realtime.add((a.index, b.index))
                    if a.process == b.process:
                        process.add((a.index, b.index))
        return process, realtime


# ---------------------------------------------------------------------------------------
# Per-key interpretations: a version order with every external read's options


@dataclass(frozen=True)
class KeyChoice:
    """One version order of a key (its writes, or for rw-register its installed
    writes, in order) with the ways each external read of the key can be explained."""

    key: Hashable
    order: tuple[Write, ...]
    options: tuple[tuple[Read, tuple[Option, ...]], ...]

    def ww(self) -> set[tuple[int, int]]:
        return {(a.txn, b.txn) for a, b in itertools.pairwise(self.order) if a.txn != b.txn}


def _register_choices(facts: _Facts, key: Hashable, committed: frozenset[int],
                      rank: Mapping[int, int]) -> Iterator[KeyChoice]:
    """The installed writes of ``key`` in the global order ``rank``, with each read's
    options."""
    writes = facts.writes.get(key, [])
    installed = [w for w in writes if w.installed and w.txn in committed]
    reads = [r for r in facts.reads if r.key == key]
    for order in [tuple(sorted(installed, key=lambda w: rank[w.txn]))]:
        after = {w.txn: (order[i + 1].txn if i + 1 < len(order) else None)
                 for i, w in enumerate(order)}
        first = order[0].txn if order else None
        options = []
        for r in reads:
            opts: set[Option] = set()
            if r.value is None:
                opts.add(Option(frozenset(), None, first if first != r.txn else None,
                                "initial"))
            for w in writes:
                if not same_value(w.value, r.value):
                    continue
                if w.txn == r.txn and w.pos < r.pos:
                    # its own earlier write, overwritten since: the internal anomaly
                    opts.add(Option(frozenset(), None, None, repr(w)))
                elif w.txn == r.txn:
                    nxt = after.get(w.txn) if w.installed else None
                    opts.add(Option(frozenset({FUTURE}), None, nxt, repr(w)))
                elif w.txn not in committed:
                    opts.add(Option(frozenset({G1A}), None, None, repr(w)))
                elif not w.installed:
                    opts.add(Option(frozenset({G1B}), None, None, repr(w)))
                else:
                    nxt = after[w.txn]
                    opts.add(Option(frozenset(), w.txn, nxt if nxt != r.txn else None,
                                    repr(w)))
            options.append((r, tuple(sorted(opts, key=lambda o: (len(o.flags), o.source)))))
        yield KeyChoice(key, order, tuple(options))


def _append_choices(facts: _Facts, key: Hashable, committed: frozenset[int],
                    rank: Mapping[int, int]) -> Iterator[KeyChoice]:
    """Per way to map the reads of ``key`` to appends: the longest read's committed
    elements, then the other appends in blocks per transaction, in the global order
    ``rank`` (pruning 4)."""
    elements = [w for w in facts.writes.get(key, []) if w.txn in committed]
    reads = [r for r in facts.reads if r.key == key]
    for maps in itertools.product(*(facts.mappings(r) for r in reads)):
        seqs = [tuple(a for a in m if a.txn in committed) for m in maps]
        longest = max(seqs, key=len, default=())
        if any(s != longest[:len(s)] for s in seqs):
            continue
        if any(a.nth != sum(1 for b in longest[:i] if b.txn == a.txn)
               for i, a in enumerate(longest)):
            continue  # shows a transaction's appends out of its own order
        shown = set(map(id, longest))
        tail = sorted((w for w in elements if id(w) not in shown),
                      key=lambda w: (rank[w.txn], w.nth))
        order = (*longest, *tail)
        options = tuple((r, (_append_option(r, m, s, order, committed, facts),))
                        for r, m, s in zip(reads, maps, seqs, strict=True))
        yield KeyChoice(key, order, options)


def _append_option(r: Read, mapped: tuple[Write, ...], seq: tuple[Write, ...],
                   order: tuple[Write, ...], committed: frozenset[int], facts: _Facts
                   ) -> Option:
    flags: set[str] = set()
    if any(a.txn not in committed for a in mapped):
        flags.add(G1A)
    if any(a.txn == r.txn and a.pos > r.pos for a in mapped):
        flags.add(FUTURE)
    shown: dict[int, int] = {}
    for a in seq:
        shown[a.txn] = shown.get(a.txn, 0) + 1
    if any(u != r.txn and n < _total(facts, r.key, u) for u, n in shown.items()):
        flags.add(G1B)
    n = len(seq)
    wr = seq[-1].txn if n and seq[-1].txn != r.txn else None
    rw = order[n].txn if n < len(order) and order[n].txn != r.txn else None
    return Option(frozenset(flags), wr, rw, repr(list(mapped)))


def _total(facts: _Facts, key: Hashable, txn: int) -> int:
    return next(w.total for w in facts.writes[key] if w.txn == txn)


# ---------------------------------------------------------------------------------------
# The search


def judge(history: History, workload: str) -> Judgement:
    """Decide ``history`` (a ``txn`` history of ``workload``, "list-append" or
    "rw-register") under each of the eight models by enumerating interpretations."""
    facts = _Facts(parse(history, workload), workload)
    unexplained = facts.unexplained()
    if unexplained is not None:
        return Judgement({m: ModelResult(False, reason=unexplained) for m in MODELS})
    search = _Search(facts)
    search.run()
    return search.judgement()


class _Search:
    def __init__(self, facts: _Facts) -> None:
        self.facts = facts
        self.flags = frozenset({INTERNAL}) if facts.internal else frozenset()
        self.open = set(MODELS)
        self.witness: dict[str, Mapping[str, Any]] = {}
        self.example: dict[str, list[str]] = {}
        self.count = 0
        self.choices = _append_choices if facts.appending else _register_choices

    def run(self) -> None:
        info = [t.index for t in self.facts.txns if t.status not in ("ok", "fail")]
        ok = frozenset(t.index for t in self.facts.txns if t.ok)
        for size in range(len(info) + 1):
            for chosen in itertools.combinations(info, size):
                self._committed(ok | frozenset(chosen))
                if not self.open:
                    return

    def _combos(self, committed: frozenset[int]) -> Iterator[tuple[KeyChoice, ...]]:
        """Every G0-free combination of version orders, and possibly some with G0
        (pruning 4): the orders each global order of the committed writers gives."""
        writers = sorted(t for t in committed
                         if any(f != "r" for f, _, _ in self.facts.txns[t].mops))
        writing = {k: {w.txn for w in self.facts.writes.get(k, [])} for k in self.facts.keys}
        cache: dict[Any, list[KeyChoice]] = {}
        seen: set[Any] = set()
        for ranking in itertools.permutations(writers):
            rank = {t: i for i, t in enumerate(ranking)}
            per_key = []
            for k in self.facts.keys:
                projected = (k, tuple(t for t in ranking if t in writing[k]))
                if projected not in cache:  # the choices depend on these ranks only
                    cache[projected] = list(self.choices(self.facts, k, committed, rank))
                per_key.append(cache[projected])
            for combo in itertools.product(*per_key):
                signature = tuple((tuple(map(id, c.order)), tuple(o for _, o in c.options))
                                  for c in combo)
                if signature not in seen:
                    seen.add(signature)
                    yield combo

    def _committed(self, committed: frozenset[int]) -> None:
        process, realtime = self.facts.order_edges(committed)
        for combo in self._combos(committed):
            ww: set[tuple[int, int]] = set()
            for choice in combo:
                ww |= choice.ww()
            if cyclic(adjacency([ww])):
                for model in self.open:  # pruning 1: every model forbids G0
                    self._seen(model, [G0])
                continue
            reads = [(r, opts) for choice in combo for r, opts in choice.options]
            if any(not opts for _, opts in reads):
                continue
            if RU in self.open:
                self._witness(RU, committed, combo, [(r, o[0]) for r, o in reads])
            strong = self.open - {RU}
            if not strong:
                return
            usable = [[o for o in opts
                       if any(not (o.flags & FORBIDDEN[m]) for m in strong)]  # pruning 3
                      for _, opts in reads]
            if not all(usable):
                for model in strong:  # some read has only G1a / G1b / future-read options
                    self._seen(model, sorted({p for (_, opts), ok in zip(reads, usable,
                                                                         strict=True)
                                              if not ok for o in opts for p in o.flags}
                                             & FORBIDDEN[model]))
                continue
            base = {WW: ww, WR: set(), RW: set(), PROCESS: process, REALTIME: realtime}
            self._pick(committed, combo, reads, usable, [], base, self.flags)
            if not self.open:
                return

    def _pick(self, committed: frozenset[int], combo: tuple[KeyChoice, ...],
              reads: list[tuple[Read, tuple[Option, ...]]], usable: list[list[Option]],
              picked: list[Option], edges: dict[str, set[tuple[int, int]]],
              flags: frozenset[str]) -> None:
        """Choose the reads' options one by one (depth first), dropping a partial choice
        once it shows, for every open model, a phenomenon that model forbids (pruning 7:
        every phenomenon persists when edges and flags are added)."""
        interp = Interpretation(edges, flags)
        strong = sorted(self.open - {RU})
        if len(picked) == len(reads):
            self.count += 1
            for model in strong:
                if interp.allows(model):
                    self._witness(model, committed, combo,
                                  [(r, o) for (r, _), o in zip(reads, picked, strict=True)])
                else:
                    self._seen(model, interp.shown(model))
            return
        if not any(interp.allows(m) for m in strong):
            for model in strong:
                self._seen(model, interp.shown(model))
            return
        r = reads[len(picked)][0]
        for option in usable[len(picked)]:
            more = dict(edges)
            if option.wr is not None:
                more[WR] = edges[WR] | {(option.wr, r.txn)}
            if option.rw is not None:
                more[RW] = edges[RW] | {(r.txn, option.rw)}
            self._pick(committed, combo, reads, usable, [*picked, option], more,
                       flags | option.flags)
            if not self.open - {RU}:
                return

    def _seen(self, model: str, phenomena: list[str]) -> None:
        self.example.setdefault(model, phenomena)

    def _witness(self, model: str, committed: frozenset[int], combo: tuple[KeyChoice, ...],
                 reads: list[tuple[Read, Option]]) -> None:
        self.open.discard(model)
        txns = self.facts.txns
        self.witness[model] = {
            "committed": sorted(txns[i].op for i in committed),
            "orders": {repr(c.key): [repr(w) for w in c.order] for c in combo},
            "reads": [f"T{r.txn} read {r.key!r} from {o.source}" for r, o in reads],
        }

    def judgement(self) -> Judgement:
        results = {}
        for m in MODELS:
            if m in self.witness:
                results[m] = ModelResult(True, witness=self.witness[m])
            elif m in self.example:
                results[m] = ModelResult(False, reason=(
                    f"every interpretation shows one of {sorted(FORBIDDEN[m])}; the first "
                    f"seen shows {self.example[m]}"))
            else:
                results[m] = ModelResult(False, reason="no interpretation explains the reads "
                                                       "(incompatible orders)")
        return Judgement(results, self.count)
