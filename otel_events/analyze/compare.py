"""compare: one window (or filter) against a baseline, with thresholds for CI gates (SPEC §6)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from otel_events.analyze.patterns import patterns
from otel_events.analyze.queries import run_query
from otel_events.analyze.source import Source, connection_of, window_params
from otel_events.analyze.window import TimeSpec, Window, resolve_baseline
from otel_events.errors import ConfigError

Row = dict[str, object]
# Columns a --fail-on threshold may name (new_patterns counts templates absent from the baseline).
GATE_COLUMNS = ("p95_delta_pct", "p99_delta_pct", "error_rate_delta", "error_rate", "p95_ms", "p99_ms", "new_patterns")
_GATE_RE = re.compile(r"\s*(?P<column>[a-z0-9_]+)\s*(?P<op>>=|>)\s*(?P<value>-?\d+(?:\.\d+)?)\s*")


@dataclass(frozen=True, slots=True)
class Threshold:
    """A regression threshold: ``column > value`` (or ``>=``)."""

    column: str
    inclusive: bool
    value: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        """Parse ``p95_delta_pct>20``, ``error_rate_delta>=0.05``, ``new_patterns>0``.

        Raises:
            ConfigError: on any other text.
        """
        match = _GATE_RE.fullmatch(text)
        if match is None or match["column"] not in GATE_COLUMNS:
            raise ConfigError(
                f"invalid --fail-on {text!r}: expected COLUMN>NUMBER with COLUMN one of {', '.join(GATE_COLUMNS)}"
            )
        return cls(match["column"], match["op"] == ">=", float(match["value"]))

    def crossed(self, value: object) -> bool:
        """Whether ``value`` crosses the threshold (missing values never do)."""
        if not isinstance(value, int | float):
            return False
        return value >= self.value if self.inclusive else value > self.value

    def __str__(self) -> str:
        return f"{self.column}{'>=' if self.inclusive else '>'}{self.value:g}"


def compare(
    source: Source,
    *,
    baseline: str,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
    limit: int = 100,
) -> list[Row]:
    """Compare the window (with ``filter``) against a baseline.

    Args:
        baseline: ``START..END``, a duration D (the same window D earlier), or a filter expression (the same
            window, rows matching it).

    Returns:
        Rows with kind ``operation`` (service_name, name, base_count, count, p50/p95/p99 and their deltas,
        error rates and their delta) followed by kind ``pattern`` rows for log templates whose count changed
        (name is the template, is_new when absent from the baseline).
    """
    window, params = window_params(since, until)
    base_window = resolve_baseline(baseline, window)
    base_filter = None
    if base_window is None:
        base_window, base_filter = window, baseline
    params.update(limit=limit, base_since=base_window.since, base_until=base_window.until)
    filters = {"filter": filter, "baseline": base_filter}
    rows = run_query(connection_of(source), "compare", params, filters)
    rows.extend(_pattern_deltas(source, window, base_window, filter, base_filter, limit))
    return rows


def _pattern_deltas(
    source: Source, window: Window, base_window: Window, filter: str | None, base_filter: str | None, limit: int
) -> list[Row]:
    current = patterns(source, since=window.since, until=window.until, filter=filter, limit=limit)
    if base_filter is None and base_window != window:
        before = patterns(source, since=base_window.since, until=base_window.until, filter=filter, limit=limit)
    else:
        before = patterns(source, since=window.since, until=window.until, filter=base_filter, limit=limit)
    base_counts = {str(p["template"]): int(p["count"]) for p in before}  # type: ignore[call-overload]
    out: list[Row] = []
    for pattern in current:
        template = str(pattern["template"])
        base = base_counts.get(template, 0)
        count = int(pattern["count"])  # type: ignore[call-overload]
        if count == base:
            continue
        out.append(
            {"kind": "pattern", "service_name": None, "name": template, "base_count": base, "count": count,
             "is_new": template not in base_counts}
        )  # fmt: skip
    return out


def crossed_thresholds(rows: list[Row], thresholds: list[Threshold]) -> list[str]:
    """Describe every threshold crossed by the compare rows (empty: the gate passes)."""
    messages = []
    new_patterns = sum(1 for row in rows if row.get("kind") == "pattern" and row.get("is_new"))
    for threshold in thresholds:
        if threshold.column == "new_patterns":
            if threshold.crossed(new_patterns):
                messages.append(f"{threshold}: {new_patterns} new log templates")
            continue
        for row in rows:
            if row.get("kind") == "operation" and threshold.crossed(row.get(threshold.column)):
                messages.append(f"{threshold}: {row['service_name']} {row['name']} has {row[threshold.column]:.4g}")
    return messages
