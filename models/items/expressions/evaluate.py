"""What a condition expression means: validation against the request's names and
values, then evaluation against an item.

Semantics (DynamoDB's): comparing values of different types is false, not an error;
``<``, ``<=``, ``>``, ``>=`` and BETWEEN order N numerically and S and B by bytes and
are false on other types; a missing attribute makes ``=``, ordering, BETWEEN, IN and
the functions false and ``<>`` true. What DynamoDB refuses outright is refused here
with a :class:`ValidationError`: a literal (``:value``) of a type an operator or
function cannot take, BETWEEN bounds given as literals of different types or out of
order, an unknown ``attribute_type`` type name, and an operator or function whose
first operand path is repeated among its other operands.

Checking and evaluation walk AND, OR, NOT and ``size`` on explicit stacks, so a tree of
any depth is safe; the values compared are normalized ones (``values.normalize``),
whose nesting DynamoDB's 32 levels bound.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions.nodes import (
    And,
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Between,
    BoolExpr,
    Compare,
    Condition,
    Contains,
    In,
    Not,
    Operand,
    Or,
    Path,
    Size,
    ValueRef,
)
from replicheck.models.items.expressions.paths import (
    MISSING,
    ResolvedPath,
    format_path,
    read_path,
    resolve_path,
)
from replicheck.models.items.expressions.placeholders import check_defined, normalized_values
from replicheck.models.items.expressions.trampoline import Step, run
from replicheck.models.items.values import (
    SET_TYPES,
    TYPES,
    compare_values,
    number_to_wire,
    size_of,
    type_of,
    values_equal,
)

__all__ = ["ConditionContext", "evaluate_condition", "validate_condition"]

_ORDERED = frozenset({"N", "S", "B"})
_SIZED = frozenset({"S", "B", "L", "M", "SS", "NS", "BS"})
_VALID_TYPES = "{" + ",".join(TYPES) + "}"


class ConditionContext:
    """A condition checked against one request's names and values, ready to evaluate
    against any number of items (see :func:`validate_condition`)."""

    def __init__(self, condition: Condition, names: Mapping[str, str],
                 values: dict[str, Any]) -> None:
        self.condition = condition
        self.names = names
        self.values = values
        self._paths: dict[int, ResolvedPath] = {}

    def path(self, path: Path) -> ResolvedPath:
        """``path`` resolved through the names."""
        key = id(path)
        resolved = self._paths.get(key)
        if resolved is None:
            resolved = resolve_path(path, self.names, self.condition.what, self.condition.text)
            self._paths[key] = resolved
        return resolved

    def error(self, message: str, pos: int, expected: str) -> ValidationError:
        """A :class:`ValidationError` about this condition at ``pos``."""
        return ValidationError(message, what=self.condition.what, position=pos,
                               expected=expected, text=self.condition.text)

    def evaluate(self, item: Mapping[str, Any] | None) -> bool:
        """Whether the condition holds for ``item`` (``None``: no such item)."""
        return run(_eval(self.condition.expr, item, self))


def _attribute_value(value: Any) -> str:
    kind = type_of(value)
    if kind == "N":
        shown = number_to_wire(value)
    elif kind == "B":
        shown = base64.b64encode(bytes(value)).decode("ascii")
    else:
        shown = str(value)
    return f"AttributeValue: {{{kind}:{shown}}}"


def _static_type(operand: Operand, ctx: ConditionContext) -> str | None:
    if isinstance(operand, ValueRef):
        return type_of(ctx.values[operand.placeholder])
    if isinstance(operand, Size):
        return "N"
    return None


def _check_type(operand: Operand, allowed: frozenset[str], name: str, pos: int,
                ctx: ConditionContext) -> None:
    kind = _static_type(operand, ctx)
    if kind is not None and kind not in allowed:
        raise ctx.error(
            "Incorrect operand type for operator or function; operator or function: "
            f"{name}, operand type: {kind}",
            pos, f"an operand of type {', '.join(sorted(allowed))} for {name}",
        )


def _check_operand(operand: Operand, ctx: ConditionContext) -> None:
    sizes: list[Size] = []
    while isinstance(operand, Size):
        sizes.append(operand)
        operand = operand.operand
    if isinstance(operand, Path):
        ctx.path(operand)
    for size in reversed(sizes):
        _check_type(size.operand, _SIZED, "size", size.pos, ctx)


def _check_distinct(name: str, pos: int, operands: tuple[Operand, ...],
                    ctx: ConditionContext) -> None:
    first = operands[0]
    if not isinstance(first, Path):
        return
    resolved = ctx.path(first)
    for other in operands[1:]:
        if isinstance(other, Path) and ctx.path(other) == resolved:
            raise ctx.error(
                "The first operand must be distinct from the remaining operands for this "
                f"operator or function; operator: {name}, first operand: "
                f"{format_path(resolved)}",
                pos, f"operands of {name} that differ from its first operand",
            )


def _check(expr: BoolExpr, ctx: ConditionContext) -> None:
    """Check every predicate of ``expr``, leftmost first (AND, OR and NOT walked on a
    list, not on Python's stack)."""
    pending: list[BoolExpr] = [expr]
    while pending:
        node = pending.pop()
        if isinstance(node, Not):
            pending.append(node.operand)
        elif isinstance(node, And | Or):
            pending += (node.right, node.left)
        else:
            _check_predicate(node, ctx)


def _check_predicate(expr: BoolExpr, ctx: ConditionContext) -> None:
    if isinstance(expr, Compare):
        for operand in (expr.left, expr.right):
            _check_operand(operand, ctx)
        if expr.op not in ("=", "<>"):
            for operand in (expr.left, expr.right):
                _check_type(operand, _ORDERED, expr.op, expr.pos, ctx)
        _check_distinct(expr.op, expr.pos, (expr.left, expr.right), ctx)
    elif isinstance(expr, Between):
        operands = (expr.operand, expr.low, expr.high)
        for operand in operands:
            _check_operand(operand, ctx)
        for operand in operands:
            _check_type(operand, _ORDERED, "BETWEEN", expr.pos, ctx)
        if isinstance(expr.low, ValueRef) and isinstance(expr.high, ValueRef):
            low = ctx.values[expr.low.placeholder]
            high = ctx.values[expr.high.placeholder]
            bounds = (f"lower bound operand: {_attribute_value(low)}, upper bound operand: "
                      f"{_attribute_value(high)}")
            order = compare_values(low, high)
            if order is None:
                raise ctx.error(
                    "The BETWEEN operator requires same data type for lower and upper "
                    f"bounds; {bounds}", expr.pos, "bounds of one type",
                )
            if order > 0:
                raise ctx.error(
                    "The BETWEEN operator requires upper bound to be greater than or equal "
                    f"to lower bound; {bounds}", expr.pos, "a lower bound <= the upper bound",
                )
        _check_distinct("BETWEEN", expr.pos, operands, ctx)
    elif isinstance(expr, In):
        listed = (expr.operand, *expr.candidates)
        for operand in listed:
            _check_operand(operand, ctx)
        _check_distinct("IN", expr.pos, listed, ctx)
    elif isinstance(expr, AttributeExists | AttributeNotExists):
        ctx.path(expr.path)
    elif isinstance(expr, AttributeType):
        for operand in (expr.operand, expr.type):
            _check_operand(operand, ctx)
        _check_type(expr.type, frozenset({"S"}), "attribute_type", expr.pos, ctx)
        if isinstance(expr.type, ValueRef):
            name = ctx.values[expr.type.placeholder]
            if name not in TYPES:
                raise ctx.error(
                    f"Invalid attribute type name found; type: {name}, valid types: "
                    f"{_VALID_TYPES}",
                    expr.pos, "one of S, N, B, BOOL, NULL, L, M, SS, NS, BS",
                )
        _check_distinct("attribute_type", expr.pos, (expr.operand, expr.type), ctx)
    elif isinstance(expr, BeginsWith):
        for operand in (expr.operand, expr.prefix):
            _check_operand(operand, ctx)
        for operand in (expr.operand, expr.prefix):
            _check_type(operand, frozenset({"S", "B"}), "begins_with", expr.pos, ctx)
        _check_distinct("begins_with", expr.pos, (expr.operand, expr.prefix), ctx)
    elif isinstance(expr, Contains):
        for operand in (expr.operand, expr.element):
            _check_operand(operand, ctx)
        _check_distinct("contains", expr.pos, (expr.operand, expr.element), ctx)
    else:  # pragma: no cover - the union is exhaustive
        raise TypeError(f"not a condition: {expr!r}")


def validate_condition(condition: Condition, names: Mapping[str, str] | None,
                       values: Mapping[str, Any] | None) -> ConditionContext:
    """Check ``condition`` against the request's names and values, independently of
    any item: every placeholder defined, every value it uses valid, and DynamoDB's
    static rules (see the module docstring). Returns the context that evaluates it;
    raises the first fault as a :class:`ValidationError`. Unused names or values are
    the request's business: see :func:`check_placeholders`."""
    names = names or {}
    values = values or {}
    check_defined(condition, names, values)
    ctx = ConditionContext(condition, names, normalized_values(condition, values))
    _check(condition.expr, ctx)
    return ctx


def evaluate_condition(condition: Condition, item: Mapping[str, Any] | None,
                       names: Mapping[str, str] | None,
                       values: Mapping[str, Any] | None) -> bool:
    """Whether ``condition`` holds for ``item`` (``None``: there is no such item, so
    every attribute is missing). Raises :class:`ValidationError` where DynamoDB
    rejects the request whatever the item (see :func:`validate_condition`)."""
    return validate_condition(condition, names, values).evaluate(item)


# ---------------------------------------------------------------------------- evaluation


def _value(operand: Operand, item: Mapping[str, Any] | None, ctx: ConditionContext) -> Any:
    sizes = 0
    while isinstance(operand, Size):
        sizes += 1
        operand = operand.operand
    if isinstance(operand, ValueRef):
        value = ctx.values[operand.placeholder]
    else:
        value = read_path(item, ctx.path(operand))
    for _ in range(sizes):
        size = None if value is MISSING else size_of(value)
        value = MISSING if size is None else Decimal(size)
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "<>":
        return left is MISSING or right is MISSING or not values_equal(left, right)
    if left is MISSING or right is MISSING:
        return False
    if op == "=":
        return values_equal(left, right)
    order = compare_values(left, right)
    if order is None:
        return False
    if op == "<":
        return order < 0
    if op == "<=":
        return order <= 0
    if op == ">":
        return order > 0
    return order >= 0


def _contains(container: Any, element: Any) -> bool:
    if container is MISSING or element is MISSING:
        return False
    kind, element_kind = type_of(container), type_of(element)
    if kind == "S":
        return element_kind == "S" and element in container
    if kind == "B":
        return element_kind == "B" and bytes(element) in bytes(container)
    if kind in SET_TYPES:
        return element_kind == kind[0] and any(values_equal(m, element) for m in container)
    if kind == "L":
        return any(values_equal(m, element) for m in container)
    return False


def _begins_with(value: Any, prefix: Any) -> bool:
    if value is MISSING or prefix is MISSING:
        return False
    kind = type_of(value)
    if kind != type_of(prefix):
        return False
    if kind == "S":
        return bool(value.startswith(prefix))
    if kind == "B":
        return bytes(value).startswith(bytes(prefix))
    return False


def _eval(expr: BoolExpr, item: Mapping[str, Any] | None, ctx: ConditionContext) -> Step[bool]:
    if isinstance(expr, And | Or):
        left: bool = yield _eval(expr.left, item, ctx)
        if isinstance(expr, And) and not left:
            return False
        if isinstance(expr, Or) and left:
            return True
        right: bool = yield _eval(expr.right, item, ctx)
        return right
    if isinstance(expr, Not):
        return not (yield _eval(expr.operand, item, ctx))
    return _holds(expr, item, ctx)


def _holds(expr: BoolExpr, item: Mapping[str, Any] | None,
           ctx: ConditionContext) -> bool:
    if isinstance(expr, Compare):
        return _compare(expr.op, _value(expr.left, item, ctx), _value(expr.right, item, ctx))
    if isinstance(expr, Between):
        value = _value(expr.operand, item, ctx)
        return _compare(">=", value, _value(expr.low, item, ctx)) and _compare(
            "<=", value, _value(expr.high, item, ctx))
    if isinstance(expr, In):
        value = _value(expr.operand, item, ctx)
        return any(_compare("=", value, _value(c, item, ctx)) for c in expr.candidates)
    if isinstance(expr, AttributeExists):
        return read_path(item, ctx.path(expr.path)) is not MISSING
    if isinstance(expr, AttributeNotExists):
        return read_path(item, ctx.path(expr.path)) is MISSING
    if isinstance(expr, AttributeType):
        value = _value(expr.operand, item, ctx)
        wanted = _value(expr.type, item, ctx)
        return value is not MISSING and isinstance(wanted, str) and type_of(value) == wanted
    if isinstance(expr, BeginsWith):
        return _begins_with(_value(expr.operand, item, ctx), _value(expr.prefix, item, ctx))
    if isinstance(expr, Contains):
        return _contains(_value(expr.operand, item, ctx), _value(expr.element, item, ctx))
    raise TypeError(f"not a condition: {expr!r}")  # pragma: no cover
