"""The five categories and the decision the classifier returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SEVERITY_ERROR = 17
"""OpenTelemetry ``SeverityNumber.ERROR``: log records at or above it are critical (SPEC §3 step 2)."""


class Category(StrEnum):
    """The category of a span or log record, from the most to the least severe."""

    CRITICAL = "critical"
    PERFORMANCE = "performance"
    USER_ACTIVITY = "user_activity"
    SYSTEM = "system"
    DEBUG = "debug"

    @classmethod
    def parse(cls, value: object) -> Category | None:
        """Return the category named by ``value`` (a category or its exact string value), else None."""
        if isinstance(value, str):
            return _BY_VALUE.get(value)
        return None


_BY_VALUE: dict[str, Category] = {c.value: c for c in Category}
# Enum members hash by their *name*, so a member used as a key would miss the value-keyed entries: add both.
_BY_VALUE.update({c: c for c in Category})

CATEGORY_ORDER: tuple[Category, ...] = tuple(Category)
"""Categories from the most to the least severe; keyword and attribute steps try them in this order."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The category of one item and the id of the rule that decided it.

    Attributes:
        category: The category.
        rule: Rule id: ``explicit``, ``status.error``, ``status.exception``, ``status.severity``,
            ``name.exact``, ``keyword.<category>``, ``attribute.<category>``, ``attribute.rule.<name>``
            or ``default``.
    """

    category: Category
    rule: str
