"""Read-only enforcement for SQL sent to the query API, decided by DuckDB's own parser, not by string matching.

A statement is accepted when DuckDB parses it as exactly one ``SELECT`` (which covers ``WITH``, ``FROM x``,
``VALUES``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE`` and table-valued ``PRAGMA``s). ``INSERT``, ``UPDATE``,
``DELETE``, ``CREATE``, ``ATTACH``, ``COPY``, ``SET``, ``INSTALL``/``LOAD``, ``CALL``, ``EXPORT``,
transactions and multi-statement text are refused, and so is a ``SELECT`` calling one of the few functions with a
side effect (``nextval`` advances a sequence outside any transaction; ``checkpoint()``). The query service also
runs every statement in a transaction it rolls back.

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
SIDE_EFFECT_FUNCTIONS = frozenset({"nextval", "setval", "checkpoint", "force_checkpoint"})


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
    row = connection.execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    nodes = list(_nodes(tree))
    for node in nodes:
        # Scalar and table functions alike are FUNCTION expressions in DuckDB's tree.
        if node.get("class") == "FUNCTION" and node.get("function_name") in SIDE_EFFECT_FUNCTIONS:
            name = node["function_name"]
            raise ReadOnlyQueryError(f"function {name}() changes the database and is not allowed in the query API")
    if tenant is not None:
        if tree.get("error"):
            raise ReadOnlyQueryError("this statement form is not available to token-authenticated callers")
        _check_tenant_references(nodes)


def _check_tenant_references(nodes: list[dict]) -> None:
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
