"""The hot loop of trace ingest: spans of one request into the span_data column buffer.

Written for speed (PERF-NOTES: walking attributes in Python is the cost): column ``append`` methods are bound
to locals once per request and the common path (stamped by the otel_events SDK, no events, no links) makes
no function calls besides the attribute memo lookups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_events.store.stamps import ATTR_CATEGORY, ATTR_RULE

if TYPE_CHECKING:
    from otel_events.store.decoder import BatchDecoder

SPAN_KINDS = ("internal", "internal", "server", "client", "producer", "consumer")
STATUS_CODES = ("unset", "ok", "error")
_STATUS_ERROR = 2
# The events/links of a span that has none: one shared empty sequence instead of a new list per span.
_NONE: tuple = ()


def append_spans(decoder: BatchDecoder, request, tenant: str | None) -> None:
    """Append every span of a raw-attribute ``ExportTraceServiceRequest``."""
    from otel_events.store.decoder import keep_orphan_rule

    buffer = decoder.spans
    c = buffer.columns
    registry = decoder.registry
    decode_attributes = decoder.decode_attributes
    attr_keys = buffer.attr_keys
    attr_values = buffer.attr_values
    attr_offsets = buffer.attr_offsets
    add_trace_id = c["trace_id"].append
    add_span_id = c["span_id"].append
    add_parent = c["parent_span_id"].append
    add_trace_state = c["trace_state"].append
    add_flags = c["flags"].append
    add_name = c["name"].append
    add_kind = c["kind"].append
    add_kind_unspecified = c["kind_unspecified"].append
    add_start = c["start_time"].append
    add_end = c["end_time"].append
    add_status = c["status_code"].append
    add_status_message = c["status_message"].append
    types_text = decoder.memo.types_text
    add_types = c["attr_types"].append
    add_dropped = c["dropped_attributes_count"].append
    add_events = c["events"].append
    add_events_extra = c["events_extra"].append
    add_dropped_events = c["dropped_events_count"].append
    add_links = c["links"].append
    add_links_extra = c["links_extra"].append
    add_dropped_links = c["dropped_links_count"].append
    add_category = c["category"].append
    add_rule = c["rule"].append
    add_source = c["category_source"].append
    add_stream = c["stream_id"].append
    add_seq = c["seq"].append
    add_correlation = c["correlation_id"].append
    for resource_spans in request.resource_spans:
        resource_id = registry.resource_id(resource_spans.resource.SerializeToString(), resource_spans.schema_url)
        service_name = registry.service_name(resource_id)
        for scope_spans in resource_spans.scope_spans:
            scope_id = registry.scope_id(scope_spans.scope.SerializeToString(), scope_spans.schema_url)
            scope_name, scope_version = registry.scope_names(scope_id)
            first_row = len(attr_offsets)
            for span in scope_spans.spans:
                values, types, stamps = decode_attributes(span.attributes)
                status = span.status
                status_code = status.code
                kind = span.kind
                name = span.name
                raw_events = span.events
                if raw_events:
                    events, events_extra, exception_event = _events(decoder, raw_events)
                else:
                    events, events_extra, exception_event = _NONE, None, False
                if stamps is not None and ATTR_CATEGORY in stamps:
                    add_category(stamps[ATTR_CATEGORY])
                    add_rule(stamps.get(ATTR_RULE))
                    add_source("sdk")
                    add_stream(stamps.get("otel_events.stream_id"))
                    add_seq(stamps.get("otel_events.seq"))
                    add_correlation(stamps.get("otel_events.correlation_id"))
                else:
                    keep_orphan_rule(values, stamps)
                    decoder.classify_into(
                        buffer,
                        values,
                        stamps,
                        name,
                        status_error=status_code == _STATUS_ERROR,
                        exception_event=exception_event,
                    )
                attr_keys.extend(values)
                attr_values.extend(values.values())
                attr_offsets.append(len(attr_keys))
                add_types(None if types is None else types_text(types))
                add_trace_id(span.trace_id.hex())
                add_span_id(span.span_id.hex())
                add_parent(span.parent_span_id.hex() or None)
                add_trace_state(span.trace_state or None)
                add_flags(span.flags)
                add_name(name)
                add_kind(SPAN_KINDS[kind] if kind < 6 else "internal")
                add_kind_unspecified(kind == 0)
                add_start(span.start_time_unix_nano)
                add_end(span.end_time_unix_nano)
                add_status(STATUS_CODES[status_code] if status_code < 3 else "unset")
                add_status_message(status.message or None)
                add_dropped(span.dropped_attributes_count)
                add_events(events)
                add_events_extra(events_extra)
                add_dropped_events(span.dropped_events_count)
                raw_links = span.links
                if raw_links:
                    links, links_extra = _links(decoder, raw_links)
                    add_links(links)
                    add_links_extra(links_extra)
                else:
                    add_links(_NONE)
                    add_links_extra(None)
                add_dropped_links(span.dropped_links_count)
            # the same on every span of the scope: one extend per column instead of an append per span
            rows = len(attr_offsets) - first_row
            for column, value in (
                ("resource_id", resource_id),
                ("scope_id", scope_id),
                ("service_name", service_name),
                ("scope_name", scope_name),
                ("scope_version", scope_version),
                ("tenant", tenant),
            ):
                c[column].extend([value] * rows)


def _events(decoder: BatchDecoder, raw_events) -> tuple[list, list | None, bool]:
    events = []
    extras = []
    needs_extra = False
    exception_event = False
    for event in raw_events:
        values, types, _ = decoder.decode_attributes(event.attributes, strip_stamps=False)
        pairs = None if types is None else list(types.items())
        events.append({"time": event.time_unix_nano, "name": event.name, "attributes": list(values.items())})
        extras.append({"attr_types": pairs, "dropped_attributes_count": event.dropped_attributes_count})
        needs_extra = needs_extra or types is not None or event.dropped_attributes_count != 0
        exception_event = exception_event or event.name == "exception"
    return events, (extras if needs_extra else None), exception_event


def _links(decoder: BatchDecoder, raw_links) -> tuple[list, list | None]:
    links = []
    extras = []
    needs_extra = False
    for link in raw_links:
        values, types, _ = decoder.decode_attributes(link.attributes, strip_stamps=False)
        links.append(
            {
                "trace_id": link.trace_id.hex(),
                "span_id": link.span_id.hex(),
                "trace_state": link.trace_state or None,
                "attributes": list(values.items()),
            }
        )
        extras.append(
            {
                "attr_types": None if types is None else list(types.items()),
                "dropped_attributes_count": link.dropped_attributes_count,
                "flags": link.flags,
            }
        )
        needs_extra = needs_extra or types is not None or link.dropped_attributes_count != 0 or link.flags != 0
    return links, (extras if needs_extra else None)
