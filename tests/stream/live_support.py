"""Helpers for the live API tests: a real receiver on a free port, OTLP exports over gRPC, waiting for storage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from otel_events.receiver.config import ReceiverConfig
from otel_events.receiver.server import Receiver
from tests.receiver.otlp_requests import make_span, trace_request

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS_EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


@contextmanager
def running_receiver(db_path: Path, **overrides: object) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1:0 (gRPC only) writing ``db_path``; shut down on exit."""
    fields = {"db_path": db_path, "grpc_endpoint": "127.0.0.1:0", "http_endpoint": "none", **overrides}
    receiver = Receiver(ReceiverConfig(**fields))  # type: ignore[arg-type]
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.shutdown()


def target_of(receiver: Receiver) -> str:
    """``HOST:PORT`` of the receiver's gRPC listener."""
    assert receiver.ports is not None
    return f"127.0.0.1:{receiver.ports.grpc}"


def export_spans(target: str, names: list[str], service: str = "shop", token: str | None = None) -> None:
    """Export one span per name in one request."""
    request = trace_request([make_span(name) for name in names], service=service)
    _export(target, TRACE_EXPORT, request.SerializeToString(), token)


def export_logs(target: str, bodies: list[str], service: str = "shop", token: str | None = None) -> None:
    """Export one log record per body in one request."""
    records = [
        LogRecord(time_unix_nano=1_700_000_000_000_000_000 + i, body=AnyValue(string_value=body), severity_number=9)
        for i, body in enumerate(bodies)
    ]
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))])
    request = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=records)])]
    )
    _export(target, LOGS_EXPORT, request.SerializeToString(), token)


def _export(target: str, method: str, payload: bytes, token: str | None) -> None:
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    with grpc.insecure_channel(target) as channel:
        channel.unary_unary(method)(payload, timeout=30, metadata=metadata)


def wait_stored(receiver: Receiver, items: int, timeout: float = 30.0) -> None:
    """Wait until the receiver has stored at least ``items`` items (bounded)."""
    deadline = time.monotonic() + timeout
    while receiver.counters.snapshot()["stored_items"] < items:
        assert time.monotonic() < deadline, f"receiver stored {receiver.counters.snapshot()['stored_items']} items"
        time.sleep(0.02)
