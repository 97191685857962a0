"""classify part of otel_events."""
