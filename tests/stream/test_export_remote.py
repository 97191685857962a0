"""``otel-events export`` through a receiver (``--target``, or the one holding ``--db``) equals a local export."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from otel_events.cli import main
from otel_events.errors import RemoteError
from otel_events.receiver.server import Receiver
from otel_events.stream.client import EventsClient
from tests.analyze.dataset import WINDOW_END, WINDOW_START, build_store
from tests.stream.live_support import running_receiver, target_of

WINDOW = ["--since", WINDOW_START.isoformat(), "--until", WINDOW_END.isoformat()]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Receiver, Path]]:
    """The analyzer's planted dataset in a file held by a receiver, and a copy of it for local exports."""
    directory = tmp_path_factory.mktemp("export")
    held, local = directory / "held.duckdb", directory / "local.duckdb"
    build_store(str(held)).close()
    shutil.copyfile(held, local)
    with running_receiver(held) as receiver:
        yield receiver, local


def _export(tmp_path: Path, name: str, *arguments: str) -> tuple[int, Path, str]:
    out = tmp_path / name
    code = main(["export", "--out", str(out), *arguments])
    return code, out, name


def _parquet_rows(path: Path) -> list[tuple]:
    with duckdb.connect() as conn:
        return conn.execute("SELECT * FROM read_parquet($path)", {"path": str(path)}).fetchall()


def _assert_same_file(remote: Path, local: Path, output_format: str) -> None:
    if output_format != "parquet":
        assert remote.read_bytes() == local.read_bytes()
        return
    # Parquet bytes carry writer details (encodings, statistics); the contract is schema, rows, order and ZSTD.
    assert pq.read_schema(remote) == pq.read_schema(local)
    assert _parquet_rows(remote) == _parquet_rows(local)
    metadata = pq.ParquetFile(remote).metadata
    assert {metadata.row_group(0).column(i).compression for i in range(metadata.num_columns)} == {"ZSTD"}


@pytest.mark.parametrize("output_format", ["json", "csv", "parquet"])
@pytest.mark.parametrize("kind", ["spans", "logs", "metrics"])
def test_export_through_target_writes_what_a_local_export_writes(
    stores: tuple[Receiver, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, output_format: str
) -> None:
    receiver, local = stores
    common = ["--kind", kind, "--format", output_format, *WINDOW]

    remote = _export(tmp_path, f"remote.{output_format}", "--target", target_of(receiver), *common)
    remote_err = capsys.readouterr().err
    expected = _export(tmp_path, f"local.{output_format}", "--db", str(local), *common)
    local_err = capsys.readouterr().err

    assert remote[0] == expected[0] == 0
    assert remote_err.replace("remote.", "local.") == local_err
    count = int(local_err.split()[1])
    assert count > 0
    _assert_same_file(remote[1], expected[1], output_format)


def test_a_filtered_export_through_target_binds_the_filter_like_a_local_one(
    stores: tuple[Receiver, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver, local = stores
    common = ["--format", "json", "--filter", "service = 'checkout' AND duration_ms > 100", *WINDOW]

    _export(tmp_path, "remote.json", "--target", target_of(receiver), *common)
    _export(tmp_path, "local.json", "--db", str(local), *common)
    _export(tmp_path, "all.json", "--db", str(local), "--format", "json", *WINDOW)
    capsys.readouterr()

    remote = (tmp_path / "remote.json").read_text()
    assert remote == (tmp_path / "local.json").read_text()
    assert 0 < len(remote.splitlines()) < len((tmp_path / "all.json").read_text().splitlines())
    assert all('"service_name":"checkout"' in line for line in remote.splitlines())


def test_a_file_held_by_a_receiver_is_exported_through_it_by_default(
    stores: tuple[Receiver, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver, local = stores
    # Another process: this one's DuckDB already has the held file open through the receiver.
    result = subprocess.run(
        [sys.executable, "-m", "otel_events.cli", "export", "--db", str(receiver.config.db_path), "--format", "csv",
         "--kind", "logs", "--out", str(tmp_path / "held.csv"), *WINDOW],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    _export(tmp_path, "local.csv", "--db", str(local), "--format", "csv", "--kind", "logs", *WINDOW)

    assert result.returncode == 0, result.stderr
    assert result.stderr.replace("held.csv", "local.csv") == capsys.readouterr().err
    assert (tmp_path / "held.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_export_through_target_reports_bad_input_clearly(
    stores: tuple[Receiver, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = target_of(stores[0])

    bad_filter = main(["export", "--target", target, "--format", "csv", "--out", str(tmp_path / "x.csv"),
                       "--filter", "service = "])  # fmt: skip
    assert bad_filter == 2 and "position" in capsys.readouterr().err

    archive = main(["export", "--target", target, "--format", "csv", "--out", str(tmp_path / "x.csv"),
                    "--archive", str(tmp_path)])  # fmt: skip
    assert archive == 2 and "--archive reads local files" in capsys.readouterr().err

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    unreachable = main(["export", "--target", closed, "--format", "csv", "--out", str(tmp_path / "x.csv")])
    assert unreachable == 2 and f"cannot reach the receiver at {closed}" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_sql_reader_binds_parameters_and_streams_batches(stores: tuple[Receiver, Path]) -> None:
    since = dt.datetime(2026, 1, 20, 10, 0, 0, 123456)
    with EventsClient(target_of(stores[0])) as client:
        reader = client.sql_reader(
            "SELECT range AS n, $since AS since, $names AS names FROM range($count)",
            {"since": since, "names": ["a", "b'; DROP TABLE spans; --"], "count": 25_000},
        )
        batches = list(reader)

        assert len(batches) == 3  # 10,000 rows per message
        assert sum(batch.num_rows for batch in batches) == 25_000
        assert batches[0].column("since")[0].as_py() == since
        assert batches[0].column("names")[0].as_py() == ["a", "b'; DROP TABLE spans; --"]
        with pytest.raises(RemoteError, match="only read-only SELECT"):
            client.sql_reader("DELETE FROM span_data WHERE trace_id = $t", {"t": "x"})
        with pytest.raises(RemoteError, match="SQL error"):
            client.sql_reader("SELECT $missing")
