"""receiver part of otel_events."""
