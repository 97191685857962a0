"""``otel-events export``: rows of a public view to JSON lines, CSV or Parquet (ZSTD) with DuckDB COPY (SPEC §7)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import duckdb

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
    try:
        output_format = ExportFormat(output_format)
        kind = ExportKind(kind)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    path = Path(out)
    if not path.parent.exists():
        raise ConfigError(f"cannot write {path}: directory {path.parent} does not exist")
    _, params = window_params(since, until)
    query = load_query(_QUERIES[kind])
    select, bound = compose(query, {"filter": filter})
    bound.update({key: params[key] for key in query.parameters})
    statement = f"COPY ({select.strip().rstrip(';')}) TO {_string_literal(str(path))} {_COPY_OPTIONS[output_format]}"
    conn = connection_of(source)
    show = sys.stderr.isatty() if progress is None else progress
    if show:
        conn.execute("SET enable_progress_bar = true")
        conn.execute("SET enable_progress_bar_print = true")
        conn.execute("SET progress_bar_time = 500")
    try:
        row = conn.execute(statement, bound).fetchone()
    except duckdb.Error as exc:
        raise QueryError(f"export to {path} failed: {exc}") from exc
    finally:
        if show:
            conn.execute("SET enable_progress_bar = false")
    return int(row[0]) if row else 0
