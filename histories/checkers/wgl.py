"""The search core: Wing & Gong's linearizability search with Lowe's memoization.

Given the steps of one independent part of a history (see ``adapters.prepare``) and a
sequential specification, :func:`search` looks for a linearization: an order of the
steps that respects real time (an operation that returned before another was invoked
comes first) and that the specification allows step by step. Required steps (``ok``
operations and failed-compare observations) must all be placed; optional ones
(indeterminate operations) may be placed anywhere after their invocation, or left out.

A *configuration* is the set of steps linearized so far (a Python int used as a bitset)
and the state of the specification (interned to a small int). Bit ``i`` stands for the
``i``-th step in order of return: required steps first, earliest return first, then
the optional ones in order of invocation. From a configuration, the *candidates* are
the steps not yet linearized that were invoked before the earliest return among the
required steps not yet linearized: exactly those that may come next (Wing & Gong; what
porcupine's call/return entry list with lift/unlift computes, done here with bitsets:
the earliest pending return is the lowest unset bit, and the candidates are a
precomputed mask of the steps invoked before it, minus the linearized set). The search
is a depth-first search over configurations, each explored at most once (Lowe's cache
of (bitset, state)); when every required step is linearized, the path is a witness.
It branches on the candidate that must be placed soonest first (the lowest bit), which
finds witnesses of valid histories with little backtracking.

Reductions of the search, each of which keeps the verdict exact:

1. *Pure steps are placed greedily.* A pure step (one that can never change the state:
   a read, a cas whose compare failed) that is a candidate and is allowed in the current
   state is linearized at once, before anything else. Sound: take any linearization
   ``P y1 .. yk x z ..`` that extends the current prefix ``P`` and places ``x`` later.
   Then ``P x y1 .. yk z ..`` is one too: ``x`` is allowed after ``P`` (we checked) and
   changes nothing, so the ``y``'s see the same states; ``x`` left the state unchanged
   where it was, so ``z ..`` sees the same state as before. Real time holds: ``x`` is a
   candidate, so every step that returned before ``x`` was invoked is in ``P``, and
   moving ``x`` earlier cannot put it after a step that must follow it. So the
   configuration with ``x`` linearized succeeds whenever the one without does (the
   converse is trivial) and branching on ``x`` is useless. This is *not* sound for a
   write of the value the register already holds: placed elsewhere that write changes
   the state, so it is branched on like any other write. Configurations are cached
   after this closure.
2. *Optional steps are never placed as no-ops.* Placing an indeterminate step where it
   leaves the state unchanged gives a configuration dominated by the one without it:
   same state, same earliest pending return (optional steps have none), same required
   steps left, one more step still available. Whatever succeeds from the first
   succeeds from the second, which is explored anyway.
3. *Identical pending steps are tried once.* Among candidates with equal input, result
   and kind, only the one with the earliest return, ``y``, is branched on. Sound: take a
   linearization from here that places another one, ``x``, first, and ``y`` later (or
   never, if optional). Swapping them (or putting ``y`` in ``x``'s place) gives one too:
   they act identically; ``y`` may move earlier, being a candidate (invoked before any
   pending step returned); ``x`` may move later, since it returns no earlier than ``y``
   (a step that had to follow ``x`` had to follow ``y`` there, and a step passed over
   was invoked before ``y``, hence before ``x``, returned). Any number of equal timed-out
   writes thus costs one choice.
4. *An indeterminate write is never placed just before an overwrite.* When an optional
   *blind* step ``x`` (one that overwrites: a write, a put of a key) has just been placed
   and no pure step could follow it, the next step branched on is not a blind step with
   the same key. Sound: in a linearization ``.. x y ..`` with ``y`` overwriting ``x``,
   leaving ``x`` out gives ``.. y ..``, also a linearization (``y`` is allowed anywhere
   and leads to the same state; leaving a step out never breaks real time), and that
   one is explored from the configuration before ``x``. Such muted configurations are
   cached apart, so that the same configuration reached another way is still explored
   in full. This keeps the many timed-out writes of a Jepsen history from multiplying
   the search.
5. *Impossible observations end a branch early* (when the adapter supplies ``Reach``
   knowledge). A required step ``p`` must be placed after the current prefix, at a state
   reached through steps not yet linearized that were invoked before ``p`` returned. If
   ``p`` is unreachable in the current state (e.g. the register does not hold what a
   read saw, and no write can make a key's string shorter) and every step that could
   rescue it (a write of that value, a put) is already linearized, then no such state
   satisfies ``p`` and the configuration fails: it is dropped at once instead of when
   ``p``'s return comes, which keeps histories with long gaps between observations
   tractable. A few pending steps (the earliest to return) are checked per
   configuration; checking fewer only prunes less.
6. *Transitions are memoized* per (class of identical steps, state): the
   specification's ``step`` runs once per pair; the search itself only touches ints,
   lists and sets.

The clock is checked every few hundred configurations; past the deadline the search
stops and says so (never a wrong verdict), keeping the longest linearizable prefix.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Generator, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from replicheck.histories.checkers.adapters import Reach, Step
from replicheck.models.specs.base import SequentialSpec

CHECK_EVERY: Final = 256
"""How many configurations are explored between two looks at the clock."""

Outcome = Literal[True, False, "unknown"]
"""What a search concluded: linearizable, not, or not known in time."""


@dataclass(frozen=True)
class SearchResult:
    """What :func:`search` found. Indexes refer to the ``steps`` given.

    - ``valid``: True (``order`` is a linearization), False (none exists) or
      ``"unknown"`` (the deadline came first).
    - ``order``: the linearization (indexes of the steps placed, in order) when valid.
    - ``prefix``: the longest linearizable prefix found (in order); ``order`` when valid.
    - ``blocked``: when not valid, the required steps that could not come next after
      ``prefix``: the one that cannot be placed first. Empty when unknown or valid.
    - ``doomed``: True when ``blocked[0]`` was found impossible ahead of time: the
      state after ``prefix`` does not allow it and no step left could change that.
    - ``states``: the states the specification may be in after ``prefix`` (several
      only for a nondeterministic specification).
    - ``configurations``: how many configurations the search explored.
    """

    valid: Outcome
    order: tuple[int, ...]
    prefix: tuple[int, ...]
    blocked: tuple[int, ...]
    doomed: bool
    states: tuple[Any, ...]
    configurations: int


class SpecificationError(ValueError):
    """The specification (or adapter) broke its promise, e.g. a step declared pure
    changed the state."""


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def replay(steps: Sequence[Step], order: Sequence[int], spec: SequentialSpec[Any]
           ) -> tuple[Any, ...]:
    """The states ``spec`` may be in after the steps ``order`` (indexes into ``steps``)
    from ``init()``; empty when the order is not allowed."""
    current: list[Any] = [spec.init()]
    for k in order:
        nxt: list[Any] = []
        for state in current:
            for s2 in spec.step(state, steps[k].input, steps[k].result):
                if s2 not in nxt:
                    nxt.append(s2)
        current = nxt
    return tuple(current)


SETUP_WORK: Final = 20_000
"""How many elementary steps of the set-up (building the reachability knowledge, which
grows with the square of the steps) run between two pauses, so that a deadline also
bounds the set-up."""


def _stopped_in_setup(spec: SequentialSpec[Any]) -> SearchResult:
    """The result of a search stopped before its set-up was complete: nothing placed."""
    return SearchResult("unknown", (), (), (), False, (spec.init(),), 0)


REACH_CHECKS: int = 4
"""How many pending observations (earliest returns first) are checked per configuration
for reachability; checking fewer is sound, only less eager."""


def search(steps: Sequence[Step], spec: SequentialSpec[Any], *,
           reach: Reach | None = None, deadline: float | None = None) -> SearchResult:
    """Search for a linearization of ``steps`` under ``spec`` starting from
    ``spec.init()``; see the module docstring for what is promised.

    ``reach`` is optional pruning knowledge (it must keep its promise for the verdict
    to be exact). ``deadline`` is a ``time.perf_counter()`` value after which the
    search gives up with ``valid == "unknown"``. Raises ``SpecificationError`` when a
    step declared pure changes the state, and lets the specification's own errors
    through."""
    running = searching(steps, spec, reach=reach)
    try:
        next(running)
        while True:
            running.send(deadline is not None and time.perf_counter() > deadline)
    except StopIteration as done:
        result: SearchResult = done.value
        return result


def searching(steps: Sequence[Step], spec: SequentialSpec[Any], *,
              reach: Reach | None = None) -> Generator[None, bool, SearchResult]:
    """The search of :func:`search` as a generator that pauses every
    ``CHECK_EVERY`` configurations, and every ``SETUP_WORK`` elementary steps of its
    set-up (which grows with the square of the steps): send it True to stop (the result
    is then ``"unknown"`` with the longest prefix found so far, empty when stopped in
    the set-up), False to go on. Its return value (``StopIteration.value``) is the
    :class:`SearchResult`."""
    n = len(steps)
    inf = float("inf")

    deadlines = [inf if st.optional or st.op.ret is None else st.op.ret for st in steps]
    # Positions: required steps by earliest return, then optional ones by invocation.
    # Bit i of a configuration is the step at position i, so the earliest pending
    # return is the lowest unset bit, and branching on the lowest candidate bit first
    # tries the step that must be placed soonest.
    order = sorted(range(n), key=[(st.optional, deadlines[k], st.op.call, k)
                                  for k, st in enumerate(steps)].__getitem__)
    ordered = [steps[k] for k in order]
    call_t = [st.op.call for st in ordered]
    ret_t = [deadlines[k] for k in order]
    nreq = sum(1 for st in ordered if not st.optional)
    by_call = sorted(range(n), key=call_t.__getitem__)
    sorted_calls = [call_t[i] for i in by_call]
    invoked = [0]
    for i in by_call:
        invoked.append(invoked[-1] | (1 << i))
        if len(invoked) % 1024 == 0 and (yield):  # each mask has up to n bits: O(n^2)
            return _stopped_in_setup(spec)
    # cmask[r]: the steps invoked before the return of the required step r.
    cmask = [invoked[bisect_right(sorted_calls, ret_t[r])] for r in range(nreq)]
    cmask.append((1 << n) - 1)

    # Classes of identical steps; better[i]: same-class steps to try instead of i.
    cls = [0] * n
    members: dict[Hashable, list[int]] = {}
    for i, st in enumerate(ordered):
        inp = st.input
        key: Hashable = (inp.f, inp.key, inp.value, st.result, st.optional)
        try:
            group = members.get(key)
        except TypeError:
            key = ("unhashable", i)
            group = None
        if group is None:
            members[key] = [i]
        else:
            group.append(i)
    class_steps: list[Step] = []
    better = [0] * n
    for c, group in enumerate(members.values()):
        class_steps.append(ordered[group[0]])
        acc = 0
        for i in group:  # positions grow with the return
            cls[i] = c
            better[i] = acc
            acc |= 1 << i
    pure = optional = 0
    blind_groups: dict[Hashable, int] = {}
    for i, st in enumerate(ordered):
        if st.pure:
            pure |= 1 << i
        if st.optional:
            optional |= 1 << i
        if st.blind is not None:
            blind_groups[st.blind] = blind_groups.get(st.blind, 0) | (1 << i)
    # mute[i]: after an optional blind step i, the steps it is useless just before.
    mute = [blind_groups[st.blind] if st.optional and st.blind is not None else 0
            for st in ordered]

    # Reachability: consumers (required steps the knowledge covers) grouped by their
    # rescuers; groups_of[x]: the groups step x rescues.
    groups_of: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    exhausted0 = 0
    work = 0  # elementary steps of the set-up since the last pause
    if reach is not None:
        by_key: dict[Hashable, list[int]] = {}
        producers: list[int] = []
        for i in by_call:
            st = ordered[i]
            if not st.pure:
                rk = reach.rescue_key(st.input)
                if rk is not None:
                    producers.append(i)
                    by_key.setdefault(rk, []).append(i)
        producer_calls = {k: [call_t[x] for x in xs] for k, xs in by_key.items()}
        all_calls = [call_t[x] for x in producers]
        rescues = reach.rescues
        grouped: dict[int, int] = {}
        for p in range(nreq):
            st = ordered[p]
            if not reach.covers(st.input, st.result):
                continue
            wanted = reach.wanted_key(st.input, st.result)
            if wanted is None:
                xs, calls = producers, all_calls
            else:
                xs = by_key.get(wanted, [])
                calls = producer_calls.get(wanted, [])
            rescuers = 0
            candidates = xs[:bisect_right(calls, ret_t[p])]
            for x in candidates:
                if x != p and call_t[x] < ret_t[p] and (rescues is None or rescues(
                        ordered[x].input, ordered[x].result, st.input, st.result)):
                    rescuers |= 1 << x
            grouped[rescuers] = grouped.get(rescuers, 0) | (1 << p)
            work += len(candidates) + 1
            if work >= SETUP_WORK:
                work = 0
                if (yield):
                    return _stopped_in_setup(spec)
        for rescuers, group_mask in grouped.items():
            if rescuers == 0:
                exhausted0 |= group_mask
                continue
            entry = (rescuers, group_mask)
            members_of = _bits(rescuers)
            for x in members_of:
                groups_of[x].append(entry)
            work += len(members_of) + 1
            if work >= SETUP_WORK:
                work = 0
                if (yield):
                    return _stopped_in_setup(spec)

    step_fn = spec.step
    init = spec.init()
    states: list[Any] = [init]
    sid_of: dict[Any, int] = {init: 0}
    seen: list[set[int]] = [set()]
    seen_muted: list[set[int]] = [set()]
    pure_checked: list[int] = [0]
    pure_ok: list[int] = [0]
    reach_checked: list[int] = [0]
    reach_ok: list[int] = [0]
    trans: list[dict[int, tuple[int, ...]]] = [{} for _ in class_steps]
    reach_fn = reach.reach if reach is not None else None
    checks = REACH_CHECKS

    def transition(c: int, sid: int) -> tuple[int, ...]:
        st = class_steps[c]
        out: list[int] = []
        for state in step_fn(states[sid], st.input, st.result):
            s2 = sid_of.get(state)
            if s2 is None:
                s2 = len(states)
                sid_of[state] = s2
                states.append(state)
                seen.append(set())
                seen_muted.append(set())
                pure_checked.append(0)
                pure_ok.append(0)
                reach_checked.append(0)
                reach_ok.append(0)
            if s2 not in out:
                out.append(s2)
        got = tuple(out)
        trans[c][sid] = got
        return got

    def check_pure(mask: int, sid: int) -> int:
        """Evaluate the pure steps in ``mask`` at state ``sid``; the allowed ones."""
        ok = 0
        state = states[sid]
        known: dict[int, bool] = {}
        while mask:
            low = mask & -mask
            mask ^= low
            i = low.bit_length() - 1
            allowed = known.get(cls[i])
            if allowed is None:
                st = ordered[i]
                got = step_fn(state, st.input, st.result)
                if got and (len(got) != 1 or not (got[0] is state or got[0] == state)):
                    raise SpecificationError(
                        f"{spec.name}: {spec.describe(st.input, st.result)} is declared "
                        f"pure but changes the state {spec.describe_state(state)}"
                    )
                allowed = known[cls[i]] = bool(got)
            if allowed:
                ok |= low
        return ok

    def close(lin: int, sid: int) -> tuple[int, int]:
        """Place every allowed pure candidate (repeatedly); return the new bitset and
        the earliest pending required step (``nreq``: none left)."""
        while True:
            r = (~lin & (lin + 1)).bit_length() - 1
            if r >= nreq:
                return lin, nreq
            cand = cmask[r] & ~lin & pure
            if not cand:
                return lin, r
            unchecked = cand & ~pure_checked[sid]
            if unchecked:
                pure_ok[sid] |= check_pure(unchecked, sid)
                pure_checked[sid] |= unchecked
            ok = cand & pure_ok[sid]
            if not ok:
                return lin, r
            lin |= ok

    def doom(lin: int, exhausted: int, sid: int) -> int:
        """The bit of a pending consumer that can no longer be satisfied, or 0. Looks
        at the ``checks`` pending ones with the earliest returns."""
        pending = exhausted & ~lin
        left = checks
        done = reach_checked[sid]
        while pending and left:
            low = pending & -pending
            pending ^= low
            left -= 1
            if not done & low:
                assert reach_fn is not None
                st = ordered[low.bit_length() - 1]
                done |= low
                reach_checked[sid] = done
                if reach_fn(states[sid], st.input, st.result):
                    reach_ok[sid] |= low
                    continue
                return low
            if not reach_ok[sid] & low:
                return low
        return 0

    def path_order(placed: int, lin: int, parent: list[Any] | None) -> tuple[int, ...]:
        # Each frame adds the step placed, then the pure steps of its closure. Those
        # come in position order: among required steps, one that returned before
        # another was invoked comes first, as real time wants.
        chain: list[tuple[int, int]] = [(placed, lin)]
        while parent is not None:
            chain.append((parent[4], parent[0]))
            parent = parent[7]
        out: list[int] = []
        prev = 0
        for placed_i, lin_i in reversed(chain):
            added = lin_i & ~prev
            if placed_i >= 0:
                out.append(placed_i)
                added &= ~(1 << placed_i)
            out.extend(_bits(added))
            prev = lin_i
        return tuple(order[i] for i in out)

    configurations = 1
    lin0, r0 = close(0, 0)
    seen[0].add(lin0)
    # best: (step placed, linearized, parent frame, state, culprit bit)
    best: tuple[int, int, list[Any] | None, int, int] = (-1, lin0, None, 0, 0)
    best_count = lin0.bit_count()

    def finish(valid: Outcome) -> SearchResult:
        placed, lin, parent, sid, culprit = best
        prefix = path_order(placed, lin, parent)
        blocked: tuple[int, ...] = ()
        if valid is False:
            if culprit:
                blocked = (order[culprit.bit_length() - 1],)
            else:
                r = (~lin & (lin + 1)).bit_length() - 1
                if r < nreq:
                    rest = cmask[r] & ~lin & ~optional & ~(1 << r)
                    blocked = tuple(order[i] for i in [r, *_bits(rest)])
        after = (states[sid],) if valid is True else replay(steps, prefix, spec)
        return SearchResult(valid, prefix if valid is True else (), prefix, blocked,
                            bool(culprit) and valid is False, after, configurations)

    if r0 == nreq:
        return finish(True)
    culprit0 = doom(lin0, exhausted0, 0) if exhausted0 else 0
    if culprit0:
        best = (-1, lin0, None, 0, culprit0)
        return finish(False)
    cand0 = cmask[r0] & ~lin0
    # Frames: [linearized, state, branches left, candidates, step placed, more
    #          (step, state) children of a nondeterministic step, exhausted
    #          consumers, parent frame].
    stack: list[list[Any]] = [[lin0, 0, cand0 & ~pure, cand0, -1, None, exhausted0, None]]
    next_check = CHECK_EVERY

    while stack:
        frame = stack[-1]
        extra = frame[5]
        sid = frame[1]
        if extra:
            i, s2 = extra.pop()
        else:
            rem = frame[2]
            if not rem:
                stack.pop()
                continue
            low = rem & -rem
            frame[2] = rem ^ low
            i = low.bit_length() - 1
            if better[i] & frame[3]:
                continue
            c = cls[i]
            nexts = trans[c].get(sid)
            if nexts is None:
                nexts = transition(c, sid)
            if not nexts:
                continue
            if len(nexts) > 1:
                frame[5] = [(i, s) for s in nexts[1:]]
            s2 = nexts[0]
        if s2 == sid and (optional >> i) & 1:
            continue
        lin = frame[0] | (1 << i)
        cache = seen[s2]
        if lin in cache:
            continue
        muted = mute[i]
        if muted and lin in seen_muted[s2]:
            continue
        r2 = (~lin & (lin + 1)).bit_length() - 1
        if r2 >= nreq:
            r2 = nreq
        elif cmask[r2] & ~lin & pure:
            lin2, r2 = close(lin, s2)
            if lin2 != lin:
                cache.add(lin)
                if lin2 in cache:
                    continue
                lin = lin2
                muted = 0
        if muted:
            seen_muted[s2].add(lin)
        else:
            cache.add(lin)
        configurations += 1
        if r2 == nreq:
            best = (i, lin, frame, s2, 0)
            return finish(True)
        exhausted = frame[6]
        for rescuers, group_mask in groups_of[i]:
            if not rescuers & ~lin:
                exhausted |= group_mask
        culprit = doom(lin, exhausted, s2) if exhausted & ~lin else 0
        count = lin.bit_count()
        if count > best_count:
            best_count = count
            best = (i, lin, frame, s2, culprit)
        if configurations == next_check:
            if (yield):
                return finish("unknown")
            next_check += CHECK_EVERY
        if culprit:
            continue
        cand = cmask[r2] & ~lin
        stack.append([lin, s2, cand & ~pure & ~muted, cand, i, None, exhausted, frame])
    return finish(False)
