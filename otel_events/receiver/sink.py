"""The boundary between the receiver and whatever stores what it received (DuckDB in production)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from otel_events.receiver.wal import WalRecord


class RecordSink(Protocol):
    """Consumer of WAL records, in LSN order.

    ``store_records`` must be atomic with the position it is given: after a crash, ``wal_position()`` returns
    the LSN of the last record whose items are stored, and the receiver replays the WAL from the next one.
    """

    def store_records(self, records: Sequence[WalRecord]) -> int:
        """Store every record (bad items go to dead letters, never raise for them) and the last record's LSN.

        Returns:
            The number of items (spans, log records, data points) stored.

        Raises:
            Exception: only when nothing was stored (e.g. the disk is full); the pipeline retries the batch.
        """
        ...

    def wal_position(self) -> int | None:
        """LSN of the last stored record, ``None`` for a new store."""
        ...

    def close(self) -> None:
        """Flush and close. Safe to call twice."""
        ...
