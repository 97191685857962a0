"""Capped exponential backoff with jitter, shared by replay and handlers.

The shape of the OTLP exporters' retry (``exporter/otlp/proto/grpc/exporter.py``): the delay doubles per attempt,
is multiplied by a random factor in ``1 ± jitter`` so that many clients do not retry in lock-step, and a server's
retry hint (gRPC ``RetryInfo``, HTTP ``Retry-After``) replaces the computed delay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from otel_events.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays: ``initial * multiplier**attempt`` capped at ``maximum``, with ``± jitter`` spread.

    Attributes:
        initial: seconds before the first retry.
        maximum: the cap on any delay, a server hint included.
        multiplier: growth per attempt.
        jitter: relative spread (0.2 = ±20%).
        max_attempts: attempts in total (the first try included) before giving up.
    """

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2
    max_attempts: int = 6

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial:
            raise ConfigError(f"backoff needs 0 < initial <= maximum, got {self.initial} and {self.maximum}")
        if self.multiplier < 1:
            raise ConfigError(f"backoff multiplier must be at least 1, got {self.multiplier}")
        if not 0 <= self.jitter < 1:
            raise ConfigError(f"backoff jitter must be in [0, 1), got {self.jitter}")
        if self.max_attempts < 1:
            raise ConfigError(f"max attempts must be at least 1, got {self.max_attempts}")

    def delay(self, attempt: int, hint: float | None = None, *, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based).

        Args:
            attempt: how many attempts failed before this one, minus one.
            hint: the server's requested delay, honoured (up to ``maximum``) instead of the computed one.
            rng: the random source (tests pass a seeded one).
        """
        if hint is not None and hint >= 0:
            return min(hint, self.maximum)
        base = min(self.initial * self.multiplier**attempt, self.maximum)
        spread = (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return min(base * spread, self.maximum)
