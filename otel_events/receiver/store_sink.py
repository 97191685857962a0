"""The production sink: WAL records into the DuckDB store, the WAL position in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from otel_events.receiver.wal import WalRecord
from otel_events.store import IngestItem, Store


class StoreSink:
    """Adapts ``otel_events.store.Store`` to the receiver's ``RecordSink``.

    Args:
        db_path: the DuckDB file.
        rules_file: classification rules for unclassified items; ``None`` uses the packaged rules.
        memory_mib: DuckDB memory limit, part of what keeps the receiver's RSS bounded.
    """

    def __init__(self, db_path: Path, rules_file: Path | None = None, *, memory_mib: int = 128) -> None:
        classifier = None
        if rules_file is not None:
            from otel_events.classify import Classifier

            classifier = Classifier.from_file(rules_file)
        self.store = Store(db_path, classifier=classifier)
        self.store.connection.execute(f"SET memory_limit = '{int(memory_mib)}MiB'")
        # Move schema changes made while opening (creation, migrations) out of DuckDB's own WAL into the file:
        # duckdb 1.5.5 cannot replay an `ALTER ... SET DEFAULT nextval(...)` from its WAL, so a kill -9 before the
        # first automatic checkpoint would leave a file that no longer opens. Data appends replay fine.
        self.store.connection.execute("CHECKPOINT")

    def store_records(self, records: Sequence[WalRecord]) -> int:
        """Ingest the records' payloads in one transaction that also records the last LSN."""
        items = [IngestItem(signal=r.signal.value, payload=r.payload, tenant=r.tenant) for r in records]
        stats = self.store.ingest(items, wal_position=records[-1].lsn)
        return stats.spans + stats.log_records + stats.metric_points

    def wal_position(self) -> int | None:
        """The LSN stored with the last ingest."""
        return self.store.wal_position()

    def close(self) -> None:
        """Checkpoint and close the DuckDB file. Safe to call twice."""
        self.store.close()
