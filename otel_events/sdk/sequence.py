"""The process-wide event stream: one random stream id and one gap-free counter shared by spans and logs.

SPEC §3: ``otel_events.seq`` is 1, 2, 3, … in emission order, one counter per stream shared by the span and
log processors, and a forked child starts a new stream (new id, fresh counter) so parent and child never
interleave numbers under one id.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import uuid
from collections.abc import Callable


def _new_stream_id() -> str:
    return uuid.uuid4().hex


def _gil_enabled() -> bool:
    # ``itertools.count.__next__`` runs entirely in C while holding the GIL, so it is an atomic increment
    # (~40 ns). Free-threaded builds have no such guarantee and take the lock instead.
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


class EventStream:
    """A stream id and a thread-safe sequence counter.

    Attributes:
        stream_id: 32 lowercase hex characters, random per process start (and per forked child).
    """

    def __init__(self) -> None:
        self.stream_id = _new_stream_id()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self.next_seq: Callable[[], int] = self._counter.__next__ if _gil_enabled() else self._locked_next

    def _locked_next(self) -> int:
        with self._lock:
            return next(self._counter)

    def restart(self) -> None:
        """Start a new stream: a new random id and a counter that begins again at 1."""
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self.stream_id = _new_stream_id()
        self.next_seq = self._counter.__next__ if _gil_enabled() else self._locked_next


_STREAM = EventStream()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_STREAM.restart)


def process_stream() -> EventStream:
    """Return the stream shared by every processor in this process."""
    return _STREAM
