"""Condition expressions: every grammar rule, precedence, associativity, positions and
the unparse -> parse round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions import (
    COMPARATORS,
    MAX_IN_OPERANDS,
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
    Index,
    Name,
    NamePlaceholder,
    Node,
    Not,
    Operand,
    Or,
    Path,
    Size,
    ValueRef,
    parse_condition,
    unparse,
)


def p(*elements: str | int) -> Path:
    """A path from names, #placeholders and indexes."""
    return Path(tuple(
        Index(e) if isinstance(e, int) else NamePlaceholder(e) if e.startswith("#") else Name(e)
        for e in elements
    ))


def v(name: str) -> ValueRef:
    return ValueRef(name)


def expr(text: str) -> BoolExpr:
    return parse_condition(text).expr


A, B, C, D = (Compare("=", p(x), v(":v")) for x in "abcd")


# ---------------------------------------------------------------------------- comparators


@pytest.mark.parametrize("op", COMPARATORS)
def test_each_comparator(op: str) -> None:
    parsed = expr(f"price {op} :limit")
    assert parsed == Compare(op, p("price"), v(":limit"))
    assert isinstance(parsed, Compare)
    assert parsed.pos == 6


@pytest.mark.parametrize("op", COMPARATORS)
def test_comparators_need_no_spaces(op: str) -> None:
    assert expr(f"a{op}:v") == Compare(op, p("a"), v(":v"))


def test_comparisons_between_paths_values_and_size() -> None:
    assert expr(":v = a") == Compare("=", v(":v"), p("a"))
    assert expr("a < b") == Compare("<", p("a"), p("b"))
    assert expr("size(a) >= :n") == Compare(">=", Size(p("a")), v(":n"))
    assert expr(":n <> size(a.b[2])") == Compare("<>", v(":n"), Size(p("a", "b", 2)))


# ---------------------------------------------------------------------------- BETWEEN and IN


def test_between() -> None:
    assert expr("a BETWEEN :lo AND :hi") == Between(p("a"), v(":lo"), v(":hi"))
    assert expr("size(a) between b and c") == Between(Size(p("a")), p("b"), p("c"))


def test_between_and_inside_a_conjunction() -> None:
    assert expr("a BETWEEN :lo AND :hi AND b = :v") == And(
        Between(p("a"), v(":lo"), v(":hi")), B)


def test_in() -> None:
    assert expr("a IN (:x)") == In(p("a"), (v(":x"),))
    assert expr("a in (:x, b, size(c))") == In(p("a"), (v(":x"), p("b"), Size(p("c"))))


def test_in_accepts_up_to_the_limit() -> None:
    listed = ", ".join(f":v{i}" for i in range(100))
    parsed = expr(f"a IN ({listed})")
    assert isinstance(parsed, In)
    assert len(parsed.candidates) == 100 == MAX_IN_OPERANDS - 1


def test_in_refuses_more_than_the_limit() -> None:
    listed = ", ".join(f":v{i}" for i in range(101))
    with pytest.raises(ValidationError) as caught:
        parse_condition(f"a IN ({listed})")
    assert caught.value.position == 2
    assert caught.value.message == (
        "The IN operator is provided with too many operands; number of operands: "
        f"{MAX_IN_OPERANDS + 1}")


# ---------------------------------------------------------------------------- functions


def test_each_function() -> None:
    assert expr("attribute_exists(a.b)") == AttributeExists(p("a", "b"))
    assert expr("attribute_not_exists(#n)") == AttributeNotExists(p("#n"))
    assert expr("attribute_type(a, :t)") == AttributeType(p("a"), v(":t"))
    assert expr("begins_with(a, :pre)") == BeginsWith(p("a"), v(":pre"))
    assert expr("contains(a, :e)") == Contains(p("a"), v(":e"))
    assert expr("size(a) = :n") == Compare("=", Size(p("a")), v(":n"))


def test_function_arguments_may_be_values_or_size() -> None:
    assert expr("begins_with(:s, a)") == BeginsWith(v(":s"), p("a"))
    assert expr("contains(a, size(b))") == Contains(p("a"), Size(p("b")))


def test_function_spacing_is_free() -> None:
    assert expr("attribute_exists ( a )") == AttributeExists(p("a"))


# ---------------------------------------------------------------------------- logic


def test_and_or_not() -> None:
    assert expr("a = :v AND b = :v") == And(A, B)
    assert expr("a = :v OR b = :v") == Or(A, B)
    assert expr("NOT a = :v") == Not(A)
    assert expr("NOT NOT a = :v") == Not(Not(A))


def test_and_binds_tighter_than_or() -> None:
    assert expr("a = :v OR b = :v AND c = :v") == Or(A, And(B, C))
    assert expr("a = :v AND b = :v OR c = :v") == Or(And(A, B), C)


def test_not_binds_tighter_than_and_and_or() -> None:
    assert expr("NOT a = :v AND b = :v") == And(Not(A), B)
    assert expr("NOT a = :v OR b = :v") == Or(Not(A), B)


def test_comparison_binds_tighter_than_not() -> None:
    assert expr("NOT a BETWEEN :v AND :w") == Not(Between(p("a"), v(":v"), v(":w")))
    assert expr("NOT a IN (:v)") == Not(In(p("a"), (v(":v"),)))


def test_and_and_or_associate_to_the_left() -> None:
    assert expr("a = :v AND b = :v AND c = :v") == And(And(A, B), C)
    assert expr("a = :v OR b = :v OR c = :v") == Or(Or(A, B), C)


def test_parentheses_override_precedence() -> None:
    assert expr("(a = :v OR b = :v) AND c = :v") == And(Or(A, B), C)
    assert expr("a = :v AND (b = :v AND c = :v)") == And(A, And(B, C))
    assert expr("NOT (a = :v AND b = :v)") == Not(And(A, B))
    assert expr("(a = :v)") == A
    assert expr("((a = :v OR b = :v) AND (c = :v OR d = :v))") == And(Or(A, B), Or(C, D))


def test_parenthesized_operands() -> None:
    assert expr("(a) = :v") == A
    assert expr("(size(a)) > :v") == Compare(">", Size(p("a")), v(":v"))
    assert expr("(a)between(b.c[45].#d)and(:x)") == Between(
        p("a"), p("b", "c", 45, "#d"), v(":x"))
    assert expr("attribute_exists((a))") == AttributeExists(p("a"))


def test_keywords_are_case_insensitive() -> None:
    assert expr("a = :v and b = :v or not c = :v") == Or(And(A, B), Not(C))
    assert expr("a bEtWeEn :v AnD :w") == Between(p("a"), v(":v"), v(":w"))
    assert expr("a In (:v)") == In(p("a"), (v(":v"),))


# ---------------------------------------------------------------------------- paths


def test_paths_with_members_indexes_and_placeholders() -> None:
    assert expr("a.b.c = :v").left == p("a", "b", "c")  # type: ignore[union-attr]
    assert expr("a[0][12] = :v").left == p("a", 0, 12)  # type: ignore[union-attr]
    assert expr("#a.b[1].#c = :v").left == p("#a", "b", 1, "#c")  # type: ignore[union-attr]
    assert expr("a . b [ 3 ] = :v").left == p("a", "b", 3)  # type: ignore[union-attr]


def test_placeholders_allow_digits_and_underscores() -> None:
    assert expr("#1 = :_").left == p("#1")  # type: ignore[union-attr]
    assert expr("Alpha_Numeric_123 = :123a") == Compare("=", p("Alpha_Numeric_123"), v(":123a"))


def test_placeholders_may_stand_for_reserved_words() -> None:
    assert expr("#name = :v") == Compare("=", p("#name"), v(":v"))


# ---------------------------------------------------------------------------- positions


def test_nodes_keep_their_source_positions() -> None:
    text = "NOT a.b = :v OR contains(#c, :x) AND d BETWEEN :lo AND :hi"
    parsed = parse_condition(text)
    assert parsed.text == text
    top = parsed.expr
    assert isinstance(top, Or)
    assert text[top.pos:].startswith("OR")
    assert isinstance(top.left, Not)
    assert top.left.pos == 0
    compare = top.left.operand
    assert isinstance(compare, Compare)
    assert text[compare.pos] == "="
    assert isinstance(compare.right, ValueRef)
    assert text[compare.right.pos:].startswith(":v")
    right = top.right
    assert isinstance(right, And)
    assert text[right.pos:].startswith("AND d")
    assert isinstance(right.left, Contains)
    assert text[right.left.pos:].startswith("contains")
    assert isinstance(right.right, Between)
    assert text[right.right.pos:].startswith("BETWEEN")
    element = right.left.operand
    assert isinstance(element, Path)
    assert text[element.pos:].startswith("#c")


def test_what_names_the_parameter() -> None:
    assert parse_condition("a = :v", what="FilterExpression").what == "FilterExpression"
    with pytest.raises(ValidationError) as caught:
        parse_condition("a =", what="FilterExpression")
    assert caught.value.what == "FilterExpression"


# ---------------------------------------------------------------------------- unparse


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("a=:v", "a = :v"),
        ("(a = :v OR b = :v) AND c = :v", "(a = :v OR b = :v) AND c = :v"),
        ("a = :v OR (b = :v AND c = :v)", "a = :v OR b = :v AND c = :v"),
        ("a = :v AND (b = :v AND c = :v)", "a = :v AND (b = :v AND c = :v)"),
        ("not (a = :v)", "NOT a = :v"),
        ("NOT (a = :v OR b = :v)", "NOT (a = :v OR b = :v)"),
        ("a between :x and :y", "a BETWEEN :x AND :y"),
        ("a in (:x,:y)", "a IN (:x, :y)"),
        ("attribute_type( #a.b[2] ,:t)", "attribute_type(#a.b[2], :t)"),
        ("(size(a)) > :n", "size(a) > :n"),
    ],
)
def test_unparse_is_canonical(text: str, canonical: str) -> None:
    parsed = parse_condition(text)
    assert str(parsed) == canonical
    assert unparse(parsed.expr) == canonical
    assert parse_condition(canonical) == parsed


# ---------------------------------------------------------------------------- round trip

_names = st.sampled_from(["a", "b", "price", "Item_2", "x1"]).map(Name)
_placeholders = st.sampled_from(["#a", "#n1", "#_"]).map(NamePlaceholder)
_heads = st.one_of(_names, _placeholders)
_steps = st.one_of(_names, _placeholders, st.integers(0, 30).map(Index))
paths = st.builds(lambda head, rest: Path((head, *rest)), _heads,
                  st.lists(_steps, max_size=3))
value_refs = st.sampled_from([":v", ":w1", ":_x"]).map(ValueRef)
operands: st.SearchStrategy[Operand] = st.one_of(
    paths, value_refs, st.builds(Size, st.one_of(paths, value_refs)))
leaves: st.SearchStrategy[BoolExpr] = st.one_of(
    st.builds(Compare, st.sampled_from(COMPARATORS), operands, operands),
    st.builds(Between, operands, operands, operands),
    st.builds(In, operands, st.lists(operands, min_size=1, max_size=4).map(tuple)),
    st.builds(AttributeExists, paths),
    st.builds(AttributeNotExists, paths),
    st.builds(AttributeType, operands, operands),
    st.builds(BeginsWith, operands, operands),
    st.builds(Contains, operands, operands),
)
conditions: st.SearchStrategy[BoolExpr] = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(Not, inner), st.builds(And, inner, inner), st.builds(Or, inner, inner)),
    max_leaves=10,
)


def _positions_are_in_text(node: Node, text: str) -> None:
    assert 0 <= node.pos < len(text)


@given(conditions)
def test_generated_conditions_round_trip(condition: BoolExpr) -> None:
    text = unparse(condition)
    parsed = parse_condition(text)
    assert parsed.expr == condition
    assert str(parsed) == text
    _positions_are_in_text(parsed.expr, text)


@given(conditions)
def test_round_trip_is_insensitive_to_case_and_spacing(condition: BoolExpr) -> None:
    text = unparse(condition)
    mangled = (text.replace(" AND ", "  and\t").replace(" OR ", " oR ")
               .replace("NOT ", "not  ").replace(", ", ","))
    assert parse_condition(mangled) == Condition(condition)
