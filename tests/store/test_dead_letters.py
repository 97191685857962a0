"""Dead letters: list, retry and purge, as functions and as ``otel-events dlq``, on letters made by real ingests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_events.cli import main
from otel_events.errors import NotFoundError
from otel_events.store import IngestItem, Store
from otel_events.store.dead_letters import list_dead_letters, purge_dead_letters, retry_dead_letters
from tests.store.sdk_payloads import log_payload, trace_payload

GARBAGE = b"\xff\xfe not protobuf"


def unstorable_payload() -> bytes:
    """A traces request that decodes but cannot be stored: an end time past what TIMESTAMP_NS holds."""
    request = ExportTraceServiceRequest.FromString(trace_payload())
    request.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano = 2**64 - 1
    return request.SerializeToString()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store file with three dead letters: 1 a log request refused while its table was unusable (stores fine
    on retry), 2 garbage bytes, 3 a request that decodes but cannot be stored."""
    path = tmp_path / "events.duckdb"
    with Store(path) as store:
        con = store.connection
        con.execute("DROP VIEW logs")
        con.execute("ALTER TABLE log_data RENAME TO log_data_away")
        assert store.ingest([IngestItem("logs", log_payload(), tenant="acme")]).dead_letters == 1
        con.execute("ALTER TABLE log_data_away RENAME TO log_data")
        stats = store.ingest([IngestItem("traces", GARBAGE), IngestItem("traces", unstorable_payload())])
        assert stats.dead_letters == 2
    return path  # reopening re-creates the views


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_every_letter_with_its_size_attempts_and_error(db: Path) -> None:
    with Store(db, read_only=True) as store:
        letters = list_dead_letters(store.connection)
    assert [(letter.id, letter.signal, letter.tenant, letter.attempts) for letter in letters] == [
        (1, "logs", "acme", 1),
        (2, "traces", None, 1),
        (3, "traces", None, 1),
    ]
    assert letters[0].size == len(log_payload())
    assert letters[1].size == len(GARBAGE)
    assert "cannot decode traces request" in letters[1].error
    assert letters[2].error.startswith("cannot store traces request")
    assert letters[0].received_at.year >= 2024


def test_retry_stores_what_now_fits_and_counts_attempts_of_what_still_fails(db: Path) -> None:
    with Store(db) as store:
        results = retry_dead_letters(store)
        assert [(r.id, r.stored, r.attempts) for r in results] == [(1, True, 2), (2, False, 2), (3, False, 2)]
        assert results[0].items == 3 and results[0].error is None
        assert "cannot decode traces request" in (results[1].error or "")
        con = store.connection
        assert con.execute("SELECT count(*), min(tenant) FROM logs").fetchone() == (3, "acme")
        assert con.execute("SELECT count(*) FROM spans").fetchone() == (0,)
        # failed again: same ids, no second copy, the newest error kept
        assert con.execute("SELECT id, attempts FROM dead_letters ORDER BY id").fetchall() == [(2, 2), (3, 2)]
        again = retry_dead_letters(store, [3])
        assert [(r.id, r.stored, r.attempts) for r in again] == [(3, False, 3)]
        assert con.execute("SELECT count(*) FROM dead_letters").fetchone() == (2,)


def test_purge_deletes_the_chosen_letters_or_all(db: Path) -> None:
    with Store(db) as store:
        assert purge_dead_letters(store.connection, [2]) == 1
        assert [letter.id for letter in list_dead_letters(store.connection)] == [1, 3]
        assert purge_dead_letters(store.connection) == 2
        assert list_dead_letters(store.connection) == []


def test_unknown_ids_are_refused_before_anything_changes(db: Path) -> None:
    with Store(db) as store:
        with pytest.raises(NotFoundError, match="no dead letter with id 7, 9"):
            purge_dead_letters(store.connection, [1, 7, 9])
        with pytest.raises(NotFoundError, match="no dead letter with id 8"):
            retry_dead_letters(store, [8, 1])
        assert len(list_dead_letters(store.connection)) == 3


def test_cli_list_as_table_and_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "dlq", "list", "--db", str(db))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["id", "received_at", "signal", "tenant", "size", "attempts", "error"]
    assert len(lines) == 2 + 3 + 1 and lines[-1] == "(3 rows)"
    assert "acme" in lines[2] and "cannot store traces request" in lines[4]
    code, out, _ = run_cli(capsys, "dlq", "list", "--db", str(db), "--id", "2", "3", "--format", "json")
    rows = json.loads(out)
    assert [row["id"] for row in rows] == [2, 3]
    assert rows[0]["size"] == len(GARBAGE) and rows[0]["attempts"] == 1 and rows[0]["tenant"] is None


def test_cli_retry_and_purge(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "dlq", "retry", "--db", str(db), "--id", "1", "--format", "json")
    assert code == 0
    assert json.loads(out) == [{"id": 1, "outcome": "stored", "items": 3, "attempts": 2, "error": None}]
    code, out, _ = run_cli(capsys, "dlq", "retry", "--db", str(db), "--all")
    assert code == 1  # letters 2 and 3 still fail
    assert "failed" in out and "(2 rows)" in out
    code, out, _ = run_cli(capsys, "dlq", "purge", "--db", str(db), "--all")
    assert (code, out) == (0, "purged 2 dead letters\n")
    with Store(db, read_only=True) as store:
        assert store.connection.execute("SELECT count(*) FROM logs").fetchone() == (3,)


def test_cli_errors_are_clear(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dlq", "purge", "--db", str(db)])
    assert "one of the arguments --id --all is required" in capsys.readouterr().err
    code, _, err = run_cli(capsys, "dlq", "purge", "--db", str(db), "--id", "42")
    assert (code, err) == (2, "otel-events: error: no dead letter with id 42\n")
    missing = tmp_path / "nope.duckdb"
    code, _, err = run_cli(capsys, "dlq", "retry", "--db", str(missing), "--all")
    assert (code, err) == (2, f"otel-events: error: {missing}: no such database file\n")
    assert not missing.exists()
    code, _, err = run_cli(capsys, "dlq", "list", "--db", str(missing))
    assert code == 2 and "no such database file" in err


def test_cli_refuses_a_file_held_by_a_writer(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # DuckDB's lock is per process, so the writer must be another process, as a running receiver would be.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys; c = duckdb.connect({str(db)!r}); print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"ready\n"
        code, _, err = run_cli(capsys, "dlq", "purge", "--db", str(db), "--all")
        assert code == 2 and "locked by another process" in err
    finally:
        holder.communicate(b"", timeout=30)
