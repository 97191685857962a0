"""Anomalies: z-scores of count, error rate and p95 latency per operation and time bucket, and of metric values
(SPEC §6)."""

from __future__ import annotations

import math
from datetime import timedelta

from otel_events.analyze.queries import run_query
from otel_events.analyze.source import Source, connection_of, window_params
from otel_events.analyze.window import TimeSpec, Window, parse_duration, resolve_baseline
from otel_events.errors import ConfigError

Row = dict[str, object]
DEFAULT_BUCKET = timedelta(minutes=5)
# Fewer baseline buckets than this give a mean and deviation too noisy to score against.
MIN_BASELINE_BUCKETS = 3


def _bucket(bucket: str | timedelta | None) -> timedelta:
    value = DEFAULT_BUCKET if bucket is None else bucket if isinstance(bucket, timedelta) else parse_duration(bucket)
    if value <= timedelta(0):
        raise ConfigError("the anomaly bucket must be longer than zero")
    return value


def _buckets(window: Window, bucket: timedelta) -> int:
    return max(1, math.ceil((window.until - window.since) / bucket))


def anomalies(
    source: Source,
    *,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
    limit: int = 100,
    sensitivity: float = 3.0,
    bucket: str | timedelta | None = None,
    baseline: str | Window | None = None,
    metrics: bool = False,
) -> list[Row]:
    """Time buckets whose count, error rate or p95 latency (or, with ``metrics``, metric value) is unusual.

    Args:
        sensitivity: the |z| a bucket must reach (counts: both directions; error rate and latency: increases).
        bucket: bucket length (``5m`` default).
        baseline: a separate baseline window (``START..END`` or duration D: the same window D earlier); by
            default every other bucket of the window.
        metrics: score metric points (per metric and attribute set) instead of spans.

    Returns:
        Rows service_name, name, category, bucket_start, metric (``count``/``error_rate``/``p95_ms``, or
        ``value``/``increase`` for metrics), value, baseline_mean, baseline_std, z (and attributes for metrics),
        largest |z| first.
    """
    window, params = window_params(since, until)
    step = _bucket(bucket)
    base = baseline if isinstance(baseline, Window) else resolve_baseline(baseline, window)
    if baseline is not None and base is None:
        raise ConfigError(f"invalid --baseline {baseline!r}: expected START..END or a duration such as 1d")
    base = base or window
    params.update(
        limit=limit,
        sensitivity=sensitivity,
        bucket_ns=int(step.total_seconds() * 1e9),
        base_since=base.since,
        base_until=base.until,
        cur_buckets=_buckets(window, step),
        base_buckets=_buckets(base, step),
        same_window=base == window,
        min_buckets=MIN_BASELINE_BUCKETS,
    )
    query = "metric_anomalies" if metrics else "anomalies"
    return run_query(connection_of(source), query, params, {"filter": filter})
