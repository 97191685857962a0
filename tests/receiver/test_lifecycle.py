"""Receiver lifecycle, pipeline and error mapping, against an in-memory sink."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from otel_events.errors import ConfigError, ReceiverError
from otel_events.receiver.config import ReceiverConfig
from otel_events.receiver.server import Receiver
from otel_events.receiver.signals import Signal
from otel_events.receiver.status import read_status
from tests.receiver.conftest import LOGS_EXPORT, METRICS_EXPORT, TRACE_EXPORT, MemorySink, raw_export


def test_start_returns_the_bound_port_and_is_idempotent(make_receiver) -> None:
    receiver = make_receiver(sink=MemorySink())
    ports = receiver.start()
    assert ports == receiver.ports and ports.grpc > 0
    assert receiver.start() == ports


def test_shutdown_is_safe_twice_and_before_start(tmp_path: Path) -> None:
    receiver = Receiver(
        ReceiverConfig(db_path=tmp_path / "x.duckdb", grpc_endpoint="127.0.0.1:0", http_endpoint="127.0.0.1:0")
    )
    assert receiver.shutdown() is True
    assert receiver.shutdown() is True
    with pytest.raises(ReceiverError, match="cannot be restarted"):
        receiver.start()


def test_health_service_reports_serving(make_receiver) -> None:
    receiver = make_receiver(sink=MemorySink())
    with grpc.insecure_channel(f"127.0.0.1:{receiver.ports.grpc}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "opentelemetry.proto.collector.trace.v1.TraceService"):
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_each_signal_is_written_and_handed_to_the_sink_in_order(make_receiver) -> None:
    sink = MemorySink()
    receiver = make_receiver(sink=sink)
    calls = ((TRACE_EXPORT, b"t1"), (LOGS_EXPORT, b"l1"), (METRICS_EXPORT, b"m1"), (TRACE_EXPORT, b"t2"))
    for method, payload in calls:
        assert raw_export(receiver.ports.grpc, method, payload) == b""  # an empty Export*ServiceResponse
    records = sink.wait_for(4)
    assert [(r.signal, r.payload) for r in records] == [
        (Signal.TRACES, b"t1"),
        (Signal.LOGS, b"l1"),
        (Signal.METRICS, b"m1"),
        (Signal.TRACES, b"t2"),
    ]
    assert [r.lsn for r in records] == [1, 2, 3, 4]
    assert receiver.shutdown() is True
    assert sink.closed == 1


def test_empty_request_succeeds_without_touching_the_wal(make_receiver) -> None:
    sink = MemorySink()
    receiver = make_receiver(sink=sink)
    assert raw_export(receiver.ports.grpc, TRACE_EXPORT, b"") == b""
    receiver.shutdown()
    assert sink.records == []


def test_invalid_request_is_invalid_argument_and_the_receiver_keeps_serving(make_receiver) -> None:
    sink = MemorySink()
    receiver = make_receiver(sink=sink)
    with pytest.raises(grpc.RpcError) as caught:
        raw_export(receiver.ports.grpc, TRACE_EXPORT, b"bad")
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "not an OTLP request" in caught.value.details()
    raw_export(receiver.ports.grpc, TRACE_EXPORT, b"good")
    assert [r.payload for r in sink.wait_for(1)] == [b"good"]
    assert receiver.counters.snapshot()["rejected"]["invalid_request"] == 1


def test_unstored_records_are_replayed_after_restart_exactly_once(make_receiver) -> None:
    sink = MemorySink()
    sink.failures = 10**9  # the store refuses everything: acknowledged requests wait in the WAL
    first = make_receiver(sink=sink)
    for i in range(5):
        raw_export(first.ports.grpc, TRACE_EXPORT, f"r{i}".encode())
    assert first.shutdown(timeout=0.5) is False
    assert sink.records == []
    sink.failures = 0
    second = make_receiver(sink=sink)
    raw_export(second.ports.grpc, TRACE_EXPORT, b"r5")
    records = sink.wait_for(6)
    assert second.shutdown() is True
    assert [r.payload for r in sink.records] == [f"r{i}".encode() for i in range(6)]
    assert [r.lsn for r in records] == [1, 2, 3, 4, 5, 6]
    # A third start has nothing to replay.
    third = make_receiver(sink=sink)
    third.shutdown()
    assert len(sink.records) == 6


def test_a_failing_store_is_retried_until_it_recovers(make_receiver) -> None:
    sink = MemorySink()
    sink.failures = 2
    receiver = make_receiver(sink=sink)
    raw_export(receiver.ports.grpc, LOGS_EXPORT, b"kept")
    assert [r.payload for r in sink.wait_for(1)] == [b"kept"]
    assert receiver.counters.snapshot()["store_errors"] == 2


def test_full_wal_budget_is_resource_exhausted_with_a_retry_delay(make_receiver) -> None:
    sink = MemorySink()
    sink.failures = 10**9
    receiver = make_receiver(sink=sink, max_message_size=4096, wal_max_bytes=8192)
    for _ in range(5):  # ~1.5 KiB each with framing: the sixth would pass the 8 KiB budget
        raw_export(receiver.ports.grpc, TRACE_EXPORT, b"x" * 1500)
    with pytest.raises(grpc.RpcError) as caught:
        raw_export(receiver.ports.grpc, TRACE_EXPORT, b"x" * 1500)
    sink.failures = 0
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    trailing = dict(caught.value.trailing_metadata())
    retry_info = error_details_pb2.RetryInfo.FromString(trailing["google.rpc.retryinfo-bin"])
    assert retry_info.retry_delay.seconds + retry_info.retry_delay.nanos / 1e9 > 0
    receiver.shutdown()
    assert len(sink.records) == 5


def test_wal_write_failure_is_unavailable(make_receiver) -> None:
    receiver = make_receiver(sink=MemorySink())
    os.close(receiver._wal._fd)  # the WAL's disk goes away: writes fail with an OS error
    with pytest.raises(grpc.RpcError) as caught:
        raw_export(receiver.ports.grpc, TRACE_EXPORT, b"lost")
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "write-ahead log" in caught.value.details()
    receiver._wal._fd = -1


def test_oversize_request_is_resource_exhausted(make_receiver) -> None:
    sink = MemorySink()
    receiver = make_receiver(sink=sink, max_message_size=2048)
    with pytest.raises(grpc.RpcError) as caught:
        raw_export(receiver.ports.grpc, TRACE_EXPORT, b"x" * 4096)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    raw_export(receiver.ports.grpc, TRACE_EXPORT, b"small")
    assert [r.payload for r in sink.wait_for(1)] == [b"small"]


def test_gzip_requests_are_accepted(make_receiver) -> None:
    sink = MemorySink()
    receiver = make_receiver(sink=sink)
    raw_export(receiver.ports.grpc, TRACE_EXPORT, b"z" * 10000, compression=grpc.Compression.Gzip)
    assert [r.payload for r in sink.wait_for(1)] == [b"z" * 10000]


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        receiver = Receiver(
            ReceiverConfig(
                db_path=tmp_path / "x.duckdb", grpc_endpoint=f"127.0.0.1:{port}", http_endpoint="127.0.0.1:0"
            ),
            sink_factory=lambda _config: MemorySink(),
            validate=lambda signal, payload: None,  # never called
        )
        with pytest.raises(ReceiverError, match=f"cannot listen on 127.0.0.1:{port}"):
            receiver.start()
    # Everything opened before the failure was closed again: the WAL directory is free.
    again = Receiver(
        ReceiverConfig(db_path=tmp_path / "x.duckdb", grpc_endpoint="127.0.0.1:0", http_endpoint="127.0.0.1:0"),
        sink_factory=lambda _config: MemorySink(),
        validate=lambda signal, payload: None,
    )
    again.start()
    again.shutdown()


def test_status_file_is_written_while_running_and_removed_after(make_receiver, tmp_path: Path) -> None:
    sink = MemorySink()
    receiver = make_receiver(sink=sink, status_interval=0.05)
    raw_export(receiver.ports.grpc, TRACE_EXPORT, b"one")
    sink.wait_for(1)
    wal_dir = receiver.config.resolved_wal_dir
    assert wal_dir == tmp_path / "store.wal"
    receiver._status.write()
    status = read_status(wal_dir)
    assert status["received_requests"] == 1 and status["pid"] == os.getpid()
    assert status["grpc_endpoint"] == f"127.0.0.1:{receiver.ports.grpc}"
    receiver.shutdown()
    with pytest.raises(ReceiverError, match="no receiver is running"):
        read_status(wal_dir)


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ConfigError, match="invalid endpoint"):
        Receiver(ReceiverConfig(grpc_endpoint="localhost"))
    with pytest.raises(ConfigError, match="max message size"):
        ReceiverConfig(max_message_size=10).validate()
