"""Archives: expiring rows as hive-partitioned Parquet (ZSTD), readable by SQL, analyses and replay.

Layout: ``DIR/<kind>/day=YYYY-MM-DD/service=<service>/<uuid>.parquet`` for the kinds ``spans``, ``logs`` and
``metric_points`` (SPEC §8: readable by any engine). Each file holds the public view's columns plus what replay needs
to rebuild the original OTLP exactly (value types, dropped counts, the serialized resource and scope); ``day`` and
``service`` are only in the directory names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from otel_events.errors import StoreError


@dataclass(frozen=True, slots=True)
class ArchiveKind:
    """How one kind of row is archived and read back.

    Attributes:
        name: the public view (and archive sub-directory).
        table: the base table.
        day_time: the time the rows are partitioned by day on (and retention ages them by).
        public: the public view's columns, as SQL over an archived file's columns (casts restore the ENUMs).
        extra: base-table columns that only the replay needs.
    """

    name: str
    table: str
    day_time: str
    public: str
    extra: tuple[str, ...]


_SPAN_PUBLIC = """
    trace_id, span_id, parent_span_id, trace_state, name, kind::span_kind AS kind, start_time, end_time,
    (epoch_ns(end_time) - epoch_ns(start_time)) / 1e6 AS duration_ms, status_code::status_code AS status_code,
    status_message, service_name, scope_name, scope_version, attributes, resource_attributes, events, links,
    category::category AS category, rule, category_source::category_source AS category_source, stream_id, seq,
    correlation_id, tenant, received_at
"""
_LOG_PUBLIC = """
    "time", observed_time, trace_id, span_id, severity_number, severity_text, body, event_name, service_name,
    scope_name, attributes, resource_attributes, category::category AS category, rule,
    category_source::category_source AS category_source, stream_id, seq, correlation_id, tenant, received_at
"""
_METRIC_PUBLIC = """
    "time", start_time, service_name, name, description, unit, type::metric_type AS type, value, count, sum, min,
    max, bucket_counts, explicit_bounds, quantiles, is_monotonic, temporality::temporality AS temporality,
    attributes, resource_attributes, tenant
"""
# Unset log times are stored as the epoch; such a record is dated by when it was observed.
LOG_TIME = 'coalesce(nullif("time", make_timestamp_ns(0)), observed_time)'

KINDS: dict[str, ArchiveKind] = {
    "spans": ArchiveKind(
        "spans",
        "span_data",
        "start_time",
        _SPAN_PUBLIC,
        (
            "flags",
            "kind_unspecified",
            "attr_types",
            "dropped_attributes_count",
            "events_extra",
            "dropped_events_count",
            "links_extra",
            "dropped_links_count",
        ),
    ),
    "logs": ArchiveKind(
        "logs",
        "log_data",
        LOG_TIME,
        _LOG_PUBLIC,
        ("flags", "body_type", "attr_types", "dropped_attributes_count"),
    ),
    "metric_points": ArchiveKind(
        "metric_points", "metric_point_data", '"time"', _METRIC_PUBLIC, ("attr_types", "point_extra", "metric_extra")
    ),
}

# The rows of a base table as archived: every base column but the store-local ids, plus the resource and scope.
_ARCHIVE_ROWS_SQL = """
SELECT s.* EXCLUDE (resource_id, scope_id{exclude}), {scope_columns}
       r.attributes AS resource_attributes, r.proto AS resource_proto, r.schema_url AS resource_schema_url,
       sc.proto AS scope_proto, sc.schema_url AS scope_schema_url,
       strftime({day_time}, '%Y-%m-%d') AS day, coalesce(s.service_name, 'unknown') AS service
FROM {table} AS s JOIN resources AS r USING (resource_id) JOIN scopes AS sc USING (scope_id)
WHERE {where}
"""


def _literal(path: Path) -> str:
    """A path as a SQL string literal (COPY and read_parquet take no parameters for file names)."""
    return "'" + str(path).replace("'", "''") + "'"


def archive_rows(cursor: duckdb.DuckDBPyConnection, kind: ArchiveKind, where: str, directory: Path) -> None:
    """Append the rows of ``kind.table`` matching ``where`` (alias ``s``, no parameters) to the archive.

    New files get unique names, so archiving into the same partitions again never overwrites anything.
    """
    exclude = ", ingest_batch" if kind.table != "metric_point_data" else ""
    scope_columns = "sc.name AS scope_name, sc.version AS scope_version," if kind.name == "metric_points" else ""
    rows = _ARCHIVE_ROWS_SQL.format(
        exclude=exclude,
        scope_columns=scope_columns,
        day_time=kind.day_time.replace('"time"', 's."time"').replace("observed_time", "s.observed_time"),
        table=kind.table,
        where=where,
    )
    target = directory / kind.name
    target.mkdir(parents=True, exist_ok=True)
    cursor.execute(
        f"COPY ({rows}) TO {_literal(target)} "
        "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day, service), APPEND, FILENAME_PATTERN 'part_{uuid}')"
    )


def archive_files(directory: Path, kind: ArchiveKind) -> str | None:
    """The glob of the kind's Parquet files as a SQL literal, or None when there are none."""
    root = directory / kind.name
    if not any(root.glob("day=*/service=*/*.parquet")):
        return None
    return _literal(root / "day=*" / "service=*" / "*.parquet")


_TRACES_SQL = """
CREATE OR REPLACE TEMP VIEW traces AS
SELECT
    trace_id,
    arg_min(service_name, (parent_span_id IS NOT NULL, start_time)) AS root_service,
    arg_min(name, (parent_span_id IS NOT NULL, start_time)) AS root_name,
    min(start_time) AS start_time,
    max(end_time) AS end_time,
    (epoch_ns(max(end_time)) - epoch_ns(min(start_time))) / 1e6 AS duration_ms,
    count(*) AS span_count,
    count(*) FILTER (WHERE status_code = 'error') AS error_count,
    list_sort(list_distinct(list(service_name))) AS services,
    max(category) AS max_category
FROM spans
GROUP BY trace_id
"""


def attach_archive(con: duckdb.DuckDBPyConnection, directory: Path) -> None:
    """Make the public views of ``con`` (an open store) include the archived rows under ``directory``.

    Temporary views named ``spans``, ``logs``, ``metric_points`` and ``traces`` (and the ``trace_spans`` /
    ``trace_logs`` lookups) shadow the store's own: each is the store's rows plus the archive's. Works on a store
    opened read-only; nothing is written.

    Raises:
        StoreError: when ``directory`` is not a directory.
    """
    if not directory.is_dir():
        raise StoreError(f"archive directory {directory} does not exist")
    catalog = con.execute("SELECT current_database()").fetchone()[0]
    for kind in KINDS.values():
        files = archive_files(directory, kind)
        stored = f'SELECT * FROM "{catalog}".main.{kind.name}'
        if files is not None:
            stored += (
                f" UNION ALL BY NAME SELECT {kind.public} FROM read_parquet({files}, hive_partitioning = false, "
                "union_by_name = true)"
            )
        con.execute(f"CREATE OR REPLACE TEMP VIEW {kind.name} AS {stored}")
    con.execute(_TRACES_SQL)
    con.execute("CREATE OR REPLACE TEMP MACRO trace_spans(id) AS TABLE SELECT * FROM spans WHERE trace_id = lower(id)")
    con.execute("CREATE OR REPLACE TEMP MACRO trace_logs(id) AS TABLE SELECT * FROM logs WHERE trace_id = lower(id)")


def load_archive(con: duckdb.DuckDBPyConnection, directory: Path) -> int:
    """Copy an archive into the base tables of ``con`` (an empty writable store, e.g. in memory) for replay.

    Resources and scopes get fresh ids from their serialized form, so archives written by different stores load
    side by side.

    Returns:
        The number of rows loaded.

    Raises:
        StoreError: when ``directory`` holds no archive.
    """
    if not directory.is_dir():
        raise StoreError(f"archive directory {directory} does not exist")
    sources = {name: archive_files(directory, kind) for name, kind in KINDS.items()}
    sources = {name: files for name, files in sources.items() if files is not None}
    if not sources:
        raise StoreError(f"{directory} holds no archived rows (expected spans/, logs/ or metric_points/)")
    for name, files in sources.items():
        con.execute(
            f"CREATE TEMP TABLE archived_{name} AS SELECT * FROM read_parquet({files}, hive_partitioning = false, "
            "union_by_name = true)"
        )
    union = " UNION ".join(
        "SELECT resource_proto, resource_schema_url, resource_attributes, service_name, scope_proto, "
        f"scope_schema_url, scope_name, {'NULL' if name == 'logs' else 'scope_version'} AS scope_version "
        f"FROM archived_{name}"
        for name in sources
    )
    con.execute(f"CREATE TEMP TABLE archived_origins AS {union}")
    con.execute(
        "INSERT INTO resources SELECT row_number() OVER (), any_value(service_name), any_value(resource_attributes), "
        "resource_schema_url, resource_proto FROM archived_origins GROUP BY resource_proto, resource_schema_url"
    )
    con.execute(
        "INSERT INTO scopes SELECT row_number() OVER (), any_value(scope_name), any_value(scope_version), "
        "scope_schema_url, scope_proto FROM archived_origins GROUP BY scope_proto, scope_schema_url"
    )
    loaded = 0
    for name in sources:
        kind = KINDS[name]
        drop = "resource_proto, resource_schema_url, resource_attributes, scope_proto, scope_schema_url"
        if name == "metric_points":
            drop += ", scope_name, scope_version"
        batch = ", 0 AS ingest_batch" if kind.table != "metric_point_data" else ""
        loaded += con.execute(
            f"INSERT INTO {kind.table} BY NAME SELECT a.* EXCLUDE ({drop}), r.resource_id, sc.scope_id{batch} "
            f"FROM archived_{name} AS a "
            "JOIN resources AS r ON r.proto = a.resource_proto "
            "AND r.schema_url IS NOT DISTINCT FROM a.resource_schema_url "
            "JOIN scopes AS sc ON sc.proto = a.scope_proto AND sc.schema_url IS NOT DISTINCT FROM a.scope_schema_url"
        ).fetchone()[0]
        con.execute(f"DROP TABLE archived_{name}")
    con.execute("DROP TABLE archived_origins")
    return loaded
