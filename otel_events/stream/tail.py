"""Tail fan-out (SPEC §7): one poller thread reads newly stored rows and hands them to every subscriber.

The poller runs only while someone subscribes. Each poll reads the rows of the ingest transactions committed since
the last one (``ingest_batch`` only grows, and DuckDB's zone maps skip every older row group), once per distinct
(filter, tenant), converts them to ``TailResponse`` chunks serialized ONCE, and appends the same bytes to each
subscriber's buffer. So fan-out costs one append per subscriber per chunk, never per item, and the poller never
waits for a subscriber: a buffer past its capacity drops its oldest chunks and counts them, and the next message
that subscriber reads carries the count (the marker). A subscriber that stops reading costs a bounded buffer and
a blocked gRPC thread, never ingest time.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

from otel_events._proto import events_pb2
from otel_events.analyze.fields import View
from otel_events.analyze.filter import CompiledFilter, compile_filter
from otel_events.errors import FilterSyntaxError, OtelEventsError

_logger = logging.getLogger(__name__)

DEFAULT_MAX_SUBSCRIBERS = 100
DEFAULT_BUFFER_ITEMS = 10_000
# Items per serialized chunk: large enough that fan-out is cheap, small enough that dropping whole chunks loses
# little more than needed.
CHUNK_ITEMS = 256
DEFAULT_POLL_SECONDS = 0.2

_NEWEST_BATCH = "SELECT max(b) FROM (SELECT max(ingest_batch) AS b FROM span_data UNION ALL " \
    "SELECT max(ingest_batch) FROM log_data)"  # fmt: skip
_SPAN_ROWS = (
    "SELECT epoch_ns(start_time) AS t, trace_id, span_id, service_name, name, NULL AS body, "
    "CAST(category AS VARCHAR), seq, tenant FROM span_rows "
    "WHERE ingest_batch > $low AND ingest_batch <= $high AND {tenant} AND {filter} ORDER BY start_time"
)
_LOG_ROWS = (
    'SELECT epoch_ns("time") AS t, trace_id, span_id, service_name, event_name, body, '
    "CAST(category AS VARCHAR), seq, tenant FROM log_rows "
    'WHERE ingest_batch > $low AND ingest_batch <= $high AND {tenant} AND {filter} ORDER BY "time"'
)


class SubscriberLimitError(OtelEventsError):
    """The receiver already serves its maximum number of tail subscribers (answered with RESOURCE_EXHAUSTED)."""


@dataclass(frozen=True)
class TailQuery:
    """What a group of subscribers asked for; subscribers with equal queries share the poller's work.

    Attributes:
        filter: the filter expression ("" for everything).
        tenant: only this tenant's rows; ``None`` for every row (no authentication).
    """

    filter: str = ""
    tenant: str | None = None


@dataclass(frozen=True)
class _CompiledTail:
    spans: CompiledFilter | None
    logs: CompiledFilter | None


def compile_tail_filter(expression: str) -> _CompiledTail:
    """Compile a tail filter for spans and logs; a field only one view has selects that view only.

    Raises:
        FilterSyntaxError: when the expression fits neither view (the spans error is reported).
    """
    compiled: dict[View, CompiledFilter | None] = {}
    first_error: FilterSyntaxError | None = None
    for view in (View.SPANS, View.LOGS):
        try:
            compiled[view] = compile_filter(expression, view)
        except FilterSyntaxError as exc:
            compiled[view] = None
            first_error = first_error or exc
    if compiled[View.SPANS] is None and compiled[View.LOGS] is None:
        assert first_error is not None
        raise first_error
    return _CompiledTail(compiled[View.SPANS], compiled[View.LOGS])


@dataclass(frozen=True)
class _Chunk:
    items: int
    payload: bytes  # a serialized TailResponse without a marker, shared by every subscriber of the group


class Subscription:
    """One subscriber's bounded buffer of chunks.

    Args:
        query: what it receives.
        capacity: items kept before the oldest chunks are dropped (the newest chunk is always kept).
    """

    def __init__(self, query: TailQuery, capacity: int) -> None:
        self.query = query
        self.capacity = capacity
        self._chunks: deque[_Chunk] = deque()
        self._buffered = 0
        self._dropped = 0
        self._closed = False
        self._ready = threading.Condition(threading.Lock())

    @property
    def closed(self) -> bool:
        """Whether the subscription ended (the client left or the receiver stops)."""
        return self._closed

    def offer(self, chunk: _Chunk) -> None:
        """Append a chunk, dropping the oldest ones past capacity; never blocks on the reader."""
        with self._ready:
            if self._closed:
                return
            self._chunks.append(chunk)
            self._buffered += chunk.items
            while self._buffered > self.capacity and len(self._chunks) > 1:
                lost = self._chunks.popleft()
                self._buffered -= lost.items
                self._dropped += lost.items
            self._ready.notify()

    def take(self, timeout: float) -> list[bytes]:
        """Every buffered message (a marker first when items were dropped); empty after ``timeout`` or on close."""
        with self._ready:
            if not self._chunks and not self._closed:
                self._ready.wait(timeout)
            messages = []
            if self._dropped and self._chunks:
                messages.append(events_pb2.TailResponse(dropped=self._dropped).SerializeToString())
                self._dropped = 0
            messages.extend(chunk.payload for chunk in self._chunks)
            self._chunks.clear()
            self._buffered = 0
            return messages

    def close(self) -> None:
        """End the subscription and wake its reader. Safe to call twice."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()


class TailHub:
    """Subscriptions plus the poller thread that feeds them.

    Args:
        connection: the store's DuckDB connection; the poller reads through its own cursor.
        max_subscribers: subscriptions beyond this are refused.
        buffer_items: default (and largest) buffer of a subscriber, in items.
        poll_seconds: pause between polls while subscribed.
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        *,
        max_subscribers: int = DEFAULT_MAX_SUBSCRIBERS,
        buffer_items: int = DEFAULT_BUFFER_ITEMS,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self._connection = connection
        self.max_subscribers = max_subscribers
        self.buffer_items = buffer_items
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._compiled: dict[str, _CompiledTail] = {}
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def subscriber_count(self) -> int:
        """Current subscriptions."""
        with self._lock:
            return len(self._subscriptions)

    def subscribe(self, query: TailQuery, buffer_items: int = 0) -> Subscription:
        """Add a subscriber receiving rows stored from now on.

        Args:
            query: filter and tenant.
            buffer_items: its buffer in items; 0 or more than the hub's ``buffer_items`` means ``buffer_items``.

        Raises:
            FilterSyntaxError: for an invalid filter.
            SubscriberLimitError: when ``max_subscribers`` are already subscribed.
        """
        compiled = compile_tail_filter(query.filter)
        capacity = buffer_items if 0 < buffer_items <= self.buffer_items else self.buffer_items
        subscription = Subscription(query, capacity)
        with self._lock:
            if self._closed:
                subscription.close()
                return subscription
            if len(self._subscriptions) >= self.max_subscribers:
                raise SubscriberLimitError(
                    f"the receiver already serves {self.max_subscribers} tail subscribers (its limit); retry later"
                )
            self._compiled[query.filter] = compiled
            self._subscriptions.append(subscription)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="otel-events-tail", daemon=True)
                self._thread.start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove a subscriber (the poller stops with the last one). Safe to call twice."""
        subscription.close()
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
            if not self._subscriptions:
                self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """End every subscription and stop the poller. Safe to call twice."""
        with self._lock:
            self._closed = True
            subscriptions, self._subscriptions = self._subscriptions, []
            thread = self._thread
        for subscription in subscriptions:
            subscription.close()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)

    # -- the poller ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        cursor = self._connection.cursor()
        try:
            last = _newest_batch(cursor)
            while True:
                with self._lock:
                    if self._closed or not self._subscriptions:
                        self._thread = None
                        return
                    self._wake.clear()
                try:
                    last = self._poll(cursor, last)
                except Exception:
                    # A failing read (e.g. the store closing under us) must not kill tail for good; retry.
                    _logger.exception("tail poll failed")
                self._wake.wait(self._poll_seconds)
        finally:
            cursor.close()

    def _poll(self, cursor: duckdb.DuckDBPyConnection, last: int) -> int:
        with self._lock:
            groups: dict[TailQuery, list[Subscription]] = {}
            for subscription in self._subscriptions:
                groups.setdefault(subscription.query, []).append(subscription)
            compiled = {query: self._compiled[query.filter] for query in groups}
        cursor.execute("BEGIN TRANSACTION")  # one snapshot for the newest batch and every group's rows
        try:
            newest = _newest_batch(cursor)
            if newest <= last:
                return last
            chunks = {query: list(_read_chunks(cursor, query, compiled[query], last, newest)) for query in groups}
        finally:
            cursor.execute("ROLLBACK")
        for query, members in groups.items():
            for chunk in chunks[query]:
                for subscription in members:
                    subscription.offer(chunk)
        return newest


def _newest_batch(cursor: duckdb.DuckDBPyConnection) -> int:
    row = cursor.execute(_NEWEST_BATCH).fetchone()
    return -1 if row is None or row[0] is None else int(row[0])


def _read_chunks(
    cursor: duckdb.DuckDBPyConnection, query: TailQuery, compiled: _CompiledTail, low: int, high: int
) -> Iterator[_Chunk]:
    streams = []
    for kind, template, tail_filter in (("span", _SPAN_ROWS, compiled.spans), ("log", _LOG_ROWS, compiled.logs)):
        if tail_filter is None:
            continue
        sql, params = tail_filter.named("f")
        params.update(low=low, high=high)
        tenant_sql = "TRUE"
        if query.tenant is not None:
            tenant_sql = "tenant = $tenant"
            params["tenant"] = query.tenant
        rows = cursor.execute(template.format(tenant=tenant_sql, filter=sql), params).fetchall()
        streams.append([(row[0] or 0, kind, row) for row in rows])
    batch: list[events_pb2.TailItem] = []
    for _, kind, row in heapq.merge(*streams, key=lambda entry: entry[0]):
        batch.append(_item(kind, row))
        if len(batch) == CHUNK_ITEMS:
            yield _chunk(batch)
            batch = []
    if batch:
        yield _chunk(batch)


def _item(kind: str, row: tuple) -> events_pb2.TailItem:
    time_ns, trace_id, span_id, service, name, body, category, seq, tenant = row
    return events_pb2.TailItem(
        kind=kind,
        time_unix_nano=time_ns or 0,
        trace_id=trace_id or "",
        span_id=span_id or "",
        service_name=service or "",
        name=name or "",
        body=body or "",
        category=category or "",
        seq=seq,
        tenant=tenant or "",
    )


def _chunk(items: list[events_pb2.TailItem]) -> _Chunk:
    return _Chunk(len(items), events_pb2.TailResponse(items=items).SerializeToString())
