"""`otel-events analyze NAME` and `otel-events export` through the real CLI entry point, on a store file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest

from otel_events.cli import main

from .dataset import CORRELATION_ID, SLOW_TRACE_IDS, build_store

WINDOW = ["--since", "2026-01-20T00:00:00Z", "--until", "2026-01-20T04:00:00Z"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "otel_events.duckdb"
    build_store(str(path)).close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def analyze(capsys: pytest.CaptureFixture[str], db: Path, name: str, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "analyze", name, "--db", str(db), *extra)


@pytest.mark.parametrize(
    ("name", "extra", "expected_rows", "field"),
    [
        ("slow-traces", [*WINDOW], 4, "critical_path"),
        ("stats", [*WINDOW, "--by", "hour", "--filter", "name = 'inventory.lookup'"], 4, "p95_ms"),
        ("patterns", [*WINDOW, "--baseline", "4h"], 4, "is_new"),
        ("patterns", [*WINDOW, "--spans"], 4, "sequence"),
        ("anomalies", [*WINDOW, "--sensitivity", "150"], 1, "z"),
        ("anomalies", [*WINDOW, "--metrics"], 1, "attributes"),
        ("service-map", [*WINDOW], 3, "p95_ms"),
        ("completeness", [*WINDOW], 5, "gaps"),
        ("critical-path", [SLOW_TRACE_IDS["critical"]], 7, "self_time_ms"),
        ("trace", [SLOW_TRACE_IDS["medium"]], 7, "kind"),
        ("correlation", [CORRELATION_ID], 5, "seq"),
        ("compare", [*WINDOW, "--baseline", "service = 'frontend'"], 15, "p95_delta_pct"),
    ],
)
def test_each_analysis_prints_a_json_array_of_rows(
    capsys: pytest.CaptureFixture[str], db: Path, name: str, extra: list[str], expected_rows: int, field: str
) -> None:
    code, out, err = analyze(capsys, db, name, *extra, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == expected_rows
    assert field in rows[0]


def test_errors_json_is_an_object(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, out, _ = analyze(capsys, db, "errors", *WINDOW, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["total"] == 5
    assert report["recent"][0]["time"] == "2026-01-20T02:04:00.045000Z"
    assert set(report) >= {"by_service", "by_operation", "by_exception_type", "top_messages", "critical"}


def test_table_csv_and_markdown_formats(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    _, table, _ = analyze(capsys, db, "completeness", *WINDOW)
    lines = table.splitlines()
    assert lines[0].split() == [
        "stream_id", "service_name", "received", "first_seq", "last_seq", "missing", "duplicates", "gaps"
    ]  # fmt: skip
    assert lines[2].split()[-2:] == ["17-19,", "40"]
    _, text, _ = analyze(capsys, db, "service-map", *WINDOW, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert (rows[0]["caller"], rows[0]["callee"], rows[0]["calls"]) == ("checkout", "payments", "243")
    _, md, _ = analyze(capsys, db, "slow-traces", *WINDOW, "--format", "markdown", "--limit", "1")
    assert md.splitlines()[0].startswith("| trace_id | root_service |")
    assert "GET /checkout > call checkout" in md


def test_report_markdown_and_json(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, md, _ = analyze(capsys, db, "report", *WINDOW)
    assert code == 0
    assert md.startswith("# otel_events report")
    for heading in (
        "## Errors",
        "## Operations",
        "## Slow traces",
        "## Anomalies",
        "## Log patterns",
        "## Service map",
    ):
        assert heading in md
    _, text, _ = analyze(capsys, db, "report", *WINDOW, "--format", "json")
    report = json.loads(text)
    assert isinstance(report, dict) and report["errors"]["total"] == 5 and len(report["slow_traces"]) == 4


def test_compare_gate_exits_1_with_the_crossed_threshold(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    burst = ["--since", "2026-01-20T02:00:00Z", "--until", "2026-01-20T02:05:00Z", "--baseline", "1h"]
    code, _, err = analyze(capsys, db, "compare", *burst, "--fail-on", "error_rate_delta>0.5")
    assert code == 1
    assert "regression: error_rate_delta>0.5: payments charge has 1" in err
    code, _, err = analyze(capsys, db, "compare", *burst, "--fail-on", "p95_delta_pct>1000")
    assert code == 0, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stats", "--filter", "service = "], "expected a value (a quoted string, a number, TRUE or FALSE)"),
        (["stats", "--filter", "service = 'a' AND nosuch > 1"], "at position 18"),
        (["stats", "--since", "yesterday"], "invalid time 'yesterday'"),
        (["stats", "--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"], "empty time window"),
        (["trace", "0" * 31 + "9"], "no spans or logs with trace id"),
        (["critical-path", "nothex"], "expected 32 hexadecimal digits"),
        (["correlation", "nobody"], "no spans or logs with correlation id 'nobody'"),
        (["compare", "--baseline", "1d", "--fail-on", "latency>5"], "invalid --fail-on 'latency>5'"),
        (["anomalies", "--bucket", "soon"], "invalid duration 'soon'"),
        (["stats", "--filter", "name ~ '[a-'"], "expected a valid regular expression"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], db: Path, argv: list[str], message: str
) -> None:
    code, out, err = analyze(capsys, db, *argv)
    assert code == 2
    assert err.startswith("otel-events: error: ")
    assert message in err
    assert out == ""


def test_filter_error_points_at_the_position(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    _, _, err = analyze(capsys, db, "stats", "--filter", "service = 'a' AND nosuch > 1")
    assert err.splitlines()[1:] == ["  service = 'a' AND nosuch > 1", "                    ^"]


def test_missing_store_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = analyze(capsys, tmp_path / "none.duckdb", "stats")
    assert code == 2 and "no store at" in err


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_export_writes_the_filtered_rows(
    capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"it's.{fmt}"  # a quote in the path must not break the COPY statement
    code, _, err = run(
        capsys,
        "export",
        "--db",
        str(db),
        *WINDOW,
        "--format",
        fmt,
        "--out",
        str(out),
        "--filter",
        "service = 'payments'",
    )
    assert code == 0, err
    assert "exported 243 spans rows" in err
    reader = {"json": "read_json_auto", "csv": "read_csv_auto", "parquet": "read_parquet"}[fmt]
    conn = duckdb.connect()
    count, services = conn.execute(
        f"SELECT count(*), list(DISTINCT service_name) FROM {reader}(?)", [str(out)]
    ).fetchone()
    assert (count, services) == (243, ["payments"])
    if fmt == "parquet":
        codec = conn.execute("SELECT DISTINCT compression FROM parquet_metadata(?)", [str(out)]).fetchall()
        assert codec == [("ZSTD",)]
    if fmt == "json":
        assert json.loads(out.read_text().splitlines()[0])["service_name"] == "payments"


def test_export_logs_and_bad_directory(capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path) -> None:
    out = tmp_path / "logs.json"
    code, _, err = run(
        capsys, "export", "--db", str(db), *WINDOW, "--kind", "logs", "--format", "json", "--out", str(out)
    )
    assert code == 0 and "exported 489 logs rows" in err
    code, _, err = run(capsys, "export", "--db", str(db), "--format", "csv", "--out", str(tmp_path / "no" / "x.csv"))
    assert code == 2 and "does not exist" in err
