"""End to end: real OpenTelemetry SDK exporters and raw gRPC calls -> receiver -> DuckDB views."""

from __future__ import annotations

import re

import grpc
import pytest
from opentelemetry import trace as trace_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from otel_events.sdk import EventLogProcessor, EventSpanProcessor
from tests.receiver.conftest import LOGS_EXPORT, METRICS_EXPORT, TRACE_EXPORT, raw_export
from tests.receiver.otlp_requests import make_span, trace_request
from tests.support import count, query, wait_until


def test_sdk_traces_logs_and_metrics_arrive_with_the_public_columns(make_receiver) -> None:
    receiver = make_receiver()
    endpoint = f"127.0.0.1:{receiver.ports.grpc}"
    resource = Resource.create({"service.name": "checkout"})

    # Unclassified spans (as a Java or Go app would send) and spans classified in-app by the SDK processor.
    plain = TracerProvider(resource=resource)
    plain.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    stamped = TracerProvider(resource=resource)
    stamped.add_span_processor(
        EventSpanProcessor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    )
    tracer = plain.get_tracer("shop", "1.2.3")
    with tracer.start_as_current_span("checkout", kind=trace_api.SpanKind.SERVER) as root:
        root.set_attribute("http.route", "/cart")
        root.set_attribute("retries", 3)
        with tracer.start_as_current_span("charge card") as child:
            child.set_status(Status(StatusCode.ERROR, "card declined"))
    with stamped.get_tracer("shop").start_as_current_span("cache_metrics"):
        pass
    plain.shutdown()
    stamped.shutdown()

    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(
        EventLogProcessor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True)))
    )
    logs.get_logger("shop").emit(
        severity_number=SeverityNumber.ERROR, severity_text="ERROR", body="payment failed", attributes={"order": 7}
    )
    logs.shutdown()

    reader = InMemoryMetricReader()
    meters = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meters.get_meter("shop")
    meter.create_counter("orders", unit="1").add(5, {"region": "eu"})
    meter.create_histogram("latency", unit="ms").record(42.0)
    meter.create_gauge("queue_length").set(9)
    metric_exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True)
    assert metric_exporter.export(reader.get_metrics_data()) is MetricExportResult.SUCCESS
    metric_exporter.shutdown()
    meters.shutdown()

    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans") == 3)
    wait_until(lambda: count(receiver, "SELECT count(*) FROM logs") == 1)
    wait_until(lambda: count(receiver, "SELECT count(*) FROM metric_points") == 3)

    spans = {
        row[0]: row
        for row in query(
            receiver,
            "SELECT name, trace_id, span_id, parent_span_id, kind, status_code, status_message, service_name,"
            " scope_name, scope_version, attributes['http.route'], attributes['retries'], category, rule,"
            " category_source, stream_id, seq, duration_ms FROM spans",
        )
    }
    root_row, child_row, cache_row = spans["checkout"], spans["charge card"], spans["cache_metrics"]
    assert re.fullmatch(r"[0-9a-f]{32}", root_row[1]) and re.fullmatch(r"[0-9a-f]{16}", root_row[2])
    assert root_row[3] is None and child_row[3] == root_row[2] and child_row[1] == root_row[1]
    assert (root_row[4], root_row[5], root_row[7]) == ("server", "unset", "checkout")
    assert root_row[8:12] == ("shop", "1.2.3", "/cart", "3")
    assert child_row[5:7] == ("error", "card declined")
    assert child_row[12:15] == ("critical", "status.error", "receiver")
    assert root_row[14] == "receiver" and root_row[15] is None
    assert cache_row[12:15] == ("performance", "name.exact", "sdk")
    assert cache_row[15] and cache_row[16] >= 1
    assert root_row[17] >= 0

    trace_sql = "SELECT span_count, error_count, root_name FROM traces WHERE trace_id = ?"
    assert query(receiver, trace_sql, [root_row[1]]) == [(2, 1, "checkout")]

    log_row = query(
        receiver,
        "SELECT severity_number, severity_text, body, service_name, attributes['order'], category, category_source"
        " FROM logs",
    )
    assert log_row == [(17, "ERROR", "payment failed", "checkout", "7", "critical", "sdk")]

    points = {
        row[0]: row[1:]
        for row in query(receiver, "SELECT name, type, value, count, sum, service_name FROM metric_points")
    }
    assert points["orders"][0] == "sum" and points["orders"][1] == 5
    assert points["latency"][0] == "histogram" and points["latency"][2:4] == (1, 42.0)
    assert points["queue_length"][0] == "gauge" and points["queue_length"][1] == 9
    assert {row[4] for row in points.values()} == {"checkout"}


def test_bad_input_gets_the_right_status_and_nothing_accepted_is_lost(make_receiver) -> None:
    receiver = make_receiver(max_message_size=64 * 1024)
    port = receiver.ports.grpc
    raw_export(port, TRACE_EXPORT, trace_request([make_span("first")]).SerializeToString())
    good = trace_request([make_span("truncated", http__route="/x" * 50)]).SerializeToString()

    for method, payload in (
        (TRACE_EXPORT, b"\xff\xfe garbage bytes"),
        (TRACE_EXPORT, good[: len(good) // 2]),
        (LOGS_EXPORT, b"\x0a\x05abc"),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            raw_export(port, method, payload)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "not valid protobuf" in caught.value.details()

    with pytest.raises(grpc.RpcError) as caught:
        raw_export(port, TRACE_EXPORT, trace_request([make_span("big", blob="x" * 100_000)]).SerializeToString())
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED

    for method, request in (
        (TRACE_EXPORT, ExportTraceServiceRequest()),
        (LOGS_EXPORT, ExportLogsServiceRequest()),
        (METRICS_EXPORT, ExportMetricsServiceRequest()),
    ):
        assert raw_export(port, method, request.SerializeToString()) == b""

    mixed = trace_request(
        [make_span("kept"), make_span("short trace id", trace_id=b"\x01" * 8), make_span("bad span id", span_id=b"")]
    )
    response = ExportTraceServiceResponse.FromString(raw_export(port, TRACE_EXPORT, mixed.SerializeToString()))
    assert response.partial_success.rejected_spans == 2
    assert "trace_id of 8 bytes" in response.partial_success.error_message

    raw_export(port, TRACE_EXPORT, trace_request([make_span("last")]).SerializeToString())
    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans") == 3)
    assert sorted(row[0] for row in query(receiver, "SELECT name FROM spans")) == ["first", "kept", "last"]
    rejected = receiver.counters.snapshot()["rejected"]
    assert rejected["invalid_request"] == 3 and rejected["invalid_item"] == 2
    assert count(receiver, "SELECT count(*) FROM dead_letters") == 0


def test_a_retried_request_with_stream_and_seq_is_stored_once(make_receiver) -> None:
    receiver = make_receiver()
    spans = [
        make_span(f"op{seq}", otel_events__stream_id="stream-a", otel_events__seq=seq, otel_events__category="system")
        for seq in (1, 2, 3)
    ]
    payload = trace_request(spans).SerializeToString()
    for _ in range(3):  # the exporter retried twice (e.g. the first answers were lost)
        raw_export(receiver.ports.grpc, TRACE_EXPORT, payload, compression=grpc.Compression.Gzip)
    wait_until(lambda: receiver.counters.snapshot()["stored_records"] == 3)
    rows = query(receiver, "SELECT stream_id, seq, category_source FROM spans ORDER BY seq")
    assert rows == [("stream-a", 1, "sdk"), ("stream-a", 2, "sdk"), ("stream-a", 3, "sdk")]


def test_rows_are_queryable_soon_after_acknowledgement(make_receiver) -> None:
    receiver = make_receiver()
    raw_export(receiver.ports.grpc, TRACE_EXPORT, trace_request([make_span("visible")]).SerializeToString())
    wait_until(lambda: count(receiver, "SELECT count(*) FROM spans WHERE name = 'visible'") == 1, timeout=5)
