"""``otel-events sql --filter EXPR``: the rows of one public view that match a filter, as a relation named ``filtered``.

The filter is compiled like every other (:func:`otel_events.analyze.filter.compile_filter`); its values are bound to
DuckDB variables with a parameterized ``SET VARIABLE`` and the temporary view reads them with ``getvariable()``, so
no value of the expression is ever part of SQL text. DuckDB folds ``getvariable()`` to a constant when it binds the
query, so the filter is pushed down into the scan as a literal would be.

Example:
    >>> define_filtered_view(con, "service = 'checkout' AND duration_ms > 1000", View.SPANS)
    >>> con.execute("SELECT name, count(*) FROM filtered GROUP BY name").fetchall()
"""

from __future__ import annotations

import re

import duckdb

from otel_events.analyze.fields import View
from otel_events.analyze.filter import compile_filter

FILTERED_RELATION = "filtered"
"""Name of the temporary view holding the filtered rows."""
FILTERABLE_VIEWS = (View.SPANS, View.LOGS, View.METRIC_POINTS, View.TRACES)

_VARIABLE_PREFIX = "otel_events_filter_"


def define_filtered_view(con: duckdb.DuckDBPyConnection, expression: str, view: View | str) -> None:
    """Create (or replace) the temporary view ``filtered``: ``SELECT * FROM <view> WHERE <filter>``.

    Args:
        con: the connection the caller's query runs on (temporary objects live in its session).
        expression: the filter text.
        view: the public view to filter.

    Raises:
        FilterSyntaxError: when the expression is invalid (the message names the position and what was expected).
    """
    view = View(view)
    compiled = compile_filter(expression, view)
    # Each ``?`` of the fragment is a placeholder: every value, string literals included, is a parameter.
    counter = iter(range(len(compiled.params)))
    fragment = re.sub(r"\?", lambda _: f"getvariable('{_VARIABLE_PREFIX}{next(counter)}')", compiled.sql)
    for index, value in enumerate(compiled.params):
        con.execute(f"SET VARIABLE {_VARIABLE_PREFIX}{index} = ?", [value])
    # view comes from the View enum and fragment from the compiler's templates: nothing here is user text.
    con.execute(f"CREATE OR REPLACE TEMP VIEW {FILTERED_RELATION} AS SELECT * FROM {view.value} WHERE {fragment}")
