"""Rules files: layering on the packaged defaults, replace_defaults, and every kind of bad file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from otel_events.classify import Category, Classifier, Decision, load_rules
from otel_events.errors import RulesError

C = Category


def write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_packaged_defaults_load() -> None:
    rules = load_rules()
    assert rules.default_category is C.SYSTEM
    assert rules.names["health_check"] is C.CRITICAL
    assert rules.keywords[C.DEBUG] == frozenset({"test", "debug", "dev"})
    assert rules.attribute_keys[C.CRITICAL] == ("error", "exception.*")
    assert rules.attribute_rules == ()
    assert len(rules.sources) == 1


def test_user_file_is_layered_on_the_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        default_category = "debug"
        [names]
        checkout_failed = "critical"
        "GET /healthz" = "debug"
        stats = "performance"
        [keywords]
        performance = ["cache", "p99"]
        [[attribute_rules]]
        name = "vip"
        key = "customer.tier"
        value = "^(gold|platinum)$"
        category = "critical"
        [[attribute_rules]]
        name = "batch"
        key = "job.kind"
        category = "system"
        """,
    )
    clf = Classifier.from_file(path)
    assert clf.path == str(path)
    assert clf.rules.sources[-1] == str(path)
    assert clf.classify("checkout_failed") == Decision(C.CRITICAL, "name.exact")
    assert clf.classify("GET /healthz") == Decision(C.DEBUG, "name.exact")
    assert clf.classify("stats") == Decision(C.PERFORMANCE, "name.exact")  # overrides a default name
    assert clf.classify("health_check") == Decision(C.CRITICAL, "name.exact")  # defaults kept
    assert clf.classify("api.p99") == Decision(C.PERFORMANCE, "keyword.performance")
    assert clf.classify("latency.probe") == Decision(C.DEBUG, "default")  # performance list was replaced
    assert clf.classify("user.login") == Decision(C.USER_ACTIVITY, "keyword.user_activity")  # other lists kept
    assert clf.classify("GET /x", {"customer.tier": "gold"}) == Decision(C.CRITICAL, "attribute.rule.vip")
    assert clf.classify("GET /x", {"customer.tier": "golden"}) == Decision(C.DEBUG, "default")
    assert clf.classify("GET /x", {"job.kind": 0}) == Decision(C.SYSTEM, "attribute.rule.batch")
    # Built-in attribute keys come before user attribute rules.
    decision = clf.classify("GET /x", {"customer.tier": "gold", "user.id": "u"})
    assert decision == Decision(C.USER_ACTIVITY, "attribute.user_activity")


def test_attribute_rule_values_are_matched_as_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[attribute_rules]]
        name = "server-error"
        key = "http.status_code"
        value = "^5\\\\d\\\\d$"
        category = "critical"
        [[attribute_rules]]
        name = "flagged"
        key = "flags"
        value = "^true$"
        category = "debug"
        """,
    )
    clf = Classifier.from_file(path)
    assert clf.classify("GET /x", {"http.status_code": 503}) == Decision(C.CRITICAL, "attribute.rule.server-error")
    assert clf.classify("GET /x", {"http.status_code": 404}).rule == "default"
    assert clf.classify("GET /x", {"flags": True}) == Decision(C.DEBUG, "attribute.rule.flagged")
    assert clf.classify("GET /x", {"flags": ["no", "true"]}) == Decision(C.DEBUG, "attribute.rule.flagged")


def test_attribute_keys_can_be_configured(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [attribute_keys]
        critical = ["error", "exception.*", "error.type"]
        debug = ["test.*"]
        """,
    )
    clf = Classifier.from_file(path)
    assert clf.classify("GET /x", {"error.type": "500"}) == Decision(C.CRITICAL, "attribute.critical")
    assert clf.classify("GET /x", {"test.case": "a"}) == Decision(C.DEBUG, "attribute.debug")
    assert clf.classify("GET /x", {"user.id": "u"}) == Decision(C.USER_ACTIVITY, "attribute.user_activity")


def test_replace_defaults_drops_every_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        replace_defaults = true
        [names]
        only = "debug"
        """,
    )
    clf = Classifier.from_file(path)
    assert clf.classify("only") == Decision(C.DEBUG, "name.exact")
    assert clf.classify("health_check") == Decision(C.SYSTEM, "default")
    assert clf.classify("cache.error", {"error": True}) == Decision(C.SYSTEM, "default")
    # Steps 1 and 2 are part of the decision order, not of the rules file.
    assert clf.classify("only", status_error=True) == Decision(C.CRITICAL, "status.error")
    assert clf.rules.sources == (str(path),)


def test_empty_keyword_list_disables_a_category(tmp_path: Path) -> None:
    clf = Classifier.from_file(write(tmp_path, "[keywords]\ndebug = []\n"))
    assert clf.classify("dev.build") == Decision(C.SYSTEM, "default")


def test_keywords_are_case_insensitive_in_the_file(tmp_path: Path) -> None:
    clf = Classifier.from_file(write(tmp_path, '[keywords]\nsystem = ["GC"]\n'))
    assert clf.classify("jvm.gc.pause") == Decision(C.SYSTEM, "keyword.system")


def bad(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(RulesError) as info:
        Classifier.from_file(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    return message.removeprefix(str(path))


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    message = bad(tmp_path, 'default_category = "system"\n[names]\ncheckout = \n')
    assert message.startswith(":3: syntax error: "), message
    assert "line 3" in message


def test_unterminated_table_header(tmp_path: Path) -> None:
    message = bad(tmp_path, "\n\n[names\n")
    assert message.startswith(":3: syntax error"), message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[names]\nok = "debug"\ncheckout = "urgent"\n',
            ":3: unknown category 'urgent' for name 'checkout' (expected one of: critical, performance, "
            "user_activity, system, debug)",
        ),
        ('default_category = "loud"\n', ":1: unknown category 'loud' for default_category"),
        ('\n[keywords]\nnoisy = ["x"]\n', ":3: unknown category 'noisy' in [keywords]"),
        ('[attribute_keys]\nimportant = ["x"]\n', ":2: unknown category 'important' in [attribute_keys]"),
        (
            '[[attribute_rules]]\nname = "a"\nkey = "k"\ncategory = "debug"\n\n'
            '[[attribute_rules]]\nname = "b"\nkey = "k"\ncategory = "meh"\n',
            ":9: unknown category 'meh' for attribute rule 'b'",
        ),
    ],
)
def test_unknown_category(tmp_path: Path, text: str, expected: str) -> None:
    assert bad(tmp_path, text).startswith(expected)


def test_bad_regex(tmp_path: Path) -> None:
    message = bad(
        tmp_path,
        '[[attribute_rules]]\nname = "vip"\nkey = "customer.tier"\nvalue = "^(gold"\ncategory = "critical"\n',
    )
    assert message.startswith(":4: bad regex '^(gold' for attribute rule 'vip': missing ), unterminated subpattern")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("colour = 1\n", ":1: unknown key 'colour' (expected one of: default_category, replace_defaults, names,"),
        (
            '[[attribute_rules]]\nname = "a"\nkey = "k"\ncategory = "debug"\nmatch = "x"\n',
            ":5: unknown key 'match' in attribute_rules[0]",
        ),
    ],
)
def test_unknown_key(tmp_path: Path, text: str, expected: str) -> None:
    assert bad(tmp_path, text).startswith(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default_category = 3\n", ":1: wrong type for default_category: expected a category string, got integer"),
        ('replace_defaults = "yes"\n', ":1: wrong type for replace_defaults: expected a boolean, got string"),
        ('names = ["a"]\n', ":1: wrong type for names: expected a table, got array"),
        ("[names]\ncheckout = 1\n", ":2: wrong type for name 'checkout': expected a category string, got integer"),
        ('[keywords]\ncritical = "error"\n', ":2: wrong type for keywords.critical: expected a list of strings, got"),
        ("[keywords]\ncritical = [1, 2]\n", ":2: wrong type for keywords.critical: expected a list of strings"),
        ('[attribute_keys]\ncritical = ["error", true]\n', ":2: wrong type for attribute_keys.critical"),
        ('attribute_rules = "x"\n', ":1: wrong type for attribute_rules: expected an array of tables, got string"),
        (
            '[[attribute_rules]]\nname = "a"\nkey = "k"\nvalue = 5\ncategory = "debug"\n',
            ":4: wrong type for attribute rule 'a' value: expected a regular expression string, got integer",
        ),
    ],
)
def test_wrong_types(tmp_path: Path, text: str, expected: str) -> None:
    assert bad(tmp_path, text).startswith(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[keywords]\ndebug = ["dev.build"]\n', ":2: keyword 'dev.build' for debug is not a single token"),
        ('[attribute_keys]\ndebug = ["otel_events.x"]\n', ":2: attribute_keys.debug 'otel_events.x' is in the"),
        ('[attribute_keys]\ndebug = ["a*b"]\n', ":2: attribute_keys.debug 'a*b': '*' is only allowed at the end"),
        ('[attribute_keys]\ndebug = [""]\n', ":2: attribute_keys.debug must be a non-empty string"),
        ('[[attribute_rules]]\nname = "a"\ncategory = "debug"\n', ":1: attribute_rules[0] is missing 'key'"),
        (
            '[[attribute_rules]]\nname = "has space"\nkey = "k"\ncategory = "debug"\n',
            ":2: attribute_rules[0].name must be a string of letters, digits",
        ),
        (
            '[[attribute_rules]]\nname = "a"\nkey = "k"\ncategory = "debug"\n'
            '[[attribute_rules]]\nname = "a"\nkey = "j"\ncategory = "debug"\n',
            ":6: duplicate attribute rule name 'a'",
        ),
        (
            '[[attribute_rules]]\nname = "a"\nkey = "k.*"\ncategory = "debug"\n',
            ":3: attribute rule 'a' key must be an exact key, got 'k.*'",
        ),
    ],
)
def test_semantic_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert bad(tmp_path, text).startswith(expected)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(RulesError, match=r"absent\.toml: cannot read rules file: .*No such file"):
        Classifier.from_file(path)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[names]\n"caf\xe9" = "debug"\n')
    with pytest.raises(RulesError, match=r"latin\.toml: cannot read rules file"):
        Classifier.from_file(path)


def test_rules_error_is_a_config_error(tmp_path: Path) -> None:
    from otel_events.errors import ConfigError, OtelEventsError

    with pytest.raises(ConfigError) as info:
        Classifier.from_file(write(tmp_path, "x = 1\n"))
    assert isinstance(info.value, OtelEventsError)
