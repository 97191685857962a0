"""Schema creation, version check and in-place migration of a store file.

Migrations are the numbered files ``sql/migrations/NNN_*.sql``; a file's version is the highest applied one
(table ``schema_info``). The views (``sql/views.sql``) are re-created on every writable open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import duckdb

from otel_events.errors import SchemaVersionError, StoreError

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered schema migration."""

    version: int
    name: str
    sql: str


def _sql_dir():
    return resources.files("otel_events.store").joinpath("sql")


def load_migrations() -> tuple[Migration, ...]:
    """All packaged migrations in version order (checked to be numbered 1, 2, 3, ... without gaps)."""
    found = []
    for entry in _sql_dir().joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(f"packaged migrations are not numbered 1..{len(found)}: {versions}")
    return tuple(found)


MIGRATIONS = load_migrations()
SCHEMA_VERSION = MIGRATIONS[-1].version
VIEWS_SQL = _sql_dir().joinpath("views.sql").read_text(encoding="utf-8")
SORT_TRACE_BATCHES_SQL = _sql_dir().joinpath("sort_trace_batches.sql").read_text(encoding="utf-8")


def file_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open store (0 for an empty database)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_info' AND table_schema = 'main'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_info").fetchone()[0]


def check_version(con: duckdb.DuckDBPyConnection, path: str, *, read_only: bool) -> int:
    """Return the file's version; refuse files written by a newer otel_events (or stale ones read-only)."""
    version = file_version(con)
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path} has schema version {version}, newer than this otel_events supports ({SCHEMA_VERSION}); "
            "upgrade otel_events to open it"
        )
    if read_only and version < SCHEMA_VERSION:
        what = "is not an otel_events store" if version == 0 else f"has the older schema version {version}"
        raise SchemaVersionError(
            f"{path} {what} (current: {SCHEMA_VERSION}); open it once for writing to create or migrate it"
        )
    return version


def migrate(con: duckdb.DuckDBPyConnection, path: str) -> int:
    """Bring the schema up to date in one transaction and re-create the views; returns the previous version."""
    version = check_version(con, path, read_only=False)
    con.execute("BEGIN TRANSACTION")
    try:
        for migration in MIGRATIONS[version:]:
            con.execute(migration.sql)
            con.execute("INSERT INTO schema_info VALUES (?, now()::TIMESTAMP_NS)", [migration.version])
        con.execute(VIEWS_SQL)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise StoreError(f"cannot migrate {path} from schema version {version}: {exc}") from exc
    return version
