"""configure() end to end against an in-test OTLP/gRPC collector, and its argument / environment handling."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME

import otel_events
from otel_events.errors import RulesError
from otel_events.sdk import active
from otel_events.sdk.environment_variables import (
    OTEL_EVENTS_CORRELATION_KEY,
    OTEL_EVENTS_LOGGING_BRIDGE,
    OTEL_EVENTS_RULES,
)
from tests.sdk.otlp_sink import OtlpSink, any_value, attributes


def resource_attributes(request) -> dict[str, object]:
    for field in ("resource_spans", "resource_logs", "resource_metrics"):
        if hasattr(request, field):
            return attributes(getattr(request, field)[0].resource.attributes)
    raise AssertionError(f"not an OTLP export request: {type(request).__name__}")


def test_end_to_end_traces_logs_and_metrics(otlp_sink: OtlpSink, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[names]\n"checkout.pay" = "user_activity"\n')
    telemetry = otel_events.configure(
        service_name="shop",
        endpoint=otlp_sink.endpoint,
        rules=rules,
        resource_attributes={"deployment.environment": "test"},
        set_global=False,
    )

    @otel_events.traced_event("checkout.pay", emit_logs=True)
    def pay(amount: int) -> int:
        return amount * 2

    with otel_events.correlation("order-1"):
        assert pay(21) == 42
        otel_events.emit_event("cache_metrics", {"hits": 3})
    telemetry.shutdown()
    telemetry.shutdown()  # idempotent

    (span,) = otlp_sink.spans()
    span_attrs = attributes(span.attributes)
    assert span.name == "checkout.pay"
    assert (span_attrs["otel_events.category"], span_attrs["otel_events.rule"]) == ("user_activity", "name.exact")
    assert span_attrs["otel_events.correlation_id"] == "order-1"
    names = [record.event_name for record in otlp_sink.log_records()]
    assert names == ["checkout.pay.start", "checkout.pay.complete", "cache_metrics"]
    assert all(attributes(r.attributes)["otel_events.correlation_id"] == "order-1" for r in otlp_sink.log_records())
    resource = resource_attributes(otlp_sink.traces[0])
    assert resource[SERVICE_NAME] == "shop"
    assert resource["deployment.environment"] == "test"
    assert len(str(resource[SERVICE_INSTANCE_ID])) == 36
    assert resource_attributes(otlp_sink.logs[0])[SERVICE_INSTANCE_ID] == resource[SERVICE_INSTANCE_ID]
    assert "otel_events.classified" in otlp_sink.metric_names()
    classified = [
        (attributes(point.attributes), point.as_int)
        for request in otlp_sink.metrics
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "otel_events.classified"
        for point in metric.sum.data_points
    ]
    assert ({"category": "user_activity", "rule": "name.exact", "signal": "span"}, 1) in classified
    assert active.current() is None  # helpers fall back to the globals after shutdown


def test_environment_is_honoured_and_arguments_win(otlp_sink: OtlpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=payments,service.instance.id=fixed-1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{otlp_sink.endpoint}")
    monkeypatch.setenv(OTEL_EVENTS_CORRELATION_KEY, "order.id")
    with otel_events.configure(set_global=False) as telemetry:
        assert telemetry.resource.attributes[SERVICE_NAME] == "from-env"
        assert telemetry.resource.attributes["team"] == "payments"
        assert telemetry.resource.attributes[SERVICE_INSTANCE_ID] == "fixed-1"
        with otel_events.correlation("o-9"):
            otel_events.emit_event("x")
    (record,) = otlp_sink.log_records()
    assert attributes(record.attributes)["otel_events.correlation_id"] == "o-9"
    with otel_events.configure(service_name="from-arg", endpoint=otlp_sink.endpoint, set_global=False) as telemetry:
        assert telemetry.resource.attributes[SERVICE_NAME] == "from-arg"


def test_bad_environment_values_warn_and_fall_back(
    otlp_sink: OtlpSink, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(OTEL_EVENTS_RULES, str(tmp_path / "missing.toml"))
    monkeypatch.setenv(OTEL_EVENTS_CORRELATION_KEY, "bad key")
    monkeypatch.setenv(OTEL_EVENTS_LOGGING_BRIDGE, "maybe")
    with caplog.at_level(logging.WARNING, logger="otel_events.sdk"):
        telemetry = otel_events.configure(service_name="s", endpoint=otlp_sink.endpoint, set_global=False)
    telemetry.shutdown()
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert OTEL_EVENTS_RULES in messages and "default rules" in messages
    assert OTEL_EVENTS_CORRELATION_KEY in messages
    assert OTEL_EVENTS_LOGGING_BRIDGE in messages
    assert telemetry.classifier.classify("health_check").rule == "name.exact"  # packaged defaults in use
    assert telemetry._active.correlation_key == "correlation.id"
    assert telemetry._logging_handler is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"service_name": ""}, "service_name"),
        ({"endpoint": "no-port"}, "endpoint"),
        ({"endpoint": "ftp://host:1"}, "endpoint"),
        ({"endpoint": "host :1"}, "whitespace"),
        ({"insecure": "yes"}, "insecure"),
        ({"correlation_key": "a=b"}, "correlation key"),
        ({"metric_export_interval_millis": 0}, "metric_export_interval_millis"),
        ({"headers": {"a": 1}}, "headers"),
        ({"rules": 42}, "rules"),
    ],
)
def test_bad_explicit_arguments_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        otel_events.configure(set_global=False, **kwargs)


def test_bad_rules_file_argument_raises_rules_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[names\n")
    with pytest.raises(RulesError, match=r"rules\.toml"):
        otel_events.configure(rules=rules, set_global=False)


def test_logging_bridge_exports_stdlib_records(otlp_sink: OtlpSink) -> None:
    telemetry = otel_events.configure(
        service_name="s", endpoint=otlp_sink.endpoint, logging_bridge=True, logging_level=logging.INFO, set_global=False
    )
    log = logging.getLogger("test.configure.bridge")
    log.setLevel(logging.INFO)
    log.error("payment failed for order %s", "o-1")
    logging.getLogger("opentelemetry.test").error("not bridged: pipeline logger")
    telemetry.shutdown()
    assert telemetry._logging_handler not in logging.getLogger().handlers
    bodies = [any_value(r.body) for r in otlp_sink.log_records()]
    assert bodies == ["payment failed for order o-1"]
    (record,) = otlp_sink.log_records()
    assert attributes(record.attributes)["otel_events.category"] == "critical"
