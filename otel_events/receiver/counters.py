"""Counters the receiver keeps about itself, read by ``otel-events status``."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from enum import StrEnum


class RejectReason(StrEnum):
    """Why a request or item was not accepted."""

    INVALID_REQUEST = "invalid_request"  # not protobuf: INVALID_ARGUMENT
    INVALID_ITEM = "invalid_item"  # e.g. a wrong id length: partial_success
    OVER_BUDGET = "over_budget"  # WAL budget exhausted: RESOURCE_EXHAUSTED
    UNAVAILABLE = "unavailable"  # shutting down or the WAL write failed: UNAVAILABLE
    UNAUTHENTICATED = "unauthenticated"  # missing or wrong bearer token: UNAUTHENTICATED / HTTP 401
    TOO_LARGE = "too_large"  # an OTLP/HTTP body past the max message size: HTTP 413


class ReceiverCounters:
    """Thread-safe counters; gRPC handler threads and the pipeline thread update them."""

    _LATENCY_WINDOW = 2048  # recent store calls kept for the percentiles

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started_at = time.time()
        self._received_requests = 0
        self._received_items = 0
        self._received_bytes = 0
        self._stored_items = 0
        self._stored_records = 0
        self._rejected: Counter[str] = Counter()
        self._store_seconds: deque[float] = deque(maxlen=self._LATENCY_WINDOW)
        self._store_errors = 0

    def record_received(self, items: int, size: int) -> None:
        """A request was written to the WAL and acknowledged."""
        with self._lock:
            self._received_requests += 1
            self._received_items += items
            self._received_bytes += size

    def record_rejected(self, reason: RejectReason, items: int = 1) -> None:
        """``items`` items (or one request) were refused for ``reason``."""
        with self._lock:
            self._rejected[reason.value] += items

    def record_stored(self, records: int, items: int, seconds: float) -> None:
        """The pipeline stored a batch of ``records`` WAL records holding ``items`` items."""
        with self._lock:
            self._stored_records += records
            self._stored_items += items
            self._store_seconds.append(seconds)

    def record_store_error(self) -> None:
        """A store call failed as a whole and will be retried."""
        with self._lock:
            self._store_errors += 1

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready copy of every counter."""
        with self._lock:
            latencies = sorted(self._store_seconds)
            return {
                "uptime_seconds": round(time.time() - self.started_at, 3),
                "received_requests": self._received_requests,
                "received_items": self._received_items,
                "received_bytes": self._received_bytes,
                "stored_records": self._stored_records,
                "stored_items": self._stored_items,
                "store_errors": self._store_errors,
                "rejected": {reason.value: self._rejected.get(reason.value, 0) for reason in RejectReason},
                "store_latency_p50_ms": _percentile_ms(latencies, 0.50),
                "store_latency_p99_ms": _percentile_ms(latencies, 0.99),
            }


def _percentile_ms(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 3)
