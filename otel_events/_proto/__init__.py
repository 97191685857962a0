"""Generated protobuf and gRPC modules of ``proto/`` (regenerate with ``python -m otel_events.stream.protogen``)."""
