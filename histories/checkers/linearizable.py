"""Linearizability of single-object histories (Wing & Gong, Lowe; as porcupine does).

:func:`check_linearizable` judges a history against a sequential specification: is
there an order of its operations that respects real time and that the specification
allows? The history semantics are those of CONTRACTS.md section 5, applied by the
model's adapter (``adapters.py``): ``ok`` operations took effect within their
interval; ``fail`` ones did not (they are left out), except a ``condition-failed``
observation in JSON lines (never in Jepsen input), which is placed like an ``ok``
operation; ``info`` (and never completed) operations may take effect at any point
after their invocation, or never.

When the specification says which keys an operation touches, the history is split
into independent parts (connected groups of keys) and each part is checked alone from
``init()`` (P-compositionality); ``Verdict.parts`` holds each part's verdict, keyed by
``repr(key)`` (a history whose operations name no key is one part, and has no
``parts``); ``register``, ``cas-register`` and ``kv`` split by key. Parts are searched
in turns; as soon as one is found not linearizable, the others stop where they are and
are reported as unknown, as porcupine stops at the first failing partition.

:func:`brute_force_linearizable` decides the same question by trying every order and
every subset of indeterminate operations: for cross-checking small histories.
"""

from __future__ import annotations

import gc
import heapq
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from replicheck.histories.checkers.adapters import (
    SPEC_MODELS,
    Adapter,
    Step,
    adapter_for,
    prepare,
)
from replicheck.histories.checkers.partial_linearization import explain_failure, failure_text
from replicheck.histories.checkers.wgl import SearchResult, searching
from replicheck.histories.history import History
from replicheck.histories.verdict import Anomaly, Stats, Validity, Verdict, combine_validity
from replicheck.histories.wording import key_label
from replicheck.models import lattice
from replicheck.models.specs.base import NO_KEY, SequentialSpec

CONSISTENCY: Final = ("linearizable",)
"""The consistency model this checker judges."""

NOT_LINEARIZABLE: Final = "not-linearizable"
"""The anomaly reported when no linearization exists."""

BRUTE_FORCE_LIMIT: Final = 12
"""The most operations :func:`brute_force_linearizable` accepts."""

_HOLDS: Final = frozenset({"linearizable"}) | lattice.weaker("linearizable")
_BROKEN: Final = lattice.ruled_out([NOT_LINEARIZABLE])


@dataclass
class _Part:
    label: str | None
    steps: list[Step]
    result: SearchResult | None = None
    stopped_by: str | None = None
    seconds: float = 0.0
    words: str | None = None  # the keys as an explanation names them


def _model_name(spec: SequentialSpec[Any], model: str | None) -> str:
    return model if model is not None else SPEC_MODELS.get(spec.name, spec.name)


def _split(steps: Sequence[Step], spec: SequentialSpec[Any]) -> list[_Part]:
    """Connected groups of keys (union-find), in order of their first operation."""
    assert spec.keys is not None
    parent: dict[Hashable, Hashable] = {}

    def find(k: Hashable) -> Hashable:
        root = k
        while parent[root] != root:
            root = parent[root]
        while parent[k] != root:
            parent[k], k = root, parent[k]
        return root

    step_keys: list[tuple[Hashable, ...]] = []
    for st in steps:
        ks = tuple(spec.keys(st.input))
        step_keys.append(ks)
        for k in ks:
            parent.setdefault(k, k)
        for a, b in pairwise(ks):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[rb] = ra
    groups: dict[Hashable, list[Step]] = {}
    members: dict[Hashable, list[Hashable]] = {}
    keyless: list[Step] = []
    for st, ks in zip(steps, step_keys, strict=True):
        if not ks:
            keyless.append(st)
            continue
        root = find(ks[0])
        groups.setdefault(root, []).append(st)
    for k in parent:
        members.setdefault(find(k), []).append(k)
    parts = []
    labels: set[str] = set()
    for root, group in groups.items():
        keys = members[root]
        label = repr(keys[0]) if len(keys) == 1 else repr(tuple(sorted(keys, key=repr)))
        while label in labels:  # distinct keys shown alike (never for decoded values)
            label += "'"
        labels.add(label)
        parts.append(_Part(label, group, words=key_label(keys)))
    if keyless:
        parts.append(_Part("()", keyless))
    parts.sort(key=lambda p: min(st.op.id for st in p.steps))
    if len(parts) == 1 and not keyless and set(parent) == {NO_KEY}:
        parts[0].label = parts[0].words = None  # no keys: one object, no parts
    return parts


def _run(parts: list[_Part], spec: SequentialSpec[Any], adapter: Adapter,
         deadline: float | None) -> None:
    """Search every part, in turns of ``CHECK_EVERY`` configurations each, until all
    are done, one is not linearizable (the others stop) or the deadline passes."""
    running: list[tuple[_Part, Any]] = []
    clock = time.perf_counter
    for part in parts:
        began = clock()
        search = searching(part.steps, spec, reach=adapter.reach)
        try:
            next(search)
        except StopIteration as done:
            part.result = done.value
            continue
        finally:
            part.seconds += clock() - began
        running.append((part, search))
    failed = next((p.label for p in parts if p.result is not None
                   and p.result.valid is False), None)
    while running:
        late = deadline is not None and time.perf_counter() > deadline
        still: list[tuple[_Part, Any]] = []
        for part, search in running:
            stop = late or failed is not None
            began = clock()
            try:
                search.send(stop)
            except StopIteration as done:
                part.seconds += clock() - began
                part.result = done.value
                if stop and not late:
                    part.stopped_by = failed
                if part.result is not None and part.result.valid is False and not stop:
                    failed = part.label if failed is None else failed
                continue
            part.seconds += clock() - began
            still.append((part, search))
        running = still


def _merge(parts: list[_Part]) -> tuple[int, ...]:
    """One linearization of the whole history from the parts' linearizations.

    Linearizability is local (Herlihy & Wing): the parts' orders together with real
    time are acyclic, and this merge is a topological order of them: it takes, each
    time, the head (next step) of a part that was invoked first. That head ``h`` may
    come next: let ``m`` be the step left with the earliest return; the head of
    ``m``'s part comes no later than ``m`` in a real-time-respecting order, so it was
    invoked before ``m`` returned, and ``h`` was invoked no later than that head. So
    no step left returned before ``h`` was invoked."""
    sequences = []
    for part in parts:
        assert part.result is not None
        sequences.append([part.steps[k] for k in part.result.order])
    heads = [(seq[0].op.call, n, 0) for n, seq in enumerate(sequences) if seq]
    heapq.heapify(heads)
    out: list[int] = []
    while heads:
        _call, n, k = heapq.heappop(heads)
        st = sequences[n][k]
        out.append(st.op.id)
        if k + 1 < len(sequences[n]):
            heapq.heappush(heads, (sequences[n][k + 1].op.call, n, k + 1))
    return tuple(out)


def _part_verdict(part: _Part, spec: SequentialSpec[Any], adapter: Adapter, model: str
                  ) -> Verdict:
    result = part.result
    assert result is not None
    ids = [st.op.id for st in part.steps]
    prefix = [ids[k] for k in result.prefix]
    stats = Stats(operations=len(part.steps), seconds=part.seconds,
                  states=result.configurations)
    if result.valid is True:
        return Verdict(True, model, CONSISTENCY, still_possible=_HOLDS,
                       witness=tuple(ids[k] for k in result.order), stats=stats)
    if result.valid is False:
        data, order = explain_failure(part.steps, result.prefix, result.blocked,
                                      result.doomed, spec, adapter, part.label,
                                      key_text=part.words)
        stuck = data["unplaceable"]
        blocked = ([stuck["op"], *(e["op"] for e in data["pending"])] if stuck is not None
                   else [ids[k] for k in result.blocked])
        anomaly = Anomaly(NOT_LINEARIZABLE, tuple(blocked), failure_text(data), data)
        return Verdict(False, model, CONSISTENCY, anomalies=(anomaly,), ruled_out=_BROKEN,
                       counterexample={"key": part.label, "prefix": [ids[k] for k in order],
                                       "blocked": blocked},
                       stats=stats)
    if part.stopped_by is not None:
        note = (f"not searched to the end: key {part.stopped_by} is already not "
                "linearizable")
    else:
        note = (f"time limit reached after {result.configurations} configurations; the "
                f"longest linearizable prefix found has {len(prefix)} operations")
    return Verdict("unknown", model, CONSISTENCY,
                   counterexample={"key": part.label, "prefix": prefix}, stats=stats,
                   notes=(note,))


def check_linearizable(history: History, spec: SequentialSpec[Any], *,
                       model: str | None = None, timeout: float | None = None,
                       split: bool = True) -> Verdict:
    """Whether ``history`` is linearizable with respect to ``spec``.

    ``model`` names the adapter that turns operations into specification steps
    (``register``, ``cas-register``, ``kv``, ``item``; default: the specification's
    model). ``timeout`` bounds the search in seconds (None: no limit); reaching it
    gives ``valid == "unknown"`` with the longest linearizable prefix found, never a
    wrong verdict. With ``split`` and a specification that declares ``keys``, each
    connected group of keys is checked alone and reported in ``parts`` (keyed by
    ``repr(key)``).

    The Verdict: ``valid`` True with a linearization in ``witness``; False with one
    ``not-linearizable`` anomaly per failing part (its ``ops``: the operation that
    cannot be placed, then the others pending that could not come next; its ``data``:
    the account of ``partial_linearization.explain_failure``, a maximal partial
    linearization with the state after each operation, the operation that cannot be
    placed and the operations that could have produced what it observed, from which
    the explanation is written) and ``counterexample`` = ``{"key", "prefix",
    "blocked"}`` of the first failing part (``prefix``: that partial linearization's
    operation ids); or ``"unknown"``. The witness is one linearization of the
    whole history (the parts' merged in real time). ``stats``: the history's
    operations, the checking time, the configurations explored.

    Raises ``ValueError`` for a function the model does not know (naming it, the model
    and the functions it knows) or an unknown model."""
    started = time.perf_counter()
    name = _model_name(spec, model)
    adapter = adapter_for(name)
    prepared = prepare(history.operations, adapter)
    steps = list(prepared.steps)
    deadline = started + timeout if timeout is not None else None
    splitting = split and spec.keys is not None
    parts = _split(steps, spec) if splitting else [_Part(None, steps)]
    was_enabled = gc.isenabled()
    gc.disable()  # the search allocates no cycles; collections would only cost time
    try:
        _run(parts, spec, adapter, deadline)
    finally:
        if was_enabled:
            gc.enable()
    seconds = time.perf_counter() - started
    verdicts = [_part_verdict(p, spec, adapter, name) for p in parts]
    valid: Validity = combine_validity(v.valid for v in verdicts)
    notes: list[str] = []
    if prepared.excluded:
        notes.append(f"{prepared.excluded} failed operations left out (they did not "
                     "take effect)")
    if prepared.dropped:
        notes.append(f"{prepared.dropped} indeterminate reads dropped (they constrain "
                     "nothing)")
    stopped = [p for p in parts if p.stopped_by is not None]
    if stopped:
        notes.append(f"{len(stopped)} other parts not searched to the end: key "
                     f"{stopped[0].stopped_by} is already not linearizable")
    timed_out = [v for p, v in zip(parts, verdicts, strict=True)
                 if v.valid == "unknown" and p.stopped_by is None]
    if timed_out:
        notes.append(timed_out[0].notes[0] if not splitting else
                     f"time limit of {timeout} s reached; {len(timed_out)} parts unknown")
    stats = Stats(operations=len(history.operations), seconds=seconds,
                  states=sum(v.stats.states for v in verdicts))
    anomalies = tuple(a for v in verdicts for a in v.anomalies)
    parts_out = {p.label: v for p, v in zip(parts, verdicts, strict=True)
                 if p.label is not None}
    if valid is True:
        witness = _merge(parts)
        return Verdict(True, name, CONSISTENCY, still_possible=_HOLDS, witness=witness,
                       stats=stats, parts=parts_out, notes=tuple(notes))
    if valid is False:
        first = next(v for v in verdicts if v.valid is False)
        return Verdict(False, name, CONSISTENCY, anomalies=anomalies, ruled_out=_BROKEN,
                       counterexample=first.counterexample, stats=stats, parts=parts_out,
                       notes=tuple(notes))
    unknown = next(v for v in verdicts if v.valid == "unknown")
    return Verdict("unknown", name, CONSISTENCY,
                   counterexample=unknown.counterexample, stats=stats, parts=parts_out,
                   notes=tuple(notes))


def brute_force_linearizable(history: History, spec: SequentialSpec[Any], *,
                             model: str | None = None) -> bool:
    """Whether ``history`` is linearizable, decided by trying every order of its
    operations that respects real time, each indeterminate operation placed anywhere
    after its invocation or left out. No splitting, no memoization, no reductions:
    a reference for cross-checking :func:`check_linearizable` on small histories.

    Raises ``ValueError`` for more than ``BRUTE_FORCE_LIMIT`` operations to place, and
    as :func:`check_linearizable` for unknown functions."""
    steps = list(prepare(history.operations, adapter_for(_model_name(spec, model))).steps)
    if len(steps) > BRUTE_FORCE_LIMIT:
        raise ValueError(f"brute force handles at most {BRUTE_FORCE_LIMIT} operations, "
                         f"got {len(steps)}")
    n = len(steps)
    inf = float("inf")
    ret = [inf if st.optional or st.op.ret is None else st.op.ret for st in steps]
    # must_precede[j]: the steps that returned before step j was invoked.
    must_precede = [{i for i in range(n) if ret[i] < steps[j].op.call} for j in range(n)]
    required = {i for i in range(n) if not steps[i].optional}

    def extend(placed: frozenset[int], state: Any) -> bool:
        if required <= placed:
            return True
        for j in range(n):
            if j in placed or not must_precede[j] <= placed:
                continue
            for nxt in spec.step(state, steps[j].input, steps[j].result):
                if extend(placed | {j}, nxt):
                    return True
        return False

    return extend(frozenset(), spec.init())
