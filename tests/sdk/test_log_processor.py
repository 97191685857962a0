"""EventLogProcessor on a real LoggerProvider."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from opentelemetry import baggage, context
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_events.classify import Classifier, Scrubber
from otel_events.sdk import EventLogProcessor
from otel_events.sdk.sequence import process_stream


@dataclass
class Pipeline:
    provider: LoggerProvider
    exporter: InMemoryLogRecordExporter
    processor: EventLogProcessor

    @property
    def logger(self):
        return self.provider.get_logger("test")

    def only_record(self):
        logs = self.exporter.get_finished_logs()
        assert len(logs) == 1
        return logs[0].log_record


def build(**kwargs) -> Pipeline:
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
    exporter = InMemoryLogRecordExporter()
    processor = EventLogProcessor(SimpleLogRecordProcessor(exporter), meter_provider=meters, **kwargs)
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(processor)
    return Pipeline(provider, exporter, processor)


def category_and_rule(record) -> tuple[str, str]:
    return record.attributes["otel_events.category"], record.attributes["otel_events.rule"]


def test_stamps_by_event_name() -> None:
    pipe = build()
    pipe.logger.emit(event_name="session_start", body="hello", severity_number=SeverityNumber.INFO)
    record = pipe.only_record()
    assert category_and_rule(record) == ("user_activity", "name.exact")
    assert record.attributes["otel_events.stream_id"] == process_stream().stream_id
    assert record.attributes["otel_events.seq"] >= 1
    assert record.body == "hello"


def test_event_name_attribute_is_used_without_event_name() -> None:
    pipe = build()
    pipe.logger.emit(attributes={"event.name": "cache_metrics"}, body="x")
    assert category_and_rule(pipe.only_record()) == ("performance", "name.exact")


def test_error_severity_is_critical() -> None:
    pipe = build()
    pipe.logger.emit(event_name="session_start", severity_number=SeverityNumber.ERROR)
    assert category_and_rule(pipe.only_record()) == ("critical", "status.severity")


def test_warning_severity_is_not_critical() -> None:
    pipe = build()
    pipe.logger.emit(body="disk almost full", severity_number=SeverityNumber.WARN)
    assert category_and_rule(pipe.only_record()) == ("system", "default")


def test_correlation_from_attribute_and_from_baggage() -> None:
    pipe = build()
    pipe.logger.emit(event_name="a", attributes={"correlation.id": "c-attr"})
    token = context.attach(baggage.set_baggage("correlation.id", "c-bag"))
    try:
        pipe.logger.emit(event_name="b")
        pipe.logger.emit(event_name="c", attributes={"otel_events.correlation_id": "c-own"})
    finally:
        context.detach(token)
    pipe.logger.emit(event_name="d")
    ids = [r.log_record.attributes.get("otel_events.correlation_id") for r in pipe.exporter.get_finished_logs()]
    assert ids == ["c-attr", "c-bag", "c-own", None]


def test_scrubs_body_and_attributes() -> None:
    pipe = build()
    pipe.logger.emit(
        event_name="login",
        body="user ann logged in with password=hunter2",
        attributes={"auth_token": "abc", "user.name": "ann"},
    )
    record = pipe.only_record()
    assert "hunter2" not in record.body
    assert "[scrubbed: " in record.body
    assert record.attributes["auth_token"].startswith("[scrubbed: ")
    assert record.attributes["user.name"] == "ann"


def test_scrubs_structured_bodies_every_time() -> None:
    pipe = build()
    for _ in range(2):  # the second time exercises the clean-body memo path for unhashable bodies
        pipe.logger.emit(event_name="login", body={"password": "hunter2", "ok": True})
    for log in pipe.exporter.get_finished_logs():
        assert log.log_record.body["password"].startswith("[scrubbed: ")
        assert log.log_record.body["ok"] is True


def test_repeated_clean_body_is_kept_and_secret_body_always_scrubbed() -> None:
    pipe = build()
    for body in ("all good", "all good", "token=abc123", "token=abc123"):
        pipe.logger.emit(event_name="x", body=body)
    bodies = [log.log_record.body for log in pipe.exporter.get_finished_logs()]
    assert bodies[:2] == ["all good", "all good"]
    assert all("abc123" not in b for b in bodies[2:])


def test_allow_list_scrubber() -> None:
    pipe = build(scrubber=Scrubber(allow_keys=("auth_token",)))
    pipe.logger.emit(event_name="x", attributes={"auth_token": "visible"})
    assert pipe.only_record().attributes["auth_token"] == "visible"


def test_bridged_stdlib_logging_is_classified() -> None:
    from opentelemetry.sdk._logs import LoggingHandler

    pipe = build()
    with pytest.warns(DeprecationWarning):
        handler = LoggingHandler(logger_provider=pipe.provider)
    log = logging.getLogger("test.bridge")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.error("payment failed")
    finally:
        log.removeHandler(handler)
    assert category_and_rule(pipe.only_record()) == ("critical", "status.severity")


class ExplodingClassifier(Classifier):
    def classify(self, *args, **kwargs):
        raise RuntimeError("classifier bug")


def test_a_failing_classifier_never_reaches_the_app() -> None:
    pipe = build(classifier=ExplodingClassifier())
    pipe.logger.emit(event_name="x", body="b")
    pipe.logger.emit(event_name="y", body="b")
    logs = pipe.exporter.get_finished_logs()
    assert len(logs) == 2
    first, second = (log.log_record.attributes for log in logs)
    assert "otel_events.category" not in first
    assert second["otel_events.seq"] == first["otel_events.seq"] + 1
    assert pipe.processor.guard.errors == 2


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="LogRecordProcessor"):
        EventLogProcessor(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="correlation key"):
        EventLogProcessor(SimpleLogRecordProcessor(InMemoryLogRecordExporter()), correlation_key="a b")


def test_scrubs_structured_attribute_values() -> None:
    pipe = build()
    pipe.logger.emit(event_name="x", attributes={"request": {"password": "hunter2", "path": "/"}, "n": 1})
    record = pipe.only_record()
    assert record.attributes["request"]["password"].startswith("[scrubbed: ")
    assert record.attributes["request"]["path"] == "/"
    assert pipe.processor.guard.errors == 0
