"""Which classifier entry point the processors may use for items without an error signal."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from otel_events.classify import Classifier, Decision

PlainEntryPoint = Callable[[str | None, Mapping[str, object]], Decision | None]


def _no_plain_decision(name: str | None, attributes: Mapping[str, object]) -> Decision | None:
    return None


def plain_entry_point(classifier: Classifier) -> PlainEntryPoint:
    """Return ``classifier.classify_plain``, or a stand-in that always defers to ``classify()``.

    A subclass that overrides :meth:`Classifier.classify` must see every item, so it gets the stand-in.
    """
    if getattr(type(classifier), "classify", None) is Classifier.classify:
        return classifier.classify_plain
    return _no_plain_decision
