"""Sort the items of an export request by category and cut out refused categories (priority shedding).

Requests are parsed with the store's raw-attribute classes (attributes stay encoded ``KeyValue`` bytes), so a
request re-serializes to the same bytes minus the items cut out, and an item stamped by the SDK is sorted by one
byte-prefix test of its attributes. Only items without ``otel_events.category`` have their attributes decoded
(memoised: attribute sets repeat) and go through the shared classifier, as the store would classify them.
Metric data points are sorted by their own ``otel_events.category`` if present, else by the metric's name.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from otel_events.classify import ATTR_CATEGORY, Category
from otel_events.store.anyvalue import decode_key_value
from otel_events.store.classifier import ItemClassifier, default_classifier
from otel_events.store.otlp_classes import RAW_REQUEST_CLASSES

__all__ = ["ItemCategories", "ItemClassifier", "Removal"]

# A serialized KeyValue starts with its key (field 1): these bytes open every explicit category attribute.
_CATEGORY_PREFIX = KeyValue(key=ATTR_CATEGORY).SerializeToString()
_CATEGORIES = {category.value: category for category in Category}
_STATUS_ERROR = 2  # Status.STATUS_CODE_ERROR
_MEMO_LIMIT = 65_536  # decoded attributes kept; cleared when full (a bounded cache, not an LRU: cheap)


@dataclass(frozen=True)
class Removal:
    """The outcome of ``ItemCategories.remove``.

    Attributes:
        payload: the request without the removed items (the input itself when nothing was removed).
        kept: items left.
        removed: items removed, by category.
    """

    payload: bytes
    kept: int
    removed: Counter[Category]

    @property
    def total_removed(self) -> int:
        """Items removed, all categories together."""
        return sum(self.removed.values())


class ItemCategories:
    """Categorises the items of OTLP requests.

    Args:
        classifier: for items without ``otel_events.category``; the shared default classifier when None,
            built on first use.
    """

    def __init__(self, classifier: ItemClassifier | None = None) -> None:
        self._classifier = classifier
        self._classifier_lock = threading.Lock()
        self._attributes: dict[bytes, tuple[str, object]] = {}
        self._explicit: dict[bytes, Category | None] = {}
        self._metric_names: dict[str, Category] = {}

    def count(self, signal: str, payload: bytes) -> int:
        """Items in a request (spans, log records or data points)."""
        request = RAW_REQUEST_CLASSES[signal].FromString(payload)
        return sum(len(items) for _, items in _item_lists(signal, request))

    def remove(self, signal: str, payload: bytes, refused: frozenset[Category]) -> Removal:
        """Cut the items whose category is in ``refused`` out of a request.

        Args:
            signal: ``"traces"``, ``"logs"`` or ``"metrics"``.
            payload: a serialized, valid ``Export*ServiceRequest``.
            refused: categories to remove.
        """
        request = RAW_REQUEST_CLASSES[signal].FromString(payload)
        removed: Counter[Category] = Counter()
        kept = 0
        emptied = False
        for owner, items in _item_lists(signal, request):
            categorize = self._categorizer(signal, owner)
            doomed = []
            for index, item in enumerate(items):
                category = categorize(item)
                if category in refused:
                    doomed.append(index)
                    removed[category] += 1
            kept += len(items) - len(doomed)
            for index in reversed(doomed):
                del items[index]
            emptied = emptied or (bool(doomed) and not items)
        if not removed:
            return Removal(payload, kept, removed)
        if emptied:
            _drop_empty_containers(signal, request)
        return Removal(request.SerializeToString(), kept, removed)

    # -- per item ---------------------------------------------------------------------------------------------

    def _categorizer(self, signal: str, owner: object) -> Callable[[object], Category]:
        if signal == "traces":
            return self._span_category
        if signal == "logs":
            return self._log_category
        metric_category = self._metric_category(owner.name)  # type: ignore[attr-defined]
        return lambda point: self._explicit_category(point.attributes) or metric_category  # type: ignore[attr-defined]

    def _span_category(self, span) -> Category:
        explicit = self._explicit_category(span.attributes)
        if explicit is not None:
            return explicit
        decision = self._get_classifier().classify(
            span.name,
            self._decode(span.attributes),
            status_error=span.status.code == _STATUS_ERROR,
            exception_event=any(event.name == "exception" for event in span.events),
        )
        return Category(decision.category)

    def _log_category(self, record) -> Category:
        explicit = self._explicit_category(record.attributes)
        if explicit is not None:
            return explicit
        decision = self._get_classifier().classify(
            record.event_name or None,
            self._decode(record.attributes),
            severity_number=record.severity_number or None,
        )
        return Category(decision.category)

    def _metric_category(self, name: str) -> Category:
        category = self._metric_names.get(name)
        if category is None:
            category = Category(self._get_classifier().classify(name).category)
            if len(self._metric_names) >= _MEMO_LIMIT:
                self._metric_names.clear()
            self._metric_names[name] = category
        return category

    def _explicit_category(self, raw_attributes: Iterable[bytes]) -> Category | None:
        for raw in raw_attributes:
            if raw.startswith(_CATEGORY_PREFIX):
                try:
                    return self._explicit[raw]
                except KeyError:
                    _, value = self._decode_one(raw)
                    category = _CATEGORIES.get(value) if isinstance(value, str) else None
                    if len(self._explicit) >= _MEMO_LIMIT:
                        self._explicit.clear()
                    self._explicit[raw] = category
                    return category
        return None

    def _decode(self, raw_attributes: Iterable[bytes]) -> dict[str, object]:
        return dict(self._decode_one(raw) for raw in raw_attributes)

    def _decode_one(self, raw: bytes) -> tuple[str, object]:
        pair = self._attributes.get(raw)
        if pair is None:
            key, _text, _type, value = decode_key_value(raw)
            pair = (key, value)
            if len(self._attributes) >= _MEMO_LIMIT:
                self._attributes.clear()
            self._attributes[raw] = pair
        return pair

    def _get_classifier(self) -> ItemClassifier:
        if self._classifier is None:
            with self._classifier_lock:
                if self._classifier is None:
                    self._classifier = default_classifier()
        return self._classifier


def _item_lists(signal: str, request) -> Iterable[tuple[object, list]]:
    """``(owner, repeated items)`` pairs: the scope for spans and logs, the metric for data points."""
    if signal == "traces":
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                yield scope, scope.spans
    elif signal == "logs":
        for resource in request.resource_logs:
            for scope in resource.scope_logs:
                yield scope, scope.log_records
    else:
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    if kind is not None:
                        yield metric, getattr(metric, kind).data_points


def _drop_empty_containers(signal: str, request) -> None:
    """Remove scopes (and metrics) left without items by the cut, and resources left without scopes."""
    resource_field, scope_field, item_field = {
        "traces": ("resource_spans", "scope_spans", "spans"),
        "logs": ("resource_logs", "scope_logs", "log_records"),
        "metrics": ("resource_metrics", "scope_metrics", "metrics"),
    }[signal]
    resources = getattr(request, resource_field)
    for r in reversed(range(len(resources))):
        scopes = getattr(resources[r], scope_field)
        for s in reversed(range(len(scopes))):
            items = getattr(scopes[s], item_field)
            if signal == "metrics":
                for m in reversed(range(len(items))):
                    kind = items[m].WhichOneof("data")
                    if kind is not None and not getattr(items[m], kind).data_points:
                        del items[m]
            if not items:
                del scopes[s]
        if not scopes:
            del resources[r]
