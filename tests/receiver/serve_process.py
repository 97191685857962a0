"""Run ``otel-events serve`` as a subprocess, as an operator would, and find its port from the ready line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

READY = re.compile(r"OTLP/gRPC listening on (?P<host>[^\s]+):(?P<port>\d+)$")


def _http_default(extra: tuple[str, ...]) -> tuple[str, ...]:
    """A free OTLP/HTTP port unless the test chose one: parallel test runs must not compete for 4318."""
    return () if "--http" in extra else ("--http", "127.0.0.1:0")


class ServeProcess:
    """``python -m otel_events.cli serve --db DB --grpc 127.0.0.1:0``; stderr goes to a log file next to the DB."""

    def __init__(self, db_path: Path, *extra: str) -> None:
        self.log_path = db_path.with_suffix(".serve.log")
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "otel_events.cli", "serve", "--db", str(db_path), "--grpc", "127.0.0.1:0"),
                *_http_default(extra),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.port = self._wait_ready(timeout=60)

    def _wait_ready(self, timeout: float) -> int:
        found: list[int] = []

        def read_line() -> None:
            assert self.process.stdout is not None
            line = self.process.stdout.readline().decode().strip()
            match = READY.match(line)
            if match:
                found.append(int(match["port"]))

        reader = threading.Thread(target=read_line, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"receiver did not become ready:\n{self.log_path.read_text()}")
        return found[0]

    def kill(self) -> None:
        """``kill -9``."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM and wait; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._log.close()
        return code
