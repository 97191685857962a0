"""Log templates mined with a Drain-style miner, new templates against a baseline, recurring span sequences."""

from __future__ import annotations

from datetime import datetime

from otel_events.analyze.drain import DrainMiner
from otel_events.analyze.fields import CATEGORIES
from otel_events.analyze.queries import run_query
from otel_events.analyze.source import Source, connection_of, window_params
from otel_events.analyze.window import TimeSpec, Window, resolve_baseline

Row = dict[str, object]


def _baseline_params(baseline: str | Window | None, window: Window) -> dict[str, object]:
    base = baseline if isinstance(baseline, Window) else resolve_baseline(baseline, window)
    if base is None:
        # No baseline: an empty window, so that every template counts as seen only now.
        return {"base_since": window.since, "base_until": window.since}
    return {"base_since": base.since, "base_until": base.until}


def patterns(
    source: Source,
    *,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
    limit: int = 50,
    baseline: str | Window | None = None,
    similarity: float = 0.5,
) -> list[Row]:
    """Log templates of the window, most frequent first.

    Args:
        baseline: a window (``START..END`` or a duration D: the same window D earlier); templates not seen there
            have ``is_new`` set. None: no baseline (``is_new`` is then False everywhere).
        similarity: Drain's similarity threshold.

    Returns:
        Rows template (variables as ``<*>``), count, first_seen, last_seen, example, category (most severe),
        is_new, baseline_count.
    """
    window, params = window_params(since, until)
    params.update(_baseline_params(baseline, window))
    has_baseline = params["base_since"] != params["base_until"]
    shapes = run_query(connection_of(source), "log_shapes", params, {"filter": filter})
    miner = DrainMiner(similarity)
    clusters = {}
    for shape in shapes:  # most frequent shapes first, so templates start from the common case
        clusters[str(shape["shape"])] = miner.add(str(shape["shape"]))
    rows: dict[int, Row] = {}
    for shape in shapes:
        cluster = clusters[str(shape["shape"])]
        row = rows.setdefault(
            id(cluster),
            {"template": None, "count": 0, "baseline_count": 0, "first_seen": None, "last_seen": None,
             "example": None, "category": None, "_cluster": cluster},
        )  # fmt: skip
        row["count"] += shape["count"]  # type: ignore[operator]
        row["baseline_count"] += shape["baseline_count"]  # type: ignore[operator]
        if shape["count"]:
            row["first_seen"] = _earliest(row["first_seen"], shape["first_seen"])
            row["last_seen"] = _latest(row["last_seen"], shape["last_seen"])
            row["example"] = row["example"] or shape["example"]
            row["category"] = _most_severe(row["category"], shape["category"])
    result = []
    for row in rows.values():
        if not row["count"]:
            continue
        row["template"] = row.pop("_cluster").template  # type: ignore[union-attr]
        row["is_new"] = has_baseline and row["baseline_count"] == 0
        result.append(row)
    result.sort(key=lambda r: (-int(r["count"]), str(r["template"])))  # type: ignore[call-overload]
    columns = ("template", "count", "first_seen", "last_seen", "example", "category", "is_new", "baseline_count")
    return [{key: row[key] for key in columns} for row in result[:limit]]


def _earliest(a: object, b: object) -> object:
    return b if a is None or (isinstance(b, datetime) and b < a) else a  # type: ignore[operator]


def _latest(a: object, b: object) -> object:
    return b if a is None or (isinstance(b, datetime) and b > a) else a  # type: ignore[operator]


def _most_severe(a: object, b: object) -> object:
    rank = {name: i for i, name in enumerate(CATEGORIES)}
    if a is None:
        return b
    if b is None:
        return a
    return a if rank.get(str(a), -1) >= rank.get(str(b), -1) else b


def span_patterns(
    source: Source,
    *,
    since: TimeSpec = None,
    until: TimeSpec = None,
    filter: str | None = None,
    limit: int = 50,
    min_count: int = 2,
) -> list[Row]:
    """Recurring parent -> children operation sequences (children in start order).

    Returns:
        Rows service_name, parent, sequence (``a -> b -> c``), count, first_seen, last_seen; sequences seen at
        least ``min_count`` times, most frequent first.
    """
    _, params = window_params(since, until)
    params.update(limit=limit, min_count=min_count)
    return run_query(connection_of(source), "span_sequences", params, {"filter": filter})
