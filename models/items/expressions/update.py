"""What an update expression does to an item.

All right-hand sides are read from the item as it was (``SET a = b, b = a`` swaps);
list indexes refer to the positions in the item as it was (``REMOVE a[1] SET a[3] =
:v`` sets the element that was fourth); ``SET`` past the end of a list appends (several
such appends in index order). ``REMOVE`` of something absent does nothing, ``ADD``
creates a missing number or set, ``DELETE`` leaves a missing set missing and removes a
set it empties. A path whose parent is missing or of the wrong type is refused ("The
document path provided in the update expression is invalid for update"), except that
``REMOVE`` on an item that does not exist does nothing. A SET or ADD that would nest
lists and maps deeper than DynamoDB's 32 levels is refused before anything applies.

Operands (``if_not_exists``, ``list_append``) are walked on an explicit stack; the
item's structure is walked only along the update's paths (at most 32 elements) and
copied without recursion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions.limits import LimitExceeded
from replicheck.models.items.expressions.nodes import (
    Arithmetic,
    IfNotExists,
    ListAppend,
    Path,
    SetValue,
    Update,
    UpdateOperand,
    ValueRef,
)
from replicheck.models.items.expressions.paths import (
    MISSING,
    ResolvedPath,
    check_overlaps,
    container_depth,
    copy_value,
    format_path,
    read_path,
    resolve_path,
)
from replicheck.models.items.expressions.placeholders import (
    check_defined,
    iter_nodes,
    normalized_values,
)
from replicheck.models.items.expressions.trampoline import Step, run
from replicheck.models.items.values import (
    MAX_NESTING_DEPTH,
    SET_TYPES,
    add_numbers,
    subtract_numbers,
    type_of,
)

__all__ = [
    "UpdateContext",
    "apply_update",
    "resolved_update_paths",
    "updated_paths",
    "validate_update",
]

_WHAT = "UpdateExpression"
_LONG_TYPE = {
    "S": "STRING", "N": "NUMBER", "B": "BINARY", "BOOL": "BOOLEAN", "NULL": "NULL",
    "L": "LIST", "M": "MAP", "SS": "STRING_SET", "NS": "NUMBER_SET", "BS": "BINARY_SET",
}
_INVALID_PATH = "The document path provided in the update expression is invalid for update"
_INCORRECT_TYPE = "An operand in the update expression has an incorrect data type"


class UpdateContext:
    """An update checked against one request's names and values, ready to apply to
    any number of items (see :func:`validate_update`)."""

    def __init__(self, update: Update, names: Mapping[str, str],
                 values: dict[str, Any]) -> None:
        self.update = update
        self.names = names
        self.values = values

    def path(self, path: Path) -> ResolvedPath:
        """``path`` resolved through the names."""
        return resolve_path(path, self.names, _WHAT, self.update.text)

    def error(self, message: str, pos: int, expected: str) -> ValidationError:
        """A :class:`ValidationError` about this update at ``pos``."""
        return ValidationError(message, what=_WHAT, position=pos, expected=expected,
                               text=self.update.text)

    def apply(self, item: Mapping[str, Any] | None) -> dict[str, Any]:
        """The item after the update, as a new dict (``item`` is not touched)."""
        return _apply(self, item)


# ---------------------------------------------------------------------------- validation


def _operand_type_error(ctx: UpdateContext, name: str, kind: str, pos: int,
                        expected: str) -> ValidationError:
    return ctx.error(
        "Incorrect operand type for operator or function; operator or function: "
        f"{name}, operand type: {kind}", pos, expected,
    )


def _check_value(value: SetValue, ctx: UpdateContext) -> Step[None]:
    if isinstance(value, Arithmetic):
        for operand in (value.left, value.right):
            yield _check_value(operand, ctx)
            if isinstance(operand, ValueRef):
                kind = type_of(ctx.values[operand.placeholder])
                if kind != "N":
                    raise _operand_type_error(ctx, value.op, kind, value.pos,
                                              f"numbers on both sides of {value.op}")
    elif isinstance(value, ListAppend):
        for operand in (value.first, value.second):
            yield _check_value(operand, ctx)
            if isinstance(operand, ValueRef):
                kind = type_of(ctx.values[operand.placeholder])
                if kind != "L":
                    raise _operand_type_error(ctx, "list_append", kind, value.pos,
                                              "two lists for list_append")
    elif isinstance(value, IfNotExists):
        yield _check_value(value.default, ctx)
        if isinstance(value.default, Path) and ctx.path(value.default) == ctx.path(value.path):
            raise ctx.error(
                "The first operand must be distinct from the remaining operands for this "
                "operator or function; operator: if_not_exists, first operand: "
                f"{format_path(ctx.path(value.path))}",
                value.pos, "a default that differs from the path of if_not_exists",
            )


def _check_actions(ctx: UpdateContext) -> None:
    update = ctx.update
    for action in update.sets:
        run(_check_value(action.value, ctx))
    for add in update.adds:
        kind = type_of(ctx.values[add.value.placeholder])
        if kind != "N" and kind not in SET_TYPES:
            raise ctx.error(
                "Incorrect operand type for operator or function; operator: ADD, operand "
                f"type: {_LONG_TYPE[kind]}, typeSet: ALLOWED_FOR_ADD_OPERAND",
                add.value.pos, "a number or a set to ADD",
            )
    for delete in update.deletes:
        kind = type_of(ctx.values[delete.value.placeholder])
        if kind not in SET_TYPES:
            raise ctx.error(
                "Incorrect operand type for operator or function; operator: DELETE, "
                f"operand type: {_LONG_TYPE[kind]}, typeSet: ALLOWED_FOR_DELETE_OPERAND",
                delete.value.pos, "a set to DELETE",
            )


def validate_update(update: Update, names: Mapping[str, str] | None,
                    values: Mapping[str, Any] | None) -> UpdateContext:
    """Check ``update`` against the request's names and values, independently of any
    item: placeholders defined, values valid, no two actions on overlapping or
    conflicting paths once names are resolved, literal operands of the right types
    (numbers for ``+``/``-``, lists for list_append, a number or set for ADD, a set
    for DELETE). Returns the context that applies it; raises the first fault."""
    names = names or {}
    values = values or {}
    check_defined(update, names, values)
    ctx = UpdateContext(update, names, normalized_values(update, values))
    targets = sorted((a.path for a in update.actions), key=lambda p: p.pos)
    check_overlaps([(ctx.path(p), p.pos) for p in targets], _WHAT, update.text)
    for node in iter_nodes(update):
        if isinstance(node, Path):
            ctx.path(node)
    _check_actions(ctx)
    return ctx


def apply_update(update: Update, item: Mapping[str, Any] | None,
                 names: Mapping[str, str] | None,
                 values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The item after ``update``, as a NEW dict sharing no mutable part with ``item``
    or ``values`` (``item`` ``None``: there was no item). Raises
    :class:`ValidationError` when DynamoDB would refuse the update; nothing is applied
    then (the input is never modified in any case)."""
    return validate_update(update, names, values).apply(item)


def resolved_update_paths(update: Update, names: Mapping[str, str] | None
                          ) -> tuple[ResolvedPath, ...]:
    """The document paths ``update`` writes (set, removes, adds to, deletes from), names
    resolved, in source order."""
    targets = sorted((a.path for a in update.actions), key=lambda p: p.pos)
    return tuple(resolve_path(p, names or {}, _WHAT, update.text) for p in targets)


def updated_paths(update: Update, names: Mapping[str, str] | None) -> frozenset[str]:
    """The top-level attributes ``update`` touches (what ReturnValues UPDATED_OLD and
    UPDATED_NEW report on)."""
    return frozenset(str(path[0]) for path in resolved_update_paths(update, names))


# ---------------------------------------------------------------------------- application


def _operand(operand: UpdateOperand, item: Mapping[str, Any] | None,
             ctx: UpdateContext) -> Step[Any]:
    if isinstance(operand, ValueRef):
        return ctx.values[operand.placeholder]
    if isinstance(operand, Path):
        value = read_path(item, ctx.path(operand))
        if value is MISSING:
            raise ctx.error(
                "The provided expression refers to an attribute that does not exist in the "
                "item", operand.pos, f"{operand} to exist in the item (or if_not_exists)",
            )
        return value
    if isinstance(operand, IfNotExists):
        value = read_path(item, ctx.path(operand.path))
        return (yield _operand(operand.default, item, ctx)) if value is MISSING else value
    first = yield _operand(operand.first, item, ctx)
    second = yield _operand(operand.second, item, ctx)
    for value in (first, second):
        kind = type_of(value)
        if kind != "L":
            raise _operand_type_error(ctx, "list_append", kind, operand.pos,
                                      "two lists for list_append")
    return [*first, *second]


def _set_value(value: SetValue, item: Mapping[str, Any] | None, ctx: UpdateContext) -> Any:
    if not isinstance(value, Arithmetic):
        return run(_operand(value, item, ctx))
    left = run(_operand(value.left, item, ctx))
    right = run(_operand(value.right, item, ctx))
    for operand in (left, right):
        kind = type_of(operand)
        if kind != "N":
            raise _operand_type_error(ctx, value.op, kind, value.pos,
                                      f"numbers on both sides of {value.op}")
    try:
        if value.op == "+":
            return add_numbers(left, right)
        return subtract_numbers(left, right)
    except ValidationError as error:
        raise ctx.error(error.message, value.pos,
                        "a result within DynamoDB's number range") from None


@dataclass
class _Trie:
    """The modifications under one document path: an action here, or children."""

    action: tuple[str, Any, int] | None = None
    children: dict[str | int, _Trie] = field(default_factory=dict)


def _terminal(action: tuple[str, Any, int], old: Any, ctx: UpdateContext) -> Any:
    verb, operand, pos = action
    if verb == "SET":
        return copy_value(operand)
    if verb == "REMOVE":
        return MISSING
    kind = type_of(operand)
    old_kind = None if old is MISSING else type_of(old)
    if verb == "ADD":
        if old_kind is None:
            return copy_value(operand)
        if old_kind != kind:
            raise ctx.error(_INCORRECT_TYPE, pos, f"an attribute of type {kind} to ADD to")
        if kind == "N":
            try:
                return add_numbers(old, operand)
            except ValidationError as error:
                raise ctx.error(error.message, pos,
                                "a result within DynamoDB's number range") from None
        return frozenset(old) | operand
    # DELETE
    if old_kind is None:
        return MISSING
    if old_kind != kind:
        raise ctx.error(_INCORRECT_TYPE, pos, f"an attribute of type {kind} to DELETE from")
    remaining = frozenset(old) - operand
    return remaining if remaining else MISSING


def _apply_member(old: Any, node: _Trie, ctx: UpdateContext, pos: int) -> Any:
    if node.action is not None:
        return _terminal(node.action, old, ctx)
    return _apply_container(old, node, ctx, pos)


def _apply_container(old: Any, node: _Trie, ctx: UpdateContext, pos: int) -> Any:
    by_index = any(isinstance(key, int) for key in node.children)
    if by_index:
        if not isinstance(old, list):
            raise ctx.error(_INVALID_PATH, pos, "a list where the path has an index")
        out: list[Any] = []
        for index, element in enumerate(old):
            child = node.children.get(index)
            if child is None:
                out.append(copy_value(element))
                continue
            result = _apply_member(element, child, ctx, pos)
            if result is not MISSING:
                out.append(result)
        for index in sorted(k for k in node.children if isinstance(k, int) and k >= len(old)):
            child = node.children[index]
            if child.action is None:
                raise ctx.error(_INVALID_PATH, pos, "an existing list element to go into")
            result = _terminal(child.action, MISSING, ctx)
            if result is not MISSING:
                out.append(result)
        return out
    if not isinstance(old, Mapping):
        raise ctx.error(_INVALID_PATH, pos, "a map where the path has a member name")
    members = {key: copy_value(value) for key, value in old.items()}
    _apply_members(members, old, node, ctx)
    return members


def _apply_members(target: dict[str, Any], old: Mapping[str, Any], node: _Trie,
                   ctx: UpdateContext) -> None:
    for key, child in node.children.items():
        name = str(key)
        previous = old.get(name, MISSING)
        pos = child.action[2] if child.action is not None else _first_pos(child)
        result = _apply_member(previous, child, ctx, pos)
        if result is MISSING:
            target.pop(name, None)
        else:
            target[name] = result


def _first_pos(node: _Trie) -> int:
    if node.action is not None:
        return node.action[2]
    return min(_first_pos(child) for child in node.children.values())


def _only_removes(node: _Trie) -> bool:
    if node.action is not None:
        return node.action[0] == "REMOVE"
    return all(_only_removes(child) for child in node.children.values())


def _check_nesting(path: ResolvedPath, action: tuple[str, Any, int], ctx: UpdateContext
                   ) -> None:
    """DynamoDB's limit on nested attributes, for the value an action writes at
    ``path``: the lists and maps above it (one per step of the path after the first)
    and those inside it, at most ``MAX_NESTING_DEPTH`` in all."""
    verb, operand, pos = action
    if verb not in ("SET", "ADD"):
        return
    depth = len(path) - 1 + container_depth(operand)
    if depth > MAX_NESTING_DEPTH:
        raise LimitExceeded(
            "One or more parameter values were invalid: Nesting Levels have exceeded "
            f"supported limits; nesting levels: {depth}, limit: {MAX_NESTING_DEPTH} "
            "(maximum depth of nested attributes)",
            limit="maximum depth of nested lists and maps in an item",
            figure=MAX_NESTING_DEPTH, what=_WHAT, position=pos,
        )


def _apply(ctx: UpdateContext, item: Mapping[str, Any] | None) -> dict[str, Any]:
    update = ctx.update
    root = _Trie()
    planned: list[tuple[ResolvedPath, tuple[str, Any, int]]] = []
    for set_action in update.sets:
        planned.append((ctx.path(set_action.path),
                        ("SET", _set_value(set_action.value, item, ctx), set_action.pos)))
    for remove in update.removes:
        planned.append((ctx.path(remove.path), ("REMOVE", None, remove.pos)))
    for add in update.adds:
        planned.append((ctx.path(add.path),
                        ("ADD", ctx.values[add.value.placeholder], add.pos)))
    for delete in update.deletes:
        planned.append((ctx.path(delete.path),
                        ("DELETE", ctx.values[delete.value.placeholder], delete.pos)))
    for path, action in planned:
        node = root
        for step in path:
            node = node.children.setdefault(step, _Trie())
        node.action = action
    old: Mapping[str, Any] = item if item is not None else {}
    result = {key: copy_value(value) for key, value in old.items()}
    for key, child in root.children.items():
        if item is None and child.action is None and _only_removes(child):
            continue  # DynamoDB ignores a nested REMOVE on an item that does not exist
        name = str(key)
        pos = _first_pos(child)
        new = _apply_member(old.get(name, MISSING), child, ctx, pos)
        if new is MISSING:
            result.pop(name, None)
        else:
            result[name] = new
    for path, action in planned:
        _check_nesting(path, action, ctx)
    return result
