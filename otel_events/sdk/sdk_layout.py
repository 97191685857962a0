"""Detects whether the installed OpenTelemetry SDK has the private layout the fast span path relies on.

PERF-NOTES "In the app": one bulk update of the span's attribute dict in the private ``_on_ending`` hook adds
~6 % per span, building a new ``ReadableSpan`` in ``on_end`` ~27 %. The fast path leans on SDK internals, so
it is used only on the SDK minor versions it was verified against and only when the layout checks pass;
otherwise the public-API path is used.
"""

from __future__ import annotations

import logging
from collections import deque
from importlib import metadata

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, TraceFlags

VERIFIED_SDK_VERSIONS = ((1, 45),)
"""(major, minor) versions of opentelemetry-sdk whose private span layout the fast path was tested on."""

_logger = logging.getLogger("otel_events.sdk")


def _sdk_version() -> tuple[int, int] | None:
    try:
        major, minor = metadata.version("opentelemetry-sdk").split(".")[:2]
        return int(major), int(minor)
    except (metadata.PackageNotFoundError, ValueError):
        return None


def _layout_matches() -> bool:
    # Span.end must call the multi-processor's _on_ending while the span is still ours, and
    # _readable_span must hand on_end the same attribute mapping (not a copy), whose storage is a dict.
    # The event list is read through its deque, and status / context through their fields.
    # The span context is read by tuple position (span id 1, trace flags 3).
    probe = BoundedAttributes(immutable=True)
    readable = ReadableSpan("probe")
    context = SpanContext(1, 2, False, TraceFlags(TraceFlags.SAMPLED))
    return (
        callable(getattr(SpanProcessor, "_on_ending", None))
        and "_on_ending" in Span.end.__code__.co_names
        and "_attributes" in Span._readable_span.__code__.co_names
        and isinstance(getattr(probe, "_dict", None), dict)
        and isinstance(getattr(BoundedList(1), "_dq", None), deque)
        and hasattr(readable, "_status")
        and hasattr(readable, "_context")
        and hasattr(readable, "_name")
        and isinstance(context, tuple)
        and context[1] == context.span_id == 2
        and context[3] == context.trace_flags == TraceFlags.SAMPLED
    )


def private_span_hook_usable() -> bool:
    """Return True when the fast ``_on_ending`` path can be used with the installed SDK."""
    version = _sdk_version()
    if version not in VERIFIED_SDK_VERSIONS:
        _logger.info("opentelemetry-sdk %s is not a verified version; using the public span API path", version)
        return False
    try:
        return _layout_matches()
    except Exception:
        return False
