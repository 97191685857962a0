"""Named patterns the scrubber looks for: sensitive attribute keys and sensitive values inside text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from otel_events.errors import ConfigError

SECRET_GROUP = "secret"
"""A value pattern with a group of this name replaces only that group (``password=[scrubbed: password]``)."""


class PatternTarget(StrEnum):
    """What a pattern is matched against."""

    KEY = "key"
    """The attribute (or body map) key; the whole value is replaced. Matched case-insensitively."""
    VALUE = "value"
    """Any string value; the matching text is replaced."""


@dataclass(frozen=True, slots=True)
class ScrubPattern:
    """One named pattern.

    Attributes:
        name: Shown in the replacement text ``[scrubbed: <name>]``.
        regex: Regular expression searched in the key or the value text. In a value pattern, a group named
            ``secret`` limits the replacement to that group (``password=[scrubbed: password]``).
        target: Whether the pattern looks at keys or at values.
        validate: Optional check of the matched text (e.g. the Luhn checksum of a card number); a match
            it rejects is left alone.
        triggers: Value patterns only: substrings of the lower-cased text, one of which must be present for the
            pattern to match at all. Checking them is far cheaper than the regex; empty means always run it.
    """

    name: str
    regex: str
    target: PatternTarget = PatternTarget.VALUE
    validate: Callable[[str], bool] | None = None
    triggers: tuple[str, ...] = ()


def luhn_valid(text: str) -> bool:
    """True when the digits of ``text`` (13 to 19 of them) pass the Luhn checksum of card numbers."""
    digits = [ord(c) - 48 for c in text if "0" <= c <= "9"]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


# Keys are normalised before matching (camelCase split with "_", lower-cased), so `apiKey` reads `api_key`.
# The look-arounds make each word whole: `max_tokens` or `author` are not secrets.
_W = r"(?<![a-z0-9])"
_E = r"(?![a-z0-9])"
DEFAULT_KEY_PATTERNS: tuple[ScrubPattern, ...] = tuple(
    ScrubPattern(name, regex, PatternTarget.KEY)
    for name, regex in (
        ("password", rf"{_W}(?:passw(?:or)?d|passphrase|pwd){_E}"),
        ("session_secret", rf"{_W}session[_.-]?(?:secret|key){_E}"),
        ("secret", rf"{_W}(?:secrets?|secret[_.-]?key){_E}"),
        ("api_key", rf"{_W}api[_.-]?key{_E}"),
        ("private_key", rf"{_W}private[_.-]?key{_E}"),
        ("token", rf"{_W}(?:access|refresh|id|auth|csrf|xsrf|session|bearer|api)?token{_E}"),
        ("auth", rf"{_W}(?:proxy[_.-])?auth(?:orization)?{_E}"),
        ("cookie", rf"{_W}(?:set[_.-])?cookies?{_E}"),
        ("credentials", rf"{_W}credentials?{_E}"),
    )
)

_CARD_ISSUER = re.compile(r"4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9])")


def card_number_valid(text: str) -> bool:
    """True for a card number: a known issuer prefix and a valid Luhn checksum."""
    return _CARD_ISSUER.match(text) is not None and luhn_valid(text)


def ssn_valid(text: str) -> bool:
    """True for a US social security number that could be issued (no 000/666/9xx area, 00 group, 0000 serial)."""
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


# Both digit patterns start with a plain character class so the regex engine can skip ahead quickly (measured
# 4-7x faster on text without matches than a leading look-behind); the look-behind after the first digit keeps
# them from starting inside a longer number. The finer checks live in the validators.
_CARD = r"[2-6](?<![0-9-].)(?:[ -]?[0-9]){12,18}(?![0-9-])"
_SSN = r"[0-8](?<![0-9-].)[0-9]{2}-[0-9]{2}-[0-9]{4}(?![0-9-])"
_DIGITS = tuple("0123456789")
DEFAULT_VALUE_PATTERNS: tuple[ScrubPattern, ...] = (
    ScrubPattern("jwt", r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", triggers=("eyj",)),
    ScrubPattern("bearer_token", r"(?i:\bbearer\s+)(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)", triggers=("bearer",)),
    ScrubPattern(
        "password",
        r"(?i:passw(?:or)?d|passphrase|pwd)[\"']?\s*[:=]\s*[\"']?(?P<secret>[^\s\"'&,;]+)",
        triggers=("pass", "pwd"),
    ),
    ScrubPattern(
        "secret",
        r"(?i:secret|token|api[_-]?key)[\"']?\s*[:=]\s*[\"']?(?P<secret>[^\s\"'&,;]+)",
        triggers=("secret", "token", "key"),
    ),
    ScrubPattern("password", r"://[^/\s:@]+:(?P<secret>[^/\s@]+)@", triggers=("://",)),
    ScrubPattern("credit_card", _CARD, validate=card_number_valid, triggers=_DIGITS),
    ScrubPattern("ssn", _SSN, validate=ssn_valid, triggers=("-",)),
)


def compile_pattern(pattern: ScrubPattern) -> re.Pattern[str]:
    """Compile one pattern (key patterns ignore case).

    Raises:
        ConfigError: if the regex is invalid.
    """
    flags = re.IGNORECASE if pattern.target is PatternTarget.KEY else 0
    try:
        return re.compile(pattern.regex, flags)
    except re.error as exc:
        raise ConfigError(f"bad regex {pattern.regex!r} for scrub pattern '{pattern.name}': {exc}") from None
