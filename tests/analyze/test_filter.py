"""The filter language: grammar, typing per view, error positions, and that no input reaches the SQL text."""

from __future__ import annotations

import re
from datetime import datetime

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_events.analyze.fields import COLUMNS, View
from otel_events.analyze.filter import _CATEGORY_RANK, compile_filter, glob_to_like
from otel_events.errors import FilterSyntaxError

# A stand-in table with the columns and types of the public `spans` and `logs` views, so that compiled
# fragments are executed by DuckDB itself (the real views are exercised by the analysis tests).
SPANS_DDL = """
CREATE TYPE category_t AS ENUM ('debug', 'system', 'user_activity', 'performance', 'critical');
CREATE TABLE spans (
    trace_id VARCHAR, span_id VARCHAR, parent_span_id VARCHAR, trace_state VARCHAR, name VARCHAR,
    kind VARCHAR, start_time TIMESTAMP_NS, end_time TIMESTAMP_NS, duration_ms DOUBLE, status_code VARCHAR,
    status_message VARCHAR, service_name VARCHAR, scope_name VARCHAR, scope_version VARCHAR,
    attributes MAP(VARCHAR, VARCHAR), resource_attributes MAP(VARCHAR, VARCHAR), category category_t,
    rule VARCHAR, category_source VARCHAR, stream_id VARCHAR, seq BIGINT, correlation_id VARCHAR,
    tenant VARCHAR, received_at TIMESTAMP_NS
);
INSERT INTO spans (trace_id, span_id, name, kind, start_time, duration_ms, status_code, service_name,
                   attributes, resource_attributes, category, seq)
VALUES
  ('t1', 's1', 'pipeline.load', 'server', '2026-01-20 09:00:00', 1500, 'error', 'checkout',
   MAP {'http.route': '/cart', 'http.status_code': '503'}, MAP {'service.name': 'checkout'}, 'critical', 1),
  ('t2', 's2', 'pipeline_x', 'client', '2026-01-20 11:00:00', 20, 'ok', 'cart',
   MAP {'http.route': '/items'}, MAP {'service.name': 'cart'}, 'performance', 2),
  ('t3', 's3', 'db.query', 'internal', '2026-01-20 12:00:00', 5, 'unset', 'cart',
   MAP {}, MAP {'service.name': 'cart'}, 'debug', 3);
"""


@pytest.fixture(scope="module")
def conn() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(SPANS_DDL)
    return connection


def select_ids(conn: duckdb.DuckDBPyConnection, expression: str) -> list[str]:
    compiled = compile_filter(expression, View.SPANS)
    rows = conn.execute(f"SELECT trace_id FROM spans WHERE {compiled.sql} ORDER BY trace_id", compiled.params)
    return [row[0] for row in rows.fetchall()]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("service = 'checkout' AND duration_ms > 1000", ["t1"]),
        ("service_name = 'cart'", ["t2", "t3"]),
        ("name LIKE 'pipeline.*'", ["t1"]),  # '.' is literal and '_' is not a wildcard in a glob
        ("name LIKE 'pipeline?x'", ["t2"]),
        ("name LIKE '*'", ["t1", "t2", "t3"]),
        ("name NOT LIKE 'pipeline*'", ["t3"]),
        ("name ~ '^pipe.*load$'", ["t1"]),
        ("name !~ 'pipe'", ["t3"]),
        ("attributes.http.route = '/cart'", ["t1"]),
        ("attributes.http.status_code >= 500", ["t1"]),
        ("attributes.http.route != '/cart'", ["t2", "t3"]),  # rows without the key are "different"
        ("attributes.http.route IS NULL", ["t3"]),
        ("resource.service.name = 'cart'", ["t2", "t3"]),
        ("name CONTAINS 'query'", ["t3"]),
        ("category IN ('critical', 'performance')", ["t1", "t2"]),
        ("category NOT IN ('critical')", ["t2", "t3"]),
        ("category >= 'performance'", ["t1", "t2"]),
        ("category < 'system'", ["t3"]),
        ("time > '2026-01-20T10:00:00Z'", ["t2", "t3"]),
        ("start_time <= '2026-01-20T11:00:00+00:00'", ["t1", "t2"]),
        ("time > '2026-01-20T12:30:00+01:00'", ["t3"]),  # 11:30 UTC
        ("kind = 'SERVER'", ["t1"]),
        ("status = 'error' OR duration < 10", ["t1", "t3"]),
        ("NOT (service = 'cart' AND duration_ms < 10)", ["t1", "t2"]),
        ("not service = 'cart' or seq = 3", ["t1", "t3"]),
        ("(service = 'cart') AND (name = 'db.query' OR name = 'pipeline_x') AND seq IN (2, 3)", ["t2", "t3"]),
        ('service = "checkout"', ["t1"]),
        ("service = 'it''s' OR service = 'it\\'s'", []),
        ("   ", ["t1", "t2", "t3"]),
    ],
)
def test_filter_selects_expected_rows(conn: duckdb.DuckDBPyConnection, expression: str, expected: list[str]) -> None:
    assert select_ids(conn, expression) == expected


def test_values_and_attribute_keys_are_parameters_not_sql() -> None:
    compiled = compile_filter("service = 'checkout' AND attributes.http.route = '/cart'", View.SPANS)
    assert compiled.sql == "((service_name = ?) AND (attributes[?] = ?))"
    assert compiled.params == ("checkout", "http.route", "/cart")


def test_time_literal_is_bound_as_naive_utc_datetime() -> None:
    compiled = compile_filter("time > '2026-01-20T10:00:00+02:00'", View.LOGS)
    assert compiled.sql == "(time > ?)"
    assert compiled.params == (datetime(2026, 1, 20, 8, 0),)


def test_aliases_depend_on_the_view() -> None:
    assert compile_filter("service = 'a'", View.TRACES).sql == "(root_service = ?)"
    assert compile_filter("name = 'a'", View.LOGS).sql == "(event_name = ?)"
    assert compile_filter("service = 'a'", View.SPANS, qualifier="s").sql == "(s.service_name = ?)"


def test_named_placeholders_replace_each_question_mark_in_order() -> None:
    sql, params = compile_filter("service = 'a' OR seq IN (1, 2)", View.SPANS).named("f")
    assert sql == "((service_name = $f_0) OR (seq IN ($f_1, $f_2)))"
    assert params == {"f_0": "a", "f_1": 1, "f_2": 2}


def test_glob_translation_escapes_like_wildcards() -> None:
    assert glob_to_like("a_b%c\\d*e?") == "a\\_b\\%c\\\\d%e_"


@pytest.mark.parametrize(
    ("expression", "position", "expected"),
    [
        ("service = 'checkout' AND", 24, "expected a field name or '('"),
        ("service 'a'", 8, "expected an operator"),
        ("(service = 'a'", 14, "expected ')'"),
        ("service = 'a' service", 14, "expected AND, OR or end of input"),
        ("duration_ms > 'slow'", 14, "expected a number for duration_ms"),
        ("service = 42", 10, "expected a quoted string for service_name"),
        ("time > 'yesterday'", 7, "expected an ISO-8601 time"),
        ("nosuch = 1", 0, "expected a field of spans"),
        ("attributes = 'x'", 0, "expected an attribute key"),
        ("service.x = 'a'", 0, "expected a plain field"),
        ("category = 'urgent'", 11, "expected one of debug, system, user_activity, performance, critical"),
        ("kind > 'server'", 7, "has no order"),
        ("duration_ms LIKE '1*'", 0, "expected a text field"),
        ("name ~ '('", 7, "expected a valid regular expression"),
        ("name = 'open", 7, "unterminated string"),
        ("name = 'a\\q'", 9, "unknown escape"),
        ("name = 'a'; DROP TABLE spans", 10, "unexpected character ';'"),
        ("name IN ('a' 'b')", 13, "expected ',' or ')'"),
        ("name NOT = 'a'", 9, "expected LIKE, CONTAINS or IN after NOT"),
        ("name IS 'a'", 8, "expected NULL"),
        ("name ~ 5", 7, "expected a quoted string"),
        ("(" * 100 + "name = 'a'" + ")" * 100, 64, "levels of nesting"),
    ],
)
def test_syntax_errors_name_position_and_expectation(expression: str, position: int, expected: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(expression, View.SPANS)
    assert info.value.position == position
    assert expected in str(info.value)
    assert f"at position {position}" in str(info.value)


def test_field_unknown_in_one_view_is_rejected_there_only() -> None:
    compile_filter("body CONTAINS 'x'", View.LOGS)
    with pytest.raises(FilterSyntaxError, match="expected a field of spans"):
        compile_filter("body CONTAINS 'x'", View.SPANS)


INJECTIONS = [
    "'; DROP TABLE spans; --",
    "x' OR '1'='1",
    '" OR 1=1 --',
    "'); DELETE FROM spans; SELECT ('",
    "1; ATTACH 'evil.db'",
    "$f_0",
    "? OR TRUE",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_strings_are_bound_as_literals(conn: duckdb.DuckDBPyConnection, payload: str) -> None:
    escaped = payload.replace("\\", "\\\\").replace("'", "\\'")
    for expression in (f"name = '{escaped}'", f"attributes.'{escaped}' = '{escaped}'", f"name LIKE '{escaped}'"):
        compiled = compile_filter(expression, View.SPANS)
        assert payload not in compiled.sql
        assert select_ids(conn, expression) == []
    assert conn.execute("SELECT count(*) FROM spans").fetchone() == (3,)


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_strings_as_raw_expressions_are_rejected(payload: str) -> None:
    with pytest.raises(FilterSyntaxError):
        compile_filter(payload, View.SPANS)


# Every SQL token the compiler may emit: fixed template pieces, whitelisted column names and `?`.
_TEMPLATE_TOKENS = {
    "AND", "OR", "NOT", "IN", "IS", "NULL", "DISTINCT", "FROM", "LIKE", "ESCAPE", "'\\'", "TRUE", "FALSE",
    "coalesce", "contains", "regexp_matches", "TRY_CAST", "CAST", "AS", "DOUBLE", "VARCHAR",
    "=", "<", "<=", ">", ">=", "?", "(", ")", ",", "[", "]",
}  # fmt: skip
_CATEGORY_TEMPLATE = _CATEGORY_RANK.format(col="category")
_SQL_TOKEN = re.compile(r"\s*('\\'|[A-Za-z_][A-Za-z0-9_]*|<=|>=|[=<>?(),\[\]])")


def assert_only_template_tokens(sql: str, view: View) -> None:
    allowed = _TEMPLATE_TOKENS | set(COLUMNS[view])
    rest = sql.replace(_CATEGORY_TEMPLATE, "category")
    pos = 0
    while pos < len(rest):
        match = _SQL_TOKEN.match(rest, pos)
        assert match is not None, f"unexpected SQL text at {pos}: {rest[pos:]!r}"
        assert match.group(1) in allowed, f"token {match.group(1)!r} is not a template piece"
        pos = match.end()


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_any_input_yields_only_template_sql_or_a_syntax_error(text: str) -> None:
    try:
        compiled = compile_filter(text, View.SPANS)
    except FilterSyntaxError as exc:
        assert 0 <= exc.position <= len(text)
        return
    assert_only_template_tokens(compiled.sql, View.SPANS)
    assert compiled.sql.count("?") == len(compiled.params)


_FIELDS = ["service", "name", "attributes.http.route", "resource.service.name", "status_message", "trace_id"]
_OPS = ["=", "!=", "<>", "LIKE", "NOT LIKE", "CONTAINS", "~", "<", ">="]


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@st.composite
def predicates(draw: st.DrawFn) -> str:
    field = draw(st.sampled_from(_FIELDS))
    op = draw(st.sampled_from(_OPS))
    value = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20))
    if op == "~":
        value = re.escape(value)
    return f"{field} {op} {_quote(value)}"


expressions = st.recursive(
    predicates(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"NOT {e}"),
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(expressions)
def test_generated_valid_expressions_compile_and_run(conn: duckdb.DuckDBPyConnection, expression: str) -> None:
    compiled = compile_filter(expression, View.SPANS)
    assert_only_template_tokens(compiled.sql, View.SPANS)
    conn.execute(f"SELECT count(*) FROM spans WHERE {compiled.sql}", compiled.params).fetchone()
    assert conn.execute("SELECT count(*) FROM spans").fetchone() == (3,)
