"""The per-item shortcuts of the processors give the same results as the general code they skip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentelemetry import baggage, context
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision as SamplingDecision
from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult

from otel_events.classify import Classifier
from otel_events.sdk import EventSpanProcessor
from otel_events.sdk.correlation import BAGGAGE_CONTEXT_KEY, current_context_reader
from otel_events.sdk.metrics import CLASSIFIED

RULES = """
[[attribute_rules]]
name = "vip"
key = "tenant.tier"
value = "^vip$"
category = "critical"
"""

# Names covering every name step (exact map, keywords, default) and keys covering every attribute step.
NAMES = (None, "", "checkout", "health_check", "cache.lookup", "user.login", "device.sync", "dev.tools", "GET /x", "a")
KEYS = (
    "http.route",
    "http.status_code",
    "error",
    "exception.type",
    "metrics",
    "user.id",
    "session.id",
    "otel_events.category",
    "otel_events.seq",
    "event.name",
    "tenant.tier",
)
VALUES = ("x", "vip", "false", "debug", "critical", 0, 1, True, False)


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Classifier, Classifier]:
    path = tmp_path_factory.mktemp("rules") / "rules.toml"
    path.write_text(RULES)
    return Classifier(), Classifier.from_file(path)


@settings(max_examples=400, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    attributes=st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3),
)
@example(name="a", attributes={"http.route": "x", "tenant.tier": "vip"})
@example(name="a", attributes={"exception.type": "x"})
@example(name="a", attributes={"otel_events.category": "debug"})
def test_classify_plain_agrees_with_classify(
    classifiers: tuple[Classifier, Classifier], name: str | None, attributes: dict[str, object]
) -> None:
    for classifier in classifiers:
        for _ in range(2):  # the second call is answered from the caches the first one filled
            plain = classifier.classify_plain(name, attributes)
            assert plain is None or plain == classifier.classify(name, attributes)


def test_classify_plain_declines_items_whose_keys_matter() -> None:
    classifier = Classifier()
    assert classifier.classify_plain("checkout", {"http.route": "/cart"}) == classifier.classify("checkout")
    for key in ("error", "exception.type", "user.id", "otel_events.category"):
        assert classifier.classify_plain("checkout", {"http.route": "/cart", key: "x"}) is None
    assert classifier.classify_plain("", {"event.name": "health_check"}) is None
    assert classifier.classify_plain(None, {"code.lineno": 3}) == classifier.classify(None, {"code.lineno": 3})


def test_classify_plain_declines_user_attribute_rule_keys(classifiers: tuple[Classifier, Classifier]) -> None:
    default, with_rules = classifiers
    assert with_rules.classify_plain("a", {"tenant.tier": "vip"}) is None
    assert with_rules.classify("a", {"tenant.tier": "vip"}).rule == "attribute.rule.vip"
    assert default.classify_plain("a", {"tenant.tier": "vip"}) == default.classify("a")


def test_classify_plain_follows_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[names]\ncheckout = "performance"\n')
    classifier = Classifier.from_file(path)
    assert classifier.classify_plain("checkout", {}).category.value == "performance"
    path.write_text('[names]\ncheckout = "debug"\n')
    classifier.reload()
    assert classifier.classify_plain("checkout", {}).category.value == "debug"


def test_current_context_reader_and_baggage_key_match_the_api() -> None:
    read = current_context_reader()
    token = context.attach(baggage.set_baggage("correlation.id", "c-1"))
    try:
        assert read() is context.get_current()
        assert read().get(BAGGAGE_CONTEXT_KEY) == baggage.get_all()
    finally:
        context.detach(token)
    assert read() is context.get_current()
    assert Context().get(BAGGAGE_CONTEXT_KEY) is None


def build(processor_wrapper: type[SpanProcessor] | None = None, **kwargs):
    reader = InMemoryMetricReader()
    exporter = InMemorySpanExporter()
    processor = EventSpanProcessor(
        SimpleSpanProcessor(exporter),
        meter_provider=MeterProvider(metric_readers=[reader], shutdown_on_exit=False),
        use_private_hook=True,
        **kwargs,
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor if processor_wrapper is None else processor_wrapper(processor))
    return provider.get_tracer("test"), exporter, reader


def test_attribute_steps_still_decide_on_the_fast_path() -> None:
    tracer, exporter, _ = build()
    tracer.start_span("checkout", attributes={"http.route": "/cart"}).end()
    tracer.start_span("checkout", attributes={"http.route": "/cart", "user.id": "u1"}).end()
    tracer.start_span("checkout", attributes={"http.route": "/cart", "error": False}).end()
    decided = [
        (s.attributes["otel_events.category"], s.attributes["otel_events.rule"]) for s in exporter.get_finished_spans()
    ]
    assert decided == [("system", "default"), ("user_activity", "attribute.user_activity"), ("system", "default")]


class PublicHooksOnly(SpanProcessor):
    """A wrapper that forwards only the public hooks, so the wrapped processor never sees ``_on_ending``."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner

    def on_start(self, span, parent_context=None) -> None:
        self.inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self.inner.on_end(span)


def test_spans_are_stamped_when_on_ending_is_bypassed() -> None:
    tracer, exporter, _ = build(PublicHooksOnly)
    tracer.start_span("health_check").end()
    attrs = exporter.get_finished_spans()[0].attributes
    assert (attrs["otel_events.category"], attrs["otel_events.rule"]) == ("critical", "name.exact")
    assert "otel_events.seq" in attrs


def test_counts_stay_right_across_rule_reloads(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[names]\ncheckout = "performance"\n')
    classifier = Classifier.from_file(path)
    tracer, exporter, reader = build(classifier=classifier)
    for _ in range(3):
        tracer.start_span("checkout").end()
        classifier.reload()  # new Decision objects each time: the tally cache must not confuse them
    points = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == CLASSIFIED:
                    for point in metric.data.data_points:
                        points[(point.attributes["category"], point.attributes["rule"])] = point.value
    assert points == {("performance", "name.exact"): 3}
    assert len(exporter.get_finished_spans()) == 3


class RecordOnlyByName(Sampler):
    """Records spans named ``record-only`` without sampling them; samples every other span."""

    def should_sample(self, parent_context, trace_id, name, *args, **kwargs) -> SamplingResult:
        sampled = name != "record-only"
        return SamplingResult(SamplingDecision.RECORD_AND_SAMPLE if sampled else SamplingDecision.RECORD_ONLY)

    def get_description(self) -> str:
        return "record-only-by-name"


def test_direct_downstream_on_end_keeps_correlations_and_unsampled_spans_right() -> None:
    exporter = InMemorySpanExporter()
    processor = EventSpanProcessor(SimpleSpanProcessor(exporter), use_private_hook=True)
    provider = TracerProvider(shutdown_on_exit=False, sampler=RecordOnlyByName())
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    tracer.start_span("first").end()  # after this span the chain calls the downstream on_end directly
    token = context.attach(baggage.set_baggage("correlation.id", "c-1"))
    try:
        unsampled = tracer.start_span("record-only")
        sampled = tracer.start_span("second")
    finally:
        context.detach(token)
    unsampled.end()
    sampled.end()
    assert processor._pending == {}  # the unsampled span's id did not linger
    assert "otel_events.seq" not in unsampled.attributes
    first, second = exporter.get_finished_spans()
    assert second.attributes["otel_events.correlation_id"] == "c-1"
    assert second.attributes["otel_events.seq"] == first.attributes["otel_events.seq"] + 1


def test_without_baggage_correlation_only_attributes_carry_the_id() -> None:
    tracer, exporter, _ = build(baggage_correlation=False)
    token = context.attach(baggage.set_baggage("correlation.id", "c-bag"))
    try:
        tracer.start_span("a").end()
        tracer.start_span("b", attributes={"correlation.id": "c-attr"}).end()
    finally:
        context.detach(token)
    first, second = exporter.get_finished_spans()
    assert "otel_events.correlation_id" not in first.attributes
    assert second.attributes["otel_events.correlation_id"] == "c-attr"
    assert first.attributes["otel_events.category"] == "system"
