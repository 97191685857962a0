"""A raw OTLP/HTTP client for receiver tests: exact control of headers, body and connection reuse."""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass

from google.rpc import status_pb2


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def rpc_status(self) -> status_pb2.Status:
        """The ``google.rpc.Status`` protobuf error body."""
        assert self.headers["content-type"] == "application/x-protobuf"
        return status_pb2.Status.FromString(self.body)


def post(
    port: int,
    path: str,
    body: bytes,
    *,
    content_type: str = "application/x-protobuf",
    headers: dict[str, str] | None = None,
    method: str = "POST",
    tls: ssl.SSLContext | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> HttpAnswer:
    """Send one request (on ``connection`` when given, to reuse it) and read the whole answer."""
    own = connection is None
    if connection is None:
        connection = (
            http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=tls)
            if tls
            else http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        )
    try:
        connection.request(method, path, body=body, headers={"Content-Type": content_type, **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        return HttpAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        if own:
            connection.close()
