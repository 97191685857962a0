"""The protocol-neutral path of one export request: authenticate, validate, check the budget, append to the WAL.

OTLP/gRPC and OTLP/HTTP both call ``ExportIntake`` and only translate its outcome into their own status codes,
so durability (acknowledge only after the WAL fsync), partial success and refusals behave the same on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from google.protobuf.message import Message

from otel_events.errors import OtelEventsError, ReceiverError
from otel_events.receiver.admission import AdmissionControl
from otel_events.receiver.counters import ReceiverCounters, RejectReason
from otel_events.receiver.signals import Signal, SignalService
from otel_events.receiver.wal import WriteAheadLog


class Validation(Protocol):
    """What request validation reports (``otel_events.store.Validation``)."""

    payload: bytes
    accepted: int
    rejected: int
    message: str


class RequestValidator(Protocol):
    """Checks a request before it is written (the store's ``validate_request``).

    Raises ``OtelEventsError`` for bytes that are not a valid request of the signal.
    """

    def __call__(self, signal: str, payload: bytes, /) -> Validation: ...


class Authenticator(Protocol):
    """Maps the ``authorization`` header or metadata value to a tenant (``otel_events.receiver.security``)."""

    def authenticate(self, authorization: str | None) -> str | None:
        """The tenant of the request; raises ``AuthenticationError`` when the credentials are missing or wrong."""
        ...


class RefusalKind(Enum):
    """Why a whole request was refused; each protocol maps it to its own status."""

    UNAUTHENTICATED = "unauthenticated"  # gRPC UNAUTHENTICATED, HTTP 401
    INVALID = "invalid"  # permanent: gRPC INVALID_ARGUMENT, HTTP 400
    TOO_LARGE = "too_large"  # permanent: gRPC RESOURCE_EXHAUSTED (by grpc itself), HTTP 413
    OVER_BUDGET = "over_budget"  # retryable: gRPC RESOURCE_EXHAUSTED + RetryInfo, HTTP 429 + Retry-After
    UNAVAILABLE = "unavailable"  # retryable: gRPC UNAVAILABLE, HTTP 503 + Retry-After


class ExportRefused(Exception):
    """A request was refused as a whole; nothing of it was written.

    Attributes:
        kind: the reason class.
        message: text for the client; never contains credentials.
        retry_after: seconds the client should wait before retrying, for retryable kinds.
    """

    def __init__(self, kind: RefusalKind, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class ExportAccepted:
    """A request written to the WAL (or empty): what to report back.

    Attributes:
        accepted: items written.
        rejected: items dropped (reported in ``partial_success``).
        message: why items were dropped; empty when none were.
    """

    accepted: int
    rejected: int
    message: str

    def response(self, service: SignalService) -> Message:
        """The ``Export*ServiceResponse`` for this outcome, with ``partial_success`` when items were dropped."""
        if not self.rejected:
            return service.response_type()
        partial = service.partial_success_type(error_message=self.message)
        setattr(partial, service.rejected_field, self.rejected)
        return service.response_type(partial_success=partial)


class ExportIntake:
    """Accepts export requests into the write-ahead log; shared by every protocol.

    Args:
        wal: where accepted requests are written before they are acknowledged.
        validate: request validation (the store's ``validate_request``).
        counters: receiver counters.
        admission: budgets and priority shedding; refused requests are ``OVER_BUDGET`` with a retry delay, items
            shed by category are reported like invalid items (``partial_success``).
        authenticator: bearer-token check; ``None`` accepts every request without a tenant.
        retry_delay_seconds: the retry delay suggested with retryable refusals.
    """

    def __init__(
        self,
        wal: WriteAheadLog,
        validate: RequestValidator,
        counters: ReceiverCounters,
        *,
        admission: AdmissionControl,
        authenticator: Authenticator | None = None,
        retry_delay_seconds: float = 1.0,
    ) -> None:
        self._wal = wal
        self._validate = validate
        self._counters = counters
        self._admission = admission
        self._authenticator = authenticator
        self.retry_delay_seconds = retry_delay_seconds

    def authenticate(self, authorization: str | None) -> str | None:
        """The tenant for an ``authorization`` value (``None`` when authentication is off).

        Raises:
            ExportRefused: ``UNAUTHENTICATED``, with a message that never repeats the credentials.
        """
        if self._authenticator is None:
            return None
        try:
            return self._authenticator.authenticate(authorization)
        except OtelEventsError as exc:
            self._counters.record_rejected(RejectReason.UNAUTHENTICATED)
            raise ExportRefused(RefusalKind.UNAUTHENTICATED, str(exc)) from None

    def accept(self, signal: Signal, payload: bytes, tenant: str | None) -> ExportAccepted:
        """Validate one serialized ``Export*ServiceRequest`` and write it to the WAL; returns once it is durable.

        Raises:
            ExportRefused: nothing was written (bad bytes, WAL budget used up, shutting down, write failure).
        """
        with self._admission.in_flight(len(payload)):
            return self._accept(signal, payload, tenant)

    def _accept(self, signal: Signal, payload: bytes, tenant: str | None) -> ExportAccepted:
        try:
            validation = self._validate(signal.value, payload)
        except OtelEventsError as exc:
            self._counters.record_rejected(RejectReason.INVALID_REQUEST)
            raise ExportRefused(RefusalKind.INVALID, str(exc)) from None
        accepted, shed, shed_message = validation.accepted, 0, ""
        if validation.accepted:
            admission = self._admission.admit(signal.value, validation.payload, tenant, items=validation.accepted)
            if admission.retry_after is not None:
                if not admission.rejected_by_category:  # refused unsorted; items shed by category are counted there
                    self._counters.record_rejected(RejectReason.OVER_BUDGET, validation.accepted)
                raise ExportRefused(RefusalKind.OVER_BUDGET, admission.message, admission.retry_after)
            try:
                self._wal.append(signal, tenant, admission.payload)
            except ReceiverError as exc:
                self._counters.record_rejected(RejectReason.UNAVAILABLE, admission.accepted)
                raise ExportRefused(RefusalKind.UNAVAILABLE, str(exc), self.retry_delay_seconds) from None
            self._counters.record_received(admission.accepted, len(admission.payload))
            accepted, shed, shed_message = admission.accepted, admission.rejected, admission.message
        if validation.rejected:
            self._counters.record_rejected(RejectReason.INVALID_ITEM, validation.rejected)
        message = "; ".join(text for text in (validation.message, shed_message) if text)
        return ExportAccepted(accepted, validation.rejected + shed, message)
