"""Small inline SVG charts for the HTML report: no JavaScript, no external files (the page is self-contained)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#f59e0b", "#dc2626", "#16a34a", "#7c3aed", "#0891b2", "#db2777", "#65a30d")
CATEGORY_COLOURS = {
    "critical": "#dc2626",
    "performance": "#f59e0b",
    "user_activity": "#2563eb",
    "system": "#64748b",
    "debug": "#a3a3a3",
}


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart: a name and its y values (None: no point)."""

    name: str
    values: Sequence[float | None]


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 11, colour: str = "#334155") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{colour}" '
        f'font-family="sans-serif">{escape(text)}</text>'
    )


def _empty(title: str, width: int, height: int) -> str:
    return _svg(width, height, [_text(width / 2, height / 2, "no data", anchor="middle")], title)


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "", width: int = 720, height: int = 260
) -> str:
    """A line chart with one line per series over shared x labels (e.g. times)."""
    values = [v for s in series for v in s.values if v is not None]
    if not labels or not values:
        return _empty(title, width, height)
    left, right, top, bottom = 60, 130, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = max(values) * 1.1 or 1.0
    step = plot_w / max(len(labels) - 1, 1)
    body = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#f8fafc" stroke="#cbd5e1"/>']
    for i in range(5):
        y_value = y_max * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        body.append(_text(left - 6, y + 4, f"{y_value:.4g}{unit}", anchor="end", size=10))
    tick_every = max(1, len(labels) // 6)
    for i in range(0, len(labels), tick_every):
        body.append(_text(left + i * step, height - bottom + 16, labels[i], anchor="middle", size=10))
    for n, s in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        points = [
            f"{left + i * step:.1f},{top + plot_h - plot_h * v / y_max:.1f}"
            for i, v in enumerate(s.values)
            if v is not None
        ]
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>')
        body.append(f'<rect x="{width - right + 12}" y="{top + 18 * n}" width="10" height="10" fill="{colour}"/>')
        body.append(_text(width - right + 28, top + 18 * n + 9, s.name))
    return _svg(width, height, body, title)


def bar_chart(
    title: str, bars: Sequence[tuple[str, float]], *, colours: dict[str, str] | None = None, width: int = 720
) -> str:
    """Horizontal bars, one per (label, value), largest first as given."""
    height = 24 + 22 * max(len(bars), 1)
    if not bars:
        return _empty(title, width, 60)
    left, right = 180, 70
    top_value = max(v for _, v in bars) or 1.0
    body = []
    for i, (label, value) in enumerate(bars):
        y = 12 + 22 * i
        bar_w = (width - left - right) * value / top_value
        colour = (colours or {}).get(label, PALETTE[0])
        body.append(_text(left - 8, y + 13, label[:28], anchor="end"))
        body.append(f'<rect x="{left}" y="{y}" width="{max(bar_w, 1):.1f}" height="16" fill="{colour}" rx="2"/>')
        body.append(_text(left + bar_w + 6, y + 13, f"{value:g}"))
    return _svg(width, height, body, title)


@dataclass(frozen=True, slots=True)
class WaterfallSpan:
    """One bar of a trace waterfall (times in ms from the trace start)."""

    label: str
    start_ms: float
    end_ms: float
    depth: int
    on_critical_path: bool
    error: bool = False


def waterfall(title: str, spans: Sequence[WaterfallSpan], *, width: int = 720) -> str:
    """A trace waterfall: one row per span, critical-path spans highlighted."""
    if not spans:
        return _empty(title, width, 60)
    left, right = 240, 60
    total = max(s.end_ms for s in spans) or 1.0
    height = 30 + 18 * len(spans)
    plot_w = width - left - right
    body = [_text(left, 12, "0 ms", size=10), _text(width - right, 12, f"{total:.0f} ms", anchor="end", size=10)]
    for i, s in enumerate(spans):
        y = 20 + 18 * i
        x = left + plot_w * s.start_ms / total
        w = max(plot_w * (s.end_ms - s.start_ms) / total, 1.0)
        colour = "#dc2626" if s.error else "#f59e0b" if s.on_critical_path else "#94a3b8"
        body.append(_text(8 + 10 * min(s.depth, 8), y + 11, s.label[:34], size=10))
        body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="13" fill="{colour}" rx="2"/>')
        body.append(_text(min(x + w + 4, width - 4), y + 11, f"{s.end_ms - s.start_ms:.0f} ms", size=9))
    return _svg(width, height, body, title)
