"""In-memory capture of classified spans and log records, for asserting on classification in tests.

Example:
    >>> import otel_events, otel_events.testing
    >>> with otel_events.testing.capture() as cap:
    ...     otel_events.emit_event("session_start", {"user.id": "u1"})
    >>> cap.categories()["session_start"]
    <Category.USER_ACTIVITY: 'user_activity'>

Spans and records go through the real processors (``EventSpanProcessor`` / ``EventLogProcessor`` wrapping the
SDK's synchronous ``SimpleSpanProcessor`` / ``SimpleLogRecordProcessor``) into in-memory exporters. Ids come
from a seeded generator, and an optional fake clock makes timestamps deterministic too.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import context as context_api
from opentelemetry._logs import Logger
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Tracer

from otel_events.classify import Category, Classifier, Scrubber
from otel_events.classify.attributes import (
    ATTR_CATEGORY,
    ATTR_CORRELATION_ID,
    ATTR_EVENT_NAME,
    ATTR_RULE,
    ATTR_SEQ,
    ATTR_STREAM_ID,
)
from otel_events.sdk import active
from otel_events.sdk.correlation import DEFAULT_CORRELATION_KEY
from otel_events.sdk.log_processor import EventLogProcessor
from otel_events.sdk.metrics import CLASSIFIED
from otel_events.sdk.span_processor import EventSpanProcessor

__all__ = ["Capture", "CapturedItem", "FakeClock", "SeededIdGenerator", "capture"]


class SeededIdGenerator(IdGenerator):
    """Trace and span ids from a seeded pseudo-random generator: the same seed gives the same ids.

    Args:
        seed: Seed of the generator.
    """

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def generate_span_id(self) -> int:
        """Return the next non-zero 64-bit span id."""
        with self._lock:
            return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        """Return the next non-zero 128-bit trace id."""
        with self._lock:
            return self._random.getrandbits(128) or 1


class FakeClock:
    """A clock that advances by a fixed step each time it is read.

    Args:
        start_ns: First reading, nanoseconds since the epoch (default 2026-01-01T00:00:00Z).
        step_ns: Advance per reading (default 1 ms).
    """

    def __init__(self, start_ns: int = 1_767_225_600_000_000_000, step_ns: int = 1_000_000) -> None:
        if step_ns < 0:
            raise ValueError(f"step_ns must not be negative, got {step_ns}")
        self._next = start_ns
        self._step = step_ns
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        """Return the current reading and advance the clock."""
        with self._lock:
            reading = self._next
            self._next += self._step
            return reading


class _ClockSpanProcessor(SpanProcessor):
    # Registered before the event processor; rewrites the SDK's wall-clock times with the fake clock's
    # (the SDK reads time.time_ns directly, so there is no public hook for a clock).
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def on_start(self, span: Span, parent_context: context_api.Context | None = None) -> None:
        span._start_time = self._clock.now_ns()

    def _on_ending(self, span: Span) -> None:
        span._end_time = self._clock.now_ns()


class _ClockLogProcessor(LogRecordProcessor):
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        record.timestamp = record.observed_timestamp = self._clock.now_ns()

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@dataclass(frozen=True)
class CapturedItem:
    """One captured span or log record, reduced to what classification tests assert on.

    Attributes:
        signal: ``"span"`` or ``"log"``.
        name: Span name, or the record's event name (``event_name`` or attribute ``event.name``).
        category: Stamped category, ``None`` if the item was left unclassified.
        rule: Stamped rule id.
        seq: Stamped sequence number.
        stream_id: Stamped stream id.
        correlation_id: Stamped correlation id, if any.
        attributes: All attributes as exported.
    """

    signal: str
    name: str | None
    category: Category | None
    rule: str | None
    seq: int | None
    stream_id: str | None
    correlation_id: str | None
    attributes: Mapping[str, object]


class Capture:
    """Providers wired to in-memory exporters, and what they captured."""

    def __init__(
        self,
        tracer_provider: TracerProvider,
        logger_provider: LoggerProvider,
        meter_provider: MeterProvider,
        span_processor: EventSpanProcessor,
        log_processor: EventLogProcessor,
        span_exporter: InMemorySpanExporter,
        log_exporter: InMemoryLogRecordExporter,
        metric_reader: InMemoryMetricReader,
    ) -> None:
        self.tracer_provider = tracer_provider
        self.logger_provider = logger_provider
        self.meter_provider = meter_provider
        self.span_processor = span_processor
        self.log_processor = log_processor
        self.span_exporter = span_exporter
        self.log_exporter = log_exporter
        self.metric_reader = metric_reader
        self.tracer: Tracer = tracer_provider.get_tracer("otel_events.testing")
        self.logger: Logger = logger_provider.get_logger("otel_events.testing")

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        """Finished spans, in end order."""
        return self.span_exporter.get_finished_spans()

    @property
    def logs(self) -> tuple[ReadableLogRecord, ...]:
        """Emitted log records, in emission order."""
        return self.log_exporter.get_finished_logs()

    def items(self) -> list[CapturedItem]:
        """Spans and log records together, ordered by their sequence number."""
        items = [_span_item(span) for span in self.spans] + [_log_item(log) for log in self.logs]
        items.sort(key=lambda item: (item.seq is None, item.seq or 0))
        return items

    def categories(self) -> dict[str, Category | None]:
        """Category by item name (the last item wins when names repeat)."""
        return {item.name: item.category for item in self.items() if item.name is not None}

    def classified_counts(self) -> dict[tuple[str, str, str], int]:
        """The ``otel_events.classified`` metric: count by (signal, category, rule)."""
        counts: dict[tuple[str, str, str], int] = {}
        data = self.metric_reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name != CLASSIFIED:
                        continue
                    for point in metric.data.data_points:
                        a = point.attributes
                        counts[(str(a["signal"]), str(a["category"]), str(a["rule"]))] = int(point.value)
        return counts

    def clear(self) -> None:
        """Forget everything captured so far."""
        self.span_exporter.clear()
        self.log_exporter.clear()


def _category(value: object) -> Category | None:
    return Category.parse(value)


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _span_item(span: ReadableSpan) -> CapturedItem:
    attributes = dict(span.attributes or {})
    return CapturedItem(
        signal="span",
        name=span.name,
        category=_category(attributes.get(ATTR_CATEGORY)),
        rule=_optional_str(attributes.get(ATTR_RULE)),
        seq=attributes.get(ATTR_SEQ),  # type: ignore[arg-type]
        stream_id=_optional_str(attributes.get(ATTR_STREAM_ID)),
        correlation_id=_optional_str(attributes.get(ATTR_CORRELATION_ID)),
        attributes=attributes,
    )


def _log_item(log: ReadableLogRecord) -> CapturedItem:
    record = log.log_record
    attributes = dict(record.attributes or {})
    name = record.event_name or attributes.get(ATTR_EVENT_NAME)
    return CapturedItem(
        signal="log",
        name=_optional_str(name),
        category=_category(attributes.get(ATTR_CATEGORY)),
        rule=_optional_str(attributes.get(ATTR_RULE)),
        seq=attributes.get(ATTR_SEQ),  # type: ignore[arg-type]
        stream_id=_optional_str(attributes.get(ATTR_STREAM_ID)),
        correlation_id=_optional_str(attributes.get(ATTR_CORRELATION_ID)),
        attributes=attributes,
    )


@contextmanager
def capture(
    *,
    rules: str | os.PathLike[str] | Classifier | None = None,
    scrubber: Scrubber | None = None,
    correlation_key: str = DEFAULT_CORRELATION_KEY,
    seed: int = 0,
    clock: FakeClock | None = None,
    resource: Resource | None = None,
    use_private_hook: bool | None = None,
) -> Iterator[Capture]:
    """Capture classified spans and log records in memory for the duration of the ``with`` block.

    Inside the block ``otel_events.emit_event``, ``traced_event`` and ``correlation`` use the capture's
    providers; ``cap.tracer`` / ``cap.logger`` are available for direct use. The captured items stay
    readable after the block.

    Args:
        rules: Rules file path or Classifier; the packaged default rules when ``None``.
        scrubber: Secret scrubber; the default patterns when ``None``.
        correlation_key: Correlation attribute / baggage entry.
        seed: Seed of the trace and span id generator.
        clock: Fake clock for span and log timestamps; the wall clock when ``None``.
        resource: Resource of the providers; ``service.name=otel-events-test`` when ``None``.
        use_private_hook: Passed to :class:`EventSpanProcessor` (``False`` exercises the public-API path).

    Yields:
        The :class:`Capture`.
    """
    classifier = rules if isinstance(rules, Classifier) else Classifier.from_file(rules) if rules else Classifier()
    resource = resource or Resource.create({"service.name": "otel-events-test"})
    metric_reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[metric_reader], resource=resource, shutdown_on_exit=False)
    span_exporter = InMemorySpanExporter()
    log_exporter = InMemoryLogRecordExporter()
    span_processor = EventSpanProcessor(
        SimpleSpanProcessor(span_exporter),
        classifier=classifier,
        scrubber=scrubber,
        correlation_key=correlation_key,
        meter_provider=meter_provider,
        use_private_hook=use_private_hook,
    )
    log_processor = EventLogProcessor(
        SimpleLogRecordProcessor(log_exporter),
        classifier=classifier,
        scrubber=scrubber,
        correlation_key=correlation_key,
        meter_provider=meter_provider,
    )
    tracer_provider = TracerProvider(
        resource=resource, id_generator=SeededIdGenerator(seed), shutdown_on_exit=False, meter_provider=meter_provider
    )
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False, meter_provider=meter_provider)
    if clock is not None:
        tracer_provider.add_span_processor(_ClockSpanProcessor(clock))
        logger_provider.add_log_record_processor(_ClockLogProcessor(clock))
    tracer_provider.add_span_processor(span_processor)
    logger_provider.add_log_record_processor(log_processor)
    cap = Capture(
        tracer_provider,
        logger_provider,
        meter_provider,
        span_processor,
        log_processor,
        span_exporter,
        log_exporter,
        metric_reader,
    )
    telemetry = active.ActiveTelemetry(tracer_provider, logger_provider, correlation_key)
    active.activate(telemetry)
    try:
        yield cap
    finally:
        active.deactivate(telemetry)
        # Keep the exporters readable after the block: stop the providers' pipelines, not the exporters' data.
        tracer_provider.force_flush()
        logger_provider.force_flush()
