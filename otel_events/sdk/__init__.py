"""SDK part of otel_events: span and log record processors, ``configure()``, events API and decorator."""

from __future__ import annotations

from otel_events.sdk.configure import Telemetry, configure
from otel_events.sdk.correlation import DEFAULT_CORRELATION_KEY, correlation
from otel_events.sdk.decorator import traced_event
from otel_events.sdk.events import emit_event
from otel_events.sdk.log_processor import EventLogProcessor
from otel_events.sdk.span_processor import EventSpanProcessor

__all__ = [
    "DEFAULT_CORRELATION_KEY",
    "EventLogProcessor",
    "EventSpanProcessor",
    "Telemetry",
    "configure",
    "correlation",
    "emit_event",
    "traced_event",
]
