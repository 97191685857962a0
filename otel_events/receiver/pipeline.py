"""The ingest pipeline: one thread moving durable WAL records into the store, in order, in large batches."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from otel_events.receiver.counters import ReceiverCounters
from otel_events.receiver.sink import RecordSink
from otel_events.receiver.wal import WalReader, WalRecord, WriteAheadLog

_logger = logging.getLogger(__name__)

_IDLE_WAIT_SECONDS = 0.5
# While batches decode, how often the pipeline looks for more durable records to start decoding.
_DECODE_POLL_SECONDS = 0.02
_RETRY_MIN_SECONDS = 0.1
_RETRY_MAX_SECONDS = 5.0


@runtime_checkable
class StagedSink(RecordSink, Protocol):
    """A sink that decodes batches concurrently (e.g. in worker processes) and appends them in WAL order.

    The pipeline starts decoding up to ``max_decoding`` batches at once, keeps at most ``max_in_flight`` batches
    between reading and storing, and appends decoded batches oldest first. Consecutive batches that are decoded by the
    time the oldest is are appended together in one call (one transaction): under load appends grow large, which is
    what makes them fast (PERF-NOTES: DuckDB commits of 100k rows are 3-5x faster than 5k-row ones).
    """

    @property
    def max_decoding(self) -> int:
        """Batches that decode at once (0: ``decode`` finishes before it returns)."""
        ...

    @property
    def max_in_flight(self) -> int:
        """Batches read but not yet stored (decoding or decoded); each holds its records and, decoded, its rows."""
        ...

    def decode(self, records: Sequence[WalRecord]) -> Future[Any]:
        """Start decoding ``records``; the future's result goes to ``append``."""
        ...

    def append(self, decoded: Sequence[Any], records: Sequence[WalRecord]) -> int:
        """Store decoded batches (in order) and the last record's LSN atomically; returns the items stored.

        Args:
            decoded: results of ``decode`` for consecutive batches.
            records: the records of those batches, in order.

        Raises:
            Exception: only when nothing was stored; the pipeline retries the append.
        """
        ...


@dataclass
class _Batch:
    """Records read from the WAL, in flight to the store."""

    records: list[WalRecord]
    decoded: Future[Any] | None = None
    started: float = 0.0


class IngestPipeline:
    """Reads durable records back from the WAL and hands them to the sink.

    A batch is whatever is durable, up to ``batch_max_bytes`` of payload: under load batches grow large
    (PERF-NOTES: 100k-row DuckDB commits are 3-5x faster than 5k-row ones), when idle a single request is
    stored at once so rows are queryable well within a second. Records are read from disk, not kept in memory,
    so a slow store costs WAL disk space (bounded by the WAL budget), never receiver memory.

    With a ``StagedSink`` the next batches decode (in worker processes) while earlier ones are appended; appends
    stay in WAL order (the oldest batch in flight is always appended first, together with the decoded batches right
    behind it), so the stored WAL position is exact after a crash. At most ``max_in_flight`` batches are between
    reading and storing, which bounds the memory they take.

    Args:
        wal: the opened write-ahead log.
        sink: where records go; its ``wal_position()`` says where to resume.
        counters: updated after every batch.
        batch_max_bytes: payload bytes per batch (per sink call, or per decode with a ``StagedSink``).
    """

    def __init__(
        self, wal: WriteAheadLog, sink: RecordSink, counters: ReceiverCounters, *, batch_max_bytes: int
    ) -> None:
        self._wal = wal
        self._sink = sink
        self._staged = sink if isinstance(sink, StagedSink) else None
        self._counters = counters
        self._batch_max_bytes = batch_max_bytes
        self._stop = threading.Event()
        self._abandon = threading.Event()
        self._stored_lsn = 0
        self._reader: WalReader | None = None
        self._thread: threading.Thread | None = None
        self._in_flight: deque[_Batch] = deque()
        # Records read but not yet in a batch (waiting for a decoder or for the batch to fill).
        self._pending: list[WalRecord] = []
        self._pending_bytes = 0
        self._max_decoding = self._staged.max_decoding if self._staged is not None else 0
        self._max_in_flight = max(1, self._staged.max_in_flight) if self._staged is not None else 1
        self._read_retry_delay = _RETRY_MIN_SECONDS

    @property
    def running(self) -> bool:
        """Whether the pipeline thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def queue_depth(self) -> int:
        """Records durable in the WAL but not stored yet (the queue depth)."""
        return max(0, self._wal.durable_lsn - self._stored_lsn)

    @property
    def stored_lsn(self) -> int:
        """LSN of the last record handed to the sink successfully."""
        return self._stored_lsn

    def start(self, stored_lsn: int) -> None:
        """Start the pipeline thread after ``stored_lsn`` (replaying whatever the WAL holds past it)."""
        self._stored_lsn = stored_lsn
        self._reader = self._wal.reader(stored_lsn)
        self._thread = threading.Thread(target=self._run, name="otel-events-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Store everything durable (the WAL must be closed first), then stop. Safe to call twice.

        Returns:
            True when everything durable was stored within ``timeout`` seconds. When False the thread may
            still be inside a sink call, so the caller must not close the sink.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._abandon.set()
                _logger.error("store not drained in %.0f s; the WAL keeps the rest for the next run", timeout)
                return False
            self._thread = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        return self._stored_lsn >= self._wal.durable_lsn

    # -- pipeline thread --------------------------------------------------------------------------------------

    def _run(self) -> None:
        retry_delay = _RETRY_MIN_SECONDS
        while True:
            if not self._fill():
                return
            if not self._in_flight:
                if self._stop.is_set() and self._reader.last_lsn >= self._wal.durable_lsn:
                    return
                self._wal.wait_durable(self._reader.last_lsn, _IDLE_WAIT_SECONDS)
                continue
            head = self._in_flight[0]
            if head.decoded is not None and not head.decoded.done():
                # Wait for the oldest batch, but look for new durable records now and then to decode meanwhile.
                room = len(self._in_flight) < self._max_in_flight
                wait_futures([head.decoded], timeout=_DECODE_POLL_SECONDS if room else _IDLE_WAIT_SECONDS)
                continue
            group = self._ready_group()
            try:
                items = self._store(group)
            except Exception:
                # The store refused the whole batch (disk full, file problem) or decoding it failed: keep it and
                # retry, backing off. Meanwhile the WAL absorbs new requests until its budget is spent.
                self._counters.record_store_error()
                records = sum(len(batch.records) for batch in group)
                _logger.exception("storing %d WAL records failed; retrying in %.1f s", records, retry_delay)
                if self._abandon.wait(retry_delay):
                    return
                retry_delay = min(retry_delay * 2, _RETRY_MAX_SECONDS)
                continue
            retry_delay = _RETRY_MIN_SECONDS
            for _ in group:
                self._in_flight.popleft()
            records = sum(len(batch.records) for batch in group)
            self._counters.record_stored(records, items, time.perf_counter() - head.started)
            self._stored_lsn = group[-1].records[-1].lsn
            self._wal.release(self._stored_lsn)

    def _fill(self) -> bool:
        """Start batches while there is room; returns False when the pipeline must stop.

        A batch starts once it is full, or at once when a decoder is idle (or nothing is in flight): under load
        batches grow to ``batch_max_bytes`` while every decoder is busy, when idle a request is stored at once.
        """
        while len(self._in_flight) < self._max_in_flight:
            more = self._read_durable(self._batch_max_bytes - self._pending_bytes)
            if more is None:
                return False
            if more:
                self._pending += more
                self._pending_bytes += sum(len(record.payload) for record in more)
            if not self._pending:
                return True
            decoding = sum(1 for batch in self._in_flight if batch.decoded is not None and not batch.decoded.done())
            full = self._pending_bytes >= self._batch_max_bytes
            if not (full or not self._in_flight or decoding < self._max_decoding):
                return True
            self._in_flight.append(self._begin(self._pending))
            self._pending, self._pending_bytes = [], 0
        return True

    def _begin(self, records: list[WalRecord]) -> _Batch:
        batch = _Batch(records, started=time.perf_counter())
        if self._staged is not None:
            batch.decoded = self._staged.decode(records)
        return batch

    def _ready_group(self) -> list[_Batch]:
        """The oldest batch and the consecutive batches after it that decoded successfully already."""
        group = [self._in_flight[0]]
        for batch in itertools.islice(self._in_flight, 1, None):
            future = batch.decoded
            if future is None or not future.done() or future.exception() is not None:
                break
            group.append(batch)
        return group

    def _store(self, group: list[_Batch]) -> int:
        """Store batches in one sink call; a failed decode is started again before the error propagates."""
        if self._staged is None:
            return self._sink.store_records([record for batch in group for record in batch.records])
        decoded = []
        for batch in group:
            assert batch.decoded is not None
            try:
                decoded.append(batch.decoded.result())
            except Exception:
                batch.decoded = self._staged.decode(batch.records)
                raise
        items = self._staged.append(decoded, [record for batch in group for record in batch.records])
        for batch in group:
            batch.decoded = None  # the rows are stored: let them go before the next batch
        return items

    def _read_durable(self, max_bytes: int) -> list[WalRecord] | None:
        """The next durable records ([] when there are none yet); None when the pipeline must stop."""
        assert self._reader is not None
        durable = self._wal.durable_lsn
        if self._reader.last_lsn >= durable or max_bytes <= 0:
            return []
        try:
            records = self._reader.read(durable, max_bytes)
        except OSError:
            # Reading back what was fsynced failed (I/O error): start a new reader after the last record read into
            # a batch, since the failed read may have consumed records it never returned.
            _logger.exception("reading the WAL failed; retrying in %.1f s", self._read_retry_delay)
            self._reader.close()
            read = self._pending or (self._in_flight[-1].records if self._in_flight else [])
            resume = read[-1].lsn if read else self._stored_lsn
            self._reader = self._wal.reader(resume)
            if self._abandon.wait(self._read_retry_delay):
                return None
            self._read_retry_delay = min(self._read_retry_delay * 2, _RETRY_MAX_SECONDS)
            return []
        self._read_retry_delay = _RETRY_MIN_SECONDS
        if not records:
            # Durable records exist but are not readable yet: never spin.
            self._wal.wait_durable(durable, _IDLE_WAIT_SECONDS / 10)
        return records
