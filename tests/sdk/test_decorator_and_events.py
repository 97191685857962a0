"""traced_event, emit_event and correlation through otel_events.testing.capture()."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import StatusCode

import otel_events
from otel_events.classify import Category
from otel_events.testing import capture


def test_sync_function_gets_a_span() -> None:
    with capture() as cap:

        @otel_events.traced_event("load_user")
        def load(user_id: str) -> str:
            return user_id.upper()

        assert load("u1") == "U1"
    (span,) = cap.spans
    assert span.name == "load_user"
    assert span.end_time > span.start_time
    assert span.status.status_code is StatusCode.UNSET
    assert cap.logs == ()  # emit_logs is off by default


def test_bare_decorator_uses_the_qualified_name() -> None:
    with capture() as cap:

        @otel_events.traced_event
        def refresh_cache() -> int:
            return 1

        refresh_cache()
    assert cap.spans[0].name.endswith("refresh_cache")
    assert cap.categories()[cap.spans[0].name] is Category.PERFORMANCE


def test_failure_sets_error_records_exception_and_reraises() -> None:
    with capture() as cap:

        @otel_events.traced_event("charge", emit_logs=True)
        def charge() -> None:
            raise ValueError("card declined")

        with pytest.raises(ValueError, match="card declined"):
            charge()
    (span,) = cap.spans
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ValueError: card declined"
    assert [event.name for event in span.events] == ["exception"]
    assert span.attributes["otel_events.category"] == "critical"
    start, error = cap.logs
    assert start.log_record.event_name == "charge.start"
    assert error.log_record.event_name == "charge.error"
    assert error.log_record.severity_number is SeverityNumber.ERROR
    assert error.log_record.attributes["exception.type"] == "ValueError"
    assert error.log_record.attributes["duration_ms"] >= 0
    assert error.log_record.attributes["otel_events.category"] == "critical"


def test_async_function_success_and_failure() -> None:
    with capture() as cap:

        @otel_events.traced_event("fetch", emit_logs=True)
        async def fetch(fail: bool) -> str:
            await asyncio.sleep(0)
            if fail:
                raise TimeoutError("upstream")
            return "ok"

        assert asyncio.run(fetch(False)) == "ok"
        with pytest.raises(TimeoutError):
            asyncio.run(fetch(True))
    ok, failed = cap.spans
    assert ok.status.status_code is StatusCode.UNSET
    assert failed.status.status_code is StatusCode.ERROR
    names = [log.log_record.event_name for log in cap.logs]
    assert names == ["fetch.start", "fetch.complete", "fetch.start", "fetch.error"]
    # The event records belong to the span's trace.
    assert cap.logs[1].log_record.trace_id == ok.context.trace_id


def test_decorator_rejects_generators_and_empty_names() -> None:
    with pytest.raises(TypeError, match="generator"):

        @otel_events.traced_event("gen")
        def gen():
            yield 1

    with pytest.raises(ValueError, match="non-empty"):
        otel_events.traced_event("")


def test_emit_event_and_validation() -> None:
    with capture() as cap:
        otel_events.emit_event("session_start", {"user.id": "u1"}, body="hi")
        otel_events.emit_event("disk", severity=17)
    first, second = cap.logs
    assert first.log_record.event_name == "session_start"
    assert first.log_record.severity_text == "INFO"
    assert second.log_record.severity_number is SeverityNumber.ERROR
    assert cap.categories() == {"session_start": Category.USER_ACTIVITY, "disk": Category.CRITICAL}
    # An event happens when it is emitted: its time is set, not left for the receiver to guess.
    assert first.log_record.timestamp is not None and first.log_record.timestamp > 0
    with pytest.raises(ValueError, match="event name"):
        otel_events.emit_event("")
    with pytest.raises(ValueError, match="severity"):
        otel_events.emit_event("x", severity=99)


def test_correlation_context_manager() -> None:
    with capture() as cap:
        with otel_events.correlation("req-1") as correlation_id:
            otel_events.emit_event("inside")
        otel_events.emit_event("outside")
        with otel_events.correlation() as generated:
            otel_events.emit_event("generated")
    assert correlation_id == "req-1"
    assert len(generated) == 32
    ids = [item.correlation_id for item in cap.items()]
    assert ids == ["req-1", None, generated]
    with pytest.raises(ValueError, match="correlation id"), otel_events.correlation(""):
        pass


def test_correlation_uses_the_active_key() -> None:
    with capture(correlation_key="order.id") as cap, otel_events.correlation("o-1"):
        otel_events.emit_event("x")
    assert cap.items()[0].correlation_id == "o-1"
