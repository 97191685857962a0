"""``configure()``: traces, logs and metrics with the otel_events processors and OTLP/gRPC exporters in one call."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs._internal import ProxyLoggerProvider
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_INSECURE,
    OTEL_EXPORTER_OTLP_LOGS_INSECURE,
    OTEL_EXPORTER_OTLP_METRICS_INSECURE,
    OTEL_EXPORTER_OTLP_TRACES_INSECURE,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_events.classify import Classifier, Scrubber
from otel_events.errors import OtelEventsError
from otel_events.sdk import active
from otel_events.sdk.correlation import DEFAULT_CORRELATION_KEY, validate_correlation_key
from otel_events.sdk.environment_variables import (
    OTEL_EVENTS_CORRELATION_KEY,
    OTEL_EVENTS_LOGGING_BRIDGE,
    OTEL_EVENTS_RULES,
)
from otel_events.sdk.log_processor import EventLogProcessor
from otel_events.sdk.span_processor import EventSpanProcessor

_logger = logging.getLogger("otel_events.sdk")

# Loggers whose records must not be bridged: exporting them could feed back into the pipeline that logs them.
_UNBRIDGED_LOGGER_PREFIXES = ("opentelemetry", "otel_events.sdk", "grpc")


@dataclass(eq=False)
class Telemetry:
    """What :func:`configure` set up; call :meth:`shutdown` (or use it as a context manager) to flush and stop.

    Attributes:
        tracer_provider: Tracer provider with ``EventSpanProcessor(BatchSpanProcessor(OTLPSpanExporter))``.
        logger_provider: Logger provider with ``EventLogProcessor(BatchLogRecordProcessor(OTLPLogExporter))``.
        meter_provider: Meter provider exporting periodically over OTLP (includes the classification metrics).
        span_processor: The span processor.
        log_processor: The log record processor.
        resource: The resource shared by the three providers.
    """

    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    meter_provider: MeterProvider
    span_processor: EventSpanProcessor
    log_processor: EventLogProcessor
    resource: Resource
    _active: active.ActiveTelemetry
    _logging_handler: logging.Handler | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: bool = False

    @property
    def classifier(self) -> Classifier:
        """The classifier both processors use."""
        return self.span_processor.classifier

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything buffered so far; returns False if the timeout was exceeded."""
        traces = self.tracer_provider.force_flush(timeout_millis)
        logs = self.logger_provider.force_flush(timeout_millis)
        return bool(traces and logs and self.meter_provider.force_flush(timeout_millis))

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        """Flush and shut down the three providers; safe to call more than once."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        atexit.unregister(self.shutdown)
        active.deactivate(self._active)
        if self._logging_handler is not None:
            logging.getLogger().removeHandler(self._logging_handler)
        # Traces and logs first: their processors' final counts are then in the last metrics export.
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown(timeout_millis=timeout_millis)

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()


def configure(
    service_name: str | None = None,
    endpoint: str | None = None,
    rules: str | os.PathLike[str] | Classifier | None = None,
    *,
    insecure: bool | None = None,
    scrubber: Scrubber | None = None,
    correlation_key: str | None = None,
    resource_attributes: Mapping[str, str | bool | int | float] | None = None,
    headers: Mapping[str, str] | None = None,
    logging_bridge: bool | None = None,
    logging_level: int = logging.NOTSET,
    metric_export_interval_millis: float | None = None,
    set_global: bool = True,
) -> Telemetry:
    """Set up traces, logs and metrics with the otel_events processors and OTLP/gRPC exporters.

    Precedence is argument > environment > default. Standard ``OTEL_*`` variables are honoured by the
    OpenTelemetry SDK and exporters (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
    ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_*``, …); ``OTEL_EVENTS_*``
    variables are listed in :mod:`otel_events.sdk.environment_variables`.

    Args:
        service_name: ``service.name``; else ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``.
        endpoint: OTLP/gRPC endpoint, ``host:port`` or ``http(s)://host:port``; else
            ``OTEL_EXPORTER_OTLP[_<SIGNAL>]_ENDPOINT``, else ``localhost:4317``.
        rules: A rules file path or a ready :class:`~otel_events.classify.Classifier`; else ``OTEL_EVENTS_RULES``,
            else the packaged default rules.
        insecure: Plain-text gRPC; else ``OTEL_EXPORTER_OTLP[_<SIGNAL>]_INSECURE``, else False for ``https://``
            endpoints and True otherwise (the receiver listens on loopback without TLS by default).
        scrubber: Secret scrubber; the default patterns when ``None``.
        correlation_key: Correlation attribute / baggage entry; else ``OTEL_EVENTS_CORRELATION_KEY``, else
            ``correlation.id``.
        resource_attributes: Extra resource attributes (override the environment's).
        headers: gRPC metadata for every export (e.g. ``{"authorization": "Bearer …"}``).
        logging_bridge: Also export standard-library ``logging`` records; else ``OTEL_EVENTS_LOGGING_BRIDGE``.
        logging_level: Lowest level bridged when ``logging_bridge`` is on.
        metric_export_interval_millis: Metrics export period; else ``OTEL_METRIC_EXPORT_INTERVAL`` (60 s).
        set_global: Also install the providers as the OpenTelemetry global providers (once per process).

    Returns:
        The :class:`Telemetry` handle; ``emit_event``, ``traced_event`` and ``correlation`` use it until shut down.

    Raises:
        ValueError: An explicit argument is invalid (``otel_events.errors.RulesError`` for a bad rules file).
    """
    _check_optional_str("service_name", service_name)
    _check_endpoint(endpoint)
    if insecure is not None and not isinstance(insecure, bool):
        raise ValueError(f"insecure must be a bool, got {insecure!r}")
    if metric_export_interval_millis is not None and not metric_export_interval_millis > 0:
        raise ValueError(f"metric_export_interval_millis must be positive, got {metric_export_interval_millis!r}")
    if headers is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValueError("headers must map strings to strings")

    classifier = _resolve_classifier(rules)
    key = validate_correlation_key(correlation_key) if correlation_key is not None else _env_correlation_key()
    bridge = logging_bridge if logging_bridge is not None else _env_bool(OTEL_EVENTS_LOGGING_BRIDGE, False)
    resource = _build_resource(service_name, resource_attributes)

    exporter_options = {"endpoint": endpoint, "headers": dict(headers) if headers else None}
    meter_provider = MeterProvider(
        metric_readers=[
            PeriodicExportingMetricReader(
                OTLPMetricExporter(
                    insecure=_resolve_insecure(insecure, endpoint, OTEL_EXPORTER_OTLP_METRICS_INSECURE),
                    **exporter_options,
                ),
                export_interval_millis=metric_export_interval_millis,
            )
        ],
        resource=resource,
        shutdown_on_exit=False,
    )
    span_processor = EventSpanProcessor(
        BatchSpanProcessor(
            OTLPSpanExporter(
                insecure=_resolve_insecure(insecure, endpoint, OTEL_EXPORTER_OTLP_TRACES_INSECURE), **exporter_options
            )
        ),
        classifier=classifier,
        scrubber=scrubber,
        correlation_key=key,
        meter_provider=meter_provider,
    )
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False, meter_provider=meter_provider)
    tracer_provider.add_span_processor(span_processor)
    log_processor = EventLogProcessor(
        BatchLogRecordProcessor(
            OTLPLogExporter(
                insecure=_resolve_insecure(insecure, endpoint, OTEL_EXPORTER_OTLP_LOGS_INSECURE), **exporter_options
            )
        ),
        classifier=classifier,
        scrubber=scrubber,
        correlation_key=key,
        meter_provider=meter_provider,
    )
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False, meter_provider=meter_provider)
    logger_provider.add_log_record_processor(log_processor)

    if set_global:
        _set_global_providers(tracer_provider, logger_provider, meter_provider)
    handler = _bridge_logging(logger_provider, logging_level) if bridge else None
    active_telemetry = active.ActiveTelemetry(tracer_provider, logger_provider, key)
    active.activate(active_telemetry)
    telemetry = Telemetry(
        tracer_provider=tracer_provider,
        logger_provider=logger_provider,
        meter_provider=meter_provider,
        span_processor=span_processor,
        log_processor=log_processor,
        resource=resource,
        _active=active_telemetry,
        _logging_handler=handler,
    )
    # Flush on interpreter exit, once (the providers' own exit hooks are off so shutdown stays idempotent).
    atexit.register(telemetry.shutdown)
    return telemetry


def _check_optional_str(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


def _check_endpoint(endpoint: object) -> None:
    _check_optional_str("endpoint", endpoint)
    if endpoint is None:
        return
    assert isinstance(endpoint, str)
    if any(c.isspace() for c in endpoint):
        raise ValueError(f"endpoint must not contain whitespace: {endpoint!r}")
    if "://" in endpoint:
        parsed = urlparse(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"endpoint must be host:port or http(s)://host:port, got {endpoint!r}")
    elif ":" not in endpoint:
        raise ValueError(f"endpoint must be host:port or http(s)://host:port, got {endpoint!r}")


def _resolve_classifier(rules: str | os.PathLike[str] | Classifier | None) -> Classifier:
    if isinstance(rules, Classifier):
        return rules
    if rules is not None:
        if not isinstance(rules, str | os.PathLike):
            raise ValueError(f"rules must be a file path or a Classifier, got {type(rules).__name__}")
        return Classifier.from_file(rules)
    path = os.environ.get(OTEL_EVENTS_RULES, "").strip()
    if path:
        try:
            return Classifier.from_file(path)
        except (OtelEventsError, OSError) as exc:
            _logger.warning("%s=%r is unusable (%s); using the default rules", OTEL_EVENTS_RULES, path, exc)
    return Classifier()


def _env_correlation_key() -> str:
    value = os.environ.get(OTEL_EVENTS_CORRELATION_KEY, "").strip()
    if not value:
        return DEFAULT_CORRELATION_KEY
    try:
        return validate_correlation_key(value)
    except ValueError as exc:
        _logger.warning("%s is invalid (%s); using %r", OTEL_EVENTS_CORRELATION_KEY, exc, DEFAULT_CORRELATION_KEY)
        return DEFAULT_CORRELATION_KEY


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    _logger.warning("%s=%r is not true or false; using %s", name, value, str(default).lower())
    return default


def _resolve_insecure(insecure: bool | None, endpoint: str | None, signal_variable: str) -> bool | None:
    if insecure is not None:
        return insecure
    if os.environ.get(signal_variable) is not None or os.environ.get(OTEL_EXPORTER_OTLP_INSECURE) is not None:
        return None  # the exporter reads the variable itself
    effective = endpoint or os.environ.get(OTEL_EXPORTER_OTLP_ENDPOINT, "")
    if effective.lower().startswith("https://"):
        return None  # the exporter turns TLS on for https endpoints
    return True


def _build_resource(service_name: str | None, extra: Mapping[str, str | bool | int | float] | None) -> Resource:
    attributes: dict[str, str | bool | int | float] = dict(extra or {})
    if service_name is not None:
        attributes[SERVICE_NAME] = service_name
    resource = Resource.create(attributes)  # merges OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME underneath
    if SERVICE_INSTANCE_ID not in resource.attributes:
        resource = resource.merge(Resource({SERVICE_INSTANCE_ID: str(uuid.uuid4())}))
    return resource


def _set_global_providers(
    tracer_provider: TracerProvider, logger_provider: LoggerProvider, meter_provider: MeterProvider
) -> None:
    # The OpenTelemetry globals can be set only once per process; a second configure() keeps the first
    # globals (otel_events' own helpers still follow the newest configure()).
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(tracer_provider)
    else:
        _logger.warning("a global tracer provider is already set; configure() leaves it in place")
    if isinstance(_logs.get_logger_provider(), ProxyLoggerProvider):
        _logs.set_logger_provider(logger_provider)
    if isinstance(metrics.get_meter_provider(), _ProxyMeterProvider):
        metrics.set_meter_provider(meter_provider)


class _SkipPipelineLoggers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(_UNBRIDGED_LOGGER_PREFIXES)


def _bridge_logging(logger_provider: LoggerProvider, level: int) -> logging.Handler:
    with warnings.catch_warnings():
        # The SDK's handler is deprecated in favour of an instrumentation package we do not depend on.
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(level=level, logger_provider=logger_provider)
    handler.addFilter(_SkipPipelineLoggers())
    logging.getLogger().addHandler(handler)
    return handler
