"""Sending serialized OTLP export requests to a target: OTLP/gRPC (raw channel calls) or OTLP/HTTP protobuf.

Both answer the same way: an ``ExportOutcome`` (with OTLP ``partial_success`` rejections), or an ``ExportFailure``
that says whether the request may be retried and after what server-requested delay.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Protocol

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_events.receiver.config import parse_endpoint
from otel_events.stream.replay_plan import Signal

_GRPC_METHODS = {
    Signal.TRACES: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    Signal.LOGS: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    Signal.METRICS: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}
_HTTP_PATHS = {Signal.TRACES: "/v1/traces", Signal.LOGS: "/v1/logs", Signal.METRICS: "/v1/metrics"}
_RESPONSES = {
    Signal.TRACES: (ExportTraceServiceResponse, "rejected_spans"),
    Signal.LOGS: (ExportLogsServiceResponse, "rejected_log_records"),
    Signal.METRICS: (ExportMetricsServiceResponse, "rejected_data_points"),
}
# OTLP/gRPC retryable codes (OTLP specification, "Failures"); RESOURCE_EXHAUSTED only with a RetryInfo.
_RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_RETRYABLE_HTTP = frozenset({429, 502, 503, 504})
_RETRY_INFO_KEY = "google.rpc.retryinfo-bin"
_STATUS_DETAILS_KEY = "grpc-status-details-bin"
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    """An accepted request.

    Attributes:
        rejected: items the target refused through OTLP ``partial_success``.
        message: the target's partial-success message.
    """

    rejected: int = 0
    message: str = ""


class ExportFailure(Exception):
    """A request the target did not accept.

    Attributes:
        retryable: whether sending it again may succeed.
        retry_after: the target's requested delay in seconds, if it gave one.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Exporter(Protocol):
    """Sends one serialized export request."""

    def export(self, signal: Signal, payload: bytes, timeout: float) -> ExportOutcome:
        """Send ``payload`` (a serialized Export*ServiceRequest); raise ``ExportFailure`` when not accepted."""
        ...

    def close(self) -> None:
        """Release connections. Safe to call twice."""
        ...


def _outcome(signal: Signal, body: bytes) -> ExportOutcome:
    response_class, field = _RESPONSES[signal]
    try:
        response = response_class.FromString(body)
    except DecodeError:  # an empty or foreign body still means "accepted"
        return ExportOutcome()
    partial = response.partial_success
    return ExportOutcome(rejected=getattr(partial, field), message=partial.error_message)


def _grpc_retry_after(error: grpc.RpcError) -> float | None:
    metadata = dict(error.trailing_metadata() or ())
    raw = metadata.get(_RETRY_INFO_KEY)
    if raw is not None:
        info = error_details_pb2.RetryInfo.FromString(raw)
        return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    raw = metadata.get(_STATUS_DETAILS_KEY)
    if raw is not None:
        for detail in status_pb2.Status.FromString(raw).details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


class GrpcExporter:
    """OTLP/gRPC: each request is sent as raw bytes on the standard Export methods (no re-serialization).

    Args:
        target: ``HOST:PORT``.
        headers: metadata sent with every call (e.g. ``authorization``).
    """

    def __init__(self, target: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        parse_endpoint(target)
        self._channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ],
        )
        self._metadata = tuple((key.lower(), value) for key, value in headers)
        self._calls = {signal: self._channel.unary_unary(method) for signal, method in _GRPC_METHODS.items()}

    def export(self, signal: Signal, payload: bytes, timeout: float) -> ExportOutcome:
        """Send one request; see ``Exporter.export``."""
        try:
            body = self._calls[signal](payload, timeout=timeout, metadata=self._metadata or None)
        except grpc.RpcError as error:
            code = error.code()
            retry_after = _grpc_retry_after(error)
            retryable = code in _RETRYABLE_CODES or (
                code is grpc.StatusCode.RESOURCE_EXHAUSTED and retry_after is not None
            )
            raise ExportFailure(
                f"{code.name}: {error.details()}", retryable=retryable, retry_after=retry_after
            ) from None
        return _outcome(signal, body)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()


class HttpExporter:
    """OTLP/HTTP with protobuf bodies over one kept-alive connection (re-opened after an error).

    Args:
        target: ``HOST:PORT``.
        headers: sent with every request.
    """

    def __init__(self, target: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._host, self._port = parse_endpoint(target)
        self._headers = {"Content-Type": "application/x-protobuf", **dict(headers)}
        self._connection: http.client.HTTPConnection | None = None

    def export(self, signal: Signal, payload: bytes, timeout: float) -> ExportOutcome:
        """Send one request; see ``Exporter.export``."""
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        connection = self._connection
        connection.timeout = timeout
        try:
            connection.request("POST", _HTTP_PATHS[signal], body=payload, headers=self._headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ExportFailure(f"cannot reach {self._host}:{self._port}: {exc}", retryable=True) from None
        if response.status == 200:
            return _outcome(signal, body)
        retry_after = _seconds(response.getheader("Retry-After"))
        message = body[:200].decode("utf-8", "replace").strip()
        raise ExportFailure(
            f"HTTP {response.status} {response.reason}: {message}",
            retryable=response.status in _RETRYABLE_HTTP,
            retry_after=retry_after,
        )

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _seconds(text: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is not used by OTLP receivers and is ignored)."""
    if text is None:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        return None
