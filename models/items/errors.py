"""The typed error family of the DynamoDB-shaped API.

One home for every error a store (or the item-store model) can answer with. All but
``Indeterminate`` are definite: the request applied nothing. ``Indeterminate`` means
the outcome is unknown (timeout, unavailable): it may or may not have applied, and it
is never to be read as a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class StoreError(Exception):
    """Base of the family. ``definite`` is True when nothing was applied."""

    definite: bool = True
    code: str = "StoreError"


class ValidationError(StoreError):
    """Bad input: nothing applied.

    ``what`` names the input at fault (e.g. ``"ConditionExpression"``), ``position`` is
    the 0-based character offset in that input when the fault has one, ``expected``
    says what would have been accepted there.
    """

    code = "ValidationError"

    def __init__(
        self,
        message: str,
        *,
        what: str | None = None,
        position: int | None = None,
        expected: str | None = None,
        text: str | None = None,
    ) -> None:
        self.message = message
        self.what = what
        self.position = position
        self.expected = expected
        self.text = text
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.what:
            parts.append(f"Invalid {self.what}")
        if self.position is not None:
            parts.append(f"at character {self.position}")
        head = " ".join(parts)
        body = self.message
        if self.expected and "expected" not in body:
            body = f"{body.rstrip(';')}; expected {self.expected}"
        line = f"{head}: {body}" if head else body
        if self.text is not None and self.position is not None:
            pointer = " " * self.position + "^"
            line = f"{line}\n  {self.text}\n  {pointer}"
        return line


class ConditionalCheckFailed(StoreError):
    """The condition expression evaluated to false; nothing applied.

    ``item`` is the item as it was, when the request asked for it
    (ReturnValuesOnConditionCheckFailure=ALL_OLD), else ``None``."""

    code = "ConditionalCheckFailed"

    def __init__(self, message: str = "The conditional request failed",
                 item: Mapping[str, Any] | None = None) -> None:
        self.item = dict(item) if item is not None else None
        super().__init__(message)


@dataclass(frozen=True)
class CancellationReason:
    """Why one action of a cancelled transaction could not apply.

    ``code`` is ``"None"`` for an action that was fine (DynamoDB's spelling), else
    ``"ConditionalCheckFailed"``, ``"TransactionConflict"``, ``"ValidationError"``, ...
    ``item`` carries the old item when the action asked for it."""

    code: str
    message: str = ""
    item: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True for an action that did not cause the cancellation."""
        return self.code == "None"


class TransactionCanceled(StoreError):
    """The whole transaction applied nothing. ``reasons`` has one entry per action,
    in request order."""

    code = "TransactionCanceled"

    def __init__(self, reasons: tuple[CancellationReason, ...], message: str = "") -> None:
        self.reasons = tuple(reasons)
        codes = ", ".join(r.code for r in self.reasons)
        super().__init__(message or f"Transaction cancelled, reasons [{codes}]")


class TransactionConflict(StoreError):
    """The request conflicted with a transaction in flight on the same item."""

    code = "TransactionConflict"


class IdempotentParameterMismatch(StoreError):
    """A client request token was reused with a different request."""

    code = "IdempotentParameterMismatch"


class Throttled(StoreError):
    """The request was rejected before it applied anything."""

    code = "Throttled"


class Indeterminate(StoreError):
    """Timeout or unavailability: the request may or may not have applied."""

    definite = False
    code = "Indeterminate"
