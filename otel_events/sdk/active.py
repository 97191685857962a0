"""The telemetry set-up that ``emit_event``, ``traced_event`` and ``correlation`` use.

``configure()`` and ``testing.capture()`` activate their providers here, so the helpers reach them without
replacing the OpenTelemetry globals (which may be set only once per process); with nothing active the
helpers use the global providers, as any instrumentation library would.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from opentelemetry import _logs, trace

INSTRUMENTATION_SCOPE = "otel_events"


@dataclass(frozen=True, eq=False)
class ActiveTelemetry:
    """Providers (and the correlation key) the helpers should use while this set-up is active."""

    tracer_provider: trace.TracerProvider
    logger_provider: _logs.LoggerProvider
    correlation_key: str
    tracer: trace.Tracer = field(init=False)
    logger: _logs.Logger = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracer", self.tracer_provider.get_tracer(INSTRUMENTATION_SCOPE))
        object.__setattr__(self, "logger", self.logger_provider.get_logger(INSTRUMENTATION_SCOPE))


_stack: list[ActiveTelemetry] = []
_lock = threading.Lock()


def activate(telemetry: ActiveTelemetry) -> None:
    """Make ``telemetry`` the set-up the helpers use (until it is deactivated)."""
    with _lock:
        _stack.append(telemetry)


def deactivate(telemetry: ActiveTelemetry) -> None:
    """Stop using ``telemetry``; the previously active set-up (or the globals) applies again."""
    with _lock:
        if telemetry in _stack:
            _stack.remove(telemetry)


def current() -> ActiveTelemetry | None:
    """Return the most recently activated set-up, if any."""
    stack = _stack
    return stack[-1] if stack else None


def tracer() -> trace.Tracer:
    """Tracer of the active set-up, else of the global tracer provider."""
    telemetry = current()
    return telemetry.tracer if telemetry is not None else trace.get_tracer(INSTRUMENTATION_SCOPE)


def logger() -> _logs.Logger:
    """Logger of the active set-up, else of the global logger provider."""
    telemetry = current()
    return telemetry.logger if telemetry is not None else _logs.get_logger(INSTRUMENTATION_SCOPE)


def correlation_key() -> str | None:
    """Correlation key of the active set-up, if any."""
    telemetry = current()
    return telemetry.correlation_key if telemetry is not None else None
