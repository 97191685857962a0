"""A standard OTLP exporter refused by a full receiver backs off on the RetryInfo delay and gets its data in."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_events.receiver.store_sink import StoreSink
from otel_events.receiver.wal import WalRecord
from otel_events.store import Store, validate_request
from tests.receiver.conftest import TRACE_EXPORT, raw_export
from tests.receiver.otlp_requests import make_span, trace_request


class GatedSink:
    """The real store behind a gate: nothing is stored until ``gate`` is set, so the WAL fills up."""

    def __init__(self, inner: StoreSink) -> None:
        self._inner = inner
        self.gate = threading.Event()

    def store_records(self, records: Sequence[WalRecord]) -> int:
        self.gate.wait(60)
        return self._inner.store_records(records)

    def wal_position(self) -> int | None:
        return self._inner.wal_position()

    def close(self) -> None:
        self._inner.close()


def sdk_spans(count: int) -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "patient-client"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests")
    for number in range(count):
        with tracer.start_as_current_span(f"payment.capture.{number}"):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def test_the_otlp_exporter_retries_after_the_delay_and_its_spans_are_stored(
    make_receiver, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db_path = tmp_path / "store.duckdb"
    sink = GatedSink(StoreSink(db_path))
    request.addfinalizer(sink.gate.set)  # runs before the receiver's teardown drain, whatever fails here
    receiver = make_receiver(
        sink=sink, validate=validate_request, max_message_size=4096, wal_max_bytes=16384, wal_segment_bytes=4096
    )
    port = receiver.ports.grpc
    filler = trace_request([make_span("ledger.write", otel_events__category="critical")] * 20).SerializeToString()
    for _ in range(100):  # bounded: the 16 KiB budget holds a handful of these
        try:
            raw_export(port, TRACE_EXPORT, filler)
        except grpc.RpcError as exc:
            assert exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            break
    else:
        raise AssertionError("the WAL budget never filled up")
    refused_before = receiver.status()["refused_requests"]

    results: list[SpanExportResult] = []
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=30)
    sender = threading.Thread(target=lambda: results.append(exporter.export(sdk_spans(3))))
    sender.start()
    for _ in range(3000):  # until the exporter's first attempt was refused (bounded: 30 s)
        if receiver.status()["refused_requests"] > refused_before:
            break
        sender.join(0.01)
    assert receiver.status()["refused_requests"] > refused_before
    sink.gate.set()  # the store catches up; the exporter's retry after the suggested delay gets in
    sender.join(60)
    exporter.shutdown()
    assert results == [SpanExportResult.SUCCESS]
    assert receiver.shutdown()
    with Store(db_path, read_only=True) as store:
        names = store.connection.execute(
            "SELECT name FROM spans WHERE service_name = 'patient-client' ORDER BY name"
        ).fetchall()
    assert names == [("payment.capture.0",), ("payment.capture.1",), ("payment.capture.2",)]
