"""One thin OTLP/gRPC ``Export`` servicer per signal: authenticate, hand the bytes to the intake, answer.

Requests are registered with identity (de)serializers, so the request bytes go to the WAL as received
(PERF-NOTES: a raw-bytes handler serves 0.7-1.5M spans/s; decoding happens later, in the pipeline).
"""

from __future__ import annotations

from typing import NoReturn

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2

from otel_events.receiver.intake import ExportIntake, ExportRefused, RefusalKind
from otel_events.receiver.signals import SERVICES, SignalService

# The OTLP exporters read this trailing metadata key to choose their backoff (google.rpc.RetryInfo).
RETRY_INFO_KEY = "google.rpc.retryinfo-bin"

_STATUS_CODES: dict[RefusalKind, grpc.StatusCode] = {
    RefusalKind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    RefusalKind.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    RefusalKind.TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    RefusalKind.OVER_BUDGET: grpc.StatusCode.RESOURCE_EXHAUSTED,
    RefusalKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}


class ExportServicer:
    """The ``Export`` method of one signal's service.

    Args:
        service: which signal and service.
        intake: the shared authenticate -> validate -> WAL path.
    """

    def __init__(self, service: SignalService, intake: ExportIntake) -> None:
        self._service = service
        self._intake = intake
        self._success = service.response_type().SerializeToString()

    def export(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        """Handle one ``Export`` call; returns the serialized ``Export*ServiceResponse``."""
        try:
            tenant = self._intake.authenticate(_authorization(context))
            outcome = self._intake.accept(self._service.signal, request, tenant)
        except ExportRefused as refused:
            _abort(context, refused)
        if not outcome.rejected:
            return self._success
        return outcome.response(self._service).SerializeToString()


def _authorization(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":  # gRPC metadata keys arrive lower-cased
            return value if isinstance(value, str) else None
    return None


def _abort(context: grpc.ServicerContext, refused: ExportRefused) -> NoReturn:
    if refused.retry_after is not None:
        seconds, fraction = divmod(refused.retry_after, 1)
        retry_info = error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=int(seconds), nanos=int(fraction * 1e9))
        )
        context.set_trailing_metadata(((RETRY_INFO_KEY, retry_info.SerializeToString()),))
    context.abort(_STATUS_CODES[refused.kind], refused.message)
    raise AssertionError("unreachable: grpc's abort raises")


def build_handlers(intake: ExportIntake) -> list[grpc.GenericRpcHandler]:
    """Generic handlers of the three OTLP services, taking and returning raw bytes."""
    handlers = []
    for service in SERVICES:
        servicer = ExportServicer(service, intake)
        method = grpc.unary_unary_rpc_method_handler(servicer.export)  # no (de)serializers: bytes in and out
        handlers.append(grpc.method_handlers_generic_handler(service.service_name, {"Export": method}))
    return handlers
