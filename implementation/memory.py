"""A single-node, in-memory store that answers exactly as the item-store model says.

The first store under test: no replication, no faults. Every request is applied
atomically by ``replicheck.models.items.operations.apply``, so every read is strong
and every guarantee about clients' observations holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from replicheck.implementation.store import Capability, Claim, Descriptor
from replicheck.models.items.operations import Database, apply, empty
from replicheck.models.items.requests import Request, Response, TableSchema

DEFAULT_TABLE = TableSchema("items", partition_key="pk")
"""The table a store serves when none is named: string/number/binary key ``pk``."""

_ALL_READS = frozenset({"get-strong", "get-eventual", "transact-get"})
_ALL_WRITES = frozenset({"put", "update", "delete", "conditional-write", "transact-write"})


class MemoryStore:
    """One node, one lock, the model's semantics. ``clock`` (seconds) times client
    request tokens; it defaults to the monotonic clock."""

    def __init__(self, *tables: TableSchema, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        schemas = tables or (DEFAULT_TABLE,)
        self._db: Database = empty(*schemas)
        self._clock = clock
        self._lock = threading.Lock()
        everything = _ALL_READS | _ALL_WRITES
        self._descriptor = Descriptor(
            name="memory",
            capabilities=frozenset({Capability.TRANSACTIONS, Capability.STRONG_READS}),
            claims=(
                Claim("linearizable-strong-reads", everything,
                      "one node: every read, eventual or strong, sees the latest write"),
                Claim("linearizable-conditional-writes", frozenset({"conditional-write"})),
                Claim("serializable-transactions",
                      frozenset({"transact-write", "transact-get"})),
                Claim("atomic-transactions", frozenset({"transact-write"})),
                Claim("read-your-writes", _ALL_READS),
                Claim("monotonic-reads", _ALL_READS),
            ),
            tables=schemas,
            notes="single node, in memory, the item-store model's semantics",
        )

    @property
    def descriptor(self) -> Descriptor:
        """Single node; transactions and strong reads; claims every client guarantee."""
        return self._descriptor

    def execute(self, request: Request) -> Response:
        """Apply ``request`` atomically; raises the model's definite errors."""
        with self._lock:
            self._db, response = apply(self._db, request, self._clock())
            return response

    def snapshot(self) -> Database:
        """The whole current state (an immutable value)."""
        with self._lock:
            return self._db
