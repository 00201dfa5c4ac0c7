"""The lexer shared by condition, update and projection expressions.

Tokens, as DynamoDB's lexer draws them: attribute names start with a letter and go on
with letters, digits and underscores; ``#name`` and ``:value`` placeholders go on with
letters, digits and underscores (``#1`` and ``:_`` are fine); list indexes are decimal
digits; punctuation is ``( ) [ ] , . + -`` and the comparators ``= <> < <= > >=``.
Whitespace separates tokens and is otherwise ignored. Anything else is a syntax error
at its character.
"""

from __future__ import annotations

from dataclasses import dataclass

from replicheck.models.items.errors import ValidationError
from replicheck.models.items.expressions.limits import check_placeholder_length

__all__ = [
    "COMPARATOR",
    "EOF",
    "IDENT",
    "INT",
    "NAME",
    "PUNCT",
    "VALUE",
    "Token",
    "syntax_error",
    "tokenize",
]

IDENT = "identifier"
"""Token kind: an attribute name, keyword or function name (``Price``, ``AND``)."""
NAME = "name placeholder"
"""Token kind: an expression attribute name (``#n``)."""
VALUE = "value placeholder"
"""Token kind: an expression attribute value (``:v``)."""
INT = "integer"
"""Token kind: decimal digits (list indexes)."""
COMPARATOR = "comparator"
"""Token kind: ``=``, ``<>``, ``<``, ``<=``, ``>`` or ``>=``."""
PUNCT = "punctuation"
"""Token kind: one of ``( ) [ ] , . + -``."""
EOF = "end of expression"
"""Token kind: the end of the text (always the last token)."""

_WHITESPACE = " \t\r\n\f\v"
_PUNCTUATION = "()[],.+-"


@dataclass(frozen=True)
class Token:
    """One token: its kind (one of the module's kind constants), its text as written,
    and the 0-based character offset where it starts."""

    kind: str
    text: str
    pos: int

    @property
    def end(self) -> int:
        """The offset just past the token."""
        return self.pos + len(self.text)

    def shown(self) -> str:
        """The token as DynamoDB's messages show it (``<EOF>`` at the end)."""
        return "<EOF>" if self.kind == EOF else self.text


def _is_word_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _is_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def syntax_error(
    what: str, text: str, token: Token, expected: str, previous: Token | None = None
) -> ValidationError:
    """DynamoDB's syntax error at ``token``: ``Syntax error; token: "x", near: "w x"``,
    where ``near`` runs from the previous token to this one, as DynamoDB shows it."""
    if previous is None:
        near = token.shown()
    elif token.kind == EOF:
        near = previous.text
    else:
        near = text[previous.pos:token.end]
    return ValidationError(
        f'Syntax error; token: "{token.shown()}", near: "{near}"',
        what=what,
        position=token.pos,
        expected=expected,
        text=text,
    )


def _lex_error(what: str, text: str, pos: int, char: str, expected: str) -> ValidationError:
    return ValidationError(
        f'Syntax error; token: "{char}"',
        what=what,
        position=pos,
        expected=expected,
        text=text,
    )


def tokenize(text: str, what: str) -> list[Token]:
    """The tokens of ``text``, ending with an EOF token at ``len(text)``; a character
    no token can start with (or a bare ``#`` or ``:``) is a :class:`ValidationError`
    naming ``what`` and the character's offset."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char in _WHITESPACE:
            i += 1
            continue
        start = i
        if _is_letter(char):
            i += 1
            while i < n and _is_word_char(text[i]):
                i += 1
            tokens.append(Token(IDENT, text[start:i], start))
        elif char.isascii() and char.isdigit():
            i += 1
            while i < n and text[i].isascii() and text[i].isdigit():
                i += 1
            tokens.append(Token(INT, text[start:i], start))
        elif char in "#:":
            i += 1
            while i < n and _is_word_char(text[i]):
                i += 1
            if i == start + 1:
                kind = "an expression attribute name (#name)" if char == "#" else (
                    "an expression attribute value (:value)")
                raise _lex_error(what, text, start, char, f"{kind} with letters, digits or _")
            check_placeholder_length(text[start:i], what, start)
            tokens.append(Token(NAME if char == "#" else VALUE, text[start:i], start))
        elif char == "<":
            if i + 1 < n and text[i + 1] in "=>":
                i += 2
            else:
                i += 1
            tokens.append(Token(COMPARATOR, text[start:i], start))
        elif char == ">":
            i += 2 if i + 1 < n and text[i + 1] == "=" else 1
            tokens.append(Token(COMPARATOR, text[start:i], start))
        elif char == "=":
            i += 1
            tokens.append(Token(COMPARATOR, "=", start))
        elif char in _PUNCTUATION:
            i += 1
            tokens.append(Token(PUNCT, char, start))
        else:
            raise _lex_error(
                what, text, start, char,
                "an attribute name, #name, :value, a keyword, a function, "
                "or one of ( ) [ ] , . + - = <> < <= > >=",
            )
    tokens.append(Token(EOF, "", n))
    return tokens
