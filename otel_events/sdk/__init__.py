"""sdk part of otel_events."""
