"""The three OTLP signals the receiver accepts, and what each one's gRPC service looks like."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


class Signal(StrEnum):
    """An OTLP signal; the value is the name the store uses (``IngestItem.signal``)."""

    TRACES = "traces"
    LOGS = "logs"
    METRICS = "metrics"


@dataclass(frozen=True)
class SignalService:
    """The OTLP/gRPC service of one signal.

    Attributes:
        signal: the signal.
        service_name: fully qualified gRPC service name.
        response_type: the ``Export*ServiceResponse`` message class.
        partial_success_type: the ``Export*PartialSuccess`` message class.
        rejected_field: the ``partial_success`` counter of rejected items.
    """

    signal: Signal
    service_name: str
    response_type: type[Message]
    partial_success_type: type[Message]
    rejected_field: str


SERVICES: tuple[SignalService, ...] = (
    SignalService(
        Signal.TRACES,
        "opentelemetry.proto.collector.trace.v1.TraceService",
        trace_service_pb2.ExportTraceServiceResponse,
        trace_service_pb2.ExportTracePartialSuccess,
        "rejected_spans",
    ),
    SignalService(
        Signal.LOGS,
        "opentelemetry.proto.collector.logs.v1.LogsService",
        logs_service_pb2.ExportLogsServiceResponse,
        logs_service_pb2.ExportLogsPartialSuccess,
        "rejected_log_records",
    ),
    SignalService(
        Signal.METRICS,
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        metrics_service_pb2.ExportMetricsServiceResponse,
        metrics_service_pb2.ExportMetricsPartialSuccess,
        "rejected_data_points",
    ),
)
