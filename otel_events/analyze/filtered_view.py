"""``otel-events sql --filter EXPR``: the rows of one public view that match a filter, as a relation named ``filtered``.

The query is wrapped as ``WITH filtered AS (SELECT * FROM <view> WHERE <filter>) SELECT * FROM (<query>)``: the
filter is compiled like every other (:func:`otel_events.analyze.filter.compile_filter`) and its values are bound as
``$filter_<n>`` parameters, never formatted into the text. One statement with named parameters runs the same on a
local file and through a receiver's query API (``QueryRequest.parameters_json``).

Example:
    >>> sql, params = filtered_statement("SELECT name, count(*) FROM filtered GROUP BY name", "service = 'a'")
    >>> con.execute(sql, params).fetchall()
"""

from __future__ import annotations

from otel_events.analyze.fields import View
from otel_events.analyze.filter import compile_filter

FILTERED_RELATION = "filtered"
"""Name of the relation holding the filtered rows."""
SELECT_FILTERED = f"SELECT * FROM {FILTERED_RELATION}"
"""The query run when only a filter is given."""
_PARAMETER_PREFIX = "filter"


def filtered_statement(query: str, expression: str, view: View | str = View.SPANS) -> tuple[str, dict[str, object]]:
    """Return ``query`` with the relation ``filtered`` defined in front of it, and the parameters to bind.

    Args:
        query: one SELECT statement that reads ``filtered`` (a trailing ``;`` is allowed).
        expression: the filter text.
        view: the public view to filter (spans, logs, metric_points or traces).

    Returns:
        The statement and its ``$filter_<n>`` parameters.

    Raises:
        FilterSyntaxError: when the expression is invalid (the message names the position and what was expected).
    """
    view = View(view)
    fragment, params = compile_filter(expression, view).named(_PARAMETER_PREFIX)
    body = query.strip().rstrip(";").rstrip()
    # view comes from the View enum and fragment from the compiler's templates; the query runs as a subquery, so
    # its own WITH clauses and ORDER BY stay as written.
    sql = f"WITH {FILTERED_RELATION} AS (SELECT * FROM {view.value} WHERE {fragment})\nSELECT * FROM (\n{body}\n)"
    return sql, params
