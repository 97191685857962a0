"""Critical path of a trace (Jaeger's definition) and self time of spans.

Jaeger's algorithm: children are first clipped to their parent (a child that starts after its parent ended is
dropped, one that outlives it is cut at the parent's end: async work the caller did not wait for). Then walk
from the root's end backwards: at each point take the last-finishing child that ended before that point,
descend into it, and continue in the parent from that child's start. The spans visited form the critical path.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpanTiming:
    """The timing of one span (epoch nanoseconds)."""

    span_id: str
    parent_span_id: str | None
    name: str
    service_name: str | None
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class PathStep:
    """One span on the critical path.

    Attributes:
        span: the span.
        critical_ns: time of this span on the critical path (its own sections, not its children's).
        self_ns: duration minus the union of its children's intervals clipped to it.
    """

    span: SpanTiming
    critical_ns: int
    self_ns: int


def self_time_ns(span: SpanTiming, children: list[SpanTiming]) -> int:
    """Duration of ``span`` not covered by any child interval (children clipped to the span)."""
    intervals = sorted(
        (max(c.start_ns, span.start_ns), min(c.end_ns, span.end_ns))
        for c in children
        if c.start_ns < span.end_ns and c.end_ns > span.start_ns
    )
    covered = 0
    cur_start = cur_end = None
    for start, end in intervals:
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                covered += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        covered += cur_end - cur_start
    return (span.end_ns - span.start_ns) - covered


def _clip(spans: dict[str, SpanTiming], children: dict[str, list[str]], root: str) -> dict[str, SpanTiming]:
    """Clip every descendant to its (already clipped) parent, top-down; drop children outside their parent."""
    clipped = {root: spans[root]}
    stack = [root]
    while stack:
        parent = clipped[stack.pop()]
        for child_id in children.get(parent.span_id, ()):
            child = spans[child_id]
            if child.start_ns > parent.end_ns or child.end_ns < parent.start_ns:
                continue
            start = max(child.start_ns, parent.start_ns)
            end = min(child.end_ns, parent.end_ns)
            clipped[child_id] = SpanTiming(
                child.span_id, child.parent_span_id, child.name, child.service_name, start, end
            )
            stack.append(child_id)
    return clipped


def find_root(spans: list[SpanTiming]) -> SpanTiming | None:
    """The root span: no parent (or a parent not in the trace); the earliest, longest one if several."""
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_span_id or s.parent_span_id not in ids]
    if not roots:
        return None
    return min(roots, key=lambda s: (s.parent_span_id is not None, s.start_ns, -(s.end_ns - s.start_ns), s.span_id))


def compute_critical_path(spans: list[SpanTiming]) -> list[PathStep]:
    """Compute the critical path of one trace.

    Args:
        spans: every span of the trace.

    Returns:
        The spans on the critical path, ordered by start time (then depth), each with its time on the path and
        its self time. Empty when there are no spans.
    """
    root = find_root(spans)
    if root is None:
        return []
    by_id = {s.span_id: s for s in spans}
    children: dict[str, list[str]] = defaultdict(list)
    for s in spans:
        if s.parent_span_id and s.parent_span_id in by_id and s.span_id != root.span_id:
            children[s.parent_span_id].append(s.span_id)
    clipped = _clip(by_id, children, root.span_id)
    kids = {pid: [clipped[c] for c in ids if c in clipped] for pid, ids in children.items()}

    critical: dict[str, int] = defaultdict(int)
    depth: dict[str, int] = {root.span_id: 0}
    visited: set[str] = set()
    # Iterative walk (a deep trace must not hit the recursion limit): (span, point to walk back from).
    stack: list[tuple[SpanTiming, int]] = [(clipped[root.span_id], clipped[root.span_id].end_ns)]
    while stack:
        span, point = stack.pop()
        candidates = [c for c in kids.get(span.span_id, ()) if c.end_ns <= point and c.span_id not in visited]
        if candidates:
            # A child ending exactly when the next begins counts as before it (sequential siblings).
            child = max(candidates, key=lambda c: (c.end_ns, c.start_ns, c.span_id))
            visited.add(child.span_id)
            depth[child.span_id] = depth[span.span_id] + 1
            critical[span.span_id] += point - child.end_ns
            # Resume in this span from the child's start once the child's own path is walked.
            stack.append((span, child.start_ns))
            stack.append((child, child.end_ns))
        else:
            critical[span.span_id] += max(point - span.start_ns, 0)
    steps = [
        PathStep(by_id[span_id], critical[span_id], self_time_ns(clipped[span_id], kids.get(span_id, [])))
        for span_id in depth
    ]
    return sorted(steps, key=lambda st: (clipped[st.span.span_id].start_ns, depth[st.span.span_id]))
