"""Store benchmark: validate_request, decode + Arrow + DuckDB append, bytes on disk per span, trace_id lookup.

Run: ``python tests/benchmarks/bench_store.py [--spans N] [--batch-requests K] [--workers W]``, or
``--query-db PATH`` to time only the queries on an existing store. Prints a table of medians.
Workload: pre-serialized requests of 512 realistic spans (5 services, 50 operation names, traces of ~10 spans,
10 attributes with a mix of low- and high-cardinality values, stamped by the otel_events SDK processor).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_events.classify import Classifier
from otel_events.store import IngestItem, Store, decode_batch, validate_request
from otel_events.store.batch import LocalRegistry
from otel_events.store.decoder import BatchDecoder

SERVICES = ["checkout", "cart", "payment", "catalog", "frontend"]
OPERATIONS = [f"{verb} /api/{noun}" for verb in ("GET", "POST") for noun in range(25)]
SPANS_PER_REQUEST = 512


def _set(kv, key: str, value: object) -> None:
    kv.key = key
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    else:
        kv.value.string_value = value


def make_requests(total_spans: int, seed: int = 7) -> list[bytes]:
    """Serialized ExportTraceServiceRequests of 512 spans each, one service per request."""
    rng = random.Random(seed)
    requests = []
    seq = 0
    now = 1_760_000_000_000_000_000
    for index in range(0, total_spans, SPANS_PER_REQUEST):
        service = SERVICES[(index // SPANS_PER_REQUEST) % len(SERVICES)]
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        for key, value in (("service.name", service), ("host.name", f"{service}-1"), ("process.pid", 4242)):
            _set(resource_spans.resource.attributes.add(), key, value)
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "opentelemetry.instrumentation.flask"
        scope_spans.scope.version = "0.50b0"
        trace_id = b""
        parent = b""
        for position in range(min(SPANS_PER_REQUEST, total_spans - index)):
            seq += 1
            now += rng.randint(100_000, 2_000_000)
            if position % 10 == 0:
                trace_id = rng.randbytes(16)
                parent = b""
            span = scope_spans.spans.add()
            span.trace_id = trace_id
            span.span_id = rng.randbytes(8)
            if parent:
                span.parent_span_id = parent
            parent = span.span_id
            operation = rng.choice(OPERATIONS)
            span.name = operation
            span.kind = 2 if position % 10 == 0 else 3
            span.start_time_unix_nano = now
            span.end_time_unix_nano = now + int(rng.lognormvariate(15, 1))
            error = rng.random() < 0.02
            span.status.code = 2 if error else 0
            for key, value in (
                ("http.method", operation.split()[0]),
                ("http.route", operation.split()[1]),
                ("http.status_code", 500 if error else 200),
                ("http.target", f"{operation.split()[1]}/{rng.randrange(10_000)}"),
                ("net.peer.port", rng.choice((443, 8080))),
                ("user.id", f"user-{rng.randrange(1000)}"),
                ("otel_events.category", "critical" if error else "system"),
                ("otel_events.rule", "status.error" if error else "default"),
                ("otel_events.stream_id", f"{service}-stream"),
                ("otel_events.seq", seq),
            ):
                _set(span.attributes.add(), key, value)
        requests.append(request.SerializeToString())
    return requests


def _median_us_per_span(function, spans: int, repeat: int) -> float:
    """Median CPU time of this process per span: the machine is shared, CPU time is what a span costs."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return statistics.median(times) / spans * 1e6


def _median_ms(con, sql: str, params_list: list[list]) -> float:
    times = []
    for params in params_list:
        began = time.perf_counter()
        con.execute(sql, params).fetchall()
        times.append((time.perf_counter() - began) * 1e3)
    return statistics.median(times)


def measure_queries(con) -> list[tuple[str, str]]:
    """Trace lookup (view and macro) and a grouped percentile (view and base table), medians in ms."""
    ids = [[r[0]] for r in con.execute("SELECT trace_id FROM span_data USING SAMPLE 20 ROWS").fetchall()]
    grouped = "SELECT service_name, name, quantile_cont({d}, 0.95) FROM {t} GROUP BY ALL"
    duration = "(epoch_ns(end_time) - epoch_ns(start_time)) / 1e6"
    cases = [
        ("spans WHERE trace_id = ? (median)", "SELECT * FROM spans WHERE trace_id = ?", ids),
        ("trace_spans(?) (median)", "SELECT * FROM trace_spans(?)", ids),
        ("p95 by service, name: spans view", grouped.format(d="duration_ms", t="spans"), [[]] * 5),
        ("p95 by service, name: span_data", grouped.format(d=duration, t="span_data"), [[]] * 5),
    ]
    return [(name, f"{_median_ms(con, sql, params):.1f} ms") for name, sql, params in cases]


def _pipelined(path: Path, batches: list[list[IngestItem]], workers: int) -> float:
    """Spans/s stored with decode_batch in a process pool while this process appends (as a receiver would)."""
    store = Store(path)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(decode_batch, [batches[0][:1]] * workers))  # start the workers
        began = time.perf_counter()
        pending = [pool.submit(decode_batch, items) for items in batches[: workers + 1]]
        for index in range(len(batches)):
            decoded = pending[index].result()
            if index + workers + 1 < len(batches):
                pending.append(pool.submit(decode_batch, batches[index + workers + 1]))
            store.append_decoded(decoded)
        elapsed = time.perf_counter() - began
    store.close()
    return sum(len(items) for items in batches) * SPANS_PER_REQUEST / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans written for the disk figure")
    # 240 x 512 = 122,880 spans = one DuckDB row group: a full row group is written straight to the file at
    # commit, a smaller batch goes through DuckDB's own WAL first and is written twice.
    parser.add_argument("--batch-requests", type=int, default=240, help="requests per Store.ingest call")
    parser.add_argument("--workers", type=int, default=2, help="decode processes for the pipelined figure")
    parser.add_argument("--query-db", type=Path, help="only time the queries, on this existing store (e.g. 10M spans)")
    args = parser.parse_args()
    if args.query_db is not None:
        with Store(args.query_db, read_only=True) as store:
            spans = store.connection.execute("SELECT count(*) FROM span_data").fetchone()[0]
            _print_table([(f"{name} ({spans:,} spans)", value) for name, value in measure_queries(store.connection)])
        return

    sample = make_requests(50 * SPANS_PER_REQUEST, seed=1)
    sample_spans = len(sample) * SPANS_PER_REQUEST
    classifier = Classifier()
    figures: list[tuple[str, str]] = []

    validate_us = _median_us_per_span(lambda: [validate_request("traces", p) for p in sample], sample_spans, 5)
    figures.append(("validate_request", f"{validate_us:.2f} µs/span"))

    def decode() -> BatchDecoder:
        decoder = BatchDecoder(LocalRegistry(), classifier)
        for payload in sample:
            decoder.add("traces", payload, None)
        return decoder

    figures.append(("decode to column buffers", f"{_median_us_per_span(decode, sample_spans, 5):.2f} µs/span"))
    decoder = decode()
    arrow_us = _median_us_per_span(decoder.spans.to_arrow, sample_spans, 5)
    figures.append(("column buffers to Arrow", f"{arrow_us:.2f} µs/span"))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        payloads = make_requests(args.spans)
        batches = [
            [IngestItem("traces", p) for p in payloads[start : start + args.batch_requests]]
            for start in range(0, len(payloads), args.batch_requests)
        ]
        # Store.ingest is decode_batch + append_decoded: CPU time of the two halves of each call (the append's
        # includes DuckDB's threads).
        store = Store(path, classifier=classifier)
        decode_us, append_us = [], []
        for items in batches:
            spans = len(items) * SPANS_PER_REQUEST
            began = time.process_time()
            decoded = decode_batch(items)
            decoded_at = time.process_time()
            store.append_decoded(decoded)
            decode_us.append((decoded_at - began) / spans * 1e6)
            append_us.append((time.process_time() - decoded_at) / spans * 1e6)
        ingest_us = statistics.median([d + a for d, a in zip(decode_us, append_us, strict=True)])
        figures.append(("decode_batch (decode, classify, Arrow)", f"{statistics.median(decode_us):.2f} µs/span"))
        figures.append(("append_decoded (dedup, DuckDB insert)", f"{statistics.median(append_us):.2f} µs/span"))
        figures.append(("Store.ingest CPU (one core)", f"{ingest_us:.2f} µs/span = {1e6 / ingest_us:,.0f} spans/s"))
        spans = store.connection.execute("SELECT count(*) FROM span_data").fetchone()[0]
        store.close()
        size = os.path.getsize(path)
        figures.append((f"disk after CHECKPOINT ({spans:,} spans)", f"{size / spans:.1f} B/span"))

        spans_per_s = _pipelined(Path(tmp) / "pipelined.duckdb", batches, args.workers)
        figures.append((f"{args.workers} decode processes + append (wall)", f"{spans_per_s:,.0f} spans/s"))

        store = Store(path, classifier=classifier, read_only=True)
        figures.extend(measure_queries(store.connection))
        store.close()

    _print_table(figures)


def _print_table(figures: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in figures)
    for name, value in figures:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
