"""The receiver's background jobs on its own store: periodic retention (SPEC §7) and handlers.

Both read and delete through cursors of the receiver's store connection, in threads of their own, so neither sits on
the ingest path; the receiver starts them after its pipeline and stops them before closing the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from otel_events.store.retention import RetentionPolicy, RetentionWorker
from otel_events.stream.handlers import HandlerRule, HandlerRunner


class BackgroundJobs:
    """Retention worker and handler runner of one receiver (either may be absent).

    Args:
        store: the receiver's ``otel_events.store.Store``.
        retention: the retention policy (not started when disabled).
        handlers: handler rules (no runner without rules).
    """

    def __init__(self, store: object, retention: RetentionPolicy, handlers: Sequence[HandlerRule]) -> None:
        connection = store.connection  # type: ignore[attr-defined]
        self.retention = RetentionWorker(connection.cursor, retention) if retention.enabled else None
        self.handlers = HandlerRunner(connection.cursor, handlers) if handlers else None

    def start(self) -> None:
        """Start whatever is configured."""
        if self.retention is not None:
            self.retention.start()
        if self.handlers is not None:
            self.handlers.start()

    def close(self) -> None:
        """Stop both. Safe to call twice."""
        if self.handlers is not None:
            self.handlers.stop()
        if self.retention is not None:
            self.retention.stop()

    def status(self) -> dict[str, object]:
        """``retention`` and ``handlers`` entries for the receiver's status."""
        status: dict[str, object] = {}
        if self.retention is not None:
            status["retention"] = self.retention.stats()
        if self.handlers is not None:
            status["handlers"] = self.handlers.stats()
        return status


def open_background_jobs(
    sink: object, retention: RetentionPolicy, handlers: Sequence[HandlerRule]
) -> BackgroundJobs | None:
    """Start the jobs on the sink's store; None when the sink is not a store (test sinks)."""
    store = getattr(sink, "store", None)
    if store is None:
        return None
    jobs = BackgroundJobs(store, retention, handlers)
    jobs.start()
    return jobs


def status_rows(status: Mapping[str, object]) -> list[tuple[str, object]]:
    """Rows for ``otel-events status``: one per handler (delivered, failed, dropped, state) and retention."""
    rows: list[tuple[str, object]] = []
    handlers = status.get("handlers")
    if isinstance(handlers, dict):
        for name, stats in handlers.items():
            rows.append(
                (
                    f"handler {name}",
                    f"{stats.get('state')}: delivered {stats.get('delivered')}, failed {stats.get('failed')}, "
                    f"dropped {stats.get('dropped')}, queued {stats.get('queued')}",
                )
            )
    retention = status.get("retention")
    if isinstance(retention, dict):
        rows.append(("retention", f"{retention.get('runs')} runs, {retention.get('deleted')} rows deleted"))
    return rows
