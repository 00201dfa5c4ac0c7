"""Checking your own store: how to plug a store into replicheck's suite.

This page is for people who built (or operate) a key-value store and want
replicheck's properties to run against it. It ends with a complete, runnable
adapter (:class:`ExampleStore`, built by :func:`make_store`) that passes the suite::

    pytest --pyargs replicheck.properties --store replicheck.properties.plugging_in:make_store

1. The Store contract, in brief
-------------------------------
A store is any object with two members (``replicheck.implementation.store.Store``):

``execute(request) -> Response``
    Answer one DynamoDB-shaped request (``Get``, ``Put``, ``Update``, ``Delete``,
    ``TransactWrite``, ``TransactGet`` from ``replicheck.models.items.requests``)
    synchronously: return a ``Response`` (``item`` for a get or for
    ``return_values``; ``items`` for a TransactGet) or raise exactly one error of
    ``replicheck.models.items.errors``: ``ConditionalCheckFailed``,
    ``TransactionCanceled`` (reasons per action, in request order),
    ``TransactionConflict``, ``IdempotentParameterMismatch``, ``ValidationError``,
    ``Throttled`` -- all *definite*: nothing was applied -- or ``Indeterminate`` (a
    timeout, a lost connection after sending: it may or may not have applied).
    Never report an indeterminate outcome as a definite error: the checkers trust
    a definite error to mean "nothing happened".

``descriptor`` (a ``Descriptor``)
    What the store is, as data:

    - ``capabilities``: what it can do beyond the core operations --
      ``transactions``, ``strong-reads``, ``versions``, ``replica-introspection``,
      ``anti-entropy``, ``stream``, ``faults``, ``deterministic-scheduling``. Each
      capability beyond the first two has a protocol of methods in
      ``implementation/store.py`` (``Introspectable``, ``AntiEntropy``,
      ``Streaming``, ``FaultInjectable``, ``Schedulable``, ``Versioned``);
      declaring one means implementing its methods.
    - ``claims``: the guarantees the store promises (``Claim(guarantee,
      operations)``, e.g. ``Claim("linearizable-strong-reads",
      frozenset({"get-strong", "put"}))``). Claims are what the suite *fails* on.
    - ``weaknesses``: anomalies (Elle's names: ``stale-read``, ``lost-update``, ...)
      the store knowingly does not prevent; they are reported, never failed.
    - ``tables``: the tables it serves, with their key schemas (``TableSchema``).
      The suite writes to the first one.

``close()`` (optional)
    Release connections, processes, temporary directories. The suite calls your
    factory once per Hypothesis example and ``close()`` on each store afterwards.

``replicheck.implementation.store.check_store(store)`` lists the ways a store
breaks the contract (a capability without its methods, a claim without the
capability it needs); the suite's first test asserts it is empty.

2. Writing the adapter
----------------------
Write a module with a zero-argument factory returning a *fresh* store, with the
data of the previous example gone (a new table, a truncated keyspace, a new
container...). :class:`ExampleStore` below is complete: it keeps items in memory
and answers through the item model, standing in for the client of a real store.
For a real store, replace :meth:`ExampleStore._send` with calls to your client and
map its errors one to one (``implementation/store.py`` shows the mapping for
DynamoDB through boto3 and for etcd).

3. Running the suite
--------------------
::

    pytest --pyargs replicheck.properties --store mypkg.mymod:make_store
    REPLICHECK_MAX_EXAMPLES=5 pytest --pyargs replicheck.properties --store ...   # smoke
    pytest --pyargs replicheck.properties --store ... --replicheck-profile thorough

``--store`` also takes a preset name (``dynamodb``, ``dynamo-lww``,
``dynamo-quorum``, ``global-tables``). An unknown or broken target is one error
line saying what was looked up and what was found. Profiles: ``quick`` (default),
``ci`` (derandomized, chosen when ``CI`` is set), ``thorough``.

4. What capabilities and claims change
--------------------------------------
- A test needing a capability the store lacks is *skipped with the reason*
  (``-rs`` shows it: "not applicable: mystore lacks the capability
  deterministic-scheduling"). Without ``deterministic-scheduling`` the
  concurrent-histories machine does not run; with it, Hypothesis chooses every
  message delivery, drop, duplication and timer, and with ``faults`` also
  partitions, crashes, restarts and clock skews.
- The conformance machine compares the store's answers with the sequential item
  model only for the operation kinds a linearizability, serializability or
  atomicity claim covers; a store claiming none of them skips it.
- After each concurrent example every claimed guarantee is judged on the recorded
  history: a claimed guarantee violated *fails* the test with the checker's
  explanation; an anomaly on something the store does not claim (or lists in
  ``weaknesses``) is an *observation*: it is printed in the "replicheck
  observations" section of the terminal summary and never fails. So claim only
  what you promise: an eventually consistent store that claims
  ``linearizable-strong-reads`` will (rightly) fail.

5. Reading a failure
--------------------
A failing property prints the shrunk sequence of steps (the rules Hypothesis ran),
the claimed guarantee that broke and the checker's explanation (which operations,
why no order of them is allowed). Under the ``ci`` profile (derandomized, no example
database) it also prints an ``@reproduce_failure(...)`` blob: paste it above the test
to rerun exactly that example. Under ``quick`` and ``thorough`` the failure is saved
in Hypothesis's example database and replayed first on the next run.

For schedulable stores, a failing run's scheduler decisions can be written to a
schedule file (:mod:`replicheck.properties.schedule`) and rerun, deterministically,
without Hypothesis::

    replicheck replay replicheck-failure.json          # history + judgements
    replicheck replay replicheck-failure.json --json   # one JSON object

It exits 0 when every claimed guarantee holds, 1 when one is violated, 3 when a
checker ran out of time, 2 for a bad file (naming the step at fault). The history it
prints is a JSON-lines history: ``replicheck check`` reads it too.
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
    claims what a single node keeps; nothing more (no scheduling, no faults), so the
    concurrent machine is skipped with its reason."""

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
