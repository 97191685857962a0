"""stream part of otel_events."""
