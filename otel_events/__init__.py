"""otel_events: a classified, sequenced, queryable event log for OpenTelemetry telemetry.

In the app::

    import otel_events

    telemetry = otel_events.configure(service_name="checkout", endpoint="127.0.0.1:4317")

    @otel_events.traced_event("checkout.pay")
    def pay(order): ...

    with otel_events.correlation("order-42"):
        otel_events.emit_event("session_start", {"user.id": "u1"})
    telemetry.shutdown()
"""

from __future__ import annotations

from otel_events.classify import Category, Classifier, Scrubber
from otel_events.sdk import (
    EventLogProcessor,
    EventSpanProcessor,
    Telemetry,
    configure,
    correlation,
    emit_event,
    traced_event,
)

__version__ = "0.1.0"

__all__ = [
    "Category",
    "Classifier",
    "EventLogProcessor",
    "EventSpanProcessor",
    "Scrubber",
    "Telemetry",
    "__version__",
    "configure",
    "correlation",
    "emit_event",
    "traced_event",
]
