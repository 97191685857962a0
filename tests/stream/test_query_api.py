"""The Query and Status calls of the live API against a real receiver holding a real DuckDB file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from otel_events._proto import events_pb2, events_pb2_grpc
from otel_events.errors import NotFoundError, RemoteError
from otel_events.receiver.server import Receiver
from otel_events.store import Store
from otel_events.store.commands import run_query
from otel_events.stream.client import EventsClient
from tests.stream.live_support import export_logs, export_spans, running_receiver, target_of, wait_stored


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Receiver, Path]]:
    """A receiver holding a store with 30 spans and 3 logs, and a copy of that store for local queries."""
    directory = tmp_path_factory.mktemp("live")
    db = directory / "live.duckdb"
    with running_receiver(db) as receiver:
        target = target_of(receiver)
        export_spans(target, [f"op{i % 3}" for i in range(30)])
        export_logs(target, ["started", "timeout talking to db", "stopped"])
        wait_stored(receiver, 33)
        copy = directory / "copy.duckdb"
        _copy_store(receiver, copy)
        yield receiver, copy


def _copy_store(receiver: Receiver, destination: Path) -> None:
    cursor = receiver.sink.store.connection.cursor()  # type: ignore[attr-defined]
    try:
        cursor.execute("CHECKPOINT")
    finally:
        cursor.close()
    shutil.copyfile(receiver.config.db_path, destination)


@pytest.fixture
def client(live: tuple[Receiver, Path]) -> Iterator[EventsClient]:
    with EventsClient(target_of(live[0])) as events:
        yield events


SAME_AS_LOCAL = [
    "SELECT name, count(*) AS n, sum(duration_ms) AS total FROM spans GROUP BY name ORDER BY name",
    "SELECT * FROM spans ORDER BY span_id",
    "SELECT * FROM logs ORDER BY time",
    "SELECT trace_id, attributes, events, category, start_time FROM spans ORDER BY span_id LIMIT 5",
    "SELECT sum((seq IS NULL)::INT) AS huge, 'nan'::DOUBLE AS nan, INTERVAL 90 MINUTE AS i, NULL AS n FROM spans",
    "SELECT * FROM traces ORDER BY trace_id",
    "SELECT * FROM spans WHERE false",
]


@pytest.mark.parametrize("sql", SAME_AS_LOCAL)
def test_sql_rows_equal_a_local_query_on_the_same_file(live: tuple[Receiver, Path], client: EventsClient, sql: str):
    remote_columns, remote_rows = client.sql(sql)
    local_columns, local_rows = run_query(str(live[1]), sql)

    assert remote_columns == local_columns
    assert repr(remote_rows) == repr(local_rows)  # repr: nan != nan, but prints the same


def test_sql_in_json_rows(live: tuple[Receiver, Path]) -> None:
    with grpc.insecure_channel(target_of(live[0])) as channel:
        stub = events_pb2_grpc.EventsServiceStub(channel)
        request = events_pb2.QueryRequest(
            sql="SELECT name, count(*) AS n FROM spans GROUP BY name ORDER BY name",
            format=events_pb2.ROW_FORMAT_JSON,
            rows_per_message=2,
        )
        responses = list(stub.Query(request, timeout=30))

    assert list(responses[0].json_rows.columns) == ["name", "n"]
    rows = [json.loads(line) for r in responses for line in r.json_rows.rows.splitlines()]
    assert rows == [["op0", 10], ["op1", 10], ["op2", 10]]
    assert len(responses) == 2  # two rows per message


WRITES = [
    ("INSERT INTO span_data SELECT * FROM span_data", "INSERT"),
    ("UPDATE span_data SET name = 'x'", "UPDATE"),
    ("DELETE FROM span_data", "DELETE"),
    ("CREATE TABLE stolen AS SELECT * FROM spans", "CREATE"),
    ("DROP VIEW spans", "DROP"),
    ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
    ("COPY span_data TO '/tmp/spans.csv'", "COPY"),
    ("SET threads = 1", "SET"),
    ("PRAGMA memory_limit = '1GB'", "SET"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("CHECKPOINT", "CALL"),
    ("EXPORT DATABASE '/tmp/out'", "EXPORT"),
    ("BEGIN TRANSACTION", "TRANSACTION"),
    ("ALTER TABLE span_data ADD COLUMN x INT", "ALTER"),
]


@pytest.mark.parametrize(("sql", "kind"), WRITES)
def test_write_statements_are_refused_with_invalid_argument(
    live: tuple[Receiver, Path], client: EventsClient, sql: str, kind: str
) -> None:
    with grpc.insecure_channel(target_of(live[0])) as channel:
        stub = events_pb2_grpc.EventsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.Query(events_pb2.QueryRequest(sql=sql), timeout=30))

    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"only read-only SELECT statements are allowed; this is a {kind} statement" in refused.value.details()
    assert client.sql("SELECT count(*) FROM spans")[1] == [(30,)]


def test_several_statements_and_hidden_writes_are_refused(client: EventsClient) -> None:
    with pytest.raises(RemoteError, match="expected exactly one SQL statement, got 2"):
        client.sql("SELECT 1; DELETE FROM span_data")
    with pytest.raises(RemoteError, match="SQL error: Parser Error"):
        client.sql("SELEC 1")
    assert client.sql("SELECT count(*) FROM spans")[1] == [(30,)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT nextval('dead_letter_ids')",
        "SELECT * FROM spans WHERE seq < (SELECT nextval('dead_letter_ids'))",
        "SELECT * FROM checkpoint()",
        "SELECT * FROM force_checkpoint()",
    ],
)
def test_a_select_calling_a_function_with_a_side_effect_is_refused(client: EventsClient, sql: str) -> None:
    with pytest.raises(RemoteError, match=r"changes the database and is not allowed"):
        client.sql(sql)


def test_named_analysis_returns_the_rows_of_a_local_run(live: tuple[Receiver, Path], client: EventsClient) -> None:
    from otel_events.analyze import stats

    outcome = client.analysis("stats", json.dumps({"since": "100000d", "limit": 2}))

    with Store(live[1], read_only=True) as store:
        assert outcome.result == stats(store, since="100000d", limit=2)
    assert outcome.gate_failures == ()


def test_bad_analysis_calls_are_refused_clearly(client: EventsClient) -> None:
    with pytest.raises(RemoteError, match="unknown analysis 'nope'"):
        client.analysis("nope", "{}")
    with pytest.raises(RemoteError, match="unknown analysis parameter 'drop'"):
        client.analysis("stats", '{"drop": 1}')
    with pytest.raises(RemoteError, match="'limit' has the wrong type"):
        client.analysis("stats", '{"limit": "ten"}')
    with pytest.raises(RemoteError, match="must be positive"):
        client.analysis("stats", '{"limit": 0}')
    with pytest.raises(RemoteError, match="not valid JSON"):
        client.analysis("stats", "{")
    with pytest.raises(RemoteError, match="at position"):
        client.analysis("stats", json.dumps({"filter": "service = "}))
    with pytest.raises(NotFoundError, match="no spans or logs with trace id"):
        client.analysis("trace", json.dumps({"trace_id": "0" * 32}))


def test_status_reports_the_receiver_counters(client: EventsClient) -> None:
    status = client.status()

    assert status.stored_items >= 33
    assert status.received_items >= 33
    assert "invalid_request" in status.rejected
    assert json.loads(status.status_json)["stored_items"] == status.stored_items


def test_an_unreachable_target_is_a_clear_error() -> None:
    with EventsClient("127.0.0.1:1", timeout=5) as client, pytest.raises(RemoteError, match="cannot reach"):
        client.sql("SELECT 1")
