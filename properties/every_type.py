"""Items of every DynamoDB type, written and read at the end of each example.

The workload the rules draw writes strings and small numbers under string keys, so a
store that mishandles any other type (places a binary or number key wrongly, drops a
nested set, encodes a list for its Merkle tree as if it were a map, loses a number's
precision, orders a set's members differently on two replicas) passes every
guarantee. :func:`every_type_epilogue` closes each example of the concurrency
property, after its teardown completed every operation (and after the
deposed-leader read, :mod:`replicheck.properties.deposed_leader`), with one client
running, one at a time and each to its answer, through the store's routing:

1. a put of :func:`typed_item` under each key of :data:`TYPED_KEYS` (a string, a
   binary and a number partition key, none of them in the workload's key pool): every
   scalar type, a 38-digit number, an empty string and binary, booleans, null,
   nested lists and maps holding sets, and string, number and binary sets;
2. an update of the first of them returning the new item: an element of the nested
   list and a nested map member set, a number added to, and members added to and
   deleted from sets;
3. a read of each key (strong where the store offers strong reads).

They are ordinary operations of the history: every claimed guarantee judges them
(a strong read must return what the put and the update made; a replica, a Merkle
root, a stream record holding these items must agree with the writes), and the
observations the concurrency property takes afterwards (replicas, anti-entropy,
hints, the stream) include them. The items are sized far below DynamoDB's limits, so
a store that refuses them breaks the item model's answers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from replicheck.models.items.requests import Get, Put, Request, Update
from replicheck.properties.search.driver import Surface

__all__ = ["CLIENT", "TYPED_KEYS", "every_type_epilogue", "typed_item", "typed_requests"]

TYPED_KEYS: Final[tuple[Any, ...]] = ("typed", b"\x00typed\xff", Decimal("-12.5e3"))
"""The partition keys of the epilogue's items: a string, a binary and a number."""

CLIENT: Final = "c0"
"""The first client tried for the epilogue (any idle one will do)."""


def typed_item(pk: str, key: Any) -> dict[str, Any]:
    """The item put under ``key``: an attribute of every DynamoDB type."""
    return {
        pk: key,
        "s": "text ∑ \u00e9",
        "empty_s": "",
        "n": Decimal("12345678901234567890123456789012345678"),
        "tiny": Decimal("1E-130"),
        "neg": Decimal("-0.5"),
        "b": b"\x00\x01\xfe\xff",
        "empty_b": b"",
        "yes": True,
        "no": False,
        "nothing": None,
        "l": ["one", Decimal(2), [b"\x03", frozenset({"x", "y"})], {"in": frozenset({Decimal(4)})}],
        "m": {"a": {"b": ["c", None]}, "ss": frozenset({"p", "q"}), "t": True},
        "ss": frozenset({"b", "a", "c"}),
        "ns": frozenset({Decimal(1), Decimal("2.5"), Decimal("-3")}),
        "bs": frozenset({b"\x01", b"\x02\x00"}),
    }


def typed_requests(table: str, pk: str, strong: bool) -> tuple[Request, ...]:
    """Steps 1 to 3 of the module docstring, in order."""
    puts: list[Request] = [Put(table, typed_item(pk, key)) for key in TYPED_KEYS]
    update = Update(
        table, {pk: TYPED_KEYS[0]},
        "SET l[1] = :ten, m.a.extra = :more, #n = #n + :one "
        "ADD ss :added, ns :numbers DELETE bs :gone",
        names={"#n": "n"},
        values={":ten": Decimal(10), ":more": {"deep": [frozenset({b"\x09"})]},
                ":one": Decimal(1), ":added": frozenset({"d"}),
                ":numbers": frozenset({Decimal("0.001")}), ":gone": frozenset({b"\x01"})},
        return_values="ALL_NEW")
    reads: list[Request] = [Get(table, {pk: key}, consistent=strong) for key in TYPED_KEYS]
    return (*puts, update, *reads)


def every_type_epilogue(driver: Any) -> int:
    """Run :func:`typed_requests` on ``driver`` (a scheduled machine: ``surface``,
    ``idle``, ``complete_call``), one at a time, each to its answer (bounded as the
    machine's calls are); how many were sent (fewer when every client was busy)."""
    surface: Surface = driver.surface
    sent = 0
    for request in typed_requests(surface.table, surface.pk, surface.strong):
        client = driver.idle(CLIENT)
        if client is None:
            break
        driver.complete_call(client, request)
        sent += 1
    return sent
