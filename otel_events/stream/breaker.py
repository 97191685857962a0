"""A circuit breaker per handler: closed -> open after N consecutive failures -> half-open after a cool-down.

While open no delivery is attempted (the handler's queue absorbs items, overflow is counted as drops); after the
cool-down one trial delivery is let through (half-open): success closes the breaker, failure opens it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from otel_events.errors import ConfigError


class BreakerState(StrEnum):
    """The states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """Thresholds of a circuit breaker.

    Attributes:
        failure_threshold: consecutive failed attempts that open the breaker.
        cooldown: seconds the breaker stays open before a trial attempt.
    """

    failure_threshold: int = 5
    cooldown: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ConfigError(f"breaker failure threshold must be at least 1, got {self.failure_threshold}")
        if self.cooldown <= 0:
            raise ConfigError(f"breaker cool-down must be positive, got {self.cooldown}")


class CircuitBreaker:
    """Thread-safe breaker state machine.

    Args:
        settings: thresholds.
        clock: monotonic seconds (tests pass a fake clock).
    """

    def __init__(self, settings: BreakerSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self.opened = 0  # times the breaker opened, for stats

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose cool-down has passed reads as half-open)."""
        with self._lock:
            return self._current()

    def wait_seconds(self) -> float:
        """Seconds until an attempt is allowed (0 when closed or half-open)."""
        with self._lock:
            if self._current() is BreakerState.OPEN:
                return max(0.0, self._opened_at + self.settings.cooldown - self._clock())
            return 0.0

    def record_success(self) -> None:
        """An attempt succeeded: close the breaker."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0

    def record_failure(self) -> None:
        """An attempt failed: count it; open the breaker at the threshold or when a trial attempt failed."""
        with self._lock:
            state = self._current()
            self._failures += 1
            if state is BreakerState.HALF_OPEN or self._failures >= self.settings.failure_threshold:
                if state is not BreakerState.OPEN:
                    self.opened += 1
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()

    def _current(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() >= self._opened_at + self.settings.cooldown:
            self._state = BreakerState.HALF_OPEN
        return self._state
