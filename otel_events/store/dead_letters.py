"""Dead letters: requests that passed the receiver's WAL but could not be stored (SPEC §4).

``Store.ingest`` writes them (error text and raw bytes) instead of dropping them; these functions list them,
retry them through ``Store.ingest`` and purge them. A retried letter that fails again keeps its id and gets
``attempts + 1`` and the new error, rather than a second copy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from otel_events.errors import NotFoundError, StoreError
from otel_events.store.batch import IngestItem
from otel_events.store.store import Store

__all__ = ["DeadLetter", "RetryResult", "list_dead_letters", "purge_dead_letters", "retry_dead_letters"]


@dataclass(frozen=True)
class DeadLetter:
    """One row of the ``dead_letters`` table, without the payload.

    Attributes:
        id: stable id (``--id`` of the dlq command).
        received_at: when the receiver got the request (UTC).
        signal: ``traces``, ``logs`` or ``metrics`` (or whatever unknown signal was given).
        tenant: the request's tenant, ``None`` without authentication.
        size: payload bytes.
        attempts: how often storing it was tried.
        error: why the last attempt failed.
    """

    id: int
    received_at: dt.datetime
    signal: str
    tenant: str | None
    size: int
    attempts: int
    error: str


@dataclass(frozen=True)
class RetryResult:
    """What retrying one dead letter did.

    Attributes:
        id: the letter.
        stored: True when the payload is now stored and the letter deleted.
        items: spans, log records and data points stored.
        attempts: attempts so far (including this one).
        error: the new error when it failed again, else ``None``.
    """

    id: int
    stored: bool
    items: int
    attempts: int
    error: str | None


_LIST_SQL = """
SELECT id, received_at, signal, tenant, octet_length(payload) AS size, attempts, error
FROM dead_letters
{where}
ORDER BY id
"""


def list_dead_letters(con: duckdb.DuckDBPyConnection, ids: Sequence[int] | None = None) -> list[DeadLetter]:
    """The dead letters (all of them, or those with ``ids``), oldest first.

    Raises:
        NotFoundError: an id in ``ids`` names no dead letter.
    """
    if ids is None:
        rows = con.execute(_LIST_SQL.format(where="")).fetchall()
    else:
        rows = con.execute(_LIST_SQL.format(where="WHERE list_contains($ids, id)"), {"ids": list(ids)}).fetchall()
        _check_found(ids, [row[0] for row in rows])
    return [DeadLetter(*row) for row in rows]


def retry_dead_letters(store: Store, ids: Sequence[int] | None = None) -> list[RetryResult]:
    """Ingest the payloads of dead letters again, one letter per transaction.

    A letter whose payload is now stored is deleted; one that fails again stays with ``attempts + 1`` and the
    new error.

    Args:
        store: a writable store.
        ids: the letters to retry; all when None.

    Raises:
        NotFoundError: an id in ``ids`` names no dead letter (nothing is retried then).
    """
    con = store.connection
    letters = list_dead_letters(con, ids)
    results = []
    for letter in letters:
        signal, tenant, payload = con.execute(
            "SELECT signal, tenant, payload FROM dead_letters WHERE id = ?", [letter.id]
        ).fetchone()
        before = con.execute("SELECT coalesce(max(id), 0) FROM dead_letters").fetchone()[0]
        try:
            stats = store.ingest([IngestItem(signal=signal, payload=bytes(payload), tenant=tenant)])
        except StoreError as exc:
            results.append(_failed_again(con, letter, str(exc), before))
            continue
        if stats.dead_letters:
            new_error = con.execute("SELECT error FROM dead_letters WHERE id > ? ORDER BY id", [before]).fetchone()
            results.append(_failed_again(con, letter, new_error[0] if new_error else "failed again", before))
            continue
        con.execute("DELETE FROM dead_letters WHERE id = ?", [letter.id])
        items = stats.spans + stats.log_records + stats.metric_points
        results.append(RetryResult(letter.id, True, items, letter.attempts + 1, None))
    return results


def purge_dead_letters(con: duckdb.DuckDBPyConnection, ids: Sequence[int] | None = None) -> int:
    """Delete dead letters (all, or those with ``ids``); returns how many were deleted.

    Raises:
        NotFoundError: an id in ``ids`` names no dead letter (nothing is deleted then).
    """
    if ids is None:
        return con.execute("DELETE FROM dead_letters").fetchone()[0]
    _check_found(ids, [letter.id for letter in list_dead_letters(con, ids)])
    return con.execute("DELETE FROM dead_letters WHERE list_contains($ids, id)", {"ids": list(ids)}).fetchone()[0]


def _failed_again(con: duckdb.DuckDBPyConnection, letter: DeadLetter, error: str, before: int) -> RetryResult:
    # The failed ingest wrote a fresh letter for the same payload: fold it into the original.
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM dead_letters WHERE id > ?", [before])
        con.execute("UPDATE dead_letters SET attempts = attempts + 1, error = ? WHERE id = ?", [error, letter.id])
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise StoreError(f"cannot update dead letter {letter.id}: {exc}") from exc
    return RetryResult(letter.id, False, 0, letter.attempts + 1, error)


def _check_found(wanted: Sequence[int], found: Sequence[int]) -> None:
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise NotFoundError(f"no dead letter with id {', '.join(map(str, missing))}")
