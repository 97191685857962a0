"""Tail fan-out: receiver ingest rate with 0, 10 and 100 tail subscribers (one of them stalled), in one run.

    python tests/benchmarks/bench_tail.py [--requests 40] [--repetitions 3]

The receiver runs in this process; the subscribers run in a child process (one thread each, reading and counting;
one never reads), as real `otel-events tail` clients would. Each repetition exports N requests of 512 spans from
four client threads and times until the receiver has stored them all. Prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otel_events.receiver.server import Receiver

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SPANS_PER_REQUEST = 512
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _subscribers(target: str, count: int) -> None:
    """Child process: ``count`` subscribers, the first stalled; runs until stdin closes."""
    from otel_events.stream.client import EventsClient

    clients = [EventsClient(target) for _ in range(count)]
    streams = [client.tail() for client in clients]  # every call is subscribed from here on
    for stream in streams[1:]:
        threading.Thread(target=lambda s=stream: sum(1 for _ in s), daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()


def _requests(count: int) -> list[bytes]:
    from tests.receiver.otlp_requests import make_span, trace_request

    return [
        trace_request(
            [make_span(f"op{i % 20}", http__route=f"/r/{i % 7}") for i in range(SPANS_PER_REQUEST)]
        ).SerializeToString()
        for _ in range(count)
    ]


def _ingest_seconds(receiver: Receiver, target: str, payloads: list[bytes]) -> float:
    import grpc

    start_stored = receiver.counters.snapshot()["stored_items"]
    expected = start_stored + len(payloads) * SPANS_PER_REQUEST
    started = time.perf_counter()
    with grpc.insecure_channel(target) as channel:
        export = channel.unary_unary(TRACE_EXPORT)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda p: export(p, timeout=120), payloads))
    while receiver.counters.snapshot()["stored_items"] < expected:
        time.sleep(0.005)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--subscribe", metavar="TARGET", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.subscribe:
        _subscribers(args.subscribe, args.count)
        return 0

    from otel_events.receiver.config import ReceiverConfig
    from otel_events.receiver.server import Receiver

    payloads = _requests(args.requests)
    spans = len(payloads) * SPANS_PER_REQUEST
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        config = ReceiverConfig(
            db_path=Path(directory) / "bench.duckdb", grpc_endpoint="127.0.0.1:0", http_endpoint="none"
        )
        receiver = Receiver(config)
        port = receiver.start().grpc
        target = f"127.0.0.1:{port}"
        try:
            _ingest_seconds(receiver, target, payloads[:4])  # warm-up
            for subscribers in (0, 10, 100):
                child = None
                if subscribers:
                    command = [sys.executable, __file__, "--subscribe", target, "--count", str(subscribers)]
                    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
                seconds = [_ingest_seconds(receiver, target, payloads) for _ in range(args.repetitions)]
                if child is not None:
                    child.communicate("", timeout=60)
                median = statistics.median(seconds)
                rows.append((subscribers, spans / median, min(seconds), max(seconds)))
        finally:
            receiver.shutdown()
    print(
        f"{spans} spans per repetition ({len(payloads)} requests of {SPANS_PER_REQUEST}), median of {args.repetitions}"
    )
    print(f"{'subscribers':>11}  {'spans/s':>9}  {'fastest s':>9}  {'slowest s':>9}")
    for subscribers, rate, fastest, slowest in rows:
        label = f"{subscribers} (1 stalled)" if subscribers else "0"
        print(f"{label:>11}  {rate:>9.0f}  {fastest:>9.3f}  {slowest:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
