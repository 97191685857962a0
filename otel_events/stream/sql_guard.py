"""Read-only enforcement for SQL sent to the query API, decided by DuckDB's own parser, not by string matching.

A statement is accepted when DuckDB parses it as exactly one ``SELECT`` (which covers ``WITH``, ``FROM x``,
``VALUES``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE`` and table-valued ``PRAGMA``s). ``INSERT``, ``UPDATE``,
``DELETE``, ``CREATE``, ``ATTACH``, ``COPY``, ``SET``, ``INSTALL``/``LOAD``, ``CALL``, ``EXPORT``,
transactions and multi-statement text are refused. The query service also runs every statement inside a
transaction it rolls back, so a ``SELECT`` with a side effect (``nextval``) leaves nothing behind.

A tenant (a caller authenticated by a bearer token) may read more narrowly: only the public views and the trace
lookups, named without a schema or catalog, so no query reaches another tenant's rows, a base table, a file
(``read_csv``, ``FROM 'x.parquet'``) or an attached database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb

from otel_events.errors import ReadOnlyQueryError

PUBLIC_VIEWS = frozenset({"spans", "logs", "metric_points", "traces"})
PUBLIC_TABLE_FUNCTIONS = frozenset({"trace_spans", "trace_logs"})


def check_read_only(connection: duckdb.DuckDBPyConnection, sql: str, *, tenant: str | None = None) -> None:
    """Refuse ``sql`` unless it is one read-only statement (and, for a tenant, reads only the public views).

    Args:
        connection: any connection (the parser needs one; nothing is executed).
        sql: the statement text.
        tenant: the caller's tenant; ``None`` for an unauthenticated (local, trusted) caller.

    Raises:
        ReadOnlyQueryError: naming what was refused.
    """
    try:
        statements = connection.extract_statements(sql)
    except duckdb.Error as exc:
        raise ReadOnlyQueryError(f"SQL error: {exc}") from None
    if len(statements) != 1:
        raise ReadOnlyQueryError(f"expected exactly one SQL statement, got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise ReadOnlyQueryError(
            f"only read-only SELECT statements are allowed; this is a {kind.name} statement "
            "(the query API never writes: stop the receiver to change the store)"
        )
    if tenant is not None:
        _check_tenant_references(connection, sql)


def _check_tenant_references(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    row = connection.execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise ReadOnlyQueryError("this statement form is not available to token-authenticated callers")
    nodes = list(_nodes(tree))
    ctes = {entry["key"] for node in nodes for entry in (node.get("cte_map") or {}).get("map", ())}
    allowed_tables = PUBLIC_VIEWS | ctes
    for node in nodes:
        node_type = node.get("type")
        if node_type == "BASE_TABLE":
            name = node.get("table_name", "")
            qualified = node.get("schema_name") or node.get("catalog_name")
            if qualified or name not in allowed_tables:
                raise ReadOnlyQueryError(
                    f"table {name!r} is not readable here; query the views {', '.join(sorted(PUBLIC_VIEWS))} "
                    "without a schema or catalog"
                )
        elif node_type == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = function.get("function_name", "")
            if function.get("schema") or function.get("catalog") or name not in PUBLIC_TABLE_FUNCTIONS:
                raise ReadOnlyQueryError(
                    f"table function {name!r} is not available here; use {', '.join(sorted(PUBLIC_TABLE_FUNCTIONS))}"
                )
        elif node_type == "SHOW_REF":
            raise ReadOnlyQueryError("DESCRIBE/SHOW/SUMMARIZE are not available to token-authenticated callers")


def _nodes(value: object) -> Iterator[dict]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)
