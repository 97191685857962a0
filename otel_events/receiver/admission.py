"""Admission under load: pressure on the receiver's budgets and priority shedding by category (SPEC §4).

Pressure is the larger of two fractions: WAL bytes not yet stored in DuckDB over the WAL budget, and bytes of
requests being handled right now over the in-flight memory budget. Below the lowest threshold a request passes
untouched and undecoded. Above it, the request's items are sorted by category (their ``otel_events.category``
attribute, else the shared ``Classifier``) and the categories the pressure calls for are cut out of the payload
before the WAL append: ``debug`` first, then ``system``, then ``user_activity`` and ``performance``, ``critical``
last. At full pressure, or when every item would be cut, the whole request is refused with a retry delay so
standard OTLP exporters back off and send it again.

Protocol-neutral: OTLP/gRPC answers a refusal with ``RESOURCE_EXHAUSTED`` + ``google.rpc.RetryInfo``, OTLP/HTTP
with 429 + ``Retry-After``; items cut out are reported in ``partial_success`` by both.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from otel_events.classify import Category
from otel_events.receiver.item_categories import ItemCategories, ItemClassifier
from otel_events.store.otlp_classes import RAW_REQUEST_CLASSES

DEFAULT_SHED_THRESHOLDS: Mapping[Category, float] = {
    Category.DEBUG: 0.50,
    Category.SYSTEM: 0.70,
    Category.USER_ACTIVITY: 0.85,
    Category.PERFORMANCE: 0.85,
    Category.CRITICAL: 1.00,
}
"""Pressure (fraction of a budget) from which items of each category are refused."""

# Item nouns used in partial_success messages, per signal.
_NOUNS = {"traces": "spans", "logs": "log records", "metrics": "data points"}


@dataclass(frozen=True)
class SheddingPolicy:
    """When each category starts being refused.

    Attributes:
        thresholds: pressure from which each category is refused; the critical threshold is also the pressure
            at which whole requests are refused with a retry delay.
    """

    thresholds: Mapping[Category, float] = field(default_factory=lambda: dict(DEFAULT_SHED_THRESHOLDS))

    def __post_init__(self) -> None:
        missing = [category.value for category in Category if category not in self.thresholds]
        if missing:
            raise ValueError(f"shedding thresholds missing for {', '.join(missing)}")
        if any(not 0 < value <= 1 for value in self.thresholds.values()):
            raise ValueError("shedding thresholds must be fractions in (0, 1]")
        if self.thresholds[Category.CRITICAL] < max(self.thresholds.values()):
            raise ValueError("critical items must be the last refused: its threshold must be the highest")

    @property
    def lowest(self) -> float:
        """The pressure below which nothing is refused (and no request is decoded)."""
        return min(self.thresholds.values())

    @property
    def full(self) -> float:
        """The pressure from which whole requests are refused."""
        return self.thresholds[Category.CRITICAL]

    def refused_categories(self, pressure: float) -> frozenset[Category]:
        """The categories refused at ``pressure``."""
        return frozenset(category for category, threshold in self.thresholds.items() if pressure >= threshold)


@dataclass(frozen=True)
class Admission:
    """What ``AdmissionControl.admit`` decided for one request.

    Attributes:
        payload: the bytes to write: the request itself, or a re-serialized request without the refused items.
        accepted: items kept.
        rejected_by_category: items cut out, by category value (empty when nothing was cut).
        retry_after: seconds the client should wait when the WHOLE request is refused (nothing may be written);
            ``None`` when ``payload`` may be written.
        pressure: the pressure the decision was taken at (0.0 = idle, 1.0 = a budget used up).
        message: why items or the request were refused; empty when nothing was.
    """

    payload: bytes
    accepted: int
    rejected_by_category: Mapping[str, int]
    retry_after: float | None
    pressure: float
    message: str = ""

    @property
    def rejected(self) -> int:
        """Items cut out by category (report them in OTLP ``partial_success``)."""
        return sum(self.rejected_by_category.values())


class AdmissionControl:
    """Measures pressure and decides, per request, what may be written to the WAL.

    Thread-safe; one instance is shared by every protocol's handlers.

    Args:
        wal_bytes: current WAL bytes not yet released after storing (``WriteAheadLog.disk_bytes``).
        wal_max_bytes: the WAL budget.
        inflight_max_bytes: the budget of request bytes being handled at once (receiver memory).
        classifier: classifies items that arrive without ``otel_events.category``; the shared default
            ``Classifier()`` when None (built on first use: an idle receiver never needs it).
        policy: the shedding thresholds.
        retry_after_seconds: the retry delay suggested when a whole request is refused.
    """

    def __init__(
        self,
        *,
        wal_bytes: Callable[[], int],
        wal_max_bytes: int,
        inflight_max_bytes: int,
        classifier: ItemClassifier | None = None,
        policy: SheddingPolicy | None = None,
        retry_after_seconds: float = 1.0,
    ) -> None:
        if wal_max_bytes <= 0 or inflight_max_bytes <= 0:
            raise ValueError("budgets must be positive")
        self._wal_bytes = wal_bytes
        self._wal_max_bytes = wal_max_bytes
        self._inflight_max_bytes = inflight_max_bytes
        self._policy = policy or SheddingPolicy()
        self._retry_after = retry_after_seconds
        self._categories = ItemCategories(classifier)
        self._lock = threading.Lock()
        self._inflight_bytes = 0
        self._shed: Counter[str] = Counter()
        self._refused_requests = 0

    def pressure(self) -> float:
        """The larger of WAL fill and in-flight fill, as a fraction of the budget (may exceed 1.0)."""
        wal = self._wal_bytes() / self._wal_max_bytes
        return max(wal, self._inflight_bytes / self._inflight_max_bytes)

    @contextmanager
    def in_flight(self, size: int) -> Iterator[None]:
        """Count ``size`` request bytes as held in memory while the block runs (wrap the whole request)."""
        with self._lock:
            self._inflight_bytes += size
        try:
            yield
        finally:
            with self._lock:
                self._inflight_bytes -= size

    def admit(self, signal: str, payload: bytes, tenant: str | None = None, *, items: int | None = None) -> Admission:
        """Decide what of one validated export request may be written to the WAL.

        Args:
            signal: ``"traces"``, ``"logs"`` or ``"metrics"``.
            payload: the serialized ``Export*ServiceRequest`` (after validation).
            tenant: the request's tenant; all tenants share the budgets today (part of the contract so per-tenant
                budgets can come without changing callers).
            items: the number of items in ``payload`` when the caller knows it (validation counted them);
                counted here otherwise.

        Returns:
            The decision; when ``retry_after`` is set nothing may be written and the client should retry.

        Raises:
            ValueError: unknown signal.
        """
        if signal not in RAW_REQUEST_CLASSES:
            raise ValueError(f"unknown signal {signal!r} (expected traces, logs or metrics)")
        pressure = self.pressure()
        if pressure < self._policy.lowest:
            count = items if items is not None else self._count(signal, payload)
            return self._within_wal_budget(Admission(payload, count, {}, None, pressure))
        if pressure >= self._policy.full:
            return self._refuse(pressure)
        refused = self._policy.refused_categories(pressure)
        try:
            outcome = self._categories.remove(signal, payload, refused)
        except DecodeError:
            # Not a request this receiver can sort (validation let it through): it is written unsorted.
            outcome = None
        if outcome is None or not outcome.removed:
            count = items if items is not None else (outcome.kept if outcome else 0)
            return self._within_wal_budget(Admission(payload, count, {}, None, pressure))
        # Listed in shedding order: debug first.
        ordered = sorted(outcome.removed.items(), key=lambda pair: self._policy.thresholds[pair[0]])
        by_category = {category.value: count for category, count in ordered}
        listed = ", ".join(f"{name} ({count})" for name, count in by_category.items())
        noun = _NOUNS[signal]
        if not outcome.kept:
            self._count_shed(by_category)
            return self._refuse(pressure, f"refused all {outcome.total_removed} {noun} ({listed})", by_category)
        message = (
            f"receiver under load ({pressure:.0%} of its budget): refused {outcome.total_removed} {noun} "
            f"of lower priority: {listed}"
        )
        admission = self._within_wal_budget(
            Admission(outcome.payload, outcome.kept, by_category, None, pressure, message)
        )
        if admission.retry_after is None:
            self._count_shed(by_category)
        return admission

    def snapshot(self) -> dict[str, object]:
        """JSON-ready figures for the status: pressure, in-flight bytes, items shed by category."""
        with self._lock:
            shed = {category.value: self._shed.get(category.value, 0) for category in Category}
            refused = self._refused_requests
            inflight = self._inflight_bytes
        return {
            "pressure": round(self.pressure(), 4),
            "inflight_bytes": inflight,
            "shed": shed,
            "refused_requests": refused,
        }

    # -- internals --------------------------------------------------------------------------------------------

    def _count(self, signal: str, payload: bytes) -> int:
        try:
            return self._categories.count(signal, payload)
        except DecodeError:
            return 0

    def _count_shed(self, by_category: Mapping[str, int]) -> None:
        with self._lock:
            self._shed.update(by_category)

    def _within_wal_budget(self, admission: Admission) -> Admission:
        # Even below full pressure, one large request must not push the WAL past its budget.
        if admission.payload and self._wal_bytes() + len(admission.payload) > self._wal_max_bytes:
            return self._refuse(admission.pressure)
        return admission

    def _refuse(self, pressure: float, detail: str = "", by_category: Mapping[str, int] | None = None) -> Admission:
        with self._lock:
            self._refused_requests += 1
        if self._inflight_bytes / self._inflight_max_bytes > self._wal_bytes() / self._wal_max_bytes:
            reason = "the receiver's memory budget for requests in flight is used up"
        else:
            reason = "the receiver's write-ahead log is full while the store catches up"
        if detail:
            reason = f"receiver under load ({pressure:.0%} of its budget): {detail}"
        message = f"{reason}; retry in {self._retry_after:g} s"
        return Admission(b"", 0, dict(by_category or {}), self._retry_after, pressure, message)
