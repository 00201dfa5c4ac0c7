"""The typed AST of condition, update and projection expressions.

Every node is a frozen dataclass. ``pos`` is the 0-based character offset in the
source text the node came from (its keyword, operator or first token); it takes no
part in equality or hashing, so a parsed tree equals a hand-built one. ``str(node)``
(or :func:`unparse`) prints the canonical expression text: single spaces, upper-case
keywords, and parentheses only where precedence needs them, so that parsing it gives
the same tree back.

Equality, hashing, ``repr`` and ``str`` walk a tree on an explicit stack
(``trampoline.run``), never on Python's: a tree of any depth (say, a chain of ten
thousand ``NOT``) compares, hashes and prints without a ``RecursionError``. They mean
what the dataclass methods would: fields compared in order, ``pos`` and ``text`` left
out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeAlias

from replicheck.models.items.expressions.trampoline import Step, run

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


@dataclass(frozen=True, eq=False, repr=False)
class Node:
    """Base of every AST node: carries the source offset ``pos`` (not compared)."""

    pos: int = field(default=0, compare=False, repr=False, kw_only=True)

    def __str__(self) -> str:
        return unparse(self)

    def __repr__(self) -> str:
        return run(_repr_of(self))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _same(self, other)

    def __hash__(self) -> int:
        return run(_hash_of(self))


_COMPARED: dict[type, tuple[str, ...]] = {}
_SHOWN: dict[type, tuple[str, ...]] = {}


def _compared(kind: type) -> tuple[str, ...]:
    names = _COMPARED.get(kind)
    if names is None:
        names = _COMPARED[kind] = tuple(f.name for f in fields(kind) if f.compare)
    return names


def _shown(kind: type) -> tuple[str, ...]:
    names = _SHOWN.get(kind)
    if names is None:
        names = _SHOWN[kind] = tuple(f.name for f in fields(kind) if f.repr)
    return names


def _same(first: Node, second: Node) -> bool:
    pending: list[tuple[Any, Any]] = [(first, second)]
    while pending:
        a, b = pending.pop()
        if a is b:
            continue
        if isinstance(a, Node):
            if a.__class__ is not b.__class__:
                return False
            pending.extend((getattr(a, name), getattr(b, name)) for name in _compared(type(a)))
        elif isinstance(a, tuple) and isinstance(b, tuple):
            if len(a) != len(b):
                return False
            pending.extend(zip(a, b, strict=True))
        elif a != b:
            return False
    return True


def _hash_of(value: Any) -> Step[int]:
    if not isinstance(value, Node | tuple):
        return hash(value)
    children = value if isinstance(value, tuple) else tuple(
        getattr(value, name) for name in _compared(type(value)))
    parts: list[int] = []
    for child in children:
        parts.append((yield _hash_of(child)) if isinstance(child, Node | tuple) else hash(child))
    return hash((type(value).__qualname__, *parts))


def _repr_of(value: Any) -> Step[str]:
    if isinstance(value, Node):
        shown = []
        for name in _shown(type(value)):
            shown.append(f"{name}={(yield _repr_of(getattr(value, name)))}")
        return f"{type(value).__qualname__}({', '.join(shown)})"
    if isinstance(value, tuple):
        listed = []
        for element in value:
            listed.append((yield _repr_of(element)))
        return "(" + ", ".join(listed) + ("," if len(listed) == 1 else "") + ")"
    return repr(value)


# ---------------------------------------------------------------------------- paths


@dataclass(frozen=True, eq=False, repr=False)
class Name(Node):
    """A bare attribute name in a path (``Price``)."""

    name: str


@dataclass(frozen=True, eq=False, repr=False)
class NamePlaceholder(Node):
    """An expression attribute name (``#p``), resolved through ExpressionAttributeNames.
    ``placeholder`` includes the ``#``."""

    placeholder: str


@dataclass(frozen=True, eq=False, repr=False)
class Index(Node):
    """A list index in a path (``[3]``)."""

    index: int


PathElement: TypeAlias = Name | NamePlaceholder | Index


@dataclass(frozen=True, eq=False, repr=False)
class Path(Node):
    """A document path: a name or ``#name``, then map members (``.b``) and list
    indexes (``[0]``)."""

    elements: tuple[PathElement, ...]


@dataclass(frozen=True, eq=False, repr=False)
class ValueRef(Node):
    """An expression attribute value (``:v``); ``placeholder`` includes the ``:``."""

    placeholder: str


# ---------------------------------------------------------------------------- conditions


@dataclass(frozen=True, eq=False, repr=False)
class Size(Node):
    """``size(operand)``: a number, usable only as an operand."""

    operand: Operand


Operand: TypeAlias = Path | ValueRef | Size
"""What a condition compares: a path, a value placeholder, or ``size(...)``."""


@dataclass(frozen=True, eq=False, repr=False)
class Compare(Node):
    """``left op right`` with ``op`` one of :data:`COMPARATORS`."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True, eq=False, repr=False)
class Between(Node):
    """``operand BETWEEN low AND high`` (inclusive)."""

    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True, eq=False, repr=False)
class In(Node):
    """``operand IN (candidate, ...)``."""

    operand: Operand
    candidates: tuple[Operand, ...]


@dataclass(frozen=True, eq=False, repr=False)
class AttributeExists(Node):
    """``attribute_exists(path)``."""

    path: Path


@dataclass(frozen=True, eq=False, repr=False)
class AttributeNotExists(Node):
    """``attribute_not_exists(path)``."""

    path: Path


@dataclass(frozen=True, eq=False, repr=False)
class AttributeType(Node):
    """``attribute_type(operand, type)``; ``type`` should name a DynamoDB type."""

    operand: Operand
    type: Operand


@dataclass(frozen=True, eq=False, repr=False)
class BeginsWith(Node):
    """``begins_with(operand, prefix)``."""

    operand: Operand
    prefix: Operand


@dataclass(frozen=True, eq=False, repr=False)
class Contains(Node):
    """``contains(operand, element)``."""

    operand: Operand
    element: Operand


@dataclass(frozen=True, eq=False, repr=False)
class Not(Node):
    """``NOT operand``."""

    operand: BoolExpr


@dataclass(frozen=True, eq=False, repr=False)
class And(Node):
    """``left AND right``."""

    left: BoolExpr
    right: BoolExpr


@dataclass(frozen=True, eq=False, repr=False)
class Or(Node):
    """``left OR right``."""

    left: BoolExpr
    right: BoolExpr


BoolExpr: TypeAlias = (
    Compare | Between | In | AttributeExists | AttributeNotExists | AttributeType
    | BeginsWith | Contains | Not | And | Or
)
"""Any node that is true or false."""


@dataclass(frozen=True, eq=False, repr=False)
class Condition(Node):
    """A parsed condition expression. ``what`` names the request parameter it came from
    (``ConditionExpression``, ``FilterExpression``, ...); ``text`` is the source."""

    expr: BoolExpr
    what: str = "ConditionExpression"
    text: str | None = field(default=None, compare=False, repr=False)


# ---------------------------------------------------------------------------- updates


@dataclass(frozen=True, eq=False, repr=False)
class IfNotExists(Node):
    """``if_not_exists(path, default)``: the value at ``path`` if any, else
    ``default``."""

    path: Path
    default: UpdateOperand


@dataclass(frozen=True, eq=False, repr=False)
class ListAppend(Node):
    """``list_append(first, second)``: the two lists concatenated."""

    first: UpdateOperand
    second: UpdateOperand


UpdateOperand: TypeAlias = Path | ValueRef | IfNotExists | ListAppend
"""An operand of a SET value."""


@dataclass(frozen=True, eq=False, repr=False)
class Arithmetic(Node):
    """``left + right`` or ``left - right`` on numbers."""

    op: str
    left: UpdateOperand
    right: UpdateOperand


SetValue: TypeAlias = UpdateOperand | Arithmetic
"""The right-hand side of a SET action."""


@dataclass(frozen=True, eq=False, repr=False)
class SetAction(Node):
    """``path = value``."""

    path: Path
    value: SetValue


@dataclass(frozen=True, eq=False, repr=False)
class RemoveAction(Node):
    """``path`` in a REMOVE clause."""

    path: Path


@dataclass(frozen=True, eq=False, repr=False)
class AddAction(Node):
    """``path :value`` in an ADD clause (number addition or set union)."""

    path: Path
    value: ValueRef


@dataclass(frozen=True, eq=False, repr=False)
class DeleteAction(Node):
    """``path :value`` in a DELETE clause (set difference)."""

    path: Path
    value: ValueRef


@dataclass(frozen=True, eq=False, repr=False)
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


@dataclass(frozen=True, eq=False, repr=False)
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


def _bool(expr: BoolExpr, parent: type | None, right: bool) -> Step[str]:
    text = yield _unparse(expr)
    if isinstance(expr, Or):
        needs = parent in (And, Not) or (parent is Or and right)
    elif isinstance(expr, And):
        needs = parent is Not or (parent is And and right)
    else:
        needs = False
    return f"({text})" if needs else text


def unparse(node: Node) -> str:
    """The canonical expression text of ``node`` (see the module docstring)."""
    return run(_unparse(node))


def _listed(nodes: tuple[Node, ...]) -> Step[str]:
    texts = []
    for node in nodes:
        texts.append((yield _unparse(node)))
    return ", ".join(texts)


def _unparse(node: Node) -> Step[str]:
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
        return f"size({(yield _unparse(node.operand))})"
    if isinstance(node, Compare):
        return f"{(yield _unparse(node.left))} {node.op} {(yield _unparse(node.right))}"
    if isinstance(node, Between):
        return (f"{(yield _unparse(node.operand))} BETWEEN {(yield _unparse(node.low))} "
                f"AND {(yield _unparse(node.high))}")
    if isinstance(node, In):
        return f"{(yield _unparse(node.operand))} IN ({(yield _listed(node.candidates))})"
    if isinstance(node, AttributeExists):
        return f"attribute_exists({(yield _unparse(node.path))})"
    if isinstance(node, AttributeNotExists):
        return f"attribute_not_exists({(yield _unparse(node.path))})"
    if isinstance(node, AttributeType):
        return f"attribute_type({(yield _listed((node.operand, node.type)))})"
    if isinstance(node, BeginsWith):
        return f"begins_with({(yield _listed((node.operand, node.prefix)))})"
    if isinstance(node, Contains):
        return f"contains({(yield _listed((node.operand, node.element)))})"
    if isinstance(node, Not):
        return f"NOT {(yield _bool(node.operand, Not, False))}"
    if isinstance(node, And):
        return (f"{(yield _bool(node.left, And, False))} AND "
                f"{(yield _bool(node.right, And, True))}")
    if isinstance(node, Or):
        return (f"{(yield _bool(node.left, Or, False))} OR "
                f"{(yield _bool(node.right, Or, True))}")
    if isinstance(node, Condition):
        text: str = yield _unparse(node.expr)
        return text
    if isinstance(node, IfNotExists):
        return f"if_not_exists({(yield _listed((node.path, node.default)))})"
    if isinstance(node, ListAppend):
        return f"list_append({(yield _listed((node.first, node.second)))})"
    if isinstance(node, Arithmetic):
        return f"{(yield _unparse(node.left))} {node.op} {(yield _unparse(node.right))}"
    if isinstance(node, SetAction):
        return f"{_path(node.path)} = {(yield _unparse(node.value))}"
    if isinstance(node, RemoveAction):
        return _path(node.path)
    if isinstance(node, AddAction | DeleteAction):
        return f"{_path(node.path)} {node.value.placeholder}"
    if isinstance(node, Update):
        clauses = []
        for keyword, actions in (
            ("SET", node.sets), ("REMOVE", node.removes),
            ("ADD", node.adds), ("DELETE", node.deletes),
        ):
            if actions:
                clauses.append(f"{keyword} " + (yield _listed(actions)))
        return " ".join(clauses)
    if isinstance(node, Projection):
        return ", ".join(_path(p) for p in node.paths)
    raise TypeError(f"not an expression node: {node!r}")
