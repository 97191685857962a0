"""Decision order, default rules and rule ids of the shared Classifier (SPEC §3)."""

from __future__ import annotations

import pytest

from otel_events.classify import ATTR_CATEGORY, Category, Classifier, Decision

C = Category

DEFAULT_NAMES = {
    "health_check": C.CRITICAL,
    "circuit_breaker_open": C.CRITICAL,
    "circuit_breaker_close": C.CRITICAL,
    "error": C.CRITICAL,
    "failure": C.CRITICAL,
    "cache_metrics": C.PERFORMANCE,
    "semaphore_metrics": C.PERFORMANCE,
    "response_time": C.PERFORMANCE,
    "latency": C.PERFORMANCE,
    "session_metrics": C.USER_ACTIVITY,
    "user_activity": C.USER_ACTIVITY,
    "session_start": C.USER_ACTIVITY,
    "session_end": C.USER_ACTIVITY,
    "connection_status": C.SYSTEM,
    "websocket_health": C.SYSTEM,
    "initial_stats": C.SYSTEM,
    "stats": C.SYSTEM,
    "export_complete": C.SYSTEM,
    "test_event": C.DEBUG,
    "debug": C.DEBUG,
}


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier()


@pytest.mark.parametrize(("name", "category"), DEFAULT_NAMES.items())
def test_every_default_exact_name(clf: Classifier, name: str, category: Category) -> None:
    assert clf.classify(name) == Decision(category, "name.exact")


@pytest.mark.parametrize(("name", "category"), DEFAULT_NAMES.items())
def test_exact_name_from_event_name_attribute(clf: Classifier, name: str, category: Category) -> None:
    assert clf.classify(None, {"event.name": name}) == Decision(category, "name.exact")
    assert clf.classify("", {"event.name": name}) == Decision(category, "name.exact")


def test_item_name_wins_over_event_name_attribute(clf: Classifier) -> None:
    assert clf.classify("stats", {"event.name": "error"}) == Decision(C.SYSTEM, "name.exact")


def test_non_string_event_name_is_ignored(clf: Classifier) -> None:
    assert clf.classify(None, {"event.name": 42}) == Decision(C.SYSTEM, "default")


@pytest.mark.parametrize(
    ("name", "category"),
    [
        # critical keywords
        ("payment.error", C.CRITICAL),
        ("job_fail", C.CRITICAL),
        ("Critical-Section", C.CRITICAL),
        ("disk alert", C.CRITICAL),
        # performance keywords
        ("cache.hit", C.PERFORMANCE),
        ("METRIC/flush", C.PERFORMANCE),
        ("db performance", C.PERFORMANCE),
        ("p99.latency", C.PERFORMANCE),
        # user_activity keywords
        ("user_login", C.USER_ACTIVITY),
        ("session.refresh", C.USER_ACTIVITY),
        ("activity-feed", C.USER_ACTIVITY),
        # debug keywords
        ("unit.test", C.DEBUG),
        ("debug_dump", C.DEBUG),
        ("dev-build", C.DEBUG),
    ],
)
def test_keyword_tokens(clf: Classifier, name: str, category: Category) -> None:
    assert clf.classify(name) == Decision(category, f"keyword.{category.value}")


@pytest.mark.parametrize(
    "name",
    ["device.connected", "cachet", "errors_total", "users", "testing", "developer", "failover", "alerting", "GET /x"],
)
def test_keywords_match_whole_tokens_only(clf: Classifier, name: str) -> None:
    assert clf.classify(name) == Decision(C.SYSTEM, "default")


def test_keyword_categories_are_tried_most_severe_first(clf: Classifier) -> None:
    assert clf.classify("debug.user.cache.error").rule == "keyword.critical"
    assert clf.classify("debug.user.cache").rule == "keyword.performance"
    assert clf.classify("debug.user").rule == "keyword.user_activity"


def test_keywords_split_on_any_non_alphanumeric(clf: Classifier) -> None:
    for name in ["a:error", "a|error", "a error", "(error)", "a\terror", "user@cache"]:
        assert clf.classify(name).category is not C.SYSTEM, name


def test_exact_name_is_case_sensitive_but_keywords_are_not(clf: Classifier) -> None:
    assert clf.classify("Stats") == Decision(C.SYSTEM, "default")
    assert clf.classify("DEBUG") == Decision(C.DEBUG, "keyword.debug")


@pytest.mark.parametrize(
    ("attributes", "category"),
    [
        ({"error": True}, C.CRITICAL),
        ({"error": "timeout"}, C.CRITICAL),
        ({"exception.type": "ValueError"}, C.CRITICAL),
        ({"exception.message": "boom"}, C.CRITICAL),
        ({"metrics": "x"}, C.PERFORMANCE),
        ({"performance": 1}, C.PERFORMANCE),
        ({"user.id": "u1"}, C.USER_ACTIVITY),
        ({"session.id": "s1"}, C.USER_ACTIVITY),
        ({"enduser.id": "e1"}, C.USER_ACTIVITY),
    ],
)
def test_attribute_inspection(clf: Classifier, attributes: dict[str, object], category: Category) -> None:
    attributes = {"http.method": "GET", **attributes, "http.route": "/x"}
    assert clf.classify("GET /x", attributes) == Decision(category, f"attribute.{category.value}")


@pytest.mark.parametrize("value", [False, "false", "False", 0, 0.0, "0"])
def test_false_error_flag_is_not_critical(clf: Classifier, value: object) -> None:
    assert clf.classify("GET /x", {"error": value}) == Decision(C.SYSTEM, "default")
    assert clf.classify("GET /x", {"error": value, "user.id": "u"}) == Decision(
        C.USER_ACTIVITY, "attribute.user_activity"
    )


def test_attribute_categories_most_severe_wins_whatever_the_key_order(clf: Classifier) -> None:
    attributes = {"user.id": "u", "metrics": "m", "exception.type": "E"}
    assert clf.classify("GET /x", attributes) == Decision(C.CRITICAL, "attribute.critical")
    assert clf.classify("GET /x", {"user.id": "u", "performance": 1}) == Decision(
        C.PERFORMANCE, "attribute.performance"
    )


def test_reserved_namespace_keys_are_never_inspected(clf: Classifier) -> None:
    attributes = {"otel_events.rule": "x", "otel_events.seq": 3, "otel_events.error": True, "exception": "no prefix"}
    assert clf.classify("GET /x", attributes) == Decision(C.SYSTEM, "default")


def test_default(clf: Classifier) -> None:
    assert clf.classify("GET /x") == Decision(C.SYSTEM, "default")
    assert clf.classify(None) == Decision(C.SYSTEM, "default")
    assert clf.classify("", {}) == Decision(C.SYSTEM, "default")


@pytest.mark.parametrize("category", list(Category))
def test_explicit_category_overrides_everything(clf: Classifier, category: Category) -> None:
    attributes = {ATTR_CATEGORY: category.value, "error": True}
    decision = clf.classify("error", attributes, status_error=True, exception_event=True, severity_number=24)
    assert decision == Decision(category, "explicit")


def test_explicit_category_given_as_enum_member(clf: Classifier) -> None:
    assert clf.classify("x", {ATTR_CATEGORY: Category.DEBUG}) == Decision(C.DEBUG, "explicit")


@pytest.mark.parametrize("value", ["urgent", "CRITICAL", "", 3, None, ["critical"]])
def test_invalid_explicit_category_is_ignored(clf: Classifier, value: object) -> None:
    assert clf.classify("cache.hit", {ATTR_CATEGORY: value}) == Decision(C.PERFORMANCE, "keyword.performance")
    assert clf.classify("GET /x", {ATTR_CATEGORY: value}) == Decision(C.SYSTEM, "default")


def test_status_steps_and_their_order(clf: Classifier) -> None:
    both = clf.classify("debug", status_error=True, exception_event=True, severity_number=20)
    assert both == Decision(C.CRITICAL, "status.error")
    assert clf.classify("debug", exception_event=True, severity_number=20) == Decision(C.CRITICAL, "status.exception")
    assert clf.classify("debug", severity_number=17) == Decision(C.CRITICAL, "status.severity")
    assert clf.classify("debug", severity_number=24) == Decision(C.CRITICAL, "status.severity")


def test_severity_below_error_does_not_count(clf: Classifier) -> None:
    assert clf.classify("debug", severity_number=16) == Decision(C.DEBUG, "name.exact")
    assert clf.classify("GET /x", severity_number=0) == Decision(C.SYSTEM, "default")


def test_precedence_name_before_keyword_before_attributes(clf: Classifier) -> None:
    # "stats" is an exact system name although the attributes say critical.
    assert clf.classify("stats", {"error": True}) == Decision(C.SYSTEM, "name.exact")
    # "test_event" is exact debug although its tokens hold no critical keyword; "user.error" is a keyword hit.
    assert clf.classify("user.error", {"user.id": "u"}) == Decision(C.CRITICAL, "keyword.critical")
    assert clf.classify("cache.get", {"exception.type": "E"}) == Decision(C.PERFORMANCE, "keyword.performance")
    assert clf.classify("GET /x", {"exception.type": "E"}) == Decision(C.CRITICAL, "attribute.critical")


def test_memo_does_not_leak_attribute_decisions_between_calls(clf: Classifier) -> None:
    assert clf.classify("GET /memo", {"user.id": "u"}).rule == "attribute.user_activity"
    assert clf.classify("GET /memo").rule == "default"
    assert clf.classify("GET /memo", {"metrics": 1}).rule == "attribute.performance"


def test_memo_is_bounded() -> None:
    from otel_events.classify import matcher

    clf = Classifier()
    for i in range(matcher.MEMO_LIMIT + 10):
        assert clf.classify(f"GET /user/{i}").rule == "keyword.user_activity"
    assert len(clf._matcher._memo) <= matcher.MEMO_LIMIT


def test_decisions_are_frozen() -> None:
    decision = Classifier().classify("error")
    with pytest.raises(AttributeError):
        decision.category = C.DEBUG  # type: ignore[misc]


def test_category_parse_and_str() -> None:
    assert Category.parse("debug") is C.DEBUG
    assert Category.parse(C.DEBUG) is C.DEBUG
    assert Category.parse("Debug") is None
    assert Category.parse(1) is None
    assert str(C.USER_ACTIVITY) == "user_activity"
