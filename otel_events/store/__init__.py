"""The DuckDB store: schema and public views (SPEC §5), fast OTLP ingest, request validation, replay export.

The public names are loaded on first access (PEP 562): importing a submodule such as ``otel_events.store.batch``
runs this file first, and the receiver's decoder processes, which only decode, would otherwise each load DuckDB
(~34 MiB of their memory) through ``Store``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otel_events.store.batch import DecodedBatch, IngestItem, decode_batch
    from otel_events.store.schema import SCHEMA_VERSION
    from otel_events.store.store import IngestStats, Store
    from otel_events.store.validate import RequestDecodeError, Validation, validate_request

# Public name -> the submodule defining it.
_EXPORTS = {
    "SCHEMA_VERSION": "otel_events.store.schema",
    "DecodedBatch": "otel_events.store.batch",
    "IngestItem": "otel_events.store.batch",
    "IngestStats": "otel_events.store.store",
    "RequestDecodeError": "otel_events.store.validate",
    "Store": "otel_events.store.store",
    "Validation": "otel_events.store.validate",
    "decode_batch": "otel_events.store.batch",
    "validate_request": "otel_events.store.validate",
}

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


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
