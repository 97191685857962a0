"""Export requests produced by the real OpenTelemetry SDK and its OTLP encoders, for store tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

RESOURCE = Resource.create({"service.name": "checkout", "deployment.environment": "test"})


@contextmanager
def _tracer() -> Iterator[tuple[object, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider.get_tracer("shop.tests", "1.2.3"), exporter
    finally:
        provider.shutdown()


def trace_payload() -> bytes:
    """A trace of three spans: a server root, a client child with an error, and an sdk-stamped child."""
    with _tracer() as (tracer, exporter):
        with tracer.start_as_current_span(
            "GET /cart", kind=SpanKind.SERVER, attributes={"http.route": "/cart", "http.status": 200}
        ):
            with tracer.start_as_current_span(
                "db.query", kind=SpanKind.CLIENT, attributes={"db.rows": 12, "db.ok": True}
            ) as db:
                db.add_event("retry", {"attempt": 2})
                db.set_status(Status(StatusCode.ERROR, "connection reset"))
            with tracer.start_as_current_span(
                "cache.lookup",
                attributes={
                    "otel_events.category": "performance",
                    "otel_events.rule": "keyword.performance",
                    "otel_events.stream_id": "stream-a",
                    "otel_events.seq": 7,
                    "otel_events.correlation_id": "order-42",
                    "cache.hit": False,
                },
            ):
                pass
        return encode_spans(exporter.get_finished_spans()).SerializeToString()


def stamped_span_payload(stream_id: str, seqs: list[int]) -> bytes:
    """One root span per seq, stamped as the SDK processor would."""
    with _tracer() as (tracer, exporter):
        for seq in seqs:
            attributes = {
                "otel_events.category": "system",
                "otel_events.rule": "default",
                "otel_events.stream_id": stream_id,
                "otel_events.seq": seq,
            }
            with tracer.start_as_current_span(f"job.{seq}", attributes=attributes):
                pass
        return encode_spans(exporter.get_finished_spans()).SerializeToString()


def log_payload() -> bytes:
    """Three log records: an error, an event with a map body, and an sdk-stamped info record."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("shop.logs")
    logger.emit(
        timestamp=1_700_000_000_000_000_000,
        severity_number=SeverityNumber.ERROR,
        severity_text="ERROR",
        body="payment failed",
        attributes={"order.id": 42},
    )
    logger.emit(
        timestamp=1_700_000_000_100_000_000,
        severity_number=SeverityNumber.INFO,
        body={"items": 3, "total": 9.5},
        event_name="session_start",
    )
    logger.emit(
        timestamp=1_700_000_000_200_000_000,
        severity_number=SeverityNumber.INFO,
        body="cart viewed",
        attributes={
            "otel_events.category": "user_activity",
            "otel_events.rule": "name.exact",
            "otel_events.stream_id": "stream-a",
            "otel_events.seq": 8,
        },
    )
    payload = encode_logs(exporter.get_finished_logs()).SerializeToString()
    provider.shutdown()
    return payload


def metric_payload() -> bytes:
    """Gauge, sum, histogram and exponential histogram from the SDK, plus a summary (the SDK makes none)."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        resource=RESOURCE,
        metric_readers=[reader],
        views=[View(instrument_name="payload.size", aggregation=ExponentialBucketHistogramAggregation())],
    )
    meter = provider.get_meter("shop.metrics")
    meter.create_counter("orders", unit="1", description="orders placed").add(3, {"region": "eu"})
    meter.create_gauge("queue.depth").set(17.5, {"queue": "mail"})
    meter.create_histogram("latency", unit="ms").record(120.0, {"route": "/cart"})
    meter.create_histogram("payload.size", unit="By").record(2048, {"route": "/cart"})
    request = encode_metrics(reader.get_metrics_data())
    provider.shutdown()
    summary = request.resource_metrics[0].scope_metrics[0].metrics.add()
    summary.name = "rpc.duration"
    point = summary.summary.data_points.add()
    point.time_unix_nano = 1_700_000_000_000_000_000
    point.count = 10
    point.sum = 55.0
    for quantile, value in ((0.5, 4.0), (0.99, 9.5)):
        q = point.quantile_values.add()
        q.quantile = quantile
        q.value = value
    return ExportMetricsServiceRequest.FromString(request.SerializeToString()).SerializeToString()
