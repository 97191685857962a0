"""``EventLogProcessor``: classifies, sequences, correlates and scrubs log records in ``on_emit`` (SPEC §3)."""

from __future__ import annotations

from opentelemetry import metrics as metrics_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_events.classify import Classifier, Scrubber
from otel_events.classify.attributes import (
    ATTR_CATEGORY,
    ATTR_CORRELATION_ID,
    ATTR_EVENT_NAME,
    ATTR_RULE,
    ATTR_SEQ,
    ATTR_STREAM_ID,
)
from otel_events.classify.decision import SEVERITY_ERROR
from otel_events.sdk.correlation import (
    BAGGAGE_CONTEXT_KEY,
    DEFAULT_CORRELATION_KEY,
    explicit_correlation_id,
    validate_correlation_key,
)
from otel_events.sdk.guard import HookGuard
from otel_events.sdk.metrics import ClassificationCounts, register_counts
from otel_events.sdk.plain import plain_entry_point
from otel_events.sdk.scrub_memo import MEMO_LIMIT, CleanPairMemo
from otel_events.sdk.sequence import process_stream


class EventLogProcessor(LogRecordProcessor):
    """Wraps a downstream log record processor and hands it every record with the ``otel_events.*`` attributes.

    Records are classified by ``event_name`` (or attribute ``event.name``), severity number and attributes;
    the body and attributes are scrubbed before the downstream processor sees them.

    Args:
        next_processor: The processor that exports, e.g. ``BatchLogRecordProcessor(OTLPLogExporter())``.
        classifier: Rules to classify with; the packaged default rules when ``None``.
        scrubber: Secret scrubber; the default patterns when ``None``.
        correlation_key: Attribute and W3C baggage entry that carry the correlation id.
        meter_provider: Provider for the classification metrics; the global one when ``None``.

    Raises:
        ValueError: ``correlation_key`` is invalid or ``next_processor`` is not a log record processor.
    """

    def __init__(
        self,
        next_processor: LogRecordProcessor,
        *,
        classifier: Classifier | None = None,
        scrubber: Scrubber | None = None,
        correlation_key: str = DEFAULT_CORRELATION_KEY,
        meter_provider: metrics_api.MeterProvider | None = None,
    ) -> None:
        if not isinstance(next_processor, LogRecordProcessor):
            raise ValueError(f"next_processor must be a LogRecordProcessor, got {type(next_processor).__name__}")
        self._next = next_processor
        self._correlation_key = validate_correlation_key(correlation_key)
        self._scrubber = scrubber if scrubber is not None else Scrubber()
        memo = CleanPairMemo(self._scrubber)
        self._scrub = memo.scrub_attributes
        self._clean_pairs = memo.clean_pairs  # checked inline first: most records repeat known-clean pairs
        self._scrub_body = self._scrubber.scrub_body
        self._clean_bodies: set[object] = set()
        self.guard = HookGuard(type(self).__name__)
        self.counts = ClassificationCounts("log", lambda: self.guard.errors)
        register_counts(self.counts, meter_provider)
        self._classifier = classifier if classifier is not None else Classifier()
        self._classify = self._classifier.classify
        self._classify_plain = plain_entry_point(self._classifier)
        self._tallies = self.counts.tallies
        self._next_on_emit = next_processor.on_emit
        self._stream = process_stream()

    @property
    def classifier(self) -> Classifier:
        """The classifier in use."""
        return self._classifier

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Stamp and scrub the record in place, then forward it to the downstream processor."""
        # Inlined like the span fast path: each Python call costs ~1 % of a bare record (bench_sdk.py).
        try:
            record = log_record.log_record
            attributes = record.attributes
            storage = getattr(attributes, "_dict", None)
            if storage.__class__ is not dict:  # not the SDK's BoundedAttributes: work on a plain copy
                storage = dict(attributes or {})
                record.attributes = storage
        except Exception:
            self.guard.failed("on_emit")
            self._next_on_emit(log_record)
            return
        stream = self._stream
        seq = stream.next_seq()
        category = correlation_id = None
        try:
            key = self._correlation_key
            if key in storage or ATTR_CORRELATION_ID in storage:
                correlation_id = explicit_correlation_id(storage, key)
            if not correlation_id:
                ctx = record.context
                entries = ctx.get(BAGGAGE_CONTEXT_KEY) if ctx is not None else None
                if entries:
                    pending_id = entries.get(key)
                    correlation_id = str(pending_id) if pending_id else None
            name = record.event_name or storage.get(ATTR_EVENT_NAME)
            if not isinstance(name, str):
                name = None
            severity = record.severity_number
            if severity.__class__ is SeverityNumber:
                severity = severity._value_
            decision = None
            if severity is None or severity < SEVERITY_ERROR:
                decision = self._classify_plain(name, storage)
            if decision is None:
                decision = self._classify(name, storage, severity_number=severity)
            tally = self._tallies.get(id(decision))
            if tally is None:
                tally = self.counts.tally_for(decision)
            category, rule, counter, _ = tally
            next(counter)
        except Exception:
            self.guard.failed("classify")
        try:
            if storage:
                try:
                    known_clean = self._clean_pairs.issuperset(storage.items())
                except TypeError:  # an unhashable value (a map): the memo's structured path
                    known_clean = False
                if not known_clean:
                    scrubbed = self._scrub(storage)
                    if scrubbed is not None:
                        storage.update(scrubbed)
            body = record.body
            if body is not None and (body.__class__ is not str or body not in self._clean_bodies):
                record.body = self._scrubbed_body(body)
        except Exception:
            self.guard.failed("scrub")
        # One write per stamp straight into the storage dict (skips BoundedAttributes' per-key lock and value
        # cleaning; our values are valid attribute values), after scrubbing, and always: a taken seq must reach
        # the exporter.
        storage[ATTR_STREAM_ID] = stream.stream_id
        storage[ATTR_SEQ] = seq
        if category is not None:
            storage[ATTR_CATEGORY] = category
            storage[ATTR_RULE] = rule
        if correlation_id:
            storage[ATTR_CORRELATION_ID] = correlation_id
        self._next_on_emit(log_record)

    def enabled(
        self,
        *,
        context: Context | None = None,
        instrumentation_scope: InstrumentationScope | None = None,
        severity_number: object = None,
        event_name: str | None = None,
    ) -> bool:
        """Ask the downstream processor."""
        return self._next.enabled(
            context=context,
            instrumentation_scope=instrumentation_scope,
            severity_number=severity_number,
            event_name=event_name,
        )

    def shutdown(self) -> None:
        """Shut the downstream processor down."""
        self._next.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the downstream processor."""
        return self._next.force_flush(timeout_millis)

    def _scrubbed_body(self, body: object) -> object:
        clean = self._clean_bodies
        try:
            if body in clean:
                return body
        except TypeError:  # a structured body (dict or list): no memo
            return self._scrub_body(body)
        new_body = self._scrub_body(body)
        if new_body is body:
            if len(clean) >= MEMO_LIMIT:
                clean.clear()
            clean.add(body)
        return new_body
