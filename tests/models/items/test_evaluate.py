"""What expressions mean: condition evaluation, update application, and the laws
that tie them together (checked with Hypothesis)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions import (
    COMPARATORS,
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
    Not,
    Operand,
    Or,
    Path,
    Size,
    ValueRef,
    apply_update,
    evaluate_condition,
    parse_condition,
    parse_update,
    updated_paths,
    validate_condition,
)
from replicheck.models.items.values import add_numbers, freeze, freeze_item, normalize_item

ITEM: dict[str, Any] = normalize_item({
    "id": "k1",
    "n": 10,
    "s": "hello",
    "b": b"\x01\x02\x03",
    "t": True,
    "nul": None,
    "l": ["x", 2, {"k": "v"}],
    "m": {"a": "1", "b": {"c": 3}},
    "ss": {"a", "b"},
    "ns": {1, Decimal("2.5")},
    "bs": {b"x", b"y"},
    "blank": "",
})


def holds(text: str, item: dict[str, Any] | None = ITEM, names: dict[str, str] | None = None,
          **values: Any) -> bool:
    return evaluate_condition(parse_condition(text), item, names or {},
                              {f":{k}": v for k, v in values.items()})


def updated(text: str, item: dict[str, Any] | None = ITEM,
            names: dict[str, str] | None = None, **values: Any) -> dict[str, Any]:
    return apply_update(parse_update(text), item, names or {},
                        {f":{k}": v for k, v in values.items()})


# ---------------------------------------------------------------------------- comparators


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("n = :v", {"v": 10}, True), ("n = :v", {"v": Decimal("10.0")}, True),
        ("n = :v", {"v": 11}, False), ("n <> :v", {"v": 11}, True), ("n <> :v", {"v": 10}, False),
        ("n < :v", {"v": 11}, True), ("n < :v", {"v": 10}, False),
        ("n <= :v", {"v": 10}, True), ("n <= :v", {"v": 9}, False),
        ("n > :v", {"v": 9}, True), ("n > :v", {"v": 10}, False),
        ("n >= :v", {"v": 10}, True), ("n >= :v", {"v": 11}, False),
        ("s < :v", {"v": "world"}, True), ("s > :v", {"v": "help"}, False),
        ("b < :v", {"v": b"\x01\x03"}, True), ("b >= :v", {"v": b"\x01\x02\x03"}, True),
        ("n = :v", {"v": "10"}, False), ("n <> :v", {"v": "10"}, True),
        ("n < :v", {"v": "99"}, False), ("n >= :v", {"v": "0"}, False),
        ("t = :v", {"v": True}, True), ("t = :v", {"v": 1}, False),
        ("nul = :v", {"v": None}, True),
        ("ss = :v", {"v": {"b", "a"}}, True), ("ns = :v", {"v": {Decimal("2.50"), 1}}, True),
        ("l = :v", {"v": ["x", 2, {"k": "v"}]}, True), ("l = :v", {"v": [2, "x"]}, False),
        ("m.b.c = :v", {"v": 3}, True), ("l[2].k = :v", {"v": "v"}, True),
        ("l[1] = :v", {"v": 2}, True), ("blank = :v", {"v": ""}, True),
    ],
)
def test_comparisons(text: str, values: dict[str, Any], expected: bool) -> None:
    assert holds(text, **values) is expected


@pytest.mark.parametrize("op", COMPARATORS)
def test_a_missing_attribute_is_only_unequal(op: str) -> None:
    assert holds(f"nothere {op} :v", v=1) is (op == "<>")
    assert holds(f"m.zz {op} :v", v=1) is (op == "<>")
    assert holds(f"l[7] {op} :v", v=1) is (op == "<>")
    assert holds(f"s.x {op} :v", v=1) is (op == "<>")
    assert holds(f"q {op} z") is (op == "<>")
    assert holds(f"n {op} :v", None, v=1) is (op == "<>")


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_ordering_other_types_from_the_item_is_false(op: str) -> None:
    assert not holds(f"l {op} m")
    assert not holds(f"t {op} t2", {"t": True, "t2": False})
    assert not holds(f"ss {op} :v", v="a")


def test_comparisons_between_two_attributes() -> None:
    assert holds("n > m.b.c")
    assert holds("s <> n")
    assert holds("l[0] = ss2", {"l": ["x"], "ss2": "x"})


def test_names_resolve_literally() -> None:
    item = {"a.b": Decimal(1), "a": {"b": Decimal(2)}}
    assert holds("#ab = :one", item, {"#ab": "a.b"}, one=1)
    assert holds("#a.#b = :two", item, {"#a": "a", "#b": "b"}, two=2)


# ---------------------------------------------------------------------------- BETWEEN and IN


def test_between_is_inclusive() -> None:
    assert holds("n BETWEEN :lo AND :hi", lo=10, hi=10)
    assert holds("n BETWEEN :lo AND :hi", lo=1, hi=100)
    assert not holds("n BETWEEN :lo AND :hi", lo=11, hi=20)
    assert holds("s BETWEEN :lo AND :hi", lo="a", hi="i")
    assert holds("b BETWEEN :lo AND :hi", lo=b"\x01", hi=b"\x02")


def test_between_is_false_on_other_types_or_missing() -> None:
    assert not holds("n BETWEEN :lo AND :hi", lo="0", hi="9")
    assert not holds("nothere BETWEEN :lo AND :hi", lo=0, hi=9)
    # Bounds from the item in the wrong order make it false, not an error.
    assert not holds("n BETWEEN hi AND lo", {"n": Decimal(5), "hi": Decimal(9),
                                              "lo": Decimal(1)})


def test_in() -> None:
    assert holds("n IN (:a, :b)", a="dog", b=10)
    assert not holds("n IN (:a, :b)", a="dog", b=11)
    assert holds("ss IN (:a)", a={"a", "b"})
    assert not holds("nothere IN (:a)", a=1)
    assert holds("m.a IN (s, :x)", x="1")


# ---------------------------------------------------------------------------- functions


def test_attribute_exists_and_not_exists() -> None:
    for path in ("n", "m.b.c", "l[2].k", "nul", "blank"):
        assert holds(f"attribute_exists({path})")
        assert not holds(f"attribute_not_exists({path})")
    for path in ("zz", "m.zz", "l[3]", "s.x", "n[0]"):
        assert not holds(f"attribute_exists({path})")
        assert holds(f"attribute_not_exists({path})")
    assert holds("attribute_not_exists(id)", None)


@pytest.mark.parametrize(
    ("path", "kind"),
    [("s", "S"), ("n", "N"), ("b", "B"), ("t", "BOOL"), ("nul", "NULL"), ("l", "L"),
     ("m", "M"), ("ss", "SS"), ("ns", "NS"), ("bs", "BS")],
)
def test_attribute_type(path: str, kind: str) -> None:
    assert holds(f"attribute_type({path}, :t)", t=kind)
    other = "S" if kind != "S" else "N"
    assert not holds(f"attribute_type({path}, :t)", t=other)
    assert not holds("attribute_type(nothere, :t)", t=kind)


def test_begins_with() -> None:
    assert holds("begins_with(s, :p)", p="he")
    assert holds("begins_with(s, :p)", p="")
    assert not holds("begins_with(s, :p)", p="lo")
    assert holds("begins_with(b, :p)", p=b"\x01\x02")
    assert not holds("begins_with(s, :p)", p=b"he")
    assert not holds("begins_with(n, :p)", p="1")
    assert not holds("begins_with(nothere, :p)", p="a")


def test_contains() -> None:
    assert holds("contains(s, :x)", x="ell")
    assert not holds("contains(s, :x)", x="xyz")
    assert holds("contains(ss, :x)", x="a")
    assert not holds("contains(ss, :x)", x={"a"})
    assert holds("contains(ns, :x)", x=Decimal("2.50"))
    assert not holds("contains(ns, :x)", x="1")
    assert holds("contains(bs, :x)", x=b"y")
    assert holds("contains(l, :x)", x={"k": "v"})
    assert holds("contains(l, :x)", x=2)
    assert not holds("contains(l, :x)", x="2")
    assert holds("contains(b, :x)", x=b"\x02\x03")
    assert not holds("contains(n, :x)", x=1)
    assert not holds("contains(nothere, :x)", x="a")


@pytest.mark.parametrize(
    ("path", "size"),
    [("s", 5), ("b", 3), ("l", 3), ("m", 2), ("ss", 2), ("ns", 2), ("bs", 2), ("blank", 0)],
)
def test_size(path: str, size: int) -> None:
    assert holds(f"size({path}) = :n", n=size)
    assert holds(f"size({path}) BETWEEN :lo AND :hi", lo=size, hi=size + 1)


def test_size_of_what_has_no_size_is_missing() -> None:
    for path in ("n", "t", "nul", "nothere"):
        assert not holds(f"size({path}) >= :zero", zero=0)
        assert holds(f"size({path}) <> :zero", zero=0)


def test_logic() -> None:
    assert holds("n = :ten AND s = :hello", ten=10, hello="hello")
    assert not holds("n = :ten AND s = :other", ten=10, other="x")
    assert holds("n = :nine OR s = :hello", nine=9, hello="hello")
    assert holds("NOT n = :nine", nine=9)
    assert holds("n = :nine OR s = :hello AND NOT t = :f", nine=9, hello="hello", f=False)


def test_validation_is_reusable_across_items() -> None:
    context = validate_condition(parse_condition("n > :v"), {}, {":v": 5})
    assert context.evaluate(ITEM)
    assert not context.evaluate({"n": Decimal(1)})
    assert not context.evaluate(None)


# ---------------------------------------------------------------------------- updates


def test_set() -> None:
    assert updated("SET x = :v", v=1)["x"] == Decimal(1)
    assert updated("SET s = :v", v=[1])["s"] == [Decimal(1)]
    assert updated("SET x = m.b")["x"] == {"c": Decimal(3)}
    assert updated("SET n = n + :d", d=5)["n"] == Decimal(15)
    assert updated("SET n = :d - n", d=5)["n"] == Decimal(-5)
    assert updated("SET x = :a + :b", a=Decimal("0.1"), b=Decimal("0.2"))["x"] == Decimal("0.3")


def test_set_list_append_and_if_not_exists() -> None:
    assert updated("SET l = list_append(l, :x)", x=["y"])["l"] == ["x", 2, {"k": "v"}, "y"]
    assert updated("SET l = list_append(:x, l)", x=["y"])["l"][0] == "y"
    assert updated("SET n = if_not_exists(n, :d)", d=0)["n"] == 10
    assert updated("SET q = if_not_exists(q, :d)", d=0)["q"] == 0
    assert updated("SET q = if_not_exists(q, :z) + :one", z=0, one=1)["q"] == 1
    result = updated("SET q = list_append(if_not_exists(q, :e), :x)", e=[], x=[1])
    assert result["q"] == [1]


def test_set_nested_members_and_list_elements() -> None:
    result = updated("SET m.b.d = :v, m.a = :w, l[0] = :x", v=4, w="2", x="X")
    assert result["m"] == {"a": "2", "b": {"c": 3, "d": 4}}
    assert result["l"][0] == "X"


def test_set_past_the_end_appends_in_index_order() -> None:
    result = updated("SET l[84] = :a, l[37] = :b, l[17] = :c", a="a1", b="a2", c="a3")
    assert result["l"] == ["x", 2, {"k": "v"}, "a3", "a2", "a1"]


def test_set_reads_the_item_as_it_was() -> None:
    result = updated("SET s = n, n = s")
    assert (result["s"], result["n"]) == (10, "hello")


def test_remove() -> None:
    result = updated("REMOVE s, m.b.c, nothere, l[9]")
    assert "s" not in result
    assert result["m"] == {"a": "1", "b": {}}
    assert result["l"] == ITEM["l"]


def test_remove_list_elements_by_their_original_positions() -> None:
    item = normalize_item({"a": [2, 3, 4, 5, 6, 7]})
    assert updated("REMOVE a[1], a[2]", item)["a"] == [2, 5, 6, 7]
    assert updated("REMOVE a[1] SET a[3] = :v", item, v=17)["a"] == [2, 4, 17, 6, 7]
    assert updated("SET a[3] = :v REMOVE a[1]", item, v=17)["a"] == [2, 4, 17, 6, 7]


def test_remove_from_a_missing_item_does_nothing() -> None:
    assert updated("REMOVE x.y, z[0], w", None) == {}


def test_add_numbers_and_sets() -> None:
    assert updated("ADD n :d", d=-3)["n"] == 7
    assert updated("ADD q :d", d=5)["q"] == 5
    assert updated("ADD q :d", None, d=5) == {"q": 5}
    assert updated("ADD ss :x", x={"c"})["ss"] == frozenset({"a", "b", "c"})
    assert updated("ADD ns :x", x={3})["ns"] == frozenset({1, Decimal("2.5"), 3})
    assert updated("ADD q :x", x={b"z"})["q"] == frozenset({b"z"})
    assert updated("ADD m.tally :d", d=1)["m"]["tally"] == 1


def test_add_to_a_set_of_another_type_is_refused() -> None:
    with pytest.raises(ValidationError, match="incorrect data type"):
        updated("ADD ss :x", x={1})


def test_delete_from_sets() -> None:
    assert updated("DELETE ss :x", x={"a", "zz"})["ss"] == frozenset({"b"})
    assert "ss" not in updated("DELETE ss :x", x={"a", "b"})
    assert "q" not in updated("DELETE q :x", x={"a"})
    assert updated("DELETE ns :x", x={Decimal("2.50")})["ns"] == frozenset({1})


def test_all_clauses_together() -> None:
    result = updated("SET x = :v REMOVE s ADD n :one DELETE ss :a", v="new", one=1, a={"a"})
    assert (result["x"], result["n"], result["ss"]) == ("new", 11, frozenset({"b"}))
    assert "s" not in result


def test_update_on_a_missing_item_builds_a_new_one() -> None:
    assert updated("SET a = :v ADD n :one", None, v="x", one=1) == {"a": "x", "n": 1}
    with pytest.raises(ValidationError, match="invalid for update"):
        updated("SET a.b = :v", None, v=1)


def test_apply_update_shares_nothing_with_its_inputs() -> None:
    before = copy.deepcopy(ITEM)
    values = {":v": [1, {"k": [2]}]}
    result = apply_update(parse_update("SET x = :v, y = :v, z = m"), ITEM, {}, values)
    result["x"][1]["k"].append(3)
    result["m"]["a"] = "changed"
    result["z"]["b"]["c"] = 0
    assert result["y"] == [1, {"k": [2]}]
    assert before == ITEM
    assert values == {":v": [1, {"k": [2]}]}


def test_updated_paths() -> None:
    update = parse_update("SET a.b = :v, #c = :w REMOVE d[1]")
    assert updated_paths(update, {"#c": "c"}) == {"a", "c", "d"}


# ---------------------------------------------------------------------------- laws

ATTRIBUTES = ["a", "b", "c", "d"]
small_values = st.recursive(
    st.one_of(
        st.integers(-3, 3).map(Decimal), st.sampled_from(["", "a", "ab", "b"]),
        st.sampled_from([b"", b"a", b"ab"]), st.booleans(), st.none(),
        st.frozensets(st.sampled_from(["a", "b"]), min_size=1),
        st.frozensets(st.integers(0, 2).map(Decimal), min_size=1),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["x", "y"]), inner, max_size=2)),
    max_leaves=5,
)
law_items = st.dictionaries(st.sampled_from(ATTRIBUTES), small_values)
law_values = st.fixed_dictionaries({f":v{i}": small_values for i in range(3)})
law_paths = st.one_of(
    st.sampled_from(ATTRIBUTES).map(lambda n: Path((Name(n),))),
    st.sampled_from(ATTRIBUTES).map(lambda n: Path((Name(n), Name("x")))),
    st.sampled_from(ATTRIBUTES).map(lambda n: Path((Name(n), Index(0)))),
)
law_refs = st.sampled_from([":v0", ":v1", ":v2"]).map(ValueRef)
law_operands: st.SearchStrategy[Operand] = st.one_of(
    law_paths, law_refs, st.builds(Size, law_paths))
law_leaves: st.SearchStrategy[BoolExpr] = st.one_of(
    st.builds(Compare, st.sampled_from(COMPARATORS), law_operands, law_operands),
    st.builds(Between, law_operands, law_operands, law_operands),
    st.builds(In, law_operands, st.lists(law_operands, min_size=1, max_size=3).map(tuple)),
    st.builds(AttributeExists, law_paths),
    st.builds(AttributeNotExists, law_paths),
    st.builds(AttributeType, law_operands, law_operands),
    st.builds(BeginsWith, law_operands, law_operands),
    st.builds(Contains, law_operands, law_operands),
)
law_conditions: st.SearchStrategy[BoolExpr] = st.recursive(
    law_leaves,
    lambda inner: st.one_of(st.builds(Not, inner), st.builds(And, inner, inner),
                            st.builds(Or, inner, inner)),
    max_leaves=6,
)


def outcome(expr: BoolExpr, item: dict[str, Any], values: dict[str, Any]) -> bool | str:
    """The condition's value, or "error" when it is refused."""
    try:
        return evaluate_condition(Condition(expr), item, {}, values)
    except ValidationError:
        return "error"


@given(law_conditions, law_items, law_values)
def test_not_flips_the_result(expr: BoolExpr, item: dict[str, Any],
                              values: dict[str, Any]) -> None:
    result = outcome(expr, item, values)
    flipped = outcome(Not(expr), item, values)
    assert flipped == ("error" if result == "error" else not result)


@given(law_conditions, law_conditions, law_items, law_values)
def test_and_or_agree_with_python(left: BoolExpr, right: BoolExpr, item: dict[str, Any],
                                  values: dict[str, Any]) -> None:
    x, y = outcome(left, item, values), outcome(right, item, values)
    both, either = outcome(And(left, right), item, values), outcome(Or(left, right), item, values)
    if "error" in (x, y):
        assert both == either == "error"
    else:
        assert both == (x and y)
        assert either == (x or y)


@given(law_operands, law_operands, law_operands, law_items, law_values)
def test_between_is_the_two_comparisons(value: Operand, low: Operand, high: Operand,
                                        item: dict[str, Any], values: dict[str, Any]) -> None:
    between = outcome(Between(value, low, high), item, values)
    if between != "error":
        both = And(Compare(">=", value, low), Compare("<=", value, high))
        assert outcome(both, item, values) == between


@given(law_operands, st.lists(law_operands, min_size=1, max_size=4), law_items, law_values)
def test_in_is_an_or_of_equalities(value: Operand, candidates: list[Operand],
                                   item: dict[str, Any], values: dict[str, Any]) -> None:
    equalities: BoolExpr = Compare("=", value, candidates[0])
    for candidate in candidates[1:]:
        equalities = Or(equalities, Compare("=", value, candidate))
    assert outcome(In(value, tuple(candidates)), item, values) == outcome(
        equalities, item, values)


@given(law_conditions, law_items, law_values)
def test_conditions_round_trip_through_text_with_the_same_meaning(
    expr: BoolExpr, item: dict[str, Any], values: dict[str, Any],
) -> None:
    reparsed = parse_condition(str(Condition(expr))).expr
    assert outcome(reparsed, item, values) == outcome(expr, item, values)


@st.composite
def law_updates(draw: st.DrawFn) -> str:
    targets = draw(st.lists(st.sampled_from([*ATTRIBUTES, "e"]), min_size=1, max_size=4,
                            unique=True))
    clauses: dict[str, list[str]] = {}
    for target in targets:
        suffix = draw(st.sampled_from(["", ".x", "[0]"]))
        verb = draw(st.sampled_from(["SET", "REMOVE", "ADD", "DELETE"]))
        ref = draw(st.sampled_from([":v0", ":v1", ":v2"]))
        if verb == "SET":
            value = draw(st.sampled_from([ref, f"{ref} + :v1", f"list_append({ref}, :v2)",
                                          f"if_not_exists({target}, {ref})", "a"]))
            action = f"{target}{suffix} = {value}"
        elif verb == "REMOVE":
            action = f"{target}{suffix}"
        else:
            action = f"{target}{suffix} {ref}"
        clauses.setdefault(verb, []).append(action)
    return " ".join(f"{verb} {', '.join(actions)}" for verb, actions in clauses.items())


@given(law_updates(), law_items, law_values)
def test_apply_update_never_mutates_its_input(text: str, item: dict[str, Any],
                                              values: dict[str, Any]) -> None:
    before, frozen = copy.deepcopy(item), freeze_item(item)
    values_before = copy.deepcopy(values)
    try:
        result = apply_update(parse_update(text), item, {}, values)
    except ValidationError:
        result = None
    assert item == before
    assert freeze_item(item) == frozen
    assert values == values_before
    assert result is not item


@given(law_items, st.sampled_from(ATTRIBUTES), small_values)
def test_set_then_the_path_equals_the_value(item: dict[str, Any], name: str,
                                            value: Any) -> None:
    result = apply_update(parse_update(f"SET {name} = :v"), item, {}, {":v": value})
    assert evaluate_condition(parse_condition(f"{name} = :v"), result, {}, {":v": value})
    assert {k: freeze(v) for k, v in result.items() if k != name} == {
        k: freeze(v) for k, v in item.items() if k != name}


@given(law_items, st.sampled_from(ATTRIBUTES), small_values, small_values)
def test_set_of_a_nested_member_then_the_member_equals_the_value(
    item: dict[str, Any], name: str, inner: Any, value: Any,
) -> None:
    item = {**item, name: {"x": inner}}
    result = apply_update(parse_update(f"SET {name}.x = :v"), item, {}, {":v": value})
    assert evaluate_condition(parse_condition(f"{name}.x = :v"), result, {}, {":v": value})


_NUMBERS = st.builds(lambda m, e: Decimal(m).scaleb(e), st.integers(-(10**12), 10**12),
                     st.integers(-20, 20))


@given(law_items, st.sampled_from(ATTRIBUTES), st.one_of(st.none(), _NUMBERS), _NUMBERS)
def test_add_of_numbers_is_addition(item: dict[str, Any], name: str, old: Decimal | None,
                                    delta: Decimal) -> None:
    item = {k: v for k, v in item.items() if k != name}
    if old is not None:
        item[name] = old
    try:
        expected = add_numbers(old if old is not None else 0, delta)
    except ValidationError:
        with pytest.raises(ValidationError):
            apply_update(parse_update(f"ADD {name} :d"), item, {}, {":d": delta})
        return
    result = apply_update(parse_update(f"ADD {name} :d"), item, {}, {":d": delta})
    assert result[name] == expected


@given(law_items, st.sampled_from(ATTRIBUTES))
def test_remove_makes_attribute_not_exists_true(item: dict[str, Any], name: str) -> None:
    result = apply_update(parse_update(f"REMOVE {name}"), item, {}, {})
    assert evaluate_condition(parse_condition(f"attribute_not_exists({name})"), result, {}, {})
    assert name not in result
    assert all(freeze(result[k]) == freeze(item[k]) for k in item if k != name)
