"""The analysis SQL files: loaded from the package with importlib.resources, checked at import, run with bound
parameters.

A query file may hold filter slots, written ``/*filter:spans*/TRUE`` (slot ``filter`` compiled for the ``spans``
view) or ``/*baseline:spans*/TRUE``. A slot is replaced by the fragment the filter compiler builds from its fixed
templates, with ``$``-named placeholders; it is the only piece of SQL text ever composed at run time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import duckdb

from otel_events.analyze.fields import View
from otel_events.analyze.filter import CompiledFilter, compile_filter
from otel_events.errors import QueryError

QUERY_NAMES = (
    "anomalies",
    "category_mix",
    "compare",
    "completeness",
    "correlation",
    "errors",
    "export_logs",
    "export_metric_points",
    "export_spans",
    "latency_over_time",
    "log_shapes",
    "metric_anomalies",
    "service_map",
    "slow_traces",
    "span_sequences",
    "stats",
    "stats_by_time",
    "trace",
    "trace_span_timings",
)
SLOTS = ("filter", "baseline")
_SLOT_RE = re.compile(r"/\*(?P<slot>[a-z_]+):(?P<view>[a-z_]+)\*/TRUE")
_PARAM_RE = re.compile(r"\$([a-z_]+)")


@dataclass(frozen=True, slots=True)
class Query:
    """One analysis query.

    Attributes:
        name: the file name without ``.sql``.
        text: the SQL text with its filter slots.
        slots: (slot, view) for each filter slot, in order of appearance.
        parameters: the ``$names`` the text binds, besides filter parameters.
    """

    name: str
    text: str
    slots: tuple[tuple[str, View], ...]
    parameters: frozenset[str]


@cache
def load_query(name: str) -> Query:
    """Load and check one query file of the package.

    Raises:
        KeyError: when ``name`` is not a registered query.
        ValueError: when a filter slot names an unknown slot or view.
    """
    if name not in QUERY_NAMES:
        raise KeyError(f"no analysis query named {name!r}")
    text = resources.files("otel_events.analyze").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    slots = []
    for match in _SLOT_RE.finditer(text):
        if match["slot"] not in SLOTS:
            raise ValueError(f"{name}.sql: unknown filter slot {match['slot']!r}")
        slots.append((match["slot"], View(match["view"])))
    parameters = frozenset(_PARAM_RE.findall(_SLOT_RE.sub("", text)))
    return Query(name, text, tuple(slots), parameters)


def compose(query: Query, filters: Mapping[str, str | None]) -> tuple[str, dict[str, object]]:
    """Fill the filter slots of a query; return the SQL and the filter parameters by name.

    Args:
        query: the loaded query.
        filters: filter expression per slot name (missing or None: no filter).

    Raises:
        FilterSyntaxError: when an expression does not compile for the slot's view.
    """
    params: dict[str, object] = {}
    counter = 0

    def fill(match: re.Match[str]) -> str:
        nonlocal counter
        compiled: CompiledFilter = compile_filter(filters.get(match["slot"]), match["view"])
        sql, named = compiled.named(f"{match['slot']}{counter}")
        counter += 1
        params.update(named)
        return sql

    return _SLOT_RE.sub(fill, query.text), params


def run_query(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, object],
    filters: Mapping[str, str | None] | None = None,
) -> list[dict[str, object]]:
    """Run an analysis query and return its rows as dicts.

    Args:
        conn: a DuckDB connection to a store.
        name: the query name (see ``QUERY_NAMES``).
        params: values for the query's ``$`` parameters (extra keys are ignored).
        filters: filter expression per slot.

    Raises:
        FilterSyntaxError: when a filter expression is invalid.
        QueryError: when DuckDB rejects the query at run time.
    """
    query = load_query(name)
    sql, bound = compose(query, filters or {})
    missing = query.parameters - params.keys()
    if missing:
        raise TypeError(f"{name}.sql needs parameters {sorted(missing)}")
    bound.update({key: params[key] for key in query.parameters})
    try:
        cursor = conn.execute(sql, bound)
    except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.OutOfRangeException) as exc:
        raise QueryError(f"the {name} query failed: {exc}") from exc
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


# The registry is checked when the package is imported: a missing or malformed file fails fast.
for _name in QUERY_NAMES:
    load_query(_name)
