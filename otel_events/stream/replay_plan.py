"""What a replay sends and in which order: the selected items of each signal cut into time-ordered slices.

Items are ordered on one timeline across signals: a span at its end time (when its exporter could first send it),
a log record at its time (its observed time when the time is unset), a data point at its time. Equal times order
traces before logs before metrics. A slice is a run of consecutive items of one signal, cut only where the time
changes, so a slice is exactly "the items of signal S with time in [first, last]": the selection can be expressed
as a bound ``where`` for ``otel_events.store.to_otlp.rebuild_requests`` and re-expressed identically on resume.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import duckdb

from otel_events.analyze.fields import TIME_COLUMNS, View
from otel_events.analyze.filter import compile_filter


class Signal(StrEnum):
    """The OTLP signals a replay can send, in their tie-break order."""

    TRACES = "traces"
    LOGS = "logs"
    METRICS = "metrics"


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """How one signal is selected and ordered in the store's base tables.

    Attributes:
        signal: the signal.
        rank: tie-break order among items with the same time.
        view: the public view the filter language is compiled for.
        table: the base table.
        order_time: SQL for the timeline time of a row (a TIMESTAMP_NS over the base table's columns).
    """

    signal: Signal
    rank: int
    view: View
    table: str
    order_time: str

    @property
    def window_time(self) -> str:
        """The column ``--since``/``--until`` apply to (the same one the analyses window on)."""
        return f'"{TIME_COLUMNS[self.view]}"'


SPECS: dict[Signal, SignalSpec] = {
    Signal.TRACES: SignalSpec(Signal.TRACES, 0, View.SPANS, "span_data", "end_time"),
    Signal.LOGS: SignalSpec(
        Signal.LOGS, 1, View.LOGS, "log_data", 'coalesce(nullif("time", make_timestamp_ns(0)), observed_time)'
    ),
    Signal.METRICS: SignalSpec(Signal.METRICS, 2, View.METRIC_POINTS, "metric_point_data", '"time"'),
}

# The rows rebuild_requests reads, restricted to what a `where` may use (same names, same joins).
_ROWS_SQL = """
SELECT s.*, {extra} r.proto AS resource_proto
FROM {table} AS s JOIN resources AS r USING (resource_id) JOIN scopes AS sc USING (scope_id)
"""
# Public-view columns that the base tables lack, rewritten into expressions over the base columns. The filter
# compiler emits column names only from fixed templates and binds every value, so a whole-word replacement
# cannot touch user text.
_VIEW_ONLY_COLUMNS = {
    "duration_ms": "((epoch_ns(end_time) - epoch_ns(start_time)) / 1e6)",
    "resource_attributes": "(SELECT any_value(ra.attributes) FROM resources AS ra WHERE ra.proto = resource_proto)",
}
_VIEW_ONLY_RE = re.compile(r"\b(" + "|".join(_VIEW_ONLY_COLUMNS) + r")\b")


@dataclass(frozen=True, slots=True)
class Selection:
    """The bound SQL condition selecting one signal's rows (filter, window, resume position).

    Attributes:
        spec: the signal.
        sql: a condition over the rows ``rebuild_requests`` reads.
        params: its parameters.
    """

    spec: SignalSpec
    sql: str
    params: tuple[object, ...]

    def within(self, first_ns: int, last_ns: int) -> tuple[str, list[object]]:
        """The selection restricted to timeline times in ``[first_ns, last_ns]``."""
        time = self.spec.order_time
        sql = f"({time} BETWEEN make_timestamp_ns(?) AND make_timestamp_ns(?)) AND {self.sql}"
        return sql, [first_ns, last_ns, *self.params]


@dataclass(frozen=True, slots=True)
class Position:
    """A point on the timeline: everything at or before ``(time_ns, rank)`` is done."""

    time_ns: int
    rank: int


def select(
    spec: SignalSpec,
    filter_expression: str | None,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    after: Position | None = None,
) -> Selection:
    """Build the selection of one signal.

    Raises:
        FilterSyntaxError: when the filter does not compile for the signal's view.
    """
    compiled = compile_filter(filter_expression, spec.view)
    parts = [_VIEW_ONLY_RE.sub(lambda m: _VIEW_ONLY_COLUMNS[m.group(1)], compiled.sql)]
    params: list[object] = list(compiled.params)
    if since_ns is not None:
        parts.append(f"{spec.window_time} >= make_timestamp_ns(?)")
        params.append(since_ns)
    if until_ns is not None:
        parts.append(f"{spec.window_time} < make_timestamp_ns(?)")
        params.append(until_ns)
    if after is not None:
        # Lexicographic (time, rank) > after: this signal's items at exactly after.time_ns come later only when
        # its rank is higher.
        operator = ">=" if spec.rank > after.rank else ">"
        parts.append(f"{spec.order_time} {operator} make_timestamp_ns(?)")
        params.append(after.time_ns)
    return Selection(spec, " AND ".join(f"({part})" for part in parts), tuple(params))


def rows_sql(spec: SignalSpec) -> str:
    """The FROM clause body matching what ``rebuild_requests`` reads for the signal."""
    extra = "sc.name AS scope_name," if spec.signal is Signal.METRICS else ""
    return _ROWS_SQL.format(table=spec.table, extra=extra)


def count_items(con: duckdb.DuckDBPyConnection, selection: Selection) -> int:
    """How many items the selection holds."""
    sql = f"SELECT count(*) FROM ({rows_sql(selection.spec)}) WHERE {selection.sql}"
    return con.cursor().execute(sql, list(selection.params)).fetchone()[0]


@dataclass(frozen=True, slots=True)
class Slice:
    """Items of one signal with timeline times in ``[first_ns, last_ns]``, sent together.

    Attributes:
        spec: the signal.
        first_ns: time of the first item (its send time is computed from it).
        last_ns: time of the last item.
        items: how many items.
    """

    spec: SignalSpec
    first_ns: int
    last_ns: int
    items: int

    @property
    def end(self) -> Position:
        """The position after this slice."""
        return Position(self.last_ns, self.spec.rank)


def _time_groups(con: duckdb.DuckDBPyConnection, selection: Selection) -> Iterator[tuple[int, int, int]]:
    """(time_ns, rank, count) per distinct timeline time, in time order, streamed."""
    spec = selection.spec
    sql = (
        f"SELECT epoch_ns({spec.order_time}) AS t, count(*) FROM ({rows_sql(spec)}) "
        f"WHERE {selection.sql} GROUP BY t ORDER BY t"
    )
    cursor = con.cursor()
    cursor.execute(sql, list(selection.params))
    while True:
        chunk = cursor.fetchmany(4096)
        if not chunk:
            return
        for time_ns, count in chunk:
            if time_ns is not None:
                yield time_ns, spec.rank, count


def plan_slices(
    con: duckdb.DuckDBPyConnection,
    selections: Sequence[Selection],
    *,
    max_items: int,
    max_span_ns: int | None,
) -> Iterator[Slice]:
    """Cut the merged timeline of the selections into slices.

    Args:
        con: the store.
        selections: one per signal replayed.
        max_items: a slice is cut before it would exceed this many items (a single time with more items is one
            slice; the rebuild splits it into several requests).
        max_span_ns: a slice covers at most this much timeline time (None: no limit), so timed replays keep
            their gaps.
    """
    by_rank = {selection.spec.rank: selection.spec for selection in selections}
    merged = heapq.merge(*(_time_groups(con, selection) for selection in selections))
    current: list[int] | None = None  # [rank, first_ns, last_ns, items]
    for time_ns, rank, count in merged:
        if current is not None:
            same = current[0] == rank
            fits = current[3] + count <= max_items
            near = max_span_ns is None or time_ns - current[1] <= max_span_ns
            if same and fits and near:
                current[2] = time_ns
                current[3] += count
                continue
            yield Slice(by_rank[current[0]], current[1], current[2], current[3])
        current = [rank, time_ns, time_ns, count]
    if current is not None:
        yield Slice(by_rank[current[0]], current[1], current[2], current[3])
