"""``replay``: re-export stored telemetry as OTLP, in original order and relative timing, resumably (SPEC §7).

The store's rows are cut into time-ordered slices (``replay_plan``); each slice is rebuilt into export requests
exactly as they were received (``otel_events.store.to_otlp.rebuild_requests``) and sent when its first item is due:
``start + (item time - first item time) / speed``. A named checkpoint is saved after every acknowledged request, so
an interrupted replay resumes after the last request the target accepted.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import duckdb

from otel_events.analyze.window import to_time, utc_now
from otel_events.errors import ConfigError, FilterSyntaxError, ReplayError
from otel_events.store.to_otlp import rebuild_requests
from otel_events.stream.backoff import Backoff
from otel_events.stream.replay_checkpoint import Checkpoint, CheckpointFile, PartialSlice
from otel_events.stream.replay_plan import (
    SPECS,
    Position,
    Selection,
    Signal,
    Slice,
    count_items,
    plan_slices,
    select,
)
from otel_events.stream.replay_transport import Exporter, ExportFailure, ExportOutcome, GrpcExporter, HttpExporter

_logger = logging.getLogger(__name__)

MIN_SPEED = 0.1
MAX_SPEED = 100.0
# A timed slice covers at most this much wall-clock time at the chosen speed: items closer together than this are
# sent in one request, so timing is kept to within 50 ms while dense data still travels in full requests.
_SLICE_WALL_SECONDS = 0.05
# As fast as possible, a slice (one rebuild query) holds up to this many requests' worth of items.
_REQUESTS_PER_FAST_SLICE = 16


class Transport(StrEnum):
    """How requests reach the target."""

    GRPC = "grpc"
    HTTP = "http"


@dataclass(frozen=True)
class ReplayOptions:
    """What to replay and how.

    Attributes:
        target: ``HOST:PORT`` of an OTLP receiver.
        transport: OTLP/gRPC (default) or OTLP/HTTP protobuf.
        filter: a filter expression (SPEC §6); a signal whose view it does not fit is skipped unless ``kinds``
            names it.
        since: start of the window (a duration before now such as ``2h``, or an ISO time); None: from the start.
        until: end of the window (exclusive); None: to the end.
        speed: timing scale (0.1-100, 2 = twice as fast); None sends as fast as possible.
        kinds: the signals to replay; None means every signal the filter fits.
        max_items: items per export request.
        headers: sent with every request (gRPC metadata or HTTP headers).
        timeout: seconds per attempt.
        backoff: retry policy for retryable failures.
    """

    target: str
    transport: Transport = Transport.GRPC
    filter: str | None = None
    since: str | datetime | None = None
    until: str | datetime | None = None
    speed: float | None = 1.0
    kinds: tuple[Signal, ...] | None = None
    max_items: int = 512
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 10.0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.5, maximum=30.0, max_attempts=8))

    def validate(self) -> ReplayOptions:
        """Check the values; returns ``self``.

        Raises:
            ConfigError: naming the invalid value.
        """
        if self.speed is not None and not MIN_SPEED <= self.speed <= MAX_SPEED:
            raise ConfigError(f"speed must be between {MIN_SPEED} and {MAX_SPEED:g}, got {self.speed:g}")
        if self.max_items < 1:
            raise ConfigError(f"items per request must be positive, got {self.max_items}")
        if self.timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {self.timeout}")
        if self.kinds is not None and not self.kinds:
            raise ConfigError("no kinds to replay: name at least one of traces, logs, metrics")
        return self


@dataclass
class ReplayResult:
    """What a replay run sent.

    Attributes:
        requests: requests acknowledged in this run.
        items: items in them.
        rejected: items the target refused through ``partial_success``.
        retries: failed attempts that were retried.
        complete: the end of the selection was reached (False when stopped).
        skipped_kinds: signals left out because the filter does not apply to them.
        first_sent: monotonic send times of the first request of each slice, with the slice's timeline time
            (for checking the timing).
    """

    requests: int = 0
    items: int = 0
    rejected: int = 0
    retries: int = 0
    complete: bool = False
    skipped_kinds: list[str] = field(default_factory=list)
    first_sent: list[tuple[float, int, str]] = field(default_factory=list)


OnRequest = Callable[[Signal, int], None]


def make_exporter(options: ReplayOptions) -> Exporter:
    """The exporter for the options' transport."""
    if options.transport is Transport.HTTP:
        return HttpExporter(options.target, options.headers)
    return GrpcExporter(options.target, options.headers)


def _time_ns(spec: str | datetime | None, now: datetime) -> int | None:
    if spec is None:
        return None
    moment = to_time(spec, now)
    return int(moment.replace(tzinfo=UTC).timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def selection_key(options: ReplayOptions, source: str) -> dict[str, object]:
    """What identifies a replay for its checkpoint: the source and the selection (not the target or speed)."""
    return {
        "source": source,
        "filter": options.filter or "",
        "since": str(options.since) if options.since is not None else None,
        "until": str(options.until) if options.until is not None else None,
        "kinds": sorted(options.kinds) if options.kinds else None,
    }


class Replayer:
    """Runs one replay from a store connection.

    Args:
        con: a connection holding the store's base tables (a store file, or an archive loaded for replay).
        options: validated options.
        exporter: sends requests (default: from the options' transport).
        checkpoint: the named checkpoint file, if any.
        stop: set it to stop after the request in flight (the checkpoint then allows resuming).
        on_request: called after every acknowledged request with its signal and item count.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        options: ReplayOptions,
        *,
        exporter: Exporter | None = None,
        checkpoint: CheckpointFile | None = None,
        source_name: str = "",
        stop: threading.Event | None = None,
        on_request: OnRequest | None = None,
    ) -> None:
        self.options = options.validate()
        self._con = con
        self._exporter = exporter
        self._checkpoint_file = checkpoint
        self._source_name = source_name
        self._stop = stop or threading.Event()
        self._on_request = on_request
        self.total_items = 0

    def run(self, on_start: Callable[[int], None] | None = None) -> ReplayResult:
        """Replay everything selected (after the checkpoint's position).

        Args:
            on_start: called once with the number of items to send (for a progress bar).

        Raises:
            ReplayError: a request was refused permanently or stayed unaccepted through every retry.
            FilterSyntaxError: the filter fits none of the selected signals.
            ConfigError: an invalid window, or a checkpoint recorded for another selection.
        """
        options = self.options
        key = selection_key(options, self._source_name)
        checkpoint = self._checkpoint_file.load(key) if self._checkpoint_file else Checkpoint(selection=key)
        result = ReplayResult(complete=checkpoint.complete)
        if checkpoint.complete:
            if on_start:
                on_start(0)
            return result
        # The slice in flight when the last run stopped is sent first (minus its acknowledged requests); the plan
        # starts after it.
        partial = checkpoint.partial
        plan_after = Position(partial.last_ns, partial.rank) if partial else checkpoint.position
        selections = self._selections(plan_after, result)
        work: list[tuple[Selection, Slice, int]] = []
        if partial is not None:
            for selection in self._selections(checkpoint.position, ReplayResult()):
                if selection.spec.rank == partial.rank:
                    work.append(
                        (selection, Slice(selection.spec, partial.first_ns, partial.last_ns, 0), partial.requests)
                    )
        self.total_items = sum(count_items(self._con, s) for s in selections)
        if on_start:
            on_start(self.total_items)
        by_rank = {s.spec.rank: s for s in selections}
        planned = ((by_rank[p.spec.rank], p, 0) for p in self._plan(selections))
        exporter = self._exporter or make_exporter(options)
        clock = _Clock(options.speed)
        try:
            for selection, slice_, skip in itertools.chain(work, planned):
                if not clock.wait_for(slice_.first_ns, self._stop):
                    return result
                result.first_sent.append((time.monotonic(), slice_.first_ns, slice_.spec.signal.value))
                if not self._send_slice(exporter, selection, slice_, skip, checkpoint, result):
                    return result
                checkpoint.position = slice_.end
                checkpoint.partial = None
                self._save(checkpoint)
        finally:
            if self._exporter is None:
                exporter.close()
        checkpoint.complete = result.complete = True
        self._save(checkpoint)
        return result

    def _selections(self, after: Position | None, result: ReplayResult) -> list[Selection]:
        options = self.options
        now = utc_now()
        since_ns, until_ns = _time_ns(options.since, now), _time_ns(options.until, now)
        if since_ns is not None and until_ns is not None and since_ns >= until_ns:
            raise ConfigError(f"empty window: --since {options.since} is not before --until {options.until}")
        selections: list[Selection] = []
        first_error: FilterSyntaxError | None = None
        for signal in options.kinds or tuple(Signal):
            try:
                selections.append(
                    select(SPECS[signal], options.filter, since_ns=since_ns, until_ns=until_ns, after=after)
                )
            except FilterSyntaxError as exc:
                if options.kinds is not None:
                    raise
                first_error = first_error or exc
                result.skipped_kinds.append(signal.value)
        if not selections:
            assert first_error is not None
            raise first_error
        return selections

    def _plan(self, selections: Sequence[Selection]) -> Iterator[Slice]:
        speed = self.options.speed
        max_span = None if speed is None else int(_SLICE_WALL_SECONDS * speed * 1e9)
        max_items = self.options.max_items * _REQUESTS_PER_FAST_SLICE
        return plan_slices(self._con, selections, max_items=max_items, max_span_ns=max_span)

    def _send_slice(
        self,
        exporter: Exporter,
        selection: Selection,
        slice_: Slice,
        skip: int,
        checkpoint: Checkpoint,
        result: ReplayResult,
    ) -> bool:
        where, params = selection.within(slice_.first_ns, slice_.last_ns)
        signal = slice_.spec.signal
        requests = rebuild_requests(
            self._con, signal.value, where=where, params=params, max_items=self.options.max_items
        )
        for index, request in enumerate(requests):
            if index < skip:
                continue
            items = _count(signal, request)
            outcome = self._send(exporter, signal, request.SerializeToString(), result)
            result.requests += 1
            result.items += items
            result.rejected += outcome.rejected
            checkpoint.requests += 1
            checkpoint.items += items
            checkpoint.partial = PartialSlice(slice_.spec.rank, slice_.first_ns, slice_.last_ns, index + 1)
            self._save(checkpoint)
            if self._on_request:
                self._on_request(signal, items)
            if self._stop.is_set():
                return False
        return True

    def _send(self, exporter: Exporter, signal: Signal, payload: bytes, result: ReplayResult) -> ExportOutcome:
        backoff = self.options.backoff
        for attempt in range(backoff.max_attempts):
            try:
                outcome = exporter.export(signal, payload, self.options.timeout)
            except ExportFailure as failure:
                last_attempt = attempt + 1 == backoff.max_attempts
                if not failure.retryable or last_attempt:
                    raise ReplayError(
                        f"{self.options.target} did not accept a {signal.value} request "
                        f"after {attempt + 1} attempt(s): {failure}"
                    ) from None
                delay = backoff.delay(attempt, failure.retry_after)
                _logger.warning("%s request failed (%s); retrying in %.1f s", signal.value, failure, delay)
                result.retries += 1
                if self._stop.wait(delay):
                    raise ReplayError(f"stopped while retrying a {signal.value} request: {failure}") from None
                continue
            if outcome.rejected:
                _logger.warning(
                    "%s rejected %d %s items: %s", self.options.target, outcome.rejected, signal.value, outcome.message
                )
            return outcome
        raise AssertionError("unreachable")

    def _save(self, checkpoint: Checkpoint) -> None:
        if self._checkpoint_file is not None:
            self._checkpoint_file.save(checkpoint)


class _Clock:
    """Maps timeline times to wall-clock send times: the first slice is sent at once, the rest keep their gaps."""

    def __init__(self, speed: float | None) -> None:
        self._speed = speed
        self._origin: tuple[float, int] | None = None

    def wait_for(self, time_ns: int, stop: threading.Event) -> bool:
        """Wait until ``time_ns`` is due; False when ``stop`` was set first."""
        if stop.is_set():
            return False
        if self._speed is None:
            return True
        if self._origin is None:
            self._origin = (time.monotonic(), time_ns)
            return True
        started, first_ns = self._origin
        due = started + (time_ns - first_ns) / 1e9 / self._speed
        delay = due - time.monotonic()
        return delay <= 0 or not stop.wait(delay)


def _count(signal: Signal, request) -> int:
    if signal is Signal.TRACES:
        return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    if signal is Signal.LOGS:
        return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    total = 0
    for resource in request.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(metric, kind).data_points)
    return total
