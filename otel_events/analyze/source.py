"""What an analysis runs against: a DuckDB connection, or anything holding one (``Store``)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import duckdb

from otel_events.analyze.window import TimeSpec, Window, resolve_window


@runtime_checkable
class HasConnection(Protocol):
    """An object exposing the store's DuckDB connection (``otel_events.store.Store``)."""

    @property
    def connection(self) -> duckdb.DuckDBPyConnection: ...


Source = duckdb.DuckDBPyConnection | HasConnection


def connection_of(source: Source) -> duckdb.DuckDBPyConnection:
    """Return the DuckDB connection of ``source``."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source
    return source.connection


def with_archive(source: Source, directory: Path | None) -> Source:
    """``source`` with its public views extended by the archived rows under ``directory`` (``--archive DIR``).

    The views (and the trace lookups) become temporary views over the store's rows plus the archive's hive-partitioned
    Parquet files (``otel_events.store.archive``); nothing is written. ``None`` returns ``source`` unchanged.
    """
    if directory is not None:
        from otel_events.store.archive import attach_archive

        attach_archive(connection_of(source), directory)
    return source


def window_params(since: TimeSpec, until: TimeSpec) -> tuple[Window, dict[str, object]]:
    """Resolve the window and the ``$since`` / ``$until`` / ``$window_minutes`` parameters."""
    window = resolve_window(since, until)
    return window, {"since": window.since, "until": window.until, "window_minutes": window.minutes}
