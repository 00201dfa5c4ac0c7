"""Recursive-descent parsers for condition, update and projection expressions.

Grammar (keywords case-insensitive, function names case-sensitive)::

    condition  := or
    or         := and ( OR and )*
    and        := not ( AND not )*
    not        := NOT not | predicate
    predicate  := '(' condition ')'
                | operand comparator operand
                | operand BETWEEN operand AND operand
                | operand IN '(' operand ( ',' operand )* ')'
                | function '(' operand ( ',' operand )* ')'
    operand    := path | :value | size '(' operand ')' | '(' operand ')'
    path       := ( name | #name ) ( '.' ( name | #name ) | '[' digits ']' )*

    update     := clause+          (each of SET, REMOVE, ADD, DELETE at most once)
    clause     := SET path '=' value ( ',' path '=' value )*
                | REMOVE path ( ',' path )*
                | ADD path :value ( ',' path :value )*
                | DELETE path :value ( ',' path :value )*
    value      := uoperand ( ( '+' | '-' ) uoperand )?
    uoperand   := path | :value | if_not_exists '(' path ',' uoperand ')'
                | list_append '(' uoperand ',' uoperand ')'

    projection := path ( ',' path )*

Precedence, highest first: comparators, IN, BETWEEN, functions, parentheses, NOT,
AND, OR; AND and OR group to the left.

Faults are reported as DynamoDB reports them, in DynamoDB's order of checks: a syntax
error first (at the offending token), then redundant parentheses, unknown functions,
functions used in the wrong place, a repeated update clause, reserved words used as
names, wrong operand counts, paths required, too many IN operands, and overlapping
paths; within one kind, the leftmost. Checks that need ExpressionAttributeNames or
ExpressionAttributeValues happen when the expression is validated or evaluated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions.lexer import (
    COMPARATOR,
    EOF,
    IDENT,
    INT,
    NAME,
    PUNCT,
    VALUE,
    Token,
    syntax_error,
    tokenize,
)
from replicheck.models.items.expressions.nodes import (
    AddAction,
    And,
    Arithmetic,
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Between,
    BoolExpr,
    Compare,
    Condition,
    Contains,
    DeleteAction,
    IfNotExists,
    In,
    Index,
    ListAppend,
    Name,
    NamePlaceholder,
    Not,
    Operand,
    Or,
    Path,
    PathElement,
    Projection,
    RemoveAction,
    SetAction,
    SetValue,
    Size,
    Update,
    UpdateOperand,
    ValueRef,
)
from replicheck.models.items.expressions.paths import overlap_error, static_key
from replicheck.models.items.expressions.reserved import is_reserved

__all__ = [
    "CONDITION_FUNCTIONS",
    "MAX_IN_OPERANDS",
    "UPDATE_FUNCTIONS",
    "parse_condition",
    "parse_projection",
    "parse_update",
]

MAX_IN_OPERANDS = 101
"""The most operands an IN may have, counting the one on its left: at most 100 values
in its list, as DynamoDB documents ("up to 100 values")."""

CONDITION_FUNCTIONS: frozenset[str] = frozenset({
    "attribute_exists", "attribute_not_exists", "attribute_type", "begins_with",
    "contains", "size",
})
"""The functions of condition expressions (``size`` is the only one that is an
operand; the others are conditions)."""

UPDATE_FUNCTIONS: frozenset[str] = frozenset({"if_not_exists", "list_append"})
"""The functions of SET actions."""

_ARITY = {
    "attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2,
    "begins_with": 2, "contains": 2, "size": 1, "if_not_exists": 2, "list_append": 2,
}

# Deferred-check kinds, in DynamoDB's order of checks.
_REDUNDANT, _FUNCTION_NAME, _MISUSE, _CLAUSE_TWICE, _RESERVED = 1, 2, 3, 4, 5
_OPERAND_COUNT, _NEEDS_PATH, _IN_LIMIT, _OVERLAP = 6, 7, 8, 9

_CONDITION_KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})
_UPDATE_KEYWORDS = frozenset({"SET", "REMOVE", "ADD", "DELETE"})
# Keywords after which '(' opens a group rather than an argument list.
_GROUPING_KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN"})

_PLACEHOLDER = Path((Name("_"),))


@dataclass(frozen=True)
class _Call:
    """A function call as written, before it is known to be an operand or a condition."""

    name: str
    args: tuple[Path | ValueRef | _Call, ...]
    pos: int
    end: int


_Raw = Path | ValueRef | _Call


class _Parser:
    def __init__(self, text: str, what: str, keywords: frozenset[str]) -> None:
        self.text = text
        self.what = what
        self.keywords = keywords
        if not text.strip():
            raise ValidationError(
                "The expression can not be empty;", what=what, position=0,
                expected="a non-empty expression", text=text,
            )
        self.tokens = tokenize(text, what)
        self.i = 0
        self.deferred: list[tuple[int, int, ValidationError]] = []
        self.failed_groups: dict[int, ValidationError] = {}

    # -------------------------------------------------------------- token helpers

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != EOF:
            self.i += 1
        return token

    def error(self, expected: str) -> ValidationError:
        previous = self.tokens[self.i - 1] if self.i > 0 else None
        return syntax_error(self.what, self.text, self.peek(), expected, previous)

    def is_keyword(self, token: Token, word: str) -> bool:
        return token.kind == IDENT and token.text.upper() == word

    def is_punct(self, token: Token, char: str) -> bool:
        return token.kind == PUNCT and token.text == char

    def expect_punct(self, char: str, expected: str | None = None) -> Token:
        if not self.is_punct(self.peek(), char):
            raise self.error(expected or f"'{char}'")
        return self.advance()

    def defer(self, kind: int, pos: int, message: str, expected: str) -> None:
        self.deferred.append((kind, pos, ValidationError(
            message, what=self.what, position=pos, expected=expected, text=self.text,
        )))

    def finish(self, expected_end: str) -> None:
        if self.peek().kind != EOF:
            raise self.error(expected_end)
        self.check_redundant_parentheses()
        if self.deferred:
            raise min(self.deferred, key=lambda entry: (entry[0], entry[1]))[2]

    def check_redundant_parentheses(self) -> None:
        stack: list[int] = []
        match: dict[int, int] = {}
        for index, token in enumerate(self.tokens):
            if self.is_punct(token, "("):
                stack.append(index)
            elif self.is_punct(token, ")") and stack:
                match[stack.pop()] = index
        for index in sorted(match):
            if not self.is_group(index):
                continue
            inner = index + 1
            if inner in match and self.is_group(inner) and match[inner] == match[index] - 1:
                self.defer(
                    _REDUNDANT, self.tokens[index].pos, "The expression has redundant parentheses;",
                    "one pair of parentheses around an expression",
                )

    def is_group(self, index: int) -> bool:
        if index == 0:
            return True
        before = self.tokens[index - 1]
        return before.kind != IDENT or before.text.upper() in _GROUPING_KEYWORDS

    # -------------------------------------------------------------- paths

    def name_element(self, expected: str) -> Name | NamePlaceholder:
        token = self.peek()
        if token.kind == NAME:
            self.advance()
            return NamePlaceholder(token.text, pos=token.pos)
        if token.kind == IDENT and token.text.upper() not in self.keywords:
            self.advance()
            if is_reserved(token.text):
                self.defer(
                    _RESERVED, token.pos,
                    f"Attribute name is a reserved keyword; reserved keyword: {token.text}",
                    f"an expression attribute name (#name) in place of {token.text}",
                )
            return Name(token.text, pos=token.pos)
        raise self.error(expected)

    def path(self) -> Path:
        start = self.peek().pos
        elements: list[PathElement] = [
            self.name_element("a document path (an attribute name or #name)")
        ]
        while True:
            token = self.peek()
            if self.is_punct(token, "."):
                self.advance()
                elements.append(self.name_element("a map member (an attribute name or #name)"))
            elif self.is_punct(token, "["):
                self.advance()
                number = self.peek()
                if number.kind != INT:
                    raise self.error("a list index (decimal digits)")
                self.advance()
                self.expect_punct("]")
                elements.append(Index(int(number.text), pos=number.pos))
            else:
                return Path(tuple(elements), pos=start)

    # -------------------------------------------------------------- operands

    def raw_operand(self, groups: bool) -> _Raw:
        token = self.peek()
        if token.kind == VALUE:
            self.advance()
            return ValueRef(token.text, pos=token.pos)
        if groups and self.is_punct(token, "("):
            self.advance()
            inner = self.raw_operand(groups)
            self.expect_punct(")")
            return inner
        if (
            token.kind == IDENT
            and token.text.upper() not in self.keywords
            and self.is_punct(self.peek(1), "(")
        ):
            self.advance()
            self.advance()
            args = [self.raw_operand(groups)]
            while self.is_punct(self.peek(), ","):
                self.advance()
                args.append(self.raw_operand(groups))
            close = self.expect_punct(")", "',' or ')'")
            return _Call(token.text, tuple(args), token.pos, close.end)
        if token.kind == NAME or (token.kind == IDENT and token.text.upper() not in self.keywords):
            return self.path()
        raise self.error("an operand (an attribute name, #name, :value or a function)")

    def arity(self, call: _Call) -> bool:
        wanted = _ARITY[call.name]
        if len(call.args) != wanted:
            self.defer(
                _OPERAND_COUNT, call.pos,
                "Incorrect number of operands for operator or function; operator or "
                f"function: {call.name}, number of operands: {len(call.args)}",
                f"{wanted} operand{'s' if wanted > 1 else ''} for {call.name}",
            )
            return False
        return True

    def unknown_function(self, call: _Call) -> None:
        self.defer(
            _FUNCTION_NAME, call.pos, f"Invalid function name; function: {call.name}",
            "one of attribute_exists, attribute_not_exists, attribute_type, begins_with, "
            "contains, size (conditions) or if_not_exists, list_append (SET values); "
            "function names are case-sensitive",
        )

    def misuse(self, call: _Call, expected: str) -> None:
        self.defer(
            _MISUSE, call.pos,
            "The function is not allowed to be used this way in an expression; "
            f"function: {call.name}",
            expected,
        )

    def needs_path(self, call: _Call, arg: _Raw) -> Path:
        if isinstance(arg, Path):
            return arg
        self.defer(
            _NEEDS_PATH, call.pos,
            f"Operator or function requires a document path; operator or function: {call.name}",
            f"a document path as the first operand of {call.name}",
        )
        return _PLACEHOLDER

    # -------------------------------------------------------------- conditions

    def cond_operand(self, raw: _Raw) -> Operand:
        if not isinstance(raw, _Call):
            return raw
        if raw.name == "size":
            if not self.arity(raw):
                return _PLACEHOLDER
            return Size(self.cond_operand(raw.args[0]), pos=raw.pos)
        if raw.name in CONDITION_FUNCTIONS:
            self.misuse(raw, f"{raw.name}(...) as a condition of its own, not as an operand")
        elif raw.name in UPDATE_FUNCTIONS:
            self.defer(
                _MISUSE, raw.pos,
                f"The function is not allowed in a condition expression; function: {raw.name}",
                "a condition function (attribute_exists, attribute_not_exists, "
                "attribute_type, begins_with, contains) or size",
            )
        else:
            self.unknown_function(raw)
        for arg in raw.args:
            self.cond_operand(arg)
        return _PLACEHOLDER

    def cond_function(self, call: _Call) -> BoolExpr:
        if call.name not in CONDITION_FUNCTIONS or call.name == "size":
            self.cond_operand(call)
            if call.name == "size":
                self.misuse(call, "size(...) compared with something (it is a number)")
            return AttributeExists(_PLACEHOLDER)
        if not self.arity(call):
            for arg in call.args:
                self.cond_operand(arg)
            return AttributeExists(_PLACEHOLDER)
        if call.name in ("attribute_exists", "attribute_not_exists"):
            path = self.needs_path(call, call.args[0])
            self.cond_operand(call.args[0])
            if call.name == "attribute_exists":
                return AttributeExists(path, pos=call.pos)
            return AttributeNotExists(path, pos=call.pos)
        first = self.cond_operand(call.args[0])
        second = self.cond_operand(call.args[1])
        if call.name == "attribute_type":
            return AttributeType(first, second, pos=call.pos)
        if call.name == "begins_with":
            return BeginsWith(first, second, pos=call.pos)
        return Contains(first, second, pos=call.pos)

    def condition(self) -> BoolExpr:
        left = self.conjunction()
        while self.is_keyword(self.peek(), "OR"):
            token = self.advance()
            left = Or(left, self.conjunction(), pos=token.pos)
        return left

    def conjunction(self) -> BoolExpr:
        left = self.negation()
        while self.is_keyword(self.peek(), "AND"):
            token = self.advance()
            left = And(left, self.negation(), pos=token.pos)
        return left

    def negation(self) -> BoolExpr:
        if self.is_keyword(self.peek(), "NOT"):
            token = self.advance()
            return Not(self.negation(), pos=token.pos)
        return self.predicate()

    def at_operator(self) -> bool:
        token = self.peek()
        return token.kind == COMPARATOR or self.is_keyword(token, "BETWEEN") or (
            self.is_keyword(token, "IN"))

    def predicate(self) -> BoolExpr:
        if not self.is_punct(self.peek(), "("):
            return self.predicate_rest(self.raw_operand(groups=True))
        start, deferred = self.i, len(self.deferred)
        group_error = self.failed_groups.get(start)
        if group_error is None:
            try:
                self.advance()
                inner = self.condition()
                self.expect_punct(")", "')' (or AND, OR)")
                if not self.at_operator():
                    return inner
            except ValidationError as error:
                group_error = self.failed_groups[start] = error
        # Not a parenthesized condition: a parenthesized operand, compared.
        self.i = start
        del self.deferred[deferred:]
        try:
            return self.predicate_rest(self.raw_operand(groups=True))
        except ValidationError as error:
            if group_error is not None and (group_error.position or 0) > (error.position or 0):
                raise group_error from None
            raise

    def predicate_rest(self, left: _Raw) -> BoolExpr:
        token = self.peek()
        if token.kind == COMPARATOR:
            self.advance()
            right = self.raw_operand(groups=True)
            return Compare(token.text, self.cond_operand(left), self.cond_operand(right),
                           pos=token.pos)
        if self.is_keyword(token, "BETWEEN"):
            self.advance()
            low = self.raw_operand(groups=True)
            if not self.is_keyword(self.peek(), "AND"):
                raise self.error("AND (operand BETWEEN low AND high)")
            self.advance()
            high = self.raw_operand(groups=True)
            return Between(self.cond_operand(left), self.cond_operand(low),
                           self.cond_operand(high), pos=token.pos)
        if self.is_keyword(token, "IN"):
            self.advance()
            self.expect_punct("(", "'(' opening the list of IN")
            candidates = [self.raw_operand(groups=True)]
            while self.is_punct(self.peek(), ","):
                self.advance()
                candidates.append(self.raw_operand(groups=True))
            self.expect_punct(")", "',' or ')'")
            if len(candidates) + 1 > MAX_IN_OPERANDS:
                self.defer(
                    _IN_LIMIT, token.pos,
                    "The IN operator is provided with too many operands; number of operands: "
                    f"{len(candidates) + 1}",
                    f"at most {MAX_IN_OPERANDS - 1} values in the list of IN",
                )
            return In(self.cond_operand(left),
                      tuple(self.cond_operand(c) for c in candidates), pos=token.pos)
        if isinstance(left, _Call):
            return self.cond_function(left)
        raise self.error("a comparator (= <> < <= > >=), BETWEEN or IN")

    # -------------------------------------------------------------- updates

    def update_operand(self) -> UpdateOperand:
        return self.convert_update(self.raw_operand(groups=False))

    def convert_update(self, raw: _Raw) -> UpdateOperand:
        if not isinstance(raw, _Call):
            return raw
        if raw.name not in UPDATE_FUNCTIONS:
            if raw.name in CONDITION_FUNCTIONS:
                self.defer(
                    _MISUSE, raw.pos,
                    f"The function is not allowed in an update expression; function: {raw.name}",
                    "if_not_exists or list_append",
                )
            else:
                self.unknown_function(raw)
            for arg in raw.args:
                self.convert_update(arg)
            return _PLACEHOLDER
        if not self.arity(raw):
            for arg in raw.args:
                self.convert_update(arg)
            return _PLACEHOLDER
        if raw.name == "if_not_exists":
            path = self.needs_path(raw, raw.args[0])
            self.convert_update(raw.args[0])
            return IfNotExists(path, self.convert_update(raw.args[1]), pos=raw.pos)
        first, second = (self.convert_update(arg) for arg in raw.args)
        for converted in (first, second):
            if isinstance(converted, ListAppend):
                self.defer(
                    _MISUSE, converted.pos,
                    "The function is not allowed to be used this way in an expression; "
                    "function: list_append",
                    "list_append of a path, :value or if_not_exists (not of list_append)",
                )
        return ListAppend(first, second, pos=raw.pos)

    def set_value(self) -> SetValue:
        left = self.update_operand()
        token = self.peek()
        if self.is_punct(token, "+") or self.is_punct(token, "-"):
            self.advance()
            return Arithmetic(token.text, left, self.update_operand(), pos=token.pos)
        return left

    def update(self) -> Update:
        sets: list[SetAction] = []
        removes: list[RemoveAction] = []
        adds: list[AddAction] = []
        deletes: list[DeleteAction] = []
        seen: set[str] = set()
        expected = "SET, REMOVE, ADD or DELETE"
        while self.peek().kind != EOF:
            token = self.peek()
            keyword = token.text.upper() if token.kind == IDENT else ""
            if keyword not in _UPDATE_KEYWORDS:
                raise self.error(expected)
            self.advance()
            if keyword in seen:
                self.defer(
                    _CLAUSE_TWICE, token.pos,
                    f'The "{keyword}" section can only be used once in an update expression;',
                    f"all {keyword} actions in one {keyword} clause, separated by commas",
                )
            seen.add(keyword)
            while True:
                path = self.path()
                if keyword == "SET":
                    equals = self.peek()
                    if not (equals.kind == COMPARATOR and equals.text == "="):
                        raise self.error("'=' (SET path = value)")
                    self.advance()
                    sets.append(SetAction(path, self.set_value(), pos=path.pos))
                elif keyword == "REMOVE":
                    removes.append(RemoveAction(path, pos=path.pos))
                else:
                    value = self.peek()
                    if value.kind != VALUE:
                        raise self.error(f"an expression attribute value (:value) to {keyword}")
                    self.advance()
                    ref = ValueRef(value.text, pos=value.pos)
                    if keyword == "ADD":
                        adds.append(AddAction(path, ref, pos=path.pos))
                    else:
                        deletes.append(DeleteAction(path, ref, pos=path.pos))
                if not self.is_punct(self.peek(), ","):
                    break
                self.advance()
            expected = "',', SET, REMOVE, ADD, DELETE or the end of the expression"
        targets: list[Path] = [a.path for a in sets] + [a.path for a in removes]
        targets += [a.path for a in adds] + [a.path for a in deletes]
        paths = sorted(targets, key=lambda p: p.pos)
        self.defer_overlaps(paths)
        return Update(tuple(sets), tuple(removes), tuple(adds), tuple(deletes), text=self.text)

    def defer_overlaps(self, paths: list[Path]) -> None:
        keys = [(static_key(p), p.pos) for p in paths]
        for j in range(1, len(keys)):
            for i in range(j):
                error = overlap_error(keys[i][0], keys[j][0], self.what, keys[j][1], self.text)
                if error is not None:
                    self.deferred.append((_OVERLAP, keys[j][1], error))
                    return

    # -------------------------------------------------------------- projections

    def projection(self) -> Projection:
        paths = [self.path()]
        while self.is_punct(self.peek(), ","):
            self.advance()
            paths.append(self.path())
        self.defer_overlaps(paths)
        return Projection(tuple(paths), text=self.text)


@contextmanager
def _depth_guard(what: str, text: str) -> Iterator[None]:
    try:
        yield
    except RecursionError:
        raise ValidationError(
            "The expression is nested too deeply", what=what,
            expected="fewer nested parentheses, NOT or function calls", text=text,
        ) from None


def parse_condition(text: str, what: str = "ConditionExpression") -> Condition:
    """Parse a condition expression (also a FilterExpression: pass its name as
    ``what``). Malformed text raises :class:`ValidationError` naming ``what``, the
    0-based character position and what was expected there."""
    parser = _Parser(text, what, _CONDITION_KEYWORDS)
    with _depth_guard(what, text):
        expr = parser.condition()
    parser.finish("AND, OR or the end of the expression")
    return Condition(expr, what=what, text=text)


def parse_update(text: str) -> Update:
    """Parse an update expression. Malformed text (including a clause given twice and
    two actions on overlapping paths) raises :class:`ValidationError` naming
    ``UpdateExpression``, the position and what was expected."""
    parser = _Parser(text, "UpdateExpression", _UPDATE_KEYWORDS)
    with _depth_guard("UpdateExpression", text):
        update = parser.update()
    parser.finish("',', SET, REMOVE, ADD, DELETE or the end of the expression")
    return update


def parse_projection(text: str) -> Projection:
    """Parse a projection expression (comma-separated document paths); malformed text
    or overlapping paths raise :class:`ValidationError` naming
    ``ProjectionExpression``."""
    parser = _Parser(text, "ProjectionExpression", frozenset())
    projection = parser.projection()
    parser.finish("',' or the end of the expression")
    return projection
