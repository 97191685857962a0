"""Receiver ingest benchmark: client processes -> OTLP/gRPC -> WAL -> DuckDB, measured from outside.

Run: ``python tests/benchmarks/bench_ingest.py [--clients N] [--seconds S] [--repeat R]``.

Each of N client processes sends pre-serialized 512-span requests (realistic attributes, generated once) with a
few requests in flight, for S seconds, to a ``otel-events serve`` subprocess on 127.0.0.1. Every request gets
its own ``otel_events.stream_id`` (patched into the bytes) so nothing is deduplicated. Reported, medians over R
runs: spans/s acknowledged, spans/s durably stored and queryable (spans counted in DuckDB after the drain,
divided by the time from the first request until everything was stored), p50/p99 export latency, receiver CPU
(alone, and with its decoder processes), receiver peak RSS (VmHWM from /proc; sampled every 0.2 s, RSS and PSS
summed over the receiver and its decoder processes) and bytes on disk per span. ``--burst`` adds a short burst run
that reports the acknowledged rate the WAL absorbs while the store lags behind.

``--protocol grpc|http-protobuf|http-json`` and ``--tls`` choose how clients send (HTTP clients keep one HTTP/1.1
connection per thread; JSON requests are the OTLP/JSON form of the same spans). ``--compare`` runs every protocol
with and without TLS, interleaved per repetition, and prints each one's acknowledged rate relative to plain gRPC.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SPANS_PER_REQUEST = 512
SERVICES = ["checkout", "cart", "payment", "catalog", "frontend"]
OPERATIONS = [f"{verb} /api/{noun}" for verb in ("GET", "POST") for noun in range(25)]
STREAM_PLACEHOLDER = b"bench-stream-xxxxxxxxxxxxxxxxxxxx"  # replaced per send by an id of the same length
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
READY = re.compile(r"OTLP/gRPC listening on [^\s]+:(\d+)$")
HTTP_READY = re.compile(r"OTLP/HTTP listening on [^\s]+:(\d+)$")
PROTOCOLS = ("grpc", "http-protobuf", "http-json")


@dataclass(frozen=True)
class Transport:
    """How clients send: ``protocol`` is one of PROTOCOLS; ``ca`` (a PEM path) means TLS."""

    protocol: str
    ca: str | None = None

    @property
    def label(self) -> str:
        return self.protocol + (" + TLS" if self.ca else "")


def make_requests(count: int, seed: int) -> list[bytes]:
    """``count`` serialized requests of 512 spans: 5 services, 50 operations, traces of 10 spans, 10 attributes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    rng = random.Random(seed)
    now = 1_760_000_000_000_000_000
    requests = []
    for index in range(count):
        service = SERVICES[index % len(SERVICES)]
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        for key, value in (("service.name", service), ("host.name", f"{service}-1"), ("process.pid", 4242)):
            _set(resource_spans.resource.attributes.add(), key, value)
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "opentelemetry.instrumentation.flask"
        scope_spans.scope.version = "0.50b0"
        trace_id, parent = b"", b""
        for position in range(SPANS_PER_REQUEST):
            now += rng.randint(100_000, 2_000_000)
            if position % 10 == 0:
                trace_id, parent = rng.randbytes(16), b""
            span = scope_spans.spans.add()
            span.trace_id = trace_id
            span.span_id = rng.randbytes(8)
            if parent:
                span.parent_span_id = parent
            parent = span.span_id
            operation = rng.choice(OPERATIONS)
            method, route = operation.split()
            span.name = operation
            span.kind = 2 if position % 10 == 0 else 3
            span.start_time_unix_nano = now
            span.end_time_unix_nano = now + int(rng.lognormvariate(15, 1))
            error = rng.random() < 0.02
            span.status.code = 2 if error else 0
            for key, value in (
                ("http.method", method),
                ("http.route", route),
                ("http.status_code", 500 if error else 200),
                ("http.target", f"{route}/{rng.randrange(10_000)}"),
                ("net.peer.port", rng.choice((443, 8080))),
                ("user.id", f"user-{rng.randrange(1000)}"),
                ("otel_events.category", "critical" if error else "system"),
                ("otel_events.rule", "status.error" if error else "default"),
                ("otel_events.stream_id", STREAM_PLACEHOLDER.decode()),
                ("otel_events.seq", position + 1),
            ):
                _set(span.attributes.add(), key, value)
        requests.append(request.SerializeToString())
    return requests


def to_otlp_json(payload: bytes) -> bytes:
    """The OTLP/JSON form of a serialized trace request (hex ids, as OTLP/HTTP JSON clients send)."""
    import base64

    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    document = json_format.MessageToDict(ExportTraceServiceRequest.FromString(payload))
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document, separators=(",", ":")).encode()


def _set(kv, key: str, value: object) -> None:
    kv.key = key
    if isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.string_value = value


# -- clients -------------------------------------------------------------------------------------------------------


def _grpc_sender(port: int, transport: Transport):
    import grpc

    options = [("grpc.max_send_message_length", 64 << 20)]
    if transport.ca:
        credentials = grpc.ssl_channel_credentials(Path(transport.ca).read_bytes())
        channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials, options=options)
    else:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
    export = channel.unary_unary(TRACE_EXPORT)
    return lambda payload: export(payload, timeout=30), channel.close


def _http_sender(port: int, transport: Transport):
    """One keep-alive connection per sending thread, as an HTTP exporter's connection pool keeps."""
    import http.client
    import ssl

    local = threading.local()
    content_type = "application/json" if transport.protocol == "http-json" else "application/x-protobuf"
    context = ssl.create_default_context(cafile=transport.ca) if transport.ca else None

    def send(payload: bytes) -> None:
        connection = getattr(local, "connection", None)
        if connection is None:
            if context:
                connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context)
            else:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            local.connection = connection
        connection.request("POST", "/v1/traces", body=payload, headers={"Content-Type": content_type})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise OSError(f"HTTP {response.status}")

    return send, lambda: None


def run_client(
    port: int,
    client: int,
    seconds: float,
    in_flight: int,
    results: multiprocessing.Queue,
    transport: Transport = Transport("grpc"),
) -> None:
    """One client process: ``in_flight`` threads sending until the deadline; reports acks and latencies."""
    templates = make_requests(10, seed=client)
    if transport.protocol == "http-json":
        templates = [to_otlp_json(template) for template in templates]
    export, close = (_grpc_sender if transport.protocol == "grpc" else _http_sender)(port, transport)
    latencies: list[float] = []
    acked = [0]
    failed = [0]
    counter = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def send() -> None:
        while time.monotonic() < deadline:
            with lock:
                counter[0] += 1
                number = counter[0]
            stream = f"c{client:03d}-{number:0{len(STREAM_PLACEHOLDER) - 5}d}".encode()
            payload = templates[number % len(templates)].replace(STREAM_PLACEHOLDER, stream)
            began = time.perf_counter()
            try:
                export(payload)
            except Exception:  # grpc.RpcError, HTTP errors: counted, the run goes on
                with lock:
                    failed[0] += 1
                continue
            elapsed = time.perf_counter() - began
            with lock:
                acked[0] += 1
                latencies.append(elapsed)

    threads = [threading.Thread(target=send) for _ in range(in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    close()
    results.put({"acked": acked[0], "failed": failed[0], "latencies": latencies})


# -- receiver process ----------------------------------------------------------------------------------------------


class ReceiverProcess:
    """``otel-events serve`` in a subprocess, with CPU and memory read from /proc."""

    def __init__(self, db_path: Path, extra_args: list[str]) -> None:
        self.db_path = db_path
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "otel_events.cli",
                "serve",
                "--db",
                str(db_path),
                "--grpc",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                *extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=(db_path.parent / "serve.log").open("wb"),
        )
        assert self.process.stdout is not None
        match = READY.match(self.process.stdout.readline().decode().strip())
        if not match:
            raise SystemExit(f"receiver failed to start: {(db_path.parent / 'serve.log').read_text()}")
        self.port = int(match.group(1))
        http_match = HTTP_READY.match(self.process.stdout.readline().decode().strip())
        if not http_match:
            raise SystemExit(f"receiver did not open OTLP/HTTP: {(db_path.parent / 'serve.log').read_text()}")
        self.http_port = int(http_match.group(1))

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.process.pid)

    def decoder_pids(self) -> list[int]:
        """The receiver's child processes and theirs (the decoders' fork server and the decoders)."""
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    parents[int(entry)] = int(_stat_fields(int(entry))[1])
                except (OSError, IndexError):
                    continue
        found: list[int] = []
        frontier = {self.process.pid}
        while frontier:
            frontier = {pid for pid, parent in parents.items() if parent in frontier}
            found += frontier
        return found

    def memory_mib(self) -> tuple[float, float, float]:
        """Now: the receiver process's RSS, the RSS summed over it and its decoders, and their summed PSS.

        Decoders fork from a server that loaded the decoder, so they share most pages with it: PSS (each shared page
        divided among its sharers) is what the whole tree really takes; summed RSS counts shared pages repeatedly.
        """
        main = rss = pss = 0.0
        for pid in [self.process.pid, *self.decoder_pids()]:
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            fields = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in text.splitlines()[1:]}
            main = main or fields.get("Rss", 0.0)
            rss += fields.get("Rss", 0.0)
            pss += fields.get("Pss", 0.0)
        return main, rss, pss

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def status(self) -> dict:
        path = self.db_path.with_name(self.db_path.stem + ".wal") / "status.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(600)


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemorySampler:
    """Samples the receiver's process tree every 0.2 s: peaks of ``ReceiverProcess.memory_mib`` and CPU per process.

    Decoders may start (or be restarted) after the run began: CPU is counted per process from when it was first seen,
    from zero for processes that appeared later.
    """

    def __init__(self, receiver: ReceiverProcess) -> None:
        self.peaks = (0.0, 0.0, 0.0)
        self._receiver = receiver
        self._cpu_first: dict[int, float] = {pid: _cpu_seconds(pid) for pid in receiver.decoder_pids()}
        self._cpu_last = dict(self._cpu_first)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            now = self._receiver.memory_mib()
            self.peaks = tuple(max(peak, value) for peak, value in zip(self.peaks, now, strict=True))
            for pid in self._receiver.decoder_pids():
                try:
                    self._cpu_last[pid] = _cpu_seconds(pid)
                except (OSError, IndexError):
                    continue
                self._cpu_first.setdefault(pid, 0.0)

    def decoder_cpu_seconds(self) -> float:
        """CPU the decoder processes used since the sampler started (up to their last sample)."""
        return sum(self._cpu_last[pid] - first for pid, first in self._cpu_first.items())

    def stop(self) -> tuple[float, float, float]:
        self._stop.set()
        self._thread.join()
        return self.peaks


@dataclass
class RunResult:
    acked_spans_per_s: float
    stored_spans_per_s: float
    stored_during_load_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_percent: float
    tree_cpu_percent: float
    peak_rss_mib: float
    peak_tree_rss_mib: float
    peak_tree_pss_mib: float
    bytes_per_span: float
    failed: int
    stored_spans: int
    acked_spans: int

    @property
    def tree_cpu_us_per_span(self) -> float:
        seconds = self.stored_spans / max(self.stored_spans_per_s, 1e-9)
        return self.tree_cpu_percent / 100 * seconds / max(self.stored_spans, 1) * 1e6


def run_once(
    clients: int,
    seconds: float,
    in_flight: int,
    config: Path | None,
    transport: Transport = Transport("grpc"),
    tls_args: tuple[str, ...] = (),
) -> RunResult:
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.duckdb"
        receiver = ReceiverProcess(db_path, [*(["--config", str(config)] if config else []), *tls_args])
        results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
        context = multiprocessing.get_context("spawn")
        port = receiver.port if transport.protocol == "grpc" else receiver.http_port
        workers = [
            context.Process(target=run_client, args=(port, n, seconds, in_flight, results, transport))
            for n in range(clients)
        ]
        for worker in workers:
            worker.start()
        # Client processes need a moment to build their requests; time from the first acknowledgement.
        _wait(lambda: receiver.status().get("received_requests"), 60, "no request was acknowledged")
        sampler = MemorySampler(receiver)
        started, cpu_started = time.monotonic(), receiver.cpu_seconds()
        reports = [results.get() for _ in workers]
        load_seconds = time.monotonic() - started
        stored_during_load = receiver.status().get("stored_items", 0)
        for worker in workers:
            worker.join()
        acked = sum(r["acked"] for r in reports) * SPANS_PER_REQUEST
        _wait(lambda: receiver.status().get("stored_items", 0) >= acked, 600, "the receiver did not drain")
        stored_seconds = time.monotonic() - started
        cpu = receiver.cpu_seconds() - cpu_started
        peak = receiver.peak_rss_mib()
        _, peak_tree_rss, peak_tree_pss = sampler.stop()
        tree_cpu = cpu + sampler.decoder_cpu_seconds()
        code = receiver.stop()
        assert code == 0, f"receiver exited with {code}"
        with duckdb.connect(str(db_path), read_only=True) as con:
            stored = con.execute("SELECT count(*) FROM spans").fetchone()[0]
        size = db_path.stat().st_size
        latencies = sorted(latency for r in reports for latency in r["latencies"])
        return RunResult(
            acked_spans_per_s=acked / load_seconds,
            stored_spans_per_s=stored / stored_seconds,
            stored_during_load_per_s=stored_during_load / load_seconds,
            p50_ms=latencies[len(latencies) // 2] * 1000,
            p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
            cpu_percent=100 * cpu / stored_seconds,
            tree_cpu_percent=100 * tree_cpu / stored_seconds,
            peak_rss_mib=peak,
            peak_tree_rss_mib=peak_tree_rss,
            peak_tree_pss_mib=peak_tree_pss,
            bytes_per_span=size / max(stored, 1),
            failed=sum(r["failed"] for r in reports),
            stored_spans=stored,
            acked_spans=acked,
        )


def _wait(condition, timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark failed: {failure}")
        time.sleep(0.02)


def print_table(title: str, runs: list[RunResult]) -> None:
    def median(name: str) -> float:
        return statistics.median(getattr(run, name) for run in runs)

    rows = [
        ("spans/s acknowledged", f"{median('acked_spans_per_s'):,.0f}"),
        ("spans/s stored (end to end, incl. drain)", f"{median('stored_spans_per_s'):,.0f}"),
        ("spans/s stored while loading", f"{median('stored_during_load_per_s'):,.0f}"),
        ("export latency p50", f"{median('p50_ms'):.1f} ms"),
        ("export latency p99", f"{median('p99_ms'):.1f} ms"),
        ("receiver CPU (100% = one core)", f"{median('cpu_percent'):.0f} %"),
        ("receiver + decoders CPU", f"{median('tree_cpu_percent'):.0f} %"),
        ("CPU per stored span, receiver + decoders", f"{median('tree_cpu_us_per_span'):.1f} µs"),
        ("receiver peak RSS (max)", f"{max(run.peak_rss_mib for run in runs):.0f} MiB"),
        ("receiver + decoders peak RSS, summed (max)", f"{max(run.peak_tree_rss_mib for run in runs):.0f} MiB"),
        ("receiver + decoders peak PSS, summed (max)", f"{max(run.peak_tree_pss_mib for run in runs):.0f} MiB"),
        ("bytes on disk per span", f"{median('bytes_per_span'):.1f} B"),
        ("acked spans = stored spans", str(all(run.acked_spans == run.stored_spans for run in runs))),
        ("failed requests", str(sum(run.failed for run in runs))),
    ]
    print(f"\n{title}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def make_certificates(directory: Path) -> tuple[str, tuple[str, ...]]:
    """A throwaway CA and server certificate for 127.0.0.1 (openssl command); returns the CA path and serve flags."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=bench-ca")
    openssl("req", *curve, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        *("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"),
        *("-out", "server.pem", "-days", "1", "-extfile", "server.ext"),
    )
    flags = ("--tls-cert", str(directory / "server.pem"), "--tls-key", str(directory / "server.key"))
    return str(directory / "ca.pem"), flags


def compare_transports(args: argparse.Namespace, certificates: Path) -> None:
    """Every protocol with and without TLS, interleaved per repetition; ack rates relative to plain gRPC."""
    ca, tls_args = make_certificates(certificates)
    transports = [Transport(protocol, tls) for protocol in PROTOCOLS for tls in (None, ca)]
    runs: dict[Transport, list[RunResult]] = {transport: [] for transport in transports}
    for _ in range(args.repeat):
        for transport in random.sample(transports, len(transports)):
            flags = tls_args if transport.ca else ()
            runs[transport].append(run_once(args.clients, args.seconds, args.in_flight, args.config, transport, flags))
    baseline = statistics.median(run.acked_spans_per_s for run in runs[Transport("grpc")])
    load = f"{args.clients} clients x {args.in_flight} in flight, {args.seconds:.0f} s"
    print(f"\ntransports (medians of {args.repeat} runs each): {load}")
    print(f"  {'transport':<22}{'acked spans/s':>15}{'vs gRPC':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU %':>7}{'failed':>8}")
    for transport, results in runs.items():
        acked = statistics.median(run.acked_spans_per_s for run in results)
        print(
            f"  {transport.label:<22}{acked:>15,.0f}{acked / baseline - 1:>+10.0%}"
            f"{statistics.median(run.p50_ms for run in results):>9.1f}"
            f"{statistics.median(run.p99_ms for run in results):>9.1f}"
            f"{statistics.median(run.cpu_percent for run in results):>7.0f}"
            f"{sum(run.failed for run in results):>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--in-flight", type=int, default=4, help="concurrent requests per client")
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs (medians are reported)")
    parser.add_argument("--burst", action="store_true", help="also run a short burst")
    parser.add_argument("--config", type=Path, help="receiver TOML config file passed to serve")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="grpc", help="how clients send (default grpc)")
    parser.add_argument("--tls", action="store_true", help="serve and send over TLS (throwaway certificates)")
    parser.add_argument("--compare", action="store_true", help="run every protocol with and without TLS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as certificates:
        if args.compare:
            compare_transports(args, Path(certificates))
            return
        ca, tls_args = make_certificates(Path(certificates)) if args.tls else (None, ())
        transport = Transport(args.protocol, ca)
        runs = [
            run_once(args.clients, args.seconds, args.in_flight, args.config, transport, tls_args)
            for _ in range(args.repeat)
        ]
        load = f"{args.clients} clients x {args.in_flight} in flight, {args.seconds:.0f} s"
        print_table(f"sustained ({transport.label}): {load}", runs)
        if args.burst:
            bursts = [
                run_once(args.clients * 2, 3.0, args.in_flight * 2, args.config, transport, tls_args)
                for _ in range(args.repeat)
            ]
            print_table(f"burst: {args.clients * 2} clients x {args.in_flight * 2} in flight, 3 s", bursts)


if __name__ == "__main__":
    main()
