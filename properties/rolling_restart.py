"""A rolling restart after a long log: the store comes to rest again.

The workload of an example writes a few dozen entries, so code that only matters
once a log is long (a replication batch past its first, shipping resumed by a new
leader from an old cursor, indexes past the small integers an interpreter shares)
never runs. A rolling restart (every node in turn crashes and comes back, as an
upgrade does) is the most common operation on a real cluster, and it changes every
leader.

:func:`rolling_restart_probe` runs on a copy of the store
(:class:`~replicheck.implementation.store.Forkable`) in the examples whose epilogues
run (:data:`~replicheck.properties.concurrency.EPILOGUE_EVERY`), after the teardown:

1. :data:`LONG_LOG` puts of one key (:data:`KEY`, none of the workload's), each to
   its answer, through the store's routing;
2. every node in turn crashes, the store runs for its declared ``failover`` window
   (:data:`FALLBACK_SECONDS` without one), and the node restarts;
3. one more put of the key, then ``settle()``.

A store that then says it did not come to rest (``settle()`` answers False) breaks the
``settling`` capability (:class:`~replicheck.properties.recording.DidNotSettle`), as
at the end of every example: shipping that never resumes after a leader change, a
quiet check that fails past some index. The probe runs only on a store whose
``settle()`` says whether it came to rest and whose copy comes to rest before the
probe (it answers True on the copy first).
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from replicheck.implementation.store import (
    FaultInjectable,
    Forkable,
    Settling,
    TimeControl,
    Topology,
)
from replicheck.models.items.errors import StoreError
from replicheck.models.items.requests import Put

__all__ = ["FALLBACK_SECONDS", "KEY", "LONG_LOG", "can_roll", "rolling_restart_probe"]

LONG_LOG: Final = 300
"""The puts written before the restart: past a 64-entry shipping batch several times
and past 256 (CPython's shared small integers)."""

KEY: Final = "rolled"
"""The key the probe writes (none of the workload's keys)."""

FALLBACK_SECONDS: Final = 3.0
"""How long a crashed node stays down on a store that declares no failover window."""


def can_roll(store: Any) -> bool:
    """Whether the probe can run on ``store``: forkable, settling, with faults, time
    control and nodes."""
    return (isinstance(store, Forkable) and isinstance(store, Settling)
            and isinstance(store, FaultInjectable) and isinstance(store, TimeControl)
            and isinstance(store, Topology))


def rolling_restart_probe(store: Any, table: str, pk: str) -> str | None:
    """Steps 1 to 3 of the module docstring on a copy of ``store`` (left as it was):
    None when the copy came to rest (or its store does not say), else what happened,
    in words."""
    if not can_roll(store):
        return None
    twin = store.fork()
    if twin.settle() is not True:
        return None  # its settle() does not say, or the copy was not at rest already
    for i in range(LONG_LOG):
        _put(twin, Put(table, {pk: KEY, "v": f"rolled-{i}"}))
    failover = store.descriptor.windows.failover
    down = float(failover) if failover is not None else FALLBACK_SECONDS
    for node in tuple(twin.nodes):
        twin.crash(node)
        twin.run_for(down)
        twin.restart(node)
    _put(twin, Put(table, {pk: KEY, "v": "rolled-last"}))
    if twin.settle() is False:
        return (f"after {LONG_LOG} puts of one key and a rolling restart (every node in "
                f"turn down for {down:g} s), then one more put, settle() answered False: "
                "the store did not come to rest")
    return None


def _put(twin: Any, put: Put) -> None:
    """Run ``put`` to its answer; a refusal or a timeout is an answer too (the probe
    judges only whether the store comes to rest)."""
    with contextlib.suppress(StoreError):
        twin.execute(put)
