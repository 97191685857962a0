"""One OTLP/HTTP request: route, authenticate, read and decode the body, hand it to the intake, answer.

Status codes follow the OTLP/HTTP specification: 200 with an ``Export*ServiceResponse`` (``partial_success``
when items were dropped), 400 for bad data, 401 without a valid token, 404/405 for a wrong path or method, 413
past the size limit, 415 for an unsupported content type or encoding, 429/503 with ``Retry-After`` when a retry
can succeed. Error bodies are a ``google.rpc.Status``; every body uses the encoding of the request.
"""

from __future__ import annotations

import logging
import math
from enum import Enum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from otel_events.errors import RequestDecodeError
from otel_events.receiver.counters import ReceiverCounters, RejectReason
from otel_events.receiver.http.body import decode_content, read_body
from otel_events.receiver.http.errors import HttpError
from otel_events.receiver.http.otel_json import json_to_request, message_to_json
from otel_events.receiver.intake import ExportIntake, ExportRefused, RefusalKind
from otel_events.receiver.signals import SERVICES, SignalService

_logger = logging.getLogger(__name__)

ROUTES: dict[str, SignalService] = {f"/v1/{service.signal.value}": service for service in SERVICES}


class BodyEncoding(Enum):
    """The two OTLP/HTTP payload encodings; the value is the Content-Type."""

    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


_REFUSAL_STATUS: dict[RefusalKind, HTTPStatus] = {
    RefusalKind.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    RefusalKind.INVALID: HTTPStatus.BAD_REQUEST,
    RefusalKind.TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    RefusalKind.OVER_BUDGET: HTTPStatus.TOO_MANY_REQUESTS,
    RefusalKind.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
}

# google.rpc.Code of each status, for the Status body.
_RPC_CODES: dict[HTTPStatus, int] = {
    HTTPStatus.BAD_REQUEST: code_pb2.INVALID_ARGUMENT,
    HTTPStatus.UNAUTHORIZED: code_pb2.UNAUTHENTICATED,
    HTTPStatus.NOT_FOUND: code_pb2.UNIMPLEMENTED,
    HTTPStatus.METHOD_NOT_ALLOWED: code_pb2.UNIMPLEMENTED,
    HTTPStatus.LENGTH_REQUIRED: code_pb2.INVALID_ARGUMENT,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: code_pb2.RESOURCE_EXHAUSTED,
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: code_pb2.INVALID_ARGUMENT,
    HTTPStatus.TOO_MANY_REQUESTS: code_pb2.RESOURCE_EXHAUSTED,
    HTTPStatus.SERVICE_UNAVAILABLE: code_pb2.UNAVAILABLE,
    HTTPStatus.INTERNAL_SERVER_ERROR: code_pb2.INTERNAL,
}


class OtlpRequestHandler(BaseHTTPRequestHandler):
    """Serves ``POST /v1/{traces,logs,metrics}`` on a keep-alive HTTP/1.1 connection.

    The server sets ``intake``, ``counters`` and ``max_body_bytes`` on a subclass (see ``OtlpHttpServer``).
    """

    protocol_version = "HTTP/1.1"  # keep-alive: exporters reuse one connection
    server_version = "otel-events"
    # Seconds a connection may stay silent (idle between requests or stalled mid-body) before it is closed.
    timeout = 30.0
    intake: ExportIntake
    counters: ReceiverCounters
    max_body_bytes: int

    def do_POST(self) -> None:
        """Handle one export request."""
        encoding = _body_encoding(self.headers.get("content-type"))
        try:
            service = self._route()
            if encoding is None:
                raise HttpError(
                    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                    "Content-Type must be application/x-protobuf or application/json",
                    close=True,
                )
            tenant = self._authenticate()
            self._export(service, encoding, tenant)
        except HttpError as error:
            self._send_error(error, encoding or BodyEncoding.PROTOBUF)
        except (ConnectionError, TimeoutError):
            raise  # the client went away: nothing to answer
        except Exception:
            _logger.exception("OTLP/HTTP request to %s failed", self.path[:100])
            error = HttpError(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error in the receiver", close=True)
            self._send_error(error, encoding or BodyEncoding.PROTOBUF)

    def _route(self) -> SignalService:
        service = ROUTES.get(self.path.split("?", 1)[0])
        if service is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no OTLP endpoint at {self.path[:100]!r}", close=True)
        return service

    def _authenticate(self) -> str | None:
        try:
            return self.intake.authenticate(self.headers.get("authorization"))
        except ExportRefused as refused:
            raise HttpError(HTTPStatus.UNAUTHORIZED, refused.message, close=True) from None

    def _export(self, service: SignalService, encoding: BodyEncoding, tenant: str | None) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        limit = self.max_body_bytes
        try:
            raw = read_body(self.rfile, headers, limit)
            payload = decode_content(raw, headers.get("content-encoding"), limit)
        except HttpError as error:
            if error.status is HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                self.counters.record_rejected(RejectReason.TOO_LARGE)
            raise
        if encoding is BodyEncoding.JSON:
            try:
                payload = json_to_request(service.signal, payload)
            except RequestDecodeError as exc:
                self.counters.record_rejected(RejectReason.INVALID_REQUEST)
                raise HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        try:
            outcome = self.intake.accept(service.signal, payload, tenant)
        except ExportRefused as refused:
            raise HttpError(_REFUSAL_STATUS[refused.kind], refused.message, retry_after=refused.retry_after) from None
        self._send(HTTPStatus.OK, encoding, outcome.response(service))

    # -- answers ------------------------------------------------------------------------------------------------

    def _send_error(self, error: HttpError, encoding: BodyEncoding) -> None:
        status = status_pb2.Status(code=_RPC_CODES.get(error.status, code_pb2.UNKNOWN), message=error.message)
        headers: dict[str, str] = {}
        if error.retry_after is not None:
            # Retry-After takes whole seconds (RFC 9110); the RetryInfo detail keeps the exact delay.
            headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
            seconds, fraction = divmod(error.retry_after, 1)
            detail = any_pb2.Any()
            detail.Pack(
                error_details_pb2.RetryInfo(
                    retry_delay=duration_pb2.Duration(seconds=int(seconds), nanos=int(fraction * 1e9))
                )
            )
            status.details.append(detail)
        if error.status is HTTPStatus.UNAUTHORIZED:
            headers["WWW-Authenticate"] = 'Bearer realm="otel-events"'
        if error.status is HTTPStatus.METHOD_NOT_ALLOWED:
            headers["Allow"] = "POST"
        if error.close:
            self.close_connection = True
        self._send(error.status, encoding, status, headers)

    def _send(
        self, status: HTTPStatus, encoding: BodyEncoding, message: Message, headers: dict[str, str] | None = None
    ) -> None:
        body = message_to_json(message) if encoding is BodyEncoding.JSON else message.SerializeToString()
        self.send_response(status)
        self.send_header("Content-Type", encoding.value)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _refuse_method(self) -> None:
        encoding = _body_encoding(self.headers.get("content-type")) or BodyEncoding.PROTOBUF
        try:
            self._route()
            raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not allowed; use POST", close=True)
        except HttpError as error:
            self._send_error(error, encoding)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def do_HEAD(self) -> None:
        """HEAD gets the status of GET without a body."""
        self.close_connection = True
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED if self.path.split("?", 1)[0] in ROUTES else 404)
        self.send_header("Allow", "POST")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def version_string(self) -> str:
        """The ``Server`` header: the product name only."""
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        """Access lines go to the debug log (request line and status only: headers, and so tokens, never)."""
        _logger.debug("%s %s", self.address_string(), format % args)


def _body_encoding(content_type: str | None) -> BodyEncoding | None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    for encoding in BodyEncoding:
        if media_type == encoding.value:
            return encoding
    return None
