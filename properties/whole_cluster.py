"""Every kind of request, sent together to a whole cluster, is answered.

The simplest case of both availability promises (``majority-availability``,
``sloppy-quorum-availability``): with every node up and connected, no request may go
unanswered. Every safety guarantee accepts a client's timeout, so a store that drops
a request on a path only some requests take (a single-partition TransactGetItems, a
strong read arriving while a write is being replicated, a conditional update waiting
for a lock) passes them all; the other availability probes send only reads and puts,
each after faults. This probe sends, at once, on a copy of the store
(:class:`~replicheck.implementation.store.Forkable`) taken at the end of the
concurrency property (after its teardown healed and restarted everything), every
request kind the store offers on the suite's key pool, so they contend for the same
items:

- per key: a strong read (with strong reads), an eventually consistent read, a put,
  a create (a put on condition ``attribute_not_exists``), an increment (UpdateItem
  ``ADD``) and a conditional delete;
- with transactions: a TransactWriteItems incrementing one key (one partition), one
  putting every key (every partition holding one), a TransactGetItems of one key and
  one of every key.

On a store that declares a ``failover`` window (the time a partition may take to
answer again after a disruption: a node that just restarted or resumed may start an
election), the copy first runs for that long. Each request is sent through the
store's own routing by its own client; the fair policy runs
until every one completed (at most
:data:`~replicheck.properties.liveness.MAX_SECONDS` of simulated time). The probes
are the ``whole_cluster`` member of the ``availability`` observation, each with its
request's name, key and how it completed; the availability promise the store claims
is broken by any that was not answered ``ok`` or with a definite error (a failed
condition, a cancelled or conflicting transaction are answers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from replicheck.implementation.store import (
    Capability,
    Forkable,
    MessageControl,
    Schedulable,
    TimeControl,
)
from replicheck.models.items.requests import (
    Delete,
    Get,
    Put,
    Request,
    TransactGet,
    TransactWrite,
    Update,
)

__all__ = ["FIELD", "can_probe_whole", "unanswered_whole", "whole_cluster_probes",
           "whole_probes"]

FIELD: Final = "whole_cluster"
"""The member of the ``availability`` observation holding these probes."""


def can_probe_whole(store: Any) -> bool:
    """Whether the probe can run on ``store``: forkable, schedulable, with time
    control and message control (the fair policy)."""
    return (isinstance(store, Forkable) and isinstance(store, Schedulable)
            and isinstance(store, TimeControl) and isinstance(store, MessageControl))


def requests_together(store: Any, table: str, pk: str, keys: Sequence[str]
                      ) -> list[tuple[str, str, Request]]:
    """The requests of the module docstring as ``(name, keys, request)``, for the
    request kinds ``store`` offers."""
    strong = store.descriptor.has(Capability.STRONG_READS)
    transactions = store.descriptor.has(Capability.TRANSACTIONS)
    out: list[tuple[str, str, Request]] = []
    for key in keys:
        item = {pk: key}
        if strong:
            out.append(("strong read", key, Get(table, item, consistent=True)))
        out += [
            ("read", key, Get(table, item)),
            ("put", key, Put(table, {pk: key, "v": f"together-{key}"})),
            ("create", key, Put(table, {pk: key, "v": f"created-{key}"},
                                condition="attribute_not_exists(#k)", names={"#k": pk})),
            ("increment", key, Update(table, item, "ADD n :one", values={":one": 1})),
            ("conditional delete", key, Delete(table, item, condition="attribute_exists(#k)",
                                               names={"#k": pk})),
        ]
    if transactions and keys:
        first, every = {pk: keys[0]}, ", ".join(keys)
        out += [
            ("transaction on one key", keys[0], TransactWrite((
                Update(table, first, "ADD n :one", values={":one": 1}),))),
            ("transaction on every key", every, TransactWrite(tuple(
                Put(table, {pk: k, "v": f"together-txn-{k}"}) for k in keys))),
            ("transactional read of one key", keys[0], TransactGet((Get(table, first),))),
            ("transactional read of every key", every, TransactGet(tuple(
                Get(table, {pk: k}) for k in keys))),
        ]
    return out


def whole_cluster_probes(store: Any, table: str, pk: str, keys: Sequence[str]
                         ) -> list[dict[str, Any]]:
    """The probes of the module docstring on a copy of ``store`` (left as it was), for
    the items of ``table`` whose partition key ``pk`` is one of ``keys``; none when
    the store cannot be probed."""
    from replicheck.properties.liveness import probe_outcomes, run_until

    if not can_probe_whole(store):
        return []
    twin = store.fork()
    failover = store.descriptor.windows.failover
    if failover is not None:
        twin.run_for(float(failover))  # the promise holds once its failover window passed
    sent: list[tuple[dict[str, Any], Any]] = []
    for name, key, request in requests_together(store, table, pk, keys):
        entry = {"request": name, "key": key}
        sent.append((entry, twin.submit(f"together-{len(sent)}", request)))
    run_until(twin, lambda: all(h.done for _, h in sent))
    return probe_outcomes(sent)


def whole_probes(observations: Sequence[Any]) -> list[dict[str, Any]]:
    """The whole-cluster probes of ``availability`` observation values."""
    return [p for o in observations if isinstance(o, dict)
            for p in o.get(FIELD, ()) if isinstance(p, dict)]


def unanswered_whole(probes: Sequence[dict[str, Any]]) -> list[str]:
    """What breaks the promise among ``probes``: each not answered ``ok`` or with a
    definite error, in words."""
    return [f"with every node up and connected, a {p.get('request')} (key(s) "
            f"{p.get('key')}), sent together with every other kind of request through "
            f"the store's routing, was never answered ({p.get('status')}: no reply "
            "within the client's timeout)"
            for p in probes if p.get("status") not in ("ok", "error")]
