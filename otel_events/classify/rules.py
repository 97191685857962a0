"""The immutable rule set and how files are layered into it (packaged defaults, then the user's file)."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from otel_events.classify.decision import Category
from otel_events.classify.rules_file import AttributeRuleSpec, RulesLayer, parse_rules_text
from otel_events.errors import RulesError

DEFAULT_RULES_RESOURCE = "default_rules.toml"


@dataclass(frozen=True, slots=True)
class Rules:
    """A complete, immutable rule set; the classifier swaps whole instances on reload.

    Attributes:
        default_category: Category of items no rule matched (decision step 6).
        names: Exact item name -> category (step 3).
        keywords: Category -> whole tokens of the lower-cased name (step 4).
        attribute_keys: Category -> attribute keys, a trailing ``*`` meaning a key prefix (step 5).
        attribute_rules: User-defined attribute rules, tried in order after ``attribute_keys`` (step 5).
        sources: Files the rules came from, the packaged defaults first.
    """

    default_category: Category
    names: Mapping[str, Category]
    keywords: Mapping[Category, frozenset[str]]
    attribute_keys: Mapping[Category, tuple[str, ...]]
    attribute_rules: tuple[AttributeRuleSpec, ...]
    sources: tuple[str, ...]


def load_rules(path: str | os.PathLike[str] | None = None) -> Rules:
    """Load the packaged default rules, with the file at ``path`` layered on top.

    Args:
        path: A TOML rules file, or None for the packaged defaults alone.

    Returns:
        The merged rule set.

    Raises:
        RulesError: if a file cannot be read or is invalid (the message names the file, line and problem).
    """
    layers = [_default_layer()]
    if path is not None:
        user = read_rules_file(path)
        layers = [user] if user.replace_defaults else [*layers, user]
    return merge_layers(layers)


def read_rules_file(path: str | os.PathLike[str]) -> RulesLayer:
    """Read and validate one rules file without merging it.

    Raises:
        RulesError: if the file cannot be read or is invalid.
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{source}: cannot read rules file: {exc}") from None
    return parse_rules_text(text, source)


def merge_layers(layers: list[RulesLayer]) -> Rules:
    """Merge layers, later ones on top: names added or overridden, keyword and key lists replaced per category,
    attribute rules appended (a later rule with the same name replaces the earlier one in place)."""
    default_category = Category.SYSTEM
    names: dict[str, Category] = {}
    keywords: dict[Category, frozenset[str]] = {}
    attribute_keys: dict[Category, tuple[str, ...]] = {}
    attribute_rules: dict[str, AttributeRuleSpec] = {}
    for layer in layers:
        default_category = layer.default_category or default_category
        names.update(layer.names)
        keywords.update(layer.keywords)
        attribute_keys.update(layer.attribute_keys)
        attribute_rules.update((rule.name, rule) for rule in layer.attribute_rules)
    return Rules(
        default_category=default_category,
        names=MappingProxyType(names),
        keywords=MappingProxyType(keywords),
        attribute_keys=MappingProxyType(attribute_keys),
        attribute_rules=tuple(attribute_rules.values()),
        sources=tuple(layer.source for layer in layers),
    )


@functools.cache
def _default_layer() -> RulesLayer:
    # Parsed once per process; layers are never mutated after parsing.
    resource = resources.files(__package__).joinpath(DEFAULT_RULES_RESOURCE)
    return parse_rules_text(resource.read_text(encoding="utf-8"), f"<packaged {DEFAULT_RULES_RESOURCE}>")
