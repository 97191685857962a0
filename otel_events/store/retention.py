"""Retention per category (SPEC §7): rows older than their category's limit are deleted, optionally archived first.

Age is the item's own time (span start, log time or observed time, data point time). Deletion runs in chunks of
``chunk_rows`` rows, one short transaction each, so a receiver applying retention in the background never holds up
its ingest for long (DuckDB appends do not conflict with deletes of other rows). With an archive directory each chunk
is copied to Parquet inside the same transaction before it is deleted: a crash between the two leaves the chunk
stored and archived, and the next run archives it again (at-least-once archive, never a lost row).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from otel_events.errors import ConfigError
from otel_events.store.archive import KINDS, ArchiveKind, archive_rows

_logger = logging.getLogger(__name__)

CATEGORIES = ("debug", "system", "user_activity", "performance", "critical")
# Days each category is kept (SPEC §7). Metric points carry no category: they have their own limit.
DEFAULT_DAYS: dict[str, float] = {
    "debug": 3,
    "system": 30,
    "performance": 30,
    "user_activity": 90,
    "critical": 365,
    "metrics": 30,
}
DEFAULT_INTERVAL_SECONDS = 3600.0
DEFAULT_CHUNK_ROWS = 50_000
_CHUNK_TABLE = "otel_events_retention_chunk"


@dataclass(frozen=True)
class RetentionPolicy:
    """How long rows are kept and how retention runs.

    Attributes:
        days: days kept per category, plus ``metrics`` for metric points.
        interval: seconds between runs in the receiver.
        archive_dir: when set, expiring rows are archived there before deletion.
        chunk_rows: rows deleted per transaction.
        enabled: whether the receiver applies retention.
    """

    days: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_DAYS))
    interval: float = DEFAULT_INTERVAL_SECONDS
    archive_dir: Path | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    enabled: bool = True

    def validate(self) -> RetentionPolicy:
        """Check the values; returns ``self``.

        Raises:
            ConfigError: naming the invalid value.
        """
        unknown = sorted(set(self.days) - set(DEFAULT_DAYS))
        if unknown:
            raise ConfigError(f"unknown retention key(s) {', '.join(unknown)} (known: {', '.join(DEFAULT_DAYS)})")
        for key, days in self.days.items():
            if isinstance(days, bool) or not isinstance(days, int | float) or days <= 0:
                raise ConfigError(f"retention for {key} must be a positive number of days, got {days!r}")
        if self.interval <= 0:
            raise ConfigError(f"retention interval must be positive, got {self.interval}")
        if self.chunk_rows < 1:
            raise ConfigError(f"retention chunk size must be positive, got {self.chunk_rows}")
        return self

    def days_for(self, key: str) -> float:
        """Days kept for a category (or ``metrics``), the default when not configured."""
        return float(self.days.get(key, DEFAULT_DAYS[key]))

    @classmethod
    def from_table(cls, table: Mapping[str, object], origin: str) -> RetentionPolicy:
        """Build a policy from a ``[retention]`` TOML table.

        Keys: the categories and ``metrics`` (days), ``interval`` (seconds), ``archive`` (a directory),
        ``chunk_rows`` and ``enabled``.

        Raises:
            ConfigError: naming ``origin`` and the bad key or value.
        """
        days: dict[str, float] = dict(DEFAULT_DAYS)
        settings: dict[str, object] = {}
        for key, value in table.items():
            if key in DEFAULT_DAYS:
                days[key] = value  # type: ignore[assignment]
            elif key == "interval":
                settings["interval"] = _number(value, f"{origin}: retention interval")
            elif key == "chunk_rows":
                settings["chunk_rows"] = int(_number(value, f"{origin}: retention chunk_rows"))
            elif key == "archive":
                if not isinstance(value, str) or not value:
                    raise ConfigError(f"{origin}: retention archive must be a directory path, got {value!r}")
                settings["archive_dir"] = Path(value)
            elif key == "enabled":
                if not isinstance(value, bool):
                    raise ConfigError(f"{origin}: retention enabled must be true or false, got {value!r}")
                settings["enabled"] = value
            else:
                known = ", ".join([*DEFAULT_DAYS, "interval", "archive", "chunk_rows", "enabled"])
                raise ConfigError(f"{origin}: unknown key {key!r} in [retention] (known: {known})")
        try:
            return cls(days=days, **settings).validate()  # type: ignore[arg-type]
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{what} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class ExpiredCount:
    """Rows of one kind and category past their limit.

    Attributes:
        kind: ``spans``, ``logs`` or ``metric_points``.
        category: the category (``None`` for metric points).
        cutoff: rows older than this (naive UTC) expire.
        rows: rows deleted (or, in a dry run, that would be).
    """

    kind: str
    category: str | None
    cutoff: datetime
    rows: int


@dataclass
class RetentionReport:
    """The outcome of one retention run."""

    counts: list[ExpiredCount]
    dry_run: bool
    archive_dir: Path | None = None

    @property
    def total(self) -> int:
        """Rows deleted (or that would be) in all."""
        return sum(count.rows for count in self.counts)


def _targets(policy: RetentionPolicy, now: datetime) -> list[tuple[ArchiveKind, str | None, datetime, str]]:
    """(kind, category, cutoff, condition over alias ``s`` with no parameters) for every limit."""
    targets = []
    for name in ("spans", "logs"):
        kind = KINDS[name]
        age = kind.day_time.replace('"time"', 's."time"').replace("observed_time", "s.observed_time")
        for category in CATEGORIES:
            cutoff = now - timedelta(days=policy.days_for(category))
            # Values are fixed: a category name from CATEGORIES and an ISO timestamp built here.
            same = f"s.category = '{category}'" + (" OR s.category IS NULL" if category == "system" else "")
            targets.append((kind, category, cutoff, f"({same}) AND {age} < TIMESTAMP_NS '{cutoff.isoformat()}'"))
    cutoff = now - timedelta(days=policy.days_for("metrics"))
    targets.append((KINDS["metric_points"], None, cutoff, f"s.\"time\" < TIMESTAMP_NS '{cutoff.isoformat()}'"))
    return targets


def apply_retention(
    con: duckdb.DuckDBPyConnection,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    on_chunk: Callable[[], None] | None = None,
) -> RetentionReport:
    """Delete (or count, in a dry run) the rows past their category's limit, archiving them first if configured.

    Args:
        con: a writable store connection (the receiver passes a cursor of its own connection).
        policy: the limits; ``policy.archive_dir`` archives before deleting.
        now: the reference time, naive UTC (default: now).
        dry_run: only count; nothing is deleted or archived.
        stop: set it to stop between chunks (the receiver's shutdown).
        on_chunk: called after each committed chunk (tests use it to interleave ingest).

    Returns:
        Counts per kind and category.
    """
    now = now or datetime.now(UTC).replace(tzinfo=None)
    counts = []
    for kind, category, cutoff, condition in _targets(policy, now):
        if dry_run:
            rows = con.execute(f"SELECT count(*) FROM {kind.table} AS s WHERE {condition}").fetchone()[0]
        else:
            rows = _delete_in_chunks(con, kind, condition, policy, stop, on_chunk)
        counts.append(ExpiredCount(kind.name, category, cutoff, rows))
    return RetentionReport(counts, dry_run, None if dry_run else policy.archive_dir)


def _delete_in_chunks(
    con: duckdb.DuckDBPyConnection,
    kind: ArchiveKind,
    condition: str,
    policy: RetentionPolicy,
    stop: threading.Event | None,
    on_chunk: Callable[[], None] | None,
) -> int:
    deleted = 0
    while stop is None or not stop.is_set():
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_CHUNK_TABLE} AS "
                f"SELECT s.rowid AS id FROM {kind.table} AS s WHERE {condition} LIMIT {int(policy.chunk_rows)}"
            )
            rows = con.execute(f"SELECT count(*) FROM {_CHUNK_TABLE}").fetchone()[0]
            if rows:
                if policy.archive_dir is not None:
                    archive_rows(con, kind, f"s.rowid IN (SELECT id FROM {_CHUNK_TABLE})", policy.archive_dir)
                con.execute(f"DELETE FROM {kind.table} WHERE rowid IN (SELECT id FROM {_CHUNK_TABLE})")
            con.execute(f"DROP TABLE {_CHUNK_TABLE}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        deleted += rows
        if on_chunk is not None and rows:
            on_chunk()
        if rows < policy.chunk_rows:
            break
    return deleted


class RetentionWorker:
    """Applies retention in a daemon thread every ``policy.interval`` seconds (the receiver's background job).

    Args:
        connect: returns a connection to use (a cursor of the receiver's store connection).
        policy: the limits.
    """

    def __init__(
        self,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        policy: RetentionPolicy,
        *,
        first_run_delay: float | None = None,
    ) -> None:
        self._connect = connect
        self.policy = policy
        # The first run waits (at most 10 minutes by default) so that a receiver restarted in a loop, or started
        # just to look at old data, does not delete anything the moment it opens the file.
        self._first_delay = min(policy.interval, 600.0) if first_run_delay is None else first_run_delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.deleted = 0
        self.errors = 0
        self.last_run_at: float | None = None

    def start(self) -> None:
        """Start the thread; the first run follows after the first-run delay."""
        if self._thread is None and self.policy.enabled:
            self._thread = threading.Thread(target=self._run, name="otel-events-retention", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the chunk in progress. Safe to call twice and before ``start``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def stats(self) -> dict[str, object]:
        """Counters for the receiver's status."""
        return {"runs": self.runs, "deleted": self.deleted, "errors": self.errors, "last_run_at": self.last_run_at}

    def run_once(self) -> RetentionReport | None:
        """One retention run; errors are logged and counted, never raised (the next run tries again)."""
        con = self._connect()
        try:
            report = apply_retention(con, self.policy, stop=self._stop)
        except Exception:
            self.errors += 1
            _logger.exception("applying retention failed; retrying in %.0f s", self.policy.interval)
            return None
        finally:
            con.close()
        self.runs += 1
        self.deleted += report.total
        self.last_run_at = time.time()
        if report.total:
            _logger.info("retention deleted %d expired rows", report.total)
        return report

    def _run(self) -> None:
        if self._stop.wait(self._first_delay):
            return
        while not self._stop.is_set():
            self.run_once()
            if self._stop.wait(self.policy.interval):
                return
