"""``otel-events replay`` from a store file and from an archive, over gRPC and OTLP/HTTP; bad arguments."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_events.cli import main
from otel_events.store import IngestItem, Store
from otel_events.store.retention import RetentionPolicy, apply_retention
from tests.stream.replay_support import SECOND, build_store, start_receiver, timed_spans
from tests.support import query, wait_until


class _OtlpHttpSink(http.server.BaseHTTPRequestHandler):
    """Records OTLP/HTTP posts; answers 503 with Retry-After to the first ``failures`` of them."""

    failures = 0
    bodies: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).failures > 0:
            type(self).failures -= 1
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        type(self).bodies.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def http_sink() -> Iterator[tuple[int, type[_OtlpHttpSink]]]:
    handler = type("Sink", (_OtlpHttpSink,), {"failures": 1, "bodies": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def test_replay_command_over_grpc_with_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_store(tmp_path / "a.duckdb", [IngestItem(signal="traces", payload=timed_spans(list(range(20))))])
    receiver = start_receiver(tmp_path / "b.duckdb")
    try:
        argv = ["replay", "--db", str(tmp_path / "a.duckdb"), "--to", f"127.0.0.1:{receiver.ports.grpc}"]
        assert main([*argv, "--as-fast-as-possible", "--checkpoint", "one"]) == 0
        assert "replayed 20 items in 1 requests" in capsys.readouterr().out
        assert (tmp_path / "a.duckdb.replay" / "one.json").exists()
        assert main([*argv, "--as-fast-as-possible", "--checkpoint", "one"]) == 0
        assert "replayed 0 items" in capsys.readouterr().out
        wait_until(lambda: query(receiver, "SELECT count(*) FROM spans")[0][0] == 20)
    finally:
        receiver.shutdown()


def test_replay_command_over_http_retries_a_503(tmp_path: Path, http_sink, capsys) -> None:
    port, sink = http_sink
    build_store(tmp_path / "a.duckdb", [IngestItem(signal="traces", payload=timed_spans([0, 1, 2]))])
    argv = ["replay", "--db", str(tmp_path / "a.duckdb"), "--to", f"127.0.0.1:{port}", "--http", "--speed", "100"]
    assert main(argv) == 0
    assert "retries 1" in capsys.readouterr().out
    assert [path for path, _ in sink.bodies] == ["/v1/traces"]
    request = ExportTraceServiceRequest.FromString(sink.bodies[0][1])
    assert sorted(span.name for span in request.resource_spans[0].scope_spans[0].spans) == ["op0", "op1", "op2"]


def test_replay_command_from_an_archive(tmp_path: Path) -> None:
    old = 1_600_000_000 * SECOND  # 2020: past every default limit
    build_store(tmp_path / "a.duckdb", [IngestItem(signal="traces", payload=timed_spans([0, 5, 9], base_ns=old))])
    with Store(tmp_path / "a.duckdb") as store:
        apply_retention(store.connection, RetentionPolicy(archive_dir=tmp_path / "archive"))
        assert store.connection.execute("SELECT count(*) FROM spans").fetchone()[0] == 0
    receiver = start_receiver(tmp_path / "b.duckdb")
    try:
        argv = ["replay", "--archive", str(tmp_path / "archive"), "--to", f"127.0.0.1:{receiver.ports.grpc}"]
        assert main([*argv, "--as-fast-as-possible", "--checkpoint", "arch"]) == 0
        assert (tmp_path / "archive" / ".replay" / "arch.json").exists()
        wait_until(lambda: query(receiver, "SELECT count(*) FROM spans")[0][0] == 3)
    finally:
        receiver.shutdown()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--speed", "500"], "speed must be between 0.1 and 100"),
        (["--to", "nonsense"], "invalid endpoint"),
        (["--filter", "duration_ms >"], "at position"),
    ],
)
def test_replay_command_reports_bad_input(tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    build_store(tmp_path / "a.duckdb", [IngestItem(signal="traces", payload=timed_spans([0]))])
    argv = ["replay", "--db", str(tmp_path / "a.duckdb"), "--to", "127.0.0.1:1", "--kind", "traces", *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_replay_command_refuses_unknown_kinds(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--to", "127.0.0.1:1", "--kind", "traces,events"])
    assert "unknown kind(s) events" in capsys.readouterr().err
