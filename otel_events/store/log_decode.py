"""Log records of one request into the log_data column buffer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_events.store.anyvalue import any_value_to_text

if TYPE_CHECKING:
    from otel_events.store.decoder import BatchDecoder

# body_type of a record without a body (an AnyValue with no value is code "e"; a string body has no code)
BODY_ABSENT = "absent"


def append_logs(decoder: BatchDecoder, request, tenant: str | None) -> None:
    """Append every log record of a raw-attribute ``ExportLogsServiceRequest``."""
    from otel_events.store.decoder import keep_orphan_rule

    buffer = decoder.logs
    c = buffer.columns
    registry = decoder.registry
    for resource_logs in request.resource_logs:
        resource_id = registry.resource_id(resource_logs.resource.SerializeToString(), resource_logs.schema_url)
        service_name = registry.service_name(resource_id)
        for scope_logs in resource_logs.scope_logs:
            scope_id = registry.scope_id(scope_logs.scope.SerializeToString(), scope_logs.schema_url)
            scope_name = registry.scope_names(scope_id)[0]
            for record in scope_logs.log_records:
                values, types, stamps = decoder.decode_attributes(record.attributes)
                keep_orphan_rule(values, stamps)
                if record.HasField("body"):
                    body, body_type = any_value_to_text(record.body)
                else:
                    body, body_type = None, BODY_ABSENT
                event_name = record.event_name or None
                decoder.classify_into(
                    buffer, values, stamps, event_name, severity_number=record.severity_number or None
                )
                buffer.attr_keys.extend(values)
                buffer.attr_values.extend(values.values())
                buffer.attr_offsets.append(len(buffer.attr_keys))
                c["attr_types"].append(None if types is None else decoder.memo.types_text(types))
                c["time"].append(record.time_unix_nano)
                c["observed_time"].append(record.observed_time_unix_nano)
                c["trace_id"].append(record.trace_id.hex() or None)
                c["span_id"].append(record.span_id.hex() or None)
                c["flags"].append(record.flags)
                c["severity_number"].append(record.severity_number)
                c["severity_text"].append(record.severity_text or None)
                c["body"].append(body)
                c["body_type"].append(body_type)
                c["event_name"].append(event_name)
                c["resource_id"].append(resource_id)
                c["scope_id"].append(scope_id)
                c["service_name"].append(service_name)
                c["scope_name"].append(scope_name)
                c["dropped_attributes_count"].append(record.dropped_attributes_count)
                c["tenant"].append(tenant)
