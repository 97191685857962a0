"""The filter language (SPEC §6) compiled to a parameterized SQL fragment.

Every piece of SQL text in the output comes from a fixed template in this module or a column name from
:mod:`otel_events.analyze.fields`; every value from the expression (strings, numbers, times, attribute
keys) is bound as a ``?`` parameter. So no input can change the shape of the query.

Example:
    >>> f = compile_filter("service = 'checkout' AND attributes.http.route = '/cart'", View.SPANS)
    >>> f.sql
    "(service_name = ? AND attributes[?] = ?)"
    >>> f.params
    ('checkout', 'http.route', '/cart')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from otel_events.analyze.fields import CATEGORIES, Field, FieldKind, View, field_names, resolve_field
from otel_events.analyze.filter_parser import (
    COMPARISONS,
    BoolOp,
    Literal,
    Node,
    Not,
    Operator,
    Path,
    Predicate,
    parse_filter,
)
from otel_events.errors import FilterSyntaxError

__all__ = ["CompiledFilter", "View", "compile_filter", "glob_to_like", "parse_time_literal"]

_SQL_OPERATORS = {
    Operator.EQ: "=",
    # IS DISTINCT FROM so that `attributes.x != 'a'` also keeps rows where the key is absent.
    Operator.NE: "IS DISTINCT FROM",
    Operator.LT: "<",
    Operator.LE: "<=",
    Operator.GT: ">",
    Operator.GE: ">=",
}
# Categories are ordered (SPEC §3); compare their rank so that `category >= 'performance'` means
# performance or critical, whatever the storage type of the column.
_CATEGORY_RANK = (
    "list_position(['debug', 'system', 'user_activity', 'performance', 'critical'], CAST({col} AS VARCHAR))"
)
_QUALIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A SQL boolean fragment with ``?`` placeholders and the values to bind, in order.

    Attributes:
        sql: the fragment, e.g. ``(service_name = ? AND duration_ms > ?)``; ``TRUE`` for no filter.
        params: one value per ``?`` in ``sql``.
    """

    sql: str
    params: tuple[object, ...]

    def named(self, prefix: str) -> tuple[str, dict[str, object]]:
        """Return the fragment with ``$<prefix>_<n>`` placeholders and the matching parameter dict.

        Analyses bind their own parameters by name (DuckDB does not mix ``?`` and ``$name`` in one
        statement). The fragment holds no string literal that could contain ``?``: every value is a
        parameter, so each ``?`` is a placeholder.
        """
        if not _QUALIFIER_RE.fullmatch(prefix):
            raise ValueError(f"invalid parameter prefix {prefix!r}")
        counter = iter(range(len(self.params)))
        sql = re.sub(r"\?", lambda _: f"${prefix}_{next(counter)}", self.sql)
        return sql, {f"{prefix}_{i}": value for i, value in enumerate(self.params)}


ALWAYS_TRUE = CompiledFilter("TRUE", ())


def glob_to_like(pattern: str) -> str:
    """Translate a glob (``*`` any run, ``?`` one character) into a LIKE pattern escaped with ``\\``."""
    out = []
    for ch in pattern:
        if ch in "\\%_":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


def parse_time_literal(text: str) -> datetime:
    """Parse an ISO-8601 time (``2026-01-20``, ``2026-01-20T10:00:00Z``, with offset) to naive UTC.

    The store keeps UTC ``TIMESTAMP_NS`` values; binding a naive UTC datetime compares them without any
    session time zone conversion.

    Raises:
        ValueError: when the text is not an ISO-8601 date or time.
    """
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


class _Compiler:
    def __init__(self, text: str, view: View, qualifier: str | None) -> None:
        self.text = text
        self.view = view
        self.prefix = f"{qualifier}." if qualifier else ""
        self.params: list[object] = []

    def error(self, message: str, position: int) -> FilterSyntaxError:
        return FilterSyntaxError(message, position, self.text)

    def compile(self, node: Node) -> str:
        if isinstance(node, BoolOp):
            joiner = f" {node.operator} "
            return "(" + joiner.join(self.compile(op) for op in node.operands) + ")"
        if isinstance(node, Not):
            return f"(NOT coalesce({self.compile(node.operand)}, FALSE))"
        return self.predicate(node)

    def resolve(self, path: Path) -> tuple[Field, str]:
        field = resolve_field(self.view, path.head)
        if field is None:
            known = ", ".join(field_names(self.view))
            raise self.error(f"expected a field of {self.view.value} ({known}), found {path.head!r}", path.position)
        column = self.prefix + field.column
        if field.kind is FieldKind.MAP:
            if not path.key:
                example = f"{path.head}.http.route"
                raise self.error(f"expected an attribute key after {path.head!r}, e.g. {example}", path.position)
            self.params.append(path.key)
            return field, f"{column}[?]"
        if path.key:
            raise self.error(f"expected a plain field, {path.head!r} has no keys", path.position)
        return field, column

    def bind(self, value: object) -> str:
        self.params.append(value)
        return "?"

    def predicate(self, node: Predicate) -> str:
        field, column = self.resolve(node.path)
        op = node.operator
        if op is Operator.IS_NULL:
            return f"({column} IS {'NOT ' if node.negated else ''}NULL)"
        if op in (Operator.LIKE, Operator.CONTAINS, Operator.MATCHES):
            sql = self.text_match(field, column, node)
        elif op is Operator.IN:
            column = self.comparable(field, column, node.literals[0])
            placeholders = ", ".join(self.value(field, lit, op) for lit in node.literals)
            sql = f"({column} IN ({placeholders}))"
        else:
            sql = self.comparison(field, column, op, node.literals[0])
        return f"(NOT coalesce({sql}, FALSE))" if node.negated else sql

    def comparison(self, field: Field, column: str, op: Operator, literal: Literal) -> str:
        assert op in COMPARISONS
        ordering = op not in (Operator.EQ, Operator.NE)
        if field.kind is FieldKind.CATEGORY and ordering:
            rank = CATEGORIES.index(self.choice(field, literal)) + 1
            return f"({_CATEGORY_RANK.format(col=column)} {_SQL_OPERATORS[op]} {self.bind(rank)})"
        if field.kind in (FieldKind.CHOICE, FieldKind.BOOLEAN) and ordering:
            raise self.error(f"expected =, != or IN for {field.column} (it has no order)", literal.position)
        column = self.comparable(field, column, literal)
        return f"({column} {_SQL_OPERATORS[op]} {self.value(field, literal, op)})"

    def comparable(self, field: Field, column: str, literal: Literal) -> str:
        # Attribute values are stored as text; a numeric literal compares numerically (`status_code >= 500`).
        if field.kind is FieldKind.MAP and isinstance(literal.value, float):
            return f"TRY_CAST({column} AS DOUBLE)"
        return column

    def value(self, field: Field, literal: Literal, op: Operator) -> str:
        value = literal.value
        kind = field.kind
        if kind is FieldKind.MAP:
            if isinstance(value, bool):
                return self.bind("true" if value else "false")
            return self.bind(_number(value) if isinstance(value, float) else value)
        if kind is FieldKind.NUMBER:
            if not isinstance(value, float):
                raise self.error(f"expected a number for {field.column}", literal.position)
            return self.bind(_number(value))
        if kind is FieldKind.BOOLEAN:
            if not isinstance(value, bool):
                raise self.error(f"expected TRUE or FALSE for {field.column}", literal.position)
            return self.bind(value)
        if not isinstance(value, str):
            raise self.error(f"expected a quoted string for {field.column}", literal.position)
        if kind is FieldKind.TIME:
            try:
                return self.bind(parse_time_literal(value))
            except ValueError:
                raise self.error(
                    f"expected an ISO-8601 time for {field.column} (e.g. '2026-01-20T10:00:00Z')", literal.position
                ) from None
        if kind in (FieldKind.CATEGORY, FieldKind.CHOICE):
            return self.bind(self.choice(field, literal))
        return self.bind(value)

    def choice(self, field: Field, literal: Literal) -> str:
        value = literal.value
        if not isinstance(value, str) or value.lower() not in field.choices:
            raise self.error(f"expected one of {', '.join(field.choices)} for {field.column}", literal.position)
        return value.lower()

    def text_match(self, field: Field, column: str, node: Predicate) -> str:
        if field.kind in (FieldKind.NUMBER, FieldKind.TIME, FieldKind.BOOLEAN):
            message = f"expected a text field for {node.operator.value}, {field.column} is not text"
            raise self.error(message, node.path.position)
        if field.kind in (FieldKind.CATEGORY, FieldKind.CHOICE):
            column = f"CAST({column} AS VARCHAR)"
        literal = node.literals[0]
        pattern = str(literal.value)
        if node.operator is Operator.LIKE:
            return f"({column} LIKE {self.bind(glob_to_like(pattern))} ESCAPE '\\')"
        if node.operator is Operator.CONTAINS:
            return f"contains({column}, {self.bind(pattern)})"
        try:
            re.compile(pattern)
        except re.error as exc:
            raise self.error(f"expected a valid regular expression ({exc})", literal.position) from None
        return f"regexp_matches({column}, {self.bind(pattern)})"


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() and abs(value) < 2**63 else value


def compile_filter(expression: str | None, view: View | str, *, qualifier: str | None = None) -> CompiledFilter:
    """Compile a filter expression for one view into a parameterized SQL fragment.

    Args:
        expression: the filter text; None or blank means no filter (``TRUE``).
        view: the view whose columns the expression may name (``spans``, ``logs``, ``metric_points``, ``traces``).
        qualifier: an optional table alias to prefix columns with (a fixed identifier from the caller).

    Returns:
        The fragment and its parameters.

    Raises:
        FilterSyntaxError: when the expression is invalid; the message names the position and what was expected.
    """
    view = View(view)
    if qualifier is not None and not _QUALIFIER_RE.fullmatch(qualifier):
        raise ValueError(f"invalid qualifier {qualifier!r}")
    if expression is None or not expression.strip():
        return ALWAYS_TRUE
    compiler = _Compiler(expression, view, qualifier)
    sql = compiler.compile(parse_filter(expression))
    return CompiledFilter(sql, tuple(compiler.params))
