"""A planted scenario produced by the real OpenTelemetry SDK with the otel_events processors, exported over OTLP/gRPC.

Every span and log record carries an explicit time (relative to ``T0``), so durations and order never depend on
how fast the machine runs. Services: frontend, checkout, payments (one TracerProvider each, as three apps would
have) and worker; logs from checkout and worker.

Planted:
- ``NORMAL`` checkout traces, one a minute: frontend ``GET /checkout`` (100 ms, server) -> checkout
  ``checkout.process`` (server) -> [``SELECT orders`` (client, db.system postgresql), ``payments.charge``
  (client) -> payments ``charge`` (server)], with an ``Order ord-<n> placed by user <u> total <x>.<yy> EUR`` log;
- one slow trace (``GET /checkout`` of 1.5 s, tier high) whose time goes to ``charge``, with an async
  ``audit.publish`` that outlives the root;
- an error burst: ``BURST`` checkout traces whose ``charge`` records a ``CardDeclinedError`` exception and
  fails with "card declined", each logging ``Payment declined for card ending <nnnn>: insufficient funds``;
- ``Cache miss for key sku:<n>`` logs outside any trace;
- correlation id ``CORRELATION_ID`` put into the baggage: three ``batch.step`` traces and a ``batch started`` log
  outside any trace; a fourth trace ``batch.report`` without the id links to the third step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import Logger, LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

import otel_events
from otel_events import EventLogProcessor, EventSpanProcessor

T0 = datetime(2026, 1, 20, 10, 0)
WINDOW = {"since": T0 - timedelta(minutes=5), "until": T0 + timedelta(hours=1)}
MS = 1_000_000
_T0_NS = int((T0 - datetime(1970, 1, 1)).total_seconds()) * 1_000_000_000

NORMAL = 6
BURST = 3
CACHE_MISSES = 6
SLOW_MINUTE = 20
BURST_MINUTE = 30
BATCH_MINUTE = 40
CORRELATION_ID = "batch-7"
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


class CardDeclinedError(Exception):
    """The exception a failing charge records."""


def at(minute: float, ms: float = 0.0) -> int:
    """Epoch nanoseconds ``minute`` minutes plus ``ms`` milliseconds after T0."""
    return _T0_NS + int(minute * 60_000 * MS) + int(ms * MS)


@dataclass
class Planted:
    """The ids the SDK chose for the planted facts (trace ids are random)."""

    normal_traces: list[str] = field(default_factory=list)
    slow_trace: str = ""
    burst_traces: list[str] = field(default_factory=list)
    batch_traces: list[str] = field(default_factory=list)
    linked_trace: str = ""
    spans: int = 0
    logs: int = 0


@dataclass
class _Apps:
    frontend: Tracer
    checkout: Tracer
    payments: Tracer
    worker: Tracer
    checkout_log: Logger
    worker_log: Logger


def _hex(trace_id: int) -> str:
    return f"{trace_id:032x}"


class _Recorder:
    """Starts and ends spans at explicit times and counts what it produced."""

    def __init__(self, apps: _Apps, planted: Planted) -> None:
        self.apps = apps
        self.planted = planted

    def span(
        self,
        tracer: Tracer,
        name: str,
        start: int,
        end: int | None,
        *,
        parent: trace.Span | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: dict[str, object] | None = None,
        links: list[Link] | None = None,
    ) -> trace.Span:
        ctx = trace.set_span_in_context(parent) if parent is not None else None
        span = tracer.start_span(name, ctx, kind=kind, attributes=attributes, links=links or (), start_time=start)
        if end is not None:
            span.end(end_time=end)
        self.planted.spans += 1
        return span

    def log(self, logger: Logger, body: str, time: int, *, span: trace.Span | None = None, error: bool = False) -> None:
        ctx = trace.set_span_in_context(span) if span is not None else None
        logger.emit(
            timestamp=time,
            observed_timestamp=time,
            context=ctx,
            body=body,
            severity_number=SeverityNumber.ERROR if error else SeverityNumber.INFO,
            severity_text="ERROR" if error else "INFO",
        )
        self.planted.logs += 1

    def checkout(self, index: int, minute: float, *, root_ms: float, charge_ms: float, failing: bool) -> str:
        """One checkout trace; the root spans [0, root_ms], charge ends ``charge_ms`` after the root started."""
        apps = self.apps
        start = at(minute)
        root = self.span(apps.frontend, "GET /checkout", start, None, kind=SpanKind.SERVER)
        process = self.span(apps.checkout, "checkout.process", start + 10 * MS, None, parent=root, kind=SpanKind.SERVER)
        self.span(
            apps.checkout, "SELECT orders", start + 20 * MS, start + 40 * MS, parent=process, kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql"},
        )  # fmt: skip
        user = USERS[index % len(USERS)]
        total = f"{20 + 7 * index}.{(13 * index) % 100:02d}"
        self.log(apps.checkout_log, f"Order ord-{48000 + index} placed by user {user} total {total} EUR",
                 start + 42 * MS, span=process)  # fmt: skip
        call = self.span(apps.checkout, "payments.charge", start + 45 * MS, None, parent=process, kind=SpanKind.CLIENT)
        charge = self.span(apps.payments, "charge", start + 50 * MS, None, parent=call, kind=SpanKind.SERVER)
        if failing:
            charge.record_exception(CardDeclinedError("card declined"), timestamp=start + 60 * MS)
            charge.set_status(Status(StatusCode.ERROR, "card declined"))
            self.log(apps.checkout_log, f"Payment declined for card ending {4000 + 111 * index}: insufficient funds",
                     start + 61 * MS, span=process, error=True)  # fmt: skip
        charge.end(end_time=start + int(charge_ms * MS))
        call.end(end_time=start + int((charge_ms + 5) * MS))
        process_end = start + int((root_ms - 10) * MS)
        if root_ms > 1000:
            # async: starts after the charge returned and outlives its parent and the root
            self.span(apps.checkout, "audit.publish", start + int((charge_ms + 7) * MS), start + 3000 * MS,
                      parent=process, kind=SpanKind.PRODUCER)  # fmt: skip
        process.end(end_time=process_end)
        root.end(end_time=start + int(root_ms * MS))
        return _hex(root.get_span_context().trace_id)

    def batch(self) -> None:
        apps, planted = self.apps, self.planted
        with otel_events.correlation(CORRELATION_ID):
            self.log(apps.worker_log, "batch started", at(BATCH_MINUTE))
            steps = [
                self.span(apps.worker, "batch.step", at(BATCH_MINUTE, 100 + 100 * i), at(BATCH_MINUTE, 150 + 100 * i))
                for i in range(3)
            ]
        planted.batch_traces = [_hex(s.get_span_context().trace_id) for s in steps]
        report = self.span(
            apps.worker, "batch.report", at(BATCH_MINUTE, 500), at(BATCH_MINUTE, 520),
            links=[Link(steps[-1].get_span_context())],
        )  # fmt: skip
        planted.linked_trace = _hex(report.get_span_context().trace_id)


def record_scenario(apps: _Apps) -> Planted:
    """Produce every planted fact through the given tracers and loggers."""
    planted = Planted()
    rec = _Recorder(apps, planted)
    for i in range(NORMAL):
        planted.normal_traces.append(rec.checkout(i, i, root_ms=100, charge_ms=80, failing=False))
    planted.slow_trace = rec.checkout(NORMAL, SLOW_MINUTE, root_ms=1500, charge_ms=1470, failing=False)
    for i in range(BURST):
        index = NORMAL + 1 + i
        planted.burst_traces.append(rec.checkout(index, BURST_MINUTE + i, root_ms=100, charge_ms=80, failing=True))
    for i in range(CACHE_MISSES):
        rec.log(apps.checkout_log, f"Cache miss for key sku:{1000 + 37 * i}", at(50 + i))
    rec.batch()
    return planted


@contextmanager
def sdk_apps(endpoint: str) -> Iterator[_Apps]:
    """Tracers and loggers of four services, each provider exporting through the otel_events processors.

    Leaving the block shuts every provider down, which flushes the batch processors to ``endpoint``.
    """
    tracer_providers: list[TracerProvider] = []
    logger_providers: list[LoggerProvider] = []

    def tracer(service: str) -> Tracer:
        provider = TracerProvider(resource=Resource.create({"service.name": service}), shutdown_on_exit=False)
        exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True)
        provider.add_span_processor(EventSpanProcessor(BatchSpanProcessor(exporter)))
        tracer_providers.append(provider)
        return provider.get_tracer("shop")

    def logger(service: str) -> Logger:
        provider = LoggerProvider(resource=Resource.create({"service.name": service}), shutdown_on_exit=False)
        exporter = OTLPLogExporter(endpoint=endpoint, insecure=True)
        provider.add_log_record_processor(EventLogProcessor(BatchLogRecordProcessor(exporter)))
        logger_providers.append(provider)
        return provider.get_logger("shop")

    try:
        yield _Apps(
            frontend=tracer("frontend"),
            checkout=tracer("checkout"),
            payments=tracer("payments"),
            worker=tracer("worker"),
            checkout_log=logger("checkout"),
            worker_log=logger("worker"),
        )
    finally:
        for provider in (*tracer_providers, *logger_providers):
            provider.shutdown()
