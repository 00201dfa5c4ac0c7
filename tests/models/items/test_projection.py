"""Projection expressions: parsing, what they return, and their errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions import (
    Index,
    Name,
    NamePlaceholder,
    Path,
    Projection,
    parse_projection,
    project,
    unparse,
)

ITEM: dict[str, Any] = {
    "id": "k1",
    "s": "hello",
    "n": Decimal(10),
    "m": {"a": "1", "b": {"c": Decimal(3), "d": Decimal(4)}},
    "l": ["x", Decimal(2), {"k": "v", "j": "w"}],
    "dotted.name": True,
}


def test_parse_projection() -> None:
    assert parse_projection("a, b.c, #d[0]") == Projection((
        Path((Name("a"),)),
        Path((Name("b"), Name("c"))),
        Path((NamePlaceholder("#d"), Index(0))),
    ))


def test_projection_unparses_canonically() -> None:
    parsed = parse_projection("a ,b.c,  #d[0]")
    assert str(parsed) == "a, b.c, #d[0]"
    assert parse_projection(str(parsed)) == parsed


def test_top_level_attributes() -> None:
    assert project(parse_projection("s, n"), ITEM, {}) == {"s": "hello", "n": Decimal(10)}


def test_nested_members_keep_their_structure() -> None:
    assert project(parse_projection("m.b.c"), ITEM, {}) == {"m": {"b": {"c": Decimal(3)}}}
    assert project(parse_projection("m.a, m.b.d"), ITEM, {}) == {
        "m": {"a": "1", "b": {"d": Decimal(4)}}}


def test_list_elements_are_compacted_in_index_order() -> None:
    assert project(parse_projection("l[2].k"), ITEM, {}) == {"l": [{"k": "v"}]}
    assert project(parse_projection("l[2], l[0]"), ITEM, {}) == {
        "l": ["x", {"k": "v", "j": "w"}]}


def test_missing_paths_are_left_out() -> None:
    assert project(parse_projection("nothere, m.zz, l[9], s.x, n[0]"), ITEM, {}) == {}
    assert project(parse_projection("s, nothere"), ITEM, {}) == {"s": "hello"}


def test_names_are_resolved_literally() -> None:
    projected = project(parse_projection("#d, #m.#b.c"), ITEM,
                        {"#d": "dotted.name", "#m": "m", "#b": "b"})
    assert projected == {"dotted.name": True, "m": {"b": {"c": Decimal(3)}}}


def test_projection_returns_a_copy() -> None:
    projected = project(parse_projection("m"), ITEM, {})
    projected["m"]["a"] = "changed"
    assert ITEM["m"]["a"] == "1"


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("a, a", 3, "Two document paths overlap with each other; must remove or rewrite one "
                    "of these paths; path one: [a], path two: [a]"),
        ("m, m.a", 3, "Two document paths overlap with each other; must remove or rewrite one "
                      "of these paths; path one: [m], path two: [m, a]"),
        ("m.a, m[0]", 5, "Two document paths conflict with each other; must remove or rewrite "
                         "one of these paths; path one: [m, a], path two: [m, [0]]"),
        ("name", 0, "Attribute name is a reserved keyword; reserved keyword: name"),
        ("a,", 2, 'Syntax error; token: "<EOF>", near: ","'),
        ("a b", 2, 'Syntax error; token: "b", near: "a b"'),
        ("", 0, "The expression can not be empty;"),
    ],
)
def test_malformed_projections(text: str, position: int, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_projection(text)
    error = caught.value
    assert (error.what, error.position, error.message) == (
        "ProjectionExpression", position, message)


def test_overlap_through_names_and_undefined_names() -> None:
    projection = parse_projection("#a, #b.c")
    with pytest.raises(ValidationError) as caught:
        project(projection, ITEM, {"#a": "m", "#b": "m"})
    assert caught.value.message.startswith("Two document paths overlap")
    assert caught.value.position == 4
    with pytest.raises(ValidationError) as caught:
        project(projection, ITEM, {"#a": "m"})
    assert caught.value.message == (
        "An expression attribute name used in the document path is not defined; "
        "attribute name: #b")
    assert caught.value.position == 4


@given(st.lists(st.sampled_from(sorted(ITEM)), min_size=1, unique=True))
def test_projecting_top_level_names_picks_those_attributes(names: list[str]) -> None:
    placeholders = {f"#p{i}": name for i, name in enumerate(names)}
    projection = parse_projection(", ".join(placeholders))
    assert unparse(projection) == ", ".join(placeholders)
    assert project(projection, ITEM, placeholders) == {name: ITEM[name] for name in names}
