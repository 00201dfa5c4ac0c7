"""Fresh namespaces on a shared server, and the suite cleaning up what it wrote.

A store factory (``--store package.module:factory``) is called once per Hypothesis
example and must hand out a store that holds nothing of earlier examples. For a real
service, starting a new server per example is too slow; instead the factory may hand
out a *fresh namespace on a shared server*: a new table, or a new key prefix, reached
through the same connection. The rules:

Isolation is the adapter's job
    The suite only ever sees the tables of ``descriptor.tables`` and the keys it
    writes itself (``k0``, ``k1``, ... in the first table). An adapter over a key
    prefix rewrites keys on the way in and out (:class:`PrefixedStore` does that for
    any Store); an adapter over a fresh table names that table in its descriptor.
    A store may expose the namespace it uses as the attribute ``namespace`` (a
    string, e.g. ``"table items-7f3a"`` or ``"prefix run-12/"``): failures name it.

The suite deletes what it wrote, unless the store cleans up itself
    After each example of a property that drives a store through its client API
    (the threaded property, :mod:`replicheck.properties.threaded`), the suite sends
    one unconditional ``Delete`` for every item any recorded request may have written
    (every put, update, delete and transaction action, whatever its outcome:
    an indeterminate write may have applied), through the store's own ``execute``,
    before it calls ``close()``. A store whose attribute ``cleans_up`` is True
    (it drops the table or the prefix in ``close()``, or it is in-memory) is left
    alone. :func:`cleans_up` reads that attribute, :func:`written_keys` lists the
    items, :func:`clean_up` deletes them.

``close()``
    Called after every example (after the cleanup), when the store has it: release
    connections, drop a temporary table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from replicheck.histories.history import History
from replicheck.implementation.store import (
    Capability,
    Claim,
    Descriptor,
    Namespaced,
    SelfCleaning,
    Store,
)
from replicheck.models.items.errors import (
    ConditionalCheckFailed,
    Indeterminate,
    StoreError,
    Throttled,
    TransactionCanceled,
    TransactionConflict,
    ValidationError,
)
from replicheck.models.items.requests import (
    ConditionCheck,
    Delete,
    Get,
    Item,
    Put,
    Request,
    Response,
    TransactGet,
    TransactWrite,
    Update,
    WriteAction,
)

__all__ = [
    "CLEANUP_ATTEMPTS",
    "CleanupError",
    "PrefixedStore",
    "clean_up",
    "cleans_up",
    "namespace_of",
    "written_keys",
]

CLEANUP_ATTEMPTS: Final = 3
"""How many times :func:`clean_up` sends a delete that was throttled, conflicted or
indeterminate before it gives up on that item."""

WRITE_KINDS: Final = frozenset({"put", "update", "delete", "transact-write"})

ItemKey = tuple[str, tuple[tuple[str, Any], ...]]
"""An item's address: its table and its key attributes as (name, value) pairs, in
the table's key order (hashable)."""


class CleanupError(RuntimeError):
    """The suite could not delete every item it wrote: ``left`` lists the items (as
    :data:`ItemKey`) still possibly there, ``namespace`` the store's namespace."""

    def __init__(self, left: tuple[ItemKey, ...], namespace: str | None) -> None:
        self.left = left
        self.namespace = namespace
        where = f" in {namespace}" if namespace else ""
        shown = ", ".join(f"{t}:{dict(k)}" for t, k in left[:5])
        more = f" and {len(left) - 5} more" if len(left) > 5 else ""
        super().__init__(f"could not delete {len(left)} item(s) the suite wrote{where}: "
                         f"{shown}{more}")


def cleans_up(store: object) -> bool:
    """True when ``store`` says it removes what the suite wrote itself (its attribute
    ``cleans_up`` is True); then the suite deletes nothing."""
    return isinstance(store, SelfCleaning) and store.cleans_up is True


def namespace_of(store: object) -> str | None:
    """The namespace ``store`` says it runs in (its ``namespace`` attribute), if any."""
    if not isinstance(store, Namespaced):
        return None
    namespace = store.namespace
    return str(namespace) if namespace is not None else None


def _key_of(descriptor: Descriptor, table: str, source: Mapping[str, Any]) -> ItemKey | None:
    try:
        schema = descriptor.table(table)
    except ValidationError:
        return None
    if any(a not in source for a in schema.key_attributes):
        return None
    return table, tuple((a, source[a]) for a in schema.key_attributes)


def _written_by(request: Request | WriteAction) -> Iterable[tuple[str, Mapping[str, Any]]]:
    if isinstance(request, Put):
        yield request.table, request.item
    elif isinstance(request, Update | Delete):
        yield request.table, request.key
    elif isinstance(request, TransactWrite):
        for action in request.actions:
            if not isinstance(action, ConditionCheck):
                yield from _written_by(action)


def written_keys(history: History | Iterable[Request], descriptor: Descriptor
                 ) -> tuple[ItemKey, ...]:
    """Every item a put, update, delete or transaction of ``history`` (a recorded item
    history, or plain requests) may have written, whatever its outcome, each once, in
    first-written order. Items of tables the descriptor does not serve are left out."""
    from replicheck.histories.items import request_of

    if isinstance(history, History):
        requests = [request_of(op) for op in history.operations if op.f in WRITE_KINDS]
    else:
        requests = list(history)
    seen: dict[ItemKey, None] = {}
    for request in requests:
        for table, source in _written_by(request):
            key = _key_of(descriptor, table, source)
            if key is not None:
                seen.setdefault(key, None)
    return tuple(seen)


_RETRIED: Final = (Indeterminate, Throttled, TransactionConflict)


def clean_up(store: Store, keys: Iterable[ItemKey], *,
             pause: Callable[[float], None] = time.sleep) -> tuple[ItemKey, ...]:
    """Delete each item of ``keys`` through ``store.execute`` (an unconditional
    ``Delete``), retrying a throttled, conflicting or indeterminate delete up to
    :data:`CLEANUP_ATTEMPTS` times; returns the items it could not delete (empty
    when every delete was acknowledged)."""
    left: list[ItemKey] = []
    for table, key in keys:
        request = Delete(table, dict(key))
        for attempt in range(CLEANUP_ATTEMPTS):
            try:
                store.execute(request)
            except _RETRIED:
                if attempt + 1 < CLEANUP_ATTEMPTS:
                    pause(0.01 * (attempt + 1))
                continue
            except StoreError:
                pass  # a definite refusal: nothing deleted
            else:
                break
            left.append((table, key))
            break
        else:
            left.append((table, key))
    return tuple(left)


# -- a key-prefix namespace over any store ------------------------------------------------

_FORWARDED: Final = frozenset({Capability.TRANSACTIONS, Capability.STRONG_READS})
_NEEDS: Final = {
    "linearizable-strong-reads": Capability.STRONG_READS,
    "serializable-transactions": Capability.TRANSACTIONS,
    "atomic-transactions": Capability.TRANSACTIONS,
}
_ONLY_CORE: Final = frozenset({
    "linearizable-strong-reads", "linearizable-conditional-writes",
    "serializable-transactions", "atomic-transactions", "read-your-writes",
    "monotonic-reads"})


@dataclass(frozen=True)
class _Keys:
    """Which attribute of each table carries the prefix (its partition key)."""

    partition: Mapping[str, str]

    def attribute(self, table: str) -> str | None:
        return self.partition.get(table)


class PrefixedStore:
    """A namespace on a shared server: every partition-key value the suite sends to
    ``server`` gets ``prefix`` in front, and every item coming back has it removed,
    so examples sharing one server never see each other's items.

    Only string partition-key values can be prefixed: any other value is refused
    with ValidationError (nothing is sent). Condition and update expressions are
    passed as they are, so an expression that compares the partition key's *value*
    would see the prefixed one (the suite's requests never do). The descriptor is
    the server's, with only the core capabilities (``transactions``,
    ``strong-reads``) and the claims that rest on them; ``namespace`` is
    ``"prefix <prefix>"``; ``cleans_up`` is False (the suite deletes what it wrote),
    and ``close()`` leaves the server running."""

    cleans_up = False

    def __init__(self, server: Store, prefix: str) -> None:
        if not prefix:
            raise ValueError("a namespace prefix must not be empty")
        self.server = server
        self.prefix = prefix
        self.namespace = f"prefix {prefix}"
        base = server.descriptor
        capabilities = frozenset(c for c in base.capabilities if c in _FORWARDED)
        claims = tuple(c for c in base.claims if c.guarantee in _ONLY_CORE and (
            c.guarantee not in _NEEDS or _NEEDS[c.guarantee] in capabilities))
        self._descriptor = replace(
            base, name=f"{base.name}[{prefix}]", capabilities=capabilities,
            claims=tuple(Claim(c.guarantee, c.operations, c.note) for c in claims),
            notes=f"{base.notes}; keys under the prefix {prefix!r}".lstrip("; "))
        self._keys = _Keys({t.name: t.partition_key for t in base.tables})

    @property
    def descriptor(self) -> Descriptor:
        """The server's descriptor, narrowed to the core capabilities (see above)."""
        return self._descriptor

    def execute(self, request: Request) -> Response:
        """Send ``request`` with prefixed keys; the answer (and a failed condition's
        or cancelled transaction's items) comes back without the prefix."""
        sent = self._request(request)
        try:
            response = self.server.execute(sent)
        except ConditionalCheckFailed as error:
            raise ConditionalCheckFailed(str(error), item=self._strip_item(
                request_table(request), error.item)) from None
        except TransactionCanceled as error:
            actions = request.actions if isinstance(request, TransactWrite) else ()
            reasons = tuple(
                replace(r, item=self._strip_item(actions[i].table, r.item))
                if r.item is not None and i < len(actions) else r
                for i, r in enumerate(error.reasons))
            raise TransactionCanceled(reasons, str(error)) from None
        if isinstance(request, TransactGet):
            items = tuple(self._strip_item(g.table, it)
                          for g, it in zip(request.gets, response.items, strict=False))
            return replace(response, items=items)
        return replace(response, item=self._strip_item(request_table(request), response.item))

    def close(self) -> None:
        """Nothing to release: the server is shared and stays up."""

    # -- rewriting --------------------------------------------------------------------

    def _value(self, value: Any, table: str) -> str:
        if not isinstance(value, str):
            raise ValidationError(
                f"namespace {self.prefix!r}: the partition key of table {table!r} must "
                f"be a string to be prefixed, got {type(value).__name__}",
                what="Key")
        return self.prefix + value

    def _key(self, table: str, key: Mapping[str, Any]) -> dict[str, Any]:
        attribute = self._keys.attribute(table)
        out = dict(key)
        if attribute is not None and attribute in out:
            out[attribute] = self._value(out[attribute], table)
        return out

    def _strip_item(self, table: str, item: Mapping[str, Any] | None) -> Item | None:
        if item is None:
            return None
        attribute = self._keys.attribute(table)
        out = dict(item)
        value = out.get(attribute) if attribute is not None else None
        if attribute is not None and isinstance(value, str) and value.startswith(self.prefix):
            out[attribute] = value[len(self.prefix):]
        return out

    def _action(self, action: WriteAction) -> WriteAction:
        if isinstance(action, Put):
            return replace(action, item=self._key(action.table, action.item))
        return replace(action, key=self._key(action.table, action.key))

    def _request(self, request: Request) -> Request:
        if isinstance(request, Get):
            return replace(request, key=self._key(request.table, request.key))
        if isinstance(request, TransactWrite):
            return replace(request, actions=tuple(self._action(a) for a in request.actions))
        if isinstance(request, TransactGet):
            return replace(request, gets=tuple(
                replace(g, key=self._key(g.table, g.key)) for g in request.gets))
        if isinstance(request, Put):
            return replace(request, item=self._key(request.table, request.item))
        return replace(request, key=self._key(request.table, request.key))


def request_table(request: Request) -> str:
    """The table a single-item request addresses (the first action's for a
    transaction)."""
    if isinstance(request, TransactWrite):
        return request.actions[0].table if request.actions else ""
    if isinstance(request, TransactGet):
        return request.gets[0].table if request.gets else ""
    return request.table

