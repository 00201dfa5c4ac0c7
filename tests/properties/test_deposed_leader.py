"""The deposed-leader read the concurrency property ends each example with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from replicheck.implementation.mutants.catalog import mutant
from replicheck.implementation.presets import preset
from replicheck.implementation.store import Store
from replicheck.models.items.requests import Put
from replicheck.properties.concurrency import EPILOGUE_EVERY, concurrency_machine
from replicheck.properties.deposed_leader import KEY, VALUES, can_depose, deposed_leader_read
from replicheck.properties.examples import GuaranteeViolation
from replicheck.properties.guarantees import judge_guarantee
from replicheck.properties.replay import replay
from replicheck.properties.schedule import load
from replicheck.properties.search.driver import probe_surface
from replicheck.properties.verdicts import failures_to

GUARANTEE = "linearizable-strong-reads"
BUGGY = "read-index-without-quorum"


def started(factory: Callable[[], Store], target: str) -> Any:
    machine = concurrency_machine(factory, target=target)()
    machine.start()
    return machine


def clean() -> Any:
    return started(lambda: preset("dynamodb"), "dynamodb")


def buggy() -> Any:
    return started(lambda: mutant(BUGGY).factory(0), f"mutant:{BUGGY}")


def the_read(machine: Any) -> Any:
    """The schedule's read: the last operation of the history, a strong read of KEY."""
    read = machine.rec.history().operations[-1]
    assert read.f == "get-strong"
    assert read.input["key"] == {"pk": {"S": KEY}}
    return read


def read_value(read: Any) -> str | None:
    """The value of ``v`` a read answered with (None: not answered ``ok``)."""
    if read.status != "ok":
        return None
    return str(read.output["item"]["v"]["S"])


def test_a_correct_leader_never_answers_the_read_with_its_old_value() -> None:
    machine = clean()
    assert deposed_leader_read(machine)
    assert not machine.paused
    history = machine.rec.history()
    puts = [op for op in history.operations if op.f == "put"]
    assert [p.input["item"]["v"] for p in puts] == [{"S": v} for v in VALUES]
    assert all(p.status == "ok" for p in puts)
    assert read_value(the_read(machine)) in (None, VALUES[1])
    assert judge_guarantee(GUARANTEE, history, machine.setup.descriptor).status == "holds"


def test_a_leader_confirming_with_old_replies_answers_stale_and_is_caught() -> None:
    machine = buggy()
    assert deposed_leader_read(machine)
    assert read_value(the_read(machine)) == VALUES[0]
    judged = judge_guarantee(GUARANTEE, machine.rec.history(), machine.setup.descriptor)
    assert judged.status == "violated"


def three_puts(machine: Any) -> None:
    """Operations enough for the teardown to end the example with the epilogues
    (a multiple of EPILOGUE_EVERY)."""
    for i in range(EPILOGUE_EVERY):
        machine.call("c0", Put("items", {"pk": "k1", "v": f"v{i + 1}"}))


def test_the_teardown_runs_it_and_the_failure_replays(tmp_path: Path) -> None:
    machine = buggy()
    three_puts(machine)
    with failures_to(tmp_path), pytest.raises(GuaranteeViolation) as raised:
        machine.teardown()
    assert GUARANTEE in raised.value.guarantees
    (written,) = tmp_path.iterdir()
    replayed = replay(load(written))
    assert replayed.recorded is not None and replayed.recorded.status == "violated"


def test_a_clean_example_stays_clean_after_it() -> None:
    machine = clean()
    three_puts(machine)
    machine.teardown()
    assert not machine.verdicts.failed
    assert any(op.f == "get-strong" for op in machine.rec.history().operations)


def test_an_example_whose_operations_are_no_multiple_of_three_has_no_epilogue() -> None:
    machine = buggy()
    machine.call("c0", Put("items", {"pk": "k1", "v": "v1"}))
    machine.teardown()  # the bug needs the schedule: nothing fails
    assert not machine.verdicts.failed
    assert [op.f for op in machine.rec.history().operations] == ["put"]


def test_an_example_with_no_operation_is_left_alone() -> None:
    machine = buggy()
    machine.teardown()
    assert not machine.rec.history().operations


@pytest.mark.parametrize("name", ["dynamo-lww", "dynamo-quorum", "global-tables"])
def test_only_stores_with_leaders_pause_and_strong_reads_run_it(name: str) -> None:
    store = preset(name)
    claims = store.descriptor.claims_guarantee(GUARANTEE)
    assert not can_depose(probe_surface(store), claims)


def test_dynamodb_runs_it_and_not_without_the_claim() -> None:
    surface = probe_surface(preset("dynamodb"))
    assert can_depose(surface, True)
    assert not can_depose(surface, False)
