"""Trace analyses: slow traces with their critical path, the critical path of one trace, one trace's timeline,
and a correlation chain across traces (SPEC §6)."""

from __future__ import annotations

import re
from collections import defaultdict

from otel_events.analyze.critical_path import SpanTiming, compute_critical_path
from otel_events.analyze.queries import run_query
from otel_events.analyze.source import Source, connection_of, window_params
from otel_events.analyze.timeconv import from_epoch_ns
from otel_events.analyze.window import TimeSpec
from otel_events.errors import ConfigError, NotFoundError

Row = dict[str, object]
_TRACE_ID_RE = re.compile(r"[0-9a-f]{32}")
# How many span links a correlation chain follows away from the traces that carry the id.
MAX_LINK_HOPS = 3


def check_trace_id(trace_id: str) -> str:
    """Normalise a trace id (32 hex digits, case-insensitive).

    Raises:
        ConfigError: when it is not 32 hex digits.
    """
    normalised = trace_id.strip().lower()
    if not _TRACE_ID_RE.fullmatch(normalised):
        raise ConfigError(f"invalid trace id {trace_id!r}: expected 32 hexadecimal digits")
    return normalised


def span_timings(source: Source, trace_ids: list[str]) -> dict[str, list[SpanTiming]]:
    """Timings of every span of the given traces, by trace id."""
    rows = run_query(connection_of(source), "trace_span_timings", {"trace_ids": trace_ids})
    by_trace: dict[str, list[SpanTiming]] = defaultdict(list)
    for row in rows:
        by_trace[str(row["trace_id"])].append(
            SpanTiming(
                str(row["span_id"]),
                row["parent_span_id"],  # type: ignore[arg-type]
                str(row["name"]),
                row["service_name"],  # type: ignore[arg-type]
                int(row["start_ns"]),  # type: ignore[arg-type]
                int(row["end_ns"]),  # type: ignore[arg-type]
            )
        )
    return by_trace


def slow_traces(
    source: Source,
    *,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
    limit: int = 20,
    threshold_ms: float = 500.0,
    min_samples: int = 20,
) -> list[Row]:
    """Traces slower than ``threshold_ms`` or than the p99 of their root operation, slowest first.

    The filter applies to root spans (fields of the ``spans`` view).

    Returns:
        Rows with trace_id, root_service, root_name, start_time, duration_ms, tier (``critical`` > 5 s,
        ``high`` > 1 s, ``medium`` > 500 ms, else ``baseline``: over its operation's p99), operation_p99_ms and
        critical_path (span names in order).
    """
    _, params = window_params(since, until)
    params.update(limit=limit, threshold_ms=threshold_ms, min_samples=min_samples)
    rows = run_query(connection_of(source), "slow_traces", params, {"filter": filter})
    timings = span_timings(source, [str(r["trace_id"]) for r in rows]) if rows else {}
    for row in rows:
        path = compute_critical_path(timings.get(str(row["trace_id"]), []))
        row["critical_path"] = [step.span.name for step in path]
    return rows


def critical_path(source: Source, trace_id: str) -> list[Row]:
    """The critical path of one trace (Jaeger's definition), in order.

    Returns:
        Rows span_id, name, service_name, start_time, duration_ms, self_time_ms, critical_ms.

    Raises:
        ConfigError: when the trace id is malformed.
        NotFoundError: when the store holds no span of the trace.
    """
    trace_id = check_trace_id(trace_id)
    spans = span_timings(source, [trace_id]).get(trace_id)
    if not spans:
        raise NotFoundError(f"no spans with trace id {trace_id} in the store")
    return [
        {
            "span_id": step.span.span_id,
            "name": step.span.name,
            "service_name": step.span.service_name,
            "start_time": from_epoch_ns(step.span.start_ns),
            "duration_ms": (step.span.end_ns - step.span.start_ns) / 1e6,
            "self_time_ms": step.self_ns / 1e6,
            "critical_ms": step.critical_ns / 1e6,
        }
        for step in compute_critical_path(spans)
    ]


def trace(source: Source, trace_id: str, *, filter: str | None = None) -> list[Row]:
    """Every span and log record of a trace, ordered by time then sequence number.

    Returns:
        Rows kind (``span``/``log``), trace_id, span_id, parent_span_id, time, duration_ms, service_name, name,
        body, status, category, stream_id, seq, correlation_id. Empty when the trace is unknown.

    Raises:
        ConfigError: when the trace id is malformed.
    """
    params = {"trace_id": check_trace_id(trace_id)}
    return run_query(connection_of(source), "trace", params, {"filter": filter})


def correlation(source: Source, correlation_id: str, *, filter: str | None = None) -> list[Row]:
    """The chain of spans and logs carrying ``correlation_id``, across every trace they belong to and the
    traces linked to those by span links, ordered by time then sequence number.

    Returns:
        Rows as for :func:`trace`. Empty when nothing carries the id.
    """
    params = {"correlation_id": correlation_id, "max_hops": MAX_LINK_HOPS}
    return run_query(connection_of(source), "correlation", params, {"filter": filter})
