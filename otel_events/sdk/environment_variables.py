"""``OTEL_EVENTS_*`` environment variables read by :func:`otel_events.configure`.

Precedence is argument > environment > default. A bad environment value logs a warning and falls back to the
default; a bad explicit argument raises ``ValueError``. Standard ``OTEL_*`` variables (for example
``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_*``, ``OTEL_BLRP_*``, ``OTEL_METRIC_EXPORT_INTERVAL``) are read by the
OpenTelemetry SDK and exporters themselves.
"""

from __future__ import annotations

OTEL_EVENTS_RULES = "OTEL_EVENTS_RULES"
"""
.. envvar:: OTEL_EVENTS_RULES

Path of a TOML rules file for the classifier. Default: the packaged default rules.
"""

OTEL_EVENTS_CORRELATION_KEY = "OTEL_EVENTS_CORRELATION_KEY"
"""
.. envvar:: OTEL_EVENTS_CORRELATION_KEY

Attribute and W3C baggage entry carrying the correlation id. Default: ``correlation.id``.
"""

OTEL_EVENTS_LOGGING_BRIDGE = "OTEL_EVENTS_LOGGING_BRIDGE"
"""
.. envvar:: OTEL_EVENTS_LOGGING_BRIDGE

``true`` or ``false``: send standard-library ``logging`` records through the log pipeline. Default: ``false``.
"""
