"""Document paths: resolving ``#name`` placeholders, reading a path in an item, and
DynamoDB's overlap and conflict rules between the paths of one expression."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions.limits import check_path_depth
from replicheck.models.items.expressions.nodes import Index, Name, NamePlaceholder, Path

__all__ = [
    "MISSING",
    "ResolvedPath",
    "check_overlaps",
    "container_depth",
    "copy_value",
    "first_overlap",
    "format_path",
    "overlap_error",
    "read_path",
    "resolve_path",
    "static_key",
    "undefined_name",
]

ResolvedPath = tuple[str | int, ...]
"""A path with placeholders resolved: attribute/map-member names and list indexes."""


class _Missing:
    """The marker for "no value here" (distinct from ``None``, the NULL value)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
"""What :func:`read_path` answers where the item has no value."""


def undefined_name(placeholder: str, what: str, pos: int, text: str | None) -> ValidationError:
    """DynamoDB's error for a ``#name`` missing from ExpressionAttributeNames."""
    return ValidationError(
        "An expression attribute name used in the document path is not defined; "
        f"attribute name: {placeholder}",
        what=what, position=pos, text=text,
        expected=f"{placeholder} defined in ExpressionAttributeNames",
    )


def resolve_path(
    path: Path, names: Mapping[str, str], what: str = "", text: str | None = None
) -> ResolvedPath:
    """``path`` with its ``#name`` placeholders replaced by their names; an undefined
    placeholder is a :class:`ValidationError` naming ``what``, a path of more than
    ``limits.MAX_PATH_DEPTH`` elements (only a tree built by hand has one: the parser
    refuses it) a ``LimitExceeded``."""
    check_path_depth(len(path.elements), what or None, path.pos)
    out: list[str | int] = []
    for element in path.elements:
        if isinstance(element, Name):
            out.append(element.name)
        elif isinstance(element, Index):
            out.append(element.index)
        else:
            try:
                out.append(names[element.placeholder])
            except KeyError:
                raise undefined_name(element.placeholder, what, element.pos, text) from None
    return tuple(out)


def format_path(path: Sequence[str | int]) -> str:
    """A resolved path as DynamoDB's messages show it: ``[a, b, [0], c]``."""
    return "[" + ", ".join(f"[{e}]" if isinstance(e, int) else e for e in path) + "]"


def read_path(item: Mapping[str, Any] | None, path: Sequence[str | int]) -> Any:
    """The value at ``path`` in ``item``, or :data:`MISSING` when the item, an
    attribute, a map member or a list element on the way is absent, or a step goes
    into a value of the wrong type."""
    if item is None:
        return MISSING
    current: Any = item
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return MISSING
            current = current[step]
        else:
            if not isinstance(current, Mapping) or step not in current:
                return MISSING
            current = current[step]
    return current


def _key(element: Name | NamePlaceholder | Index) -> str | int:
    if isinstance(element, Index):
        return element.index
    if isinstance(element, Name):
        return element.name
    # A placeholder stands for a name not known yet; "#p" never equals a bare name.
    return element.placeholder


def overlap_error(
    first: ResolvedPath, second: ResolvedPath, what: str, pos: int, text: str | None
) -> ValidationError | None:
    """DynamoDB's error when two paths of one expression overlap (one is a prefix of
    the other, or they are equal) or conflict (they part ways at a step that is a map
    member in one and a list index in the other); ``None`` when they are compatible."""
    for a, b in zip(first, second, strict=False):
        if a == b and type(a) is type(b):
            continue
        if isinstance(a, int) != isinstance(b, int):
            return ValidationError(
                "Two document paths conflict with each other; must remove or rewrite one "
                f"of these paths; path one: {format_path(first)}, path two: "
                f"{format_path(second)}",
                what=what, position=pos, text=text,
                expected="paths that do not mix a map member and a list index at one step",
            )
        return None
    return ValidationError(
        "Two document paths overlap with each other; must remove or rewrite one of these "
        f"paths; path one: {format_path(first)}, path two: {format_path(second)}",
        what=what, position=pos, text=text,
        expected="paths of which none is equal to, or inside, another",
    )


class _Branch:
    """A node of the trie of the paths seen so far: the first (lowest) index of a path
    ending here, the first index of a path going on by a list index and by a map
    member, and the branches by step."""

    __slots__ = ("by_index", "by_name", "children", "ends")

    def __init__(self) -> None:
        self.ends: int | None = None
        self.by_index: int | None = None
        self.by_name: int | None = None
        self.children: dict[tuple[bool, str | int], _Branch] = {}


def _least(*indexes: int | None) -> int | None:
    present = [i for i in indexes if i is not None]
    return min(present) if present else None


def first_overlap(paths: Sequence[ResolvedPath]) -> tuple[int, int] | None:
    """The first pair ``(i, j)``, ``i < j``, of ``paths`` that overlap or conflict (see
    :func:`overlap_error`): the least ``j``, then the least ``i`` for it; ``None`` when
    all are compatible. One pass over a trie: time linear in the paths' total length,
    where comparing every pair would be quadratic in their number."""
    root = _Branch()
    for j, path in enumerate(paths):
        found: int | None = None
        node: _Branch | None = root
        for step in path:
            assert node is not None
            is_index = isinstance(step, int)
            found = _least(found, node.ends, node.by_name if is_index else node.by_index)
            node = node.children.get((is_index, step))
            if node is None:
                break
        if node is not None:
            found = _least(found, node.ends, node.by_index, node.by_name)
        if found is not None:
            return found, j
        node = root
        for step in path:
            is_index = isinstance(step, int)
            if is_index and node.by_index is None:
                node.by_index = j
            elif not is_index and node.by_name is None:
                node.by_name = j
            node = node.children.setdefault((is_index, step), _Branch())
        if node.ends is None:
            node.ends = j
    return None


def check_overlaps(
    paths: Sequence[tuple[ResolvedPath, int]], what: str, text: str | None
) -> None:
    """Raise the first overlap or conflict among ``paths`` (each with the offset of
    its path in the source), reported at the later path."""
    pair = first_overlap([path for path, _ in paths])
    if pair is not None:
        i, j = pair
        error = overlap_error(paths[i][0], paths[j][0], what, paths[j][1], text)
        assert error is not None
        raise error


def static_key(path: Path) -> ResolvedPath:
    """``path`` keyed without names: placeholders stay apart from bare names, so two
    static keys that overlap surely overlap once resolved."""
    return tuple(_key(e) for e in path.elements)


def copy_value(value: Any) -> Any:
    """A deep copy of the lists and maps of an attribute value (other values are
    immutable and shared), made on an explicit stack: safe at any depth."""
    if not isinstance(value, list | Mapping):
        return value
    root: Any = [] if isinstance(value, list) else {}
    pending: list[tuple[Any, Any]] = [(value, root)]
    while pending:
        source, target = pending.pop()
        members = enumerate(source) if isinstance(source, list) else source.items()
        for key, element in members:
            if isinstance(element, list | Mapping):
                element_copy: Any = [] if isinstance(element, list) else {}
                pending.append((element, element_copy))
            else:
                element_copy = element
            if isinstance(target, list):
                target.append(element_copy)
            else:
                target[key] = element_copy
    return root


def container_depth(value: Any) -> int:
    """How many lists and maps nest in ``value`` (0 for a scalar or a set, 1 for a flat
    list or map), counted on an explicit stack: safe at any depth."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, list | Mapping):
            deepest = max(deepest, depth)
            members = current if isinstance(current, list) else current.values()
            pending.extend((member, depth + 1) for member in members)
    return deepest
