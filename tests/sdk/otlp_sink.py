"""An in-test OTLP/gRPC collector: real trace, logs and metrics services that keep what they receive."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


@dataclass
class OtlpSink:
    """Requests received so far, per signal."""

    endpoint: str = ""
    traces: list[trace_service_pb2.ExportTraceServiceRequest] = field(default_factory=list)
    logs: list[logs_service_pb2.ExportLogsServiceRequest] = field(default_factory=list)
    metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def spans(self) -> list:
        with self.lock:
            return [s for r in self.traces for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]

    def log_records(self) -> list:
        with self.lock:
            return [lr for r in self.logs for rl in r.resource_logs for sl in rl.scope_logs for lr in sl.log_records]

    def metric_names(self) -> set[str]:
        with self.lock:
            return {
                m.name for r in self.metrics for rm in r.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            }

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Poll ``condition`` until it holds or ``timeout`` seconds pass (bounded loop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.02)
        return condition()


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, sink: OtlpSink) -> None:
        self.sink = sink

    def Export(self, request, context):
        with self.sink.lock:
            self.sink.traces.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, sink: OtlpSink) -> None:
        self.sink = sink

    def Export(self, request, context):
        with self.sink.lock:
            self.sink.logs.append(request)
        return logs_service_pb2.ExportLogsServiceResponse()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, sink: OtlpSink) -> None:
        self.sink = sink

    def Export(self, request, context):
        with self.sink.lock:
            self.sink.metrics.append(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


@contextmanager
def running_sink() -> Iterator[OtlpSink]:
    """Serve the three OTLP services on a free loopback port; stopped on exit."""
    sink = OtlpSink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(sink), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(sink), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(sink), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sink.endpoint = f"127.0.0.1:{port}"
    try:
        yield sink
    finally:
        server.stop(grace=None)


def any_value(value: AnyValue) -> object:
    """Plain Python value of an OTLP AnyValue."""
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def attributes(key_values: list[KeyValue]) -> dict[str, object]:
    """Plain dict of OTLP attributes."""
    return {kv.key: any_value(kv.value) for kv in key_values}
