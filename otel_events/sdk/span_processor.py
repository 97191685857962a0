"""``EventSpanProcessor``: classifies, sequences, correlates and scrubs spans as they end (SPEC §3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from opentelemetry import context as context_api
from opentelemetry import metrics as metrics_api
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from otel_events.classify import Classifier, Scrubber
from otel_events.classify.attributes import (
    ATTR_CATEGORY,
    ATTR_CORRELATION_ID,
    ATTR_RULE,
    ATTR_SEQ,
    ATTR_STREAM_ID,
)
from otel_events.sdk.correlation import (
    BAGGAGE_CONTEXT_KEY,
    DEFAULT_CORRELATION_KEY,
    current_context_reader,
    explicit_correlation_id,
    validate_correlation_key,
)
from otel_events.sdk.guard import HookGuard
from otel_events.sdk.metrics import ClassificationCounts, register_counts
from otel_events.sdk.plain import plain_entry_point
from otel_events.sdk.scrub_memo import CleanPairMemo
from otel_events.sdk.sdk_layout import private_span_hook_usable
from otel_events.sdk.sequence import process_stream
from otel_events.sdk.stamping import Stamper

EXCEPTION_EVENT = "exception"
_SAMPLED = 0x01
# Positions in the SpanContext tuple (checked by sdk_layout before the fast path is used).
_SPAN_ID = 1
_TRACE_FLAGS = 3
_ERROR = StatusCode.ERROR

# Baggage ids captured at span start wait here until the span ends (baggage is not reachable at end).
# Only spans started under a correlation id land here; the cap bounds memory if spans are never ended.
_MAX_PENDING_CORRELATIONS = 100_000


def _has_exception_event(events: Sequence[Event]) -> bool:
    return any(event.name == EXCEPTION_EVENT for event in events)


class EventSpanProcessor(SpanProcessor):
    """Wraps a downstream span processor and hands it every span with the ``otel_events.*`` attributes.

    Spans are classified when they end, since status ERROR and ``exception`` events are known only then.
    Span attributes and span event attributes are scrubbed before the downstream processor sees them.

    Args:
        next_processor: The processor that exports, e.g. ``BatchSpanProcessor(OTLPSpanExporter())``.
        classifier: Rules to classify with; the packaged default rules when ``None``.
        scrubber: Secret scrubber; the default patterns when ``None``.
        correlation_key: Attribute and W3C baggage entry that carry the correlation id.
        meter_provider: Provider for the classification metrics; the global one when ``None``.
        use_private_hook: ``None`` detects whether the SDK's ``_on_ending`` hook and span layout allow the
            fast path; ``False`` forces the public-API path (a new ``ReadableSpan`` per span).
        baggage_correlation: Capture the correlation id from the W3C baggage at span start. ``False`` skips
            all span-start work (about 1 % of a bare span) for apps that carry correlation ids only as
            attributes; explicit attributes are honoured either way.

    Raises:
        ValueError: ``correlation_key`` is invalid, or ``use_private_hook=True`` on an SDK without the hook.
    """

    def __init__(
        self,
        next_processor: SpanProcessor,
        *,
        classifier: Classifier | None = None,
        scrubber: Scrubber | None = None,
        correlation_key: str = DEFAULT_CORRELATION_KEY,
        meter_provider: metrics_api.MeterProvider | None = None,
        use_private_hook: bool | None = None,
        baggage_correlation: bool = True,
    ) -> None:
        if not isinstance(next_processor, SpanProcessor):
            raise ValueError(f"next_processor must be a SpanProcessor, got {type(next_processor).__name__}")
        usable = private_span_hook_usable()
        if use_private_hook and not usable:
            raise ValueError("use_private_hook=True, but the installed SDK's span layout is not the verified one")
        self.uses_private_hook = usable if use_private_hook is None else use_private_hook
        self._next = next_processor
        # Bound once: the hooks run for every span.
        self._next_on_start = _unless_noop(next_processor.on_start)
        self._next_on_ending = _unless_noop(getattr(next_processor, "_on_ending", None))
        self._next_on_end = next_processor.on_end
        self._correlation_key = validate_correlation_key(correlation_key)
        memo = CleanPairMemo(scrubber if scrubber is not None else Scrubber())
        self._scrub = memo.scrub_attributes
        self._clean_pairs = memo.clean_pairs  # checked inline first: most spans repeat known-clean pairs
        self.guard = HookGuard(type(self).__name__)
        self.counts = ClassificationCounts("span", lambda: self.guard.errors)
        register_counts(self.counts, meter_provider)
        self._stream = process_stream()
        self._stamper = Stamper(
            classifier if classifier is not None else Classifier(),
            self._correlation_key,
            self._stream,
            self.counts,
            self.guard,
        )
        self._classify = self._stamper.classifier.classify
        self._classify_plain = plain_entry_point(self._stamper.classifier)
        self._tallies = self.counts.tallies
        self._pending: dict[int, str] = {}
        self._current_context = current_context_reader()
        if not baggage_correlation:
            # Nothing to do at span start: the provider calls the downstream on_start directly.
            self.on_start = next_processor.on_start  # type: ignore[method-assign]

    @property
    def classifier(self) -> Classifier:
        """The classifier in use."""
        return self._stamper.classifier

    def on_start(self, span: Span, parent_context: context_api.Context | None = None) -> None:
        """Remember the baggage correlation id (if any), then forward to the downstream processor."""
        try:
            # One C call and one ``in`` test when there is no baggage: this runs on every span start.
            ctx = parent_context if parent_context is not None else self._current_context()
            if BAGGAGE_CONTEXT_KEY in ctx:
                entries = ctx[BAGGAGE_CONTEXT_KEY]
                correlation_id = entries.get(self._correlation_key) if entries else None
                pending = self._pending
                if correlation_id and len(pending) < _MAX_PENDING_CORRELATIONS:
                    # The span id by tuple position on the verified layout: the two properties are two calls.
                    span_id = span._context[_SPAN_ID] if self.uses_private_hook else span.context.span_id  # type: ignore[attr-defined]
                    pending[span_id] = correlation_id if correlation_id.__class__ is str else str(correlation_id)
        except Exception:
            self.guard.failed("on_start")
        if self._next_on_start is not None:
            self._next_on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        """Forward the span; on the public-API path (or if ``_on_ending`` was bypassed) stamp a copy first."""
        if self.uses_private_hook:
            try:
                if ATTR_SEQ in span._attributes._dict:  # type: ignore[attr-defined]
                    # Stamped by _on_ending, so the chain that calls us forwards it: from now on the chain
                    # calls the downstream on_end directly (this check and one Python call are ~0.8 % per span).
                    self.on_end = self._next_on_end  # type: ignore[method-assign]
                    self._next_on_end(span)
                    return
            except AttributeError:
                pass
        if not span.context.trace_flags.sampled:
            # Never exported, so it takes no seq (a seq here would be a gap the SDK created).
            self._pop_correlation(span.context.span_id)
        else:
            try:
                span = self._stamped_copy(span)
            except Exception:
                self.guard.failed("on_end")
        self._next_on_end(span)

    def shutdown(self) -> None:
        """Shut the downstream processor down."""
        self._next.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the downstream processor."""
        return self._next.force_flush(timeout_millis)

    def _pop_correlation(self, span_id: int) -> str | None:
        pending = self._pending
        return pending.pop(span_id, None) if pending else None

    def _on_ending(self, span: Span) -> None:
        """Fast path: stamp and scrub the still-unpublished span in place (SDK 1.45 private hook)."""
        # end() has frozen the attribute mapping but not yet published the span: writing straight into its
        # dict is the bulk update measured at +6 % per span (PERF-NOTES), and ReadableSpan shares the dict.
        # Inlined on purpose: every Python call here costs ~0.5 % of a bare span (bench_sdk.py).
        if self.uses_private_hook:
            try:
                context = span._context  # type: ignore[attr-defined]
                sampled = context[_TRACE_FLAGS] & _SAMPLED  # SpanContext is a tuple; the property is a call
                attributes = span._attributes._dict  # type: ignore[attr-defined]
                events = span._events._dq  # type: ignore[attr-defined]
                if not sampled and self._pending:
                    # Never exported, so no seq; its baggage id is dropped here, as on_end may not see it.
                    self._pending.pop(context[_SPAN_ID], None)
            except Exception:
                self.guard.failed("_on_ending")
                sampled = 0
            if sampled:
                stream = self._stream
                seq = stream.next_seq()
                category = correlation_id = None
                try:
                    key = self._correlation_key
                    if key in attributes or ATTR_CORRELATION_ID in attributes:
                        correlation_id = explicit_correlation_id(attributes, key)
                    if self._pending:
                        pending_id = self._pending.pop(context[_SPAN_ID], None)
                        correlation_id = correlation_id or pending_id
                    name = span._name  # type: ignore[attr-defined]
                    status_error = span._status._status_code is _ERROR  # type: ignore[attr-defined]
                    exception_event = _has_exception_event(events) if events else False
                    decision = None
                    if not status_error and not exception_event:
                        decision = self._classify_plain(name, attributes)
                    if decision is None:
                        decision = self._classify(
                            name, attributes, status_error=status_error, exception_event=exception_event
                        )
                    tally = self._tallies.get(id(decision))
                    if tally is None:
                        tally = self.counts.tally_for(decision)
                    category, rule, counter, _ = tally
                    next(counter)
                except Exception:
                    self.guard.failed("classify")
                try:
                    try:
                        known_clean = self._clean_pairs.issuperset(attributes.items())
                    except TypeError:  # an unhashable value: let the memo's slow path handle it
                        known_clean = False
                    if not known_clean:
                        scrubbed = self._scrub(attributes)
                        if scrubbed is not None:
                            attributes.update(scrubbed)
                    for event in events:
                        event_attributes = event._attributes
                        if event_attributes:
                            scrubbed = self._scrub(event_attributes._dict)
                            if scrubbed is not None:
                                event_attributes._dict.update(scrubbed)
                except Exception:
                    self.guard.failed("scrub")
                # Written after scrubbing (the memo then sees only the span's own pairs) and always: a taken seq
                # must reach the exporter, or the SDK itself would open a gap. Separate stores measured faster
                # than one dict.update of precomputed stamps (the update needs a dict built per span).
                attributes[ATTR_STREAM_ID] = stream.stream_id
                attributes[ATTR_SEQ] = seq
                if category is not None:
                    attributes[ATTR_CATEGORY] = category
                    attributes[ATTR_RULE] = rule
                if correlation_id:
                    attributes[ATTR_CORRELATION_ID] = correlation_id
        if self._next_on_ending is not None:
            self._next_on_ending(span)

    def _stamped_copy(self, span: ReadableSpan) -> ReadableSpan:
        attributes: Mapping[str, object] = span.attributes or {}
        events = span.events
        stamps = self._stamper.stamps(
            span.name,
            attributes,
            status_error=span.status.status_code is StatusCode.ERROR,
            exception_event=_has_exception_event(events),
            fallback_correlation_id=self._pop_correlation(span.context.span_id),
        )
        new_attributes = dict(attributes)
        try:
            scrubbed = self._scrub(new_attributes)
            if scrubbed is not None:
                new_attributes.update(scrubbed)
            events = tuple(self._scrubbed_event(event) for event in events)
        except Exception:
            self.guard.failed("scrub")
        new_attributes.update(stamps)
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=new_attributes,
            events=events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def _scrubbed_event(self, event: Event) -> Event:
        if not event.attributes:
            return event
        scrubbed = self._scrub(event.attributes)
        if scrubbed is None:
            return event
        return Event(event.name, {**event.attributes, **scrubbed}, event.timestamp)


def _noop_code(span: object) -> None:
    pass


def _documented_noop_code(span: object) -> None:
    """A docstring changes the code object's constants, not its bytecode."""


_NOOP_BYTECODE = {_noop_code.__code__.co_code, _documented_noop_code.__code__.co_code}


def _unless_noop(method: Callable[..., None] | None) -> Callable[..., None] | None:
    # BatchSpanProcessor's on_start and _on_ending are ``pass``: not calling them saves ~1 % per span.
    code = getattr(getattr(method, "__func__", None), "__code__", None)
    if code is not None and code.co_code in _NOOP_BYTECODE:
        return None
    return method
