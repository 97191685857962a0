"""Deduplication of items on (``otel_events.stream_id``, ``otel_events.seq``) across batches and restarts.

Each stream's stored sequence numbers are kept as sorted, disjoint closed intervals: an SDK emits 1, 2, 3, …
so a stream is one interval plus one per gap, whatever its length (a set of ints would cost ~60 bytes per
item). The intervals are loaded at open with a gaps-and-islands query.
"""

from __future__ import annotations

import bisect

import duckdb

# seq - row_number() is constant along a run of consecutive numbers: one group per island.
_ISLANDS_SQL = """
WITH items AS (
    SELECT stream_id, seq FROM span_data WHERE stream_id IS NOT NULL AND seq IS NOT NULL
    UNION ALL
    SELECT stream_id, seq FROM log_data WHERE stream_id IS NOT NULL AND seq IS NOT NULL
), numbered AS (
    SELECT DISTINCT stream_id, seq FROM items
), grouped AS (
    SELECT stream_id, seq, seq - row_number() OVER (PARTITION BY stream_id ORDER BY seq) AS island FROM numbered
)
SELECT stream_id, min(seq), max(seq) FROM grouped GROUP BY stream_id, island ORDER BY stream_id, min(seq)
"""


class IntervalSet:
    """Sorted disjoint closed intervals of integers."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def __contains__(self, value: int) -> bool:
        index = bisect.bisect_right(self.starts, value) - 1
        return index >= 0 and value <= self.ends[index]

    def add(self, value: int) -> None:
        """Add one integer, merging with neighbouring intervals."""
        self.add_range(value, value)

    def add_range(self, start: int, end: int) -> None:
        """Add ``start..end`` (inclusive), merging with overlapping or adjacent intervals."""
        starts, ends = self.starts, self.ends
        lo = bisect.bisect_left(ends, start - 1)
        hi = bisect.bisect_right(starts, end + 1)
        if lo < hi:
            start = min(start, starts[lo])
            end = max(end, ends[hi - 1])
        starts[lo:hi] = [start]
        ends[lo:hi] = [end]

    def overlaps(self, start: int, end: int) -> bool:
        """True when some value of ``start..end`` (inclusive) is in the set."""
        index = bisect.bisect_left(self.ends, start)
        return index < len(self.starts) and self.starts[index] <= end

    def __len__(self) -> int:
        return len(self.starts)


class SeqDedup:
    """Which (stream_id, seq) pairs are stored; pairs claimed by the current batch are pending until commit."""

    def __init__(self) -> None:
        self._stored: dict[str, IntervalSet] = {}
        self._pending: dict[str, set[int]] = {}

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        """Read the stored pairs from the store."""
        self._stored.clear()
        for stream_id, start, end in con.execute(_ISLANDS_SQL).fetchall():
            self._stored.setdefault(stream_id, IntervalSet()).add_range(start, end)

    def claim(self, stream_id: str, seq: int) -> bool:
        """Claim a pair for the current batch; False when it is already stored or claimed (a duplicate)."""
        stored = self._stored.get(stream_id)
        if stored is not None and seq in stored:
            return False
        pending = self._pending.get(stream_id)
        if pending is None:
            self._pending[stream_id] = {seq}
            return True
        if seq in pending:
            return False
        pending.add(seq)
        return True

    def release(self, stream_id: str, seq: int) -> None:
        """Give back a pair claimed by an item that is not stored after all."""
        self._pending.get(stream_id, set()).discard(seq)

    def claim_new(self, stream_id: str, seqs: list[int]) -> bool:
        """Claim all of ``seqs`` at once when none is stored, claimed or repeated; False (nothing claimed) else.

        The common batch (an SDK's consecutive numbers, never seen) costs a set build instead of a claim per item.
        """
        if stream_id in self._pending:
            return False
        unique = set(seqs)
        if len(unique) != len(seqs):
            return False
        stored = self._stored.get(stream_id)
        if stored is not None and stored.overlaps(min(unique), max(unique)):
            return False
        self._pending[stream_id] = unique
        return True

    def commit(self) -> None:
        """The claimed pairs are stored."""
        for stream_id, seqs in self._pending.items():
            intervals = self._stored.setdefault(stream_id, IntervalSet())
            ordered = sorted(seqs)
            start = previous = ordered[0]
            # one add_range per run of consecutive numbers (an SDK stream is one run per batch)
            for seq in ordered[1:]:
                if seq != previous + 1:
                    intervals.add_range(start, previous)
                    start = seq
                previous = seq
            intervals.add_range(start, previous)
        self._pending.clear()

    def rollback(self) -> None:
        """The claimed pairs were not stored."""
        self._pending.clear()
