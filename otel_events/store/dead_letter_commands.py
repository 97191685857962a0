"""``otel-events dlq list|retry|purge``: manage requests that passed the WAL but could not be stored."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from otel_events.errors import StoreError
from otel_events.store.commands import DEFAULT_DB, SqlFormat, write_rows
from otel_events.store.dead_letters import (
    list_dead_letters,
    purge_dead_letters,
    retry_dead_letters,
)
from otel_events.store.store import Store, open_database

_FORMATS = (SqlFormat.TABLE.value, SqlFormat.JSON.value)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``dlq`` sub-command with its ``list``, ``retry`` and ``purge`` actions."""
    dlq = subparsers.add_parser(
        "dlq",
        help="list, retry or purge dead letters (requests that could not be stored)",
        description="Requests the receiver acknowledged but could not store are kept in the dead_letters table "
        "with the error and the raw bytes. The store file must not be held by a running receiver.",
    )
    actions = dlq.add_subparsers(dest="dlq_action", metavar="ACTION")
    actions.required = True

    listing = actions.add_parser("list", help="show dead letters: id, time, signal, tenant, size, attempts, error")
    _add_common(listing, selection_required=False)
    listing.set_defaults(func=run_list)

    retry = actions.add_parser(
        "retry", help="ingest dead letters again: stored ones are removed, failing ones get attempts + 1"
    )
    _add_common(retry, selection_required=True)
    retry.set_defaults(func=run_retry)

    purge = actions.add_parser("purge", help="delete dead letters (requires --id or --all)")
    _add_common(purge, selection_required=True)
    purge.set_defaults(func=run_purge)


def _add_common(parser: argparse.ArgumentParser, *, selection_required: bool) -> None:
    parser.add_argument("--db", type=Path, default=Path(DEFAULT_DB), help=f"the DuckDB file (default ./{DEFAULT_DB})")
    parser.add_argument("--format", choices=_FORMATS, default=SqlFormat.TABLE.value, help="output format")
    selection = parser.add_mutually_exclusive_group(required=selection_required)
    selection.add_argument(
        "--id", dest="ids", type=int, nargs="+", metavar="N", action="extend", help="dead letter id(s)"
    )
    selection.add_argument("--all", action="store_true", help="every dead letter")


def run_list(args: argparse.Namespace) -> int:
    """Handler of ``dlq list``."""
    con = open_database(str(args.db), read_only=True)
    try:
        letters = list_dead_letters(con, args.ids)
    finally:
        con.close()
    columns = ["id", "received_at", "signal", "tenant", "size", "attempts", "error"]
    rows = [
        (
            letter.id,
            letter.received_at,
            letter.signal,
            letter.tenant,
            letter.size,
            letter.attempts,
            letter.error,
        )
        for letter in letters
    ]
    write_rows(sys.stdout, columns, rows, SqlFormat(args.format))
    return 0


def run_retry(args: argparse.Namespace) -> int:
    """Handler of ``dlq retry``; exit code 1 when some letters failed again."""
    with _open_writable(args.db) as store:
        results = retry_dead_letters(store, args.ids)
    columns = ["id", "outcome", "items", "attempts", "error"]
    rows = [
        (result.id, "stored" if result.stored else "failed", result.items, result.attempts, result.error)
        for result in results
    ]
    write_rows(sys.stdout, columns, rows, SqlFormat(args.format))
    return 0 if all(result.stored for result in results) else 1


def run_purge(args: argparse.Namespace) -> int:
    """Handler of ``dlq purge``."""
    with _open_writable(args.db) as store:
        deleted = purge_dead_letters(store.connection, args.ids)
    if args.format == SqlFormat.JSON.value:
        print(json.dumps({"purged": deleted}))
    else:
        print(f"purged {deleted} dead letter{'s' if deleted != 1 else ''}")
    return 0


def _open_writable(path: Path) -> Store:
    # Store() would create a missing file; a dlq command on a typo'd path must say so instead.
    if not path.exists():
        raise StoreError(f"{path}: no such database file")
    return Store(path)
