"""Decoding of OTLP export requests into column buffers, with receiver-side classification and dedup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from otel_events.store.attributes import PLAIN, STAMP, AttributeMemo
from otel_events.store.classifier import ItemClassifier
from otel_events.store.columns import ColumnBuffer, log_buffer, metric_buffer, span_buffer
from otel_events.store.log_decode import append_logs
from otel_events.store.metrics_decode import append_metrics
from otel_events.store.otlp_classes import RAW_REQUEST_CLASSES
from otel_events.store.span_decode import append_spans
from otel_events.store.stamps import ATTR_CATEGORY, ATTR_CORRELATION_ID, ATTR_RULE, ATTR_SEQ, ATTR_STREAM_ID


class ItemRegistry(Protocol):
    """Resolves an item's resource and scope to references, and gives the values copied onto its row."""

    def resource_id(self, resource_bytes: bytes, schema_url: str) -> int: ...

    def scope_id(self, scope_bytes: bytes, schema_url: str) -> int: ...

    def service_name(self, resource_id: int) -> str | None: ...

    def scope_names(self, scope_id: int) -> tuple[str | None, str | None]: ...


class UnknownSignalError(ValueError):
    """The signal name is not traces, logs or metrics."""


class BatchDecoder:
    """Decodes the items of one ingest batch into column buffers for span_data, log_data, metric_point_data.

    Deduplication on (stream_id, seq) is not done here but when the rows are appended (writer.py), where the
    stored pairs are known.
    """

    def __init__(self, registry: ItemRegistry, classifier: ItemClassifier) -> None:
        self.registry = registry
        self.classifier = classifier
        self.memo = AttributeMemo()
        self.spans = span_buffer()
        self.logs = log_buffer()
        self.metrics = metric_buffer()

    def reset(self) -> None:
        """Empty the buffers for the next batch (the attribute memo is kept)."""
        self.spans = span_buffer()
        self.logs = log_buffer()
        self.metrics = metric_buffer()

    def add(self, signal: str, payload: bytes, tenant: str | None) -> int:
        """Decode one request into the buffers; returns the number of rows added.

        On any error the buffers are restored to their state before the call and the error propagates (the caller
        dead-letters the item).
        """
        request_class = RAW_REQUEST_CLASSES.get(signal)
        if request_class is None:
            raise UnknownSignalError(f"unknown signal {signal!r} (expected traces, logs or metrics)")
        marks = (len(self.spans), len(self.logs), len(self.metrics))
        try:
            request = request_class.FromString(payload)
            if signal == "traces":
                append_spans(self, request, tenant)
            elif signal == "logs":
                append_logs(self, request, tenant)
            else:
                append_metrics(self, request, tenant)
        except BaseException:
            self.spans.truncate(marks[0])
            self.logs.truncate(marks[1])
            self.metrics.truncate(marks[2])
            raise
        return len(self.spans) + len(self.logs) + len(self.metrics) - sum(marks)

    def decode_attributes(self, raw_attributes, *, strip_stamps: bool = True) -> tuple[dict, dict | None, dict | None]:
        """Decode an item's raw attributes: ``(values, types, stamps)``.

        ``values`` maps keys to text, ``types`` keys to type codes of the non-string values (None when all are
        strings), ``stamps`` holds the ``otel_events.*`` values that go to columns (None when there are none).
        """
        memo = self.memo
        entries = memo.entries
        values: dict[str, str | None] = {}
        types = None
        stamps = None
        for raw in raw_attributes:
            entry = entries.get(raw)
            if entry is None:
                entry = memo.decode(raw)
            key, text, kind, type_code, scalar = entry
            if kind == PLAIN:
                values[key] = text
                if types is not None:
                    types.pop(key, None)
            elif kind == STAMP and strip_stamps:
                if stamps is None:
                    stamps = {key: scalar}
                else:
                    stamps[key] = scalar
            else:
                values[key] = text
                if types is None:
                    types = {key: type_code}
                else:
                    types[key] = type_code
        return values, types, stamps

    def classify_into(
        self,
        buffer: ColumnBuffer,
        values: Mapping[str, str | None],
        stamps: dict | None,
        name: str | None,
        *,
        status_error: bool = False,
        exception_event: bool = False,
        severity_number: int | None = None,
    ) -> None:
        """Append category, rule, category_source, stream_id, seq, correlation_id of one item to ``buffer``."""
        c = buffer.columns
        if stamps is not None and ATTR_CATEGORY in stamps:
            c["category"].append(stamps[ATTR_CATEGORY])
            c["rule"].append(stamps.get(ATTR_RULE))
            c["category_source"].append("sdk")
        else:
            decision = self.classifier.classify(
                name,
                values,
                status_error=status_error,
                exception_event=exception_event,
                severity_number=severity_number,
            )
            c["category"].append(getattr(decision.category, "value", decision.category))
            c["rule"].append(decision.rule)
            c["category_source"].append("receiver")
        if stamps is None:
            c["stream_id"].append(None)
            c["seq"].append(None)
            c["correlation_id"].append(None)
        else:
            c["stream_id"].append(stamps.get(ATTR_STREAM_ID))
            c["seq"].append(stamps.get(ATTR_SEQ))
            c["correlation_id"].append(stamps.get(ATTR_CORRELATION_ID))


def keep_orphan_rule(values: dict, stamps: dict | None) -> None:
    """A stamped rule without a stamped category has no column to live in: keep it as a plain attribute."""
    if stamps is not None and ATTR_RULE in stamps and ATTR_CATEGORY not in stamps:
        values[ATTR_RULE] = stamps[ATTR_RULE]
