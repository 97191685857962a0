"""Handlers and retention inside a running receiver, configured from its TOML file; stats in ``status``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from otel_events.errors import ConfigError
from otel_events.receiver.commands import format_status_table
from otel_events.receiver.config import load_config
from otel_events.receiver.server import Receiver
from tests.receiver.conftest import TRACE_EXPORT, raw_export
from tests.receiver.otlp_requests import make_span, trace_request
from tests.stream.test_handlers import RECEIVED
from tests.support import query, wait_until


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "receiver.toml"
    path.write_text(
        f'[receiver]\ndb = "{tmp_path / "r.duckdb"}"\ngrpc = "127.0.0.1:0"\nhttp = "127.0.0.1:0"\n{body}',
        encoding="utf-8",
    )
    return path


def test_receiver_runs_handlers_and_retention_from_its_config(tmp_path: Path) -> None:
    RECEIVED.clear()
    config = load_config(
        config_file=_config(
            tmp_path,
            "[retention]\ninterval = 0.2\n"
            '[[handlers]]\nname = "critical"\nfilter = "category = \'critical\'"\naction = "python"\n'
            'entry_point = "tests.stream.test_handlers:record"\n',
        )
    )
    receiver = Receiver(config)
    receiver.start()
    try:
        fresh = make_span("failure")
        fresh.start_time_unix_nano = time.time_ns()
        fresh.end_time_unix_nano = fresh.start_time_unix_nano + 1000
        old = make_span("stats")  # November 2023: past the 30 days of `system`
        raw_export(receiver.ports.grpc, TRACE_EXPORT, trace_request([fresh, old]).SerializeToString())
        wait_until(lambda: len(RECEIVED) == 1)
        assert RECEIVED[0]["item"]["name"] == "failure"
        wait_until(lambda: query(receiver, "SELECT list(name) FROM spans") == [(["failure"],)])
        status = receiver.status()
        assert status["handlers"]["critical"]["delivered"] == 1
        assert status["retention"]["deleted"] >= 1
        table = format_status_table(status)
        assert "handler critical" in table and "delivered 1" in table
    finally:
        receiver.shutdown()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[retention]\ndebug = 0\n", "positive number of days"),
        ('[[handlers]]\nfilter = "category = \'x\'"\naction = "webhook"\nurl = "http://h/"\n', "invalid filter"),
        ("[alerts]\n", "unknown table"),
    ],
)
def test_bad_retention_or_handler_config_names_the_file(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_config(config_file=_config(tmp_path, body))
    assert "receiver.toml" in str(error.value)
