"""Checking your own store: a complete, minimal adapter that passes the suite.

The guide is ``docs/plugging-in.md`` in the repository (the Store contract, which
properties run for which capabilities and claims, fresh namespaces and cleanup on a
shared server, reading a failure, ``replicheck verify``). This module is its worked
example: :class:`ExampleStore`, built by the zero-argument factory
:func:`make_store`, passes the shipped suite::

    pytest --pyargs replicheck.properties --store replicheck.properties.plugging_in:make_store

In brief, a store is any object with

``descriptor``
    a ``Descriptor``: ``capabilities`` (what it can do beyond the core item
    operations), ``claims`` (the guarantees it promises, per operation kind: what the
    suite fails on), ``weaknesses`` (anomalies it allows: reported, never failed) and
    ``tables`` (the suite writes to the first);

``execute(request) -> Response``
    one DynamoDB-shaped request answered synchronously, or exactly one error of
    ``replicheck.models.items.errors``; all are definite (nothing applied) except
    ``Indeterminate`` (a timeout: it may have applied);

``close()`` (optional)
    called after each example, once the suite deleted what it wrote (unless the
    store's attribute ``cleans_up`` is True; see
    :mod:`replicheck.properties.namespaces`).

Optional capabilities come with protocols of methods in
``replicheck.implementation.store`` (``Introspectable``, ``AntiEntropy``,
``Streaming``, ``FaultInjectable``, ``Schedulable``, ``Versioned``);
``check_store(store)`` lists the ways a store breaks the contract.

:class:`ExampleStore` declares ``transactions`` and ``strong-reads`` and no
``deterministic-scheduling``: the conformance property and the threaded property
(:mod:`replicheck.properties.threaded`) run, the properties needing scheduling,
replica introspection or a stream are skipped with their reasons.
"""

from __future__ import annotations

import threading
import time

from replicheck.implementation.store import Capability, Claim, Descriptor
from replicheck.models.items.errors import StoreError, ValidationError
from replicheck.models.items.operations import Database, apply, empty
from replicheck.models.items.requests import Request, Response, TableSchema

__all__ = ["ExampleStore", "make_store"]

TABLE = TableSchema("items", partition_key="pk")
"""The one table the example serves."""

_READS = frozenset({"get-strong", "get-eventual", "transact-get"})
_WRITES = frozenset({"put", "update", "delete", "conditional-write", "transact-write"})


class ExampleStore:
    """A minimal, complete adapter: one node in memory, every request applied
    atomically under a lock. It declares ``transactions`` and ``strong-reads`` and
    claims what a single node keeps; nothing more (no scheduling, no faults): it is
    probed by client threads, and the suite deletes what it wrote before ``close()``
    (``cleans_up`` is not set)."""

    def __init__(self) -> None:
        self._db: Database | None = empty(TABLE)
        self._lock = threading.Lock()
        self._descriptor = Descriptor(
            name="example",
            capabilities=frozenset({Capability.TRANSACTIONS, Capability.STRONG_READS}),
            claims=(
                Claim("linearizable-strong-reads", _READS | _WRITES,
                      "one node: every read sees the latest write"),
                Claim("linearizable-conditional-writes", frozenset({"conditional-write"})),
                Claim("serializable-transactions",
                      frozenset({"transact-write", "transact-get"})),
                Claim("atomic-transactions", frozenset({"transact-write"})),
                Claim("read-your-writes", _READS),
                Claim("monotonic-reads", _READS),
            ),
            tables=(TABLE,),
            notes="the example adapter of replicheck.properties.plugging_in",
        )

    @property
    def descriptor(self) -> Descriptor:
        """What the example can do and promises."""
        return self._descriptor

    def execute(self, request: Request) -> Response:
        """Answer ``request`` or raise one definite error of the family."""
        with self._lock:
            if self._db is None:
                raise ValidationError("the store is closed", what="store")
            return self._send(request)

    def _send(self, request: Request) -> Response:
        """The translation point: a real adapter calls its client here and maps each
        of its errors to one StoreError (a timeout after sending: Indeterminate)."""
        assert self._db is not None
        try:
            self._db, response = apply(self._db, request, time.monotonic())
        except StoreError:
            raise  # already one of the family: definite, nothing applied
        return response

    def close(self) -> None:
        """Drop the data (the suite calls this after each example)."""
        with self._lock:
            self._db = None


def make_store() -> ExampleStore:
    """The zero-argument factory ``--store`` names: a fresh, empty store."""
    return ExampleStore()
