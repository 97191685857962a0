"""``otel-events sql --filter EXPR [--view VIEW]``: the relation ``filtered``, bound values, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from otel_events.analyze.filtered_view import filtered_statement
from otel_events.cli import main
from otel_events.errors import FilterSyntaxError
from otel_events.receiver.config import ReceiverConfig
from otel_events.receiver.server import Receiver

from .dataset import SLOW_TRACE_IDS, build_store


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sql") / "events.duckdb"
    build_store(str(path)).close()
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["sql", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    code, out, err = run(capsys, *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_query_reads_the_filtered_spans(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = rows(
        capsys,
        "SELECT trace_id, duration_ms FROM filtered ORDER BY duration_ms DESC",
        "--db", db,
        "--filter", "service = 'frontend' AND name = 'GET /checkout' AND duration_ms > 500",
    )  # fmt: skip
    assert result == [
        {"trace_id": SLOW_TRACE_IDS["critical"], "duration_ms": 6000.0},
        {"trace_id": SLOW_TRACE_IDS["high"], "duration_ms": 1500.0},
        {"trace_id": SLOW_TRACE_IDS["medium"], "duration_ms": 700.0},
    ]


def test_without_a_query_it_prints_the_filtered_rows(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = rows(capsys, "--db", db, "--filter", f"trace_id = '{SLOW_TRACE_IDS['medium']}' AND kind = 'server'")
    assert sorted(r["name"] for r in result) == ["GET /checkout", "charge", "checkout.process"]
    assert "attributes" in result[0] and "resource_attributes" in result[0]  # every column of the view


def test_view_logs_with_contains_attributes_and_time(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = rows(
        capsys,
        "SELECT count(*) AS n, min(\"time\") AS first FROM filtered",
        "--db", db, "--view", "logs",
        "--filter", "body CONTAINS 'declined' AND severity_number >= 17 AND time >= '2026-01-20T00:00:00Z'",
    )  # fmt: skip
    assert result == [{"n": 5, "first": "2026-01-20T02:00:00.050000"}]


def test_view_metric_points_and_traces(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    metric = rows(capsys, "SELECT max(value) AS top FROM filtered", "--db", db, "--view", "metric_points",
                  "--filter", "name = 'queue.depth' AND value > 50")  # fmt: skip
    assert metric == [{"top": 100.0}]
    traces = rows(capsys, "SELECT trace_id FROM filtered", "--db", db, "--view", "traces",
                  "--filter", "duration_ms > 5000")  # fmt: skip
    assert traces == [{"trace_id": SLOW_TRACE_IDS["critical"]}]


def test_filtered_joins_the_other_views(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    query = (
        "WITH failing AS (SELECT DISTINCT trace_id FROM filtered) "
        "SELECT count(*) AS n FROM logs JOIN failing USING (trace_id) WHERE severity_text = 'ERROR'"
    )
    assert rows(capsys, query, "--db", db, "--filter", "status_code = 'error'") == [{"n": 5}]


def test_injection_text_is_a_bound_value(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = rows(capsys, "SELECT count(*) AS n FROM filtered", "--db", db,
                  "--filter", "name = 'x'' OR 1=1; DROP VIEW spans; --'")  # fmt: skip
    assert result == [{"n": 0}]
    assert rows(capsys, "SELECT count(*) AS n FROM spans", "--db", db)[0]["n"] > 0


def test_bad_filter_names_the_position_and_exits_2(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "SELECT * FROM filtered", "--db", db, "--filter", "service = 'a' AND")
    assert (code, out) == (2, "")
    assert err.startswith("otel-events: error: ") and "at position 17" in err
    code, _, err = run(capsys, "--db", db, "--view", "logs", "--filter", "duration_ms > 5")
    assert code == 2 and "duration_ms" in err and "at position 0" in err  # not a column of logs


def test_query_that_ignores_the_filter_is_refused(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "SELECT count(*) FROM spans", "--db", db, "--filter", "service = 'x'")
    assert code == 2 and "does not read it" in err
    code, _, err = run(capsys, "--db", db)
    assert code == 2 and "give a SQL query" in err


def test_filter_through_the_receiver_query_api_gives_the_local_rows(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "SELECT name, count(*) AS n, max(duration_ms) AS top FROM filtered GROUP BY name ORDER BY name"
    expression = "service IN ('checkout', 'payments') AND duration_ms > 600"
    local = rows(capsys, query, "--db", db, "--filter", expression)
    assert {r["name"] for r in local} >= {"charge", "checkout.process"} and all(r["top"] > 600 for r in local)
    held = tmp_path / "held.duckdb"
    shutil.copy(db, held)
    receiver = Receiver(
        ReceiverConfig(db_path=held, grpc_endpoint="127.0.0.1:0", http_endpoint="127.0.0.1:0", decode_workers=0)
    )
    ports = receiver.start()
    try:
        assert rows(capsys, query, "--target", f"127.0.0.1:{ports.grpc}", "--filter", expression) == local
        code, _, err = run(capsys, "--target", f"127.0.0.1:{ports.grpc}", "--filter", "duration_ms >")
        assert code == 2 and "at position" in err
    finally:
        receiver.shutdown()


def test_values_never_reach_the_sql_text() -> None:
    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE VIEW spans AS SELECT 'checkout' AS service_name, 'GET /x' AS name, MAP {'k': 'v'} AS attributes"
    )
    secret = "zz-sentinel-value"
    sql, params = filtered_statement(
        "SELECT count(*) FROM filtered;", f"service = '{secret}' OR attributes.{secret} = '{secret}'"
    )
    assert secret not in sql and set(params.values()) == {secret}
    assert con.execute(sql, params).fetchone() == (0,)
    sql, params = filtered_statement("WITH x AS (SELECT name FROM filtered) SELECT * FROM x", "attributes.k = 'v'")
    assert con.execute(sql, params).fetchall() == [("GET /x",)]
    with pytest.raises(FilterSyntaxError, match="at position 7"):
        filtered_statement("SELECT * FROM filtered", "name = (")
