"""Properties of the leaderless store over random schedules: convergence after heal
and anti-entropy, Merkle roots equal exactly when contents are, no acknowledged write
lost, hints delivered, and determinism (also across processes)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from replicheck.implementation.reference.leaderless import (
    LeaderlessStore,
    dynamo_lww,
    dynamo_quorum,
)
from replicheck.implementation.reference.sim import Deliver, Drop, Duplicate, Fire
from replicheck.implementation.store import Delete, Get, Handle, Put, Update
from replicheck.models.dvv import DVVSet
from replicheck.models.items.requests import Request
from replicheck.models.lww import Stamped

T = "items"
KEYS = ("k0", "k1", "k2", "k3")
PRESETS: dict[str, Callable[[], LeaderlessStore]] = {"lww": dynamo_lww, "quorum": dynamo_quorum}


def request_for(kind: str, key: str, value: int) -> Request:
    if kind == "put":
        return Put(T, {"pk": key, "v": value})
    if kind == "update":
        return Update(T, {"pk": key}, "SET v = if_not_exists(v, :z) + :d",
                      values={":z": 0, ":d": value})
    if kind == "cas":
        return Put(T, {"pk": key, "v": value}, condition="attribute_not_exists(v) OR v < :v",
                   values={":v": value})
    if kind == "delete":
        return Delete(T, {"pk": key})
    return Get(T, {"pk": key})


def range_states(store: LeaderlessStore, node: str, name: str) -> dict[Any, Any]:
    return {k: s for k, s in store.replica_states(node, T).items()
            if store.ring.partition_of(k).name == name}


def check_roots_iff_equal(store: LeaderlessStore) -> int:
    """Check that two replicas of a range report equal roots exactly when they hold
    equal states for it; returns how many (range, pair) disagreed."""
    roots = {n: store.merkle_roots(n, T) for n in store.nodes}
    differing = 0
    for part in store.ring.partitions:
        replicas = store.ring.replicas_of(part.name)
        contents = {n: range_states(store, n, part.name) for n in replicas}
        for i, a in enumerate(replicas):
            for b in replicas[i + 1:]:
                assert (roots[a][part.name] == roots[b][part.name]) == (
                    contents[a] == contents[b]), (part.name, a, b)
                differing += contents[a] != contents[b]
    return differing


def heal_and_repair(store: LeaderlessStore) -> None:
    store.heal()
    for node in store.nodes:
        store.restart(node)
    store.settle(10.0)
    store.anti_entropy_round(T)


def check_converged(store: LeaderlessStore, handles: list[Handle]) -> None:
    assert store.pending_hints() == 0  # hinted-handoff-delivers
    assert all(h.done for h in handles)
    roots = {n: store.merkle_roots(n, T) for n in store.nodes}
    for part in store.ring.partitions:
        replicas = store.ring.replicas_of(part.name)
        first = range_states(store, replicas[0], part.name)
        for other in replicas[1:]:
            assert range_states(store, other, part.name) == first, part.name
            assert roots[other][part.name] == roots[replicas[0]][part.name]
    # no acknowledged write lost: every replica holds it or something that supersedes it
    for handle in handles:
        if handle.status != "ok" or isinstance(handle.request, Get):
            continue
        meta = handle.meta
        if "version" not in meta and "dot" not in meta:
            continue  # a read-modify-write whose condition failed wrote nothing
        request = handle.request
        assert isinstance(request, Put | Update | Delete)
        key = (request.item["pk"],) if isinstance(request, Put) else (request.key["pk"],)
        for node in store.ring.preference_list(key):
            state = store.replica_states(node, T)[key]
            if isinstance(state, Stamped):
                assert [state.timestamp, state.replica] >= meta["version"]
            else:
                assert isinstance(state, DVVSet)
                replica, counter = meta["dot"]
                assert state.context.counter(replica) >= counter


ACTIONS = ("submit", "submit", "deliver", "deliver", "deliver", "deliver", "drop",
           "duplicate", "fire", "fire", "partition", "heal", "crash", "restart", "skew")


@given(data=st.data(), preset=st.sampled_from(sorted(PRESETS)))
def test_replicas_converge_after_heal_restart_and_anti_entropy(data: st.DataObject,
                                                                preset: str) -> None:
    store = PRESETS[preset]()
    handles: list[Handle] = []
    nodes = store.nodes
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        action = data.draw(st.sampled_from(ACTIONS))
        decisions = store.decisions()
        if action == "submit":
            kind = data.draw(st.sampled_from(("put", "update", "cas", "delete", "get")))
            client = data.draw(st.sampled_from(("c0", "c1", "c2")))
            request = request_for(kind, data.draw(st.sampled_from(KEYS)),
                                  data.draw(st.integers(1, 9)))
            handles.append(store.submit(client, request))
        elif action in ("deliver", "drop", "duplicate", "fire"):
            cls = {"deliver": Deliver, "drop": Drop, "duplicate": Duplicate, "fire": Fire}[action]
            options = [d for d in decisions if isinstance(d, cls)]
            if options:
                store.decide(data.draw(st.sampled_from(options)))
        elif action == "partition":
            side = data.draw(st.sets(st.sampled_from(nodes), min_size=1, max_size=4))
            store.partition([side, set(nodes) - side])
        elif action == "heal":
            store.heal()
        elif action == "crash":
            store.crash(data.draw(st.sampled_from(nodes)))
        elif action == "restart":
            store.restart(data.draw(st.sampled_from(nodes)))
        else:
            store.skew_clock(data.draw(st.sampled_from(nodes)),
                             data.draw(st.sampled_from((-5.0, 0.0, 5.0))))
    if data.draw(st.booleans(), label="lose messages in flight"):
        for decision in store.decisions():
            if isinstance(decision, Drop):
                store.decide(decision)
    for node in data.draw(st.sets(st.sampled_from(nodes)), label="crash before healing"):
        store.crash(node)
    diverged = check_roots_iff_equal(store)  # roots differ exactly where contents do
    event(f"{preset}: replicas diverged before repair: {diverged > 0}")
    heal_and_repair(store)
    check_converged(store, handles)
    check_roots_iff_equal(store)


# -- determinism ----------------------------------------------------------------------------


def run_schedule(seed: int, preset: str, steps: int = 300) -> str:
    """A seeded random schedule (drops, duplicates, partitions, crashes, skews) and a
    digest of everything observable: answers, metadata, replicas, roots, counters."""
    rng = random.Random(seed)
    store = PRESETS[preset]()
    handles: list[Handle] = []
    for _ in range(steps):
        roll = rng.random()
        decisions = store.decisions()
        if roll < 0.2:
            kind = rng.choice(("put", "update", "cas", "delete", "get"))
            handles.append(store.submit(f"c{rng.randrange(3)}", request_for(
                kind, rng.choice(KEYS), rng.randrange(1, 10))))
        elif roll < 0.9 and decisions:
            store.decide(rng.choice(decisions))
        elif roll < 0.93:
            side = set(rng.sample(store.nodes, rng.randrange(1, 5)))
            store.partition([side, set(store.nodes) - side])
        elif roll < 0.95:
            store.heal()
        elif roll < 0.97:
            store.crash(rng.choice(store.nodes))
        elif roll < 0.99:
            store.restart(rng.choice(store.nodes))
        else:
            store.skew_clock(rng.choice(store.nodes), rng.choice((-3.0, 3.0)))
    heal_and_repair(store)
    check_converged(store, handles)
    observed = {
        "handles": [[h.client, h.status, type(h.error).__name__,
                     repr(h.response), h.meta] for h in handles],
        "replicas": {n: sorted((repr(k), v) for k, v in store.replica_versions(n, T).items())
                     for n in store.nodes},
        "roots": {n: {r: h.hex() for r, h in store.merkle_roots(n, T).items()}
                  for n in store.nodes},
        "stats": store.sim.stats,
        "now": store.sim.now,
    }
    return hashlib.sha256(json.dumps(observed, sort_keys=True, default=str).encode()).hexdigest()


def test_the_same_schedule_gives_the_same_result() -> None:
    for preset in PRESETS:
        assert run_schedule(7, preset) == run_schedule(7, preset)
        assert run_schedule(7, preset) != run_schedule(8, preset)


def test_results_do_not_depend_on_the_process_or_its_hash_seed() -> None:
    here = {preset: run_schedule(11, preset) for preset in PRESETS}
    code = (
        "import runpy, sys, json\n"
        f"ns = runpy.run_path({str(Path(__file__))!r})\n"
        "print(json.dumps({p: ns['run_schedule'](11, p) for p in ('lww', 'quorum')}))\n"
    )
    for hash_seed in ("1", "987654"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, check=True)
        assert json.loads(out.stdout.strip().splitlines()[-1]) == here
