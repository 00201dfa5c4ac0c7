"""The Store contract: descriptors, claims as data, capability checks, the memory store."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from replicheck.implementation.memory import DEFAULT_TABLE, MemoryStore
from replicheck.implementation.store import (
    Capability,
    Claim,
    Client,
    ConditionalCheckFailed,
    Descriptor,
    Get,
    Indeterminate,
    Put,
    Store,
    TransactionCanceled,
    Update,
    ValidationError,
    check_store,
)
from replicheck.models.items.operations import apply, empty
from replicheck.models.items.requests import Response


def test_memory_store_keeps_the_contract() -> None:
    store = MemoryStore()
    assert isinstance(store, Store)
    assert check_store(store) == []
    assert store.descriptor.has("transactions")
    assert store.descriptor.claims_guarantee("linearizable-strong-reads")
    assert not store.descriptor.claims_guarantee("convergence")


class _Liar:
    """Declares capabilities it does not implement."""

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(
            "liar",
            frozenset({Capability.STREAM}),
            claims=(Claim("serializable-transactions"),),
        )

    def execute(self, request: object) -> Response:
        raise Indeterminate("never answers")


def test_check_store_names_each_broken_promise() -> None:
    problems = check_store(_Liar())
    assert problems == [
        "liar declares 'stream' but lacks Streaming methods",
        "liar claims 'serializable-transactions' without the 'transactions' capability",
    ]


def test_check_store_rejects_a_non_store() -> None:
    assert check_store(object()) == [
        "object is not a Store: it needs descriptor and execute()"
    ]


def test_claims_refuse_unknown_guarantees_and_kinds() -> None:
    with pytest.raises(ValueError, match="unknown guarantee 'fast'"):
        Claim("fast")
    with pytest.raises(ValueError, match="unknown operation kinds"):
        Claim("read-your-writes", frozenset({"scan"}))


def test_indeterminate_is_the_only_indefinite_error() -> None:
    assert Indeterminate.definite is False
    for error in (ConditionalCheckFailed, TransactionCanceled, ValidationError):
        assert error.definite is True


def test_unknown_table_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="table 'nope'"):
        MemoryStore().descriptor.table("nope")
    with pytest.raises(ValidationError, match="table 'nope'"):
        MemoryStore().execute(Get("nope", {"pk": "a"}))


def test_memory_store_answers_as_the_model_does() -> None:
    store = MemoryStore(clock=lambda: 0.0)
    client = Client(store, DEFAULT_TABLE.name)
    requests = [
        Put("items", {"pk": "a", "n": 1}),
        Update("items", {"pk": "a"}, "SET n = n + :d", values={":d": 2}, return_values="ALL_NEW"),
        Get("items", {"pk": "a"}, consistent=True),
    ]
    db = empty(DEFAULT_TABLE)
    for request in requests:
        db, expected = apply(db, request)
        assert store.execute(request) == expected
    assert store.snapshot() == db
    assert client.get({"pk": "a"}) == {"pk": "a", "n": Decimal(3)}
    with pytest.raises(ConditionalCheckFailed):
        client.put({"pk": "a"}, condition="attribute_not_exists(pk)")


def test_memory_store_conditional_increments_from_threads_never_lose_updates() -> None:
    store = MemoryStore()
    client = Client(store, "items")
    client.put({"pk": "c", "n": 0})

    def bump() -> None:
        for _ in range(50):
            while True:
                n = client.get({"pk": "c"})["n"]  # type: ignore[index]
                try:
                    client.update({"pk": "c"}, "SET n = :new", condition="n = :old",
                                  values={":new": n + 1, ":old": n})
                    break
                except ConditionalCheckFailed:
                    continue

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.get({"pk": "c"}) == {"pk": "c", "n": Decimal(200)}
