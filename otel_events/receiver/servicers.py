"""One thin OTLP/gRPC ``Export`` servicer per signal: validate, write to the WAL, acknowledge.

Requests are registered with identity (de)serializers, so the request bytes go to the WAL as received
(PERF-NOTES: a raw-bytes handler serves 0.7-1.5M spans/s; decoding happens later, in the pipeline).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn, Protocol

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2

from otel_events.errors import OtelEventsError, ReceiverError
from otel_events.receiver.counters import ReceiverCounters, RejectReason
from otel_events.receiver.signals import SERVICES, SignalService
from otel_events.receiver.wal import WriteAheadLog

_logger = logging.getLogger(__name__)

# The OTLP exporters read this trailing metadata key to choose their backoff (google.rpc.RetryInfo).
RETRY_INFO_KEY = "google.rpc.retryinfo-bin"


class Validation(Protocol):
    """What request validation reports (``otel_events.store.Validation``)."""

    payload: bytes
    accepted: int
    rejected: int
    message: str


RequestValidator = Callable[[str, bytes], Validation]
"""Checks a request before it is written: ``(signal, payload) -> Validation``; raises ``OtelEventsError`` for
bytes that are not a valid request (answered with INVALID_ARGUMENT)."""


class ExportServicer:
    """The ``Export`` method of one signal's service.

    Args:
        service: which signal and service.
        wal: where accepted requests are written before they are acknowledged.
        validate: request validation (the store's ``validate_request``).
        counters: receiver counters.
        wal_max_bytes: WAL budget; past it requests are refused with RESOURCE_EXHAUSTED and a retry delay.
    """

    def __init__(
        self,
        service: SignalService,
        wal: WriteAheadLog,
        validate: RequestValidator,
        counters: ReceiverCounters,
        *,
        wal_max_bytes: int,
        retry_delay_seconds: float = 1.0,
    ) -> None:
        self._service = service
        self._wal = wal
        self._validate = validate
        self._counters = counters
        self._wal_max_bytes = wal_max_bytes
        self._success = service.response_type().SerializeToString()
        seconds, fraction = divmod(retry_delay_seconds, 1)
        self._retry_info = error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=int(seconds), nanos=int(fraction * 1e9))
        ).SerializeToString()

    def export(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        """Handle one ``Export`` call; returns the serialized ``Export*ServiceResponse``."""
        signal = self._service.signal
        try:
            validation = self._validate(signal.value, request)
        except OtelEventsError as exc:
            self._counters.record_rejected(RejectReason.INVALID_REQUEST)
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if validation.accepted:
            if self._wal.disk_bytes + len(validation.payload) > self._wal_max_bytes:
                self._counters.record_rejected(RejectReason.OVER_BUDGET, validation.accepted)
                context.set_trailing_metadata(((RETRY_INFO_KEY, self._retry_info),))
                self._abort(
                    context,
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "the receiver's write-ahead log is full while the store catches up; retry later",
                )
            try:
                self._wal.append(signal, None, validation.payload)
            except ReceiverError as exc:
                self._counters.record_rejected(RejectReason.UNAVAILABLE, validation.accepted)
                self._abort(context, grpc.StatusCode.UNAVAILABLE, str(exc))
            self._counters.record_received(validation.accepted, len(validation.payload))
        if not validation.rejected:
            return self._success
        self._counters.record_rejected(RejectReason.INVALID_ITEM, validation.rejected)
        partial = self._service.partial_success_type(error_message=validation.message)
        setattr(partial, self._service.rejected_field, validation.rejected)
        return self._service.response_type(partial_success=partial).SerializeToString()

    @staticmethod
    def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
        context.abort(code, message)
        raise AssertionError("unreachable: grpc's abort raises")


def build_handlers(
    wal: WriteAheadLog, validate: RequestValidator, counters: ReceiverCounters, *, wal_max_bytes: int
) -> list[grpc.GenericRpcHandler]:
    """Generic handlers of the three OTLP services, taking and returning raw bytes."""
    handlers = []
    for service in SERVICES:
        servicer = ExportServicer(service, wal, validate, counters, wal_max_bytes=wal_max_bytes)
        method = grpc.unary_unary_rpc_method_handler(servicer.export)  # no (de)serializers: bytes in and out
        handlers.append(grpc.method_handlers_generic_handler(service.service_name, {"Export": method}))
    return handlers
