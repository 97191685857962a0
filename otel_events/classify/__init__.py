"""The shared classifier, its rules files and the scrubber (SPEC §3).

Example:
    >>> from otel_events.classify import Classifier
    >>> Classifier().classify("cache.hit")
    Decision(category=<Category.PERFORMANCE: 'performance'>, rule='keyword.performance')
"""

from __future__ import annotations

from otel_events.classify.attributes import (
    ATTR_CATEGORY,
    ATTR_CORRELATION_ID,
    ATTR_EVENT_NAME,
    ATTR_RULE,
    ATTR_SEQ,
    ATTR_STREAM_ID,
    RESERVED_PREFIX,
)
from otel_events.classify.classifier import Classifier
from otel_events.classify.decision import SEVERITY_ERROR, Category, Decision
from otel_events.classify.rules import Rules, load_rules
from otel_events.classify.scrub import Scrubber
from otel_events.classify.scrub_patterns import PatternTarget, ScrubPattern

__all__ = [
    "ATTR_CATEGORY",
    "ATTR_CORRELATION_ID",
    "ATTR_EVENT_NAME",
    "ATTR_RULE",
    "ATTR_SEQ",
    "ATTR_STREAM_ID",
    "RESERVED_PREFIX",
    "SEVERITY_ERROR",
    "Category",
    "Classifier",
    "Decision",
    "PatternTarget",
    "Rules",
    "ScrubPattern",
    "Scrubber",
    "load_rules",
]
