"""The DuckDB store: schema and public views (SPEC §5), fast OTLP ingest, request validation, replay export."""

from __future__ import annotations

from otel_events.store.schema import SCHEMA_VERSION
from otel_events.store.store import IngestItem, IngestStats, Store
from otel_events.store.validate import RequestDecodeError, Validation, validate_request

__all__ = [
    "SCHEMA_VERSION",
    "IngestItem",
    "IngestStats",
    "RequestDecodeError",
    "Store",
    "Validation",
    "validate_request",
]
