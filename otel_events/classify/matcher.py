"""Decision steps 3-6 compiled from one :class:`Rules` for speed.

A matcher is immutable apart from its name memo, so the classifier can swap matchers in one assignment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from otel_events.classify.attributes import ATTR_CATEGORY, ATTR_EVENT_NAME, RESERVED_PREFIX
from otel_events.classify.decision import CATEGORY_ORDER, Category, Decision
from otel_events.classify.rules import Rules

MEMO_LIMIT = 10_000
"""Names remembered before the memo is cleared: bounds memory when names carry ids (``GET /user/1234``)."""

# Names are split on everything that is not a letter or a digit, so `user_login` holds `user` and
# `device` does not hold `dev` (SPEC §3 step 4).
_SEPARATORS = re.compile(r"[\W_]+")
_FALSE_TEXT = frozenset({"false", "0"})
_MISS = object()


class Matcher:
    """Name, attribute and default steps of the decision order for one rule set.

    Args:
        rules: The rule set to compile.
    """

    __slots__ = (
        "_attribute_rules",
        "_default",
        "_exact_keys",
        "_keywords",
        "_memo",
        "_names",
        "_prefix_tuple",
        "_prefixes",
        "_rule_keys",
        "plain_decisions",
        "plain_keys",
        "rules",
    )

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        names = {c: Decision(c, "name.exact") for c in Category}
        self._names = {name: names[category] for name, category in rules.names.items()}
        self._keywords = tuple(
            (rules.keywords[c], Decision(c, f"keyword.{c.value}")) for c in CATEGORY_ORDER if rules.keywords.get(c)
        )
        # Attribute keys map to (rank, decision): the most severe category wins whatever the key order.
        self._exact_keys: dict[str, tuple[int, Decision]] = {}
        prefixes: list[tuple[str, tuple[int, Decision]]] = []
        for rank, category in enumerate(CATEGORY_ORDER):
            hit = (rank, Decision(category, f"attribute.{category.value}"))
            for key in rules.attribute_keys.get(category, ()):
                if key.endswith("*"):
                    prefixes.append((key[:-1], hit))
                else:
                    self._exact_keys.setdefault(key, hit)
        self._prefixes = tuple(prefixes)
        self._prefix_tuple = tuple(prefix for prefix, _ in prefixes)
        self._attribute_rules = tuple(
            (rule.key, rule.value, Decision(rule.category, f"attribute.rule.{rule.name}"))
            for rule in rules.attribute_rules
        )
        self._rule_keys = frozenset(rule.key for rule in rules.attribute_rules)
        self._default = Decision(rules.default_category, "default")
        self._memo: dict[str, Decision | None] = {}
        # Caches of the plain-item fast path (see plain_decision), read directly by Classifier.classify_plain:
        # attribute keys no decision step reads when the item has a name of its own, and name -> decision of
        # steps 3, 4 and 6 for items whose attribute keys are all plain.
        self.plain_keys: set[str] = set()
        self.plain_decisions: dict[str, Decision] = {}

    @property
    def default(self) -> Decision:
        """Decision of step 6."""
        return self._default

    def match_name(self, name: str) -> Decision | None:
        """Steps 3 and 4, memoized: they depend on the name alone."""
        decision = self._memo.get(name, _MISS)
        if decision is _MISS:
            decision = self._match_name_uncached(name)
            memo = self._memo
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            memo[name] = decision
        return decision  # type: ignore[return-value]

    def plain_decision(self, name: str | None, attributes: Mapping[str, object]) -> Decision | None:
        """The decision for an item none of whose attribute keys a decision step reads, else None.

        Such an item's decision depends on its name alone (steps 3, 4 and 6), so it is cached by name; an item
        without a name (and without ``event.name``) gets the default. Steps 1 and 2 are the caller's business:
        it must know the item has no error status, exception event or error severity. Learns which keys are
        plain, so the next item with the same keys is two C-level lookups.

        Args:
            name: The item's name, if any.
            attributes: The item's attributes.
        """
        plain = self.plain_keys
        if not plain.issuperset(attributes):
            new_keys = [key for key in attributes if key not in plain]
            if not all(self._is_plain_key(key) for key in new_keys):
                return None
            if len(plain) + len(new_keys) > MEMO_LIMIT:
                plain.clear()
            plain.update(new_keys)
        if not name:
            return None if ATTR_EVENT_NAME in attributes else self._default
        decision = self.plain_decisions.get(name)
        if decision is None:
            decision = self.match_name(name) or self._default
            decisions = self.plain_decisions
            if len(decisions) >= MEMO_LIMIT:
                decisions.clear()
            decisions[name] = decision
        return decision

    def _is_plain_key(self, key: object) -> bool:
        # The explicit category (step 1), the built-in attribute keys and prefixes and the user attribute
        # rules (step 5) are read; ``event.name`` (step 3) is read only for items without a name of their own.
        if not isinstance(key, str) or key == ATTR_CATEGORY or key in self._exact_keys or key in self._rule_keys:
            return False
        return not self._prefix_tuple or not key.startswith(self._prefix_tuple) or self._prefix_hit(key) is None

    def _match_name_uncached(self, name: str) -> Decision | None:
        decision = self._names.get(name)
        if decision is not None:
            return decision
        tokens = set(_SEPARATORS.split(name.lower()))
        for keywords, keyword_decision in self._keywords:
            if not keywords.isdisjoint(tokens):
                return keyword_decision
        return None

    def match_attributes(self, attributes: Mapping[str, object]) -> Decision | None:
        """Step 5: built-in attribute keys (most severe category first), then user attribute rules in order."""
        best_rank = len(CATEGORY_ORDER)
        best: Decision | None = None
        exact = self._exact_keys
        prefixes = self._prefix_tuple
        for key in attributes:
            hit = exact.get(key)
            if hit is None:
                # One C-level startswith over all prefixes rejects almost every key before any Python work.
                if not prefixes or not key.startswith(prefixes):
                    continue
                hit = self._prefix_hit(key)
                if hit is None:
                    continue
            if hit[0] < best_rank and not _is_false_flag(attributes[key]):
                best_rank, best = hit
                if best_rank == 0:
                    break
        if best is not None:
            return best
        for key, pattern, decision in self._attribute_rules:
            if key in attributes and (pattern is None or _value_matches(pattern, attributes[key])):
                return decision
        return None

    def _prefix_hit(self, key: str) -> tuple[int, Decision] | None:
        if key.startswith(RESERVED_PREFIX):
            return None
        for prefix, hit in self._prefixes:
            if key.startswith(prefix):
                return hit
        return None


def _is_false_flag(value: object) -> bool:
    """True for values that say "no": false, 0, "false", "0" (e.g. ``error=false`` is not an error)."""
    if value is False:
        return True
    if isinstance(value, str):
        return value.strip().lower() in _FALSE_TEXT
    return type(value) in (int, float) and value == 0


def _value_matches(pattern: re.Pattern[str], value: object) -> bool:
    """Search the value's text; a sequence matches when one of its elements does."""
    if isinstance(value, (list, tuple)):
        return any(_value_matches(pattern, item) for item in value)
    if isinstance(value, bool):
        text = "true" if value else "false"  # OTLP/JSON spelling, what users see in the store
    else:
        text = value if isinstance(value, str) else str(value)
    return pattern.search(text) is not None
