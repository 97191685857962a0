"""Write-ahead log: every accepted request is framed, written and fsynced here before it is acknowledged.

The log is a directory of append-only segment files named after the sequence number (LSN) of their first
record. One writer thread does group commit; the ingest pipeline reads records back from disk in order, so
memory stays bounded however far the store falls behind.
"""

from __future__ import annotations

from otel_events.receiver.wal.format import WalRecord
from otel_events.receiver.wal.log import WriteAheadLog
from otel_events.receiver.wal.reader import WalReader

__all__ = ["WalReader", "WalRecord", "WriteAheadLog"]
