"""Update expressions: each clause and action form, the clause-once rule, overlapping
and conflicting paths, and the unparse -> parse round trip."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions import (
    AddAction,
    Arithmetic,
    DeleteAction,
    IfNotExists,
    Index,
    ListAppend,
    Name,
    NamePlaceholder,
    Path,
    RemoveAction,
    SetAction,
    Update,
    UpdateOperand,
    ValueRef,
    parse_update,
    unparse,
    updated_paths,
    validate_update,
)


def p(*elements: str | int) -> Path:
    return Path(tuple(
        Index(e) if isinstance(e, int) else NamePlaceholder(e) if e.startswith("#") else Name(e)
        for e in elements
    ))


def v(name: str) -> ValueRef:
    return ValueRef(name)


# ---------------------------------------------------------------------------- SET


def test_set_value() -> None:
    assert parse_update("SET a = :v") == Update(sets=(SetAction(p("a"), v(":v")),))


def test_set_copies_a_path() -> None:
    assert parse_update("SET a = b.c[1]").sets == (SetAction(p("a"), p("b", "c", 1)),)


@pytest.mark.parametrize("op", ["+", "-"])
def test_set_arithmetic(op: str) -> None:
    assert parse_update(f"SET a = a {op} :d").sets == (
        SetAction(p("a"), Arithmetic(op, p("a"), v(":d"))),)
    assert parse_update(f"SET a=:x{op}b").sets == (
        SetAction(p("a"), Arithmetic(op, v(":x"), p("b"))),)


def test_set_list_append() -> None:
    assert parse_update("SET l = list_append(l, :more)").sets == (
        SetAction(p("l"), ListAppend(p("l"), v(":more"))),)
    assert parse_update("SET l = list_append(:front, l)").sets == (
        SetAction(p("l"), ListAppend(v(":front"), p("l"))),)


def test_set_if_not_exists() -> None:
    assert parse_update("SET n = if_not_exists(n, :zero)").sets == (
        SetAction(p("n"), IfNotExists(p("n"), v(":zero"))),)


def test_set_functions_nest_and_combine_with_arithmetic() -> None:
    update = parse_update("SET n = if_not_exists(n, :z) + :one, "
                          "l = list_append(if_not_exists(l, :empty), :x)")
    assert update.sets == (
        SetAction(p("n"), Arithmetic("+", IfNotExists(p("n"), v(":z")), v(":one"))),
        SetAction(p("l"), ListAppend(IfNotExists(p("l"), v(":empty")), v(":x"))),
    )


def test_set_nested_and_indexed_targets() -> None:
    update = parse_update("SET #pr.#5star[1] = :r5, #pr.#3star = :r3")
    assert update.sets == (
        SetAction(p("#pr", "#5star", 1), v(":r5")),
        SetAction(p("#pr", "#3star"), v(":r3")),
    )


def test_set_several_actions() -> None:
    assert parse_update("SET a = :x, b = :y, c = :z").sets == (
        SetAction(p("a"), v(":x")), SetAction(p("b"), v(":y")), SetAction(p("c"), v(":z")))


# ---------------------------------------------------------------------------- REMOVE, ADD, DELETE


def test_remove() -> None:
    assert parse_update("REMOVE a, b.c, l[3]") == Update(removes=(
        RemoveAction(p("a")), RemoveAction(p("b", "c")), RemoveAction(p("l", 3))))


def test_add() -> None:
    assert parse_update("ADD n :one, s :more") == Update(adds=(
        AddAction(p("n"), v(":one")), AddAction(p("s"), v(":more"))))


def test_delete() -> None:
    assert parse_update("DELETE s :gone, m.t :x") == Update(deletes=(
        DeleteAction(p("s"), v(":gone")), DeleteAction(p("m", "t"), v(":x"))))


# ---------------------------------------------------------------------------- clauses


def test_all_clauses_in_any_order() -> None:
    expected = Update(
        sets=(SetAction(p("a"), v(":v")),), removes=(RemoveAction(p("b")),),
        adds=(AddAction(p("c"), v(":n")),), deletes=(DeleteAction(p("d"), v(":s")),),
    )
    assert parse_update("SET a = :v REMOVE b ADD c :n DELETE d :s") == expected
    assert parse_update("DELETE d :s ADD c :n REMOVE b SET a = :v") == expected
    assert parse_update("remove b set a = :v delete d :s add c :n") == expected


def test_clause_keywords_are_case_insensitive() -> None:
    assert parse_update("sEt a = :v") == parse_update("SET a = :v")
    assert parse_update("  set   a=:v  ") == parse_update("SET a = :v")


@pytest.mark.parametrize(
    ("text", "keyword", "position"),
    [
        ("SET a = :v SET b = :v", "SET", 11),
        ("SET a = :v REMOVE c SET b = :v", "SET", 20),
        ("REMOVE a REMOVE b", "REMOVE", 9),
        ("ADD a :v ADD b :v", "ADD", 9),
        ("DELETE a :v DELETE b :v", "DELETE", 12),
    ],
)
def test_each_clause_at_most_once(text: str, keyword: str, position: int) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_update(text)
    error = caught.value
    assert error.what == "UpdateExpression"
    assert error.position == position
    assert error.message == (
        f'The "{keyword}" section can only be used once in an update expression;')


# ---------------------------------------------------------------------------- overlaps


@pytest.mark.parametrize(
    ("text", "one", "two"),
    [
        ("SET a = :v REMOVE a", "[a]", "[a]"),
        ("REMOVE a SET a = :v", "[a]", "[a]"),
        ("SET a = :x, a = :y", "[a]", "[a]"),
        ("SET a = :x, a.b = :y", "[a]", "[a, b]"),
        ("SET a.b.c = :x, a.b = :y", "[a, b, c]", "[a, b]"),
        ("SET a[1] = :x, a = :y", "[a, [1]]", "[a]"),
        ("SET a[1][1][1] = :x, a[1] = :y", "[a, [1], [1], [1]]", "[a, [1]]"),
        ("ADD a :x DELETE a :y", "[a]", "[a]"),
        ("SET #a = :x, #a.b = :y", "[#a]", "[#a, b]"),
    ],
)
def test_overlapping_paths_are_refused(text: str, one: str, two: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_update(text)
    assert caught.value.message == (
        "Two document paths overlap with each other; must remove or rewrite one of these "
        f"paths; path one: {one}, path two: {two}")


@pytest.mark.parametrize(
    ("text", "one", "two"),
    [
        ("SET a.b = :x, a[1] = :y", "[a, b]", "[a, [1]]"),
        ("SET a.b.c = :x, a.b[2] = :y", "[a, b, c]", "[a, b, [2]]"),
    ],
)
def test_conflicting_paths_are_refused(text: str, one: str, two: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_update(text)
    assert caught.value.message == (
        "Two document paths conflict with each other; must remove or rewrite one of these "
        f"paths; path one: {one}, path two: {two}")


def test_overlap_through_names_is_found_once_names_are_known() -> None:
    update = parse_update("SET #a1 = :v, #a2 = :w")
    with pytest.raises(ValidationError) as caught:
        validate_update(update, {"#a1": "a", "#a2": "a"}, {":v": 1, ":w": 2})
    assert caught.value.position == 14
    assert "path one: [a], path two: [a]" in caught.value.message


def test_disjoint_nested_paths_are_fine() -> None:
    update = parse_update("SET a.b = :x, a.c.d = :y, b.x = :z REMOVE a.x, b.y")
    assert len(update.actions) == 5


def test_reading_a_path_that_is_written_is_fine() -> None:
    assert parse_update("REMOVE a SET b = a").removes == (RemoveAction(p("a")),)


# ---------------------------------------------------------------------------- misc


def test_updated_paths_names_top_level_attributes() -> None:
    update = parse_update("SET a.b = :v, #c[0] = :w REMOVE d ADD e :n DELETE f.g :s")
    assert updated_paths(update, {"#c": "c"}) == frozenset("acdef")


def test_positions_point_into_the_text() -> None:
    text = "REMOVE x SET a = b + :one"
    update = parse_update(text)
    assert update.text == text
    action = update.sets[0]
    assert text[action.pos:].startswith("a =")
    value = action.value
    assert isinstance(value, Arithmetic)
    assert text[value.pos] == "+"
    assert text[update.removes[0].pos] == "x"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("set a=:v", "SET a = :v"),
        ("DELETE d :s SET a = :v", "SET a = :v DELETE d :s"),
        ("ADD n :x,m :y remove q", "REMOVE q ADD n :x, m :y"),
        ("SET a=list_append( if_not_exists(a,:e) ,:l)",
         "SET a = list_append(if_not_exists(a, :e), :l)"),
    ],
)
def test_unparse_is_canonical(text: str, canonical: str) -> None:
    update = parse_update(text)
    assert str(update) == canonical
    assert unparse(update) == canonical
    assert parse_update(canonical) == update


# ---------------------------------------------------------------------------- round trip

_names = st.sampled_from(["a", "b", "price", "x_1"]).map(Name)
_placeholders = st.sampled_from(["#a", "#n1"]).map(NamePlaceholder)
_steps = st.one_of(_names, _placeholders, st.integers(0, 9).map(Index))
tails = st.lists(_steps, max_size=2)
paths = st.builds(lambda head, rest: Path((head, *rest)), st.one_of(_names, _placeholders),
                  tails)
value_refs = st.sampled_from([":v", ":w", ":x1"]).map(ValueRef)
update_operands: st.SearchStrategy[UpdateOperand] = st.recursive(
    st.one_of(paths, value_refs),
    lambda inner: st.one_of(
        st.builds(IfNotExists, paths, inner),
        st.builds(ListAppend, inner, inner).filter(
            lambda la: not isinstance(la.first, ListAppend)
            and not isinstance(la.second, ListAppend)),
    ),
    max_leaves=4,
)
set_values = st.one_of(
    update_operands,
    st.builds(Arithmetic, st.sampled_from(["+", "-"]), update_operands, update_operands),
)


@st.composite
def updates(draw: st.DrawFn) -> Update:
    count = draw(st.integers(1, 6))
    heads = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=3)
                          .map(lambda s: "t" + s), min_size=count, max_size=count,
                          unique=True))
    sets: list[SetAction] = []
    removes: list[RemoveAction] = []
    adds: list[AddAction] = []
    deletes: list[DeleteAction] = []
    for head in heads:
        target = Path((Name(head), *draw(tails)))
        kind = draw(st.sampled_from(["SET", "REMOVE", "ADD", "DELETE"]))
        if kind == "SET":
            sets.append(SetAction(target, draw(set_values)))
        elif kind == "REMOVE":
            removes.append(RemoveAction(target))
        elif kind == "ADD":
            adds.append(AddAction(target, draw(value_refs)))
        else:
            deletes.append(DeleteAction(target, draw(value_refs)))
    return Update(tuple(sets), tuple(removes), tuple(adds), tuple(deletes))


@given(updates())
def test_generated_updates_round_trip(update: Update) -> None:
    text = unparse(update)
    parsed = parse_update(text)
    assert parsed == update
    assert str(parsed) == text
    for action in parsed.actions:
        assert text[action.pos:].startswith(unparse(action.path))


@given(updates())
def test_round_trip_is_insensitive_to_case_and_spacing(update: Update) -> None:
    text = unparse(update)
    mangled: Any = text
    for keyword in ("SET ", "REMOVE ", "ADD ", "DELETE "):
        mangled = mangled.replace(keyword, "  " + keyword.lower() + " ")
    assert parse_update(mangled.replace(", ", " ,")) == update
