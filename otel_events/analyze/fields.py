"""The columns a filter expression may name, per public view (SPEC §5), with their kinds and aliases.

This catalogue is the whitelist of the filter language: a field that is not listed here cannot reach
the SQL text, and every column expression the compiler emits comes from this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class View(StrEnum):
    """The public SQL views a filter can be compiled for."""

    SPANS = "spans"
    LOGS = "logs"
    METRIC_POINTS = "metric_points"
    TRACES = "traces"


class FieldKind(Enum):
    """How a column compares, which decides the literal it accepts and the SQL template used."""

    TEXT = "text"
    NUMBER = "number"
    TIME = "time"
    CATEGORY = "category"  # ordered: debug < system < user_activity < performance < critical
    CHOICE = "choice"  # a closed set of strings without an order (kind, status_code, ...)
    BOOLEAN = "boolean"
    MAP = "map"  # attributes / resource_attributes, addressed by key


CATEGORIES = ("debug", "system", "user_activity", "performance", "critical")

CHOICES: dict[str, tuple[str, ...]] = {
    "kind": ("internal", "server", "client", "producer", "consumer"),
    "status_code": ("unset", "ok", "error"),
    "category_source": ("sdk", "receiver"),
    "type": ("gauge", "sum", "histogram", "exponential_histogram", "summary"),
    "temporality": ("unspecified", "delta", "cumulative"),
}


@dataclass(frozen=True, slots=True)
class Field:
    """One filterable column of a view.

    Attributes:
        column: the column name in the view (also the SQL text emitted for it).
        kind: how the column compares.
    """

    column: str
    kind: FieldKind

    @property
    def choices(self) -> tuple[str, ...]:
        """The allowed literals for CATEGORY and CHOICE columns (empty otherwise)."""
        if self.kind is FieldKind.CATEGORY:
            return CATEGORIES
        return CHOICES.get(self.column, ())


def _fields(**kinds: FieldKind) -> dict[str, Field]:
    return {name: Field(name, kind) for name, kind in kinds.items()}


T, N, TM, CAT, CH, B, M = (
    FieldKind.TEXT,
    FieldKind.NUMBER,
    FieldKind.TIME,
    FieldKind.CATEGORY,
    FieldKind.CHOICE,
    FieldKind.BOOLEAN,
    FieldKind.MAP,
)

_COMMON_CLASSIFIED = {
    "category": CAT,
    "rule": T,
    "category_source": CH,
    "stream_id": T,
    "seq": N,
    "correlation_id": T,
    "tenant": T,
    "received_at": TM,
    "attributes": M,
    "resource_attributes": M,
}

COLUMNS: dict[View, dict[str, Field]] = {
    View.SPANS: _fields(
        trace_id=T,
        span_id=T,
        parent_span_id=T,
        trace_state=T,
        name=T,
        kind=CH,
        start_time=TM,
        end_time=TM,
        duration_ms=N,
        status_code=CH,
        status_message=T,
        service_name=T,
        scope_name=T,
        scope_version=T,
        **_COMMON_CLASSIFIED,
    ),
    View.LOGS: _fields(
        time=TM,
        observed_time=TM,
        trace_id=T,
        span_id=T,
        severity_number=N,
        severity_text=T,
        body=T,
        event_name=T,
        service_name=T,
        scope_name=T,
        **_COMMON_CLASSIFIED,
    ),
    View.METRIC_POINTS: _fields(
        time=TM,
        start_time=TM,
        service_name=T,
        name=T,
        description=T,
        unit=T,
        type=CH,
        value=N,
        count=N,
        sum=N,
        min=N,
        max=N,
        is_monotonic=B,
        temporality=CH,
        tenant=T,
        attributes=M,
        resource_attributes=M,
    ),
    View.TRACES: _fields(
        trace_id=T,
        root_service=T,
        root_name=T,
        start_time=TM,
        end_time=TM,
        duration_ms=N,
        span_count=N,
        error_count=N,
        max_category=CAT,
    ),
}

# Short names users type; each maps to a column of the view (SPEC §6 writes `service = 'checkout'`).
ALIASES: dict[View, dict[str, str]] = {
    View.SPANS: {
        "service": "service_name",
        "operation": "name",
        "time": "start_time",
        "duration": "duration_ms",
        "status": "status_code",
        "scope": "scope_name",
        "resource": "resource_attributes",
    },
    View.LOGS: {
        "service": "service_name",
        "name": "event_name",
        "severity": "severity_number",
        "scope": "scope_name",
        "resource": "resource_attributes",
    },
    View.METRIC_POINTS: {"service": "service_name", "resource": "resource_attributes"},
    View.TRACES: {
        "service": "root_service",
        "service_name": "root_service",
        "name": "root_name",
        "operation": "root_name",
        "time": "start_time",
        "duration": "duration_ms",
        "category": "max_category",
    },
}

# The time column each view is windowed on by --since/--until.
TIME_COLUMNS: dict[View, str] = {
    View.SPANS: "start_time",
    View.LOGS: "time",
    View.METRIC_POINTS: "time",
    View.TRACES: "start_time",
}


def resolve_field(view: View, name: str) -> Field | None:
    """Return the field a (possibly aliased) name denotes in ``view``, or None when it is not filterable.

    Args:
        view: the view the filter is compiled for.
        name: a column name or alias, case-insensitive.

    Returns:
        The field, or None.
    """
    lowered = name.lower()
    column = ALIASES[view].get(lowered, lowered)
    return COLUMNS[view].get(column)


def field_names(view: View) -> list[str]:
    """All names (columns and aliases) accepted for ``view``, sorted, for error messages."""
    return sorted(set(COLUMNS[view]) | set(ALIASES[view]))
