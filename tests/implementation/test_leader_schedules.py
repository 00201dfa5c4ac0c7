"""Leader mode under random schedules: every delivery, drop, duplicate, timer,
partition, crash, restart and clock skew chosen by Hypothesis, and messages held back
while the rest flow (across elections) and delivered late. At the end (healed,
restarted, quiet) every key's history of strong reads and writes is linearizable,
every acknowledged write survives unless a later write superseded it, transactional
reads are never fractured, the stream has each successful modification exactly once
and nothing else, and replicas of each partition agree. And the same decisions
always give the same results, in any process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replicheck.implementation.reference.leader import LeaderStore, dynamodb
from replicheck.implementation.reference.sim import Deliver, Drop, Duplicate, Fire
from replicheck.implementation.store import (
    Delete,
    Get,
    Handle,
    Indeterminate,
    Put,
    TransactGet,
    TransactWrite,
    Update,
)
from replicheck.models.items.requests import Request
from replicheck.models.items.values import freeze_item

KEYS = ("a", "b", "c")  # two partitions
CLIENTS = ("c0", "c1", "c2")


@dataclass
class Op:
    """One key's view of one operation: a write of ``value`` (None: delete) or a read
    that returned ``value``; ``ret`` None when indeterminate."""

    call: int
    ret: int | None
    kind: str
    value: Any


def linearizable(ops: list[Op]) -> bool:
    """A register history (initially absent) has a linearization (Wing & Gong search
    with memoized configurations); indeterminate writes may take effect or not."""
    ops = [o for o in ops if not (o.kind == "r" and o.ret is None)]
    rets = [o.ret if o.ret is not None else float("inf") for o in ops]
    required = frozenset(i for i, o in enumerate(ops) if o.ret is not None)
    seen: set[tuple[frozenset[int], Any]] = set()

    def search(done: frozenset[int], value: Any) -> bool:
        if required <= done:
            return True
        if (done, value) in seen:
            return False
        seen.add((done, value))
        horizon = min(rets[i] for i in required - done)
        for i, o in enumerate(ops):
            if i in done or o.call > horizon:
                continue
            if o.kind == "r":
                if o.value == value and search(done | {i}, value):
                    return True
            elif search(done | {i}, o.value):
                return True
        return False

    return search(frozenset(), None)


@dataclass
class Run:
    store: LeaderStore
    clock: int = 0
    handles: list[tuple[int, Handle]] = field(default_factory=list)
    returned: dict[int, int] = field(default_factory=dict)
    counter: int = 0
    held: dict[int, Any] = field(default_factory=dict)  # messages taken out of flight

    def hold(self, message_id: int) -> None:
        """Keep a message back while everything else moves on (across elections)."""
        self.held[message_id] = self.store.sim.in_flight.pop(message_id)

    def release(self, message_id: int) -> None:
        """Put a held message back in flight, late."""
        self.store.sim.in_flight[message_id] = self.held.pop(message_id)

    def tick(self) -> None:
        self.clock += 1
        for i, (_, handle) in enumerate(self.handles):
            if handle.done and i not in self.returned:
                self.returned[i] = self.clock

    def submit(self, client: str, request: Request, node: str | None = None) -> None:
        """Submit through the router, or straight to ``node`` (as a client that
        believes ``node`` leads)."""
        self.tick()
        if node is None:
            handle = self.store.submit(client, request)
        else:
            handle = Handle(client, request)
            self.store.client(client).submit(handle, node)
        self.handles.append((self.clock, handle))
        self.tick()


def key_of(request: Any) -> str:
    return str((request.item if isinstance(request, Put) else request.key)["pk"])


@st.composite
def a_request(draw: st.DrawFn, run: Run) -> Request:
    run.counter += 1
    value = f"v{run.counter}"
    kind = draw(st.sampled_from(["put", "put", "get", "delete", "cas", "txn", "tget"]))
    key = draw(st.sampled_from(KEYS))
    if kind == "put":
        return Put("items", {"pk": key, "v": value})
    if kind == "get":
        return Get("items", {"pk": key}, consistent=True)
    if kind == "delete":
        return Delete("items", {"pk": key})
    if kind == "cas":
        return Update("items", {"pk": key}, "SET v = :v", "attribute_exists(pk)",
                      values={":v": value})
    pair = draw(st.lists(st.sampled_from(KEYS), min_size=2, max_size=2, unique=True))
    if kind == "txn":
        return TransactWrite(tuple(Put("items", {"pk": k, "v": value}) for k in pair))
    return TransactGet(tuple(Get("items", {"pk": k}) for k in pair))


def step(data: st.DataObject, run: Run) -> None:
    store = run.store
    action = data.draw(st.sampled_from(["submit"] * 3 + ["decide"] * 12 + ["fault"]))
    if action == "submit":
        busy = {h.client for _, h in run.handles if not h.done}
        free = [c for c in CLIENTS if c not in busy]
        if free:
            node = data.draw(st.sampled_from((None, None, *store.replicas())))
            run.submit(data.draw(st.sampled_from(free)), data.draw(a_request(run)), node)
        return
    if action == "fault":
        fault = data.draw(st.sampled_from(["partition", "heal", "crash", "restart", "skew"]))
        node = data.draw(st.sampled_from(store.replicas()))
        if fault == "partition":
            cut = data.draw(st.lists(st.sampled_from(store.replicas()), min_size=1,
                                     max_size=2, unique=True))
            store.partition([cut, [n for n in store.replicas() if n not in cut]])
        elif fault == "heal":
            store.heal()
        elif fault == "crash":
            store.crash(node)
        elif fault == "restart":
            store.restart(node)
        else:
            store.skew_clock(node, data.draw(st.floats(-1000, 1000)))
        return
    how = data.draw(st.sampled_from(["fair"] * 6 + ["deliver"] * 3 + ["fire", "fire-any",
                                                                      "drop", "duplicate",
                                                                      "hold", "release"]))
    if how == "hold":
        if store.sim.in_flight:
            run.hold(data.draw(st.sampled_from(sorted(store.sim.in_flight))))
        return
    if how == "release":
        if run.held:
            message_id = data.draw(st.sampled_from(sorted(run.held)))
            run.release(message_id)
            if store.sim.deliverable(store.sim.in_flight[message_id]):
                store.decide(Deliver(message_id))
            run.tick()
        return
    if how == "fair":  # a burst of the fair policy: oldest message, else earliest timer
        for _ in range(data.draw(st.integers(1, 20))):
            decision = store.sim.default_decision()
            if decision is None:
                break
            store.decide(decision)
            run.tick()
        return
    kind = {"deliver": Deliver, "fire": Fire, "fire-any": Fire, "drop": Drop,
            "duplicate": Duplicate}[how]
    options = [d for d in store.decisions() if isinstance(d, kind)]
    if how == "duplicate" and data.draw(st.booleans()):  # duplicated requests, mostly
        options = [d for d in options if not isinstance(d, Fire)
                   and store.sim.in_flight[d.message].kind in ("request", "op")] or options
    if options:
        index = 0 if how == "fire" else data.draw(st.integers(0, len(options) - 1))
        store.decide(options[index])
    run.tick()


def finish(run: Run) -> dict[str, Any]:
    """Heal, restart, complete everything, settle, and read every key strongly."""
    store = run.store
    for message_id in sorted(run.held):
        run.release(message_id)
    store.heal()
    for node in store.replicas():
        store.restart(node)
    for _, handle in run.handles:
        store.run_until_done(handle)
        run.tick()
    assert store.settle(seconds=120)
    final = {}
    for key in KEYS:
        for _ in range(5):
            try:
                run.submit("final", Get("items", {"pk": key}, consistent=True))
                handle = run.handles[-1][1]
                store.run_until_done(handle)
                run.tick()
                if handle.status == "ok":
                    break
                raise Indeterminate("retry")
            except Indeterminate:
                continue
        assert handle.status == "ok" and handle.response is not None
        final[key] = (handle.response.item, handle.meta["version"])
    return final


def check(run: Run, final: dict[str, Any]) -> None:
    store = run.store
    per_key: dict[str, list[Op]] = {k: [] for k in KEYS}
    failed_values: set[str] = set()
    written: dict[tuple[str, Any], Any] = {}  # (key, version) -> item written (ok writes)
    txns: list[tuple[Handle, dict[str, Any]]] = []
    for i, (call, handle) in enumerate(run.handles):
        request = handle.request
        ret = run.returned.get(i) if handle.status == "ok" else None
        if handle.status == "error":
            actions = request.actions if isinstance(request, TransactWrite) else [request]
            for a in actions:
                if isinstance(a, Put):
                    failed_values.add(a.item["v"])
                elif isinstance(a, Update) and a.values:
                    failed_values.add(a.values[":v"])
            continue
        if isinstance(request, Get):
            value = None
            if ret is not None:
                assert handle.response is not None
                value = handle.response.item["v"] if handle.response.item else None
            per_key[request.key["pk"]].append(Op(call, ret, "r", value))
        elif isinstance(request, Put | Delete | Update):
            value = (request.item["v"] if isinstance(request, Put) else
                     None if isinstance(request, Delete) else request.values[":v"])  # type: ignore[index]
            per_key[key_of(request)].append(Op(call, ret, "w", value))
            if ret is not None:
                version = handle.meta["version"]
                assert version <= final[key_of(request)][1], "an acknowledged write was lost"
                new = None if isinstance(request, Delete) else value
                written[(key_of(request), version)] = new
        elif isinstance(request, TransactWrite):
            for a in request.actions:
                assert isinstance(a, Put)
                per_key[key_of(a)].append(Op(call, ret, "w", a.item["v"]))
            if ret is not None:
                for w in handle.meta.get("writes", []):
                    assert w["version"] <= final[w["key"][0]][1], "a transaction was lost"
                    written[(w["key"][0], w["version"])] = w["item"]["v"]
                txns.append((handle, {w["key"][0]: w["version"]
                                      for w in handle.meta.get("writes", [])}))
        else:
            assert isinstance(request, TransactGet)
            items = handle.response.items if ret is not None and handle.response else ()
            for n, g in enumerate(request.gets):
                got = items[n] if ret is not None else None
                value = got["v"] if got is not None else None
                per_key[g.key["pk"]].append(Op(call, ret, "r", value))
    for key, ops in per_key.items():
        item, _ = final[key]
        ops.append(Op(run.clock + 1, run.clock + 2, "r", item["v"] if item else None))
        assert linearizable(ops), f"key {key}: not linearizable"
    # transactional reads are never fractured
    for _, handle in run.handles:
        if isinstance(handle.request, TransactGet) and handle.status == "ok":
            seen = {r["key"][0]: r["version"] for r in handle.meta["reads"]}
            for _, versions in txns:
                if len(versions) == 2 and any(seen.get(k) == v for k, v in versions.items()):
                    assert all(seen[k] is not None and seen[k] >= v
                               for k, v in versions.items() if k in seen), "fractured read"
    # the stream: each acknowledged change once, nothing from failed writes
    records = store.stream_records("items")
    positions = [(r.key[0], r.sequence) for r in records]
    assert len(positions) == len(set(positions)), "a stream record is duplicated"
    by_position = {(r.key[0], r.sequence): r for r in records}
    for (key, version), value in written.items():
        record = by_position.get((key, version))
        if record is not None:
            assert (record.new_image["v"] if record.new_image is not None else None) == value
        else:  # no record: the write changed nothing
            assert not any(r.key == (key,) and r.sequence == version for r in records)
    for record in records:
        assert record.new_image is None or record.new_image["v"] not in failed_values
    # convergence: every replica of a partition applied the same state
    for p in range(store.config.partitions):
        states = set()
        for node in store.partition_replicas(p):
            _, _, state, _ = store.cluster.replica_view(node, p)
            states.add((frozenset((k, freeze_item(v)) for k, v in state.items["items"].items()),
                        frozenset(state.versions.items()), frozenset(state.locks)))
        assert len(states) == 1, f"partition {p} diverged"


@given(st.data())
def test_random_schedules_keep_every_promise(data: st.DataObject) -> None:
    run = Run(dynamodb(seed=data.draw(st.integers(0, 3))))
    for _ in range(data.draw(st.integers(5, 120))):
        step(data, run)
    check(run, finish(run))


SCENARIO = """
import json, random
from replicheck.implementation.reference.leader import dynamodb
from replicheck.implementation.store import Get, Put, TransactWrite, Update
from replicheck.models.items.values import item_to_wire

def digest(seed):
    rng = random.Random(seed)
    store = dynamodb(seed=seed)
    out = []
    handles = []
    for i in range(40):
        key = rng.choice("abcdef")
        request = rng.choice([
            Put("items", {"pk": key, "tags": {f"t{i}", "x", "y"}, "n": i}),
            Update("items", {"pk": key}, "ADD tags :t", values={":t": {f"u{i}", "z"}}),
            TransactWrite((Put("items", {"pk": key, "n": i}),
                           Put("items", {"pk": key + "2", "n": i}))),
            Get("items", {"pk": key}, consistent=True),
        ])
        handles.append(store.submit(f"c{i % 3}", request))
        for _ in range(rng.randint(0, 12)):
            options = store.decisions()
            if options:
                store.decide(options[rng.randrange(len(options))])
        if i == 20:
            store.crash("n2")
        if i == 30:
            store.restart("n2")
    store.heal()
    for h in handles:
        store.run_until_done(h)
    store.settle()
    for h in handles:
        item = h.response.item if h.response else None
        out.append([h.status, type(h.error).__name__, item_to_wire(item) if item else None,
                    {k: v for k, v in h.meta.items() if k in ("version", "changed")}])
    out.append({n: sorted(json.dumps([list(k), item_to_wire(v)], sort_keys=True)
                          for k, v in store.replica_items(n, "items").items())
                for n in store.replicas()})
    out.append([[r.event, list(r.key), r.sequence] for r in store.stream_records("items")])
    out.append([store.sim.now, store.sim.stats])
    return json.dumps(out, sort_keys=True)
"""


def _digest_in_process(seed: int) -> str:
    namespace: dict[str, Any] = {}
    exec(SCENARIO, namespace)
    return str(namespace["digest"](seed))


def test_same_decisions_give_the_same_results() -> None:
    assert _digest_in_process(5) == _digest_in_process(5)
    assert _digest_in_process(5) != _digest_in_process(6)


def test_results_do_not_depend_on_the_hash_seed() -> None:
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", SCENARIO + "\nprint(digest(5))"],
            capture_output=True, text=True, env=env, timeout=120, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0]) == json.loads(_digest_in_process(5))
