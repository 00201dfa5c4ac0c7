"""A second, simpler oracle for the serial models: replay serial orders.

A history is serializable when some set of the ``info`` transactions, taken as
committed with the ``ok`` ones, runs one transaction at a time in some order so that
every ``ok`` transaction reads exactly what it read (rw-register: the last value
written, nil at first; list-append: the list of values appended so far).
strict-serializable additionally orders an ``ok`` transaction before every
transaction invoked after it completed; strong-session-serializable does so within
each process. This is the textbook meaning, written without dependency graphs, to
audit :mod:`tests.oracles.transactional` (which decides the same three models from
Adya's graphs).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from typing import Any

from replicheck.histories.history import History
from replicheck.models.equality import same_value

from .transactional import SER, SS, Txn, parse


def _must_precede(a: Txn, b: Txn, model: str) -> bool:
    if model == SER or not a.ok or a.ret is None or a.ret >= b.call:
        return False
    return model == SS or a.process == b.process


def _run(t: Txn, state: dict[Hashable, Any], appending: bool) -> bool:
    """Run ``t`` on ``state`` (in place); False when an ``ok`` read disagrees."""
    for f, k, v in t.mops:
        if f == "r":
            current = state.get(k, [] if appending else None)
            if t.ok and not same_value(current, v):
                return False
        elif appending:
            state[k] = [*state.get(k, []), v]
        else:
            state[k] = v
    return True


def serial_valid(history: History, workload: str, model: str) -> bool:
    """``history`` is valid under ``model`` (serializable, strong-session-serializable
    or strict-serializable) by replaying serial orders."""
    txns = parse(history, workload)
    appending = workload == "list-append"
    ok = [t for t in txns if t.ok]
    info = [t for t in txns if t.status not in ("ok", "fail")]

    def extend(done: list[Txn], left: list[Txn], state: dict[Hashable, Any]) -> bool:
        if not left:
            return True
        for t in left:
            if any(_must_precede(u, t, model) for u in left if u is not t):
                continue
            after = {k: list(v) if appending else v for k, v in state.items()}
            if _run(t, after, appending) and extend(
                    [*done, t], [u for u in left if u is not t], after):
                return True
        return False

    for size in range(len(info) + 1):
        for chosen in itertools.combinations(info, size):
            if extend([], [*ok, *chosen], {}):
                return True
    return False
