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
appends to a key in its own order), (3) per *external* read (the first access of a key
in an ``ok`` transaction is a read) the version it read: rw-register, any write of an
equal value (``models.equality.same_value``: installed, intermediate, aborted, the
reader's own) or the initial state for nil; list-append, an injective map of the
list's elements to appends of that key with equal values whose committed elements are,
in order, a prefix of the version order. (list-append also interprets ``X`` in the first
read ``X + own appends`` of a key a transaction appended to: see :func:`judge`.)

Phenomena of one interpretation, over committed transactions (edges join two distinct
transactions; a read of the reader's own write is ``future-read``, not a self-loop):

- ``ww``: consecutive installed versions (list-append: consecutive elements of
  different transactions); ``wr``: the writer of the version an external read read to
  the reader; ``rw``: the reader to the writer of the next version (a read of the
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
(:data:`FORBIDDEN`). Reads that no interpretation explains (a value nobody wrote, a
list no state of the key can be) leave no interpretation: invalid under all eight.

Pruning (each obviously sound)
==============================
1. An interpretation with G0 is skipped: every model forbids G0.
2. A read explained by an aborted or intermediate version gets no wr/rw edge: G1a and
   G1b are forbidden by every model but read-uncommitted, which looks at ww edges only.
3. Read choices whose phenomena (G1a, G1b, future-read) every still-open model
   other than read-uncommitted forbids are not enumerated; read-uncommitted needs only
   that each read has some explanation.
4. list-append version orders are generated as the longest read's committed elements
   followed by every interleaving of the other elements: an order of which every read's
   committed elements are a prefix must begin with the longest of them.
5. Enumeration stops once every model has a witness; a model with one is not checked
   again; the phenomena of an interpretation are computed lazily, only as far as an
   open model's forbidden set asks.
6. A cycle shape (G-single, G-nonadjacent) is looked for among simple cycles only: a
   closed walk whose rw edges are pairwise non-adjacent splits at a repeated node into
   two closed walks, each either free of rw (a G1c cycle, forbidden alongside) or again
   of that shape.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import networkx as nx

from replicheck.histories.history import History
from replicheck.models.equality import same_value

RU: Final = "read-uncommitted"
RC: Final = "read-committed"
RA: Final = "read-atomic"
RR: Final = "repeatable-read"
SI: Final = "snapshot-isolation"
SER: Final = "serializable"
SSS: Final = "strong-session-serializable"
SS: Final = "strict-serializable"
MODELS: Final = (RU, RC, RA, RR, SI, SER, SSS, SS)
"""The eight transactional models, weakest first."""

G0: Final = "G0"
G1A: Final = "G1a"
G1B: Final = "G1b"
G1C: Final = "G1c"
G_SINGLE: Final = "G-single"
G_NONADJACENT: Final = "G-nonadjacent"
G2: Final = "G2-item"
INTERNAL: Final = "internal"
FUTURE: Final = "future-read"
G1C_PROCESS: Final = "G1c-process"
G2_PROCESS: Final = "G2-process"
G1C_REALTIME: Final = "G1c-realtime"
G2_REALTIME: Final = "G2-realtime"

_RC_SET: Final = frozenset({G0, G1A, G1B, G1C})
_SER_SET: Final = _RC_SET | {INTERNAL, FUTURE, G2}
FORBIDDEN: Final[Mapping[str, frozenset[str]]] = {
    RU: frozenset({G0}),
    RC: _RC_SET,
    RA: _RC_SET | {INTERNAL, FUTURE},
    RR: _RC_SET | {G2},
    SI: _RC_SET | {INTERNAL, FUTURE, G_SINGLE, G_NONADJACENT},
    SER: _SER_SET,
    SSS: _SER_SET | {G1C_PROCESS, G2_PROCESS},
    SS: _SER_SET | {G1C_REALTIME, G2_REALTIME},
}
"""The phenomena each model forbids (txn-models.md)."""

WORKLOADS: Final = ("list-append", "rw-register")

WW, WR, RW, PROCESS, REALTIME = "ww", "wr", "rw", "process", "realtime"
_DATA: Final = (WW, WR, RW)

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

    @property
    def installed(self) -> bool:
        """The transaction's last write to the key (rw-register's installed version)."""
        return self.nth == self.total - 1

    def __repr__(self) -> str:
        return f"T{self.txn}:{self.value!r}"


@dataclass(frozen=True)
class Read:
    """An external read: the first access of ``key`` by ``ok`` transaction ``txn``."""

    txn: int
    key: Hashable
    value: Any


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
# Graph helpers (a few transactions: plain adjacency sets)

Adjacency = dict[int, set[int]]


def _adjacency(edges: Sequence[set[tuple[int, int]]]) -> Adjacency:
    adj: Adjacency = {}
    for kind in edges:
        for a, b in kind:
            adj.setdefault(a, set()).add(b)
    return adj


def _cyclic(adj: Adjacency) -> bool:
    """The directed graph has a cycle."""
    state: dict[int, int] = {}  # 1 on the stack, 2 done
    for root in adj:
        if root in state:
            continue
        stack = [(root, iter(adj.get(root, ())))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return True
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(adj.get(nxt, ()))))
    return False


def _reaches(adj: Adjacency, src: int, dst: int) -> bool:
    seen = {src}
    todo = [src]
    while todo:
        node = todo.pop()
        if node == dst:
            return True
        for nxt in adj.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _cycle_with(adj: Adjacency, edges: set[tuple[int, int]]) -> bool:
    """Some cycle of ``adj`` uses one of ``edges`` (which ``adj`` contains)."""
    return any(_reaches(adj, b, a) for a, b in edges)


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


class Interpretation:
    """The dependency graph of one interpretation, its phenomena computed lazily."""

    def __init__(self, edges: Mapping[str, set[tuple[int, int]]], flags: frozenset[str]
                 ) -> None:
        self.edges = edges
        self.flags = flags
        self._memo: dict[str, bool] = {}
        self._adj: dict[tuple[str, ...], Adjacency] = {}

    def adj(self, *kinds: str) -> Adjacency:
        if kinds not in self._adj:
            self._adj[kinds] = _adjacency([self.edges[k] for k in kinds])
        return self._adj[kinds]

    def shows(self, phenomenon: str) -> bool:
        """The interpretation shows ``phenomenon``."""
        if phenomenon not in self._memo:
            self._memo[phenomenon] = self._decide(phenomenon)
        return self._memo[phenomenon]

    def _decide(self, p: str) -> bool:
        if p in (G1A, G1B, FUTURE, INTERNAL):
            return p in self.flags
        if p == G0:
            return _cyclic(self.adj(WW))
        if p == G1C:
            return _cyclic(self.adj(WW, WR))
        if p == G2:
            return _cycle_with(self.adj(*_DATA), self.edges[RW])
        if p in (G_SINGLE, G_NONADJACENT):
            single, nonadjacent = self._rw_shapes()
            self._memo[G_SINGLE], self._memo[G_NONADJACENT] = single, nonadjacent
            return self._memo[p]
        if p == G1C_PROCESS:
            return _cyclic(self.adj(WW, WR, PROCESS))
        if p == G2_PROCESS:
            return _cycle_with(self.adj(*_DATA, PROCESS), self.edges[RW])
        if p == G1C_REALTIME:
            return _cyclic(self.adj(WW, WR, REALTIME))
        if p == G2_REALTIME:
            return _cycle_with(self.adj(*_DATA, REALTIME), self.edges[RW])
        raise ValueError(p)

    def _rw_shapes(self) -> tuple[bool, bool]:
        """(a cycle with exactly one rw edge, a cycle with rw edges none adjacent),
        over every simple cycle and every choice of edge kind along it."""
        if not self.edges[RW] or not _cycle_with(self.adj(*_DATA), self.edges[RW]):
            return False, False
        graph = nx.DiGraph()
        for a, bs in self.adj(*_DATA).items():
            graph.add_edges_from((a, b) for b in bs)
        single = nonadjacent = False
        for cycle in nx.simple_cycles(graph):
            steps = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
            choices = []
            for step in steps:
                kinds = [k for k in _DATA if step in self.edges[k]]
                choices.append(sorted({k == RW for k in kinds}))
            for pick in itertools.product(*choices):
                rws = [i for i, is_rw in enumerate(pick) if is_rw]
                if not rws:
                    continue
                n = len(pick)
                if len(rws) == 1:
                    single = True
                if all(not pick[(i + 1) % n] for i in rws):
                    nonadjacent = True
            if single and nonadjacent:
                break
        return single, nonadjacent

    def allows(self, model: str) -> bool:
        """No phenomenon the model forbids shows."""
        return not any(self.shows(p) for p in sorted(FORBIDDEN[model]))

    def shown(self, model: str) -> list[str]:
        return sorted(p for p in FORBIDDEN[model] if self.shows(p))


# ---------------------------------------------------------------------------------------
# The history's fixed facts


class _Facts:
    """What the history fixes before any interpretation: transactions, writes per key,
    external reads, internal consistency, process and real-time order."""

    def __init__(self, txns: Sequence[Txn], workload: str, internal_prefix: bool = False
                 ) -> None:
        self.txns = tuple(txns)
        self.internal_prefix = internal_prefix
        self.appending = workload == "list-append"
        self.writes: dict[Hashable, list[Write]] = {}
        self.reads: list[Read] = []
        self.internal_reads: list[Read] = []
        self.internal: str | None = None
        self._unread: list[tuple[Txn, Hashable, list[Any], list[Any]]] = []
        write_f = "append" if self.appending else "w"
        for t in self.txns:
            counts: dict[Hashable, int] = {}
            for f, k, _ in t.mops:
                if f == write_f:
                    counts[k] = counts.get(k, 0) + 1
            seen: dict[Hashable, int] = {}
            for f, k, v in t.mops:
                if f == write_f:
                    n = seen.get(k, 0)
                    seen[k] = n + 1
                    self.writes.setdefault(k, []).append(Write(t.index, k, v, n, counts[k]))
            if t.ok:
                self._reads_of(t, write_f)
        self.keys = sorted(set(self.writes) | {r.key for r in self.reads}, key=repr)
        self.future = self._future_in_internal()

    def _reads_of(self, t: Txn, write_f: str) -> None:
        # state[k]: (known prefix or None, own appends since) for list-append, or the
        # value a read of k must return for rw-register.
        state: dict[Hashable, Any] = {}
        for i, (f, k, v) in enumerate(t.mops):
            if f == write_f:
                if self.appending:
                    prefix, since = state.get(k, (None, []))
                    state[k] = (prefix, [*since, v])
                else:
                    state[k] = (v,)
                continue
            if k not in state:
                self.reads.append(Read(t.index, k, v))
            else:
                self.internal_reads.append(Read(t.index, k, v))
                if self.internal is None and not self._consistent(state[k], v):
                    self.internal = (f"T{t.index} (op {t.op}) read {v!r} from {k!r} after "
                                     f"its own accesses left {state[k]!r}")
                if self.appending and state[k][0] is None:
                    later = [m[2] for m in t.mops[i + 1:] if m[0] == write_f and m[1] == k]
                    self._unread.append((t, k, v, later))
                    since = state[k][1]
                    if self.internal_prefix and self._consistent(state[k], v):
                        self.reads.append(Read(t.index, k, v[:len(v) - len(since)]))
            state[k] = ([*v], []) if self.appending else (v,)

    def _future_in_internal(self) -> str | None:
        """list-append: a read of k after T appended to k (and before T read k) that
        shows a value T appends to k later and no other transaction appends: a future
        read whatever the interpretation (external reads' depend on it)."""
        for t, k, v, later in self._unread:
            others = [w.value for w in self.writes.get(k, []) if w.txn != t.index]
            for x in later:
                if any(same_value(x, e) for e in v) and not any(
                        same_value(x, o) for o in others):
                    return (f"T{t.index} (op {t.op}) read {v!r} from {k!r}, which holds "
                            f"{x!r}, appended by T{t.index} itself later")
        return None

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
        for r in [*self.reads, *self.internal_reads]:
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


def _register_choices(facts: _Facts, key: Hashable, committed: frozenset[int]
                      ) -> Iterator[KeyChoice]:
    writes = facts.writes.get(key, [])
    installed = [w for w in writes if w.installed and w.txn in committed]
    reads = [r for r in facts.reads if r.key == key]
    for order in itertools.permutations(installed):
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
                if w.txn == r.txn:
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


def _interleavings(chains: list[list[Write]]) -> Iterator[tuple[Write, ...]]:
    """Every merge of the chains keeping each chain's order."""
    live = [c for c in chains if c]
    if not live:
        yield ()
        return
    for i, chain in enumerate(live):
        rest = [*live[:i], chain[1:], *live[i + 1:]]
        for tail in _interleavings(rest):
            yield (chain[0], *tail)


def _append_choices(facts: _Facts, key: Hashable, committed: frozenset[int]
                    ) -> Iterator[KeyChoice]:
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
        chains: dict[int, list[Write]] = {}
        for w in elements:
            if id(w) not in shown:
                chains.setdefault(w.txn, []).append(w)
        for tail in _interleavings(list(chains.values())):
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
    if any(a.txn == r.txn for a in mapped):
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


def judge(history: History, workload: str, *, internal_prefix: bool = True) -> Judgement:
    """Decide ``history`` (a ``txn`` history of ``workload``, "list-append" or
    "rw-register") under each of the eight models by enumerating interpretations.

    ``internal_prefix`` (list-append; a reading txn-models.md does not spell out yet):
    the first read of a key after the transaction appended to it, ``X + its own
    appends`` (internally consistent), also reads the version ``X``, interpreted like
    an external read. With False (the page's literal text) ``X`` is free, and then a
    history that no serial order explains (its ``X`` shows an aborted append, or
    contradicts another read's order) passes as serializable; with True the serial
    models agree with :func:`tests.oracles.serial_txn.serial_valid`."""
    facts = _Facts(parse(history, workload), workload, internal_prefix)
    unexplained = facts.unexplained()
    if unexplained is not None:
        return Judgement({m: ModelResult(False, reason=unexplained) for m in MODELS})
    search = _Search(facts)
    search.run()
    return search.judgement()


class _Search:
    def __init__(self, facts: _Facts) -> None:
        self.facts = facts
        self.flags = frozenset(
            [INTERNAL] * bool(facts.internal) + [FUTURE] * bool(facts.future))
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

    def _committed(self, committed: frozenset[int]) -> None:
        process, realtime = self.facts.order_edges(committed)
        per_key = [list(self.choices(self.facts, k, committed)) for k in self.facts.keys]
        for combo in itertools.product(*per_key):
            ww: set[tuple[int, int]] = set()
            for choice in combo:
                ww |= choice.ww()
            if _cyclic(_adjacency([ww])):
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
            for pick in itertools.product(*usable):
                self._interpretation(committed, combo, reads, pick, ww, process, realtime)
                if not self.open:
                    return

    def _interpretation(self, committed: frozenset[int], combo: tuple[KeyChoice, ...],
                        reads: list[tuple[Read, tuple[Option, ...]]],
                        pick: tuple[Option, ...], ww: set[tuple[int, int]],
                        process: set[tuple[int, int]], realtime: set[tuple[int, int]]
                        ) -> None:
        self.count += 1
        wr = {(o.wr, r.txn) for (r, _), o in zip(reads, pick, strict=True) if o.wr is not None}
        rw = {(r.txn, o.rw) for (r, _), o in zip(reads, pick, strict=True) if o.rw is not None}
        flags = self.flags.union(*(o.flags for o in pick))
        interp = Interpretation({WW: ww, WR: wr, RW: rw, PROCESS: process,
                                 REALTIME: realtime}, flags)
        for model in sorted(self.open - {RU}):
            if interp.allows(model):
                self._witness(model, committed, combo,
                              [(r, o) for (r, _), o in zip(reads, pick, strict=True)])
            else:
                self._seen(model, interp.shown(model))

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
