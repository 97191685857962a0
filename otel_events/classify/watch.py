"""A daemon thread that polls a file's modification signature and calls back when it changes."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

Signature = tuple[int, int, int] | None
"""(mtime_ns, size, inode) of a file, or None when it cannot be read."""


def file_signature(path: str) -> Signature:
    """Return what changes when the file is rewritten or replaced, or None if it cannot be stat'ed."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class FileWatcher:
    """Poll ``path`` every ``interval`` seconds and call ``on_change(signature)`` when its signature changes.

    Polling (rather than inotify) keeps this portable and dependency-free; a rules file changes rarely. A change
    is reported once the signature is the same on two polls in a row, so a file being rewritten in place is not
    read half-written (an empty file is valid TOML and would silently drop the user's rules).

    Args:
        path: File to watch.
        on_change: Called on the watcher thread with the new signature; exceptions are logged, never raised.
        interval: Seconds between polls.
        initial: Signature already handled by the caller (so the first poll does not fire spuriously).
    """

    def __init__(
        self, path: str, on_change: Callable[[Signature], None], *, interval: float, initial: Signature
    ) -> None:
        if interval <= 0:
            raise ValueError(f"poll interval must be positive, got {interval}")
        self._path = path
        self._on_change = on_change
        self._interval = interval
        self._last = initial
        self._pending: Signature | object = initial
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otel-events-rules-watch", daemon=True)

    def start(self) -> None:
        """Start polling (once)."""
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for the thread; safe to call twice and before :meth:`start`."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            current = file_signature(self._path)
            if current == self._last:
                self._pending = current
                continue
            if current != self._pending:
                self._pending = current  # still changing: look again on the next poll
                continue
            self._last = current
            try:
                self._on_change(current)
            except Exception:  # the watcher must survive whatever a reload does
                logger.exception("rules watcher callback failed for %s", self._path)
