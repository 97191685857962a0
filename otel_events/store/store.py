"""The DuckDB store: opens/migrates a file and appends decoded OTLP batches in one transaction each."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from otel_events.errors import StoreError
from otel_events.store.classifier import ItemClassifier, default_classifier
from otel_events.store.columns import insert_arrow
from otel_events.store.decoder import BatchDecoder
from otel_events.store.dedup import SeqDedup
from otel_events.store.registry import Registry
from otel_events.store.schema import SCHEMA_VERSION, SORT_TRACE_BATCHES_SQL, check_version, migrate

SIGNALS = ("traces", "logs", "metrics")

# The number of the next ingest transaction (column ingest_batch, schema v3).
_NEXT_BATCH_SQL = """
SELECT coalesce(max(b) + 1, 0) FROM (
    SELECT max(ingest_batch) AS b FROM span_data UNION ALL SELECT max(ingest_batch) FROM log_data
)
"""
# trace_batches rows appended before the table is rewritten sorted (see Store._sort_trace_batches).
_SORT_TRACE_BATCHES_MIN = 250_000
# Run on the just-inserted batch (see insert_arrow): which traces it holds (sql/migrations/003_lean_rows.sql).
_TRACE_BATCHES_SQL = """
INSERT INTO trace_batches
SELECT DISTINCT CAST('0x' || substr(trace_id, 1, 16) AS UBIGINT), ingest_batch FROM {batch}
WHERE trace_id IS NOT NULL
"""


@dataclass(frozen=True)
class IngestItem:
    """One export request as received.

    Attributes:
        signal: ``"traces"``, ``"logs"`` or ``"metrics"``.
        payload: the serialized ``Export{Trace,Logs,Metrics}ServiceRequest``.
        tenant: the tenant the request was authenticated as, if any.
    """

    signal: str
    payload: bytes
    tenant: str | None = None


@dataclass(frozen=True)
class IngestStats:
    """What one ``Store.ingest`` call did.

    Attributes:
        items: requests in the batch.
        spans: span rows stored.
        log_records: log rows stored.
        metric_points: data point rows stored.
        duplicates: spans/log records skipped because their (stream_id, seq) was already stored.
        dead_letters: requests that could not be stored and went to the ``dead_letters`` table.
    """

    items: int
    spans: int
    log_records: int
    metric_points: int
    duplicates: int
    dead_letters: int


@dataclass(frozen=True)
class _DeadLetter:
    item: IngestItem
    error: str


class Store:
    """A DuckDB file (or ``":memory:"``) holding spans, logs and metric points with the public views of SPEC §5.

    A writable store takes DuckDB's file lock: one process writes; others read the file only when no writer holds
    it. ``ingest`` may be called from one thread at a time (it serialises itself); readers use ``connection`` (or a
    ``connection.cursor()`` per thread).

    Args:
        path: the database file, created (with its schema) when missing; ``":memory:"`` for a private database.
        classifier: classifies items that arrive without ``otel_events.category``; the shared default
            ``otel_events.classify.Classifier()`` when None.
        read_only: open an existing file for reading only (no migration, no ingest).

    Raises:
        StoreError: the file is missing (read-only), locked by another process, or not a DuckDB database.
        SchemaVersionError: the file was written by a newer otel_events.
    """

    def __init__(self, path: str | Path, *, classifier: ItemClassifier | None = None, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.Lock()
        self._closed = False
        self._con = open_database(self.path, read_only=read_only)
        try:
            if read_only:
                check_version(self._con, self.path, read_only=True)
            else:
                if migrate(self._con, self.path) < SCHEMA_VERSION and self.path != ":memory:":
                    # Write the new schema into the file now: duckdb 1.5 cannot replay some DDL from its own WAL
                    # (ALTER ... SET DEFAULT nextval), so a kill -9 before the first checkpoint would leave a
                    # file that no longer opens.
                    self._con.execute("CHECKPOINT")
        except BaseException:
            self._con.close()
            raise
        self._classifier = classifier
        self._registry = Registry()
        self._dedup = SeqDedup()
        self._next_batch = 0
        self._sorted_trace_rows = 0
        if not read_only:
            self._registry.load(self._con)
            self._dedup.load(self._con)
            self._next_batch = self._con.execute(_NEXT_BATCH_SQL).fetchone()[0]
            self._sorted_trace_rows = self._trace_batch_rows()
        self._decoder: BatchDecoder | None = None

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection (for queries; use ``.cursor()`` from other threads)."""
        return self._con

    def wal_position(self) -> int | None:
        """The ``wal_position`` stored by the last successful ``ingest`` that gave one, or None."""
        row = self._con.execute("SELECT wal_position FROM ingest_checkpoint WHERE id = 1").fetchone()
        return None if row is None else row[0]

    def ingest(
        self,
        items: Sequence[IngestItem],
        *,
        wal_position: int | None = None,
        received_at_ns: int | None = None,
    ) -> IngestStats:
        """Decode, classify, deduplicate and append a batch of requests in ONE transaction.

        An item that cannot be decoded or stored is written to ``dead_letters`` (error text and raw bytes); the
        rest of the batch is stored.

        Args:
            items: the requests.
            wal_position: stored in the same transaction (see ``wal_position()``), so a receiver can replay its
                write-ahead log from exactly the first request not yet stored.
            received_at_ns: the ``received_at`` of every row (nanoseconds since the epoch); now when None.

        Returns:
            Counts of what was stored.

        Raises:
            StoreError: the store is read-only or closed, or the transaction failed as a whole (e.g. disk full);
                nothing of the batch is stored then.
        """
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only")
        received_at = time.time_ns() if received_at_ns is None else received_at_ns
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path} is closed")
            decoder = self._batch_decoder()
            good, dead = self._decode(decoder, items)
            try:
                self._write(decoder, dead, wal_position, received_at)
            except Exception:
                # Something decoded but could not be stored (e.g. a timestamp past 2262): find which items.
                good, dead = self._isolate_unstorable(decoder, good, dead, received_at)
                decoder.reset()
                for item in good:
                    decoder.add(item.signal, item.payload, item.tenant)
                try:
                    self._write(decoder, dead, wal_position, received_at)
                except Exception as exc:
                    raise StoreError(f"cannot write to {self.path}: {exc}") from exc
            return IngestStats(
                items=len(items),
                spans=len(decoder.spans),
                log_records=len(decoder.logs),
                metric_points=len(decoder.metrics),
                duplicates=decoder.duplicates,
                dead_letters=len(dead),
            )

    def close(self) -> None:
        """Checkpoint (writable stores) and close; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if not self.read_only:
                    self._con.execute("CHECKPOINT")
            finally:
                self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _batch_decoder(self) -> BatchDecoder:
        if self._decoder is None:
            classifier = self._classifier if self._classifier is not None else default_classifier()
            self._decoder = BatchDecoder(self._registry, self._dedup, classifier)
        self._decoder.reset()
        return self._decoder

    @staticmethod
    def _decode(decoder: BatchDecoder, items: Sequence[IngestItem]) -> tuple[list[IngestItem], list[_DeadLetter]]:
        good: list[IngestItem] = []
        dead: list[_DeadLetter] = []
        for item in items:
            try:
                decoder.add(item.signal, item.payload, item.tenant)
            except Exception as exc:
                dead.append(_DeadLetter(item, f"cannot decode {item.signal} request: {_describe(exc)}"))
            else:
                good.append(item)
        return good, dead

    def _write(
        self, decoder: BatchDecoder, dead: list[_DeadLetter], wal_position: int | None, received_at: int
    ) -> None:
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            self._append_rows(decoder, received_at)
            if dead:
                insert_arrow(con, "dead_letters", _dead_letter_table(dead, received_at))
            if wal_position is not None:
                con.execute("INSERT OR REPLACE INTO ingest_checkpoint VALUES (1, ?)", [wal_position])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            self._registry.rollback()
            self._dedup.rollback()
            raise
        self._registry.commit()
        self._dedup.commit()
        self._next_batch += 1
        self._sort_trace_batches()

    def _trace_batch_rows(self) -> int:
        return self._con.execute("SELECT count(*) FROM trace_batches").fetchone()[0]

    def _sort_trace_batches(self) -> None:
        """Rewrite trace_batches sorted by trace_key once its unsorted tail has grown by a quarter.

        Sorted, each row group covers a narrow key range, so a lookup reads one row group of the sorted part
        (0.8 ms) plus the unsorted tail, instead of every row (3 ms per million rows). A quarter keeps the
        rewrites amortised: each row is rewritten a bounded number of times on average.
        """
        rows = self._trace_batch_rows()
        if rows - self._sorted_trace_rows < max(_SORT_TRACE_BATCHES_MIN, self._sorted_trace_rows // 4):
            return
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(SORT_TRACE_BATCHES_SQL)
            con.execute("COMMIT")
        except duckdb.Error:
            # Only a slower lookup results: the rows are intact, the rewrite is retried after the next batch.
            con.execute("ROLLBACK")
            return
        self._sorted_trace_rows = rows

    def _append_rows(self, decoder: BatchDecoder, received_at: int) -> None:
        """Insert the decoded rows and their trace_batches entries (inside the caller's transaction)."""
        con = self._con
        self._registry.write_pending(con)
        for buffer in (decoder.spans, decoder.logs, decoder.metrics):
            if len(buffer):
                data = buffer.to_arrow(received_at, self._next_batch)
                insert_arrow(con, buffer.table, data, then=_TRACE_BATCHES_SQL if buffer.batched else None)

    def _isolate_unstorable(
        self, decoder: BatchDecoder, good: list[IngestItem], dead: list[_DeadLetter], received_at: int
    ) -> tuple[list[IngestItem], list[_DeadLetter]]:
        """Try each item alone in a transaction that is rolled back; those that fail become dead letters."""
        storable: list[IngestItem] = []
        dead = list(dead)
        con = self._con
        for item in good:
            decoder.reset()
            try:
                decoder.add(item.signal, item.payload, item.tenant)
                con.execute("BEGIN TRANSACTION")
                try:
                    self._append_rows(decoder, received_at)
                finally:
                    con.execute("ROLLBACK")
            except Exception as exc:
                dead.append(_DeadLetter(item, f"cannot store {item.signal} request: {_describe(exc)}"))
            else:
                storable.append(item)
            finally:
                self._registry.rollback()
                self._dedup.rollback()
        return storable, dead


def open_database(path: str, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with clear errors for a missing, locked or foreign file."""
    if path != ":memory:" and read_only and not os.path.exists(path):
        raise StoreError(f"{path}: no such database file")
    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise StoreError(
                f"{path} is locked by another process (a running receiver holds it; query through the receiver "
                f"or stop it first): {text}"
            ) from exc
        raise StoreError(f"cannot open {path}: {text}") from exc
    except duckdb.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from exc


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _dead_letter_table(dead: list[_DeadLetter], received_at: int) -> pa.Table:
    return pa.table(
        {
            "received_at": pa.array([received_at] * len(dead), pa.timestamp("ns")),
            "signal": pa.array([d.item.signal for d in dead], pa.string()),
            "tenant": pa.array([d.item.tenant for d in dead], pa.string()),
            "error": pa.array([d.error for d in dead], pa.string()),
            "payload": pa.array([d.item.payload for d in dead], pa.binary()),
        }
    )
