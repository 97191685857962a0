"""The OTLP/HTTP listener: a threading HTTP/1.1 server with keep-alive, optional TLS, and a clean shutdown."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from http.server import ThreadingHTTPServer

from otel_events.errors import ReceiverError
from otel_events.receiver.counters import ReceiverCounters
from otel_events.receiver.http.handler import OtlpRequestHandler
from otel_events.receiver.intake import ExportIntake

_logger = logging.getLogger(__name__)

# Seconds a new TLS connection may take to finish its handshake (it runs on the connection's own thread).
_HANDSHAKE_TIMEOUT = 10.0


class _Server(ThreadingHTTPServer):
    """One thread per connection; keeps the open connections so shutdown can end idle keep-alive ones."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[OtlpRequestHandler], tls: ssl.SSLContext | None, limit: int
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._tls = tls
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(limit)
        super().__init__(address, handler)

    def process_request(self, request: socket.socket, client_address: tuple) -> None:  # type: ignore[override]
        # Bounded threads: past the limit a new connection is closed at once and the client retries.
        if not self._slots.acquire(blocking=False):
            _logger.warning("OTLP/HTTP connection limit reached; closing a new connection")
            self.shutdown_request(request)
            return
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)
            raise

    def finish_request(self, request: socket.socket, client_address: tuple) -> None:  # type: ignore[override]
        if self._tls is not None:
            raw = request
            try:
                raw.settimeout(_HANDSHAKE_TIMEOUT)
                request = self._tls.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                # A plain-text client, a client without the required certificate, or a stalled handshake.
                _logger.info("TLS handshake with %s failed: %s", client_address[0], exc)
                return
            with self._connections_lock:
                self._connections.discard(raw)
                self._connections.add(request)
            try:
                super().finish_request(request, client_address)
            finally:
                self._forget(request)
                request.close()
            return
        super().finish_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        self._forget(request)
        super().shutdown_request(request)

    def _forget(self, request: socket.socket) -> None:
        with self._connections_lock:
            if request in self._connections:
                self._connections.discard(request)
                self._slots.release()

    def handle_error(self, request: object, client_address: tuple) -> None:  # type: ignore[override]
        # Called from inside the except block of the connection's thread.
        _logger.debug("OTLP/HTTP connection from %s ended with an error", client_address[0], exc_info=True)

    def end_connections(self) -> None:
        """Stop reading from every open connection: idle keep-alive ones end, in-flight answers still go out."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # The plain socket's shutdown: SSLSocket.shutdown would drop the TLS state an answer still needs.
            with contextlib.suppress(OSError):  # already closed by its handler
                socket.socket.shutdown(connection, socket.SHUT_RD)


class OtlpHttpServer:
    """OTLP/HTTP on one address, feeding the shared export intake.

    Args:
        host: address to bind.
        port: port to bind (0 picks a free one).
        intake: the shared authenticate -> validate -> WAL path.
        counters: receiver counters.
        max_body_bytes: largest body accepted, before and after decompression (413 past it).
        tls: server TLS context; ``None`` serves plain HTTP.
        max_connections: open connections served at once (one thread each).
    """

    def __init__(
        self,
        host: str,
        port: int,
        intake: ExportIntake,
        counters: ReceiverCounters,
        *,
        max_body_bytes: int,
        tls: ssl.SSLContext | None = None,
        max_connections: int = 256,
    ) -> None:
        handler = type(
            "BoundOtlpRequestHandler",
            (OtlpRequestHandler,),
            {"intake": intake, "counters": counters, "max_body_bytes": max_body_bytes},
        )
        try:
            self._server = _Server((host, port), handler, tls, max_connections)
        except OSError as exc:
            raise ReceiverError(f"cannot listen on {host}:{port} for OTLP/HTTP: {exc.strerror}") from None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.server_address[1]

    def start(self) -> None:
        """Serve on a named daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="otel-events-http", daemon=True
        )
        self._thread.start()

    def shutdown(self) -> None:
        """Stop accepting, end idle connections, wait for in-flight requests, close. Safe to call twice."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.end_connections()
        self._server.server_close()  # joins the connection threads (block_on_close)
