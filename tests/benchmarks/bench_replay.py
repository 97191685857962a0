"""Replay throughput: items/s replayed as fast as possible from a store file into a running receiver.

Run: ``python tests/benchmarks/bench_replay.py [--spans N] [--logs N] [--repeat R]``. Prints a table of medians.
Workload: the store benchmark's realistic spans (512 per request, 10 attributes, SDK-stamped) plus log records,
stored once; each repetition replays everything over OTLP/gRPC (and once over OTLP/HTTP when the receiver serves
it) into a fresh receiver and waits until the receiver has stored every item.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

from otel_events.receiver.config import ReceiverConfig
from otel_events.receiver.server import Receiver
from otel_events.store import IngestItem, Store
from otel_events.stream.replay import Replayer, ReplayOptions, Transport
from tests.benchmarks.bench_store import make_requests


def _log_requests(total: int, per_request: int = 512) -> list[bytes]:
    base = time.time_ns() - 3600 * 10**9
    payloads = []
    for start in range(0, total, per_request):
        records = [
            LogRecord(time_unix_nano=base + i * 1_000_000, severity_number=9 + i % 12)
            for i in range(start, min(total, start + per_request))
        ]
        for index, record in enumerate(records):
            record.body.string_value = f"order {start + index} shipped to region {index % 7}"
        request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=records)])])
        payloads.append(request.SerializeToString())
    return payloads


def _replay_once(source: Path, work: Path, total: int, transport: Transport) -> float:
    config = ReceiverConfig(db_path=work / "target.duckdb", grpc_endpoint="127.0.0.1:0", http_endpoint="127.0.0.1:0")
    receiver = Receiver(config)
    ports = receiver.start()
    port = ports.grpc if transport is Transport.GRPC else ports.http
    try:
        with Store(source, read_only=True) as store:
            started = time.perf_counter()
            options = ReplayOptions(target=f"127.0.0.1:{port}", transport=transport, speed=None)
            result = Replayer(store.connection, options).run()
            sent = time.perf_counter() - started
        assert result.items == total, (result.items, total)
        cursor = receiver.sink.store.connection.cursor()  # type: ignore[attr-defined]
        while cursor.execute("SELECT (SELECT count(*) FROM spans) + (SELECT count(*) FROM logs)").fetchone()[0] < total:
            time.sleep(0.01)
        cursor.close()
        return sent
    finally:
        receiver.shutdown()
        for path in work.iterdir():
            if path.is_file():
                path.unlink()
            else:
                for child in path.rglob("*"):
                    if child.is_file():
                        child.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=40_960)
    parser.add_argument("--logs", type=int, default=10_240)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        source = root / "source.duckdb"
        with Store(source) as store:
            items = [IngestItem(signal="traces", payload=p) for p in make_requests(args.spans)]
            items += [IngestItem(signal="logs", payload=p) for p in _log_requests(args.logs)]
            store.ingest(items)
            total = store.connection.execute("SELECT (SELECT count(*) FROM spans) + (SELECT count(*) FROM logs)")
            total = total.fetchone()[0]
        rows = []
        for transport in (Transport.GRPC, Transport.HTTP):
            work = root / f"work-{transport.value}"
            work.mkdir()
            try:
                times = [_replay_once(source, work, total, transport) for _ in range(args.repeat)]
            except Exception as exc:  # the HTTP listener may be unavailable in some set-ups
                rows.append((transport.value, "-", f"unavailable: {type(exc).__name__}"))
                continue
            median = statistics.median(times)
            rows.append((transport.value, f"{total:,}", f"{total / median:,.0f} items/s ({median:.2f} s)"))
    print(f"replay as fast as possible, {args.spans:,} spans + {args.logs:,} logs, median of {args.repeat}")
    print(f"{'transport':<10} {'items':>8}  throughput")
    for transport, count, figure in rows:
        print(f"{transport:<10} {count:>8}  {figure}")


if __name__ == "__main__":
    main()
