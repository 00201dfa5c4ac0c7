"""Fuzzing the expression parsers and evaluators: whatever the text, the names, the
values and the item, the only outcomes are a result or a ValidationError.

Inputs come in three families: random text (any Unicode, and the expression alphabet),
token soups with long runs (nesting, NOT chains, deep paths), and near misses: valid
expressions from a small grammar, then mutated (a token dropped, doubled, swapped,
inserted; a part repeated or wrapped many times). Every parsed expression is also
printed, re-parsed and evaluated against random items with random placeholders. Each
run has only a little Python stack to spare (``little_stack``), so a recursion whose
depth the input controls fails here even where the default limit would hide it.

The crashers the fuzzer found are kept at the end as explicit regression examples.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replicheck.models.items.errors import TransactionCanceled, ValidationError
from replicheck.models.items.expressions import (
    MAX_EXPRESSION_BYTES,
    Compare,
    Condition,
    LimitExceeded,
    Name,
    Not,
    Path,
    ValueRef,
    apply_update,
    evaluate_condition,
    parse_condition,
    parse_projection,
    parse_update,
    placeholders_of,
    project,
)
from replicheck.models.items.expressions.paths import first_overlap, overlap_error
from replicheck.models.items.operations import apply, empty, outcome
from replicheck.models.items.requests import Delete, Get, Put, TableSchema, TransactWrite, Update
from replicheck.models.items.validation import expression_fault, value_size

# ---------------------------------------------------------------------------- stack


def _depth() -> int:
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1  # type: ignore[assignment]
    return depth


@contextmanager
def little_stack(frames: int = 120) -> Iterator[None]:
    """Run the body with at most ``frames`` more Python frames than the caller has."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


# ---------------------------------------------------------------------------- inputs

NAMES = ["a", "b", "pk", "l", "m", "size", "Name", "AND", "not", "value", "x1"]
KEYWORDS = ["AND", "OR", "NOT", "BETWEEN", "IN", "and", "Or", "SET", "REMOVE", "ADD",
            "DELETE", "set"]
FUNCTIONS = ["attribute_exists", "attribute_not_exists", "attribute_type", "begins_with",
             "contains", "size", "if_not_exists", "list_append", "Size", "nope"]
SYMBOLS = ["(", ")", "[", "]", ",", ".", "+", "-", "=", "<>", "<", "<=", ">", ">=", "#",
           ":", "!", "\"", "'", "\x00", "\u20ac", "\ud800"]
PLACEHOLDERS = ["#n", "#m", "#1", ":v", ":w", ":_", ":s", ":l"]
NUMBERS = ["0", "1", "7", "99999999999999999999999999", "00"]
TOKENS = NAMES + KEYWORDS + FUNCTIONS + SYMBOLS + PLACEHOLDERS + NUMBERS

token = st.sampled_from(TOKENS)
run = st.tuples(st.lists(token, min_size=1, max_size=3), st.integers(1, 1500)).map(
    lambda pair: " ".join(pair[0]) * pair[1])
"""A short token sequence repeated up to 1500 times: nesting, chains, deep paths."""

soup = st.lists(st.one_of(token, token, token, run), max_size=30).map(" ".join)
alphabet_text = st.text(alphabet="ab#:v()[].,+-=<>! 0123456789NOTANDORSETREMOVE_",
                        max_size=200)
any_text = st.text(max_size=100)

# A small grammar of valid expressions.
path_element = st.one_of(st.sampled_from([".a", ".b", ".#n", "[0]", "[1]", "[3]"]))
paths = st.builds(lambda head, rest: head + "".join(rest),
                  st.sampled_from(["a", "b", "l", "m", "#n", "#m"]),
                  st.lists(path_element, max_size=4))
values = st.sampled_from([":v", ":w", ":s", ":l"])
operands = st.one_of(paths, values, paths.map(lambda p: f"size({p})"))


def _predicates(draw: Any) -> str:
    kind = draw(st.integers(0, 6))
    left, right = draw(operands), draw(operands)
    if kind == 0:
        return f"{left} {draw(st.sampled_from(['=', '<>', '<', '<=', '>', '>=']))} {right}"
    if kind == 1:
        return f"{left} BETWEEN {draw(values)} AND {draw(values)}"
    if kind == 2:
        listed = ", ".join(draw(st.lists(operands, min_size=1, max_size=4)))
        return f"{left} IN ({listed})"
    if kind == 3:
        return f"attribute_exists({draw(paths)})"
    if kind == 4:
        return f"attribute_not_exists({draw(paths)})"
    if kind == 5:
        return f"begins_with({draw(paths)}, {draw(values)})"
    return f"contains({draw(paths)}, {draw(operands)})"


predicates = st.composite(lambda draw: _predicates(draw))()
conditions = st.recursive(
    predicates,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} AND {b}", inner, inner),
        st.builds(lambda a, b: f"{a} OR {b}", inner, inner),
        inner.map(lambda a: f"NOT {a}"),
        inner.map(lambda a: f"({a})"),
    ),
    max_leaves=8,
)
set_values = st.one_of(
    values, paths,
    st.builds(lambda p, v: f"if_not_exists({p}, {v})", paths, values),
    st.builds(lambda a, b: f"list_append({a}, {b})", st.one_of(paths, values), values),
    st.builds(lambda a, op, b: f"{a} {op} {b}", st.one_of(paths, values),
              st.sampled_from(["+", "-"]), st.one_of(paths, values)),
)
actions = st.one_of(
    st.builds(lambda p, v: ("SET", f"{p} = {v}"), paths, set_values),
    st.builds(lambda p: ("REMOVE", p), paths),
    st.builds(lambda p, v: ("ADD", f"{p} {v}"), paths, values),
    st.builds(lambda p, v: ("DELETE", f"{p} {v}"), paths, values),
)


def _update_text(chosen: list[tuple[str, str]]) -> str:
    clauses: dict[str, list[str]] = {}
    for keyword, action in chosen:
        clauses.setdefault(keyword, []).append(action)
    return " ".join(f"{k} {', '.join(v)}" for k, v in clauses.items())


updates = st.lists(actions, min_size=1, max_size=4).map(_update_text)
projections = st.lists(paths, min_size=1, max_size=4).map(", ".join)


@st.composite
def mutated(draw: Any, texts: st.SearchStrategy[str]) -> str:
    """A valid expression, then a few edits of its space-separated tokens."""
    parts = draw(texts).replace("(", " ( ").replace(")", " ) ").split()
    for _ in range(draw(st.integers(0, 3))):
        edit = draw(st.integers(0, 6))
        at = draw(st.integers(0, max(len(parts) - 1, 0)))
        if edit == 0 and parts:
            del parts[at]
        elif edit == 1 and parts:
            parts.insert(at, parts[at])
        elif edit == 2 and len(parts) > 1:
            other = draw(st.integers(0, len(parts) - 1))
            parts[at], parts[other] = parts[other], parts[at]
        elif edit == 3:
            parts.insert(at, draw(token))
        elif edit == 4 and parts:
            end = draw(st.integers(at, len(parts)))
            parts[at:end] = parts[at:end] * draw(st.integers(2, 400))
        elif edit == 5:
            times = draw(st.integers(1, 1200))
            parts = ["("] * times + parts + [")"] * draw(st.integers(times - 2, times))
        else:
            parts.insert(at, draw(st.sampled_from(["NOT", "size (", ")"])) * draw(
                st.integers(1, 400)))
    return " ".join(parts)


short_predicates = st.sampled_from(["a = :v", "b < :w", "attribute_exists(#n)", "m.a <> :s",
                                    "size(l) > :v", "a IN (:v, :w)", "NOT b = :v"])


@st.composite
def deep_conditions(draw: Any) -> str:
    """Valid conditions of many operators, deep or long: chains, nested groups on
    either side, NOT chains, ``size`` of ``size``; up to past the limits."""
    depth = draw(st.integers(1, 320))
    shape = draw(st.integers(0, 4))
    joins = st.sampled_from([" AND ", " OR "])
    if shape == 0:
        text = draw(short_predicates)
        for _ in range(depth):
            text += draw(joins) + draw(short_predicates)
        return text
    if shape == 1:
        opened = "".join(f"({draw(short_predicates)}{draw(joins)}" for _ in range(depth))
        return opened + draw(short_predicates) + ")" * depth
    if shape == 2:
        return "(" * depth + draw(short_predicates) + "".join(
            f"{draw(joins)}{draw(short_predicates)})" for _ in range(depth))
    if shape == 3:
        return "NOT " * depth + draw(short_predicates)
    return "size(" * depth + "l" + ")" * depth + " = :v"


@st.composite
def deep_updates(draw: Any) -> str:
    """Valid updates of many actions, deep ``if_not_exists`` or deep paths."""
    depth = draw(st.integers(1, 320))
    shape = draw(st.integers(0, 2))
    if shape == 0:
        return "SET " + ",".join(f"a{i}=:v{draw(st.sampled_from(['+', '-']))}:w"
                                 for i in range(depth))
    if shape == 1:
        return "SET a = " + "if_not_exists(b, " * depth + ":v" + ")" * depth
    steps = draw(st.lists(st.sampled_from([".a", "[0]", ".#n"]), min_size=depth,
                          max_size=depth))
    return f"SET m{''.join(steps)} = :v"


fuzzed = st.one_of(deep_conditions(), deep_updates(), soup, alphabet_text, any_text,
                   conditions, updates, projections,
                   mutated(conditions), mutated(updates), mutated(projections))

# Names and values: placeholders to names and DynamoDB values, some deeply nested.
scalars = st.one_of(
    st.text(max_size=5), st.integers(-10, 10).map(Decimal), st.booleans(), st.none(),
    st.binary(max_size=3), st.frozensets(st.sampled_from(["x", "y"]), min_size=1),
    st.just(Decimal("1E+125")),
)
attribute_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)),
    max_leaves=10,
)


def _nested(depth: int) -> Any:
    value: Any = Decimal(1)
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


deep_values = st.integers(0, 40).map(_nested)
any_values = st.one_of(attribute_values, deep_values, st.just(1.5), st.just(...))
items = st.one_of(st.none(), st.dictionaries(st.sampled_from(NAMES), any_values, max_size=5))


def _placeholders(draw: Any, parsed: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    used = placeholders_of(parsed)
    names = {ph: draw(st.sampled_from([*NAMES, ""]))
             for ph, _ in used.names if draw(st.integers(0, 9))}
    values = {ph: draw(any_values) for ph, _ in used.values if draw(st.integers(0, 9))}
    return names, values


# ---------------------------------------------------------------------------- properties


def _outcome(call: Callable[[], Any]) -> Any:
    """The result of ``call``, or the ValidationError it raised; nothing else may
    escape. Runs with a little stack."""
    try:
        with little_stack():
            return call()
    except ValidationError as error:
        assert isinstance(error.message, str) and error.message
        return error


@given(fuzzed)
def test_parsers_give_a_tree_or_a_validation_error(text: str) -> None:
    for parse in (parse_condition, parse_update, parse_projection):
        parsed = _outcome(lambda parse=parse: parse(text))  # type: ignore[misc]
        if isinstance(parsed, ValidationError):
            continue
        printed = str(parsed)
        if len(printed.encode()) <= MAX_EXPRESSION_BYTES:  # the canonical text is spaced
            again = _outcome(lambda printed=printed, parse=parse: parse(printed))  # type: ignore[misc]
            assert again == parsed
        assert _outcome(lambda parsed=parsed: (repr(parsed), hash(parsed)))  # type: ignore[misc]


@given(st.one_of(conditions, mutated(conditions), soup, deep_conditions()), st.data())
def test_conditions_evaluate_to_a_bool_or_a_validation_error(text: str, data: Any) -> None:
    condition = _outcome(lambda: parse_condition(text))
    if isinstance(condition, ValidationError):
        return
    names, values = _placeholders(data.draw, condition)
    item = data.draw(items)
    before = copy.deepcopy(item)
    result = _outcome(lambda: evaluate_condition(condition, item, names, values))
    assert isinstance(result, bool | ValidationError)
    assert item == before


@given(st.one_of(updates, mutated(updates), soup, deep_updates()), st.data())
def test_updates_apply_or_give_a_validation_error(text: str, data: Any) -> None:
    update = _outcome(lambda: parse_update(text))
    if isinstance(update, ValidationError):
        return
    names, values = _placeholders(data.draw, update)
    item = data.draw(items)
    before = copy.deepcopy(item)
    result = _outcome(lambda: apply_update(update, item, names, values))
    assert isinstance(result, dict | ValidationError)
    assert item == before


@given(st.one_of(projections, mutated(projections)), st.data())
def test_projections_apply_or_give_a_validation_error(text: str, data: Any) -> None:
    projection = _outcome(lambda: parse_projection(text))
    if isinstance(projection, ValidationError):
        return
    names, _ = _placeholders(data.draw, projection)
    item = data.draw(st.dictionaries(st.sampled_from(NAMES), any_values, max_size=5))
    result = _outcome(lambda: project(projection, item, names))
    assert isinstance(result, dict | ValidationError)


@given(st.one_of(conditions, mutated(conditions), soup),
       st.one_of(updates, mutated(updates), soup), st.data())
def test_static_checks_of_requests_name_a_field_or_nothing(condition: str, update: str,
                                                          data: Any) -> None:
    names = data.draw(st.dictionaries(st.sampled_from(["#n", "#m", "#x", "n"]),
                                      st.sampled_from(NAMES), max_size=2))
    values = data.draw(st.dictionaries(st.sampled_from([":v", ":w", ":s", ":l", "v"]),
                                       any_values, max_size=3))
    request = data.draw(st.sampled_from([
        Update("t", {"pk": "k"}, update, condition, names, values),
        Put("t", {"pk": "k"}, condition, names, values),
        Delete("t", {"pk": "k"}, condition, names, values),
        Get("t", {"pk": "k"}, projection=condition, names=names),
        TransactWrite((Put("t", {"pk": "j"}),
                       Update("t", {"pk": "k"}, update, condition, names, values))),
    ]))
    fault = _outcome(lambda: expression_fault(request))
    assert not isinstance(fault, ValidationError)
    if fault is not None:
        field, error = fault
        assert isinstance(error, ValidationError)
        assert field.split(".")[-1] in ("condition", "update", "projection", "names",
                                        "values")


# ---------------------------------------------------------------------------- crashers
# Inputs that crashed (RecursionError) before the limits and the explicit stacks, kept
# as regression examples: each must end in a ValidationError, with little stack.

CRASHERS = [
    ("(" * 2000 + "a = :v" + ")" * 2000, parse_condition,
     "The expression has redundant parentheses"),
    ("(" * 1000 + "a" + ")" * 1000 + " = :v", parse_condition,
     "The expression has redundant parentheses"),
    ("(" * 1300 + "a = :v" + ")" * 1200, parse_condition, 'Syntax error; token: "<EOF>"'),
    ("(" * 2040, parse_condition, 'Syntax error; token: "<EOF>"'),
    ("NOT " * 1000 + "a = :v", parse_condition, "The expression contains too many operators"),
    ("NOT " * 3000 + "a = :v", parse_condition, "Expression size has exceeded"),
    ("size(" * 600 + "a" + ")" * 600 + " = :v", parse_condition,
     "The expression contains too many operators"),
    ("a" + "[0]" * 1300 + " = :v", parse_condition,
     "The document path has too many nesting levels"),
    ("a" + ".b" * 2000 + " = :v", parse_condition,
     "The document path has too many nesting levels"),
    (" OR ".join(["n = :v"] * 2000), parse_condition, "Expression size has exceeded"),
    ("a = :v" + " OR a = :v" * 400, parse_condition,
     "The expression contains too many operators"),
    ("SET a = " + "list_append(" * 301 + ":v, :v" + ")" * 301, parse_update,
     "The expression contains too many operators"),
    ("SET a" + "[0]" * 1300 + " = :v", parse_update,
     "The document path has too many nesting levels"),
    ("a" + ".b" * 2000, parse_projection, "The document path has too many nesting levels"),
]


@pytest.mark.parametrize(("text", "parse", "message"), CRASHERS,
                         ids=[f"crasher{i}" for i in range(len(CRASHERS))])
def test_former_crashers_are_validation_errors(text: str, parse: Callable[[str], Any],
                                               message: str) -> None:
    with little_stack(), pytest.raises(ValidationError) as caught:
        parse(text)
    assert caught.value.message.startswith(message)


def test_the_deepest_valid_expressions_parse_print_and_evaluate_with_little_stack() -> None:
    cases = [
        ("a < b" + " OR (a < b" * 149 + ")" * 149, True),
        ("NOT " * 299 + "a < b", False),
        ("NOT " * 298 + "a < b", True),
        ("(a < b AND " * 140 + "a < b" + ")" * 140, True),
        ("(a < b OR " * 140 + "b < a" + ")" * 140, True),
        ("(" * 140 + "a < b" + " AND b < a)" * 140, False),
    ]
    item = {"a": Decimal(1), "b": Decimal(2)}
    for text, expected in cases:
        with little_stack():
            condition = parse_condition(text)
            assert parse_condition(str(condition)) == condition
            assert hash(condition) == hash(parse_condition(str(condition)))
            assert repr(condition).startswith("Condition(expr=")
            holds = evaluate_condition(condition, item, None, {":v": Decimal(1)})
        assert holds is expected, text
    sizes = parse_condition("size(" * 299 + "a" + ")" * 299 + " = :v")
    with little_stack(), pytest.raises(ValidationError, match="operator or function: size, "
                                       "operand type: N"):
        evaluate_condition(sizes, item, None, {":v": Decimal(1)})


def test_the_deepest_valid_update_parses_prints_and_applies_with_little_stack() -> None:
    text = "SET a = " + "if_not_exists(b, " * 220 + ":v" + ")" * 220
    assert len(text) <= 4096
    with little_stack():
        update = parse_update(text)
        assert parse_update(str(update)) == update
        assert apply_update(update, {"pk": "k"}, None, {":v": 5}) == {"pk": "k", "a": 5}


def test_hand_built_trees_of_any_depth_compare_print_and_evaluate() -> None:
    leaf = Compare("=", Path((Name("a"),)), ValueRef(":v"))
    tree: Any = leaf
    other: Any = leaf
    for _ in range(10_001):
        tree, other = Not(tree), Not(other)
    with little_stack():
        condition = Condition(tree)
        assert evaluate_condition(condition, {"a": Decimal(1)}, None, {":v": 1}) is False
        assert tree == other and hash(tree) == hash(other) and tree != Not(other)
        assert str(condition).count("NOT") == 10_001
        assert repr(tree).count("Not(operand=") == 10_001


def test_items_nested_deeply_are_copied_without_recursion() -> None:
    deep = _nested(5000)
    with little_stack():
        after = apply_update(parse_update("SET n = :v"), {"pk": "k", "d": deep}, None,
                             {":v": 1})
    assert after["n"] == 1
    copied, original, depth = after["d"], deep, 0
    while isinstance(original, list | dict):
        assert copied is not original and type(copied) is type(original)
        key = 0 if isinstance(original, list) else "a"
        copied, original, depth = copied[key], original[key], depth + 1
    assert (copied, depth) == (original, 5000)


def test_a_deep_value_in_a_condition_is_refused_not_compared() -> None:
    with little_stack(), pytest.raises(ValidationError, match="Nesting Levels"):
        evaluate_condition(parse_condition("a = :v"), {"a": 1}, None, {":v": _nested(3000)})


@pytest.mark.parametrize("request_", [
    Update("t", {"pk": "k"}, "SET a = :v", "(" * 2000 + "a = :v" + ")" * 2000,
           values={":v": 1}),
    TransactWrite((Put("t", {"pk": "j"}),
                   Update("t", {"pk": "k"}, "SET " + "a." * 40 + "b = :v", values={":v": 1}))),
], ids=["condition", "transaction-update"])
def test_expression_fault_names_the_field(request_: Any) -> None:
    with little_stack():
        fault = expression_fault(request_)
    assert fault is not None
    field, error = fault
    if isinstance(request_, Update):
        assert field == "condition"
        assert error.message.startswith("The expression has redundant parentheses")
    else:
        assert field == "actions[1].update"
        assert isinstance(error, LimitExceeded)


# ---------------------------------------------------------------------------- overlaps

resolved_paths = st.lists(
    st.lists(st.one_of(st.sampled_from(["a", "b", "0"]), st.integers(0, 1)), min_size=1,
             max_size=4).map(tuple),
    max_size=8,
)


@given(resolved_paths)
def test_first_overlap_is_the_first_pair_that_overlap_error_refuses(paths: list[Any]) -> None:
    expected = next(((i, j) for j in range(len(paths)) for i in range(j)
                     if overlap_error(paths[i], paths[j], "", 0, None) is not None), None)
    assert first_overlap(paths) == expected


def test_the_first_overlap_among_hundreds_of_paths_is_reported() -> None:
    text = "REMOVE " + ",".join(f"a{i}" for i in range(900))
    text = text[:text.rindex(",", 0, 4090)] + ",a1"
    with pytest.raises(ValidationError, match=r"overlap.*path one: \[a1\], path two: \[a1\]"):
        parse_update(text)
    names = {f"#n{i}": "same" for i in range(300)}
    update = parse_update("REMOVE " + ",".join(names))
    with pytest.raises(ValidationError, match=r"path one: \[same\], path two: \[same\]"):
        apply_update(update, {"same": 1}, names, None)


def test_value_sizes_are_counted_without_recursion() -> None:
    with little_stack():
        # 2500 maps of one key "a" (3 + 1 + 1 bytes), 2500 lists (3 + 1), the number 1 (2)
        assert value_size(_nested(5000)) == 2500 * 5 + 2500 * 4 + 2


@pytest.mark.parametrize("request_", [
    Update("t", {"pk": "k"}, "SET a = :v", " OR ".join(["a = :v"] * 2000), values={":v": 1}),
    Update("t", {"pk": "k"}, "SET a" + ".b" * 100 + " = :v", values={":v": 1}),
    Put("t", {"pk": "k"}, "NOT " * 1000 + "a = :v", values={":v": 1}),
    Delete("t", {"pk": "k"}, "(" * 2000 + "a = :v" + ")" * 2000, values={":v": 1}),
    TransactWrite((Update("t", {"pk": "k"}, "SET a.b = :v", values={":v": _nested(32)}),)),
], ids=["long-or", "deep-set", "not-chain", "parentheses", "transaction-nesting"])
def test_the_item_model_answers_hostile_requests_with_a_definite_error(request_: Any) -> None:
    db = empty(TableSchema("t", "pk"))
    db, _ = apply(db, Put("t", {"pk": "k", "a": {}}))
    with little_stack(200):
        after, answer = outcome(db, request_)
    assert after == db
    assert isinstance(answer, ValidationError | TransactionCanceled)
    if isinstance(answer, TransactionCanceled):
        assert [reason.code for reason in answer.reasons] == ["ValidationError"]
        assert "Nesting Levels" in answer.reasons[0].message
