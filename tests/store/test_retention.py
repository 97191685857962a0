"""Retention with generated old data: the right rows go, dry runs delete nothing, archives are readable."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics

from otel_events.errors import ConfigError
from otel_events.store import IngestItem, Store
from otel_events.store.archive import attach_archive, load_archive
from otel_events.store.retention import RetentionPolicy, apply_retention
from otel_events.store.to_otlp import rebuild_requests
from tests.receiver.otlp_requests import attribute, make_span, trace_request
from tests.stream.replay_support import log_request

NOW = datetime(2026, 1, 20, 12, 0, 0)
NOW_NS = int((NOW - datetime(1970, 1, 1)).total_seconds()) * 1_000_000_000
DAY_NS = 86_400 * 1_000_000_000
AGES = (2, 4, 40, 100, 400)
# Span names the packaged rules classify into each category.
NAMES = {
    "debug": "debug",
    "system": "stats",
    "performance": "cache_metrics",
    "user_activity": "session_start",
    "critical": "failure",
}
EXPECTED = {"debug": 4, "system": 3, "performance": 3, "user_activity": 2, "critical": 1}


def _spans_payload() -> bytes:
    spans = []
    for category, name in NAMES.items():
        for age in AGES:
            span = make_span(name, age=age, label=category)
            span.start_time_unix_nano = NOW_NS - age * DAY_NS
            span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000
            spans.append(span)
    return trace_request(spans, "checkout").SerializeToString()


def _metrics_payload() -> bytes:
    points = [NumberDataPoint(time_unix_nano=NOW_NS - age * DAY_NS, as_int=age) for age in (1, 31)]
    metric = Metric(name="queue_length", gauge=Gauge(data_points=points))
    request = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=trace_request([], "checkout").resource_spans[0].resource,
                scope_metrics=[ScopeMetrics(metrics=[metric])],
            )
        ]
    )
    request.resource_metrics[0].resource.attributes.append(attribute("host", "a"))
    return request.SerializeToString()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "old.duckdb"
    with Store(path) as store:
        store.ingest(
            [
                IngestItem(signal="traces", payload=_spans_payload()),
                # Logs at INFO (system): 10 and 40 days old.
                IngestItem(signal="logs", payload=log_request([0, 1], base_ns=NOW_NS - 10 * DAY_NS)),
                IngestItem(signal="logs", payload=log_request([0], base_ns=NOW_NS - 40 * DAY_NS)),
                IngestItem(signal="metrics", payload=_metrics_payload()),
            ]
        )
    return path


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    spans = dict(con.execute("SELECT category::VARCHAR, count(*) FROM spans GROUP BY ALL").fetchall())
    spans["logs"] = con.execute("SELECT count(*) FROM logs").fetchone()[0]
    spans["metric_points"] = con.execute("SELECT count(*) FROM metric_points").fetchone()[0]
    return spans


def _report_rows(report) -> dict[tuple[str, str | None], int]:
    return {(c.kind, c.category): c.rows for c in report.counts if c.rows}


def test_dry_run_counts_and_deletes_nothing(store_path: Path) -> None:
    with Store(store_path) as store:
        before = _counts(store.connection)
        report = apply_retention(store.connection, RetentionPolicy(), now=NOW, dry_run=True)
        assert _counts(store.connection) == before
    expected = {("spans", category): rows for category, rows in EXPECTED.items()}
    expected[("logs", "system")] = 1
    expected[("metric_points", None)] = 1
    assert _report_rows(report) == expected


def test_apply_deletes_exactly_the_expired_rows_in_chunks(store_path: Path) -> None:
    chunks: list[int] = []
    with Store(store_path) as store:
        report = apply_retention(
            store.connection, RetentionPolicy(chunk_rows=2), now=NOW, on_chunk=lambda: chunks.append(1)
        )
        remaining = _counts(store.connection)
        ages = store.connection.execute(
            "SELECT category::VARCHAR, list(attributes['age']::INT ORDER BY attributes['age']::INT) "
            "FROM spans GROUP BY ALL"
        ).fetchall()
    assert report.total == 13 + 1 + 1
    assert len(chunks) >= 8  # 15 rows in chunks of at most 2
    assert remaining == {
        "debug": 1,
        "system": 2,
        "performance": 2,
        "user_activity": 3,
        "critical": 4,
        "logs": 2,
        "metric_points": 1,
    }
    assert dict(ages) == {
        "debug": [2],
        "system": [2, 4],
        "performance": [2, 4],
        "user_activity": [2, 4, 40],
        "critical": [2, 4, 40, 100],
    }


def test_configured_limits_override_the_defaults(store_path: Path) -> None:
    policy = RetentionPolicy.from_table({"critical": 50, "debug": 1000, "metrics": 0.5}, "test")
    with Store(store_path) as store:
        report = apply_retention(store.connection, policy, now=NOW, dry_run=True)
    rows = _report_rows(report)
    assert rows[("spans", "critical")] == 2 and ("spans", "debug") not in rows
    assert rows[("metric_points", None)] == 2


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"debug": 0}, "positive number of days"),
        ({"debug": "3d"}, "positive number of days"),
        ({"forever": 3}, "unknown key 'forever'"),
        ({"interval": -1}, "interval must be positive"),
        ({"enabled": "yes"}, "true or false"),
    ],
)
def test_bad_retention_tables_are_refused(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RetentionPolicy.from_table(table, "config file x.toml")


def test_archive_before_delete_is_readable_by_sql_and_rebuilds_exactly(store_path: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with Store(store_path) as store:
        before = _counts(store.connection)
        originals = sorted(
            span.SerializeToString(deterministic=True)
            for request in rebuild_requests(store.connection, "traces")
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        )
        apply_retention(store.connection, RetentionPolicy(archive_dir=archive, chunk_rows=4), now=NOW)
    partitions = sorted(p.relative_to(archive).as_posix() for p in archive.glob("*/day=*/service=*"))
    assert "spans/day=2025-12-11/service=checkout" in partitions  # 40 days before NOW
    assert all(f.suffix == ".parquet" for f in archive.rglob("*") if f.is_file())
    compression = duckdb.sql(
        f"SELECT DISTINCT compression FROM parquet_metadata('{archive}/spans/*/*/*.parquet')"
    ).fetchall()
    assert compression == [("ZSTD",)]

    with Store(store_path, read_only=True) as store:
        assert _counts(store.connection) != before
        attach_archive(store.connection, archive)
        # Store and archive together are what the store held before retention, through the public views.
        assert _counts(store.connection) == before
        traces = store.connection.execute("SELECT count(*), max(max_category)::VARCHAR FROM traces").fetchone()
        assert traces == (25, "critical")

    with Store(":memory:") as replay_source:
        assert load_archive(replay_source.connection, archive) == 15
        with Store(store_path, read_only=True) as store:
            kept = [
                span.SerializeToString(deterministic=True)
                for request in rebuild_requests(store.connection, "traces")
                for resource in request.resource_spans
                for scope in resource.scope_spans
                for span in scope.spans
            ]
        archived = [
            span.SerializeToString(deterministic=True)
            for request in rebuild_requests(replay_source.connection, "traces")
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]
        assert sorted(kept + archived) == originals
