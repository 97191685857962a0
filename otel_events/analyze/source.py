"""What an analysis runs against: a DuckDB connection, or anything holding one (``Store``)."""

from __future__ import annotations

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


def window_params(since: TimeSpec, until: TimeSpec) -> tuple[Window, dict[str, object]]:
    """Resolve the window and the ``$since`` / ``$until`` / ``$window_minutes`` parameters."""
    window = resolve_window(since, until)
    return window, {"since": window.since, "until": window.until, "window_minutes": window.minutes}
