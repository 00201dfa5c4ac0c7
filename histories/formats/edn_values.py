"""EDN values: reading one form and writing one.

:func:`read_form` reads the form at an offset of a text; :func:`parse_edn_value` a text
that is exactly one form; :func:`edn_value` writes a value. How EDN maps onto Python
values (keywords as :class:`~replicheck.models.equality.Keyword`, vectors as lists,
``1.5M`` as ``Decimal``, ...) is specified in :mod:`replicheck.histories.formats.edn`,
which reads whole histories with these.

The common shape is read by a small parser written for it (maps, vectors, lists, sets,
keywords, strings, numbers including ``N``/``M``, ``nil``, booleans, ``##Inf``), with
faster paths for a line of flat maps (:func:`fast_maps`); a form that holds anything
else (tags such as ``#inst``, characters, symbols, ratios, metadata, discards) is
handed whole to the ``edn_format`` library. The parser counts nesting before it
recurses (:data:`~replicheck.histories.history.MAX_NESTING`) and refuses integers
past Python's digit limit, so no text makes it raise anything but
:class:`EdnSyntaxError`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Hashable, Mapping
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, localcontext
from fractions import Fraction
from typing import Any, Final

from replicheck.histories.formats.limits import NESTING_EXPECTED, digits_expected
from replicheck.histories.history import MAX_NESTING, HistoryError
from replicheck.models.equality import Char, Keyword, Symbol, merged_by_python

__all__ = [
    "CLOSERS",
    "EdnSyntaxError",
    "FastPathMiss",
    "FormReader",
    "edn_string",
    "edn_value",
    "fast_maps",
    "hashable",
    "keyword_or_empty",
    "parse_edn_value",
    "read_form",
    "show_edn",
    "skip_discarded",
]

_WS: Final = re.compile(r"(?:[\s,]+|;[^\n]*)*")
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_TOKEN: Final = re.compile(r"[^\s,;()\[\]{}\"]+")
_INT: Final = re.compile(r"[-+]?[0-9]+")
_FLOAT: Final = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?")
_CHAR: Final = re.compile(
    r"\\(?:newline|space|tab|return|formfeed|backspace|u[0-9A-Fa-f]{4}|.)", re.S)
_RECORD_TAG: Final = re.compile(r"#[A-Za-z_][\w.-]*\.[A-Z][\w]*(?=\{)")
_KEYWORD_NAME: Final = re.compile(r"(?![-+.][0-9])[A-Za-z*+!_?<>=.-][A-Za-z0-9*+!_?<>=.-]*")
_NAME_CHARS: Final = r"[\w.*+!\-_?$%&=:#<>@]+"
_KEYWORD_TEXT: Final = re.compile(f"(?!:){_NAME_CHARS}(?:/{_NAME_CHARS})?")
"""The name of a keyword (after its colon) that EDN readers agree on: the edn_format
library's rule, with at most one ``/`` (the EDN specification's), which this module's
reader and writer follow."""
_KEYWORD_EXPECTED: Final = ("expected : then letters, digits and * + ! - _ ? $ % & = < > . : "
                            "# @ (not : first), with at most one / inside")
_SYMBOLIC: Final = {"##Inf": math.inf, "##-Inf": -math.inf, "##NaN": math.nan}
CLOSERS: Final = {"[": "]", "(": ")", "{": "}", "#{": "}"}
_NAMES: Final = {"[": "vector", "(": "list", "{": "map", "#{": "set"}


class EdnSyntaxError(ValueError):
    """Text that is not EDN: ``message`` says what was expected, ``pos`` where (an
    offset into the text that was parsed), ``reached`` how far the reader had read
    when it gave up (the end of the text for an unclosed collection or string)."""

    def __init__(self, message: str, pos: int, reached: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.reached = pos if reached is None else max(pos, reached)


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


class FormReader:
    """Recursive-descent reader of the common EDN subset. Sets ``unusual`` when it met
    syntax it leaves to the library; the value it returns is then meaningless."""

    __slots__ = ("text", "unusual")

    def __init__(self, text: str) -> None:
        self.text = text
        self.unusual = False

    def skip(self, pos: int) -> int:
        match = _WS.match(self.text, pos)
        assert match is not None
        return match.end()

    def form(self, pos: int, depth: int = 0) -> tuple[Any, int]:
        """The form starting at ``pos`` (not whitespace) and the offset after it."""
        text = self.text
        c = text[pos]
        if c in "[({":
            return self.collection(pos + 1, c, pos, depth)
        if c == '"':
            match = _STRING.match(text, pos)
            if match is None:
                raise EdnSyntaxError('unterminated string; expected a closing \'"\'', pos,
                                     len(text))
            raw = match.group()
            if "\\" not in raw:
                return raw[1:-1], match.end()
            try:
                return json.loads(raw, strict=False), match.end()
            except ValueError:
                self.unusual = True
                return None, match.end()
        if c in ")]}":
            raise EdnSyntaxError(f"unexpected {c!r}; expected a value", pos)
        if c == "#":
            return self.dispatch(pos, depth)
        if c == "\\":
            self.unusual = True
            match = _CHAR.match(text, pos)
            return None, (match.end() if match else pos + 1)
        if c == "^":
            self.unusual = True
            _, end = self.following(pos + 1, depth, "metadata")
            return self.following(end, depth, "metadata")
        match = _TOKEN.match(text, pos)
        assert match is not None
        token = match.group()
        if c == ":" and not _KEYWORD_TEXT.fullmatch(token, 1):
            raise EdnSyntaxError(f"{_clip(token)} is not a keyword; {_KEYWORD_EXPECTED}", pos)
        try:
            return self.atom(token), match.end()
        except ValueError:  # more digits than Python converts
            raise EdnSyntaxError(digits_expected(len(token.strip("+-N"))), pos) from None
        except ArithmeticError:  # decimal.InvalidOperation: an exponent out of range
            raise EdnSyntaxError(f"the decimal {_clip(token)} is out of range; expected an "
                                 f"exponent within ±{MAX_EMAX}", pos) from None

    def following(self, pos: int, depth: int, what: str) -> tuple[Any, int]:
        if depth + 1 >= MAX_NESTING:
            raise EdnSyntaxError(NESTING_EXPECTED, pos)
        pos = self.skip(pos)
        if pos >= len(self.text) or self.text[pos] in ")]}":
            raise EdnSyntaxError(f"expected a value after the {what}", pos)
        return self.form(pos, depth + 1)

    def dispatch(self, pos: int, depth: int) -> tuple[Any, int]:
        text = self.text
        if text.startswith("#{", pos):
            return self.collection(pos + 2, "#{", pos, depth)
        record = _RECORD_TAG.match(text, pos)
        if record is not None:
            return self.collection(record.end() + 1, "{", pos, depth)
        match = _TOKEN.match(text, pos)
        token = match.group() if match else "#"
        end = pos + len(token)
        if token in _SYMBOLIC:
            return _SYMBOLIC[token], end
        self.unusual = True
        if token.startswith("#_"):
            end = pos + 2
            _, end = self.following(end, depth, "discard #_")
            return None, end
        return self.following(end, depth, f"tag {token}")

    def collection(self, pos: int, opener: str, start: int, depth: int) -> tuple[Any, int]:
        if depth >= MAX_NESTING:
            raise EdnSyntaxError(NESTING_EXPECTED, start)
        text = self.text
        closer = CLOSERS[opener]
        items: list[Any] = []
        while True:
            pos = self.skip(pos)
            if pos >= len(text):
                raise EdnSyntaxError(
                    f"unclosed {_NAMES[opener]}; expected {closer!r}", start, len(text))
            c = text[pos]
            if c == closer:
                pos += 1
                break
            if c in ")]}":
                raise EdnSyntaxError(
                    f"unexpected {c!r}; expected {closer!r} to close the {_NAMES[opener]}", pos)
            item, pos = self.form(pos, depth + 1)
            items.append(item)
        if opener in "[(":
            return items, pos
        try:
            held, elements = _held(opener, items)
        except EdnSyntaxError as error:
            if self.unusual:  # the library reads it (unusual items are placeholders)
                return None, pos
            raise EdnSyntaxError(error.message, start, pos) from None
        # Checked on the items read even when the library reads the collection (it
        # builds a Python set too): an unusual item's placeholder (None, a tag's
        # payload) merges with no other item that stays apart by value.
        if merged_by_python(elements, len(held)):
            raise EdnSyntaxError(
                f"the {_NAMES[opener]} holds {'elements' if opener == '#{' else 'keys'} "
                "that are different values but one in Python (1, 1.0 and true, or [1] and "
                "[true]); expected values replicheck can hold apart", start, pos)
        return (None if self.unusual else held), pos

    def atom(self, token: str) -> Any:
        c = token[0]
        if c == ":":
            return Keyword(token[1:])  # form() checked the name
        if token == "nil":
            return None
        if token == "true":
            return True
        if token == "false":
            return False
        if c in "0123456789" or (c in "+-" and len(token) > 1 and token[1] in "0123456789"):
            if _INT.fullmatch(token):
                return int(token)
            if _FLOAT.fullmatch(token):
                return float(token)
            # exact here: the library rounds M numbers to 28 digits
            if token[-1] == "M" and _FLOAT.fullmatch(token, 0, len(token) - 1):
                return Decimal(token[:-1])
            if token[-1] == "N" and _INT.fullmatch(token, 0, len(token) - 1):
                return int(token[:-1])
        self.unusual = True
        return None


_FAST: Final = re.compile(r"""[\s,]*(?:
    "((?:[^"\\]|\\.)*)"             # 1: a string's body
  | ([\[\](){}])                      # 2: a bracket
  | ([^\s,;()\[\]{}"\\\#^]+)          # 3: a keyword, number, nil, true, false (or other)
  | (.)                               # 4: anything else: left to the full reader
)""", re.X | re.S)
_CONSTANTS: Final[dict[str, Any]] = {"nil": None, "true": True, "false": False}
_DIGITS: Final = frozenset("0123456789")


class FastPathMiss(Exception):
    """The fast path met something it leaves to the full reader."""


def _fast_atom(token: str) -> Any:
    c = token[0]
    if c in _DIGITS or (c in "+-" and len(token) > 1 and token[1] in _DIGITS):
        if _INT.fullmatch(token):
            return int(token)
        if _FLOAT.fullmatch(token):
            return float(token)
        raise FastPathMiss
    if token in _CONSTANTS:
        return _CONSTANTS[token]
    raise FastPathMiss


_NAME_TEXT: Final = r'[^\s,;:()\[\]{}"\\#^]+'
_ATOM_TEXT: Final = ":?" + _NAME_TEXT + r"(?=[\s,}])"
_VECTOR_TEXT: Final = r'[^\[\](){}"\\#^;]*'
_FLAT_MAP: Final = re.compile(
    r"[\s,]*\{(?:[\s,]*:" + _NAME_TEXT + r'[\s,]+(?:"(?:[^"\\]|\\.)*"|' + _ATOM_TEXT
    + r"|\[" + _VECTOR_TEXT + r"\]))*[\s,]*\}[\s,]*")
_FLAT_PAIR: Final = re.compile(
    r"[\s,]*:(" + _NAME_TEXT + r')[\s,]+(?:"((?:[^"\\]|\\.)*)"|(' + _ATOM_TEXT
    + r")|(\[)(" + _VECTOR_TEXT + r")\])")
_ATOM_CACHE: dict[str, Any] = {}


def _cached_atom(token: str) -> Any:
    try:
        return _ATOM_CACHE[token]
    except KeyError:
        if token[0] == ":":
            if not _KEYWORD_TEXT.fullmatch(token, 1):
                raise FastPathMiss from None
            value: Any = Keyword(token[1:])
        else:
            value = _fast_atom(token)
        if len(_ATOM_CACHE) < 4096:
            _ATOM_CACHE[token] = value
        return value


def _flat_map(line: str) -> dict[Keyword, Any]:
    """The map on ``line`` when it is one map of keyword keys whose values are strings,
    atoms, or vectors of atoms (the usual history line); raises :class:`FastPathMiss`
    otherwise."""
    out: dict[Keyword, Any] = {}
    for name_text, string, token, vector, items in _FLAT_PAIR.findall(line):
        name = _cached_atom(":" + name_text)
        if token:
            out[name] = _cached_atom(token)
        elif vector:
            out[name] = [int(t) if t.isdigit() and t.isascii() else _cached_atom(t)
                         for t in items.replace(",", " ").split()]
        elif "\\" in string:
            out[name] = json.loads(f'"{string}"', strict=False)
        else:
            out[name] = string
    return out


def fast_maps(line: str) -> list[Any]:
    """The maps on one line, when the line holds only maps written in the common
    subset; raises :class:`FastPathMiss` for anything else (including every error)."""
    if _FLAT_MAP.fullmatch(line) is not None:
        try:
            return [_flat_map(line)]
        except ValueError:
            raise FastPathMiss from None
    out: list[Any] = []
    current = out
    stack: list[tuple[list[Any], str]] = []
    try:
        for string, bracket, token, other in _FAST.findall(line):
            if token:
                if token.isdigit() and token.isascii():
                    current.append(int(token))
                else:
                    current.append(_cached_atom(token))
            elif bracket:
                if bracket in "[({":
                    if len(stack) >= MAX_NESTING:
                        raise FastPathMiss  # the full reader names the problem
                    stack.append((current, bracket))
                    current = []
                    continue
                parent, opener = stack.pop()
                if CLOSERS[opener] != bracket:
                    raise FastPathMiss
                if opener == "{":
                    if len(current) % 2:
                        raise FastPathMiss
                    pairs = iter(current)
                    built = dict(zip(pairs, pairs, strict=True))
                    if 2 * len(built) != len(current):
                        raise FastPathMiss  # keys repeated or merged: the full reader says
                    parent.append(built)
                else:
                    parent.append(current)
                current = parent
            elif other:
                raise FastPathMiss
            elif "\\" in string:
                current.append(json.loads(f'"{string}"', strict=False))
            else:
                current.append(string)
    except (IndexError, TypeError, ValueError):
        raise FastPathMiss from None
    if stack or any(type(m) is not dict for m in out):
        raise FastPathMiss
    return out


def hashable(value: Any) -> Hashable:
    """``value`` as a dictionary key or set element: lists become tuples."""
    if isinstance(value, list):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        raise EdnSyntaxError("a map cannot be a map key or a set element here", 0)
    return value  # type: ignore[no-any-return]


@functools.cache
def _library_parser() -> tuple[Any, Any]:
    """edn_format's parser and lexer, built once: ``edn_format.loads_all`` rebuilds both
    on every call (about 50 ms each time), which made every record written in unusual
    syntax that slow."""
    try:
        import ply.lex  # type: ignore[import-untyped]
        import ply.yacc  # type: ignore[import-untyped]
        from edn_format import edn_lex, edn_parse
    except ImportError:  # pragma: no cover - a dependency; a clear message all the same
        raise EdnSyntaxError("this EDN uses syntax (tags, characters, symbols, ratios) that "
                             "needs the edn-format package; expected it installed", 0) from None
    quiet = ply.yacc.NullLogger()
    parser = ply.yacc.yacc(module=edn_parse, debug=False, write_tables=False,
                           errorlog=quiet)
    lexer = ply.lex.lex(module=edn_lex, reflags=re.UNICODE, errorlog=quiet)
    return parser, lexer


def _library_value(text: str) -> list[Any]:
    """All forms of ``text`` read by edn_format, as plain Python."""
    parser, lexer = _library_parser()
    try:
        # the library multiplies M numbers under the current context: keep every digit
        with localcontext(Context(prec=len(text) + 28, Emax=MAX_EMAX, Emin=MIN_EMIN)):
            forms = list(parser.parse(text, lexer=lexer.clone()))
    except Exception as error:  # edn_format raises several types: decode, tag, lexer
        raise EdnSyntaxError(f"broken EDN ({error})", 0) from None
    return [_plain(f) for f in forms]


def _plain(value: Any) -> Any:
    """An edn_format value as plain Python (see the module docstring)."""
    import edn_format

    if isinstance(value, edn_format.Keyword):
        return Keyword(value.name)
    if isinstance(value, edn_format.Symbol):
        return Symbol(value.name)
    if isinstance(value, edn_format.Char):
        return Char(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {hashable(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return frozenset(hashable(_plain(v)) for v in value)
    if isinstance(value, list | tuple | edn_format.ImmutableList):
        return [_plain(v) for v in value]
    if isinstance(value, edn_format.MetadataValue):
        return _plain(value.value)
    return value


def read_form(text: str, pos: int = 0, *, _discards: int = 0) -> tuple[Any, int]:
    """The EDN form starting at ``pos`` (after any whitespace, comment or discarded
    form ``#_ x``) as plain Python, and the offset just after it. Raises
    :class:`EdnSyntaxError` (with the offset) when there is no form there or it is
    broken."""
    reader = FormReader(text)
    start = reader.skip(pos)
    while text.startswith("#_", start):
        # a chain ``#_ #_ a b`` discards a and b: one level of recursion per link
        if _discards + 1 >= MAX_NESTING:
            raise EdnSyntaxError(NESTING_EXPECTED, start)
        _, after = read_form(text, start + 2, _discards=_discards + 1)
        start = reader.skip(after)
    if start >= len(text):
        raise EdnSyntaxError("expected a value, found the end of the text", start)
    value, end = reader.form(start)
    if reader.unusual:
        body = text[start:end]
        tag = _RECORD_TAG.match(body)
        try:
            value = _library_value(body[tag.end():] if tag else body)[0]
        except EdnSyntaxError as error:
            raise EdnSyntaxError(error.message, start, end) from None
    return value, end


def _held(opener: str, items: list[Any]) -> tuple[frozenset[Any] | dict[Any, Any], list[Any]]:
    """The set or map of ``items`` and its elements (keys), as Python holds them."""
    if opener == "#{":
        elements = [hashable(i) for i in items]
        return frozenset(elements), elements
    if len(items) % 2:
        raise EdnSyntaxError("a map needs an even number of forms (key value pairs)", 0)
    keys = [hashable(k) for k in items[::2]]
    return dict(zip(keys, items[1::2], strict=True)), keys


def skip_discarded(text: str, pos: int) -> int:
    """The offset of the next form at or after ``pos``: past whitespace, comments and
    discarded forms (``#_ x``, which EDN reads as nothing). Raises
    :class:`EdnSyntaxError` when a discarded form is broken."""
    reader = FormReader(text)
    pos = reader.skip(pos)
    while text.startswith("#_", pos):
        _, after = read_form(text, pos + 2)
        pos = reader.skip(after)
    return pos


def parse_edn_value(text: str) -> Any:
    """The single EDN form in ``text`` as plain Python; :class:`EdnSyntaxError` when
    ``text`` is not exactly one EDN form."""
    value, end = read_form(text)
    end = _WS.match(text, end).end()  # type: ignore[union-attr]
    if end < len(text):
        raise EdnSyntaxError("expected one EDN value, found more text after it", end)
    return value


def show_edn(value: Any) -> str:
    """``value`` as EDN for an error message, cut to 60 characters."""
    try:
        text = edn_value(value)
    except HistoryError:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def keyword_or_empty(name: str) -> str:
    """``:name`` when ``name`` is a plain keyword name (and not nil, true or false; how
    structural fields are written), else the empty string."""
    return f":{name}" if _KEYWORD_NAME.fullmatch(name) and name not in ("nil", "true",
                                                                        "false") else ""


def edn_string(text: str) -> str:
    """``text`` as an EDN string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\t", "\\t").replace("\r", "\\r") + '"'


def edn_value(value: Any) -> str:
    """``value`` written as EDN (plain Python, as read; see the module docstring).

    Raises :class:`HistoryError` for a value EDN cannot hold (``bytes``, objects)."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "##NaN"
        if math.isinf(value):
            return "##Inf" if value > 0 else "##-Inf"
        return repr(float(value))
    if isinstance(value, Keyword):
        if not _KEYWORD_TEXT.fullmatch(value.name):
            raise HistoryError(f"cannot write the keyword name {value.name!r} as EDN; "
                               f"{_KEYWORD_EXPECTED}")
        return ":" + value.name
    if isinstance(value, Symbol | Char):
        return repr(value)
    if isinstance(value, str):
        return edn_string(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(edn_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{edn_value(k)} {edn_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, set | frozenset):
        return "#{" + " ".join(sorted(edn_value(v) for v in value)) + "}"
    if isinstance(value, Decimal) and value.is_finite():
        return f"{value}M"
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    raise HistoryError(f"cannot write a value of type {type(value).__name__} as EDN; "
                       "expected nil, booleans, numbers, strings, lists, maps or sets")
