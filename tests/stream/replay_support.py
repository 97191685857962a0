"""Helpers for replay, retention and handler tests: receivers on free ports, stores built from raw requests."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from otel_events.receiver.config import ReceiverConfig
from otel_events.receiver.server import Receiver
from otel_events.store import IngestItem, Store
from tests.receiver.otlp_requests import make_span, trace_request

SECOND = 1_000_000_000


def start_receiver(db_path: Path, **overrides: object) -> Receiver:
    """A real receiver on free loopback ports (gRPC and HTTP) writing ``db_path``."""
    fields: dict[str, object] = {"grpc_endpoint": "127.0.0.1:0", "http_endpoint": "127.0.0.1:0", **overrides}
    receiver = Receiver(ReceiverConfig(db_path=db_path, **fields))  # type: ignore[arg-type]
    receiver.start()
    return receiver


def timed_spans(times_ms: list[int], *, base_ns: int = 1_700_000_000 * SECOND, service: str = "raw-client") -> bytes:
    """One trace request whose spans end at ``base + t`` ms (5 ms long each), named ``op<t>``, without stamps."""
    spans = []
    for offset in times_ms:
        span = make_span(f"op{offset}", offset=offset)
        span.end_time_unix_nano = base_ns + offset * 1_000_000
        span.start_time_unix_nano = span.end_time_unix_nano - 5_000_000
        spans.append(span)
    return trace_request(spans, service).SerializeToString()


def log_request(times_ms: list[int], *, base_ns: int = 1_700_000_000 * SECOND, severity: int = 9) -> bytes:
    """One logs request with records at ``base + t`` ms."""
    records = [
        LogRecord(
            time_unix_nano=base_ns + offset * 1_000_000,
            severity_number=severity,
            body=AnyValue(string_value=f"log at {offset}"),
        )
        for offset in times_ms
    ]
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="raw-client"))])
    request = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=records)])]
    )
    return request.SerializeToString()


def build_store(path: Path, items: list[IngestItem]) -> None:
    """Write a store file holding ``items``."""
    with Store(path) as store:
        store.ingest(items)
