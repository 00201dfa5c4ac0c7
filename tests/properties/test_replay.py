"""Schedules, their replay, ``replicheck replay`` and the plugging-in example."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from replicheck.implementation.presets import UnknownStore, preset
from replicheck.implementation.reference.sim import Deliver, Drop, Duplicate, Fire
from replicheck.models.items.requests import Get, Put, TransactWrite, Update
from replicheck.properties.plugging_in import make_store
from replicheck.properties.recording import RecordingStore
from replicheck.properties.replay import build_store, replay
from replicheck.properties.schedule import (
    STEP_KINDS,
    Schedule,
    ScheduleError,
    ScheduleRecorder,
    burst_step,
    decision_from_json,
    decision_to_json,
    describe_step,
    dump,
    dumps,
    load,
    loads,
    run_burst,
    submit_step,
    write_schedule_on_failure,
)
from replicheck.reports.cli import main

T = "items"


def conditional_race(target: str) -> Schedule:
    """Two attribute_not_exists puts of one key in flight together, then a strong
    read: only one may succeed (the stale-condition-check mutant lets both)."""
    return Schedule(target, 0, (
        submit_step("c0", Put(T, {"pk": "a", "v": 1}, "attribute_not_exists(pk)")),
        submit_step("c1", Put(T, {"pk": "a", "v": 2}, "attribute_not_exists(pk)")),
        {"run": {}},
        submit_step("c2", Get(T, {"pk": "a"}, consistent=True)),
        {"run": {}},
        {"settle": {}},
        {"observe": "replicas"},
        {"observe": "stream"},
    ))


def broken_factory() -> Any:
    return 1 / 0


def write_file(tmp_path: Path, schedule: Schedule, name: str = "s.json") -> str:
    return str(dump(schedule, tmp_path / name))


# -- the format -----------------------------------------------------------------------------


def every_kind() -> Schedule:
    return Schedule("dynamodb", 7, (
        submit_step("c0", Put(T, {"pk": "a", "v": 1}, "attribute_not_exists(pk)")),
        submit_step("c1", Update(T, {"pk": "a"}, "SET n = :one", values={":one": 1})),
        submit_step("c2", TransactWrite((Put(T, {"pk": "b"}),), token="t")),
        submit_step("c0", Get(T, {"pk": "a"})),
        {"decide": {"deliver": 3}}, {"decide": {"drop": 4}},
        {"decide": {"duplicate": 5}}, {"decide": {"fire": 6}},
        {"partition": [["n1"], ["n2", "n3"]]}, {"heal": {}}, {"crash": "n1"},
        {"restart": "n1"}, {"pause": "n2"}, {"resume": "n2"}, {"skew": ["n2", -0.5]},
        {"advance": 600.5}, {"run_for": 2},
        {"anti_entropy": ["n1", "n2", T]},
        {"settle": {}}, {"settle": {"seconds": 2.5}}, {"run": {}}, {"run": {"steps": 3}},
        burst_step("c1", Put(T, {"pk": "b"}), 3),
        {"observe": "replicas"}, {"observe": "stream"},
    ))


def test_a_schedule_round_trips_through_its_file(tmp_path: Path) -> None:
    schedule = every_kind()
    assert {next(iter(s)) for s in schedule.steps} == set(STEP_KINDS)
    path = dump(schedule, tmp_path / "s.json")
    assert load(path) == schedule
    assert loads(dumps(schedule)) == schedule
    assert dumps(load(path)) == path.read_text(encoding="utf-8")
    assert json.loads(path.read_text())["schema"] == 1


def test_decisions_round_trip() -> None:
    for decision in (Deliver(1), Drop(2), Duplicate(3), Fire(4)):
        assert decision_from_json(decision_to_json(decision)) == decision
    with pytest.raises(TypeError):
        decision_to_json("deliver 1")


@pytest.mark.parametrize(("text", "expected"), [
    ('{"target": "dynamodb", "steps": [{"heal": {}}, {"deliver": 3}]}',
     "step 1: is a 'deliver' step; expected one of submit"),
    ('{"target": "dynamodb", "steps": [{"decide": {"send": 3}}]}',
     "step 0: decide is a 'send' decision; expected one of deliver"),
    ('{"target": "dynamodb", "steps": [{"heal": {}}, {"heal": {}}, {"skew": ["n1"]}]}',
     "step 2: skew is [\"n1\"]; expected [node, seconds]"),
    ('{"target": "dynamodb", "steps": [{"submit": {"client": "c", "request": {"x": 1}}}]}',
     "step 0: "),
    ('{"target": "dynamodb", "steps": [{"heal": {}, "crash": "n1"}]}',
     "step 0: is {"),
    ('{"target": "dynamodb", "steps": {}}', "steps is {}; expected a list"),
    ('{"target": "dynamodb", "steps": [{"burst": {"client": "c0", "count": 2}}]}',
     'step 0: burst is {"client": "c0", "count": 2}; expected'),
    ('{"target": "dynamodb", "steps": [{"burst": {"client": "c0", "count": 0, '
     '"request": {"table": "items", "item": {"pk": {"S": "a"}}}}}]}',
     "step 0: burst count is 0; expected a positive integer"),
    ('{"steps": []}', "target is null; expected a preset name"),
    ('{"target": "dynamodb", "steps": [', "not JSON"),
])
def test_a_malformed_schedule_names_the_step_and_what_was_expected(
        text: str, expected: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        loads(text, source="f.json")
    assert str(raised.value).startswith("f.json: ")
    assert expected in str(raised.value)


# -- replay ---------------------------------------------------------------------------------


def test_a_valid_schedule_on_dynamodb_holds() -> None:
    result = replay(conditional_race("dynamodb"))
    statuses = {j.guarantee: j.status for j in result.judgements}
    assert statuses["linearizable-conditional-writes"] == "holds"
    assert statuses["convergence"] == "holds"
    assert statuses["stream-exactly-once"] == "holds"
    assert result.exit_status == 0
    assert [op.status for op in result.history.operations] == ["ok", "fail", "ok"]


def test_the_mutant_breaks_the_guarantee_it_names() -> None:
    result = replay(conditional_race("mutant:stale-condition-check"))
    statuses = {j.guarantee: j.status for j in result.judgements}
    assert statuses["linearizable-conditional-writes"] == "violated"
    assert result.exit_status == 1


def test_replaying_twice_gives_the_same_history() -> None:
    first = replay(conditional_race("mutant:stale-condition-check"))
    second = replay(conditional_race("mutant:stale-condition-check"))
    assert first.history_jsonl == second.history_jsonl
    assert first.history_jsonl.count("\n") == len(first.records)


def test_a_step_the_store_refuses_is_named() -> None:
    schedule = Schedule("dynamodb", 0, ({"heal": {}}, {"decide": {"deliver": 999}}))
    with pytest.raises(ScheduleError) as raised:
        replay(schedule)
    assert 'step 1: {"decide": {"deliver": 999}}: cannot deliver' in str(raised.value)
    with pytest.raises(ScheduleError, match=r"step 0: .*crash.*unknown node"):
        replay(Schedule("dynamodb", 0, ({"crash": "n99"},)))
    with pytest.raises(ScheduleError, match=r"step 1: .*expected one of submit"):
        replay(Schedule("dynamodb", 0, ({"heal": {}}, {"nap": {}})))


def test_targets() -> None:
    assert build_store("dynamodb").descriptor.name == preset("dynamodb").descriptor.name
    with pytest.raises(UnknownStore, match="stale-condition-check"):
        build_store("mutant:nope")
    with pytest.raises(UnknownStore, match="presets"):
        build_store("nope")
    assert build_store("replicheck.properties.plugging_in:make_store").descriptor.name \
        == "example"
    with pytest.raises(ScheduleError, match="not schedulable"):
        replay(Schedule("replicheck.properties.plugging_in:make_store", 0, ()))
    with pytest.raises(TypeError, match="not schedulable"):
        ScheduleRecorder(make_store(), "replicheck.properties.plugging_in:make_store")
    with pytest.raises(UnknownStore, match="the factory raised ZeroDivisionError"):
        build_store(f"{__name__}:broken_factory")


# -- recording ------------------------------------------------------------------------------


def drive(store: Any) -> None:
    """The conditional race driven call by call, fair decisions taken one by one."""
    for client, value in (("c0", 1), ("c1", 2)):
        store.submit(client, Put(T, {"pk": "a", "v": value}, "attribute_not_exists(pk)"))
    store.partition([["n1"], ["n2", "n3", "n4", "n5"]])
    store.heal()
    store.skew_clock("n2", 0.5)
    for _ in range(10_000):
        decision = store.sim.default_decision()
        if decision is None:
            break
        store.decide(decision)
    store.execute(Get(T, {"pk": "a"}, consistent=True))


def test_a_recorded_schedule_replays_the_same_run(tmp_path: Path) -> None:
    recorder = ScheduleRecorder(build_store("mutant:stale-condition-check"),
                                "mutant:stale-condition-check")
    drive(recorder)
    recorder.settle()
    path = write_schedule_on_failure(recorder, tmp_path / "failure.json")
    assert path is not None
    steps = load(path).steps
    kinds = [next(iter(s)) for s in steps]
    assert kinds[:5] == ["submit", "submit", "partition", "heal", "skew"]
    assert "decide" in kinds and kinds[-3:] == ["settle", "observe", "observe"]
    result = replay(load(path))
    assert result.exit_status == 1
    assert [op.status for op in result.history.operations] == ["ok", "ok", "ok"]
    assert write_schedule_on_failure(object(), tmp_path / "none.json") is None
    (tmp_path / "a-file").write_text("", encoding="utf-8")  # no folder can go under it
    assert write_schedule_on_failure(recorder, tmp_path / "a-file" / "dir.json") is None


def test_a_burst_is_one_step_that_replays_its_puts() -> None:
    recorder = ScheduleRecorder(build_store("dynamodb"), "dynamodb")
    recording = RecordingStore(recorder)
    step = burst_step("c0", Put(T, {"pk": "a"}), 4)
    recorder.submit("c1", Get(T, {"pk": "a"}, consistent=True))  # in flight meanwhile
    with recorder.grouped(step):
        handles = run_burst(recording, "c0", Put(T, {"pk": "a"}), 4)
    assert len(handles) == 4 and all(h.done for h in handles)
    assert recorder.steps[-1] == step and len(recorder.steps) == 2
    assert describe_step(step) == ("c0 puts {pk: \"a\"} 4 time(s) in a row (v = b0 .. b3), "
                                   "each to completion")
    result = replay(recorder.schedule())
    puts = [op for op in result.history.operations if op.f == "put"]
    assert [op.input["item"]["v"] for op in puts] == [{"S": f"b{i}"} for i in range(4)]
    assert all(op.status == "ok" for op in puts)
    assert all(a.ret is not None and b.call > a.ret for a, b in itertools.pairwise(puts))


def test_a_burst_of_ten_shows_the_string_ordered_stream() -> None:
    """The tenth record of an item sorts before the ninth when compared as text."""
    steps = (burst_step("c0", Put(T, {"pk": "a"}), 12), {"settle": {}},
             {"observe": "stream"})
    statuses = {j.guarantee: j.status for j in replay(Schedule(
        "mutant:stream-string-sequence-order", 0, steps)).judgements}
    assert statuses["stream-item-order"] == "violated"
    statuses = {j.guarantee: j.status for j in replay(Schedule("dynamodb", 0, steps)
                                                      ).judgements}
    assert statuses["stream-item-order"] == "holds"


# -- the command line -----------------------------------------------------------------------


def test_cli_valid_schedule_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    assert main(["replay", write_file(tmp_path, conditional_race("dynamodb"))]) == 0
    out = capsys.readouterr().out
    assert "# linearizable-conditional-writes: holds" in out
    history = [json.loads(line) for line in out.splitlines() if not line.startswith("#")]
    assert history[0]["f"] == "tables"


def test_cli_mutant_exits_1_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    path = write_file(tmp_path, conditional_race("mutant:stale-condition-check"))
    assert main(["replay", path]) == 1
    assert "# linearizable-conditional-writes: violated" in capsys.readouterr().out
    assert main(["replay", path, "--json"]) == 1
    obj = json.loads(capsys.readouterr().out)
    assert obj["exit"] == 1 and obj["target"] == "mutant:stale-condition-check"
    statuses = {j["guarantee"]: j["status"] for j in obj["judgements"]}
    assert statuses["linearizable-conditional-writes"] == "violated"


def test_cli_bad_file_exits_2_in_one_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"target": "dynamodb", "steps": [{"heal": {}}, {"crash": 3}]}')
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "step 1" in err and "crash" in err
    assert main(["replay", str(tmp_path / "missing.json")]) == 2
    assert "no such schedule file" in capsys.readouterr().err
    unknown = write_file(tmp_path, Schedule("mutant:nope", 0, ()), "u.json")
    assert main(["replay", unknown]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    refused = write_file(tmp_path, Schedule("dynamodb", 0, ({"decide": {"fire": 999}},)),
                         "r.json")
    assert main(["replay", refused]) == 2
    assert "step 0" in capsys.readouterr().err
    broken = write_file(tmp_path, Schedule(f"{__name__}:broken_factory", 0, ()), "b.json")
    assert main(["replay", broken]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ZeroDivisionError" in err


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env.update(extra)
    return env


def every_mechanism(target: str) -> Schedule:
    """A leaderless run with every mechanism and observation the machines record:
    writes on both sides of a partition, a mid-run snapshot, then (healed, as the
    machines' teardown) read repair and anti-entropy on copies of the cluster, hints,
    one sync per pair, the replicas."""
    store: Any = build_store(target)
    nodes = store.nodes
    return Schedule(target, 0, (
        *(submit_step(f"c{i}", Put(T, {"pk": f"k{i % 3}", "v": i})) for i in range(4)),
        {"partition": [[nodes[0]], list(nodes[1:])]},
        *(submit_step(f"d{i}", Put(T, {"pk": f"k{i % 3}", "v": 10 + i})) for i in range(4)),
        {"run": {"steps": 300}}, {"observe": "snapshot"}, {"heal": {}},
        {"observe": "read-repair"}, {"observe": "sync-twins"}, {"settle": {}},
        {"observe": "hints"},
        *({"anti_entropy": [a, b, T]} for i, a in enumerate(nodes) for b in nodes[i + 1:]),
        {"observe": "replicas"},
    ))


@pytest.mark.parametrize(("schedule", "status"), [
    (conditional_race("mutant:stale-condition-check"), 1),
    (conditional_race("global-tables"), 0),
    (every_mechanism("dynamo-quorum"), 0),
    (every_mechanism("mutant:merkle-root-ignores-child"), 1),
], ids=["leader", "global-tables", "leaderless", "leaderless-mutant"])
def test_replay_is_deterministic_across_processes(tmp_path: Path, schedule: Schedule,
                                                  status: int) -> None:
    path = write_file(tmp_path, schedule)
    outputs = []
    for seed in ("0", "12345"):
        done = subprocess.run(
            [sys.executable, "-m", "replicheck.reports.cli", "replay", path],
            capture_output=True, text=True, timeout=120,
            env=_subprocess_env(PYTHONHASHSEED=seed))
        assert done.returncode == status, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    here = replay(load(path)).history_jsonl
    assert "".join(line + "\n" for line in outputs[0].splitlines()
                   if not line.startswith("#")) == here


# -- the plugging-in page -------------------------------------------------------------------


def test_the_example_adapter_keeps_the_contract() -> None:
    from replicheck.implementation.store import Client, check_store

    store = make_store()
    assert check_store(store) == []
    client = Client(store, T)
    client.put({"pk": "a", "v": 1})
    assert client.get({"pk": "a"}, consistent=True) == {"pk": "a", "v": 1}
    store.close()


def test_the_example_adapter_passes_the_suite() -> None:
    env = _subprocess_env(REPLICHECK_PROFILE="quick", REPLICHECK_MAX_EXAMPLES="5")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs",
         "replicheck.properties", "--store", "replicheck.properties.plugging_in:make_store",
         "-q", "-rs"],
        capture_output=True, text=True, env=env, timeout=300, cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stdout + done.stderr
    from replicheck.properties.suite import PROPERTIES

    descriptor = make_store().descriptor
    applying = [p for p in PROPERTIES if p.skip_reason(descriptor) is None]
    skipped = len(PROPERTIES) - len(applying)
    # the contract test, then one test per property that applies; the others skip
    assert f"{1 + len(applying)} passed, {skipped} skipped" in done.stdout
    assert "lacks the capability deterministic-scheduling" in done.stdout


def test_global_tables_shows_its_regions_replicas_on_replay() -> None:
    """Every schedule written for global-tables ends with ``observe replicas`` (it
    claims convergence): replay takes that observation as the machines do, and
    convergence is judged on it."""
    result = replay(conditional_race("global-tables"))
    observed = [r for r in result.history.observations if r.f == "replicas"]
    assert len(observed) == 1
    regions: Any = build_store("global-tables")
    assert set(observed[0].value["replicas"]) == set(regions.replicas())
    statuses = {j.guarantee: j.status for j in result.judgements}
    assert statuses["convergence"] == "holds"
    assert result.exit_status == 0


def test_a_mid_run_snapshot_is_recorded_where_the_convergence_checker_reads_it() -> None:
    """An ``observe snapshot`` step records a (not quiescent) replicas observation, as
    the machines record it: the Merkle-root check judges it on replay too."""
    schedule = Schedule("mutant:merkle-root-ignores-child", 0, (
        *(submit_step(f"c{i}", Put(T, {"pk": f"k{i}", "v": i})) for i in range(6)),
        {"partition": [["n1"], ["n2", "n3", "n4", "n5"]]},
        *(submit_step(f"d{i}", Put(T, {"pk": f"k{i}", "v": 10 + i})) for i in range(6)),
        {"run": {"steps": 200}},
        {"observe": "snapshot"},
    ))
    result = replay(schedule)
    snapshots = [r for r in result.history.observations if r.f == "replicas"]
    assert len(snapshots) == 1 and snapshots[0].value["quiescent"] is False
    assert not [r for r in result.history.observations if r.f == "snapshot"]


class _NoReplicas:
    """dynamodb without the means to show its replicas or its stream (it still
    claims convergence and the stream guarantees)."""

    HIDDEN = frozenset({"replicas", "replica_versions", "replica_items",
                        "replicas_observation", "stream_records"})

    def __init__(self, store: Any) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        if name in self.HIDDEN:
            raise AttributeError(name)
        return getattr(self.__dict__["store"], name)


def no_replicas() -> Any:
    return _NoReplicas(preset("dynamodb"))


def test_a_schedule_ends_only_with_observations_replay_can_make() -> None:
    from replicheck.properties.replay import can_observe
    from replicheck.properties.schedule import claimed_observations

    assert claimed_observations(build_store("global-tables")) == ("replicas",)
    assert claimed_observations(build_store("dynamodb")) == ("replicas", "stream")
    bare = _NoReplicas(build_store("dynamodb"))  # claims convergence and the stream
    assert claimed_observations(bare) == ()
    assert not can_observe(bare, "replicas") and not can_observe(bare, "stream")
    with pytest.raises(ScheduleError, match="cannot show its replicas: that needs"):
        replay(Schedule(f"{__name__}:no_replicas", 0, ({"observe": "replicas"},)))


def stale_eventual_read(guarantee: str | None = "stale-read") -> Schedule:
    """Two puts, then an eventually consistent read a follower serves before it
    applied the second: a stale read, which dynamodb does not claim to prevent."""
    return Schedule("dynamodb", 0, (
        submit_step("c0", Put(T, {"pk": "a", "v": 1})), {"run": {}},
        submit_step("c0", Put(T, {"pk": "a", "v": 2})), {"run": {}},
        submit_step("c1", Get(T, {"pk": "a"}, consistent=False)), {"run": {}},
    ), guarantee)


def test_replaying_an_observation_judges_and_shows_the_observed_guarantee(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = dump(stale_eventual_read(), tmp_path / "observed.json")
    assert json.loads(path.read_text())["guarantee"] == "stale-read"
    assert load(path) == stale_eventual_read()
    result = replay(load(path))
    assert result.recorded is not None
    assert (result.recorded.guarantee, result.recorded.status,
            result.recorded.claimed) == ("stale-read", "observed", False)
    assert result.exit_status == 0  # an observation never fails the replay
    assert replay(stale_eventual_read(None)).recorded is None
    assert "stale-read" not in {j.guarantee for j in replay(stale_eventual_read(None))
                                .judgements}
    assert main(["replay", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "# stale-read: observed" in shown
    assert main(["replay", "--json", str(path)]) == 0
    judged = {j["guarantee"]: j for j in json.loads(capsys.readouterr().out)["judgements"]}
    assert judged["stale-read"]["status"] == "observed"
    assert judged["stale-read"]["claimed"] is False
    assert judged["stale-read"]["anomalies"]


def test_a_counterexample_file_names_its_guarantee() -> None:
    from replicheck.properties.outcomes import Counterexample
    from replicheck.properties.schedule import counterexample_schedule

    schedule = stale_eventual_read(None)
    cx = Counterexample("p", "stale-read", "seen", schedule=schedule.to_json())
    assert counterexample_schedule(cx) == stale_eventual_read()
    assert counterexample_schedule(Counterexample("p", "stale-read", "seen")) is None
    with pytest.raises(ScheduleError, match="guarantee is 3; expected a guarantee ID"):
        loads('{"target": "dynamodb", "guarantee": 3, "steps": []}')
