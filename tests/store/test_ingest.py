"""Store.ingest with real SDK payloads: public views, categories, dedup, dead letters, WAL position."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_events.errors import StoreError
from otel_events.store import IngestItem, Store
from otel_events.store.to_otlp import rebuild_requests
from tests.store.sdk_payloads import log_payload, metric_payload, stamped_span_payload, trace_payload

SPANS_COLUMNS = [
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("parent_span_id", "VARCHAR"),
    ("trace_state", "VARCHAR"),
    ("name", "VARCHAR"),
    ("kind", "ENUM('internal', 'server', 'client', 'producer', 'consumer')"),
    ("start_time", "TIMESTAMP_NS"),
    ("end_time", "TIMESTAMP_NS"),
    ("duration_ms", "DOUBLE"),
    ("status_code", "ENUM('unset', 'ok', 'error')"),
    ("status_message", "VARCHAR"),
    ("service_name", "VARCHAR"),
    ("scope_name", "VARCHAR"),
    ("scope_version", "VARCHAR"),
    ("attributes", "MAP(VARCHAR, VARCHAR)"),
    ("resource_attributes", "MAP(VARCHAR, VARCHAR)"),
    ("events", 'STRUCT("time" TIMESTAMP_NS, "name" VARCHAR, attributes MAP(VARCHAR, VARCHAR))[]'),
    ("links", "STRUCT(trace_id VARCHAR, span_id VARCHAR, trace_state VARCHAR, attributes MAP(VARCHAR, VARCHAR))[]"),
    ("category", "ENUM('debug', 'system', 'user_activity', 'performance', 'critical')"),
    ("rule", "VARCHAR"),
    ("category_source", "ENUM('sdk', 'receiver')"),
    ("stream_id", "VARCHAR"),
    ("seq", "BIGINT"),
    ("correlation_id", "VARCHAR"),
    ("tenant", "VARCHAR"),
    ("received_at", "TIMESTAMP_NS"),
]
CATEGORY = "ENUM('debug', 'system', 'user_activity', 'performance', 'critical')"
STRING_MAP = "MAP(VARCHAR, VARCHAR)"
LOGS_COLUMNS = [
    ("time", "TIMESTAMP_NS"),
    ("observed_time", "TIMESTAMP_NS"),
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("severity_number", "INTEGER"),
    ("severity_text", "VARCHAR"),
    ("body", "VARCHAR"),
    ("event_name", "VARCHAR"),
    ("service_name", "VARCHAR"),
    ("scope_name", "VARCHAR"),
    ("attributes", STRING_MAP),
    ("resource_attributes", STRING_MAP),
    ("category", CATEGORY),
    ("rule", "VARCHAR"),
    ("category_source", "ENUM('sdk', 'receiver')"),
    ("stream_id", "VARCHAR"),
    ("seq", "BIGINT"),
    ("correlation_id", "VARCHAR"),
    ("tenant", "VARCHAR"),
    ("received_at", "TIMESTAMP_NS"),
]
METRIC_POINTS_COLUMNS = [
    ("time", "TIMESTAMP_NS"),
    ("start_time", "TIMESTAMP_NS"),
    ("service_name", "VARCHAR"),
    ("name", "VARCHAR"),
    ("description", "VARCHAR"),
    ("unit", "VARCHAR"),
    ("type", "ENUM('gauge', 'sum', 'histogram', 'exponential_histogram', 'summary')"),
    ("value", "DOUBLE"),
    ("count", "UBIGINT"),
    ("sum", "DOUBLE"),
    ("min", "DOUBLE"),
    ("max", "DOUBLE"),
    ("bucket_counts", "UBIGINT[]"),
    ("explicit_bounds", "DOUBLE[]"),
    ("quantiles", 'STRUCT(quantile DOUBLE, "value" DOUBLE)[]'),
    ("is_monotonic", "BOOLEAN"),
    ("temporality", "ENUM('unspecified', 'delta', 'cumulative')"),
    ("attributes", STRING_MAP),
    ("resource_attributes", STRING_MAP),
    ("tenant", "VARCHAR"),
]
TRACES_COLUMNS = [
    ("trace_id", "VARCHAR"),
    ("root_service", "VARCHAR"),
    ("root_name", "VARCHAR"),
    ("start_time", "TIMESTAMP_NS"),
    ("end_time", "TIMESTAMP_NS"),
    ("duration_ms", "DOUBLE"),
    ("span_count", "BIGINT"),
    ("error_count", "BIGINT"),
    ("services", "VARCHAR[]"),
    ("max_category", CATEGORY),
]


@pytest.fixture
def store() -> Store:
    with Store(":memory:") as opened:
        yield opened


def rows(store: Store, sql: str, params: list | None = None) -> list[tuple]:
    return store.connection.execute(sql, params or []).fetchall()


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("spans", SPANS_COLUMNS),
        ("logs", LOGS_COLUMNS),
        ("metric_points", METRIC_POINTS_COLUMNS),
        ("traces", TRACES_COLUMNS),
    ],
)
def test_views_have_exactly_the_spec_columns(store: Store, view: str, expected: list) -> None:
    described = [(name, type_) for name, type_, *_ in rows(store, f"DESCRIBE {view}")]
    assert described == expected


def test_sdk_spans_land_with_columns_and_categories(store: Store) -> None:
    stats = store.ingest([IngestItem("traces", trace_payload(), tenant="acme")])
    assert (stats.spans, stats.duplicates, stats.dead_letters) == (3, 0, 0)
    by_name = {
        r[0]: r
        for r in rows(
            store,
            "SELECT name, kind, status_code, status_message, service_name, scope_name, scope_version, "
            "attributes, category, rule, category_source, stream_id, seq, correlation_id, tenant, "
            "parent_span_id IS NULL, length(trace_id), length(span_id), duration_ms >= 0, "
            "resource_attributes['deployment.environment'], events FROM spans",
        )
    }
    root = by_name["GET /cart"]
    assert root[1:8] == (
        "server",
        "unset",
        None,
        "checkout",
        "shop.tests",
        "1.2.3",
        {"http.route": "/cart", "http.status": "200"},
    )
    assert root[8:11] == ("system", "default", "receiver")
    assert root[14:20] == ("acme", True, 32, 16, True, "test")
    db = by_name["db.query"]
    assert db[1:4] == ("client", "error", "connection reset")
    assert db[7] == {"db.rows": "12", "db.ok": "true"}
    assert db[8:11] == ("critical", "status.error", "receiver")
    assert [(e["name"], e["attributes"]) for e in db[20]] == [("retry", {"attempt": "2"})]
    cache = by_name["cache.lookup"]
    # stamped attributes live in their columns, not in the public map
    assert cache[7] == {"cache.hit": "false"}
    assert cache[8:14] == ("performance", "keyword.performance", "sdk", "stream-a", 7, "order-42")
    trace = rows(store, "SELECT root_service, root_name, span_count, error_count, services, max_category FROM traces")
    assert trace == [("checkout", "GET /cart", 3, 1, ["checkout"], "critical")]


def test_sdk_logs_land_with_columns_and_categories(store: Store) -> None:
    stats = store.ingest([IngestItem("logs", log_payload())])
    assert stats.log_records == 3
    got = rows(
        store,
        "SELECT severity_number, body, event_name, service_name, scope_name, attributes, category, rule, "
        "category_source, stream_id, seq FROM logs ORDER BY time",
    )
    assert got[0] == (
        17,
        "payment failed",
        None,
        "checkout",
        "shop.logs",
        {"order.id": "42"},
        "critical",
        "status.severity",
        "receiver",
        None,
        None,
    )
    assert got[1][1] == '{"items":3,"total":9.5}'
    assert got[1][2] == "session_start"
    assert got[1][6:9] == ("user_activity", "name.exact", "receiver")
    assert got[2][5:] == ({}, "user_activity", "name.exact", "sdk", "stream-a", 8)


def test_all_five_metric_types_land(store: Store) -> None:
    stats = store.ingest([IngestItem("metrics", metric_payload())])
    assert stats.metric_points == 5
    got = {
        r[0]: r[1:]
        for r in rows(
            store,
            "SELECT name, type, value, count, sum, bucket_counts IS NOT NULL, quantiles, is_monotonic, "
            "temporality, attributes, service_name, unit FROM metric_points",
        )
    }
    assert got["orders"][:1] + got["orders"][1:2] == ("sum", 3.0)
    assert got["orders"][6:9] == (True, "cumulative", {"region": "eu"})
    assert got["queue.depth"][:2] == ("gauge", 17.5)
    assert got["latency"][0] == "histogram"
    assert got["latency"][2:5] == (1, 120.0, True)
    assert got["payload.size"][0] == "exponential_histogram"
    assert got["payload.size"][2:4] == (1, 2048.0)
    assert got["rpc.duration"][0] == "summary"
    assert got["rpc.duration"][5] == [{"quantile": 0.5, "value": 4.0}, {"quantile": 0.99, "value": 9.5}]
    assert {r[9] for r in got.values()} == {"checkout"}


def test_duplicates_are_stored_once_within_and_across_batches(store: Store) -> None:
    first = store.ingest(
        [
            IngestItem("traces", stamped_span_payload("s1", [1, 2, 3])),
            IngestItem("traces", stamped_span_payload("s1", [3, 4])),
        ]
    )
    assert (first.spans, first.duplicates) == (4, 1)
    second = store.ingest(
        [
            IngestItem("traces", stamped_span_payload("s1", [2, 4, 5])),
            IngestItem("traces", stamped_span_payload("s2", [2])),
        ]
    )
    assert (second.spans, second.duplicates) == (2, 2)
    assert rows(store, "SELECT stream_id, list(seq ORDER BY seq) FROM spans GROUP BY ALL ORDER BY 1") == [
        ("s1", [1, 2, 3, 4, 5]),
        ("s2", [2]),
    ]


def test_duplicates_are_detected_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with Store(path) as store:
        store.ingest([IngestItem("traces", stamped_span_payload("s1", [1, 2, 5]))])
    with Store(path) as store:
        stats = store.ingest([IngestItem("traces", stamped_span_payload("s1", [1, 3, 4, 5, 6]))])
        assert (stats.spans, stats.duplicates) == (3, 2)
        assert rows(store, "SELECT count(*), count(DISTINCT seq) FROM spans") == [(6, 6)]


def test_an_unstored_item_does_not_mark_its_pairs_as_stored() -> None:
    with Store(":memory:") as store:
        store.connection.execute("DROP VIEW traces")
        store.connection.execute("DROP VIEW spans")
        store.connection.execute("ALTER TABLE span_data RENAME TO span_data_gone")
        failed = store.ingest([IngestItem("traces", stamped_span_payload("s1", [1]))])
        assert (failed.spans, failed.dead_letters) == (0, 1)
        store.connection.execute("ALTER TABLE span_data_gone RENAME TO span_data")
        stats = store.ingest([IngestItem("traces", stamped_span_payload("s1", [1]))])
        assert (stats.spans, stats.duplicates) == (1, 0)


def test_garbage_goes_to_dead_letters_and_the_rest_is_stored(store: Store) -> None:
    garbage = b"\xff\xfe not protobuf"
    stats = store.ingest(
        [IngestItem("traces", garbage, tenant="t1"), IngestItem("traces", trace_payload()), IngestItem("bogus", b"")]
    )
    assert (stats.spans, stats.dead_letters) == (3, 2)
    letters = rows(store, "SELECT signal, tenant, error, payload FROM dead_letters ORDER BY signal")
    assert letters[0][0] == "bogus" and "unknown signal" in letters[0][2]
    assert letters[1][:2] == ("traces", "t1")
    assert "cannot decode traces request" in letters[1][2]
    assert letters[1][3] == garbage


def test_a_request_that_decodes_but_cannot_be_stored_is_a_dead_letter(store: Store) -> None:
    request = ExportTraceServiceRequest.FromString(trace_payload())
    # fixed64 nanoseconds past 2262 do not fit TIMESTAMP_NS
    request.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano = 2**64 - 1
    bad = request.SerializeToString()
    stats = store.ingest([IngestItem("traces", trace_payload()), IngestItem("traces", bad)], wal_position=9)
    assert (stats.spans, stats.dead_letters) == (3, 1)
    assert rows(store, "SELECT error LIKE 'cannot store traces request%', payload FROM dead_letters") == [(True, bad)]
    assert store.wal_position() == 9


def test_wal_position_is_stored_with_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with Store(path) as store:
        assert store.wal_position() is None
        store.ingest([IngestItem("logs", log_payload())], wal_position=100)
        store.ingest([], wal_position=250)
    with Store(path) as store:
        assert store.wal_position() == 250
        assert rows(store, "SELECT count(*) FROM logs") == [(3,)]


def test_read_only_store_refuses_ingest_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with pytest.raises(StoreError, match="no such database file"):
        Store(path, read_only=True)
    Store(path).close()
    with Store(path, read_only=True) as store, pytest.raises(StoreError, match="read-only"):
        store.ingest([IngestItem("logs", log_payload())])


def test_close_is_idempotent(store: Store) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.ingest([])


def test_a_log_without_time_is_placed_at_its_observed_time(store: Store) -> None:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.observed_time_unix_nano = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
    record.body.string_value = "no event time"
    store.ingest([IngestItem(signal="logs", payload=request.SerializeToString())])
    assert rows(store, "SELECT epoch_ns(time), epoch_ns(observed_time) FROM logs") == [
        (1_767_225_600_000_000_000, 1_767_225_600_000_000_000)
    ]
    # The raw value is kept, so the rebuilt request still says "unset".
    (rebuilt,) = rebuild_requests(store.connection, "logs")
    assert rebuilt.resource_logs[0].scope_logs[0].log_records[0].time_unix_nano == 0
