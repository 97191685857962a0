"""``otel-events status --target HOST:PORT`` asks a receiver over its query API and prints what the file path prints."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_events.cli import main
from otel_events.receiver.server import Receiver
from otel_events.receiver.status import read_status
from otel_events.stream.client import OTEL_EVENTS_TOKEN
from tests.stream.live_support import export_spans, running_receiver, target_of, wait_stored


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    directory = tmp_path_factory.mktemp("status")
    with running_receiver(directory / "s.duckdb", status_interval=0.05) as running:
        export_spans(target_of(running), ["checkout", "pay", "ship"])
        wait_stored(running, 3)
        _wait_status_file(running, stored_items=3)
        yield running


def _wait_status_file(receiver: Receiver, stored_items: int) -> None:
    """Until the status file (rewritten every 50 ms) has caught up with the counters (bounded)."""
    deadline = time.monotonic() + 30
    while read_status(receiver.config.resolved_wal_dir).get("stored_items") != stored_items:
        assert time.monotonic() < deadline, "the status file never showed the stored items"
        time.sleep(0.02)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_status_json_through_target_has_the_files_fields_and_counters(
    receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(["status", "--target", target_of(receiver), "--format", "json"], capsys)
    remote = json.loads(out)
    _, out, _ = _run(["status", "--db", str(receiver.config.db_path), "--format", "json"], capsys)
    local = json.loads(out)

    assert code == 0
    assert set(local) <= set(remote)
    for key in ("pid", "db_path", "wal_dir", "grpc_endpoint", "received_items", "stored_items", "rejected"):
        assert remote[key] == local[key], key
    assert remote["pid"] == os.getpid()
    assert remote["stored_items"] == 3
    assert remote["tail_subscribers"] == 0


def test_status_table_through_target_has_the_files_rows(receiver: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    code, remote, _ = _run(["status", "--target", target_of(receiver)], capsys)
    _, local, _ = _run(["status", "--wal-dir", str(receiver.config.resolved_wal_dir)], capsys)

    def names(table: str) -> list[str]:
        return [line.split("  ")[0] for line in table.splitlines()]

    assert code == 0
    assert names(remote) == names(local)
    assert f"127.0.0.1:{receiver.ports.grpc}" in remote  # type: ignore[union-attr]
    stored = next(line for line in remote.splitlines() if line.startswith("stored items"))
    assert stored.split()[-1] == "3"


def test_status_of_an_address_where_nothing_listens_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    target = f"127.0.0.1:{_closed_port()}"

    code, out, err = _run(["status", "--target", target], capsys)

    assert code == 2
    assert out == ""
    assert err.startswith(f"otel-events: error: no receiver at {target}\n")


def test_status_target_excludes_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["status", "--target", "127.0.0.1:1", "--db", str(tmp_path / "x.duckdb")])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_status_through_target_needs_a_token_when_the_receiver_has_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("token-a = alpha\n", encoding="utf-8")
    tokens.chmod(0o600)
    with running_receiver(tmp_path / "t.duckdb", tokens_file=tokens) as running:
        monkeypatch.delenv(OTEL_EVENTS_TOKEN, raising=False)
        refused = _run(["status", "--target", target_of(running)], capsys)
        monkeypatch.setenv(OTEL_EVENTS_TOKEN, "token-a")
        accepted = _run(["status", "--target", target_of(running), "--format", "json"], capsys)

    assert refused[0] == 2 and "UNAUTHENTICATED" in refused[2]
    assert accepted[0] == 0 and json.loads(accepted[1])["pid"] == os.getpid()
