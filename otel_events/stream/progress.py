"""A one-line progress bar on a terminal (stderr); silent when the stream is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_REDRAW_SECONDS = 0.1
_WIDTH = 30


class ProgressBar:
    """Shows ``done/total`` items, a bar and the rate, redrawn at most 10 times a second.

    Args:
        total: the expected number of items.
        label: the text before the bar.
        stream: where to draw (default stderr); nothing is drawn unless it is a terminal.
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 0)
        self.label = label
        self.done = 0
        self._stream = stream or sys.stderr
        self._enabled = bool(getattr(self._stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._drawn_at = 0.0

    def advance(self, items: int) -> None:
        """Count ``items`` more as done and redraw if due."""
        self.done += items
        now = time.monotonic()
        if self._enabled and now - self._drawn_at >= _REDRAW_SECONDS:
            self._drawn_at = now
            self._draw(now)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        if self._enabled:
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, now: float) -> None:
        fraction = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(fraction * _WIDTH)
        rate = self.done / max(now - self._started, 1e-9)
        bar = "#" * filled + "-" * (_WIDTH - filled)
        self._stream.write(
            f"\r{self.label} [{bar}] {self.done}/{self.total} items ({fraction:.0%}) {rate:,.0f} items/s"
        )
        self._stream.flush()
