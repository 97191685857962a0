"""analyze part of otel_events."""
