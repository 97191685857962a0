"""``emit_event``: one event log record with ``event_name``, through the active logger (SPEC §3)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from opentelemetry._logs import SeverityNumber
from opentelemetry.util.types import AnyValue

from otel_events.sdk import active


def emit_event(
    name: str,
    attributes: Mapping[str, AnyValue] | None = None,
    body: AnyValue = None,
    severity: SeverityNumber | int = SeverityNumber.INFO,
) -> None:
    """Emit an event log record named ``name``; it is classified, sequenced and scrubbed like any record.

    Uses the providers of the active ``configure()`` / ``testing.capture()`` set-up, else the global logger
    provider. The record is correlated with the current span and carries the current baggage correlation id.

    Args:
        name: The event name (``event_name`` of the log record), e.g. ``"session_start"``.
        attributes: Event attributes.
        body: Optional body (string, number, bytes, list or mapping).
        severity: Severity number; ``SeverityNumber.ERROR`` and above are classified critical.

    Raises:
        ValueError: ``name`` is empty or ``severity`` is not a valid severity number.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"event name must be a non-empty string, got {name!r}")
    if not isinstance(severity, SeverityNumber):
        try:
            severity = SeverityNumber(severity)
        except ValueError:
            raise ValueError(f"severity must be a SeverityNumber (1-24), got {severity!r}") from None
    active.logger().emit(
        # The SDK leaves the event time unset (only the observed time is stamped); an event happens now.
        timestamp=time.time_ns(),
        event_name=name,
        attributes=dict(attributes) if attributes else None,
        body=body,
        severity_number=severity,
        severity_text=severity.name,
    )
