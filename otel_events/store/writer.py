"""Appending a decoded batch to the store in one transaction: stored ids, deduplication, dead letters."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from otel_events.store.batch import ITEM_TABLES, DecodedBatch
from otel_events.store.columns import TIMESTAMP, insert_arrow
from otel_events.store.dedup import SeqDedup
from otel_events.store.registry import Registry
from otel_events.store.schema import SORT_TRACE_BATCHES_SQL

# The number of the next ingest transaction (column ingest_batch, schema v3).
_NEXT_BATCH_SQL = """
SELECT coalesce(max(b) + 1, 0) FROM (
    SELECT max(ingest_batch) AS b FROM span_data UNION ALL SELECT max(ingest_batch) FROM log_data
)
"""
# trace_batches rows appended before the table is rewritten sorted (see BatchWriter._sort_trace_batches).
_SORT_TRACE_BATCHES_MIN = 250_000
# Run on the just-inserted batch (see insert_arrow): which traces it holds (sql/migrations/003_lean_rows.sql).
_TRACE_BATCHES_SQL = """
INSERT INTO trace_batches
SELECT DISTINCT CAST('0x' || substr(trace_id, 1, 8) AS UINTEGER), ingest_batch FROM {batch}
WHERE trace_id IS NOT NULL
"""
# Tables whose rows carry (stream_id, seq) and an ingest batch number.
_SEQUENCED = frozenset({"span_data", "log_data"})


@dataclass(frozen=True)
class Appended:
    """Rows appended per base table, and rows skipped as duplicates of stored (stream_id, seq) pairs."""

    rows: dict[str, int]
    duplicates: int


class BatchWriter:
    """Appends decoded batches to an open, writable store; one transaction per call of ``write``.

    Keeps what must agree with the stored rows: resource/scope ids, the stored (stream_id, seq) pairs and the
    next ingest batch number, each updated only when a transaction commits.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._registry = Registry()
        self._registry.load(con)
        self._dedup = SeqDedup()
        self._dedup.load(con)
        self._next_batch = con.execute(_NEXT_BATCH_SQL).fetchone()[0]
        self._sorted_trace_rows = self._trace_batch_rows()

    def write(self, batch: DecodedBatch, dead: dict[int, str], wal_position: int | None, received_at: int) -> Appended:
        """Append the batch's rows (except those of ``dead`` items) and the dead letters in one transaction."""
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            appended = self._append_rows(batch, frozenset(dead), received_at)
            if dead:
                insert_arrow(con, "dead_letters", _dead_letter_table(batch, dead, received_at))
            if wal_position is not None:
                con.execute("INSERT OR REPLACE INTO ingest_checkpoint VALUES (1, ?)", [wal_position])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            self._forget_pending()
            raise
        self._registry.commit()
        self._dedup.commit()
        self._next_batch += 1
        self._sort_trace_batches()
        return appended

    def find_unstorable(self, batch: DecodedBatch, dead: dict[int, str], received_at: int) -> dict[int, str]:
        """Try each item alone in a transaction that is rolled back; return the errors of those that fail."""
        failed: dict[int, str] = {}
        others = frozenset(range(len(batch.items)))
        for index, item in enumerate(batch.items):
            if index in dead:
                continue
            self._con.execute("BEGIN TRANSACTION")
            try:
                self._append_rows(batch, others - {index}, received_at)
            except Exception as exc:
                failed[index] = f"cannot store {item.signal} request: {type(exc).__name__}: {exc}"
            finally:
                self._con.execute("ROLLBACK")
                self._forget_pending()
        return failed

    def _forget_pending(self) -> None:
        self._registry.rollback()
        self._dedup.rollback()

    def _append_rows(self, batch: DecodedBatch, excluded: frozenset[int], received_at: int) -> Appended:
        con = self._con
        registry = self._registry
        resource_ids = pa.array([registry.resource_id(*key) for key in batch.resources], pa.uint32())
        scope_ids = pa.array([registry.scope_id(*key) for key in batch.scopes], pa.uint32())
        registry.write_pending(con)
        rows: dict[str, int] = {}
        duplicates = 0
        for name in ITEM_TABLES:
            table = batch.tables[name]
            if excluded and len(table):
                excluded_items = pa.array(sorted(excluded), pa.uint32())
                table = table.filter(pc.invert(pc.is_in(batch.row_items[name], value_set=excluded_items)))
            if name in _SEQUENCED and len(table):
                table, skipped = self._drop_duplicates(table)
                duplicates += skipped
            rows[name] = len(table)
            if not len(table):
                continue
            table = table.set_column(
                table.schema.get_field_index("resource_id"), "resource_id", resource_ids.take(table["resource_id"])
            )
            table = table.set_column(
                table.schema.get_field_index("scope_id"), "scope_id", scope_ids.take(table["scope_id"])
            )
            table = table.append_column("received_at", pa.repeat(pa.scalar(received_at, TIMESTAMP), len(table)))
            if name in _SEQUENCED:
                ingest_batch = pa.repeat(pa.scalar(self._next_batch, pa.int64()), len(table))
                table = table.append_column("ingest_batch", ingest_batch)
            insert_arrow(con, name, table, then=_TRACE_BATCHES_SQL if name in _SEQUENCED else None)
        return Appended(rows, duplicates)

    def _drop_duplicates(self, table: pa.Table) -> tuple[pa.Table, int]:
        """Claim each row's (stream_id, seq); drop rows already stored or claimed earlier in the batch."""
        streams = table["stream_id"]
        if streams.null_count == len(table):
            return table, 0
        rows_by_stream: dict[str, list[int]] = {}
        seqs_by_stream: dict[str, list[int]] = {}
        for row, (stream, seq) in enumerate(zip(streams.to_pylist(), table["seq"].to_pylist(), strict=True)):
            if stream is not None and seq is not None:
                rows = rows_by_stream.get(stream)
                if rows is None:
                    rows_by_stream[stream] = [row]
                    seqs_by_stream[stream] = [seq]
                else:
                    rows.append(row)
                    seqs_by_stream[stream].append(seq)
        dedup = self._dedup
        dropped: list[int] = []
        for stream, seqs in seqs_by_stream.items():
            if not dedup.claim_new(stream, seqs):
                dropped.extend(
                    row for row, seq in zip(rows_by_stream[stream], seqs, strict=True) if not dedup.claim(stream, seq)
                )
        if not dropped:
            return table, 0
        keep = [True] * len(table)
        for row in dropped:
            keep[row] = False
        return table.filter(pa.array(keep)), len(dropped)

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


def _dead_letter_table(batch: DecodedBatch, dead: dict[int, str], received_at: int) -> pa.Table:
    items = [batch.items[index] for index in dead]
    return pa.table(
        {
            "received_at": pa.array([received_at] * len(dead), TIMESTAMP),
            "signal": pa.array([item.signal for item in items], pa.string()),
            "tenant": pa.array([item.tenant for item in items], pa.string()),
            "error": pa.array(list(dead.values()), pa.string()),
            "payload": pa.array([item.payload for item in items], pa.binary()),
        }
    )
