"""The typed AST of condition, update and projection expressions.

Every node is a frozen dataclass. ``pos`` is the 0-based character offset in the
source text the node came from (its keyword, operator or first token); it takes no
part in equality or hashing, so a parsed tree equals a hand-built one. ``str(node)``
(or :func:`unparse`) prints the canonical expression text: single spaces, upper-case
keywords, and parentheses only where precedence needs them, so that parsing it gives
the same tree back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

__all__ = [
    "COMPARATORS",
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
    "Contains",
    "DeleteAction",
    "IfNotExists",
    "In",
    "Index",
    "ListAppend",
    "Name",
    "NamePlaceholder",
    "Node",
    "Not",
    "Operand",
    "Or",
    "Path",
    "PathElement",
    "Projection",
    "RemoveAction",
    "SetAction",
    "SetValue",
    "Size",
    "Update",
    "UpdateOperand",
    "ValueRef",
    "unparse",
]

COMPARATORS: tuple[str, ...] = ("=", "<>", "<", "<=", ">", ">=")
"""The comparison operators, as written."""


@dataclass(frozen=True)
class Node:
    """Base of every AST node: carries the source offset ``pos`` (not compared)."""

    pos: int = field(default=0, compare=False, repr=False, kw_only=True)

    def __str__(self) -> str:
        return unparse(self)


# ---------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class Name(Node):
    """A bare attribute name in a path (``Price``)."""

    name: str


@dataclass(frozen=True)
class NamePlaceholder(Node):
    """An expression attribute name (``#p``), resolved through ExpressionAttributeNames.
    ``placeholder`` includes the ``#``."""

    placeholder: str


@dataclass(frozen=True)
class Index(Node):
    """A list index in a path (``[3]``)."""

    index: int


PathElement: TypeAlias = Name | NamePlaceholder | Index


@dataclass(frozen=True)
class Path(Node):
    """A document path: a name or ``#name``, then map members (``.b``) and list
    indexes (``[0]``)."""

    elements: tuple[PathElement, ...]


@dataclass(frozen=True)
class ValueRef(Node):
    """An expression attribute value (``:v``); ``placeholder`` includes the ``:``."""

    placeholder: str


# ---------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Size(Node):
    """``size(operand)``: a number, usable only as an operand."""

    operand: Operand


Operand: TypeAlias = Path | ValueRef | Size
"""What a condition compares: a path, a value placeholder, or ``size(...)``."""


@dataclass(frozen=True)
class Compare(Node):
    """``left op right`` with ``op`` one of :data:`COMPARATORS`."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class Between(Node):
    """``operand BETWEEN low AND high`` (inclusive)."""

    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True)
class In(Node):
    """``operand IN (candidate, ...)``."""

    operand: Operand
    candidates: tuple[Operand, ...]


@dataclass(frozen=True)
class AttributeExists(Node):
    """``attribute_exists(path)``."""

    path: Path


@dataclass(frozen=True)
class AttributeNotExists(Node):
    """``attribute_not_exists(path)``."""

    path: Path


@dataclass(frozen=True)
class AttributeType(Node):
    """``attribute_type(operand, type)``; ``type`` should name a DynamoDB type."""

    operand: Operand
    type: Operand


@dataclass(frozen=True)
class BeginsWith(Node):
    """``begins_with(operand, prefix)``."""

    operand: Operand
    prefix: Operand


@dataclass(frozen=True)
class Contains(Node):
    """``contains(operand, element)``."""

    operand: Operand
    element: Operand


@dataclass(frozen=True)
class Not(Node):
    """``NOT operand``."""

    operand: BoolExpr


@dataclass(frozen=True)
class And(Node):
    """``left AND right``."""

    left: BoolExpr
    right: BoolExpr


@dataclass(frozen=True)
class Or(Node):
    """``left OR right``."""

    left: BoolExpr
    right: BoolExpr


BoolExpr: TypeAlias = (
    Compare | Between | In | AttributeExists | AttributeNotExists | AttributeType
    | BeginsWith | Contains | Not | And | Or
)
"""Any node that is true or false."""


@dataclass(frozen=True)
class Condition(Node):
    """A parsed condition expression. ``what`` names the request parameter it came from
    (``ConditionExpression``, ``FilterExpression``, ...); ``text`` is the source."""

    expr: BoolExpr
    what: str = "ConditionExpression"
    text: str | None = field(default=None, compare=False, repr=False)


# ---------------------------------------------------------------------------- updates


@dataclass(frozen=True)
class IfNotExists(Node):
    """``if_not_exists(path, default)``: the value at ``path`` if any, else
    ``default``."""

    path: Path
    default: UpdateOperand


@dataclass(frozen=True)
class ListAppend(Node):
    """``list_append(first, second)``: the two lists concatenated."""

    first: UpdateOperand
    second: UpdateOperand


UpdateOperand: TypeAlias = Path | ValueRef | IfNotExists | ListAppend
"""An operand of a SET value."""


@dataclass(frozen=True)
class Arithmetic(Node):
    """``left + right`` or ``left - right`` on numbers."""

    op: str
    left: UpdateOperand
    right: UpdateOperand


SetValue: TypeAlias = UpdateOperand | Arithmetic
"""The right-hand side of a SET action."""


@dataclass(frozen=True)
class SetAction(Node):
    """``path = value``."""

    path: Path
    value: SetValue


@dataclass(frozen=True)
class RemoveAction(Node):
    """``path`` in a REMOVE clause."""

    path: Path


@dataclass(frozen=True)
class AddAction(Node):
    """``path :value`` in an ADD clause (number addition or set union)."""

    path: Path
    value: ValueRef


@dataclass(frozen=True)
class DeleteAction(Node):
    """``path :value`` in a DELETE clause (set difference)."""

    path: Path
    value: ValueRef


@dataclass(frozen=True)
class Update(Node):
    """A parsed update expression: its actions by clause, each in source order. The
    clauses' order in the source is not kept (it has no meaning)."""

    sets: tuple[SetAction, ...] = ()
    removes: tuple[RemoveAction, ...] = ()
    adds: tuple[AddAction, ...] = ()
    deletes: tuple[DeleteAction, ...] = ()
    text: str | None = field(default=None, compare=False, repr=False)

    what = "UpdateExpression"

    @property
    def actions(self) -> tuple[SetAction | RemoveAction | AddAction | DeleteAction, ...]:
        """Every action, clause by clause (SET, REMOVE, ADD, DELETE)."""
        return (*self.sets, *self.removes, *self.adds, *self.deletes)


# ---------------------------------------------------------------------------- projections


@dataclass(frozen=True)
class Projection(Node):
    """A parsed projection expression: the paths to return."""

    paths: tuple[Path, ...]
    text: str | None = field(default=None, compare=False, repr=False)

    what = "ProjectionExpression"


# ---------------------------------------------------------------------------- unparse


def _path(path: Path) -> str:
    parts: list[str] = []
    for element in path.elements:
        if isinstance(element, Index):
            parts.append(f"[{element.index}]")
        else:
            text = element.name if isinstance(element, Name) else element.placeholder
            parts.append(f".{text}" if parts else text)
    return "".join(parts)


def _bool(expr: BoolExpr, parent: type | None, right: bool) -> str:
    text = unparse(expr)
    if isinstance(expr, Or):
        needs = parent in (And, Not) or (parent is Or and right)
    elif isinstance(expr, And):
        needs = parent is Not or (parent is And and right)
    else:
        needs = False
    return f"({text})" if needs else text


def unparse(node: Node) -> str:
    """The canonical expression text of ``node`` (see the module docstring)."""
    if isinstance(node, Path):
        return _path(node)
    if isinstance(node, ValueRef):
        return node.placeholder
    if isinstance(node, Name):
        return node.name
    if isinstance(node, NamePlaceholder):
        return node.placeholder
    if isinstance(node, Index):
        return f"[{node.index}]"
    if isinstance(node, Size):
        return f"size({unparse(node.operand)})"
    if isinstance(node, Compare):
        return f"{unparse(node.left)} {node.op} {unparse(node.right)}"
    if isinstance(node, Between):
        return f"{unparse(node.operand)} BETWEEN {unparse(node.low)} AND {unparse(node.high)}"
    if isinstance(node, In):
        listed = ", ".join(unparse(c) for c in node.candidates)
        return f"{unparse(node.operand)} IN ({listed})"
    if isinstance(node, AttributeExists):
        return f"attribute_exists({unparse(node.path)})"
    if isinstance(node, AttributeNotExists):
        return f"attribute_not_exists({unparse(node.path)})"
    if isinstance(node, AttributeType):
        return f"attribute_type({unparse(node.operand)}, {unparse(node.type)})"
    if isinstance(node, BeginsWith):
        return f"begins_with({unparse(node.operand)}, {unparse(node.prefix)})"
    if isinstance(node, Contains):
        return f"contains({unparse(node.operand)}, {unparse(node.element)})"
    if isinstance(node, Not):
        return f"NOT {_bool(node.operand, Not, False)}"
    if isinstance(node, And):
        return f"{_bool(node.left, And, False)} AND {_bool(node.right, And, True)}"
    if isinstance(node, Or):
        return f"{_bool(node.left, Or, False)} OR {_bool(node.right, Or, True)}"
    if isinstance(node, Condition):
        return unparse(node.expr)
    if isinstance(node, IfNotExists):
        return f"if_not_exists({unparse(node.path)}, {unparse(node.default)})"
    if isinstance(node, ListAppend):
        return f"list_append({unparse(node.first)}, {unparse(node.second)})"
    if isinstance(node, Arithmetic):
        return f"{unparse(node.left)} {node.op} {unparse(node.right)}"
    if isinstance(node, SetAction):
        return f"{unparse(node.path)} = {unparse(node.value)}"
    if isinstance(node, RemoveAction):
        return unparse(node.path)
    if isinstance(node, AddAction | DeleteAction):
        return f"{unparse(node.path)} {unparse(node.value)}"
    if isinstance(node, Update):
        clauses = []
        for keyword, actions in (
            ("SET", node.sets), ("REMOVE", node.removes),
            ("ADD", node.adds), ("DELETE", node.deletes),
        ):
            if actions:
                clauses.append(f"{keyword} " + ", ".join(unparse(a) for a in actions))
        return " ".join(clauses)
    if isinstance(node, Projection):
        return ", ".join(unparse(p) for p in node.paths)
    raise TypeError(f"not an expression node: {node!r}")
