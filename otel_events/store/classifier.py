"""What the store needs from a classifier (the shared ``otel_events.classify.Classifier`` satisfies it)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Protocol


class ClassifierDecision(Protocol):
    """A classification outcome: the category and the id of the rule that decided."""

    @property
    def category(self) -> Enum | str: ...

    @property
    def rule(self) -> str: ...


class ItemClassifier(Protocol):
    """Classifies one span or log record (SPEC §3)."""

    def classify(
        self,
        name: str | None,
        attributes: Mapping[str, object] | None = None,
        *,
        status_error: bool = False,
        exception_event: bool = False,
        severity_number: int | None = None,
    ) -> ClassifierDecision: ...


def default_classifier() -> ItemClassifier:
    """The shared classifier with the packaged default rules."""
    from otel_events.classify import Classifier

    return Classifier()
