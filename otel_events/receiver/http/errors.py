"""The one exception the OTLP/HTTP handler uses to answer early with a status."""

from __future__ import annotations

from http import HTTPStatus


class HttpError(Exception):
    """Answer the request with ``status`` and ``message``.

    Attributes:
        status: the HTTP status.
        message: text for the client (in a ``google.rpc.Status`` body).
        retry_after: seconds for a ``Retry-After`` header, for retryable statuses.
        close: close the connection afterwards (the rest of the body was not read).
    """

    def __init__(
        self, status: HTTPStatus, message: str, *, retry_after: float | None = None, close: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.close = close
