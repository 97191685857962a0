"""The production sink: WAL records into the DuckDB store, the WAL position in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

from otel_events.receiver.decode_pool import DecodePool
from otel_events.receiver.wal import WalRecord
from otel_events.store import DecodedBatch, IngestItem, Store


class StoreSink:
    """Adapts ``otel_events.store.Store`` to the receiver's ``StagedSink``: decode in a pool, append here.

    Decoding (``decode_batch``) runs in ``decode_workers`` processes, so it neither holds this process's GIL against
    the gRPC handlers nor limits ingest to one core; this process only appends decoded batches to DuckDB
    (``Store.append_decoded``, deduplication and one transaction per batch).

    Args:
        db_path: the DuckDB file.
        rules_file: classification rules for unclassified items; ``None`` uses the packaged rules.
        memory_mib: DuckDB memory limit, part of what keeps the receiver's RSS bounded.
        decode_workers: decoder processes; 0 decodes in the pipeline thread.
    """

    def __init__(
        self, db_path: Path, rules_file: Path | None = None, *, memory_mib: int = 128, decode_workers: int = 0
    ) -> None:
        self.store = Store(db_path)
        try:
            self.store.connection.execute(f"SET memory_limit = '{int(memory_mib)}MiB'")
            # Move schema changes made while opening (creation, migrations) out of DuckDB's own WAL into the file:
            # duckdb 1.5.5 cannot replay an `ALTER ... SET DEFAULT nextval(...)` from its WAL, so a kill -9 before
            # the first automatic checkpoint would leave a file that no longer opens. Data appends replay fine.
            self.store.connection.execute("CHECKPOINT")
            self._pool = DecodePool(decode_workers, rules_file)
        except BaseException:
            self.store.close()
            raise

    @property
    def max_decoding(self) -> int:
        """Batches decoding at once: one per decoder process (0 when decoding in-process)."""
        return self._pool.workers

    def decode_pids(self) -> list[int]:
        """Process ids of the decoder processes."""
        return self._pool.worker_pids()

    def decode(self, records: Sequence[WalRecord]) -> Future[DecodedBatch]:
        """Start decoding the records' payloads (finished on return when decoding in-process)."""
        return self._pool.submit(
            [IngestItem(signal=r.signal.value, payload=r.payload, tenant=r.tenant) for r in records]
        )

    def append(self, decoded: DecodedBatch, records: Sequence[WalRecord]) -> int:
        """Append a decoded batch in one transaction that also records the last LSN; returns the items stored."""
        stats = self.store.append_decoded(decoded, wal_position=records[-1].lsn)
        return stats.spans + stats.log_records + stats.metric_points

    def store_records(self, records: Sequence[WalRecord]) -> int:
        """Decode and append in one call (the same transaction guarantees as ``append``)."""
        return self.append(self.decode(records).result(), records)

    def wal_position(self) -> int | None:
        """The LSN stored with the last ingest."""
        return self.store.wal_position()

    def close(self) -> None:
        """Stop the decoders, checkpoint and close the DuckDB file. Safe to call twice."""
        self._pool.close()
        self.store.close()
