"""A client of the receiver's ``otel_events.v1.EventsService``, and how the command line finds the receiver.

``otel-events sql``, every ``otel-events analyze`` and ``otel-events tail`` use it with ``--target HOST:PORT``, or
by default when the ``--db`` file is held by a running receiver (SPEC §4): that receiver's status file (in its
write-ahead log directory next to the file) says which gRPC port it serves.

Credentials: ``OTEL_EVENTS_TOKEN`` is sent as ``authorization: Bearer <token>`` when set, and
``OTEL_EVENTS_CA_CERT`` (a PEM file) switches the channel to TLS with that CA.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import grpc
import pyarrow as pa
from google.protobuf.message import Message

from otel_events._proto import events_pb2, events_pb2_grpc
from otel_events.errors import ConfigError, NotFoundError, ReceiverError, RemoteError, StoreError, UnreachableError
from otel_events.stream.analysis_call import AnalysisOutcome
from otel_events.stream.result_codec import decode_result, encode_result

OTEL_EVENTS_TOKEN = "OTEL_EVENTS_TOKEN"
"""Bearer token the command-line client sends to a receiver with authentication on."""
OTEL_EVENTS_CA_CERT = "OTEL_EVENTS_CA_CERT"
"""PEM CA certificate file: set when the receiver serves TLS."""

_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "[::1]"}


@dataclass(frozen=True)
class Credentials:
    """How to reach a receiver with TLS or tokens.

    Attributes:
        token: bearer token, sent as ``authorization`` metadata.
        ca_cert: PEM CA certificates; set means TLS.
    """

    token: str | None = None
    ca_cert: bytes | None = None

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Credentials:
        """``OTEL_EVENTS_TOKEN`` and ``OTEL_EVENTS_CA_CERT``.

        Raises:
            ConfigError: when the CA file cannot be read.
        """
        environ = dict(os.environ) if environ is None else environ
        ca_path = environ.get(OTEL_EVENTS_CA_CERT)
        ca_cert = None
        if ca_path:
            try:
                ca_cert = Path(ca_path).read_bytes()
            except OSError as exc:
                raise ConfigError(f"{OTEL_EVENTS_CA_CERT}: cannot read {ca_path}: {exc.strerror}") from None
        return cls(token=environ.get(OTEL_EVENTS_TOKEN) or None, ca_cert=ca_cert)


class EventsClient:
    """Calls Query, Status and Tail of one receiver.

    Args:
        target: ``HOST:PORT`` of the receiver's gRPC listener.
        credentials: token and TLS settings (default: from the environment).
        timeout: seconds allowed for Query and Status calls.
        channel_options: extra gRPC channel options.
    """

    def __init__(
        self,
        target: str,
        credentials: Credentials | None = None,
        *,
        timeout: float = 300.0,
        channel_options: tuple[tuple[str, object], ...] = (),
    ) -> None:
        self.target = target
        credentials = credentials if credentials is not None else Credentials.from_environment()
        options = [("grpc.max_receive_message_length", 256 * 1024 * 1024), *channel_options]
        if credentials.ca_cert is not None:
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(credentials.ca_cert), options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        self._metadata = (("authorization", f"Bearer {credentials.token}"),) if credentials.token else ()
        self._stub = events_pb2_grpc.EventsServiceStub(self._channel)
        self._timeout = timeout

    def sql(self, sql: str) -> tuple[list[str], list[tuple]]:
        """Run one read-only statement; returns column names and rows as DuckDB returns them locally.

        Raises:
            RemoteError: the statement was refused (not read-only, SQL error) or the receiver is unreachable.
        """
        request = events_pb2.QueryRequest(sql=sql, format=events_pb2.ROW_FORMAT_ARROW)
        table = self.sql_arrow(request)
        # Rows come back through DuckDB itself, so maps, enums and nanosecond times convert as in a local query.
        rows = duckdb.connect().from_arrow(table).fetchall() if table.num_columns else []
        return table.schema.names, rows

    def sql_arrow(self, request: events_pb2.QueryRequest) -> pa.Table:
        """Run a SQL ``QueryRequest`` in Arrow format; returns the whole result as one table."""
        chunks = [response.arrow_ipc for response in self._call(self._stub.Query, request, stream=True)]
        return pa.ipc.open_stream(b"".join(chunks)).read_all()

    def sql_reader(self, sql: str, parameters: Mapping[str, object] | None = None) -> pa.RecordBatchReader:
        """Run one read-only statement with bound ``$name`` parameters; its rows arrive as they are read.

        Unlike ``sql``, nothing is gathered in memory: each record batch is decoded when the reader asks for it, so
        an export of any size streams through. The call has no deadline (it lasts as long as the rows keep coming).

        Args:
            sql: the statement.
            parameters: values of its ``$name`` parameters (strings, numbers, datetimes, lists of those).

        Raises:
            RemoteError: the statement was refused or the receiver is unreachable (also while reading).
        """
        request = events_pb2.QueryRequest(
            sql=sql, format=events_pb2.ROW_FORMAT_ARROW, parameters_json=encode_result(dict(parameters or {}))
        )
        call = self._stub.Query(request, metadata=self._metadata)
        # The schema is read here, so a refused statement raises now rather than at the first batch.
        return pa.ipc.open_stream(_ChunkReader(_chunks(call, self.target)))

    def analysis(self, name: str, parameters_json: str) -> AnalysisOutcome:
        """Run a named analysis with JSON parameters (see ``analysis_call``).

        Raises:
            NotFoundError: the analysis found nothing to show (an unknown trace id).
            RemoteError: bad parameters, or the receiver is unreachable.
        """
        request = events_pb2.QueryRequest(analysis=events_pb2.AnalysisCall(name=name, parameters_json=parameters_json))
        responses = list(self._call(self._stub.Query, request, stream=True))
        if len(responses) != 1 or not responses[0].HasField("analysis"):
            raise RemoteError(f"{self.target} answered an analysis with an unexpected message")
        result = responses[0].analysis
        return AnalysisOutcome(decode_result(result.result_json), tuple(result.gate_failures))

    def status(self) -> events_pb2.StatusResponse:
        """The receiver's counters."""
        return self._call(self._stub.Status, events_pb2.StatusRequest())

    def tail(self, filter: str = "", buffer_size: int = 0) -> Iterator[events_pb2.TailResponse]:
        """Subscribe now; the returned iterator yields what is stored from then on, until the receiver stops.

        Iteration raises ``RemoteError`` when the call is refused (bad filter, too many subscribers) or lost.
        """
        request = events_pb2.TailRequest(filter=filter, buffer_size=buffer_size)
        call = self._stub.Tail(request, metadata=self._metadata)  # the call starts here, not at the first read
        return _translated(call, self.target)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> EventsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, method: Callable[..., Any], request: Message, *, stream: bool = False) -> Any:
        try:
            if stream:
                return list(method(request, metadata=self._metadata, timeout=self._timeout))
            return method(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise _error(exc, self.target) from None


def _translated(call: Any, target: str) -> Iterator:
    try:
        yield from call
    except grpc.RpcError as exc:
        if exc.code() is grpc.StatusCode.CANCELLED:
            return
        raise _error(exc, target) from None
    finally:
        call.cancel()


def _chunks(call: Any, target: str) -> Iterator[bytes]:
    # Unlike a tail, a query that ends early (CANCELLED included) lost rows: every gRPC error is raised.
    try:
        for response in call:
            yield response.arrow_ipc
    except grpc.RpcError as exc:
        raise _error(exc, target) from None
    finally:
        call.cancel()


class _ChunkReader(io.RawIOBase):
    """The concatenated Arrow IPC chunks of a Query stream as a readable file, for ``pyarrow.ipc.open_stream``."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _error(exc: grpc.RpcError, target: str) -> Exception:
    code, details = exc.code(), exc.details()
    if code is grpc.StatusCode.NOT_FOUND:
        return NotFoundError(details)
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
        return RemoteError(details)
    if code is grpc.StatusCode.UNAVAILABLE:
        return UnreachableError(f"cannot reach the receiver at {target}: {details}")
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return RemoteError(f"{target} does not serve the otel_events query API (is it an otel-events receiver?)")
    return RemoteError(f"the receiver at {target} answered {code.name}: {details}")


def receiver_target(db_path: Path, refusal: StoreError) -> str:
    """The gRPC endpoint of the running receiver that holds ``db_path``, found after opening it failed.

    Args:
        db_path: the DuckDB file.
        refusal: the error opening it gave; raised again when no receiver serves the file.

    Raises:
        StoreError: ``refusal``, when the file is not locked or no receiver status says it serves it.
    """
    if "locked" not in str(refusal):
        raise refusal
    from otel_events.receiver.config import default_wal_dir
    from otel_events.receiver.status import read_status

    try:
        status = read_status(default_wal_dir(db_path))
    except ReceiverError:
        raise StoreError(
            f"{refusal}\nno receiver status was found next to it: pass --target HOST:PORT of the receiver"
        ) from refusal
    endpoint = status.get("grpc_endpoint")
    served = status.get("db_path")
    if not isinstance(endpoint, str) or served != str(db_path.resolve()):
        raise StoreError(
            f"{refusal}\nthe receiver on {endpoint} serves another file: pass --target HOST:PORT"
        ) from refusal
    host, _, port = endpoint.rpartition(":")
    return f"{_LOOPBACK.get(host, host)}:{port}"
