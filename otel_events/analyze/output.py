"""Rendering analysis results as a text table, JSON, CSV or markdown (``--format``)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum

Row = Mapping[str, object]
Result = Sequence[Row] | Row
# A table cell longer than this is cut (with an ellipsis) so that one long log body does not wreck the layout.
MAX_CELL = 80


class OutputFormat(StrEnum):
    """The ``--format`` choices of ``otel-events analyze``."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


def format_time(value: datetime) -> str:
    """ISO-8601 UTC with a ``Z`` (stored times are naive UTC)."""
    return value.isoformat() + "Z"


def to_jsonable(value: object) -> object:
    """Convert a result value to plain JSON types (times as ISO strings, NaN as null)."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def cell(value: object, key: str | None = None) -> str:
    """One value as table/CSV text (a critical path reads ``a > b > c``, other lists ``a, b``)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return (" > " if key == "critical_path" else ", ").join(value)  # type: ignore[arg-type]
        return json.dumps(to_jsonable(value))
    if isinstance(value, Mapping):
        return json.dumps(to_jsonable(value))
    return str(value)


def _columns(rows: Sequence[Row]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return columns


def _short(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def render_table(rows: Sequence[Row]) -> str:
    """Aligned plain-text table; ``(no rows)`` when empty."""
    if not rows:
        return "(no rows)"
    columns = _columns(rows)
    cells = [[_short(cell(row.get(c), c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row.get(c), int | float) or row.get(c) is None for row in rows) for c in columns]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def render_markdown(rows: Sequence[Row]) -> str:
    """A GitHub-flavoured markdown table; ``_no rows_`` when empty."""
    if not rows:
        return "_no rows_"
    columns = _columns(rows)

    def esc(text: str) -> str:
        return _short(text).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines.extend("| " + " | ".join(esc(cell(row.get(c), c)) for c in columns) + " |" for row in rows)
    return "\n".join(lines)


def render_csv(rows: Sequence[Row]) -> str:
    """CSV with a header row (lists and objects as JSON text)."""
    buffer = io.StringIO()
    if rows:
        columns = _columns(rows)
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell(row.get(c), c) for c in columns] for row in rows)
    return buffer.getvalue().rstrip("\n")


_RENDERERS = {OutputFormat.TABLE: render_table, OutputFormat.MARKDOWN: render_markdown, OutputFormat.CSV: render_csv}


def render(result: Result, output_format: OutputFormat | str) -> str:
    """Render rows (a list of dicts) or an object (a dict whose list values are sections, e.g. ``errors``)."""
    output_format = OutputFormat(output_format)
    if output_format is OutputFormat.JSON:
        return json.dumps(to_jsonable(result), indent=2)
    renderer = _RENDERERS[output_format]
    if isinstance(result, Mapping):
        scalars = {k: v for k, v in result.items() if not isinstance(v, list)}
        sections = [renderer([scalars])] if scalars else []
        for key, value in result.items():
            if isinstance(value, list):
                title = f"## {key}" if output_format is OutputFormat.MARKDOWN else f"# {key}"
                sections.append(f"{title}\n{renderer(value)}")
        return "\n\n".join(sections)
    return renderer(list(result))
