"""``otel-events sql``: formats and errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_events.cli import main
from otel_events.store import IngestItem, Store
from tests.store.sdk_payloads import trace_payload


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "events.duckdb"
    with Store(path) as store:
        store.ingest([IngestItem("traces", trace_payload())])
    return str(path)


QUERY = "SELECT name, kind, attributes['http.route'] AS route, length(events) AS n FROM spans ORDER BY name"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["sql", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_output_is_aligned(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, QUERY, "--db", db)
    assert code == 0
    lines = out.splitlines()
    assert lines == [
        "name          kind      route  n",
        "------------  --------  -----  -",
        "GET /cart     server    /cart  0",
        "cache.lookup  internal  NULL   0",
        "db.query      client    NULL   1",
        "(3 rows)",
    ]


def test_json_output(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, QUERY + " LIMIT 1", "--db", db, "--format", "json")
    assert code == 0
    assert json.loads(out) == [{"name": "GET /cart", "kind": "server", "route": "/cart", "n": 0}]


def test_json_output_of_maps_and_timestamps(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "SELECT attributes, start_time FROM spans WHERE name = 'db.query'", "--db", db, "--format", "json"
    )
    assert code == 0
    row = json.loads(out)[0]
    assert row["attributes"] == {"db.rows": "12", "db.ok": "true"}
    assert row["start_time"][:2] == "20"


def test_csv_output(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, QUERY, "--db", db, "--format", "csv")
    assert code == 0
    assert list(csv.reader(io.StringIO(out))) == [
        ["name", "kind", "route", "n"],
        ["GET /cart", "server", "/cart", "0"],
        ["cache.lookup", "internal", "", "0"],
        ["db.query", "client", "", "1"],
    ]


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "SELECT 1", "--db", str(tmp_path / "nope.duckdb"))
    assert code == 2
    assert "nope.duckdb: no such database file" in err


def test_sql_error_is_reported(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "SELECT no_such_column FROM spans", "--db", db)
    assert code == 2
    assert err.startswith("otel-events: error: SQL error:")
    assert "no_such_column" in err


def test_writes_are_refused(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "DELETE FROM span_data", "--db", db)
    assert code == 2
    assert "read-only" in err.lower()


def test_a_file_held_by_a_running_writer_is_named_as_such(db: str) -> None:
    holder = textwrap.dedent(
        f"""
        import sys, time
        from otel_events.store import Store
        store = Store({db!r})
        print("ready", flush=True)
        sys.stdin.readline()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        result = subprocess.run(
            [sys.executable, "-m", "otel_events.cli", "sql", "SELECT 1", "--db", db],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "locked by another process (a running receiver holds it" in result.stderr
    finally:
        process.communicate("\n", timeout=60)
