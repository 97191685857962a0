"""Schema version: recorded, newer files refused, a real version-1 file migrated in place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from otel_events.errors import SchemaVersionError
from otel_events.store import SCHEMA_VERSION, IngestItem, Store
from otel_events.store.schema import MIGRATIONS
from otel_events.store.to_otlp import rebuild_requests
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


V2_DDL = (Path(__file__).parent / "fixtures" / "schema_v2.sql").read_text()
TRACE_A = "0af7651916cd43dd8448eb211c80319c"
TRACE_B = "4bf92f3577b34da6a3ce929d0e0e4736"


def _cart_resource() -> Resource:
    resource = Resource()
    kv = resource.attributes.add()
    kv.key = "service.name"
    kv.value.string_value = "cart"
    return resource


def _write_version_2_file(path: Path) -> None:
    """A file as otel_events with schema version 2 wrote it: rows in every item table, typed attributes."""
    con = duckdb.connect(str(path))
    con.execute(V2_DDL)
    con.execute("INSERT INTO schema_info VALUES (1, now()), (2, now())")
    proto = _cart_resource().SerializeToString()
    con.execute("INSERT INTO resources VALUES (1, 'cart', MAP {'service.name': 'cart'}, NULL, ?)", [proto])
    con.execute("INSERT INTO scopes VALUES (1, 'shop', '1.0', NULL, ''::BLOB)")
    con.execute(
        """INSERT INTO span_data (trace_id, span_id, name, kind, start_time, end_time, status_code, resource_id,
               scope_id, attributes, attr_types, events, links, category, rule, category_source)
           VALUES (?, '00f067aa0ba902b7', 'GET /cart', 'server', TIMESTAMP '2026-01-20 10:00:00',
               TIMESTAMP '2026-01-20 10:00:01', 'ok', 1, 1, MAP {'http.status_code': '200', 'http.route': '/cart'},
               MAP {'http.status_code': 'i'}, [], [], 'system', 'default', 'receiver'),
                  (?, '00f067aa0ba902b8', 'charge', 'client', TIMESTAMP '2026-01-20 10:00:02',
               TIMESTAMP '2026-01-20 10:00:03', 'error', 1, 1, MAP {}, NULL, [], [], 'critical', 'status.error',
               'receiver')""",
        [TRACE_A, TRACE_B],
    )
    con.execute(
        """INSERT INTO log_data ("time", observed_time, trace_id, severity_number, body, body_type, resource_id,
               scope_id, attributes, attr_types, category, rule, category_source)
           VALUES (TIMESTAMP '2026-01-20 10:00:00', TIMESTAMP '2026-01-20 10:00:00', ?, 9, 'hello', NULL, 1, 1,
               MAP {'retry': 'true'}, MAP {'retry': 'b'}, 'system', 'default', 'receiver')""",
        [TRACE_A],
    )
    con.execute(
        """INSERT INTO metric_point_data ("time", resource_id, scope_id, name, type, value, attributes, attr_types)
           VALUES (TIMESTAMP '2026-01-20 10:00:00', 1, 1, 'queue.depth', 'gauge', 3.0, MAP {'shard': '2'},
               MAP {'shard': 'i'})"""
    )
    con.close()


def test_version_2_file_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v2.duckdb"
    _write_version_2_file(path)

    with Store(path) as store:
        con = store.connection
        assert con.execute("SELECT max(version) FROM schema_info").fetchone() == (SCHEMA_VERSION,)
        # service and scope now live on the item rows, the type codes as JSON text, every row in a batch
        assert con.execute(
            "SELECT name, service_name, scope_name, scope_version, attr_types, ingest_batch FROM span_data ORDER BY 1"
        ).fetchall() == [
            ("GET /cart", "cart", "shop", "1.0", '{"http.status_code":"i"}', 0),
            ("charge", "cart", "shop", "1.0", None, 0),
        ]
        assert con.execute("SELECT service_name, scope_name, attr_types FROM log_data").fetchall() == [
            ("cart", "shop", '{"retry":"b"}')
        ]
        assert con.execute("SELECT service_name, attr_types FROM metric_point_data").fetchall() == [
            ("cart", '{"shard":"i"}')
        ]
        # the public views read the copied columns and keep their values
        assert con.execute("SELECT service_name, scope_name, attributes['http.status_code'] FROM spans "
                           "WHERE name = 'GET /cart'").fetchall() == [("cart", "shop", "200")]  # fmt: skip
        # old rows are found by the trace lookup, new batches are numbered after them
        assert [r[1] for r in con.execute("SELECT * FROM trace_spans(?)", [TRACE_A]).fetchall()] == ["00f067aa0ba902b7"]
        assert con.execute("SELECT body FROM trace_logs(?)", [TRACE_A]).fetchall() == [("hello",)]
        store.ingest([IngestItem("traces", trace_payload())])
        assert con.execute("SELECT DISTINCT ingest_batch FROM span_data ORDER BY 1").fetchall() == [(0,), (1,)]

        # the type codes survive: a rebuilt span has an int status code again, the log a bool attribute
        (request,) = rebuild_requests(store.connection, "traces", where="name = ?", params=["GET /cart"])
        assert request.resource_spans[0].resource == _cart_resource()
        attributes = {kv.key: kv.value for kv in request.resource_spans[0].scope_spans[0].spans[0].attributes}
        assert attributes["http.status_code"].int_value == 200
        assert attributes["http.route"].string_value == "/cart"
        (request,) = rebuild_requests(store.connection, "logs")
        assert request.resource_logs[0].scope_logs[0].log_records[0].attributes[0].value.bool_value is True


def test_a_new_file_opens_after_the_creating_process_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "killed.duckdb"
    # os._exit skips every close and checkpoint, as kill -9 would
    code = f"import os; from otel_events.store import Store; Store({str(path)!r}); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2], timeout=60)
    with Store(path) as store:
        assert store.connection.execute("SELECT max(version) FROM schema_info").fetchone() == (SCHEMA_VERSION,)
