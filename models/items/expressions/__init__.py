"""Condition, update and projection expressions: a parser to a typed AST and an
evaluator that gives them their meaning, with DynamoDB's semantics and errors.

The facade the rest of replicheck calls::

    parse_condition(text, what="ConditionExpression") -> Condition
    parse_update(text) -> Update
    parse_projection(text) -> Projection
    evaluate_condition(condition, item_or_None, names, values) -> bool
    apply_update(update, item_or_None, names, values) -> dict      # a new item
    project(projection, item, names) -> dict
    updated_paths(update, names) -> frozenset[str]                  # top-level names
    check_placeholders(names, values, *parsed) -> None              # one request
    unparse(node) -> str                                            # also str(node)

Every fault is a :class:`~replicheck.models.items.errors.ValidationError` naming the
input (``what``), the 0-based character ``position`` where there is one, and what was
``expected``; ``message`` is DynamoDB's wording. DynamoDB's documented limits on
expressions (``limits.py``) are enforced, each exceeded one a :class:`LimitExceeded`
naming the limit and its figure; nothing here recurses on the Python stack to a depth the
input controls. Importing this package has no side effects.
"""

from __future__ import annotations

from replicheck.models.items.expressions.evaluate import (
    ConditionContext,
    evaluate_condition,
    validate_condition,
)
from replicheck.models.items.expressions.limits import (
    MAX_ATTRIBUTE_NAME_BYTES,
    MAX_EXPRESSION_BYTES,
    MAX_IN_OPERANDS,
    MAX_OPERATORS,
    MAX_PATH_DEPTH,
    MAX_PLACEHOLDER_BYTES,
    MAX_SUBSTITUTION_BYTES,
    LimitExceeded,
)
from replicheck.models.items.expressions.nodes import (
    COMPARATORS,
    AddAction,
    And,
    Arithmetic,
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Between,
    BoolExpr,
    Compare,
    Condition,
    Contains,
    DeleteAction,
    IfNotExists,
    In,
    Index,
    ListAppend,
    Name,
    NamePlaceholder,
    Node,
    Not,
    Operand,
    Or,
    Path,
    PathElement,
    Projection,
    RemoveAction,
    SetAction,
    SetValue,
    Size,
    Update,
    UpdateOperand,
    ValueRef,
    unparse,
)
from replicheck.models.items.expressions.parser import (
    parse_condition,
    parse_projection,
    parse_update,
)
from replicheck.models.items.expressions.paths import MISSING, ResolvedPath, read_path
from replicheck.models.items.expressions.placeholders import (
    Parsed,
    check_placeholders,
    placeholders_of,
)
from replicheck.models.items.expressions.projection import project, resolved_projection_paths
from replicheck.models.items.expressions.reserved import RESERVED_WORDS, is_reserved
from replicheck.models.items.expressions.update import (
    UpdateContext,
    apply_update,
    resolved_update_paths,
    updated_paths,
    validate_update,
)

__all__ = [
    "COMPARATORS",
    "MAX_ATTRIBUTE_NAME_BYTES",
    "MAX_EXPRESSION_BYTES",
    "MAX_IN_OPERANDS",
    "MAX_OPERATORS",
    "MAX_PATH_DEPTH",
    "MAX_PLACEHOLDER_BYTES",
    "MAX_SUBSTITUTION_BYTES",
    "MISSING",
    "RESERVED_WORDS",
    "AddAction",
    "And",
    "Arithmetic",
    "AttributeExists",
    "AttributeNotExists",
    "AttributeType",
    "BeginsWith",
    "Between",
    "BoolExpr",
    "Compare",
    "Condition",
    "ConditionContext",
    "Contains",
    "DeleteAction",
    "IfNotExists",
    "In",
    "Index",
    "LimitExceeded",
    "ListAppend",
    "Name",
    "NamePlaceholder",
    "Node",
    "Not",
    "Operand",
    "Or",
    "Parsed",
    "Path",
    "PathElement",
    "Projection",
    "RemoveAction",
    "ResolvedPath",
    "SetAction",
    "SetValue",
    "Size",
    "Update",
    "UpdateContext",
    "UpdateOperand",
    "ValueRef",
    "apply_update",
    "check_placeholders",
    "evaluate_condition",
    "is_reserved",
    "parse_condition",
    "parse_projection",
    "parse_update",
    "placeholders_of",
    "project",
    "read_path",
    "resolved_projection_paths",
    "resolved_update_paths",
    "unparse",
    "updated_paths",
    "validate_condition",
    "validate_update",
]
