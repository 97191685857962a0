"""``@traced_event``: a span (and optionally start / complete / error event records) around a function."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar, overload

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import Status, StatusCode

from otel_events.sdk import active
from otel_events.sdk.events import emit_event

F = TypeVar("F", bound=Callable[..., Any])

START_SUFFIX = ".start"
COMPLETE_SUFFIX = ".complete"
ERROR_SUFFIX = ".error"


class _Recorder:
    """Span and event bookkeeping shared by the sync and async wrappers."""

    def __init__(self, name: str, emit_logs: bool) -> None:
        self.name = name
        self.emit_logs = emit_logs

    def started(self) -> float:
        if self.emit_logs:
            emit_event(self.name + START_SUFFIX)
        return time.perf_counter()

    def completed(self, started: float) -> None:
        if self.emit_logs:
            emit_event(self.name + COMPLETE_SUFFIX, {"duration_ms": _elapsed_ms(started)})

    def failed(self, span: trace.Span, started: float, exc: BaseException) -> None:
        span.record_exception(exc, escaped=True)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        if self.emit_logs:
            emit_event(
                self.name + ERROR_SUFFIX,
                {
                    "duration_ms": _elapsed_ms(started),
                    "exception.type": type(exc).__qualname__,
                    "exception.message": str(exc),
                },
                severity=SeverityNumber.ERROR,
            )


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _wrap(func: F, name: str | None, emit_logs: bool) -> F:
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise TypeError(f"traced_event does not support generator functions: {func.__qualname__}")
    recorder = _Recorder(name or func.__qualname__, emit_logs)

    def span_context() -> Any:
        # Exceptions are recorded by the recorder (once, with the event log); the span must not do it again.
        return active.tracer().start_as_current_span(
            recorder.name, record_exception=False, set_status_on_exception=False
        )

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            with span_context() as span:
                started = recorder.started()
                try:
                    result = await func(*args, **kwargs)
                except Exception as exc:
                    recorder.failed(span, started, exc)
                    raise
                recorder.completed(started)
                return result

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with span_context() as span:
            started = recorder.started()
            try:
                result = func(*args, **kwargs)
            except Exception as exc:
                recorder.failed(span, started, exc)
                raise
            recorder.completed(started)
            return result

    return wrapper  # type: ignore[return-value]


@overload
def traced_event(name: F, *, emit_logs: bool = False) -> F: ...


@overload
def traced_event(name: str | None = None, *, emit_logs: bool = False) -> Callable[[F], F]: ...


def traced_event(name: str | F | None = None, *, emit_logs: bool = False) -> F | Callable[[F], F]:
    """Trace each call of a sync or async function as a span named ``name`` (default: the function's name).

    On failure the span gets status ERROR and the exception as an ``exception`` event, and the exception is
    re-raised. With ``emit_logs`` the call also emits ``<name>.start``, ``<name>.complete`` and (at severity
    ERROR) ``<name>.error`` event records carrying ``duration_ms``. Usable as ``@traced_event`` or
    ``@traced_event("name")``.

    Args:
        name: Span name.
        emit_logs: Also emit start / complete / error event log records.

    Returns:
        The decorator (or the decorated function when used without parentheses).

    Raises:
        ValueError: ``name`` is an empty string.
        TypeError: the function is a (sync or async) generator function.
    """
    if callable(name):
        return _wrap(name, None, emit_logs)
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"traced_event name must be a non-empty string, got {name!r}")

    def decorator(func: F) -> F:
        return _wrap(func, name, emit_logs)

    return decorator
