"""The per-item work both processors share: sequence, classify, correlate (SPEC §3 attribute table)."""

from __future__ import annotations

from collections.abc import Mapping

from otel_events.classify import Classifier
from otel_events.classify.attributes import (
    ATTR_CATEGORY,
    ATTR_CORRELATION_ID,
    ATTR_RULE,
    ATTR_SEQ,
    ATTR_STREAM_ID,
)
from otel_events.sdk.correlation import explicit_correlation_id
from otel_events.sdk.guard import HookGuard
from otel_events.sdk.metrics import ClassificationCounts
from otel_events.sdk.sequence import EventStream


class Stamper:
    """Computes the ``otel_events.*`` attributes of one item.

    Args:
        classifier: Decides category and rule.
        correlation_key: Attribute (and baggage entry) carrying the correlation id.
        stream: Source of the stream id and sequence numbers.
        counts: Decision counts reported as metrics.
        guard: Error counter of the owning processor.
    """

    def __init__(
        self,
        classifier: Classifier,
        correlation_key: str,
        stream: EventStream,
        counts: ClassificationCounts,
        guard: HookGuard,
    ) -> None:
        self.classifier = classifier
        self.correlation_key = correlation_key
        self.stream = stream
        self.counts = counts
        self.guard = guard

    def stamps(
        self,
        name: str | None,
        attributes: Mapping[str, object] | None,
        *,
        status_error: bool = False,
        exception_event: bool = False,
        severity_number: int | None = None,
        fallback_correlation_id: str | None = None,
    ) -> dict[str, object]:
        """Return the attributes to add to one item; never raises.

        The sequence number is taken first and unconditionally, so an internal error can leave an item
        unclassified (the receiver then classifies it) but never opens a gap in ``seq``.
        """
        stream = self.stream
        stamps: dict[str, object] = {ATTR_STREAM_ID: stream.stream_id, ATTR_SEQ: stream.next_seq()}
        try:
            correlation_id = explicit_correlation_id(attributes, self.correlation_key) or fallback_correlation_id
            if correlation_id is not None:
                stamps[ATTR_CORRELATION_ID] = correlation_id
            decision = self.classifier.classify(
                name,
                attributes,
                status_error=status_error,
                exception_event=exception_event,
                severity_number=severity_number,
            )
            category = decision.category.value
            stamps[ATTR_CATEGORY] = category
            stamps[ATTR_RULE] = decision.rule
            self.counts.add(category, decision.rule)
        except Exception:
            self.guard.failed("classify")
        return stamps
