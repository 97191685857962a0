"""Decoding of OTLP export requests into column buffers, with receiver-side classification and dedup."""

from __future__ import annotations

from otel_events.store.anyvalue import any_value_to_text, decode_key_value
from otel_events.store.classifier import ItemClassifier
from otel_events.store.columns import ColumnBuffer, log_buffer, metric_buffer, span_buffer
from otel_events.store.dedup import SeqDedup
from otel_events.store.metrics_decode import append_metrics
from otel_events.store.otlp_classes import RAW_REQUEST_CLASSES
from otel_events.store.registry import Registry
from otel_events.store.stamps import (
    ATTR_CATEGORY,
    ATTR_CORRELATION_ID,
    ATTR_RULE,
    ATTR_SEQ,
    ATTR_STREAM_ID,
    is_column_stamp,
)

SPAN_KINDS = ("internal", "internal", "server", "client", "producer", "consumer")
STATUS_CODES = ("unset", "ok", "error")
_STATUS_ERROR = 2
# body_type of a log record without a body (an empty AnyValue is code "e", a string body has no code)
BODY_ABSENT = "absent"

# Raw KeyValue bytes -> (key, text, type code, python scalar, is a column stamp). Realistic attribute sets repeat
# (routes, methods, hosts), so most lookups hit; the memo is cleared when it grows past this many entries.
_MEMO_LIMIT = 200_000


class UnknownSignalError(ValueError):
    """The signal name is not traces, logs or metrics."""


class BatchDecoder:
    """Decodes the items of one ingest batch into column buffers for span_data, log_data, metric_point_data."""

    def __init__(self, registry: Registry, dedup: SeqDedup, classifier: ItemClassifier) -> None:
        self.registry = registry
        self.dedup = dedup
        self.classifier = classifier
        self.spans = span_buffer()
        self.logs = log_buffer()
        self.metrics = metric_buffer()
        self.duplicates = 0
        self._memo: dict[bytes, tuple] = {}
        self._claimed: list[tuple[str, int]] = []

    def reset(self) -> None:
        """Empty the buffers for the next batch (the attribute memo is kept)."""
        self.spans = span_buffer()
        self.logs = log_buffer()
        self.metrics = metric_buffer()
        self.duplicates = 0

    def add(self, signal: str, payload: bytes, tenant: str | None) -> int:
        """Decode one request into the buffers; returns the number of rows added.

        On any error the buffers and claimed dedup pairs are restored to their state before the call, and the
        error propagates (the caller dead-letters the item).
        """
        request_class = RAW_REQUEST_CLASSES.get(signal)
        if request_class is None:
            raise UnknownSignalError(f"unknown signal {signal!r} (expected traces, logs or metrics)")
        marks = (len(self.spans), len(self.logs), len(self.metrics), self.duplicates)
        self._claimed = []
        try:
            request = request_class.FromString(payload)
            if signal == "traces":
                self._add_traces(request, tenant)
            elif signal == "logs":
                self._add_logs(request, tenant)
            else:
                append_metrics(self.metrics, request, tenant, self.registry, self.attributes)
        except BaseException:
            self.spans.truncate(marks[0])
            self.logs.truncate(marks[1])
            self.metrics.truncate(marks[2])
            self.duplicates = marks[3]
            for stream_id, seq in self._claimed:
                self.dedup.release(stream_id, seq)
            raise
        return len(self.spans) + len(self.logs) + len(self.metrics) - sum(marks[:3])

    def attributes(
        self, raw_attributes, buffer: ColumnBuffer, *, strip_stamps: bool = True
    ) -> tuple[dict | None, dict | None]:
        """Append one item's attributes to ``buffer``'s map column.

        Returns ``(attr_types, stamps)``: key -> type code of the non-string values (None when all are strings)
        and the ``otel_events.*`` values taken out of the map (None when there are none).
        """
        memo = self._memo
        values: dict[str, str | None] = {}
        types = None
        stamps = None
        for raw in raw_attributes:
            entry = memo.get(raw)
            if entry is None:
                entry = self._decode_attribute(raw)
            key = entry[0]
            if entry[4] and strip_stamps:
                if stamps is None:
                    stamps = {}
                stamps[key] = entry[3]
                continue
            values[key] = entry[1]
            if entry[2] is not None:
                if types is None:
                    types = {}
                types[key] = entry[2]
            elif types is not None:
                # a later duplicate key that is a string replaces an earlier typed value
                types.pop(key, None)
        buffer.attr_keys.extend(values)
        buffer.attr_values.extend(values.values())
        buffer.attr_offsets.append(len(buffer.attr_keys))
        self._last_values = values
        return types, stamps

    def _decode_attribute(self, raw: bytes) -> tuple:
        key, text, type_code, scalar = decode_key_value(raw)
        entry = (key, text, type_code, scalar, is_column_stamp(key, scalar))
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[raw] = entry
        return entry

    def _classify(
        self,
        columns: dict[str, list],
        stamps: dict | None,
        name: str | None,
        status_error: bool = False,
        exception_event: bool = False,
        severity_number: int | None = None,
    ) -> None:
        if stamps is not None and ATTR_CATEGORY in stamps:
            category = stamps[ATTR_CATEGORY]
            rule = stamps.get(ATTR_RULE)
            source = "sdk"
        else:
            decision = self.classifier.classify(
                name,
                self._last_values,
                status_error=status_error,
                exception_event=exception_event,
                severity_number=severity_number,
            )
            category = getattr(decision.category, "value", decision.category)
            rule = decision.rule
            source = "receiver"
            if stamps is not None and ATTR_RULE in stamps:
                # a rule without a category: keep it for replay, the receiver's decision wins for the column
                self._restore_stamp(ATTR_RULE, stamps[ATTR_RULE])
        columns["category"].append(category)
        columns["rule"].append(rule)
        columns["category_source"].append(source)
        if stamps is None:
            columns["stream_id"].append(None)
            columns["seq"].append(None)
            columns["correlation_id"].append(None)
        else:
            columns["stream_id"].append(stamps.get(ATTR_STREAM_ID))
            columns["seq"].append(stamps.get(ATTR_SEQ))
            columns["correlation_id"].append(stamps.get(ATTR_CORRELATION_ID))

    def _restore_stamp(self, key: str, value: str) -> None:
        # Rare path: put a stamp back into the public attributes of the row just appended.
        buffer = self._current
        buffer.attr_keys.append(key)
        buffer.attr_values.append(value)
        buffer.attr_offsets[-1] += 1

    def _is_duplicate(self, stamps: dict | None) -> bool:
        if stamps is None:
            return False
        stream_id = stamps.get(ATTR_STREAM_ID)
        seq = stamps.get(ATTR_SEQ)
        if stream_id is None or seq is None:
            return False
        if self.dedup.claim(stream_id, seq):
            self._claimed.append((stream_id, seq))
            return False
        self.duplicates += 1
        return True

    def _drop_last_attributes(self, buffer: ColumnBuffer) -> None:
        buffer.attr_offsets.pop()
        end = buffer.attr_offsets[-1]
        del buffer.attr_keys[end:]
        del buffer.attr_values[end:]

    def _add_traces(self, request, tenant: str | None) -> None:
        buffer = self.spans
        self._current = buffer
        c = buffer.columns
        registry = self.registry
        attributes = self.attributes
        for resource_spans in request.resource_spans:
            resource_id = registry.resource_id(resource_spans.resource.SerializeToString(), resource_spans.schema_url)
            for scope_spans in resource_spans.scope_spans:
                scope_id = registry.scope_id(scope_spans.scope.SerializeToString(), scope_spans.schema_url)
                for span in scope_spans.spans:
                    attr_types, stamps = attributes(span.attributes, buffer)
                    if stamps is not None and self._is_duplicate(stamps):
                        self._drop_last_attributes(buffer)
                        continue
                    events, events_extra, exception_event = self._events(span.events)
                    status = span.status
                    status_code = status.code
                    kind = span.kind
                    c["trace_id"].append(span.trace_id.hex())
                    c["span_id"].append(span.span_id.hex())
                    c["parent_span_id"].append(span.parent_span_id.hex() or None)
                    c["trace_state"].append(span.trace_state or None)
                    c["flags"].append(span.flags)
                    c["name"].append(span.name)
                    c["kind"].append(SPAN_KINDS[kind] if kind < 6 else "internal")
                    c["kind_unspecified"].append(kind == 0)
                    c["start_time"].append(span.start_time_unix_nano)
                    c["end_time"].append(span.end_time_unix_nano)
                    c["status_code"].append(STATUS_CODES[status_code] if status_code < 3 else "unset")
                    c["status_message"].append(status.message or None)
                    c["resource_id"].append(resource_id)
                    c["scope_id"].append(scope_id)
                    c["attr_types"].append(attr_types and list(attr_types.items()))
                    c["dropped_attributes_count"].append(span.dropped_attributes_count)
                    c["events"].append(events)
                    c["events_extra"].append(events_extra)
                    c["dropped_events_count"].append(span.dropped_events_count)
                    links, links_extra = self._links(span.links) if span.links else ([], None)
                    c["links"].append(links)
                    c["links_extra"].append(links_extra)
                    c["dropped_links_count"].append(span.dropped_links_count)
                    c["tenant"].append(tenant)
                    self._classify(
                        c,
                        stamps,
                        span.name,
                        status_error=status_code == _STATUS_ERROR,
                        exception_event=exception_event,
                    )

    def _events(self, raw_events) -> tuple[list, list | None, bool]:
        if not raw_events:
            return [], None, False
        events = []
        extras = []
        needs_extra = False
        exception_event = False
        for event in raw_events:
            pairs, types = self._plain_attributes(event.attributes)
            events.append({"time": event.time_unix_nano, "name": event.name, "attributes": pairs})
            extras.append({"attr_types": types, "dropped_attributes_count": event.dropped_attributes_count})
            needs_extra = needs_extra or types is not None or event.dropped_attributes_count != 0
            exception_event = exception_event or event.name == "exception"
        return events, (extras if needs_extra else None), exception_event

    def _links(self, raw_links) -> tuple[list, list | None]:
        links = []
        extras = []
        needs_extra = False
        for link in raw_links:
            pairs, types = self._plain_attributes(link.attributes)
            links.append(
                {
                    "trace_id": link.trace_id.hex(),
                    "span_id": link.span_id.hex(),
                    "trace_state": link.trace_state or None,
                    "attributes": pairs,
                }
            )
            extras.append(
                {"attr_types": types, "dropped_attributes_count": link.dropped_attributes_count, "flags": link.flags}
            )
            needs_extra = needs_extra or types is not None or link.dropped_attributes_count != 0 or link.flags != 0
        return links, (extras if needs_extra else None)

    def _plain_attributes(self, raw_attributes) -> tuple[list, list | None]:
        """Attributes of an event or link: (key, text) pairs and the type codes (no stamps here)."""
        memo = self._memo
        values: dict[str, str | None] = {}
        types: dict[str, str] = {}
        for raw in raw_attributes:
            entry = memo.get(raw)
            if entry is None:
                entry = self._decode_attribute(raw)
            values[entry[0]] = entry[1]
            if entry[2] is not None:
                types[entry[0]] = entry[2]
            else:
                types.pop(entry[0], None)
        return list(values.items()), (list(types.items()) if types else None)

    def _add_logs(self, request, tenant: str | None) -> None:
        buffer = self.logs
        self._current = buffer
        c = buffer.columns
        registry = self.registry
        attributes = self.attributes
        for resource_logs in request.resource_logs:
            resource_id = registry.resource_id(resource_logs.resource.SerializeToString(), resource_logs.schema_url)
            for scope_logs in resource_logs.scope_logs:
                scope_id = registry.scope_id(scope_logs.scope.SerializeToString(), scope_logs.schema_url)
                for record in scope_logs.log_records:
                    attr_types, stamps = attributes(record.attributes, buffer)
                    if stamps is not None and self._is_duplicate(stamps):
                        self._drop_last_attributes(buffer)
                        continue
                    if record.HasField("body"):
                        body, body_type = any_value_to_text(record.body)
                    else:
                        body, body_type = None, BODY_ABSENT
                    c["time"].append(record.time_unix_nano)
                    c["observed_time"].append(record.observed_time_unix_nano)
                    c["trace_id"].append(record.trace_id.hex() or None)
                    c["span_id"].append(record.span_id.hex() or None)
                    c["flags"].append(record.flags)
                    c["severity_number"].append(record.severity_number)
                    c["severity_text"].append(record.severity_text or None)
                    c["body"].append(body)
                    c["body_type"].append(body_type)
                    c["event_name"].append(record.event_name or None)
                    c["resource_id"].append(resource_id)
                    c["scope_id"].append(scope_id)
                    c["attr_types"].append(attr_types and list(attr_types.items()))
                    c["dropped_attributes_count"].append(record.dropped_attributes_count)
                    c["tenant"].append(tenant)
                    self._classify(
                        c,
                        stamps,
                        record.event_name or None,
                        severity_number=record.severity_number or None,
                    )
