"""Spans and log records exported by the real OTLP/gRPC exporters arrive stamped."""

from __future__ import annotations

from opentelemetry import baggage, context
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from otel_events.sdk import EventLogProcessor, EventSpanProcessor
from otel_events.sdk.sequence import process_stream
from tests.sdk.otlp_sink import OtlpSink, attributes


def test_span_through_otlp_exporter_carries_the_attributes(otlp_sink: OtlpSink) -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(
        EventSpanProcessor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp_sink.endpoint, insecure=True)))
    )
    tracer = provider.get_tracer("otlp")
    token = context.attach(baggage.set_baggage("correlation.id", "order-7"))
    try:
        with tracer.start_as_current_span("checkout", attributes={"api_key": "s3cr3t"}) as span:
            span.add_event("retry", {"password": "hunter2"})
            span.set_status(Status(StatusCode.ERROR, "declined"))
    finally:
        context.detach(token)
    provider.shutdown()

    (received,) = otlp_sink.spans()
    attrs = attributes(received.attributes)
    assert attrs["otel_events.category"] == "critical"
    assert attrs["otel_events.rule"] == "status.error"
    assert attrs["otel_events.stream_id"] == process_stream().stream_id
    assert isinstance(attrs["otel_events.seq"], int)
    assert attrs["otel_events.correlation_id"] == "order-7"
    assert attrs["api_key"].startswith("[scrubbed: ")
    assert attributes(received.events[0].attributes)["password"].startswith("[scrubbed: ")


def test_log_through_otlp_exporter_carries_the_attributes(otlp_sink: OtlpSink) -> None:
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(
        EventLogProcessor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=otlp_sink.endpoint, insecure=True)))
    )
    provider.get_logger("otlp").emit(event_name="cache_metrics", body="hits=10", attributes={"cache.size": 3})
    provider.shutdown()

    (received,) = otlp_sink.log_records()
    attrs = attributes(received.attributes)
    assert received.event_name == "cache_metrics"
    assert (attrs["otel_events.category"], attrs["otel_events.rule"]) == ("performance", "name.exact")
    assert attrs["otel_events.stream_id"] == process_stream().stream_id
    assert attrs["cache.size"] == 3
