"""``EventLogProcessor``: classifies, sequences, correlates and scrubs log records in ``on_emit`` (SPEC §3)."""

from __future__ import annotations

from opentelemetry import metrics as metrics_api
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_events.classify import Classifier, Scrubber
from otel_events.classify.attributes import ATTR_EVENT_NAME
from otel_events.sdk.correlation import DEFAULT_CORRELATION_KEY, baggage_correlation_id, validate_correlation_key
from otel_events.sdk.guard import HookGuard
from otel_events.sdk.metrics import ClassificationCounts, register_counts
from otel_events.sdk.sequence import process_stream
from otel_events.sdk.stamping import Stamper


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
        self.guard = HookGuard(type(self).__name__)
        self.counts = ClassificationCounts("log", lambda: self.guard.errors)
        register_counts(self.counts, meter_provider)
        self._stamper = Stamper(
            classifier if classifier is not None else Classifier(),
            self._correlation_key,
            process_stream(),
            self.counts,
            self.guard,
        )

    @property
    def classifier(self) -> Classifier:
        """The classifier in use."""
        return self._stamper.classifier

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Stamp and scrub the record in place, then forward it to the downstream processor."""
        try:
            self._stamp(log_record)
        except Exception:
            self.guard.failed("on_emit")
        self._next.on_emit(log_record)

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

    def _stamp(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        attributes = record.attributes
        severity = record.severity_number
        name = record.event_name
        if not name and attributes:
            name = attributes.get(ATTR_EVENT_NAME)
        stamps = self._stamper.stamps(
            name if isinstance(name, str) else None,
            attributes,
            severity_number=getattr(severity, "value", severity),
            fallback_correlation_id=baggage_correlation_id(record.context, self._correlation_key),
        )
        try:
            if attributes:
                scrubbed = self._scrubber.scrub_attributes(attributes)
                if scrubbed is not None:
                    _bulk_update(attributes, scrubbed)
            if record.body is not None:
                record.body = self._scrubber.scrub_body(record.body)
        except Exception:
            self.guard.failed("scrub")
        # Stamped last so the scrubber never rewrites them, and always, so a taken seq is never lost.
        if attributes is None:
            record.attributes = stamps
        else:
            _bulk_update(attributes, stamps)


def _bulk_update(attributes: object, values: dict[str, object]) -> None:
    # ReadWriteLogRecord keeps attributes in a mutable BoundedAttributes; one update of its dict skips the
    # per-key lock and value cleaning (our values are already valid attribute values).
    storage = getattr(attributes, "_dict", None)
    if isinstance(storage, dict):
        storage.update(values)
    else:
        attributes.update(values)  # type: ignore[attr-defined]
