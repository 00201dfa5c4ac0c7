"""Why a part of a history is not linearizable, as data: what porcupine shows, and more.

When the search (``wgl.py``) finds no linearization of a part, :func:`explain_failure`
turns its result into a JSON-serialisable account, kept in the ``not-linearizable``
anomaly's ``data``, and :func:`failure_text` writes the explanation from that account
alone. The account (operation ids are the history operations' own ids):

``key``
    the part's key (``repr``, as in ``Verdict.parts``), null for a history without
    keys; ``key_text`` how the explanation names it.
``prefix``
    a *maximal partial linearization*: the longest linearizable prefix the search
    reached, extended one operation at a time while any operation can come next. A
    list of ``{"op", "operation", "process", "client", "state"}``: each operation in
    order, in the specification's words, its process and who that is in words, and
    the state after it (one description, or "one of ..." for a nondeterministic
    specification). ``prefix_length`` is its length; ``initial_state`` the state
    before it.
``unplaceable``
    ``{"op", "operation", "process", "client", "state", "doomed"}``: the operation
    that cannot be placed after the prefix, with the state the prefix leaves (as the
    model's adapter phrases it). ``doomed`` true: the state does not allow it and
    nothing left can change that before it returns (the search's reachability
    knowledge); false: it is the pending operation that must return first, and no
    operation at all can come next.
``pending``
    the other operations that must take effect and could come next in real time, none
    of which the model allows there: ``{"op", "operation", "process", "client"}``.
``explaining_writes``
    when the model knows what could produce what the unplaceable operation observed
    (registers: writes of the value read and cas to it; kv: puts of a prefix of the
    string read): each such operation, ``{"op", "operation", "process", "client",
    "reason", ...}``, with why it did not explain the observation. ``reason`` is one of
    ``began-after`` (it was invoked after the observation returned: ``at``, its
    invocation record, and ``ended``, the observation's completion record),
    ``overwritten`` (it returned before ``by`` was invoked, and ``by``, which took
    effect and installs a value of the same key that cannot explain the observation,
    returned before the observation was invoked; ``by_operation`` says what ``by``
    did), ``in-prefix`` (it is step ``position`` (1-based) of the prefix;
    ``changed_by`` is the first later prefix operation after which the state differs,
    or null), ``must-follow`` (it cannot come before ``after``, an operation left out
    of the prefix that returned before it was invoked) or ``refused`` (the model does
    not allow it after the prefix). Absent when the model has no such knowledge.

Promises (``tests/histories/test_partial_linearization.py`` checks them on random
histories against an independent oracle): the prefix replays through the sequential
model (each operation's observation allowed) and respects real time (an operation
that returned before another was invoked comes first, and is in the prefix when the
other is); no operation the checker places (every one except plain failures and
indeterminate reads) can extend it; the unplaceable operation must take effect, is
not in the prefix, and the model does not allow it after the prefix.

The extension runs once, after the search failed, over the operations that may come
next: it costs nothing while searching.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from replicheck.histories.checkers.adapters import Adapter, Reach, Step
from replicheck.histories.history import Operation
from replicheck.models.specs.base import SequentialSpec

__all__ = ["client_label", "explain_failure", "extend_prefix", "failure_text", "reason_text"]

SHOWN_PENDING: Final = 5
"""How many other pending operations the explanation text names."""
SHOWN_PREFIX: Final = 10
"""How many of the prefix's last operations the explanation text shows (the data and
the reports' numbered lists have them all)."""
SHOWN_WRITES: Final = 5
"""How many operations that could have explained it the explanation text names (the
data lists them all)."""


def _after(spec: SequentialSpec[Any], states: Sequence[Any], st: Step) -> tuple[Any, ...]:
    out: list[Any] = []
    for state in states:
        for nxt in spec.step(state, st.input, st.result):
            if nxt not in out:
                out.append(nxt)
    return tuple(out)


def _ret(st: Step) -> float:
    return float("inf") if st.optional or st.op.ret is None else st.op.ret


def extend_prefix(steps: Sequence[Step], spec: SequentialSpec[Any], prefix: Sequence[int],
                  *, avoid: int | None = None
                  ) -> tuple[tuple[int, ...], tuple[tuple[Any, ...], ...], tuple[int, ...]]:
    """``prefix`` (indexes into ``steps``, a linearizable prefix respecting real time)
    extended greedily while some step may come next: one invoked before the earliest
    return among the required steps left, allowed by ``spec`` in the current states
    (required steps first, earliest return first; never ``avoid``).

    Returns the extended order, the states after each of its steps, and the required
    steps that could come next in real time at the end (earliest return first), none of
    which ``spec`` allows there."""
    current: tuple[Any, ...] = (spec.init(),)
    after: list[tuple[Any, ...]] = []
    for k in prefix:
        current = _after(spec, current, steps[k])
        after.append(current)
    order = list(prefix)
    placed = set(prefix)
    left = [(_ret(steps[k]), k) for k in range(len(steps))
            if k not in placed and not steps[k].optional]
    heapq.heapify(left)
    by_call = sorted((k for k in range(len(steps)) if k not in placed),
                     key=lambda k: steps[k].op.call)
    window: list[int] = []
    taken = 0
    while True:
        while left and left[0][1] in placed:
            heapq.heappop(left)
        bound = left[0][0] if left else float("inf")
        while taken < len(by_call) and steps[by_call[taken]].op.call < bound:
            window.append(by_call[taken])
            taken += 1
        window.sort(key=lambda k: (steps[k].optional, _ret(steps[k]), steps[k].op.call))
        for k in window:
            if k == avoid:
                continue
            nxt = _after(spec, current, steps[k])
            if nxt:
                window.remove(k)
                placed.add(k)
                order.append(k)
                after.append(nxt)
                current = nxt
                break
        else:
            stuck = tuple(k for k in window if not steps[k].optional)
            return tuple(order), tuple(after), stuck


def _process(st: Step) -> Any:
    p = st.op.process
    return p if isinstance(p, int | str) and not isinstance(p, bool) else repr(p)


def client_label(op: Operation) -> str:
    """Who invoked ``op``, as the explanation names it (``c1``, ``c1/2``; ``process
    3`` in a history that names no clients)."""
    from replicheck.histories.wording import process_label

    return process_label(op)


class _Words:
    """The specification's words for steps and states, each asked once per account
    (histories repeat their operations and states)."""

    def __init__(self, spec: SequentialSpec[Any]) -> None:
        self.spec = spec
        self._ops: dict[Any, str] = {}
        self._states: dict[Any, str] = {}

    def operation(self, st: Step) -> str:
        try:
            known = self._ops.get((st.input, st.result))
        except TypeError:  # an unhashable request: described each time
            return self.spec.describe(st.input, st.result)
        if known is None:
            known = self._ops[(st.input, st.result)] = self.spec.describe(st.input, st.result)
        return known

    def state(self, state: Any) -> str:
        try:
            known = self._states.get(state)
        except TypeError:
            return self.spec.describe_state(state)
        if known is None:
            known = self._states[state] = self.spec.describe_state(state)
        return known

    def states(self, states: Sequence[Any]) -> str:
        if len(states) == 1:
            return self.state(states[0])
        if not states:
            return "no state"
        return "one of " + ", ".join(self.state(s) for s in states)

    def op_data(self, st: Step) -> dict[str, Any]:
        return {"op": st.op.id, "operation": self.operation(st),
                "process": _process(st), "client": client_label(st.op)}


def _rescuers_of(reach: Reach, u: Step) -> Callable[[Step], bool]:
    """Whether a step could produce what ``u`` observed (``reach``'s rescuers)."""
    wanted = reach.wanted_key(u.input, u.result)
    rescues = reach.rescues

    def rescuer(x: Step) -> bool:
        if x.pure or x is u:
            return False
        key = reach.rescue_key(x.input)
        if key is None or (wanted is not None and key != wanted):
            return False
        return rescues is None or rescues(x.input, x.result, u.input, u.result)

    return rescuer


def _explaining_writes(steps: Sequence[Step], u: int, reach: Reach, order: Sequence[int],
                       after: Sequence[tuple[Any, ...]], spec: SequentialSpec[Any],
                       words: _Words) -> list[dict[str, Any]]:
    """Each step that could have produced what step ``u`` observed, earliest invocation
    first, with why it did not (see the module docstring)."""
    obs = steps[u]
    assert obs.op.ret is not None  # an unplaceable step is required: it returned
    final = after[-1] if after else (spec.init(),)
    rescuer = _rescuers_of(reach, obs)
    rescuers = sorted((k for k in range(len(steps)) if rescuer(steps[k])),
                      key=lambda k: steps[k].op.call)
    chosen = set(rescuers)
    overwriters = [w for k, w in enumerate(steps)
                   if k not in chosen and k != u and w.op.ret is not None and not w.optional
                   and not w.pure and w.op.ret < obs.op.call
                   and w.input.key == obs.input.key and reach.rescue_key(w.input) is not None]
    position = {k: i for i, k in enumerate(order)}
    placed = set(order)
    left = [j for j in range(len(steps)) if j not in placed and not steps[j].optional]
    first_left = min(left, key=lambda j: _ret(steps[j])) if left else None
    out = []
    for k in rescuers:
        x = steps[k]
        entry = words.op_data(x)
        x_ret = x.op.ret
        by = (next((w for w in overwriters if x_ret < w.op.call), None)
              if x_ret is not None and not x.optional else None)
        if x.op.call > obs.op.ret:
            entry.update(reason="began-after", at=x.op.call, ended=obs.op.ret)
        elif by is not None:
            entry.update(reason="overwritten", by=by.op.id, by_operation=words.operation(by))
        elif k in position:
            at = position[k]
            changed = next((steps[order[j]].op.id for j in range(at + 1, len(order))
                            if after[j] != after[at]), None)
            entry.update(reason="in-prefix", position=at + 1, changed_by=changed)
        elif first_left is not None and _ret(steps[first_left]) < x.op.call:
            entry.update(reason="must-follow", after=steps[first_left].op.id)
        elif not _after(spec, final, x):
            entry.update(reason="refused")
        else:
            entry.update(reason="placeable")  # never, for a maximal prefix; kept honest
        out.append(entry)
    return out


def explain_failure(steps: Sequence[Step], prefix: Sequence[int], blocked: Sequence[int],
                    doomed: bool, spec: SequentialSpec[Any], adapter: Adapter,
                    key: str | None, *, key_text: str | None = None
                    ) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The account of a failed search (see the module docstring) from its longest
    prefix, its blocked steps (``blocked[0]`` the doomed one when ``doomed``) and the
    part's ``steps`` (``key_text``: how to name the key, default ``key``); also the
    order of the maximal prefix (indexes into ``steps``)."""
    culprit = blocked[0] if doomed and blocked else None
    order, after, stuck = extend_prefix(steps, spec, prefix, avoid=culprit)
    final = after[-1] if after else (spec.init(),)
    u = culprit if culprit is not None else (stuck[0] if stuck else None)
    words = _Words(spec)
    prefix_data = [{**words.op_data(steps[k]), "state": words.states(states)}
                   for k, states in zip(order, after, strict=True)]
    data: dict[str, Any] = {
        "key": key,
        "key_text": key_text if key_text is not None else key,
        "prefix_length": len(order),
        "initial_state": words.state(spec.init()),
        "prefix": prefix_data,
    }
    if u is None:  # nothing must come next, yet the search failed: never for a sound search
        data["unplaceable"] = None
        data["pending"] = []
        return data, order
    obs = steps[u]
    state = (adapter.phrase(spec, final[0], obs.input) if len(final) == 1
             else f"the state is {words.states(final)}")
    data["unplaceable"] = {**words.op_data(obs), "state": state,
                           "doomed": culprit is not None}
    data["pending"] = [words.op_data(steps[k]) for k in stuck if k != u]
    reach = adapter.reach
    if reach is not None and reach.covers(obs.input, obs.result):
        data["explaining_writes"] = _explaining_writes(steps, u, reach, order, after, spec,
                                                       words)
    return data, order


def _named(entry: dict[str, Any]) -> str:
    return f"op {entry['op']} ({entry['operation']} by {entry['client']})"


def reason_text(entry: Mapping[str, Any], u: Mapping[str, Any]) -> str:
    """Why an operation that could have explained the unplaceable one ``u`` did not,
    in words, from its ``explaining_writes`` entry."""
    reason = entry["reason"]
    if reason == "began-after":
        return (f"it began (record {entry['at']}) after op {u['op']} ended "
                f"(record {entry['ended']})")
    if reason == "overwritten":
        return (f"it ended before op {entry['by']} ({entry['by_operation']}) began, "
                f"which ended before op {u['op']} began")
    if reason == "in-prefix":
        changed = entry["changed_by"]
        tail = f", and op {changed} changed the state after it" if changed is not None else ""
        return f"it is step {entry['position']} of the prefix{tail}"
    if reason == "must-follow":
        return (f"it must follow op {entry['after']}, which ended before it began and is "
                "not in the prefix")
    if reason == "refused":
        return "the model does not allow it after the prefix"
    return "it could come next after the prefix"


def failure_text(data: dict[str, Any]) -> str:
    """The explanation of a ``not-linearizable`` anomaly, written from its account
    (:func:`explain_failure`) alone."""
    key = data.get("key_text", data.get("key"))
    where = f"On key {key}, no" if key is not None else "No"
    prefix = data["prefix"]
    count = len(prefix)
    head = (f"{where} order of the operations is allowed: after linearizing {count} "
            f"operation{'' if count == 1 else 's'} (a longest linearizable prefix")
    if prefix:
        first = max(0, count - SHOWN_PREFIX)
        head += ": " + ("" if not first else f"steps 1 to {first} left out here; ")
        head += "; ".join(
            f"{n}. op {e['op']} {e['operation']} by {e['client']} → {e['state']}"
            for n, e in enumerate(prefix[first:], first + 1))
    head += "), "
    u = data.get("unplaceable")
    if u is None:
        return head + "no operation can be placed next."
    text = (f"{head}op {u['op']} {u['operation']} by {u['client']} cannot be "
            f"placed: {u['state']} there")
    if u["doomed"]:
        text += ", and no operation left can make it possible before it returns"
    others = data.get("pending", [])
    if others:
        shown = "; ".join(_named(e) for e in others[:SHOWN_PENDING])
        more = f" and {len(others) - SHOWN_PENDING} more" if len(others) > SHOWN_PENDING else ""
        text += f"; no other operation pending there can be placed either ({shown}{more})"
    text += "."
    writes = data.get("explaining_writes")
    if writes is not None:
        if not writes:
            text += " No operation of the history could have produced what it observed."
        else:
            more = (f"; and {len(writes) - SHOWN_WRITES} more"
                    if len(writes) > SHOWN_WRITES else "")
            text += " Operations that could have produced what it observed: " + "; ".join(
                f"{_named(e)}: {reason_text(e, u)}" for e in writes[:SHOWN_WRITES]) + more + "."
    return text
