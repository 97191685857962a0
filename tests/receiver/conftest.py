"""Fixtures for receiver tests: receivers on free loopback ports, an in-memory record sink."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from otel_events.receiver.config import ReceiverConfig
from otel_events.receiver.server import Receiver
from otel_events.receiver.wal import WalRecord

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS_EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
METRICS_EXPORT = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


class MemorySink:
    """A record sink keeping records in a list; survives receiver restarts like a database file would.

    ``failures`` makes the next calls raise, as a store with a full disk does.
    """

    def __init__(self) -> None:
        self.records: list[WalRecord] = []
        self.position: int | None = None
        self.failures = 0
        self.closed = 0
        self.stored = threading.Condition()

    def store_records(self, records: Sequence[WalRecord]) -> int:
        with self.stored:
            if self.failures:
                self.failures -= 1
                raise OSError("disk full")
            self.records.extend(records)
            self.position = records[-1].lsn
            self.stored.notify_all()
            return len(records)

    def wal_position(self) -> int | None:
        return self.position

    def close(self) -> None:
        self.closed += 1

    def wait_for(self, count: int, timeout: float = 10.0) -> list[WalRecord]:
        with self.stored:
            self.stored.wait_for(lambda: len(self.records) >= count, timeout)
            return list(self.records)


@dataclass
class CountedValidation:
    payload: bytes
    accepted: int
    rejected: int
    message: str


def count_bytes_validator(signal: str, payload: bytes) -> CountedValidation:
    """A stand-in validation for sink-level tests: every request is one item, ``b"bad"`` is refused."""
    from otel_events.errors import OtelEventsError

    if payload == b"bad":
        raise OtelEventsError("not an OTLP request")
    return CountedValidation(payload, 1 if payload else 0, 0, "")


ReceiverFactory = Callable[..., Receiver]


@pytest.fixture
def make_receiver(tmp_path: Path) -> Iterator[ReceiverFactory]:
    """Build and start receivers on 127.0.0.1:0 under tmp_path; all are shut down at teardown."""
    started: list[Receiver] = []

    def factory(*, sink: MemorySink | None = None, validate=None, **overrides: object) -> Receiver:
        fields = {
            "db_path": tmp_path / "store.duckdb",
            "grpc_endpoint": "127.0.0.1:0",
            "http_endpoint": "127.0.0.1:0",
            **overrides,
        }
        kwargs: dict[str, object] = {}
        if sink is not None:
            kwargs["sink_factory"] = lambda _config: sink
            kwargs["validate"] = validate or count_bytes_validator
        elif validate is not None:
            kwargs["validate"] = validate
        receiver = Receiver(ReceiverConfig(**fields), **kwargs)  # type: ignore[arg-type]
        started.append(receiver)
        receiver.start()
        return receiver

    yield factory
    for receiver in started:
        receiver.shutdown()


def raw_export(port: int, method: str, payload: bytes, **kwargs: object) -> bytes:
    """Call an Export method with raw request bytes; returns the raw response bytes."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(method)  # no serializers: bytes in and out
        return call(payload, timeout=10, **kwargs)
