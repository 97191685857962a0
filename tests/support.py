"""Helpers shared across the test packages: bounded polling and queries on a running receiver's store."""

from __future__ import annotations

import time
from collections.abc import Callable

from otel_events.receiver.server import Receiver


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds (a bound, never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def query(receiver: Receiver, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on a running receiver's store, through a cursor of its own."""
    cursor = receiver.sink.store.connection.cursor()  # type: ignore[attr-defined]
    try:
        return cursor.execute(sql, params or []).fetchall()
    finally:
        cursor.close()


def count(receiver: Receiver, sql: str, params: list | None = None) -> int:
    """The single value of a ``SELECT count(*) ...`` on a running receiver's store."""
    return query(receiver, sql, params)[0][0]
