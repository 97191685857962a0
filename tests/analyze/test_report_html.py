"""The HTML report is one self-contained page and renders in headless Chromium."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from otel_events.analyze.report import build_report, render_report_html
from otel_events.store import Store

from .dataset import WINDOW_END, WINDOW_START, build_store

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def html() -> str:
    store: Store = build_store()
    try:
        return render_report_html(store, build_report(store, since=WINDOW_START, until=WINDOW_END))
    finally:
        store.close()


def test_page_is_self_contained_with_the_four_charts(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html
    # no external resource: nothing is fetched from anywhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    titles = re.findall(r"<svg [^>]*aria-label=\"([^\"]+)\"", html)
    assert titles[:3] == ["Root span latency percentiles", "Errors by service", "Category mix"]
    waterfalls = [t for t in titles if t.startswith("GET /checkout (")]
    assert waterfalls == [
        "GET /checkout (6000 ms, critical) trace 000100000000000000000000000000f3",
        "GET /checkout (1500 ms, high) trace 000100000000000000000000000000f2",
        "GET /checkout (700 ms, medium) trace 000100000000000000000000000000f1",
    ]


def test_text_from_the_store_is_escaped() -> None:
    from otel_events.analyze.report import _table_html

    assert "<b>" not in _table_html([{"body": "<b>x</b>"}])
    assert "&lt;b&gt;x&lt;/b&gt;" in _table_html([{"body": "<b>x</b>"}])


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_page_renders_in_headless_chromium(html: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "report.png"
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1000,1600", f"--screenshot={shot}", page.as_uri(),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=90)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 1600)
    # a blank page compresses to almost nothing; charts and tables do not
    assert len(data) > 50_000
