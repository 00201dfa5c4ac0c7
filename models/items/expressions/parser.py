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

DynamoDB's limits (``limits.py``) come before all of these and stop the parse where they
are crossed: an expression over 4 KB is refused before it is read, a placeholder over
255 bytes when it is read, the 301st operator or function and a document path of more
than 32 elements where they stand. The parser's recursion runs on an explicit stack
(``trampoline.run``), so no nesting of parentheses, NOT or functions can exhaust
Python's; a parenthesized operand is parsed once from each token however often the
parser backtracks over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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
from replicheck.models.items.expressions.limits import (
    MAX_IN_OPERANDS,
    MAX_OPERATORS,
    MAX_PATH_DEPTH,
    LimitExceeded,
    check_expression_size,
    check_path_depth,
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
from replicheck.models.items.expressions.paths import first_overlap, overlap_error, static_key
from replicheck.models.items.expressions.reserved import is_reserved
from replicheck.models.items.expressions.trampoline import Step, run

__all__ = [
    "CONDITION_FUNCTIONS",
    "UPDATE_FUNCTIONS",
    "parse_condition",
    "parse_projection",
    "parse_update",
]

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


@dataclass(frozen=True)
class _Memo:
    """What parsing a parenthesized operand from one token gave: its result, the token
    after it, the deferred checks and the operators it added; or the error it raised."""

    result: _Raw | None
    end: int
    deferred: tuple[tuple[int, int, ValidationError], ...]
    operators: int
    error: ValidationError | None


class _Parser:
    def __init__(self, text: str, what: str, keywords: frozenset[str]) -> None:
        self.text = text
        self.what = what
        self.keywords = keywords
        check_expression_size(text, what)
        if not text.strip():
            raise ValidationError(
                "The expression can not be empty;", what=what, position=0,
                expected="a non-empty expression", text=text,
            )
        self.tokens = tokenize(text, what)
        self.i = 0
        self.deferred: list[tuple[int, int, ValidationError]] = []
        self.failed_groups: dict[int, ValidationError] = {}
        self.operand_memo: dict[int, _Memo] = {}
        self.operators = 0

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

    def count_operator(self, token: Token) -> None:
        self.count_operators(1, token)

    def count_operators(self, count: int, token: Token) -> None:
        """Count ``count`` operators or functions ending at ``token``; the one past
        :data:`MAX_OPERATORS` is a :class:`LimitExceeded` at once."""
        self.operators += count
        if self.operators > MAX_OPERATORS:
            raise LimitExceeded(
                "The expression contains too many operators; operator count: "
                f"{self.operators}, limit: {MAX_OPERATORS} (maximum number of operators "
                "or functions in an expression)",
                limit="maximum number of operators or functions in an expression",
                figure=MAX_OPERATORS, what=self.what, position=token.pos,
            )

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
                break
        if len(elements) > MAX_PATH_DEPTH:
            check_path_depth(len(elements), self.what, elements[MAX_PATH_DEPTH].pos)
        return Path(tuple(elements), pos=start)

    # -------------------------------------------------------------- operands

    def raw_operand(self, groups: bool) -> Step[_Raw]:
        token = self.peek()
        if token.kind == VALUE:
            self.advance()
            return ValueRef(token.text, pos=token.pos)
        if groups and self.is_punct(token, "("):
            grouped: _Raw = yield self.grouped_operand()
            return grouped
        if (
            token.kind == IDENT
            and token.text.upper() not in self.keywords
            and self.is_punct(self.peek(1), "(")
        ):
            self.count_operator(token)
            self.advance()
            self.advance()
            args = [(yield self.raw_operand(groups))]
            while self.is_punct(self.peek(), ","):
                self.advance()
                args.append((yield self.raw_operand(groups)))
            close = self.expect_punct(")", "',' or ')'")
            return _Call(token.text, tuple(args), token.pos, close.end)
        if token.kind == NAME or (token.kind == IDENT and token.text.upper() not in self.keywords):
            return self.path()
        raise self.error("an operand (an attribute name, #name, :value or a function)")

    def grouped_operand(self) -> Step[_Raw]:
        """``'(' operand ')'`` at the current token, remembered by its start so that
        trying it again after a failed parenthesized condition costs nothing."""
        start = self.i
        memo = self.operand_memo.get(start)
        if memo is not None:
            return self.replay(memo)
        deferred, operators = len(self.deferred), self.operators
        try:
            self.advance()
            inner: _Raw = yield self.raw_operand(True)
            self.expect_punct(")")
        except LimitExceeded:
            raise
        except ValidationError as error:
            self.operand_memo[start] = _Memo(None, start, (), 0, error)
            raise
        self.operand_memo[start] = _Memo(
            inner, self.i, tuple(self.deferred[deferred:]), self.operators - operators, None)
        return inner

    def replay(self, memo: _Memo) -> _Raw:
        if memo.error is not None:
            raise memo.error
        assert memo.result is not None
        self.i = memo.end
        self.deferred.extend(memo.deferred)
        self.count_operators(memo.operators, self.tokens[memo.end - 1])
        return memo.result

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

    def cond_operand(self, raw: _Raw) -> Step[Operand]:
        if not isinstance(raw, _Call):
            return raw
        if raw.name == "size":
            if not self.arity(raw):
                return _PLACEHOLDER
            return Size((yield self.cond_operand(raw.args[0])), pos=raw.pos)
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
            yield self.cond_operand(arg)
        return _PLACEHOLDER

    def cond_function(self, call: _Call) -> Step[BoolExpr]:
        if call.name not in CONDITION_FUNCTIONS or call.name == "size":
            yield self.cond_operand(call)
            if call.name == "size":
                self.misuse(call, "size(...) compared with something (it is a number)")
            return AttributeExists(_PLACEHOLDER)
        if not self.arity(call):
            for arg in call.args:
                yield self.cond_operand(arg)
            return AttributeExists(_PLACEHOLDER)
        if call.name in ("attribute_exists", "attribute_not_exists"):
            path = self.needs_path(call, call.args[0])
            yield self.cond_operand(call.args[0])
            if call.name == "attribute_exists":
                return AttributeExists(path, pos=call.pos)
            return AttributeNotExists(path, pos=call.pos)
        first = yield self.cond_operand(call.args[0])
        second = yield self.cond_operand(call.args[1])
        if call.name == "attribute_type":
            return AttributeType(first, second, pos=call.pos)
        if call.name == "begins_with":
            return BeginsWith(first, second, pos=call.pos)
        return Contains(first, second, pos=call.pos)

    def condition(self) -> Step[BoolExpr]:
        left: BoolExpr = yield self.conjunction()
        while self.is_keyword(self.peek(), "OR"):
            token = self.advance()
            self.count_operator(token)
            left = Or(left, (yield self.conjunction()), pos=token.pos)
        return left

    def conjunction(self) -> Step[BoolExpr]:
        left: BoolExpr = yield self.negation()
        while self.is_keyword(self.peek(), "AND"):
            token = self.advance()
            self.count_operator(token)
            left = And(left, (yield self.negation()), pos=token.pos)
        return left

    def negation(self) -> Step[BoolExpr]:
        if self.is_keyword(self.peek(), "NOT"):
            token = self.advance()
            self.count_operator(token)
            return Not((yield self.negation()), pos=token.pos)
        predicate: BoolExpr = yield self.predicate()
        return predicate

    def at_operator(self) -> bool:
        token = self.peek()
        return token.kind == COMPARATOR or self.is_keyword(token, "BETWEEN") or (
            self.is_keyword(token, "IN"))

    def predicate(self) -> Step[BoolExpr]:
        if not self.is_punct(self.peek(), "("):
            return (yield from self.compared())
        start, deferred, operators = self.i, len(self.deferred), self.operators
        group_error = self.failed_groups.get(start)
        if group_error is None:
            try:
                self.advance()
                inner: BoolExpr = yield self.condition()
                self.expect_punct(")", "')' (or AND, OR)")
                if not self.at_operator():
                    return inner
            except LimitExceeded:
                raise
            except ValidationError as error:
                group_error = self.failed_groups[start] = error
        # Not a parenthesized condition: a parenthesized operand, compared.
        self.i, self.operators = start, operators
        del self.deferred[deferred:]
        try:
            return (yield from self.compared())
        except LimitExceeded:
            raise
        except ValidationError as error:
            if group_error is not None and (group_error.position or 0) > (error.position or 0):
                raise group_error from None
            raise

    def compared(self) -> Step[BoolExpr]:
        left: _Raw = yield self.raw_operand(groups=True)
        rest: BoolExpr = yield self.predicate_rest(left)
        return rest

    def predicate_rest(self, left: _Raw) -> Step[BoolExpr]:
        token = self.peek()
        if token.kind == COMPARATOR:
            self.advance()
            self.count_operator(token)
            right = yield self.raw_operand(groups=True)
            return Compare(token.text, (yield self.cond_operand(left)),
                           (yield self.cond_operand(right)), pos=token.pos)
        if self.is_keyword(token, "BETWEEN"):
            self.advance()
            self.count_operator(token)
            low = yield self.raw_operand(groups=True)
            if not self.is_keyword(self.peek(), "AND"):
                raise self.error("AND (operand BETWEEN low AND high)")
            self.advance()
            high = yield self.raw_operand(groups=True)
            return Between((yield self.cond_operand(left)), (yield self.cond_operand(low)),
                           (yield self.cond_operand(high)), pos=token.pos)
        if self.is_keyword(token, "IN"):
            self.advance()
            self.count_operator(token)
            self.expect_punct("(", "'(' opening the list of IN")
            candidates = [(yield self.raw_operand(groups=True))]
            while self.is_punct(self.peek(), ","):
                self.advance()
                candidates.append((yield self.raw_operand(groups=True)))
            self.expect_punct(")", "',' or ')'")
            if len(candidates) + 1 > MAX_IN_OPERANDS:
                self.defer(
                    _IN_LIMIT, token.pos,
                    "The IN operator is provided with too many operands; number of operands: "
                    f"{len(candidates) + 1}",
                    f"at most {MAX_IN_OPERANDS - 1} values in the list of IN",
                )
            operand = yield self.cond_operand(left)
            listed = []
            for candidate in candidates:
                listed.append((yield self.cond_operand(candidate)))
            return In(operand, tuple(listed), pos=token.pos)
        if isinstance(left, _Call):
            function: BoolExpr = yield self.cond_function(left)
            return function
        raise self.error("a comparator (= <> < <= > >=), BETWEEN or IN")

    # -------------------------------------------------------------- updates

    def update_operand(self) -> Step[UpdateOperand]:
        raw: _Raw = yield self.raw_operand(groups=False)
        operand: UpdateOperand = yield self.convert_update(raw)
        return operand

    def convert_update(self, raw: _Raw) -> Step[UpdateOperand]:
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
                yield self.convert_update(arg)
            return _PLACEHOLDER
        if not self.arity(raw):
            for arg in raw.args:
                yield self.convert_update(arg)
            return _PLACEHOLDER
        if raw.name == "if_not_exists":
            path = self.needs_path(raw, raw.args[0])
            yield self.convert_update(raw.args[0])
            return IfNotExists(path, (yield self.convert_update(raw.args[1])), pos=raw.pos)
        first = yield self.convert_update(raw.args[0])
        second = yield self.convert_update(raw.args[1])
        for converted in (first, second):
            if isinstance(converted, ListAppend):
                self.defer(
                    _MISUSE, converted.pos,
                    "The function is not allowed to be used this way in an expression; "
                    "function: list_append",
                    "list_append of a path, :value or if_not_exists (not of list_append)",
                )
        return ListAppend(first, second, pos=raw.pos)

    def set_value(self) -> Step[SetValue]:
        left: UpdateOperand = yield self.update_operand()
        token = self.peek()
        if self.is_punct(token, "+") or self.is_punct(token, "-"):
            self.advance()
            self.count_operator(token)
            return Arithmetic(token.text, left, (yield self.update_operand()), pos=token.pos)
        return left

    def update(self) -> Step[Update]:
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
                    sets.append(SetAction(path, (yield self.set_value()), pos=path.pos))
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
        keys = [static_key(p) for p in paths]
        pair = first_overlap(keys)
        if pair is not None:
            i, j = pair
            error = overlap_error(keys[i], keys[j], self.what, paths[j].pos, self.text)
            assert error is not None
            self.deferred.append((_OVERLAP, paths[j].pos, error))

    # -------------------------------------------------------------- projections

    def projection(self) -> Projection:
        paths = [self.path()]
        while self.is_punct(self.peek(), ","):
            self.advance()
            paths.append(self.path())
        self.defer_overlaps(paths)
        return Projection(tuple(paths), text=self.text)


_PARSED_KEPT = 4096
"""How many distinct expressions each parser remembers (trees are immutable, so a
request parsed again, as a model does at every step of a search, costs a lookup)."""


@lru_cache(maxsize=_PARSED_KEPT)
def parse_condition(text: str, what: str = "ConditionExpression") -> Condition:
    """Parse a condition expression (also a FilterExpression: pass its name as
    ``what``). Malformed text raises :class:`ValidationError` naming ``what``, the
    0-based character position and what was expected there."""
    parser = _Parser(text, what, _CONDITION_KEYWORDS)
    expr = run(parser.condition())
    parser.finish("AND, OR or the end of the expression")
    return Condition(expr, what=what, text=text)


@lru_cache(maxsize=_PARSED_KEPT)
def parse_update(text: str) -> Update:
    """Parse an update expression. Malformed text (including a clause given twice and
    two actions on overlapping paths) raises :class:`ValidationError` naming
    ``UpdateExpression``, the position and what was expected."""
    parser = _Parser(text, "UpdateExpression", _UPDATE_KEYWORDS)
    update = run(parser.update())
    parser.finish("',', SET, REMOVE, ADD, DELETE or the end of the expression")
    return update


@lru_cache(maxsize=_PARSED_KEPT)
def parse_projection(text: str) -> Projection:
    """Parse a projection expression (comma-separated document paths); malformed text
    or overlapping paths raise :class:`ValidationError` naming
    ``ProjectionExpression``."""
    parser = _Parser(text, "ProjectionExpression", frozenset())
    projection = parser.projection()
    parser.finish("',' or the end of the expression")
    return projection
