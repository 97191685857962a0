"""otel_events: a classified, sequenced, queryable event log for OpenTelemetry telemetry."""

from __future__ import annotations

__version__ = "0.1.0"
