"""ExpressionAttributeNames and ExpressionAttributeValues: which placeholders an
expression uses, whether they are defined, and DynamoDB's rule that every one given
in a request is used by one of its expressions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions.limits import (
    check_attribute_name_length,
    check_placeholder_length,
)
from replicheck.models.items.expressions.nodes import (
    Condition,
    NamePlaceholder,
    Node,
    Projection,
    Update,
    ValueRef,
)
from replicheck.models.items.expressions.paths import undefined_name
from replicheck.models.items.values import normalize

__all__ = [
    "Parsed",
    "Placeholders",
    "check_defined",
    "check_placeholders",
    "iter_nodes",
    "normalized_values",
    "placeholders_of",
    "undefined_value",
]

Parsed = Condition | Update | Projection
"""A parsed expression of a request."""

_NAME_KEY = re.compile(r"#[A-Za-z0-9_]+")
_VALUE_KEY = re.compile(r":[A-Za-z0-9_]+")


def iter_nodes(node: Node) -> Iterator[Node]:
    """``node`` and every node below it, depth first, in field order (walked on an
    explicit stack: safe at any depth)."""
    pending: list[Node] = [node]
    while pending:
        current = pending.pop()
        yield current
        children: list[Node] = []
        for f in fields(current):
            child = getattr(current, f.name)
            if isinstance(child, Node):
                children.append(child)
            elif isinstance(child, tuple):
                children.extend(element for element in child if isinstance(element, Node))
        pending.extend(reversed(children))


@dataclass(frozen=True)
class Placeholders:
    """The placeholders one expression uses, each once, in source order, with the
    offset of its first use."""

    names: tuple[tuple[str, int], ...]
    values: tuple[tuple[str, int], ...]


def placeholders_of(parsed: Node) -> Placeholders:
    """The ``#name`` and ``:value`` placeholders used in ``parsed``."""
    names: dict[str, int] = {}
    values: dict[str, int] = {}
    found = sorted(
        (n for n in iter_nodes(parsed) if isinstance(n, NamePlaceholder | ValueRef)),
        key=lambda n: n.pos,
    )
    for node in found:
        if isinstance(node, NamePlaceholder):
            names.setdefault(node.placeholder, node.pos)
        else:
            values.setdefault(node.placeholder, node.pos)
    return Placeholders(tuple(names.items()), tuple(values.items()))


def undefined_value(placeholder: str, what: str, pos: int, text: str | None) -> ValidationError:
    """DynamoDB's error for a ``:value`` missing from ExpressionAttributeValues."""
    return ValidationError(
        "An expression attribute value used in expression is not defined; "
        f"attribute value: {placeholder}",
        what=what, position=pos, text=text,
        expected=f"{placeholder} defined in ExpressionAttributeValues",
    )


def check_defined(parsed: Parsed, names: Mapping[str, str], values: Mapping[str, Any]) -> None:
    """Raise DynamoDB's error for the first (leftmost) placeholder of ``parsed`` that
    ``names`` or ``values`` does not define."""
    used = placeholders_of(parsed)
    missing = [(pos, ph, True) for ph, pos in used.names if ph not in names]
    missing += [(pos, ph, False) for ph, pos in used.values if ph not in values]
    if missing:
        pos, placeholder, is_name = min(missing)
        if is_name:
            raise undefined_name(placeholder, parsed.what, pos, parsed.text)
        raise undefined_value(placeholder, parsed.what, pos, parsed.text)


def normalized_values(parsed: Parsed, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values ``parsed`` uses, normalized (see :func:`values.normalize`); an invalid
    one is a :class:`ValidationError` naming ExpressionAttributeValues and its key."""
    out: dict[str, Any] = {}
    for placeholder, _ in placeholders_of(parsed).values:
        try:
            out[placeholder] = normalize(values[placeholder], what=None)
        except ValidationError as error:
            raise ValidationError(
                f"ExpressionAttributeValues contains invalid value: {error.message} for key "
                f"{placeholder}",
                what="ExpressionAttributeValues",
                expected="a valid DynamoDB attribute value",
            ) from None
    return out


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_SHOWN_KEYS: Final = 10
"""How many keys an error lists; the rest are counted (a request may hold thousands)."""


def _keys(keys: list[str]) -> str:
    shown = sorted(keys)[:_SHOWN_KEYS]
    more = len(keys) - len(shown)
    return "{" + ", ".join(shown) + (f", ... and {more} more" if more else "") + "}"


def check_placeholders(
    names: Mapping[str, str] | None, values: Mapping[str, Any] | None, *parsed: Parsed
) -> None:
    """Check one request's ExpressionAttributeNames and ExpressionAttributeValues against
    all of its parsed expressions together, as DynamoDB does: keys must be well formed
    (``#x``, ``:x``; names map to strings), every placeholder an expression uses must be
    defined, and every one given must be used by some expression of the request.
    Raises the first fault as a :class:`ValidationError`."""
    names = names or {}
    values = values or {}
    for key, name in names.items():
        if not isinstance(key, str) or not _NAME_KEY.fullmatch(key):
            raise ValidationError(
                "ExpressionAttributeNames contains invalid key: Syntax error; key: "
                f'"{_shown(key)}"',
                what="ExpressionAttributeNames", expected="keys like #name",
            )
        check_placeholder_length(key, "ExpressionAttributeNames", None)
        if not isinstance(name, str) or not name:
            raise ValidationError(
                f"ExpressionAttributeNames contains invalid value: {_shown(name)} for key {key}",
                what="ExpressionAttributeNames", expected="non-empty attribute names",
            )
        check_attribute_name_length(name, f"ExpressionAttributeNames[{key}]")
    for key in values:
        if not isinstance(key, str) or not _VALUE_KEY.fullmatch(key):
            raise ValidationError(
                "ExpressionAttributeValues contains invalid key: Syntax error; key: "
                f'"{_shown(key)}"',
                what="ExpressionAttributeValues", expected="keys like :value",
            )
        check_placeholder_length(key, "ExpressionAttributeValues", None)
    used_names: set[str] = set()
    used_values: set[str] = set()
    for expression in parsed:
        check_defined(expression, names, values)
        used = placeholders_of(expression)
        used_names.update(ph for ph, _ in used.names)
        used_values.update(ph for ph, _ in used.values)
    unused_names = [key for key in names if key not in used_names]
    if unused_names:
        raise ValidationError(
            "Value provided in ExpressionAttributeNames unused in expressions: keys: "
            + _keys(unused_names),
            what="ExpressionAttributeNames",
            expected="only names that an expression of the request uses",
        )
    unused_values = [key for key in values if key not in used_values]
    if unused_values:
        raise ValidationError(
            "Value provided in ExpressionAttributeValues unused in expressions: keys: "
            + _keys(unused_values),
            what="ExpressionAttributeValues",
            expected="only values that an expression of the request uses",
        )
