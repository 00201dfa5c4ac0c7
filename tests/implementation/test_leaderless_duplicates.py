"""A leaderless coordinator takes a client's request once: a copy delivered again
(a duplicate on the wire), even after the coordinator crashed and restarted, is not
applied a second time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from replicheck.implementation.presets import preset
from replicheck.implementation.store import Deliver, Duplicate
from replicheck.models.items.requests import Get, Update

INCREMENT = Update("items", {"pk": "k0"}, "SET n = if_not_exists(n, :zero) + :one",
                   values={":zero": Decimal(0), ":one": Decimal(1)})


def _count(store: Any) -> Any:
    store.quiesce()
    item = store.execute(Get("items", {"pk": "k0"})).item
    return None if item is None else item["n"]


@pytest.mark.parametrize("name", ["dynamo-quorum", "dynamo-lww"])
@pytest.mark.parametrize("restart", [False, True])
def test_a_duplicated_request_is_applied_once(name: str, restart: bool) -> None:
    store = preset(name)
    handle = store.submit("c0", INCREMENT)
    (request,) = store.messages_in_flight()
    store.decide(Duplicate(request.id))
    copy = store.messages_in_flight()[-1]
    store.decide(Deliver(request.id))
    while not handle.done:
        decision = store.default_decision()
        if decision == Deliver(copy.id):
            decision = next(d for d in store.decisions()
                            if d != decision and type(d).__name__ in ("Deliver", "Fire"))
        store.decide(decision)
    assert handle.status == "ok"
    if restart:
        store.crash(request.dst)
        store.restart(request.dst)
    store.decide(Deliver(copy.id))  # the copy reaches the coordinator late
    assert _count(store) == Decimal(1)
