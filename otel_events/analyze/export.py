"""``otel-events export``: rows of a public view to JSON lines, CSV or Parquet (ZSTD) with DuckDB COPY (SPEC §7).

Locally, COPY reads the store. Through a receiver (``--target``, or the one holding the ``--db`` file), the same
SELECT with the same bound parameters runs there, its rows stream back as Arrow, and a local in-memory DuckDB COPYs
that stream with the same options, so both paths write the same file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import duckdb
import pyarrow as pa

from otel_events.analyze.queries import compose, load_query
from otel_events.analyze.source import Source, connection_of, window_params
from otel_events.analyze.window import TimeSpec
from otel_events.errors import ConfigError, QueryError


class ExportFormat(StrEnum):
    """Output file formats."""

    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"


class ExportKind(StrEnum):
    """What to export: one public view each."""

    SPANS = "spans"
    LOGS = "logs"
    METRICS = "metrics"


_QUERIES = {
    ExportKind.SPANS: "export_spans",
    ExportKind.LOGS: "export_logs",
    ExportKind.METRICS: "export_metric_points",
}
# COPY options per format: fixed text. JSON is newline-delimited (one object per line); Parquet is ZSTD-compressed.
_COPY_OPTIONS = {
    ExportFormat.JSON: "(FORMAT json)",
    ExportFormat.CSV: "(FORMAT csv, HEADER true)",
    ExportFormat.PARQUET: "(FORMAT parquet, COMPRESSION zstd)",
}


def _string_literal(text: str) -> str:
    # COPY's target cannot be a bound parameter; a SQL string literal with its quotes doubled is the one
    # safe spelling of an arbitrary path.
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class ExportQuery:
    """The SELECT of an export and its bound parameters.

    Attributes:
        sql: one SELECT over a public view, ordered by time.
        parameters: values of its ``$name`` parameters (window bounds and filter values).
    """

    sql: str
    parameters: dict[str, object]


def export_query(
    kind: ExportKind | str = ExportKind.SPANS,
    *,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
) -> ExportQuery:
    """The rows ``export`` writes, as a statement that runs on a store or through a receiver's query API.

    Raises:
        ConfigError: on an unknown kind.
        FilterSyntaxError: on an invalid filter.
    """
    try:
        kind = ExportKind(kind)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _, params = window_params(since, until)
    query = load_query(_QUERIES[kind])
    select, bound = compose(query, {"filter": filter})
    bound.update({key: params[key] for key in query.parameters})
    return ExportQuery(select.strip().rstrip(";"), bound)


def export(
    source: Source,
    out: str | Path,
    *,
    output_format: ExportFormat | str = ExportFormat.PARQUET,
    kind: ExportKind | str = ExportKind.SPANS,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
    progress: bool | None = None,
) -> int:
    """Write the rows of a view in the window (and filter) to ``out``.

    Args:
        out: the file to write (replaced if present).
        output_format: ``json`` (JSON lines), ``csv`` or ``parquet``.
        kind: ``spans``, ``logs`` or ``metrics``.
        progress: show DuckDB's progress bar; default when stderr is a terminal.

    Returns:
        The number of rows written.

    Raises:
        ConfigError: on an unknown format or kind, or a missing output directory.
        FilterSyntaxError: on an invalid filter.
    """
    target = _copy_target(out, output_format)
    query = export_query(kind, since=since, until=until, filter=filter)
    conn = connection_of(source)
    show = sys.stderr.isatty() if progress is None else progress
    if show:
        conn.execute("SET enable_progress_bar = true")
        conn.execute("SET enable_progress_bar_print = true")
        conn.execute("SET progress_bar_time = 500")
    try:
        return _copy(conn, f"COPY ({query.sql}) {target}", query.parameters, out)
    finally:
        if show:
            conn.execute("SET enable_progress_bar = false")


def export_rows(rows: pa.RecordBatchReader, out: str | Path, *, output_format: ExportFormat | str) -> int:
    """Write streamed rows (``export_query`` run elsewhere, e.g. through a receiver) to ``out`` as ``export`` does.

    Args:
        rows: the record batches, in order; read once.
        out: the file to write (replaced if present).
        output_format: ``json`` (JSON lines), ``csv`` or ``parquet``.

    Returns:
        The number of rows written.

    Raises:
        ConfigError: on an unknown format or a missing output directory.
    """
    target = _copy_target(out, output_format)
    with duckdb.connect() as conn:
        # The same COPY as a local export, over the stream instead of the store: DuckDB reads the batches as they
        # arrive (a replacement scan of the registered reader), so memory stays bounded by a few batches.
        conn.register("export_rows", rows)
        return _copy(conn, f"COPY (SELECT * FROM export_rows) {target}", None, out)


def _copy_target(out: str | Path, output_format: ExportFormat | str) -> str:
    """The ``TO '<out>' (<options>)`` part of the COPY statement."""
    try:
        output_format = ExportFormat(output_format)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    path = Path(out)
    if not path.parent.exists():
        raise ConfigError(f"cannot write {path}: directory {path.parent} does not exist")
    return f"TO {_string_literal(str(path))} {_COPY_OPTIONS[output_format]}"


def _copy(
    conn: duckdb.DuckDBPyConnection, statement: str, parameters: dict[str, object] | None, out: str | Path
) -> int:
    try:
        row = conn.execute(statement, parameters).fetchone()
    except duckdb.Error as exc:
        raise QueryError(f"export to {out} failed: {exc}") from exc
    return int(row[0]) if row else 0
