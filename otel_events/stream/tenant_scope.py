"""A DuckDB cursor that sees one tenant's rows only (SPEC §4: read APIs see only their tenant's rows).

The public views and the trace lookup macros read the base tables ``span_data``, ``log_data`` and
``metric_point_data`` by unqualified name, and DuckDB resolves unqualified names in the connection's temporary
schema first. So temporary views of the same names, filtered on ``tenant``, scope every view, macro and analysis
run on that cursor, while other cursors (the ingest pipeline, other callers) are unaffected. Only a
catalog-qualified name reaches around them, which ``sql_guard`` refuses for tenants.
"""

from __future__ import annotations

import re

import duckdb

TENANT_SCOPED_TABLES = ("span_data", "log_data", "metric_point_data")

# The receiver's tenant names (otel_events.receiver.security); checked again here because they become SQL text
# (a view definition cannot take a bound parameter).
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")


def open_cursor(connection: duckdb.DuckDBPyConnection, tenant: str | None) -> duckdb.DuckDBPyConnection:
    """A new cursor on ``connection``; with a tenant, every public view on it shows that tenant's rows only.

    Raises:
        ValueError: for a tenant name the receiver would never issue.
    """
    cursor = connection.cursor()
    if tenant is None:
        return cursor
    if not _TENANT.fullmatch(tenant):
        cursor.close()
        raise ValueError(f"invalid tenant name {tenant!r}")
    try:
        catalog = _quote(cursor.execute("SELECT current_database()").fetchone()[0])
        for table in TENANT_SCOPED_TABLES:
            cursor.execute(
                f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {catalog}.main.{table} WHERE tenant = '{tenant}'"
            )
    except BaseException:
        cursor.close()
        raise
    return cursor


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
