"""Handlers (SPEC §7): config rules ``filter -> action`` run by the receiver on newly stored spans and logs.

A poller thread reads the rows stored since its last look (by ingest batch number, through a cursor of the receiver's
store connection; never on the ingest path) and offers each match to the rule's bounded queue. One worker thread per
rule delivers it: a webhook POST of ``{"handler": NAME, "kind": "span" | "log", "item": {view columns}}`` as JSON,
or a call of a Python entry point with that dict. Failed attempts are retried with capped exponential backoff and
jitter; a circuit breaker per rule stops attempts against a target that keeps failing. A full queue drops the item
and counts it, so a failing or slow handler never slows ingest.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import importlib
import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import duckdb

from otel_events.analyze.filter import compile_filter
from otel_events.errors import ConfigError, FilterSyntaxError
from otel_events.stream.backoff import Backoff
from otel_events.stream.breaker import BreakerSettings, CircuitBreaker

_logger = logging.getLogger(__name__)

KINDS = ("spans", "logs")
_ROW_VIEWS = {"spans": "span_rows", "logs": "log_rows"}
_ITEM_KIND = {"spans": "span", "logs": "log"}
_RETRYABLE_HTTP = frozenset({408, 429, 500, 502, 503, 504})


class HandlerAction(StrEnum):
    """What a handler does with a matching item."""

    WEBHOOK = "webhook"
    PYTHON = "python"


@dataclass(frozen=True)
class HandlerRule:
    """One ``[[handlers]]`` rule.

    Attributes:
        name: shown in ``otel-events status``.
        filter: filter expression (SPEC §6) an item must match.
        action: webhook or python.
        url: the webhook URL (``http://`` or ``https://``).
        entry_point: ``module:function`` called with the item dict.
        kinds: ``spans`` and/or ``logs``.
        timeout: seconds per webhook attempt.
        queue_size: items waiting for delivery; beyond it new items are dropped and counted.
        backoff: retry policy per item.
        breaker: circuit breaker thresholds.
    """

    name: str
    filter: str
    action: HandlerAction
    url: str | None = None
    entry_point: str | None = None
    kinds: tuple[str, ...] = KINDS
    timeout: float = 5.0
    queue_size: int = 1000
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.5, maximum=30.0, max_attempts=5))
    breaker: BreakerSettings = field(default_factory=BreakerSettings)

    def validate(self) -> HandlerRule:
        """Check the rule (the filter compiles for each kind, the action has its target); returns ``self``.

        Raises:
            ConfigError: naming the rule and the problem.
        """
        where = f"handler {self.name!r}"
        if not self.kinds or set(self.kinds) - set(KINDS):
            raise ConfigError(f"{where}: kinds must be a non-empty subset of {', '.join(KINDS)}, got {self.kinds}")
        for kind in self.kinds:
            try:
                compile_filter(self.filter, kind)
            except FilterSyntaxError as exc:
                raise ConfigError(f"{where}: invalid filter for {kind}: {exc}") from None
        if self.action is HandlerAction.WEBHOOK:
            if not self.url or not self.url.startswith(("http://", "https://")):
                raise ConfigError(f'{where}: a webhook needs url = "http://..." or "https://...", got {self.url!r}')
        elif not self.entry_point or ":" not in self.entry_point:
            raise ConfigError(f'{where}: a python action needs entry_point = "module:function"')
        if self.timeout <= 0 or self.queue_size < 1:
            raise ConfigError(f"{where}: timeout and queue_size must be positive")
        return self


_RULE_KEYS = {
    "name", "filter", "action", "url", "entry_point", "kinds", "timeout", "queue_size", "max_attempts",
    "backoff_initial", "backoff_max", "failure_threshold", "cooldown",
}  # fmt: skip


def parse_handler_rules(tables: object, origin: str) -> tuple[HandlerRule, ...]:
    """Build rules from the ``[[handlers]]`` array of tables of a config file.

    Raises:
        ConfigError: naming ``origin``, the rule and the bad key or value.
    """
    if not isinstance(tables, list):
        raise ConfigError(f"{origin}: handlers must be an array of tables ([[handlers]])")
    rules = []
    for index, table in enumerate(tables):
        if not isinstance(table, dict):
            raise ConfigError(f"{origin}: handlers[{index}] must be a table")
        unknown = sorted(set(table) - _RULE_KEYS)
        if unknown:
            raise ConfigError(f"{origin}: handlers[{index}]: unknown key(s) {', '.join(unknown)}")
        try:
            action = HandlerAction(table.get("action"))
        except ValueError:
            raise ConfigError(f'{origin}: handlers[{index}]: action must be "webhook" or "python"') from None
        if not isinstance(table.get("filter"), str):
            raise ConfigError(f"{origin}: handlers[{index}]: filter must be a string expression")
        try:
            rule = HandlerRule(
                name=str(table.get("name") or f"handler-{index + 1}"),
                filter=table["filter"],
                action=action,
                url=table.get("url"),
                entry_point=table.get("entry_point"),
                kinds=tuple(table.get("kinds", KINDS)),
                timeout=float(table.get("timeout", 5.0)),
                queue_size=int(table.get("queue_size", 1000)),
                backoff=Backoff(
                    initial=float(table.get("backoff_initial", 0.5)),
                    maximum=float(table.get("backoff_max", 30.0)),
                    max_attempts=int(table.get("max_attempts", 5)),
                ),
                breaker=BreakerSettings(
                    failure_threshold=int(table.get("failure_threshold", 5)),
                    cooldown=float(table.get("cooldown", 30.0)),
                ),
            ).validate()
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{origin}: handlers[{index}]: {exc}") from None
        rules.append(rule)
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ConfigError(f"{origin}: handler names must be unique, got {names}")
    return tuple(rules)


class DeliveryFailure(Exception):
    """An attempt failed; ``retryable`` says whether another may succeed."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


Deliver = Callable[[Mapping[str, object]], None]


def webhook(url: str, timeout: float) -> Deliver:
    """A delivery that POSTs the item as JSON; 2xx is success, 408/429/5xx and network errors are retryable."""

    def deliver(item: Mapping[str, object]) -> None:
        body = json.dumps(item, default=_json_value).encode("utf-8")
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            raise DeliveryFailure(
                f"HTTP {exc.code}",
                retryable=exc.code in _RETRYABLE_HTTP,
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            ) from None
        except (OSError, urllib.error.URLError) as exc:  # refused, reset, timed out
            raise DeliveryFailure(f"{type(exc).__name__}: {exc}") from None

    return deliver


def python_entry_point(entry_point: str) -> Deliver:
    """A delivery calling ``module:function`` with the item; any exception is a retryable failure.

    Raises:
        ConfigError: when the module or function cannot be loaded.
    """
    module_name, _, attribute = entry_point.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load handler entry point {entry_point!r}: {exc}") from None
    if not callable(target):
        raise ConfigError(f"handler entry point {entry_point!r} is not callable")

    def deliver(item: Mapping[str, object]) -> None:
        try:
            target(item)
        except Exception as exc:
            raise DeliveryFailure(f"{type(exc).__name__}: {exc}") from None

    return deliver


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, decimal.Decimal | uuid.UUID | dt.timedelta):
        return str(value)
    return str(value)


@dataclass
class HandlerStats:
    """Per-handler counters shown by ``otel-events status``."""

    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    retries: int = 0
    breaker_opened: int = 0


class HandlerWorker:
    """A bounded queue and one delivery thread for one rule.

    Args:
        rule: the rule.
        deliver: performs one attempt (raises ``DeliveryFailure``).
    """

    def __init__(self, rule: HandlerRule, deliver: Deliver) -> None:
        self.rule = rule
        self._deliver = deliver
        self.stats = HandlerStats()
        self.breaker = CircuitBreaker(rule.breaker)
        self._queue: collections.deque[Mapping[str, object]] = collections.deque()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the delivery thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"otel-events-handler-{self.rule.name}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the attempt in progress; queued items stay counted as queued. Safe to call twice."""
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def offer(self, item: Mapping[str, object]) -> bool:
        """Queue an item without ever blocking; False (and a counted drop) when the queue is full."""
        with self._ready:
            if len(self._queue) >= self.rule.queue_size:
                self.stats.dropped += 1
                return False
            self._queue.append(item)
            self._ready.notify()
            return True

    def snapshot(self) -> dict[str, object]:
        """The counters, the breaker state and the queue depth."""
        return {
            "action": self.rule.action.value,
            "delivered": self.stats.delivered,
            "failed": self.stats.failed,
            "dropped": self.stats.dropped,
            "retries": self.stats.retries,
            "queued": len(self._queue),
            "state": self.breaker.state.value,
            "breaker_opened": self.breaker.opened,
        }

    def _next(self) -> Mapping[str, object] | None:
        with self._ready:
            while not self._queue:
                if self._stop.is_set():
                    return None
                self._ready.wait(0.5)
            return self._queue.popleft()

    def _run(self) -> None:
        while (item := self._next()) is not None:
            self._handle(item)

    def _handle(self, item: Mapping[str, object]) -> None:
        backoff = self.rule.backoff
        for attempt in range(backoff.max_attempts):
            # While the breaker is open nothing is attempted; the queue absorbs new items meanwhile.
            while (wait := self.breaker.wait_seconds()) > 0:
                if self._stop.wait(wait):
                    return
            try:
                self._deliver(item)
            except DeliveryFailure as failure:
                self.breaker.record_failure()
                if not failure.retryable or attempt + 1 == backoff.max_attempts:
                    self.stats.failed += 1
                    _logger.warning("handler %s gave up on an item: %s", self.rule.name, failure)
                    return
                self.stats.retries += 1
                if self._stop.wait(backoff.delay(attempt, failure.retry_after)):
                    return
                continue
            self.breaker.record_success()
            self.stats.delivered += 1
            return


class HandlerRunner:
    """The poller thread feeding every rule's worker with newly stored matching items.

    Args:
        connect: returns a connection to read with (a cursor of the receiver's store connection).
        rules: the rules.
        poll_interval: seconds between looks at the store.
        deliveries: a delivery per rule name, overriding the one built from the rule (tests).
    """

    def __init__(
        self,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        rules: Sequence[HandlerRule],
        *,
        poll_interval: float = 0.5,
        deliveries: Mapping[str, Deliver] | None = None,
    ) -> None:
        self._connect = connect
        self._poll_interval = poll_interval
        self.workers = [HandlerWorker(rule, (deliveries or {}).get(rule.name) or _delivery(rule)) for rule in rules]
        self._queries = [
            [(kind, compile_filter(worker.rule.filter, kind)) for kind in worker.rule.kinds] for worker in self.workers
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._watermark = 0
        self.poll_errors = 0

    def start(self) -> None:
        """Handle items stored from now on."""
        if self._thread is not None or not self.workers:
            return
        self._con = self._connect()
        self._watermark = self._latest_batch()
        for worker in self.workers:
            worker.start()
        self._thread = threading.Thread(target=self._run, name="otel-events-handlers", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling and delivering. Safe to call twice and before ``start``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for worker in self.workers:
            worker.stop(timeout)
        if self._con is not None:
            self._con.close()
            self._con = None

    def stats(self) -> dict[str, dict[str, object]]:
        """Per-handler counters by rule name."""
        return {worker.rule.name: worker.snapshot() for worker in self.workers}

    def poll_once(self) -> int:
        """Offer the items stored since the last poll; returns how many matched."""
        assert self._con is not None
        latest = self._latest_batch()
        if latest <= self._watermark:
            return 0
        matched = 0
        for worker, queries in zip(self.workers, self._queries, strict=True):
            for kind, compiled in queries:
                cursor = self._con.execute(
                    f"SELECT * EXCLUDE (ingest_batch) FROM {_ROW_VIEWS[kind]} "
                    f"WHERE ingest_batch > ? AND ingest_batch <= ? AND {compiled.sql} ORDER BY ingest_batch",
                    [self._watermark, latest, *compiled.params],
                )
                names = [column[0] for column in cursor.description]
                for row in cursor.fetchall():
                    item = {
                        "handler": worker.rule.name,
                        "kind": _ITEM_KIND[kind],
                        "item": dict(zip(names, row, strict=True)),
                    }
                    worker.offer(item)
                    matched += 1
        self._watermark = latest
        return matched

    def _latest_batch(self) -> int:
        assert self._con is not None
        row = self._con.execute(
            "SELECT coalesce(max(b), -1) FROM (SELECT max(ingest_batch) AS b FROM span_data "
            "UNION ALL SELECT max(ingest_batch) FROM log_data)"
        ).fetchone()
        return row[0]

    def _run(self) -> None:
        while not self._stop.wait(self._poll_interval):
            try:
                self.poll_once()
            except duckdb.Error:
                self.poll_errors += 1
                _logger.exception("reading new items for handlers failed; retrying")


def _delivery(rule: HandlerRule) -> Deliver:
    if rule.action is HandlerAction.WEBHOOK:
        assert rule.url is not None
        return webhook(rule.url, rule.timeout)
    assert rule.entry_point is not None
    return python_entry_point(rule.entry_point)
