"""AdmissionControl: pressure from the WAL and in-flight budgets, priority shedding by category, refusals."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from otel_events.classify import Category, Classifier, Decision
from otel_events.errors import ConfigError
from otel_events.receiver.admission import AdmissionControl, SheddingPolicy
from otel_events.receiver.commands import format_status_table
from otel_events.receiver.config import MIB, load_config
from tests.receiver.otlp_requests import attribute, make_span, trace_request

BUDGET = 1_000_000


class CountingClassifier:
    """The real classifier, counting how often it is asked (to prove idle requests are never classified)."""

    def __init__(self) -> None:
        self.calls = 0
        self._classifier = Classifier()

    def classify(self, name: str | None, attributes: Mapping[str, object] | None = None, **kwargs: object) -> Decision:
        self.calls += 1
        return self._classifier.classify(name, attributes, **kwargs)  # type: ignore[arg-type]


class Budget:
    """WAL bytes as a settable number, so a test can put the receiver at any pressure."""

    def __init__(self) -> None:
        self.wal_bytes = 0

    def at(self, pressure: float) -> None:
        self.wal_bytes = int(pressure * BUDGET)


@pytest.fixture
def budget() -> Budget:
    return Budget()


@pytest.fixture
def classifier() -> CountingClassifier:
    return CountingClassifier()


@pytest.fixture
def control(budget: Budget, classifier: CountingClassifier) -> AdmissionControl:
    return AdmissionControl(
        wal_bytes=lambda: budget.wal_bytes, wal_max_bytes=BUDGET, inflight_max_bytes=BUDGET, classifier=classifier
    )


def mixed_spans() -> bytes:
    """One span of each category: two stamped by an SDK, three left for the receiver's classifier."""
    failed = make_span("checkout")
    failed.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR))
    return trace_request(
        [
            make_span("debug"),  # name.exact -> debug
            make_span("anything", otel_events__category="system"),  # explicit
            make_span("session_start"),  # name.exact -> user_activity
            make_span("render", otel_events__category="performance"),  # explicit
            failed,  # status.error -> critical
        ]
    ).SerializeToString()


def span_names(payload: bytes) -> list[str]:
    request = ExportTraceServiceRequest.FromString(payload)
    return [span.name for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def test_below_the_lowest_threshold_requests_pass_untouched_and_unclassified(
    control: AdmissionControl, budget: Budget, classifier: CountingClassifier
) -> None:
    payload = mixed_spans()
    budget.at(0.49)
    admission = control.admit("traces", payload, items=5)
    assert admission.payload is payload
    assert (admission.accepted, admission.rejected, admission.retry_after, admission.message) == (5, 0, None, "")
    assert classifier.calls == 0
    assert control.admit("traces", payload).accepted == 5  # counted when the caller does not say


@pytest.mark.parametrize(
    ("pressure", "kept", "refused"),
    [
        (0.50, ["anything", "session_start", "render", "checkout"], {"debug": 1}),
        (0.70, ["session_start", "render", "checkout"], {"debug": 1, "system": 1}),
        (0.85, ["checkout"], {"debug": 1, "system": 1, "user_activity": 1, "performance": 1}),
    ],
)
def test_categories_are_refused_in_priority_order(
    control: AdmissionControl, budget: Budget, pressure: float, kept: list[str], refused: dict[str, int]
) -> None:
    budget.at(pressure)
    admission = control.admit("traces", mixed_spans(), items=5)
    assert admission.retry_after is None
    assert span_names(admission.payload) == kept
    assert dict(admission.rejected_by_category) == refused
    assert (admission.accepted, admission.rejected) == (len(kept), sum(refused.values()))
    assert admission.message.startswith(f"receiver under load ({pressure:.0%} of its budget): refused")
    for category, count in refused.items():
        assert f"{category} ({count})" in admission.message
    assert control.snapshot()["shed"] == {category.value: refused.get(category.value, 0) for category in Category}


def test_kept_items_are_written_byte_for_byte(control: AdmissionControl, budget: Budget) -> None:
    original = ExportTraceServiceRequest.FromString(mixed_spans())
    budget.at(0.7)
    admitted = ExportTraceServiceRequest.FromString(control.admit("traces", original.SerializeToString()).payload)
    assert admitted.resource_spans[0].resource == original.resource_spans[0].resource
    assert (
        list(admitted.resource_spans[0].scope_spans[0].spans)
        == list(original.resource_spans[0].scope_spans[0].spans)[2:]
    )


def test_at_full_pressure_the_whole_request_is_refused_with_a_retry_delay(
    control: AdmissionControl, budget: Budget, classifier: CountingClassifier
) -> None:
    budget.at(1.0)
    admission = control.admit("traces", mixed_spans(), items=5)
    assert (admission.payload, admission.accepted, admission.retry_after) == (b"", 0, 1.0)
    assert "retry in 1 s" in admission.message
    assert classifier.calls == 0  # a full receiver does not spend time sorting
    assert control.snapshot()["refused_requests"] == 1


def test_a_request_whose_every_item_is_refused_gets_a_retry_delay_not_a_partial_success(
    control: AdmissionControl, budget: Budget
) -> None:
    budget.at(0.6)
    payload = trace_request([make_span("debug"), make_span("test_event")]).SerializeToString()
    admission = control.admit("traces", payload, items=2)
    assert (admission.payload, admission.accepted, admission.retry_after) == (b"", 0, 1.0)
    assert dict(admission.rejected_by_category) == {"debug": 2}
    assert "refused all 2 spans (debug (2))" in admission.message
    assert control.snapshot()["shed"]["debug"] == 2


def test_a_request_that_would_overflow_the_wal_is_refused_below_full_pressure(budget: Budget) -> None:
    never_shed = SheddingPolicy({category: 1.0 for category in Category})
    control = AdmissionControl(
        wal_bytes=lambda: budget.wal_bytes, wal_max_bytes=BUDGET, inflight_max_bytes=BUDGET, policy=never_shed
    )
    payload = mixed_spans()
    budget.wal_bytes = BUDGET - len(payload)
    assert control.admit("traces", payload, items=5).payload is payload
    budget.wal_bytes += 1
    admission = control.admit("traces", payload, items=5)
    assert (admission.payload, admission.retry_after) == (b"", 1.0)


def test_in_flight_bytes_count_as_pressure(control: AdmissionControl, budget: Budget) -> None:
    budget.at(0.0)
    with control.in_flight(BUDGET * 3 // 4):
        assert control.pressure() == pytest.approx(0.75)
        assert control.snapshot()["inflight_bytes"] == BUDGET * 3 // 4
        assert span_names(control.admit("traces", mixed_spans()).payload) == ["session_start", "render", "checkout"]
    with control.in_flight(BUDGET):
        refused = control.admit("traces", mixed_spans())
        assert refused.retry_after == 1.0 and "memory budget for requests in flight is used up" in refused.message
    assert control.pressure() == 0.0


def test_log_records_are_sorted_by_severity_event_name_and_explicit_category(
    control: AdmissionControl, budget: Budget
) -> None:
    records = [
        LogRecord(event_name="debug", severity_number=5),
        LogRecord(severity_number=17, body=None),  # ERROR -> critical
        LogRecord(event_name="user_activity", attributes=[attribute("otel_events.category", "debug")]),
        LogRecord(event_name="stats"),
    ]
    payload = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=records)])]
    ).SerializeToString()
    budget.at(0.72)
    admission = control.admit("logs", payload)
    kept = ExportLogsServiceRequest.FromString(admission.payload).resource_logs[0].scope_logs[0].log_records
    assert [record.severity_number for record in kept] == [17]
    assert dict(admission.rejected_by_category) == {"debug": 2, "system": 1}
    assert "refused 3 log records" in admission.message


def test_data_points_are_sorted_by_their_category_or_their_metric_name(
    control: AdmissionControl, budget: Budget
) -> None:
    def gauge(name: str, *points: NumberDataPoint) -> Metric:
        return Metric(name=name, gauge=Gauge(data_points=points))

    stamped = NumberDataPoint(as_int=1, attributes=[attribute("otel_events.category", "critical")])
    payload = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                scope_metrics=[
                    ScopeMetrics(metrics=[gauge("debug", NumberDataPoint(as_int=1))]),
                    ScopeMetrics(metrics=[gauge("cache_metrics", NumberDataPoint(as_int=2)), gauge("stats", stamped)]),
                ]
            )
        ]
    ).SerializeToString()
    budget.at(0.8)
    admission = control.admit("metrics", payload)
    request = ExportMetricsServiceRequest.FromString(admission.payload)
    scopes = request.resource_metrics[0].scope_metrics
    assert [[metric.name for metric in scope.metrics] for scope in scopes] == [["cache_metrics", "stats"]]
    assert dict(admission.rejected_by_category) == {"debug": 1}
    assert admission.accepted == 2


def test_bad_policies_and_signals_are_refused_clearly(control: AdmissionControl) -> None:
    with pytest.raises(ValueError, match="missing for debug"):
        SheddingPolicy({category: 0.5 for category in Category if category is not Category.DEBUG})
    with pytest.raises(ValueError, match="critical items must be the last refused"):
        SheddingPolicy({**{category: 0.5 for category in Category}, Category.CRITICAL: 0.4})
    with pytest.raises(ValueError, match=r"fractions in \(0, 1\]"):
        SheddingPolicy({category: 1.5 for category in Category})
    with pytest.raises(ValueError, match="unknown signal 'profiles'"):
        control.admit("profiles", b"")


def test_budgets_are_configurable_and_checked(tmp_path) -> None:
    config = load_config({"inflight_max_bytes": 64 * MIB}, environ={"OTEL_EVENTS_WAL_MAX_BYTES": str(512 * MIB)})
    assert (config.inflight_max_bytes, config.wal_max_bytes) == (64 * MIB, 512 * MIB)
    assert load_config(environ={"OTEL_EVENTS_INFLIGHT_MAX_BYTES": str(99 * MIB)}).inflight_max_bytes == 99 * MIB
    with pytest.raises(ConfigError, match=r"in-flight budget .* must be at least twice the max message size"):
        load_config({"inflight_max_bytes": 16 * MIB}, environ={})
    toml = tmp_path / "receiver.toml"
    toml.write_text("[receiver]\ninflight_max_bytes = 'lots'\n")
    with pytest.raises(ConfigError, match="inflight_max_bytes must be a number"):
        load_config(config_file=toml, environ={})


def test_status_table_shows_pressure_and_shed_items_per_category() -> None:
    table = format_status_table(
        {"pressure": 0.734, "inflight_bytes": 4096, "shed": {"critical": 0, "system": 12, "debug": 40}}
    )
    lines = table.splitlines()
    assert any(line.split() == ["pressure", "73%"] for line in lines)
    assert any(line.split() == ["shed:", "debug", "40"] for line in lines)
    assert any(line.split() == ["shed:", "critical", "0"] for line in lines)
