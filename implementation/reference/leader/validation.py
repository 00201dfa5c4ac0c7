"""DynamoDB's input checks that need no stored item, run before a request travels.

They live with the item model (``replicheck.models.items.validation``), so this store
refuses exactly what the model refuses; checks that depend on the stored item (an
update whose result is too big, arithmetic on a missing attribute) are made by the
partition leader with the item-store model, and answered as definite errors there.
"""

from __future__ import annotations

from replicheck.implementation.reference.leader.config import ref_of
from replicheck.models.items.validation import (
    MAX_ITEM_BYTES,
    check_item_size,
    item_size,
    validate_request,
    value_size,
)

__all__ = ["MAX_ITEM_BYTES", "check_item_size", "item_size", "ref_of", "validate_request",
           "value_size"]
