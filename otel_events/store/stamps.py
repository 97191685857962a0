"""The ``otel_events.*`` attributes stamped by the SDK processors and how the store keeps them.

Decision: a stamped attribute with its canonical type (string; int for seq; a valid category) is moved out of
the public ``attributes`` map into its column (category, rule, stream_id, seq, correlation_id): the columns
are what queries use, and five fewer map entries per item save disk. Replay puts them back from the columns,
so the round trip is exact. A stamped key with an unexpected type stays in ``attributes`` as any other key.
"""

from __future__ import annotations

from otel_events.classify.attributes import (
    ATTR_CATEGORY,
    ATTR_CORRELATION_ID,
    ATTR_RULE,
    ATTR_SEQ,
    ATTR_STREAM_ID,
)
from otel_events.classify.decision import Category

CATEGORIES = frozenset(category.value for category in Category)

_STRING_STAMPS = frozenset({ATTR_RULE, ATTR_STREAM_ID, ATTR_CORRELATION_ID})


def is_column_stamp(key: str, value: object) -> bool:
    """True when ``key=value`` is a stamped attribute that the store keeps in its column."""
    if key == ATTR_CATEGORY:
        return isinstance(value, str) and value in CATEGORIES
    if key == ATTR_SEQ:
        return isinstance(value, int) and not isinstance(value, bool)
    return key in _STRING_STAMPS and isinstance(value, str)
