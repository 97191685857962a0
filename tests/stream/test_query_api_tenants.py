"""With bearer tokens configured, every live API call needs a token and sees only its tenant's rows."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from otel_events.errors import RemoteError
from otel_events.receiver.server import Receiver
from otel_events.stream.client import Credentials, EventsClient
from tests.stream.live_support import export_logs, export_spans, running_receiver, target_of, wait_stored


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    directory = tmp_path_factory.mktemp("tenants")
    tokens = directory / "tokens"
    tokens.write_text("token-a = alpha\ntoken-b = beta\n", encoding="utf-8")
    tokens.chmod(0o600)
    with running_receiver(directory / "t.duckdb", tokens_file=tokens) as running:
        target = target_of(running)
        export_spans(target, ["a1", "a2"], service="alpha-svc", token="token-a")
        export_logs(target, ["alpha log"], service="alpha-svc", token="token-a")
        export_spans(target, ["b1", "b2", "b3"], service="beta-svc", token="token-b")
        wait_stored(running, 6)
        yield running


def _client(receiver: Receiver, token: str | None) -> EventsClient:
    return EventsClient(target_of(receiver), Credentials(token=token))


def test_sql_sees_only_the_tokens_tenant(receiver: Receiver) -> None:
    with _client(receiver, "token-a") as alpha, _client(receiver, "token-b") as beta:
        assert alpha.sql("SELECT name FROM spans ORDER BY name")[1] == [("a1",), ("a2",)]
        assert alpha.sql("SELECT count(*) FROM logs")[1] == [(1,)]
        assert alpha.sql("SELECT root_name FROM traces ORDER BY 1")[1] == [("a1",), ("a2",)]
        assert beta.sql("SELECT name FROM spans ORDER BY name")[1] == [("b1",), ("b2",), ("b3",)]
        assert beta.sql("SELECT count(*) FROM logs")[1] == [(0,)]
        trace_id = beta.sql("SELECT trace_id FROM spans LIMIT 1")[1][0][0]
        assert beta.sql(f"SELECT count(*) FROM trace_spans('{trace_id}')")[1] == [(1,)]
        assert alpha.sql(f"SELECT count(*) FROM trace_spans('{trace_id}')")[1] == [(0,)]


def test_analyses_see_only_the_tokens_tenant(receiver: Receiver) -> None:
    with _client(receiver, "token-b") as beta:
        rows = beta.analysis("stats", json.dumps({"since": "100000d"})).result

    assert sorted(row["name"] for row in rows) == ["b1", "b2", "b3"]  # type: ignore[index, union-attr]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM span_data", "table 'span_data' is not readable here"),
        ("SELECT * FROM main.spans", "table 'spans' is not readable here"),
        ("SELECT * FROM t.main.span_data", "table 'span_data' is not readable here"),
        ("SELECT * FROM dead_letters", "table 'dead_letters' is not readable here"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table function 'read_csv' is not available"),
        ("SELECT * FROM '/etc/passwd'", "is not readable here"),
        ("SELECT * FROM spans WHERE name IN (SELECT name FROM span_data)", "table 'span_data'"),
        ("DESCRIBE spans", "not available to token-authenticated callers"),
    ],
)
def test_a_tenant_cannot_reach_around_the_views(receiver: Receiver, sql: str, message: str) -> None:
    with _client(receiver, "token-a") as alpha, pytest.raises(RemoteError, match=message):
        alpha.sql(sql)


def test_ctes_over_the_views_are_allowed(receiver: Receiver) -> None:
    with _client(receiver, "token-a") as alpha:
        assert alpha.sql("WITH s AS (SELECT name FROM spans) SELECT count(*) FROM s")[1] == [(2,)]


@pytest.mark.parametrize("token", [None, "wrong"])
def test_calls_without_a_valid_token_are_unauthenticated(receiver: Receiver, token: str | None) -> None:
    with _client(receiver, token) as anonymous:
        with pytest.raises(RemoteError, match="UNAUTHENTICATED"):
            anonymous.sql("SELECT 1")
        with pytest.raises(RemoteError, match="UNAUTHENTICATED"):
            anonymous.status()
        with pytest.raises(RemoteError, match="UNAUTHENTICATED"):
            next(iter(anonymous.tail()))
