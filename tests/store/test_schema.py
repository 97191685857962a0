"""Schema version: recorded, newer files refused, a real version-1 file migrated in place."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from otel_events.errors import SchemaVersionError
from otel_events.store import SCHEMA_VERSION, IngestItem, Store
from otel_events.store.schema import MIGRATIONS
from tests.store.sdk_payloads import trace_payload

V1_DDL = (Path(__file__).parent / "fixtures" / "schema_v1.sql").read_text()


def test_new_store_records_every_version(tmp_path: Path) -> None:
    with Store(tmp_path / "new.duckdb") as store:
        versions = store.connection.execute("SELECT version FROM schema_info ORDER BY version").fetchall()
    assert [v for (v,) in versions] == [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))


def test_newer_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_info VALUES (?, now())", [SCHEMA_VERSION + 1])
    con.close()
    for read_only in (False, True):
        with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}, newer than"):
            Store(path, read_only=read_only)


def test_version_1_file_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    con.execute(V1_DDL)
    con.execute("INSERT INTO schema_info VALUES (1, now())")
    con.execute(
        "INSERT INTO dead_letters VALUES (now(), 'traces', NULL, 'old failure', '\\xFF'::BLOB), "
        "(now(), 'logs', 't', 'older failure', '\\x00'::BLOB)"
    )
    con.close()

    with pytest.raises(SchemaVersionError, match="older schema version 1"):
        Store(path, read_only=True)

    with Store(path) as store:
        con = store.connection
        assert con.execute("SELECT max(version) FROM schema_info").fetchone() == (SCHEMA_VERSION,)
        assert con.execute("SELECT id, attempts, error FROM dead_letters ORDER BY id").fetchall() == [
            (1, 1, "old failure"),
            (2, 1, "older failure"),
        ]
        store.ingest([IngestItem("traces", b"garbage \xff"), IngestItem("traces", trace_payload())])
        assert con.execute("SELECT max(id), count(*) FROM dead_letters").fetchone() == (3, 3)
        assert con.execute("SELECT count(*) FROM spans").fetchone() == (3,)

    with Store(path, read_only=True) as store:
        assert store.connection.execute("SELECT count(*) FROM traces").fetchone() == (1,)


def test_a_foreign_database_read_only_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    with pytest.raises(SchemaVersionError, match="is not an otel_events store"):
        Store(path, read_only=True)
