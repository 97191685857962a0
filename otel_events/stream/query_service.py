"""The ``otel_events.v1.EventsService`` gRPC service (``proto/``): Query, Status and Tail on the receiver's port.

Every call runs on its own DuckDB cursor of the receiver's store connection (DuckDB allows one writing process,
so other processes cannot open the file while the receiver runs: SPEC §4). When the receiver has bearer tokens,
every call must present one, and its cursor sees only the token's tenant (``tenant_scope``).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn, Protocol

import duckdb
import grpc
import pyarrow as pa

from otel_events._proto import events_pb2
from otel_events.errors import ConfigError, FilterSyntaxError, NotFoundError, OtelEventsError
from otel_events.stream.analysis_call import run_analysis
from otel_events.stream.result_codec import decode_result, encode_result
from otel_events.stream.sql_guard import check_read_only
from otel_events.stream.tail import SubscriberLimitError, TailHub, TailQuery
from otel_events.stream.tenant_scope import open_cursor

SERVICE_NAME = "otel_events.v1.EventsService"
DEFAULT_ROWS_PER_MESSAGE = 10_000
MAX_ROWS_PER_MESSAGE = 100_000
# Queries running at once; each holds a gRPC thread and DuckDB memory, so more are refused (RESOURCE_EXHAUSTED).
DEFAULT_MAX_QUERIES = 8
# How often a tail stream checks that its client is still there while nothing arrives.
_TAIL_WAKE_SECONDS = 1.0


class Authenticator(Protocol):
    """Maps the ``authorization`` metadata value to a tenant (``otel_events.receiver.security``)."""

    def authenticate(self, authorization: str | None) -> str | None:
        """The tenant; raises ``OtelEventsError`` for missing or wrong credentials."""
        ...


StatusSource = Callable[[], dict[str, object]]


class EventsService:
    """Query, Status and Tail over a store connection.

    Args:
        connection: the store's DuckDB connection (every call uses its own cursor).
        status: returns the receiver's status (``Receiver.status``).
        tail: the tail fan-out.
        authenticator: bearer-token check; ``None`` when authentication is off (every row visible).
        max_queries: queries served at once.
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        status: StatusSource,
        tail: TailHub,
        *,
        authenticator: Authenticator | None = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> None:
        self._connection = connection
        self._status = status
        self._tail = tail
        self._authenticator = authenticator
        self.max_queries = max_queries
        self._query_slots = threading.BoundedSemaphore(max_queries)

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler to add to a ``grpc.Server`` (Tail answers with pre-serialized bytes)."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Query": grpc.unary_stream_rpc_method_handler(
                    self.query,
                    request_deserializer=events_pb2.QueryRequest.FromString,
                    response_serializer=events_pb2.QueryResponse.SerializeToString,
                ),
                "Status": grpc.unary_unary_rpc_method_handler(
                    self.status,
                    request_deserializer=events_pb2.StatusRequest.FromString,
                    response_serializer=events_pb2.StatusResponse.SerializeToString,
                ),
                "Tail": grpc.unary_stream_rpc_method_handler(
                    self.tail, request_deserializer=events_pb2.TailRequest.FromString
                ),
            },
        )

    # -- Query -----------------------------------------------------------------------------------------------

    def query(self, request: events_pb2.QueryRequest, context: grpc.ServicerContext) -> Iterator:
        """Run one read-only SQL statement or named analysis; stream the result."""
        tenant = self._tenant(context)
        if not self._query_slots.acquire(blocking=False):
            _abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the receiver already runs {self.max_queries} queries (its limit); retry later",
            )
        try:
            cursor = open_cursor(self._connection, tenant)
            try:
                if request.WhichOneof("query") == "analysis":
                    yield self._analysis(cursor, request.analysis)
                elif request.WhichOneof("query") == "sql":
                    yield from self._sql(cursor, request, tenant)
                else:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the request names neither sql nor an analysis")
            finally:
                cursor.close()
        except NotFoundError as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except (OtelEventsError, duckdb.Error) as exc:
            message = str(exc) if isinstance(exc, OtelEventsError) else f"SQL error: {exc}"
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
        finally:
            self._query_slots.release()

    def _analysis(self, cursor: duckdb.DuckDBPyConnection, call: events_pb2.AnalysisCall) -> events_pb2.QueryResponse:
        outcome = run_analysis(cursor, call.name, call.parameters_json)
        result = events_pb2.AnalysisResult(
            result_json=encode_result(outcome.result), gate_failures=list(outcome.gate_failures)
        )
        return events_pb2.QueryResponse(analysis=result)

    def _sql(
        self, cursor: duckdb.DuckDBPyConnection, request: events_pb2.QueryRequest, tenant: str | None
    ) -> Iterator[events_pb2.QueryResponse]:
        check_read_only(cursor, request.sql, tenant=tenant)
        parameters = _parameters(request.parameters_json)
        rows_per_message = min(request.rows_per_message or DEFAULT_ROWS_PER_MESSAGE, MAX_ROWS_PER_MESSAGE)
        # HUGEINT (sum of integers) would otherwise become an Arrow decimal; lossless keeps DuckDB's own type.
        cursor.execute("SET SESSION arrow_lossless_conversion = true")
        # Rolled back whatever happens: a SELECT with a side effect (nextval) leaves nothing behind.
        cursor.execute("BEGIN TRANSACTION")
        try:
            cursor.execute(request.sql, parameters)
            if request.format == events_pb2.ROW_FORMAT_JSON:
                yield from _json_messages(cursor, rows_per_message)
            else:
                yield from _arrow_messages(cursor, rows_per_message)
        finally:
            cursor.execute("ROLLBACK")

    # -- Status ----------------------------------------------------------------------------------------------

    def status(self, request: events_pb2.StatusRequest, context: grpc.ServicerContext) -> events_pb2.StatusResponse:
        """The receiver's counters."""
        self._tenant(context)
        status = dict(self._status())
        status["tail_subscribers"] = self._tail.subscriber_count
        rejected = status.get("rejected")
        response = events_pb2.StatusResponse(
            rejected={str(k): int(v) for k, v in rejected.items()} if isinstance(rejected, dict) else {},
            status_json=json.dumps(status, sort_keys=True, default=str),
        )
        for field in (
            "uptime_seconds",
            "received_requests",
            "received_items",
            "received_bytes",
            "stored_records",
            "stored_items",
            "store_errors",
            "wal_bytes",
            "queue_depth",
            "store_latency_p50_ms",
            "store_latency_p99_ms",
            "tail_subscribers",
        ):
            value = status.get(field)
            if isinstance(value, int | float):
                setattr(response, field, value)
        return response

    # -- Tail ------------------------------------------------------------------------------------------------

    def tail(self, request: events_pb2.TailRequest, context: grpc.ServicerContext) -> Iterator[bytes]:
        """Stream stored items matching the filter until the client leaves or the receiver stops."""
        tenant = self._tenant(context)
        try:
            subscription = self._tail.subscribe(TailQuery(request.filter, tenant), request.buffer_size)
        except FilterSyntaxError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except SubscriberLimitError as exc:
            _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        context.add_callback(subscription.close)  # wakes the wait below when the client cancels
        try:
            while not subscription.closed and context.is_active():
                yield from subscription.take(_TAIL_WAKE_SECONDS)
        finally:
            self._tail.unsubscribe(subscription)

    def _tenant(self, context: grpc.ServicerContext) -> str | None:
        if self._authenticator is None:
            return None
        authorization = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and isinstance(value, str):
                authorization = value
        try:
            return self._authenticator.authenticate(authorization)
        except OtelEventsError as exc:
            _abort(context, grpc.StatusCode.UNAUTHENTICATED, str(exc))


def _parameters(parameters_json: str) -> dict[str, object] | None:
    if not parameters_json:
        return None
    try:
        parameters = decode_result(parameters_json)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"query parameters are not valid JSON: {exc}") from None
    if not isinstance(parameters, dict):
        raise ConfigError("query parameters must be a JSON object of $name -> value")
    return parameters


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable: grpc's abort raises")


def _arrow_messages(cursor: duckdb.DuckDBPyConnection, rows_per_message: int) -> Iterator[events_pb2.QueryResponse]:
    reader = cursor.to_arrow_reader(rows_per_message)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, reader.schema) as writer:
        yield events_pb2.QueryResponse(arrow_ipc=_drain(sink))  # the schema, so an empty result still has columns
        for batch in reader:
            writer.write_batch(batch)
            yield events_pb2.QueryResponse(arrow_ipc=_drain(sink))
    tail = _drain(sink)  # the end-of-stream marker
    if tail:
        yield events_pb2.QueryResponse(arrow_ipc=tail)


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data


def _json_messages(cursor: duckdb.DuckDBPyConnection, rows_per_message: int) -> Iterator[events_pb2.QueryResponse]:
    columns = [d[0] for d in cursor.description or ()]
    first = True
    while True:
        rows = cursor.fetchmany(rows_per_message)
        if not rows and not first:
            return
        text = "\n".join(json.dumps(list(row), default=_json_default, allow_nan=False) for row in _finite(rows))
        yield events_pb2.QueryResponse(json_rows=events_pb2.JsonRows(columns=columns if first else [], rows=text))
        first = False
        if not rows:
            return


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)  # Decimal, UUID, timedelta


def _finite(rows: list[tuple]) -> Iterator[tuple]:
    # JSON has no NaN or infinity: they travel as null, like the analyzer's JSON output.
    for row in rows:
        yield tuple(None if isinstance(v, float) and not math.isfinite(v) else v for v in row)


class LiveApiConfig(Protocol):
    """The receiver settings the live API reads (``ReceiverConfig``)."""

    tail_max_subscribers: int
    tail_buffer_items: int


@dataclass
class LiveApi:
    """The EventsService of a running receiver and its tail fan-out.

    Attributes:
        service: the gRPC service.
        tail: the tail hub (closed with the API).
        threads: gRPC threads the API may hold at once (tail streams and queries each hold one), added to the
            receiver's pool so that they never starve OTLP exports.
    """

    service: EventsService
    tail: TailHub
    threads: int

    def close(self) -> None:
        """End tail streams and stop the poller (before the gRPC server stops). Safe to call twice."""
        self.tail.close()


def open_live_api(
    sink: object, status: StatusSource, authenticator: Authenticator | None, config: LiveApiConfig
) -> LiveApi | None:
    """The live API over the receiver's store, or ``None`` when its sink is not a DuckDB store (tests' sinks)."""
    from otel_events.store import Store

    store = getattr(sink, "store", None)
    if not isinstance(store, Store):
        return None
    hub = TailHub(store.connection, max_subscribers=config.tail_max_subscribers, buffer_items=config.tail_buffer_items)
    service = EventsService(store.connection, status, hub, authenticator=authenticator)
    return LiveApi(service, hub, threads=config.tail_max_subscribers + service.max_queries)
