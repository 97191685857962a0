"""Jaeger's critical path and self time on hand-built span trees."""

from __future__ import annotations

from otel_events.analyze.critical_path import SpanTiming, compute_critical_path, self_time_ns


def span(span_id: str, parent: str | None, start: int, end: int) -> SpanTiming:
    return SpanTiming(span_id, parent, span_id, "svc", start, end)


def path(spans: list[SpanTiming]) -> list[tuple[str, int, int]]:
    return [(s.span.span_id, s.critical_ns, s.self_ns) for s in compute_critical_path(spans)]


def test_sequential_children_are_all_on_the_path() -> None:
    spans = [span("root", None, 0, 100), span("a", "root", 10, 50), span("b", "root", 50, 90)]
    assert path(spans) == [("root", 20, 20), ("a", 40, 40), ("b", 40, 40)]


def test_parallel_children_only_the_last_finishing_counts() -> None:
    spans = [span("root", None, 0, 100), span("fast", "root", 10, 40), span("slow", "root", 10, 90)]
    assert path(spans) == [("root", 20, 20), ("slow", 80, 80)]


def test_child_outliving_parent_is_clipped_and_one_starting_after_is_dropped() -> None:
    spans = [
        span("root", None, 0, 100),
        span("async", "root", 60, 500),  # clipped to [60, 100]
        span("late", "root", 200, 300),  # starts after the root ended: not part of its latency
        span("work", "root", 10, 50),
    ]
    assert path(spans) == [("root", 20, 20), ("work", 40, 40), ("async", 40, 40)]


def test_nested_descent_and_return_to_parent() -> None:
    spans = [
        span("root", None, 0, 100),
        span("mid", "root", 10, 90),
        span("leaf1", "mid", 20, 40),
        span("leaf2", "mid", 50, 80),
    ]
    assert path(spans) == [("root", 20, 20), ("mid", 30, 30), ("leaf1", 20, 20), ("leaf2", 30, 30)]


def test_self_time_subtracts_the_union_of_overlapping_children() -> None:
    parent = span("p", None, 0, 100)
    children = [span("a", "p", 10, 50), span("b", "p", 30, 60), span("c", "p", 90, 150)]
    assert self_time_ns(parent, children) == 100 - 50 - 10


def test_missing_root_uses_the_span_whose_parent_is_absent() -> None:
    spans = [span("orphan", "gone", 0, 10), span("child", "orphan", 2, 8)]
    assert path(spans) == [("orphan", 4, 4), ("child", 6, 6)]
    assert compute_critical_path([]) == []


def test_zero_length_children_do_not_loop() -> None:
    spans = [span("root", None, 0, 10), span("z1", "root", 5, 5), span("z2", "root", 5, 5)]
    assert sum(s.critical_ns for s in compute_critical_path(spans)) == 10
