"""``otel-events retention apply``: counts per kind and category, dry run, archive, limits from a config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_events.cli import main
from otel_events.store import IngestItem, Store
from tests.stream.replay_support import SECOND, build_store, timed_spans

OLD = 1_600_000_000 * SECOND  # September 2020


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "a.duckdb"
    build_store(path, [IngestItem(signal="traces", payload=timed_spans([0, 1, 2], base_ns=OLD))])
    return path


def _spans(path: Path) -> int:
    with Store(path, read_only=True) as store:
        return store.connection.execute("SELECT count(*) FROM spans").fetchone()[0]


def test_dry_run_prints_counts_and_keeps_rows(db: Path, capsys) -> None:
    assert main(["retention", "apply", "--db", str(db), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete" in out and "total: 3 rows would delete" in out
    assert any(line.split()[:2] == ["spans", "system"] and line.split()[-1] == "3" for line in out.splitlines())
    assert _spans(db) == 3


def test_apply_with_archive_deletes_and_archives(db: Path, tmp_path: Path, capsys) -> None:
    assert main(["retention", "apply", "--db", str(db), "--archive", str(tmp_path / "arch")]) == 0
    assert "total: 3 rows deleted, archived to" in capsys.readouterr().out
    assert _spans(db) == 0
    assert list((tmp_path / "arch" / "spans").glob("day=2020-09-13/service=raw-client/*.parquet"))


def test_limits_from_the_config_file(db: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "receiver.toml"
    config.write_text("[retention]\nsystem = 100000\n", encoding="utf-8")
    assert main(["retention", "apply", "--db", str(db), "--config", str(config)]) == 0
    assert "total: 0 rows deleted" in capsys.readouterr().out
    config.write_text("[retention]\nsystem = -1\n", encoding="utf-8")
    assert main(["retention", "apply", "--db", str(db), "--config", str(config)]) == 2
    assert "positive number of days" in capsys.readouterr().err


def test_sql_and_analyses_read_archives(db: Path, tmp_path: Path, capsys) -> None:
    archive = tmp_path / "arch"
    assert main(["retention", "apply", "--db", str(db), "--archive", str(archive)]) == 0
    capsys.readouterr()
    query = "SELECT count(*) AS n, min(name) AS first FROM spans"
    assert main(["sql", query, "--db", str(db), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "0,"
    assert main(["sql", query, "--db", str(db), "--archive", str(archive), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "3,op0"
    window = ["--since", "2020-09-13T00:00:00Z", "--until", "2020-09-14T00:00:00Z", "--format", "json"]
    assert main(["analyze", "stats", "--db", str(db), "--archive", str(archive), *window]) == 0
    out = capsys.readouterr().out
    assert '"op0"' in out and '"op2"' in out
