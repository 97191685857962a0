"""Column buffers for one ingest batch and their Arrow types.

Rows are appended column-wise into Python lists (cheaper than building row tuples) and turned into one Arrow
table per base table per batch: DuckDB appends big Arrow batches far faster than rows (PERF-NOTES). Each
buffer can be truncated back to a row count, which is how a failing item is taken out of a batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    # Only a type here: decoder processes import this module and must not load DuckDB.
    import duckdb

STRING_MAP = pa.map_(pa.string(), pa.string())
TIMESTAMP = pa.timestamp("ns")

_EVENT = pa.struct([("time", TIMESTAMP), ("name", pa.string()), ("attributes", STRING_MAP)])
_EVENT_EXTRA = pa.struct([("attr_types", STRING_MAP), ("dropped_attributes_count", pa.uint32())])
_LINK = pa.struct(
    [("trace_id", pa.string()), ("span_id", pa.string()), ("trace_state", pa.string()), ("attributes", STRING_MAP)]
)
_LINK_EXTRA = pa.struct([("attr_types", STRING_MAP), ("dropped_attributes_count", pa.uint32()), ("flags", pa.uint32())])
_QUANTILE = pa.struct([("quantile", pa.float64()), ("value", pa.float64())])

# The `attributes` column of every table is assembled from flat key/value lists (see ColumnBuffer); the
# other columns are listed here with their Arrow type. Strings feeding ENUM columns are cast by DuckDB.
SPAN_COLUMNS: dict[str, pa.DataType] = {
    "trace_id": pa.string(),
    "span_id": pa.string(),
    "parent_span_id": pa.string(),
    "trace_state": pa.string(),
    "flags": pa.uint32(),
    "name": pa.string(),
    "kind": pa.string(),
    "kind_unspecified": pa.bool_(),
    "start_time": TIMESTAMP,
    "end_time": TIMESTAMP,
    "status_code": pa.string(),
    "status_message": pa.string(),
    "resource_id": pa.uint32(),
    "scope_id": pa.uint32(),
    "service_name": pa.string(),
    "scope_name": pa.string(),
    "scope_version": pa.string(),
    "attr_types": pa.string(),
    "dropped_attributes_count": pa.uint32(),
    "events": pa.list_(_EVENT),
    "events_extra": pa.list_(_EVENT_EXTRA),
    "dropped_events_count": pa.uint32(),
    "links": pa.list_(_LINK),
    "links_extra": pa.list_(_LINK_EXTRA),
    "dropped_links_count": pa.uint32(),
    "category": pa.string(),
    "rule": pa.string(),
    "category_source": pa.string(),
    "stream_id": pa.string(),
    "seq": pa.int64(),
    "correlation_id": pa.string(),
    "tenant": pa.string(),
}

LOG_COLUMNS: dict[str, pa.DataType] = {
    "time": TIMESTAMP,
    "observed_time": TIMESTAMP,
    "trace_id": pa.string(),
    "span_id": pa.string(),
    "flags": pa.uint32(),
    "severity_number": pa.int32(),
    "severity_text": pa.string(),
    "body": pa.string(),
    "body_type": pa.string(),
    "event_name": pa.string(),
    "resource_id": pa.uint32(),
    "scope_id": pa.uint32(),
    "service_name": pa.string(),
    "scope_name": pa.string(),
    "attr_types": pa.string(),
    "dropped_attributes_count": pa.uint32(),
    "category": pa.string(),
    "rule": pa.string(),
    "category_source": pa.string(),
    "stream_id": pa.string(),
    "seq": pa.int64(),
    "correlation_id": pa.string(),
    "tenant": pa.string(),
}

METRIC_COLUMNS: dict[str, pa.DataType] = {
    "time": TIMESTAMP,
    "start_time": TIMESTAMP,
    "resource_id": pa.uint32(),
    "scope_id": pa.uint32(),
    "service_name": pa.string(),
    "name": pa.string(),
    "description": pa.string(),
    "unit": pa.string(),
    "type": pa.string(),
    "value": pa.float64(),
    "count": pa.uint64(),
    "sum": pa.float64(),
    "min": pa.float64(),
    "max": pa.float64(),
    "bucket_counts": pa.list_(pa.uint64()),
    "explicit_bounds": pa.list_(pa.float64()),
    "quantiles": pa.list_(_QUANTILE),
    "is_monotonic": pa.bool_(),
    "temporality": pa.string(),
    "attr_types": pa.string(),
    "point_extra": pa.binary(),
    "metric_extra": pa.binary(),
    "tenant": pa.string(),
}


class ColumnBuffer:
    """Column-wise rows of one base table, plus a flat MAP column ``attributes``.

    ``attributes`` is kept as offsets + keys + values (the layout of an Arrow MapArray), so a row's attributes
    are appended with two ``extend`` calls instead of building a list of pairs.
    """

    def __init__(self, table: str, types: dict[str, pa.DataType]) -> None:
        self.table = table
        self.types = types
        self.columns: dict[str, list] = {name: [] for name in types}
        self.attr_offsets: list[int] = [0]
        self.attr_keys: list[str] = []
        self.attr_values: list[str | None] = []

    def __len__(self) -> int:
        return len(self.attr_offsets) - 1

    def truncate(self, rows: int) -> None:
        """Drop every row after the first ``rows``."""
        for values in self.columns.values():
            del values[rows:]
        del self.attr_offsets[rows + 1 :]
        end = self.attr_offsets[-1]
        del self.attr_keys[end:]
        del self.attr_values[end:]

    def to_arrow(self) -> pa.Table:
        """Build the Arrow table of all rows (``received_at`` and ``ingest_batch`` are added when appending)."""
        arrays = [pa.array(values, type=self.types[name]) for name, values in self.columns.items()]
        names = list(self.columns)
        arrays.append(
            pa.MapArray.from_arrays(
                pa.array(self.attr_offsets, pa.int32()),
                pa.array(self.attr_keys, pa.string()),
                pa.array(self.attr_values, pa.string()),
            )
        )
        names.append("attributes")
        return pa.Table.from_arrays(arrays, names=names)


def span_buffer() -> ColumnBuffer:
    """An empty buffer for ``span_data``."""
    return ColumnBuffer("span_data", SPAN_COLUMNS)


def log_buffer() -> ColumnBuffer:
    """An empty buffer for ``log_data``."""
    return ColumnBuffer("log_data", LOG_COLUMNS)


def metric_buffer() -> ColumnBuffer:
    """An empty buffer for ``metric_point_data``."""
    return ColumnBuffer("metric_point_data", METRIC_COLUMNS)


def insert_arrow(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, *, then: str | None = None) -> None:
    """Append an Arrow table to a base table in one statement, matching columns by name.

    ``then``: a further statement reading the same Arrow table, named ``{batch}`` in its text.
    """
    con.register("_otel_events_batch", data)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _otel_events_batch")
        if then is not None:
            con.execute(then.format(batch="_otel_events_batch"))
    finally:
        con.unregister("_otel_events_batch")
