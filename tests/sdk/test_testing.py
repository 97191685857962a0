"""otel_events.testing: capture(), deterministic ids and clock, both span paths."""

from __future__ import annotations

import pytest

import otel_events
from otel_events.classify import Category, Classifier
from otel_events.testing import FakeClock, SeededIdGenerator, capture


def run_scenario() -> list[tuple[int, int]]:
    with capture(seed=7) as cap, cap.tracer.start_as_current_span("outer"), cap.tracer.start_as_current_span("a"):
        pass
    return [(span.context.trace_id, span.context.span_id) for span in cap.spans]


def test_seeded_ids_repeat() -> None:
    assert run_scenario() == run_scenario()
    generator = SeededIdGenerator(1)
    assert generator.generate_span_id() != 0 and generator.generate_trace_id() != 0


def test_fake_clock_makes_timestamps_deterministic() -> None:
    clock = FakeClock(start_ns=1_000, step_ns=10)
    with capture(clock=clock) as cap, cap.tracer.start_as_current_span("a"):
        otel_events.emit_event("tick")
    (span,) = cap.spans
    (log,) = cap.logs
    assert (span.start_time, log.log_record.timestamp, span.end_time) == (1_000, 1_010, 1_020)
    with pytest.raises(ValueError):
        FakeClock(step_ns=-1)


@pytest.mark.parametrize("private", [True, False])
def test_items_and_categories_in_seq_order(private: bool) -> None:
    with capture(use_private_hook=private) as cap:
        with cap.tracer.start_as_current_span("cache.lookup"):
            otel_events.emit_event("session_start")
        otel_events.emit_event("debug")
    items = cap.items()
    assert [(i.signal, i.name, i.category) for i in items] == [
        ("log", "session_start", Category.USER_ACTIVITY),
        ("span", "cache.lookup", Category.PERFORMANCE),
        ("log", "debug", Category.DEBUG),
    ]
    seqs = [i.seq for i in items]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    assert len({i.stream_id for i in items}) == 1
    assert cap.categories()["cache.lookup"] is Category.PERFORMANCE
    assert cap.classified_counts()[("span", "performance", "keyword.performance")] == 1
    cap.clear()
    assert cap.items() == []


def test_custom_rules(tmp_path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[names]\nnightly_job = "debug"\n')
    with capture(rules=rules) as cap:
        otel_events.emit_event("nightly_job")
    assert cap.categories() == {"nightly_job": Category.DEBUG}
    with capture(rules=Classifier()) as cap:
        otel_events.emit_event("nightly_job")
    assert cap.categories() == {"nightly_job": Category.SYSTEM}


def test_capture_is_scoped() -> None:
    from otel_events.sdk import active

    with capture() as outer:
        with capture() as inner:
            otel_events.emit_event("inner")
        otel_events.emit_event("outer")
    assert [i.name for i in inner.items()] == ["inner"]
    assert [i.name for i in outer.items()] == ["outer"]
    assert active.current() is None
