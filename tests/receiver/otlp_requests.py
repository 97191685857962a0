"""Hand-built OTLP requests for receiver tests (raw protobuf, so bad ids and exact stamps can be expressed)."""

from __future__ import annotations

import os

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span


def attribute(key: str, value: str | int) -> KeyValue:
    """A string or int ``KeyValue``."""
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def make_span(name: str, *, trace_id: bytes | None = None, span_id: bytes | None = None, **attrs: str | int) -> Span:
    """A server span with random ids (or the given ones) lasting 5 ms."""
    return Span(
        trace_id=os.urandom(16) if trace_id is None else trace_id,
        span_id=os.urandom(8) if span_id is None else span_id,
        name=name,
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_000_005_000_000,
        attributes=[attribute(key.replace("__", "."), value) for key, value in attrs.items()],
    )


def trace_request(spans: list[Span], service: str = "raw-client") -> ExportTraceServiceRequest:
    """One resource (``service.name``), one scope, the given spans."""
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[attribute("service.name", service)]),
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )
