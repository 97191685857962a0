"""Decoding a batch of export requests into Arrow tables, apart from the store (e.g. in a worker process).

``decode_batch`` needs no database: resources and scopes get batch-local references, and deduplication on
(stream_id, seq) is left to ``Store.append_decoded``, which owns the stored state. So a receiver can decode in a
process pool (Python decoding holds the GIL; DuckDB's append does not) and append in the process holding the
file. ``Store.ingest`` is the two steps in one call.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field

import pyarrow as pa

from otel_events.store.classifier import ItemClassifier, default_classifier
from otel_events.store.decoder import BatchDecoder

# The Arrow tables of a batch, by base table.
ITEM_TABLES = ("span_data", "log_data", "metric_point_data")


@dataclass(frozen=True)
class IngestItem:
    """One export request as received.

    Attributes:
        signal: ``"traces"``, ``"logs"`` or ``"metrics"``.
        payload: the serialized ``Export{Trace,Logs,Metrics}ServiceRequest``.
        tenant: the tenant the request was authenticated as, if any.
    """

    signal: str
    payload: bytes
    tenant: str | None = None


@dataclass(frozen=True)
class DecodedBatch:
    """Decoded, classified rows of a batch of requests, ready for ``Store.append_decoded``. Picklable.

    Attributes:
        items: the requests, in order (kept for dead letters).
        tables: base table name -> rows (Arrow); ``resource_id`` / ``scope_id`` hold indexes into ``resources``
            / ``scopes``, not stored ids.
        row_items: base table name -> the index in ``items`` of each row's request (uint32).
        resources: the batch's distinct (serialized Resource, schema_url).
        scopes: the batch's distinct (serialized InstrumentationScope, schema_url).
        errors: index in ``items`` -> why that request could not be decoded (it becomes a dead letter).
    """

    items: list[IngestItem]
    tables: dict[str, pa.Table]
    row_items: dict[str, pa.Array]
    resources: list[tuple[bytes, str]]
    scopes: list[tuple[bytes, str]]
    errors: dict[int, str] = field(default_factory=dict)


class LocalRegistry:
    """Batch-local references to resources and scopes, with the values copied onto every item row."""

    def __init__(self) -> None:
        self.resources: list[tuple[bytes, str]] = []
        self.scopes: list[tuple[bytes, str]] = []
        self._resource_refs: dict[tuple[bytes, str], int] = {}
        self._scope_refs: dict[tuple[bytes, str], int] = {}
        self._service_names: list[str | None] = []
        self._scope_names: list[tuple[str | None, str | None]] = []

    def resource_id(self, resource_bytes: bytes, schema_url: str) -> int:
        """Local reference of a serialized ``Resource`` with its ``schema_url``."""
        key = (resource_bytes, schema_url)
        ref = self._resource_refs.get(key)
        if ref is None:
            from otel_events.store.registry import resource_row

            ref = self._resource_refs[key] = len(self.resources)
            self.resources.append(key)
            self._service_names.append(resource_row(resource_bytes, schema_url)[0])
        return ref

    def scope_id(self, scope_bytes: bytes, schema_url: str) -> int:
        """Local reference of a serialized ``InstrumentationScope`` with its ``schema_url``."""
        key = (scope_bytes, schema_url)
        ref = self._scope_refs.get(key)
        if ref is None:
            from otel_events.store.registry import scope_row

            ref = self._scope_refs[key] = len(self.scopes)
            self.scopes.append(key)
            self._scope_names.append(scope_row(scope_bytes, schema_url)[:2])
        return ref

    def service_name(self, resource_id: int) -> str | None:
        """The ``service.name`` of a referenced resource."""
        return self._service_names[resource_id]

    def scope_names(self, scope_id: int) -> tuple[str | None, str | None]:
        """The name and version of a referenced scope."""
        return self._scope_names[scope_id]


class BatchDecoding:
    """Decodes batches with one classifier, keeping the attribute memo warm from batch to batch.

    Args:
        classifier: for items without ``otel_events.category``; the packaged default rules when None.
    """

    def __init__(self, classifier: ItemClassifier | None = None) -> None:
        self._decoder = BatchDecoder(LocalRegistry(), classifier or default_classifier())

    def decode(self, items: list[IngestItem]) -> DecodedBatch:
        """Decode and classify ``items``; a request that fails to decode or convert is recorded in ``errors``."""
        items = list(items)
        errors: dict[int, str] = {}
        # The decoder allocates a few container objects per item, none of them cyclic: with the cyclic garbage
        # collector running, its passes over the growing buffers cost ~5 of ~17 µs per span (bench_store.py).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._decode(items, errors)
        except Exception:
            # Some row cannot become Arrow (e.g. a timestamp past 2262): find the requests, one at a time.
            for index, item in enumerate(items):
                if index not in errors:
                    try:
                        self._decode([item], {})
                    except Exception as exc:
                        errors[index] = f"cannot store {item.signal} request: {type(exc).__name__}: {exc}"
            return self._decode(items, errors)
        finally:
            if collecting:
                gc.enable()

    def _decode(self, items: list[IngestItem], errors: dict[int, str]) -> DecodedBatch:
        """Decode the items not yet in ``errors``, adding those that fail to decode."""
        decoder = self._decoder
        decoder.reset()
        decoder.registry = registry = LocalRegistry()
        row_items: dict[str, list[int]] = {table: [] for table in ITEM_TABLES}
        buffers = (decoder.spans, decoder.logs, decoder.metrics)
        for index, item in enumerate(items):
            if index in errors:
                continue
            try:
                decoder.add(item.signal, item.payload, item.tenant)
            except Exception as exc:
                errors[index] = f"cannot decode {item.signal} request: {type(exc).__name__}: {exc}"
                continue
            for buffer in buffers:
                rows = row_items[buffer.table]
                rows.extend([index] * (len(buffer) - len(rows)))
        return DecodedBatch(
            items=items,
            tables={buffer.table: buffer.to_arrow() for buffer in buffers},
            row_items={table: pa.array(rows, pa.uint32()) for table, rows in row_items.items()},
            resources=registry.resources,
            scopes=registry.scopes,
            errors=errors,
        )


# One BatchDecoding per rules file in this process, so worker processes keep their classifier and memo warm.
_PROCESS_DECODING: dict[str | None, BatchDecoding] = {}


def decode_batch(items: list[IngestItem], rules_file: str | os.PathLike[str] | None = None) -> DecodedBatch:
    """Decode and classify a batch of requests without a store (callable in a worker process).

    Everything passed and returned is picklable. The classifier and the attribute memo are kept per process and
    rules file between calls: realistic attribute values repeat, so later batches decode faster.

    Args:
        items: the requests.
        rules_file: classification rules for items without ``otel_events.category`` (watched for changes);
            the packaged default rules when None.

    Returns:
        The rows for ``Store.append_decoded``.
    """
    key = None if rules_file is None else os.fspath(rules_file)
    decoding = _PROCESS_DECODING.get(key)
    if decoding is None:
        from otel_events.classify import Classifier

        classifier = Classifier() if key is None else Classifier.from_file(key, watch=True)
        decoding = _PROCESS_DECODING[key] = BatchDecoding(classifier)
    return decoding.decode(items)
