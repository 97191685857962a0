"""EventSpanProcessor on a real TracerProvider, on both the private-hook path and the public-API path."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Status, StatusCode

from otel_events.classify import Classifier, Scrubber
from otel_events.sdk import EventSpanProcessor
from otel_events.sdk.metrics import CLASSIFICATION_ERRORS, CLASSIFIED
from otel_events.sdk.sequence import process_stream


@dataclass
class Pipeline:
    provider: TracerProvider
    exporter: InMemorySpanExporter
    processor: EventSpanProcessor
    metrics: InMemoryMetricReader

    @property
    def tracer(self):
        return self.provider.get_tracer("test")

    def only_span(self):
        spans = self.exporter.get_finished_spans()
        assert len(spans) == 1
        return spans[0]

    def metric_points(self, name: str) -> dict[tuple, int]:
        points: dict[tuple, int] = {}
        for rm in self.metrics.get_metrics_data().resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        for p in metric.data.data_points:
                            points[tuple(sorted(p.attributes.items()))] = p.value
        return points


def build(private: bool, **kwargs) -> Pipeline:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    exporter = InMemorySpanExporter()
    sampler = kwargs.pop("sampler", None)
    processor = EventSpanProcessor(
        SimpleSpanProcessor(exporter), meter_provider=meters, use_private_hook=private, **kwargs
    )
    provider = TracerProvider(shutdown_on_exit=False, sampler=sampler)
    provider.add_span_processor(processor)
    return Pipeline(provider, exporter, processor, reader)


@pytest.fixture(params=[True, False], ids=["private-hook", "public-api"])
def private(request) -> bool:
    return request.param


@pytest.fixture
def pipe(private: bool) -> Iterator[Pipeline]:
    yield build(private)


def test_private_hook_is_detected_on_the_verified_sdk() -> None:
    assert build(None).processor.uses_private_hook is True


def test_path_is_the_requested_one(pipe: Pipeline, private: bool) -> None:
    assert pipe.processor.uses_private_hook is private


def test_stamps_category_rule_stream_and_seq(pipe: Pipeline) -> None:
    with pipe.tracer.start_as_current_span("health_check", attributes={"http.route": "/health"}):
        pass
    attrs = pipe.only_span().attributes
    assert attrs["otel_events.category"] == "critical"
    assert attrs["otel_events.rule"] == "name.exact"
    assert attrs["otel_events.stream_id"] == process_stream().stream_id
    assert isinstance(attrs["otel_events.seq"], int) and attrs["otel_events.seq"] >= 1
    assert attrs["http.route"] == "/health"
    assert "otel_events.correlation_id" not in attrs


def test_consecutive_spans_get_consecutive_seq(pipe: Pipeline) -> None:
    for name in ("a", "b", "c"):
        pipe.tracer.start_span(name).end()
    seqs = [s.attributes["otel_events.seq"] for s in pipe.exporter.get_finished_spans()]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]


def test_keyword_and_default_rules(pipe: Pipeline) -> None:
    pipe.tracer.start_span("cache.lookup").end()
    pipe.tracer.start_span("checkout").end()
    first, second = pipe.exporter.get_finished_spans()
    assert (first.attributes["otel_events.category"], first.attributes["otel_events.rule"]) == (
        "performance",
        "keyword.performance",
    )
    assert (second.attributes["otel_events.category"], second.attributes["otel_events.rule"]) == ("system", "default")


def test_status_error_set_late_is_honoured(pipe: Pipeline) -> None:
    span = pipe.tracer.start_span("checkout")
    span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end()
    attrs = pipe.only_span().attributes
    assert (attrs["otel_events.category"], attrs["otel_events.rule"]) == ("critical", "status.error")


def test_exception_event_is_honoured(pipe: Pipeline) -> None:
    span = pipe.tracer.start_span("checkout")
    span.record_exception(RuntimeError("boom"))
    span.end()
    attrs = pipe.only_span().attributes
    assert (attrs["otel_events.category"], attrs["otel_events.rule"]) == ("critical", "status.exception")


def test_explicit_category_wins(pipe: Pipeline) -> None:
    pipe.tracer.start_span("health_check", attributes={"otel_events.category": "debug"}).end()
    attrs = pipe.only_span().attributes
    assert (attrs["otel_events.category"], attrs["otel_events.rule"]) == ("debug", "explicit")


def test_correlation_from_explicit_attributes(pipe: Pipeline) -> None:
    pipe.tracer.start_span("a", attributes={"correlation.id": "c-attr"}).end()
    pipe.tracer.start_span("b", attributes={"otel_events.correlation_id": "c-own", "correlation.id": "x"}).end()
    first, second = pipe.exporter.get_finished_spans()
    assert first.attributes["otel_events.correlation_id"] == "c-attr"
    assert second.attributes["otel_events.correlation_id"] == "c-own"


def test_correlation_from_baggage_captured_at_start(pipe: Pipeline) -> None:
    token = context.attach(baggage.set_baggage("correlation.id", "c-bag"))
    try:
        span = pipe.tracer.start_span("a")
    finally:
        context.detach(token)
    span.end()  # baggage is gone by now: the id must have been captured at start
    assert pipe.only_span().attributes["otel_events.correlation_id"] == "c-bag"
    assert pipe.processor._pending == {}


def test_explicit_attribute_beats_baggage(pipe: Pipeline) -> None:
    token = context.attach(baggage.set_baggage("correlation.id", "c-bag"))
    try:
        pipe.tracer.start_span("a", attributes={"correlation.id": "c-attr"}).end()
    finally:
        context.detach(token)
    assert pipe.only_span().attributes["otel_events.correlation_id"] == "c-attr"


def test_correlation_key_is_configurable(private: bool) -> None:
    pipe = build(private, correlation_key="order.id")
    token = context.attach(baggage.set_baggage("order.id", "o-1"))
    try:
        pipe.tracer.start_span("a").end()
    finally:
        context.detach(token)
    pipe.tracer.start_span("b", attributes={"order.id": "o-2"}).end()
    ids = [s.attributes["otel_events.correlation_id"] for s in pipe.exporter.get_finished_spans()]
    assert ids == ["o-1", "o-2"]


def test_scrubs_span_and_event_attributes(pipe: Pipeline) -> None:
    span = pipe.tracer.start_span("login", attributes={"password": "hunter2", "user.name": "ann"})
    span.add_event("retry", {"api_key": "abc123", "attempt": 2})
    span.end()
    exported = pipe.only_span()
    assert exported.attributes["password"] == "[scrubbed: password]"
    assert exported.attributes["user.name"] == "ann"
    event = exported.events[0]
    assert event.attributes["api_key"].startswith("[scrubbed: ")
    assert event.attributes["attempt"] == 2


def test_custom_scrubber_allow_list(private: bool) -> None:
    pipe = build(private, scrubber=Scrubber(allow_keys=("password",)))
    pipe.tracer.start_span("login", attributes={"password": "visible"}).end()
    assert pipe.only_span().attributes["password"] == "visible"


def test_unsampled_recording_span_takes_no_seq(private: bool) -> None:
    class RecordOnly(Sampler):
        def should_sample(self, *args, **kwargs) -> SamplingResult:
            return SamplingResult(Decision.RECORD_ONLY)

        def get_description(self) -> str:
            return "record-only"

    pipe = build(private, sampler=RecordOnly())
    before = process_stream().next_seq()
    pipe.tracer.start_span("a").end()
    assert process_stream().next_seq() == before + 1  # nothing taken in between


class ExplodingClassifier(Classifier):
    def classify(self, *args, **kwargs):
        raise RuntimeError("classifier bug")


def test_a_failing_classifier_never_reaches_the_app(private: bool, caplog: pytest.LogCaptureFixture) -> None:
    pipe = build(private, classifier=ExplodingClassifier())
    with caplog.at_level(logging.WARNING, logger="otel_events.sdk"):
        for _ in range(3):
            pipe.tracer.start_span("a").end()
    spans = pipe.exporter.get_finished_spans()
    assert len(spans) == 3  # still exported, with stream and seq but no category
    assert all("otel_events.seq" in s.attributes and "otel_events.category" not in s.attributes for s in spans)
    seqs = [s.attributes["otel_events.seq"] for s in spans]
    assert seqs == list(range(seqs[0], seqs[0] + 3))  # no gaps
    assert pipe.processor.guard.errors == 3
    assert len([r for r in caplog.records if "classifier bug" in (r.exc_text or "")]) == 1  # logged once
    assert pipe.metric_points(CLASSIFICATION_ERRORS)[(("signal", "span"),)] == 3


def test_classification_metrics(pipe: Pipeline) -> None:
    pipe.tracer.start_span("health_check").end()
    pipe.tracer.start_span("health_check").end()
    pipe.tracer.start_span("checkout").end()
    points = pipe.metric_points(CLASSIFIED)
    assert points[(("category", "critical"), ("rule", "name.exact"), ("signal", "span"))] == 2
    assert points[(("category", "system"), ("rule", "default"), ("signal", "span"))] == 1


def test_forwards_lifecycle_to_next_processor(pipe: Pipeline) -> None:
    assert pipe.processor.force_flush() is True
    pipe.provider.shutdown()
    pipe.tracer.start_span("after-shutdown").end()
    assert pipe.exporter.get_finished_spans() == ()


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="SpanProcessor"):
        EventSpanProcessor(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="correlation key"):
        EventSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()), correlation_key="")


def test_private_hook_stamps_the_span_itself() -> None:
    pipe = build(True)
    span = pipe.tracer.start_span("a")
    span.end()
    exported = pipe.only_span()
    # No copy was made: the exported span shares the live span's attribute mapping, stamped in _on_ending.
    assert exported._attributes is span._attributes
    assert span.attributes["otel_events.seq"] == exported.attributes["otel_events.seq"]


def test_public_api_path_hands_on_a_stamped_copy() -> None:
    pipe = build(False)
    span = pipe.tracer.start_span("a")
    span.end()
    assert "otel_events.seq" not in span.attributes
    assert "otel_events.seq" in pipe.only_span().attributes
