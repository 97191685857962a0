"""``otel-events serve`` argument errors and ``otel-events status`` output."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_events.cli import main
from otel_events.errors import ConfigError
from otel_events.receiver.commands import format_status_table
from otel_events.receiver.config import ReceiverConfig, load_config
from tests.receiver.conftest import MemorySink


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--grpc", "localhost"], "invalid endpoint 'localhost'"),
        (["--grpc", "127.0.0.1:99999"], "port between 0 and 65535"),
        (["--config", "missing.toml"], "config file missing.toml does not exist"),
    ],
)
def test_serve_rejects_bad_values_with_a_clear_error(argv: list[str], message: str, capsys, tmp_path: Path) -> None:
    assert main(["serve", "--db", str(tmp_path / "x.duckdb"), *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-5", "lots"])
def test_serve_rejects_a_bad_message_size(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--max-message-size", value])
    assert exited.value.code == 2
    assert "--max-message-size" in capsys.readouterr().err


def test_serve_reports_a_busy_port(tmp_path: Path, capsys, make_receiver) -> None:
    running = make_receiver(sink=MemorySink(), wal_dir=tmp_path / "other.wal")
    argv = ["serve", "--db", str(tmp_path / "y.duckdb"), "--grpc", f"127.0.0.1:{running.ports.grpc}"]
    assert main(argv) == 2
    assert f"cannot listen on 127.0.0.1:{running.ports.grpc}" in capsys.readouterr().err


def test_config_file_environment_and_arguments_layer(tmp_path: Path) -> None:
    config_file = tmp_path / "receiver.toml"
    config_file.write_text('[receiver]\ndb = "from-file.duckdb"\nmax_message_size = 4096\n')
    environ = {"OTEL_EVENTS_GRPC_ENDPOINT": "127.0.0.1:5000", "OTEL_EVENTS_DB": "from-env.duckdb"}
    config = load_config({"max_message_size": 8192}, config_file=config_file, environ=environ)
    assert config == ReceiverConfig(
        db_path=Path("from-file.duckdb"), grpc_endpoint="127.0.0.1:5000", max_message_size=8192
    )
    assert config.resolved_wal_dir == Path("from-file.wal")


def test_a_bad_environment_value_falls_back_to_the_default(caplog) -> None:
    config = load_config(environ={"OTEL_EVENTS_MAX_MESSAGE_SIZE": "huge", "OTEL_EVENTS_GRPC_ENDPOINT": "nope"})
    assert config.max_message_size == ReceiverConfig().max_message_size
    assert config.grpc_endpoint == "127.0.0.1:4317"
    assert "OTEL_EVENTS_MAX_MESSAGE_SIZE" in caplog.text and "OTEL_EVENTS_GRPC_ENDPOINT" in caplog.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[receiver]\nport = 1\n", "unknown key 'port'"),
        ("[server]\n", "unknown table(s) server"),
        ("[receiver]\nmax_message_size = 'big'\n", "max_message_size must be a number"),
        ("[receiver\n", "not valid TOML"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    config_file = tmp_path / "bad.toml"
    config_file.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(config_file=config_file, environ={})


def test_status_without_a_receiver_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["status", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "no receiver is running" in capsys.readouterr().err


def test_status_of_a_running_receiver_prints_a_table(make_receiver, capsys) -> None:
    receiver = make_receiver(sink=MemorySink())
    assert main(["status", "--wal-dir", str(receiver.config.resolved_wal_dir)]) == 0
    out = capsys.readouterr().out
    assert f"127.0.0.1:{receiver.ports.grpc}" in out
    assert "rejected: invalid_request" in out and "store latency p99" in out


def test_status_table_is_aligned() -> None:
    table = format_status_table({"pid": 12, "uptime_seconds": 3.2, "rejected": {"invalid_item": 4}})
    lines = table.splitlines()
    assert "rejected: invalid_item" in table and "uptime" in table
    # Every value starts in the same column.
    starts = {len(line) - len(line.split("  ")[-1].lstrip()) for line in lines}
    assert len(starts) == 1
    assert lines[0].split() == ["pid", "12"]
