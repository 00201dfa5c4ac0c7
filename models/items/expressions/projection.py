"""What a projection expression returns from an item: the attributes and nested
members it names, in their nested structure (``a.b`` gives ``{"a": {"b": ...}}``;
list elements named by index are kept in index order, compacted: ``l[2]`` alone
gives ``{"l": [<third element>]}``). Paths to nothing are left out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from replicheck.models.items.expressions.nodes import Projection
from replicheck.models.items.expressions.paths import (
    MISSING,
    ResolvedPath,
    check_overlaps,
    copy_value,
    resolve_path,
)
from replicheck.models.items.expressions.placeholders import check_defined

__all__ = ["project", "resolved_projection_paths"]


@dataclass
class _Trie:
    leaf: bool = False
    children: dict[str | int, _Trie] = field(default_factory=dict)


def _extract(value: Any, node: _Trie) -> Any:
    if node.leaf:
        return copy_value(value)
    if any(isinstance(key, int) for key in node.children):
        if not isinstance(value, list):
            return MISSING
        picked = []
        for index in sorted(k for k in node.children if isinstance(k, int)):
            if index < len(value):
                element = _extract(value[index], node.children[index])
                if element is not MISSING:
                    picked.append(element)
        return picked if picked else MISSING
    if not isinstance(value, Mapping):
        return MISSING
    members: dict[str, Any] = {}
    for key, child in node.children.items():
        name = str(key)
        if name in value:
            member = _extract(value[name], child)
            if member is not MISSING:
                members[name] = member
    return members if members else MISSING


def resolved_projection_paths(projection: Projection, names: Mapping[str, str] | None
                              ) -> tuple[ResolvedPath, ...]:
    """The paths of ``projection`` with names resolved; an undefined ``#name`` or two
    overlapping paths raise :class:`ValidationError`."""
    names = names or {}
    check_defined(projection, names, {})
    resolved = [
        (resolve_path(p, names, projection.what, projection.text), p.pos)
        for p in projection.paths
    ]
    check_overlaps(resolved, projection.what, projection.text)
    return tuple(path for path, _ in resolved)


def project(projection: Projection, item: Mapping[str, Any],
            names: Mapping[str, str] | None) -> dict[str, Any]:
    """The part of ``item`` that ``projection`` names, as a new dict (see the module
    docstring); raises :class:`ValidationError` for an undefined ``#name`` or paths
    that overlap once names are resolved."""
    root = _Trie()
    for path in resolved_projection_paths(projection, names):
        node = root
        for step in path:
            node = node.children.setdefault(step, _Trie())
        node.leaf = True
    result = _extract(item, root)
    return {} if result is MISSING else dict(result)
