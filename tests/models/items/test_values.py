"""Attribute values: types, validation, canonical forms, freezing and the wire format."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.values import (
    add_numbers,
    check_number,
    compare_values,
    freeze,
    freeze_item,
    from_wire,
    item_from_wire,
    item_to_wire,
    normalize,
    normalize_item,
    number_to_wire,
    parse_number,
    size_of,
    subtract_numbers,
    thaw,
    thaw_item,
    to_wire,
    type_of,
    values_equal,
)

# ---------------------------------------------------------------------------- strategies

numbers = st.one_of(
    st.integers(-1000, 1000).map(Decimal),
    st.builds(
        lambda m, e: Decimal(m).scaleb(e),
        st.integers(-(10**38) + 1, 10**38 - 1),
        st.integers(-130, 87),
    ),
)
scalars = st.one_of(
    st.text(max_size=6),
    numbers,
    st.binary(max_size=6),
    st.booleans(),
    st.none(),
    st.frozensets(st.text(max_size=4), min_size=1, max_size=4),
    st.frozensets(numbers, min_size=1, max_size=4),
    st.frozensets(st.binary(max_size=4), min_size=1, max_size=4),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
    ),
    max_leaves=12,
)
items = st.dictionaries(st.text(min_size=1, max_size=5), values, max_size=5)


# ---------------------------------------------------------------------------- type_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x", "S"), ("", "S"), (Decimal("1.5"), "N"), (3, "N"), (b"\x00", "B"),
        (bytearray(b"a"), "B"), (True, "BOOL"), (False, "BOOL"), (None, "NULL"),
        ([1, "a"], "L"), ({"k": 1}, "M"), ({"a", "b"}, "SS"), (frozenset({1, 2}), "NS"),
        ({b"a"}, "BS"),
    ],
)
def test_type_of_names_every_type(value: Any, expected: str) -> None:
    assert type_of(value) == expected


def test_type_of_keeps_bool_apart_from_numbers() -> None:
    assert type_of(True) == "BOOL"
    assert type_of(1) == "N"


@pytest.mark.parametrize("value", [1.5, object(), set(), {1, "a"}, {True}])
def test_type_of_refuses_values_without_a_dynamodb_type(value: Any) -> None:
    with pytest.raises(ValidationError):
        type_of(value)


# ---------------------------------------------------------------------------- normalize


def test_normalize_canonicalises_inputs() -> None:
    value = normalize({"n": 7, "b": bytearray(b"xy"), "s": {"a"}, "l": (1, True, None)})
    assert value == {"n": Decimal(7), "b": b"xy", "s": frozenset({"a"}),
                     "l": [Decimal(1), True, None]}
    assert isinstance(value["n"], Decimal)
    assert isinstance(value["b"], bytes)
    assert isinstance(value["s"], frozenset)
    assert value["l"][1] is True


def test_normalize_writes_numbers_as_dynamodb_returns_them() -> None:
    assert str(normalize(Decimal("1.500"))) == "1.5"
    assert str(normalize(Decimal("1E+2"))) == "100"
    assert str(normalize(Decimal("-0"))) == "0"
    assert normalize(frozenset({1, Decimal("1.0")})) == frozenset({Decimal(1)})


def test_normalize_allows_empty_strings_binaries_lists_and_maps() -> None:
    assert normalize("") == ""
    assert normalize(b"") == b""
    assert normalize([]) == []
    assert normalize({}) == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "Float types are not supported"),
        (set(), "may not be empty"),
        (frozenset(), "may not be empty"),
        ({1, "a"}, "one type"),
        ({True, False}, "one type"),
        ({1.5}, "one type"),
        (Decimal("NaN"), "cannot be converted to a numeric value"),
        (Decimal("Infinity"), "cannot be converted to a numeric value"),
        (Decimal("1" * 39), "Attempting to store more than 38 significant digits in a Number"),
        (Decimal("1E126"), "Number overflow"),
        (Decimal("-1E126"), "Number overflow"),
        (Decimal("1E-131"), "Number underflow"),
        ({1: "x"}, "A map key must be a string"),
        ("\ud800", "lone surrogate"),
        (object(), "Unsupported type"),
    ],
)
def test_normalize_refuses_what_dynamodb_refuses(value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        normalize(value)
    assert message in caught.value.message
    assert caught.value.what == "AttributeValue"


def test_number_limits_are_inclusive() -> None:
    assert check_number(Decimal("9.9999999999999999999999999999999999999E+125"))
    assert check_number(Decimal("1E-130")) == Decimal("1E-130")
    assert check_number(Decimal("1" * 38)) == Decimal("1" * 38)
    assert check_number(Decimal("1" + "0" * 60)) == Decimal("1E60")  # 1 significant digit


def test_nesting_deeper_than_32_is_refused() -> None:
    deep: Any = "x"
    for _ in range(32):
        deep = [deep]
    assert normalize(deep)
    with pytest.raises(ValidationError, match="Nesting Levels"):
        normalize([deep])


def test_normalize_item_checks_names_and_names_the_item() -> None:
    assert normalize_item({"a": 1}) == {"a": Decimal(1)}
    with pytest.raises(ValidationError) as caught:
        normalize_item({"": 1})
    assert caught.value.what == "Item"
    with pytest.raises(ValidationError):
        normalize_item({"a": 1.0})


# ---------------------------------------------------------------------------- numbers


def test_number_arithmetic_is_exact_and_bounded() -> None:
    assert add_numbers(Decimal("0.1"), Decimal("0.2")) == Decimal("0.3")
    assert subtract_numbers(10, Decimal("0.5")) == Decimal("9.5")
    with pytest.raises(ValidationError, match="Number overflow"):
        add_numbers(Decimal("9E+125"), Decimal("9E+125"))
    with pytest.raises(ValidationError, match="38 significant digits"):
        add_numbers(Decimal("1E+30"), Decimal("1E-30"))
    assert subtract_numbers(Decimal("5"), Decimal("5")) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "1"), ("-2.50", "-2.5"), ("1e3", "1000"), ("0.00100", "0.001"), (".5", "0.5"),
     ("+7", "7"), ("-0", "0")],
)
def test_parse_number_and_number_to_wire(text: str, expected: str) -> None:
    assert number_to_wire(parse_number(text)) == expected


@pytest.mark.parametrize("text", ["", "NaN", "Infinity", "1_000", " 1", "1.2.3", "0x10", "e5"])
def test_parse_number_refuses_non_numbers(text: str) -> None:
    with pytest.raises(ValidationError, match="cannot be converted to a numeric value"):
        parse_number(text)


# ---------------------------------------------------------------------------- semantics


def test_values_equal_keeps_types_apart() -> None:
    assert values_equal(Decimal(1), 1)
    assert not values_equal(True, Decimal(1))
    assert not values_equal("1", Decimal(1))
    assert values_equal({"a", "b"}, frozenset({"b", "a"}))
    assert values_equal({"x": [1, {"y": b"z"}]}, {"x": [Decimal(1), {"y": b"z"}]})
    assert not values_equal([1, 2], [2, 1])


def test_compare_values_orders_n_s_b_only() -> None:
    assert compare_values(Decimal(2), Decimal(10)) == -1
    assert compare_values("b", "a") == 1
    assert compare_values(b"\x01", b"\xff") == -1
    assert compare_values("a", "a") == 0
    assert compare_values("1", Decimal(1)) is None
    assert compare_values(True, False) is None
    assert compare_values([1], [2]) is None


def test_size_of_follows_dynamodb() -> None:
    assert size_of("abc") == 3
    assert size_of("é𝄞") == 3  # UTF-16 code units, as DynamoDB counts
    assert size_of(b"\x00\x01") == 2
    assert size_of([1, 2]) == 2
    assert size_of({"a": 1}) == 1
    assert size_of(frozenset({"a", "b", "c"})) == 3
    assert size_of(Decimal(5)) is None
    assert size_of(True) is None
    assert size_of(None) is None


# ---------------------------------------------------------------------------- freeze


def test_freeze_is_hashable_and_type_aware() -> None:
    assert freeze(True) != freeze(Decimal(1))
    assert freeze(Decimal("1.0")) == freeze(1)
    assert freeze({"b": 1, "a": 2}) == freeze({"a": 2, "b": 1})
    assert hash(freeze({"l": [1, {"s"}], "m": {"k": None}})) is not None
    assert freeze_item({"a": 1, "b": "x"}) == freeze_item({"b": "x", "a": Decimal(1)})
    assert thaw_item(freeze_item({"a": 1})) == {"a": Decimal(1)}


# ---------------------------------------------------------------------------- wire


def test_to_wire_examples() -> None:
    assert to_wire("x") == {"S": "x"}
    assert to_wire(Decimal("1.50")) == {"N": "1.5"}
    assert to_wire(b"hi") == {"B": "aGk="}
    assert to_wire(True) == {"BOOL": True}
    assert to_wire(None) == {"NULL": True}
    assert to_wire([1, "a"]) == {"L": [{"N": "1"}, {"S": "a"}]}
    assert to_wire({"k": {"v"}}) == {"M": {"k": {"SS": ["v"]}}}
    assert to_wire(frozenset({Decimal(10), Decimal(9)})) == {"NS": ["9", "10"]}
    assert to_wire(frozenset({b"b", b"a"})) == {"BS": ["YQ==", "Yg=="]}
    assert item_to_wire({"a": 1}) == {"a": {"N": "1"}}


def test_from_wire_examples() -> None:
    assert from_wire({"N": "-1.0"}) == Decimal(-1)
    assert from_wire({"B": "aGk="}) == b"hi"
    assert from_wire({"B": b"raw"}) == b"raw"
    assert from_wire({"NS": ["1", "2"]}) == frozenset({Decimal(1), Decimal(2)})
    assert from_wire({"M": {"a": {"NULL": True}}}) == {"a": None}
    assert item_from_wire({"k": {"S": "v"}}) == {"k": "v"}


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({}, "Supplied AttributeValue is empty"),
        ({"S": "a", "N": "1"}, "more than one datatypes"),
        ({"X": 1}, "unknown datatype"),
        ({"N": "abc"}, "cannot be converted to a numeric value: abc"),
        ({"N": 1}, "cannot be converted to a numeric value"),
        ({"NULL": False}, "Null attribute value types must have the value of true"),
        ({"SS": []}, "may not be empty"),
        ({"SS": ["a", "a"]}, "contains duplicates"),
        ({"NS": ["1", "1.0"]}, "contains duplicates"),
        ({"B": "not base64!"}, "Invalid base64"),
        ({"BOOL": "true"}, "true or false"),
        ({"N": "1e200"}, "Number overflow"),
        ({"N": "1e999999999"}, "Number overflow"),
        ({"N": "-9.5e999999999999"}, "Number overflow"),
        ({"N": "1e-999999999"}, "Number underflow"),
        ({"N": "1e-999999999999"}, "Number underflow"),
    ],
)
def test_from_wire_refuses_malformed_json(wire: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        from_wire(wire)
    assert message in caught.value.message


# ---------------------------------------------------------------------------- properties


@given(values)
def test_normalize_is_idempotent(value: Any) -> None:
    once = normalize(value)
    assert freeze(normalize(once)) == freeze(once)


@given(values)
def test_freeze_thaw_round_trip(value: Any) -> None:
    frozen = freeze(value)
    hash(frozen)
    assert freeze(thaw(frozen)) == frozen
    assert values_equal(thaw(frozen), value)


@given(values)
def test_wire_round_trip_through_json(value: Any) -> None:
    canonical = normalize(value)
    wire = json.loads(json.dumps(to_wire(canonical)))
    back = from_wire(wire)
    assert freeze(back) == freeze(canonical)
    assert to_wire(back) == wire


@given(items)
def test_item_round_trips(item: dict[str, Any]) -> None:
    canonical = normalize_item(item)
    assert freeze_item(item_from_wire(item_to_wire(canonical))) == freeze_item(canonical)
    assert freeze_item(thaw_item(freeze_item(canonical))) == freeze_item(canonical)


@given(values, values)
def test_freeze_equality_is_values_equal(a: Any, b: Any) -> None:
    assert (freeze(a) == freeze(b)) == values_equal(a, b)
    assert values_equal(a, a)
