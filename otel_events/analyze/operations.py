"""Per-operation and per-service analyses: stats, errors, service map, completeness (SPEC §6)."""

from __future__ import annotations

from otel_events.analyze.queries import run_query
from otel_events.analyze.source import Source, connection_of, window_params
from otel_events.analyze.window import TimeSpec
from otel_events.errors import ConfigError

Row = dict[str, object]
TIME_BUCKETS = {"minute": 1.0, "hour": 60.0, "day": 1440.0}


def stats(
    source: Source,
    *,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
    limit: int = 100,
    by: str | None = None,
) -> list[Row]:
    """Latency distribution per operation (service_name, name).

    Args:
        by: None for one row per operation, or ``minute`` / ``hour`` / ``day`` for one row per operation and
            time bucket (column ``time``).

    Returns:
        Rows service_name, name, count, rate_per_min, errors, avg_ms, p50_ms, p90_ms, p95_ms, p99_ms (and max_ms
        without ``by``), most frequent first.
    """
    _, params = window_params(since, until)
    params["limit"] = limit
    if by is None:
        return run_query(connection_of(source), "stats", params, {"filter": filter})
    if by not in TIME_BUCKETS:
        raise ConfigError(f"invalid --by {by!r}: expected one of {', '.join(TIME_BUCKETS)}")
    params.update(unit=by, bucket_minutes=TIME_BUCKETS[by])
    return run_query(connection_of(source), "stats_by_time", params, {"filter": filter})


def errors(
    source: Source,
    *,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
    limit: int = 10,
) -> Row:
    """The error report of the window (spans with status ERROR).

    Returns:
        An object with total, critical, spans, error_rate, by_service, by_operation, by_exception_type,
        top_messages (``limit`` most frequent) and recent (``limit`` most recent errors).
    """
    _, params = window_params(since, until)
    params["limit"] = limit
    (row,) = run_query(connection_of(source), "errors", params, {"filter": filter})
    return row


def service_map(
    source: Source,
    *,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
    limit: int = 1000,
) -> list[Row]:
    """Caller -> callee edges between services.

    Returns:
        Rows caller, callee, calls, errors, error_rate, p95_ms (of the callee's spans), busiest first.
    """
    _, params = window_params(since, until)
    params["limit"] = limit
    return run_query(connection_of(source), "service_map", params, {"filter": filter})


def completeness(
    source: Source,
    *,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
    limit: int = 1000,
) -> list[Row]:
    """Loss report per stream: sequence numbers received, missing and duplicated.

    Returns:
        Rows stream_id, service_name, received, first_seq, last_seq, missing, duplicates, gaps (missing ranges
        such as ``"17-19"``), streams with losses first.
    """
    _, params = window_params(since, until)
    params["limit"] = limit
    return run_query(connection_of(source), "completeness", params, {"filter": filter})
