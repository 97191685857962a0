"""Parse and validate one TOML rules file into a layer of rules.

Every problem is reported as a :class:`~otel_events.errors.RulesError` reading ``<file>:<line>: <problem>``.
tomllib gives the line of syntax errors; for semantic errors the line of the offending key is found in the text.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import NoReturn

from otel_events.classify.attributes import RESERVED_PREFIX
from otel_events.classify.decision import CATEGORY_ORDER, Category
from otel_events.errors import RulesError

TOP_LEVEL_KEYS = ("default_category", "replace_defaults", "names", "keywords", "attribute_keys", "attribute_rules")
ATTRIBUTE_RULE_KEYS = ("name", "key", "value", "category")

_RULE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
# A keyword must be one whole token: the classifier splits names on everything that is not a letter or digit.
_TOKEN = re.compile(r"[^\W_]+")
_SYNTAX_LINE = re.compile(r"\(at line (\d+)")
_TABLE_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"""^\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")
_CATEGORY_NAMES = ", ".join(c.value for c in CATEGORY_ORDER)


@dataclass(frozen=True, slots=True)
class AttributeRuleSpec:
    """One validated ``[[attribute_rules]]`` entry.

    Attributes:
        name: Rule name; the decision's rule id is ``attribute.rule.<name>``.
        key: Attribute key that must be present.
        category: Category given when the rule matches.
        value: Optional regular expression searched in the value's text; None matches any value.
    """

    name: str
    key: str
    category: Category
    value: re.Pattern[str] | None = None


@dataclass(slots=True)
class RulesLayer:
    """The rules one file gives; None / empty means "not given, keep what lies below"."""

    source: str
    default_category: Category | None = None
    replace_defaults: bool = False
    names: dict[str, Category] = field(default_factory=dict)
    keywords: dict[Category, frozenset[str]] = field(default_factory=dict)
    attribute_keys: dict[Category, tuple[str, ...]] = field(default_factory=dict)
    attribute_rules: list[AttributeRuleSpec] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Where:
    """Where a value sits in the document: table path (``""`` for the top level), occurrence, key."""

    table: str
    key: str
    index: int = 0


def parse_rules_text(text: str, source: str) -> RulesLayer:
    """Parse the text of one rules file.

    Args:
        text: TOML text.
        source: File name used in error messages.

    Returns:
        The validated layer.

    Raises:
        RulesError: on a syntax error or an invalid value, naming ``source``, the line and the problem.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _SYNTAX_LINE.search(str(exc))
        line = int(match.group(1)) if match else None
        raise _error(source, line, f"syntax error: {exc}") from None
    return _Validator(text, source).layer(document)


class _Validator:
    """Walks a parsed document, turning every problem into a RulesError pointing at its line."""

    def __init__(self, text: str, source: str) -> None:
        self._lines = text.splitlines()
        self._source = source

    def layer(self, document: dict[str, object]) -> RulesLayer:
        layer = RulesLayer(source=self._source)
        for key in document:
            if key not in TOP_LEVEL_KEYS:
                self._fail(_Where("", key), f"unknown key '{key}' (expected one of: {', '.join(TOP_LEVEL_KEYS)})")
        if "default_category" in document:
            layer.default_category = self._category(document["default_category"], _Where("", "default_category"))
        if "replace_defaults" in document:
            value = document["replace_defaults"]
            if not isinstance(value, bool):
                self._wrong_type(_Where("", "replace_defaults"), "replace_defaults", "a boolean", value)
            layer.replace_defaults = value
        if "names" in document:
            names = self._table(document["names"], "names")
            for name, value in names.items():
                layer.names[name] = self._category(value, _Where("names", name), f"name '{name}'")
        if "keywords" in document:
            for category, tokens in self._per_category(document["keywords"], "keywords").items():
                layer.keywords[category] = frozenset(self._keywords(tokens, category))
        if "attribute_keys" in document:
            for category, keys in self._per_category(document["attribute_keys"], "attribute_keys").items():
                layer.attribute_keys[category] = tuple(self._attribute_keys(keys, category))
        if "attribute_rules" in document:
            layer.attribute_rules = self._attribute_rules(document["attribute_rules"])
        return layer

    def _table(self, value: object, name: str) -> dict[str, object]:
        if not isinstance(value, dict):
            self._wrong_type(_Where("", name), name, "a table", value)
        return value

    def _per_category(self, value: object, table: str) -> dict[Category, list[str]]:
        result: dict[Category, list[str]] = {}
        for key, items in self._table(value, table).items():
            where = _Where(table, key)
            category = Category.parse(key)
            if category is None:
                self._fail(where, f"unknown category '{key}' in [{table}] (expected one of: {_CATEGORY_NAMES})")
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                self._wrong_type(where, f"{table}.{key}", "a list of strings", items)
            result[category] = items
        return result

    def _keywords(self, tokens: list[str], category: Category) -> list[str]:
        for token in tokens:
            if not _TOKEN.fullmatch(token):
                self._fail(
                    _Where("keywords", category.value),
                    f"keyword '{token}' for {category.value} is not a single token (letters and digits only: "
                    "names are split on every other character)",
                )
        return [token.lower() for token in tokens]

    def _attribute_keys(self, keys: list[str], category: Category) -> list[str]:
        for key in keys:
            self._check_attribute_key(key, _Where("attribute_keys", category.value), f"attribute_keys.{category}")
        return keys

    def _attribute_rules(self, value: object) -> list[AttributeRuleSpec]:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self._wrong_type(_Where("", "attribute_rules"), "attribute_rules", "an array of tables", value)
        rules: list[AttributeRuleSpec] = []
        seen: set[str] = set()
        for index, entry in enumerate(value):
            label = f"attribute_rules[{index}]"
            for key in entry:
                if key not in ATTRIBUTE_RULE_KEYS:
                    self._fail(
                        _Where("attribute_rules", key, index),
                        f"unknown key '{key}' in {label} (expected one of: {', '.join(ATTRIBUTE_RULE_KEYS)})",
                    )
            for required in ("name", "key", "category"):
                if required not in entry:
                    self._fail(_Where("attribute_rules", "", index), f"{label} is missing '{required}'")
            name = entry["name"]
            if not isinstance(name, str) or not _RULE_NAME.fullmatch(name):
                self._fail(
                    _Where("attribute_rules", "name", index),
                    f"{label}.name must be a string of letters, digits, '_', '.' or '-', got {name!r}",
                )
            if name in seen:
                self._fail(_Where("attribute_rules", "name", index), f"duplicate attribute rule name '{name}'")
            seen.add(name)
            label = f"attribute rule '{name}'"
            key = entry["key"]
            self._check_attribute_key(key, _Where("attribute_rules", "key", index), f"{label} key")
            if key.endswith("*"):
                self._fail(_Where("attribute_rules", "key", index), f"{label} key must be an exact key, got '{key}'")
            category = self._category(entry["category"], _Where("attribute_rules", "category", index), label)
            pattern = None
            if "value" in entry:
                pattern = self._regex(entry["value"], _Where("attribute_rules", "value", index), label)
            rules.append(AttributeRuleSpec(name=name, key=key, category=category, value=pattern))
        return rules

    def _check_attribute_key(self, key: object, where: _Where, label: str) -> None:
        if not isinstance(key, str) or not key.strip("*"):
            self._fail(where, f"{label} must be a non-empty string, got {key!r}")
        if key.startswith(RESERVED_PREFIX):
            self._fail(where, f"{label} '{key}' is in the reserved {RESERVED_PREFIX}* namespace, never inspected")
        if "*" in key[:-1]:
            self._fail(where, f"{label} '{key}': '*' is only allowed at the end (a key prefix)")

    def _regex(self, value: object, where: _Where, label: str) -> re.Pattern[str]:
        if not isinstance(value, str):
            self._wrong_type(where, f"{label} value", "a regular expression string", value)
        try:
            return re.compile(value)
        except re.error as exc:
            self._fail(where, f"bad regex {value!r} for {label}: {exc}")

    def _category(self, value: object, where: _Where, label: str | None = None) -> Category:
        label = label or where.key
        if not isinstance(value, str):
            self._wrong_type(where, label, "a category string", value)
        category = Category.parse(value)
        if category is None:
            self._fail(where, f"unknown category '{value}' for {label} (expected one of: {_CATEGORY_NAMES})")
        return category

    def _wrong_type(self, where: _Where, label: str, expected: str, value: object) -> NoReturn:
        self._fail(where, f"wrong type for {label}: expected {expected}, got {_toml_type(value)}")

    def _fail(self, where: _Where, problem: str) -> NoReturn:
        raise _error(self._source, self._line_of(where), problem)

    def _line_of(self, where: _Where) -> int | None:
        """Best-effort line of a key: inside the named table (its ``index``-th occurrence for arrays)."""
        table = ""
        occurrence = -1
        header_line = None
        for number, line in enumerate(self._lines, start=1):
            header = _TABLE_HEADER.match(line)
            if header:
                table = header.group(2).strip()
                if table == where.table:
                    occurrence += 1
                    if occurrence == where.index:
                        header_line = number
                continue
            in_place = table == where.table and (occurrence == where.index or not where.table)
            key = _KEY_LINE.match(line)
            if in_place and key and where.key in key.groups():
                return number
        if where.table and header_line is None:
            return self._line_of(_Where("", where.table)) if where.table in TOP_LEVEL_KEYS else None
        return header_line


def _error(source: str, line: int | None, problem: str) -> RulesError:
    location = f"{source}:{line}" if line is not None else source
    return RulesError(f"{location}: {problem}")


def _toml_type(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return names.get(type(value), type(value).__name__)
