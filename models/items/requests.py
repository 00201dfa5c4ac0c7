"""The requests and answers of the DynamoDB-shaped item API, as plain values.

One vocabulary shared by the item-store model, the Store contract, the recorder and
the checkers. Attribute values are boto3 resource-style Python values (see
``replicheck.models.items.values``). Expressions travel as text with their
placeholder maps, exactly as a client sends them; the model parses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Item = dict[str, Any]
"""An item: attribute name -> value."""

ReturnValues = Literal["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]

RETURN_VALUES: Final[tuple[str, ...]] = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW",
                                         "UPDATED_NEW")

MAX_TRANSACTION_ACTIONS: Final = 100
"""DynamoDB's limit on the actions of one transaction."""

IDEMPOTENCY_WINDOW_SECONDS: Final = 600.0
"""How long a ClientRequestToken is remembered (10 minutes)."""


@dataclass(frozen=True)
class TableSchema:
    """A table's name and primary key: a partition key and an optional sort key."""

    name: str
    partition_key: str
    sort_key: str | None = None

    @property
    def key_attributes(self) -> tuple[str, ...]:
        """The key attribute names, partition key first."""
        return (self.partition_key,) if self.sort_key is None else (
            self.partition_key, self.sort_key)


@dataclass(frozen=True)
class Get:
    """GetItem: read one item, strongly (``consistent``) or eventually consistently."""

    table: str
    key: Mapping[str, Any]
    consistent: bool = False
    projection: str | None = None
    names: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Put:
    """PutItem: replace the whole item, if ``condition`` holds on the old one."""

    table: str
    item: Mapping[str, Any]
    condition: str | None = None
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None
    return_values: ReturnValues = "NONE"
    return_old_on_condition_failure: bool = False


@dataclass(frozen=True)
class Update:
    """UpdateItem: apply an update expression (creating the item if absent), if
    ``condition`` holds on the old item."""

    table: str
    key: Mapping[str, Any]
    update: str
    condition: str | None = None
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None
    return_values: ReturnValues = "NONE"
    return_old_on_condition_failure: bool = False


@dataclass(frozen=True)
class Delete:
    """DeleteItem: remove the item, if ``condition`` holds on it."""

    table: str
    key: Mapping[str, Any]
    condition: str | None = None
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None
    return_values: ReturnValues = "NONE"
    return_old_on_condition_failure: bool = False


@dataclass(frozen=True)
class ConditionCheck:
    """A transaction action that only checks ``condition`` on an item."""

    table: str
    key: Mapping[str, Any]
    condition: str
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None
    return_old_on_condition_failure: bool = False


WriteAction = Put | Update | Delete | ConditionCheck


@dataclass(frozen=True)
class TransactWrite:
    """TransactWriteItems: up to 100 actions on distinct items, all or nothing.

    ``token`` is the ClientRequestToken: the same token with the same request within
    the idempotency window applies once and answers the same."""

    actions: tuple[WriteAction, ...]
    token: str | None = None


@dataclass(frozen=True)
class TransactGet:
    """TransactGetItems: an atomic snapshot of up to 100 items."""

    gets: tuple[Get, ...]


Request = Get | Put | Update | Delete | TransactWrite | TransactGet
"""Every request a Store answers."""


@dataclass(frozen=True)
class Response:
    """A successful answer.

    ``item``: for Get, the item (``None`` when absent); for Put, Update and Delete,
    the attributes ``return_values`` asked for (``None`` for NONE or nothing to
    return). ``items``: for TransactGet, one entry per get, in request order."""

    item: Item | None = None
    items: tuple[Item | None, ...] = field(default_factory=tuple)


def request_kind(request: Request) -> str:
    """The operation kind used by claims and histories: ``get-strong``,
    ``get-eventual``, ``put``, ``update``, ``delete``, ``transact-write`` or
    ``transact-get``."""
    if isinstance(request, Get):
        return "get-strong" if request.consistent else "get-eventual"
    return {
        Put: "put",
        Update: "update",
        Delete: "delete",
        TransactWrite: "transact-write",
        TransactGet: "transact-get",
    }[type(request)]
