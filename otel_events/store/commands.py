"""``otel-events sql "SELECT ..." --db PATH [--filter EXPR [--view VIEW]] [--format table|json|csv]``: plain SQL
against a store file.

``--filter`` (the analyses' filter language, SPEC §6) defines a relation ``filtered``: the rows of ``--view`` (default
``spans``) matching the filter, with its values bound as parameters. The query may read it like any view; without a
query, the command prints ``SELECT * FROM filtered``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import decimal
import json
import sys
import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import TextIO

import duckdb

from otel_events.errors import ConfigError, StoreError
from otel_events.store.store import open_database

DEFAULT_DB = "otel_events.duckdb"


class SqlFormat(StrEnum):
    """Output formats of the sql command."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sql`` sub-command."""
    parser = subparsers.add_parser(
        "sql",
        help="run a SQL query against a store file",
        description="Run one SQL statement against a DuckDB store opened read-only (views: spans, logs, "
        "metric_points, traces). When a running receiver holds the file, the query runs through its read-only "
        "query API.",
    )
    parser.add_argument(
        "query",
        nargs="?",
        help='the SQL, e.g. "SELECT name, count(*) FROM spans GROUP BY ALL" (default with --filter: '
        '"SELECT * FROM filtered")',
    )
    parser.add_argument("--db", default=DEFAULT_DB, help=f"the DuckDB file (default ./{DEFAULT_DB})")
    parser.add_argument(
        "--target",
        metavar="HOST:PORT",
        help="run on this receiver's query API (default: the running receiver holding --db, if any)",
    )
    parser.add_argument(
        "--archive", metavar="DIR", help="also read the rows archived under DIR (hive-partitioned Parquet)"
    )
    parser.add_argument(
        "--filter",
        metavar="EXPR",
        help="define the relation `filtered`: the rows of --view matching EXPR (e.g. \"service = 'checkout'\"); "
        "values are bound as parameters",
    )
    parser.add_argument(
        "--view",
        choices=["spans", "logs", "metric_points", "traces"],
        default="spans",
        help="the view --filter selects from (default spans)",
    )
    parser.add_argument("--format", choices=[f.value for f in SqlFormat], default=SqlFormat.TABLE.value)
    parser.set_defaults(func=run_sql_command)


def run_sql_command(args: argparse.Namespace) -> int:
    """Handler of ``otel-events sql``; returns the exit code."""
    query, parameters = _statement_of(args)
    if args.target is not None:
        columns, rows = _run_remote(args.target, query, parameters)
    else:
        try:
            columns, rows = run_query(args.db, query, args.archive, parameters=parameters)
        except StoreError as exc:
            from pathlib import Path

            from otel_events.stream.client import receiver_target

            columns, rows = _run_remote(receiver_target(Path(args.db), exc), query, parameters)
    write_rows(sys.stdout, columns, rows, SqlFormat(args.format))
    return 0


def _statement_of(args: argparse.Namespace) -> tuple[str, dict[str, object] | None]:
    """The statement to run and its bound parameters (``--filter`` defines the relation ``filtered``)."""
    query = args.query if args.query is not None and args.query.strip() else None
    if args.filter is None:
        if query is None:
            raise ConfigError('give a SQL query (e.g. "SELECT count(*) FROM spans"), or --filter EXPR')
        return query, None
    from otel_events.analyze.filtered_view import FILTERED_RELATION, SELECT_FILTERED, filtered_statement

    if query is not None and FILTERED_RELATION not in query.lower():
        raise ConfigError(f"--filter defines the relation `{FILTERED_RELATION}`, but the query does not read it")
    return filtered_statement(query or SELECT_FILTERED, args.filter, args.view)


def _run_remote(target: str, query: str, parameters: dict[str, object] | None = None) -> tuple[list[str], list[tuple]]:
    from otel_events.stream.client import EventsClient

    with EventsClient(target) as client:
        if not parameters:
            return client.sql(query)
        table = client.sql_reader(query, parameters).read_all()
    # through DuckDB, as EventsClient.sql does: maps, enums and nanosecond times convert as in a local query
    rows = duckdb.connect().from_arrow(table).fetchall() if table.num_columns else []
    return table.schema.names, rows


def run_query(
    path: str, query: str, archive: str | None = None, *, parameters: dict[str, object] | None = None
) -> tuple[list[str], list[tuple]]:
    """Run ``query`` on the store at ``path`` opened read-only (plus the rows archived under ``archive``).

    Args:
        path: the DuckDB file.
        query: one SQL statement.
        archive: a directory of archived rows the views also read.
        parameters: values of the statement's ``$name`` parameters.

    Raises:
        StoreError: the file is missing, locked by a running receiver, or the SQL fails.
    """
    con = open_database(path, read_only=True)
    try:
        if archive is not None:
            from pathlib import Path

            from otel_events.store.archive import attach_archive

            attach_archive(con, Path(archive))
        cursor = con.execute(query, parameters)
        if cursor.description is None:
            return [], []
        return [d[0] for d in cursor.description], cursor.fetchall()
    except duckdb.Error as exc:
        raise StoreError(f"SQL error: {exc}") from exc
    finally:
        con.close()


def write_rows(out: TextIO, columns: Sequence[str], rows: Sequence[tuple], output_format: SqlFormat) -> None:
    """Write rows as an aligned table, a JSON array of objects, or CSV with a header."""
    if output_format is SqlFormat.JSON:
        json.dump([dict(zip(columns, row, strict=True)) for row in rows], out, default=_json_value, indent=2)
        out.write("\n")
    elif output_format is SqlFormat.CSV:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_text(value) for value in row] for row in rows])
    else:
        _write_table(out, columns, rows)


_MAX_CELL = 60


def _write_table(out: TextIO, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(name) for name in columns]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    numeric = [
        all(isinstance(row[i], int | float | decimal.Decimal) for row in rows if row[i] is not None) and rows
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out.write(line(columns) + "\n")
    out.write("  ".join("-" * width for width in widths) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def _cell(value: object) -> str:
    text = "NULL" if value is None else _text(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=_json_value, ensure_ascii=False)
    return str(_json_value(value))


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal | uuid.UUID | dt.timedelta):
        return str(value)
    return value
