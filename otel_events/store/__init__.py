"""store part of otel_events."""
