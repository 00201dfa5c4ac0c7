"""Keys chosen for the store's layout: one range, sibling ranges, one partition, across.

The workload's key pool (:data:`~replicheck.properties.strategies.KEYS`) is three
keys, wherever the store happens to place them. The bugs of a range-partitioned store
live at the seams of its layout: several keys in one Merkle range (one tree, one
bucket exchange), keys in neighbouring ranges (a sync covering one but not the
other), keys on one partition (one log, one-shot transactions) and keys across
partitions (two-phase commit). :func:`layout_groups` sorts a larger candidate pool
(:data:`LAYOUT_KEYS`) by the layout the store declares through
:class:`~replicheck.implementation.store.Topology` (``key_ranges``, ``range_of``) and
:class:`~replicheck.implementation.store.Leadership` (``partition_of``); the
``layout-keys`` rule writes the keys of one group (one put each, the puts at once
from several clients, or one transaction), optionally runs an anti-entropy session
between two replicas of the group's range, and reads every key back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from replicheck.models.items.requests import Get, Put, TransactWrite
from replicheck.properties import strategies
from replicheck.properties.driving import CLIENTS, heal_dropping
from replicheck.properties.mechanisms import sync_session
from replicheck.properties.search.driver import Driver, Surface

__all__ = [
    "CLASSES",
    "GROUP_SIZE",
    "KINDS",
    "LAYOUT_KEYS",
    "LAYOUT_KEYS_CLASS",
    "WRITES",
    "LayoutGroups",
    "layout_groups",
    "layout_rules",
]

LAYOUT_KEYS_CLASS: Final = "layout-keys"
CLASSES: Final[tuple[str, ...]] = (LAYOUT_KEYS_CLASS,)
"""The rule classes of this module."""

LAYOUT_KEYS: Final[tuple[str, ...]] = tuple(f"k{i}" for i in range(48))
"""The candidate pool the groups are drawn from: ``k0`` to ``k47`` (a superset of the
workload's pool, large enough that a ring of some forty ranges holds several keys in
one range more than once)."""

GROUP_SIZE: Final = 3
"""The most keys of one group."""

KINDS: Final[tuple[str, ...]] = ("one-range", "sibling-ranges", "one-partition",
                                 "across-partitions")
"""The kinds of group: keys of one range, keys of two neighbouring ranges (next to
each other in the store's range order), keys of one partition (one ``partition_of``
for a store with leaders, else one replica set), and keys of distinct partitions."""

WRITES: Final[tuple[str, ...]] = ("puts", "concurrent", "transaction")
"""How the rule writes a group: one put after another, one put per key from as many
clients at once, or one transaction (stores with transactions)."""


@dataclass(frozen=True)
class LayoutGroups:
    """The candidate keys grouped by the store's layout: for each kind of
    :data:`KINDS`, the groups (each a tuple of keys, in pool order), and the range of
    every candidate key."""

    one_range: tuple[tuple[str, ...], ...] = ()
    sibling_ranges: tuple[tuple[str, ...], ...] = ()
    one_partition: tuple[tuple[str, ...], ...] = ()
    across_partitions: tuple[tuple[str, ...], ...] = ()
    ranges: Mapping[str, str] | None = None

    def of(self, kind: str) -> tuple[tuple[str, ...], ...]:
        """The groups of ``kind`` (one of :data:`KINDS`)."""
        return {"one-range": self.one_range, "sibling-ranges": self.sibling_ranges,
                "one-partition": self.one_partition,
                "across-partitions": self.across_partitions}[kind]


def _by(keys: tuple[str, ...], home: Mapping[str, Any]) -> dict[Any, tuple[str, ...]]:
    """``keys`` grouped by ``home[key]``, in first-seen order, keys in pool order."""
    groups: dict[Any, tuple[str, ...]] = {}
    for key in keys:
        groups[home[key]] = (*groups.get(home[key], ()), key)
    return groups


def layout_groups(surface: Surface, store: Any, pool: tuple[str, ...] = LAYOUT_KEYS
                  ) -> LayoutGroups:
    """The keys of ``pool`` grouped by the layout ``store`` declares for
    ``surface.table`` (:class:`LayoutGroups`; empty for a store without
    :class:`~replicheck.implementation.store.Topology`). Groups hold at most
    :data:`GROUP_SIZE` keys, at least two (a sibling group: the first key of each of two
    ranges next to each other in ``key_ranges`` order, then a second key of either). A key's
    partition is its ``partition_of`` where the store has leaders, else the set of
    replicas of its range; the ``i``-th group across partitions takes the ``i``-th
    key of each partition that has one. Reads the layout only (no request, no schedule step)."""
    if not surface.topology:
        return LayoutGroups()
    table, pk = surface.table, surface.pk
    ranges = {key: str(store.range_of(table, (key,))) for key in pool}
    layout = tuple(store.key_ranges(table))
    in_range = _by(pool, ranges)
    if surface.leaders:
        partition: dict[str, Any] = {k: store.partition_of(table, {pk: k}) for k in pool}
    else:
        replicas = {r.name: frozenset(r.replicas) for r in layout}
        partition = {k: replicas.get(ranges[k], frozenset()) for k in pool}
    on_partition = _by(pool, partition)
    siblings = []
    for before, after in pairwise(layout):
        first, second = in_range.get(before.name, ()), in_range.get(after.name, ())
        if first and second:
            siblings.append((first[0], second[0], *first[1:2], *second[1:2])[:GROUP_SIZE])
    across = []
    for i in range(max((len(keys) for keys in on_partition.values()), default=0)):
        picked = tuple(keys[i] for keys in on_partition.values() if len(keys) > i)
        if len(picked) > 1:
            across.append(picked[:GROUP_SIZE])
    return LayoutGroups(
        one_range=tuple(keys[:GROUP_SIZE] for keys in in_range.values() if len(keys) > 1),
        sibling_ranges=tuple(siblings),
        one_partition=tuple(keys[:GROUP_SIZE] for keys in on_partition.values()
                            if len(keys) > 1),
        across_partitions=tuple(across),
        ranges=ranges)


_CACHE: Final = "_layout_groups"


def groups_of(driver: Driver) -> LayoutGroups:
    """The layout groups of the machine's store, computed the first time a rule asks
    (the layout of a store is fixed once built) and kept on the machine."""
    held = vars(driver).get(_CACHE)
    if not isinstance(held, LayoutGroups):
        held = layout_groups(driver.surface, driver.raw)
        vars(driver)[_CACHE] = held
    return held


def _fair_until_done(driver: Driver, handles: list[Any], steps: int = 500) -> None:
    for _ in range(steps):
        if all(h.done for h in handles) or driver.fair(1) == 0:
            return


def _range_replicas(driver: Driver, key: str) -> tuple[str, ...]:
    """The replicas of the range holding ``key``, in the store's order."""
    table = driver.surface.table
    name = driver.raw.range_of(table, (key,))
    return next((tuple(r.replicas) for r in driver.raw.key_ranges(table) if r.name == name),
                ())


def _sync_range(driver: Driver, key: str, first: str | None = None) -> bool:
    """One anti-entropy session between two live, mutually reachable replicas of the
    range holding ``key`` (``first`` one of them, when given and live), every message
    in flight delivered first where the store settles, recorded as an
    ``anti-entropy`` observation; whether it ran."""
    surface = driver.surface
    live = [n for n in _range_replicas(driver, key)
            if n not in driver.crashed and n not in driver.paused]
    if first in live:
        live = [first] + [n for n in live if n != first]
    pair = next(((a, b) for i, a in enumerate(live) for b in live[i + 1:]
                 if not surface.messages or driver.raw.reachable(a, b)), None)
    if pair is None:
        return False
    if surface.settling:
        driver.raw.quiesce()
    driver.rec.collect()
    driver.rec.observe("anti-entropy", sync_session(driver.raw, surface.table, *pair))
    driver.rec.collect()
    return True


def _cut_off(driver: Driver, key: str) -> str | None:
    """Cut the last replica of the range holding ``key`` off from every other node
    (so that writes to the range leave it behind); the node, or None when none."""
    replicas = _range_replicas(driver, key)
    if not replicas:
        return None
    node = replicas[-1]
    driver.raw.partition([[node], [n for n in driver.surface.nodes if n != node]])
    return node


def _write_group(driver: Driver, client: str, keys: tuple[str, ...], values: list[str],
                 write: str, wanted: str) -> bool:
    """Write ``keys`` with ``values`` as ``write`` (one of :data:`WRITES`) says;
    False when a request the rule waits for did not complete."""
    table, pk = driver.surface.table, driver.surface.pk
    puts = [Put(table, {pk: key, "v": value}) for key, value in zip(keys, values, strict=False)]
    if write == "transaction":
        return bool(driver.run_request(client, TransactWrite(tuple(puts))).done)
    if write == "concurrent":
        handles = []
        for put in puts:
            sender = driver.idle(wanted)
            if sender is None:
                break
            driver.handles[sender] = driver.rec.submit(sender, put)
            handles.append(driver.handles[sender])
        _fair_until_done(driver, handles)
        return True
    return all(driver.run_request(client, put).done for put in puts)


def layout_rules(surface: Surface) -> type:
    """The ``layout-keys`` rule for a store with ``surface`` (a mixin of a scheduled
    machine offering the :class:`~replicheck.properties.search.driver.Driver`
    surface): enabled where the store declares its topology."""
    table, pk = surface.table, surface.pk
    writes = tuple(w for w in WRITES if w != "transaction" or surface.transactions)

    class LayoutRules:
        """Keys chosen for the store's layout, written together and read back."""

        @precondition(lambda self: surface.topology and self.swarm_on(LAYOUT_KEYS_CLASS))
        @rule(kind=st.sampled_from(KINDS), index=st.integers(0, 63),
              values=st.lists(strategies.unique_values(), min_size=GROUP_SIZE + 1,
                              max_size=GROUP_SIZE + 1),
              write=st.sampled_from(writes), sync=st.booleans(), diverge=st.booleans(),
              wanted=st.sampled_from(CLIENTS))
        def layout_keys(self: Driver, kind: str, index: int, values: list[str], write: str,
                        sync: bool, diverge: bool, wanted: str) -> None:
            """Write every key of one group of ``kind`` (the ``index``-th, round the
            end) with fresh values (:data:`WRITES`), while one replica of the group's
            first range is cut off when ``diverge`` (stores with faults; healed after
            the writes, the messages it kept back lost), then, where the store has
            anti-entropy and ``sync``, one session between two replicas of that range
            (the one cut off first), then read every key back (strongly consistent
            where offered)."""
            groups = groups_of(self).of(kind)
            client = self.idle(wanted)
            if not groups or client is None:
                return
            keys = groups[index % len(groups)]
            behind = _cut_off(self, keys[0]) if diverge and surface.faults else None
            try:
                done = _write_group(self, client, keys, values, write, wanted)
            finally:
                if behind is not None:
                    heal_dropping(self.raw, self.rec)
            if not done:
                return
            self.mark(LAYOUT_KEYS_CLASS)
            if sync and surface.anti_entropy:
                _sync_range(self, keys[0], behind)
            reader = self.idle(wanted)
            if reader is None:
                return
            for key in keys:
                if not self.run_request(reader, Get(table, {pk: key},
                                                    consistent=surface.strong)).done:
                    return

    return LayoutRules
