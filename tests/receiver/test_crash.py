"""Durability: kill -9 a receiver subprocess under load; after restart every acknowledged item is stored once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import grpc

from tests.receiver.conftest import TRACE_EXPORT
from tests.receiver.otlp_requests import make_span, trace_request
from tests.receiver.serve_process import ServeProcess

SPANS_PER_REQUEST = 40


class LoadClient:
    """Threads sending numbered requests as fast as acknowledgements come back, recording which were acked."""

    def __init__(self, port: int, first_request: int, threads: int = 3) -> None:
        self.acked: set[int] = set()
        self.sent: set[int] = set()
        self._next = first_request
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self._export = self._channel.unary_unary(TRACE_EXPORT)
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                request_id, self._next = self._next, self._next + 1
                self.sent.add(request_id)
            spans = [make_span("load", load__request=request_id, load__index=i) for i in range(SPANS_PER_REQUEST)]
            try:
                self._export(trace_request(spans).SerializeToString(), timeout=5)
            except grpc.RpcError:
                continue  # the receiver died: this request is unacknowledged
            with self._lock:
                self.acked.add(request_id)

    def wait_for_acks(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert time.monotonic() < deadline, "the load never got acknowledged"
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        self._channel.close()


def stored_counts(db_path: Path) -> dict[int, int]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute(
            "SELECT CAST(attributes['load.request'] AS BIGINT), count(*) FROM spans GROUP BY ALL"
        ).fetchall()
    return dict(rows)


def run_status(db_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "otel_events.cli", "status", "--db", str(db_path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_kill_9_under_load_loses_and_duplicates_nothing_acknowledged(tmp_path: Path) -> None:
    db_path = tmp_path / "crash.duckdb"
    acked: set[int] = set()
    sent: set[int] = set()
    # Three crashes at different moments of the load: right after the first acks, a little later, later still.
    for attempt, delay in enumerate((0.0, 0.4, 1.2)):
        receiver = ServeProcess(db_path)
        client = LoadClient(receiver.port, first_request=attempt * 1_000_000)
        client.wait_for_acks(3)
        time.sleep(delay)
        receiver.kill()
        client.stop()
        assert client.acked, "no request was acknowledged before the crash"
        acked |= client.acked
        sent |= client.sent

    receiver = ServeProcess(db_path)  # replays the WAL left by the last crash
    status = run_status(db_path)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["grpc_endpoint"] == f"127.0.0.1:{receiver.port}"
    assert receiver.terminate() == 0, receiver.log_path.read_text()
    assert "no receiver is running" in run_status(db_path).stderr

    counts = stored_counts(db_path)
    missing = sorted(acked - counts.keys())
    assert not missing, f"{len(missing)} acknowledged requests lost, e.g. {missing[:5]}"
    assert {request: n for request, n in counts.items() if n != SPANS_PER_REQUEST} == {}, "partial or duplicate"
    assert counts.keys() <= sent
    assert not (tmp_path / "crash.wal" / "status.json").exists()
