"""Reads durable WAL records back in LSN order, following the writer across segment files."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from otel_events.receiver.wal.format import WalRecord, list_segments, read_record


class WalReader:
    """Sequential reader of the records after a given LSN.

    The ingest pipeline reads from disk rather than from memory, so however far DuckDB falls behind only one
    batch is held in memory (the page cache makes recent records cheap to read back).

    Args:
        directory: the WAL directory.
        after_lsn: records up to and including this LSN are skipped (they are already stored).
    """

    def __init__(self, directory: Path, after_lsn: int) -> None:
        self._directory = directory
        self._last_lsn = after_lsn
        self._stream: BinaryIO | None = None
        self._segment_first_lsn = -1

    @property
    def last_lsn(self) -> int:
        """LSN of the last record returned (or the starting point)."""
        return self._last_lsn

    def read(self, up_to_lsn: int, max_bytes: int) -> list[WalRecord]:
        """Return the next records, in order, none past ``up_to_lsn`` (the durable LSN).

        Stops once the payloads reach ``max_bytes`` (at least one record is returned when one is available).
        """
        records: list[WalRecord] = []
        size = 0
        while size < max_bytes and self._last_lsn < up_to_lsn:
            if self._stream is None and not self._open_next_segment():
                break
            assert self._stream is not None
            start = self._stream.tell()
            record = read_record(self._stream)
            if record is None:
                # The end of this segment (a completed segment may end with a cut-off torn tail): move on.
                self._stream.seek(start)
                if not self._open_next_segment():
                    break
                continue
            if record.lsn > up_to_lsn:
                self._stream.seek(start)
                break
            if record.lsn <= self._last_lsn:
                continue
            records.append(record)
            size += len(record.payload)
            self._last_lsn = record.lsn
        return records

    def close(self) -> None:
        """Close the open segment file. Safe to call twice."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _open_next_segment(self) -> bool:
        segments = list_segments(self._directory)
        if self._stream is None:
            # Start in the last segment that can hold the record after ``last_lsn``.
            candidates = [entry for entry in segments if entry[0] <= self._last_lsn + 1] or segments[:1]
        else:
            candidates = [entry for entry in segments if entry[0] > self._segment_first_lsn][:1]
        if not candidates:
            return False
        first_lsn, path = candidates[-1]
        self.close()
        self._stream = path.open("rb")
        self._segment_first_lsn = first_lsn
        return True
