"""The Scrubber: sensitive keys, sensitive values inside text, bodies, allow-list, keep callback."""

from __future__ import annotations

import pytest

from otel_events.classify import PatternTarget, Scrubber, ScrubPattern
from otel_events.errors import ConfigError

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber()


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("password", "password"),
        ("user.password", "password"),
        ("db_passwd", "password"),
        ("PWD", "password"),
        ("userPassword", "password"),
        ("client_secret", "secret"),
        ("SECRET_KEY", "secret"),
        ("session_secret", "session_secret"),
        ("sessionSecret", "session_secret"),
        ("access_token", "token"),
        ("refreshToken", "token"),
        ("token", "token"),
        ("api_key", "api_key"),
        ("apikey", "api_key"),
        ("apiKey", "api_key"),
        ("http.request.header.x-api-key", "api_key"),
        ("authorization", "auth"),
        ("http.request.header.authorization", "auth"),
        ("auth", "auth"),
        ("cookie", "cookie"),
        ("http.response.header.set-cookie", "cookie"),
        ("private_key", "private_key"),
        ("aws.credentials", "credentials"),
    ],
)
def test_sensitive_keys_replace_string_values(scrubber: Scrubber, key: str, name: str) -> None:
    assert scrubber.scrub_attributes({key: "s3cr3t-value", "http.method": "GET"}) == {
        key: f"[scrubbed: {name}]",
        "http.method": "GET",
    }


@pytest.mark.parametrize(
    "key",
    ["http.method", "max_tokens", "gen_ai.usage.input_tokens", "author", "session.id", "user.id", "tokenizer", "path"],
)
def test_ordinary_keys_are_left_alone(scrubber: Scrubber, key: str) -> None:
    assert scrubber.scrub_attributes({key: "plain value"}) is None


def test_none_when_nothing_changed(scrubber: Scrubber) -> None:
    attributes = {"http.method": "GET", "http.route": "/api/users/{id}", "http.status_code": 200, "ok": True}
    assert scrubber.scrub_attributes(attributes) is None
    assert scrubber.scrub_attributes({}) is None


def test_input_is_not_modified(scrubber: Scrubber) -> None:
    attributes = {"password": "x", "a": "b"}
    result = scrubber.scrub_attributes(attributes)
    assert attributes == {"password": "x", "a": "b"}
    assert result == {"password": "[scrubbed: password]", "a": "b"}


def test_sensitive_key_sequences_numbers_and_booleans(scrubber: Scrubber) -> None:
    result = scrubber.scrub_attributes({"cookie": ["a=1", "b=2"], "token": 12, "secret": True, "auth": ("x",)})
    assert result == {"cookie": ["[scrubbed: cookie]"] * 2, "auth": ("[scrubbed: auth]",), "token": 12, "secret": True}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 ok", "card [scrubbed: credit_card] ok"),
        ("4111-1111-1111-1111", "[scrubbed: credit_card]"),
        ("5500005555555559", "[scrubbed: credit_card]"),
        ("378282246310005", "[scrubbed: credit_card]"),
        ("ssn 123-45-6789.", "ssn [scrubbed: ssn]."),
        (f"id {JWT} end", "id [scrubbed: jwt] end"),
        ("Authorization: Bearer abcdef0123456789", "Authorization: Bearer [scrubbed: bearer_token]"),
        ("login password=hunter2 user=bob", "login password=[scrubbed: password] user=bob"),
        ('{"password": "hunter2", "user": "bob"}', '{"password": "[scrubbed: password]", "user": "bob"}'),
        ("GET /x?api_key=abc123&page=2", "GET /x?api_key=[scrubbed: secret]&page=2"),
        ("postgres://app:pa55@db:5432/x", "postgres://app:[scrubbed: password]@db:5432/x"),
    ],
)
def test_sensitive_values_inside_text(scrubber: Scrubber, text: str, expected: str) -> None:
    assert scrubber.scrub_attributes({"message": text}) == {"message": expected}
    assert scrubber.scrub_body(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails the Luhn check
        "order 1234567890123456",  # no card issuer prefix
        "000-12-3456",  # not a valid SSN area
        "666-12-3456",
        "912-34-5678",
        "123-00-4567",  # no 00 group
        "123-45-0000",  # no 0000 serial
        "1123-45-6789",  # part of a longer number
        "id 94111111111111111",  # a card number inside a longer number
        "2026-01-20T10:00:00Z",
        "trace 0af7651916cd43dd8448eb211c80319c",
        "GET /api/users/12345",
        "bearer",
    ],
)
def test_look_alikes_are_left_alone(scrubber: Scrubber, text: str) -> None:
    assert scrubber.scrub_attributes({"message": text}) is None
    assert scrubber.scrub_body(text) is text


def test_numbers_are_scrubbed_only_when_they_are_card_numbers(scrubber: Scrubber) -> None:
    attributes = {"card": 4111111111111111, "ts": 1_732_986_000_000_000_000, "n": 123456789, "f": 4.5, "b": True}
    assert scrubber.scrub_attributes(attributes) == {**attributes, "card": "[scrubbed: credit_card]"}


def test_sequence_of_strings_values(scrubber: Scrubber) -> None:
    result = scrubber.scrub_attributes({"notes": ("fine", "ssn 123-45-6789"), "tags": ["a", "b"]})
    assert result == {"notes": ("fine", "ssn [scrubbed: ssn]"), "tags": ["a", "b"]}


def test_nested_body(scrubber: Scrubber) -> None:
    body = {
        "user": {"name": "bob", "password": "p", "cards": ["4111111111111111", "x"]},
        "msg": "login password=xyz ok",
        "headers": [{"authorization": "Basic abc"}, {"accept": "*/*"}],
        "count": 3,
        "auth": {"user": "bob", "level": 2},
    }
    assert scrubber.scrub_body(body) == {
        "user": {"name": "bob", "password": "[scrubbed: password]", "cards": ["[scrubbed: credit_card]", "x"]},
        "msg": "login password=[scrubbed: password] ok",
        "headers": [{"authorization": "[scrubbed: auth]"}, {"accept": "*/*"}],
        "count": 3,
        "auth": {"user": "[scrubbed: auth]", "level": 2},
    }
    assert body["user"]["password"] == "p"  # the input is not modified


def test_body_unchanged_is_returned_as_is(scrubber: Scrubber) -> None:
    body = {"a": ["b", {"c": 1}], "d": None}
    assert scrubber.scrub_body(body) is body
    assert scrubber.scrub_body(42) == 42
    assert scrubber.scrub_body(None) is None


def test_very_deep_body_is_replaced_rather_than_left_unscanned(scrubber: Scrubber) -> None:
    body: object = "password=x"
    for _ in range(40):
        body = [body]
    flat = scrubber.scrub_body(body)
    for _ in range(33):
        flat = flat[0]  # type: ignore[index]
    assert flat == "[scrubbed: depth]"


def test_allow_list() -> None:
    scrubber = Scrubber(allow_keys=["token", "note"])
    result = scrubber.scrub_attributes({"token": "t", "note": "password=x", "password": "p"})
    assert result == {"token": "t", "note": "password=x", "password": "[scrubbed: password]"}
    assert scrubber.scrub_body({"token": "t", "x": {"note": "password=x"}}) == {
        "token": "t",
        "x": {"note": "password=x"},
    }


def test_reserved_namespace_is_never_scrubbed(scrubber: Scrubber) -> None:
    assert scrubber.scrub_attributes({"otel_events.token": "x", "otel_events.correlation_id": "password=x"}) is None


def test_keep_callback() -> None:
    seen: list[tuple[str | None, object]] = []

    def keep(key: str | None, value: object) -> bool:
        seen.append((key, value))
        return key == "debug.token"

    scrubber = Scrubber(keep=keep)
    result = scrubber.scrub_attributes({"debug.token": "t1", "token": "t2", "plain": "x"})
    assert result == {"debug.token": "t1", "token": "[scrubbed: token]", "plain": "x"}
    assert sorted(seen, key=str) == [("debug.token", "t1"), ("token", "t2")]
    assert scrubber.scrub_body("password=x") == "password=[scrubbed: password]"
    assert seen[-1] == (None, "password=x")


def test_extra_patterns_as_mapping_and_objects() -> None:
    scrubber = Scrubber(
        extra_patterns=[
            ScrubPattern("employee_id", r"\bEMP-\d{6}\b"),
            ScrubPattern("internal", r"^x-internal-", PatternTarget.KEY),
        ]
    )
    assert scrubber.scrub_attributes({"who": "EMP-123456 did it", "x-internal-flag": "on"}) == {
        "who": "[scrubbed: employee_id] did it",
        "x-internal-flag": "[scrubbed: internal]",
    }
    by_mapping = Scrubber(extra_patterns={"ticket": r"(?i)tkt-(?P<secret>\d+)", "order": r"(?P<secret>ORD)\d+"})
    assert by_mapping.scrub_body("see TKT-42 and ORD7") == "see TKT-[scrubbed: ticket] and [scrubbed: order]7"


def test_defaults_can_be_turned_off() -> None:
    scrubber = Scrubber(extra_patterns={"x": "xyz"}, include_defaults=False)
    assert scrubber.scrub_attributes({"password": "p", "m": "xyz"}) == {"password": "p", "m": "[scrubbed: x]"}


def test_bad_extra_pattern_raises_config_error() -> None:
    with pytest.raises(ConfigError, match=r"bad regex '\(unclosed' for scrub pattern 'broken'") as info:
        Scrubber(extra_patterns={"broken": "(unclosed"})
    assert isinstance(info.value, ValueError)
    with pytest.raises(ConfigError, match="scrub pattern 'k'"):
        Scrubber(extra_patterns=[ScrubPattern("k", "[", PatternTarget.KEY)])


def test_extra_patterns_keep_their_own_groups_and_flags() -> None:
    scrubber = Scrubber(extra_patterns={"pair": r"(?P<secret>(\w)\2)", "pin": r"(?i)pin:(?P<secret>\d+)"})
    assert scrubber.scrub_body("aa b PIN:1234") == "[scrubbed: pair] b PIN:[scrubbed: pin]"


def test_overlapping_matches_leftmost_longest_wins(scrubber: Scrubber) -> None:
    # The bearer token is itself a JWT: one replacement, by the pattern whose match starts first.
    text = f"Authorization: Bearer {JWT} and ssn 123-45-6789"
    expected = "Authorization: Bearer [scrubbed: bearer_token] and ssn [scrubbed: ssn]"
    assert scrubber.scrub_body(text) == expected
    assert scrubber.scrub_body(f"x={JWT}") == "x=[scrubbed: jwt]"


def test_key_pattern_lookup(scrubber: Scrubber) -> None:
    assert scrubber.key_pattern("x-api-key") == "[scrubbed: api_key]"
    assert scrubber.key_pattern("http.route") is None
    assert Scrubber(allow_keys=["password"]).key_pattern("password") is None
