"""The DuckDB store: schema and public views (SPEC §5), fast OTLP ingest, request validation, replay export."""

from __future__ import annotations

from otel_events.store.batch import DecodedBatch, IngestItem, decode_batch
from otel_events.store.schema import SCHEMA_VERSION
from otel_events.store.store import IngestStats, Store
from otel_events.store.validate import RequestDecodeError, Validation, validate_request

__all__ = [
    "SCHEMA_VERSION",
    "DecodedBatch",
    "IngestItem",
    "IngestStats",
    "RequestDecodeError",
    "Store",
    "Validation",
    "decode_batch",
    "validate_request",
]
