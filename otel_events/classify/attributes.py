"""Names of the attributes otel_events reads and stamps (SPEC §3 table).

Every stamped attribute lives under the ``otel_events.`` namespace; the classifier never inspects keys in that
namespace when it looks at attributes, so stamping an item twice cannot change its category.
"""

from __future__ import annotations

RESERVED_PREFIX = "otel_events."
"""Namespace of every attribute otel_events stamps."""

ATTR_CATEGORY = "otel_events.category"
"""One of the five category values; also read as the explicit category (decision step 1)."""

ATTR_RULE = "otel_events.rule"
"""Id of the rule that decided the category, e.g. ``status.error`` or ``keyword.performance``."""

ATTR_STREAM_ID = "otel_events.stream_id"
"""Random id fixed for the life of one processor instance."""

ATTR_SEQ = "otel_events.seq"
"""1, 2, 3, ... in emission order, one counter per stream shared by spans and logs."""

ATTR_CORRELATION_ID = "otel_events.correlation_id"
"""Correlation id from an explicit attribute or the W3C baggage entry."""

ATTR_EVENT_NAME = "event.name"
"""OpenTelemetry semantic-convention event name, used when an item has no name of its own."""
