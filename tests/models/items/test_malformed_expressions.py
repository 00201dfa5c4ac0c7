"""Malformed expressions: each is refused with a ValidationError naming the input
(what), the 0-based character position and what was expected, with DynamoDB's
message. Nothing is ever applied: the item given to apply_update is left as it was."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions import (
    MAX_ATTRIBUTE_NAME_BYTES,
    MAX_EXPRESSION_BYTES,
    MAX_OPERATORS,
    MAX_PATH_DEPTH,
    MAX_SUBSTITUTION_BYTES,
    AttributeExists,
    Condition,
    Index,
    LimitExceeded,
    Name,
    Path,
    RemoveAction,
    Update,
    apply_update,
    check_placeholders,
    evaluate_condition,
    parse_condition,
    parse_projection,
    parse_update,
)
from replicheck.models.items.requests import Put, TableSchema
from replicheck.models.items.validation import check_write

OPERAND = "an operand (an attribute name, #name, :value or a function)"
PATH = "a document path (an attribute name or #name)"
TOKEN_START = ("an attribute name, #name, :value, a keyword, a function, "
               "or one of ( ) [ ] , . + - = <> < <= > >=")
FUNCTIONS = ("one of attribute_exists, attribute_not_exists, attribute_type, begins_with, "
             "contains, size (conditions) or if_not_exists, list_append (SET values); "
             "function names are case-sensitive")
LOGIC_OR_END = "AND, OR or the end of the expression"
UPDATE_NEXT = "',', SET, REMOVE, ADD, DELETE or the end of the expression"
REDUNDANT = "The expression has redundant parentheses;"
MISUSE = "The function is not allowed to be used this way in an expression; function: "
OVERLAP = ("Two document paths overlap with each other; must remove or rewrite one of these "
           "paths; ")
CONFLICT = ("Two document paths conflict with each other; must remove or rewrite one of these "
            "paths; ")
COUNT = "Incorrect number of operands for operator or function; operator or function: "
NEEDS_PATH = "Operator or function requires a document path; operator or function: "
OPERAND_TYPE = "Incorrect operand type for operator or function; operator or function: "
RESERVED = "Attribute name is a reserved keyword; reserved keyword: "

PARSERS: dict[str, Callable[[str], Any]] = {
    "ConditionExpression": parse_condition,
    "UpdateExpression": parse_update,
    "ProjectionExpression": parse_projection,
}

C, U, P = "ConditionExpression", "UpdateExpression", "ProjectionExpression"

MALFORMED: list[tuple[str, str, int, str, str]] = [
    # (what, text, position, message, expected)
    (C, "", 0, "The expression can not be empty;", "a non-empty expression"),
    (C, "a = = :v", 4, 'Syntax error; token: "=", near: "= ="', OPERAND),
    (C, "a =", 3, 'Syntax error; token: "<EOF>", near: "="', OPERAND),
    (C, "a == :v", 3, 'Syntax error; token: "=", near: "=="', OPERAND),
    (C, "a != :v", 2, 'Syntax error; token: "!"', TOKEN_START),
    (C, "a > 4", 4, 'Syntax error; token: "4", near: "> 4"', OPERAND),
    (C, "_hidden = :v", 0, 'Syntax error; token: "_"', TOKEN_START),
    (C, "a = :v)", 6, 'Syntax error; token: ")", near: ":v)"', LOGIC_OR_END),
    (C, "(a = :v", 7, 'Syntax error; token: "<EOF>", near: ":v"', "')' (or AND, OR)"),
    (C, "a", 1, 'Syntax error; token: "<EOF>", near: "a"',
     "a comparator (= <> < <= > >=), BETWEEN or IN"),
    (C, "a IN ()", 6, 'Syntax error; token: ")", near: "()"', OPERAND),
    (C, "a IN :v", 5, 'Syntax error; token: ":v", near: "IN :v"', "'(' opening the list of IN"),
    (C, "a BETWEEN :x :y", 13, 'Syntax error; token: ":y", near: ":x :y"',
     "AND (operand BETWEEN low AND high)"),
    (C, "a.1 = :v", 2, 'Syntax error; token: "1", near: ".1"',
     "a map member (an attribute name or #name)"),
    (C, "a[x] = :v", 2, 'Syntax error; token: "x", near: "[x"', "a list index (decimal digits)"),
    (C, "a[1 = :v", 4, 'Syntax error; token: "=", near: "1 ="', "']'"),
    (C, "# = :v", 0, 'Syntax error; token: "#"',
     "an expression attribute name (#name) with letters, digits or _"),
    (C, "a = :", 4, 'Syntax error; token: ":"',
     "an expression attribute value (:value) with letters, digits or _"),
    (C, "NOT", 3, 'Syntax error; token: "<EOF>", near: "NOT"', OPERAND),
    (C, "a = :v AND", 10, 'Syntax error; token: "<EOF>", near: "AND"', OPERAND),
    (C, "a = :v b = :w", 7, 'Syntax error; token: "b", near: ":v b"', LOGIC_OR_END),
    (C, "a = :v AND OR b = :w", 11, 'Syntax error; token: "OR", near: "AND OR"', OPERAND),
    (C, "((a = :v))", 0, REDUNDANT, "one pair of parentheses around an expression"),
    (C, "a = :v AND ((b = :v))", 11, REDUNDANT, "one pair of parentheses around an expression"),
    (C, "a > ((b))", 4, REDUNDANT, "one pair of parentheses around an expression"),
    (C, "foo(a) = :v", 0, "Invalid function name; function: foo", FUNCTIONS),
    (C, "ATTRIBUTE_EXISTS(a)", 0, "Invalid function name; function: ATTRIBUTE_EXISTS", FUNCTIONS),
    (C, "size(a)", 0, MISUSE + "size", "size(...) compared with something (it is a number)"),
    (C, "attribute_exists(a) = :v", 0, MISUSE + "attribute_exists",
     "attribute_exists(...) as a condition of its own, not as an operand"),
    (C, "if_not_exists(a, :v) = :v", 0,
     "The function is not allowed in a condition expression; function: if_not_exists",
     "a condition function (attribute_exists, attribute_not_exists, attribute_type, "
     "begins_with, contains) or size"),
    (C, "name = :v", 0, RESERVED + "name", "an expression attribute name (#name) in place of name"),
    (C, "a.size = :v", 2, RESERVED + "size",
     "an expression attribute name (#name) in place of size"),
    (C, "Status <> :v", 0, RESERVED + "Status",
     "an expression attribute name (#name) in place of Status"),
    (C, "attribute_exists(a, b)", 0,
     COUNT + "attribute_exists, number of operands: 2", "1 operand for attribute_exists"),
    (C, "begins_with(a)", 0, COUNT + "begins_with, number of operands: 1",
     "2 operands for begins_with"),
    (C, "attribute_not_exists(:v)", 0, NEEDS_PATH + "attribute_not_exists",
     "a document path as the first operand of attribute_not_exists"),
    (U, "", 0, "The expression can not be empty;", "a non-empty expression"),
    (U, "SET a :v", 6, 'Syntax error; token: ":v", near: "a :v"', "'=' (SET path = value)"),
    (U, "HELLO b = :v", 0, 'Syntax error; token: "HELLO", near: "HELLO"',
     "SET, REMOVE, ADD or DELETE"),
    (U, "SET a = :v, ", 12, 'Syntax error; token: "<EOF>", near: ","', PATH),
    (U, "SET a = :v + :w + :x", 16, 'Syntax error; token: "+", near: ":w +"', UPDATE_NEXT),
    (U, "SET :a = :b", 4, 'Syntax error; token: ":a", near: "SET :a"', PATH),
    (U, "SET a = (b)", 8, 'Syntax error; token: "(", near: "= ("', OPERAND),
    (U, "ADD a b", 6, 'Syntax error; token: "b", near: "a b"',
     "an expression attribute value (:value) to ADD"),
    (U, "DELETE a", 8, 'Syntax error; token: "<EOF>", near: "a"',
     "an expression attribute value (:value) to DELETE"),
    (U, "SET a[:i] = :v", 6, 'Syntax error; token: ":i", near: "[:i"',
     "a list index (decimal digits)"),
    (U, "REMOVE a,", 9, 'Syntax error; token: "<EOF>", near: ","', PATH),
    (U, "SET a = f(b)", 8, "Invalid function name; function: f", FUNCTIONS),
    (U, "SET a = LIST_APPEND(:a, :b)", 8, "Invalid function name; function: LIST_APPEND",
     FUNCTIONS),
    (U, "SET a = size(b)", 8,
     "The function is not allowed in an update expression; function: size",
     "if_not_exists or list_append"),
    (U, "SET a = list_append(list_append(:a, :b), :c)", 20, MISUSE + "list_append",
     "list_append of a path, :value or if_not_exists (not of list_append)"),
    (U, "SET a = :v SET b = :w", 11,
     'The "SET" section can only be used once in an update expression;',
     "all SET actions in one SET clause, separated by commas"),
    (U, "REMOVE status", 7, RESERVED + "status",
     "an expression attribute name (#name) in place of status"),
    (U, "SET a = list_append(:v)", 8, COUNT + "list_append, number of operands: 1",
     "2 operands for list_append"),
    (U, "SET a = if_not_exists(:v, :w)", 8, NEEDS_PATH + "if_not_exists",
     "a document path as the first operand of if_not_exists"),
    (U, "SET a = :x, a.b = :y", 12, OVERLAP + "path one: [a], path two: [a, b]",
     "paths of which none is equal to, or inside, another"),
    (U, "SET a.b = :x, a[1] = :y", 14, CONFLICT + "path one: [a, b], path two: [a, [1]]",
     "paths that do not mix a map member and a list index at one step"),
    (P, "a, ,b", 3, 'Syntax error; token: ",", near: ", ,"', PATH),
    (P, "a.#", 2, 'Syntax error; token: "#"',
     "an expression attribute name (#name) with letters, digits or _"),
]


@pytest.mark.parametrize(
    ("what", "text", "position", "message", "expected"), MALFORMED,
    ids=[f"{what[:4]}:{text!r}" for what, text, *_ in MALFORMED],
)
def test_malformed_expression(what: str, text: str, position: int, message: str,
                              expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PARSERS[what](text)
    error = caught.value
    assert (error.what, error.position, error.message, error.expected) == (
        what, position, message, expected)
    assert error.text == text


def test_there_are_many_malformed_cases() -> None:
    assert len(MALFORMED) >= 25


def test_error_text_points_at_the_fault() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_condition("price >= :min AND AND")
    rendered = str(caught.value)
    assert rendered.splitlines() == [
        'Invalid ConditionExpression at character 18: Syntax error; token: "AND", '
        'near: "AND AND"; expected ' + OPERAND,
        "  price >= :min AND AND",
        "                    ^",
    ]


def test_syntax_errors_come_before_other_faults() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_condition("name = :v AND foo(a) AND")
    assert caught.value.message == 'Syntax error; token: "<EOF>", near: "AND"'


def test_faults_are_reported_in_dynamodb_order() -> None:
    # Unknown function before misuse before reserved word, whatever their positions.
    with pytest.raises(ValidationError) as caught:
        parse_condition("name = :v AND size(a) AND foo(b) = :v")
    assert caught.value.message == "Invalid function name; function: foo"
    with pytest.raises(ValidationError) as caught:
        parse_condition("name = :v AND size(a)")
    assert caught.value.message == MISUSE + "size"


def test_in_with_too_many_operands() -> None:
    listed = ", ".join(f":v{i}" for i in range(101))
    with pytest.raises(ValidationError) as caught:
        parse_condition(f"a IN ({listed})")
    assert (caught.value.position, caught.value.expected) == (2, "at most 100 values in the "
                                                              "list of IN")


# ---------------------------------------------------------------------------- with values

ITEM: dict[str, Any] = {"a": Decimal(1), "s": "str", "l": [Decimal(1)], "m": {"k": Decimal(1)}}

CONDITION_FAULTS: list[tuple[str, dict[str, str], dict[str, Any], str, int | None, str]] = [
    ("a = :v", {}, {}, C, 4,
     "An expression attribute value used in expression is not defined; attribute value: :v"),
    ("#n = :v", {}, {":v": 1}, C, 0,
     "An expression attribute name used in the document path is not defined; "
     "attribute name: #n"),
    ("a BETWEEN :hi AND :lo", {}, {":hi": 10, ":lo": 1}, C, 2,
     "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
     "lower bound operand: AttributeValue: {N:10}, upper bound operand: AttributeValue: {N:1}"),
    ("a BETWEEN :lo AND :s", {}, {":lo": 1, ":s": "x"}, C, 2,
     "The BETWEEN operator requires same data type for lower and upper bounds; "
     "lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:x}"),
    ("a BETWEEN :l AND :m", {}, {":l": [1], ":m": [2]}, C, 2, OPERAND_TYPE + "BETWEEN, "
     "operand type: L"),
    ("a < :l", {}, {":l": [1, 2]}, C, 2, OPERAND_TYPE + "<, operand type: L"),
    (":b >= a", {}, {":b": True}, C, 3, OPERAND_TYPE + ">=, operand type: BOOL"),
    ("attribute_type(a, :t)", {}, {":t": "STRING"}, C, 0,
     "Invalid attribute type name found; type: STRING, valid types: "
     "{S,N,B,BOOL,NULL,L,M,SS,NS,BS}"),
    ("attribute_type(a, :t)", {}, {":t": 1}, C, 0, OPERAND_TYPE + "attribute_type, "
     "operand type: N"),
    ("begins_with(a, :p)", {}, {":p": 1}, C, 0, OPERAND_TYPE + "begins_with, operand type: N"),
    ("size(:n) > a", {}, {":n": 1}, C, 0, OPERAND_TYPE + "size, operand type: N"),
    ("a = a", {}, {}, C, 2,
     "The first operand must be distinct from the remaining operands for this operator or "
     "function; operator: =, first operand: [a]"),
    ("contains(m.k, #m.k)", {"#m": "m"}, {}, C, 0,
     "The first operand must be distinct from the remaining operands for this operator or "
     "function; operator: contains, first operand: [m, k]"),
    ("a = :f", {}, {":f": 1.5}, "ExpressionAttributeValues", None,
     "ExpressionAttributeValues contains invalid value: One or more parameter values were "
     "invalid: Float types are not supported. Use Decimal types instead. for key :f"),
]


@pytest.mark.parametrize(
    ("text", "names", "values", "what", "position", "message"), CONDITION_FAULTS,
    ids=[case[0] for case in CONDITION_FAULTS],
)
def test_condition_faults_found_with_names_and_values(
    text: str, names: dict[str, str], values: dict[str, Any], what: str,
    position: int | None, message: str,
) -> None:
    condition = parse_condition(text)
    for item in (ITEM, None):  # refused whatever the item
        with pytest.raises(ValidationError) as caught:
            evaluate_condition(condition, item, names, values)
        assert (caught.value.what, caught.value.position, caught.value.message) == (
            what, position, message)


UPDATE_FAULTS: list[tuple[str, dict[str, str], dict[str, Any], str, int | None, str]] = [
    ("SET a = :v", {}, {}, U, 8,
     "An expression attribute value used in expression is not defined; attribute value: :v"),
    ("SET #a1 = :v, #a2 = :v", {"#a1": "x", "#a2": "x"}, {":v": 1}, U, 14,
     OVERLAP + "path one: [x], path two: [x]"),
    ("ADD a :s", {}, {":s": "x"}, U, 6,
     "Incorrect operand type for operator or function; operator: ADD, operand type: STRING, "
     "typeSet: ALLOWED_FOR_ADD_OPERAND"),
    ("DELETE a :n", {}, {":n": 1}, U, 9,
     "Incorrect operand type for operator or function; operator: DELETE, operand type: "
     "NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND"),
    ("SET a = a + :s", {}, {":s": "x"}, U, 10, OPERAND_TYPE + "+, operand type: S"),
    ("SET a = list_append(l, :s)", {}, {":s": "x"}, U, 8,
     OPERAND_TYPE + "list_append, operand type: S"),
    ("SET a = if_not_exists(a, a)", {}, {}, U, 8,
     "The first operand must be distinct from the remaining operands for this operator or "
     "function; operator: if_not_exists, first operand: [a]"),
    ("SET nope.x = :v", {}, {":v": 1}, U, 4,
     "The document path provided in the update expression is invalid for update"),
    ("SET s[0] = :v", {}, {":v": 1}, U, 4,
     "The document path provided in the update expression is invalid for update"),
    ("REMOVE s.x", {}, {}, U, 7,
     "The document path provided in the update expression is invalid for update"),
    ("SET q = zz", {}, {}, U, 8,
     "The provided expression refers to an attribute that does not exist in the item"),
    ("ADD s :n", {}, {":n": 1}, U, 4,
     "An operand in the update expression has an incorrect data type"),
    ("DELETE l :ss", {}, {":ss": {"x"}}, U, 7,
     "An operand in the update expression has an incorrect data type"),
    ("SET x = s - :n", {}, {":n": 1}, U, 10, OPERAND_TYPE + "-, operand type: S"),
    ("SET x = list_append(m, l)", {}, {}, U, 8, OPERAND_TYPE + "list_append, operand type: M"),
    ("SET x = :big + :big", {}, {":big": Decimal("9E125")}, U, 13,
     "Number overflow. Attempting to store a number with magnitude larger than supported "
     "range"),
]


@pytest.mark.parametrize(
    ("text", "names", "values", "what", "position", "message"), UPDATE_FAULTS,
    ids=[case[0] for case in UPDATE_FAULTS],
)
def test_update_faults_apply_nothing(
    text: str, names: dict[str, str], values: dict[str, Any], what: str,
    position: int | None, message: str,
) -> None:
    before = copy.deepcopy(ITEM)
    with pytest.raises(ValidationError) as caught:
        apply_update(parse_update(text), ITEM, names, values)
    assert (caught.value.what, caught.value.position, caught.value.message) == (
        what, position, message)
    assert before == ITEM


@pytest.mark.parametrize(
    ("names", "values", "texts", "what", "message"),
    [
        ({}, {":v": 1, ":w": 2, ":x": 3}, ["a = :v"], "ExpressionAttributeValues",
         "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w, :x}"),
        ({"#a": "x", "#b": "y"}, {":v": 1}, ["#a = :v"], "ExpressionAttributeNames",
         "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"),
        ({"a": "x"}, {}, [], "ExpressionAttributeNames",
         'ExpressionAttributeNames contains invalid key: Syntax error; key: "a"'),
        ({}, {"v": 1}, [], "ExpressionAttributeValues",
         'ExpressionAttributeValues contains invalid key: Syntax error; key: "v"'),
        ({"#b": "x"}, {":v": 1}, ["a = :v", "SET b = :w"], "UpdateExpression",
         "An expression attribute value used in expression is not defined; "
         "attribute value: :w"),
    ],
)
def test_request_placeholder_faults(names: dict[str, str], values: dict[str, Any],
                                    texts: list[str], what: str, message: str) -> None:
    parsed = [parse_update(t) if t.startswith("SET") else parse_condition(t) for t in texts]
    with pytest.raises(ValidationError) as caught:
        check_placeholders(names, values, *parsed)
    assert (caught.value.what, caught.value.message) == (what, message)


def test_names_and_values_used_by_any_expression_of_the_request_count_as_used() -> None:
    condition = parse_condition("#a = :v")
    update = parse_update("SET #b = :w")
    check_placeholders({"#a": "x", "#b": "y"}, {":v": 1, ":w": 2}, condition, update)
    with pytest.raises(ValidationError, match=r"keys: \{:w\}"):
        check_placeholders({"#a": "x"}, {":v": 1, ":w": 2}, condition)


def test_unused_placeholders_are_listed_ten_at_most() -> None:
    """A request with thousands of unused names gave one line of every key (79 KB)."""
    names = {f"#n{i:04}": "x" for i in range(5000)}
    with pytest.raises(ValidationError) as caught:
        check_placeholders(names, {":v": 1}, parse_condition("a = :v"))
    message = caught.value.message
    assert message.endswith("keys: {#n0000, #n0001, #n0002, #n0003, #n0004, #n0005, #n0006, "
                            "#n0007, #n0008, #n0009, ... and 4990 more}")


def test_a_message_ending_in_a_semicolon_gets_no_second_one() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_condition("((a = :v))")
    assert caught.value.message == REDUNDANT  # DynamoDB's own text
    assert ";;" not in str(caught.value)
    assert "redundant parentheses; expected one pair" in str(caught.value)


# ---------------------------------------------------------------------------- limits
# DynamoDB's documented limits (limits.py, each citing the Developer Guide): exceeding
# one is a LimitExceeded, a ValidationError naming the limit, its figure and where.


def limit_error(parse: Callable[[str], Any], text: str) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as caught:
        parse(text)
    return caught.value


def padded(text: str, size: int) -> str:
    """``text`` followed by blanks up to ``size`` characters."""
    return text + " " * (size - len(text))


def test_a_limit_error_survives_pickling() -> None:
    error = limit_error(parse_condition, "a" + ".b" * 40)
    again = pickle.loads(pickle.dumps(error))
    assert (again.message, again.limit, again.figure, again.what, again.position) == (
        error.message, error.limit, error.figure, error.what, error.position)
    assert str(again) == str(error)


@pytest.mark.parametrize("what", [C, U, P])
def test_an_expression_of_4_kb_is_read_and_one_byte_more_is_refused(what: str) -> None:
    parse = PARSERS[what]
    text = {C: "a = :v", U: "SET a = :v", P: "a"}[what]
    parse(padded(text, MAX_EXPRESSION_BYTES))
    error = limit_error(parse, padded(text, MAX_EXPRESSION_BYTES + 1))
    assert (error.what, error.position, error.figure) == (what, 4096, 4096)
    assert error.message.startswith("Expression size has exceeded the maximum allowed size; "
                                    "expression size: 4097 bytes, limit: 4096 bytes")
    assert "expression string" in error.limit


def test_the_expression_size_counts_utf8_bytes_and_comes_before_any_other_fault() -> None:
    # 1366 three-byte characters: 1366 characters, 4098 bytes; not a valid token either.
    error = limit_error(parse_condition, "\u20ac" * 1366)
    assert "expression size: 4098 bytes" in error.message
    assert error.position == 1365
    error = limit_error(parse_condition, "(" * 5000)
    assert "expression size: 5000 bytes" in error.message


def test_a_placeholder_of_255_bytes_is_read_and_one_of_256_is_refused() -> None:
    name, value = "#" + "n" * 254, ":" + "v" * 254
    parse_condition(f"{name} = {value}")
    error = limit_error(parse_condition, f"a = {value}v")
    assert (error.what, error.position, error.figure) == (C, 4, 255)
    assert "expression attribute value" in error.message and "256 bytes" in error.message
    error = limit_error(parse_update, f"SET {name}n = :v")
    assert (error.what, error.position) == (U, 4)
    assert "expression attribute name" in error.message
    with pytest.raises(LimitExceeded) as caught:
        check_placeholders({name + "n": "a"}, {}, parse_condition("a = :v"))
    assert caught.value.what == "ExpressionAttributeNames"
    with pytest.raises(LimitExceeded) as caught:
        check_placeholders({}, {value + "v": 1}, parse_condition("a = :v"))
    assert caught.value.what == "ExpressionAttributeValues"


def chained(depth: int) -> str:
    """``a<b OR (a<b OR (...))``: 2 * depth + 1 operators, none of them parentheses."""
    return "a < b" + " OR (a < b" * depth + ")" * depth


def test_300_operators_are_read_and_the_301st_is_refused_where_it_stands() -> None:
    assert str(parse_condition(chained(149))).count("<") == 150  # 299 operators
    error = limit_error(parse_condition, chained(150))
    assert error.message.startswith("The expression contains too many operators; "
                                    "operator count: 301, limit: 300")
    assert (error.what, error.figure) == (C, MAX_OPERATORS)
    assert error.position == chained(150).rindex("<")
    # The count stops at the first operator past the limit, however many follow.
    assert "operator count: 301," in limit_error(parse_condition, chained(300)).message


@pytest.mark.parametrize("text", [
    "NOT " * 301 + "a = :v",
    " AND ".join(["attribute_exists(a)"] * 151),
    "size(" * 301 + "a" + ")" * 301 + " = :v",
    "a IN (" + ", ".join(["size(b)"] * 300) + ")",
], ids=["not", "functions-and", "size", "in"])
def test_not_functions_and_in_count_as_operators(text: str) -> None:
    assert "operator count: 301," in limit_error(parse_condition, text).message


def test_update_operators_and_functions_count_against_the_same_limit() -> None:
    fine = "SET " + ",".join(f"a{i}=:v+:w" for i in range(300))
    parse_update(fine)
    error = limit_error(parse_update, fine + ", z = :v - :w")
    assert error.message.startswith("The expression contains too many operators; "
                                    "operator count: 301")
    assert error.what == U
    functions = "SET " + ",".join([f"a{i}=list_append(b,c)" for i in range(100)]
                                  + [f"z{i}=b+c" for i in range(201)])
    assert len(functions) <= MAX_EXPRESSION_BYTES
    assert "operator count: 301," in limit_error(parse_update, functions).message


def test_the_operator_count_survives_the_parsers_backtracking() -> None:
    # "(a) = :v" is first tried as a parenthesized condition, then as an operand: the
    # operators seen on the way are counted once.
    text = " AND ".join(["(size(a)) = :v"] * 100)  # 100 size, 100 =, 99 AND
    parse_condition(text)
    assert "operator count: 301," in limit_error(parse_condition, text + " AND a = :v").message


@pytest.mark.parametrize("what", [C, U, P])
def test_a_document_path_of_32_levels_is_read_and_33_are_refused(what: str) -> None:
    parse = PARSERS[what]
    template = {C: "attribute_exists({})", U: "SET {} = :v", P: "{}"}[what]
    parse(template.format("a" + ".b" * 31))
    parse(template.format("a" + "[0]" * 31))
    text = template.format("a" + ".b" * 20 + "[7]" * 12)
    error = limit_error(parse, text)
    assert error.message.startswith("The document path has too many nesting levels; "
                                    "nesting levels: 33, limit: 32")
    assert (error.what, error.figure, error.position) == (what, MAX_PATH_DEPTH, text.rindex("7"))


def test_deep_paths_report_the_whole_depth() -> None:
    error = limit_error(parse_condition, "a" + ".b" * 999 + " = :v")
    assert "nesting levels: 1000," in error.message


def test_a_hand_built_path_deeper_than_32_is_refused_when_resolved() -> None:
    deep = Path((Name("a"),) + (Index(0),) * 40)
    with pytest.raises(LimitExceeded):
        evaluate_condition(Condition(AttributeExists(deep)), {"a": [1]}, None, None)
    with pytest.raises(LimitExceeded):
        apply_update(Update(removes=(RemoveAction(deep),)), {"a": [1]}, None, None)


def nested(depth: int) -> Any:
    """A value of ``depth`` nested maps around a number (0: the number)."""
    value: Any = Decimal(1)
    for _ in range(depth):
        value = {"m": value}
    return value


def test_an_update_may_not_nest_lists_and_maps_deeper_than_32_levels() -> None:
    item = {"pk": "k", "a": {}}
    assert apply_update(parse_update("SET a.b = :v"), item, None, {":v": nested(31)})
    before = copy.deepcopy(item)
    with pytest.raises(LimitExceeded) as caught:
        apply_update(parse_update("SET a.b = :v"), item, None, {":v": nested(32)})
    assert caught.value.message.startswith(
        "One or more parameter values were invalid: Nesting Levels have exceeded supported "
        "limits; nesting levels: 33, limit: 32")
    assert (caught.value.what, caught.value.position) == (U, 4)
    assert item == before
    with pytest.raises(LimitExceeded):
        apply_update(parse_update("SET a.l = list_append(:v, :w)"), item, None,
                     {":v": [nested(31)], ":w": []})


def test_substitution_variables_over_2_mb_are_refused() -> None:
    schemas = {"t": TableSchema("t", "pk")}
    big = "x" * (MAX_SUBSTITUTION_BYTES // 2)
    fine = Put("t", {"pk": "k"}, "a <> :v AND b <> :w", values={":v": big[:-10], ":w": big})
    check_write(schemas, fine)
    over = Put("t", {"pk": "k"}, "a <> :v AND b <> :w", values={":v": big, ":w": big})
    with pytest.raises(LimitExceeded) as caught:
        check_write(schemas, over)
    assert caught.value.figure == MAX_SUBSTITUTION_BYTES == 2 * 1024 * 1024
    assert caught.value.what == "ExpressionAttributeValues"
    assert f"size: {2 * len(big) + 4} bytes" in caught.value.message


def test_attribute_names_over_64_kb_are_refused() -> None:
    long_name = "n" * (MAX_ATTRIBUTE_NAME_BYTES + 1)
    with pytest.raises(LimitExceeded) as caught:
        check_placeholders({"#n": long_name}, {}, parse_condition("attribute_exists(#n)"))
    assert caught.value.what == "ExpressionAttributeNames[#n]"
    check_placeholders({"#n": long_name[1:]}, {}, parse_condition("attribute_exists(#n)"))
    with pytest.raises(LimitExceeded):
        check_write({"t": TableSchema("t", "pk")}, Put("t", {"pk": "k", long_name: 1}))
