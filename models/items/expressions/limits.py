"""DynamoDB's documented limits on expressions, each with one home here.

The figures are those of the Amazon DynamoDB Developer Guide, page "Service, account,
and table quotas in Amazon DynamoDB" (ServiceQuotas.html; formerly "Limits"), sections
"Expression parameters" (Lengths; Operators and operands), "Attributes" (Nested attribute
depth) and "Naming rules" (Attribute names). The guide counts sizes in binary units
(1 KB = 1024 bytes, 1 MB = 1024 KB) and lengths of text in UTF-8 bytes.

Exceeding a limit is a :class:`LimitExceeded`, a ``ValidationError`` that names the
limit, its figure, the figure found and the parameter (and offset) where it was found.
The parser raises it as soon as the limit is crossed, before any further work, so the
work spent on an expression is bounded by these figures whatever the input.
"""

from __future__ import annotations

from typing import Any, Final

from replicheck.models.items.errors import ValidationError

__all__ = [
    "MAX_ATTRIBUTE_NAME_BYTES",
    "MAX_EXPRESSION_BYTES",
    "MAX_IN_OPERANDS",
    "MAX_OPERATORS",
    "MAX_PATH_DEPTH",
    "MAX_PLACEHOLDER_BYTES",
    "MAX_SUBSTITUTION_BYTES",
    "LimitExceeded",
    "check_attribute_name_length",
    "check_expression_size",
    "check_path_depth",
    "check_placeholder_length",
    "utf8_length",
]

MAX_EXPRESSION_BYTES: Final = 4 * 1024
"""The longest expression string, in UTF-8 bytes: "The maximum length of any expression
string is 4 KB" (Developer Guide, Service quotas, Expression parameters > Lengths; the
``ConditionExpression`` ``a=b`` is 3 bytes). Applies to ConditionExpression,
UpdateExpression, ProjectionExpression and FilterExpression alike."""

MAX_PLACEHOLDER_BYTES: Final = 255
"""The longest expression attribute name (``#name``) or value (``:val``), in bytes,
prefix included: "The maximum length of any single expression attribute name or
expression attribute value is 255 bytes. For example, #name is 5 bytes; :val is 4
bytes" (Developer Guide, Service quotas, Expression parameters > Lengths)."""

MAX_SUBSTITUTION_BYTES: Final = 2 * 1024 * 1024
"""The most bytes of substitution variables one request may carry: "The maximum length
of all substitution variables in an expression is 2 MB. This is the sum of the lengths
of all ExpressionAttributeNames and ExpressionAttributeValues" (Developer Guide, Service
quotas, Expression parameters > Lengths). Counted as every placeholder's bytes plus its
name's bytes or its value's size (``validation.value_size``)."""

MAX_OPERATORS: Final = 300
"""The most operators or functions one expression may hold: "The maximum number of
operators or functions allowed in an UpdateExpression is 300. For example, the
UpdateExpression SET a = :val1 + :val2 + :val3 contains two "+" operators" (Developer
Guide, Service quotas, Expression parameters > Operators and operands). DynamoDB holds
condition and filter expressions to the same figure ("Invalid FilterExpression: The
expression contains too many operators; operator count: 301"), counting comparators,
AND, OR, NOT, BETWEEN, IN and function calls but not parentheses. Counted here: in a
condition, each comparator, AND, OR, NOT, BETWEEN, IN and function call (``size``
included); in an update, each ``+``, ``-`` and function call."""

MAX_IN_OPERANDS: Final = 101
"""The most operands an IN may have, counting the one on its left: "The maximum number
of operands for the IN comparator is 100" (Developer Guide, Service quotas, Expression
parameters > Operators and operands), that is at most 100 values in its list."""

MAX_PATH_DEPTH: Final = 32
"""The most elements a document path may have (``a.b[0]`` has 3): "DynamoDB supports
nested attributes up to 32 levels deep" (Developer Guide, Service quotas, Attributes >
Nested attribute depth). DynamoDB answers a longer path with "The document path has too
many nesting levels"."""

MAX_ATTRIBUTE_NAME_BYTES: Final = 64 * 1024
"""The longest attribute name, in UTF-8 bytes: "In general, an attribute name must be
at least one character long, but no greater than 64 KB long" (Developer Guide, Service
quotas, Naming rules > Attribute names). Applies to the names an
ExpressionAttributeNames entry stands for and to an item's attribute names."""


class LimitExceeded(ValidationError):
    """A documented DynamoDB limit exceeded: a :class:`ValidationError` (the request
    applies nothing) whose ``limit`` names the limit and ``figure`` its value. The
    parsers let it through their backtracking: no other reading of the text can undo
    it."""

    def __init__(self, message: str, *, limit: str, figure: int, what: str | None = None,
                 position: int | None = None) -> None:
        self.limit = limit
        self.figure = figure
        super().__init__(message, what=what, position=position,
                         expected=f"at most {figure} ({limit})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_limit_exceeded, (self.message, self.limit, self.figure, self.what,
                                  self.position))


def _limit_exceeded(message: str, limit: str, figure: int, what: str | None,
                    position: int | None) -> LimitExceeded:
    return LimitExceeded(message, limit=limit, figure=figure, what=what, position=position)


def utf8_length(text: str) -> int:
    """The length of ``text`` in UTF-8 bytes, as DynamoDB counts it (a lone surrogate,
    which no valid request holds, counts 3 bytes)."""
    return len(text.encode("utf-8", "surrogatepass"))


def check_expression_size(text: str, what: str) -> None:
    """Raise :class:`LimitExceeded` when ``text`` is over :data:`MAX_EXPRESSION_BYTES`.
    Checked before anything else is done with the text. The error points at the
    character where the limit is crossed; the text itself is not repeated in it."""
    encoded = text.encode("utf-8", "surrogatepass")
    size = len(encoded)
    if size <= MAX_EXPRESSION_BYTES:
        return
    crossed = len(encoded[:MAX_EXPRESSION_BYTES].decode("utf-8", "ignore"))
    raise LimitExceeded(
        "Expression size has exceeded the maximum allowed size; expression size: "
        f"{size} bytes, limit: {MAX_EXPRESSION_BYTES} bytes (maximum length of an "
        "expression string)",
        limit="maximum length of an expression string, in bytes",
        figure=MAX_EXPRESSION_BYTES, what=what, position=crossed,
    )


def check_placeholder_length(placeholder: str, what: str, position: int | None) -> None:
    """Raise :class:`LimitExceeded` when the placeholder ``placeholder`` (``#name`` or
    ``:value``, prefix included) is over :data:`MAX_PLACEHOLDER_BYTES`."""
    size = utf8_length(placeholder)
    if size <= MAX_PLACEHOLDER_BYTES:
        return
    kind = "expression attribute name" if placeholder.startswith("#") else (
        "expression attribute value")
    shown = placeholder if len(placeholder) <= 40 else placeholder[:37] + "..."
    raise LimitExceeded(
        f"The {kind} {shown} is too long; length: {size} bytes, limit: "
        f"{MAX_PLACEHOLDER_BYTES} bytes (maximum length of an {kind})",
        limit=f"maximum length of an {kind}, in bytes",
        figure=MAX_PLACEHOLDER_BYTES, what=what, position=position,
    )


def check_attribute_name_length(name: str, what: str) -> None:
    """Raise :class:`LimitExceeded` when the attribute name ``name`` is over
    :data:`MAX_ATTRIBUTE_NAME_BYTES`; ``what`` names where it was given."""
    size = utf8_length(name)
    if size <= MAX_ATTRIBUTE_NAME_BYTES:
        return
    raise LimitExceeded(
        f"An attribute name is too long; length: {size} bytes, limit: "
        f"{MAX_ATTRIBUTE_NAME_BYTES} bytes (maximum length of an attribute name)",
        limit="maximum length of an attribute name, in bytes",
        figure=MAX_ATTRIBUTE_NAME_BYTES, what=what,
    )


def check_path_depth(depth: int, what: str | None, position: int | None) -> None:
    """Raise :class:`LimitExceeded` when a document path of ``depth`` elements is
    deeper than :data:`MAX_PATH_DEPTH`; ``position`` is where the limit is crossed."""
    if depth <= MAX_PATH_DEPTH:
        return
    raise LimitExceeded(
        f"The document path has too many nesting levels; nesting levels: {depth}, limit: "
        f"{MAX_PATH_DEPTH} (maximum depth of a document path)",
        limit="maximum depth of a document path (nested attribute levels)",
        figure=MAX_PATH_DEPTH, what=what, position=position,
    )
