"""The DuckDB store: opens/migrates a file and appends decoded OTLP batches in one transaction each."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from otel_events.errors import StoreError
from otel_events.store.batch import BatchDecoding, DecodedBatch, IngestItem
from otel_events.store.classifier import ItemClassifier
from otel_events.store.schema import SCHEMA_VERSION, check_version, migrate
from otel_events.store.writer import BatchWriter

__all__ = ["IngestItem", "IngestStats", "Store", "open_database"]


@dataclass(frozen=True)
class IngestStats:
    """What one ``Store.ingest`` / ``Store.append_decoded`` call did.

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
        self._decoding: BatchDecoding | None = None
        self._decode_lock = threading.Lock()
        self._writer = None if read_only else BatchWriter(self._con)

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

        The same as ``append_decoded(decode_batch(items))`` with the store's classifier. An item that cannot be
        decoded or stored is written to ``dead_letters`` (error text and raw bytes); the rest of the batch is
        stored.

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
        self._check_writable()
        with self._decode_lock:
            if self._decoding is None:
                self._decoding = BatchDecoding(self._classifier)
            batch = self._decoding.decode(list(items))
        return self.append_decoded(batch, wal_position=wal_position, received_at_ns=received_at_ns)

    def append_decoded(
        self,
        batch: DecodedBatch,
        *,
        wal_position: int | None = None,
        received_at_ns: int | None = None,
    ) -> IngestStats:
        """Deduplicate and append a batch from ``decode_batch`` (e.g. decoded in a worker process) in ONE transaction.

        Requests that failed to decode, or whose rows cannot be stored, become dead letters; the rest is stored.

        Args:
            batch: the decoded requests.
            wal_position: stored in the same transaction (see ``ingest``).
            received_at_ns: the ``received_at`` of every row (nanoseconds since the epoch); now when None.

        Returns:
            Counts of what was stored.

        Raises:
            StoreError: as for ``ingest``.
        """
        self._check_writable()
        received_at = time.time_ns() if received_at_ns is None else received_at_ns
        dead = dict(batch.errors)
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path} is closed")
            writer = self._writer
            try:
                appended = writer.write(batch, dead, wal_position, received_at)
            except Exception:
                # Something decoded but could not be stored (e.g. a timestamp past 2262): find which items.
                dead.update(writer.find_unstorable(batch, dead, received_at))
                try:
                    appended = writer.write(batch, dead, wal_position, received_at)
                except Exception as exc:
                    raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        return IngestStats(
            items=len(batch.items),
            spans=appended.rows["span_data"],
            log_records=appended.rows["log_data"],
            metric_points=appended.rows["metric_point_data"],
            duplicates=appended.duplicates,
            dead_letters=len(dead),
        )

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only")

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
