"""Keep processor hooks from raising into the application (SPEC §3: hooks never raise and never block)."""

from __future__ import annotations

import logging
import threading

_logger = logging.getLogger("otel_events.sdk")


class HookGuard:
    """Counts internal errors of one processor and logs only the first one of each hook.

    Hooks call :meth:`failed` from their ``except`` block; a ``try`` costs nothing in CPython 3.11 when no
    exception is raised, which keeps the guard off the per-item cost.
    """

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._logged: set[str] = set()
        self._lock = threading.Lock()
        self.errors = 0

    def failed(self, hook: str) -> None:
        """Record an internal error of ``hook``; must be called from an ``except`` block."""
        with self._lock:
            self.errors += 1
            first = hook not in self._logged
            self._logged.add(hook)
        if first:
            _logger.warning(
                "%s.%s failed; the item is passed on unclassified (further errors are only counted)",
                self._owner,
                hook,
                exc_info=True,
            )
