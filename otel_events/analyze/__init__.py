"""The analyzer (SPEC §6): every analysis is a SQL file over the store's public views, wrapped by a function.

Each function takes a DuckDB connection (or a ``Store``) and keyword arguments ``since`` / ``until`` (datetimes,
ISO-8601 strings or durations such as ``"2h"``; default: the last 24 hours), ``filter`` (the filter language,
e.g. ``"service = 'checkout' AND duration_ms > 1000"``) and ``limit``, and returns rows as dicts.

Example:
    >>> from otel_events.store import Store
    >>> from otel_events import analyze
    >>> store = Store("otel_events.duckdb", read_only=True)
    >>> analyze.slow_traces(store, since="2h", filter="service = 'checkout'")
"""

from __future__ import annotations

from otel_events.analyze.anomalies import anomalies
from otel_events.analyze.compare import Threshold, compare, crossed_thresholds
from otel_events.analyze.fields import View
from otel_events.analyze.filter import CompiledFilter, compile_filter
from otel_events.analyze.operations import completeness, errors, service_map, stats
from otel_events.analyze.patterns import patterns, span_patterns
from otel_events.analyze.traces import correlation, critical_path, slow_traces, trace
from otel_events.analyze.window import Window, resolve_window

__all__ = [
    "CompiledFilter",
    "Threshold",
    "View",
    "Window",
    "anomalies",
    "compare",
    "compile_filter",
    "completeness",
    "correlation",
    "critical_path",
    "crossed_thresholds",
    "errors",
    "patterns",
    "resolve_window",
    "service_map",
    "slow_traces",
    "span_patterns",
    "stats",
    "trace",
]
