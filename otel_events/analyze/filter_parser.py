"""Lexer and recursive-descent parser of the filter language (SPEC §6) into a small syntax tree.

Grammar (keywords are case-insensitive)::

    expression := or
    or         := and ("OR" and)*
    and        := unary ("AND" unary)*
    unary      := "NOT" unary | "(" expression ")" | predicate
    predicate  := path ("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") literal
                | path ["NOT"] ("LIKE" | "CONTAINS") string
                | path ("~" | "!~") string
                | path ["NOT"] "IN" "(" literal ("," literal)* ")"
                | path "IS" ["NOT"] "NULL"
    path       := name ("." (name | string))*
    literal    := string | number | "TRUE" | "FALSE"

Strings are quoted with ' or "; a quote is escaped by doubling it or with a backslash, and \\n, \\t, \\\\
are recognised. The tree keeps source positions so that the compiler can point at the offending token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, StrEnum

from otel_events.errors import FilterSyntaxError


class TokenKind(Enum):
    """Lexical classes of the filter language."""

    NAME = "name"
    STRING = "string"
    NUMBER = "number"
    OPERATOR = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    DOT = "."
    END = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    """One token with its position (0-based character offset) in the expression."""

    kind: TokenKind
    text: str
    position: int
    value: str | float | None = None


class Operator(StrEnum):
    """Predicate operators, normalised (``<>`` becomes ``!=``)."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    CONTAINS = "CONTAINS"
    MATCHES = "~"
    IN = "IN"
    IS_NULL = "IS NULL"


COMPARISONS = frozenset({Operator.EQ, Operator.NE, Operator.LT, Operator.LE, Operator.GT, Operator.GE})


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal value: str, float (numbers) or bool."""

    value: str | float | bool
    position: int


@dataclass(frozen=True, slots=True)
class Path:
    """A field reference: ``service`` or ``attributes.http.route`` (head ``attributes``, key ``http.route``)."""

    head: str
    key: str | None
    position: int


@dataclass(frozen=True, slots=True)
class Predicate:
    """``path operator literal(s)``; ``negated`` is set for NOT LIKE / NOT IN / !~ / IS NOT NULL."""

    path: Path
    operator: Operator
    literals: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Not:
    """Logical negation."""

    operand: Node


@dataclass(frozen=True, slots=True)
class BoolOp:
    """AND / OR over two or more operands."""

    operator: str  # "AND" | "OR"
    operands: tuple[Node, ...]


Node = Predicate | Not | BoolOp

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![A-Za-z_]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
  | (?P<operator><=|>=|!=|<>|!~|=|<|>|~)
  | (?P<punct>[(),.])
  | (?P<quote>['"])
    """,
    re.VERBOSE,
)
_PUNCT = {"(": TokenKind.LPAREN, ")": TokenKind.RPAREN, ",": TokenKind.COMMA, ".": TokenKind.DOT}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string starting at ``start`` (the quote); return its value and the end offset."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            if nxt not in _ESCAPES:
                raise FilterSyntaxError(f"unknown escape '\\{nxt}' in string", i, text)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        if ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise FilterSyntaxError(f"unterminated string, expected a closing {quote}", start, text)


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens.

    Raises:
        FilterSyntaxError: on a character that starts no token, or an unterminated string.
    """
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise FilterSyntaxError(f"unexpected character {text[pos]!r}", pos, text)
        group = match.lastgroup
        if group == "quote":
            value, end = _read_string(text, pos)
            tokens.append(Token(TokenKind.STRING, text[pos:end], pos, value))
            pos = end
            continue
        lexeme = match.group()
        if group == "number":
            tokens.append(Token(TokenKind.NUMBER, lexeme, pos, float(lexeme)))
        elif group == "name":
            tokens.append(Token(TokenKind.NAME, lexeme, pos, lexeme))
        elif group == "operator":
            tokens.append(Token(TokenKind.OPERATOR, lexeme, pos, lexeme))
        elif group == "punct":
            tokens.append(Token(_PUNCT[lexeme], lexeme, pos, lexeme))
        pos = match.end()
    tokens.append(Token(TokenKind.END, "", len(text)))
    return tokens


_KEYWORDS = frozenset({"AND", "OR", "NOT", "LIKE", "CONTAINS", "IN", "IS", "NULL", "TRUE", "FALSE"})
_OPERATORS = {
    "=": Operator.EQ,
    "!=": Operator.NE,
    "<>": Operator.NE,
    "<": Operator.LT,
    "<=": Operator.LE,
    ">": Operator.GT,
    ">=": Operator.GE,
    "~": Operator.MATCHES,
}
_EXPECTED_OPERATOR = "an operator (=, !=, <, <=, >, >=, LIKE, CONTAINS, ~, !~, IN, IS NULL)"
# Bounds nesting so that a hostile expression cannot exhaust the Python stack.
MAX_DEPTH = 64


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def fail(self, expected: str, token: Token | None = None) -> FilterSyntaxError:
        token = token or self.current
        found = "end of input" if token.kind is TokenKind.END else repr(token.text)
        return FilterSyntaxError(f"expected {expected}, found {found}", token.position, self.text)

    def keyword(self, token: Token | None = None) -> str | None:
        token = token or self.current
        if token.kind is TokenKind.NAME and token.text.upper() in _KEYWORDS:
            return token.text.upper()
        return None

    def accept_keyword(self, word: str) -> Token | None:
        if self.keyword() == word:
            token = self.current
            self.index += 1
            return token
        return None

    def expect(self, kind: TokenKind, expected: str) -> Token:
        if self.current.kind is not kind:
            raise self.fail(expected)
        token = self.current
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.parse_or()
        if self.current.kind is not TokenKind.END:
            raise self.fail("AND, OR or end of input")
        return node

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.accept_keyword("OR"):
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else BoolOp("OR", tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_unary()]
        while self.accept_keyword("AND"):
            operands.append(self.parse_unary())
        return operands[0] if len(operands) == 1 else BoolOp("AND", tuple(operands))

    def parse_unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"at most {MAX_DEPTH} levels of nesting")
        try:
            if self.accept_keyword("NOT"):
                return Not(self.parse_unary())
            if self.current.kind is TokenKind.LPAREN:
                self.index += 1
                node = self.parse_or()
                self.expect(TokenKind.RPAREN, "')'")
                return node
            return self.parse_predicate()
        finally:
            self.depth -= 1

    def parse_path(self) -> Path:
        token = self.current
        if token.kind is not TokenKind.NAME or self.keyword(token):
            raise self.fail("a field name or '('")
        self.index += 1
        segments: list[str] = []
        while self.current.kind is TokenKind.DOT:
            self.index += 1
            segment = self.current
            if segment.kind not in (TokenKind.NAME, TokenKind.STRING, TokenKind.NUMBER):
                raise self.fail("an attribute key after '.'")
            # A number lexeme such as "2" in "attributes.v.2" is a key segment, kept as written.
            segments.append(str(segment.value) if segment.kind is TokenKind.STRING else segment.text)
            self.index += 1
        return Path(token.text, ".".join(segments) if segments else None, token.position)

    def parse_literal(self) -> Literal:
        token = self.current
        if token.kind is TokenKind.STRING:
            self.index += 1
            return Literal(str(token.value), token.position)
        if token.kind is TokenKind.NUMBER:
            self.index += 1
            return Literal(float(token.text), token.position)
        word = self.keyword(token)
        if word in ("TRUE", "FALSE"):
            self.index += 1
            return Literal(word == "TRUE", token.position)
        raise self.fail("a value (a quoted string, a number, TRUE or FALSE)")

    def parse_string(self) -> Literal:
        if self.current.kind is not TokenKind.STRING:
            raise self.fail("a quoted string")
        return self.parse_literal()

    def parse_predicate(self) -> Predicate:
        path = self.parse_path()
        token = self.current
        if token.kind is TokenKind.OPERATOR:
            self.index += 1
            if token.text == "!~":
                return Predicate(path, Operator.MATCHES, (self.parse_string(),), negated=True)
            operator = _OPERATORS[token.text]
            literal = self.parse_string() if operator is Operator.MATCHES else self.parse_literal()
            return Predicate(path, operator, (literal,))
        if self.accept_keyword("IS"):
            negated = self.accept_keyword("NOT") is not None
            if not self.accept_keyword("NULL"):
                raise self.fail("NULL")
            return Predicate(path, Operator.IS_NULL, (), negated=negated)
        negated = self.accept_keyword("NOT") is not None
        if self.accept_keyword("LIKE"):
            return Predicate(path, Operator.LIKE, (self.parse_string(),), negated)
        if self.accept_keyword("CONTAINS"):
            return Predicate(path, Operator.CONTAINS, (self.parse_string(),), negated)
        if self.accept_keyword("IN"):
            self.expect(TokenKind.LPAREN, "'(' after IN")
            literals = [self.parse_literal()]
            while self.current.kind is TokenKind.COMMA:
                self.index += 1
                literals.append(self.parse_literal())
            self.expect(TokenKind.RPAREN, "',' or ')'")
            return Predicate(path, Operator.IN, tuple(literals), negated)
        raise self.fail("LIKE, CONTAINS or IN after NOT" if negated else _EXPECTED_OPERATOR)


def parse_filter(text: str) -> Node:
    """Parse a filter expression into its syntax tree.

    Args:
        text: the expression, e.g. ``service = 'checkout' AND duration_ms > 1000``.

    Returns:
        The root node.

    Raises:
        FilterSyntaxError: naming the position and what was expected there.
    """
    return _Parser(text).parse()
