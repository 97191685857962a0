"""The status file: a running receiver rewrites ``status.json`` in its WAL directory every second.

``otel-events status`` reads it. The file is replaced atomically (write a temporary file, then rename) so a
reader never sees half of it; whether a receiver is still alive is decided by the WAL directory lock, which
the kernel drops when the process dies (even after ``kill -9``), not by the file's presence.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from otel_events.errors import ReceiverError
from otel_events.receiver.wal.log import LOCK_FILE

_logger = logging.getLogger(__name__)

STATUS_FILE = "status.json"


class StatusWriter:
    """A daemon thread that rewrites the status file every ``interval`` seconds until stopped.

    Args:
        directory: the WAL directory.
        collect: returns the JSON-ready status.
        interval: seconds between rewrites.
    """

    def __init__(self, directory: Path, collect: Callable[[], dict[str, object]], interval: float) -> None:
        self._path = directory / STATUS_FILE
        self._collect = collect
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Write the file once now, then every interval."""
        self.write()
        self._thread = threading.Thread(target=self._run, name="otel-events-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop rewriting and remove the file (a stopped receiver has no status). Safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._path.unlink(missing_ok=True)

    def write(self) -> None:
        """Replace the status file atomically; a failure is logged, never raised (status is best effort)."""
        temporary = self._path.with_name(f".{STATUS_FILE}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(self._collect(), indent=2, sort_keys=True), encoding="utf-8")
            temporary.replace(self._path)
        except OSError as exc:
            _logger.warning("cannot write the status file %s: %s", self._path, exc)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.write()


def receiver_is_running(wal_dir: Path) -> bool:
    """Whether a live process holds the WAL directory lock."""
    try:
        fd = os.open(wal_dir / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def read_status(wal_dir: Path) -> dict[str, object]:
    """The status of the receiver using ``wal_dir``.

    Raises:
        ReceiverError: when no receiver is running on that WAL directory or its status cannot be read.
    """
    if not wal_dir.is_dir():
        raise ReceiverError(f"no receiver is running: WAL directory {wal_dir} does not exist")
    if not receiver_is_running(wal_dir):
        raise ReceiverError(f"no receiver is running on WAL directory {wal_dir}")
    try:
        status = json.loads((wal_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReceiverError(f"the receiver on {wal_dir} has not written its status yet; try again") from None
    except (OSError, ValueError) as exc:
        raise ReceiverError(f"cannot read the receiver status in {wal_dir}: {exc}") from None
    if not isinstance(status, dict):
        raise ReceiverError(f"the status file in {wal_dir} is not a JSON object")
    return status
